"""Publish on arrival: `portal serve` (what `make serve` runs) watches resources/ and rebuilds once
a copied submission has settled; refusals and broken settings never take the site down."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from factories import make_docx, make_project, write_meta
from portal.project import Project

REPO = Path(__file__).resolve().parent.parent
T = "2023-2024-1"
META = {"title": "认识钟表", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Portal:
    """`python -m portal serve` as a real process, its output read line by line."""

    def __init__(self, root: Path):
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO / "scripts"), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "portal", "--root", str(root), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.seen)
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"never said {text!r}:\n" + "\n".join(self.seen))

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def portal(tmp_path: Path):
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "钟表", META)
    running = Portal(project.root)
    running.wait_for("资源平台已启动")
    yield project, running
    if running.process.poll() is None:
        os.killpg(running.process.pid, signal.SIGKILL)


def page(record_id: str) -> str:
    return f"/r/{quote(record_id)}/"


def test_a_copied_submission_appears_and_problems_keep_the_site_online(portal) -> None:
    project, running = portal
    assert running.get(page(f"{T}-钟表")) == 200
    first = "\n".join(running.seen)  # the first build is not an update of anything
    assert "网站已生成：发布成果 1 份" in first and "启动时生成用时" in first and "网站已更新" not in first, first
    assert first.index("启动时生成用时") < first.index("资源平台已启动"), first  # said in order, before the address
    started = next(line for line in running.seen if "资源平台已启动" in line)
    assert f"http://127.0.0.1:{running.port}/" in started and "只在本机提供" in started, started  # --host 127.0.0.1

    # A teacher's folder arrives the way a slow copy writes it: metadata first, the file in parts.
    folder = project.resources / T / "圆的面积"
    write_meta(folder, {**META, "title": "圆的面积新课"})
    make_docx(project.root / "staged.docx", "圆的面积", [("目标", ["推导圆的面积公式。"])])
    data = (project.root / "staged.docx").read_bytes()
    with (folder / "教学设计.docx").open("wb") as handle:
        for start in range(0, len(data), max(1, len(data) // 4)):
            handle.write(data[start:start + max(1, len(data) // 4)])
            handle.flush()
            time.sleep(0.4)
    settled = time.monotonic()
    running.wait_for("新增成果：圆的面积新课")
    deadline = time.monotonic() + 120
    while running.get(page(f"{T}-圆的面积")) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    print(f"\nvisible {time.monotonic() - settled:.1f} s after the copy finished")
    assert running.get(f"/r/{quote(f'{T}-圆的面积')}/files/{quote('教学设计.docx')}") == 200  # the whole file, not half of it
    assert (project.site / "r" / f"{T}-圆的面积" / "files" / "教学设计.docx").read_bytes() == data

    # A refused submission is reported and does not stop the watcher.
    write_meta(project.resources / T / "坏的", {**META, "title": "坏的", "competencies": ["D9"]})
    running.wait_for("未发布：")
    running.wait_for("网站已更新")
    assert "坏的" in (project.reports / "index.html").read_text(encoding="utf-8")  # the admin report follows the live site

    # A broken mkdocs.yml keeps the old site online and says what is wrong; saved the way editors
    # and `sed -i` save (a new file renamed over the old), again and again, it is still noticed.
    config = project.config_file
    good = config.read_text(encoding="utf-8")
    for text, said in ((good + "\ntheme: [unclosed\n", "生成失败"), (good, "网站已更新"), (good + "\ntheme: [again\n", "生成失败"), (good, "网站已更新")):
        replacement = config.with_name("mkdocs.yml.new")
        replacement.write_text(text, encoding="utf-8")
        replacement.replace(config)
        running.wait_for(said)
        assert running.get(page(f"{T}-圆的面积")) == 200

    # A withdrawn submission goes away, announced as an update (there is no copy to wait for).
    mark = len(running.seen)
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    running.wait_for("撤下成果：圆的面积新课")
    said = running.seen[mark:]
    assert any("发现变化" in line for line in said) and not any("复制完成" in line for line in said), said
    assert running.get(page(f"{T}-圆的面积")) == 404
    assert running.stop() == 0


def test_a_folder_named_in_gbk_is_reported_and_the_watcher_goes_on(portal) -> None:
    # Unpacked from a zip made on Chinese Windows: its name is GBK bytes, which the watcher's
    # lines and the refusal must show readably instead of ending `make serve`.
    project, running = portal
    folder = os.fsencode(project.resources / T) + b"/" + "圆的面积".encode("gbk")
    os.makedirs(folder)
    write_meta(Path(os.fsdecode(folder)), {**META, "title": "圆的面积新课"})
    running.wait_for("发现变化")
    running.wait_for("未发布：2023-2024-1/圆的面积：文件名不是 UTF-8 编码")
    write_meta(project.resources / T / "认识人民币", {**META, "title": "认识人民币"})
    running.wait_for("新增成果：认识人民币")
    assert running.stop() == 0


@contextlib.contextmanager
def serving(tmp_path: Path, settle: float) -> Iterator[tuple[Project, Portal]]:
    """A school of one submission served with `watch_settle` seconds, its watcher listening."""
    project = make_project(tmp_path / "school")
    config = project.config_file.read_text(encoding="utf-8")
    project.config_file.write_text(config.replace("    office_previews: true", f"    office_previews: false\n    watch_settle: {settle}"), encoding="utf-8")
    write_meta(project.resources / T / "钟表", META)
    running = Portal(project.root)
    try:
        running.wait_for("正在关注")
        time.sleep(2)  # the watcher is listening (not comparing what came in while it started)
        yield project, running
    finally:
        if running.process.poll() is None:
            os.killpg(running.process.pid, signal.SIGKILL)


def test_a_build_started_before_the_copy_settled_is_dropped_when_the_copy_goes_on(tmp_path: Path) -> None:
    """The rebuild starts as soon as a change is seen, while the files are watched settling: when
    the file changes again within the settle time, what was built from the first version is never
    published or said, and the finished file is."""
    with serving(tmp_path, 6) as (project, running):
        folder = project.resources / T / "圆的面积"
        helpers = set(_children(running.process.pid))  # the forkserver: not a rebuild
        write_meta(folder, {**META, "title": "半截的标题"})  # the first part of a copy
        running.wait_for("发现变化", timeout=60)
        # The rebuild's child is forked once the server has noted what it will read: only a
        # change after that is "still changing" (one before it is simply what the child reads).
        deadline = time.monotonic() + 60
        while not set(_children(running.process.pid)) - helpers and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # long enough for that build to be done with it, well inside the 6 s
        write_meta(folder, {**META, "title": "复制完的标题"})
        running.wait_for("文件仍在变化", timeout=60)
        running.wait_for("新增成果：复制完的标题", timeout=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{running.port}{page(f'{T}-圆的面积')}", timeout=10) as response:
            assert "复制完的标题" in response.read().decode("utf-8")
        assert not any("半截" in line for line in running.seen)
        assert running.stop() == 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_rebuild_killed_while_waiting_for_the_copy_is_said_and_the_watcher_goes_on(tmp_path: Path) -> None:
    """The system may kill a rebuild (out of memory) while it waits for the copy to settle:
    the watcher must say so and keep watching, not wait forever to tell it to go on."""
    with serving(tmp_path, 6) as (project, running):
        write_meta(project.resources / T / "甲", {**META, "title": "被打断的一份"})
        running.wait_for("发现变化", timeout=60)
        time.sleep(3)  # built, waiting at the gate
        children = _children(running.process.pid)
        assert children
        for child in children:
            os.kill(child, signal.SIGKILL)
        running.wait_for("异常退出", timeout=60)
        write_meta(project.resources / T / "乙", {**META, "title": "后来的一份"})
        running.wait_for("新增成果：", timeout=120)
        assert running.get(page(f"{T}-乙")) == 200 and running.get(page(f"{T}-甲")) == 200
        assert running.stop() == 0


def test_stopping_the_server_while_a_copy_settles_ends_the_rebuild_and_frees_the_lock(tmp_path: Path) -> None:
    """Ctrl+C to the server alone (a service manager stopping it) while a rebuild waits for the
    copy: the rebuild is dropped, the server ends, and `make site` can run."""
    from portal.cli import main

    with serving(tmp_path, 8) as (project, running):
        write_meta(project.resources / T / "甲", {**META, "title": "停止时的一份"})
        running.wait_for("发现变化", timeout=60)
        time.sleep(2)
        running.process.send_signal(signal.SIGINT)  # the server's own process, not its group
        assert running.process.wait(timeout=60) == 0
        assert not any("停止时的一份" in line for line in running.seen)
        started = time.monotonic()
        assert main(["--root", str(project.root), "site"]) == 0
        assert time.monotonic() - started < 60  # no child left holding the build lock


def test_folders_copied_one_after_another_are_published_whole(tmp_path: Path) -> None:
    """A teacher copies several folders in a row, each with a document written in parts: what
    the watcher first saw settles while the next folder is still arriving. No half document may
    be read (or warned about), and every folder is published whole."""
    make_docx(tmp_path / "staged.docx", "圆的面积", [("目标", ["推导圆的面积公式。"] * 40)])
    data = (tmp_path / "staged.docx").read_bytes()
    with serving(tmp_path, 1.5) as (project, running):
        names = ["第一份", "第二份", "第三份"]
        for name in names:
            folder = project.resources / T / name
            write_meta(folder, {**META, "title": name})
            with (folder / "设计.docx").open("wb") as handle:
                step = len(data) // 6 + 1
                for start in range(0, len(data), step):
                    handle.write(data[start:start + step])
                    handle.flush()
                    time.sleep(0.45)
        while not all(f"新增成果：{name}" in running.seen for name in names):
            running.wait_for("新增成果：", timeout=180)
        for name in names:
            assert (project.site / "r" / f"{T}-{name}" / "files" / "设计.docx").read_bytes() == data
        time.sleep(4)  # what the watcher saw while the last build waited was what it read: no build again
        while not running.lines.empty():
            running.seen.append(running.lines.get())
        assert not any("Word" in line or "提醒" in line or "没有变化" in line for line in running.seen), "\n".join(running.seen)
        assert running.stop() == 0


def test_the_settle_time_setting_is_read_as_seconds() -> None:
    from portal.watch import SETTLE, settle_seconds

    assert settle_seconds(4) == 4.0
    assert settle_seconds("2.5") == 2.5
    assert settle_seconds("很久") == SETTLE
    assert settle_seconds(0) == SETTLE


def test_what_a_rebuild_says_includes_new_warnings_and_refusals_resolved() -> None:
    """make serve's lines: a submission published with a warning says so (an empty file, a
    briefing photo gone), and a refusal that went away is said too, not only new ones."""
    from portal.watch import changes

    from portal.model import Intake, Problem
    from portal.watch import snapshot

    class Built:  # what snapshot() reads of a build's outcome
        def __init__(self, problems: list[Problem]):
            self.intake, self.problems = Intake([], problems, len(problems)), []

    photo = Problem("content/briefings/1.md", "图片或链接", "找不到“白鹭.jpg”", refused=False)
    refused = Problem("2023-2024-1/坏", "", "缺少标题")
    empty = Problem("2023-2024-1/乙", "文件", "说明.txt 是空文件（0 字节）", refused=False)
    gbk = Problem("2023-2024-1/乙", "文件", "说明.txt 是 GBK 编码，已转换", refused=False)  # the same place, another warning
    before = snapshot(Built([photo, refused]))
    after = snapshot(Built([photo, empty, gbk]))
    lines = changes(before, after)
    assert "提醒：2023-2024-1/乙（字段：文件）：说明.txt 是空文件（0 字节）" in lines
    assert "提醒：2023-2024-1/乙（字段：文件）：说明.txt 是 GBK 编码，已转换" in lines
    assert "已解决：2023-2024-1/坏 不再是未发布的成果（已改正或已移走）" in lines
    assert not any("白鹭" in line for line in lines)  # said when it was new, not again
    assert changes(after, after) == ["成果的标题和信息没有变化（改动的是文件内容或网站设置）"]
    # The empty file was copied again, whole: its warning is said to be gone, once.
    assert changes(after, snapshot(Built([photo, gbk]))) == ["提醒已消除：2023-2024-1/乙（字段：文件）：说明.txt 是空文件（0 字节）"]


def test_a_refusal_for_several_reasons_says_every_reason() -> None:
    """A teacher fixing a refused submission needs all its mistakes at once, not one per try."""
    from portal.model import Intake, Problem
    from portal.watch import changes, snapshot

    class Built:
        def __init__(self, problems: list[Problem]):
            self.intake, self.problems = Intake([], problems, len(problems)), []

    problems = [Problem("2023-2024-2/音乐.md", "type（类型）", "未知的成果类型“感想”"), Problem("2023-2024-2/音乐.md", "grade（年级）", "未知的年级“十年级”"),
                Problem("2023-2024-2/音乐.md", "competencies（能力点）", "未知的能力点“D9”")]
    lines = changes(snapshot(Built([])), snapshot(Built(problems)))
    assert lines == ["未发布：2023-2024-2/音乐.md：未知的成果类型“感想”；未知的年级“十年级”；未知的能力点“D9”"]
