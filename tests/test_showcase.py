"""The public showcase: exactly the exemplary cases teachers agreed to share, nothing internal,
no personal data, machine-readable; and another school's showcase shown on our campus site."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from factories import assert_accounting, make_docx, make_pdf, make_project, write_markdown, write_meta

from portal import pipeline
from portal.cli import main
from portal.privacy import scan_text, valid_id_number
from portal.project import Project

T = "2023-2024-1"
BASE = {"type": "教学设计", "subject": "数学", "grade": "五年级", "competencies": ["B2", "A6"], "authors": ["公开作者"]}
ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
EMAIL = "zhang.min@example.edu.cn"
FORBIDDEN = [
    "仅校内-优秀", "公开-非优秀", "仅校内-普通", "拒收-优秀公开",  # titles that must not leave
    "含身份证号案例", "含手机号案例", "含邮箱案例",  # held back by the guard
    "内部评审意见甲乙丙", "名单专用教师", ID_NUMBER, PHONE, EMAIL, "完成情况", "参与率",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome]:
    project = make_project(tmp_path_factory.mktemp("showcase") / "school")
    term = project.resources / T
    public = {"exemplary": True, "share": "public"}
    ok = term / "公开案例"
    write_meta(ok, {**BASE, **public, "title": "圆的面积公开案例", "level": "优秀", "review": "内部评审意见甲乙丙",
                    "summary": "化曲为直", "keywords": ["圆的面积"], "date": "2023-11-02"})
    make_docx(ok / "教学设计.docx", "圆的面积", [("过程", ["把圆剪拼成近似长方形。"])])
    make_pdf(ok / "学习单.pdf", "学习单")
    write_markdown(term / "公开反思.md", {**BASE, **public, "title": "公开的教学反思", "type": "教学反思", "date": "2023-12-01"}, "反思正文。")
    write_meta(term / "校内优秀", {**BASE, "title": "仅校内-优秀", "exemplary": True, "share": "campus"})
    write_meta(term / "公开普通", {**BASE, "title": "公开-非优秀", "exemplary": False, "share": "public"})
    write_meta(term / "校内普通", {**BASE, "title": "仅校内-普通"})
    write_meta(term / "拒收", {**BASE, **public, "title": "拒收-优秀公开", "competencies": ["D9"]})
    pii = term / "含身份证号"
    write_meta(pii, {**BASE, **public, "title": "含身份证号案例"})
    make_docx(pii / "学生名单.docx", "名单", [("学生", [f"张三 身份证 {ID_NUMBER}"])])
    write_meta(term / "含手机号", {**BASE, **public, "title": "含手机号案例", "summary": f"有问题请联系 {PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}"})
    write_markdown(term / "含邮箱.md", {**BASE, **public, "title": "含邮箱案例"}, f"作业发到 {EMAIL}")
    (project.resources / "teachers.csv").write_text("姓名,教研组\n公开作者,数学组\n名单专用教师,数学组\n", encoding="utf-8")
    outcome = pipeline.build_showcase(project)
    return project, outcome


def every_text(folder: Path) -> dict[Path, str]:
    """Every file of the showcase as text, compressed search shards and sitemaps decompressed."""
    texts: dict[Path, str] = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        texts[path] = data.decode("utf-8", errors="ignore")
        if path.suffix == ".docx":
            from docx import Document

            texts[path] += "\n".join(p.text for p in Document(str(path)).paragraphs)
    return texts


def test_exactly_the_exemplary_public_clean_cases_are_published(built) -> None:
    project, outcome = built
    assert_accounting(outcome.intake)
    assert sorted(r.title for r in outcome.published) == ["公开的教学反思", "圆的面积公开案例"]
    pages = sorted(p.parent.name for p in (project.showcase / "r").glob("*/index.html"))
    assert pages == sorted(r.id for r in outcome.published)


def test_nothing_forbidden_appears_in_any_file(built) -> None:
    project, _ = built
    texts = every_text(project.showcase)
    assert any(p.name.endswith(".json.gz") for p in texts)  # the search index was read, decompressed
    for path, text in texts.items():
        for forbidden in FORBIDDEN:
            assert forbidden not in text, f"{forbidden} in {path.relative_to(project.showcase)}"
    assert not any(p.name == "学生名单.docx" for p in texts)


def test_held_back_cases_are_reported_with_where(built) -> None:
    _, outcome = built
    held = {p.path: p.reason for p in outcome.problems if p.field == "公开前检查"}
    assert "文件 学生名单.docx中有身份证号（110****1002）" in held[f"{T}/含身份证号"]
    assert "简介中有手机号（138****5678）" in held[f"{T}/含手机号"]
    assert "正文中有电子邮箱" in held[f"{T}/含邮箱.md"]
    for reason in held.values():
        assert ID_NUMBER not in reason and PHONE not in reason and EMAIL not in reason


def test_case_pages_carry_valid_learning_resource_json_ld(built) -> None:
    project, outcome = built
    for record in outcome.published:
        page = (project.showcase / "r" / record.id / "index.html").read_text(encoding="utf-8")
        (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, flags=re.S)
        data = json.loads(block)
        assert data["@context"] == "https://schema.org" and data["@type"] == "LearningResource"
        assert data["name"] == record.title
        assert data["inLanguage"] == "zh-CN"
        assert data["educationalLevel"] == "五年级"
        assert data["learningResourceType"] == record.type
        assert [t["termCode"] for t in data["teaches"]] == ["B2", "A6"]
        assert data["teaches"][0] == {"@type": "DefinedTerm", "termCode": "B2", "name": "微课程设计与制作",
                                      "inDefinedTermSet": "中小学教师信息技术应用能力提升工程2.0 微能力点"}
        assert data["author"] == [{"@type": "Person", "name": "公开作者"}]
        assert data["publisher"]["name"] == "实验学校教学成果资源平台"


def test_catalog_json_and_feed_list_the_cases(built) -> None:
    project, outcome = built
    catalog = json.loads((project.showcase / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["school"] == "实验学校教学成果资源平台"
    assert [c["title"] for c in catalog["cases"]] == ["公开的教学反思", "圆的面积公开案例"]  # newest first
    case = catalog["cases"][1]
    assert case["competencies"][0] == {"code": "B2", "name": "微课程设计与制作", "environment": "混合学习环境", "dimension": "教学设计"}
    assert "level" not in case and "review" not in case
    for file in case["files"]:
        from urllib.parse import unquote

        assert (project.showcase / unquote(file["url"])).is_file()
    feed = ET.fromstring((project.showcase / "feed.xml").read_bytes())
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in feed.iter("{http://www.w3.org/2005/Atom}entry")]
    assert sorted(titles) == sorted(r.title for r in outcome.published)


def test_showcase_zip_opens_as_a_site(built) -> None:
    project, _ = built
    assert main(["--root", str(project.root), "showcase-zip"]) == 0
    with zipfile.ZipFile(project.root / "showcase.zip") as archive:
        names = set(archive.namelist())
    assert {"index.html", "catalog.json", "feed.xml", "search/facets.json.gz"} <= names
    assert not any(name.startswith("/") or ".." in name for name in names)


def test_a_peer_schools_showcase_appears_on_the_campus_site(built, tmp_path: Path) -> None:
    showcase_project, outcome = built
    campus = make_project(tmp_path / "other")
    write_meta(campus.resources / T / "本校", {**BASE, "title": "本校的一份成果"})
    shutil.copytree(showcase_project.showcase, campus.resources / "_peers" / "城南小学")
    result = pipeline.build_site(campus)
    assert not [p for p in result.problems if p.path.startswith("_peers")]
    listing = (campus.site / "peers" / "index.html").read_text(encoding="utf-8")
    assert "实验学校教学成果资源平台（2）" in listing and "圆的面积公开案例" in listing
    peer_pages = list((campus.site / "r").glob("peer-*/index.html"))
    assert len(peer_pages) == 2
    page = next(p for p in peer_pages if "圆的面积公开案例" in p.read_text(encoding="utf-8")).read_text(encoding="utf-8")
    assert "来自实验学校教学成果资源平台" in page and "把圆剪拼成近似长方形。" in page  # its document, read locally
    # Searchable like ours: in the index, with the school as a facet value.
    docs = [entry["t"] for p in (campus.site / "search" / "docs").glob("*.json") for entry in json.loads(p.read_text(encoding="utf-8"))]
    assert "圆的面积公开案例" in docs and "本校的一份成果" in docs
    facets = json.loads(gzip.decompress((campus.site / "search" / "facets.json.gz").read_bytes()))
    assert set(facets["school"]["values"]) == {"本校", "实验学校教学成果资源平台"}
    # Peer cases stay out of our own listings and statistics.
    assert "圆的面积公开案例" not in (campus.site / "subjects" / "数学" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        (f"身份证 {ID_NUMBER}", ["身份证号"]),
        ("身份证 110105194912310021", []),  # wrong check digit: an 18-digit number, not an ID
        ("电话 +86 138 1234 5678", ["手机号"]),
        ("学号 2023123456789", []),
        ("座机 010-62751234", []),
        (f"邮箱 {EMAIL}", ["电子邮箱"]),
        ("课题编号 B2-2023-11", []),
    ],
)
def test_personal_data_patterns(text: str, kinds: list[str]) -> None:
    assert [f.kind for f in scan_text(text, "x")] == kinds


def test_id_check_digit() -> None:
    assert valid_id_number(ID_NUMBER) and not valid_id_number("110105194912310021")
