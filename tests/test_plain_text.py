"""A teacher's notes and reflections as plain text (.txt from Notepad or WPS, a 说明.md): shown on
the resource page, found by search, and opened in the browser as readable Chinese, in whatever
encoding they were saved (UTF-8, GBK, UTF-16 with a byte order mark)."""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from factories import make_project, write_meta

from portal import pipeline
from portal.documents import read_plain
from portal.model import text_charset
from portal.project import Project

T = "2023-2024-1"
META = {"title": "剪纸中的对称", "type": "教学反思", "subject": "美术", "grade": "三年级", "competencies": ["C1"], "authors": ["周敏"]}
PAGE = f"r/{T}-剪纸/"  # named after the folder
GBK_LINES = ["课后反思", "学生用剪刀剪出了对称的窗花，兴趣很高。", "下次准备更多彩纸。"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome]:
    project = make_project(tmp_path_factory.mktemp("plain") / "school")
    folder = project.resources / T / "剪纸"
    write_meta(folder, META)
    # Notepad's "ANSI" on Chinese Windows: GBK, CRLF.
    (folder / "反思.txt").write_bytes("\r\n".join(GBK_LINES).encode("gbk"))
    (folder / "说明.md").write_text("# 使用说明\n\n本课时共两课时，<script>alert(1)</script>请先观看微课。\n", encoding="utf-8")
    # Notepad's "Unicode": UTF-16 LE with a byte order mark.
    (folder / "记录.txt").write_bytes("\ufeff课堂记录：折纸四次后展开。".encode("utf-16-le"))
    (folder / "损坏.txt").write_bytes(bytes(range(256)) * 40)
    return project, pipeline.build_site(project)


def test_plain_text_is_shown_on_the_page_escaped(built) -> None:
    project, outcome = built
    page = (project.site / PAGE / "index.html").read_text(encoding="utf-8")
    for text in [*GBK_LINES, "使用说明", "课堂记录：折纸四次后展开。"]:
        assert text in page, text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "<h" in page.split("使用说明")[0][-12:]  # the Markdown heading is a heading
    damaged = [p for p in outcome.problems if "损坏.txt" in p.field]
    assert len(damaged) == 1 and "不是文字" in damaged[0].reason and "记事本" in damaged[0].reason and not damaged[0].refused
    assert [p for p in outcome.problems if "损坏.txt" not in p.field] == []


def test_the_charset_declared_follows_the_bytes() -> None:
    assert text_charset("反思".encode("gbk")) == "gb18030"
    assert text_charset("反思".encode("utf-8")) == "utf-8"
    assert text_charset("反思".encode("utf-8")[:-1]) == "utf-8"  # cut inside the last character
    assert text_charset(b"\xef\xbb\xbf" + "反思".encode("utf-8")) == "utf-8"
    assert text_charset(b"\xff\xfe" + "反思".encode("utf-16-le")) is None  # the browser follows the mark
    stray = ("学生用剪刀剪出了对称的窗花。" * 200).encode("utf-8")
    assert text_charset(stray[:900] + b"\xff" + stray[900:]) == "utf-8"  # one stray byte does not make it GBK
    assert text_charset(b"a,b,c\n1,2,3\n" * 10_000 + "反思".encode("gbk")) == "gb18030"  # GBK after 120 KB of ASCII


def test_one_long_line_is_cut_on_the_page_but_searched_whole(tmp_path: Path) -> None:
    from portal import documents

    source = tmp_path / "一行.txt"
    source.write_text("对称" * 40_000, encoding="utf-8")  # no line break at all
    found = read_plain(source)
    assert found.cut and len(found.html) < documents.PAGE_TEXT_BUDGET * 2 and "只显示前一部分" in found.html
    assert len(found.text) == 80_000


def test_a_long_text_is_read_in_part_without_a_broken_character(tmp_path: Path) -> None:
    from portal import documents

    line = "学生用剪刀剪出了对称的窗花。\n"
    source = tmp_path / "长.txt"
    source.write_text(line * (documents.PLAIN_TEXT_BYTES // len(line.encode("utf-8")) + 10), encoding="utf-8")
    text = read_plain(source).text
    assert text.startswith("学生用剪刀") and "\ufffd" not in text and len(text.encode("utf-8")) <= documents.PLAIN_TEXT_BYTES


def _get(url: str) -> tuple[str, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", parts.path)
    response = connection.getresponse()
    return response.headers["Content-Type"], response.read()


def test_text_files_open_as_readable_chinese_and_are_searched(built, serve, offline_page) -> None:
    project, _ = built
    server = serve(project.site)
    files = server.url + quote(PAGE) + "files/"
    assert _get(files + quote("反思.txt"))[0] == "text/plain; charset=gb18030"
    assert _get(files + quote("说明.md"))[0] == "text/plain; charset=utf-8"
    assert _get(files + quote("记录.txt"))[0] == "text/plain"
    page = offline_page.page
    for name, expected in (("反思.txt", GBK_LINES[1]), ("说明.md", "请先观看微课"), ("记录.txt", "折纸四次后展开")):
        page.goto(files + quote(name))
        assert expected in page.locator("body").inner_text(), name
    # Words only in the GBK reflection and only in the note find the case.
    for word in ("剪刀", "两课时"):
        page.goto(server.url + "search/?q=" + quote(word))
        page.wait_for_selector("[data-portal-search][data-ready]")
        assert page.locator(".portal-result").count() == 1, word
    assert os.path.isfile(project.site / PAGE / "files" / "说明.md")
