"""Extract: derive what pages show from what teachers handed in, cached by content hash.

For each submission:
- the body of a Markdown submission, rendered and sanitised (teachers may paste raw HTML);
- for each attached file, by kind: the text of documents (.docx .pdf .pptx, and legacy .doc .wps
  .ppt through LibreOffice), a PDF preview of Office documents, and for videos the probe
  (duration, codecs), a browser-playable MP4 when the original is not, a poster frame and
  captions from a .srt/.vtt beside it.

Every artefact is made once per source content (SHA-256) into `.cache/` and reused by later
builds; a file that fails is remembered as failed too, so a broken upload costs nothing the next
time. A broken file is a warning naming it: the submission still publishes with the file offered
for download, and the build never stops for it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import multiprocessing
import os
import re
import shutil
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import nh3

from . import documents, pages, video
from .catalog import Catalog
from .forks import Isolated, frozen_heap, isolated, pool_worker, warm_up
from .memo import Memo
from .model import FILES_DIGEST, Attachment, Problem, Record

# Bump a kind's version when its output changes, so artefacts made by older code are not reused.
VERSIONS = {"body": "1", "text": "4", "preview": "2", "modern": "2", "probe": "3", "published": "1", "playable": "2", "poster": "2", "captions": "2", "sheets": "1"}
_CHUNK = 1 << 20
T = TypeVar("T")


def file_digest(path: Path) -> str:
    """SHA-256 of a file, streamed: videos can be gigabytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtefactError(Exception):
    """Making an artefact failed (now or in an earlier build); the message is for admins."""


class Unsteady(ArtefactError):
    """The source changed or went while its artefact was made: nothing is kept, the next build
    makes it again. Its message says so and needs no advice added."""


UNSTEADY = "文件在生成网站时正被修改或复制，本次未处理；复制完成后会在下次生成时处理"
VANISHED = "文件在生成网站时被删除或移动，本次未发布；放回原处后会在下次生成时发布"


def passing(reason: str) -> bool:
    """A finding about this build's moment (a file being copied or moved), not about the file."""
    return UNSTEADY in reason or VANISHED in reason


ONE_BY_ONE = 50  # questions about one kind of artefact answered by a query each, before all are read


@dataclass
class Cache:
    """Artefacts keyed by (kind, version, source hash) in a git-ignored folder.

    Files that pages link to (previews, playable videos, posters, captions, converted documents)
    are files; small results (Markdown bodies, document text, video probes) are rows of one
    SQLite file, since 10,000 tiny files cost more to write and read than the work they save.
    Hashing a 2 GB video takes seconds, so a file's hash is remembered against its size, mtime
    and inode and recomputed only when those change.
    """

    root: Path
    hits: int = 0
    misses: int = 0
    _digests: dict[str, list[object]] = field(default_factory=dict)
    _digests_loaded: bool = False
    _db: sqlite3.Connection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _made: dict[tuple[str, str, str], tuple[bool, str]] = field(default_factory=dict)  # not yet stored
    _rows: dict[str, dict[str, tuple[bool, str]]] = field(default_factory=dict)  # kind -> digest -> stored row
    _asked: dict[str, int] = field(default_factory=dict)  # kind -> questions answered row by row
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)  # artefacts being made
    _adopted: set[tuple[str, str]] = field(default_factory=set)  # made in a batch this build (counted as misses)
    lookups: dict[str, int] = field(default_factory=dict)  # record id -> lookups made for it (see `working_on`)
    _current: threading.local = field(default_factory=threading.local)
    _hashed: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # digest -> {path: stamp} hashed this build

    @contextlib.contextmanager
    def working_on(self, record_id: str) -> Iterator[None]:
        """Lookups made in this thread meanwhile (`looked_up`) are counted for the record
        (ExtractMemo says as many hits when it stands in for them)."""
        self._current.record = record_id
        try:
            yield
        finally:
            self._current.record = None

    def looked_up(self) -> None:
        record = getattr(self._current, "record", None)
        if record is not None:
            with self._lock:
                self.lookups[record] = self.lookups.get(record, 0) + 1

    # -- digests --
    def _memo_path(self) -> Path:
        return self.root / "digests.json"

    def _load_digests(self) -> None:
        if not self._digests_loaded:
            try:
                self._digests = json.loads(self._memo_path().read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._digests = {}
            self._digests_loaded = True

    def _stamp(self, path: Path) -> tuple[str, list[int]]:
        self._load_digests()
        stat = path.stat()
        return str(path.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ino]

    def known_digest(self, path: Path) -> str | None:
        """The file's hash if it is remembered for its current size, mtime and inode (no reading)."""
        return self._known(*self._stamp(path))

    def _known(self, key: str, stamp: list[int]) -> str | None:
        known = self._digests.get(key)
        return str(known[3]) if known and known[:3] == stamp else None

    def digest(self, path: Path) -> str:
        key, stamp = self._stamp(path)
        value = self._known(key, stamp) or file_digest(path)
        self._digests[key] = [*stamp, value]
        self._hashed.setdefault(value, {})[key] = stamp
        return value

    def _unsteady(self, digest: str) -> Unsteady | None:
        """Why what was just made for `digest` cannot be kept: a file hashed as `digest` this
        build (any of them: two submissions may hold the same file, and either may be the one
        read) has changed or gone since. Made from a half-copied file (a teacher copying the
        same folder over itself again), a result or a failure says nothing about that content."""
        for path, stamp in list(self._hashed.get(digest, {}).items()):
            try:
                stat = os.stat(path)
            except OSError:
                return Unsteady(VANISHED)
            if [stat.st_size, stat.st_mtime_ns, stat.st_ino] != stamp:
                return Unsteady(UNSTEADY)
        return None

    def save(self) -> None:
        """Store what this build made, in one transaction, and the file hashes."""
        if self._digests_loaded:
            self.root.mkdir(parents=True, exist_ok=True)
            partial = self._memo_path().with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(self._digests), encoding="utf-8")
            partial.replace(self._memo_path())
        with self._lock:
            if self._made:
                with self._connection() as db:
                    db.executemany("INSERT OR REPLACE INTO artefacts VALUES (?, ?, ?, ?, ?)",
                                   [(*key, int(ok), value) for key, (ok, value) in self._made.items()])
                self._made.clear()
        self.close()

    def close(self) -> None:
        """Close the database (it reopens when next needed). Done before this process forks:
        a SQLite connection must never be used or closed by a forked child."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- small artefacts: rows --
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.root / "artefacts.sqlite", check_same_thread=False, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")  # a second build reading meanwhile is not blocked
            self._db.execute("CREATE TABLE IF NOT EXISTS artefacts (kind TEXT, version TEXT, digest TEXT, ok INTEGER, value TEXT, "
                             "PRIMARY KEY (kind, version, digest)) WITHOUT ROWID")
        return self._db

    def _stored(self, kind: str, digest: str) -> tuple[bool, str] | None:
        """A cold build asks for nearly every stored artefact of a kind: after a few questions one
        query reads them all. A rebuild (one new submission) asks a few: one row each."""
        key = (kind, VERSIONS[kind], digest)
        with self._lock:
            if key in self._made:
                return self._made[key]
            if kind not in self._rows:
                self._asked[kind] = asked = self._asked.get(kind, 0) + 1
                if asked <= ONE_BY_ONE:
                    row = self._connection().execute("SELECT ok, value FROM artefacts WHERE kind = ? AND version = ? AND digest = ?", key).fetchone()
                    return None if row is None else (bool(row[0]), str(row[1]))
                rows = self._connection().execute("SELECT digest, ok, value FROM artefacts WHERE kind = ? AND version = ?", key[:2])
                self._rows[kind] = {row[0]: (bool(row[1]), str(row[2])) for row in rows}
            return self._rows[kind].get(digest)

    def has(self, kind: str, digest: str) -> bool:
        return self._stored(kind, digest) is not None

    def put(self, kind: str, digest: str, value: str, ok: bool = True) -> None:
        """Store a small artefact made elsewhere (in a worker process), or why it failed."""
        with self._lock:
            self._made[(kind, VERSIONS[kind], digest)] = (ok, value)

    def text(self, kind: str, digest: str, make: Callable[[], str]) -> str:
        """The small artefact for (kind, digest), made by `make()` if missing. A failure is kept
        too and raised as ArtefactError, this build and the next."""
        with self._making(kind, digest):  # the same file twice in a build is read once
            return self._text(kind, digest, make)

    def _text(self, kind: str, digest: str, make: Callable[[], str]) -> str:
        self.looked_up()
        found = self._stored(kind, digest)
        if found is None:
            self.misses += 1
            try:
                found = (True, make())
            except (documents.DocumentError, video.MediaError, ArtefactError, Isolated) as error:
                found = (False, str(error))
            except Exception as error:  # any parser failure on a teacher's file is a finding, not a crash
                found = (False, f"无法读取（{documents.os_reason(error)}）")
            if unsteady := self._unsteady(digest):  # made from a half-copied file, or failed on one
                raise unsteady
            with self._lock:
                self._made[(kind, VERSIONS[kind], digest)] = found
        else:
            self.hits += 1
        ok, value = found
        if not ok:
            raise ArtefactError(value)
        return value

    @contextlib.contextmanager
    def _making(self, kind: str, digest: str) -> Iterator[None]:
        """Threads asking for the same artefact at once: the first makes it, the others wait."""
        with self._lock:
            lock = self._locks.setdefault((kind, digest), threading.Lock())
        with lock:
            yield

    # -- artefacts that are files --
    def artefact(self, kind: str, digest: str, suffix: str, make: Callable[[Path], None]) -> Path:
        """The cached file for (kind, digest), made by `make(target)` if missing."""
        with self._making(kind, digest):
            return self._artefact(kind, digest, suffix, make)

    def _paths(self, kind: str, digest: str, suffix: str) -> tuple[Path, Path, Path]:
        base = self.root / kind / VERSIONS[kind] / digest[:2] / digest
        return base, base.with_suffix(suffix), base.with_suffix(".error")

    def has_file(self, kind: str, digest: str, suffix: str) -> bool:
        """The artefact, or why it failed, is there."""
        _, done, failed = self._paths(kind, digest, suffix)
        return done.exists() or failed.exists()

    def adopt(self, kind: str, digest: str, suffix: str, made: Path) -> None:
        """Take in an artefact made elsewhere (by a batch of conversions)."""
        base, done, _ = self._paths(kind, digest, suffix)
        if self._unsteady(digest):  # converted from a half-copied file: made again alone, later
            _remove(made)
            return
        base.parent.mkdir(parents=True, exist_ok=True)
        partial = base.with_name(f"{digest}.partial{os.getpid()}-{threading.get_ident()}{suffix}")
        shutil.move(str(made), partial)
        partial.replace(done)
        with self._lock:
            self.misses += 1
            self._adopted.add((kind, digest))

    def _artefact(self, kind: str, digest: str, suffix: str, make: Callable[[Path], None]) -> Path:
        self.looked_up()
        base, done, failed = self._paths(kind, digest, suffix)
        if done.exists():
            if (kind, digest) in self._adopted:
                self._adopted.discard((kind, digest))  # made this build: counted when adopted
            else:
                self.hits += 1
            return done
        if failed.exists():
            self.hits += 1
            raise ArtefactError(failed.read_text(encoding="utf-8"))
        self.misses += 1
        base.parent.mkdir(parents=True, exist_ok=True)
        partial = base.with_name(f"{digest}.partial{os.getpid()}-{threading.get_ident()}{suffix}")
        message: str | None
        try:
            make(partial)
            if not partial.exists():
                raise ArtefactError("没有生成输出文件")
        except (documents.DocumentError, video.MediaError, ArtefactError, Isolated) as error:
            message = str(error)
        except Exception as error:  # any parser failure on a teacher's file is a finding, not a crash
            message = f"无法读取（{documents.os_reason(error)}）"
        else:
            message = None
        if unsteady := self._unsteady(digest):  # made from a half-copied file, or failed on one: kept neither way
            _remove(partial)
            raise unsteady
        if message is None:
            partial.replace(done)  # complete or absent: never a half-written artefact
            return done
        _remove(partial)
        failed.write_text(message, encoding="utf-8")
        raise ArtefactError(message)


def _remove(path: Path) -> None:
    """A partial artefact: a file, or a folder (a PDF's page images)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Parsers:
    """Where pure-Python parsing runs. python-docx, python-pptx and Markdown hold the GIL, so on a
    build with much new to read they run in worker processes, one per core; the pool is forked
    from the main thread before any other thread starts. A build with little new starts none.

    A file that kills its worker (a zip bomb exhausting memory) breaks the whole pool, and every
    file waiting in it would fail with it. Then each remaining file is read alone in a fresh
    process: the others are read as usual, and only the culprit is recorded as unreadable."""

    def __init__(self, jobs: int):
        self.pool: ProcessPoolExecutor | None = None
        self.broken = False
        workers = min(os.cpu_count() or 1, 8)
        if jobs >= PARALLEL_FROM and workers > 1:
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=pool_worker)
            with frozen_heap():
                self.pool.submit(int).result()  # fork the workers now, from this thread

    def run(self, function: Callable[..., str], *args: object) -> str:
        if self.pool is not None and not self.broken:
            try:
                return self.pool.submit(function, *args).result()
            except BrokenProcessPool:
                self.broken = True
        return _alone(function, *args) if self.broken else function(*args)

    def map(self, function: Callable[..., T], *columns: Iterable[object]) -> list[T]:
        if self.pool is not None and not self.broken:
            try:
                return list(self.pool.map(function, *columns, chunksize=64))
            except BrokenProcessPool:
                self.broken = True
        return list(map(function, *columns))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _alone(function: Callable[..., str], *args: object) -> str:
    """Run one parse in a process of its own. A forkserver's children are forked from a clean
    process, so this is safe from the conversion threads, unlike forking this one."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver")) as alone:
        try:
            return alone.submit(function, *args).result()
        except BrokenProcessPool as error:
            raise documents.DocumentError("读取时解析程序异常退出（文件可能已损坏或过大）") from error


PARALLEL_FROM = 16  # fewer new files than this are read in the build's own process


# PDFium and FFmpeg are C: a malformed file could crash or hang whatever process reads it, so
# each PDF, video probe and poster is read in a process of its own (forks.isolated).
MEDIA_TIMEOUT = 600.0


def _read_text(parsers: Parsers, suffix: str, path: Path) -> str:
    if suffix == ".pdf":
        return isolated(documents.read_text_json, suffix, path, timeout=MEDIA_TIMEOUT)
    return parsers.run(documents.read_text_json, suffix, path)


# -- what a page shows for one file --------------------------------------------------------------


@dataclass
class Published:
    """A derived file to place beside the page: where it comes from and its name under media/."""

    source: Path
    name: str


@dataclass
class FileView:
    text_html: str | None = None
    text: str = ""
    preview: Published | None = None  # PDF rendering of an Office document
    video: video.VideoInfo | None = None
    playable: Published | None = None  # a browser-playable copy when the original is not
    poster: Published | None = None
    captions: Published | None = None
    caption_of: str | None = None  # this file is the captions of that video: not listed itself
    sheets: list[pages.Sheet] = field(default_factory=list)  # images of the first pages of a PDF
    caption_language: str = "zh"  # what the captions say: the track's srclang
    unplayable: bool = False  # a video that is not one, or damaged: offered as a download only

    @property
    def caption_label(self) -> str:
        return video.LANGUAGES[self.caption_language]

    def published(self) -> list[Published | pages.Sheet]:
        return [p for p in (self.preview, self.playable, self.poster, self.captions) if p is not None] + list(self.sheets)


@dataclass
class Extracted:
    body_html: str | None = None
    files: dict[str, FileView] = field(default_factory=dict)  # attachment name -> view
    # Set when ExtractMemo stands in for the work: what it was made from (see `extracted_digest`).
    digest: str = field(default="", init=False, repr=False, compare=False)

    @property
    def documents(self) -> dict[str, str]:
        """Attachment name -> page HTML of its text, for files that have text."""
        return {name: view.text_html for name, view in self.files.items() if view.text_html}


@dataclass
class Tools:
    """Which helpers this machine has; each missing one is reported once per build."""

    ffmpeg: bool
    libreoffice: bool
    previews: bool = True  # the school may turn Office previews off (settings: office_previews)
    max_video_mb: int = 2048  # larger files are flagged and not processed (settings)
    max_file_mb: int = 500

    @classmethod
    def detect(cls, previews: bool = True, max_video_mb: int = 2048, max_file_mb: int = 500) -> Tools:
        return cls(video.ffmpeg_available(), documents.libreoffice() is not None, previews, max_video_mb, max_file_mb)


# What a file's first bytes must say for its name's extension (filetype reads the signature).
_EXPECTED: list[tuple[frozenset[str], str, Callable[[str, str], bool]]] = [
    (frozenset(video.VIDEO_SUFFIXES), "视频", lambda ext, mime: mime.startswith("video/")),
    (frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}), "图片", lambda ext, mime: mime.startswith("image/")),
    (frozenset({".pdf"}), "PDF 文件", lambda ext, mime: mime == "application/pdf"),
    (frozenset({".docx", ".pptx", ".xlsx"}), "Office 文档", lambda ext, mime: ext in ("docx", "pptx", "xlsx", "zip")),
    (frozenset({".doc", ".ppt", ".xls", ".wps"}), "旧版 Office 文档", lambda ext, mime: ext in ("doc", "ppt", "xls", "msi")),
]


def _vint(data: bytes, at: int) -> tuple[int, int]:
    """An EBML variable-length integer at `at`: (value, its length in bytes); (-1, 1) if invalid."""
    first = data[at] if at < len(data) else 0
    length = 9 - first.bit_length() if first else 9
    if length > 8 or at + length > len(data):
        return -1, 1
    value = first & (0xFF >> length)
    for byte in data[at + 1:at + length]:
        value = value << 8 | byte
    return value, length


def ebml_doctype(head: bytes) -> str | None:
    """The DocType ("webm", "matroska") of a Matroska/WebM file's EBML header, read the way the
    format defines it: sizes may take one to eight bytes (filetype only knows the one-byte form)."""
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    size, length = _vint(head, 4)
    at, end = 4 + length, min(len(head), 4 + length + max(size, 0))
    while 0 <= at < end:
        _, id_length = _vint(head, at)  # element ids are vints too (Void and CRC-32 take one byte)
        value_size, length = _vint(head, at + id_length)
        if value_size < 0:
            return None
        start = at + id_length + length
        if head[at:at + id_length] == b"\x42\x82":
            return head[start:start + value_size].rstrip(b"\0").decode("ascii", "replace")
        at = start + value_size
    return None


def _looks_like_video(path: Path, mime: str) -> bool:
    if mime.startswith("video/"):
        return True
    with path.open("rb") as handle:
        head = handle.read(3 * 188)
    transport_stream = len(head) == 3 * 188 and head[0] == head[188] == head[376] == 0x47  # .ts: sync bytes 188 apart
    return transport_stream or ebml_doctype(head) in ("webm", "matroska")


def content_mismatch(path: Path, suffix: str) -> str | None:
    """A reason when the content is not what the name says (a text file named .mp4), else None."""
    import filetype

    for suffixes, what, accepts in _EXPECTED:
        if suffix in suffixes:
            kind = filetype.guess(str(path))
            mime = kind.mime if kind else ""
            if what == "视频" and _looks_like_video(path, mime):
                return None
            if kind is None or not accepts(kind.extension, kind.mime):
                seen = f"识别为 {kind.extension}" if kind else "无法识别"
                return f"文件名是 {suffix}，但内容不是{what}（{seen}），未做处理，仍可下载；请检查文件是否损坏或改错了扩展名"
            return None
    return None


def _with_advice(reason: str, advice: str) -> str:
    """The reason, and what to do unless the reason already says it (messages that say "请…")."""
    return reason if "请" in reason else reason + advice


def _garbled_note(pages: list[int], some_left: bool) -> str:
    where = "第 " + "、".join(str(n) for n in pages[:10]) + (" 等" if len(pages) > 10 else "") + " 页的" if some_left else ""
    return (f"{where}文字无法正确提取（PDF 的字体缺少编码信息，取出来是乱码），页面和搜索中不显示这些文字，文件仍可下载；"
            "如需可搜索的文字，请用原文档重新导出 PDF（如 Word/WPS“另存为 PDF”），或同时提交 Word 版")


def _warn(record: Record, attachment: Attachment, reason: str) -> Problem:
    return Problem(record.source_label, f"文件 {attachment.name}", reason, refused=False)


def _document_view(record: Record, attachment: Attachment, index: int, cache: Cache, tools: Tools, parsers: Parsers, problems: list[Problem]) -> FileView:
    view = FileView()
    suffix = attachment.suffix
    digest = cache.digest(attachment.source)
    readable: tuple[str, Path] | None = None  # (reader's suffix, file)
    if suffix in documents.READERS:
        readable = (suffix, attachment.source)
    elif suffix in documents.LEGACY_TO_MODERN and tools.libreoffice:
        modern = documents.LEGACY_TO_MODERN[suffix]
        try:
            converted = cache.artefact("modern", digest, modern, lambda t: documents.convert(attachment.source, t, modern[1:]))
            readable = (modern, converted)
        except ArtefactError as error:
            problems.append(_warn(record, attachment, f"无法转换旧格式文档：{error}；文件仍可下载"))
    if readable is not None:
        try:
            text = cache.text("text", digest, lambda: _read_text(parsers, *readable))
            view.text_html, view.text, garbled = documents.DocText.from_json(text)
            if garbled:
                problems.append(_warn(record, attachment, _garbled_note(garbled, bool(view.text.strip()))))
            elif not view.text.strip() and suffix in documents.PLAIN_SUFFIXES:
                problems.append(_warn(record, attachment, "文件里只有空白，没有文字"))
            elif not view.text.strip():
                problems.append(_warn(record, attachment, "文档里没有可提取的文字（可能是扫描件或图片），文件仍可下载；如需在网页上显示和搜索文字，请同时提交 Word 版或带文字层的 PDF"))
        except ArtefactError as error:
            editor = "记事本" if suffix in documents.PLAIN_SUFFIXES else "Office/WPS"
            problems.append(_warn(record, attachment, _with_advice(str(error), f"；文件仍可下载，请用{editor}打开检查是否损坏，必要时另存后重新提交")))
    if suffix in documents.OFFICE_PREVIEWABLE and tools.libreoffice and tools.previews:
        try:
            pdf = cache.artefact("preview", digest, ".pdf", lambda t: documents.convert(attachment.source, t, "pdf"))
            view.preview = Published(pdf, f"{index}-preview.pdf")
        except ArtefactError as error:
            problems.append(_warn(record, attachment, f"无法生成 PDF 预览：{error}"))
    # Page images of a PDF that could be read (a broken one has been reported already) or of the preview.
    pdf = (attachment.source if view.text_html is not None else None) if suffix == ".pdf" else view.preview.source if view.preview else None
    if pdf is not None:
        try:
            view.sheets = pages.sheets(cache, digest, pdf, index)
        except ArtefactError as error:
            problems.append(_warn(record, attachment, f"无法生成页面图片：{error}；文件仍可下载"))
    return view


def _probe(cache: Cache, kind: str, digest: str, path: Path) -> video.VideoInfo:
    """The probe of a source ("probe") or of its playable copy ("published"), both keyed by the source."""
    return video.VideoInfo.from_json(cache.text(kind, digest, lambda: isolated(video.probe, path, timeout=MEDIA_TIMEOUT).to_json()))


def _video_view(record: Record, attachment: Attachment, index: int, cache: Cache, catalog: Catalog, tools: Tools, problems: list[Problem]) -> FileView:
    view = FileView()
    digest = cache.digest(attachment.source)
    try:
        info = _probe(cache, "probe", digest, attachment.source)
    except ArtefactError as error:
        problems.append(_warn(record, attachment, _with_advice(f"{error}；网页上只提供下载", "，请用播放器打开检查")))
        view.unplayable = True
        return view
    view.video = info
    how = video.plan(info, attachment.suffix, attachment.source)
    if how != video.AS_IS and tools.ffmpeg:  # without it, said once per build
        suffix = video.playable_suffix(how)
        try:
            made = cache.artefact("playable", digest, suffix, lambda t: video.make_playable(attachment.source, t, how))
            view.playable = Published(made, f"{index}-video{suffix}")
            view.video = info = _probe(cache, "published", digest, made)  # what is shown is the published file's duration
        except ArtefactError as error:
            problems.append(_warn(record, attachment, _with_advice(f"{error}，浏览器可能无法播放；文件仍可下载", "，可用格式工厂等工具转为 MP4（H.264）后重新提交")))
    try:
        jpg = cache.artefact("poster", digest, ".jpg", lambda t: isolated(video.poster, attachment.source, t, info.duration, timeout=MEDIA_TIMEOUT))
        view.poster = Published(jpg, f"{index}-poster.jpg")
    except ArtefactError as error:
        problems.append(_warn(record, attachment, _with_advice(error.args[0], "；视频仍可播放，只是没有封面图")))
    limit = catalog.types[record.type].max_minutes if record.type in catalog.types else None
    if limit and info.minutes > limit:
        problems.append(_warn(record, attachment, f"视频时长 {info.clock}，超过{record.type}建议的 {limit:g} 分钟；仍已发布，如需精简请剪辑后重新提交"))
    return view


def _attach_captions(record: Record, views: dict[str, FileView], cache: Cache, problems: list[Problem]) -> None:
    """A .srt/.vtt with the same stem as a video becomes that video's captions track."""
    videos = {Path(a.name).with_suffix("").as_posix(): a for a in record.attachments if views[a.name].video is not None}
    for index, attachment in enumerate(record.attachments):
        if attachment.suffix not in video.CAPTION_SUFFIXES:
            continue
        target = videos.get(Path(attachment.name).with_suffix("").as_posix())
        if target is None:
            continue
        try:
            vtt = cache.artefact("captions", cache.digest(attachment.source), ".vtt", lambda t: video.captions(attachment.source, t))
        except ArtefactError as error:
            problems.append(_warn(record, attachment, _with_advice(f"字幕无法使用：{error}", "；请用字幕软件另存为 UTF-8 编码的标准 SRT 或 VTT 后重新提交")))
            continue
        views[target.name].captions = Published(vtt, f"{index}-captions.vtt")
        views[target.name].caption_language = video.caption_language(vtt.read_text(encoding="utf-8"))
        views[attachment.name].caption_of = target.name


def _view(record: Record, attachment: Attachment, index: int, cache: Cache, catalog: Catalog, tools: Tools, parsers: Parsers) -> tuple[FileView, list[Problem]]:
    problems: list[Problem] = []
    if attachment.size == 0:
        problems.append(_warn(record, attachment, "文件是空的（0 字节）"))
        return FileView(), problems
    is_video = attachment.suffix in video.VIDEO_SUFFIXES
    limit = tools.max_video_mb if is_video else tools.max_file_mb
    if attachment.size > limit * 1024 * 1024:
        problems.append(_warn(record, attachment, f"文件有 {attachment.size / 1024 / 1024:.0f} MB，超过 {limit} MB 的上限，未做处理，仍可下载"))
        return FileView(), problems
    mismatch = content_mismatch(attachment.source, attachment.suffix)
    if mismatch:
        problems.append(_warn(record, attachment, mismatch))
        return FileView(unplayable=is_video), problems
    if is_video:
        return _video_view(record, attachment, index, cache, catalog, tools, problems), problems
    return _document_view(record, attachment, index, cache, tools, parsers, problems), problems


# -- Markdown bodies -----------------------------------------------------------------------------


def _rewrite_src(names: set[str]) -> Callable[[str, str, str], str | None]:
    """Keep images offline: a relative path to one of the submission's files is pointed at its
    published copy; anything that would load from another host is dropped."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            parts = urlsplit(value)
            if parts.scheme or parts.netloc:
                return None
            name = parts.path.lstrip("./")
            return "files/" + quote(name) if name in names else None
        return value

    return attribute_filter


@functools.cache
def _markdown() -> Any:
    """One converter per process, reset between texts: building it costs more than a short body."""
    import markdown  # only when a Markdown body changed

    return markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"])


def markdown_html(text: str, attachment_names: Iterable[str] = ()) -> str:
    """Render a teacher's Markdown and keep only harmless formatting (no scripts, handlers, frames)."""
    rendered = _markdown().reset().convert(text)
    # The page has its own h1 and a "正文" h2: the teacher's headings sit below them.
    rendered = re.sub(r"<(/?)h([1-6])\b", lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}", rendered)
    return nh3.clean(rendered, attribute_filter=_rewrite_src(set(attachment_names)), link_rel="noopener noreferrer")


def _body_source(record: Record) -> tuple[str, str, list[str]]:
    """(key, Markdown, attachment names): a body is rendered once per content and per set of
    attachment names it may cite."""
    names = sorted(a.name for a in record.attachments)
    text = record.body_markdown or ""
    return hashlib.sha256("\0".join([text, *names]).encode("utf-8")).hexdigest(), text, names


def safe_markdown_html(text: str, names: list[str]) -> tuple[bool, str]:
    """(True, HTML), or (False, reason) when Markdown cannot lay the body out (a list nested
    thousands deep exhausts its recursion): one teacher's text must not stop the build."""
    from .limits import markdown_problem

    if (too_slow := markdown_problem(text)) is not None:
        return False, too_slow
    try:
        return True, markdown_html(text, names)
    except Exception as error:  # RecursionError and whatever else a parser may raise
        _markdown.cache_clear()  # a converter interrupted midway renders every later text wrong
        return False, f"正文无法按 Markdown 排版（{type(error).__name__}），已按纯文本显示"


def _render_bodies(sources: list[tuple[str, str, list[str]]], cache: Cache, parsers: Parsers) -> dict[str, tuple[bool, str]]:
    """Render the bodies the cache does not have yet, side by side when there are many."""
    missing = list({key: (key, text, names) for key, text, names in sources if not cache.has("body", key)}.values())
    rendered = parsers.map(safe_markdown_html, [text for _, text, _ in missing], [names for _, _, names in missing])
    for (key, _, _), (ok, value) in zip(missing, rendered):
        cache.put("body", key, value, ok)
    return {key: made for (key, _, _), made in zip(missing, rendered)}


def _view_of(record: Record, attachment: Attachment, index: int, cache: Cache, catalog: Catalog, tools: Tools, parsers: Parsers) -> tuple[FileView, list[Problem]]:
    """`_view` in a worker thread, its cache lookups counted for the record."""
    with cache.working_on(record.id):
        view, problems = _view(record, attachment, index, cache, catalog, tools, parsers)
    moment = next((p for p in problems if passing(p.reason)), None)
    if moment is not None:  # the file changed meanwhile: one line says so, the file is offered as it is
        return FileView(), [_warn(record, attachment, UNSTEADY if UNSTEADY in moment.reason else VANISHED)]
    return view, problems


def _body(record: Record, source: tuple[str, str, list[str]], fresh: dict[str, tuple[bool, str]], cache: Cache, problems: list[Problem]) -> str:
    key, text, names = source
    if key in fresh:
        cache.misses += 1
        cache.looked_up()  # made in a batch: still one lookup of this record's
        ok, value = fresh[key]
    else:
        try:
            ok, value = True, cache.text("body", key, partial(markdown_html, text, names))
        except ArtefactError as error:
            ok, value = False, str(error)
    if ok:
        return value
    problems.append(Problem(record.source_label, "正文", value, refused=False))
    return f'<pre class="portal-plain">{html.escape(text)}</pre>'


# -- the stage -----------------------------------------------------------------------------------


def missing_tool_notes(tools: Tools, records: list[Record]) -> list[Problem]:
    """Said once per build, not once per file."""
    suffixes = {a.suffix for r in records for a in r.attachments}
    notes: list[Problem] = []
    if not tools.ffmpeg and suffixes & video.VIDEO_SUFFIXES:
        notes.append(Problem("（全部成果）", "视频", "未安装 ffmpeg：浏览器不能直接播放的视频（如 .wmv .avi .flv）无法转码，仍可下载。请安装：apt-get install ffmpeg", False))
    if not tools.libreoffice and suffixes & documents.OFFICE_PREVIEWABLE:
        notes.append(Problem("（全部成果）", "文档", "未安装 LibreOffice：Office 文档没有 PDF 预览，.doc/.wps/.ppt 的文字无法显示（文件仍可下载）。请安装：apt-get install libreoffice-writer-nogui libreoffice-impress-nogui", False))
    return notes


def _needs_reading(attachment: Attachment, cache: Cache, tools: Tools) -> bool:
    """A document whose text the cache does not have yet (its hash is needed anyway)."""
    readable = attachment.suffix in documents.READERS or (attachment.suffix in documents.LEGACY_TO_MODERN and tools.libreoffice)
    return readable and 0 < attachment.size and not cache.has("text", cache.digest(attachment.source))


def _needs_media_work(attachment: Attachment, cache: Cache) -> bool:
    """A PDF or video not read before: work for the isolated readers (see MEDIA_TIMEOUT)."""
    if attachment.suffix != ".pdf" and attachment.suffix not in video.VIDEO_SUFFIXES or attachment.size == 0:
        return False
    digest = cache.known_digest(attachment.source)
    return digest is None or not cache.has("text" if attachment.suffix == ".pdf" else "probe", digest)


OFFICE_BATCH = 25  # documents per LibreOffice start
_MB = 1024 * 1024


def _office_conversions(jobs: list[tuple[Record, int, Attachment]], cache: Cache, tools: Tools) -> dict[str, list[tuple[str, str, str, Path]]]:
    """LibreOffice conversions this build needs and the cache lacks, by target format:
    (kind, digest, suffix, source)."""
    if not tools.libreoffice:
        return {}
    wanted: dict[tuple[str, str], tuple[str, str, str, Path]] = {}
    for _, _, attachment in jobs:
        suffix, source = attachment.suffix, attachment.source
        kinds = ([("modern", documents.LEGACY_TO_MODERN[suffix])] if suffix in documents.LEGACY_TO_MODERN else []) + \
                ([("preview", ".pdf")] if suffix in documents.OFFICE_PREVIEWABLE and tools.previews else [])
        if not kinds or not 0 < attachment.size <= tools.max_file_mb * _MB:
            continue
        digest = cache.digest(source)
        missing = [(kind, target) for kind, target in kinds if not cache.has_file(kind, digest, target)]
        if missing and not content_mismatch(source, suffix):
            for kind, target in missing:
                wanted.setdefault((kind, digest), (kind, digest, target, source))
    by_format: dict[str, list[tuple[str, str, str, Path]]] = {}
    for job in wanted.values():
        by_format.setdefault(job[2][1:], []).append(job)
    return by_format


def _convert_in_batches(conversions: dict[str, list[tuple[str, str, str, Path]]], cache: Cache, workers: int) -> None:
    """Office documents converted many per LibreOffice start, one start per core at a time: a
    start costs about a second, converting a lesson plan a tenth of that. What a batch does not
    make (a damaged file, a batch that ran out of time) is converted alone later, as before, so
    its failure is recorded against that file only."""
    batches: list[tuple[str, list[tuple[str, str, str, Path]]]] = []
    for to, items in conversions.items():
        size = max(1, min(OFFICE_BATCH, -(-len(items) // workers)))
        batches.extend((to, items[at:at + size]) for at in range(0, len(items), size))

    def run(batch: tuple[str, list[tuple[str, str, str, Path]]]) -> None:
        to, items = batch
        try:
            work, made = documents.convert_many([source for *_, source in items], to, documents.LIBREOFFICE_TIMEOUT + 20 * len(items))
        except documents.DocumentError:
            return
        try:
            for kind, digest, suffix, source in items:
                if source in made:
                    cache.adopt(kind, digest, suffix, made[source])
        finally:
            shutil.rmtree(work, ignore_errors=True)

    if len(batches) > 0 and sum(len(items) for _, items in batches) > 1:  # one document alone: the usual way
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, batches))


class ExtractMemo(Memo):
    """Each submission's extracted content and warnings, by the digest intake gave the record
    (the signature of its files, our code and the catalog) and the helpers this machine has: an
    unchanged submission's 3 to 10 cache lookups become one. A remembered result is used only
    while every file it publishes from the cache is still there."""

    def __init__(self, path: Path | None, tools: Tools):
        super().__init__(path, f"extracted 3 {json.dumps(VERSIONS, sort_keys=True)} {tools!r}")

    def recall(self, record: Record) -> tuple[Extracted, list[Problem], int] | None:
        """The record's content, warnings and how many cache lookups it took."""
        if not record.digest.startswith(FILES_DIGEST):
            return None
        found: tuple[Extracted, list[Problem], int] | None = self.get(Memo.key(record.digest))
        if found is None or not all(os.path.isfile(p.source) for view in found[0].files.values() for p in view.published()):
            return None
        found[0].digest = record.digest + self.version_digest  # the same files, code, catalog and tools
        return found

    def keep(self, record: Record, extracted: Extracted, problems: list[Problem], lookups: int) -> None:
        if record.digest.startswith(FILES_DIGEST):
            extracted.digest = record.digest + self.version_digest  # as `recall` gives it: page keys stay the same
            self.put(Memo.key(record.digest), (extracted, problems, lookups))


def extracted_digest(extracted: Extracted | None) -> str:
    """What a page key needs of a record's extracted content: the memo's digest when it stood in
    for the work (no hashing every document's text each build), else the content itself."""
    if extracted is None:
        return ""
    return extracted.digest or hashlib.sha1(repr(extracted).encode("utf-8", "surrogateescape")).hexdigest()


def extract(records: list[Record], cache: Cache, catalog: Catalog, tools: Tools | None = None, workers: int | None = None,
            memo: ExtractMemo | None = None) -> tuple[dict[str, Extracted], list[Problem]]:
    """Derive every page's extra content. Conversions run side by side in threads (they are
    ffmpeg and LibreOffice processes, or FFmpeg's libraries); pure-Python parsing in worker processes when there is
    much of it (`Parsers`). Results are collected in a stable order. Stopped with Ctrl+C or
    SIGTERM, it leaves no LibreOffice or ffmpeg running. With `memo`, unchanged submissions'
    results are taken from it and the others' put in it (saving it is the caller's)."""
    gone = drop_vanished(records)
    tools = tools or Tools.detect()
    known = {r.id: found for r in records if memo is not None and (found := memo.recall(r)) is not None}
    todo = [r for r in records if r.id not in known]
    cache.hits += sum(lookups for _, _, lookups in known.values())
    with documents.programs_stop_with_build():
        extracted, by_record = _extract(todo, cache, catalog, tools, workers)
    problems = missing_tool_notes(tools, records)
    for record in records:
        result, found, lookups = known[record.id] if record.id in known else (extracted[record.id], by_record.get(record.id, []), cache.lookups.get(record.id, 0))
        extracted[record.id] = result
        problems.extend(found)
        if memo is not None and not any(passing(p.reason) for p in found):  # read again next build
            memo.keep(record, result, found, lookups)
    return {r.id: extracted[r.id] for r in records}, gone + problems


def drop_vanished(records: list[Record]) -> list[Problem]:
    """Files deleted or moved since intake listed them (a teacher tidying the shared folder while
    the site builds) are left out of this build, with a warning; the next build sees the folder
    as it is then."""
    problems: list[Problem] = []
    for record in records:
        present = [a for a in record.attachments if a.source.is_file()]
        if len(present) == len(record.attachments):
            continue
        for attachment in record.attachments:
            if attachment not in present:
                problems.append(_warn(record, attachment, VANISHED))
        record.attachments[:] = present
        record.digest = ""  # no longer what its files' signature says
    return problems


def _extract(records: list[Record], cache: Cache, catalog: Catalog, tools: Tools, workers: int | None) -> tuple[dict[str, Extracted], dict[str, list[Problem]]]:
    """Each record's extracted content and its own warnings."""
    results = {r.id: Extracted() for r in records}
    problems: dict[str, list[Problem]] = defaultdict(list)
    bodies = {r.id: _body_source(r) for r in records if r.body_markdown and r.body_markdown.strip()}
    jobs = [(record, index, attachment) for record in records for index, attachment in enumerate(record.attachments)]
    new = sum(1 for key, _, _ in bodies.values() if not cache.has("body", key)) + sum(1 for _, _, a in jobs if _needs_reading(a, cache, tools))
    if any(_needs_media_work(a, cache) for _, _, a in jobs):
        warm_up()
    _convert_in_batches(_office_conversions(jobs, cache, tools), cache, os.cpu_count() or 1)
    cache.close()
    parsers = Parsers(new)
    try:
        fresh = _render_bodies(list(bodies.values()), cache, parsers)
        for record in records:
            if record.id in bodies:
                with cache.working_on(record.id):
                    results[record.id].body_html = _body(record, bodies[record.id], fresh, cache, problems[record.id])
        found: dict[tuple[str, int], tuple[FileView, list[Problem]]] = {}
        # Threads mostly wait (on ffmpeg, LibreOffice, the parser processes): two per core keep the cores busy.
        with ThreadPoolExecutor(max_workers=workers or 2 * (os.cpu_count() or 1)) as pool:
            futures: dict[Future[tuple[FileView, list[Problem]]], tuple[str, int]] = {
                pool.submit(_view_of, record, attachment, index, cache, catalog, tools, parsers): (record.id, index)
                for record, index, attachment in jobs
            }
            progress = as_completed(futures)
            if futures:  # tqdm (with importlib.metadata) is imported only when there are files to process: 0.04 s
                from tqdm import tqdm

                progress = tqdm(progress, total=len(futures), desc="处理附件", unit="个", disable=None, leave=False)
            try:
                for future in progress:
                    found[futures[future]] = future.result()
            except BaseException:  # stopped (Ctrl+C): files not started yet are not started
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    finally:
        parsers.close()
    for record in records:
        views: dict[str, FileView] = {}
        for index, attachment in enumerate(record.attachments):
            view, file_problems = found[(record.id, index)]
            views[attachment.name] = view
            problems[record.id].extend(file_problems)
        with cache.working_on(record.id):
            _attach_captions(record, views, cache, problems[record.id])
        results[record.id].files = views
    cache.save()
    return results, problems
