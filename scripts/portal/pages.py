"""Page images: the first pages of a PDF (a teacher's PDF, or the PDF preview of an Office
document) as JPEG images, so the document can be read where a PDF cannot be shown inside a page
(Android browsers, WeChat's built-in browser) and on paper.

PDFium (pypdfium2, which reads PDF text already) draws each page; Pillow writes the JPEG. The
images of one PDF are one cached artefact (a folder) keyed by the content hash of the file they
come from, like every other artefact, and drawn in a process of their own with a time limit:
PDFium is C code reading a teacher's file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from .forks import isolated

PAGES = 3  # the first pages; the whole document is one click away
WIDTH = 900  # pixels: sharp on a phone, a third of a megabyte at most per page
MAX_HEIGHT = 4 * WIDTH  # a very long page is drawn smaller rather than enormous
QUALITY = 80
TIMEOUT = 120.0
INFO = "pages.json"


class Artefacts(Protocol):
    def artefact(self, kind: str, digest: str, suffix: str, make: object) -> Path: ...


@dataclass(frozen=True)
class Sheet:
    """One page image, published beside the resource page at media/<name>."""

    source: Path
    name: str
    width: int
    height: int
    number: int  # 1-based page number
    total: int  # pages in the whole document


def render(pdf: Path, target: Path) -> None:
    """Draw the first PAGES pages of `pdf` into the folder `target` (1.jpg, 2.jpg, ...) with a
    pages.json saying how many pages the document has and each image's size."""
    import pypdfium2 as pdfium

    target.mkdir(parents=True)
    document = pdfium.PdfDocument(str(pdf))
    try:
        sizes = []
        for number in range(min(PAGES, len(document))):
            page = document[number]
            width, height = page.get_size()
            scale = min(WIDTH / max(width, 1), MAX_HEIGHT / max(height, 1))
            image = page.render(scale=scale).to_pil().convert("RGB")
            image.save(target / f"{number + 1}.jpg", "JPEG", quality=QUALITY, optimize=True, progressive=True)
            sizes.append(list(image.size))
            page.close()
        (target / INFO).write_text(json.dumps({"total": len(document), "sizes": sizes}), encoding="utf-8")
    finally:
        document.close()


def _render_apart(pdf: Path, target: Path) -> None:
    """`render` in a process of its own; a half-drawn folder is removed when it fails."""
    try:
        isolated(render, pdf, target, timeout=TIMEOUT)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def sheets(cache: Artefacts, digest: str, pdf: Path, index: int) -> list[Sheet]:
    """The page images of `pdf` (made once per content hash `digest`), named for attachment
    number `index` of its resource. Raises the cache's error when PDFium cannot draw the file."""
    folder = cache.artefact("sheets", digest, ".pages", partial(_render_apart, pdf))
    info = json.loads((folder / INFO).read_text(encoding="utf-8"))
    return [
        Sheet(folder / f"{n}.jpg", f"{index}-page{n}.jpg", width, height, n, int(info["total"]))
        for n, (width, height) in enumerate(info["sizes"], start=1)
    ]
