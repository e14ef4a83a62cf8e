"""Build: run the builder over the generated pages, add the submissions' files, and publish atomically.

The site is built in a folder beside the live one and swapped in only when everything succeeded,
so a failed build leaves the previous site complete and serving. Attachments are hard-linked from
`resources/` where the file system allows (no second copy of large videos), copied otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .builders import Builder, BuilderError, choose, installed_version
from .chrome import MANIFEST, SHELLS, HtmlPage
from .extract import Extracted
from .memo import code_fingerprint
from .model import Record


def mkdocs_site(config_file: Path, docs: Path, out: Path, dirty: bool = False, builder: Builder | None = None, **overrides: Any) -> None:
    """Render the builder's pages (hand-written pages, briefings, shells) with the school's theme
    and `overrides/`; `overrides` replace settings of mkdocs.yml (the showcase's own name and
    navigation). With `dirty`, the builder may reuse what it rendered into `out` before (MkDocs:
    pages whose Markdown is older than their HTML are not rendered again). The builder is the
    one mkdocs.yml or `PORTAL_BUILDER` asks for unless given (builders.py)."""
    (builder or choose(config_file)).render(config_file, docs, out, clean=not dirty, **overrides)


# -- double-buffered campus site -----------------------------------------------------------------
# `site` is a link to one of two slots, .build/sites/a and .build/sites/b. A build fills the slot
# that is not live and then switches the link in one atomic step, so visitors always see a whole
# site. The builder never writes into a slot: it renders into a scratch folder of its own
# (.build/render/), whose files are copied into the slot when they changed, since a builder may
# delete whatever it did not write in its output folder (Zensical does). The builder renders only
# pages whose Markdown is newer than their HTML in the scratch folder (each Markdown file is
# rewritten only when its text changes), and the pages put into shells are written only when their
# key differs from the slot's manifest (chrome.py), so after one new submission only the pages that
# list or relate to it are rendered. When the theme changed (mkdocs.yml, overrides/, templates,
# hooks, the builder and its versions), or a build did not finish, the slot and the scratch folder
# are cleared and rendered whole.

SLOTS = ("a", "b")
STAMP = ".portal-build.json"


def theme_fingerprint(root: Path, config_file: Path, builder: str) -> str:
    """Everything that shapes every page besides its own inputs: settings, the theme and its
    overrides, our templates, our code (an upgrade of the portal renders slots afresh) and
    `builder`, the builder's own fingerprint (its name and versions)."""
    digest = hashlib.sha256(config_file.read_bytes() + code_fingerprint().encode())  # our code and templates, as loaded
    folder = root / "overrides"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(f"{builder} {installed_version('pygal')}".encode())
    return digest.hexdigest()


def html_path(src: str) -> str:
    """Where MkDocs writes a page with `use_directory_urls`."""
    stem = src[: -len(".md")]
    return f"{stem}.html" if stem == "index" or stem.endswith("/index") else f"{stem}/index.html"


def next_slot(work: Path, live: Path) -> Path:
    current = live.resolve() if live.is_symlink() else None
    slots = [work / "sites" / name for name in SLOTS]
    return slots[1] if current == slots[0].resolve() else slots[0]


def open_slot(slot: Path, theme: str, stamp: Path | None = None) -> bool:
    """Make `slot` ready for a build; True when its pages may be reused (an incremental build).
    `stamp` records the theme the slot was built with (default: a file inside it)."""
    stamp = stamp or slot / STAMP
    reusable = stamp.exists() and json.loads(stamp.read_text(encoding="utf-8", errors="surrogateescape")).get("theme") == theme
    if not reusable and slot.exists():
        discard(slot)
    slot.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)  # a build killed from here on leaves the slot to be cleared
    return reusable


def close_slot(slot: Path, theme: str, stamp: Path | None = None) -> None:
    (stamp or slot / STAMP).write_text(json.dumps({"theme": theme}), encoding="utf-8")


def render(builder: Builder, config_file: Path, docs: Path, scratch: Path, theme: str, **overrides: Any) -> bool:
    """The builder renders into `scratch`, a folder of its own that it may clean as it likes;
    what it rendered before is reused when the theme is the same and its last build finished.
    When the docs folder too is as it was then (after a new submission, usually: generated pages'
    bodies are put in afterwards, see chrome.fill_rendered) and so is the scratch folder, the
    builder is not run at all. A file gone from the docs folder makes a clean render: a dirty one
    would keep what was made of it (a deleted photo stays published). Returns whether it ran."""
    stamp = scratch.with_name(scratch.name + ".json")  # beside it: a builder may delete what it did not write
    files, digest = _listing(docs)
    state = {"theme": theme, "docs": digest, "overrides": json.dumps(overrides, ensure_ascii=False, sort_keys=True, default=str)}
    known = _stamp(stamp)
    if scratch.is_dir() and {key: known.get(key) for key in state} == state and known.get("scratch") == _listing(scratch)[1]:
        return False
    reusable = open_slot(scratch, theme, stamp)
    if reusable and not set(known.get("files", [])) <= set(files):
        discard(scratch)
        scratch.mkdir(parents=True)
        reusable = False
    mkdocs_site(config_file, docs, scratch, dirty=reusable, builder=builder, **overrides)
    stamp.write_text(json.dumps({**state, "files": files, "scratch": _listing(scratch)[1]}, ensure_ascii=False), encoding="utf-8", errors="surrogateescape")
    return True


def _stamp(path: Path) -> dict[str, Any]:
    try:
        known = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _listing(folder: Path) -> tuple[list[str], str]:
    """The files under `folder` (a builder's docs or scratch folder: tens to hundreds of files),
    and a digest of their names, sizes and modification times."""
    rows, files = [], []
    for path in folder.rglob("*"):
        info = path.lstat()
        relative = path.relative_to(folder).as_posix()
        files.append(relative)
        rows.append(f"{relative}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(sorted(rows)).encode("utf-8", "surrogateescape")).hexdigest()
    return sorted(files), digest


# A builder's files not copied: the sitemap (the portal writes it from its own page list) and
# Zensical's search index (the theme's search is replaced by the portal's; it lists the shells).
OWN_FILES = ("sitemap.xml", "sitemap.xml.gz", "search.json")


def copy_rendered(scratch: Path, slot: Path, pages: set[str], filled: Iterable[str] = ()) -> set[str]:
    """Copy what the builder rendered into the slot, where it differs: the pages in `pages` and
    the theme's files, but no shell (read by chrome.py), none of OWN_FILES and no page whose
    Markdown is gone (a dirty build leaves those in `scratch`: they are removed), and none of
    `filled` (pages whose body chrome.fill_rendered puts in). Returns the paths copied or already
    in place, relative to the slot."""
    placed: set[str] = set()
    skipped = set(filled)
    for folder, subfolders, files in os.walk(scratch):
        subfolders[:] = [d for d in subfolders if d != SHELLS]
        relative = os.path.relpath(folder, scratch).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        for name in files:
            path = prefix + name
            if path in OWN_FILES or path in skipped:
                continue
            source = Path(folder, name)
            if name.endswith(".html") and path not in pages and path != "404.html":
                source.unlink()
                continue
            copy_changed(source, slot / path)
            placed.add(path)
    return placed


def copy_changed(source: Path, target: Path) -> None:
    """Copy `source` to `target` unless it is there already (same size and time)."""
    stat = source.stat()
    try:
        there = target.lstat()
        if there.st_size == stat.st_size and there.st_mtime_ns == stat.st_mtime_ns:
            return
        target.unlink()
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def require_pages(site: Path, paths: Iterable[str], builder: Builder) -> None:
    """Fail, instead of publishing a site with holes, when a page the portal generated or the
    builder should have rendered is not in `site`."""
    root = str(site)
    missing = sorted(path for path in paths if not os.path.isfile(os.path.join(root, path)))
    if missing:
        raise BuilderError(f"用 {builder.label} 生成的网站缺少 {len(missing)} 个页面（如 {missing[0]}），网站没有更新")


KEEP = ("assets/", "search/", "404.html", "sitemap.xml", "sitemap.xml.gz", STAMP, MANIFEST)


def prune(slot: Path, wanted: set[str]) -> int:
    """Delete what the slot holds from an earlier build but the current one does not produce (a
    withdrawn submission's page and files); `wanted` lists the paths to keep, relative to the slot.
    Theme assets, the search folder (kept by segments.mirror) and MkDocs' own files stay. The list
    is kept in the slot, so that next time only the difference is looked at, not 10,000 folders."""
    listed = _listed(slot)
    removed = _prune_walking(slot, wanted) if listed is None else _prune_listed(slot, listed - wanted)
    partial = _files_list(slot).with_suffix(".tmp")
    partial.write_text(json.dumps(sorted(wanted), ensure_ascii=False), encoding="utf-8", errors="surrogateescape")
    partial.replace(_files_list(slot))
    return removed


def _files_list(slot: Path) -> Path:
    """What a finished build left in `slot` (besides KEEP), kept beside it (not in the site: it
    names every file). In a slot that `open_slot` found reusable nothing else is there; one it
    did not is emptied, so a list that says more only costs a few missing files to unlink."""
    return slot.with_name(f"{slot.name}.files.json")


def _listed(slot: Path) -> set[str] | None:
    try:
        listed = json.loads(_files_list(slot).read_text(encoding="utf-8", errors="surrogateescape"))
    except (OSError, ValueError):
        return None
    return set(listed) if isinstance(listed, list) else None


def _prune_listed(slot: Path, unwanted: set[str]) -> int:
    for relative in sorted(unwanted, reverse=True):
        path = slot / relative
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != slot:
            try:
                parent.rmdir()
            except OSError:  # not empty: neither are its parents
                break
            parent = parent.parent
    return len(unwanted)


def _prune_walking(slot: Path, wanted: set[str]) -> int:
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


def docs_pages(docs: Path) -> list[str]:
    """The docs paths, without `.md`, of the pages the builder renders from `docs` (shells too)."""
    return [path.relative_to(docs).as_posix()[: -len(".md")] for path in docs.rglob("*.md")]


def docs_outputs(docs: Path) -> set[str]:
    """Where the builder puts each file of `docs` (Markdown as pages), shells aside."""
    wanted = set()
    for path in docs.rglob("*"):
        if path.is_file():
            relative = path.relative_to(docs).as_posix()
            if SHELLS not in relative:
                wanted.add(html_path(relative) if relative.endswith(".md") else relative)
    return wanted


def expected_files(docs: Path, pages: list[HtmlPage], records: list[Record], extracted: dict[str, Extracted]) -> set[str]:
    """Every path a build of `docs`, `pages` and `records` puts in the site, besides theme and search."""
    wanted = {page.output for page in pages} | docs_outputs(docs)
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


def link_or_copy(source: Path | str, target: Path | str) -> None:
    try:
        found = os.lstat(target)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    else:
        here = os.stat(source)
        if (found.st_ino, found.st_dev) == (here.st_ino, here.st_dev):
            return
        os.unlink(target)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copyfile(source, target)


def add_attachments(records: list[Record], extracted: dict[str, Extracted], out: Path) -> None:
    """Place every attachment at `r/<id>/files/<name>` beside its page, and what was derived from
    it (previews, playable videos, posters, captions) at `r/<id>/media/<name>`. Links already in
    place from an earlier build are kept. (Paths as strings: 10,000 records' files are looked at
    every build.)"""
    pages = os.path.join(os.path.normpath(out), "r")
    for record in records:
        if not record.attachments:
            continue  # nothing derived either: what is derived comes from attachments
        page = os.path.join(pages, record.id)
        files = os.path.join(page, "files")
        for attachment in record.attachments:
            try:
                link_or_copy(attachment.source, contained(files, attachment.published_name))
            except FileNotFoundError:  # deleted in the instant since extraction checked it: next build
                continue
        media = os.path.join(page, "media")
        for view in extracted[record.id].files.values():
            for derived in view.published():
                link_or_copy(derived.source, contained(media, derived.name))


def contained(folder: Path | str, name: str) -> str:
    """`folder/name`, refusing any name that would lead out of `folder`. Intake and peers.py
    already refuse such names; this is the last line before a file is written."""
    base = os.path.normpath(folder)
    target = os.path.normpath(os.path.join(base, name))
    if not target.startswith(base if base.endswith(os.sep) else base + os.sep):  # also refuses `folder` itself
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


def zip_folder(folder: Path, target: Path, prefix: str = "", extra: dict[str, bytes] | None = None) -> Path:
    """One archive of a built site, paths relative to its root (under `prefix`), in a stable
    order, with `extra` members (name -> bytes) first."""
    import zipfile

    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                # Media are already compressed; deflating them again only costs time.
                store = path.suffix.lower() in (".mp4", ".webm", ".jpg", ".png", ".gz", ".zip", ".docx", ".pptx")
                archive.write(path, prefix + path.relative_to(folder).as_posix(), zipfile.ZIP_STORED if store else zipfile.ZIP_DEFLATED)
    partial.replace(target)
    return target
