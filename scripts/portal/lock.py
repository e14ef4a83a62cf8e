"""One build at a time: two admins (or a scheduled task and an admin) building at once would write
into the same slot of the campus site and publish a mix of both.

The lock is an `flock` on `.build/build.lock`, held for the whole build. A second build waits for
the first to finish and then builds (from what `resources/` holds by then). The kernel drops the
lock when its process ends however it ends, so a killed build never leaves a stale lock behind.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "build.lock"
WAITING = "另一个构建正在进行，等待其完成…"


@contextmanager
def build_lock(work: Path, say: Callable[[str], None] = lambda line: print(line, flush=True)) -> Iterator[None]:
    """Hold the build lock of the repository whose work folder is `work`; if another build holds
    it, `say` so and wait."""
    work.mkdir(parents=True, exist_ok=True)
    with open(work / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            say(WAITING + (f"（{holder}）" if holder else ""))
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"进程 {os.getpid()}，{dt.datetime.now():%H:%M:%S} 开始")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
