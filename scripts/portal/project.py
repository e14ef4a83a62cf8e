"""Where things live in a school's repository. One object, so tests can point it at a fixture tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    def cache(self) -> Path:  # derived artefacts by content hash (git-ignored)
        return self.root / ".cache"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def showcase(self) -> Path:  # the public edition, for other schools
        return self.root / "showcase"

    @property
    def reports(self) -> Path:
        return self.root / "reports"
