"""Every device on campus, checked in a real browser (Debian's chromium) on the fixture school:
axe-core finds no serious or critical violation on the key pages, no page scrolls sideways at
360 px, search works without DecompressionStream, keyboard focus is visible and stays put when a
facet changes, the search page does not jump, and print shows what a page holds. Every request
that leaves 127.0.0.1 fails the test (the `offline_page` fixture). The file's name sorts after
test_bench.py, which starts Playwright itself while the session's browser is not yet running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from browser_checks import (
    FOCUS_STYLE,
    PHONE,
    axe_violations,
    overflow,
    pages_of,
    search_shift,
    wait_for_search,
    wide_elements,
)
from fixture_tree import T1, T2

pytestmark = pytest.mark.browser

KEY_PAGES = pages_of("", f"{T1}-钟表", f"{T2}-物理")


@pytest.fixture(scope="module")
def site(built) -> Iterator[str]:
    from conftest import Server

    project, _, _ = built
    server = Server(project.site)
    yield server.url
    server.close()


@pytest.mark.parametrize("name", list(KEY_PAGES))
def test_no_serious_axe_violations(site: str, offline_page, name: str) -> None:
    page = offline_page.page
    page.goto(site + KEY_PAGES[name])
    if name == "search":
        wait_for_search(page)
    found = axe_violations(page)
    assert found == [], f"{name}: {found}"


@pytest.mark.parametrize("name", list(KEY_PAGES))
def test_no_horizontal_scrolling_on_a_phone(site: str, offline_page, name: str) -> None:
    page = offline_page.page
    page.set_viewport_size(PHONE)
    page.goto(site + KEY_PAGES[name])
    if name == "search":
        wait_for_search(page)
    assert overflow(page) == 0, f"{name} is wider than 360 px: {wide_elements(page)}"


def test_search_works_without_decompression_stream(site: str, offline_page) -> None:
    """Older Chromium cores (360 and QQ browsers) lack DecompressionStream: the vendored inflate
    library is loaded then, and only then."""
    page = offline_page.page
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    page.add_init_script("delete window.DecompressionStream; delete window.DecompressionStream;")
    page.goto(site + "search/?q=" + quote("钟表"))
    wait_for_search(page)
    assert page.evaluate("typeof DecompressionStream") == "undefined"
    assert page.locator(".portal-result").count() >= 1
    assert any(url.endswith("assets/vendor/fflate.min.js") for url in loaded)

    loaded.clear()
    page.context.clear_cookies()
    fresh = offline_page.context.new_page()
    fresh.on("request", lambda request: loaded.append(request.url))
    fresh.goto(site + "search/?q=" + quote("钟表"))
    wait_for_search(fresh)
    assert not any("fflate" in url for url in loaded)  # a modern browser does not load it


def _tab_through(page, steps: int) -> list[dict]:
    seen = []
    for _ in range(steps):
        page.keyboard.press("Tab")
        style = page.evaluate(FOCUS_STYLE)
        if style:
            seen.append(style)
    return seen


@pytest.mark.parametrize("name", ["search", "video", "home"])
def test_keyboard_focus_is_always_visible(site: str, offline_page, name: str) -> None:
    page = offline_page.page
    page.goto(site + KEY_PAGES[name])
    if name == "search":
        wait_for_search(page)
        page.locator("input[name=q]").first.blur()
    seen = _tab_through(page, 40)
    assert len(seen) >= 20
    hidden = [s for s in seen if not s["visible"]]
    assert hidden == [], hidden
    if name == "search":
        assert any(s["tag"] == "INPUT" and s["name"] == "subject" for s in seen)  # facet checkboxes


def test_focus_ring_shows_in_pixels(site: str, offline_page) -> None:
    """The header's search box looks different when it has keyboard focus."""
    page = offline_page.page
    page.goto(site)
    box = page.locator(".portal-header-search input")
    region = box.bounding_box()
    clip = {"x": region["x"] - 6, "y": region["y"] - 6, "width": region["width"] + 12, "height": region["height"] + 12}
    before = page.screenshot(clip=clip)
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the logo
    while page.evaluate("document.activeElement.name") != "q":
        page.keyboard.press("Tab")
    assert page.screenshot(clip=clip) != before


def test_skip_links(site: str, offline_page) -> None:
    page = offline_page.page
    for url in (site + KEY_PAGES["video"], site):  # Material adds a skip link of its own on some pages
        page.goto(url)
        texts = []
        for _ in range(2):
            page.keyboard.press("Tab")
            texts.append(page.evaluate("document.activeElement.textContent.trim()"))
        assert "跳到主要内容" in texts
        while page.evaluate("document.activeElement.textContent.trim()") != "跳到主要内容":
            page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "portal-main"
    page.goto(site + KEY_PAGES["search"])
    wait_for_search(page)
    page.locator(".portal-search__skip").focus()
    assert page.locator(".portal-search__skip").is_visible()  # shown when it has focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "portal-results"


def test_focus_stays_on_a_facet_after_it_changes(site: str, offline_page) -> None:
    page = offline_page.page
    page.goto(site + "search/?q=" + quote("钟表"))
    wait_for_search(page)
    box = page.locator(".portal-facet input[name=grade]").first
    value = box.get_attribute("value")
    box.focus()
    page.keyboard.press("Space")
    page.wait_for_url("**grade=*")
    wait_for_search(page)
    assert page.evaluate("[document.activeElement.name, document.activeElement.value]") == ["grade", value]
    assert page.evaluate("document.activeElement.checked")


def test_facets_fold_behind_a_button_on_a_phone(site: str, offline_page) -> None:
    page = offline_page.page
    page.set_viewport_size(PHONE)
    page.goto(site + KEY_PAGES["search"])
    wait_for_search(page)
    toggle = page.locator(".portal-facets__toggle")
    assert toggle.is_visible() and "已选 1 项" in toggle.inner_text()
    assert page.locator(".portal-chip", has_text="数学").is_visible()  # the ticked one, above the results
    assert not page.locator(".portal-facet").first.is_visible()
    chip_y = page.locator(".portal-chip").bounding_box()["y"]
    assert chip_y < page.locator(".portal-result").first.bounding_box()["y"]
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator(".portal-facet").first.is_visible()
    page.locator(".portal-chip").click()  # unticks
    page.wait_for_function("!location.search.includes('subject=')")
    wait_for_search(page)
    assert page.locator(".portal-chip").count() == 0


@pytest.mark.parametrize("width", [PHONE["width"], 1280])
def test_search_page_does_not_jump(site: str, browser, width: int) -> None:
    from conftest import OfflinePage

    guarded = OfflinePage(browser)
    guarded.page.set_viewport_size({"width": width, "height": 800})
    shift = search_shift(guarded.page, site + KEY_PAGES["search"])
    guarded.context.close()
    assert guarded.outside == []
    assert shift < 0.05


def test_resource_page_prints_its_text_and_page_images(built, site: str, offline_page, tmp_path: Path) -> None:
    """On paper: the document text (folded on screen) and the page images, no empty frames."""
    from pypdf import PdfReader

    page = offline_page.page
    page.goto(site + KEY_PAGES["video"])
    assert page.locator("iframe").count() == 0
    images = page.locator(".portal-sheets img")
    assert images.count() >= 2  # the PDF's page and the Word preview's page
    for i in range(images.count()):
        assert images.nth(i).get_attribute("loading") == "lazy"
        assert int(images.nth(i).get_attribute("width")) > 0 and int(images.nth(i).get_attribute("height")) > 0
    page.evaluate("document.querySelectorAll('details').forEach(d => d.removeAttribute('open'))")
    page.emulate_media(media="print")
    pdf = tmp_path / "page.pdf"
    page.pdf(path=str(pdf), format="A4")
    text = "".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "认识整时和半时" in text  # the Word document's text
    assert "教研组" in text  # the metadata
    # The page images print as images: every page image is in the PDF.
    drawn = sum(len(p.images) for p in PdfReader(pdf).pages)
    assert drawn >= images.count()


def test_briefing_prints_on_few_pages(site: str, offline_page, tmp_path: Path) -> None:
    from pypdf import PdfReader

    page = offline_page.page
    page.goto(site + KEY_PAGES["briefing"])
    meta = page.locator(".portal-briefing__meta").inner_text()
    assert meta.startswith("第一期") and "第一期" in page.locator("h1").inner_text()
    pdf = tmp_path / "briefing.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert len(PdfReader(pdf).pages) <= 2


def test_header_asks_360_and_qq_for_their_chromium_core(built) -> None:
    project, _, _ = built
    head = (project.site / "index.html").read_text(encoding="utf-8").split("</head>")[0]
    assert '<meta http-equiv="X-UA-Compatible" content="IE=edge">' in head
    assert '<meta name="renderer" content="webkit">' in head
    assert "assets/portal-palette.css" in head


def test_404_page_is_chinese(built) -> None:
    project, _, _ = built
    text = (project.site / "404.html").read_text(encoding="utf-8")
    assert "找不到这个页面" in text and "Not found" not in text
