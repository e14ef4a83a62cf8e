"""Two builds at once: the second waits for the first, both succeed, and the live site is whole."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from factories import make_project, write_markdown

from portal.lock import LOCK_FILE, WAITING
from portal.project import Project

T = "2023-2024-1"
COUNT = 12


@pytest.fixture
def school(tmp_path: Path) -> Project:
    project = make_project(tmp_path / "school")
    for n in range(COUNT):
        write_markdown(project.resources / T / f"反思{n:02d}.md",
                       {"title": f"反思{n:02d}", "type": "教学反思", "subject": "数学", "grade": "一年级",
                        "competencies": ["B2"], "authors": ["张敏"]}, "正文")
    return project


def start_build(project: Project) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "portal", "--root", str(project.root), "site"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_second_build_waits_and_the_live_site_is_whole(school: Project) -> None:
    school.work.mkdir()
    with open(school.work / LOCK_FILE, "a+") as held:  # a build in progress, as far as both know
        fcntl.flock(held, fcntl.LOCK_EX)
        builds = [start_build(school), start_build(school)]
        try:
            for build in builds:
                first = build.stdout.readline() if build.stdout else ""
                assert first.startswith(WAITING), first
            assert not school.site.exists()  # neither has started while the lock is held
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
        outputs = [build.communicate(timeout=600)[0] for build in builds]
    assert [build.returncode for build in builds] == [0, 0], outputs
    pages = sorted(p.parent.name for p in (school.site / "r").glob("*/index.html"))
    assert pages == sorted(f"{T}-反思{n:02d}" for n in range(COUNT))


def test_builds_started_together_both_succeed(school: Project) -> None:
    builds = [start_build(school), start_build(school)]
    outputs = [build.communicate(timeout=600)[0] for build in builds]
    assert [build.returncode for build in builds] == [0, 0], outputs
    assert sum(WAITING in output for output in outputs) <= 1
    assert len(list((school.site / "r").glob("*/index.html"))) == COUNT
