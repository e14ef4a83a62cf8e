"""The search index kept between builds (segments.py): one new, one edited and one withdrawn
submission rewrite a handful of search files, and the browser then finds exactly what a search
index written from scratch finds, in the same order; past the merge threshold the index is
written whole again."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from factories import make_project, write_markdown, write_meta

from portal import pipeline
from portal.catalog import load_catalog
from portal.project import Project
from portal.segments import MERGE_MIN
from portal_tools.corpus import PLANTED, CorpusSpec, write_corpus

pytestmark = pytest.mark.browser

QUERIES = [*PLANTED[:30], "教学", "的", "面积 几何画板", "潜水艇", "旧标题独有词", "撤回独有词"]


def _project(root: Path) -> Project:
    project = make_project(root)
    config = project.config_file.read_text(encoding="utf-8")
    project.config_file.write_text(config.replace("office_previews: true", "office_previews: false"), encoding="utf-8")
    return project


def _canonical(project: Project) -> dict[str, int]:
    """Index file -> inode: a file written again gets a new inode."""
    search = project.work / "search-index" / "search"
    return {p.relative_to(search).as_posix(): p.stat().st_ino for p in search.rglob("*") if p.is_file()}


def _facets(project: Project) -> dict:
    return json.loads(gzip.decompress((project.site / "search" / "facets.json.gz").read_bytes()))


def _ranked(page, base_url: str, site: Path, query: str) -> list[str]:
    """The links of a query's results, in the order the page ranks them."""
    ids = page.evaluate("q => window.portalSearch.ids(q)", query)
    links = []
    for doc in ids:
        entries = json.loads((site / "search" / "docs" / f"{doc // 4}.json").read_text(encoding="utf-8"))
        links.append(entries[doc % 4]["u"])
    return links


def _results(offline_page, serve, site: Path) -> dict[str, list[str]]:
    server = serve(site)
    page = offline_page.page
    page.goto(server.url + "search/")
    page.wait_for_selector("[data-portal-search][data-ready]")
    return {query: _ranked(page, server.url, site, query) for query in QUERIES}


def _fresh_copy(project: Project, root: Path) -> Project:
    """The same submissions built from nothing: the index written whole."""
    fresh = _project(root)
    shutil.rmtree(fresh.resources)
    shutil.copytree(project.resources, fresh.resources)
    pipeline.build_site(fresh)
    return fresh


def test_small_changes_write_few_index_files_and_search_as_a_fresh_index(tmp_path: Path, serve, offline_page) -> None:
    project = _project(tmp_path / "school")
    write_corpus(project.resources, load_catalog(project.catalog), CorpusSpec(size=300))
    edited = project.resources / "2023-2024-1" / "edited"
    write_meta(edited, {"title": "旧标题独有词的一课", "type": "教学设计", "subject": "数学", "grade": "三年级",
                        "competencies": ["A1"], "authors": ["王芳"], "date": "2023-10-01"})
    withdrawn = write_markdown(project.resources / "2023-2024-1" / "withdrawn.md",
                               {"title": "撤回独有词", "type": "教学反思", "subject": "语文", "grade": "三年级",
                                "competencies": ["B2"], "authors": ["李强"], "date": "2023-10-02"}, "会被撤回的成果。")
    pipeline.build_site(project)
    before = _canonical(project)
    assert len(before) > 100 and "order" not in _facets(project)

    # One new (dated in the middle of the site, so it sorts among the others), one edited, one withdrawn.
    write_markdown(project.resources / "2023-2024-1" / "new.md",
                   {"title": "潜水艇的浮力", "type": "微课", "subject": "科学", "grade": "五年级",
                    "competencies": ["A3"], "authors": ["赵敏"], "date": "2022-11-11"}, "用潜水艇模型探究浮力。")
    write_meta(edited, {"title": "新标题的一课 面积", "type": "教学设计", "subject": "数学", "grade": "三年级",
                        "competencies": ["A1"], "authors": ["王芳"], "date": "2023-10-01"})
    withdrawn.unlink()
    pipeline.build_site(project)
    after = _canonical(project)
    rewritten = sorted(path for path, inode in after.items() if before.get(path) != inode)
    assert len(rewritten) <= 13, rewritten  # facets, columns, the delta's shards, the result files of the three
    assert all(path.startswith(("delta/", "docs/")) or path in ("facets.json.gz", "columns.json.gz") for path in rewritten), rewritten
    facets = _facets(project)
    assert facets["delta"] and facets["dropped"] and facets["order"]

    fresh = _fresh_copy(project, tmp_path / "fresh")
    ours, theirs = _results(offline_page, serve, project.site), _results(offline_page, serve, fresh.site)
    assert ours == theirs
    assert ours["潜水艇"] == ["r/2023-2024-1-new/"]
    assert ours["旧标题独有词"] == [] and ours["撤回独有词"] == []
    # The withdrawn submission's title is in no result file of the site.
    assert not any("撤回独有词" in p.read_text(encoding="utf-8") for p in (project.site / "search" / "docs").glob("*.json"))

    # Past the threshold the index is written whole again, numbers newest first, no delta.
    for number in range(MERGE_MIN):
        write_markdown(project.resources / "2023-2024-2" / f"more-{number}.md",
                       {"title": f"补交的成果 {number}", "type": "教学反思", "subject": "数学", "grade": "一年级",
                        "competencies": ["B2"], "authors": ["新老师"], "date": "2024-06-01"}, "钟表教学的反思。")
    pipeline.build_site(project)
    facets = _facets(project)
    assert "delta" not in facets and "dropped" not in facets and "order" not in facets
    assert not (project.site / "search" / "delta").exists()
    fresh = _fresh_copy(project, tmp_path / "fresh-after-merge")
    assert _results(offline_page, serve, project.site) == _results(offline_page, serve, fresh.site)


def test_a_build_killed_while_indexing_leaves_no_state_and_the_next_build_writes_all(tmp_path: Path) -> None:
    project = _project(tmp_path / "school")
    write_corpus(project.resources, load_catalog(project.catalog), CorpusSpec(size=40))
    pipeline.build_site(project)
    state = project.work / "search-index" / "state.pickle"
    assert state.exists()
    state.unlink()  # what a build killed between the first and the last index file leaves
    shard = sorted((project.work / "search-index" / "search" / "d").glob("*.json.gz"))[0]
    shard.write_bytes(b"half a file")
    pipeline.build_site(project)
    assert gzip.decompress((project.site / "search" / "d" / shard.name).read_bytes())


def test_a_search_page_opened_before_a_rebuild_does_not_mix_two_editions(tmp_path: Path, serve, offline_page) -> None:
    """The page loads facets.json.gz when it opens and columns.json.gz at the first search; a
    rebuild in between must not number one edition's values by the other's."""
    project = _project(tmp_path / "school")
    write_corpus(project.resources, load_catalog(project.catalog), CorpusSpec(size=60))
    only = project.resources / "2023-2024-2" / "only"
    write_meta(only, {"title": "唯一的一组", "type": "教学设计", "subject": "数学", "grade": "三年级", "competencies": ["A1"],
                      "authors": ["王芳"], "group": "甲组唯一", "date": "2024-06-30"})
    pipeline.build_site(project)
    server = serve(project.site)
    page = offline_page.page
    page.goto(server.url + "search/")
    page.wait_for_selector("[data-portal-search][data-ready]")
    shutil.rmtree(only)
    pipeline.build_site(project)
    box = page.locator(".portal-search__form input[name=q]")
    box.fill("教学")
    box.press("Enter")
    page.wait_for_selector("[data-portal-search][data-ready]")
    assert "甲组唯一" not in page.locator(".portal-facets__list").inner_text()
    assert "请刷新页面" in page.locator(".portal-facets__list").inner_text()
    page.reload()
    box.fill("教学")
    box.press("Enter")
    page.wait_for_selector("[data-portal-search][data-ready]")
    assert page.locator(".portal-facets__list input").count() > 0 and "甲组唯一" not in page.locator(".portal-facets__list").inner_text()
