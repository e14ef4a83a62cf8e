"""Intake: reading both submission forms, normalising metadata, and refusing bad input clearly."""

from __future__ import annotations

import re

import datetime as dt
import os
from pathlib import Path

import pytest
from factories import write_markdown, write_meta

from portal.catalog import Catalog
from portal.intake import scan
from portal.model import Intake

TERM = "2023-2024-1"
GOOD = {
    "title": "认识钟表",
    "type": "微课",
    "subject": "数学",
    "grade": "一年级",
    "competencies": ["B2"],
    "authors": ["张敏"],
}


def run(resources: Path, catalog: Catalog) -> Intake:
    return scan(resources, catalog)


def only_refusal(intake: Intake, path: str) -> str:
    refusals = [p for p in intake.refused if p.path == path]
    assert refusals, f"{path} was not refused: {intake.problems}"
    return " ".join(str(p) for p in refusals)


def test_folder_submission_with_chinese_keys_is_normalised(tmp_path: Path, catalog: Catalog) -> None:
    folder = tmp_path / TERM / "钟表"
    write_meta(
        folder,
        {
            "标题": "  认识钟表  ",
            "类型": "课件",
            "学科": "生物",
            "年级": "初二",
            "能力点": "Ｂ２、a6 技术支持的课堂讲授，b2",
            "作者": "张敏、李强",
            "教研组": "数学组",
            "日期": "2023年10月12日",
            "关键词": "钟表；时间",
            "优秀案例": "是",
            "公开范围": "公开",
        },
    )
    (folder / "b.docx").write_bytes(b"x")
    (folder / "a.mp4").write_bytes(b"y")
    (folder / ".DS_Store").write_bytes(b"z")
    intake = run(tmp_path, catalog)
    assert intake.problems == []
    (record,) = intake.records
    assert record.title == "认识钟表"
    assert (record.type, record.subject, record.grade) == ("演示文稿", "生物学", "八年级")
    assert record.competencies == ["B2", "A6"]
    assert record.authors == ["张敏", "李强"]
    assert record.keywords == ["钟表", "时间"]
    assert record.date == dt.date(2023, 10, 12)
    assert record.term == TERM
    assert record.exemplary is True and record.share == "public"
    assert record.id == f"{TERM}-钟表"
    assert [a.name for a in record.attachments] == ["a.mp4", "b.docx"]  # videos first, meta.yml excluded


def test_markdown_submission_reads_front_matter_and_body(tmp_path: Path, catalog: Catalog) -> None:
    write_markdown(tmp_path / TERM / "反思.md", {**GOOD, "type": "反思", "id": "fs-001"}, "# 反思\n\n正文")
    intake = run(tmp_path, catalog)
    (record,) = intake.records
    assert record.id == "fs-001"
    assert record.type == "教学反思"
    assert "正文" in (record.body_markdown or "")


def test_explicit_files_keep_their_order(tmp_path: Path, catalog: Catalog) -> None:
    folder = tmp_path / TERM / "a"
    write_meta(folder, {**GOOD, "files": ["z.docx", "sub/a.mp4"]})
    (folder / "sub").mkdir()
    (folder / "z.docx").write_bytes(b"x")
    (folder / "sub" / "a.mp4").write_bytes(b"x")
    (folder / "unlisted.pdf").write_bytes(b"x")
    (record,) = run(tmp_path, catalog).records
    assert [a.name for a in record.attachments] == ["z.docx", "sub/a.mp4"]


def test_term_comes_from_the_folder_and_may_be_given(tmp_path: Path, catalog: Catalog) -> None:
    write_meta(tmp_path / "2022-2023-2" / "a", GOOD)
    write_meta(tmp_path / "2022-2023-2" / "b", {**GOOD, "学期": "2022-2023-1"})
    records = {r.id: r for r in run(tmp_path, catalog).records}
    assert records["2022-2023-2-a"].term == "2022-2023-2"
    assert records["2022-2023-2-b"].term == "2022-2023-1"


# -- refusals: each names the path, the field and the reason, and the others still publish -------


def test_yaml_syntax_error_names_the_line(tmp_path: Path, catalog: Catalog) -> None:
    folder = tmp_path / TERM / "坏的"
    folder.mkdir(parents=True)
    (folder / "meta.yml").write_text("title: 好\ntype: 微课\nsubject: [数学\ngrade: 一年级\n", encoding="utf-8")
    write_meta(tmp_path / TERM / "好的", GOOD)
    intake = run(tmp_path, catalog)
    message = only_refusal(intake, f"{TERM}/坏的")
    assert "meta.yml 格式错误" in message and "第 3 行" in message and "方括号列表没有正确结束" in message  # where the [ opened
    assert not ENGLISH.search(message), message  # none of PyYAML's English
    assert [r.id for r in intake.records] == [f"{TERM}-好的"]


ENGLISH = re.compile(r"\b(?!(?:meta|yml|Tab|YAML)\b)[A-Za-z]{3,}")  # words of PyYAML's own messages


@pytest.mark.parametrize("text, said", [
    ("title: 认识: 钟表\n", "多余的冒号"),
    ("title: 好\n\tsubject: 数学\n", "Tab"),
    ('title: "没有结尾\n', "引号没有成对"),
    ("authors:\n  - 甲\n - 乙\n", "缩进不一致"),
    ("- 甲\ntitle: 好\n", "列表各项"),
])
def test_yaml_mistakes_teachers_make_are_explained_in_chinese(tmp_path: Path, catalog: Catalog, text: str, said: str) -> None:
    folder = tmp_path / TERM / "坏的"
    folder.mkdir(parents=True)
    (folder / "meta.yml").write_text(text, encoding="utf-8")
    message = only_refusal(run(tmp_path, catalog), f"{TERM}/坏的")
    assert said in message, message
    assert not ENGLISH.search(message), message


def test_front_matter_error_line_counts_from_the_top_of_the_file(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / TERM / "x.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\ntitle: a\ntype: : :\n---\n正文\n", encoding="utf-8")
    assert "第 3 行" in only_refusal(run(tmp_path, catalog), f"{TERM}/x.md")


@pytest.mark.parametrize("missing", ["title", "type", "subject", "grade", "competencies", "authors"])
def test_missing_required_field_is_named(tmp_path: Path, catalog: Catalog, missing: str) -> None:
    write_meta(tmp_path / TERM / "a", {k: v for k, v in GOOD.items() if k != missing})
    message = only_refusal(run(tmp_path, catalog), f"{TERM}/a")
    assert f"缺少必填字段 {missing}" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("subject", "哲学", "未知的学科“哲学”，可填：道德与法治、语文、数学"),  # what may be written instead, from the catalog
        ("grade", "十年级", "未知的年级“十年级”，可填：一年级、二年级"),
        ("type", "论文", "未知的成果类型“论文”，可填：微课、课堂实录、教学设计"),
        ("competencies", ["B2", "D9"], "未知的能力点“D9”"),
        ("competencies", "Ａ１４", "未知的能力点“A14”"),
        ("date", "昨天", "日期“昨天”无法识别"),
        ("level", "良好", "等级“良好”"),
        ("share", "全网", "公开范围“全网”"),
        ("id", "a/b", "编号“a/b”"),
        ("term", "2023秋", "学期“2023秋”格式不对"),
    ],
)
def test_unknown_values_are_refused_with_field_and_value(
    tmp_path: Path, catalog: Catalog, key: str, value: object, expected: str
) -> None:
    write_meta(tmp_path / TERM / "a", {**GOOD, key: value})
    intake = run(tmp_path, catalog)
    message = only_refusal(intake, f"{TERM}/a")
    assert expected in message
    assert f"字段：{key}" in message
    assert intake.records == []


def test_same_field_in_both_languages_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    write_meta(tmp_path / TERM / "a", {**GOOD, "标题": "另一个"})
    assert "同时写了 title 和 标题" in only_refusal(run(tmp_path, catalog), f"{TERM}/a")


def test_folder_without_meta_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / TERM / "只有视频").mkdir(parents=True)
    (tmp_path / TERM / "只有视频" / "a.mp4").write_bytes(b"x")
    assert "没有 meta.yml" in only_refusal(run(tmp_path, catalog), f"{TERM}/只有视频")


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ("../其他老师/教案.docx", "指向成果文件夹之外（含 ..）"),
        ("/etc/passwd", "是绝对路径"),
        ("C:\\Users\\a.docx", "是绝对路径"),
        ("不存在.docx", "列出的文件“不存在.docx”不存在"),
    ],
)
def test_listed_files_must_exist_inside_the_folder(tmp_path: Path, catalog: Catalog, listed: str, expected: str) -> None:
    write_meta(tmp_path / TERM / "other", GOOD)
    (tmp_path / TERM / "其他老师").mkdir()
    (tmp_path / TERM / "其他老师" / "教案.docx").write_bytes(b"x")
    write_meta(tmp_path / TERM / "a", {**GOOD, "files": [listed]})
    intake = run(tmp_path, catalog)
    message = only_refusal(intake, f"{TERM}/a")
    assert expected in message and "字段：files" in message
    assert f"{TERM}-other" in [r.id for r in intake.records]


def test_symlink_leaving_the_folder_refuses_the_submission(tmp_path: Path, catalog: Catalog) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("机密", encoding="utf-8")
    folder = tmp_path / "resources" / TERM / "a"
    write_meta(folder, GOOD)
    os.symlink(secret, folder / "教案.docx")
    listed = tmp_path / "resources" / TERM / "b"
    write_meta(listed, {**GOOD, "files": ["passwd.txt"]})
    os.symlink("/etc/passwd", listed / "passwd.txt")
    intake = run(tmp_path / "resources", catalog)
    assert "指向成果文件夹之外的链接" in only_refusal(intake, f"{TERM}/a")
    assert "指向成果文件夹之外的链接" in only_refusal(intake, f"{TERM}/b")
    assert intake.records == []


def test_symlink_inside_the_folder_is_fine(tmp_path: Path, catalog: Catalog) -> None:
    folder = tmp_path / TERM / "a"
    write_meta(folder, {**GOOD, "files": ["link.docx"]})
    (folder / "real.docx").write_bytes(b"x")
    os.symlink("real.docx", folder / "link.docx")
    assert len(run(tmp_path, catalog).records) == 1


def test_duplicate_ids_refuse_both_and_name_each_other(tmp_path: Path, catalog: Catalog) -> None:
    write_meta(tmp_path / TERM / "a", {**GOOD, "id": "shuxue-01"})
    write_markdown(tmp_path / TERM / "b.md", {**GOOD, "编号": "shuxue-01"}, "正文")
    write_meta(tmp_path / TERM / "c", GOOD)
    intake = run(tmp_path, catalog)
    assert f"{TERM}/b.md" in only_refusal(intake, f"{TERM}/a")
    assert f"{TERM}/a" in only_refusal(intake, f"{TERM}/b.md")
    assert [r.id for r in intake.records] == [f"{TERM}-c"]


def test_markdown_without_front_matter_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / TERM).mkdir()
    (tmp_path / TERM / "随笔.md").write_text("# 只是随笔\n", encoding="utf-8")
    assert "缺少 --- 包围的元数据" in only_refusal(run(tmp_path, catalog), f"{TERM}/随笔.md")


def test_folder_that_is_not_a_term_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    write_meta(tmp_path / "2023秋" / "a", GOOD)
    intake = run(tmp_path, catalog)
    assert "只能放学期文件夹" in only_refusal(intake, "2023秋")
    assert intake.found == 1 and intake.records == []


def test_gbk_meta_is_read_with_a_warning(tmp_path: Path, catalog: Catalog) -> None:
    folder = tmp_path / TERM / "a"
    folder.mkdir(parents=True)
    text = "标题: 认识钟表\n类型: 微课\n学科: 数学\n年级: 一年级\n能力点: B2\n作者: 张敏\n"
    (folder / "meta.yml").write_bytes(text.encode("gbk"))
    intake = run(tmp_path, catalog)
    assert [r.title for r in intake.records] == ["认识钟表"]
    assert any("GBK" in p.reason and not p.refused for p in intake.problems)


def test_empty_meta_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / TERM / "a").mkdir(parents=True)
    (tmp_path / TERM / "a" / "meta.yml").write_text("\n", encoding="utf-8")
    assert "空文件" in only_refusal(run(tmp_path, catalog), f"{TERM}/a")


def test_accounting_found_equals_published_plus_refused(tmp_path: Path, catalog: Catalog) -> None:
    write_meta(tmp_path / TERM / "ok1", GOOD)
    write_markdown(tmp_path / TERM / "ok2.md", GOOD, "x")
    write_meta(tmp_path / TERM / "bad1", {**GOOD, "subject": "哲学"})
    (tmp_path / TERM / "bad2").mkdir()
    write_meta(tmp_path / "2023-2024-2" / "bad3", {**GOOD, "grade": None})
    intake = run(tmp_path, catalog)
    refused = {p.path for p in intake.refused}
    assert intake.found == 5
    assert len(intake.records) == 2 and len(refused) == 3
    assert intake.found == len(intake.records) + len(refused)


def test_unclaimed_loose_file_is_reported(tmp_path: Path, catalog: Catalog) -> None:
    write_markdown(tmp_path / TERM / "a.md", {**GOOD, "files": ["图.png"]}, "x")
    (tmp_path / TERM / "图.png").write_bytes(b"x")
    (tmp_path / TERM / "孤儿.pdf").write_bytes(b"x")
    intake = run(tmp_path, catalog)
    assert [a.name for a in intake.records[0].attachments] == ["图.png"]
    warnings = [p for p in intake.warnings if p.path == f"{TERM}/孤儿.pdf"]
    assert warnings and "不属于任何成果" in warnings[0].reason


def test_metadata_memo_reads_unchanged_texts_without_parsing_and_changes_nothing(tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal import intake as intake_module
    from portal.intake import MetadataMemo

    resources = tmp_path / "resources"
    write_meta(resources / TERM / "钟表", GOOD)
    write_markdown(resources / TERM / "反思.md", {**GOOD, "type": "教学反思"}, "正文")
    colons = resources / TERM / "冒号"
    colons.mkdir(parents=True)
    (colons / "meta.yml").write_text("标题：认识钟表二\n类型：微课\n学科：数学\n年级：一年级\n能力点：B2\n作者：张敏\n", encoding="utf-8")
    write_meta(resources / TERM / "未知点", {**GOOD, "competencies": ["D9"]})
    fresh = scan(resources, catalog)
    assert len(fresh.records) == 3 and len(fresh.refused) == 1

    memo_file = tmp_path / "cache" / "metadata.pickle"
    first_memo = MetadataMemo(memo_file)
    assert scan(resources, catalog, first_memo) == fresh
    first_memo.save()

    # The next build parses nothing it has seen: a parser that fails proves it is not called.
    def no_parsing(*_: object, **__: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(intake_module.yaml, "load", no_parsing)
    again = scan(resources, catalog, MetadataMemo(memo_file))
    assert again == fresh  # the same records, the same refusal, the full-width colon warning again
    assert any("中文冒号" in p.reason for p in again.problems)
    monkeypatch.undo()

    memo_file.write_bytes(b"not a pickle")  # a damaged cache is ignored, not fatal
    assert scan(resources, catalog, MetadataMemo(memo_file)) == fresh


def test_names_written_in_gbk_are_refused_with_the_readable_name(tmp_path: Path, catalog: Catalog) -> None:
    # A zip packed on Chinese Windows unpacks on Linux with GBK bytes in its names: no build may
    # crash on them, and each message names the file as the teacher sees it.
    term = os.fsencode(tmp_path / TERM)
    os.makedirs(term + b"/" + "认识钟表".encode("gbk"))
    write_meta(Path(os.fsdecode(term + b"/" + "认识钟表".encode("gbk"))), GOOD)
    write_meta(tmp_path / TERM / "ok", {**GOOD, "title": "好"})
    with open(term + b"/ok/" + "学习单.txt".encode("gbk"), "wb") as handle:
        handle.write(b"x")
    write_markdown(Path(os.fsdecode(term + b"/" + "反思.md".encode("gbk"))), GOOD, "x")
    write_meta(tmp_path / TERM / "fine", {**GOOD, "title": "另一份"})
    intake = run(tmp_path, catalog)
    assert [r.title for r in intake.records] == ["另一份"]
    assert intake.found == len(intake.records) + len({p.path for p in intake.refused})
    for problem in intake.problems:
        str(problem).encode("utf-8")  # printable, and writable to the report
    assert "学习单.txt" in only_refusal(intake, f"{TERM}/ok")
    for name in ("认识钟表", "反思.md"):
        assert "UTF-8" in only_refusal(intake, f"{TERM}/{name}")


def test_a_meta_file_saved_by_notepad_is_named_in_the_refusal(tmp_path, catalog) -> None:
    folder = tmp_path / "resources" / "2023-2024-1" / "记事本"
    folder.mkdir(parents=True)
    (folder / "meta.yml.txt").write_text("title: 记事本保存的\n", encoding="utf-8")
    from portal.intake import scan

    (problem,) = scan(tmp_path / "resources", catalog).refused
    assert "没有 meta.yml" in problem.reason and "meta.yml.txt" in problem.reason and "改名为 meta.yml" in problem.reason


@pytest.mark.parametrize("where", ["first", "last", "every other"])
def test_a_full_width_colon_on_some_lines_is_read_as_a_colon_with_a_warning(tmp_path: Path, catalog: Catalog, where: str) -> None:
    """Teachers type “标题：…” on one line and “类型: …” on the next: the README promises the
    Chinese colon is read as a colon, not that the file is refused with YAML's English."""
    lines = ["标题: 海豚阅读课设计", "类型: 教学设计", "学科: 英语", "年级: 七年级", "能力点: B2", "作者: 陈静"]
    index = {"first": [0], "last": [len(lines) - 1], "every other": list(range(0, len(lines), 2))}[where]
    for n in index:
        lines[n] = lines[n].replace(": ", "：", 1)
    folder = tmp_path / "resources" / TERM / "海豚"
    folder.mkdir(parents=True)
    (folder / "meta.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = scan(tmp_path / "resources", catalog)
    assert [r.title for r in found.records] == ["海豚阅读课设计"] and found.records[0].authors == ["陈静"]
    assert [p.reason for p in found.problems] == ["用了中文冒号“：”，已按英文冒号“:”读取；建议改为英文冒号"]


def test_chinese_colons_inside_values_lists_and_blocks_are_kept_as_typed(tmp_path: Path, catalog: Catalog) -> None:
    """Only a field at the left margin has its colon read as a colon: a keyword “目标：认识钟表”,
    a line of a block of text, a time “10：30” stay as typed; a field left empty before its list
    is not joined to the next line."""
    folder = tmp_path / "resources" / TERM / "钟表"
    folder.mkdir(parents=True)
    (folder / "meta.yml").write_text(
        "标题：认识钟表\n类型: 微课\n学科: 数学\n年级: 一年级\n能力点: B2\n作者：\n  - 张敏\n"
        "关键词:\n  - 目标：认识钟表\n简介: |\n  目标：认识整时\n  时间：10：30\n", encoding="utf-8")
    found = scan(tmp_path / "resources", catalog)
    (record,) = found.records
    assert record.title == "认识钟表" and record.authors == ["张敏"]
    assert record.keywords == ["目标：认识钟表"]
    assert record.summary is not None and "目标：认识整时" in record.summary and "时间：10：30" in record.summary


@pytest.mark.parametrize("text", ["标题：认识钟表\n类型: 微课\n作者: [张敏\n", "标题：认识钟表\n作者：[张敏\n"])
def test_a_metadata_file_broken_otherwise_is_still_refused_with_its_own_line(tmp_path: Path, catalog: Catalog, text: str) -> None:
    folder = tmp_path / "resources" / TERM / "坏"
    folder.mkdir(parents=True)
    (folder / "meta.yml").write_text(text, encoding="utf-8")
    found = scan(tmp_path / "resources", catalog)
    assert not found.records and len(found.refused) == 1
    lines = text.count("\n")
    assert any(f"第 {n} 行" in found.refused[0].reason for n in (lines, lines + 1)), found.refused[0].reason
