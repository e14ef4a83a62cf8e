"""A teacher's path through the campus site in a real browser (Debian's chromium via Playwright):
home -> subject -> resource, the video loads its metadata, nothing leaves 127.0.0.1, no teacher
text runs as script."""

from __future__ import annotations

import pytest
from fixture_tree import T1, XSS_TITLE

pytestmark = pytest.mark.browser


def test_home_to_subject_to_resource_plays_video(built, serve, offline_page) -> None:
    project, _, _ = built
    server = serve(project.site)
    page = offline_page.page
    page.goto(server.url)
    assert "首页" in page.title() or "资源平台" in page.title()

    page.get_by_role("link", name="按学科").first.click()
    page.wait_for_url("**/subjects/")
    page.get_by_role("link", name="数学").first.click()
    page.wait_for_url("**/subjects/%E6%95%B0%E5%AD%A6/")
    assert page.locator("h2", has_text="一年级").count() == 1

    page.get_by_role("link", name=XSS_TITLE).first.click()
    page.wait_for_url("**/r/**")
    assert page.title().startswith(XSS_TITLE)  # shown literally, never run
    assert page.locator("h1").first.inner_text() == XSS_TITLE

    video = page.locator("video").first
    assert video.get_attribute("preload") == "metadata"
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=15_000)
    duration = page.evaluate("document.querySelector('video').duration")
    assert 1.5 < duration < 2.5

    image_width = page.evaluate("document.querySelector('.portal-file--image img').naturalWidth")
    assert image_width == 480
    assert page.locator(".portal-doc td", has_text="5分钟").count() == 1


def test_video_answers_range_requests(built, serve) -> None:
    """Seeking needs HTTP Range: the server must answer 206 with the asked-for bytes."""
    import urllib.request

    project, _, _ = built
    server = serve(project.site)
    url = server.url + "r/" + urllib.request.quote(f"{T1}-钟表/files/微课 视频#1.mp4")
    request = urllib.request.Request(url, headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206
        assert response.headers["Content-Range"].startswith("bytes 100-199/")
        assert len(response.read()) == 100


def test_every_point_page_opens_from_the_overview(built, serve, offline_page) -> None:
    project, _, _ = built
    server = serve(project.site)
    page = offline_page.page
    page.goto(server.url + "points/")
    links = page.locator("table.portal-grid a")
    assert links.count() == 30
    page.locator("table.portal-grid a", has_text="B2").click()
    page.wait_for_url("**/points/b2/")
    assert "B2 微课程设计与制作 · 混合学习环境 · 教学设计" in page.locator("h1").first.inner_text()


def test_the_guard_catches_requests_that_leave_the_machine(built, serve, browser, tmp_path) -> None:
    """The offline check above must be able to fail: a page that loads from another host is caught."""
    from conftest import OfflinePage

    (tmp_path / "index.html").write_text('<img src="http://example.com/x.png"><script src="//cdn.example.com/a.js"></script>', encoding="utf-8")
    server = serve(tmp_path)
    guarded = OfflinePage(browser)
    guarded.page.goto(server.url)
    guarded.page.wait_for_load_state("networkidle")
    guarded.context.close()
    assert sorted(guarded.outside) == ["http://cdn.example.com/a.js", "http://example.com/x.png"]
