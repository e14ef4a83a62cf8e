"""Term statistics pages and briefings (研修简报), as pages for the generate stage.

Admins write `content/briefings/<term>-<n>.md`: front matter (term, issue, date, title) and
Markdown with photos, placing the term's figures and charts with Jinja2 placeholders such as
`{{ stats.participation_rate }}` or `{{ charts.groups }}`. The template runs sandboxed, and every
value it places goes into Markdown (not HTML), so it is escaped for both: names typed by teachers
stay text, never a link, an image or an attribute (`![g](x){: onerror=...}`). Charts are trusted
markup made here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import pickle
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from typing import Any

import frontmatter
import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .builders import installed_version
from .catalog import Catalog
from .index import write_atomic
from .memo import code_fingerprint
from .model import Problem, Record, term_label
from .register import Teacher
from .stats import TermStats, term_stats

BRIEFINGS = "briefings"
FEED = "feed.xml"


# Characters that Markdown or one of its extensions may read as syntax (links, images, attribute
# lists, emphasis, code, headings, lists, tables, raw HTML, entities, math, marks). A placed value
# carries them as character references, which Markdown passes through and the browser shows as
# the characters. Digits, letters, "." and "%" stay as they are: "60.0%" reads the same in the page source.
MARKDOWN_SYNTAX = frozenset("\\`*_{}[]()#+-!|<>&\"'~:=^$@")


def markdown_text(value: object) -> Markup:
    """A value as text inside Markdown: its syntax characters as references, its line breaks and
    indentation as single spaces (a value cannot start a block of its own)."""
    text = " ".join(str(value).split())
    return Markup("".join(f"&#{ord(c)};" if c in MARKDOWN_SYNTAX else c for c in text))


def _placed(value: object) -> object:
    """Jinja's finalize: what a placeholder puts into the briefing. Charts (Markup) are ours."""
    return value if isinstance(value, Markup) else markdown_text(value)


CHARTS = ("groups", "grid", "points", "participation", "types")
STALE_CHARTS_S = 600
STATS = "stats"  # beside the charts' folder: each term's figures (stats_context)


def draw_charts(records: list[Record], catalog: Catalog, roster: list[Teacher] | None, cache: Path) -> None:
    """Every term's charts into `cache`, for the build to find there: run by a child while the
    build reads and extracts, so that a term with new submissions costs the build no drawing."""
    terms = sorted({r.term for r in records})
    current: set[str] = set()
    for stats in stats_context(records, catalog, roster, terms, cache.parent / STATS).values():
        charts = Charts(stats, catalog, cache)
        charts.draw_all()
        current.update(charts.key(name) for name in CHARTS)
    # Charts of counts no term has any more: each new submission leaves its term's old ones.
    # Those of the last minutes stay (a briefing of a term without submissions draws its own).
    _sweep(cache, current)


class Charts:
    """The charts of one term, drawn on first use (a briefing may use none of them) and kept in
    `cache` by what they show, so an unchanged term costs no drawing."""

    def __init__(self, stats: TermStats, catalog: Catalog, cache: Path | None = None):
        self._stats = stats
        self._catalog = catalog
        self._cache = cache
        self._drawn: dict[str, Markup] = {}

    def key(self, name: str) -> str:
        """The chart `name` by what it shows, as its file's name in the cache."""
        s = self._stats
        shown = (name, s.term, s.by_group, s.grid, s.by_env, s.by_dim, s.by_point, [(g.group, g.participating) for g in s.group_participation], s.by_type)
        return hashlib.sha1(repr((shown, self._catalog, charts_version())).encode()).hexdigest() + ".html"

    def _draw(self, name: str) -> Markup:
        if name not in self._drawn:
            s = self._stats
            path = self._cache / self.key(name) if self._cache else None
            if path is not None and path.exists():
                self._drawn[name] = Markup(path.read_text(encoding="utf-8"))
                return self._drawn[name]
            from . import charts

            label = term_label(s.term)
            svg = {
                "groups": lambda: charts.bar_chart(list(s.by_group), list(s.by_group.values()), f"{label} 各教研组成果数"),
                "grid": lambda: charts.heat_table(self._catalog, s.grid, s.by_env, s.by_dim, f"{label} 教学环境 × 维度"),
                "points": lambda: charts.point_coverage(self._catalog, s.by_point, f"{label} 30 个微能力点的成果数"),
                "participation": lambda: charts.bar_chart(
                    [g.group for g in s.group_participation], [g.participating for g in s.group_participation],
                    f"{label} 各教研组参与教师数", colour="#5c6bc0"),
                "types": lambda: charts.bar_chart(list(s.by_type), list(s.by_type.values()), f"{label} 各类型成果数", colour="#8d6e63"),
            }[name]()
            self._drawn[name] = Markup(f'<figure class="portal-figure">{svg}</figure>')
            if path is not None:  # whole or not at all: a build may draw the same chart meanwhile (draw_charts)
                write_atomic(path, self._drawn[name].encode("utf-8"))
        return self._drawn[name]

    def draw_all(self) -> None:
        for name in CHARTS:
            self._draw(name)

    @property
    def groups(self) -> Markup:
        return self._draw("groups")

    @property
    def grid(self) -> Markup:
        return self._draw("grid")

    @property
    def points(self) -> Markup:
        return self._draw("points")

    @property
    def participation(self) -> Markup:
        return self._draw("participation")

    @property
    def types(self) -> Markup:
        return self._draw("types")


@dataclass
class Briefing:
    source: Path
    slug: str
    term: str
    issue: str
    date: dt.date | None
    title: str
    body: str  # Markdown with placeholders


@functools.cache
def charts_version() -> str:
    """Changes with the drawing code and library, so cached charts are redrawn after an upgrade."""
    return hashlib.sha1(Path(__file__).with_name("charts.py").read_bytes() + str(installed_version("pygal")).encode()).hexdigest()


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def read_briefings(folder: Path, problems: list[Problem]) -> list[Briefing]:
    found: list[Briefing] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.md")):
        label = f"content/{BRIEFINGS}/{path.name}"
        try:
            post = frontmatter.loads(path.read_text(encoding="utf-8-sig"))
        except Exception as error:  # a briefing with broken front matter is skipped and named
            problems.append(Problem(label, "", f"简报开头的信息无法读取（{type(error).__name__}），未发布"))
            continue
        meta = post.metadata
        term = str(meta.get("term") or meta.get("学期") or path.stem.rsplit("-", 1)[0])
        if not re.match(r"^\d{4}-\d{4}-[12]$", term):
            problems.append(Problem(label, "term（学期）", f"学期“{term}”格式不对，应写成 2023-2024-1，未发布"))
            continue
        issue = str(meta.get("issue") or meta.get("期数") or "")
        if issue.isdigit():
            issue = f"第{issue}期"
        date = _as_date(meta.get("date") or meta.get("日期"))
        title = str(meta.get("title") or meta.get("标题") or f"{term_label(term)}研修简报{issue}")
        found.append(Briefing(path, path.stem, term, issue, date, title, post.content))
    # Newest first: by date, then by file name for briefings of one day.
    found.sort(key=lambda b: (b.date or dt.date.min, b.slug), reverse=True)
    return found


_LOCAL_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|/|#)([^)\s]+)")


def render_briefing(briefing: Briefing, stats: TermStats, catalog: Catalog, problems: list[Problem], chart_cache: Path | None = None,
                    extra: dict[str, Any] | None = None) -> str:
    """The briefing's Markdown with its placeholders filled in; on a template error the text is
    published without substitution and the error is reported. `extra` adds placeholders (a county
    portal's `county`)."""
    missing: list[str] = []

    class Missing(jinja2.ChainableUndefined):
        """A placeholder that names nothing (a typo such as stats.acepted): left empty, and said."""

        def __str__(self) -> str:
            missing.append(self._undefined_name or "?")
            return ""

    env = SandboxedEnvironment(autoescape=True, undefined=Missing, finalize=_placed)
    context = {"stats": stats, "charts": Charts(stats, catalog, chart_cache), "term": term_label(briefing.term), "catalog": catalog, **(extra or {})}
    where = f"content/{BRIEFINGS}/{briefing.source.name}"
    try:
        body = env.from_string(briefing.body).render(context)
    except jinja2.TemplateError as error:
        problems.append(Problem(where, "占位符", f"无法替换（{error}），简报按原文发布"))
        body = briefing.body
    for target in _LOCAL_LINK.findall(briefing.body):  # a photo the admin forgot to copy (MkDocs says so in English)
        if not (briefing.source.parent / unquote(target)).exists():
            problems.append(Problem(where, "图片或链接", f"找不到“{unquote(target)}”，页面上这里会是空白；请把文件放进 content/{BRIEFINGS}/ 或改正文件名", refused=False))
    if missing:
        names = "、".join(dict.fromkeys(missing))
        problems.append(Problem(where, "占位符", f"没有名为 {names} 的数据，这些位置留空；请对照 README“学期统计与研修简报”中的占位符列表检查拼写", refused=False))
    notice = ""
    if stats.empty and not extra:  # a county's briefing counts the schools' figures, not its own
        notice = f'!!! note "说明"\n    {term_label(briefing.term)}暂无已发布的成果，简报中的统计数字均为 0。\n\n'
    heading = f"# {briefing.title}\n\n"
    meta = f'<p class="portal-briefing__meta">{briefing.issue} · {term_label(briefing.term)}{" · " + briefing.date.isoformat() if briefing.date else ""}</p>\n\n'
    return heading + meta + notice + body


def stats_context(records: list[Record], catalog: Catalog, roster: list[Teacher] | None, terms: list[str], kept: Path | None = None) -> dict[str, TermStats]:
    """Each term's figures. With `kept` (a folder), they are kept there by what they are counted
    from: the term's records (by the digest intake gave each: their files, our code and the
    catalog), the catalog, the roster and our code. A new submission then costs the counting of
    its own term only (each term's counting goes over all its records)."""
    if kept is None:
        return {term: term_stats(term, records, catalog, roster) for term in terms}
    by_term: dict[str, list[Record]] = {}
    for record in records:
        by_term.setdefault(record.term, []).append(record)
    base = hashlib.sha1(repr((code_fingerprint(), catalog, roster)).encode("utf-8", "surrogateescape"))
    found: dict[str, TermStats] = {}
    current: set[str] = set()
    for term in terms:
        mine = by_term.get(term, [])
        if not all(r.digest for r in mine):  # a record changed since intake read it (drop_vanished): counted afresh
            found[term] = term_stats(term, mine, catalog, roster)
            continue
        digest = base.copy()
        digest.update("\0".join([term, *(r.digest for r in mine)]).encode("utf-8"))
        name = f"{digest.hexdigest()}.pickle"
        current.add(name)
        with contextlib.suppress(OSError, pickle.PickleError, EOFError, AttributeError, TypeError, ValueError):
            found[term] = pickle.loads((kept / name).read_bytes())  # noqa: S301 - our own file, written below
            continue
        found[term] = term_stats(term, mine, catalog, roster)
        with contextlib.suppress(OSError):
            write_atomic(kept / name, pickle.dumps(found[term], protocol=pickle.HIGHEST_PROTOCOL))
    _sweep(kept, current)
    return found


def _sweep(folder: Path, current: set[str]) -> None:
    """Files in `folder` that no build uses now, once older than a few minutes (another build,
    make serve's next one, may have just written what it needs)."""
    for old in folder.glob("*") if folder.is_dir() else []:
        with contextlib.suppress(OSError):
            if old.name not in current and time.time() - old.stat().st_mtime > STALE_CHARTS_S:
                old.unlink()


def cached_atom_feed(briefings: list[Briefing], site_name: str, site_url: str | None, cache: Path) -> bytes:
    """`atom_feed`, kept in `cache` by what it says: most builds change no briefing, and loading
    the feed library (lxml) costs more than the rest of the briefings."""
    shown = [(b.slug, b.title, b.date, b.issue, b.term) for b in briefings]
    key = hashlib.sha1(repr((shown, site_name, site_url, installed_version("feedgen"))).encode("utf-8", "surrogateescape")).hexdigest()
    path = cache / f"{key}.xml"
    with contextlib.suppress(OSError):
        return path.read_bytes()
    feed = atom_feed(briefings, site_name, site_url)
    for old in cache.glob("*.xml"):
        old.unlink(missing_ok=True)
    write_atomic(path, feed)
    return feed


def atom_feed(briefings: list[Briefing], site_name: str, site_url: str | None) -> bytes:
    """An Atom feed of the briefings, newest first (feedgen)."""
    from feedgen.feed import FeedGenerator

    base = (site_url or "/").rstrip("/") + "/"
    feed = FeedGenerator()
    feed.id(base + f"{BRIEFINGS}/")
    feed.title(f"{site_name} · 研修简报")
    feed.link(href=base + f"{BRIEFINGS}/", rel="alternate")
    feed.link(href=base + f"{BRIEFINGS}/{FEED}", rel="self")
    feed.language("zh-CN")
    newest = max((b.date for b in briefings if b.date), default=dt.date(2000, 1, 1))
    feed.updated(dt.datetime.combine(newest, dt.time(), dt.timezone.utc))
    for briefing in reversed(briefings):  # feedgen prepends: add oldest first
        entry = feed.add_entry()
        url = base + f"{BRIEFINGS}/{briefing.slug}/"
        entry.id(url)
        entry.link(href=url)
        entry.title(briefing.title)
        stamp = dt.datetime.combine(briefing.date or newest, dt.time(), dt.timezone.utc)
        entry.updated(stamp)
        entry.published(stamp)
        entry.summary(f"{briefing.issue} {term_label(briefing.term)}")
    return feed.atom_str(pretty=True)
