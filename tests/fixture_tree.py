"""The fixture school shared by the build and browser tests: every kind of file, hostile text,
refused submissions, and enough resources in one group to paginate."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import make_docx, make_image, make_pdf, make_project, make_video, tree_digest, write_markdown, write_meta

from portal import pipeline
from portal.project import Project

TERMS = ("2023-2024-1", "2023-2024-2")
T1, T2 = TERMS
XSS_TITLE = "</title><script>alert(1)</script>钟表"
BASE = {"type": "微课", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}


def populate(resources: Path) -> None:
    folder = resources / T1 / "钟表"
    write_meta(folder, {**BASE, "title": XSS_TITLE, "group": "小学数学组", "date": "2023-10-12",
                        "summary": "<b>整时</b>与半时", "keywords": ["钟表", "整时"], "level": "优秀",
                        "review": "评审内部意见-不应出现", "exemplary": True})
    make_video(folder / "微课 视频#1.mp4", "认识钟表", seconds=2)
    make_docx(folder / "教学设计.docx", "认识钟表教学设计", [("教学目标", ["认识整时和半时。"])],
              [["环节", "时间"], ["导入", "5分钟"]])
    make_image(folder / "板书.png", "板书")
    make_pdf(folder / "学习单.pdf", "学习单")
    (folder / "说明.html").write_text("<script>alert('file')</script>", encoding="utf-8")

    write_markdown(
        resources / T1 / "反思.md",
        {"标题": "《认识钟表》教学反思", "类型": "反思", "学科": "数学", "年级": "一年级", "能力点": "b2 微课程设计与制作",
         "作者": "张敏", "日期": "2023-10-20"},
        "# 效果\n\n**加粗**保留 <script>alert(2)</script> <img src=x onerror=alert(3)>\n\n"
        "[坏链接](javascript:alert(4)) <iframe src=\"http://example.com\"></iframe>\n\n"
        "![外部图片](http://example.com/x.png)",
    )
    write_meta(resources / T2 / "物理", {**BASE, "title": "浮力", "subject": "物理", "grade": "初二",
                                         "competencies": ["C1"], "group": "理化组"})
    make_docx(resources / T2 / "物理" / "设计.docx", "浮力设计", [("过程", ["实验探究浮力。"])])
    (resources / T2 / "物理" / "损坏.docx").write_bytes(b"not a zip")

    # Refused: unknown point, outside file reference, duplicate ids.
    write_meta(resources / T2 / "未知能力点", {**BASE, "title": "不应发布-D9", "competencies": ["D9"]})
    write_meta(resources / T2 / "越界", {**BASE, "title": "不应发布-越界", "files": ["../物理/设计.docx"]})
    write_meta(resources / T2 / "重复甲", {**BASE, "title": "不应发布-重复甲", "id": "dup"})
    write_meta(resources / T2 / "重复乙", {**BASE, "title": "不应发布-重复乙", "id": "dup"})

    # Enough in one group for a second listing page.
    for n in range(55):
        write_markdown(resources / T2 / f"分页-{n:02d}.md", {**BASE, "title": f"分页成果{n:02d}", "group": "分页组"}, "正文")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome, dict[str, str]]:
    project = make_project(tmp_path_factory.mktemp("school"))
    populate(project.resources)
    before = tree_digest(project.resources)
    outcome = pipeline.build_site(project)
    return project, outcome, before


