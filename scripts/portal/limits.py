"""Bounds on what a teacher's or an admin's file may make the build inflate or compute, checked
before any parser sees the file: one small file must not fill the memory or stop the build.

- Office files (.docx, .pptx, .xlsx) are zip packages: a few kilobytes can declare gigabytes of
  XML. `package_problem` reads only the zip's central directory (member count, declared sizes,
  compression ratios); Python's zipfile never inflates a member past its declared size, so what
  the parsers are then given is bounded.
- Registers: rows and columns read from a sheet (`MAX_ROWS`, `MAX_COLUMNS`).
- Markdown: unmatched brackets make Python-Markdown's link parser quadratic (10,000 "[" took
  90 s); `bracket_work` estimates that work in one pass.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

MAX_MEMBERS = 10_000  # a 300-slide deck has about 2,000 parts
MAX_XML_BYTES = 64 * 1024 * 1024  # one XML part; a 300-page thesis's document.xml is about 20 MB
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # everything a package holds, once inflated
MAX_RATIO = 200  # Office XML compresses 5-30 times; deflate bombs reach 1,000
RATIO_FROM_BYTES = 2 * 1024 * 1024  # small parts may compress as they like
_XML_SUFFIXES = (".xml", ".rels", ".vml")

MAX_ROWS = 20_000  # rows of one register or roster sheet; a school's register has hundreds
MAX_COLUMNS = 100  # columns read from a sheet; a register has about twenty
MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_CELL_BYTES = 128 * 1024  # one CSV field: Python's csv.field_size_limit() default, named in messages

MAX_BRACKET_WORK = 1_000_000  # characters Python-Markdown's link parser may scan in one body (about 1 s)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB"


def package_problem(path: Path) -> str | None:
    """Why an Office package (a zip) is too big to open once inflated, in Chinese; None when it
    is within bounds or not a zip at all (the parser then says what is wrong with it)."""
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if len(members) > MAX_MEMBERS:
        return f"文件里有 {len(members)} 个部件（上限 {MAX_MEMBERS}），解压后过大，未读取；请另存后再提交"
    total = 0
    for member in members:
        size = member.file_size
        total += size
        if member.filename.lower().endswith(_XML_SUFFIXES) and size > MAX_XML_BYTES:
            return f"文件中的“{member.filename}”解压后有 {_megabytes(size)}（上限 {_megabytes(MAX_XML_BYTES)}），未读取；请另存后再提交"
        if size > RATIO_FROM_BYTES and size > MAX_RATIO * max(member.compress_size, 1):
            return f"文件中的“{member.filename}”压缩比异常（解压后 {_megabytes(size)}，是压缩时的 {size // max(member.compress_size, 1)} 倍），可能是“压缩炸弹”，未读取"
    if total > MAX_TOTAL_BYTES:
        return f"文件解压后共 {_megabytes(total)}（上限 {_megabytes(MAX_TOTAL_BYTES)}），未读取；请压缩图片或另存后再提交"
    return None


_BRACKETS = re.compile(r"[\[\]()]")
_BLOCKS = re.compile(r"\n[ \t]*\n")


def bracket_work(text: str) -> int:
    """About how many characters Python-Markdown's link parser scans: from each "[" (and each "("
    right after "]") to its match, or to the end of its paragraph when there is none."""
    work = 0
    for block in _BLOCKS.split(text):
        squares: list[int] = []
        rounds: list[int] = []
        previous = ""
        for match in _BRACKETS.finditer(block):
            char, at = match.group(), match.start()
            if char == "[":
                squares.append(at)
            elif char == "]" and squares:
                work += at - squares.pop()
            elif char == "(" and previous == "]" and block[at - 1] == "]":
                rounds.append(at)
            elif char == ")" and rounds:
                work += at - rounds.pop()
            previous = char
        work += sum(len(block) - at for at in squares + rounds)
    return work


def markdown_problem(text: str) -> str | None:
    """Why a Markdown body would take too long to lay out, in Chinese; None when it will not."""
    if bracket_work(text) > MAX_BRACKET_WORK:
        return "正文含有大量未配对或层层嵌套的方括号“[”，无法在合理时间内按 Markdown 排版，已按纯文本显示"
    return None
