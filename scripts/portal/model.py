"""The records that flow between stages. Intake makes them; later stages only read them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# How an attachment is shown on its page, decided from its file name extension.
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".webm", ".mov", ".flv", ".wmv", ".avi", ".mkv", ".mpg", ".mpeg", ".3gp", ".ts"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
# Files a browser would run as a page if opened from our own origin: published as plain text.
ACTIVE_EXTENSIONS = {".html", ".htm", ".xhtml", ".svg", ".xml", ".js", ".mjs", ".shtml"}


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
        """Where the file lands under the page's `files/`; active content gets a harmless name."""
        return self.name + ".txt" if self.suffix in ACTIVE_EXTENSIONS else self.name


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


def slug(name: str) -> str:
    """A path segment for a name someone typed (a group, a peer school, a peer's case id): word
    characters only, at most 40; a hash when nothing is left."""
    cleaned = re.sub(r"[^\w\-]+", "-", unicodedata.normalize("NFKC", name).strip()).strip("-")
    return cleaned[:40] if cleaned else hashlib.sha1(name.encode()).hexdigest()[:8]


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
