"""A stage that fails ends the command with one clear Chinese line (no traceback), the details go
to .build/last-error.log, and the site that was live stays live, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_project, tree_digest, write_meta

REPO = Path(__file__).resolve().parent.parent
T = "2023-2024-1"
META = {"title": "圆的面积", "type": "微课", "subject": "数学", "grade": "六年级", "competencies": ["B2"], "authors": ["李强"]}


def portal(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    return subprocess.run([sys.executable, "-m", "portal", "--root", str(root), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture
def school(tmp_path: Path):
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "圆的面积", META)
    first = portal(project.root, "site")
    assert first.returncode == 0, first.stderr
    return project


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output and 'File "' not in output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("生成失败："), last
    assert "已发布的网站保持不变" in last and ".build/last-error.log" in last
    for text in expected:
        assert text in last, last
    return last


def test_a_broken_theme_template_fails_in_one_line_and_keeps_the_site(school) -> None:
    live = tree_digest(school.site.resolve())
    (school.root / "overrides" / "main.html").write_text('{% extends "base.html" %}\n{% block content %}{% if %}{% endblock %}\n', encoding="utf-8")
    write_meta(school.resources / T / "新成果", {**META, "title": "新成果"})
    result = portal(school.root, "site")
    assert_one_clear_line(result, "渲染页面（MkDocs 等页面生成器）时", "模板")
    assert tree_digest(school.site.resolve()) == live
    assert "TemplateSyntaxError" in (school.root / ".build" / "last-error.log").read_text(encoding="utf-8")


def test_a_failing_indexer_process_fails_in_one_line_and_keeps_the_site(school) -> None:
    live = tree_digest(school.site.resolve())
    state = school.work / "search-index" / "state.pickle"
    state.unlink()
    (state / "blocked").mkdir(parents=True)  # the indexer cannot replace its state: its process fails
    write_meta(school.resources / T / "新成果", {**META, "title": "新成果"})
    result = portal(school.root, "site")
    assert_one_clear_line(result, "生成搜索索引时", "退出码 1")
    assert tree_digest(school.site.resolve()) == live
    log = (school.root / ".build" / "last-error.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "state.pickle" in log  # the child's own traceback, for developers


def test_a_broken_settings_file_names_it(school) -> None:
    live = tree_digest(school.site.resolve())
    config = school.root / "mkdocs.yml"
    config.write_text(config.read_text(encoding="utf-8") + "\ntheme: [unclosed\n", encoding="utf-8")
    result = portal(school.root, "site")
    assert_one_clear_line(result, "mkdocs.yml")
    assert tree_digest(school.site.resolve()) == live


def test_a_mistyped_command_is_answered_in_chinese(tmp_path: Path) -> None:
    result = portal(tmp_path, "chek")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "invalid choice" not in result.stderr
    assert "不认识的命令“chek”" in result.stderr and "check" in result.stderr


def test_a_broken_settings_file_fails_a_check_in_one_line(school) -> None:
    config = school.root / "mkdocs.yml"
    config.write_text(config.read_text(encoding="utf-8") + "\ntheme: [unclosed\n", encoding="utf-8")
    result = portal(school.root, "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("检查失败：mkdocs.yml")


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies() -> None:
    os._exit(3)


def test_work_done_ahead_in_a_child_brings_back_its_value_its_error_or_its_death() -> None:
    """The builder renders in a forked child while the build goes on (forks.ahead): what it
    returns, the error it raised (its message is for admins) and a child that died all reach the
    build."""
    from portal import forks

    assert forks.ahead(sum, [1, 2, 3]).result("相加") == 6
    with pytest.raises(ValueError, match="主题模板有错"):
        forks.ahead(_fails, "主题模板有错").result("渲染页面")
    with pytest.raises(RuntimeError, match=r"渲染页面的进程异常退出（退出码 3）"):
        forks.ahead(_dies).result("渲染页面")
    import time

    started = time.monotonic()
    pending = forks.ahead(time.sleep, 60)  # the build failed meanwhile: the child goes at once
    pending.stop()
    assert time.monotonic() - started < 10 and not pending._process.is_alive()


def test_the_command_line_says_what_site_url_gives_until_it_is_set(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "圆的面积", META)
    first = portal(project.root, "site")
    assert first.returncode == 0 and "site_url" in first.stdout and "二维码" in first.stdout
    config = project.config_file.read_text(encoding="utf-8")
    project.config_file.write_text("site_url: http://192.168.1.10:8000/\n" + config, encoding="utf-8")
    second = portal(project.root, "site")
    assert second.returncode == 0 and "site_url" not in second.stdout


def test_a_report_that_cannot_be_written_says_the_site_went_live(school) -> None:
    """The admin report is written after the switch: when it fails, the new site is already what
    visitors see, and the line must not claim the old one stayed."""
    reports = school.root / "reports"
    if reports.is_dir():
        import shutil

        shutil.rmtree(reports)
    reports.write_text("not a folder\n", encoding="utf-8")  # neither the build's child nor the CLI can write into it
    write_meta(school.resources / T / "新成果", {**META, "title": "新成果"})
    result = portal(school.root, "site")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "保持不变" not in output, output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("网站已生成并发布，但管理员报告 reports/index.html 没有写成：") and "已有同名的文件" in last and ".build/last-error.log" in last, last
    assert "新成果" in (school.site / "index.html").read_text(encoding="utf-8") or any(
        "新成果" in p.read_text(encoding="utf-8") for p in school.site.resolve().glob("r/*/index.html"))
    again = portal(school.root, "site")  # not remembered as "unchanged": the next run tries the report again
    assert "网站没有变化" not in again.stdout, again.stdout
