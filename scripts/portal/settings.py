"""School settings read from `extra.portal` in mkdocs.yml, with defaults for everything."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .palette import palette_names


class _TolerantLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """mkdocs.yml may carry MkDocs' own tags (!ENV, !!python/name:…); we only need plain values."""


def _ignore_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> None:
    return None


_TolerantLoader.add_multi_constructor("!", _ignore_tag)  # type: ignore[no-untyped-call]
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _ignore_tag)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Settings:
    office_previews: bool = True  # a PDF rendering of each Office document (LibreOffice, once per file)
    max_video_mb: int = 2048  # a larger video is flagged and not processed
    max_file_mb: int = 500  # the same for any other file
    builder: str = ""  # mkdocs (default), properdocs or zensical: see builders.py
    site_name: str = "教学成果资源平台"  # from mkdocs.yml's own site_name
    site_url: str | None = None  # from mkdocs.yml's site_url, when the school sets one
    nav: frozenset[str] = frozenset()  # docs paths without `.md` that mkdocs.yml's nav names
    access_logs: tuple[str, ...] = ()  # nginx access logs to count usage from (globs; .gz too), besides logs/access.log*
    watch_polling: bool = False  # `make serve` polls for changes (resources/ on a mounted network share)
    watch_settle: float = 1.5  # `make serve` publishes a change once its files kept size and time this long (watch.SETTLE)
    palette: tuple[str, str] = ("indigo", "indigo")  # theme.palette's primary and accent names
    school: str = ""  # the school's name in a county export (default: site_name)

    @property
    def school_name(self) -> str:
        """The school's own name: extra.portal.school, else site_name."""
        return " ".join(str(self.school or self.site_name).split())

    @classmethod
    def load(cls, config_file: Path) -> Settings:
        try:
            with config_file.open(encoding="utf-8") as handle:
                config: Any = yaml.load(handle, Loader=_TolerantLoader)  # noqa: S506 - safe loader subclass
        except OSError:
            return cls()
        config = config or {}
        portal = (config.get("extra") or {}).get("portal") or {}
        known = {f.name for f in fields(cls)} - {"site_name", "site_url", "nav", "palette"}
        values = {k: v for k, v in portal.items() if k in known}
        return cls(**values, site_name=str(config.get("site_name") or cls.site_name), site_url=config.get("site_url"),
                   nav=nav_pages(config.get("nav")), palette=palette_names(_theme(config).get("palette")))


def _theme(config: dict[str, Any]) -> dict[str, Any]:
    theme = config.get("theme")
    return theme if isinstance(theme, dict) else {}


def nav_pages(nav: Any) -> frozenset[str]:
    """The Markdown pages a MkDocs `nav` names (nested sections too), without `.md`."""
    found: set[str] = set()
    stack = [nav]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and item.endswith(".md"):
            found.add(item[: -len(".md")])
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(found)
