"""Usage end to end: pages opened in a browser through `portal serve` are logged, and the next
build shows the counts on the term's statistics page, the home page and the admin report."""

from __future__ import annotations

import urllib.request
from urllib.parse import quote

import pytest
from factories import make_docx, make_project, write_meta
from openpyxl import load_workbook
from test_watch import META, T, Portal

from portal.cli import main

pytestmark = pytest.mark.browser


def test_three_views_in_a_browser_show_as_three(tmp_path, browser) -> None:
    project = make_project(tmp_path / "school")
    folder = project.resources / T / "钟表"
    write_meta(folder, {**META, "group": "小学数学组"})
    make_docx(folder / "教学设计.docx", "认识钟表", [("目标", ["认识整时。"])])
    write_meta(project.resources / T / "没人看", {**META, "title": "没人看的成果"})
    (project.resources / "teachers.csv").write_text("姓名,教研组,学科\n张敏,小学数学组,数学\n", encoding="utf-8")
    running = Portal(project.root)
    running.wait_for("资源平台已启动")
    page_url = f"http://127.0.0.1:{running.port}/r/{quote(f'{T}-钟表')}/"
    with urllib.request.urlopen(page_url) as response:  # asked for again on every visit, so every view is logged
        assert response.headers["Cache-Control"] == "no-cache"
    context = browser.new_context()
    tab = context.new_page()
    for _ in range(3):
        tab.goto(page_url)
        assert "认识钟表" in tab.title()
    context.close()
    download = f"{page_url}files/{quote('教学设计.docx')}"
    for _ in range(2):  # the same teacher downloading twice on one day: one download
        request = urllib.request.Request(download, headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) QQBrowser/11"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
    robot = urllib.request.Request(page_url, headers={"User-Agent": "Mozilla/5.0 (compatible; Baiduspider/2.0)"})
    urllib.request.urlopen(robot).close()
    assert running.stop() == 0
    log = (project.root / "logs" / "access.log").read_text(encoding="utf-8")
    assert log.count(f'"GET /r/{quote(f"{T}-钟表")}/ HTTP/1.1" ') >= 3

    assert main(["--root", str(project.root), "site"]) == 0
    stats = (project.site / "stats" / T / "index.html").read_text(encoding="utf-8")
    row = stats[stats.index("最受关注的成果"):]
    assert "认识钟表</a></th><td>3</td><td>0</td><td>1</td>" in row  # the header check above is a script: not counted
    assert "没人看的成果" not in row.split("</table>")[0]
    home = (project.site / "index.html").read_text(encoding="utf-8")
    assert "本周热门" in home and home.index("本周热门") < home.index("认识钟表")

    assert main(["--root", str(project.root), "check"]) == 0
    report = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "<td>张敏</td><td>认识钟表</td><td>2023-2024-1</td><td>3</td><td>0</td><td>1</td>" in report
    sheet = load_workbook(project.reports / "完成情况.xlsx")["资源使用"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["认识钟表"][4:] == (3, 0, 1) and rows["没人看的成果"][4:] == (0, 0, 0)
    # No visitor's address reaches anything published or reported.
    for path in [*project.site.resolve().rglob("*.html"), project.reports / "index.html"]:
        assert "127.0.0.1" not in path.read_text(encoding="utf-8")
