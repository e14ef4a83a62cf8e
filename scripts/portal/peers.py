"""Other schools' showcases on our campus site: `resources/_peers/<school>/catalog.json`.

A peer's folder is what its `make showcase` (or `make showcase-zip`) produced, copied here by an
admin. Everything in it is untrusted (see untrusted.py): a case enters the site only with text
fields of the right types and sizes, and a file only under a plain name inside the peer's own
folder, reached without links. A file that is not there is offered as a link to the peer's own
site when its URL is http(s). Whatever is refused is reported with the school's folder named.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .catalog import Catalog
from .model import Attachment, Problem, Record, slug
from .showcase import CATALOG_FILE
from .untrusted import Untrusted, is_plain_folder, plain_name, read_json, regular_file_inside

PEERS = "_peers"
MAX_CASES = 100_000
MAX_FILES = 200
MAX_TEXT = {"title": 200, "summary": 4000, "type": 40, "subject": 40, "grade": 40, "term": 40, "id": 200}
MAX_ITEMS = 50  # authors, keywords, competencies
MAX_URL = 2000


class BadCase(ValueError):
    """A case that cannot be shown; the message (Chinese) says why."""


def read_peers(resources: Path, catalog: Catalog) -> tuple[list[Record], list[Problem]]:
    """Cases from `resources/_peers/<school>/catalog.json`, attributed to their school. Files the
    peer folder holds are published like ours; others are offered as links to the peer's site."""
    records: list[Record] = []
    problems: list[Problem] = []
    root = resources / PEERS
    if not is_plain_folder(root):
        if root.is_symlink():
            problems.append(Problem(PEERS, "", "是一个链接，不是文件夹：兄弟学校的案例不读取链接，请把对方的展示文件夹复制到这里"))
        return records, problems
    taken: set[str] = set()
    for folder in sorted(root.iterdir()):
        label = f"{PEERS}/{folder.name}"
        if not is_plain_folder(folder):
            if folder.is_symlink():
                problems.append(Problem(label, "", "是一个链接，不是文件夹：出于安全原因不读取，请把对方的展示文件夹复制到这里"))
            continue
        school_records, school_problems = read_cases(folder, label, catalog, taken)
        records.extend(school_records)
        problems.extend(school_problems)
    return records, problems


def read_cases(folder: Path, label: str, catalog: Catalog, taken: set[str], school: str | None = None,
               prefix: str = "peer", origin: str = "兄弟学校", advice: str = "请放入对方 make showcase 生成的 catalog.json") -> tuple[list[Record], list[Problem]]:
    """The cases of one school's showcase folder (`catalog.json` and the files beside it), each
    attributed to `school` (default: the name the catalog gives) with an id `<prefix>-<school>-<id>`
    not yet in `taken`. `origin` names where the folder came from in messages, `advice` what to do when its catalog is unusable."""
    where = f"{label}/{CATALOG_FILE}"
    try:
        data = read_json(folder / CATALOG_FILE)
    except Untrusted as error:
        return [], [Problem(where, "", f"{origin}的案例目录无法读取：{error}。{advice}")]
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list):
        return [], [Problem(where, "cases", f"{origin}的案例目录格式不对（缺少案例列表）。{advice}")]
    if len(cases) > MAX_CASES:
        return [], [Problem(where, "cases", f"案例超过 {MAX_CASES} 个，不像是一所学校的展示，未读取")]
    school = school or _text(data.get("school"), 60) or folder.name
    records: list[Record] = []
    problems: list[Problem] = []
    for number, case in enumerate(cases, start=1):
        name = _text(case.get("title"), 60) if isinstance(case, dict) else None
        case_label = f"第 {number} 个案例" + (f"“{name}”" if name else "")
        try:
            record, skipped = _peer_record(case, school, folder, label, catalog, prefix)
        except BadCase as error:
            problems.append(Problem(where, case_label, f"{error}，未显示", refused=False))
            continue
        problems.extend(Problem(where, case_label, reason, refused=False) for reason in skipped)
        if record.id in taken:
            problems.append(Problem(where, case_label, "编号与另一个已显示的案例相同，未显示", refused=False))
            continue
        taken.add(record.id)
        records.append(record)
    return records, problems


def _text(value: Any, limit: int) -> str | None:
    """A short text field: strings (and numbers, which JSON writers sometimes emit) only."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = " ".join(str(value).split())
    return text[:limit] if text else None


def _required(case: dict[str, Any], key: str) -> str:
    text = _text(case.get(key), MAX_TEXT[key])
    if text is None:
        raise BadCase(f"缺少“{key}”或它不是文字")
    return text


def _texts(value: Any, limit: int = 60) -> list[str]:
    if not isinstance(value, list):
        return []
    return [t for t in (_text(v, limit) for v in value[:MAX_ITEMS]) if t]


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _peer_record(case: Any, school: str, folder: Path, label: str, catalog: Catalog, prefix: str = "peer") -> tuple[Record, list[str]]:
    """One peer case as a record, and why any of its files was left out."""
    if not isinstance(case, dict):
        raise BadCase("不是一个案例对象")
    case_id, title = _required(case, "id"), _required(case, "title")
    kind, subject, grade = _required(case, "type"), _required(case, "subject"), _required(case, "grade")
    listed = case.get("competencies")
    if not isinstance(listed, list) or not listed:
        raise BadCase("缺少能力点")
    codes = [catalog.point(str(c.get("code")) if isinstance(c, dict) else str(c)) for c in listed[:MAX_ITEMS]]
    if None in codes:
        raise BadCase("能力点未知")
    attachments, links, skipped = _files(case.get("files"), folder, label)
    date = None
    if isinstance(case.get("date"), str):
        try:
            date = dt.date.fromisoformat(case["date"])
        except ValueError:
            pass
    summary = _text(case.get("summary"), MAX_TEXT["summary"])
    record = Record(
        id=f"{prefix}-{slug(school)}-{slug(case_id)}"[:100],
        term=_text(case.get("term"), MAX_TEXT["term"]) or "",
        source=folder / CATALOG_FILE,
        source_label=label,
        title=title,
        type=catalog.resource_type(kind) or kind,
        subject=catalog.subject(subject) or subject,
        grade=catalog.grade(grade) or grade,
        competencies=[c for c in codes if c],
        authors=_texts(case.get("authors")),
        group=None,
        date=date,
        summary=summary,
        keywords=_texts(case.get("keywords")),
        attachments=attachments,
        exemplary=True,
        share="public",
        school=school,
        links=links,
        origin_url=_http_url(case.get("url")),
    )
    return record, skipped


def _files(listed: Any, folder: Path, label: str) -> tuple[list[Attachment], list[tuple[str, str]], list[str]]:
    """A case's files: those the peer folder holds (by the relative URL the showcase wrote), links
    to the others, and a reason for every entry left out."""
    attachments: list[Attachment] = []
    links: list[tuple[str, str]] = []
    skipped: list[str] = []
    names: set[str] = set()
    if not isinstance(listed, list):
        return attachments, links, skipped
    for entry in listed[:MAX_FILES]:
        if not isinstance(entry, dict):
            skipped.append("有一个文件条目格式不对，已跳过")
            continue
        raw_name, url = entry.get("name"), entry.get("url")
        try:
            name = plain_name(raw_name)
        except Untrusted as error:
            skipped.append(f"文件名“{str(raw_name)[:80]}”不安全（{error}），该文件未发布。请联系{label.split('/')[-1]}重新导出")
            continue
        remote = _http_url(url)
        if remote:
            links.append((name, remote))
            continue
        if not isinstance(url, str) or "://" in url or url.startswith("//"):
            skipped.append(f"文件“{name}”的地址不可用，已跳过")
            continue
        try:
            local = regular_file_inside(folder, plain_name(unquote(url.split("?")[0].split("#")[0])))
        except Untrusted as error:
            skipped.append(f"文件“{name}”的位置不安全或不存在（{error}），该文件未发布。请联系{label.split('/')[-1]}重新导出")
            continue
        if name in names:
            skipped.append(f"文件名“{name}”重复，已跳过")
            continue
        names.add(name)
        attachments.append(Attachment(local, name, os.lstat(local).st_size))
    return attachments, links, skipped
