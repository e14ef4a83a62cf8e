"""Briefings as A4 PDFs, printed by headless Chromium from the built site (print stylesheet:
no navigation, charts kept whole, a page per section)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_pdf(page: Path, target: Path) -> None:
    binary = browser()
    if binary is None:
        raise RuntimeError("未安装 chromium：apt-get install chromium")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portal-print-") as profile:
        subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
             "--run-all-compositor-stages-before-draw", "--no-pdf-header-footer",
             f"--print-to-pdf={target}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=180,
        )


def briefing_pdfs(site: Path, out: Path) -> list[Path]:
    """One PDF per briefing page in the built site."""
    written: list[Path] = []
    for page in sorted((site / "briefings").glob("*/index.html")):
        target = out / f"{page.parent.name}.pdf"
        print_pdf(page, target)
        written.append(target)
    return written
