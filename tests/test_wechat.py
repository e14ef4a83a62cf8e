"""`make wechat`: each briefing as a page that pastes into the 公众号 editor (inline styles only,
no classes, ids, scripts or SVG; charts as PNG; photos scaled, metadata dropped), and a helper
page whose button copies it as rich text."""

from __future__ import annotations

import base64
import io
import re
import shutil

import pytest
from factories import make_project, write_meta
from PIL import Image

from portal import pipeline
from portal.cli import main

T = "2023-2024-1"
HOSTILE_GROUP = '![g](x){: onerror="alert(1)"} <b>组</b>'
BASE = {"type": "微课", "subject": "数学", "grade": "三年级", "competencies": ["B2"]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    project = make_project(tmp_path_factory.mktemp("wechat") / "school")
    write_meta(project.resources / T / "a", {**BASE, "title": "微课一", "authors": ["甲"], "group": "一组"})
    write_meta(project.resources / T / "b", {**BASE, "title": "微课二", "authors": ["乙"], "group": HOSTILE_GROUP})
    briefings = project.content / "briefings"
    shutil.rmtree(briefings)
    briefings.mkdir()
    photo = Image.new("RGB", (2400, 1600), (200, 120, 40))
    exif = Image.Exif()
    exif[0x013B] = "拍摄者张三"  # Artist
    photo.save(briefings / "活动.jpg", exif=exif)
    (briefings / "坏图.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (briefings / f"{T}-1.md").write_text(
        f"---\nterm: {T}\nissue: 1\ndate: 2023-10-30\ntitle: 第一期简报\n---\n\n"
        "## 概况\n\n本学期发布 **{{ stats.accepted }}** 份成果。各组：{{ stats.by_group }}\n\n{{ charts.groups }}\n\n{{ charts.grid }}\n\n"
        "![活动照片](活动.jpg)\n\n![坏图](坏图.png)\n\n[外部链接](http://example.org/x)\n", encoding="utf-8")
    pipeline.build_site(project)
    assert main(["--root", str(project.root), "wechat"]) == 0
    return project


def images(page: str) -> list[Image.Image]:
    found = []
    for kind, data in re.findall(r'src="data:image/(png|jpeg);base64,([^"]+)"', page):
        found.append(Image.open(io.BytesIO(base64.b64decode(data))))
    return found


def test_the_page_has_only_inline_styles_and_no_active_content(exported) -> None:
    page = (exported.reports / "wechat" / f"{T}-1.html").read_text(encoding="utf-8")
    for forbidden in (r"\bclass=", r"\bid=", r"<script", r"<style", r"<svg", r"<link", r"<[^>]*\son\w+=", r"<iframe", r"http://example.org"):
        assert not re.search(forbidden, page), forbidden
    assert "第一期简报" in page and "本学期发布" in page
    assert 'style="' in page
    # Every image is embedded: the editor cannot reach the campus server.
    assert not re.search(r'<img(?![^>]*src="data:image/)', page)
    # Teacher-typed group names never become elements or handlers.
    assert not re.search(r"<img[^>]*onerror", page) and "<b>组</b>" not in page


def test_charts_become_png_and_photos_are_scaled_without_metadata(exported) -> None:
    page = (exported.reports / "wechat" / f"{T}-1.html").read_text(encoding="utf-8")
    found = images(page)
    charts = [i for i in found if i.format == "PNG"]
    photos = [i for i in found if i.format == "JPEG"]
    assert len(charts) == 1 and charts[0].width == 2 * 677  # the groups chart, drawn at twice the column
    assert charts[0].getpixel((5, 5))[:3] == (255, 255, 255)  # a white background, not pygal's black
    assert len(photos) == 1 and photos[0].width == 1080 and not photos[0].getexif()
    assert (exported.reports / "wechat" / f"{T}-1" / "图表1.png").exists()
    assert "<table" in page  # the environment × dimension grid stays a table, styled inline


def test_the_copy_helper_copies_rich_text(exported, browser, serve) -> None:
    server = serve(exported.reports)
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url.rstrip("/"))
    page = context.new_page()
    page.goto(server.url + "公众号复制.html")
    page.get_by_role("button", name="复制正文").first.click()
    page.get_by_text("已复制").wait_for()
    copied = page.evaluate("async () => { const [item] = await navigator.clipboard.read(); return await (await item.getType('text/html')).text(); }")
    assert "第一期简报" in copied and "data:image/png;base64," in copied
    context.close()
