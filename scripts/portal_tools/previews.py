"""What a new school's first build spends on Office previews and video, for the benchmark.

- `write_office_corpus`: N folder submissions, each holding one lesson plan (.docx, two to three
  pages: headings, paragraphs, a table) or slide deck (.pptx, six to ten slides), all different.
- `python -m portal_tools.previews one-each <folder> <workers>`: the yardstick. Every Office file
  below <folder> is converted to PDF with one LibreOffice start per document (the portal's own
  `documents.convert`, as the portal did before batching), <workers> documents at a time.
- `python -m portal_tools.previews batched <folder> <workers>`: the same documents converted the
  way the portal's extraction batches them (`documents.convert_many`, `OFFICE_BATCH` documents per
  LibreOffice start, one start per core at a time): the conversion alone, without page images.
- `classroom_video`: a clip as a classroom camera or an old recorder leaves it (WMV, 1280x720,
  with sound), which the portal must re-encode to H.264 for browsers;
  `python -m portal_tools.previews transcode <out> <video>...` re-encodes them one after another
  with the portal's own `video.make_playable`.

Each command is a process of its own so that the benchmark measures its wall time and peak memory.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from portal.catalog import Catalog

from .corpus import body, metadata

OFFICE_SUFFIXES = (".docx", ".pptx")


def _docx(path: Path, rng: random.Random, title: str) -> None:
    from docx import Document

    document = Document()
    document.add_heading(title, level=0)
    for heading in ("教学目标", "学情分析", "教学重难点", "教学过程", "板书设计", "教学反思"):
        document.add_heading(heading, level=1)
        for _ in range(rng.randint(1, 4)):
            document.add_paragraph(body(rng, rng.randint(3, 8)))
    table = document.add_table(rows=5, cols=3)
    table.style = "Table Grid"
    for r, row in enumerate([["环节", "教师活动", "学生活动"]] + [[f"环节{n}", body(rng, 1), body(rng, 1)] for n in range(1, 5)]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.save(str(path))


def _pptx(path: Path, rng: random.Random, title: str) -> None:
    from pptx import Presentation

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = title
    first.placeholders[1].text = body(rng, 1)
    for number in range(rng.randint(5, 9)):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"第{number + 1}部分"
        frame = slide.placeholders[1].text_frame
        frame.text = body(rng, 1)
        for _ in range(rng.randint(2, 4)):
            frame.add_paragraph().text = body(rng, 1)
    deck.save(str(path))


def write_office_corpus(resources: Path, catalog: Catalog, count: int, seed: int = 20241101) -> tuple[int, int]:
    """`count` submissions with one Office document each, two in three Word, one in three
    PowerPoint; returns (docx, pptx) written."""
    rng = random.Random(seed)
    made = {".docx": 0, ".pptx": 0}
    for number in range(count):
        meta = metadata(rng, catalog, number)
        suffix = ".pptx" if number % 3 == 2 else ".docx"
        meta["type"] = "演示文稿" if suffix == ".pptx" else "教学设计"
        folder = resources / meta["term"] / f"o{number:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.yml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
        (_pptx if suffix == ".pptx" else _docx)(folder / f"{meta['type']}{suffix}", rng, meta["title"])
        made[suffix] += 1
    return made[".docx"], made[".pptx"]


def office_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in OFFICE_SUFFIXES and p.is_file())


def one_each(folder: Path, workers: int) -> int:
    """Every Office file converted alone (one LibreOffice start each); returns how many made a PDF."""
    from portal import documents

    out = Path(folder).parent / ".one-each"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    sources = office_files(folder)

    def convert(item: tuple[int, Path]) -> bool:
        number, source = item
        try:
            documents.convert(source, out / f"{number}.pdf", "pdf")
            return True
        except documents.DocumentError:
            return False

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return sum(pool.map(convert, enumerate(sources)))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def batched(folder: Path, workers: int) -> int:
    """The Office files converted as the portal's extraction batches them; returns PDFs made."""
    from portal import documents
    from portal.extract import OFFICE_BATCH

    sources = office_files(folder)
    size = max(1, min(OFFICE_BATCH, -(-len(sources) // workers)))
    batches = [sources[at:at + size] for at in range(0, len(sources), size)]

    def run(batch: list[Path]) -> int:
        work, made = documents.convert_many(batch, "pdf", documents.LIBREOFFICE_TIMEOUT + 20 * len(batch))
        shutil.rmtree(work, ignore_errors=True)
        return len(made)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(run, batches))


def classroom_video(path: Path, seconds: int, seed: int = 0) -> None:
    """A WMV (WMV2 picture, WMA sound) of `seconds` at 1280x720, 25 frames a second: moving test
    pattern and a tone, different for each seed. Browsers cannot play it: the portal re-encodes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25,hue=h={seed * 37 % 360}",
         "-f", "lavfi", "-i", f"sine=frequency={300 + seed * 40}:sample_rate=44100", "-t", str(seconds),
         "-c:v", "wmv2", "-b:v", "2500k", "-c:a", "wmav2", "-b:a", "128k", "-shortest", str(path)],
        check=True,
    )


def video_minutes(paths: list[Path]) -> float:
    from portal import video

    return sum(video.probe(p).minutes for p in paths)


def transcode(out: Path, paths: list[Path]) -> None:
    """Each video made browser-playable by the portal's own code, one after another."""
    from portal import video

    out.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(paths):
        how = video.plan(video.probe(path), path.suffix.lower(), path)
        if how != video.TRANSCODE:
            raise SystemExit(f"{path.name} 不需要重新编码（{how}），不能用来测量转码")
        video.make_playable(path, out / f"{number}{video.playable_suffix(how)}", how)


def main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "one-each":
        done = one_each(Path(rest[0]), int(rest[1]))
    elif command == "batched":
        done = batched(Path(rest[0]), int(rest[1]))
    elif command == "transcode":
        transcode(Path(rest[0]), [Path(p) for p in rest[1:]])
        return 0
    else:
        raise SystemExit(f"未知命令：{command}")
    expected = len(office_files(Path(rest[0])))
    if done != expected:
        print(f"只转换成功 {done} / {expected} 份", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
