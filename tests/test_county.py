"""The county portal (issue 17): schools export, the county builds from the exports.

Three small schools are built from their own submissions; each runs `county-export` as a real
process; the zips are dropped into a county project whose `make site` then shows every school's
figures (compared here with the school's own statistics page), its cases under a school facet, and
the county comparison. Every file of an export is read as an outsider would (zip members, search
shards decompressed, docx XML) for strings that must never leave a school.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from factories import REPO, make_docx, make_project, write_markdown, write_meta
from lxml import html as lxml_html

from portal import pipeline
from portal.project import Project

T1, T2 = "2023-2024-1", "2023-2024-2"
REVIEW = "内部评审意见绝不外传"
ROSTER_ONLY = "名单专用老师"
CAMPUS_AUTHOR = "校内作者丁"


def school_config(project: Project, name: str) -> None:
    text = project.config_file.read_text(encoding="utf-8")
    project.config_file.write_text(text.replace("  portal:\n", f"  portal:\n    school: {name}\n", 1), encoding="utf-8")


def submission(folder: Path, title: str, points: list[str], authors: list[str], **extra: Any) -> None:
    write_meta(folder, {"title": title, "type": extra.pop("type", "教学设计"), "subject": extra.pop("subject", "数学"), "grade": "五年级",
                        "competencies": points, "authors": authors, **extra})


def make_school(root: Path, name: str, spec: list[tuple[str, str, list[str], str, dict[str, Any]]], roster: str | None) -> Project:
    """A school: `spec` rows are (term, folder, points, author, extra metadata)."""
    project = make_project(root)
    school_config(project, name)
    for term, folder, points, author, extra in spec:
        submission(project.resources / term / folder, f"{name}{folder}", points, [author], **extra)
    if roster is not None:
        (project.resources / "teachers.csv").write_text(roster, encoding="utf-8")
    return project


PUBLIC = {"exemplary": True, "share": "public", "level": "优秀", "review": REVIEW, "group": "数学组"}


def export(project: Project) -> Path:
    """`python -m portal county-export` in the school's own copy, as a real process."""
    env = {**os.environ, "PYTHONPATH": str(project.root / "scripts")}
    done = subprocess.run([sys.executable, "-m", "portal", "--root", str(project.root), "county-export"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "县级导出已生成" in done.stdout
    return project.root / "county-export.zip"


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("county")
    east = make_school(base / "east", "城东小学", [
        (T1, "公开一", ["A1", "B2"], "东甲", {**PUBLIC, "date": "2023-10-01"}),
        (T1, "校内一", ["A1"], "东乙", {"level": "合格", "review": REVIEW, "group": "语文组", "subject": "语文"}),
        (T1, "校内二", ["C3"], CAMPUS_AUTHOR, {"level": "不合格", "group": "语文组", "subject": "语文"}),
        (T2, "公开二", ["B2"], "东甲", {**PUBLIC, "type": "微课"}),
        (T2, "校内三", ["A5"], "东乙", {}),
    ], "姓名,教研组\n东甲,数学组\n东乙,语文组\n校内作者丁,语文组\n名单专用老师,语文组\n")
    make_docx(east.resources / T1 / "公开一" / "教学设计.docx", "公开的设计", [("过程", ["先量后算。"])])
    west = make_school(base / "west", "城西中学", [
        (T1, "公开三", ["B6"], "西甲", {**PUBLIC, "subject": "物理", "grade": "八年级"}),
        (T1, "校内四", ["B6", "C1"], "西乙", {"level": "优秀"}),
    ], None)
    south = make_school(base / "south", "南山小学", [
        (T1, "校内五", ["A3"], "南甲", {"level": "合格"}),
    ], "姓名\n南甲\n南乙\n南丙\n")
    schools = {"城东小学": east, "城西中学": west, "南山小学": south}
    zips = {name: export(project) for name, project in schools.items()}
    centre = make_project(base / "centre")
    (centre.resources / "_schools").mkdir()
    for name, path in zips.items():
        shutil.copy(path, centre.resources / "_schools" / f"{name}.zip")
    write_markdown(centre.content / "briefings" / f"{T1}-9.md", {"term": T1, "issue": 9, "date": "2024-01-05", "title": "全县简报"},
                   "全县 {{ county.schools }} 所学校，成果 {{ county.accepted }} 份，参与率 {{ county.participation_rate }}。\n\n"
                   "{{ county.table }}\n\n尚无学校覆盖：{{ county.uncovered | join('、') }}。")
    outcome = pipeline.build_site(centre)
    assert outcome.schools == {"城东小学": 2, "城西中学": 1, "南山小学": 0}
    own = {name: pipeline.build_site(project) for name, project in schools.items()}
    return {"schools": schools, "zips": zips, "centre": centre, "outcome": outcome, "own": own}


def every_text(archive: Path) -> dict[str, str]:
    """Every member of an export as text: gzip members decompressed, Office parts unzipped."""
    texts: dict[str, str] = {}
    with zipfile.ZipFile(archive) as outer:
        for name in outer.namelist():
            data = outer.read(name)
            if name.endswith(".gz"):
                data = gzip.decompress(data)
            texts[name] = data.decode("utf-8", errors="ignore")
            if name.endswith((".docx", ".pptx", ".xlsx")):
                import io

                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    texts[name] += "".join(inner.read(part).decode("utf-8", errors="ignore") for part in inner.namelist())
    return texts


def test_an_export_holds_the_showcase_and_counts_only(county) -> None:
    east = county["zips"]["城东小学"]
    texts = every_text(east)
    assert "school.json" in texts and "showcase/catalog.json" in texts and "showcase/index.html" in texts
    assert any(n.endswith(".json.gz") for n in texts) and any(n.endswith(".docx") for n in texts)
    assert any("先量后算" in t for n, t in texts.items() if n.endswith(".docx"))  # the docx XML was read
    for name, text in texts.items():
        for forbidden in (REVIEW, ROSTER_ONLY, CAMPUS_AUTHOR, "东乙", "合格", "等级", "评审", '"level"', '"review"'):
            assert forbidden not in text, f"{forbidden} in {name}"
    data = json.loads(texts["school.json"])
    assert data["school"] == "城东小学" and data["cases"] == 2
    cases = json.loads(texts["showcase/catalog.json"])
    assert cases["school"] == "城东小学" and [c["school"] for c in cases["cases"]] == ["城东小学", "城东小学"]
    first = next(t for t in data["terms"] if t["term"] == T1)
    assert (first["accepted"], first["roster"], first["teachers"], first["graded"], first["qualified"], first["excellent"]) == (3, 4, 3, 3, 2, 1)
    assert first["by_point"]["A1"] == 2 and first["by_group"] == {"语文组": 2, "数学组": 1}


def stats_items(page: Path, heading: str | None = None) -> list[str]:
    """The figures (`ul.portal-stats` items) of a page, or of the section under `heading`."""
    tree = lxml_html.fromstring(page.read_text(encoding="utf-8"))
    if heading is None:
        lists = tree.xpath('//ul[contains(@class, "portal-stats")]')
    else:
        lists = tree.xpath(f'//h2[normalize-space()="{heading}"]/following-sibling::ul[contains(@class, "portal-stats")][1]')
    assert lists, f"no figures in {page}"
    return [" ".join(li.text_content().split()) for li in lists[0].xpath("./li")]


def test_each_schools_figures_match_its_own_statistics_page(county) -> None:
    centre: Project = county["centre"]
    for name, project in county["schools"].items():
        page = centre.site / "county" / "schools" / county_slug(centre, name) / "index.html"
        terms = [t["term"] for t in json.loads(zipfile.ZipFile(county["zips"][name]).read("school.json"))["terms"]]
        assert terms
        for term in terms:
            own = stats_items(project.site / "stats" / term / "index.html")
            label = f"{term[:9]} 学年第{'一' if term.endswith('1') else '二'}学期"
            assert stats_items(page, label) == own, (name, term)


def county_slug(centre: Project, name: str) -> str:
    tree = lxml_html.fromstring((centre.site / "county" / "index.html").read_text(encoding="utf-8"))
    link = tree.xpath(f'//a[normalize-space()="{name}"]/@href')
    assert link, f"{name} missing from the county page"
    return unquote(link[0].rstrip("/").split("/")[-1])


def test_the_county_compares_schools_and_marks_uncovered_points(county) -> None:
    centre: Project = county["centre"]
    page = centre.site / "county" / "terms" / T1 / "index.html"
    tree = lxml_html.fromstring(page.read_text(encoding="utf-8"))
    rows = {" ".join(r.xpath("./th")[0].text_content().split()): [" ".join(c.text_content().split()) for c in r.xpath("./td")]
            for r in tree.xpath('//table[not(contains(@class, "portal-coverage"))]//tr[th and td]')}
    # roster, teachers, rate, achievements, qualified, excellent, public cases, points covered
    assert rows["城东小学"] == ["4", "3", "75.0%", "3", "66.7%", "33.3%", "1", "3 / 30"]
    assert rows["城西中学"] == ["—", "2", "—", "2", "100.0%", "100.0%", "1", "2 / 30"]
    assert rows["南山小学"] == ["3", "1", "33.3%", "1", "100.0%", "0.0%", "0", "1 / 30"]
    assert rows["全县"] == ["7", "6", "57.1%", "6", "83.3%", "50.0%", "2", "6 / 30"]
    gaps = {c.text_content() for c in tree.xpath('//thead//th[contains(@class, "portal-county-gap")]')}
    assert len(gaps) == 24 and {"A1", "A3", "B2", "B6", "C1", "C3"}.isdisjoint(gaps) and "A2" in gaps


def test_cases_are_attributed_and_searchable_by_school(county) -> None:
    centre: Project = county["centre"]
    outcome: pipeline.Outcome = county["outcome"]
    assert not [p for p in outcome.problems if p.refused], outcome.problems
    pages = {p.parent.name for p in (centre.site / "r").glob("*/index.html")}
    assert len(pages) == 3 and all(p.startswith("s-") for p in pages)
    east = (centre.site / "r" / next(p for p in pages if "城东" in p and "公开一" in (centre.site / "r" / p / "index.html").read_text()) / "index.html")
    text = east.read_text(encoding="utf-8")
    assert "来自城东小学" in text and "教学设计.docx" in text
    unpacked = [p.relative_to(centre.cache).as_posix() for p in (centre.cache / "schools").rglob("*") if p.is_file()]
    assert any(p.endswith("/showcase/catalog.json") for p in unpacked) and any(p.endswith(".docx") for p in unpacked)
    assert not any(p.endswith("index.html") or "/showcase/assets/" in p or "/showcase/search/" in p for p in unpacked)  # never read: not unpacked
    facets = json.loads(gzip.decompress((centre.site / "search" / "facets.json.gz").read_bytes()))
    school = facets["school"]
    columns = json.loads(gzip.decompress((centre.site / "search" / "columns.json.gz").read_bytes()))
    assert sorted(school["values"]) == ["城东小学", "城西中学"]
    assert sorted(school["values"][ord(c) - 48] for c in columns["school"]) == ["城东小学", "城东小学", "城西中学"]
    for path in centre.site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".gz"):
            data = path.read_bytes()
            body = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", errors="ignore")
            assert REVIEW not in body and ROSTER_ONLY not in body and CAMPUS_AUTHOR not in body, path


def test_the_home_page_links_the_county(county) -> None:
    home = (county["centre"].site / "index.html").read_text(encoding="utf-8")
    assert 'href="county/"' in home
    # The centre has no submissions of its own: the home page speaks of the county, not of 0 成果.
    assert "<strong>3</strong> 所学校" in home and "<strong>3</strong> 份公开案例" in home and "城西中学公开三" in home
    assert "<strong>0</strong> 份成果" not in home


# -- hostile and clashing exports ----------------------------------------------------------------


def rewrite(source: Path, target: Path, replace: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None) -> Path:
    """A copy of an export zip with members replaced (None: removed) or added (any name)."""
    replace = replace or {}
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename in replace:
                if replace[item.filename] is not None:
                    new.writestr(item.filename, replace[item.filename])  # type: ignore[arg-type]
                continue
            new.writestr(item, old.read(item))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target


def school_json(archive: Path, **changes: Any) -> bytes:
    data = json.loads(zipfile.ZipFile(archive).read("school.json"))
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


def link_member(archive: Path, target: Path) -> Path:
    shutil.copy(archive, target)
    with zipfile.ZipFile(target, "a") as zf:
        info = zipfile.ZipInfo("showcase/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    return target


def centre_with(tmp_path: Path) -> tuple[Project, Path]:
    centre = make_project(tmp_path / "centre")
    drop = centre.resources / "_schools"
    drop.mkdir()
    return centre, drop


def refused(outcome: pipeline.Outcome) -> dict[str, str]:
    return {p.path: p.reason for p in outcome.problems if p.refused}


def shown_schools(centre: Project) -> list[str]:
    tree = lxml_html.fromstring((centre.site / "county" / "index.html").read_text(encoding="utf-8"))
    return sorted(a.text_content() for a in tree.xpath('//a[contains(@href, "county/schools/")]'))


def test_hostile_exports_are_refused_by_name_and_never_stop_the_build(county, tmp_path: Path) -> None:
    good = county["zips"]["城东小学"]
    west = county["zips"]["城西中学"]
    centre, drop = centre_with(tmp_path)
    shutil.copy(good, drop / "城东小学.zip")
    rewrite(west, drop / "脚本校名.zip", {"school.json": school_json(west, school="<script>alert(1)</script>中学")})
    rewrite(west, drop / "越界路径.zip", add={"../../../../escaped.txt": b"x"})
    rewrite(west, drop / "绝对路径.zip", add={"/tmp/county-absolute.txt": b"x"})
    link_member(west, drop / "链接.zip")
    rewrite(west, drop / "坏目录.zip", {"showcase/catalog.json": b"{not json"})
    rewrite(west, drop / "坏统计.zip", {"school.json": school_json(west, terms=[{"term": T1, "accepted": -5}])})
    rewrite(west, drop / "压缩炸弹.zip", add={"showcase/bomb.txt": b"\0" * (40 * 1024 * 1024)})
    (drop / "不是压缩包.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(drop / "文档改名.zip", "w") as renamed:  # a Word file renamed to .zip
        renamed.writestr("_rels/.rels", "<Relationships/>")
        renamed.writestr("word/document.xml", "<w:document/>")
    rewrite(west, drop / "默认校名.zip", {"school.json": school_json(west, school="实验学校教学成果资源平台")})
    huge = drop / "超大目录"
    shutil.copytree(county["schools"]["南山小学"].showcase, huge / "showcase")
    (huge / "school.json").write_bytes(zipfile.ZipFile(county["zips"]["南山小学"]).read("school.json"))
    with (huge / "showcase" / "catalog.json").open("wb") as handle:
        handle.write(b'{"cases": [' + b" " * (65 * 1024 * 1024) + b"]}")
    os.symlink(huge, drop / "链接文件夹")
    Path("/tmp/county-absolute.txt").unlink(missing_ok=True)

    outcome = pipeline.build_site(centre)

    reasons = refused(outcome)
    expected = {
        "脚本校名.zip": "不允许的符号", "越界路径.zip": "路径不安全", "绝对路径.zip": "路径不安全", "链接.zip": "“showcase/link”是链接",
        "坏统计.zip": "“accepted”不是合理的人数或份数", "压缩炸弹.zip": "压缩炸弹", "不是压缩包.zip": "不是完整有效的 zip 文件",
        "文档改名.zip": "不是县级导出文件（压缩包里没有 school.json）", "默认校名.zip": "平台的默认名称",
        "链接文件夹": "是一个链接", "坏目录.zip/showcase/catalog.json": "JSON 格式错误", "超大目录/showcase/catalog.json": "超过 64 MB",
    }
    assert set(reasons) == {f"_schools/{name}" for name in expected}, reasons
    for name, fragment in expected.items():
        assert fragment in reasons[f"_schools/{name}"] and "该校未收录" in reasons[f"_schools/{name}"], (name, reasons[f"_schools/{name}"])
    assert shown_schools(centre) == ["城东小学"]
    assert not list(tmp_path.rglob("escaped.txt")) and not Path("/tmp/county-absolute.txt").exists()
    assert "<script>alert" not in "".join(p.read_text(encoding="utf-8", errors="ignore") for p in centre.site.rglob("*.html"))


def test_two_exports_of_one_school_the_newer_replaces_the_older(county, tmp_path: Path) -> None:
    east = county["zips"]["城东小学"]
    centre, drop = centre_with(tmp_path)
    rewrite(east, drop / "城东-旧.zip", {"school.json": school_json(east, generated="2024-01-10T08:00:00+00:00")})
    rewrite(east, drop / "城东-新.zip", {"school.json": school_json(east, generated="2024-06-10T08:00:00+00:00", cases=9)})
    outcome = pipeline.build_site(centre)
    reasons = refused(outcome)
    assert list(reasons) == ["_schools/城东-旧.zip"]
    assert "_schools/城东-新.zip" in reasons["_schools/城东-旧.zip"] and "城东小学" in reasons["_schools/城东-旧.zip"]
    assert shown_schools(centre) == ["城东小学"]
    assert "城东-新.zip" in next((centre.site / "county" / "schools").glob("*/index.html")).read_text(encoding="utf-8")


def test_two_exports_claiming_one_school_at_the_same_time_are_both_refused(county, tmp_path: Path) -> None:
    centre, drop = centre_with(tmp_path)
    shutil.copy(county["zips"]["城东小学"], drop / "甲.zip")
    shutil.copy(county["zips"]["城东小学"], drop / "乙.zip")
    shutil.copy(county["zips"]["南山小学"], drop / "南山.zip")
    outcome = pipeline.build_site(centre)
    reasons = refused(outcome)
    assert set(reasons) == {"_schools/甲.zip", "_schools/乙.zip"}
    assert all("_schools/甲.zip" in r and "_schools/乙.zip" in r and "城东小学" in r for r in reasons.values())
    assert shown_schools(centre) == ["南山小学"]


def test_make_check_names_a_refused_export_and_fails(county, tmp_path: Path) -> None:
    centre, drop = centre_with(tmp_path)
    shutil.copy(county["zips"]["南山小学"], drop / "南山.zip")
    (drop / "不是压缩包.zip").write_bytes(b"PK\x03\x04 not really a zip")
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    result = subprocess.run([sys.executable, "-m", "portal", "--root", str(centre.root), "check"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 1, result.stdout
    assert "_schools/不是压缩包.zip" in result.stdout and "不是完整有效的 zip 文件" in result.stdout
    assert "_schools/南山.zip" not in result.stdout and "检查未通过" in result.stdout
    assert "全县：收录 1 所学校的导出" in result.stdout and "1 个导出未收录" in result.stdout
    assert not (centre.cache / "schools").exists()  # check unpacks into a folder of its own: a build may be using the cache's
    (drop / "不是压缩包.zip").unlink()
    result = subprocess.run([sys.executable, "-m", "portal", "--root", str(centre.root), "check"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0 and "检查通过" in result.stdout, result.stdout


def test_a_county_briefing_places_county_totals_and_the_school_table(county) -> None:
    page = county["centre"].site / "briefings" / f"{T1}-9" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert "全县 3 所学校，成果 6 份，参与率 57.1%。" in text
    assert "尚无学校覆盖：A2、A4" in text and "暂无已发布的成果" not in text
    tree = lxml_html.fromstring(text)
    rows = {" ".join(r.xpath("./th")[0].text_content().split()): [c.text_content() for c in r.xpath("./td")] for r in tree.xpath("//table//tr[th and td]")}
    assert rows["城东小学"][:3] == ["4", "3", "75.0%"] and rows["全县"][3] == "6"
    link = tree.xpath('//a[normalize-space()="南山小学"]/@href')[0]
    assert (page.parent / unquote(link) / "index.html").resolve().is_file()


# -- in a real browser ---------------------------------------------------------------------------


COUNTY_PAGES = {"county": "county/", "term": f"county/terms/{T1}/", "school": "county/schools/{east}/", "home": ""}


def county_url(county: dict[str, Any], name: str) -> str:
    return COUNTY_PAGES[name].format(east=quote(county_slug(county["centre"], "城东小学")))


@pytest.mark.browser
@pytest.mark.parametrize("name", list(COUNTY_PAGES))
def test_county_pages_pass_axe_and_fit_a_phone(county, serve, offline_page, name: str) -> None:
    from browser_checks import PHONE, axe_violations, overflow, wide_elements

    server = serve(county["centre"].site)
    page = offline_page.page
    page.goto(server.url + county_url(county, name))
    assert axe_violations(page) == []
    page.set_viewport_size(PHONE)
    page.goto(server.url + county_url(county, name))
    assert overflow(page) == 0, wide_elements(page)


@pytest.mark.browser
def test_search_filters_by_school(county, serve, offline_page) -> None:
    server = serve(county["centre"].site)
    page = offline_page.page
    page.goto(server.url + "search/?school=" + quote("城东小学"))
    page.wait_for_selector("[data-portal-search][data-ready]", timeout=20_000)
    assert page.locator(".portal-search__count").inner_text().startswith("找到 2 份")
    titles = page.locator(".portal-card__title").all_inner_texts()
    assert sorted(titles) == ["城东小学公开一", "城东小学公开二"]


def test_the_county_showcase_shows_every_schools_public_cases(county) -> None:
    centre: Project = county["centre"]
    outcome = pipeline.build_showcase(centre)
    assert sorted(r.title for r in outcome.published) == ["城东小学公开一", "城东小学公开二", "城西中学公开三"]
    assert not [p for p in outcome.problems if p.refused], outcome.problems
    catalog = json.loads((centre.showcase / "catalog.json").read_text(encoding="utf-8"))
    assert len(catalog["cases"]) == 3
    assert sorted(case["school"] for case in catalog["cases"]) == ["城东小学", "城东小学", "城西中学"]
    school = next(s for s in (centre.site / "county" / "schools").glob("*/index.html") if "城东小学" in s.read_text(encoding="utf-8"))
    assert "公开案例（2）" in school.read_text(encoding="utf-8") and "这里列出最新的" not in school.read_text(encoding="utf-8")
    page = next(p for p in (centre.showcase / "r").glob("*/index.html") if "城西中学公开三" in p.read_text(encoding="utf-8"))
    assert "来自城西中学" in page.read_text(encoding="utf-8")
    facets = json.loads(gzip.decompress((centre.showcase / "search" / "facets.json.gz").read_bytes()))
    assert sorted(facets["school"]["values"]) == ["城东小学", "城西中学"]
    assert any(p.name == "教学设计.docx" for p in centre.showcase.rglob("*.docx"))


@pytest.mark.parametrize("site_name", ["教学成果资源平台", None])  # the default, and the name the repository ships
def test_an_export_without_a_school_name_is_not_made(tmp_path: Path, site_name: str | None) -> None:
    project = make_project(tmp_path / "school")
    text = project.config_file.read_text(encoding="utf-8")
    if site_name:
        project.config_file.write_text(re.sub(r"(?m)^site_name: .*$", f"site_name: {site_name}", text), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(project.root / "scripts")}
    done = subprocess.run([sys.executable, "-m", "portal", "--root", str(project.root), "county-export"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "extra.portal" in done.stderr and "Traceback" not in done.stderr
    assert not (project.root / "county-export.zip").exists()
