"""`make setup` (which `make site` and `make serve` run first) compiles the portal's own modules
after each change, so that a build does not compile them again where Python may not write them
itself (PYTHONDONTWRITEBYTECODE, a read-only checkout)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "MAKEFLAGS", "MFLAGS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(["make", "--no-print-directory", "-C", str(root), *args], env=env, capture_output=True, text=True, timeout=300)


def test_make_setup_compiles_the_portal_once_after_each_change(tmp_path: Path) -> None:
    root = tmp_path / "school"
    root.mkdir()
    shutil.copy(REPO / "Makefile", root)
    shutil.copy(REPO / "requirements.txt", root)
    shutil.copytree(REPO / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".runtime-installed").touch()  # the packages are this test run's own

    done = make(root, "setup")
    assert done.returncode == 0, done.stdout + done.stderr
    compiled = root / "scripts" / "portal" / "__pycache__"
    assert sorted(p.name.split(".")[0] for p in compiled.glob("*.pyc")) == sorted(p.stem for p in (root / "scripts" / "portal").glob("*.py"))
    assert make(root, "-q", "setup").returncode == 0  # nothing to do until a module changes

    changed = root / "scripts" / "portal" / "cli.py"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert make(root, "-q", "setup").returncode == 1
    before = {p: p.stat().st_mtime_ns for p in compiled.glob("cli.*.pyc")}
    assert make(root, "setup").returncode == 0
    assert all(p.stat().st_mtime_ns > t for p, t in before.items()) and before
    # Every compiled file is valid for its source as it is now: Python takes it instead of compiling.
    for source in (root / "scripts" / "portal").glob("*.py"):
        header = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[4:8], "little") == 0, source
        stat = source.stat()
        assert int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF and int.from_bytes(header[12:16], "little") == stat.st_size, source
