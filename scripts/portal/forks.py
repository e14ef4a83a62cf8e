"""Forks: work done in child processes.

A forked child receives records, extracted text and templates without pickling them. The heap is
frozen while forking, so the child's garbage collector leaves inherited objects alone instead of
touching each one (which would copy every page of the parent's memory). On Linux a child ends
when the build that started it is killed, instead of running on.

`isolated` runs one call on a teacher's file in a process of its own, for C libraries (FFmpeg,
PDFium) where a malformed file could crash or hang the process that reads it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import multiprocessing
import multiprocessing.context
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


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


# Where a failing child writes its traceback (set by the command line): admins see one line,
# developers find the details here.
ERROR_LOG: Path | None = None


def log_failure(error: BaseException) -> None:
    """Append `error` with its traceback to ERROR_LOG (if set), for whoever diagnoses it."""
    if ERROR_LOG is None:
        return
    try:
        ERROR_LOG.parent.mkdir(parents=True, exist_ok=True)
        with ERROR_LOG.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}\n")
            handle.write("".join(traceback.format_exception(error)))
    except OSError:
        pass


# What a process must remove when it ends (LibreOffice profiles): (pid of the process that made
# it, how). Also run when a forked child fails or is interrupted, which ends by os._exit.
_ON_EXIT: list[tuple[int, Callable[[], object]]] = []


def on_exit(cleanup: Callable[[], object]) -> None:
    """Run `cleanup` when this process ends, however: at a normal exit (multiprocessing's exit
    functions, which also run at the end of a forked child) or a forked child's failure or Ctrl+C."""
    from multiprocessing import util

    util.Finalize(None, cleanup, exitpriority=0)
    _ON_EXIT.append((os.getpid(), cleanup))


def _clean_up() -> None:
    for pid, cleanup in _ON_EXIT:
        if pid == os.getpid():  # not what the parent made before the fork: it still uses it
            with contextlib.suppress(Exception):
                cleanup()


STOPPED = 130  # a child's exit code when Ctrl+C or SIGTERM stopped it (as a shell reports Ctrl+C)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service stopped, `kill`): a command and its forked children stop as Ctrl+C
    stops them, through their `finally` blocks and clean-ups (no LibreOffice profile stays)."""


def _terminated(number: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not break off the clean-up
    raise Terminated()


def stop_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM stop this process as Ctrl+C does (main thread only); returns what undoes it."""
    before = signal.signal(signal.SIGTERM, _terminated)
    return lambda: signal.signal(signal.SIGTERM, before)


def stop(process: BaseProcess) -> None:
    """Ask a child started by `start` to stop as if by Ctrl+C (it cleans up and exits)."""
    if process.pid is not None and process.is_alive():
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGTERM)


def pool_worker() -> None:
    """Initializer of worker processes in a pool: they end with the process that made them, at
    once on SIGTERM (the pool stops them so), and leave Ctrl+C to it (no traceback per worker)."""
    die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(target: Callable[..., object], args: tuple[object, ...]) -> None:
    die_with_parent()
    signal.signal(signal.SIGTERM, _terminated)  # multiprocessing stops daemon children so at exit
    try:
        target(*args)
    except SystemExit:  # an exit code the target chose: multiprocessing's exit functions still run
        raise
    except BaseException as error:  # noqa: BLE001 - the parent reports the exit code in Chinese
        if not isinstance(error, KeyboardInterrupt):  # Ctrl+C, or make serve stopped: not a failure
            log_failure(error)
        _clean_up()
        # Not through the exit functions: they would wait for threads and children.
        os._exit(STOPPED if isinstance(error, KeyboardInterrupt) else 1)


def start(target: Callable[..., object], *args: object, daemon: bool = True) -> BaseProcess:
    """Run `target(*args)` in a forked child (not a daemon when it starts children of its own;
    it still ends with its parent)."""
    process = multiprocessing.get_context("fork").Process(target=_run, args=(target, args), daemon=daemon)
    with frozen_heap():
        process.start()
    return process


def finish(process: BaseProcess, what: str) -> None:
    """Wait for a child; its failure fails the build (the live site is left as it was)."""
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{what}的进程异常退出（退出码 {process.exitcode}）")


class Ahead:
    """A call running in a forked child while this process goes on (`ahead`)."""

    def __init__(self, process: BaseProcess, receiver: Connection):
        self._process = process
        self._receiver = receiver

    def stop(self) -> None:
        """The build failed meanwhile: end the call now (it must not go on writing once the
        build's lock is given up)."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._receiver.close()

    def result(self, what: str) -> object:
        """Wait for the call: its value, or its exception raised here (with the message it had,
        for admins); a child that died says so in Chinese, naming `what` it was doing."""
        try:
            ok, value = self._receiver.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(f"{what}的进程异常退出（退出码 {self._process.exitcode}）") from None
        finally:
            self._receiver.close()
        self._process.join()
        if not ok:
            raise value  # type: ignore[misc]
        return value


def ahead(function: Callable[..., object], *args: object) -> Ahead:
    """`function(*args)` in a forked child, on the other core while this process goes on."""
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = start(_answer, sender, _logged, (function, *args))
    sender.close()
    return Ahead(process, receiver)


def _logged(function: Callable[..., object], *args: object) -> object:
    """`function(*args)`; an error is also logged with its traceback (it reaches the parent
    without one)."""
    try:
        return function(*args)
    except Exception as error:
        log_failure(error)
        raise


class Isolated(Exception):
    """Work run in a process of its own died or ran out of time; the message is for admins."""


_PRELOAD = ["portal.video", "portal.documents", "av", "pypdfium2"]  # what isolated calls use


@functools.cache
def _server() -> multiprocessing.context.BaseContext:
    """A forkserver that has loaded the media libraries once: its children start in milliseconds
    and are forked from a clean process, so this is safe from any thread."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _answer(connection: Connection, function: Callable[..., object], args: tuple[object, ...]) -> None:
    try:
        result: tuple[bool, object] = (True, function(*args))
    except Exception as error:  # sent back as it is, or as its name when it cannot travel
        try:
            pickle.dumps(error)
            result = (False, error)
        except Exception:
            result = (False, RuntimeError(type(error).__name__))
    connection.send(result)
    connection.close()


def isolated(function: Callable[..., T], *args: object, timeout: float) -> T:
    """`function(*args)` in a child process, for code in C libraries reading teachers' files
    (FFmpeg, PDFium): a crash there, or a hang, ends that child, not the build."""
    context = _server()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_answer, args=(sender, function, args), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise Isolated(f"处理超过 {timeout:.0f} 秒仍未完成，已停止")
        ok, value = receiver.recv()
    except EOFError as error:
        raise Isolated("处理时程序异常退出（文件可能已损坏）") from error
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]


def warm_up() -> None:
    """Start the forkserver in the background (it loads FFmpeg and PDFium once, a few tenths of
    a second), so the first isolated call does not wait for it."""
    from multiprocessing import forkserver

    _server()
    threading.Thread(target=forkserver.ensure_running, daemon=True).start()
