"""Memo: results of pure work kept between builds, by the SHA-256 of what they were made from.

Reading 10,000 submissions is mostly parsing their YAML, and indexing them mostly cutting their
text into tokens; nearly all of it is unchanged from one build to the next. A memo is one pickle
file in the cache folder holding only what the last build used, so edited or withdrawn sources
do not pile up. A damaged or outdated file is ignored: the work is simply done again.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


# Memo files read ahead by a long-lived process (`make serve` between rebuilds): path -> (the
# file's identity when read, its contents). A rebuild forked from that process finds them in
# memory instead of unpickling tens of megabytes while a teacher waits for the page.
_PRELOADED: dict[str, tuple[tuple[int, int, int], Any]] = {}


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _load(path: Path) -> Any:
    identity = _identity(path)
    known = _PRELOADED.get(str(path))
    if known is not None and identity is not None and known[0] == identity:
        return known[1]
    with path.open("rb") as handle, gc_paused():
        return pickle.load(handle)  # noqa: S301 - our own cache file, written by Memo.save


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: unpickling 10,000 records makes a million objects,
    and the collector would walk them over and over while they are being made (none is garbage)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def keep_loaded() -> None:
    """Move everything alive now (the memos just loaded) out of the collector's sight: a build
    makes many short-lived objects, and the collections they cause would walk the loaded records
    again (0.2 s of a rebuild at 10,000). They are freed as usual when their last reference goes.
    Forking a child unfreezes them (forks.frozen_heap) into the oldest generation, which a
    rebuild's allocations do not bring to a full collection (none at 10,000). They are not kept
    frozen for good: garbage in a cycle that holds a lock (an SQLite connection) would then never
    be freed, and the processes reading documents would wait for it forever."""
    gc.freeze()


def preload(*paths: Path) -> None:
    """Read these memo files into this process now (each is replaced whole when saved, so its
    inode, size and time say whether what was read is still what is there)."""
    for path in paths:
        identity = _identity(path)
        try:
            if identity is None:
                raise FileNotFoundError(path)
            _PRELOADED[str(path)] = (identity, _load(path))  # the copy read before, while still the same
        except (OSError, pickle.PickleError, EOFError, AttributeError, TypeError, ValueError, ImportError):
            _PRELOADED.pop(str(path), None)


class Memo:
    def __init__(self, path: Path | None, version: str):
        self.path = path
        self.version = version  # changes when the work's code changes, so old results are dropped
        self.version_digest = hashlib.sha1(version.encode("utf-8")).hexdigest()[:8]  # for digests of what it remembers
        self._old: dict[bytes, Any] = {}
        self._used: dict[bytes, Any] = {}
        if path is not None:
            try:
                stored = _load(path)
                if isinstance(stored, dict) and stored.get("version") == version:
                    self._old = stored["entries"]
            except (OSError, pickle.PickleError, EOFError, KeyError, AttributeError, TypeError, ValueError):
                self._old = {}

    @staticmethod
    def key(source: str) -> bytes:
        return hashlib.sha256(source.encode("utf-8", "surrogateescape")).digest()

    def get(self, key: bytes) -> Any | None:
        found = self._used.get(key)
        if found is None:
            found = self._old.get(key)
            if found is not None:
                self._used[key] = found
        return found

    def put(self, key: bytes, value: Any) -> None:
        self._used[key] = value

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _sweep(self.path)
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            pickle.dump({"version": self.version, "entries": self._used}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(self.path)


def _sweep(path: Path) -> None:
    """Remove what savers of `path` that no longer run left half-written (a process killed
    while saving): `<stem>.<pid>.tmp` files of processes that are gone."""
    for partial in path.parent.glob(f"{path.stem}.*.tmp"):
        pid = partial.name[len(path.stem) + 1 : -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            partial.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _package_fingerprint() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


# Taken when the portal is imported: a process (make serve, and the rebuilds it forks) runs the
# code it loaded then, whatever `git pull` has put on disk since.
_CODE = _package_fingerprint()


def code_fingerprint() -> str:
    """The portal's own code and templates, as loaded: results a memo keeps by the signature of
    their sources (not by their bytes) are dropped whenever any of it changes."""
    return _CODE


# Files never published as hard links into the site: for them the change time counts too, so an
# edit that kept the size and put the old modification time back is still seen.
NEVER_LINKED = (".md", ".markdown", ".yml", ".yaml", ".txt")


def _row(path: str, info: os.stat_result) -> str:
    # Not the change time of other files: publishing a submission's files as hard links changes
    # it every build. rsync and editors replace a file (a new inode), so the inode catches a copy
    # that kept its modification time. Owner and group: who may read it.
    changed = info.st_ctime_ns if path.lower().endswith(NEVER_LINKED) else 0
    return f"{path}\0{info.st_mode}\0{info.st_uid}\0{info.st_gid}\0{info.st_size}\0{info.st_mtime_ns}\0{changed}\0{info.st_ino}"


def file_signature(path: Path) -> str | None:
    """What identifies a file's contents without reading them; None for a link or no file."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return None if stat.S_ISLNK(info.st_mode) else _row(str(path), info)


def tree_signature(folder: Path) -> str | None:
    """The same for a folder and everything below it; None when a link is inside (what it points
    at can change without the folder changing) or a part cannot be listed."""
    return Walk(folder).tree(folder)


class Walk:
    """One walk of a folder tree, keeping each entry's row: the signature of the folder, of any
    folder below it and of any file in it then costs no more system calls. `make site` takes one
    of `resources/` for its no-change check, and intake signs each submission from the same walk
    (at 10,000 submissions the second walk cost 0.1 s of every rebuild)."""

    def __init__(self, folder: Path):
        self.root = str(folder)
        self._rows: dict[str, str] = {}
        self._inside: dict[str, list[str]] = {}  # folder -> the paths directly inside it
        self._links: set[str] = set()  # not followed: asked about, they are signed afresh
        self._unsigned: set[str] = set()  # folders with a link or an unlistable part below them
        try:
            self._rows[self.root] = _row(self.root, os.lstat(self.root))
        except OSError:
            self._unsigned.add(self.root)
            return
        pending = [self.root]
        while pending:
            current = pending.pop()
            inside = self._inside[current] = []
            try:
                with os.scandir(current) as entries:
                    for entry in entries:
                        info = entry.stat(follow_symlinks=False)
                        inside.append(entry.path)
                        self._rows[entry.path] = _row(entry.path, info)
                        if stat.S_ISLNK(info.st_mode):
                            self._links.add(entry.path)
                            self._unsign(current)
                        elif stat.S_ISDIR(info.st_mode):
                            pending.append(entry.path)
            except OSError:
                self._unsign(current)

    def _unsign(self, folder: str) -> None:
        while folder not in self._unsigned:
            self._unsigned.add(folder)
            if folder == self.root:
                return
            folder = os.path.dirname(folder)

    def tree(self, folder: Path) -> str | None:
        """`tree_signature(folder)` as it was when the snapshot was taken."""
        path = str(folder)
        if path in self._unsigned:
            return None
        if path not in self._inside:  # a file is no folder; a link, or a path outside the walk, is signed afresh
            return None if path in self._rows and path not in self._links else tree_signature(folder)
        rows: list[str] = []
        pending = [path]
        while pending:
            current = pending.pop()
            rows.append(self._rows[current])
            pending.extend(self._inside.get(current, ()))
        rows.sort()
        return "\n".join(rows)

    def file(self, path: Path) -> str | None:
        """`file_signature(path)` as it was when the snapshot was taken."""
        name = str(path)
        if name in self._links:
            return None
        row = self._rows.get(name)
        return row if row is not None else file_signature(path)
