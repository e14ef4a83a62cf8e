"""Chrome: put generated pages into the theme's page frame without MkDocs rendering each one.

Every resource page, listing page and term statistics page sits outside the navigation, so the
frame Material draws around it (header, tabs, footer, scripts) is the same for every page at the
same folder depth; only the title, the body and the page's own URL differ. MkDocs therefore renders
one *shell* per depth, a page with placeholders, and each generated page is that shell with its
title, body and URL put in. A test renders pages both ways and requires identical bytes.

Generated pages are rendered lazily: each carries a key (a digest of everything it is made of),
and a slot of the double-buffered site keeps a manifest of the key each of its pages was written
from, so a page whose key and shell did not change is neither rendered nor written again.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from markupsafe import escape

from . import forks

# The shells' folder name, removed from the built site. "~" is kept by no slug, id or code, so no
# group, subject or submission can be given this folder. Builders write it in URLs either as it
# is (MkDocs) or as "%7E" (Zensical): see `url_forms`.
SHELLS = "_portal~shell"
TITLE = "PortalShellTitle"  # letters only: no filter or escaping changes it
BODY = "<h1>PortalShellBody</h1>"  # an h1, as every generated body has: Material then adds none
MANIFEST = ".portal-pages.json"


Shape = tuple[str, int]  # (folders shared with a link of the frame, depth)
# Besides the navigation, the frame links to the search page (the header's search form).
FRAME_LINKS = frozenset({"search/index"})


@dataclass
class HtmlPage:
    """A generated page: its docs path without `.md` ("r/<id>", "subjects/数学/2"), its title,
    a digest of its inputs, and how to render its body (HTML from our autoescaping templates)."""

    path: str
    title: str
    key: str
    render: Callable[[], str]
    shape: Shape  # which shell frames it: see `shape_of`

    @property
    def url(self) -> str:
        return directory_url(self.path)

    @property
    def output(self) -> str:
        """Where the page lands in the site."""
        return f"{self.url}index.html"


def directory_url(path: str) -> str:
    """MkDocs' URL (with `use_directory_urls`) of the page at docs path `path` + ".md", unquoted."""
    if path == "index":
        return ""
    return (path[: -len("/index")] if path.endswith("/index") else path) + "/"


def shape_of(path: str, nav: frozenset[str]) -> Shape | None:
    """What a page's frame depends on besides title, body and URL: its depth (relative links to
    the theme's files) and the folders it shares with the frame's links (MkDocs writes the link
    from subjects/数学/ to the 按学科 tab as "../", from r/x/ as "../../subjects/"). None for a page
    that must be rendered by MkDocs itself: one the frame links to, or an ancestor of one."""
    if path in nav or path in FRAME_LINKS:
        return None
    segments = directory_url(path).strip("/").split("/")
    if segments[0] not in _first_segments(nav):  # shares no folder with any link (every r/<id>/)
        return "", len(segments)
    shared = 0
    for other in _link_segments(nav):
        common = 0
        while common < min(len(segments), len(other)) and segments[common] == other[common]:
            common += 1
        shared = max(shared, common)
    if shared >= len(segments):
        return None
    return "/".join(segments[:shared]), len(segments)


@functools.cache
def _link_segments(nav: frozenset[str]) -> list[list[str]]:
    return [directory_url(item).strip("/").split("/") for item in sorted(nav | FRAME_LINKS)]


@functools.cache
def _first_segments(nav: frozenset[str]) -> frozenset[str]:
    return frozenset(segments[0] for segments in _link_segments(nav))


def shell_path(shape: Shape) -> str:
    """The shell's docs path without `.md`: in the shared folders, at the page's depth."""
    prefix, depth = shape
    shared = prefix.split("/") if prefix else []
    return "/".join([*shared, SHELLS, *["x"] * (depth - len(shared) - 1)])


def shell_paths(pages: Iterable[HtmlPage]) -> dict[Shape, str]:
    return {shape: shell_path(shape) for shape in sorted({p.shape for p in pages})}


class ShellError(RuntimeError):
    """A rendered shell cannot frame pages; the message (Chinese) says what to check."""


@dataclass(frozen=True)
class Shell:
    """A rendered shell split at its placeholders: `parts[i]` is followed by `slots[i]`."""

    parts: tuple[str, ...]
    slots: tuple[str, ...]
    digest: str

    @classmethod
    def parse(cls, html: str, urls: str | tuple[str, ...]) -> Shell:
        """Split a rendered shell; `urls` are the forms in which the builder may have written
        the shell's own URL (each becomes the page's URL)."""
        if html.count(BODY) != 1:
            raise ShellError("外观模板缺少正文占位符：请检查 overrides/ 是否改动了 content 区块")
        tokens = [(TITLE, "title"), (BODY, "body"), *((url, "url") for url in ((urls,) if isinstance(urls, str) else urls))]
        parts: list[str] = []
        slots: list[str] = []
        rest = html
        while True:
            found = [(rest.find(token), -len(token), token, name) for token, name in tokens if token in rest]
            if not found:
                parts.append(rest)
                break
            at, _, token, name = min(found)  # the longest token where two start at the same place
            parts.append(rest[:at])
            slots.append(name)
            rest = rest[at + len(token):]
        for part in parts:  # a shell's address in a form not replaced would reach every page
            at = max(part.find(form) for form in url_forms(SHELLS))
            if at >= 0:
                raise ShellError(f"页面外框中有无法替换的内部地址（…{part[max(0, at - 60):at + 40]}…）：请检查 overrides/ 中的模板")
        return cls(tuple(parts), tuple(slots), hashlib.sha1(html.encode("utf-8")).hexdigest())

    def fill(self, title: str, body: str, url: str) -> str:
        """Join the pieces once: teachers' text is never searched for placeholders."""
        if "<h1" not in body:  # Material would have added one; every generated body has its own
            raise ValueError("生成的页面缺少 h1 标题")
        values = {"title": str(escape(title)), "body": body, "url": url}
        pieces = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:]):
            pieces.append(values[slot])
            pieces.append(part)
        return "".join(pieces)


def url_forms(url: str) -> tuple[str, ...]:
    """`url` percent-encoded as each builder writes it: MkDocs keeps "~", Zensical writes "%7E"."""
    quoted = quote(url)
    return tuple(dict.fromkeys((quoted, quoted.replace("~", "%7E"), quoted.replace("~", "%7e"))))


def read_shells(site: Path, paths: dict[Shape, str]) -> dict[Shape, Shell]:
    """The shells the builder rendered into `site` (its scratch folder, where they stay: they
    are never copied into the site), parsed."""
    shells = {}
    for shape, path in paths.items():
        url = directory_url(path)
        page = site / url / "index.html"
        if not page.is_file():
            raise FileNotFoundError(2, "页面生成器没有生成页面外框", str(page))
        shells[shape] = Shell.parse(page.read_text(encoding="utf-8"), url_forms(url))
    return shells


# The body of a page the builder renders, until the build puts the page's own body in its place
# (generate.Writer.filled): one raw HTML block, which Markdown hands back untouched. It holds an
# <h1> when the body does: the theme adds the page's title as an <h1> to a page without one.
FILL_TOKEN = "PORTAL-FILL-BODY-2f9c"


def fill_token(body: str) -> str:
    inner = f"<h1>{FILL_TOKEN}</h1>" if "<h1" in body else FILL_TOKEN
    return f'<div class="portal-fill">{inner}</div>'


def fill_rendered(scratch: Path, out: Path, fills: dict[str, str], live: Path | None = None) -> int:
    """Write into `out` each page of `fills` (docs path without `.md` -> body) as the builder
    rendered it into `scratch`, with its body put in place of FILL_TOKEN; only pages whose text
    differs from `out`'s are written. Returns how many differ from `live`'s (what visitors see
    change)."""
    changed = 0
    for path, body in fills.items():
        relative = directory_url(path) + "index.html"
        rendered = (scratch / relative).read_text(encoding="utf-8")
        token = fill_token(body)
        if rendered.count(token) != 1:
            raise ValueError(f"页面生成器改动了页面 {relative} 的正文占位，无法填入正文")
        html = rendered.replace(token, body, 1)
        if _text(out / relative) != html:
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / relative).write_text(html, encoding="utf-8")
        if live is None or _text(live / relative) != html:
            changed += 1
    return changed


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class Filled:
    written: list[str]  # docs paths of pages rendered and written in this build
    kept: int  # pages already in the slot from the same inputs
    keys: dict[str, str]  # docs path -> the key its page in the slot was written from


def read_manifest(site: Path) -> dict[str, str]:
    try:
        manifest: dict[str, str] = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
        return manifest
    except (OSError, ValueError):
        return {}


# Below this many pages to write, forking helpers costs more than it saves.
PARALLEL_PAGES = 200


def _write_pages(site: Path, pages: list[HtmlPage], shells: dict[Shape, Shell], bodies: dict[str, str]) -> None:
    for page in pages:
        body = bodies.get(page.path)
        html = shells[page.shape].fill(page.title, page.render() if body is None else body, quote(page.url))
        target = site / page.output
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")


def render_ahead(site: Path, pages: list[HtmlPage]) -> dict[str, str]:
    """The bodies of the pages whose own inputs changed since this slot last held them, made
    while the builder renders the shells they go into (`fill_pages` takes them). None when there
    are many: `fill_pages` shares those out among processes."""
    old = read_manifest(site)
    changed = [page for page in pages if old.get(page.path, "").partition(":")[0] != page.key]
    return {} if len(changed) >= PARALLEL_PAGES else {page.path: page.render() for page in changed}


def fill_pages(site: Path, pages: list[HtmlPage], shells: dict[Shape, Shell], bodies: dict[str, str] | None = None) -> Filled:
    """Write every page whose inputs or shell changed since this slot last held it (its body
    from `bodies` when made ahead). Many pages (a first build, a new theme) are shared out among
    one process per core: rendering holds the GIL, and forked helpers start with the pages' data
    in memory."""
    bodies = bodies or {}
    old = read_manifest(site)
    keys = {page.path: f"{page.key}:{shells[page.shape].digest}" for page in pages}
    # A page the manifest lists but the slot lacks (something deleted it) is written again.
    root = str(site)
    stale = [page for page in pages if old.get(page.path) != keys[page.path] or not os.path.isfile(os.path.join(root, page.output))]
    helpers = min(os.cpu_count() or 1, 8) - 1 if len(stale) >= PARALLEL_PAGES else 0
    shares = [stale[number :: helpers + 1] for number in range(helpers + 1)]
    started = [forks.start(_write_pages, site, share, shells, bodies) for share in shares[1:]]
    _write_pages(site, shares[0], shells, bodies)
    for process in started:
        forks.finish(process, "写入页面")
    (site / MANIFEST).write_text(json.dumps(keys, ensure_ascii=False), encoding="utf-8")
    return Filled([page.path for page in stale], len(pages) - len(stale), keys)


SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def write_sitemap(site: Path, pages: list[HtmlPage], site_url: str | None, rendered: Iterable[str] = ()) -> None:
    """sitemap.xml, written whole from the portal's own page list: the generated `pages` and the
    docs paths (without `.md`) the builder `rendered`, shells never. Like MkDocs' own, it lists
    pages only with `site_url` (a sitemap holds absolute URLs), each dated today."""
    ET.register_namespace("", SITEMAP[1:-1])
    root = ET.Element(f"{SITEMAP}urlset")
    if site_url:
        base = site_url.rstrip("/") + "/"
        today = dt.date.today().isoformat()
        urls = [directory_url(path) for path in rendered if SHELLS not in path] + [page.url for page in pages]
        for url in sorted(set(urls)):
            entry = ET.SubElement(root, f"{SITEMAP}url")
            ET.SubElement(entry, f"{SITEMAP}loc").text = base + quote(url)
            ET.SubElement(entry, f"{SITEMAP}lastmod").text = today
    path = site / "sitemap.xml"
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    (site / "sitemap.xml.gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
