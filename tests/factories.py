"""Real files for tests and the demo corpus: .docx from python-docx, videos and images from ffmpeg."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from portal.project import Project

REPO = Path(__file__).resolve().parent.parent
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


def cjk_font() -> str | None:
    return next((f for f in CJK_FONT_CANDIDATES if Path(f).exists()), None)


def write_meta(folder: Path, meta: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "meta.yml"
    path.write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_markdown(path: Path, meta: dict[str, Any], body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{header}---\n\n{body.strip()}\n", encoding="utf-8")
    return path


def make_docx(path: Path, title: str, sections: list[tuple[str, list[str]]], table: list[list[str]] | None = None) -> Path:
    """A Word document with a title, headed sections of paragraphs and optionally a table."""
    from docx import Document

    document = Document()
    document.add_heading(title, level=0)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        grid.style = "Table Grid"
        for r, row in enumerate(table):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed (make test installs it)")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def _caption_filter(caption: str, size: int) -> str:
    font = cjk_font()
    if not caption or font is None:
        return "null"
    text = caption.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\u2019")
    return (
        f"drawtext=fontfile={font}:text='{text}':fontcolor=white:fontsize={size}:"
        "box=1:boxcolor=black@0.6:boxborderw=6:x=(w-text_w)/2:y=h-text_h-12"
    )


def make_video(path: Path, caption: str = "", seconds: float = 3, size: str = "320x180") -> Path:
    """A short H.264/AAC MP4 (test pattern, a tone, a caption) that every browser plays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=15",
        "-f", "lavfi", "-i", "sine=frequency=523:sample_rate=22050",
        "-t", str(seconds), "-vf", _caption_filter(caption, 18),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "32", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "32k", "-shortest", "-movflags", "+faststart", str(path),
    )
    return path


def make_image(path: Path, caption: str = "", size: str = "480x270") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-f", "lavfi", "-i", f"smptebars=size={size}", "-frames:v", "1", "-vf", _caption_filter(caption, 24), str(path))
    return path


def make_pptx(path: Path, title: str = "光合作用", body: str = "植物利用光能制造有机物") -> Path:
    """Two slides: a title with body text, and a slide holding a table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = title
    first.placeholders[1].text = body
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "实验记录"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).text, table.cell(0, 1).text = "组别", "产生气泡"
    table.cell(1, 0).text, table.cell(1, 1).text = "光照组", "多"
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(path))
    return path


def make_pdf(path: Path, text: str) -> Path:
    """A real PDF printed by headless Chromium from a small HTML page."""
    import html
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "page.html"
        page.write_text(f"<html lang='zh'><meta charset='utf-8'><body><h1>{html.escape(text)}</h1></body></html>", encoding="utf-8")
        subprocess.run(
            ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={scratch}/profile",
             f"--print-to-pdf={path}", "--no-pdf-header-footer", page.as_uri()],
            check=True, capture_output=True, timeout=60,
        )
    return path


def make_project(root: Path) -> Project:
    """A school repository without submissions: the shipped config, catalogs, pages and theme."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    for folder in ("catalog", "content", "overrides"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "resources").mkdir()
    return Project(root)


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file below a folder with its hash and every link with its target: to prove nothing changed."""
    digest: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            digest[key] = "link:" + str(path.readlink())
        elif path.is_file():
            digest[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digest[key] = "dir"
    return digest


def assert_accounting(intake: object) -> None:
    """found = published + refused, per term and in total: nothing is lost silently."""
    from collections import Counter

    refused = {p.path for p in intake.refused}  # type: ignore[attr-defined]
    records = intake.records  # type: ignore[attr-defined]
    assert intake.found == len(records) + len(refused)  # type: ignore[attr-defined]
    per_term = Counter(r.term for r in records) + Counter(path.split("/", 1)[0] for path in refused)
    assert sum(per_term.values()) == intake.found  # type: ignore[attr-defined]
