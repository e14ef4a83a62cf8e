"""The whole pipeline over a fixture tree: real .docx, video, image and PDF files, hostile text,
broken submissions; the built site is read back as HTML."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest
from factories import assert_accounting, make_project, tree_digest, write_meta
from fixture_tree import BASE, TERMS, XSS_TITLE

from portal import pipeline
from portal.cli import main
from portal.project import Project

T1, T2 = TERMS


def page(project: Project, url_path: str) -> str:
    return (project.site / url_path / "index.html").read_text(encoding="utf-8")


def all_html(project: Project) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in project.site.rglob("*.html")}


def test_accounting_and_refusals(built) -> None:
    project, outcome, _ = built
    intake = outcome.intake
    assert_accounting(intake)
    assert intake.found == 2 + 1 + 4 + 55
    assert len(intake.records) == 58
    refused = {p.path: p for p in intake.refused}
    assert set(refused) == {f"{T2}/未知能力点", f"{T2}/越界", f"{T2}/重复甲", f"{T2}/重复乙"}
    assert "D9" in refused[f"{T2}/未知能力点"].reason
    broken = [p for p in outcome.problems if "损坏.docx" in p.field]
    assert broken and not broken[0].refused


def test_resources_are_never_modified(built) -> None:
    project, _, before = built
    assert tree_digest(project.resources) == before


def test_resource_page_shows_metadata_points_and_files(built) -> None:
    project, _, _ = built
    text = page(project, f"r/{T1}-钟表")
    assert "B2</strong> 微课程设计与制作</a> · 混合学习环境 · 教学设计" in text
    for expected in ("张敏", "小学数学组", T1, "2023-10-12", "钟表", "整时", "优秀案例"):
        assert expected in text
    assert '<video controls preload="metadata" src="files/%E5%BE%AE%E8%AF%BE%20%E8%A7%86%E9%A2%91%231.mp4" poster="media/0-poster.jpg">' in text
    assert (project.site / "r" / f"{T1}-钟表" / "files" / "微课 视频#1.mp4").is_file()
    assert '<img src="files/%E6%9D%BF%E4%B9%A6.png"' in text
    # A PDF shows as images of its first pages (they work on phones and on paper) with the whole file a click away.
    assert '<a class="portal-open" href="files/%E5%AD%A6%E4%B9%A0%E5%8D%95.pdf">打开完整 PDF（共 1 页）</a>' in text
    assert re.search(r'<img src="media/\d-page1.jpg" width="9\d\d" height="\d+" loading="lazy" alt="学习单.pdf 第 1 页">', text)
    assert "<iframe" not in text
    # The .docx text is on the page: title and heading (one level each below the file's name), paragraph and table cells.
    assert "<h4>认识钟表教学设计</h4>" in text and "<h5>教学目标</h5>" in text and "<p>认识整时和半时。</p>" in text
    assert "<td>导入</td><td>5分钟</td>" in text
    # Sizes shown next to downloads; an HTML upload is published under a name served as a download.
    assert re.search(r"下载 教学设计.docx</a>（\d+\.\d KB）", text)
    assert (project.site / "r" / f"{T1}-钟表" / "files" / "说明.html.bin").is_file()
    assert not (project.site / "r" / f"{T1}-钟表" / "files" / "说明.html").exists()


def test_internal_fields_are_not_published(built) -> None:
    project, _, _ = built
    for path, text in all_html(project).items():
        assert "评审内部意见" not in text, path


def test_related_resources_share_point_and_subject(built) -> None:
    project, _, _ = built
    text = page(project, f"r/{T1}-钟表")
    related = text.split("相关成果", 1)[1]
    assert "《认识钟表》教学反思" in related
    assert "浮力" not in related  # another point and subject


def test_teacher_text_is_escaped_everywhere(built) -> None:
    project, _, _ = built
    escaped = html.escape(XSS_TITLE, quote=False)
    text = page(project, f"r/{T1}-钟表")
    assert f"<title>{escaped} - " in text
    assert f"<h1>{escaped}</h1>" in text
    assert "&lt;b&gt;整时&lt;/b&gt;" in text  # summary shown as typed
    for path, content in all_html(project).items():
        assert "<script>alert(" not in content, path
        assert "onerror" not in content, path
        assert "javascript:alert" not in content, path


def test_markdown_body_keeps_formatting_and_drops_active_content(built) -> None:
    project, _, _ = built
    text = page(project, f"r/{T1}-反思")
    assert "<strong>加粗</strong>保留" in text
    assert "<h3>效果</h3>" in text  # the teacher's h1 sits below the page's own headings
    assert "<iframe" not in text.split("正文", 1)[1].split("相关成果", 1)[0]
    assert "example.com/x.png" not in text


def test_refused_submissions_are_not_published(built) -> None:
    project, _, _ = built
    assert not (project.site / "r" / "dup").exists()
    for path, content in all_html(project).items():
        assert "不应发布" not in content, path


def test_nothing_loads_from_outside_the_site(built) -> None:
    project, _, _ = built
    outside = re.compile(r"<(?:script|link|img|video|source|iframe|audio|track)\b[^>]*\b(?:src|href|poster)=\"(?:https?:)?//", re.I)
    for path, content in all_html(project).items():
        assert not outside.search(content), path
        assert "fonts.googleapis" not in content, path


def test_browse_pages(built) -> None:
    project, _, _ = built
    points = page(project, "points")
    for code in ["A1", "A13", "B10", "C7"]:
        assert f"<strong>{code}</strong>" in points
    assert (project.site / "points" / "b2" / "index.html").is_file()
    assert len(list((project.site / "points").glob("*/index.html"))) == 30
    math = page(project, "subjects/数学")
    assert "<h2>一年级</h2>" in math and "认识钟表" not in math.split("<h2>一年级</h2>")[0].split("portal-cards")[-1]
    assert "物理" in page(project, "subjects")
    assert "浮力" in page(project, "groups/理化组")
    assert "浮力" in page(project, f"terms/{T2}")
    assert "《认识钟表》教学反思" in page(project, "types/教学反思")
    home = page(project, "")
    assert "<strong>58</strong> 份成果" in home
    assert "优秀案例" in home


def test_listings_are_paginated(built) -> None:
    project, _, _ = built
    first = page(project, "groups/分页组")
    second = page(project, "groups/分页组/2")
    assert "共 55 份成果，第 1 / 2 页" in first
    assert first.count('class="portal-card"') == 50
    assert second.count('class="portal-card"') == 5


def test_resource_pages_stay_out_of_the_navigation(built) -> None:
    project, _, _ = built
    home = page(project, "")
    nav_links = re.findall(r'class="md-nav__link[^"]*"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*class="md-nav__link', home)
    assert nav_links
    assert not any("r/" in (a or b) for a, b in nav_links)
    sizes = [len(page(project, f"r/{T2}-分页-{n:02d}")) for n in (0, 54)]
    assert max(sizes) < 40_000


def test_rebuild_reuses_cached_extraction_and_unchanged_pages(built) -> None:
    project, first, before = built
    page_before = page(project, f"r/{T1}-钟表")
    again = pipeline.build_site(project)
    assert again.cache is not None and first.cache is not None
    assert again.cache.misses == 0
    assert again.cache.hits == first.cache.hits + first.cache.misses
    assert again.pages_changed == 0
    third = pipeline.build_site(project)  # back in the first slot: every page is there already
    assert third.pages_reused > 50 and third.cache is not None and third.cache.misses == 0
    assert page(project, f"r/{T1}-钟表") == page_before
    assert tree_digest(project.resources) == before


def test_check_fails_on_refusals_and_site_does_not(built, capsys: pytest.CaptureFixture[str]) -> None:
    project, _, _ = built
    assert main(["--root", str(project.root), "check"]) == 1
    out = capsys.readouterr().out
    assert f"[未发布] {T2}/未知能力点（字段：competencies（能力点））：未知的能力点“D9”" in out
    assert "合计：共找到 62 份成果，发布 58 份，未发布 4 份" in out
    report = (project.reports / "problems.txt").read_text(encoding="utf-8")
    assert f"{T2}/越界" in report
    assert main(["--root", str(project.root), "site"]) == 0


def test_check_passes_on_clean_tree(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T1 / "a", {**BASE, "title": "好"})
    assert main(["--root", str(project.root), "check"]) == 0


def test_shipped_demo_corpus_is_all_accepted() -> None:
    repo = Path(__file__).resolve().parent.parent
    outcome = pipeline.check(Project(repo))
    assert outcome.intake.refused == []
    records = outcome.intake.records
    assert len(records) >= 30
    assert len({r.subject for r in records}) >= 6
    assert {code[0] for r in records for code in r.competencies} == {"A", "B", "C"}
    assert len({r.term for r in records}) >= 2
    kinds = {a.kind for r in records for a in r.attachments}
    assert {"video", "document"} <= kinds


def test_pages_put_into_shells_are_byte_identical_to_pages_mkdocs_renders(built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resource and listing pages are the theme's shell with title, body and URL put in
    (chrome.py), written by helper processes when there are many; MkDocs rendering each page
    itself must give the very same bytes."""
    from portal import chrome
    from portal.build import docs_pages, mkdocs_site
    from portal.catalog import load_catalog
    from portal.chrome import FILL_TOKEN, directory_url, fill_pages, fill_rendered, read_shells, write_sitemap
    from portal.extract import Cache, extract
    from portal.generate import generate
    from portal.intake import scan
    from portal.settings import Settings

    project, _, _ = built
    config = tmp_path / "mkdocs.yml"
    text = project.config_file.read_text(encoding="utf-8").replace("scripts/portal/mkdocs_hooks.py", str(project.root / "scripts/portal/mkdocs_hooks.py"))
    text = text.replace("custom_dir: overrides", f"custom_dir: {project.root / 'overrides'}")
    config.write_text("site_url: https://school.example/资源/\n" + text, encoding="utf-8")  # canonical links too
    settings = Settings.load(config)
    catalog = load_catalog(project.catalog)
    records = scan(project.resources, catalog).records
    extracted, _ = extract(records, Cache(project.cache), catalog)

    made = generate(records, extracted, catalog, tmp_path / "docs-shells", project.content, None, settings, nav=settings.nav)
    mkdocs_site(config, tmp_path / "docs-shells", tmp_path / "shells")
    monkeypatch.setattr(chrome, "PARALLEL_PAGES", 2)  # the fixture's hundred pages, shared among helpers
    filled = fill_pages(tmp_path / "shells", made.pages, read_shells(tmp_path / "shells", made.shells))
    assert len(filled.written) == len(made.pages)
    # The pages MkDocs renders got a token for a body; the build puts their bodies in afterwards.
    assert {"index", "search/index", "subjects/index"} <= set(made.fills)
    assert fill_rendered(tmp_path / "shells", tmp_path / "shells", made.fills) == len(made.fills)
    every_page = settings.nav | {p.path for p in made.pages}
    whole = generate(records, extracted, catalog, tmp_path / "docs-whole", project.content, None, settings, nav=every_page, fill=False)
    assert not whole.pages  # MkDocs renders every page itself here
    mkdocs_site(config, tmp_path / "docs-whole", tmp_path / "whole")

    kinds = {p.path.split("/")[0] for p in made.pages}
    assert {"r", "subjects", "points", "groups", "terms", "types", "stats"} <= kinds and len(made.pages) > 80
    assert any(p.title == XSS_TITLE for p in made.pages)
    outputs = [p.output for p in made.pages] + [directory_url(path) + "index.html" for path in made.fills]
    for output in outputs:
        shell_made = (tmp_path / "shells" / output).read_text(encoding="utf-8")
        assert shell_made == (tmp_path / "whole" / output).read_text(encoding="utf-8"), output
    sample = (tmp_path / "shells" / f"r/{T1}-钟表/index.html").read_text(encoding="utf-8")
    assert f'<link rel="canonical" href="https://school.example/资源/r/{quote(T1)}-' in sample
    assert "PortalShell" not in sample and FILL_TOKEN not in (tmp_path / "shells" / "index.html").read_text(encoding="utf-8")
    assert not list(project.site.rglob("_portal~shell")) and not list(project.site.rglob("*PortalShell*"))  # the shells stay in the scratch folder
    # The sitemap lists the same pages as MkDocs' own would, and no shell.
    write_sitemap(tmp_path / "shells", made.pages, settings.site_url, docs_pages(tmp_path / "docs-shells"))

    def sitemap(site: Path) -> set[str]:
        return {loc.text or "" for loc in ET.parse(site / "sitemap.xml").getroot().iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}

    assert sitemap(tmp_path / "shells") == sitemap(tmp_path / "whole") and len(sitemap(tmp_path / "whole")) > 80


def test_a_changed_theme_reaches_every_page_of_both_slots(tmp_path: Path) -> None:
    """Pages in shells carry the theme's frame: after an edit to overrides/, no slot may keep
    pages in the old frame, however unchanged their content."""
    project = make_project(tmp_path / "school")
    for n in range(3):
        write_meta(project.resources / T1 / f"s{n}", {**BASE, "title": f"成果{n}"})
    pipeline.build_site(project)
    pipeline.build_site(project)  # both slots full
    header = project.root / "overrides" / "partials" / "header.html"
    header.write_text(header.read_text(encoding="utf-8").replace("</header>", "<span>校园网专用</span></header>", 1), encoding="utf-8")
    for _ in range(2):  # into each slot in turn
        outcome = pipeline.build_site(project)
        assert outcome.pages_reused == 0
        pages = list((project.site / "r").glob("*/index.html")) + list((project.site / "subjects").rglob("index.html"))
        assert len(pages) >= 4 and all("校园网专用" in p.read_text(encoding="utf-8") for p in pages)


def test_a_withdrawn_submission_leaves_both_site_copies(tmp_path: Path) -> None:
    """Both copies of the site (see build.next_slot) lose a withdrawn submission's page and files,
    whether the slot's file list is there (only the difference is looked at) or not (a walk)."""
    project = make_project(tmp_path / "school")
    meta = {"title": "撤回的成果", "type": "教学设计", "subject": "数学", "grade": "三年级", "competencies": ["A1"], "authors": ["王芳"]}
    folder = project.resources / T1 / "撤回"
    write_meta(folder, meta)
    (folder / "学习单.txt").write_text("学习单", encoding="utf-8")
    write_meta(project.resources / T1 / "留下", {**meta, "title": "留下的成果"})
    for _ in range(2):
        pipeline.build_site(project)
    slots = sorted(p for p in (project.work / "sites").iterdir() if p.is_dir())
    assert len(slots) == 2 and all((s / "r" / f"{T1}-撤回" / "files").is_dir() for s in slots)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    slots[0].with_name(f"{slots[0].name}.files.json").unlink()  # this copy is pruned by walking it
    for _ in range(2):
        pipeline.build_site(project)
        assert not (project.site / "r" / f"{T1}-撤回").exists()
        assert (project.site / "r" / f"{T1}-留下" / "index.html").is_file()
    assert not any((s / "r" / f"{T1}-撤回").exists() for s in slots)
    assert not any("撤回的成果" in p.read_text(encoding="utf-8") for s in slots for p in (s / "r").rglob("*.html"))


def test_pages_carry_no_instructions_for_the_admin(built) -> None:
    """Without `site_url` there is no QR code; what to set for one is the admin's business (the
    command line says it), not something every teacher and visitor reads on every page."""
    project, _, _ = built
    for path, content in all_html(project).items():
        assert "mkdocs.yml" not in content and "site_url" not in content, path
