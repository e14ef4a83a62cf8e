"""Memo: results of pure work kept between builds, by the SHA-256 of what they were made from.

Reading 10,000 submissions is mostly parsing their YAML, and indexing them mostly cutting their
text into tokens; nearly all of it is unchanged from one build to the next. A memo is one pickle
file in the cache folder holding only what the last build used, so edited or withdrawn sources
do not pile up. A damaged or outdated file is ignored: the work is simply done again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any


class Memo:
    def __init__(self, path: Path | None, version: str):
        self.path = path
        self.version = version  # changes when the work's code changes, so old results are dropped
        self._old: dict[bytes, Any] = {}
        self._used: dict[bytes, Any] = {}
        if path is not None:
            try:
                with path.open("rb") as handle:
                    stored = pickle.load(handle)  # noqa: S301 - our own cache file, written below
                if isinstance(stored, dict) and stored.get("version") == version:
                    self._old = stored["entries"]
            except (OSError, pickle.PickleError, EOFError, KeyError, AttributeError, TypeError, ValueError):
                self._old = {}

    @staticmethod
    def key(source: str) -> bytes:
        return hashlib.sha256(source.encode("utf-8")).digest()

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
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            pickle.dump({"version": self.version, "entries": self._used}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(self.path)
