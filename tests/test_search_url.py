"""A search link that names a facet value the index does not have (an old bookmark, a typo, a
hostile link) still gives a working search page: the unknown value is dropped."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from factories import make_project, write_markdown

from portal import pipeline
from portal.project import Project

pytestmark = pytest.mark.browser
T = "2023-2024-1"


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(tmp_path_factory.mktemp("search-url") / "school")
    for n, subject in enumerate(("数学", "数学", "语文")):
        write_markdown(project.resources / T / f"钟表{n}.md",
                       {"title": f"认识钟表{n}", "type": "教学反思", "subject": subject, "grade": "一年级",
                        "competencies": ["B2"], "authors": ["张敏"]}, "正文")
    pipeline.build_site(project)
    return project


def open_search(server_url: str, page, query: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server_url + "search/?" + query)
    page.wait_for_selector("[data-portal-search][data-ready]", timeout=15_000)
    return errors


@pytest.mark.parametrize("junk", ["point=Z9", "point=__proto__", "env=" + quote("火星环境"), "dim=constructor",
                                  "subject=" + quote("不存在的学科"), "ex=" + quote("否"), "school=x&school=x"])
def test_unknown_facet_values_in_the_url_are_dropped(small_site: Project, serve, offline_page, junk: str) -> None:
    server = serve(small_site.site)
    page = offline_page.page
    errors = open_search(server.url, page, "q=" + quote("钟表") + "&" + junk)
    assert errors == []
    assert page.locator(".portal-search__count").inner_text().startswith("找到 3 份")
    assert page.locator(".portal-facet input:checked").count() == 0


def test_known_values_beside_unknown_ones_still_filter(small_site: Project, serve, offline_page) -> None:
    server = serve(small_site.site)
    page = offline_page.page
    errors = open_search(server.url, page, "subject=" + quote("数学") + "&point=Z9&point=B2&point=B2")
    assert errors == []
    assert page.locator(".portal-search__count").inner_text().startswith("找到 2 份")
    assert sorted(page.locator(".portal-facet input:checked").evaluate_all("els => els.map(e => e.value)")) == ["B2", "数学"]
