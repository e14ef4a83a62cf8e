"""The school's search index kept between builds: a base and a small delta.

Adding one submission to 10,000 used to rewrite every search file, because document numbers
followed the date and one new document moved all of them. Here numbers stay: a document keeps
its number for as long as its text and metadata do. What changed since the base was written goes
into a small delta index beside it (search/delta/), rewritten whole each build, and the base's
numbers that are no longer live are listed in facets.json.gz; search.js reads both and drops
those. Once the delta, the dropped numbers and the unused ones together pass a small share of the
site (MERGE_SHARE), the whole index is written again from the remembered tokens, as the first
build does. Lucene does the same with its segments.

The state lives in `.build/search-index/`: the canonical files (search/) and state.pickle. Each
build mirrors search/ into the site it is filling (hard links to what did not change). The state
is removed while the files change and written after them, so a build killed half-way is followed
by a whole rebuild, never by a mismatched index.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import index
from .catalog import Catalog
from .extract import Extracted
from .index import DOCS_PER_FILE, add_terms, empty_families, result_entry, result_files, write_docs, write_postings
from .memo import Memo
from .model import Record, json_text, newest_first

STATE = "state.pickle"
# The whole index is written again when documents not in the base, numbers of the base no longer
# live and numbers never used together pass this share of the live documents (or MERGE_MIN):
# the delta and the lists the browser fetches stay small, and a merge costs what a first build
# does (about 7 s at 10,000 on a 2-core machine) once every few hundred new submissions.
MERGE_SHARE = 0.02
MERGE_MIN = 64
VERSION = "segments 1 " + hashlib.sha1(Path(index.__file__).read_bytes() + Path(__file__).read_bytes()).hexdigest()


@dataclass
class State:
    version: str = VERSION
    docs: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # record id -> (document number, key of what it shows)
    base_n: int = 0  # numbers below this are in the base shards
    next_doc: int = 0  # the next number to give
    shards: dict[str, int] = field(default_factory=dict)  # the base's shard count by family
    dropped: set[int] = field(default_factory=set)  # base numbers no longer live
    delta: dict[int, tuple[list[str], list[str], list[str]]] = field(default_factory=dict)  # delta number -> its terms
    singles: set[str] = field(default_factory=set)  # single characters in any text (the folding table)
    delta_shards: dict[str, int] = field(default_factory=dict)  # the delta's shard count by family


def load_state(folder: Path) -> State | None:
    try:
        with (folder / STATE).open("rb") as handle:
            state = pickle.load(handle)  # noqa: S301 - our own file in the build folder
    except (OSError, pickle.PickleError, EOFError, AttributeError, TypeError, ValueError, ImportError):
        return None
    return state if isinstance(state, State) and state.version == VERSION else None


def save_state(folder: Path, state: State) -> None:
    partial = folder / f".{STATE}.{os.getpid()}.tmp"
    with partial.open("wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(folder / STATE)


@dataclass
class Doc:
    """One searchable record as the index sees it."""

    record: Record
    extracted: Extracted | None
    meta: list[str]
    body: list[str]
    entry: dict[str, object]
    key: bytes


def describe(record: Record, extracted: Extracted | None, catalog: Catalog) -> Doc:
    meta = index.metadata_fields(record, catalog)
    body = index.body_fields(extracted or Extracted())
    entry = result_entry(record, extracted, body)
    key = Memo.key("\x1e".join([json_text(entry), record.title, *meta, "\x1d", *body]))
    return Doc(record, extracted, meta, body, entry, key)


def update_index(records: list[Record], extracted: dict[str, Extracted], catalog: Catalog, folder: Path, memo_file: Path | None) -> dict[str, int]:
    """Bring the index in `folder/search/` up to date with `records`; returns bytes by part."""
    docs = {r.id: describe(r, extracted.get(r.id), catalog) for r in records}
    state = load_state(folder)
    (folder / STATE).unlink(missing_ok=True)  # from here on a killed build leaves no state: next time, whole
    plan = _plan(state, docs) if state is not None else None
    if plan is None:
        state = _whole(docs, catalog, folder, memo_file)
    else:
        assert state is not None
        _apply(state, plan, docs, folder)
    _write_facets(state, docs, catalog, folder)
    save_state(folder, state)
    return _sizes(folder / "search")


@dataclass
class Plan:
    kept: dict[str, int]  # record id -> its unchanged number
    added: list[str]  # record ids to number anew (new, or changed)
    gone: list[int]  # numbers no longer live (withdrawn or changed documents)


def _plan(state: State, docs: dict[str, Doc]) -> Plan | None:
    """What changed since the last build, or None when the whole index should be written again."""
    kept: dict[str, int] = {}
    added: list[str] = []
    for rid, doc in docs.items():
        known = state.docs.get(rid)
        if known is not None and known[1] == doc.key:
            kept[rid] = known[0]
        else:
            added.append(rid)
    gone = [number for rid, (number, _) in state.docs.items() if kept.get(rid) != number]
    delta = len(state.delta) - sum(1 for n in gone if n in state.delta) + len(added)
    dropped = len(state.dropped) + sum(1 for n in gone if n < state.base_n)
    unused = state.next_doc + len(added) - len(docs) - dropped
    if delta + dropped + unused > max(MERGE_MIN, MERGE_SHARE * len(docs)):
        return None
    return Plan(kept, added, gone)


def _whole(docs: dict[str, Doc], catalog: Catalog, folder: Path, memo_file: Path | None) -> State:
    """Write the whole index again, numbers newest first (the first build, and every merge)."""
    memo = index.token_memo(memo_file)
    search = folder / "search"
    if search.exists():
        shutil.rmtree(search)
    ordered = newest_first(d.record for d in docs.values())
    families = empty_families()
    entries: dict[int, dict[str, object] | None] = {}
    state = State()
    for number, record in enumerate(ordered):
        doc = docs[record.id]
        add_terms(families, number, index.record_terms(record, doc.meta, doc.body, memo))
        entries[number] = doc.entry
        state.docs[record.id] = (number, doc.key)
    memo.save()
    write_docs(search, entries, result_files(len(ordered)))
    state.shards, _ = write_postings(search, families)
    state.base_n = state.next_doc = len(ordered)
    state.singles = index.single_characters(families["d"].table)
    return state


def _apply(state: State, plan: Plan, docs: dict[str, Doc], folder: Path) -> None:
    """Number the added documents after the last number, drop the gone ones, and write the delta
    and the result files that changed."""
    search = folder / "search"
    touched: set[int] = set()
    for number in plan.gone:
        if number < state.base_n:
            state.dropped.add(number)
        state.delta.pop(number, None)
        touched.add(number // DOCS_PER_FILE)
    state.docs = {rid: entry for rid, entry in state.docs.items() if rid in plan.kept}
    entries: dict[int, dict[str, object] | None] = {}
    for rid in plan.added:
        doc = docs[rid]
        number = state.next_doc
        state.next_doc += 1
        state.docs[rid] = (number, doc.key)
        terms = index.record_terms(doc.record, doc.meta, doc.body, index.token_memo(None))
        state.delta[number] = terms
        state.singles |= index.single_characters(terms[2])
        entries[number] = doc.entry
        touched.add(number // DOCS_PER_FILE)
    # A result file holds DOCS_PER_FILE entries: the others in a touched file are read back.
    live = _live_numbers(state)
    for file in touched:
        for number in range(file * DOCS_PER_FILE, (file + 1) * DOCS_PER_FILE):
            if number not in entries:
                entries[number] = None
        path = search / "docs" / f"{file}.json"
        if path.exists():
            for offset, entry in enumerate(json.loads(path.read_text(encoding="utf-8"))):
                number = file * DOCS_PER_FILE + offset
                if number in live and entries.get(number) is None:
                    entries[number] = entry
    write_docs(search, entries, sorted(touched))
    families = empty_families()
    for number in sorted(state.delta):
        add_terms(families, number, state.delta[number])
    state.delta_shards, _ = write_postings(search / "delta", families)


def _live_numbers(state: State) -> set[int]:
    return {number for number, _ in state.docs.values()}


def _write_facets(state: State, docs: dict[str, Doc], catalog: Catalog, folder: Path) -> None:
    search = folder / "search"
    by_number: list[Record | None] = [None] * state.next_doc
    for rid, (number, _) in state.docs.items():
        by_number[number] = docs[rid].record
    facets, columns = index.facet_table(by_number, catalog)
    facets["shards"] = state.shards
    facets["docs_per_file"] = DOCS_PER_FILE
    facets["fold"] = index.folding_table(state.singles)
    if state.delta:
        facets["delta"] = state.delta_shards
    else:
        shutil.rmtree(search / "delta", ignore_errors=True)
    if state.dropped:
        facets["dropped"] = index.gaps(sorted(state.dropped))
    live = [r for r in by_number if r is not None]
    order = [state.docs[r.id][0] for r in newest_first(live)]
    if order != list(range(len(order))) or len(order) != state.next_doc:
        # Newest first, as differences from the number before (mostly 1: the base is numbered
        # in this order already).
        facets["order"] = ",".join(str(b - a) for a, b in zip([-1, *order], order))
    index.write_facets(search, facets, columns)


def _sizes(search: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for family in ("d",):
        sizes[family] = sum(p.stat().st_size for p in (search / family).glob("*.json.gz")) if (search / family).is_dir() else 0
        delta = search / "delta" / family
        if delta.is_dir():
            sizes[family] += sum(p.stat().st_size for p in delta.glob("*.json.gz"))
    sizes["facets"] = (search / "facets.json.gz").stat().st_size
    sizes["columns"] = (search / "columns.json.gz").stat().st_size
    return sizes


def mirror(canonical: Path, target: Path) -> None:
    """Make the index files in `target` (a site's search/ folder) those of `canonical`: hard links
    to files that changed, none where one went; the rest of `target` (the search page) is left.
    Files are compared by the inode numbers the folder listings give, without a stat each; when
    the two are on different file systems (copies, not links), by size and modification time."""
    target.mkdir(parents=True, exist_ok=True)
    linked = os.stat(canonical).st_dev == os.stat(target).st_dev
    wanted = _identities(str(canonical), ("",), linked)
    present = _identities(str(target), ("h", "t", "d", "docs", "delta"), linked)
    with os.scandir(target) as entries:  # the top level's files that are the index's (not the search page)
        present.update((e.name, _identity(e, linked)) for e in entries if e.name in wanted and not e.is_dir(follow_symlinks=False))
    for relative, identity in wanted.items():
        if present.get(relative) == identity:
            continue
        source, path = os.path.join(canonical, relative), os.path.join(target, relative)
        if relative in present:
            os.unlink(path)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.link(source, path)
        except OSError:  # another file system, or links not allowed: copy instead (with its time)
            shutil.copy2(source, path)
    for relative in present.keys() - wanted.keys():
        os.unlink(os.path.join(target, relative))
    for part in ("h", "t", "d", "docs", "delta"):
        for folder, _, _ in os.walk(target / part, topdown=False):
            if folder != str(target / part) and not os.listdir(folder):
                os.rmdir(folder)


def _identity(entry: os.DirEntry[str], linked: bool) -> object:
    if linked:
        return entry.inode()
    info = entry.stat(follow_symlinks=False)
    return info.st_size, info.st_mtime_ns


def _identities(root: str, parts: tuple[str, ...], linked: bool = True) -> dict[str, object]:
    """Relative path -> identity (inode, or size and time) of every file (not hidden) under the
    `parts` of `root`."""
    found: dict[str, object] = {}
    pending = [part for part in parts if os.path.isdir(os.path.join(root, part))]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(root, relative)) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                name = os.path.join(relative, entry.name) if relative else entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append(name)
                else:
                    found[name] = _identity(entry, linked)
    return found
