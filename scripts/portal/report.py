"""What a build or check tells the admin: the accounting, every problem, and each teacher's
standing, in plain Chinese. Written to `reports/` (never into the site): `index.html` to read,
`完成情况.xlsx` to sort and forward, `problems.txt`/`problems.json` for the terminal and tools."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .catalog import Catalog
from .model import Intake, Problem, Record, term_label
from .policy import Policy, Standing, evaluate, latest_term
from .usage import Counts, Usage
from .register import TableError, find_roster, read_roster

TEMPLATES = Path(__file__).with_name("templates")
WORKBOOK = "完成情况.xlsx"
STATUS_FILL = {"未提交": "FDE2E1", "未达标": "FFF3CD", "达标": "E6F4EA"}


def summary_lines(intake: Intake, extra: list[Problem] | None = None) -> list[str]:
    """found = published + refused, per term and in total; warnings counted with the later
    stages' (`extra`: extraction's), as they are printed."""
    found_by_term: Counter[str] = Counter()
    published_by_term: Counter[str] = Counter(r.term for r in intake.records)
    refused_paths = {p.path for p in intake.refused}
    for path in refused_paths:
        found_by_term[path.split("/", 1)[0]] += 1
    for term, count in published_by_term.items():
        found_by_term[term] += count
    lines = []
    for term in sorted(found_by_term):
        published = published_by_term[term]
        lines.append(f"  {term}：共 {found_by_term[term]} 份，发布 {published} 份，未发布 {found_by_term[term] - published} 份")
    refused = intake.found - len(intake.records)
    lines.append(f"合计：共找到 {intake.found} 份成果，发布 {len(intake.records)} 份，未发布 {refused} 份，提醒 {len(intake.warnings) + sum(1 for p in extra or [] if not p.refused)} 条")
    return lines


def problem_lines(problems: list[Problem]) -> list[str]:
    ordered = sorted(problems, key=lambda p: (not p.refused, p.path))
    return [str(p) for p in ordered]


@dataclass
class Completion:
    """Each roster teacher's standing in one term, and authors the roster does not know."""

    term: str | None
    standings: list[Standing] = field(default_factory=list)
    strangers: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # about the roster itself
    cycle: tuple[str, ...] = ()  # the terms judged together for 人人过关
    cycle_standings: list[Standing] = field(default_factory=list)

    @property
    def cycle_label(self) -> str:
        if not self.cycle:
            return ""
        first, last = term_label(self.cycle[0]), term_label(self.cycle[-1])
        return first if first == last else f"{first}至{last}，共 {len(self.cycle)} 个学期"


_ORDER = {"未提交": 0, "未达标": 1, "达标": 2}


def _chase_first(standings: list[Standing]) -> list[Standing]:
    """Teachers who handed in nothing first: they are the ones an admin must chase."""
    return sorted(standings, key=lambda s: (_ORDER[s.status], s.teacher.group or "", s.teacher.name))


def completion(resources: Path, records: list[Record], catalog: Catalog, policy: Policy, term: str | None = None) -> Completion:
    term = term or latest_term(records)
    result = Completion(term)
    roster_path = find_roster(resources)
    if roster_path is None or term is None:
        return result
    try:
        teachers, messages = read_roster(roster_path)
    except TableError as error:
        result.problems.append(Problem(roster_path.name, "", str(error)))
        return result
    result.problems.extend(Problem(roster_path.name, "", m, refused=False) for m in messages)
    result.standings = _chase_first([evaluate(t, records, term, catalog, policy) for t in teachers])
    result.cycle = policy.cycle_terms(records)
    result.cycle_standings = _chase_first([evaluate(t, records, result.cycle, catalog, policy) for t in teachers])
    known = {t.name for t in teachers}
    result.strangers = sorted({a for r in records if r.term == term for a in r.authors} - known)
    return result


def _html(intake: Intake, problems: list[Problem], done: Completion, policy: Policy,
          used: list[tuple[str, Record, Counts]] | None = None, usage: Usage | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), bytecode_cache=jinja2.FileSystemBytecodeCache(),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("report.html").render(
        term_label=term_label(done.term) if done.term else "（暂无成果）",
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        found=intake.found,
        published=len(intake.records),
        refused=intake.found - len(intake.records),
        warnings=sum(1 for p in problems if not p.refused),
        standings=done.standings,
        cycle_label=done.cycle_label,
        cycle_standings=done.cycle_standings,
        strangers=done.strangers,
        policy=policy,
        problems=sorted(problems, key=lambda p: (not p.refused, p.path)),
        used=used or [],
        usage_read=usage is not None and usage.files > 0,
    )


# Text Excel or WPS would read as a formula (or, for "+", "-", "@", offer to turn into one when the
# cell is edited): teachers' titles and names are stored and shown as typed.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_cells(sheet: Any) -> None:
    """Every string cell that starts like a formula becomes a plain text cell."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_STARTS):
                cell.data_type = "s"  # openpyxl made "=..." a formula; "s" stores it as a string
                cell.quotePrefix = True  # Excel's leading apostrophe: stays text when edited


def _workbook(intake: Intake, problems: list[Problem], done: Completion, catalog: Catalog, path: Path,
              used: list[tuple[str, Record, Counts]] | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    book.remove(book.active)
    for title, standings in (("周期完成情况", done.cycle_standings), ("本学期完成情况", done.standings)):
        sheet = book.create_sheet(title)
        sheet.append(["姓名", "教研组", "学科", "年龄", "成果数", "能力点", "各能力点等级", "覆盖维度", "状态", "还需要"])
        for s in standings:
            levels = "、".join(f"{c}：{lvl or '未评'}" for c, lvl in s.point_levels.items())
            sheet.append([s.teacher.name, s.teacher.group, s.teacher.subject, s.age, len(s.records),
                          "、".join(s.point_levels), levels, "、".join(s.dimensions), s.status, "；".join(s.unmet)])
            fill = PatternFill("solid", fgColor=STATUS_FILL[s.status])
            for cell in sheet[sheet.max_row]:
                cell.fill = fill
            if s.status == "未提交":
                sheet.cell(sheet.max_row, 9).font = Font(bold=True, color="B71C1C")

    issues = book.create_sheet("问题清单")
    issues.append(["类别", "位置", "字段", "原因"])
    for p in sorted(problems, key=lambda p: (not p.refused, p.path)):
        issues.append(["未发布" if p.refused else "提醒", p.path, p.field, p.reason])

    accepted = book.create_sheet("成果清单")
    accepted.append(["编号", "标题", "类型", "学科", "年级", "能力点", "作者", "教研组", "学期", "等级", "来源"])
    for r in intake.records:
        accepted.append([r.id, r.title, r.type, r.subject, r.grade, "、".join(r.competencies), "、".join(r.authors),
                         r.group, r.term, r.level, r.source_label])

    if used:
        sheet = book.create_sheet("资源使用")
        sheet.append(["教师", "成果", "学期", "类型", "浏览", "播放", "下载"])
        for teacher, record, counts in used:
            sheet.append([teacher, record.title, record.term, record.type, counts.views, counts.plays, counts.downloads])

    if done.strangers:
        book.create_sheet("名单外作者").append(["不在教师名单中的作者"])
        for name in done.strangers:
            book["名单外作者"].append([name])

    for ws in book.worksheets:
        _as_text_cells(ws)
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for column in ws.columns:
            width = max(len(str(c.value or "")) for c in column)
            ws.column_dimensions[column[0].column_letter].width = min(60, 4 + width * 1.6)
    book.save(path)


def usage_rows(records: list[Record], usage: Usage | None, teachers: list[str]) -> list[tuple[str, Record, Counts]]:
    """(teacher, record, counts) for every record of every teacher (roster order, then authors
    not in it): what 资源使用考评 needs."""
    if usage is None:
        return []
    names = list(dict.fromkeys([*teachers, *sorted({a for r in records for a in r.authors})]))
    mine: dict[str, list[Record]] = {}
    for record in records:
        for author in record.authors:
            mine.setdefault(author, []).append(record)
    return [(name, r, usage.of(r.id)) for name in names for r in sorted(mine.get(name, []), key=lambda r: (r.term, r.title))]


def write_reports(resources: Path, intake: Intake, extra: list[Problem], catalog: Catalog, policy: Policy, folder: Path, term: str | None = None, workbook: bool = True, usage: Usage | None = None) -> Completion:
    folder.mkdir(parents=True, exist_ok=True)
    done = completion(resources, intake.records, catalog, policy, term)
    problems = intake.problems + extra + done.problems
    text = "\n".join(["成果检查报告", "", *summary_lines(intake, extra + done.problems), "", *problem_lines(problems), ""])
    (folder / "problems.txt").write_text(text, encoding="utf-8")
    data = {
        "found": intake.found,
        "published": len(intake.records),
        "refused": intake.found - len(intake.records),
        "problems": [{"path": p.path, "field": p.field, "reason": p.reason, "refused": p.refused} for p in problems],
    }
    (folder / "problems.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    teachers = [s.teacher.name for s in done.cycle_standings or done.standings]
    used = usage_rows(intake.records, usage, teachers)
    (folder / "index.html").write_text(_html(intake, problems, done, policy, used, usage), encoding="utf-8")
    if workbook:
        _workbook(intake, problems, done, catalog, folder / WORKBOOK, used)
    return done


def register_template(catalog: Catalog, path: Path) -> Path:
    """An empty register with drop-down lists, for teachers to fill in Excel or WPS."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = "成果登记表"
    headers = ["标题", "作者", "学科", "年级", "能力点", "成果类型", "文件", "教研组", "简介", "关键词", "日期", "公开范围", "优秀案例"]
    sheet.append(headers)
    options = book.create_sheet("选项")
    lists = {
        "学科": catalog.subjects,
        "年级": catalog.grades,
        "能力点": [f"{p.code} {p.name}" for p in catalog.points.values()],
        "成果类型": list(catalog.types),
        "公开范围": ["campus", "public"],
        "优秀案例": ["是", "否"],
    }
    for column, (name, values) in enumerate(lists.items(), start=1):
        options.cell(1, column, name)
        for row, value in enumerate(values, start=2):
            options.cell(row, column, value)
        letter = options.cell(1, column).column_letter
        validation = DataValidation(type="list", formula1=f"=选项!${letter}$2:${letter}${len(values) + 1}", allow_blank=True,
                                    showErrorMessage=True, errorTitle="请从列表中选择", error=f"{name}请从下拉列表中选择")
        target = sheet.cell(1, headers.index(name) + 1).column_letter
        validation.add(f"{target}2:{target}1000")
        sheet.add_data_validation(validation)
    options.sheet_state = "hidden"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell.column_letter].width = 18
    sheet.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
