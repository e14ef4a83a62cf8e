"""Usage statistics (浏览、播放、下载) from web server access logs.

`make serve` writes `logs/access.log` in the Combined Log Format (rotated daily); a school that
serves with nginx names its logs in mkdocs.yml (`extra.portal.access_logs`, plain or `.gz`, the
nginx default `combined` format). Per resource this counts:

- views: GET requests for its page (`/r/<id>/`), every one (a page opened 3 times shows 3);
- plays: GET requests for one of its videos, once per visitor per video per day (a player asks
  for many byte ranges while it plays and seeks; Combined logs do not record the range);
- downloads: GET requests for one of its other files (`/r/<id>/files/...`), once per visitor per
  file per day (a PDF viewer also asks in ranges).

Not counted: HEAD and other methods, error statuses, the site's own assets, requests from bots and
scripts (by user agent). Visitors are told apart by a salted hash of address and user agent; the
salt lives in the cache folder and never leaves the build, and no address or hash reaches any
output: only counts do.

Logs are read incrementally: the position read up to is kept by a fingerprint of each file's first
line, not by its name, so the next build reads only new lines, and a log renamed or compressed by
rotation (access.log -> access.log.2024-03-12[.gz]) is read on from where its lines were counted.
A regular expression reads the lines (several million in seconds); a log-parsing library that
builds an object per field was ten times slower here.
"""

from __future__ import annotations

import datetime as dt
import functools
import glob
import gzip
import hashlib
import os
import pickle
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .model import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, Record

LINE = re.compile(
    rb'^(?P<host>\S+) \S+ \S+ \[(?P<day>\d{2}/\w{3}/\d{4}):[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" '
    rb'(?P<status>\d{3}) \S+(?: "[^"]*" "(?P<agent>[^"]*)")?'
)
BOTS = re.compile(  # matched against the lower-cased user agent
    rb"bot\b|bot/|spider|crawl|slurp|curl/|wget/|python|go-http|java/|libwww|httpclient|okhttp|scrapy|"
    rb"monitor|uptime|pingdom|zgrab|masscan|nmap|lighthouse|bingpreview|facebookexternalhit"
)
MONTHS = {m: i for i, m in enumerate((b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), start=1)}
STATE_VERSION = 2  # 2: positions kept by first line, not by file name


@dataclass
class Counts:
    views: int = 0
    plays: int = 0
    downloads: int = 0
    recent_views: int = 0  # in the last 7 days of the logs (本周热门)

    @property
    def total(self) -> int:
        return self.views + self.plays + self.downloads


@dataclass
class _State:
    """What the cache keeps between builds (never published)."""

    salt: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    files: dict[bytes, int] = field(default_factory=dict)  # first-line digest -> offset read (uncompressed)
    compressed: set[tuple[str, int]] = field(default_factory=set)  # (path, size) of .gz logs read whole
    views: Counter[tuple[str, dt.date]] = field(default_factory=Counter)  # (resource id, day) -> views
    seen: set[tuple[dt.date, bytes, str]] = field(default_factory=set)  # (day, visitor, file path): plays, downloads
    plays: Counter[tuple[str, dt.date]] = field(default_factory=Counter)
    downloads: Counter[tuple[str, dt.date]] = field(default_factory=Counter)


def _day(text: bytes) -> dt.date | None:
    try:
        return dt.date(int(text[7:11]), MONTHS[text[3:6]], int(text[0:2]))
    except (KeyError, ValueError):
        return None


def classify(path: str, prefix: str = "/") -> tuple[str, str, str] | None:
    """(kind, resource id, file) for a request path, or None when it is not a resource's:
    kind is "view", "play" or "download"."""
    path = unquote(urlsplit(path).path)
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix):].split("/")
    if len(parts) < 3 or parts[0] != "r" or not parts[1]:
        return None
    resource = parts[1]
    rest = parts[2:]
    if rest in ([""], ["index.html"]):
        return "view", resource, ""
    if len(rest) >= 2 and rest[0] in ("files", "media") and rest[-1]:
        name = "/".join(rest[1:])
        if Path(name).suffix.lower() in VIDEO_EXTENSIONS:
            return "play", resource, name
        if rest[0] == "files" and Path(name).suffix.lower() not in IMAGE_EXTENSIONS:  # a picture is shown on the page
            return "download", resource, name
    return None


@functools.lru_cache(maxsize=65536)
def _classified(path: bytes, prefix: str) -> tuple[str, str, str] | None:
    return classify(path.decode("utf-8", "replace"), prefix)


def _lines(path: Path, offset: int) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        if offset:
            handle.seek(offset)
        yield from handle


def _first_line(path: Path) -> bytes:
    """A digest of the file's first whole line (b"" while there is none): what names a log."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:  # type: ignore[operator]
            first = handle.readline()
    except (OSError, EOFError):
        return b""
    return hashlib.sha1(first).digest() if first.endswith(b"\n") else b""


def log_files(root: Path, configured: Iterable[str]) -> list[Path]:
    """`logs/access.log*` and the files mkdocs.yml names (globs allowed), oldest first."""
    found: set[Path] = set()
    for pattern in [str(root / "logs" / "access.log*"), *(str(root / p) if not os.path.isabs(p) else p for p in configured)]:
        found.update(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
    return sorted(found, key=lambda p: (_mtime(p), p.name))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile (rotation): _read says so
        return 0.0


def _read(state: _State, path: Path, prefix: str) -> int:
    """Count the lines of `path` not read before; returns how many lines were read."""
    size = path.stat().st_size
    whole = (str(path), size)
    if path.suffix == ".gz" and whole in state.compressed:
        return 0  # a compressed log does not grow: it was read whole
    first = _first_line(path)
    offset = state.files.get(first, 0) if first else 0
    if path.suffix != ".gz" and size < offset:
        offset = 0  # truncated and written anew: read it anew
    salt = state.salt
    resources = (prefix + "r/").encode()
    bots: dict[bytes, bool] = {}  # a log holds few distinct user agents
    read = 0
    position = offset
    try:
        for line in _lines(path, offset):
            position += len(line)
            if not line.endswith(b"\n"):  # a line still being written: read it next time
                position -= len(line)
                break
            read += 1
            match = LINE.match(line)
            if match is None or match["method"] != b"GET" or not match["path"].startswith(resources):
                continue
            status = match["status"]
            if not (status[:1] == b"2" or status == b"304"):
                continue
            agent = match["agent"] or b""
            bot = bots.get(agent)
            if bot is None:
                bot = bots[agent] = BOTS.search(agent.lower()) is not None
            if bot:
                continue
            found = _classified(match["path"], prefix)
            day = _day(match["day"]) if found else None
            if found is None or day is None:
                continue
            kind, resource, name = found
            if kind == "view":
                state.views[(resource, day)] += 1
                continue
            visitor = hashlib.blake2b(match["host"] + b"\0" + agent, key=salt, digest_size=12).digest()
            mark = (day, visitor, f"{resource}/{name}")
            if mark in state.seen:
                continue
            state.seen.add(mark)
            (state.plays if kind == "play" else state.downloads)[(resource, day)] += 1
    except (OSError, EOFError):  # damaged, or still being compressed: what was counted stays counted
        if first:
            state.files[first] = position
        raise
    if first:
        state.files[first] = position
    if path.suffix == ".gz":
        state.compressed.add(whole)
    return read


def _load(path: Path) -> _State:
    try:
        with path.open("rb") as handle:
            version, state = pickle.load(handle)  # noqa: S301 - our own cache file
        if version == STATE_VERSION and isinstance(state, _State):
            return state
    except (OSError, pickle.PickleError, EOFError, ValueError, TypeError, AttributeError):
        pass
    return _State()


def _save(path: Path, state: _State) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        pickle.dump((STATE_VERSION, state), handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)


@dataclass(frozen=True)
class Usage:
    """Counts per resource id; `lines` says how many log lines this build read."""

    counts: dict[str, Counts]
    lines: int = 0
    files: int = 0
    skipped: tuple[str, ...] = ()  # a line per log that could not be read, for the admin

    def of(self, resource: str) -> Counts:
        return self.counts.get(resource, Counts())

    @property
    def any(self) -> bool:
        return bool(self.counts)


def read_usage(root: Path, state_file: Path, configured: Iterable[str] = (), prefix: str = "/", today: dt.date | None = None) -> Usage:
    """Read what is new in the access logs and return the counts over all logs read so far."""
    state = _load(state_file)
    files = log_files(root, configured)
    lines, skipped = 0, []
    for path in files:
        try:
            lines += _read(state, path, prefix)
        except (OSError, EOFError) as error:  # vanished, unreadable, or a .gz still being written
            skipped.append(f"访问日志 {path} 无法读取（{getattr(error, 'strerror', None) or type(error).__name__}），本次跳过；下次生成时再读")
    # Plays and downloads need a day's visitors only while that day's log may still grow.
    latest = max((day for table in (state.views, state.plays, state.downloads) for _, day in table), default=None)
    if latest is not None:
        state.seen = {mark for mark in state.seen if mark[0] >= latest - dt.timedelta(days=1)}
    _save(state_file, state)
    week_start = (today or dt.date.today()) - dt.timedelta(days=6)
    counts: dict[str, Counts] = {}
    for (resource, day), number in state.views.items():
        entry = counts.setdefault(resource, Counts())
        entry.views += number
        if day >= week_start:
            entry.recent_views += number
    for (resource, _), number in state.plays.items():
        counts.setdefault(resource, Counts()).plays += number
    for (resource, _), number in state.downloads.items():
        counts.setdefault(resource, Counts()).downloads += number
    return Usage(counts, lines, len(files), tuple(skipped))


# -- what pages and reports show ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a usage table: a name (a subject, a group) or a record, and its counts."""

    name: str
    views: int
    plays: int
    downloads: int
    record: Record | None = None


def most_viewed(records: Iterable[Record], usage: Usage, limit: int = 10, recent: bool = False) -> list[Row]:
    """The records most viewed (in the last 7 days when `recent`), most first; none unviewed."""
    rows = []
    for record in records:
        counts = usage.of(record.id)
        score = counts.recent_views if recent else counts.views
        if score > 0:
            rows.append((score, counts.total, record, counts))
    rows.sort(key=lambda item: (-item[0], -item[1], item[2].title))
    return [Row(r.title, c.recent_views if recent else c.views, c.plays, c.downloads, r) for _, _, r, c in rows[:limit]]


def by_field(records: Iterable[Record], usage: Usage, name: Callable[[Record], str | None]) -> list[Row]:
    """Counts summed by a field of the records (subject, group), most viewed first."""
    sums: dict[str, list[int]] = {}
    for record in records:
        key = name(record)
        if not key:
            continue
        counts = usage.of(record.id)
        total = sums.setdefault(key, [0, 0, 0])
        total[0] += counts.views
        total[1] += counts.plays
        total[2] += counts.downloads
    return sorted((Row(k, *v) for k, v in sums.items()), key=lambda row: (-row.views, -row.plays, row.name))
