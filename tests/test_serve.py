"""`make serve` as a real process answering real HTTP: exact Range answers, the Chinese 404 page,
teachers' files that never run as pages of the site, and idle connections that cannot take the
site offline."""

from __future__ import annotations

import http.client
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import REPO
from factories import make_pdf, make_project, make_video, write_meta
from hypothesis import given
from hypothesis import strategies as st

from portal import pipeline
from portal.model import IMAGE_EXTENSIONS, PUBLISHED_AS_IS, VIDEO_EXTENSIONS, Attachment
from portal.project import Project
from portal.serve import Unsatisfiable, byte_range, content_type, lan_address, started_line

T = "2023-2024-1"
PAGE = f"/r/{T}-hostile/"
SCRIPT = "<script>alert('ran')</script>"
# Each of these, served as its extension says, is a document that runs script in a browser.
ACTIVE = {
    "页面.xht": f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{SCRIPT}</body></html>',
    "页面.xhtm": f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{SCRIPT}</body></html>',
    "页面.html": SCRIPT,
    "图.svg": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'svg\')"/>',
    "数据.xml": '<?xml-stylesheet type="text/xsl" href="#"?><x xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></x>',
    "无扩展名": SCRIPT,
}
SERVER_FILE_LIMIT = 256  # RLIMIT_NOFILE of the server process, as on a small school server


def files_url(name: str) -> str:
    return PAGE + "files/" + quote(name)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(tmp_path_factory.mktemp("serve") / "school")
    folder = project.resources / T / "hostile"
    write_meta(folder, {"title": "带附件的成果", "type": "微课", "subject": "数学", "grade": "一年级",
                        "competencies": ["B2"], "authors": ["张敏"]})
    make_video(folder / "微课.mp4", seconds=1)
    make_pdf(folder / "学习单.pdf", "学习单")
    for name, text in ACTIVE.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "图.svgz").write_bytes(__import__("gzip").compress(ACTIVE["图.svg"].encode()))
    (folder / "伪装.txt").write_text(f"<html><body>{SCRIPT}</body></html>", encoding="utf-8")  # sniffing bait
    (folder / "字幕.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n你好\n", encoding="utf-8")
    (folder / "片段.webm").write_bytes(b"\x1aE\xdf\xa3" + bytes(2000))
    pipeline.build_site(project)
    (project.site / "big.bin").write_bytes(os.urandom(1 << 16) * 512)  # 32 MB, to keep a download busy
    return project


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FILE_LIMIT, SERVER_FILE_LIMIT))


@pytest.fixture(scope="module")
def server(site: Project) -> Iterator[tuple[str, int]]:
    """`python -m portal serve` as `make serve` runs it (without watching: these tests plant files
    in the built site), on a port the system picks."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    process = subprocess.Popen(
        [sys.executable, "-m", "portal", "--root", str(site.root), "serve", "--host", "127.0.0.1", "--port", "0", "--no-watch"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limit_files)
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"the server did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        yield "127.0.0.1", int(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(address: tuple[str, int], path: str, method: str = "GET", **headers: str) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection(*address, timeout=20)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


# -- Range -----------------------------------------------------------------------------------------

def test_a_range_of_one_byte_is_one_byte_on_the_wire(site: Project, server) -> None:
    """Read the raw answer: a server may say one byte in Content-Length and send the whole file."""
    video = (site.site / PAGE[1:] / "files" / "微课.mp4").read_bytes()
    with socket.create_connection(server, timeout=20) as connection:
        connection.sendall(f"GET {files_url('微课.mp4')} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nConnection: close\r\n\r\n".encode())
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    head, body = answer.split(b"\r\n\r\n", 1)
    assert re.match(rb"HTTP/1\.[01] 206 ", head)
    assert f"Content-Range: bytes 0-0/{len(video)}".encode() in head
    assert body == video[:1]


@pytest.mark.parametrize(("header", "status", "part"), [
    ("bytes=100-199", 206, slice(100, 200)),
    ("bytes=-10", 206, slice(-10, None)),
    ("bytes=50-", 206, slice(50, None)),
    ("bytes=0-99999999", 206, slice(0, None)),
    ("bytes=5-2", 200, slice(None)),  # invalid: ignored
    ("bytes=0-1,5-6", 200, slice(None)),  # several ranges: answered whole
    ("items=0-1", 200, slice(None)),
])
def test_ranges_are_answered_exactly(site: Project, server, header: str, status: int, part: slice) -> None:
    video = (site.site / PAGE[1:] / "files" / "微课.mp4").read_bytes()
    response, body = get(server, files_url("微课.mp4"), Range=header)
    assert (response.status, body) == (status, video[part])
    assert response.headers["Accept-Ranges"] == "bytes"


def test_a_range_past_the_end_is_416(server) -> None:
    response, body = get(server, files_url("字幕.vtt"), Range="bytes=100000-")
    assert response.status == 416 and body == b""
    assert re.fullmatch(r"bytes \*/\d+", response.headers["Content-Range"])


def test_head_answers_the_range_without_a_body(server) -> None:
    response, body = get(server, files_url("微课.mp4"), "HEAD", Range="bytes=0-0")
    assert (response.status, response.headers["Content-Length"], body) == (206, "1", b"")


@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(1, 5000))
def test_byte_range_selects_what_slicing_selects(first: int, last: int, size: int) -> None:
    data = bytes(range(256)) * 20
    data = data[:size]
    try:
        span = byte_range(f"bytes={first}-{last}", size)
    except Unsatisfiable:
        assert first >= size
        return
    if first > last:
        assert span is None
    else:
        assert span is not None and data[span[0]: span[1] + 1] == data[first: last + 1]


# -- 404 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/没有这一页/", "/r/", "/assets/none.js", "/../../etc/passwd", PAGE + "files/"])
def test_missing_paths_get_the_sites_chinese_404_page(server, path: str) -> None:
    response, body = get(server, quote(path))
    assert response.status == 404
    text = body.decode("utf-8")
    assert "找不到这个页面" in text and "回到首页" in text
    assert "Not found" not in text and "Directory listing" not in text and "root:" not in text


def test_the_built_404_page_is_chinese(site: Project) -> None:
    text = (site.site / "404.html").read_text(encoding="utf-8")
    assert "<h1>404 · 找不到这个页面</h1>" in text and "404 - Not found" not in text
    assert "<title>页面不存在 - " in text


# -- teachers' files ---------------------------------------------------------------------------------

def test_only_allowed_types_keep_their_name(site: Project) -> None:
    published = {p.name for p in (site.site / PAGE[1:] / "files").iterdir()}
    for name in [*ACTIVE, "图.svgz"]:
        assert name not in published and name + ".bin" in published
    assert {"微课.mp4", "学习单.pdf", "伪装.txt", "字幕.vtt", "片段.webm"} <= published
    assert VIDEO_EXTENSIONS <= set(PUBLISHED_AS_IS) and IMAGE_EXTENSIONS <= set(PUBLISHED_AS_IS)
    for suffix in (".xht", ".xhtm", ".svgz", ".svg", ".html", ".htm", ".xhtml", ".xml", ".xsl", ".js", ".mht", ".shtml", ".swf", ".XHT"):
        assert Attachment(Path("/x"), "a" + suffix, 1).published_name == "a" + suffix + ".bin"
    for name in ("说明.md", "README.markdown", "字幕.srt"):  # read in the browser as plain text
        assert Attachment(Path("/x"), name, 1).published_name == name
        assert content_type("/r/x/files/" + name, name) == "text/plain"


@pytest.mark.parametrize(("name", "ctype", "download"), [
    ("微课.mp4", "video/mp4", False),
    ("片段.webm", "video/webm", False),
    ("字幕.vtt", "text/vtt", False),
    ("学习单.pdf", "application/pdf", False),
    ("伪装.txt", "text/plain; charset=utf-8", False),
    ("页面.xht.bin", "application/octet-stream", True),
    ("图.svgz.bin", "application/octet-stream", True),
])
def test_attachments_are_typed_sandboxed_and_never_sniffed(server, name: str, ctype: str, download: bool) -> None:
    response, _ = get(server, files_url(name))
    assert response.status == 200
    assert response.headers["Content-Type"] == ctype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert (response.headers["Content-Disposition"] == "attachment") is download


@pytest.mark.parametrize("spelling", ["/{}", "//{}", "/./{}", "/r/../{}", "/{}".replace("/files/", "//files/"), "/{}".replace("/files/", "/./files/")])
def test_attachments_are_sandboxed_however_the_address_is_spelled(server, spelling: str) -> None:
    # The server maps all of these to the same file: each must carry the same sandbox.
    path = spelling.format(files_url("学习单.pdf").lstrip("/"))
    response, _ = get(server, path)
    assert response.status == 200, path
    assert "sandbox" in response.headers.get("Content-Security-Policy", ""), path


def test_every_answer_forbids_sniffing(server) -> None:
    for path in ("/", "/assets/portal.css", "/nothing-here"):
        response, _ = get(server, path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    response, _ = get(server, "/")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Security-Policy" not in response.headers  # the site's own pages run its search script


@pytest.mark.browser
def test_no_attachment_runs_script_in_chromium(site: Project, server, browser) -> None:
    from playwright.sync_api import Error

    base = f"http://{server[0]}:{server[1]}"
    context = browser.new_context(accept_downloads=True)
    dialogs: list[str] = []
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        names = [p.name for p in (site.site / PAGE[1:] / "files").iterdir()]
        for name in names:
            try:
                page.goto(base + files_url(name))
            except Error as error:  # sent as a download: nothing was rendered
                assert "Download is starting" in str(error), name
            else:
                page.wait_for_load_state("load")
                assert page.evaluate("document.querySelectorAll('script').length === 0 || document.contentType !== 'text/html'"), name
        page.goto(base + PAGE)  # the resource page with all of them, the PDF as page images
        page.wait_for_load_state("load")
        assert page.locator(".portal-sheets img").count() >= 1
        assert page.evaluate("[...document.querySelectorAll('.portal-sheets img')].every(i => i.complete && i.naturalWidth > 0)")
        assert page.locator("a.portal-open", has_text="打开完整 PDF").count() == 1
    finally:
        context.close()
    assert dialogs == []


# -- connections -------------------------------------------------------------------------------------

def _idle_connections(address: tuple[str, int], count: int) -> list[socket.socket]:
    """Open up to `count` connections that never send a request (fewer if the server stops
    accepting: the old server then hangs every new visitor)."""
    opened: list[socket.socket] = []
    for _ in range(count):
        try:
            opened.append(socket.create_connection(address, timeout=5))
        except OSError:
            break
    return opened


def test_idle_connections_never_take_the_site_offline(server) -> None:
    idle = _idle_connections(server, SERVER_FILE_LIMIT * 2)
    try:
        response, body = get(server, "/")
        assert response.status == 200 and "资源平台" in body.decode("utf-8")
    finally:
        for connection in idle:
            connection.close()


def test_a_download_in_progress_is_not_cut_for_idle_connections(site: Project, server) -> None:
    size = (site.site / "big.bin").stat().st_size
    downloading = http.client.HTTPConnection(*server, timeout=20)
    try:
        downloading.request("GET", "/big.bin")
        response = downloading.getresponse()
        first = response.read(1 << 16)
        idle = _idle_connections(server, SERVER_FILE_LIMIT * 2)
        try:
            assert len(first) + len(response.read()) == size
        finally:
            for connection in idle:
                connection.close()
    finally:
        downloading.close()


def _raw(address: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(address, timeout=20) as connection:
        connection.sendall(request)
        return connection.recv(200)


def test_malformed_requests_are_answered_and_logged_one_line_each(site: Project, server) -> None:
    log = site.root / "logs" / "access.log"
    assert b"<h1>400</h1>" in _raw(server, b"GARBAGE\r\n\r\n")  # answered as HTTP/0.9: no status line
    assert _raw(server, b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431")
    # A folded header and control characters must not start a line of their own in the log.
    folded = b"GET /?folded HTTP/1.1\r\nHost: x\r\nUser-Agent: a\r\n 10.0.0.9 - - [x]\x1b[2J\r\nConnection: close\r\n\r\n"
    assert _raw(server, folded).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 20
    while b"?folded" not in log.read_bytes():
        assert time.monotonic() < deadline, "the request was not logged"
    lines = log.read_bytes().splitlines()
    assert all(re.match(rb'^127\.0\.0\.1 - - \[[^\]]+\] "[^"\x00-\x1f]*" \d{3} ', line) for line in lines), lines[-4:]
    assert any(b'" 400 ' in line for line in lines)


def test_the_started_line_gives_addresses_that_open() -> None:
    everywhere = started_line("0.0.0.0", 8000, "192.168.1.20")
    assert "http://127.0.0.1:8000/" in everywhere and "校园网内其他电脑打开 http://192.168.1.20:8000/" in everywhere
    here_only = started_line("127.0.0.1", 8000, "192.168.1.20")
    assert "http://127.0.0.1:8000/" in here_only and "192.168.1.20" not in here_only and "只在本机提供" in here_only
    one = started_line("192.168.1.20", 8000, "10.0.0.5")  # bound to that address only: 127.0.0.1 does not answer
    assert "http://192.168.1.20:8000/" in one and "127.0.0.1" not in one and "10.0.0.5" not in one


def test_the_lan_address_printed_is_this_computers_own() -> None:
    address = lan_address()  # what teachers type on other computers
    assert not address.startswith("127.")
    with socket.socket() as probe:
        probe.bind((address, 0))  # only an address of this computer can be bound
