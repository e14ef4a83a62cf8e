"""The records that flow between stages. Intake makes them; later stages only read them."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# How an attachment is shown on its page, decided from its file name extension.
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".webm", ".mov", ".flv", ".wmv", ".avi", ".mkv", ".mpg", ".mpeg", ".3gp", ".ts"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
# Attachments published under their own name, with the type the server sends for each: files no
# browser renders as a page of our site (video, audio, raster images, PDF, Office, plain text,
# archives). Anything else (HTML in all its spellings, SVG, XML, scripts, unknown types) is
# published with NEUTRAL_SUFFIX added, which servers send as application/octet-stream, a download.
PUBLISHED_AS_IS: dict[str, str] = {
    **dict.fromkeys((".mp4", ".m4v"), "video/mp4"),
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".flv": "video/x-flv",
    ".wmv": "video/x-ms-wmv",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    **dict.fromkeys((".mpg", ".mpeg"), "video/mpeg"),
    ".3gp": "video/3gpp",
    ".ts": "video/mp2t",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".wav": "audio/wav",
    **dict.fromkeys((".ogg", ".oga"), "audio/ogg"),
    ".flac": "audio/flac",
    ".wma": "audio/x-ms-wma",
    ".amr": "audio/amr",
    ".png": "image/png",
    **dict.fromkeys((".jpg", ".jpeg"), "image/jpeg"),
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    **dict.fromkeys((".tif", ".tiff"), "image/tiff"),
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    **dict.fromkeys((".ppt", ".pps"), "application/vnd.ms-powerpoint"),
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".rtf": "application/rtf",
    **dict.fromkeys((".wps", ".et", ".dps"), "application/octet-stream"),  # WPS Office
    # A note a teacher wrote in Markdown (说明.md) is plain text to read, not a page of ours.
    **dict.fromkeys((".txt", ".srt", ".md", ".markdown"), "text/plain"),
    ".csv": "text/csv",
    ".vtt": "text/vtt",
    ".zip": "application/zip",
    ".rar": "application/vnd.rar",
    ".7z": "application/x-7z-compressed",
}
NEUTRAL_SUFFIX = ".bin"


@dataclass(frozen=True)
class Attachment:
    source: Path  # absolute path inside the submission folder
    name: str  # path relative to the submission folder, with "/" separators
    size: int

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    @property
    def kind(self) -> str:
        suffix = self.suffix
        if suffix in VIDEO_EXTENSIONS:
            return "video"
        if suffix in IMAGE_EXTENSIONS:
            return "image"
        if suffix == ".pdf":
            return "pdf"
        if suffix in (".docx", ".doc", ".wps", ".rtf", ".odt"):
            return "document"
        if suffix in (".pptx", ".ppt", ".pps", ".ppsx", ".odp"):
            return "presentation"
        return "file"

    @property
    def published_name(self) -> str:
        """Where the file lands under the page's `files/`: its own name for an allowed type, a
        name no browser opens as a page for anything else."""
        return self.name if self.suffix in PUBLISHED_AS_IS else self.name + NEUTRAL_SUFFIX


@dataclass
class Record:
    """One accepted submission with normalised metadata."""

    id: str
    term: str
    source: Path  # the folder (form 1) or the Markdown file (form 2)
    source_label: str  # path relative to resources/, shown to admins
    title: str
    type: str
    subject: str
    grade: str
    competencies: list[str]
    authors: list[str]
    group: str | None = None
    date: dt.date | None = None
    summary: str | None = None
    keywords: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    body_markdown: str | None = None  # the text of a Markdown submission
    level: str | None = None
    review: str | None = None
    exemplary: bool = False
    share: str = "campus"
    school: str | None = None  # another school's case (resources/_peers/); None for ours
    links: list[tuple[str, str]] = field(default_factory=list)  # (name, URL) of a peer's remote files
    origin_url: str | None = None  # a peer case's page on its own school's showcase
    # What this record was read from, as a digest (set by intake's memo); not copied by
    # dataclasses.replace, so a changed copy is digested afresh. See `record_digest`.
    digest: str = field(default="", init=False, repr=False, compare=False)


# How a digest set by intake's memo begins: the record is what those files make, so what is
# derived from the files alone (extract.ExtractMemo) may be remembered by it too.
FILES_DIGEST = "files:"


def record_digest(record: Record) -> str:
    """A digest that changes whenever anything in `record` does: the signature of the files it
    was read from when intake knows it (no hashing 10,000 records each build), else its text."""
    if not record.digest:
        record.digest = hashlib.sha1(repr(record).encode("utf-8", "surrogateescape")).hexdigest()
    return record.digest


def slug(name: str) -> str:
    """A path segment for a name someone typed (a group, a peer school, a peer's case id): word
    characters only, at most 40; a hash when nothing is left."""
    cleaned = re.sub(r"[^\w\-]+", "-", unicodedata.normalize("NFKC", name).strip()).strip("-")
    return cleaned[:40] if cleaned else hashlib.sha1(name.encode()).hexdigest()[:8]


def decode_chinese(data: bytes) -> str | None:
    """Text as Chinese teachers' tools save it: UTF-8 (with or without BOM), else GBK/GB18030 (what
    Notepad and WPS write on Chinese Windows); None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


CHARSET_SNIFF_BYTES = 512 * 1024  # of a teacher's text file, read to tell its encoding (and for its page)


def text_charset(head: bytes) -> str | None:
    """The charset to declare for a teacher's text file that begins with `head` (its first bytes):
    None when a byte order mark says it (browsers follow the mark), "utf-8" when the bytes are
    UTF-8 but for a stray byte or two (and a character cut at the end of `head`), else "gb18030"
    (Notepad's ANSI on Chinese Windows, which GBK and GB2312 are subsets of)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("gb18030")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not GBK either (beyond a cut last character)
            return "utf-8"
    as_utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=False)
    beyond_ascii = len(as_utf8) - len(as_utf8.encode("ascii", "ignore"))  # stray bytes among the Chinese, not the digits
    return "utf-8" if as_utf8.count("\ufffd") * 100 <= beyond_ascii else "gb18030"


def decode_plain(data: bytes) -> str:
    """A teacher's plain text, in the encoding `text_charset` tells from its bytes."""
    return data.decode({None: "utf-16", "utf-8": "utf-8-sig"}.get(text_charset(data), "gb18030"), "replace")


def json_text(data: object, indent: int | None = None) -> str:
    """JSON whose text holds no "<", ">" or "&": safe inside <script>, and inert even if a server
    sends it as HTML. Parsers read the \\u escapes back as the original characters."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def term_label(term: str) -> str:
    """"2023-2024-1" -> "2023-2024 学年第一学期"."""
    match = re.match(r"^(\d{4})-(\d{4})-([12])$", term)
    if not match:
        return term
    return f"{match.group(1)}-{match.group(2)} 学年第{'一' if match.group(3) == '1' else '二'}学期"


def newest_first(records: Iterable[Record]) -> list[Record]:
    """The order of every listing, and of search document numbers: newest first, stable."""
    return sorted(records, key=lambda r: (r.date.isoformat() if r.date else "", r.term, r.id), reverse=True)


def is_utf8_name(name: str) -> bool:
    """False for a file name whose bytes are not UTF-8 (Python holds them as surrogate escapes)."""
    return not any("\udc80" <= c <= "\udcff" for c in name)


def readable_name(name: str) -> str:
    """A file path as the teacher reads it: each part whose bytes are not UTF-8 is decoded as
    GB18030, as a zip packed on Chinese Windows names its files."""
    if is_utf8_name(name):
        return name
    return "/".join(part if is_utf8_name(part) else os.fsencode(part).decode("gb18030", "replace") for part in name.split("/"))


@dataclass(frozen=True)
class Problem:
    """A refusal (the submission is not published) or a warning (it is, with a remark).

    `path` names the submission relative to resources/, `field` the metadata key or file concerned,
    `reason` says in plain Chinese what is wrong and, where possible, how to fix it.
    """

    path: str
    field: str
    reason: str
    refused: bool = True

    def __post_init__(self) -> None:  # a name in GBK bytes must not stop the report being printed
        object.__setattr__(self, "path", readable_name(self.path))
        for key in ("field", "reason"):  # a name inside a sentence: no longer found, only made printable
            object.__setattr__(self, key, getattr(self, key).encode("utf-8", "surrogateescape").decode("utf-8", "replace"))

    def __str__(self) -> str:
        head = "未发布" if self.refused else "提醒"
        where = f"（字段：{self.field}）" if self.field else ""
        return f"[{head}] {self.path}{where}：{self.reason}"


@dataclass
class Intake:
    """What intake found: the records to publish and the problems to report."""

    records: list[Record]
    problems: list[Problem]
    found: int  # submissions seen, published or not

    @property
    def refused(self) -> list[Problem]:
        return [p for p in self.problems if p.refused]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.refused]
