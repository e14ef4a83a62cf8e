"""Generate: make the site's pages from the records, with our own templates.

Resource pages and listings are HTML made by our own Jinja2 templates with autoescaping on, so
every field a teacher typed is escaped once, here, whatever theme frames the page afterwards.
Pages MkDocs renders itself (hand-written Markdown, briefings, the pages the navigation names) are
written into the docs folder, each only when its text changed; every other page is handed to the
build as an `HtmlPage` to be put into the theme's chrome (see chrome.py), rendered lazily.

Layout (URLs with `use_directory_urls`):
    index.md                      home: counts, newest, exemplary
    r/<id>/                       one page per resource, out of the navigation
    subjects/ points/ groups/ terms/ types/   overview + one paginated listing per value
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import yaml
from markupsafe import Markup, escape

from .briefings import BRIEFINGS, FEED, STATS, Charts, cached_atom_feed, read_briefings, render_briefing, stats_context
from .catalog import Catalog
from .county.pages import briefing_values, county_pages
from .county.schools import School
from .chrome import BODY, TITLE, HtmlPage, Shape, fill_token, shape_of, shell_paths
from .extract import Extracted, extracted_digest
from .index import card_poster
from .model import Problem, Record, newest_first, record_digest, slug, term_label
from .palette import palette
from .register import Teacher
from .settings import Settings
from .usage import Usage, by_field, most_viewed
from .showcase import json_ld
from .stats import DEFINITIONS

PAGE_SIZE = 50
# Generated pages use the full width: the site navigation is in the tabs at the top.
HIDE = ["navigation", "toc"]
RELATED = 6
HOME_LIST = 10
TEMPLATES = Path(__file__).with_name("templates")
PALETTE_CSS = "assets/portal-palette.css"  # linked by overrides/main.html


@dataclass(frozen=True)
class Section:
    """One way of browsing: its folder, its title, and how a record maps to its values."""

    folder: str
    title: str
    noun: str
    values: Callable[[Record], Iterable[str]]


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def paginate(items: Sequence[Any], size: int = PAGE_SIZE) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items[:0]]


class Site:
    """Everything the templates need to know about the whole set of records."""

    def __init__(self, records: list[Record], catalog: Catalog):
        self.records = records
        self.catalog = catalog
        self.group_slugs = self._group_slugs()
        self.posters: dict[str, str] = {}  # record id -> media name of its video poster, for cards
        self._cards: dict[str, str] = {}
        self._paths: dict[tuple[str, str], str] = {}
        self.sections = [
            Section("subjects", "按学科浏览", "学科", lambda r: [r.subject]),
            Section("points", "按能力点浏览", "能力点", lambda r: r.competencies),
            Section("groups", "按教研组浏览", "教研组", lambda r: [r.group] if r.group else []),
            Section("terms", "按学期浏览", "学期", lambda r: [r.term]),
            Section("types", "按类型浏览", "类型", lambda r: [r.type]),
        ]
        self.newest = newest_first(records)
        self.by: dict[str, dict[str, list[Record]]] = {}
        for section in self.sections:
            buckets: dict[str, list[Record]] = defaultdict(list)
            for record in self.newest:  # each bucket newest first, without sorting it again
                for value in section.values(record):
                    buckets[value].append(record)
            self.by[section.folder] = dict(buckets)
        # Records of one point and one subject, newest first: related() looks there first.
        self.by_point_subject: dict[tuple[str, str], list[Record]] = defaultdict(list)
        for code, bucket in self.by["points"].items():
            for record in bucket:
                self.by_point_subject[(code, record.subject)].append(record)

    def _group_slugs(self) -> dict[str, str]:
        slugs: dict[str, str] = {}
        taken: set[str] = set()
        for group in sorted({r.group for r in self.records if r.group}):
            candidate = slug(group)
            if candidate in taken:  # two names that clean up to the same segment
                candidate = f"{candidate}-{hashlib.sha1(group.encode()).hexdigest()[:6]}"
            taken.add(candidate)
            slugs[group] = candidate
        return slugs

    def value_path(self, folder: str, value: str) -> str:
        """The listing page of one value, relative to the docs folder, without `.md` (asked for
        each record's links: a few hundred values, 50,000 times at 10,000 records)."""
        path = self._paths.get((folder, value))
        if path is None:
            segment = self.group_slugs.get(value, slug(value)) if folder == "groups" else value
            path = self._paths[(folder, value)] = f"{folder}/{segment.lower() if folder == 'points' else segment}"
        return path

    def related(self, record: Record) -> list[Record]:
        """Same point and subject first, then same point, then same subject; newest first in each."""
        chosen: list[Record] = []
        seen = {record.id}
        subject = record.subject
        by_point = self.by["points"]
        pools = [self.by_point_subject.get((code, subject), ()) for code in record.competencies]
        pools += [by_point.get(code, ()) for code in record.competencies]
        pools.append(self.by["subjects"].get(subject, ()))
        for pool in pools:
            for candidate in pool:
                if candidate.id not in seen:
                    seen.add(candidate.id)
                    chosen.append(candidate)
                    if len(chosen) == RELATED:
                        return chosen
        return chosen


def url_to(from_page: str, target: str) -> str:
    """Relative URL from one generated page (path without `.md`) to another page's directory URL,
    so the site works under any prefix on the school's server."""
    if from_page == "index":
        depth = 0
    else:
        depth = from_page.count("/") + (0 if from_page.endswith("/index") else 1)
    base = "../" * depth
    target = "" if target == "index" else re.sub(r"/index$", "", target) + "/"
    return base + quote(target)


_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b", re.I)
_TABLE = re.compile(r"(<table\b.*?</table>)", re.S | re.I)


def nest_headings(fragment: str, top: int) -> Markup:
    """The headings of a teacher's text renumbered to sit under the page's own: the first level
    used becomes `top`, and no heading is more than one level below the one before it (a skip from
    h2 to h4 leaves screen-reader users wondering what they missed)."""
    levels = sorted({int(m.group(2)) for m in _HEADING_TAG.finditer(fragment) if not m.group(1)})
    rank = {level: i for i, level in enumerate(levels)}
    open_levels: list[int] = []
    previous = top - 1

    def renumber(match: re.Match[str]) -> str:
        nonlocal previous
        if match.group(1):  # a closing tag closes the heading opened last
            return f"</h{open_levels.pop() if open_levels else match.group(2)}"
        level = min(top + rank[int(match.group(2))], previous + 1, 6)
        previous = level
        open_levels.append(level)
        return f"<h{level}"

    return Markup(_HEADING_TAG.sub(renumber, fragment))


def scrolling_tables(fragment: str, label: str) -> Markup:
    """Each table in its own box that scrolls sideways on a narrow screen, so the page does not;
    the box takes keyboard focus so it can be scrolled without a mouse."""
    box = f'<div class="portal-scroll" tabindex="0" role="region" aria-label="{escape(label)}">'
    return Markup(_TABLE.sub(lambda m: box + m.group(1) + "</div>", fragment))


def qr_svg(url: str) -> Markup:
    """A QR code of `url` as inline SVG, made at build time (no script, nothing loaded)."""
    import segno

    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(omitsize=True, border=2, svgclass="portal-qr__code", lineclass=None, title=f"二维码：{url}")
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="本页二维码" ', 1))


_ROOT_MARK = "<portal-root>"  # where a card's link prefix goes (cached_card)


def card_html(r: Record, poster: str | None, catalog: Catalog) -> str:
    """A record's card for listings, the home page and related cases, with `_ROOT_MARK` where the
    page's link prefix goes. Written out here rather than as a template macro: a rebuild at 10,000
    makes thousands of cards for the listing pages a new submission shifts, and a macro call costs
    several times this. Every value a teacher typed is escaped."""
    link = f"{_ROOT_MARK}r/{escape(quote(r.id))}/"
    image = (f'<img class="portal-card__poster" src="{link}media/{escape(quote(poster))}" width="96" height="54" loading="lazy" alt="">'
             if poster else "")
    badge = '<span class="portal-badge portal-badge--star">优秀案例</span>' if r.exemplary else ""
    codes = "".join(f'<span class="portal-code" title="{escape(catalog.points[c].name)}">{escape(c)}</span>' for c in r.competencies)
    date = f"<span>{r.date.isoformat()}</span>" if r.date else ""
    summary = f'<p class="portal-card__summary">{escape(_truncated(r.summary, 90))}</p>' if r.summary else ""
    return (f'<li class="portal-card">\n{image}<a class="portal-card__title" href="{link}">{escape(r.title)}</a>{badge}\n'
            f'<div class="portal-card__meta"><span class="portal-tag">{escape(r.type)}</span><span>{escape(r.subject)} · {escape(r.grade)}</span>'
            f'<span>{codes}</span><span>{escape("、".join(r.authors))}</span>{date}</div>\n{summary}</li>\n')


def _truncated(text: str, length: int, end: str = "…", leeway: int = 5) -> str:
    """As Jinja's `truncate(length, true, end)`: cut at `length` characters, the end mark included,
    unless the text is at most `leeway` characters longer."""
    return text if len(text) <= length + leeway else text[: length - len(end)] + end


def _environment(site: Site) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        bytecode_cache=jinja2.FileSystemBytecodeCache(),  # compiled templates kept in the user's temp folder
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["size"] = human_size
    env.filters["quote"] = lambda s: quote(s)
    env.filters["nest_headings"] = nest_headings
    env.filters["scrolling_tables"] = scrolling_tables
    env.globals.update(catalog=site.catalog, site=site)
    rendered: dict[str, str] = {}

    def cached_card(record: Record, root: str) -> Markup:
        """A record's card, made once a build: the same card appears on every page that lists
        or relates to the record, each with its own link prefix (`root`), which takes the place
        of a marker. The marker holds `<`, so text a teacher typed cannot contain it once
        escaped; `root` itself is a URL path made by `url_to` (quoted)."""
        html = rendered.get(record.id)
        if html is None:
            html = rendered[record.id] = card_html(record, site.posters.get(record.id), site.catalog)
        return Markup(html.replace(_ROOT_MARK, escape(root)))

    env.globals["cached_card"] = cached_card
    return env


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10,000 pages' front matter


def _page(front: dict[str, Any], body: str, generated: bool = True) -> str:
    """A Markdown page: front matter, then the HTML body. `portal: generated` lets the MkDocs hook
    skip Markdown parsing of a body that is already HTML."""
    if generated:
        front = {**front, "portal": "generated"}
    header = yaml.dump(front, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=1000)
    # Blank lines around the HTML keep Markdown from treating it as anything but one raw block.
    return f"---\n{header}---\n\n{body.strip()}\n"


class Writer:
    """Collects one edition's pages. Pages MkDocs renders (hand-written Markdown, briefings, the
    pages the navigation names) are written into the docs folder, each only when its text
    changed, and leftovers are removed. Every other generated page becomes an `HtmlPage` that the
    build puts into the theme's chrome, rendered only when its key changed."""

    def __init__(self, docs: Path, nav: frozenset[str] = frozenset(), fill: bool = True):
        self.docs = docs
        self.nav = nav  # docs paths without `.md` that the navigation names
        self.written: set[Path] = set()
        self.changed = 0
        self.html_pages: list[HtmlPage] = []
        # With `fill`, a page MkDocs renders gets FILL_TOKEN as its body in the docs folder and the
        # build puts the body in afterwards (chrome.fill_rendered): its Markdown then stays the
        # same when only its figures change, and a build whose docs folder did not change at all
        # need not run MkDocs. Docs path without `.md` -> the body.
        self.fill = fill
        self.fills: dict[str, str] = {}

    def page(self, path: str, title: str, render: Callable[[], str], key: str | None = None, search: bool = False) -> None:
        """A generated HTML page; without a `key`, it is rendered now and keyed by its text."""
        shape = None if search else shape_of(path, self.nav)
        if shape is None or key is None:
            body = render()
            if shape is None:  # MkDocs renders it, so its tab is highlighted
                front: dict[str, Any] = {"title": title, "hide": HIDE, **({"portal_search": True} if search else {})}
                self.write(f"{path}.md", _page(front, self.filled(path, body)))
                return
            key = hashlib.sha1(body.encode("utf-8")).hexdigest()
            render = partial(str, body)
        self.html_pages.append(HtmlPage(path, title, key, render, shape))

    def filled(self, path: str, body: str) -> str:
        """What the docs folder holds for the body of page `path`: the body, or the token that
        the build replaces with it."""
        if not self.fill:
            return body
        self.fills[path] = body = body.strip()
        return fill_token(body)

    def write(self, relative: str, text: str) -> None:
        path = self.docs / relative
        self.written.add(path)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.changed += 1

    def write_bytes(self, relative: str, data: bytes) -> None:
        path = self.docs / relative
        self.written.add(path)
        if path.exists() and path.read_bytes() == data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.changed += 1

    def copy(self, source: Path, relative: str) -> None:
        path = self.docs / relative
        self.written.add(path)
        if path.exists() and path.stat().st_size == source.stat().st_size and path.read_bytes() == source.read_bytes():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        self.changed += 1

    def write_shells(self) -> dict[Shape, str]:
        """One shell per shape of page for MkDocs to render; see chrome.py."""
        paths = shell_paths(self.html_pages)
        for path in paths.values():
            self.write(f"{path}.md", _page({"title": TITLE, "hide": HIDE}, BODY))
        return paths

    def remove_leftovers(self) -> None:
        for path in sorted(self.docs.rglob("*"), reverse=True):
            if path.is_file() and path not in self.written:
                path.unlink()
                self.changed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


@dataclass
class Generated:
    writer: Writer
    pages: list[HtmlPage]  # to be put into the theme's chrome by the build
    shells: dict[Shape, str]  # shape -> docs path of its shell
    problems: list[Problem]
    fills: dict[str, str] = field(default_factory=dict)  # docs path of a page MkDocs renders -> its body (Writer.filled)


def generate(
    records: list[Record],
    extracted: dict[str, Extracted],
    catalog: Catalog,
    docs: Path,
    content: Path,
    roster: list[Teacher] | None = None,
    settings: Settings | None = None,
    peers: list[Record] | None = None,
    showcase: bool = False,
    nav: frozenset[str] = frozenset(),
    usage: Usage | None = None,
    county: list[School] | None = None,
    fill: bool = True,
) -> Generated:
    """Make every page of one edition of the site; MkDocs' pages are written into `docs`.

    The campus edition has everything: hand-written pages, statistics, briefings, and other
    schools' cases. The showcase edition has the cases alone, each with its JSON-LD.
    """
    settings = settings or Settings()
    peers = peers or []
    site = Site(records, catalog)
    site.posters = {r.id: name for r in [*records, *(peers or [])] if (name := card_poster(extracted.get(r.id)))}
    env = _environment(site)
    writer = Writer(docs, nav, fill)
    problems: list[Problem] = []

    intro = SHOWCASE_INTRO.format(school=settings.site_name) if showcase else ""
    if content.is_dir() and not showcase:
        for source in sorted(p for p in content.rglob("*") if p.is_file()):
            relative = source.relative_to(content).as_posix()
            if relative == "index.md":
                intro = source.read_text(encoding="utf-8")
            elif not (relative.startswith(f"{BRIEFINGS}/") and source.suffix == ".md"):
                writer.copy(source, relative)  # briefings are rendered below; their photos are copied

    resource = env.get_template("resource.html")
    base = (settings.site_url or "").rstrip("/") + "/" if settings.site_url else ""
    templates = _inputs_digest(catalog)
    for record in [*records, *peers]:
        page = f"r/{record.id}"
        related = [] if record.school else site.related(record)
        # Everything this page is made of: when none of it changed, the page is not rendered again.
        links = [site.value_path(section.folder, value) for section in site.sections for value in section.values(record)]
        key = _key(templates, "showcase" if showcase else "", base, record_digest(record), extracted_digest(extracted.get(record.id)),
                   *[_card(r, site) for r in related], "", *links)
        url = f"{base}r/{quote(record.id)}/" if base else None
        render = partial(
            resource.render,
            r=record,
            x=extracted.get(record.id, Extracted()),
            related=related,
            root=url_to(page, "index"),
            jsonld=json_ld(record, catalog, settings.site_name, f"{base}r/{quote(record.id)}/") if showcase else None,
            qr=partial(qr_svg, url) if url else None,
            page_url=url,
        )
        writer.page(page, record.title, render, key)

    _listings(site, env, writer, templates)
    colours = palette(*settings.palette)
    writer.write(PALETTE_CSS, colours.css() if colours else "/* theme.palette: the school's own colours */\n")
    home = env.get_template("home.html").render(
        root="",
        newest=site.newest[:HOME_LIST],
        exemplary=[] if showcase else newest_first(r for r in records if r.exemplary)[:HOME_LIST],
        teachers=len({a for r in records for a in r.authors}),
        points_covered=len(site.by["points"]),
        county=bool(county),
        county_summary=_county_summary(county) if county and not showcase else None,
        popular=[row.record for row in most_viewed(records, usage, HOME_LIST, recent=True)] if usage and not showcase else [],
    )
    search = env.get_template("search.html").render(root=url_to("search/index", "index"))
    writer.page("search/index", "搜索", partial(str, search), search=True)
    # The home page mixes the admin's Markdown introduction with generated HTML: it is parsed.
    writer.write("index.md", _page({"title": "首页", "hide": HIDE}, _intro_html(intro) + "\n\n" + writer.filled("index", home), generated=False))
    if not showcase:
        _statistics_and_briefings(site, env, writer, content, roster, settings, problems, usage, county or [])
        in_county = {r.id for school in county or [] for r in school.cases}  # on the county pages instead
        peers_page = env.get_template("peers.html").render(root=url_to("peers/index", "index"), schools=_by_school([r for r in peers if r.id not in in_county]),
                                                           county=bool(county))
        writer.page("peers/index", "兄弟学校优秀案例", partial(str, peers_page))
        if county:
            county_pages(env, writer.page, url_to, county, catalog)
    shells = writer.write_shells()
    writer.remove_leftovers()
    return Generated(writer, writer.html_pages, shells, problems, writer.fills)


def _county_summary(county: list[School]) -> dict[str, Any]:
    """What a county portal's home page says first: its schools and their public cases."""
    cases = [r for school in county for r in school.cases]
    return {"schools": len(county), "cases": len(cases), "covered": len({c for r in cases for c in r.competencies}),
            "newest": newest_first(cases)[:HOME_LIST]}


def _key(*inputs: str) -> str:
    """A page's key from what it is made of, each part a string (none holds the separator: they
    are digests, paths, titles and numbers)."""
    return hashlib.sha1("\x1e".join(inputs).encode("utf-8", "surrogateescape")).hexdigest()


def _card(record: Record, site: Site) -> str:
    """What a listing card is made of: the record (by its digest, which intake knows without
    looking at the record again) and its poster. Once per record: a record is on six or more
    pages' keys (its listings and its neighbours' related cases)."""
    card = site._cards.get(record.id)
    if card is None:
        card = site._cards[record.id] = f"{record_digest(record)}\x1f{site.posters.get(record.id) or ''}"
    return card


def _inputs_digest(catalog: Catalog) -> str:
    """What every page is made of besides its own records: our templates and the catalog."""
    digest = hashlib.sha1(repr(catalog).encode("utf-8"))
    for path in sorted(TEMPLATES.glob("*.html")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


SHOWCASE_INTRO = """# {school} · 优秀案例

这里展示本校教师在信息技术应用能力提升工程 2.0 中的优秀教学案例，均经教师本人同意公开。欢迎兄弟学校交流借鉴。
"""


def _by_school(peers: list[Record]) -> list[tuple[str, list[Record]]]:
    schools: dict[str, list[Record]] = defaultdict(list)
    for record in peers:
        schools[record.school or ""].append(record)
    return [(school, newest_first(cases)) for school, cases in sorted(schools.items())]


def _statistics_and_briefings(
    site: Site, env: jinja2.Environment, writer: Writer, content: Path,
    roster: list[Teacher] | None, settings: Settings, problems: list[Problem], usage: Usage | None = None, county: list[School] | None = None,
) -> None:
    briefings = read_briefings(content / BRIEFINGS, problems)
    chart_cache = writer.docs.parent / "charts"
    terms = sorted({r.term for r in site.records} | {b.term for b in briefings}, reverse=True)
    stats = stats_context(site.records, site.catalog, roster, terms, writer.docs.parent / STATS)
    page = env.get_template("stats.html")
    for term in terms:
        path = f"stats/{term}"
        mine = [r for r in site.records if r.term == term]
        body = page.render(root=url_to(path, "index"), s=stats[term], charts=Charts(stats[term], site.catalog, chart_cache),
                           label=term_label(term), definitions=DEFINITIONS, usage=usage_context(mine, usage))
        writer.page(path, f"{term_label(term)}统计", partial(str, body))
    overview = env.get_template("stats_index.html").render(
        root=url_to("stats/index", "index"), terms=[(t, term_label(t), stats[t]) for t in terms])
    writer.page("stats/index", "学期统计", partial(str, overview))

    for briefing in briefings:
        extra = briefing_values(env, county, site.catalog, briefing.term, url_to(f"{BRIEFINGS}/{briefing.slug}", "index")) if county else None
        text = render_briefing(briefing, stats[briefing.term], site.catalog, problems, chart_cache, extra)
        writer.write(f"{BRIEFINGS}/{briefing.slug}.md", _page({"title": briefing.title, "hide": HIDE}, text, generated=False))
    listing = env.get_template("briefings.html").render(
        root=url_to(f"{BRIEFINGS}/index", "index"), briefings=[(b, term_label(b.term)) for b in briefings], feed=FEED)
    writer.page(f"{BRIEFINGS}/index", "研修简报", partial(str, listing))
    writer.write_bytes(f"{BRIEFINGS}/{FEED}", cached_atom_feed(briefings, settings.site_name, settings.site_url, writer.docs.parent / "feed"))


def usage_context(records: list[Record], usage: Usage | None) -> dict[str, Any] | None:
    """What a term's statistics page shows of usage: its most viewed resources and the sums by
    subject and by teaching-research group (None when no access log was read)."""
    if usage is None or not usage.files:
        return None
    return {
        "top": most_viewed(records, usage),
        "subjects": by_field(records, usage, lambda r: r.subject),
        "groups": by_field(records, usage, lambda r: r.group),
        "any": any(usage.of(r.id).total for r in records),
    }


def _intro_html(text: str) -> str:
    """The admin's own words for the top of the home page (content/index.md), as Markdown."""
    if not text.strip():
        return ""
    if text.startswith("---"):
        parts = text.split("---", 2)
        text = parts[2] if len(parts) == 3 else text
    return text.strip()


def _listings(site: Site, env: jinja2.Environment, writer: Writer, templates: str) -> None:
    listing = env.get_template("listing.html")
    overview = env.get_template("overview.html")
    for section in site.sections:
        buckets = site.by[section.folder]
        values = _section_values(site, section.folder, buckets)
        if section.folder == "points":
            body = env.get_template("points.html").render(root=url_to("points/index", "index"), counts={k: len(v) for k, v in buckets.items()})
        else:
            body = overview.render(
                root=url_to(f"{section.folder}/index", "index"),
                section=section,
                entries=[(v, len(buckets.get(v, [])), url_to(f"{section.folder}/index", site.value_path(section.folder, v))) for v in values],
            )
        writer.page(f"{section.folder}/index", section.title, partial(str, body))
        for value in values:
            items = buckets.get(value, [])
            if section.folder == "subjects":  # grouped by grade, lower grades first
                items = sorted(items, key=lambda r: site.catalog.grade_order(r.grade))
            base = site.value_path(section.folder, value)
            pages = paginate(items)
            heading = _value_heading(site, section.folder, value)
            for number, chunk in enumerate(pages, start=1):
                path = base if number == 1 else f"{base}/{number}"
                title = heading if number == 1 else f"{heading}（第 {number} 页）"
                key = _key(templates, path, title, str(len(items)), str(len(pages)), *[_card(r, site) for r in chunk])
                render = partial(_render_listing, listing, site, section, value, base, path, heading, chunk, len(items), number, len(pages))
                writer.page(path, title, render, key)


def _render_listing(listing: jinja2.Template, site: Site, section: Section, value: str, base: str, path: str, heading: str,
                    chunk: Sequence[Record], total: int, number: int, count: int) -> str:
    """One page of a value's listing; what only the page needs (its pager's links) is worked out
    only when the page is rendered, not for each of a thousand unchanged pages."""
    return listing.render(
        root=url_to(path, "index"),
        section=section,
        heading=heading,
        point=site.catalog.points.get(value) if section.folder == "points" else None,
        items=chunk,
        total=total,
        group_by_grade=section.folder == "subjects",
        grade_groups=[(g, list(rs)) for g, rs in itertools.groupby(chunk, key=lambda r: r.grade)],
        number=number,
        pages=[(n, url_to(path, base if n == 1 else f"{base}/{n}")) for n in range(1, count + 1)],
        back=url_to(path, f"{section.folder}/index"),
    )


def _section_values(site: Site, folder: str, buckets: dict[str, list[Record]]) -> list[str]:
    """Catalog values in catalog order (so empty subjects and points still get a page); values
    teachers typed (groups) and terms in a natural order."""
    if folder == "subjects":
        return [s for s in site.catalog.subjects if s in buckets] + sorted(set(buckets) - set(site.catalog.subjects))
    if folder == "points":
        return list(site.catalog.points)
    if folder == "types":
        return [t for t in site.catalog.types if t in buckets]
    if folder == "terms":
        return sorted(buckets, reverse=True)
    return sorted(buckets)


def _value_heading(site: Site, folder: str, value: str) -> str:
    if folder == "points":
        return site.catalog.points[value].label
    if folder == "terms":
        return term_label(value)
    return value
