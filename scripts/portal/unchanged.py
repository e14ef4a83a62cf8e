"""A build with nothing to do: `make site` run again (by hand, by cron) when no submission,
setting, page, theme, log or program changed since the last finished build.

Everything a build reads is summed up by its file system signature (name, size, modification
time, inode, owner of every file: nothing is read), with the portal's code and templates, the
Python packages' versions, the page generator's, PORTAL_* settings, the helper programs found
and today's date (the usage pages count the last seven
days). When the sum equals the one stored by the last finished build and that build's site is
still there, the build is skipped and its summary printed again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import sys
from pathlib import Path

from .build import STAMP
from .builders import choose
from .index import write_atomic
from .memo import Walk, code_fingerprint, file_signature, tree_signature
from .project import Project
from .settings import Settings
from .usage import log_files

STORED = "inputs.txt"
PACKAGES = "packages.txt"  # the installed packages, by where they are installed (_packages)
SUMMARY = "last-summary.txt"


def fingerprint(project: Project, resources: Walk | None = None) -> str | None:
    """The sum of everything a build of `project` reads; None when it cannot be told without
    reading (a link inside the inputs: what it points at may change unseen). `resources`: a walk
    of the resources folder already taken (intake then signs each submission from it)."""
    try:
        settings = Settings.load(project.config_file)
        builder = choose(project.config_file).fingerprint()
    except Exception:  # noqa: BLE001 - a broken mkdocs.yml or a missing builder: the build says so
        return None
    parts = [code_fingerprint(), dt.date.today().isoformat(), sys.executable, builder, *_packages(project.work / PACKAGES),
             *sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("PORTAL_")),
             str(shutil.which("ffmpeg")), str(shutil.which("soffice") or shutil.which("libreoffice"))]
    for folder in (project.resources, project.content, project.catalog, project.root / "overrides"):
        if resources is not None and folder == project.resources:
            signature = resources.tree(folder) if folder.exists() else "absent"
        else:
            signature = tree_signature(folder) if folder.exists() else "absent"
        if signature is None:
            return None
        parts.append(signature)
    for path in [project.config_file, *log_files(project.root, settings.access_logs)]:
        parts.append(file_signature(path) or f"{path} absent")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _packages(kept: Path) -> list[str]:
    """The Python packages this build runs with (an upgrade of pygal or pypdf changes pages).
    Reading every package's metadata costs 0.05 s, so the list is kept in `kept` by the
    modification times of the folders Python finds packages in: pip adds or removes a
    `<name>-<version>.dist-info` folder there for every install, upgrade and removal. Folders on
    Python's path that hold no package are left out (`python -m portal` puts the school's folder
    there, which every build changes)."""
    places = []
    for entry in sys.path:
        try:
            with os.scandir(entry or os.curdir) as found:
                if any(item.name.endswith((".dist-info", ".egg-info")) for item in found):
                    places.append(f"{entry}\0{os.stat(entry or os.curdir).st_mtime_ns}")
        except OSError:
            places.append(f"{entry}\0absent")
    key = hashlib.sha256("\n".join(places).encode("utf-8", "surrogateescape")).hexdigest()
    try:
        stored = kept.read_text(encoding="utf-8").split("\n")
        if stored[0] == key:
            return stored[1:]
    except (OSError, UnicodeDecodeError):
        pass
    from importlib import metadata  # only when the list changed: importing it costs 0.04 s

    found = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    with contextlib.suppress(OSError):
        write_atomic(kept, "\n".join([key, *found]).encode("utf-8"))
    return found


def last_summary(project: Project, current: str | None) -> str | None:
    """What the last build printed, when it read exactly these inputs and its site is there."""
    if current is None:
        return None
    try:
        stored = (project.work / STORED).read_text(encoding="utf-8")
        summary = (project.work / SUMMARY).read_text(encoding="utf-8")
    except OSError:
        return None
    live = project.site
    if stored != current or not live.is_symlink() or not (live.resolve() / STAMP).is_file() or not (live / "index.html").is_file():
        return None
    return summary


def remember(project: Project, current: str | None, summary: str) -> None:
    """After a finished build: the sum of the inputs it read (taken before it read them)."""
    target = project.work / STORED
    target.unlink(missing_ok=True)
    if current is None:
        return
    (project.work / SUMMARY).write_text(summary, encoding="utf-8")
    target.write_text(current, encoding="utf-8")


def forget(project: Project) -> None:
    """Something else changed the site (make serve's rebuilds): the next make site builds."""
    (project.work / STORED).unlink(missing_ok=True)
