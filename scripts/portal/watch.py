"""Publish on arrival: `make serve` keeps watching what a school edits and rebuilds the site.

Watched: `resources/`, `content/`, `catalog/`, `overrides/` and `mkdocs.yml`. A change is published
only once the files it touched have stopped changing (same size and time for SETTLE seconds): a
teacher's folder copied over the LAN takes a while, and a half-copied file is never published. The
rebuild starts as soon as the watcher hands the change over and runs while the files are watched
settling: it goes live only if they stayed the same, and is dropped (and started again once they
settle) if the copy went on. So the wait for the copy to settle costs nothing when it is shorter
than the rebuild. Each rebuild runs in a forked child, so a crash there cannot take the server
down, and publishes by the atomic switch of the `site` link, so visitors never see a half-built site. What was added, changed,
withdrawn or refused is said in Chinese; a rebuild that fails keeps the old site online.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

from .lock import build_lock
from .project import Project

SETTLE = 1.5  # seconds a changed file must keep its size and time before it is read
QUIET_MS = 300  # the watcher hands over changes after this long without another: part of SETTLE
IGNORED_PREFIXES = ("~$", ".~lock", ".")  # Office lock files, editors' and copies' temporary files
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".swp", "~")
STATE = "watch-state.json"


def watched(project: Project) -> list[Path]:
    return [p for p in (project.resources, project.content, project.catalog, project.root / "overrides", project.config_file) if p.exists()]


def relevant(path: str) -> bool:
    name = os.path.basename(path)
    return not (name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES))


def _signature(paths: Iterable[Path]) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under `paths` (folders walked), by path."""
    found: dict[str, tuple[int, int]] = {}
    for path in paths:
        targets = [path] if not path.is_dir() else [Path(d) / f for d, _, files in os.walk(path) for f in files]
        for target in targets:
            try:
                info = target.stat()
            except OSError:  # deleted meanwhile: part of the change
                continue
            found[str(target)] = (info.st_size, info.st_mtime_ns)
    return found


def wait_until_settled(paths: set[Path], settle: float = SETTLE, limit: float = 3600.0, sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once nothing under `paths` changed size or time for `settle` seconds."""
    started = time.monotonic()
    last = _signature(paths)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle and time.monotonic() - started < limit:
        sleep(min(0.25, settle / 4))
        now = _signature(paths)
        if now != last:
            last, quiet_since = now, time.monotonic()


def stays_settled(paths: set[Path], last: dict[str, tuple[int, int]], settle: float, sleep: Callable[[float], None] = time.sleep) -> bool:
    """True if nothing under `paths` differs from `last` (a `_signature`) for `settle` seconds;
    False as soon as something does."""
    started = time.monotonic()
    while time.monotonic() - started < settle:
        sleep(min(0.25, settle / 4))
        if _signature(paths) != last:
            return False
    return True


@dataclass(frozen=True)
class Snapshot:
    """What the live site holds, to say what a rebuild changed."""

    records: dict[str, str]  # id -> title and a digest of what makes its page
    refused: dict[str, str]  # path -> reason
    warned: dict[str, str] = field(default_factory=dict)  # "where\0reason" -> where ("path（字段：field）"), for what was published with a warning

    def to_json(self) -> str:
        return json.dumps({"records": self.records, "refused": self.refused, "warned": self.warned}, ensure_ascii=False)

    @classmethod
    def load(cls, path: Path) -> Snapshot | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(dict(data["records"]), dict(data["refused"]), dict(data.get("warned", {})))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def snapshot(outcome: object) -> Snapshot:
    intake = outcome.intake  # type: ignore[attr-defined]
    records = {r.id: f"{r.title}\0{hashlib.sha1(repr(r).encode()).hexdigest()}" for r in intake.records}  # not the files' digest: a catalog edit changes that of all
    reasons: dict[str, list[str]] = {}
    for problem in intake.refused:  # every reason of a submission, not the last one only
        reasons.setdefault(problem.path, [])
        if problem.reason not in reasons[problem.path]:
            reasons[problem.path].append(problem.reason)
    refused = {path: "；".join(said) for path, said in reasons.items()}
    places = {p: f"{p.path}（字段：{p.field}）" if p.field else p.path for p in [*intake.problems, *outcome.problems] if not p.refused}  # type: ignore[attr-defined]
    warned = {f"{where}\0{p.reason}": where for p, where in places.items()}
    return Snapshot(records, refused, warned)


def changes(before: Snapshot | None, after: Snapshot) -> list[str]:
    """Lines saying what the rebuild published or refused, compared with the site before it."""
    if before is None:
        return [f"网站已生成：发布成果 {len(after.records)} 份，未发布 {len(after.refused)} 份"]
    lines: list[str] = []
    title = {k: v.split("\0", 1)[0] for k, v in after.records.items()}
    old_title = {k: v.split("\0", 1)[0] for k, v in before.records.items()}
    for key in sorted(after.records.keys() - before.records.keys()):
        lines.append(f"新增成果：{title[key]}")
    for key in sorted(k for k in after.records.keys() & before.records.keys() if after.records[k] != before.records[k]):
        lines.append(f"更新成果：{title[key]}")
    for key in sorted(before.records.keys() - after.records.keys()):
        lines.append(f"撤下成果：{old_title[key]}")
    for path in sorted(after.refused.keys() - before.refused.keys()):
        lines.append(f"未发布：{path}：{after.refused[path]}")
    for path in sorted(k for k in after.refused.keys() & before.refused.keys() if after.refused[k] != before.refused[k]):
        lines.append(f"仍未发布：{path}：{after.refused[path]}")
    for key in sorted(after.warned.keys() - before.warned.keys()):
        lines.append(f"提醒：{after.warned[key]}：{key.split(chr(0), 1)[1]}")
    for path in sorted(before.refused.keys() - after.refused.keys()):
        lines.append(f"已解决：{path} 不再是未发布的成果（已改正或已移走）")
    for key in sorted(before.warned.keys() - after.warned.keys()):  # said before, no longer so (a file copied again)
        lines.append(f"提醒已消除：{before.warned[key]}：{key.split(chr(0), 1)[1]}")
    return lines or ["成果的标题和信息没有变化（改动的是文件内容或网站设置）"]


class Signal:
    """One process telling another something once, over a pipe. Unlike multiprocessing.Event,
    whose set() waits for every process waiting on it to wake (forever, for one killed while it
    waited), sending never waits; and no end of file is relied on, so children forked meanwhile
    holding the pipe's ends do not matter. Each signal has one reader."""

    def __init__(self) -> None:
        self._read, self._write = multiprocessing.get_context("fork").Pipe(duplex=False)
        self.value: bytes | None = None

    def send(self, value: bytes = b"1") -> None:
        try:
            self._write.send_bytes(value)
        except (OSError, ValueError):  # closed: nobody is left to read it
            pass

    def wait(self, timeout: float | None) -> bytes | None:
        """What was sent, waiting at most `timeout` seconds (0: only looking); None if nothing yet."""
        if self.value is None and self._read.poll(timeout):
            self.value = self._read.recv_bytes()
        return self.value

    def close(self) -> None:
        self._read.close()
        self._write.close()


GO, DROP = b"go", b"drop"


@dataclass
class Gate:
    """In a rebuild's child: the watcher's word on whether the files it read stayed settled."""

    decision: Signal
    parent: int  # the watcher's process: if it is gone, nobody will say go

    def dropped(self) -> bool:
        """Already told to drop this build (a look, no wait)."""
        return self.decision.wait(0) == DROP

    def decided(self) -> bool:
        """Wait for the word: True to publish, False to drop."""
        while (word := self.decision.wait(0.25)) is None:
            if os.getppid() != self.parent:
                return False
        return word == GO


def _wait_for(previous: Signal | None, parent: int) -> None:
    """In a rebuild's child, once its site is live: until the one before it has said its changes."""
    while previous is not None and previous.wait(1.0) is None and os.getppid() == parent:
        pass


def _rebuild_job(root: Path, live: Signal, gate: Gate, previous: Signal | None = None) -> None:
    """In a forked child: build the site; once the watcher says go (the copy settled) switch to it
    and signal `live`, then say what changed and write the admin report, after the rebuild before
    it (`previous`) said and wrote its own. Told to drop instead, end without a word (exit code 4):
    the watcher starts another build once the copy settles."""
    from . import pipeline
    from .cli import failure_line

    project = Project(root)
    state = project.work / STATE
    started = time.monotonic()
    try:
        with build_lock(project.work):  # an admin's `make site` meanwhile waits, and vice versa
            outcome = pipeline.build_site(project, gate)
    except pipeline.Dropped:
        sys.exit(4)  # through multiprocessing's exit functions: they remove LibreOffice profiles
    except Exception as error:  # noqa: BLE001 - one clear line; the old site stays online
        from . import forks

        if not gate.decided():  # failed on a half-copied file: not worth a word
            sys.exit(4)
        forks.log_failure(error)
        print(failure_line(error, project), flush=True)
        sys.exit(3)
    seconds = time.monotonic() - started  # the new site is served from here on
    live.send()
    after = snapshot(outcome)
    _wait_for(previous, gate.parent)
    before = Snapshot.load(state)
    if before is None:  # the first build of this server: every problem, as `make site` says them
        from .report import problem_lines

        for line in problem_lines(outcome.intake.problems + outcome.problems):
            print(line, flush=True)
    for line in changes(before, after):
        print(line, flush=True)
    _reports(project, outcome)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(after.to_json(), encoding="utf-8")
    if before is None:  # not an update: the first build of this server (it said "网站已生成" above)
        print(f"启动时生成用时 {seconds:.1f} 秒（生成页面 {outcome.pages_changed} 个）", flush=True)
    else:
        print(f"网站已更新，用时 {seconds:.1f} 秒（更新页面 {outcome.pages_changed} 个）", flush=True)


def _reports(project: Project, outcome: object) -> None:
    """The admin report (reports/index.html) follows the live site, as after `make site`."""
    from .catalog import load_catalog
    from .policy import Policy
    from .report import write_reports

    try:
        write_reports(project.resources, outcome.intake, outcome.problems, load_catalog(project.catalog),  # type: ignore[attr-defined]
                      Policy.load(project.catalog), project.reports, None, False, outcome.usage)  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 - the site is live; only the report could not be written
        from . import forks

        forks.log_failure(error)
        print("[提醒] 管理员报告 reports/index.html 未能更新，详细信息见 .build/last-error.log；网站已更新", flush=True)


# What the last build sent live was read from: the settled paths and their files' size and time.
_read_for_live: list[tuple[set[Path], dict[str, tuple[int, int]]]] = []


def already_published(scopes: set[Path]) -> bool:
    """Whether these paths are as the last build sent live read them: the watcher reports the
    writes it saw while that build waited for them to settle, and they need no build again."""
    if not _read_for_live:
        return False
    settled, read = _read_for_live[0]
    if not scopes <= settled:
        return False
    named, inside = {str(scope) for scope in scopes}, tuple(f"{scope}{os.sep}" for scope in scopes)
    return _signature(scopes) == {path: stamp for path, stamp in read.items() if path in named or path.startswith(inside)}


@dataclass
class Finishing:
    """A rebuild's child whose site is live, still saying what changed and writing the admin
    report: the watcher goes back to watching meanwhile; the next rebuild's child waits for
    `ended` only once its own site is live."""

    process: BaseProcess
    ended: Signal  # sent by the reaper thread once the child ended, however it ended
    signals: list[Signal]  # the child's own (and the one it waited for): closed once it ended
    done: threading.Event = field(default_factory=threading.Event)


_finishing: list[Finishing] = []


stopped_mid_update = threading.Event()  # the server was stopped while a rebuild had not gone live


def rebuild(project: Project, settling: set[Path] | None = None, settle: float = SETTLE) -> bool:
    """Build once in a child process; True when the new site went live. Returns as soon as it
    is live; the child says what changed and writes the report meanwhile.

    With `settling` (files still possibly being copied), the build starts at once and goes live
    only if they stay the same for `settle` seconds meanwhile; if they change, it is dropped and
    started again once they have settled, the same way."""
    from . import forks, pipeline  # noqa: F401 - imported here once, so each forked rebuild starts with it

    _warm()
    _read_ahead_done()  # forked with the memos read whole, never halfway
    _finishing[:] = [f for f in _finishing if not f.done.is_set()]
    previous = _finishing[-1].ended if _finishing else None
    live, decision = Signal(), Signal()
    before = _signature(settling) if settling is not None else {}  # what the child will read, or newer
    process = forks.start(_rebuild_job, project.root, live, Gate(decision, os.getpid()), previous, daemon=False)  # it starts children of its own
    try:
        if settling is not None and not stays_settled(settling, before, settle):
            decision.send(DROP)
            print("文件仍在变化，等待复制完成…", flush=True)
            wait_until_settled(settling, settle + QUIET_MS / 1000)
            process.join()
            for signal in (live, decision):
                signal.close()
            read_ahead(project)
            return rebuild(project, settling, settle)
        decision.send(GO)
        _read_for_live[:] = [(settling or set(), before)]
        while live.wait(0.05) is None and process.is_alive():
            pass
    except BaseException as error:
        decision.send(DROP)  # a child never told would wait, holding the build lock (unread if GO was sent)
        if isinstance(error, KeyboardInterrupt):
            stopped_mid_update.set()
        if isinstance(error, forks.Terminated):  # SIGTERM reached only this process (Ctrl+C reaches the child itself)
            forks.stop(process)
        raise
    if live.wait(0) is None:
        process.join()
        for signal in (live, decision):
            signal.close()
        if process.exitcode == forks.STOPPED:  # someone stopped it (kill): not a failure to look into
            print("生成网站的进程被停止，已发布的网站保持不变；下次有变化时会重新生成", flush=True)
        elif process.exitcode not in (0, 3):  # 3: the child said what failed
            print(f"生成网站的进程异常退出（退出码 {process.exitcode}），已发布的网站保持不变；请查看 .build/last-error.log", flush=True)
        read_ahead(project)
        return False
    finishing = Finishing(process, Signal(), [live, decision, *([previous] if previous else [])])
    _finishing.append(finishing)
    threading.Thread(target=_reap, args=(finishing,), daemon=True).start()  # reaped when it ends, not at the next rebuild
    read_ahead(project)  # the child saved what it remembered before its site went live
    return True


# What every rebuild's child imports again if the server has not: MkDocs and its theme (the
# term's briefing is rendered whenever it has a new submission), the chart library.
WARM = ("mkdocs.commands.build", "mkdocs.config", "mkdocs.config.defaults", "material", "pygments", "babel", "portal.charts")


def _warm() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:  # another page builder (ProperDocs, Zensical) in its own environment
            pass


def _reap(finishing: Finishing) -> None:
    """Once the child ended, however it ended, tell the next one it may say its changes."""
    finishing.process.join()
    finishing.ended.send()
    for signal in finishing.signals:
        signal.close()
    finishing.done.set()


def finish_rebuild() -> None:
    """Wait for the rebuilds' children to finish their reports."""
    for finishing in _finishing:
        finishing.process.join()  # also when its reaper thread never started (Ctrl+C just then)
    _finishing.clear()


_reading_ahead: threading.Thread | None = None


def read_ahead(project: Project) -> None:
    """While the server waits for the next change: what the next rebuild would read first (the
    submissions and extraction remembered by the last one), read now by a thread, so that the
    rebuild forked then finds it in memory. The watcher meanwhile goes on listening."""
    from .memo import preload
    from .project import EXTRACTED_MEMO, METADATA_MEMO, RECORDS_MEMO

    global _reading_ahead
    _read_ahead_done()
    _reading_ahead = threading.Thread(target=preload, args=[project.cache / name for name in (RECORDS_MEMO, METADATA_MEMO, EXTRACTED_MEMO)],
                                      daemon=True)
    _reading_ahead.start()


def _read_ahead_done() -> None:
    if _reading_ahead is not None:
        _reading_ahead.join()


def tree_stamp(project: Project) -> tuple[int, int, int]:
    """(files, total size, newest modification) of everything watched: cheap to compare."""
    values = _signature(watched(project)).values()
    return len(values), sum(size for size, _ in values), max((mtime for _, mtime in values), default=0)


def newer_than(project: Project, mtime_ns: int) -> set[Path]:
    """The watched files changed after `mtime_ns` (what to watch settling); empty when only
    files went away."""
    return {Path(path) for path, (_, mtime) in _signature(watched(project)).items() if mtime > mtime_ns}


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def settle_seconds(value: object) -> float:
    """`extra.portal.watch_settle` as seconds: a number from 0.5 to 600, else the default (said)."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if 0.5 <= seconds <= 600:
        return seconds
    print(f"[提醒] mkdocs.yml 中 extra.portal.watch_settle 应为 0.5 到 600 之间的秒数（现为 {value!r}），已按 {SETTLE} 秒处理", flush=True)
    return SETTLE


def watch(project: Project, stop: threading.Event, force_polling: bool = False, since: tuple[int, int, int] | None = None,
          settle: float = SETTLE) -> None:
    """Rebuild whenever watched files changed and settled, until `stop` is set. `since` is the
    `tree_stamp` taken before the last build: what changed before the watcher was listening
    (while that build ran) is caught by comparing it once the watcher is up.

    Folders are watched by the system; single files (mkdocs.yml) are compared every second
    instead: editors and `sed -i` save by replacing the file, which ends a watch on the file."""
    while True:
        try:
            _watch(project, stop, force_polling, since, settle)
            return
        except RuntimeError as error:  # watchfiles cannot name a path whose bytes are not UTF-8
            if "decode path" not in str(error):
                raise
        since = None
        print("发现变化（有文件名不是 UTF-8 编码，多半来自 Windows 上打包的压缩文件），等待文件复制完成…", flush=True)
        wait_until_settled(set(watched(project)), settle)
        rebuild(project)  # says which submission it is; then the watcher starts anew


def _watch(project: Project, stop: threading.Event, force_polling: bool, since: tuple[int, int, int] | None, settle: float = SETTLE) -> None:
    import watchfiles

    def keep(change: watchfiles.Change, path: str) -> bool:
        return relevant(path) and ".build" not in Path(path).parts

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # it says "KeyboardInterrupt caught, stopping watch" in English, as a warning
    folders = [p for p in watched(project) if p.is_dir()]
    files = [p for p in watched(project) if not p.is_dir()]
    stamps = {path: _file_stamp(path) for path in files}
    for batch in watchfiles.watch(*folders, watch_filter=keep, stop_event=stop, debounce=1600, step=QUIET_MS,
                                  force_polling=force_polling or None, raise_interrupt=False,
                                  yield_on_timeout=True, rust_timeout=500):
        touched = {Path(path) for _, path in batch} | {path for path in files if _file_stamp(path) != stamps[path]}
        if not touched:  # the watcher is listening and nothing happened for a moment
            if since is not None and tree_stamp(project) != since:
                print("发现启动期间放入的变化，正在更新网站…", flush=True)
                rebuild(project, {settling_scope(project, p) for p in newer_than(project, since[2])} or set(watched(project)), settle)
            since = None
            continue
        since = None
        scopes = {settling_scope(project, p) for p in touched}
        if already_published(scopes):  # what the watcher saw while the last build waited for it
            continue
        names = sorted({_short(project, p) for p in touched})
        until = "（文件复制完成后发布）" if any(p.exists() for p in touched) else ""  # a deletion copies nothing
        print(f"发现变化：{'、'.join(names[:5])}{' 等' if len(names) > 5 else ''}，正在更新网站{until}…", flush=True)
        stamps = {path: _file_stamp(path) for path in files}
        rebuild(project, scopes, max(settle - QUIET_MS / 1000, 0.1))


def settling_scope(project: Project, path: Path) -> Path:
    """What must stay unchanged before a change at `path` is published: for a submission, its
    whole term folder (a copy brings one teacher's folder after another, and new files into a
    folder already seen); else the path itself, or its folder if it is gone."""
    try:
        parts = path.relative_to(project.resources).parts
    except ValueError:
        parts = ()
    if len(parts) > 1 and (project.resources / parts[0]).is_dir():
        return project.resources / parts[0]
    return path if path.exists() else path.parent


def _short(project: Project, path: Path) -> str:
    try:
        relative = path.relative_to(project.root)
    except ValueError:
        return str(path)
    parts = relative.parts
    # A submission is named by its folder (resources/<term>/<folder>), not by each file in it.
    return "/".join(parts[:3]) if parts and parts[0] == "resources" else relative.as_posix()
