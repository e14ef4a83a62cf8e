"""The benchmark's generated county (portal_tools.county_corpus) is one the portal accepts: a real
`python -m portal site` of 3 schools x 20 cases takes every export, shows every case, and each
school's page shows the figures its school.json carries; a school's new export replaces its old
one in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

from factories import make_project
from lxml import html as lxml_html

from portal.catalog import load_catalog
from portal.model import slug
from portal.project import Project
from portal_tools.county_corpus import CountySpec, SchoolExport, re_export, write_county


def build(project: Project) -> str:
    env = {**os.environ, "PYTHONPATH": str(project.root / "scripts")}
    done = subprocess.run([sys.executable, "-m", "portal", "--root", str(project.root), "site"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout + done.stderr


def school_pages(project: Project) -> dict[str, Path]:
    tree = lxml_html.fromstring((project.site / "county" / "index.html").read_text(encoding="utf-8"))
    links = {a.text_content().strip(): a.get("href") for a in tree.xpath('//a[contains(@href, "county/schools/")]')}
    return {name: project.site / "county" / unquote(href.rstrip("/").split("county/", 1)[1]) / "index.html" for name, href in links.items()}


def term_figures(page: Path) -> dict[str, int]:
    """'2023-2024 学年第一学期' heading -> the accepted count printed under it."""
    tree = lxml_html.fromstring(page.read_text(encoding="utf-8"))
    shown: dict[str, int] = {}
    for heading in tree.xpath("//h2"):
        items = heading.xpath('following-sibling::ul[contains(@class, "portal-stats")][1]/li[1]/strong/text()')
        if items and "学期" in heading.text_content():
            shown[" ".join(heading.text_content().split())] = int(items[0])
    return shown


def label(term: str) -> str:
    return f"{term[:9]} 学年第{'一' if term.endswith('1') else '二'}学期"


def check_county(project: Project, exports: list[SchoolExport], output: str) -> None:
    total = sum(e.cases for e in exports)
    assert f"收录 {len(exports)} 所学校的导出，共 {total} 份公开案例" in output, output
    assert "未收录" not in output and "未采用" not in output, output
    pages = school_pages(project)
    assert sorted(pages) == sorted(e.name for e in exports)
    cases = [p.parent.name for p in (project.site / "r").glob("*/index.html")]
    assert len(cases) == total
    for export in exports:
        page = pages[export.name]
        text = page.read_text(encoding="utf-8")
        assert f"公开案例（{export.cases}）" in text, export.name
        assert text.count("portal-card__title") == export.cases, export.name
        assert sum(1 for case in cases if case.startswith(f"s-{slug(export.name)}-")) == export.cases, export.name
        assert term_figures(page) == {label(term): n for term, n in export.accepted.items()}, export.name
        assert all(n <= export.accepted[term] for term, n in export.public.items()), export.name  # public cases are accepted ones


def test_a_generated_county_is_accepted_whole(tmp_path: Path) -> None:
    project = make_project(tmp_path / "county")
    catalog = load_catalog(project.catalog)
    spec = CountySpec(cases=60, schools=3, attachment_every=4)
    exports = write_county(project.resources, catalog, spec)
    assert len({e.name for e in exports}) == 3 and [e.cases for e in exports] and sum(e.cases for e in exports) == 60
    assert all(e.path.suffix == ".zip" and e.path.parent == project.resources / "_schools" for e in exports)
    check_county(project, exports, build(project))
    assert list(project.site.glob("r/*/files/*.docx")) and list(project.site.glob("r/*/files/*.jpg"))

    again = re_export(project.resources, catalog, spec, 1)
    assert again.path == exports[1].path and again.cases == exports[1].cases + 1
    newest = max(again.accepted)
    assert again.accepted[newest] == exports[1].accepted[newest] + 1
    exports[1] = again
    check_county(project, exports, build(project))
