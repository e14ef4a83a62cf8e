"""`make site` with nothing changed does nothing and says so; any change to what a build reads,
and any build by another command in between, builds again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_project, tree_digest, write_meta

from portal import pipeline

T = "2023-2024-1"
META = {"title": "圆的面积", "type": "微课", "subject": "数学", "grade": "六年级", "competencies": ["B2"], "authors": ["李强"], "date": "2023-10-01"}
SKIPPED = "网站没有变化"


def site(root: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(root / "scripts")}  # the school's own copy of the portal
    result = subprocess.run([sys.executable, "-m", "portal", "--root", str(root), "site"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def school(tmp_path: Path):
    project = make_project(tmp_path / "school")
    write_meta(project.resources / T / "圆的面积", META)
    write_meta(project.resources / T / "坏的", {**META, "competencies": ["Z9"]})  # refused: its message is repeated
    assert SKIPPED not in site(project.root)
    return project


def test_nothing_changed_builds_nothing_and_repeats_the_last_warnings(school) -> None:
    live = tree_digest(school.site.resolve())
    target = school.site.resolve()
    output = site(school.root)
    assert SKIPPED in output and "坏的" in output  # the refusal is still shown
    assert "网站已生成到" not in output and "各阶段用时" not in output  # not the last build's timing, as if it were this one's
    assert school.site.resolve() == target and tree_digest(target) == live


@pytest.mark.parametrize("change", ["edit", "new", "settings", "theme", "log", "catalog", "site gone", "template", "owner", "report gone"])
def test_any_change_builds_again(school, change: str) -> None:
    meta = school.resources / T / "圆的面积" / "meta.yml"
    if change == "edit":
        meta.write_text(meta.read_text(encoding="utf-8").replace("圆的面积", "圆的周长"), encoding="utf-8")
    elif change == "new":
        write_meta(school.resources / T / "新的", {**META, "title": "新的一课"})
    elif change == "settings":
        school.config_file.write_text(school.config_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    elif change == "theme":
        (school.root / "overrides" / "extra.css").write_text("/* */\n", encoding="utf-8")
    elif change == "log":
        (school.root / "logs").mkdir(exist_ok=True)
        (school.root / "logs" / "access.log").write_text("", encoding="utf-8")
    elif change == "catalog":
        path = next(school.catalog.glob("*.yml"))
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    elif change == "template":  # an upgrade of the portal that changes only a page template
        template = school.root / "scripts" / "portal" / "templates" / "resource.html"
        template.write_text(template.read_text(encoding="utf-8") + "{# upgraded #}\n", encoding="utf-8")
    elif change == "owner":  # who may read a file decides whether it can be published
        os.chown(meta, 12345, 12345)
    elif change == "report gone":  # the admin report deleted: the summary must not point at nothing
        shutil.rmtree(school.root / "reports")
    else:
        shutil.rmtree(school.root / ".build" / "sites")
    assert SKIPPED not in site(school.root)
    assert (school.root / "reports" / "index.html").is_file()
    assert SKIPPED in site(school.root)


def test_a_build_by_another_command_in_between_is_not_mistaken_for_the_last(school) -> None:
    """make serve rebuilds in between: the files go back exactly as they were (an undo), but the
    site shows the serve build's state, so make site must build."""
    meta = school.resources / T / "圆的面积" / "meta.yml"
    before, info = meta.read_bytes(), meta.stat()
    meta.write_text(meta.read_text(encoding="utf-8").replace("圆的面积", "圆的周长"), encoding="utf-8")
    pipeline.build_site(school)  # what make serve's watcher does
    meta.write_bytes(before)
    os.utime(meta, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert SKIPPED not in site(school.root)
    assert "圆的面积" in (school.site / "r" / f"{T}-圆的面积" / "index.html").read_text(encoding="utf-8")


def test_an_edit_that_keeps_the_size_and_the_time_is_still_seen(school) -> None:
    """A teacher's tool that writes the file in place and puts its modification time back."""
    meta = school.resources / T / "圆的面积" / "meta.yml"
    info = meta.stat()
    meta.write_text(meta.read_text(encoding="utf-8").replace("圆的面积", "圆的周长"), encoding="utf-8")
    os.utime(meta, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert meta.stat().st_size == info.st_size and meta.stat().st_ino == info.st_ino
    assert SKIPPED not in site(school.root)
    assert "圆的周长" in (school.site / "r" / f"{T}-圆的面积" / "index.html").read_text(encoding="utf-8")


def test_the_code_fingerprint_is_the_code_loaded_not_the_code_on_disk(school) -> None:
    """make serve forks its rebuilds from a process that loaded the portal before a git pull."""
    script = (
        "import pathlib, portal.memo as m\n"
        "before = m.code_fingerprint()\n"
        "path = pathlib.Path(m.__file__).with_name('intake.py')\n"
        "path.write_text(path.read_text(encoding='utf-8') + '\\n# upgraded\\n', encoding='utf-8')\n"
        "print(before, before == m.code_fingerprint())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(school.root / "scripts")}
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    before, same = first.stdout.split()
    assert same == "True", first.stderr
    upgraded = subprocess.run([sys.executable, "-c", "import portal.memo as m; print(m.code_fingerprint())"], capture_output=True, text=True, env=env, timeout=60)
    assert upgraded.stdout.strip() not in ("", before)


def test_the_package_list_is_kept_until_a_package_folder_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading every installed package's metadata is skipped while the folders packages are
    installed in keep their modification time; an upgrade (pip replaces the package's dist-info
    folder) changes it, and the list is read again."""
    from importlib import metadata

    from portal import unchanged

    place = tmp_path / "site-packages"
    info = place / "portal_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: portal-probe\nVersion: 1.0\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(place))
    kept = tmp_path / "work" / unchanged.PACKAGES
    fresh = unchanged._packages(kept)
    assert fresh == sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    assert "portal-probe==1.0" in fresh
    key = kept.read_text(encoding="utf-8").split("\n")[0]
    kept.write_text(f"{key}\nkept==1", encoding="utf-8")
    assert unchanged._packages(kept) == ["kept==1"]  # read from the file, not from the packages
    school = tmp_path / "school"  # `python -m portal` puts the school's folder on the path; each build changes it
    school.mkdir()
    monkeypatch.syspath_prepend(str(school))
    (school / "site").write_text("another build", encoding="utf-8")
    assert unchanged._packages(kept) == ["kept==1"]

    upgraded = info.rename(place / "portal_probe-2.0.dist-info")  # the same folders, a new modification time
    (upgraded / "METADATA").write_text("Metadata-Version: 2.1\nName: portal-probe\nVersion: 2.0\n", encoding="utf-8")
    os.utime(place, ns=(place.stat().st_atime_ns, place.stat().st_mtime_ns + 1_000_000))
    again = unchanged._packages(kept)
    assert "portal-probe==2.0" in again and "kept==1" not in again


def test_a_run_with_nothing_changed_does_not_say_it_read_new_log_lines(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    logs = project.root / "logs"
    logs.mkdir()
    (logs / "access.log").write_text('192.168.1.20 - - [03/Dec/2026:08:00:00 +0800] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n', encoding="utf-8")
    assert "本次读取新记录 1 行" in site(project.root)
    again = site(project.root)
    assert SKIPPED in again and "本次读取新记录" not in again
