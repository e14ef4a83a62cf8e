"""Hostile and broken submissions, interrupted builds: the portal keeps working, publishes nothing
active, and loses nothing."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from factories import REPO, assert_accounting, make_docx, make_pdf, make_project, tree_digest, write_markdown, write_meta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import pipeline
from portal.catalog import load_catalog
from portal.intake import KEYS, _Check, normalise, read_markdown, scan
from portal.project import Project

T = "2023-2024-1"
BASE = {"title": "正常", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}
XSS = '<img src=x onerror="alert(1)">'
ODD_NAMES = ["学习 单 #1.pdf", "问题?答案.pdf", "100%完成.pdf", "😀表情.pdf", "a&b=c;d.pdf"]


def meta_text(resources: Path, text: str | bytes, name: str = "a") -> None:
    folder = resources / T / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.yml").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def reasons(resources: Path, name: str = "a") -> str:
    intake = scan(resources, load_catalog(REPO / "catalog"))
    return " ".join(p.reason for p in intake.problems if p.path == f"{T}/{name}")


# -- parsing -------------------------------------------------------------------------------------


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    ) + "title: *i\n"
    meta_text(tmp_path, bomb)
    started = time.monotonic()
    message = reasons(tmp_path)
    assert time.monotonic() - started < 2
    assert "YAML 别名" in message


def test_tab_indentation_gets_a_clear_message(tmp_path: Path) -> None:
    meta_text(tmp_path, "title: 认识钟表\nauthors:\n\t- 张敏\n")
    assert "第 3 行用了 Tab 缩进" in reasons(tmp_path)


def test_full_width_colons_are_read_with_a_warning(tmp_path: Path) -> None:
    meta_text(tmp_path, "标题：认识钟表\n类型：微课\n学科：数学\n年级：一年级\n能力点：B2\n作者：张敏\n")
    intake = scan(tmp_path, load_catalog(REPO / "catalog"))
    assert [r.title for r in intake.records] == ["认识钟表"]
    assert any("中文冒号" in p.reason and not p.refused for p in intake.problems)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "空文件"),
        (b"   \n\n  \n", "空文件"),
        ("\ufefftitle: 认识钟表\n".encode(), "缺少必填字段 type"),  # BOM is read, then validation speaks
        (("title: " + "长" * 40000 + "\n").encode(), "超过 64 KB"),
        (b"\xff\xfe\x00t\x00i", "编码无法识别"),
        (b"- just\n- a list\n", "“字段: 值”的列表"),
    ],
)
def test_odd_meta_files_get_clear_messages(tmp_path: Path, content: bytes, expected: str) -> None:
    meta_text(tmp_path, content)
    assert expected in reasons(tmp_path)


# -- active content and escaping -----------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome, dict[str, str]]:
    project = make_project(tmp_path_factory.mktemp("hostile") / "school")
    folder = project.resources / T / "xss"
    write_meta(folder, {**BASE, "title": f"标题{XSS}", "summary": f"简介{XSS}", "keywords": [f"关键词{XSS}"],
                        "authors": [f"作者{XSS}"], "group": f"组{XSS}", "date": "2023-10-01"})
    make_docx(folder / f"文档{XSS}.docx".replace("/", "／"), "文档", [("内容", [f"正文{XSS}<script>alert(2)</script>"])])
    for name in ODD_NAMES:
        make_pdf(folder / name, name)
    write_meta(project.resources / T / "link", {**BASE, "title": "带链接"})
    os.symlink("/etc/passwd", project.resources / T / "link" / "passwd.txt")
    write_markdown(project.resources / T / "raw.md", {**BASE, "title": "原始HTML"}, (
        "<b>保留加粗</b> <table><tr><td>保留表格</td></tr></table>\n\n"
        "<script>alert(3)</script><p onclick=\"alert(4)\">点击</p>"
        "<a href=\"javascript:alert(5)\">链接</a><iframe src=\"http://example.com\"></iframe>"
        "<object data=\"x.swf\"></object><embed src=\"x.swf\"><svg onload=\"alert(6)\"></svg>"
        "<style>body{display:none}</style><form action=\"http://example.com\"><input></form>"
    ))
    write_meta(project.resources / T / "clean", {**BASE, "title": "干净的成果"})
    make_pdf(project.resources / T / "clean" / "学习单.pdf", "学习单")
    before = tree_digest(project.resources)
    return project, pipeline.build_site(project), before


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.lower().startswith("on")]


def event_handlers(page: str) -> list[str]:
    """Every on* attribute of a real element, as a browser's parser would see the page."""
    parser = _Attributes()
    parser.feed(page)
    return parser.handlers


def site_texts(project: Project) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8", errors="ignore") for p in project.site.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".xml")}


def test_no_active_content_reaches_any_page(hostile) -> None:
    project, outcome, _ = hostile
    assert_accounting(outcome.intake)
    for path, text in site_texts(project).items():
        where = path.relative_to(project.site)
        if path.suffix == ".html":
            assert not event_handlers(text), f"event handlers in {where}: {event_handlers(text)}"
        elif path.suffix == ".json":
            assert "<" not in text, f"raw markup in {where}"  # JSON text is escaped too
        else:
            root = ET.fromstring(text.encode("utf-8"))  # XML that parses was escaped properly
            assert not [e for e in root.iter() if e.tag.endswith("script")], where
        for bad in ("<script>alert", 'href="javascript:', "<iframe src=\"http", "<object", "<embed", 'action="http://example.com', "<img src=x", "<style>body"):
            assert bad not in text, f"{bad} in {where}"
    raw = (project.site / "r" / f"{T}-raw" / "index.html").read_text(encoding="utf-8")
    assert "<b>保留加粗</b>" in raw and "<td>保留表格</td>" in raw and "<p>点击</p>" in raw


def test_a_symlink_to_etc_passwd_is_never_published(hostile) -> None:
    project, outcome, before = hostile
    assert any("指向成果文件夹之外的链接" in p.reason for p in outcome.intake.refused)
    for path in project.site.rglob("*"):
        if path.is_file():
            assert b"root:x:0:0" not in path.read_bytes(), path
    assert tree_digest(project.resources) == before


@pytest.mark.browser
def test_hostile_text_never_runs_and_odd_file_names_link(hostile, serve, offline_page) -> None:
    project, _, _ = hostile
    server = serve(project.site)
    page = offline_page.page
    for path in ("", "subjects/数学/", f"r/{T}-raw/", f"r/{T}-clean/", "search/?q=标题", "search/?q=正文"):
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
    page.goto(server.url + f"r/{T}-xss/")
    assert page.locator("h1").first.inner_text() == f"标题{XSS}"  # shown as typed
    hrefs = page.eval_on_selector_all(".portal-download a", "links => links.map(a => a.href)")
    assert len(hrefs) == 1 + len(ODD_NAMES)
    for href in hrefs:
        assert page.request.get(href).status == 200, unquote(href)


@pytest.mark.browser
def test_odd_file_names_produce_links_that_work(tmp_path: Path, serve, offline_page) -> None:
    project = make_project(tmp_path / "school")
    folder = project.resources / T / "名字"
    write_meta(folder, {**BASE, "title": "奇怪的文件名"})
    for name in ODD_NAMES:
        make_pdf(folder / name, name)
    pipeline.build_site(project)
    server = serve(project.site)
    page = offline_page.page
    page.goto(server.url + f"r/{T}-名字/")
    hrefs = page.eval_on_selector_all(".portal-download a", "links => links.map(a => a.href)")
    assert len(hrefs) == len(ODD_NAMES)
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200 and response.body()[:5] == b"%PDF-", unquote(href)


# -- interrupted and failed builds ---------------------------------------------------------------


def _small_school(root: Path, count: int) -> Project:
    project = make_project(root)
    for n in range(count):
        write_markdown(project.resources / T / f"m{n:04d}.md", {**BASE, "title": f"成果{n}"}, "正文" * 50)
    return project


def test_a_failed_build_leaves_the_previous_site_serving(tmp_path: Path) -> None:
    project = _small_school(tmp_path / "school", 5)
    pipeline.build_site(project)
    before = tree_digest(project.site)
    project.config_file.write_text(project.config_file.read_text(encoding="utf-8") + "\ntheme: [broken\n", encoding="utf-8")
    with pytest.raises(Exception):
        pipeline.build_site(project)
    assert tree_digest(project.site) == before


def test_a_killed_build_leaves_the_previous_site_complete(tmp_path: Path) -> None:
    project = _small_school(tmp_path / "school", 400)
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    command = [sys.executable, "-m", "portal", "--root", str(project.root), "site"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    before = tree_digest(project.site)
    (project.resources / T / "m0000.md").unlink()
    write_markdown(project.resources / T / "new.md", {**BASE, "title": "新成果"}, "正文")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged = project.work / "sites" / "b" / "assets"  # the slot not live, once MkDocs writes into it
    deadline = time.monotonic() + 60
    while not staged.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the build finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert tree_digest(project.site) == before  # killed midway: the old site, whole
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert (project.site / "r" / f"{T}-new" / "index.html").exists()  # the next build completes
    assert not (project.site / "r" / f"{T}-m0000").exists()
    (project.resources / T / "new.md").unlink()
    subprocess.run(command, env=env, check=True, capture_output=True)  # incremental, into the other slot
    assert not (project.site / "r" / f"{T}-new").exists()  # a withdrawn submission's page is gone
    assert (project.site / "r" / f"{T}-m0001" / "index.html").exists()


# -- fuzzing -------------------------------------------------------------------------------------

CATALOG = load_catalog(REPO / "catalog")
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30) | st.dates(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from([*KEYS, *KEYS.values()]) | st.text(max_size=10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.dictionaries(_keys, _values, max_size=12))
def test_any_metadata_becomes_a_record_or_a_refusal(raw: dict) -> None:
    check = _Check("fuzz")
    fields = normalise(raw, CATALOG, check, T)
    assert (fields is None) == check.refused
    assert all(p.reason for p in check.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_any_front_matter_becomes_a_record_or_a_refusal(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.md"
    path.write_text("---\n" + text + "\n---\n正文\n", encoding="utf-8", errors="surrogatepass")
    record, problems = read_markdown(path, T, "fuzz", CATALOG)
    assert (record is None) == any(p.refused for p in problems)
    assert all(p.reason for p in problems)


# -- a teacher's file that breaks a parser -------------------------------------------------------


def test_a_body_markdown_cannot_lay_out_is_shown_as_text_and_the_build_goes_on(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    write_markdown(project.resources / T / "深.md", {**BASE, "title": "嵌套列表"}, "- " * 3000 + "x <script>alert(1)</script>")
    write_markdown(project.resources / T / "好.md", {**BASE, "title": "正常的反思"}, "正文")
    outcome = pipeline.build_site(project)
    warning = next(p for p in outcome.problems if p.path == f"{T}/深.md")
    assert warning.field == "正文" and "纯文本" in warning.reason and not warning.refused
    page = (project.site / "r" / f"{T}-深" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="portal-plain">- - - ' in page and "&lt;script&gt;" in page and "<script>alert" not in page
    again = pipeline.build_site(project)  # remembered as failed: the same warning, nothing parsed
    assert any(p.path == f"{T}/深.md" and p.field == "正文" for p in again.problems)


def exit_on_bad(name: str) -> str:
    """A parser that dies with its process on one input, as a zip bomb would (out of memory)."""
    if name == "bad":
        os._exit(1)
    return name.upper()


def test_a_file_that_kills_its_parser_spoils_no_other_file() -> None:
    from portal.documents import DocumentError
    from portal.extract import Parsers

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: files are parsed in the build's own process")
    parsers = Parsers(jobs=100)
    try:
        assert parsers.pool is not None
        assert parsers.run(exit_on_bad, "good") == "GOOD"
        with pytest.raises(DocumentError, match="异常退出"):
            parsers.run(exit_on_bad, "bad")
        assert parsers.run(exit_on_bad, "after") == "AFTER"  # read alone, in a fresh process
        assert parsers.map(exit_on_bad, ["x", "y"]) == ["X", "Y"]
    finally:
        parsers.close()


def sleep_then_answer(seconds: float) -> str:
    time.sleep(seconds)
    return "late"


def test_a_crash_or_hang_reading_a_file_ends_its_own_process_not_the_build(tmp_path: Path) -> None:
    from portal.forks import Isolated, isolated
    from portal.video import MediaError, probe

    with pytest.raises(Isolated, match="异常退出"):
        isolated(exit_on_bad, "bad", timeout=60)
    with pytest.raises(Isolated, match="超过"):
        isolated(sleep_then_answer, 60, timeout=1)
    assert isolated(exit_on_bad, "fine", timeout=60) == "FINE"
    fake = tmp_path / "坏.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    with pytest.raises(MediaError):  # an ordinary failure comes back as itself
        isolated(probe, fake, timeout=60)
