"""Hostile and careless input at intake (issue 14): a submission that names a colleague's files,
Office files and registers that inflate to gigabytes, single odd files (FIFOs, link loops,
unreadable files, over-long names, huge CSV cells, bracket bodies) that used to stop the build,
peer folders that are links, and fuzzed register rows."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import REPO, assert_accounting, make_docx, make_pptx, write_markdown, write_meta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portal
from portal.catalog import load_catalog
from portal.intake import scan
from portal.model import Intake

T = "2023-2024-1"
BASE = {"title": "正常", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}
CATALOG = load_catalog(REPO / "catalog")
HEADER = ["标题", "作者", "学科", "年级", "能力点", "成果类型", "文件"]


def refusals(intake: Intake, path: str) -> str:
    found = [str(p) for p in intake.refused if p.path == path]
    assert found, f"{path} was not refused: {[str(p) for p in intake.problems]}"
    return "\n".join(found)


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def replace_member(path: Path, member: str, data: bytes) -> None:
    """Rewrite one part of a zip package (an Office file), keeping the others."""
    with zipfile.ZipFile(path) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    parts[member] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as new:
        for name, content in parts.items():
            new.writestr(name, content)


# -- 1. a file belongs to exactly one submission -------------------------------------------------


@pytest.fixture
def colleagues(tmp_path: Path) -> Path:
    """A campus-only colleague's folder, a register, and a loose file."""
    term = tmp_path / T
    write_meta(term / "王芳-内部", {**BASE, "title": "校内成果", "level": "不合格", "review": "抄袭，需重做"})
    (term / "王芳-内部" / "学习单.pdf").write_bytes(b"%PDF-1.4 secret")
    write_csv(term / "登记表.csv", [HEADER, ["登记的成果", "李强", "数学", "六年级", "A3", "教学设计", ""]])
    (term / "共享.pdf").write_bytes(b"%PDF-1.4 shared")
    return tmp_path


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ("王芳-内部/学习单.pdf", "在成果文件夹“王芳-内部”里"),
        ("王芳-内部/meta.yml", "在成果文件夹“王芳-内部”里"),
        ("登记表.csv", "是成果登记表"),
        ("别人的.md", "是另一份 Markdown 成果"),
        ("../teachers.csv", "成果文件夹之外"),
    ],
)
def test_a_markdown_submission_cannot_name_another_submissions_file(colleagues: Path, listed: str, expected: str) -> None:
    (colleagues / "teachers.csv").write_text("姓名,出生年份\n张敏,1990\n", encoding="utf-8")
    write_markdown(colleagues / T / "别人的.md", {**BASE, "title": "别人的反思"}, "正文")
    write_markdown(colleagues / T / "偷.md", {**BASE, "title": "拿走", "files": [listed]}, "正文")
    intake = scan(colleagues, CATALOG)
    message = refusals(intake, f"{T}/偷.md")
    assert "字段：files（文件）" in message and f"“{listed}”" in message and expected in message
    assert_accounting(intake)


def test_a_link_into_a_colleagues_folder_is_refused(colleagues: Path) -> None:
    os.symlink("王芳-内部/meta.yml", colleagues / T / "评审.txt")
    os.symlink("王芳-内部", colleagues / T / "捷径")
    write_markdown(colleagues / T / "偷.md", {**BASE, "title": "拿走", "files": ["评审.txt"]}, "正文")
    write_markdown(colleagues / T / "偷2.md", {**BASE, "title": "拿走", "files": ["捷径/学习单.pdf"]}, "正文")
    intake = scan(colleagues, CATALOG)
    assert "在成果文件夹“王芳-内部”里" in refusals(intake, f"{T}/偷.md")
    assert "在成果文件夹“王芳-内部”里" in refusals(intake, f"{T}/偷2.md")


def test_a_register_row_cannot_name_a_colleagues_meta_or_a_register(colleagues: Path) -> None:
    write_csv(colleagues / T / "第二登记表.csv", [
        HEADER,
        ["偷评审", "赵丽", "数学", "一年级", "B2", "微课", "王芳-内部/meta.yml"],
        ["偷登记表", "赵丽", "数学", "一年级", "B2", "微课", "登记表.csv；第二登记表.csv"],
        ["正常", "赵丽", "数学", "一年级", "B2", "微课", "共享.pdf"],
    ])
    intake = scan(colleagues, CATALOG)
    assert "在成果文件夹“王芳-内部”里" in refusals(intake, f"{T}/第二登记表.csv 第 2 行")
    row = refusals(intake, f"{T}/第二登记表.csv 第 3 行")
    assert "“登记表.csv”是成果登记表" in row and "“第二登记表.csv”是成果登记表" in row and "列“文件”" in row
    assert [r.title for r in intake.records if r.title == "正常"] == ["正常"]
    assert_accounting(intake)


def test_a_folder_submission_cannot_publish_a_meta_yml_through_a_link(tmp_path: Path) -> None:
    folder = tmp_path / T / "张敏"
    write_meta(folder, {**BASE, "review": "内部评语"})
    os.symlink("meta.yml", folder / "说明.txt")
    intake = scan(tmp_path, CATALOG)
    assert "“说明.txt”是成果信息文件（meta.yml）" in refusals(intake, f"{T}/张敏")


def test_two_loose_submissions_naming_one_file_the_second_is_refused_naming_the_first(colleagues: Path) -> None:
    write_markdown(colleagues / T / "a-甲.md", {**BASE, "title": "甲", "files": ["共享.pdf"]}, "正文")
    write_markdown(colleagues / T / "b-乙.md", {**BASE, "title": "乙", "files": ["共享.pdf"]}, "正文")
    intake = scan(colleagues, CATALOG)
    first = next(r for r in intake.records if r.title == "甲")
    assert [a.name for a in first.attachments] == ["共享.pdf"]
    assert f"已被 {T}/a-甲.md 列出" in refusals(intake, f"{T}/b-乙.md")
    assert_accounting(intake)


def test_a_register_row_claims_a_file_before_any_markdown_submission(colleagues: Path) -> None:
    write_csv(colleagues / T / "登记表.csv", [HEADER, ["登记的成果", "李强", "数学", "六年级", "A3", "教学设计", "共享.pdf"]])
    write_markdown(colleagues / T / "a.md", {**BASE, "title": "甲", "files": ["共享.pdf"]}, "正文")
    intake = scan(colleagues, CATALOG)
    assert f"已被 {T}/登记表.csv 第 2 行 列出" in refusals(intake, f"{T}/a.md")


def test_a_refused_first_claimant_leaves_the_file_to_the_next(colleagues: Path) -> None:
    write_markdown(colleagues / T / "a.md", {**BASE, "title": "甲", "subject": "炼金术", "files": ["共享.pdf"]}, "正文")
    write_markdown(colleagues / T / "b.md", {**BASE, "title": "乙", "files": ["共享.pdf"]}, "正文")
    intake = scan(colleagues, CATALOG)
    assert [a.name for r in intake.records if r.title == "乙" for a in r.attachments] == ["共享.pdf"]


# -- 2. memory bombs -----------------------------------------------------------------------------


def bomb_register(path: Path) -> Path:
    """A register whose sheet inflates a thousand times: 50,000 identical rows."""
    write_xlsx(path, [HEADER, ["认识钟表", "张敏", "数学", "一年级", "B2", "微课", ""]])
    row = '<row><c r="CV1" t="inlineStr"><is><t>x</t></is></c></row>'
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{row * 50_000}</sheetData></worksheet>")
    replace_member(path, "xl/worksheets/sheet1.xml", sheet.encode())
    return path


def test_a_register_that_inflates_a_thousand_times_is_refused_before_parsing(tmp_path: Path) -> None:
    path = bomb_register(tmp_path / T / "登记表.xlsx")
    assert path.stat().st_size < 20_000
    intake = scan(tmp_path, CATALOG)
    message = refusals(intake, f"{T}/登记表.xlsx")
    assert "xl/worksheets/sheet1.xml" in message and "压缩炸弹" in message
    assert_accounting(intake)


def test_a_sheet_with_a_row_far_past_the_limit_is_refused(tmp_path: Path) -> None:
    from portal.limits import MAX_ROWS

    path = write_xlsx(tmp_path / T / "登记表.xlsx", [HEADER, ["认识钟表", "张敏", "数学", "一年级", "B2", "微课", ""]])
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    far = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>藏在最后一行</t></is></c></row>'
    sheet = sheet.replace('<dimension ref="A1:G2"/>', '<dimension ref="A1:G1048576"/>').replace("</sheetData>", far + "</sheetData>")
    replace_member(path, "xl/worksheets/sheet1.xml", sheet.encode())
    message = refusals(scan(tmp_path, CATALOG), f"{T}/登记表.xlsx")
    assert f"超过 {MAX_ROWS} 行" in message


def test_a_csv_register_past_the_row_limit_is_refused(tmp_path: Path) -> None:
    from portal.limits import MAX_ROWS

    rows = [HEADER] + [["成果", "张敏", "数学", "一年级", "B2", "微课", ""]] * MAX_ROWS
    write_csv(tmp_path / T / "登记表.csv", rows)
    assert f"超过 {MAX_ROWS} 行" in refusals(scan(tmp_path, CATALOG), f"{T}/登记表.csv")


def inflate_document(path: Path, member: str) -> None:
    """Three megabytes of blanks inside an Office part: it inflates about a thousand times."""
    with zipfile.ZipFile(path) as package:
        xml = package.read(member).decode()
    head, rest = xml.split("?>", 1)
    replace_member(path, member, f"{head}?><!--{' ' * 3_000_000}-->{rest}".encode())


@pytest.mark.parametrize(("name", "member"), [("教案.docx", "word/document.xml"), ("课件.pptx", "ppt/slides/slide1.xml")])
def test_an_office_attachment_that_inflates_is_a_warning_naming_the_file(tmp_path: Path, name: str, member: str) -> None:
    from portal.extract import Cache, Tools, extract

    folder = tmp_path / "resources" / T / "张敏"
    write_meta(folder, BASE)
    (make_docx(folder / name, "教案", [("目标", ["认识整时"])]) if name.endswith(".docx") else make_pptx(folder / name))
    inflate_document(folder / name, member)
    intake = scan(tmp_path / "resources", CATALOG)
    _, problems = extract(intake.records, Cache(tmp_path / "cache"), CATALOG, Tools(False, False))
    warning = next(p for p in problems if p.field == f"文件 {name}")
    assert not warning.refused and member in warning.reason and "压缩炸弹" in warning.reason


def test_ordinary_office_files_pass_the_package_check(tmp_path: Path) -> None:
    from portal.limits import package_problem

    assert package_problem(make_docx(tmp_path / "a.docx", "教案", [("目标", ["认识整时。" * 2000])])) is None
    assert package_problem(make_pptx(tmp_path / "b.pptx")) is None
    assert package_problem(write_xlsx(tmp_path / "c.xlsx", [HEADER] * 2000)) is None
    (tmp_path / "d.docx").write_bytes(b"not a zip")
    assert package_problem(tmp_path / "d.docx") is None  # the parser says what is wrong with it


# -- 3. single files that stopped the whole build ------------------------------------------------


def test_a_csv_cell_over_128_kb_refuses_its_register_only(tmp_path: Path) -> None:
    write_csv(tmp_path / T / "登记表.csv", [HEADER, ["长", "张敏", "数学", "一年级", "B2", "微课", "x" * 200_000]])
    write_markdown(tmp_path / T / "好.md", BASE, "正文")
    intake = scan(tmp_path, CATALOG)
    message = refusals(intake, f"{T}/登记表.csv")
    assert "第 2 行" in message and "128 KB" in message
    assert [r.title for r in intake.records] == ["正常"]


@pytest.mark.parametrize("name", ["登记表.csv", "登记表.xlsx"])
def test_a_folder_named_like_a_spreadsheet_is_read_as_a_folder(tmp_path: Path, name: str) -> None:
    write_meta(tmp_path / T / name, {**BASE, "title": "文件夹"})
    write_markdown(tmp_path / T / "好.md", BASE, "正文")
    intake = scan(tmp_path, CATALOG)
    assert sorted(r.title for r in intake.records) == ["文件夹", "正常"]


def test_links_pointing_at_each_other_are_refused_not_a_crash(tmp_path: Path) -> None:
    term = tmp_path / T
    term.mkdir()
    for a, b in (("甲.md", "乙.md"), ("丙.pdf", "丁.pdf"), ("戊.csv", "己.csv")):
        os.symlink(b, term / a)
        os.symlink(a, term / b)
    write_meta(term / "张敏", BASE)
    os.symlink("y.pdf", term / "张敏" / "x.pdf")
    os.symlink("x.pdf", term / "张敏" / "y.pdf")
    write_markdown(term / "好.md", {**BASE, "title": "好"}, "正文")
    intake = scan(tmp_path, CATALOG)
    assert "循环链接" in refusals(intake, f"{T}/甲.md")
    assert "循环链接" in refusals(intake, f"{T}/张敏")
    assert [r.title for r in intake.records] == ["好"]
    assert_accounting(intake)


def test_a_name_too_long_to_publish_is_refused(tmp_path: Path) -> None:
    name = "a" * 249 + ".html"  # 254 bytes: the ".txt" it is published with makes 258
    folder = tmp_path / T / "张敏"
    write_meta(folder, BASE)
    (folder / name).write_text("<p>课件</p>", encoding="utf-8")
    write_meta(tmp_path / T / "李强", {**BASE, "title": "最长的文件名"})
    (tmp_path / T / "李强" / ("长" * 83 + "a.pdf")).write_bytes(b"%PDF-1.4")  # 255 bytes, published as it is
    intake = scan(tmp_path, CATALOG)
    message = refusals(intake, f"{T}/张敏")
    assert name in message and "文件名过长" in message and "258 字节" in message
    assert [r.title for r in intake.records] == ["最长的文件名"]


SCAN_AND_PRINT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from portal.catalog import load_catalog
from portal.intake import scan
intake = scan(Path(sys.argv[2]), load_catalog(Path(sys.argv[3])))
print(json.dumps({"records": [r.title for r in intake.records], "found": intake.found,
                  "problems": [[p.path, p.field, p.reason, p.refused] for p in intake.problems]}, ensure_ascii=False))
"""


def scan_elsewhere(resources: Path, *prefix: str) -> dict:
    """Scan in a process of its own (optionally as another user): a hang fails the test, not the suite."""
    package = Path(portal.__file__).parent.parent  # the code under test, wherever pytest found it
    command = [*prefix, sys.executable, "-c", SCAN_AND_PRINT, str(package), str(resources), str(REPO / "catalog")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_fifos_named_like_submissions_are_refused_without_being_opened(tmp_path: Path) -> None:
    term = tmp_path / T
    write_meta(term / "张敏", BASE)
    (term / "张敏" / "meta.yml").unlink()
    os.mkfifo(term / "张敏" / "meta.yml")
    write_meta(term / "李强", {**BASE, "title": "附件是管道"})
    os.mkfifo(term / "李强" / "视频.mp4")
    for name in ("反思.md", "登记表.csv", "登记表.xlsx", "附件.pdf"):
        os.mkfifo(term / name)
    os.mkfifo(tmp_path / "teachers.csv")
    write_markdown(term / "好.md", {**BASE, "title": "好"}, "正文")
    result = scan_elsewhere(tmp_path)
    problems = {(path, refused): reason for path, _, reason, refused in result["problems"]}
    assert "不是普通文件" in problems[(f"{T}/张敏", True)]
    assert "“视频.mp4”不是普通文件" in problems[(f"{T}/李强", True)]
    assert "不是普通文件" in problems[(f"{T}/反思.md", True)]
    assert "不是普通文件" in problems[(f"{T}/登记表.csv", True)] and "不是普通文件" in problems[(f"{T}/登记表.xlsx", True)]
    assert "不是普通文件" in problems[(f"{T}/附件.pdf", False)]
    assert result["records"] == ["好"]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="portal-unreadable-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_unreadable_files_are_refused_naming_them(shared_tmp: Path) -> None:
    """CI runs as root, who reads everything: the scan then runs as `nobody` through setpriv."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        prefix: tuple[str, ...] = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    else:
        prefix = ()
    resources = shared_tmp / "resources"
    term = resources / T
    write_meta(term / "附件", {**BASE, "title": "附件读不了"})
    (term / "附件" / "学习单.pdf").write_bytes(b"%PDF-1.4")
    write_meta(term / "信息", {**BASE, "title": "信息读不了"})
    write_meta(term / "文件夹", {**BASE, "title": "文件夹读不了"})
    write_markdown(term / "反思.md", {**BASE, "title": "反思读不了"}, "正文")
    write_csv(term / "登记表.csv", [HEADER, ["行", "张敏", "数学", "一年级", "B2", "微课", ""]])
    write_markdown(term / "好.md", {**BASE, "title": "好"}, "正文")
    for path in resources.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for path in (term / "附件" / "学习单.pdf", term / "信息" / "meta.yml", term / "文件夹", term / "反思.md", term / "登记表.csv"):
        path.chmod(0)
    result = scan_elsewhere(resources, *prefix)
    refused = {path: reason for path, _, reason, is_refusal in result["problems"] if is_refusal}
    assert "“学习单.pdf”没有读取权限" in refused[f"{T}/附件"]
    assert "没有读取权限" in refused[f"{T}/信息"]
    assert "没有权限" in refused[f"{T}/文件夹"]
    assert "没有读取权限" in refused[f"{T}/反思.md"]
    assert "无法读取" in refused[f"{T}/登记表.csv"]
    assert result["records"] == ["好"]
    assert result["found"] == 1 + len(refused)


def test_a_body_of_brackets_is_shown_as_text_without_parsing() -> None:
    from portal.extract import safe_markdown_html

    ok, reason = safe_markdown_html("[" * 3000, [])  # 3,000 already take seconds; 20,000 took 211 s
    assert not ok and "方括号" in reason
    ok, page = safe_markdown_html("见[学习单](学习单.pdf)和[课件](课件.pptx)。\n\n" * 500, ["学习单.pdf"])
    assert ok and page.count("<a ") == 1000


# -- 5. peers ------------------------------------------------------------------------------------


def test_a_peer_folder_that_is_a_link_is_not_read(tmp_path: Path) -> None:
    from portal.peers import read_peers

    resources = tmp_path / "resources"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "catalog.json").write_text(json.dumps({"school": "某校", "cases": [{
        "id": "x", "title": "链接进来的案例", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"]}]}), encoding="utf-8")
    (resources / "_peers").mkdir(parents=True)
    os.symlink(outside, resources / "_peers" / "城南小学")
    records, problems = read_peers(resources, CATALOG)
    assert records == []
    assert [(p.path, "链接" in p.reason) for p in problems] == [("_peers/城南小学", True)]


def test_a_peer_case_with_a_local_id_is_dropped_and_reported(tmp_path: Path) -> None:
    from portal.pipeline import drop_clashing_peers
    from portal.peers import read_peers

    resources = tmp_path / "resources"
    write_meta(resources / T / "ours", {**BASE, "title": "本校成果", "id": "peer-城南小学-x"})
    folder = resources / "_peers" / "城南小学"
    folder.mkdir(parents=True)
    case = {"id": "x", "title": "对方的案例", "type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"]}
    (folder / "catalog.json").write_text(json.dumps({"school": "城南小学", "cases": [case, {**case, "title": "同编号的第二个"}]}), encoding="utf-8")
    intake = scan(resources, CATALOG)
    peers, peer_problems = read_peers(resources, CATALOG)
    assert [p.title for p in peers] == ["对方的案例"]  # between peers, the first wins (read_peers says so)
    assert any("同编号的第二个" in p.field and "编号" in p.reason for p in peer_problems)
    kept, problems = drop_clashing_peers(intake.records, peers)
    assert kept == []
    assert [(p.path, p.field) for p in problems] == [("_peers/城南小学", "编号")]
    assert "对方的案例" in problems[0].reason


# -- 6. fuzzing register rows --------------------------------------------------------------------

_cell = (st.none() | st.text(max_size=20) | st.sampled_from(["数学", "一年级", "B2", "微课", "张敏", "=1+1", "学习单.pdf", "../x", "/etc/passwd", "a;b、c"])
         | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.booleans())
_rows = st.lists(st.lists(_cell, min_size=0, max_size=len(HEADER) + 2), min_size=1, max_size=6)


def _check_rows(resources: Path, name: str) -> None:
    intake = scan(resources, CATALOG)
    assert_accounting(intake)
    labels = {r.source_label for r in intake.records} | {p.path for p in intake.refused}
    assert all(label == f"{T}/{name}" or label.startswith(f"{T}/{name} 第 ") for label in labels), labels
    assert all(p.reason for p in intake.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows)
def test_any_csv_register_row_becomes_a_record_or_a_refusal_naming_it(tmp_path_factory: pytest.TempPathFactory, rows: list[list[object]]) -> None:
    resources = tmp_path_factory.mktemp("csv")
    write_csv(resources / T / "登记表.csv", [HEADER, *rows])
    (resources / T / "学习单.pdf").write_bytes(b"%PDF-1.4")
    _check_rows(resources, "登记表.csv")


_xlsx_cell = _cell.filter(lambda v: not (isinstance(v, str) and any(ord(c) < 32 and c not in "\t\n\r" for c in v)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_xlsx_cell, max_size=len(HEADER) + 2), min_size=1, max_size=6))
def test_any_xlsx_register_row_becomes_a_record_or_a_refusal_naming_it(tmp_path_factory: pytest.TempPathFactory, rows: list[list[object]]) -> None:
    resources = tmp_path_factory.mktemp("xlsx")
    write_xlsx(resources / T / "登记表.xlsx", [HEADER, *rows])
    _check_rows(resources, "登记表.xlsx")


def test_a_body_that_breaks_the_parser_does_not_spoil_the_next_one() -> None:
    from portal.extract import safe_markdown_html

    ok, _ = safe_markdown_html("- " * 3000 + "x", [])  # nested three thousand deep: RecursionError
    assert not ok
    assert safe_markdown_html("第一段\n\n第二段", []) == (True, "<p>第一段</p>\n<p>第二段</p>")
