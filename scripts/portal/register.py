"""Spreadsheets admins already keep: registers of achievements (成果登记表) and the teacher roster.

Both come as .xlsx (openpyxl) or .csv exported by Excel or WPS, whose encoding on Chinese Windows
is GBK/GB18030 rather than UTF-8. Only the header row says what a column is, and headers vary
between platforms, so each field accepts the usual synonyms. This module reads tables; turning a
row into a submission is intake's job.
"""

from __future__ import annotations

import csv
import io
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import limits
from .catalog import fold

# English metadata key -> headers seen in registers exported by training platforms or typed by hand.
REGISTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "成果名称", "成果标题", "名称", "课题", "作品名称"),
    "authors": ("作者", "姓名", "教师", "教师姓名", "提交人", "上传人"),
    "subject": ("学科", "任教学科"),
    "grade": ("年级", "任教年级"),
    "competencies": ("能力点", "微能力点", "能力点编号", "能力点名称"),
    "type": ("成果类型", "类型", "资源类型", "作业类型"),
    "files": ("文件", "附件", "文件名", "成果文件"),
    "group": ("教研组", "所在教研组"),
    "summary": ("简介", "成果简介", "说明", "内容简介"),
    "keywords": ("关键词",),
    "share": ("公开范围", "是否公开"),
    "exemplary": ("优秀案例", "是否优秀案例"),
    "level": ("等级", "评定等级", "考核等级", "考核结果"),
    "review": ("评审意见", "评语"),
    "date": ("日期", "提交日期", "提交时间"),
    "id": ("编号", "成果编号"),
    "term": ("学期",),
}
ROSTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "教师姓名", "教师"),
    "group": ("教研组", "所在教研组"),
    "subject": ("学科", "任教学科"),
    "birth_year": ("出生年份", "出生年", "出生年月", "出生日期"),
}
TABLE_SUFFIXES = (".xlsx", ".csv")
HEADER_SEARCH_ROWS = 10  # exports often put a title row or two above the header


@dataclass
class Table:
    """One sheet: its name (None for CSV) and its rows of cell values, 1-based row numbers kept."""

    name: str | None
    rows: list[list[Any]]


class TableError(Exception):
    """The file is not a readable spreadsheet; the message is for admins."""


def decode_csv(data: bytes) -> str:
    """UTF-8 (Excel's "CSV UTF-8" adds a BOM) or GB18030, a superset of the GBK that Excel and
    WPS write on Chinese Windows. UTF-8 is tried first: GBK bytes are almost never valid UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise TableError("CSV 文件编码无法识别，请在 Excel 中另存为“CSV UTF-8”") from error


def read_tables(path: Path) -> list[Table]:
    """Every sheet's rows, bounded (limits.py): a small file cannot make the build inflate
    gigabytes, and a file that cannot be read is a TableError, never a crash."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # stat, not open: opening a FIFO waits forever
            raise TableError("不是普通文件（可能是文件夹、管道或失效的链接），未读取")
        return _read_csv(path) if path.suffix.lower() == ".csv" else _read_xlsx(path)
    except OSError as error:  # unreadable, a link loop, deleted meanwhile
        raise TableError(f"文件无法读取（{error.strerror or type(error).__name__}），请检查文件权限或重新保存") from error


def _too_many_rows() -> TableError:
    return TableError(f"表格超过 {limits.MAX_ROWS} 行，不像是成果登记表或教师名单，未读取；请删去多余的行")


def _read_csv(path: Path) -> list[Table]:
    if path.stat().st_size > limits.MAX_CSV_BYTES:
        raise TableError(f"CSV 文件超过 {limits.MAX_CSV_BYTES // 1024 // 1024} MB，不像是成果登记表或教师名单，未读取")
    reader = csv.reader(io.StringIO(decode_csv(path.read_bytes())))
    rows: list[list[Any]] = []
    try:
        for row in reader:
            if len(rows) >= limits.MAX_ROWS:
                raise _too_many_rows()
            rows.append(row[: limits.MAX_COLUMNS])
    except csv.Error as error:  # a field over the size limit, a stray quote in strict mode
        raise TableError(f"第 {reader.line_num} 行无法读取（{error}），请检查是否有过长的单元格（上限 {limits.MAX_CELL_BYTES // 1024} KB）") from error
    return [Table(None, rows)]


def _read_xlsx(path: Path) -> list[Table]:
    from openpyxl import load_workbook

    if (too_big := limits.package_problem(path)) is not None:
        raise TableError(too_big)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise TableError(f"不是有效的 Excel 文件（{type(error).__name__}），请用 Excel 或 WPS 另存为 .xlsx") from error
    try:
        return [Table(sheet.title, _sheet_rows(sheet)) for sheet in workbook.worksheets]
    except TableError:
        raise
    except Exception as error:  # damaged sheet XML, read lazily row by row
        raise TableError(f"Excel 文件已损坏，无法读取（{type(error).__name__}），请用 Excel 或 WPS 另存为 .xlsx") from error
    finally:
        workbook.close()


def _sheet_rows(sheet: Any) -> list[list[Any]]:
    """At most MAX_ROWS rows of MAX_COLUMNS cells: a sheet declaring a million rows or columns is
    read lazily and stopped, never padded out in memory. Blank rows past the limit are allowed
    (templates format whole columns); a filled one refuses the sheet."""
    rows: list[list[Any]] = []
    for row in sheet.iter_rows(max_col=limits.MAX_COLUMNS, values_only=True):
        if len(rows) < limits.MAX_ROWS:
            rows.append(list(row))
        elif row.count(None) < len(row) and any(cell_text(value) for value in row):
            raise _too_many_rows()
    return rows


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def find_header(table: Table, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> tuple[int, dict[int, str], dict[str, str]] | None:
    """The header row (0-based), column index -> key, and key -> header as written; None when no
    row in the first few names all the required columns."""
    lookup = {fold(h): key for key, headers in columns.items() for h in headers}
    for number, row in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        mapping: dict[int, str] = {}
        written: dict[str, str] = {}
        for index, value in enumerate(row):
            key = lookup.get(fold(cell_text(value)).replace(" ", ""))
            if key and key not in written:
                mapping[index] = key
                written[key] = cell_text(value)
        if all(key in written for key in required):
            return number, mapping, written
    return None


@dataclass(frozen=True)
class Teacher:
    name: str
    group: str | None
    subject: str | None
    birth_year: int | None


def _year(value: Any) -> int | None:
    import datetime as dt
    import re

    if isinstance(value, (dt.date, dt.datetime)):
        return value.year
    match = re.search(r"(19|20)\d{2}", cell_text(value))
    return int(match.group(0)) if match else None


def find_roster(resources: Path) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        for name in ("teachers", "教师名单", "花名册"):
            if (resources / f"{name}{suffix}").is_file():
                return resources / f"{name}{suffix}"
    return None


def read_roster(path: Path) -> tuple[list[Teacher], list[str]]:
    """Teachers from the roster, and messages about rows that could not be used."""
    teachers: list[Teacher] = []
    messages: list[str] = []
    seen: set[str] = set()
    for table in read_tables(path):
        header = find_header(table, ROSTER_COLUMNS, ("name",))
        if header is None:
            continue
        start, mapping, _ = header
        for number, row in enumerate(table.rows[start + 1 :], start=start + 2):
            values = {key: row[i] if i < len(row) else None for i, key in mapping.items()}
            name = cell_text(values.get("name"))
            if not name:
                continue
            if name in seen:
                messages.append(f"第 {number} 行：教师“{name}”重复出现，只计一次")
                continue
            seen.add(name)
            teachers.append(Teacher(name, cell_text(values.get("group")) or None, cell_text(values.get("subject")) or None, _year(values.get("birth_year"))))
        return teachers, messages
    raise TableError("找不到表头：第一行应有“姓名”列（可选“教研组”“学科”“出生年份”）")
