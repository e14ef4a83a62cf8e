"""Readable text from teachers' documents: .docx (python-docx), .pdf (pypdfium2), .pptx (python-pptx),
and the legacy .doc/.wps/.ppt formats through LibreOffice.

Each reader returns the full plain text (for search) and escaped HTML for the page, cut at a
character budget so one 200-page upload cannot make a page of megabytes.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import CHARSET_SNIFF_BYTES, decode_plain

PAGE_TEXT_BUDGET = 12_000  # characters of document text shown on a page; search sees all of it
LIBREOFFICE_TIMEOUT = 300
OFFICE_PREVIEWABLE = {".docx", ".doc", ".wps", ".pptx", ".ppt", ".pps", ".ppsx", ".odt", ".odp", ".rtf"}
LEGACY_TO_MODERN = {".doc": ".docx", ".wps": ".docx", ".rtf": ".docx", ".odt": ".docx", ".ppt": ".pptx", ".pps": ".pptx", ".odp": ".pptx"}


class DocumentError(Exception):
    """A document could not be read; the message says why, in Chinese."""


# The C library's errno texts are English ("Operation not permitted"; FFmpeg also uses -1, EPERM,
# as its generic failure): what admins read is Chinese.
ERRNO_TEXT = {
    1: "操作不被允许（没有权限，或文件结构异常）",  # EPERM
    2: "找不到文件（可能在处理时被移走或删除）",  # ENOENT
    5: "读取时出现输入输出错误（磁盘或网络存储故障）",  # EIO
    12: "内存不足",  # ENOMEM
    13: "没有读取权限（请检查文件权限）",  # EACCES
    22: "参数无效（文件结构异常）",  # EINVAL
    28: "磁盘空间不足（请清理磁盘）",  # ENOSPC
    36: "文件名太长",  # ENAMETOOLONG
    17: "已有同名的文件（这里应是文件夹，或应是另一个文件）",  # EEXIST
    20: "路径中应是文件夹的地方是一个文件",  # ENOTDIR
    21: "应是文件的地方是一个文件夹",  # EISDIR
    30: "磁盘是只读的",  # EROFS
    98: "端口已被占用",  # EADDRINUSE
    99: "本机没有这个地址",  # EADDRNOTAVAIL
}
_ERROR_TEXT = {"InvalidDataError": "文件数据无效", "MemoryError": "内存不足", "RecursionError": "文件结构嵌套过深"}


def translate_strerror(line: str) -> str:
    """A program's error line with the C library's English errno text put in Chinese."""
    for number, text in ERRNO_TEXT.items():
        line = line.replace(os.strerror(number), text)
    return line


def os_reason(error: BaseException) -> str:
    """An error's reason in Chinese, without the file's path (servers' folders stay out of reports)."""
    number = getattr(error, "errno", None)
    if isinstance(number, int) and abs(number) in ERRNO_TEXT:
        return ERRNO_TEXT[abs(number)]
    return _ERROR_TEXT.get(type(error).__name__, type(error).__name__)[:200]


@dataclass
class DocText:
    """What a reader found: HTML blocks for the page and the whole text for search."""

    blocks: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    shown: int = 0
    cut: bool = False
    garbled: list[int] = field(default_factory=list)  # pages left out: their text is not language

    def add(self, tag: str, text: str) -> None:
        text = text.strip()
        if not text:
            return
        self.parts.append(text)
        if self.shown >= PAGE_TEXT_BUDGET:
            self.cut = True
            return
        if len(text) > PAGE_TEXT_BUDGET - self.shown:  # one long paragraph (a text without line breaks)
            text, self.cut = text[:PAGE_TEXT_BUDGET - self.shown] + "…", True
        self.shown += len(text)
        self.blocks.append(f"<{tag}>{html.escape(text)}</{tag}>")

    def add_html(self, markup: str, text: str) -> None:
        self.parts.append(text)
        if self.shown >= PAGE_TEXT_BUDGET:
            self.cut = True
            return
        self.shown += len(text)
        self.blocks.append(markup)

    @property
    def html(self) -> str:
        tail = ['<p class="portal-cut">（文字较长，页面只显示前一部分；完整内容请查看预览或下载原文件。）</p>'] if self.cut else []
        return "\n".join(self.blocks + tail)

    @property
    def text(self) -> str:
        return "\n".join(self.parts)

    def to_json(self) -> str:
        return json.dumps({"html": self.html, "text": self.text, "garbled": self.garbled}, ensure_ascii=False)

    @staticmethod
    def from_json(data: str) -> tuple[str, str, list[int]]:
        loaded = json.loads(data)
        return loaded["html"], loaded["text"], loaded.get("garbled", [])


# -- text that is not language -------------------------------------------------------------------

# A font without a Unicode map (pdfTeX's bitmap fonts, some scanners' OCR layers) makes PDF text
# extraction return raw character codes: Latin-1 symbols, accented letters and control characters
# (`ÍÆ#(ØK) 1õ œ`) where Chinese or words were printed.
# Letters of a language: digits, Latin with accents (pinyin's bà, ā, ǚ), Greek, Cyrillic, CJK.
_LANGUAGE = re.compile(r"[0-9A-Za-z\u00e0-\u00f6\u00f8-\u00ff\u0100-\u024f\u0370-\u04ff"
                       r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# What raw font codes look like: control characters, Latin-1 symbols other than the ones Chinese
# documents use (° ± · ² ³ ×), capital accented letters, private-use and replacement characters.
_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xaf\xb4-\xb6\xb8-\xd6\xd8-\xdf\ue000-\uf8ff\ufffd]")
_JUDGED_FROM = 12  # characters: shorter text is too little to judge


def is_garbled(text: str) -> bool:
    """True when text is not language: many characters that only raw font codes produce, or
    hardly any letters, digits or Chinese characters at all."""
    visible = "".join(text.split())
    if len(visible) < _JUDGED_FROM:
        return False
    noise = len(_NOISE.findall(visible)) / len(visible)
    language = len(_LANGUAGE.findall(visible)) / len(visible)
    return noise >= 0.15 or language < 0.25


# -- .docx ---------------------------------------------------------------------------------------


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    # The page already has h1 (title), h2 (成果文件) and h3 (the file's name).
    if name in ("title", "标题"):
        return 4
    match = re.match(r"(?:heading|标题)\s*(\d)", name)
    return min(int(match.group(1)) + 4, 6) if match else None


def _is_list(style_name: str) -> bool:
    name = style_name.lower()
    return name.startswith("list") or "列表" in name or "项目符号" in name


def _table_rows(rows: Iterable[object]) -> tuple[str, str]:
    html_rows: list[str] = []
    text_rows: list[str] = []
    for row in rows:
        cells: list[str] = []
        texts: list[str] = []
        previous = None
        for cell in row.cells:  # type: ignore[attr-defined]
            # python-docx returns a merged cell once per grid column; python-pptx marks the spanned ones.
            if cell._tc is previous or getattr(cell, "is_spanned", False):
                continue
            previous = cell._tc
            if hasattr(cell, "paragraphs"):  # Word: content controls may wrap a cell's paragraphs
                texts_in = [_paragraph_text(p) for p in _word_blocks(cell._tc) if p.tag == _W_P]
            else:
                texts_in = [p.text for p in cell.text_frame.paragraphs]
            lines = [line.strip() for line in texts_in if line.strip()]
            cells.append("<td>" + "<br>".join(html.escape(line) for line in lines) + "</td>")
            texts.append(" ".join(lines))
        html_rows.append("<tr>" + "".join(cells) + "</tr>")
        text_rows.append(" | ".join(texts))
    return '<table class="docx-table">\n' + "\n".join(html_rows) + "\n</table>", "\n".join(text_rows)


def _open(reader: Callable[[str], Any], path: Path, kind: str) -> Any:
    """Open a document with its library; any failure there means the file is not one."""
    from .limits import package_problem

    if (too_big := package_problem(path)) is not None:
        raise DocumentError(too_big)  # checked before the library inflates anything
    try:
        return reader(str(path))
    except Exception as error:  # zip, XML and library errors alike
        raise DocumentError(f"不是有效的 {kind}（{type(error).__name__}）") from error


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_W_P, _W_TBL, _W_R = f"{_W}p", f"{_W}tbl", f"{_W}r"
# Elements whose runs are a paragraph's text: links, content controls (structured document tags,
# the form fields of school templates), tracked insertions, smart tags and simple fields.
_W_RUN_HOLDERS = {f"{_W}{name}" for name in ("hyperlink", "sdt", "sdtContent", "ins", "smartTag", "fldSimple", "customXml")}
_W_BLOCK_HOLDERS = {f"{_W}{name}" for name in ("sdt", "sdtContent", "customXml")}


def _word_blocks(parent: Any) -> Iterable[Any]:
    """The w:p and w:tbl elements of a body or cell in order, including those inside block-level
    content controls (w:sdt), which python-docx skips."""
    for child in parent.iterchildren():
        if child.tag in (_W_P, _W_TBL):
            yield child
        elif child.tag in _W_BLOCK_HOLDERS:
            yield from _word_blocks(child)


def _paragraph_text(element: Any) -> str:
    """A paragraph's text with the runs inside inline content controls, which python-docx skips."""
    parts: list[str] = []
    for child in element.iterchildren():
        if child.tag == _W_R:
            parts.append(child.text)
        elif child.tag in _W_RUN_HOLDERS:
            parts.append(_paragraph_text(child))
    return "".join(parts)


def read_docx(path: Path) -> DocText:
    """Headings, paragraphs, lists and tables, in document order."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = _open(Document, path, "Word 文档")
    found = DocText()
    items: list[str] = []
    # python-docx resolves a paragraph's style by scanning every style of the document, which
    # was half the time of reading one: resolve each distinct style id once.
    style_names: dict[str | None, str] = {}

    def style_of(paragraph: Any) -> str:
        style_id = paragraph._p.style  # the w:pStyle value; None for the document's default style
        if style_id not in style_names:
            style = paragraph.style
            style_names[style_id] = style.name if style is not None else ""
        return style_names[style_id]

    def flush() -> None:
        if items:
            found.add_html("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>", "\n".join(items))
            items.clear()

    body = document.element.body
    for element in _word_blocks(body):
        if element.tag == _W_TBL:
            flush()
            found.add_html(*_table_rows(Table(element, document._body).rows))
            continue
        block = Paragraph(element, document._body)
        text = _paragraph_text(element).strip()
        if not text:
            continue
        style = style_of(block)
        level = _heading_level(style)
        if _is_list(style):
            items.append(text)
            continue
        flush()
        found.add(f"h{level}" if level else "p", text)
    flush()
    return found


# -- .pdf ----------------------------------------------------------------------------------------


_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one document at a time per process


def read_pdf(path: Path) -> DocText:
    """Page by page with PDFium (the engine of Chrome's PDF viewer): about ten times faster than
    a pure-Python parser, and it maps fonts' radical forms (⽤) to the ordinary characters (用)."""
    with _PDFIUM:
        return _read_pdf(path)


def _read_pdf(path: Path) -> DocText:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise DocumentError("PDF 已加密（打开需要密码），无法读取文字，网页上只提供下载；请作者另存一份不加密的 PDF 重新提交") from error
        raise DocumentError(f"不是有效的 PDF 文件（{error}）") from error
    found = DocText()
    try:
        pages = len(document)
        for number in range(pages):
            page = document[number]
            text_page = page.get_textpage()
            text = text_page.get_text_bounded()
            text_page.close()
            page.close()
            if is_garbled(text):
                found.garbled.append(number + 1)
                continue
            paragraphs = [p for p in re.split(r"(?:\r?\n)\s*(?:\r?\n)", text) if p.strip()]
            if paragraphs and pages > 1:
                found.add("h4", f"第 {number + 1} 页")
            for paragraph in paragraphs:
                found.add("p", join_lines(paragraph.splitlines()))
    except pdfium.PdfiumError as error:
        raise DocumentError(f"PDF 文件已损坏（{error}）") from error
    finally:
        document.close()
    return found


_CJK_EDGE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def join_lines(lines: Iterable[str]) -> str:
    """Lines of one paragraph as one line: Chinese lines join directly (a space would split the
    word at the line end, for readers and for search), other lines with a space."""
    joined = ""
    for line in (" ".join(line.split()) for line in lines):
        if not line:
            continue
        if joined and not (_CJK_EDGE.match(joined[-1]) and _CJK_EDGE.match(line[0])):
            joined += " "
        joined += line
    return joined


# -- .pptx ---------------------------------------------------------------------------------------


def read_pptx(path: Path) -> DocText:
    """Slide by slide: the title, then the text of every other shape and table."""
    from pptx import Presentation

    presentation = _open(Presentation, path, "PowerPoint 文件")
    found = DocText()
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else ""
        found.add("h4", f"第 {number} 张幻灯片" + (f"：{title}" if title else ""))
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if shape.has_text_frame:
                for paragraph in shape.text_frame.paragraphs:
                    found.add("p", "".join(run.text for run in paragraph.runs))
            elif getattr(shape, "has_table", False) and shape.has_table:
                found.add_html(*_table_rows(shape.table.rows))
    return found


# -- .txt and .md: a teacher's notes and reflections --------------------------------------------

PLAIN_SUFFIXES = (".txt", ".md", ".markdown")
PLAIN_TEXT_BYTES = CHARSET_SNIFF_BYTES  # of a .txt read for the page and search (a log pasted in is not a reflection)
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")


def read_plain(path: Path) -> DocText:
    """Plain text as Notepad, WPS or an editor saved it (UTF-8, GBK, UTF-16 with a mark): each line
    a paragraph (Chinese text puts one paragraph on a line), a Markdown heading a heading."""
    with path.open("rb") as handle:
        text = decode_plain(handle.read(PLAIN_TEXT_BYTES)).rstrip("\ufffd")  # a character cut at the end of what was read
    if len(_NOT_TEXT.findall(text)) > max(2, len(text) // 100):
        raise DocumentError("文件内容不是文字（可能已损坏，或其实是其他类型的文件）")
    found = DocText()
    markdown = path.suffix.lower() != ".txt"
    for line in text.splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line) if markdown else None
        found.add("h4", heading.group(1)) if heading else found.add("p", " ".join(line.split()))
    return found


READERS: dict[str, Callable[[Path], DocText]] = {".docx": read_docx, ".pdf": read_pdf, ".pptx": read_pptx,
                                                 **dict.fromkeys(PLAIN_SUFFIXES, read_plain)}


def read_text_json(suffix: str, path: Path) -> str:
    """A document's text as JSON (DocText), in whichever process runs it (a parser worker, or a
    process of its own for PDFs)."""
    return READERS[suffix](path).to_json()


# -- programs: LibreOffice and ffmpeg ------------------------------------------------------------

# Every program started for a teacher's file runs in a process group of its own, remembered here:
# a build stopped with Ctrl+C or SIGTERM kills the groups (LibreOffice's soffice.bin is a
# grandchild of the `soffice` started) and starts no more, so nothing runs on after it.
_RUNNING: dict[int, subprocess.Popen[bytes]] = {}
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


class ProgramStopped(BaseException):
    """The build is stopping: no program is started any more, and what a killed program left
    unfinished is not recorded as the file's failure (a BaseException: no handler of teachers'
    file errors catches it)."""


def run_program(command: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a program in its own process group; on timeout the whole group is killed
    (subprocess.TimeoutExpired is raised as usual)."""
    with _RUNNING_LOCK:
        if _STOPPING.is_set():
            raise ProgramStopped("生成已中止")
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env)
        _RUNNING[process.pid] = process
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        process.communicate()
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(process.pid, None)
    if _STOPPING.is_set():
        raise ProgramStopped("生成已中止")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _kill_group(group: int) -> None:
    import signal

    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:  # already gone
        pass


def stop_programs() -> None:
    """Kill every running program's group and start no more (the build is stopping)."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        groups = list(_RUNNING)
    for group in groups:
        _kill_group(group)


@contextlib.contextmanager
def programs_stop_with_build() -> Iterator[None]:
    """While the body runs, SIGINT (Ctrl+C) and SIGTERM first kill the programs, then do what
    they did before (KeyboardInterrupt, or the end of the process). Main thread only."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STOPPING.clear()
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def stop(number: int, frame: Any) -> None:
        stop_programs()
        previous = saved[number]
        if callable(previous):
            previous(number, frame)
        else:
            signal.signal(number, previous)
            os.kill(os.getpid(), number)

    for number in saved:
        signal.signal(number, stop)
    try:
        yield
    finally:
        for number, previous in saved.items():
            signal.signal(number, previous)


# -- LibreOffice ---------------------------------------------------------------------------------


def libreoffice() -> str | None:
    """The LibreOffice binary, or None; PORTAL_LIBREOFFICE names another one (empty: none)."""
    chosen = os.environ.get("PORTAL_LIBREOFFICE")
    if chosen is not None:
        return chosen or None
    return shutil.which("soffice") or shutil.which("libreoffice")


# A profile that makes LibreOffice load nothing a document links to (pictures "linked, not
# embedded" from a teacher's URL, OLE links) and run no macros.
_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseOpenCL" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""
_PROFILES: list[Path] = []  # idle profiles: LibreOffice's first start in a new one costs seconds
_PROFILES_LOCK = threading.Lock()


@contextlib.contextmanager
def _profile() -> Iterator[Path]:
    """A LibreOffice user profile used by one conversion at a time, kept for the next one."""
    with _PROFILES_LOCK:
        profile = _PROFILES.pop() if _PROFILES else None
    if profile is None or not profile.exists():
        profile = Path(tempfile.mkdtemp(prefix="portal-lo-profile-"))
        (profile / "user").mkdir()
        (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
        from . import forks

        # Removed when this process ends, also a forked child (a `make serve` rebuild), where
        # atexit does not run, and one stopped by Ctrl+C.
        forks.on_exit(functools.partial(shutil.rmtree, profile, True))
    try:
        yield profile
    finally:
        with _PROFILES_LOCK:
            _PROFILES.append(profile)


@functools.cache
def _without_network() -> list[str]:
    """`unshare -n` where this machine allows it (root, or unprivileged namespaces): LibreOffice
    then has no network at all, whatever a document links to."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [unshare, "-n"]


def convert_many(sources: list[Path], to: str, timeout: float) -> tuple[Path, dict[Path, Path]]:
    """Convert several documents with one LibreOffice start (`to`: "pdf", "docx", "pptx").

    Returns a scratch folder (the caller removes it) and what was made for each source; a source
    LibreOffice could not convert is missing from the map. Sources are linked in under plain
    names: LibreOffice derives the output name from the input's, and names with spaces, # or
    emoji have tripped it up.
    """
    binary = libreoffice()
    if binary is None:
        raise DocumentError("未安装 LibreOffice，请安装：apt-get install libreoffice-writer-nogui libreoffice-impress-nogui")
    work = Path(tempfile.mkdtemp(prefix="portal-lo-"))
    plain: list[Path] = []
    for number, source in enumerate(sources):
        link = work / "in" / f"{number}{source.suffix.lower()}"
        link.parent.mkdir(exist_ok=True)
        try:
            link.symlink_to(source.resolve())
        except OSError:
            shutil.copyfile(source, link)
        plain.append(link)
    with _profile() as profile:
        command = [*_without_network(), binary, "--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
                   f"-env:UserInstallation={profile.as_uri()}", "--convert-to", to, "--outdir", str(work / "out"), *map(str, plain)]
        # LibreOffice's own temporary files (lu*.tmp) go in the scratch folder: removed with it,
        # also when a stopped build killed LibreOffice before it could remove them.
        (work / "tmp").mkdir()
        try:
            run_program(command, timeout, {**os.environ, "TMPDIR": str(work / "tmp")})
        except subprocess.TimeoutExpired as error:
            shutil.rmtree(work, ignore_errors=True)
            raise DocumentError("LibreOffice 转换超时，文件可能过大或已损坏；请用 Office/WPS 打开检查后另存再提交") from error
        except BaseException:  # the build is stopping (Ctrl+C, SIGTERM): no scratch folder left behind
            shutil.rmtree(work, ignore_errors=True)
            raise
    made = {source: work / "out" / f"{link.stem}.{to}" for source, link in zip(sources, plain)}
    return work, {source: out for source, out in made.items() if out.exists() and out.stat().st_size > 0}


def convert(source: Path, target: Path, to: str) -> None:
    """Convert one document with LibreOffice headless into `target`."""
    work, made = convert_many([source], to, LIBREOFFICE_TIMEOUT)
    try:
        if source not in made:
            raise DocumentError(f"LibreOffice 无法转换为 {to.upper()}，文件可能已损坏；请用 Office/WPS 打开检查后另存再提交")
        shutil.move(str(made[source]), target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
