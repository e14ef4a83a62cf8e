"""The county's side: school exports in `resources/_schools/`, each a `county-export.zip` (any
file name) or that zip unpacked into a folder.

Every export is untrusted. A zip is unpacked (into the cache, once per file version) only when
every member has a plain relative name (untrusted.plain_name), none is a link, and the member
count, the declared sizes and the compression ratios are within bounds (like limits.py); it is
never partly used. `school.json` is read with `untrusted.read_json` and its figures are counts
under known keys (figures.py); the cases are read from the showcase's `catalog.json` as peers.py
reads a peer school's, attributed to the school. An export that fails any check is refused with a
Chinese message naming its file; the build goes on with the others.

One school, one export: the school is identified by its name. When two exports claim the same
school, the one generated later (`generated` in school.json, else the file's modification time)
replaces the older, which is reported as not used, naming both files; when neither is newer, both
are refused. A school that re-exports simply uploads the new file in place of the old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import stat
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..limits import MAX_RATIO, RATIO_FROM_BYTES
from ..model import Problem, Record, slug
from ..peers import read_cases
from ..untrusted import Untrusted, is_plain_folder, plain_name, read_json
from .figures import KIND, SCHOOL_FILE, SHOWCASE_DIR, BadFigures, TermFigures, read_figures

SCHOOLS = "_schools"
MAX_MEMBERS = 200_000  # files in one export: a showcase of 2,000 cases holds about 20,000
MAX_EXPORT_BYTES = 64 * 1024 ** 3  # everything an export holds, once unpacked
MAX_SCHOOL_JSON = 4 * 1024 * 1024
MAX_TERMS = 40
MAX_NAME = 60
DEFAULT_NAME = "教学成果资源平台"  # Settings' default site_name: not a school's name
# Nor is the site_name the repository ships with: a school that never named itself.
DEFAULT_NAMES = (DEFAULT_NAME, "实验学校教学成果资源平台")
FORBIDDEN = set("<>&\"'`{}\\/$=")
CASE_PREFIX = "s"
AGAIN = "请学校用 make county-export 重新导出后上传"


class BadExport(ValueError):
    """An export refused as a whole; the message (Chinese) says why and what to do."""


@dataclass
class School:
    name: str
    label: str  # the export's path relative to resources/, for messages
    folder: Path  # the unpacked export
    generated: dt.datetime
    terms: dict[str, TermFigures]
    cases: list[Record] = field(default_factory=list)
    slug: str = ""

    @property
    def generated_label(self) -> str:
        """When the school made the export, in the county machine's local time."""
        return self.generated.astimezone().strftime("%Y-%m-%d %H:%M")

    def figures(self, term: str) -> TermFigures | None:
        return self.terms.get(term)


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise BadExport("school.json 中没有校名")
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME:
        raise BadExport(f"校名为空或超过 {MAX_NAME} 个字")
    if any(c in FORBIDDEN or not c.isprintable() for c in name):
        raise BadExport(f"校名“{name[:MAX_NAME]}”含有不允许的符号（如 < > & 引号 斜杠）")
    if name in DEFAULT_NAMES:
        raise BadExport("校名是平台的默认名称，分不出是哪所学校：请学校在 mkdocs.yml 的 extra.portal.school 写上校名后重新导出")
    return name


def _generated(value: Any, fallback: float) -> dt.datetime:
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(fallback, dt.timezone.utc)


def read_school(folder: Path, label: str, catalog: Catalog, mtime: float) -> School:
    """The school an unpacked export describes (its cases are read later), or `BadExport`."""
    try:
        data = read_json(folder / SCHOOL_FILE, MAX_SCHOOL_JSON)
    except Untrusted as error:
        raise BadExport(f"其中的 {SCHOOL_FILE} 无法读取（{error}）") from error
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise BadExport(f"其中的 {SCHOOL_FILE} 不是县级导出文件")
    listed = data.get("terms")
    if not isinstance(listed, list) or len(listed) > MAX_TERMS:
        raise BadExport(f"其中的 {SCHOOL_FILE} 缺少各学期统计或学期过多")
    try:
        terms = [read_figures(entry, catalog) for entry in listed]
    except BadFigures as error:
        raise BadExport(f"其中的 {SCHOOL_FILE} 统计有误：{error}") from error
    if not is_plain_folder(folder / SHOWCASE_DIR):
        raise BadExport(f"缺少 {SHOWCASE_DIR}/ 文件夹（公开案例）")
    return School(_name(data.get("school")), label, folder, _generated(data.get("generated"), mtime), {t.term: t for t in terms})


def _is_link(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)


def _checked_members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    """Every file member with its safe name; `BadExport` at the first that is not safe."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise BadExport(f"压缩包里有 {len(members)} 个文件（上限 {MAX_MEMBERS}）")
    if not any(m.filename == SCHOOL_FILE for m in members):  # a Word file renamed, a zip of something else
        raise BadExport(f"不是县级导出文件（压缩包里没有 {SCHOOL_FILE}）：请放入学校 make county-export 生成的 county-export.zip")
    checked: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    total = 0
    for member in members:
        raw = member.filename.rstrip("/") if member.is_dir() else member.filename
        try:
            name = plain_name(raw)
        except Untrusted as error:
            raise BadExport(f"压缩包中的“{raw[:80]}”路径不安全（{error}）") from error
        if _is_link(member):
            raise BadExport(f"压缩包中的“{name}”是链接")
        if name.lower() in seen:
            raise BadExport(f"压缩包中的“{name}”出现了两次")
        seen.add(name.lower())
        total += member.file_size
        if member.file_size > RATIO_FROM_BYTES and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise BadExport(f"压缩包中的“{name}”压缩比异常，可能是“压缩炸弹”")
        if not member.is_dir():
            checked.append((member, name))
    if total > MAX_EXPORT_BYTES:
        raise BadExport(f"压缩包解压后共 {total // 1024 ** 3} GB，超过上限 {MAX_EXPORT_BYTES // 1024 ** 3} GB")
    return checked


def _read_by_county(name: str) -> bool:
    """Whether the county reads a member of an export: school.json, the showcase's catalog and
    its cases' files and media, not the showcase's own pages, theme or search index (at 100,000
    cases those are most of the bytes to unpack)."""
    inside = name.split("/", 1)[1] if name.startswith(f"{SHOWCASE_DIR}/") else None
    if inside is None:
        return True
    if inside.startswith(("assets/", "search/")) or inside in ("404.html", "feed.xml", "sitemap.xml", "sitemap.xml.gz"):
        return False
    return not (inside.endswith("index.html") and "/files/" not in inside and "/media/" not in inside)


def _extract(archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, str]], target: Path) -> None:
    """Members into `target`, each written as a new file below it; never more than declared."""
    for member, name in members:
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with archive.open(member) as source, path.open("xb") as sink:
            while chunk := source.read(1024 * 1024):
                written += len(chunk)
                if written > member.file_size:
                    raise BadExport(f"压缩包中的“{name}”实际内容比声明的大")
                sink.write(chunk)


def unpack(path: Path, store: Path) -> Path:
    """The export zip `path` unpacked under `store` (reused while the file is unchanged)."""
    info = os.lstat(path)
    key = hashlib.sha1(f"{path.name}\0{info.st_size}\0{info.st_mtime_ns}".encode()).hexdigest()[:16]
    target = store / key
    if target.is_dir():
        return target
    partial = store / f"{key}.{os.getpid()}.partial"  # another process may be unpacking the same file
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with zipfile.ZipFile(path) as archive:
            _extract(archive, [(member, name) for member, name in _checked_members(archive) if _read_by_county(name)], partial)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError, FileExistsError, NotADirectoryError, IsADirectoryError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(error, BadExport):
            raise
        raise BadExport("不是完整有效的 zip 文件（可能还没有上传完，或上传时出错）：上传完成后重新生成；仍然如此时请学校重新导出并上传") from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        partial.rename(target)
    except OSError:  # another process finished first: its copy is the same
        shutil.rmtree(partial, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


def _open_export(entry: Path, store: Path, used: set[Path]) -> Path:
    """The folder of one export: itself when unpacked, else the zip unpacked into `store`."""
    info = os.lstat(entry)
    if stat.S_ISLNK(info.st_mode):
        raise BadExport("是一个链接（出于安全原因不读取链接，请把导出文件本身放到这里）")
    if stat.S_ISDIR(info.st_mode):
        return entry
    if not stat.S_ISREG(info.st_mode) or entry.suffix.lower() != ".zip":
        raise BadExport("不是 zip 文件或文件夹：请放入学校 make county-export 生成的 county-export.zip")
    folder = unpack(entry, store)
    used.add(folder)
    return folder


def _choose(schools: list[School]) -> tuple[list[School], list[Problem]]:
    """One export per school name: the newest; none when the newest two are equally new."""
    by_name: dict[str, list[School]] = defaultdict(list)
    for school in schools:
        by_name[school.name].append(school)
    kept: list[School] = []
    problems: list[Problem] = []
    for name, claims in sorted(by_name.items()):
        claims.sort(key=lambda s: s.generated, reverse=True)
        if len(claims) > 1 and claims[0].generated == claims[1].generated:
            files = "、".join(s.label for s in claims)
            for school in claims:
                problems.append(Problem(school.label, "学校", f"{files} 都自称“{name}”，且生成时间相同，无法判断用哪一个，都未采用。"
                                        "请只保留其中一个；若是两所学校，请其中一所在 mkdocs.yml 的 extra.portal.school 写上完整校名后重新导出"))
            continue
        newest = claims[0]
        kept.append(newest)
        for older in claims[1:]:
            problems.append(Problem(older.label, "学校", f"与 {newest.label} 都自称“{name}”：采用生成时间较新的 {newest.label}"
                                    f"（{newest.generated_label}），本文件（{older.generated_label}）未采用。"
                                    "若是学校更新了导出，请删除本文件；若是两所学校，请其中一所在 mkdocs.yml 的 extra.portal.school 写上完整校名后重新导出"))
    return kept, problems


def _slugs(schools: list[School]) -> None:
    taken: set[str] = set()
    for school in schools:
        candidate = slug(school.name).lower()
        if candidate in taken:
            candidate = f"{candidate}-{hashlib.sha1(school.name.encode()).hexdigest()[:6]}"
        taken.add(candidate)
        school.slug = candidate


def read_schools(resources: Path, catalog: Catalog, store: Path) -> tuple[list[School], list[Problem]]:
    """Every school export in `resources/_schools/` that passes its checks, each with its cases,
    and a problem for every export (or case) refused. `store` holds unpacked zips."""
    root = resources / SCHOOLS
    problems: list[Problem] = []
    if not is_plain_folder(root):
        if root.is_symlink():
            problems.append(Problem(SCHOOLS, "", "是一个链接，不是文件夹：出于安全原因不读取，请把学校的导出文件复制到这里"))
        return [], problems
    found: list[School] = []
    used: set[Path] = set()
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "~$")):
            continue
        label = f"{SCHOOLS}/{entry.name}"
        try:
            folder = _open_export(entry, store, used)
            found.append(read_school(folder, label, catalog, os.lstat(entry).st_mtime))
        except BadExport as error:
            problems.append(Problem(label, "县级导出", f"{error}，该校未收录。{AGAIN}"))
    _forget_old(store, used)
    schools, clashes = _choose(found)
    problems.extend(clashes)
    taken: set[str] = set()
    accepted: list[School] = []
    for school in schools:
        cases, case_problems = read_cases(school.folder / SHOWCASE_DIR, f"{school.label}/{SHOWCASE_DIR}", catalog, taken,
                                          school=school.name, prefix=CASE_PREFIX, origin="学校导出", advice=f"该校未收录。{AGAIN}")
        if any(p.refused for p in case_problems):  # the catalog as a whole could not be read
            problems.extend(case_problems)
            continue
        problems.extend(case_problems)
        school.cases = cases
        accepted.append(school)
    _slugs(accepted)
    return accepted, problems


def _forget_old(store: Path, used: set[Path]) -> None:
    """Unpacked copies of exports no longer in `_schools/` are removed."""
    if not store.is_dir():
        return
    for folder in store.iterdir():
        if folder not in used:
            shutil.rmtree(folder, ignore_errors=True)


def keep_shown(schools: list[School], shown: list[Record]) -> None:
    """Each school's cases limited to those the site shows (a case whose id clashed is not)."""
    ids = {r.id for r in shown}
    for school in schools:
        school.cases = [r for r in school.cases if r.id in ids]
