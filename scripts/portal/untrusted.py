"""Input from outside the school: other schools' showcase catalogs now, county exports next.

Nothing read here is trusted. A file name becomes a path only if it is a plain relative name
inside its own folder (no `..`, no absolute or drive paths, no backslashes, no control
characters, no empty or over-long parts), and the file is opened only if no part of the way to
it is a link and it is a regular file. JSON is read only from a regular file of bounded size,
and its nesting depth is bounded, so a hostile catalog can neither write anywhere, read anywhere,
nor stop the build.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any

MAX_JSON_BYTES = 64 * 1024 * 1024  # a showcase catalog of 25,000 cases is about 30 MB
MAX_DEPTH = 32  # a catalog nests five levels deep
MAX_NAME_BYTES = 200  # a path part; leaves room for the ".txt" a published name may gain
MAX_PARTS = 8


class Untrusted(ValueError):
    """Input from outside refused; the message (Chinese) says why."""


def plain_name(name: object) -> str:
    """`name` as a safe relative POSIX path, or `Untrusted` saying what is wrong with it."""
    if not isinstance(name, str) or not name.strip():
        raise Untrusted("文件名为空或不是文字")
    text = unicodedata.normalize("NFC", name)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise Untrusted("文件名含控制字符")
    if "\\" in text or (len(text) > 1 and text[1] == ":"):
        raise Untrusted("文件名含反斜杠或盘符")
    pure = PurePosixPath(text)
    if pure.is_absolute():
        raise Untrusted("文件名是绝对路径")
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise Untrusted("文件名含“..”、“.”或空的路径部分")
    if len(parts) > MAX_PARTS or any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in parts):
        raise Untrusted("文件名过长或层级过深")
    if any(part.startswith(".") for part in parts):
        raise Untrusted("文件名以“.”开头（隐藏文件）")
    return "/".join(parts)


def regular_file_inside(folder: Path, name: str) -> Path:
    """The regular file `folder/name` (`name` from `plain_name`), reached without following any
    link: neither the folder, nor a folder on the way, nor the file may be a link."""
    path, info = folder, None
    for part in name.split("/"):
        path = path / part
        try:
            info = os.lstat(path)
        except OSError as error:
            raise Untrusted("文件不存在或无法读取") from error
        if stat.S_ISLNK(info.st_mode):
            raise Untrusted("文件或其所在文件夹是链接")
    if info is None or not stat.S_ISREG(info.st_mode):
        raise Untrusted("不是普通文件")
    return path


def is_plain_folder(path: Path) -> bool:
    """A real folder, not a link to one (a link could lead anywhere, e.g. to the roster)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, without recursion (so it cannot overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON document from a regular file (not a link, FIFO or device) of at most `max_bytes`."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise Untrusted("找不到文件或无法读取") from error
    if not stat.S_ISREG(info.st_mode):
        raise Untrusted("不是普通文件（可能是链接或特殊文件）")
    if info.st_size > max_bytes:
        raise Untrusted(f"文件超过 {max_bytes // (1024 * 1024)} MB")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        raise Untrusted("无法读取") from error
    if len(raw) > max_bytes:
        raise Untrusted(f"文件超过 {max_bytes // (1024 * 1024)} MB")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise Untrusted("不是 UTF-8 编码的 JSON") from error
    except RecursionError as error:  # the C decoder guards its recursion: deep nesting ends here
        raise Untrusted(f"JSON 嵌套超过 {MAX_DEPTH} 层") from error
    except ValueError as error:
        raise Untrusted(f"JSON 格式错误（{str(error)[:80]}）") from error
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise Untrusted(f"JSON 嵌套超过 {MAX_DEPTH} 层")
    return data

