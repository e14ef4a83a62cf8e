"""The public showcase for other schools, and other schools' showcases on our campus site.

Only accepted submissions that are exemplary AND shared as public leave the campus, and only
after the personal-data guard passed them. What leaves is cleaned copies of their files (see
scrub.py: no document properties, comments, tracked deletions, speaker notes, EXIF, PDF metadata
or video tags), and the guard reads everything published: every field and the case's id (its
URL), the Markdown body with its link targets and attributes, every file and folder name, and
all text each cleaned file and each derived file (preview, captions) still holds. Internal fields
(level, review), the roster, reports and statistics are never part of it: the showcase is
generated from the records alone, by the same generator with the campus-only sections switched off.

Each case page carries schema.org `LearningResource` JSON-LD; `catalog.json` lists every case
with its files, and is also what another school drops into `resources/_peers/<school>/` to show
our cases on its own campus site (peers.py reads it there).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from . import scrub
from .catalog import Catalog
from .extract import ArtefactError, Cache, Extracted, Published, Tools, Unsteady, extract, passing
from .index import html_text
from .model import Attachment, Problem, Record, json_text, newest_first
from .privacy import Finding, scan

CATALOG_FILE = "catalog.json"
FEED_FILE = "feed.xml"
SCHEMA_VERSION = 1


def is_candidate(record: Record) -> bool:
    return record.exemplary and record.share == "public"


def public_texts(record: Record, extracted: Extracted) -> Iterable[tuple[str, str]]:
    """Every text of a case that the showcase would publish, with where it comes from."""
    yield "编号", record.id  # the case's address: a folder name becomes its URL
    yield "标题", record.title
    yield "简介", record.summary or ""
    yield "关键词", " ".join(record.keywords)
    yield "作者", " ".join(record.authors)
    yield "教研组", record.group or ""
    yield "正文", record.body_markdown or ""  # as written: link targets (tel:, mailto:) and attributes too
    yield "正文", extracted.body_html or ""
    yield "正文", html_text(extracted.body_html or "")
    for attachment in record.attachments:
        yield "文件名", attachment.name
        view = extracted.files.get(attachment.name)
        if view and view.text:
            yield f"文件 {attachment.name}", view.text


def published_files(record: Record, extracted: Extracted) -> Iterator[tuple[str, Path, str]]:
    """(where, path, suffix) of every file the showcase places beside a case's page: its
    (cleaned) attachments and what was derived from them (previews, captions, posters)."""
    for attachment in record.attachments:  # first the teachers' own files: reports name them
        yield f"文件 {attachment.name}", attachment.source, attachment.suffix
    for attachment in record.attachments:
        view = extracted.files.get(attachment.name)
        for derived in view.published() if view else []:
            yield f"文件 {attachment.name} 的{_DERIVED.get(Path(derived.name).suffix, '附属文件')}", derived.source, Path(derived.name).suffix


_DERIVED = {".pdf": "预览", ".vtt": "字幕", ".jpg": "封面", ".mp4": "转码视频"}
HOLD = "该案例暂不公开"


def _held(record: Record, what: str, advice: str) -> Problem:
    return Problem(record.source_label, "公开前检查", f"{what}。{HOLD}，{advice}", refused=False)


def _findings_problem(record: Record, findings: list[Finding]) -> Problem:
    where = "；".join(f"{f.where}中有{f.kind}（{f.masked}）" for f in findings[:5])
    return _held(record, where, "请教师删去个人信息后重新提交")


def public_cases(records: list[Record], extracted: dict[str, Extracted], cache: Cache) -> tuple[list[Record], list[Problem]]:
    """The cases that may go public, and a report line for every one held back. `records` hold
    cleaned attachments (`clean_records`), `extracted` what was derived from them."""
    cases: list[Record] = []
    problems: list[Problem] = []
    for record in records:
        if not is_candidate(record):
            continue
        done = extracted.get(record.id, Extracted())
        texts = list(public_texts(record, done))
        unreadable: str | None = None
        for where, path, suffix in published_files(record, done):
            try:
                texts.append((where, scrub.text_cached(path, suffix, cache)))
            except ArtefactError as error:
                unreadable = f"{where}无法检查（{error}）"
                advice = "下次生成时再检查" if isinstance(error, Unsteady) else "请检查文件后重新提交"
                break
        if unreadable:
            problems.append(_held(record, unreadable, advice))
            continue
        findings = scan(texts)
        if findings:
            problems.append(_findings_problem(record, findings))
            continue
        cases.append(record)
    return cases, problems


def _clean_attachment(attachment: Attachment, taken: set[str], cache: Cache) -> Attachment | str:
    """The cleaned copy as an attachment (under its published name), or why there is none."""
    if scrub.kind_of(attachment.suffix) is None:
        return scrub.unsupported_reason(attachment.suffix)
    try:
        cleaned = scrub.clean_cached(attachment.source, attachment.suffix, cache)
    except ArtefactError as error:
        return f"无法清除其中的隐藏信息（{error}）"
    name = attachment.name
    suffix = scrub.published_suffix(attachment.suffix)
    if suffix != attachment.suffix:  # a legacy document goes out as its cleaned conversion
        name = str(Path(name).with_suffix(suffix).as_posix())
        name = name if name not in taken else attachment.name + suffix
    return Attachment(cleaned, name, cleaned.stat().st_size)


def clean_records(records: list[Record], cache: Cache) -> tuple[list[Record], list[Problem]]:
    """Each record with cleaned copies of its files in place of the originals; a record with a
    file that cannot be cleaned is held back (the campus site keeps the originals)."""
    jobs = [(record, attachment) for record in records for attachment in record.attachments]
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda job: _clean_attachment(job[1], {a.name for a in job[0].attachments}, cache), jobs))
    results = dict(zip(((r.id, a.name) for r, a in jobs), made))
    cleaned: list[Record] = []
    problems: list[Problem] = []
    for record in records:
        outcome = [results[(record.id, a.name)] for a in record.attachments]
        failed = [(a, reason) for a, reason in zip(record.attachments, outcome) if isinstance(reason, str)]
        if failed:
            attachment, reason = failed[0]
            advice = (scrub.UNSUPPORTED_ADVICE if scrub.kind_of(attachment.suffix) is None else
                      "下次生成时再检查" if passing(reason) else "请检查文件，或另存为 PDF 后重新提交")
            problems.append(_held(record, f"文件 {attachment.name}：{reason}", advice))
            continue
        cleaned.append(dataclasses.replace(record, attachments=[a for a in outcome if isinstance(a, Attachment)]))
    return cleaned, problems


def clean_derived(records: list[Record], extracted: dict[str, Extracted], cache: Cache) -> list[Problem]:
    """Previews, posters, converted videos and captions made from the cleaned files are cleaned
    in turn (a PDF preview carries the converter's metadata); one that cannot be is left out."""
    problems: list[Problem] = []
    for record in records:
        for name, view in extracted[record.id].files.items():
            for slot in ("preview", "playable", "poster", "captions"):
                derived: Published | None = getattr(view, slot)
                if derived is None:
                    continue
                try:
                    source = scrub.clean_cached(derived.source, Path(derived.name).suffix, cache)
                    setattr(view, slot, Published(source, derived.name))
                except ArtefactError as error:
                    setattr(view, slot, None)
                    problems.append(Problem(record.source_label, f"文件 {name}", f"{derived.name} 无法清除隐藏信息，未公开（{error}）", refused=False))
    return problems


def prepare_cases(candidates: list[Record], cache: Cache, catalog: Catalog, tools: Tools) -> tuple[list[Record], dict[str, Extracted], list[Problem]]:
    """What may go public, from the showcase candidates: their files cleaned, read, checked.
    Returns the cases (holding cleaned copies), what was derived from them, and the problems."""
    cleaned, problems = clean_records(candidates, cache)
    extracted, found = extract(cleaned, cache, catalog, tools)
    problems.extend(found)
    problems.extend(clean_derived(cleaned, extracted, cache))
    cases, held = public_cases(cleaned, extracted, cache)
    problems.extend(held)
    cache.save()
    return cases, extracted, problems


def _script_json(data: object) -> Markup:
    """JSON for a <script> element: "<" is escaped so no text can close the element."""
    return Markup(f'<script type="application/ld+json">{json_text(data)}</script>')


def json_ld(record: Record, catalog: Catalog, school: str, page_url: str) -> Markup:
    """schema.org LearningResource for one case."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LearningResource",
        "name": record.title,
        "url": page_url,
        "inLanguage": "zh-CN",
        "learningResourceType": record.type,
        "educationalLevel": record.grade,
        "about": record.subject,
        "teaches": [
            {"@type": "DefinedTerm", "termCode": code, "name": catalog.points[code].name,
             "inDefinedTermSet": "中小学教师信息技术应用能力提升工程2.0 微能力点"}
            for code in record.competencies
        ],
        "author": [{"@type": "Person", "name": name} for name in record.authors],
        "publisher": {"@type": "EducationalOrganization", "name": school},
        "sourceOrganization": {"@type": "EducationalOrganization", "name": school},
    }
    if record.summary:
        data["description"] = record.summary
    if record.keywords:
        data["keywords"] = "，".join(record.keywords)
    if record.date:
        data["datePublished"] = record.date.isoformat()
    return _script_json(data)


def _page_url(base: str, record: Record) -> str:
    return f"{base}r/{quote(record.id)}/"


def catalog_json(cases: list[Record], catalog: Catalog, school: str, site_url: str | None) -> dict[str, Any]:
    """Every case with its metadata and file URLs (relative to the showcase root, and absolute
    when the school set `site_url`)."""
    base = (site_url or "").rstrip("/") + "/" if site_url else ""
    entries = []
    for record in newest_first(cases):
        entries.append({
            "id": record.id,
            "school": record.school or school,  # a county's showcase holds many schools' cases
            "title": record.title,
            "type": record.type,
            "subject": record.subject,
            "grade": record.grade,
            "competencies": [{"code": c, "name": catalog.points[c].name, "environment": catalog.points[c].env_name,
                              "dimension": catalog.points[c].dimension} for c in record.competencies],
            "authors": record.authors,
            "group": record.group,
            "term": record.term,
            "date": record.date.isoformat() if record.date else None,
            "summary": record.summary,
            "keywords": record.keywords,
            "url": _page_url(base, record),
            "files": [{"name": a.name, "url": f"{base}r/{quote(record.id)}/files/{quote(a.published_name)}", "size": a.size}
                      for a in record.attachments],
        })
    return {"schema": SCHEMA_VERSION, "school": school, "site_url": site_url, "generated": dt.date.today().isoformat(), "cases": entries}


def cases_feed(cases: list[Record], school: str, site_url: str | None) -> bytes:
    from feedgen.feed import FeedGenerator

    base = (site_url or "/").rstrip("/") + "/"
    feed = FeedGenerator()
    feed.id(base)
    feed.title(f"{school} · 优秀案例")
    feed.link(href=base, rel="alternate")
    feed.link(href=base + FEED_FILE, rel="self")
    feed.language("zh-CN")
    ordered = newest_first(cases)
    newest = next((r.date for r in ordered if r.date), dt.date(2000, 1, 1))
    feed.updated(dt.datetime.combine(newest, dt.time(), dt.timezone.utc))
    for record in reversed(ordered):  # feedgen prepends entries
        entry = feed.add_entry()
        entry.id(_page_url(base, record))
        entry.link(href=_page_url(base, record))
        entry.title(record.title)
        stamp = dt.datetime.combine(record.date or newest, dt.time(), dt.timezone.utc)
        entry.updated(stamp)
        entry.published(stamp)
        entry.summary(" · ".join([record.type, record.subject, record.grade, "、".join(record.authors)]))
    return feed.atom_str(pretty=True)
