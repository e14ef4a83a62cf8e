"""Publish on arrival: `make serve` keeps watching what a school edits and rebuilds the site.

Watched: `resources/`, `content/`, `catalog/`, `overrides/` and `mkdocs.yml`. A change is acted on
only once the files it touched have stopped changing (same size and time for SETTLE seconds): a
teacher's folder copied over the LAN takes a while, and a half-copied file is never read. Each
rebuild runs in a forked child, so a crash there cannot take the server down, and publishes by the
atomic switch of the `site` link, so visitors never see a half-built site. What was added, changed,
withdrawn or refused is said in Chinese; a rebuild that fails keeps the old site online.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
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
    records = {r.id: f"{r.title}\0{hashlib.sha1(repr(r).encode()).hexdigest()}" for r in intake.records}
    refused = {p.path: p.reason for p in intake.refused}
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
    return lines or ["网站已更新（成果没有变化）"]


def _rebuild_job(root: Path, live: Event | None = None) -> None:
    """In a forked child: build the site, set `live` once it is served, then say what changed
    and write the admin report."""
    from . import pipeline
    from .cli import failure_line

    project = Project(root)
    state = project.work / STATE
    before = Snapshot.load(state)
    started = time.monotonic()
    try:
        with build_lock(project.work):  # an admin's `make site` meanwhile waits, and vice versa
            outcome = pipeline.build_site(project)
    except Exception as error:  # noqa: BLE001 - one clear line; the old site stays online
        from . import forks

        forks.log_failure(error)
        print(failure_line(error, project), flush=True)
        os._exit(3)
    seconds = time.monotonic() - started  # the new site is served from here on
    if live is not None:
        live.set()
    after = snapshot(outcome)
    if before is None:  # the first build of this server: every problem, as `make site` says them
        from .report import problem_lines

        for line in problem_lines(outcome.intake.problems + outcome.problems):
            print(line, flush=True)
    for line in changes(before, after):
        print(line, flush=True)
    _reports(project, outcome)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(after.to_json(), encoding="utf-8")
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


# The last rebuild's child, still saying what changed and writing the admin report after its site
# went live: the watcher goes back to watching meanwhile, and waits for it before the next one.
_finishing: BaseProcess | None = None


def rebuild(project: Project) -> bool:
    """Build once in a child process; True when the new site went live. Returns as soon as it
    is live; the child's report is awaited before the next rebuild starts (or at exit)."""
    from . import forks, pipeline  # noqa: F401 - imported here once, so each forked rebuild starts with it

    finish_rebuild()
    live = multiprocessing.get_context("fork").Event()
    process = forks.start(_rebuild_job, project.root, live, daemon=False)  # the build starts children of its own
    while not live.wait(0.05) and process.is_alive():
        pass
    if not live.is_set():
        process.join()
        if process.exitcode not in (0, 3):  # 3: the child said what failed
            print(f"生成网站的进程异常退出（退出码 {process.exitcode}），已发布的网站保持不变；请查看 .build/last-error.log", flush=True)
        read_ahead(project)
        return False
    global _finishing
    _finishing = process
    threading.Thread(target=process.join, daemon=True).start()  # reaped when it ends, not at the next rebuild
    read_ahead(project)  # the child saved what it remembered before its site went live
    return True


def finish_rebuild() -> None:
    """Wait for the last rebuild's child to finish its report."""
    global _finishing
    if _finishing is not None:
        _finishing.join()
        _finishing = None


def read_ahead(project: Project) -> None:
    """While the server waits for the next change: what the next rebuild would read first (the
    submissions and extraction remembered by the last one), read now, so that the rebuild forked
    then finds it in memory."""
    from .memo import preload
    from .project import EXTRACTED_MEMO, METADATA_MEMO, RECORDS_MEMO

    preload(*(project.cache / name for name in (RECORDS_MEMO, METADATA_MEMO, EXTRACTED_MEMO)))


def tree_stamp(project: Project) -> tuple[int, int, int]:
    """(files, total size, newest modification) of everything watched: cheap to compare."""
    values = _signature(watched(project)).values()
    return len(values), sum(size for size, _ in values), max((mtime for _, mtime in values), default=0)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def watch(project: Project, stop: threading.Event, force_polling: bool = False, since: tuple[int, int, int] | None = None) -> None:
    """Rebuild whenever watched files changed and settled, until `stop` is set. `since` is the
    `tree_stamp` taken before the last build: what changed before the watcher was listening
    (while that build ran) is caught by comparing it once the watcher is up.

    Folders are watched by the system; single files (mkdocs.yml) are compared every second
    instead: editors and `sed -i` save by replacing the file, which ends a watch on the file."""
    while True:
        try:
            _watch(project, stop, force_polling, since)
            return
        except RuntimeError as error:  # watchfiles cannot name a path whose bytes are not UTF-8
            if "decode path" not in str(error):
                raise
        since = None
        print("发现变化（有文件名不是 UTF-8 编码，多半来自 Windows 上打包的压缩文件），等待文件复制完成…", flush=True)
        wait_until_settled(set(watched(project)))
        rebuild(project)  # says which submission it is; then the watcher starts anew


def _watch(project: Project, stop: threading.Event, force_polling: bool, since: tuple[int, int, int] | None) -> None:
    import watchfiles

    def keep(change: watchfiles.Change, path: str) -> bool:
        return relevant(path) and ".build" not in Path(path).parts

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # it says "KeyboardInterrupt caught, stopping watch" in English, as a warning
    folders = [p for p in watched(project) if p.is_dir()]
    files = [p for p in watched(project) if not p.is_dir()]
    stamps = {path: _file_stamp(path) for path in files}
    for batch in watchfiles.watch(*folders, watch_filter=keep, stop_event=stop, debounce=1600, step=QUIET_MS,
                                  force_polling=force_polling or None, raise_interrupt=False,
                                  yield_on_timeout=True, rust_timeout=1000):
        touched = {Path(path) for _, path in batch} | {path for path in files if _file_stamp(path) != stamps[path]}
        if not touched:  # the watcher is listening and nothing happened for a second
            if since is not None and tree_stamp(project) != since:
                print("发现启动期间放入的变化，正在更新网站…", flush=True)
                wait_until_settled(set(watched(project)))
                rebuild(project)
            since = None
            continue
        since = None
        names = sorted({_short(project, p) for p in touched})
        print(f"发现变化：{'、'.join(names[:5])}{' 等' if len(names) > 5 else ''}，等待文件复制完成…", flush=True)
        wait_until_settled({p if p.exists() else p.parent for p in touched}, SETTLE - QUIET_MS / 1000)
        stamps = {path: _file_stamp(path) for path in files}
        rebuild(project)


def _short(project: Project, path: Path) -> str:
    try:
        relative = path.relative_to(project.root)
    except ValueError:
        return str(path)
    parts = relative.parts
    # A submission is named by its folder (resources/<term>/<folder>), not by each file in it.
    return "/".join(parts[:3]) if parts and parts[0] == "resources" else relative.as_posix()
