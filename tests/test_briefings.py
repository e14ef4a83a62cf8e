"""Term statistics and briefings, against a fixture whose figures were computed by hand."""

from __future__ import annotations

import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from factories import make_project, write_markdown, write_meta
from portal import pipeline
from portal.catalog import load_catalog
from portal.cli import main
from portal.project import Project
from portal.register import Teacher
from portal.stats import term_stats

T, EMPTY = "2023-2024-1", "2023-2024-2"
HOSTILE_GROUP = "<b>二组</b>"
BASE = {"subject": "数学", "grade": "三年级", "type": "微课"}

# Hand-computed for the fixture below (refused submission excluded):
#   accepted 4; roster 5, participating 甲 乙 丁 = 3 → 60.0%
#   graded 3 (优秀 1, 合格 1, 不合格 1) → qualified 2/3 = 66.7%, excellent 1/3 = 33.3%
#   points A1 1, B2 2, C1 1, A11 1; environments A 2, B 2, C 1; dimensions 学情分析 1, 教学设计 3, 学业评价 1
#   groups: 一组 3 in roster, 2 take part → 66.7%; HOSTILE_GROUP 2 in roster, 1 takes part → 50.0%


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome]:
    project = make_project(tmp_path_factory.mktemp("briefings") / "school")
    term = project.resources / T
    write_meta(term / "s1", {**BASE, "title": "合作微课", "authors": ["甲", "乙"], "competencies": ["A1", "B2"], "group": "一组", "level": "优秀"})
    write_meta(term / "s2", {**BASE, "title": "设计", "type": "教学设计", "authors": ["甲"], "competencies": ["B2"], "group": "一组", "level": "合格"})
    write_markdown(term / "s3.md", {**BASE, "title": "反思", "type": "教学反思", "authors": ["丁"], "competencies": ["C1"], "group": HOSTILE_GROUP, "level": "不合格"}, "正文")
    write_meta(term / "s4", {**BASE, "title": "量规", "type": "评价量规", "authors": ["外校老师"], "competencies": ["A11"], "group": HOSTILE_GROUP})
    write_meta(term / "refused", {**BASE, "title": "拒收", "authors": ["戊"], "competencies": ["D9"], "group": HOSTILE_GROUP, "level": "优秀"})
    roster = ["姓名,教研组,学科", "甲,一组,数学", "乙,一组,数学", "丙,一组,数学", f"丁,{HOSTILE_GROUP},数学", f"戊,{HOSTILE_GROUP},数学"]
    (project.resources / "teachers.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
    briefings = project.content / "briefings"
    shutil.rmtree(briefings)  # the shipped demo briefings are not this fixture's
    briefings.mkdir()
    (briefings / f"{T}-1.md").write_text(
        f"---\nterm: {T}\nissue: 1\ndate: 2023-10-30\ntitle: 第一期简报\n---\n\n"
        "## 概况\n\n发布 {{ stats.accepted }} 份，参与率 {{ stats.participation_rate }}，优秀率 {{ stats.excellent_rate }}。\n\n"
        "{{ charts.grid }}\n\n## 教研组\n\n{{ charts.groups }}\n\n![活动照片](photo.png)\n", encoding="utf-8")
    (briefings / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (briefings / f"{T}-2.md").write_text(f"---\nterm: {T}\nissue: 2\ndate: 2023-12-30\ntitle: 第二期简报\n---\n\n坏的占位符 {{{{ stats.accepted \n", encoding="utf-8")
    (briefings / f"{EMPTY}-1.md").write_text(f"---\nterm: {EMPTY}\nissue: 1\ndate: 2024-03-01\ntitle: 新学期简报\n---\n\n本学期发布 {{{{ stats.accepted }}}} 份。\n", encoding="utf-8")
    return project, pipeline.build_site(project)


def html(project: Project, path: str) -> str:
    return (project.site / path / "index.html").read_text(encoding="utf-8")


def test_figures_match_the_hand_count(school) -> None:
    project, outcome = school
    roster = [Teacher(n, g, "数学", None) for n, g in [("甲", "一组"), ("乙", "一组"), ("丙", "一组"), ("丁", HOSTILE_GROUP), ("戊", HOSTILE_GROUP)]]
    s = term_stats(T, outcome.intake.records, load_catalog(project.catalog), roster)
    assert s.accepted == 4
    assert (s.participating, s.participation_rate) == (3, "60.0%")
    assert (s.graded, s.qualified_rate, s.excellent_rate) == (3, "66.7%", "33.3%")
    assert {k: v for k, v in s.by_point.items() if v} == {"A1": 1, "A11": 1, "B2": 2, "C1": 1}
    assert len(s.uncovered) == 26
    assert s.by_env == {"A": 2, "B": 2, "C": 1}
    assert s.by_dim == {"学情分析": 1, "教学设计": 3, "学法指导": 0, "学业评价": 1}
    assert s.grid["B"]["教学设计"] == 2 and s.grid["A"]["学业评价"] == 1
    assert [(g.group, g.roster, g.participating, g.rate) for g in s.group_participation] == [
        (HOSTILE_GROUP, 2, 1, "50.0%"), ("一组", 3, 2, "66.7%")]


def test_statistics_page_states_figures_and_definitions(school) -> None:
    project, _ = school
    page = html(project, f"stats/{T}")
    for figure in ("60.0%", "66.7%", "33.3%", "<strong>4</strong> 份成果"):
        assert figure in page
    assert "参与率 = 本学期至少有一份成果发布" in page and "合格率 =（合格 + 优秀）÷ 已评定等级的成果数" in page
    assert "&lt;b&gt;二组&lt;/b&gt;" in page and "<b>二组</b>" not in page
    assert "尚无成果的能力点（26 个）" in page


def test_charts_are_valid_svg_with_chinese_labels(school) -> None:
    project, _ = school
    page = html(project, f"stats/{T}")
    svgs = re.findall(r'<svg role="img"[^>]*class="portal-chart".*?</svg>', page, flags=re.S)
    assert len(svgs) == 2  # 30 points, groups
    texts = []
    for svg in svgs:
        root = ET.fromstring(svg)
        texts.append(" ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")))
        assert not root.findall(".//{http://www.w3.org/2000/svg}script")  # no chart script, inline or loaded
    assert "C7" in texts[0] and "A1" in texts[0]
    assert "一组" in texts[1] and HOSTILE_GROUP in texts[1]  # the name is text inside <text>, escaped in the markup
    assert "智慧学习环境" in page.split('class="portal-legend"')[1].split("</figcaption>")[0]
    # The environment x dimension grid is a table, with the hand-counted cells and totals.
    heat = ET.fromstring(re.search(r'<table class="portal-heat".*?</table>', page, flags=re.S).group(0))
    rows = [["".join(cell.itertext()) for cell in row] for row in heat.iter("tr")]
    assert rows[0] == ["教学环境", "学情分析", "教学设计", "学法指导", "学业评价", "合计"]
    assert rows[1][0] == "A · 多媒体教学环境" and rows[1][-1] == "2"
    assert rows[-1] == ["合计", "1", "3", "0", "1", ""]


def test_briefing_placeholders_become_figures_and_charts(school) -> None:
    project, _ = school
    page = html(project, f"briefings/{T}-1")
    assert "发布 4 份，参与率 60.0%，优秀率 33.3%。" in page
    assert page.count('class="portal-chart"') == 1 and page.count('class="portal-heat"') == 1
    assert "第1期 · 2023-2024 学年第一学期 · 2023-10-30" in page
    assert (project.site / "briefings" / "photo.png").exists()


def test_broken_placeholder_is_reported_and_text_still_published(school) -> None:
    project, outcome = school
    assert any(p.path == f"content/briefings/{T}-2.md" and "无法替换" in p.reason for p in outcome.problems)
    assert "坏的占位符" in html(project, f"briefings/{T}-2")


def test_a_term_without_data_still_builds_and_says_so(school) -> None:
    project, _ = school
    page = html(project, f"briefings/{EMPTY}-1")
    assert "暂无已发布的成果" in page and "本学期发布 0 份。" in page
    assert "本学期暂无已发布的成果" in html(project, f"stats/{EMPTY}")


def test_briefings_are_listed_newest_first_with_an_atom_feed(school) -> None:
    project, _ = school
    listing = html(project, "briefings")
    order = [listing.index(title) for title in ("新学期简报", "第二期简报", "第一期简报")]
    assert order == sorted(order)
    feed = ET.fromstring((project.site / "briefings" / "feed.xml").read_bytes())
    atom = "{http://www.w3.org/2005/Atom}"
    titles = [e.findtext(f"{atom}title") for e in feed.findall(f"{atom}entry")]
    assert titles == ["新学期简报", "第二期简报", "第一期简报"]


@pytest.mark.browser
def test_briefing_pdf_is_printed_with_its_title(school) -> None:
    from pypdf import PdfReader

    project, _ = school
    assert main(["--root", str(project.root), "briefing-pdf"]) == 0
    pdf = project.reports / "briefings" / f"{T}-1.pdf"
    reader = PdfReader(str(pdf))
    # NFKC: the PDF's CJK font maps some characters to compatibility forms (⼀ for 一).
    text = unicodedata.normalize("NFKC", "".join(page.extract_text() or "" for page in reader.pages))
    assert "第一期简报" in text.replace(" ", "")
    assert "按学科" not in text  # the print stylesheet drops the navigation
    assert reader.pages[0].mediabox.width == pytest.approx(595, abs=2)  # A4 portrait


# -- values placed into a briefing's Markdown ------------------------------------------------------

MARKDOWN_GROUP = "![g](x){: onerror=alert('group') }"
LINK_GROUP = "[点我](javascript:alert('link'))"


@pytest.fixture(scope="module")
def markdown_school(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Group names that are Markdown (an image with an event handler, a script link), placed by
    a briefing inline, in a table, and at the start of a line."""
    project = make_project(tmp_path_factory.mktemp("briefing-markdown") / "school")
    for n, group in enumerate((MARKDOWN_GROUP, LINK_GROUP, "# 标题组\n\n    缩进")):
        write_meta(project.resources / T / f"s{n}", {**BASE, "title": f"成果{n}", "authors": ["甲"], "competencies": ["B2"], "group": group})
    briefings = project.content / "briefings"
    shutil.rmtree(briefings)
    briefings.mkdir()
    (briefings / f"{T}-1.md").write_text(
        f"---\nterm: {T}\nissue: 1\ndate: 2023-10-30\ntitle: 教研组简报\n---\n\n各组：{{{{ stats.by_group }}}}\n\n"
        "| 教研组 | 参与 |\n| --- | --- |\n{% for name, n in stats.by_group.items() %}| {{ name }} | {{ n }} |\n{% endfor %}\n"
        "{% for g in stats.by_group %}{{ g }}\n\n{% endfor %}", encoding="utf-8")
    pipeline.build_site(project)
    return project


def test_group_names_in_a_briefing_stay_text(markdown_school: Project) -> None:
    page = html(markdown_school, f"briefings/{T}-1")
    body = page.split('<article class="md-content__inner', 1)[1]
    assert not re.search(r"<img[^>]*onerror", body) and not re.search(r"<a[^>]*javascript:", body)
    assert not re.search(r"<h1[^>]*>\s*标题组", body) and "<pre" not in body  # no block made by a value
    assert body.count("<table") == 1 and body.count("<tr>") == 4  # the table stays one table


@pytest.mark.browser
def test_group_names_in_a_briefing_run_no_script_in_chromium(markdown_school: Project, serve, offline_page) -> None:
    server = serve(markdown_school.site)
    page = offline_page.page
    page.goto(server.url + f"briefings/{T}-1/")
    page.wait_for_load_state("load")
    article = page.locator("article")
    assert article.locator("img").count() == 0 and page.locator("[onerror]").count() == 0
    assert article.locator("a[href^='javascript']").count() == 0
    text = article.inner_text()
    assert MARKDOWN_GROUP in text and LINK_GROUP in text  # shown as typed


def test_a_misspelled_placeholder_is_reported_not_silent(tmp_path: Path) -> None:
    from portal.briefings import Briefing, render_briefing
    from portal.stats import term_stats

    catalog = load_catalog(Path(__file__).resolve().parent.parent / "catalog")
    source = tmp_path / f"{T}-9.md"
    briefing = Briefing(source=source, term=T, issue="第九期", date=None, title="简报", body="发布 {{ stats.acepted }} 份，参与率 {{ stats.participation_rate }}。", slug=f"{T}-9")
    problems: list = []
    text = render_briefing(briefing, term_stats(T, [], catalog, None), catalog, problems)
    assert "发布  份" in text
    (problem,) = problems
    assert problem.field == "占位符" and "acepted" in problem.reason and not problem.refused


def test_a_missing_photo_is_said_in_chinese_not_by_mkdocs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "a", {**BASE, "title": "一份", "authors": ["甲"], "competencies": ["B2"]})
    briefings = project.content / "briefings"
    shutil.rmtree(briefings)
    briefings.mkdir()
    (briefings / "在.jpg").write_bytes(b"\xff\xd8\xff")
    (briefings / f"{T}-1.md").write_text(f"---\nterm: {T}\nissue: 1\ntitle: 简报\n---\n\n![有](在.jpg)\n\n![没有](活动照片.jpg)\n\n[外链](https://example.org/x)\n", encoding="utf-8")
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "scripts")}
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "portal", "--root", str(project.root), "site"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0
    output = result.stdout + result.stderr
    assert "找不到“活动照片.jpg”" in output and "在.jpg" not in output.split("找不到")[1][:20]
    assert "is not found" not in output and "Doc file" not in output


def test_charts_drawn_ahead_are_those_the_pages_show_and_old_ones_are_swept(school, tmp_path: Path) -> None:
    """A child draws every term's charts while the build reads and extracts: the statistics page
    must show exactly what is in that cache. Charts of counts no term has any more go once old."""
    import os
    import time

    from portal.briefings import CHARTS, STALE_CHARTS_S, Charts, draw_charts, stats_context
    from portal.intake import scan

    project, _ = school
    catalog = load_catalog(project.catalog)
    records = scan(project.resources, catalog).records
    roster = pipeline.load_roster(project)
    cache = tmp_path / "charts"
    cache.mkdir()
    stale, recent = cache / "stale.html", cache / "recent.html"
    for path in (stale, recent):
        path.write_text("<svg>old counts</svg>", encoding="utf-8")
    os.utime(stale, (time.time() - STALE_CHARTS_S - 60,) * 2)
    draw_charts(records, catalog, roster, cache)
    stats = stats_context(records, catalog, roster, [T])[T]
    charts = Charts(stats, catalog, cache)
    drawn = {name: (cache / charts.key(name)).read_text(encoding="utf-8") for name in CHARTS}
    assert all(chart.startswith("<figure") and len(chart) > 200 for chart in drawn.values())
    page = html(project, f"stats/{T}")
    assert drawn["grid"] in page and drawn["points"] in page and drawn["groups"] in page
    assert not stale.exists() and recent.exists()


def test_the_atom_feed_is_made_again_only_when_a_briefing_changed(tmp_path: Path) -> None:
    import datetime as dt

    from portal.briefings import Briefing, atom_feed, cached_atom_feed

    first = Briefing(tmp_path / "1.md", "2023-2024-1-1", T, "第 1 期", dt.date(2023, 10, 30), "第一期简报", "正文")
    cache = tmp_path / "feed"
    made = cached_atom_feed([first], "学校", None, cache)
    assert made == atom_feed([first], "学校", None)
    (kept,) = cache.glob("*.xml")
    kept.write_bytes(b"<feed>kept</feed>")  # what is kept is what is used
    assert cached_atom_feed([first], "学校", None, cache) == b"<feed>kept</feed>"
    renamed = Briefing(first.source, first.slug, T, first.issue, first.date, "改过的标题", "正文")
    assert "改过的标题" in cached_atom_feed([renamed], "学校", None, cache).decode("utf-8")
    assert len(list(cache.glob("*.xml"))) == 1


def test_term_figures_are_kept_by_their_records_and_counted_again_when_one_changes(school, tmp_path: Path) -> None:
    """A rebuild counts only the terms whose records changed: each term's figures are kept by
    the digests of its records (and the catalog, roster and code)."""
    import dataclasses
    import pickle

    from portal.briefings import stats_context
    from portal.intake import scan

    project, _ = school
    catalog = load_catalog(project.catalog)
    records = scan(project.resources, catalog).records
    roster = pipeline.load_roster(project)
    kept = tmp_path / "stats"
    counted = stats_context(records, catalog, roster, [T, EMPTY])
    assert stats_context(records, catalog, roster, [T, EMPTY], kept) == counted
    assert counted[T].accepted == 4 and len(list(kept.iterdir())) == 2
    for path in kept.iterdir():  # doctored: what is kept is what the next build uses
        stats = pickle.loads(path.read_bytes())
        path.write_bytes(pickle.dumps(dataclasses.replace(stats, accepted=stats.accepted + 1000)))
    again = stats_context(records, catalog, roster, [T, EMPTY], kept)
    assert again[T].accepted == 1004 and again[EMPTY].accepted == 1000

    def with_digest(digest: str, author: str = "甲") -> list:
        changed = dataclasses.replace(records[0], authors=[author])
        changed.digest = digest
        return [changed, *records[1:]]

    after = stats_context(with_digest(records[0].digest + "-edited"), catalog, roster, [T, EMPTY], kept)
    assert after[T].accepted == 4 and after[EMPTY].accepted == 1000  # its term counted again, the other kept
    # Changed since intake signed it (drop_vanished): never taken from the folder, each time counted.
    assert "新来的老师" in stats_context(with_digest("", "新来的老师"), catalog, roster, [T], kept)[T].authors
    assert "又一位老师" in stats_context(with_digest("", "又一位老师"), catalog, roster, [T], kept)[T].authors
