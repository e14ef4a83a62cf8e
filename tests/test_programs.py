"""The programs a build starts for teachers' files (LibreOffice, ffmpeg): none runs on after the
build is stopped, none reaches the network, and LibreOffice converts many documents per start."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_docx, make_project, write_meta
from real_files import docx_linking_image, ffmpeg

from portal import documents

TERM = "2023-2024-1"
BASE = {"type": "教学设计", "subject": "科学", "grade": "五年级", "competencies": ["B2"], "authors": ["刘洋"]}
REPO = Path(__file__).resolve().parent.parent


def processes_mentioning(marker: str) -> dict[int, str]:
    """Running processes whose command line contains `marker`: pid -> program name."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            status = (entry / "stat").read_text()
        except OSError:
            continue
        if marker in command and status.split(") ", 1)[-1][:1] != "Z":
            found[int(entry.name)] = Path(command.split(" ", 1)[0]).name
    return found


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_build_leaves_no_libreoffice_or_ffmpeg_running(tmp_path: Path, stop: signal.Signals) -> None:
    project = make_project(tmp_path / "school")
    for number in range(6):
        folder = project.resources / TERM / f"教案{number}"
        write_meta(folder, {**BASE, "title": f"教案{number}"})
        make_docx(folder / "教案.docx", f"教案{number}", [("过程", [f"第{number}份教案的过程。" * 40])])
    lesson = project.resources / TERM / "录像"
    write_meta(lesson, {**BASE, "title": "录像", "type": "课堂实录"})
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x480:rate=25", "-t", "90", "-c:v", "mpeg4", "-q:v", "8", str(lesson / "课堂.avi"))
    scratch = tmp_path / "tmp"  # LibreOffice's profiles and inputs: their paths name this test
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts"), "TMPDIR": str(scratch)}
    build = subprocess.Popen([sys.executable, "-m", "portal", "--root", str(project.root), "site"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = str(tmp_path)
    try:
        started = wait_until(lambda: {"soffice.bin", "ffmpeg"} & set(processes_mentioning(marker).values()), 300)
        assert started, "the build never started LibreOffice or ffmpeg"
        build.send_signal(stop)
        build.wait(timeout=120)
        assert wait_until(lambda: not processes_mentioning(marker), 15), processes_mentioning(marker)
        left = [p.name for p in scratch.iterdir() if not p.name.startswith("_jinja2-cache")]  # Jinja's, kept on purpose  # LibreOffice's profiles and copied inputs go too
        assert left == [], left
    finally:
        if build.poll() is None:
            build.kill()
        for pid in processes_mentioning(marker):  # only what this test started
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_make_serve_stopped_during_a_rebuild_leaves_nothing_behind(tmp_path: Path, how: str) -> None:
    """Ctrl+C in the terminal (SIGINT to the whole process group) or a service stopped with
    SIGTERM to the server's process, while a rebuild converts Word files: the server stops at
    once, says so, and leaves no program running and no LibreOffice profile or scratch folder."""
    import socket

    project = make_project(tmp_path / "school")
    write_meta(project.resources / TERM / "第一份", {**BASE, "title": "第一份"})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts"), "TMPDIR": str(scratch), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen([sys.executable, "-m", "portal", "--root", str(project.root), "serve", "--host", "127.0.0.1",
                                   "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    marker = str(tmp_path)
    try:
        assert wait_until(lambda: "正在关注" in log.read_text(encoding="utf-8") or server.poll() is not None, 300)
        assert server.poll() is None, log.read_text(encoding="utf-8")
        for number in range(6):
            folder = tmp_path / f"教案{number}"
            write_meta(folder, {**BASE, "title": f"教案{number}"})
            make_docx(folder / "教案.docx", f"教案{number}", [("过程", [f"第{number}份教案的过程。" * 40])])
            folder.rename(project.resources / TERM / folder.name)  # arrives whole
        assert wait_until(lambda: "soffice.bin" in processes_mentioning(marker).values(), 300), log.read_text(encoding="utf-8")
        if how == "ctrl-c":
            os.killpg(server.pid, signal.SIGINT)
        else:
            server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        said = log.read_text(encoding="utf-8")
        assert "已停止。正在进行的更新已放弃" in said and "异常退出" not in said and "Traceback" not in said, said
        assert wait_until(lambda: not processes_mentioning(marker), 15), processes_mentioning(marker)
        left = [p.name for p in scratch.iterdir() if not p.name.startswith("_jinja2-cache")]  # Jinja's, kept on purpose
        assert left == [], left
        errors = project.root / ".build" / "last-error.log"
        assert not errors.exists() or "Traceback" not in errors.read_text(encoding="utf-8")  # a stop is not a failure
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        for pid in processes_mentioning(marker):
            os.kill(pid, signal.SIGKILL)


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []
    picture = b""

    def do_GET(self) -> None:  # noqa: N802
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.picture)))
        self.end_headers()
        self.wfile.write(self.picture)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def picture_server(tmp_path: Path) -> Iterator[str]:
    picture = tmp_path / "red.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", str(picture))
    Recorder.requests, Recorder.picture = [], picture.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/x.png"
    server.shutdown()
    server.server_close()


def test_libreoffice_fetches_nothing_a_document_links_to(tmp_path: Path, picture_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    document = docx_linking_image(tmp_path / "课堂照片.docx", picture_server, tmp_path / "red.png")
    documents.convert(document, tmp_path / "preview.pdf", "pdf")
    assert (tmp_path / "preview.pdf").read_bytes()[:5] == b"%PDF-"
    # Also where the machine allows no network namespace: the profile alone blocks the link.
    monkeypatch.setattr(documents, "_without_network", lambda: [])
    documents.convert(document, tmp_path / "again.pdf", "pdf")
    assert Recorder.requests == []


def test_many_documents_are_converted_by_one_libreoffice_start(tmp_path: Path) -> None:
    sources = [make_docx(tmp_path / f"教案{n}.docx", f"教案{n}", [("过程", [f"第{n}份。"])]) for n in range(3)]
    (tmp_path / "坏的.docx").write_bytes(b"PK\x03\x04 not a document")
    work, made = documents.convert_many([*sources, tmp_path / "坏的.docx"], "pdf", 300)
    try:
        assert set(made) == set(sources)  # the damaged one is simply missing
        assert all(path.read_bytes()[:5] == b"%PDF-" for path in made.values())
    finally:
        import shutil

        shutil.rmtree(work)


def _convert_in(scratch: str, source: str, target: str) -> None:
    import tempfile

    tempfile.tempdir = scratch  # where this child makes its LibreOffice profile
    documents.convert(Path(source), Path(target), "pdf")


def test_a_rebuild_in_a_child_leaves_no_libreoffice_profile(tmp_path: Path) -> None:
    # `make serve` rebuilds in a forked child, which ends without running atexit handlers: the
    # profile it made must still go, or every rebuild leaves half a megabyte in /tmp.
    from portal import forks

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    source = tmp_path / "反思.txt"
    source.write_text("教学反思", encoding="utf-8")
    child = forks.start(_convert_in, str(scratch), str(source), str(tmp_path / "反思.pdf"), daemon=False)
    child.join()
    assert child.exitcode == 0 and (tmp_path / "反思.pdf").exists()
    assert list(scratch.glob("portal-lo-profile-*")) == []
