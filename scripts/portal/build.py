"""Build: run MkDocs over the generated pages, add the submissions' files, and publish atomically.

The site is built in a folder beside the live one and swapped in only when everything succeeded,
so a failed build leaves the previous site complete and serving. Attachments are hard-linked from
`resources/` where the file system allows (no second copy of large videos), copied otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config

from .extract import Extracted
from .model import Record


def mkdocs_site(config_file: Path, docs: Path, out: Path, **overrides: Any) -> None:
    """Render the generated pages with MkDocs + Material (and the school's `overrides/`);
    `overrides` replace settings of mkdocs.yml (the showcase's own name and navigation)."""
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    config = load_config(config_file=str(config_file), docs_dir=str(docs), site_dir=str(out), **overrides)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        mkdocs_build(config)
    finally:
        config.plugins.on_shutdown()


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copyfile(source, target)


def add_attachments(records: list[Record], extracted: dict[str, Extracted], out: Path) -> None:
    """Place every attachment at `r/<id>/files/<name>` beside its page, and what was derived from
    it (previews, playable videos, posters, captions) at `r/<id>/media/<name>`."""
    for record in records:
        page = out / "r" / record.id
        for attachment in record.attachments:
            link_or_copy(attachment.source, page / "files" / attachment.published_name)
        for view in extracted[record.id].files.values():
            for derived in view.published():
                link_or_copy(derived.source, page / "media" / derived.name)


def recover(live: Path) -> None:
    """A build killed between the two renames of `publish` leaves only `<site>.old`: put it back."""
    old = live.with_name(live.name + ".old")
    if old.exists() and not live.exists():
        old.rename(live)


def publish(staged: Path, live: Path) -> None:
    """Swap the freshly built site into place: two renames, so the live site is complete at every
    moment but the instant between them, which `recover` mends if the process dies there. The
    old site is deleted only after the new one is in place."""
    recover(live)
    old = live.with_name(live.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if live.exists():
        live.rename(old)
    staged.rename(live)
    if old.exists():
        shutil.rmtree(old)


def zip_folder(folder: Path, target: Path) -> Path:
    """One archive of a built site, paths relative to its root, in a stable order."""
    import zipfile

    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                # Media are already compressed; deflating them again only costs time.
                store = path.suffix.lower() in (".mp4", ".webm", ".jpg", ".png", ".gz", ".zip", ".docx", ".pptx")
                archive.write(path, path.relative_to(folder).as_posix(), zipfile.ZIP_STORED if store else zipfile.ZIP_DEFLATED)
    partial.replace(target)
    return target
