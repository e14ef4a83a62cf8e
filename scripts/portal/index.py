"""Index: a static, sharded search index for Chinese text, written beside the built site.

Why our own: word segmentation misses words inside longer words (面积 inside 大面积) and stock
engines either ship the whole index to every page (Material: 26-31 MB at 2,000 pages) or take
too long and too much memory to build at 10,000 resources (Pagefind with bigrams: 32 s, 4.3 GB).
Overlapping character grams (one, two and three characters) find every substring; sharding the
postings by term hash means a query downloads only the shards of its own terms.

Files under `search/`:
    facets.json.gz      the facets' values, the point catalog, the shard counts, the folding
                        table (and, between whole rewrites, the delta's shard counts, numbers
                        dropped and the order newest first: segments.py); loaded once per visit
    columns.json.gz     each document's facet values (subject, grade, type, term, group, school,
                        points, exemplary): loaded after the first results, to filter and count
    d/<n>.json.gz       postings of all text (title, metadata, Markdown body, document text),
                        each saying where the term occurs first: in the title (those rank
                        first), the metadata (type, subject, points, authors, keywords, summary:
                        second) or only the text. One shard a term, so a query of three terms
                        fetches three files, not nine (a county of 100,000 cases).
    docs/<n>.json       what results show (title, link, metadata line, points, an excerpt), for
                        documents n*DOCS_PER_FILE onwards: a list of DOCS_PER_FILE entries

Folding (`fold()` here and in overrides/assets/search.js must agree): NFKC, lower case, each
traditional character to its simplified form (OpenCC's character table, shipped to the browser
in facets.json.gz as the pairs whose simplified side occurs on the site), whitespace runs to one
space, and no space between a CJK character and a CJK character, letter or digit ("1949 年" is
"1949年"; a line break inside a PDF's sentence disappears). A query keeps its spaces between
CJK words: they separate words that must all occur.

Terms (`grams()`, the same in search.js): every character, every two and every three adjacent
characters of each space-free run of a folded field (title, each metadata value, each text).
A query word of one or two characters looks itself up; a longer one looks up its three-character
grams, which must all be in one document: a phrase is found as typed, not as pairs found apart.
Letters, digits and punctuation are characters like any other, so `2.0`, `100%`, `1949年` and
`b2` inside `b2c` are found as typed. Fields never run into one another. Document ids are
assigned newest first, so sorting by id is sorting by date.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import itertools
import operator
import os
import re
import unicodedata
from importlib import resources
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
# The same class in search.js (JavaScript's \s and Python's differ on a few code points).
_SPACE = "\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_SPACES = re.compile(f"[{_SPACE}]+")
_JOIN = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}a-z0-9])|(?<=[a-z0-9]) (?=[{_CJK}])")
_TAGS = re.compile(r"<[^>]+>")
EXCERPT_CHARS = 240
# Aim for shards of about this many postings: small enough that a query's few shards stay far
# under 100 KB, few enough files that the site stays easy to copy.
POSTINGS_PER_SHARD = 6000
# At most this many shards a family: a county of 100,000 cases has some 100 million postings of
# all text, and 4,096 shards of 30,000 postings made a query fetch 60-100 KB a term.
MAX_SHARDS = 32768
FACETS = ("subject", "grade", "type", "term", "group", "school")
# Result entries per file: a page of 20 results fetches at most 20 small files, and a site of
# 10,000 resources has 2,500 of them instead of 10,000 (files cost most to write and to copy).
DOCS_PER_FILE = 4


def _traditional_table() -> dict[int, str]:
    """Traditional -> simplified, one character to one (the first of OpenCC's candidates), so a
    folded text keeps its length and the browser can fold the same way with a plain table."""
    pairs: dict[int, str] = {}
    source = resources.files("opencc") / "dictionary" / "TSCharacters.txt"
    for line in source.read_text(encoding="utf-8").splitlines():
        traditional, _, simplified = line.partition("\t")
        target = simplified.split(" ")[0]
        if len(traditional) == 1 and len(target) == 1 and target != traditional:
            pairs[ord(traditional)] = target
    return pairs


TRADITIONAL = _traditional_table()


def fold(text: str, query: bool = False) -> str:
    """What search compares: see the module's docstring. In a `query`, spaces stay: they separate words."""
    folded = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower().translate(TRADITIONAL)).strip(" ")
    # In a query every space separates words that must all occur (B2 钟表, 开国 1949年); text is
    # joined, so "1949 年" typed either way finds a text that says 1949年.
    return folded if query else _JOIN.sub("", folded)


def grams(run: str) -> set[str]:
    """Every 1, 2 and 3 adjacent characters of a run (`map` over C functions: quick on long texts)."""
    pairs = list(map(operator.add, run, run[1:]))
    return {*run, *pairs, *map(operator.add, pairs, run[2:])}


def tokens(text: str) -> set[str]:
    """Index terms of one field."""
    found: set[str] = set()
    for run in fold(text).split(" "):
        found |= grams(run)
    found.discard("")
    return found


def query_words(query: str) -> list[str]:
    """The words of a query, each of which a result contains as typed (after folding)."""
    return [word for word in fold(query, query=True).split(" ") if word]


def query_terms(word: str) -> list[str]:
    """What a query word looks up: itself when short, else its three-character grams."""
    if len(word) <= 2:
        return [word]
    return sorted(set(map(operator.add, map(operator.add, word, word[1:]), word[2:])))


def shard_of(token: str, shards: int) -> int:
    """FNV-1a over code points; search.js computes the same."""
    value = 0x811C9DC5
    for char in token:
        value ^= ord(char)
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value % shards


def html_text(fragment: str) -> str:
    return html.unescape(_TAGS.sub(" ", fragment))


def metadata_fields(record: Record, catalog: Catalog) -> list[str]:
    """Each metadata value on its own: a query never matches across two of them."""
    points = [f"{c} {catalog.points[c].name}" for c in record.competencies]
    return [record.type, record.subject, record.grade, *points, *record.authors, record.group or "",
            *record.keywords, record.summary or ""]


def body_fields(extracted: Extracted) -> list[str]:
    """The Markdown body and each document's text, each on its own."""
    return [html_text(extracted.body_html or ""), *(view.text for view in extracted.files.values())]


def metadata_text(record: Record, catalog: Catalog) -> str:
    return " ".join(metadata_fields(record, catalog))


def body_text(extracted: Extracted) -> str:
    return " ".join(" ".join(p.split()) for p in body_fields(extracted) if p)


def searchable_text(record: Record, extracted: Extracted, catalog: Catalog) -> str:
    """Everything a query may match, as the index sees it (the ground truth of the search tests):
    the folded fields, one a line."""
    fields = [record.title, *metadata_fields(record, catalog), *body_fields(extracted)]
    return "\n".join(fold(field) for field in fields)


@dataclass
class Postings:
    """token -> ascending postings, in compact arrays (10,000 documents, millions of postings):
    each the document id times four plus the term's level in it (LEVELS)."""

    table: dict[str, array]

    @classmethod
    def empty(cls) -> Postings:
        return cls(defaultdict(lambda: array("I")))

    def add(self, doc: int, title: Iterable[str], meta: Iterable[str], text: Iterable[str]) -> None:
        """The terms of document `doc` (numbered in ascending order): its title's, its title and
        metadata's, and all of them."""
        in_title, in_meta = set(title), set(meta)
        for term in text:
            self.table[term].append(doc << 2 | (TITLE if term in in_title else META if term in in_meta else TEXT))

    @property
    def size(self) -> int:
        return sum(len(ids) for ids in self.table.values())

    def shards(self) -> tuple[int, Iterator[tuple[int, dict[str, str]]]]:
        count = 1
        while count * POSTINGS_PER_SHARD < self.size and count < MAX_SHARDS:
            count *= 2
        grouped: dict[int, dict[str, str]] = defaultdict(dict)
        for term, ids in sorted(self.table.items()):  # the same bytes for the same index, whatever the hash seed
            grouped[shard_of(term, count)][term] = leveled_gaps(ids)
        return count, iter(sorted(grouped.items()))


# Where a term occurs in a document, the best place first: the rank of the document for a query
# is the worst of its terms' levels (all in the title first, then all in title or metadata).
TITLE, META, TEXT = 0, 1, 2


def leveled_gaps(postings: array) -> str:
    """Postings (id * 4 + level, ascending) as decimal numbers, comma-separated: the gap to the
    previous id (minus one) times three, plus the level. Small numbers gzip well; `map` over C
    functions keeps 100 million of them quick (search.js `decode` reads them)."""
    ids = list(map(operator.rshift, postings, itertools.repeat(2)))
    levels = map(operator.and_, postings, itertools.repeat(3))
    steps = map(operator.sub, ids, itertools.chain((-1,), ids))  # gap + 1
    values = map(operator.add, map(operator.mul, steps, itertools.repeat(3)), levels)
    return ",".join(map(str, map(operator.sub, values, itertools.repeat(3))))


def gaps(ids: array) -> str:
    """Ascending ids as decimal gaps (id minus previous id minus one), comma-separated: small
    numbers that gzip shrinks well. `map` over C functions keeps long lists (a common bigram in
    10,000 documents) quick without any numeric library."""
    steps = map(operator.sub, ids, itertools.chain((-1,), ids))
    return ",".join(map(str, map(operator.sub, steps, itertools.repeat(1))))


def write_gz(path: Path, data: object) -> int:
    """Write `data` gzipped, replacing any earlier file at once (a reader never sees half a file;
    a site that links the earlier file keeps it)."""
    return write_atomic(path, gzip.compress(json_text(data).encode("utf-8"), compresslevel=6, mtime=0))


def write_atomic(path: Path, data: bytes) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)
    return len(data)


def _column(indexes: Iterable[int]) -> str:
    """Per-document value numbers as one character each (value i is chr(48 + i), none is a
    space): 10,000 documents cost 10,000 characters, which gzip packs to a few KB. search.js
    decodes it the same way."""
    return "".join(" " if i < 0 else chr(48 + i) for i in indexes)


def facet_table(records: list[Record | None], catalog: Catalog) -> tuple[dict[str, object], dict[str, object]]:
    """(the facets' values, each document's values). The first is small and needed by every
    search; the second grows with the site (480 KB gzipped at 100,000 documents) and is needed
    only to filter and to count, so the browser loads it after the first results are shown.
    None is a number no live document has (a withdrawn or replaced submission, until the index is
    next written whole): it has no values."""
    table: dict[str, object] = {"n": len(records)}
    columns: dict[str, object] = {"n": len(records)}
    for name in FACETS:
        values: list[str] = []
        position: dict[str, int] = {}
        of: list[int] = []
        for record in records:
            value = None if record is None else getattr(record, name) if name != "school" else (record.school or "本校")
            if not value:
                of.append(-1)
                continue
            if value not in position:
                position[value] = len(values)
                values.append(value)
            of.append(position[value])
        table[name] = {"values": values}
        columns[name] = _column(of)
    codes = list(catalog.points)
    table["points"] = {
        "values": codes,
        "info": {c: [p.env, p.env_name, p.dimension, p.name] for c, p in catalog.points.items()},
        "order": {"env": catalog.environments, "dim": catalog.dimensions, "grade": catalog.grades,
                  "subject": catalog.subjects, "type": list(catalog.types)},
    }
    columns["points"] = ",".join(_column(codes.index(c) for c in r.competencies) if r else "" for r in records)
    columns["exemplary"] = "".join("1" if r is not None and r.exemplary else "0" for r in records)
    return table, columns


def folding_table(terms: Iterable[str]) -> str:
    """The traditional -> simplified pairs the browser needs, as one string of pairs: those whose
    simplified character occurs on the site (any other query character finds nothing anyway)."""
    present = single_characters(terms)
    return "".join(chr(code) + simple for code, simple in sorted(TRADITIONAL.items()) if simple in present)


def single_characters(terms: Iterable[str]) -> set[str]:
    return {term for term in terms if len(term) == 1}


TOKENS_VERSION = "tokens " + hashlib.sha1(Path(__file__).read_bytes()).hexdigest()  # the code loaded, not the code on disk


def token_memo(path: Path | None) -> Memo:
    """Index terms of unchanged records, kept between builds: cutting text into tokens is most
    of indexing. Any change to this module (the tokens must match search.js) starts afresh."""
    return Memo(path, TOKENS_VERSION)


def field_terms(fields: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for field in fields:
        found |= tokens(field)
    return found


def record_terms(record: Record, meta: list[str], body: list[str], memo: Memo) -> tuple[list[str], list[str], list[str]]:
    """(title terms, title + metadata terms, all terms) of one record. Remembered as three
    strings (terms never contain a space): far quicker to load than sets of short strings."""
    key = Memo.key("\x1e".join([record.title, *meta, "\x1d", *body]))
    known = memo.get(key)
    if known is None:
        title = tokens(record.title)
        with_meta = title | field_terms(meta)
        families = (title, with_meta, with_meta | field_terms(body))
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


def result_entry(record: Record, extracted: Extracted | None, body: list[str]) -> dict[str, object]:
    """What a result shows: title, link, metadata line, points, an excerpt (and a video's poster)."""
    excerpt = " ".join((record.summary or " ".join(body)).split())[:EXCERPT_CHARS]
    entry: dict[str, object] = {
        "u": "r/" + quote(record.id) + "/",
        "t": record.title,
        "m": " · ".join(([record.school] if record.school else []) + [record.type, record.subject, record.grade, "、".join(record.authors),
                         record.date.isoformat() if record.date else record.term]),
        "p": record.competencies,
        "x": excerpt,
        "e": record.exemplary,
    }
    poster = card_poster(extracted)
    if poster:  # a video's poster frame on its result card
        entry["v"] = "r/" + quote(record.id) + "/media/" + quote(poster)
    return entry


def result_files(documents: int) -> range:
    """The numbers of the result files that `documents` numbered documents fill."""
    return range((documents + DOCS_PER_FILE - 1) // DOCS_PER_FILE)


def write_docs(folder: Path, entries: dict[int, dict[str, object] | None], files: Iterable[int]) -> None:
    """Write the result files numbered `files` from `entries` (document number -> entry; a number
    without a live document is null)."""
    for number in files:
        start = number * DOCS_PER_FILE
        chunk = [entries.get(doc) for doc in range(start, start + DOCS_PER_FILE)]
        while chunk and chunk[-1] is None:
            chunk.pop()
        write_atomic(folder / "docs" / f"{number}.json", json_text(chunk).encode("utf-8"))


def write_postings(folder: Path, families: dict[str, Postings]) -> tuple[dict[str, int], dict[str, int]]:
    """Each family's shards under `folder/<family>/`, replacing the family's earlier shards.
    Returns (shard count, bytes) by family."""
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for family, postings in families.items():
        count, shards = postings.shards()
        counts[family] = count
        written: set[str] = set()
        sizes[family] = 0
        for number, content in shards:
            written.add(f"{number}.json.gz")
            sizes[family] += write_gz(folder / family / f"{number}.json.gz", content)
        for old in (folder / family).glob("*.json.gz") if (folder / family).is_dir() else ():
            if old.name not in written:
                old.unlink()
    return counts, sizes


def add_terms(families: dict[str, Postings], doc: int, terms: tuple[list[str], list[str], list[str]]) -> None:
    families["d"].add(doc, *terms)


def empty_families() -> dict[str, Postings]:
    return {"d": Postings.empty()}


def build_index(records: list[Record], extracted: dict[str, Extracted], catalog: Catalog, out: Path, memo: Memo | None = None) -> dict[str, int]:
    """Write the whole index for `records` (the accepted ones: refused submissions are never
    results) under `out/search/`, document numbers newest first."""
    memo = memo or token_memo(None)
    ordered = newest_first(records)  # so the browser sorts by date by sorting numbers
    folder = out / "search"
    families = empty_families()
    entries: dict[int, dict[str, object] | None] = {}
    for doc, record in enumerate(ordered):
        meta = metadata_fields(record, catalog)
        found = extracted.get(record.id)
        body = body_fields(found or Extracted())
        add_terms(families, doc, record_terms(record, meta, body, memo))
        entries[doc] = result_entry(record, found, body)
    write_docs(folder, entries, result_files(len(ordered)))
    counts, sizes = write_postings(folder, families)
    facets, columns = facet_table(list(ordered), catalog)
    facets["shards"] = counts
    facets["docs_per_file"] = DOCS_PER_FILE
    facets["fold"] = folding_table(families["d"].table)
    sizes["facets"], sizes["columns"] = write_facets(folder, facets, columns)
    return sizes


def write_facets(folder: Path, facets: dict[str, object], columns: dict[str, object]) -> tuple[int, int]:
    """Both files, each naming the same edition: a search page opened before a rebuild must not
    read the new columns against its old values (search.js checks)."""
    columns["edition"] = facets["columns"] = hashlib.sha1(json_text([facets, columns]).encode("utf-8")).hexdigest()[:16]
    return write_gz(folder / "facets.json.gz", facets), write_gz(folder / "columns.json.gz", columns)
