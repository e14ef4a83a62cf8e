"""Extract: derive readable HTML from what teachers wrote, cached by the content hash of the source.

- the body of a Markdown submission, rendered and then sanitised (teachers may paste raw HTML);
- the text of attached .docx files: headings, paragraphs, lists and tables, in document order.

A file that cannot be read is reported as a warning naming it; the submission still publishes and
the file is still offered for download.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import markdown
import nh3
from tqdm import tqdm

from .model import Attachment, Problem, Record

# Bump when an extractor's output changes, so cached results made by the old code are not reused.
EXTRACTOR_VERSION = {"docx": "1"}
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of a file, streamed: videos can be gigabytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Cache:
    """Derived artefacts keyed by (extractor, version, source hash) in a git-ignored folder."""

    root: Path
    hits: int = 0
    misses: int = 0

    def _path(self, kind: str, digest: str) -> Path:
        return self.root / kind / EXTRACTOR_VERSION[kind] / digest[:2] / digest

    def get_or_make(self, kind: str, source: Path, make: Callable[[Path], str]) -> str:
        """The artefact for `source`, made once per content. A file that failed is remembered as
        failed too, so a broken upload is not re-read on every build; it raises ExtractionError."""
        path = self._path(kind, file_digest(source))
        done, failed = path.with_suffix(".html"), path.with_suffix(".error")
        if done.exists() or failed.exists():
            self.hits += 1
            if failed.exists():
                raise ExtractionError(failed.read_text(encoding="utf-8"))
            return done.read_text(encoding="utf-8")
        self.misses += 1
        try:
            text, target = make(source), done
        except Exception as error:  # any parser failure on a teacher's file is a finding, not a crash
            text, target = type(error).__name__, failed
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)  # never leave a half-written entry behind
        if target is failed:
            raise ExtractionError(text)
        return text


class ExtractionError(Exception):
    """A source file could not be read; the message is the kind of error the parser raised."""


# -- .docx ---------------------------------------------------------------------------------------


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title" or name == "标题":
        return 2
    match = re.match(r"(?:heading|标题)\s*(\d)", name)
    return min(int(match.group(1)) + 2, 6) if match else None


def _is_list(style_name: str) -> bool:
    name = style_name.lower()
    return name.startswith("list") or "列表" in name or "项目符号" in name


def docx_html(path: Path) -> str:
    """The text of a .docx as escaped HTML: headings, paragraphs, lists and tables, in order."""
    from docx import Document
    from docx.table import Table

    document = Document(str(path))
    parts: list[str] = []
    in_list = False
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            if in_list:
                parts.append("</ul>")
                in_list = False
            parts.append(_table_html(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = block.style.name if block.style is not None else ""
        is_item = _is_list(style)
        if in_list and not is_item:
            parts.append("</ul>")
            in_list = False
        level = _heading_level(style)
        if level:
            parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        elif is_item:
            if not in_list:
                parts.append("<ul>")
                in_list = True
            parts.append(f"<li>{html.escape(text)}</li>")
        else:
            parts.append(f"<p>{html.escape(text)}</p>")
    if in_list:
        parts.append("</ul>")
    return "\n".join(parts)


def _table_html(table: object) -> str:
    rows: list[str] = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is returned once per grid column
                continue
            previous = cell._tc
            text = "<br>".join(html.escape(p.text.strip()) for p in cell.paragraphs if p.text.strip())
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table class="docx-table">\n' + "\n".join(rows) + "\n</table>"


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
            if name in names:
                return "files/" + quote(name)
            return None
        return value

    return attribute_filter


def markdown_html(text: str, attachment_names: Iterable[str] = ()) -> str:
    """Render a teacher's Markdown and keep only harmless formatting (no scripts, handlers, frames)."""
    rendered = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])
    # The page has its own h1 and a "正文" h2: the teacher's headings sit below them.
    rendered = re.sub(r"<(/?)h([1-6])\b", lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}", rendered)
    return nh3.clean(
        rendered,
        attribute_filter=_rewrite_src(set(attachment_names)),
        link_rel="noopener noreferrer",
    )


# -- the stage -----------------------------------------------------------------------------------


@dataclass
class Extracted:
    body_html: str | None = None
    documents: dict[str, str] = field(default_factory=dict)  # attachment name -> HTML


EXTRACTORS: dict[str, Callable[[Path], str]] = {"docx": docx_html}


def _extract_attachment(
    record: Record, attachment: Attachment, cache: Cache, problems: list[Problem]
) -> str | None:
    make = EXTRACTORS.get(attachment.kind)
    if make is None:
        return None
    try:
        return cache.get_or_make(attachment.kind, attachment.source, make)
    except ExtractionError as error:  # a corrupt upload must not stop the build
        problems.append(
            Problem(
                record.source_label,
                f"文件 {attachment.name}",
                f"无法读取文件内容（{error}），文件仍可下载，请检查是否损坏",
                refused=False,
            )
        )
        return None


def extract(records: list[Record], cache: Cache) -> tuple[dict[str, Extracted], list[Problem]]:
    results: dict[str, Extracted] = {}
    problems: list[Problem] = []
    for record in tqdm(records, desc="提取文档内容", unit="份", disable=None, leave=False):
        extracted = Extracted()
        if record.body_markdown and record.body_markdown.strip():
            extracted.body_html = markdown_html(
                record.body_markdown, (a.name for a in record.attachments)
            )
        for attachment in record.attachments:
            text = _extract_attachment(record, attachment, cache, problems)
            if text:
                extracted.documents[attachment.name] = text
        results[record.id] = extracted
    return results, problems
