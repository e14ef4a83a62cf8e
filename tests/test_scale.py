"""A school's second or third term, built the way a new school installs the portal: a brand-new
virtual environment with nothing but requirements.txt, and 1,200 generated submissions.

A module imported by the product but missing from requirements.txt (numpy was, for any search
token found in 512 or more documents) breaks a school's site only at this scale and only in a
fresh install; the test environment has more packages than a school's, so this test builds
with a separate one.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_project, write_markdown

from portal.catalog import load_catalog
from portal_tools.corpus import CorpusSpec, write_corpus

REPO = Path(__file__).resolve().parent.parent
SIZE = 1200


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding exactly requirements.txt."""
    venv = tmp_path_factory.mktemp("runtime-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REPO / "requirements.txt")],
                   check=True, timeout=1200)
    return python


def portal(python: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(REPO / "scripts")
    return subprocess.run([str(python), "-m", "portal", "--root", str(root), *args], capture_output=True, text=True, env=env, timeout=1800)


def test_a_fresh_install_builds_1200_resources(runtime_python: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    config = project.root / "mkdocs.yml"  # previews off: this test is about scale, not LibreOffice
    config.write_text(config.read_text(encoding="utf-8").replace("office_previews: true", "office_previews: false"), encoding="utf-8")
    written = write_corpus(project.resources, load_catalog(project.catalog), CorpusSpec(size=SIZE, docx_every=10, pdf_every=40))
    assert written == SIZE

    result = portal(runtime_python, project.root, "site")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr

    site = project.site.resolve()
    pages = list((site / "r").glob("*/index.html"))
    assert len(pages) == SIZE
    facets = json.loads(gzip.decompress((site / "search" / "facets.json.gz").read_bytes()))
    assert facets["n"] == SIZE
    # Some tokens are in far more than 512 documents: the long-postings path was exercised.
    longest = max(len(ids.split(",")) for shard in (site / "search" / "d").glob("*.json.gz")
                  for ids in json.loads(gzip.decompress(shard.read_bytes())).values())
    assert longest >= 512

    # Publish on arrival at this scale: one new submission, an incremental rebuild, its page live.
    write_markdown(project.resources / "2023-2024-2" / "新到的反思.md",
                   {"title": "新到的一份教学反思", "type": "教学反思", "subject": "数学", "grade": "三年级", "competencies": ["A1"], "authors": ["新老师"]},
                   "这节课的新尝试。")
    again = portal(runtime_python, project.root, "site")
    assert again.returncode == 0, again.stderr[-2000:]
    pages = list((project.site.resolve() / "r").glob("*/index.html"))
    assert len(pages) == SIZE + 1
    assert any("新到的一份教学反思" in p.read_text(encoding="utf-8") for p in pages if "新到的反思" in str(p))
