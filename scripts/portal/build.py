"""Build: run MkDocs over the generated pages, add the submissions' files, and publish atomically.

The site is built in a folder beside the live one and swapped in only when everything succeeded,
so a failed build leaves the previous site complete and serving. Attachments are hard-linked from
`resources/` where the file system allows (no second copy of large videos), copied otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config

from .chrome import MANIFEST, SHELLS, HtmlPage
from .extract import Extracted
from .model import Record


def mkdocs_site(config_file: Path, docs: Path, out: Path, dirty: bool = False, **overrides: Any) -> None:
    """Render the generated pages with MkDocs + Material (and the school's `overrides/`);
    `overrides` replace settings of mkdocs.yml (the showcase's own name and navigation). With
    `dirty`, pages whose Markdown is older than their HTML in `out` are not rendered again."""
    logger = logging.getLogger("mkdocs")
    logger.setLevel(logging.WARNING)
    source = logging.getLogger("mkdocs.commands.build")  # filters apply where a record is made
    if not any(isinstance(f, _DirtyNotice) for f in source.filters):
        source.addFilter(_DirtyNotice())
    config = load_config(config_file=str(config_file), docs_dir=str(docs), site_dir=str(out), **overrides)
    config.plugins.on_startup(command="build", dirty=dirty)
    try:
        mkdocs_build(config, dirty=dirty)
    finally:
        config.plugins.on_shutdown()


class _DirtyNotice(logging.Filter):
    """MkDocs warns that dirty builds may leave navigation stale; ours are cleared whenever the
    theme or navigation changes (see below), so the warning would only alarm admins."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'dirty' build" not in record.getMessage()


# -- double-buffered campus site -----------------------------------------------------------------
# `site` is a link to one of two slots, .build/sites/a and .build/sites/b. A build renders into
# the slot that is not live and then switches the link in one atomic step, so visitors always see
# a whole site. The slot not live holds the site of two builds ago: MkDocs renders only its pages
# whose Markdown is newer than their HTML there (each Markdown file is rewritten only when its
# text changes), and the pages put into shells are written only when their key differs from the
# slot's manifest (chrome.py), so after one new submission only the pages that list or relate to
# it are rendered. When the theme changed (mkdocs.yml, overrides/, templates, hooks, versions),
# or a build into the slot did not finish, the slot is cleared and rendered whole.

SLOTS = ("a", "b")
STAMP = ".portal-build.json"


def theme_fingerprint(root: Path, config_file: Path) -> str:
    """Everything that shapes every page besides its own inputs: settings, the theme and its
    overrides, our templates, and our code (an upgrade of the portal renders slots afresh)."""
    from importlib.metadata import version

    digest = hashlib.sha256(config_file.read_bytes())
    package = Path(__file__).parent
    for folder, pattern in ((root / "overrides", "*"), (package / "templates", "*"), (package, "*.py")):
        for path in sorted(p for p in folder.rglob(pattern) if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(f"{version('mkdocs')} {version('mkdocs-material')} {version('pygal')}".encode())
    return digest.hexdigest()


def html_path(src: str) -> str:
    """Where MkDocs writes a page with `use_directory_urls`."""
    stem = src[: -len(".md")]
    return f"{stem}.html" if stem == "index" or stem.endswith("/index") else f"{stem}/index.html"


def next_slot(work: Path, live: Path) -> Path:
    current = live.resolve() if live.is_symlink() else None
    slots = [work / "sites" / name for name in SLOTS]
    return slots[1] if current == slots[0].resolve() else slots[0]


def open_slot(slot: Path, theme: str) -> bool:
    """Make `slot` ready for a build; True when its pages may be reused (an incremental build)."""
    stamp = slot / STAMP
    reusable = stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")).get("theme") == theme
    if not reusable and slot.exists():
        discard(slot)
    slot.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)  # a build killed from here on leaves the slot to be cleared
    return reusable


def close_slot(slot: Path, theme: str) -> None:
    (slot / STAMP).write_text(json.dumps({"theme": theme}), encoding="utf-8")


KEEP = ("assets/", "search/", "404.html", "sitemap.xml", "sitemap.xml.gz", STAMP, MANIFEST)


def prune(slot: Path, wanted: set[str]) -> int:
    """Delete what the slot holds from an earlier build but the current one does not produce (a
    withdrawn submission's page and files); `wanted` lists the paths to keep, relative to the slot.
    Theme assets, the search folder (replaced whole) and MkDocs' own files stay."""
    removed = 0
    emptied: list[str] = []  # folders that lost a file or had none, deepest last
    for folder, subfolders, files in os.walk(slot):
        relative = os.path.relpath(folder, slot).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        if not prefix:  # the theme's assets and the search index are not ours to prune
            subfolders[:] = [d for d in subfolders if f"{d}/" not in KEEP]
        unwanted = [name for name in files if not (prefix + name).startswith(KEEP) and prefix + name not in wanted]
        for name in unwanted:
            os.unlink(os.path.join(folder, name))
        removed += len(unwanted)
        if prefix and (unwanted or not files):
            emptied.append(relative)
    for relative in reversed(emptied):  # deepest first; then its parents, which may be empty now
        parts = relative.split("/")
        while parts:
            try:
                os.rmdir(slot.joinpath(*parts))
            except OSError:  # not empty: neither are its parents
                break
            parts.pop()
    return removed


def expected_files(docs: Path, pages: list[HtmlPage], records: list[Record], extracted: dict[str, Extracted]) -> set[str]:
    """Every path a build of `docs`, `pages` and `records` puts in the site, besides theme and search."""
    wanted = {page.output for page in pages}
    for path in docs.rglob("*"):
        if path.is_file():
            relative = path.relative_to(docs).as_posix()
            if SHELLS not in relative:
                wanted.add(html_path(relative) if relative.endswith(".md") else relative)
    for record in records:
        wanted.update(f"r/{record.id}/files/{a.published_name}" for a in record.attachments)
        for view in extracted[record.id].files.values():
            wanted.update(f"r/{record.id}/media/{d.name}" for d in view.published())
    return wanted


def switch(live: Path, slot: Path) -> None:
    """Point `site` at the freshly built slot in one atomic rename. A `site` that is still a
    plain folder (made by an older version) is replaced once."""
    link = live.with_name(live.name + ".link")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(slot, live.parent))
    if live.exists() and not live.is_symlink():
        old = live.with_name(live.name + ".old")
        live.rename(old)
        os.replace(link, live)
        discard(old)
    else:
        os.replace(link, live)


def link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        if os.path.samefile(source, target):
            return
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copyfile(source, target)


def add_attachments(records: list[Record], extracted: dict[str, Extracted], out: Path) -> None:
    """Place every attachment at `r/<id>/files/<name>` beside its page, and what was derived from
    it (previews, playable videos, posters, captions) at `r/<id>/media/<name>`. Links already in
    place from an earlier build are kept."""
    for record in records:
        page = out / "r" / record.id
        for attachment in record.attachments:
            link_or_copy(attachment.source, contained(page / "files", attachment.published_name))
        for view in extracted[record.id].files.values():
            for derived in view.published():
                link_or_copy(derived.source, contained(page / "media", derived.name))


def contained(folder: Path, name: str) -> Path:
    """`folder/name`, refusing any name that would lead out of `folder`. Intake and peers.py
    already refuse such names; this is the last line before a file is written."""
    target = Path(os.path.normpath(folder / name))
    if not target.is_relative_to(os.path.normpath(folder)) or target == Path(os.path.normpath(folder)):
        raise ValueError(f"refusing to write outside {folder}: {name!r}")
    return target


def discard(folder: Path) -> None:
    """Delete a whole old site without making the admin wait: it is moved aside at once and
    removed by a detached `rm`; what a killed build leaves in .trash is removed next time."""
    trash = folder.parent / ".trash"
    trash.mkdir(exist_ok=True)
    target = trash / f"{folder.name}-{os.getpid()}-{time.time_ns()}"
    folder.rename(target)
    try:
        subprocess.Popen(["rm", "-rf", str(trash)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        shutil.rmtree(trash, ignore_errors=True)


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
        discard(old)
    if live.exists():
        live.rename(old)
    staged.rename(live)
    if old.exists():
        discard(old)


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
