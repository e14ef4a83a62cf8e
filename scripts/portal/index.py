"""Index: a static, sharded search index for Chinese text, written beside the built site.

Why our own: word segmentation misses words inside longer words (面积 inside 大面积) and stock
engines either ship the whole index to every page (Material: 26-31 MB at 2,000 pages) or take
too long and too much memory to build at 10,000 resources (Pagefind with bigrams: 32 s, 4.3 GB).
Overlapping character bigrams find every substring of two or more characters; sharding the
postings by token hash means a query downloads only the shards of its own tokens.

Files under `search/`:
    facets.json.gz      per-document facet values (subject, grade, type, term, group, points,
                        exemplary), the point catalog and the shard counts; loaded once per visit
    h/<n>.json.gz       postings of title tokens, CJK single characters included: title
                        matches rank first
    t/<n>.json.gz       the same for title + metadata (type, subject, points, authors, keywords,
                        summary): a one-character query searches these, and they rank second
    d/<n>.json.gz       postings of all text (title, metadata, Markdown body, document text)
    docs/<n>.json       what results show (title, link, metadata line, points, an excerpt), for
                        documents n*DOCS_PER_FILE onwards: a list of DOCS_PER_FILE entries

Tokens (`tokens()` here and `tokens()` in overrides/assets/search.js must agree): text is folded
with NFKC and lower-cased; runs of CJK characters give overlapping bigrams (a lone character gives
itself); runs of ASCII letters and digits give whole words. Document ids are assigned newest first,
so sorting by id is sorting by date.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import itertools
import operator
import re
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


from .catalog import Catalog
from .extract import Extracted
from .memo import Memo
from .model import Record, json_text, newest_first

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_TAGS = re.compile(r"<[^>]+>")
EXCERPT_CHARS = 240
# Aim for shards of about this many postings: small enough that a query's few shards stay far
# under 100 KB, few enough files that the site stays easy to copy.
POSTINGS_PER_SHARD = 6000
FACETS = ("subject", "grade", "type", "term", "group", "school")
# Result entries per file: a page of 20 results fetches at most 20 small files, and a site of
# 10,000 resources has 2,500 of them instead of 10,000 (files cost most to write and to copy).
DOCS_PER_FILE = 4


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def tokens(text: str, unigrams: bool = False) -> set[str]:
    """Index terms of a text: CJK bigrams (and single characters when asked), ASCII words."""
    found: set[str] = set()
    for run in _RUNS.findall(fold(text)):
        if run[0].isascii():
            found.add(run)
        elif len(run) == 1:
            found.add(run)
        else:
            found.update(map(operator.add, run, run[1:]))  # overlapping bigrams
            if unigrams:
                found.update(run)
    return found


def shard_of(token: str, shards: int) -> int:
    """FNV-1a over code points; search.js computes the same."""
    value = 0x811C9DC5
    for char in token:
        value ^= ord(char)
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value % shards


def html_text(fragment: str) -> str:
    return html.unescape(_TAGS.sub(" ", fragment))


def metadata_text(record: Record, catalog: Catalog) -> str:
    points = " ".join(f"{c} {catalog.points[c].name}" for c in record.competencies)
    parts = [record.type, record.subject, record.grade, points, " ".join(record.authors),
             record.group or "", " ".join(record.keywords), record.summary or ""]
    return " ".join(parts)


def body_text(extracted: Extracted) -> str:
    parts = [html_text(extracted.body_html or ""), *(view.text for view in extracted.files.values())]
    return " ".join(" ".join(p.split()) for p in parts if p)


def searchable_text(record: Record, extracted: Extracted, catalog: Catalog) -> str:
    """Everything a query may match, as the index sees it (the ground truth of the search tests)."""
    return fold(" ".join([record.title, metadata_text(record, catalog), body_text(extracted)]))


@dataclass
class Postings:
    """token -> ascending document ids, in compact arrays (10,000 documents, millions of postings)."""

    table: dict[str, array]

    @classmethod
    def empty(cls) -> Postings:
        return cls(defaultdict(lambda: array("I")))

    def add(self, doc: int, terms: Iterable[str]) -> None:
        for term in terms:
            self.table[term].append(doc)

    @property
    def size(self) -> int:
        return sum(len(ids) for ids in self.table.values())

    def shards(self) -> tuple[int, Iterator[tuple[int, dict[str, str]]]]:
        count = 1
        while count * POSTINGS_PER_SHARD < self.size and count < 4096:
            count *= 2
        grouped: dict[int, dict[str, str]] = defaultdict(dict)
        for term, ids in sorted(self.table.items()):  # the same bytes for the same index, whatever the hash seed
            grouped[shard_of(term, count)][term] = _gaps(ids)
        return count, iter(sorted(grouped.items()))


def _gaps(ids: array) -> str:
    """Ascending ids as decimal gaps (id minus previous id minus one), comma-separated: small
    numbers that gzip shrinks well. `map` over C functions keeps long lists (a common bigram in
    10,000 documents) quick without any numeric library."""
    steps = map(operator.sub, ids, itertools.chain((-1,), ids))
    return ",".join(map(str, map(operator.sub, steps, itertools.repeat(1))))


def _write_gz(path: Path, data: object) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json_text(data).encode("utf-8")
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    path.write_bytes(packed)
    return len(packed)


def _column(indexes: Iterable[int]) -> str:
    """Per-document value numbers as one character each (value i is chr(48 + i), none is a
    space): 10,000 documents cost 10,000 characters, which gzip packs to a few KB. search.js
    decodes it the same way."""
    return "".join(" " if i < 0 else chr(48 + i) for i in indexes)


def _facet_table(records: list[Record], catalog: Catalog) -> dict[str, object]:
    table: dict[str, object] = {"n": len(records)}
    for name in FACETS:
        values: list[str] = []
        position: dict[str, int] = {}
        of: list[int] = []
        for record in records:
            value = getattr(record, name) if name != "school" else (record.school or "本校")
            if not value:
                of.append(-1)
                continue
            if value not in position:
                position[value] = len(values)
                values.append(value)
            of.append(position[value])
        table[name] = {"values": values, "of": _column(of)}
    codes = list(catalog.points)
    table["points"] = {
        "values": codes,
        "of": ",".join(_column(codes.index(c) for c in r.competencies) for r in records),
        "info": {c: [p.env, p.env_name, p.dimension, p.name] for c, p in catalog.points.items()},
        "order": {"env": catalog.environments, "dim": catalog.dimensions, "grade": catalog.grades,
                  "subject": catalog.subjects, "type": list(catalog.types)},
    }
    table["exemplary"] = "".join("1" if r.exemplary else "0" for r in records)
    return table


def token_memo(path: Path | None) -> Memo:
    """Index terms of unchanged records, kept between builds: cutting text into tokens is most
    of indexing. Any change to this module (the tokens must match search.js) starts afresh."""
    return Memo(path, "tokens " + hashlib.sha1(Path(__file__).read_bytes()).hexdigest())


def record_terms(record: Record, meta: str, body: str, memo: Memo) -> tuple[list[str], list[str], list[str]]:
    """(title terms, title + metadata terms, all terms) of one record. Remembered as three
    strings (terms never contain a space): far quicker to load than sets of short strings."""
    key = Memo.key("\0".join([record.title, meta, body]))
    known = memo.get(key)
    if known is None:
        title = tokens(record.title, unigrams=True)
        families = (title, title | tokens(meta, unigrams=True), tokens(record.title) | tokens(meta) | tokens(body))
        known = tuple(" ".join(terms) for terms in families)
        memo.put(key, known)
    title_terms, meta_terms, text_terms = (joined.split(" ") if joined else [] for joined in known)
    return title_terms, meta_terms, text_terms


def card_poster(extracted: Extracted | None) -> str | None:
    """The media name of a resource's first video poster, shown on its cards and results."""
    for view in (extracted.files.values() if extracted else ()):
        if view.poster is not None:
            return view.poster.name
    return None


def build_index(records: list[Record], extracted: dict[str, Extracted], catalog: Catalog, out: Path, memo: Memo | None = None) -> dict[str, int]:
    """Write the index for `records` (the accepted ones: refused submissions are never results)."""
    memo = memo or token_memo(None)
    ordered_records = newest_first(records)  # so the browser sorts by date by sorting numbers
    title_postings, meta_postings, text_postings = Postings.empty(), Postings.empty(), Postings.empty()
    folder = out / "search"
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, object]] = []
    for doc, record in enumerate(ordered_records):
        meta = metadata_text(record, catalog)
        body = body_text(extracted.get(record.id, Extracted()))
        title_terms, meta_terms, text_terms = record_terms(record, meta, body, memo)
        title_postings.add(doc, title_terms)
        meta_postings.add(doc, meta_terms)
        text_postings.add(doc, text_terms)
        excerpt = " ".join((record.summary or body).split())[:EXCERPT_CHARS]
        entry = {
            "u": "r/" + quote(record.id) + "/",
            "t": record.title,
            "m": " · ".join(([record.school] if record.school else []) + [record.type, record.subject, record.grade, "、".join(record.authors),
                             record.date.isoformat() if record.date else record.term]),
            "p": record.competencies,
            "x": excerpt,
            "e": record.exemplary,
        }
        poster = card_poster(extracted.get(record.id))
        if poster:  # a video's poster frame on its result card
            entry["v"] = "r/" + quote(record.id) + "/media/" + quote(poster)
        entries.append(entry)
    for start in range(0, len(entries), DOCS_PER_FILE):
        chunk = entries[start : start + DOCS_PER_FILE]
        (folder / "docs" / f"{start // DOCS_PER_FILE}.json").write_text(json_text(chunk), encoding="utf-8")

    sizes: dict[str, int] = {}
    shard_counts: dict[str, int] = {}
    for family, postings in (("h", title_postings), ("t", meta_postings), ("d", text_postings)):
        count, shards = postings.shards()
        shard_counts[family] = count
        sizes[family] = sum(_write_gz(folder / family / f"{number}.json.gz", content) for number, content in shards)
    facets = _facet_table(ordered_records, catalog)
    facets["shards"] = shard_counts
    facets["docs_per_file"] = DOCS_PER_FILE
    sizes["facets"] = _write_gz(folder / "facets.json.gz", facets)
    return sizes
