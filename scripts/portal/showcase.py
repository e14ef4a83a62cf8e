"""The public showcase for other schools, and other schools' showcases on our campus site.

Only accepted submissions that are exemplary AND shared as public leave the campus, and only
after the personal-data guard passed them. Internal fields (level, review), the roster, reports
and statistics are never part of it: the showcase is generated from the records alone, by the
same generator with the campus-only sections switched off.

Each case page carries schema.org `LearningResource` JSON-LD; `catalog.json` lists every case
with its files, and is also what another school drops into `resources/_peers/<school>/` to show
our cases on its own campus site.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from markupsafe import Markup

from .catalog import Catalog
from .extract import Extracted
from .index import html_text
from .model import Attachment, Problem, Record, json_text, newest_first, slug
from .privacy import scan

CATALOG_FILE = "catalog.json"
FEED_FILE = "feed.xml"
PEERS = "_peers"
SCHEMA_VERSION = 1


def is_candidate(record: Record) -> bool:
    return record.exemplary and record.share == "public"


def public_texts(record: Record, extracted: Extracted) -> Iterable[tuple[str, str]]:
    """Every text of a case that the showcase would publish, with where it comes from."""
    yield "标题", record.title
    yield "简介", record.summary or ""
    yield "关键词", " ".join(record.keywords)
    yield "作者", " ".join(record.authors)
    yield "教研组", record.group or ""
    yield "正文", html_text(extracted.body_html or "")
    for attachment in record.attachments:
        yield "文件名", attachment.name
        view = extracted.files.get(attachment.name)
        if view and view.text:
            yield f"文件 {attachment.name}", view.text


def public_cases(records: list[Record], extracted: dict[str, Extracted]) -> tuple[list[Record], list[Problem]]:
    """The cases that may go public, and a report line for every one held back."""
    cases: list[Record] = []
    problems: list[Problem] = []
    for record in records:
        if not is_candidate(record):
            continue
        findings = scan(public_texts(record, extracted.get(record.id, Extracted())))
        if findings:
            where = "；".join(f"{f.where}中有{f.kind}（{f.masked}）" for f in findings[:5])
            problems.append(Problem(record.source_label, "公开前检查", f"{where}。该案例暂不公开，请教师删去个人信息后重新提交", refused=False))
            continue
        cases.append(record)
    return cases, problems


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


# -- other schools' cases on our campus site ----------------------------------------------------


def read_peers(resources: Path, catalog: Catalog) -> tuple[list[Record], list[Problem]]:
    """Cases from `resources/_peers/<school>/catalog.json`, attributed to their school. Files the
    peer folder holds are published like ours; others are offered as links to the peer's site."""
    records: list[Record] = []
    problems: list[Problem] = []
    root = resources / PEERS
    if not root.is_dir():
        return records, problems
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = f"{PEERS}/{folder.name}/{CATALOG_FILE}"
        if folder.is_symlink() or root.is_symlink():  # a link could lead to the roster or anywhere
            problems.append(Problem(f"{PEERS}/{folder.name}", "", "兄弟学校的文件夹是一个链接，未读取；请把对方的 showcase 文件夹复制到这里"))
            continue
        try:
            data = json.loads((folder / CATALOG_FILE).read_text(encoding="utf-8-sig"))
            cases = data["cases"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(Problem(label, "", f"兄弟学校的案例目录无法读取（{type(error).__name__}），请放入对方 make showcase 生成的 catalog.json"))
            continue
        school = str(data.get("school") or folder.name)
        for case in cases:
            record = _peer_record(case, school, folder, catalog)
            if record is None:
                problems.append(Problem(label, "", f"案例“{case.get('title', '?') if isinstance(case, dict) else '?'}”信息不完整或能力点未知，未显示", refused=False))
            else:
                records.append(record)
    return records, problems


def _peer_record(case: Any, school: str, folder: Path, catalog: Catalog) -> Record | None:
    if not isinstance(case, dict) or not all(case.get(k) for k in ("id", "title", "type", "subject", "grade", "competencies")):
        return None
    codes = [catalog.point(str(c.get("code") if isinstance(c, dict) else c)) for c in case["competencies"]]
    if not codes or None in codes:
        return None
    attachments: list[Attachment] = []
    links: list[tuple[str, str]] = []
    for file in case.get("files") or []:
        name, url = str(file.get("name", "")), str(file.get("url", ""))
        local = (folder / unquote(url.split("?")[0])).resolve() if url and "://" not in url else None
        if local is not None and local.is_file() and local.is_relative_to(folder.resolve()):
            attachments.append(Attachment(local, name or local.name, local.stat().st_size))
        elif url.startswith(("http://", "https://")):
            links.append((name, url))
    origin = str(case.get("url")) if str(case.get("url", "")).startswith(("http://", "https://")) else None
    date = None
    try:
        date = dt.date.fromisoformat(str(case.get("date"))) if case.get("date") else None
    except ValueError:
        pass
    return Record(
        id=f"peer-{slug(school)}-{slug(str(case['id']))}"[:100],
        term=str(case.get("term") or ""),
        source=folder / CATALOG_FILE,
        source_label=f"{PEERS}/{folder.name}",
        title=str(case["title"]),
        type=catalog.resource_type(str(case["type"])) or str(case["type"]),
        subject=catalog.subject(str(case["subject"])) or str(case["subject"]),
        grade=catalog.grade(str(case["grade"])) or str(case["grade"]),
        competencies=[c for c in codes if c],
        authors=[str(a) for a in case.get("authors") or []],
        group=None,
        date=date,
        summary=str(case["summary"]) if case.get("summary") else None,
        keywords=[str(k) for k in case.get("keywords") or []],
        attachments=attachments,
        exemplary=True,
        share="public",
        school=school,
        links=links,
        origin_url=origin,
    )
