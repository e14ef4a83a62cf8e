"""Forks: work done in a child process that starts with the parent's data already in memory.

A forked child receives records, extracted text and templates without pickling them. The heap is
frozen while forking, so the child's garbage collector leaves inherited objects alone instead of
touching each one (which would copy every page of the parent's memory). On Linux a child ends
when the build that started it is killed, instead of running on.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(target: Callable[..., object], args: tuple[object, ...]) -> None:
    die_with_parent()
    target(*args)


def start(target: Callable[..., object], *args: object) -> BaseProcess:
    """Run `target(*args)` in a forked child."""
    process = multiprocessing.get_context("fork").Process(target=_run, args=(target, args), daemon=True)
    with frozen_heap():
        process.start()
    return process


def finish(process: BaseProcess, what: str) -> None:
    """Wait for a child; its failure fails the build (the live site is left as it was)."""
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{what}失败（退出码 {process.exitcode}）")
