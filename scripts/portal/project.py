"""Where things live in a school's repository. One object, so tests can point it at a fixture tree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CACHE = ".portal-cache"
OLD_CACHE = ".cache"  # where versions before builders.py kept it
# Files only the portal's cache holds: a `.cache/` with one of them is ours to move.
OURS = ("artefacts.sqlite", "digests.json", "metadata.pickle", "tokens.pickle")
# What a build remembers of each submission between builds (intake.MetadataMemo and RecordMemo,
# extract.ExtractMemo), in the cache folder.
METADATA_MEMO, RECORDS_MEMO, EXTRACTED_MEMO = "metadata.pickle", "records.pickle", "extracted.pickle"


def adopt_old_cache(old: Path, new: Path) -> None:
    """Rename the portal's cache from `old` to `new` (one step: nothing copied, nothing lost);
    a `.cache/` that holds none of the portal's files (another program's) is left alone."""
    if old.is_dir() and not old.is_symlink() and any((old / name).exists() for name in OURS):
        try:
            os.rename(old, new)
        except OSError:  # another build moved it meanwhile, or `new` appeared: keep both
            pass


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def resources(self) -> Path:  # teachers' submissions: read-only to every command
        return self.root / "resources"

    @property
    def content(self) -> Path:  # hand-written pages
        return self.root / "content"

    @property
    def catalog(self) -> Path:  # the school's copy of the reference catalogs
        return self.root / "catalog"

    @property
    def config_file(self) -> Path:
        return self.root / "mkdocs.yml"

    @property
    def work(self) -> Path:  # generated pages and the site being built (git-ignored)
        return self.root / ".build"

    @property
    def docs(self) -> Path:
        return self.work / "docs"

    @property
    def cache(self) -> Path:
        """Derived artefacts by content hash (git-ignored), in a folder no builder cleans:
        `.cache/` is Zensical's, and `zensical build --clean` empties it. A school's cache from
        before is moved here once, so nothing is extracted again."""
        cache = self.root / CACHE
        if not cache.exists():
            adopt_old_cache(self.root / OLD_CACHE, cache)
        return cache

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def showcase(self) -> Path:  # the public edition, for other schools
        return self.root / "showcase"

    @property
    def reports(self) -> Path:
        return self.root / "reports"
