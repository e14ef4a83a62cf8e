"""Intake: find every submission under `resources/`, read its metadata and validate it.

Each submission becomes either a `Record` or one or more refusals naming its path, the field and
the reason. Nothing here writes anywhere: `resources/` is read-only to every command.

Forms (DESIGN.md): a folder holding `meta.yml` and its files, or one Markdown file whose front
matter is the metadata. Term folders are named `学年-学期`, e.g. `2023-2024-1`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import re
import stat
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import frontmatter
import yaml

from .catalog import SAFE_LOADER, Catalog, fold
from .memo import Memo, Walk, code_fingerprint, file_signature, tree_signature
from .model import FILES_DIGEST, Attachment, Intake, Problem, Record, is_utf8_name, readable_name

TERM_PATTERN = re.compile(r"^(\d{4})-(\d{4})-([12])$")
META_NAMES = ("meta.yml", "meta.yaml")
ID_PATTERN = re.compile(r"^[\w][\w.\-]{0,79}$")
# Lists typed as one string: "张三、李四", "B2，A3", "钟表; 时间".
_LIST_SEPARATORS = re.compile(r"[,，、;；\n]+")
_NAME_SEPARATORS = re.compile(r"[,，、;；/\s]+")

# English key -> Chinese key. Either may be used in metadata.
KEYS: dict[str, str] = {
    "title": "标题",
    "type": "类型",
    "subject": "学科",
    "grade": "年级",
    "competencies": "能力点",
    "authors": "作者",
    "group": "教研组",
    "term": "学期",
    "date": "日期",
    "summary": "简介",
    "keywords": "关键词",
    "files": "文件",
    "level": "等级",
    "review": "评审意见",
    "exemplary": "优秀案例",
    "share": "公开范围",
    "id": "编号",
}
REQUIRED = ("title", "type", "subject", "grade", "competencies", "authors")
_TRUE = {"true", "yes", "y", "1", "是", "对", "优秀案例"}
_FALSE = {"false", "no", "n", "0", "否", "不是", ""}
_SHARE = {"campus": "campus", "校内": "campus", "public": "public", "公开": "public"}
_IGNORED_FILES = {"thumbs.db", "desktop.ini"}
_SHOW_ORDER = {"video": 0, "image": 1, "pdf": 2, "document": 3, "presentation": 4}


def field_label(key: str) -> str:
    """How a field is named in messages: "title（标题）"."""
    return f"{key}（{KEYS[key]}）" if key in KEYS else key


def is_term_name(name: str) -> bool:
    match = TERM_PATTERN.match(name)
    return bool(match) and int(match.group(2)) == int(match.group(1)) + 1


NOT_UTF8 = ("文件名不是 UTF-8 编码（多半是在 Windows 上打包的压缩文件解压而来），未读取；"
            "请用 7-Zip 或 unzip -O GBK 重新解压，或把它改名后重新放入")


def _skipped(name: str) -> bool:
    """Hidden files, Office lock files and OS litter are never submissions."""
    return name.startswith((".", "~$", "_")) or name.lower() in _IGNORED_FILES


@dataclass
class _Check:
    """Problems found in one submission."""

    label: str
    problems: list[Problem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # key -> column header, for registers
    memo: MetadataMemo | None = None

    def _field(self, key: str) -> str:
        if key in self.columns:
            return f"列“{self.columns[key]}”"
        return field_label(key) if key else ""

    def refuse(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.label, self._field(key), reason))

    def warn(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.label, self._field(key), reason, False))

    @property
    def refused(self) -> bool:
        return any(p.refused for p in self.problems)


# -- reading text and metadata -------------------------------------------------------------------


def decode_text(data: bytes, check: _Check, key: str) -> str | None:
    """UTF-8 (with or without BOM) as written by editors; GBK as saved by Notepad on Chinese Windows."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        check.refuse(key, "文件编码无法识别，请另存为 UTF-8 编码")
        return None
    check.warn(key, "文件按 GBK 编码读取，建议另存为 UTF-8 编码")
    return text


# What PyYAML says (in English), as a teacher can act on it; the first match is used.
_YAML_PROBLEMS = [
    ("expected ',' or ']'", "方括号列表没有正确结束（缺少“]”，或两项之间缺少英文逗号）"),
    ("expected ',' or '}'", "花括号没有正确结束（缺少“}”，或两项之间缺少英文逗号）"),
    ("mapping values are not allowed", "一行里有多余的冒号（值里有冒号时，请给整个值加上引号）"),
    ("tab character", "用了 Tab 键缩进（请改用空格）"),
    ("cannot start any token", "有不能写在开头的字符（如 Tab、@ 或 `；值以这些字符开头时请加引号）"),
    ("could not find expected ':'", "缺少冒号（每行应写成“字段: 值”，冒号后有一个空格）"),
    ("unexpected end of stream", "引号没有成对（缺少结尾的引号）"),
    ("expected '-' indicator", "列表各项应以“- ”开头，且缩进一致"),
    ("unknown escape character", "双引号里的反斜杠“\\”无法识别（请改用单引号，或去掉反斜杠）"),
    ("undefined alias", "以“*”开头的值无法识别（请给值加上引号）"),
    ("did not find expected key", "缩进不一致，或某行缺少冒号"),
    ("expected <block end>", "缩进不一致"),
    ("expected comment or line break", "引号后面还有多余的文字"),
]


def _yaml_error(error: yaml.YAMLError, what: str) -> str:
    """A YAML error in Chinese: which part of the file (`what`), which line, and what to fix."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if "flow" in str(getattr(error, "context", None) or "") and getattr(error, "context_mark", None) is not None:
        mark = error.context_mark  # type: ignore[attr-defined]  # the line that opened the unclosed [ or {, not the next one
    problem = str(getattr(error, "problem", None) or "")
    said = next((chinese for english, chinese in _YAML_PROBLEMS if english in problem), "格式不对")
    where = f"第 {mark.line + 1} 行" if mark is not None else "某处"
    return f"{what}格式错误，{where}：{said}。请检查冒号、缩进和引号"


_SAFE_LOADER = SAFE_LOADER  # libyaml (shipped in PyYAML's wheels): ten times faster than pure Python
MAX_META_BYTES = 64 * 1024  # a meta.yml or front matter is a few hundred bytes; anything near this is not one
# A field typed with a full-width colon: a line of its own at the left margin (fields are never
# indented; list items and lines of a block of text are, or start with "-"), up to its first colon.
_FULLWIDTH_KEY = re.compile(r"^([^\s:：#\-][^:：\n]*?)[ \t]*：[ \t]*", re.M)


class MetadataError(Exception):
    """Metadata that is not read at all; the message is for teachers."""


def _check_shape(text: str) -> None:
    """Refuse what would be slow or confusing to parse, before PyYAML sees it."""
    if len(text.encode("utf-8")) > MAX_META_BYTES:
        raise MetadataError(f"元数据超过 {MAX_META_BYTES // 1024} KB，不像是成果信息，请检查文件")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("\t") or re.match(r"^ +\t", line):
            raise MetadataError(f"第 {number} 行用了 Tab 缩进，YAML 只能用空格缩进")
    # Anchors and aliases (& and *) are never needed for a submission, and a chain of them (an
    # "alias bomb") expands to billions of items: refuse them before anything is constructed.
    if "*" not in text:
        return  # no alias can be written without "*"
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else 0
            raise MetadataError(f"第 {line} 行用了 YAML 别名（*），成果信息中不能使用 & 和 *")


_FULLWIDTH_WARNING = "用了中文冒号“：”，已按英文冒号“:”读取；建议改为英文冒号"


def load_metadata(text: str, check: _Check) -> Any:
    """Parse metadata safely and bounded; accept full-width colons (“标题：…”) with a warning."""
    key = Memo.key(text)
    known = check.memo.get(key) if check.memo else None
    if known is not None:
        data, colons_fixed = known
        if colons_fixed:
            check.warn("", _FULLWIDTH_WARNING)
        return data
    _check_shape(text)
    failure: yaml.YAMLError | None = None
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - the safe loader, in C
    except yaml.YAMLError as error:  # perhaps a full-width colon on some lines and not others
        data, failure = None, error
    colons_fixed = False
    if not isinstance(data, dict) and _FULLWIDTH_KEY.search(text):
        fixed = _FULLWIDTH_KEY.sub(lambda m: f"{m.group(1)}: ", text)
        _check_shape(fixed)
        try:
            repaired = yaml.load(fixed, Loader=_SAFE_LOADER)  # noqa: S506
        except yaml.YAMLError as error:  # broken otherwise too: say where, colons read as colons
            repaired, failure = None, error
        if isinstance(repaired, dict):
            data, failure, colons_fixed = repaired, None, True
            check.warn("", _FULLWIDTH_WARNING)
    if failure is not None:
        raise failure  # the lines are the teacher's: the colons were replaced in place
    if check.memo is not None:
        check.memo.put(key, (data, colons_fixed))
    return data


class MetadataMemo(Memo):
    """Parsed metadata by its text (see memo.py). Only texts that parsed are kept; refusals are
    parsed again, so their messages are always those of the current code."""

    def __init__(self, path: Path | None = None):
        super().__init__(path, f"metadata 1 yaml {yaml.__version__}")


def _fingerprint(catalog: Catalog) -> str:
    """The same for the same catalog in every process (a set's order is not)."""
    data = json.dumps(dataclasses.asdict(catalog), sort_keys=True, ensure_ascii=False,
                      default=lambda value: sorted(value) if isinstance(value, (set, frozenset)) else str(value))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class RecordMemo(Memo):
    """Accepted submissions (the record and its warnings) by the signature of what they were read
    from: a folder's every file, or a Markdown file that names no other file. An unchanged
    submission is neither read nor checked again; any change to the code or the catalog starts
    afresh."""

    def __init__(self, path: Path | None, catalog: Catalog):
        super().__init__(path, f"records 2 {code_fingerprint()} {_fingerprint(catalog)}")

    def read(self, signature: str | None, read: Callable[[], tuple[Record | None, list[Problem], bool]]) -> tuple[Record | None, list[Problem]]:
        """`read()`'s record and problems, remembered when `signature` is known and `read` says
        the result depends on nothing else."""
        key = Memo.key(signature) if signature is not None else None
        known = self.get(key) if key is not None else None
        if known is not None:
            return known
        record, problems, cacheable = read()
        # A refusal is read again next time: what it depends on (an ACL, a file system mounted
        # late) may change without the files' signatures changing, and its message stays current.
        if key is not None and cacheable and record is not None and not any(p.refused for p in problems):
            # Same files, same code and catalog: the same record. Later stages key its pages by this.
            record.digest = FILES_DIGEST + key.hex() + self.version_digest
            self.put(key, (record, problems))
        return record, problems


def parse_meta_yaml(text: str, check: _Check) -> dict[str, Any] | None:
    if not text.strip():
        check.refuse("", "meta.yml 是空文件，请填写标题、类型、学科、年级、能力点和作者")
        return None
    data = _guarded(check, lambda: load_metadata(text, check), "meta.yml ")
    if data is not None and not isinstance(data, dict):
        check.refuse("", "meta.yml 的内容应是“字段: 值”的列表，每行一个字段，如“标题: 认识钟表”")
        return None
    return data


def _guarded(check: _Check, parse: Callable[[], Any], what: str) -> Any:
    """Run a metadata parser; a failure becomes a refusal with a message for teachers."""
    try:
        return parse()
    except MetadataError as error:
        check.refuse("", str(error))
    except yaml.YAMLError as error:
        # python-frontmatter hands YAML the text from the opening "---" line on, so line numbers
        # count from the top of the file for both forms.
        check.refuse("", _yaml_error(error, what))
    except Exception as error:  # python-frontmatter wraps some errors in its own types
        check.refuse("", f"元数据无法读取：{type(error).__name__}")
    return None


class _BoundedYAMLHandler(frontmatter.YAMLHandler):
    """python-frontmatter's YAML handler, with our bounds and full-width colon tolerance."""

    def __init__(self, check: _Check):
        super().__init__()
        self.check = check

    def load(self, fm: str, **kwargs: object) -> Any:
        return load_metadata(fm, self.check)


def parse_front_matter(text: str, check: _Check) -> tuple[dict[str, Any], str] | None:
    if not text.lstrip("\ufeff").startswith("---"):
        check.refuse("", "Markdown 文件开头缺少 --- 包围的元数据（标题、类型、学科、年级、能力点、作者）")
        return None
    post = _guarded(check, lambda: frontmatter.loads(text.lstrip("\ufeff"), handler=_BoundedYAMLHandler(check)), "开头“---”之间的成果信息")
    if post is None:
        return None
    if not isinstance(post.metadata, dict) or not post.metadata:
        check.refuse("", "开头 --- 之间应是“字段: 值”的列表，如“标题: 认识钟表”")
        return None
    return dict(post.metadata), post.content


# -- normalising fields --------------------------------------------------------------------------


def _unify_keys(raw: dict[Any, Any], check: _Check) -> dict[str, Any]:
    """Map Chinese keys onto English ones; refuse a field given twice in both languages."""
    chinese = {zh: en for en, zh in KEYS.items()}
    meta: dict[str, Any] = {}
    for key, value in raw.items():
        name = fold(str(key))
        english = name.lower() if name.lower() in KEYS else chinese.get(name)
        if english is None:
            check.warn(str(key), f"未知字段“{key}”，已忽略")
            continue
        if english in meta:
            check.refuse(english, f"字段重复：同时写了 {english} 和 {KEYS[english]}，请只保留一个")
            continue
        meta[english] = value
    return meta


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "、".join(_as_text(v) for v in value)
    return str(value).strip()


def _as_list(value: Any, separators: re.Pattern[str]) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else separators.split(_as_text(value))
    return [t for t in (_as_text(v) for v in items) if t]


def _points(value: Any, catalog: Catalog, check: _Check) -> list[str]:
    codes: list[str] = []
    for item in _as_list(value, _LIST_SEPARATORS):
        code = catalog.point(item)
        if code is None:
            check.refuse(
                "competencies",
                f"未知的能力点“{catalog.point_code_guess(item)}”：应为 A1–A13、B1–B10 或 C1–C7",
            )
        elif code not in codes:
            codes.append(code)
    return codes


def _date(value: Any, check: _Check) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = fold(_as_text(value))
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            pass
    check.refuse("date", f"日期“{text}”无法识别，请写成 2023-10-12 的形式")
    return None


def _bool(value: Any, key: str, check: _Check) -> bool:
    if isinstance(value, bool):
        return value
    text = fold(_as_text(value)).lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        check.refuse(key, f"“{text}”不是是/否，请写 true 或 false")
    return False


def normalise(
    raw: dict[Any, Any], catalog: Catalog, check: _Check, term: str
) -> dict[str, Any] | None:
    """Turn metadata as typed into canonical values, or refuse. Returns the fields of a Record."""
    meta = _unify_keys(raw, check)
    for key in REQUIRED:
        if not _as_text(meta.get(key)):
            check.refuse(key, f"缺少必填字段 {field_label(key)}")

    fields: dict[str, Any] = {"term": term}
    if _as_text(meta.get("title")):
        fields["title"] = " ".join(_as_text(meta["title"]).split())
    for key, lookup, what, known in (
        ("type", catalog.resource_type, "成果类型", list(catalog.types)),
        ("subject", catalog.subject, "学科", catalog.subjects),
        ("grade", catalog.grade, "年级", catalog.grades),
    ):
        text = _as_text(meta.get(key))
        if text:
            value = lookup(text)
            if value is None:
                check.refuse(key, f"未知的{what}“{text}”，可填：{'、'.join(known)}（学校可在 catalog/curriculum.yml 中增改）")
            fields[key] = value
    if _as_text(meta.get("competencies")):
        fields["competencies"] = _points(meta["competencies"], catalog, check)
    if _as_text(meta.get("authors")):
        fields["authors"] = _as_list(meta["authors"], _NAME_SEPARATORS)

    for key in ("group", "summary", "review"):
        if _as_text(meta.get(key)):
            fields[key] = _as_text(meta[key])
    if _as_text(meta.get("keywords")):
        fields["keywords"] = _as_list(meta["keywords"], _NAME_SEPARATORS)
    if _as_text(meta.get("term")):
        given = fold(_as_text(meta["term"]))
        if not is_term_name(given):
            check.refuse("term", f"学期“{given}”格式不对，应写成 2023-2024-1 的形式")
        fields["term"] = given
    if meta.get("date") not in (None, ""):
        fields["date"] = _date(meta["date"], check)
    if _as_text(meta.get("level")):
        level = fold(_as_text(meta["level"]))
        if level not in catalog.levels:
            check.refuse("level", f"等级“{level}”应为 {' / '.join(catalog.levels)} 之一")
        fields["level"] = level
    if "exemplary" in meta:
        fields["exemplary"] = _bool(meta["exemplary"], "exemplary", check)
    if _as_text(meta.get("share")):
        share = _SHARE.get(fold(_as_text(meta["share"])).lower())
        if share is None:
            check.refuse("share", f"公开范围“{meta['share']}”应为 campus（校内）或 public（公开）")
        fields["share"] = share or "campus"
    if _as_text(meta.get("id")):
        ident = fold(_as_text(meta["id"]))
        if not ID_PATTERN.match(ident):
            check.refuse("id", f"编号“{ident}”只能包含字母、数字、汉字、-、_ 和 .，最长 80 字")
        fields["id"] = ident
    fields["files"] = meta.get("files")
    return None if check.refused else fields


# -- files ---------------------------------------------------------------------------------------

NAME_MAX_BYTES = 255  # one path segment on ext4, XFS and most other file systems; active files gain ".txt"


def _resolved(path: Path) -> Path | None:
    """Where a path leads once every link is followed; None for a link loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError on a loop
        return None


def _inside(path: Path, root: Path) -> bool:
    target, top = _resolved(path), _resolved(root)
    return target is not None and top is not None and target.is_relative_to(top)


def unreadable(path: Path) -> str | None:
    """Why `path` is not a regular file this process can read, in Chinese; None when it is one.
    Only stat, never open: opening a FIFO named like a submission would wait forever."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "是循环链接（链接指向自己或互相指向），未读取"
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return "不存在（可能是失效的链接，或在读取时被删除）"
        if error.errno == errno.EACCES:
            return "没有读取权限，请检查文件权限"
        return f"无法读取（{error.strerror}）"
    if stat.S_ISDIR(mode):
        return "是文件夹，不是文件"
    if not stat.S_ISREG(mode):
        return "不是普通文件（可能是管道、设备或套接字），未读取"
    if not os.access(path, os.R_OK):
        return "没有读取权限，请检查文件权限"
    return None


def read_file(path: Path, check: _Check, key: str = "") -> bytes | None:
    """A submission's own file (meta.yml, a Markdown file), or a refusal saying why not."""
    reason = unreadable(path)
    if reason is None:
        try:
            return path.read_bytes()
        except OSError as error:  # removed or made unreadable since the check
            reason = f"无法读取（{error.strerror or type(error).__name__}）"
    check.refuse(key, f"“{path.name}”{reason}")
    return None


def _attachment_problem(path: Path, name: str) -> str | None:
    """Why a file cannot be published as an attachment named `name`, or None."""
    reason = unreadable(path)
    if reason is not None:
        return reason
    target = _resolved(path) if path.is_symlink() else path
    if target is not None and target.name.lower() in META_NAMES:
        return "是成果信息文件（meta.yml），含等级、评审意见等内部信息，不能作为附件发布"
    published = Attachment(path, name, 0).published_name
    for part in PurePosixPath(published).parts:
        if len(part.encode("utf-8")) > NAME_MAX_BYTES:
            return f"文件名过长（发布时 {len(part.encode('utf-8'))} 字节，上限 {NAME_MAX_BYTES} 字节，约 85 个汉字），请改短文件名"
    return None


def _attachment(path: Path, name: str, check: _Check) -> Attachment | None:
    reason = _attachment_problem(path, name)
    if reason is None:
        try:
            return Attachment(path, name, path.stat().st_size)
        except OSError as error:
            reason = f"无法读取（{error.strerror or type(error).__name__}）"
    check.refuse("files", f"文件“{name}”{reason}")
    return None


@dataclass
class TermFiles:
    """What a loose submission (a Markdown file or a register row) may name in its term folder:
    a file belongs to exactly one submission. Never a file in another submission's folder, a
    meta.yml, a register or another Markdown submission (the roster and other terms lie outside
    the term folder, where nothing may be named). A loose file named by two loose submissions
    belongs to the first that was published (registers first, then Markdown files in name order);
    the second is refused, naming the first."""

    folder: Path
    top: Path | None  # the folder, resolved
    registers: set[Path] = field(default_factory=set)  # resolved
    owners: dict[Path, str] = field(default_factory=dict)  # resolved file -> submission that named it

    @classmethod
    def of(cls, folder: Path, registers: set[Path] | None = None) -> TermFiles:
        return cls(folder, _resolved(folder), {r for r in map(_resolved, registers or set()) if r is not None})

    def refusal(self, path: Path, source: Path, label: str) -> str | None:
        """Why the submission at `source` (labelled `label`) may not publish `path`, or None."""
        target, top = _resolved(path), self.top
        if target is None or top is None or not target.is_relative_to(top):
            return None  # refused elsewhere (a loop, or a link out of the term folder)
        if target in self.registers:
            return "是成果登记表，不能作为附件发布"
        parts = target.relative_to(top).parts
        holder = self.folder / parts[0]
        if len(parts) > 1 and any(os.path.lexists(holder / n) for n in META_NAMES):
            return f"在成果文件夹“{parts[0]}”里，属于那份成果；一个文件只能属于一份成果，请把文件复制到本成果名下"
        if len(parts) == 1 and target.suffix.lower() in _MARKDOWN and target != _resolved(source):
            return "是另一份 Markdown 成果，不能作为附件发布"
        owner = self.owners.get(target)
        if owner is not None and owner != label:
            return f"已被 {owner} 列出；一个文件只能属于一份成果，请把文件复制一份并改名后再列出"
        return None

    def claim(self, record: Record) -> None:
        for attachment in record.attachments:
            target = _resolved(attachment.source)
            if target is not None:
                self.owners.setdefault(target, record.source_label)


_MARKDOWN = (".md", ".markdown")


def listed_files(folder: Path, listed: Any, check: _Check, exclude: set[str], separators: re.Pattern[str] = _LIST_SEPARATORS,
                 term: TermFiles | None = None, source: Path | None = None) -> list[Attachment]:
    """The files a submission names in `files`, each confined to its own folder. A loose
    submission (`term` given) also only names files no other submission holds (TermFiles)."""
    attachments: list[Attachment] = []
    for entry in _as_list(listed, separators):
        relative = entry.replace("\\", "/")
        pure = PurePosixPath(relative)
        if pure.is_absolute() or re.match(r"^[A-Za-z]:", relative):
            check.refuse("files", f"文件“{entry}”是绝对路径；只能引用成果文件夹内的文件")
            continue
        if ".." in pure.parts:
            check.refuse("files", f"文件“{entry}”指向成果文件夹之外（含 ..）")
            continue
        path = folder / pure
        if path.is_symlink() and _resolved(path) is None:
            check.refuse("files", f"文件“{entry}”是循环链接（链接指向自己或互相指向），未读取")
            continue
        if not _inside(path, folder):  # ".." was refused above, so only a link can lead out
            check.refuse("files", f"文件“{entry}”是指向成果文件夹之外的链接")
            continue
        if not os.path.lexists(path):
            check.refuse("files", f"列出的文件“{entry}”不存在")
            continue
        name = pure.as_posix()
        if name in exclude:
            continue
        taken = term.refusal(path, source or folder, check.label) if term is not None else None
        if taken is not None:
            check.refuse("files", f"文件“{entry}”{taken}")
            continue
        attachment = _attachment(path, name, check)
        if attachment is not None:
            attachments.append(attachment)
    return attachments


def folder_files(folder: Path, check: _Check) -> list[Attachment]:
    """Every file in a submission folder (sub-folders included), refusing links that leave it."""
    attachments: list[Attachment] = []
    for current, dirs, files in os.walk(folder, followlinks=False, onerror=lambda error: _unlisted(error, folder, check)):
        here = Path(current)
        for name in list(dirs):
            if _skipped(name):
                dirs.remove(name)
            elif (here / name).is_symlink():
                dirs.remove(name)
                if not _inside(here / name, folder):
                    rel = (here / name).relative_to(folder).as_posix()
                    check.refuse("files", f"“{rel}”是指向成果文件夹之外的链接")
        dirs.sort()
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if _skipped(name) or rel in META_NAMES:
                continue
            if not is_utf8_name(rel):
                check.refuse("files", f"“{readable_name(rel)}”的{NOT_UTF8}")
                continue
            if path.is_symlink() and _resolved(path) is not None and not _inside(path, folder):
                check.refuse("files", f"“{rel}”是指向成果文件夹之外的链接")
                continue
            attachment = _attachment(path, rel, check)
            if attachment is not None:
                attachments.append(attachment)
    # With no explicit list, what a visitor wants first comes first: videos, then images, documents.
    return sorted(attachments, key=lambda a: (_SHOW_ORDER.get(a.kind, len(_SHOW_ORDER)), a.name))


def _unlisted(error: OSError, folder: Path, check: _Check) -> None:
    """A sub-folder os.walk could not list (no permission): its files would vanish silently."""
    where = Path(error.filename or folder)
    rel = where.relative_to(folder).as_posix() if where != folder and where.is_relative_to(folder) else "."
    check.refuse("files", f"文件夹“{rel}”无法读取（{error.strerror or type(error).__name__}），请检查文件权限")


# -- the two submission forms --------------------------------------------------------------------


def _record(
    fields: dict[str, Any], source: Path, label: str, attachments: list[Attachment], body: str | None
) -> Record:
    fields.pop("files", None)  # already turned into attachments
    return Record(
        id=fields.pop("id"),
        source=source,
        source_label=label,
        attachments=attachments,
        body_markdown=body,
        **fields,
    )


def default_id(term: str, stem: str) -> str:
    slug = re.sub(r"[^\w.\-]+", "-", fold(stem)).strip("-.") or "x"
    return f"{term}-{slug}"[:80]


def read_folder(folder: Path, term: str, label: str, catalog: Catalog, memo: MetadataMemo | None = None) -> tuple[Record | None, list[Problem]]:
    check = _Check(label, memo=memo)
    if not os.access(folder, os.R_OK | os.X_OK):
        check.refuse("", "文件夹无法读取（没有权限），请检查文件夹权限")
        return None, check.problems
    meta_path = next((folder / n for n in META_NAMES if os.path.lexists(folder / n)), None)
    if meta_path is None:
        near = next((n for n in ("meta.yml.txt", "meta.yaml.txt", "meta.txt", "Meta.yml", "META.yml", "meta.yml.yml") if os.path.lexists(folder / n)), None)
        hint = f"。文件夹里有“{near}”：请把它改名为 meta.yml（Windows 记事本保存时常会加上 .txt，可在“文件夹选项”中显示扩展名后修改）" if near else ""
        check.refuse("", f"文件夹里没有 meta.yml，无法知道这份成果的标题、学科等信息{hint}")
        return None, check.problems
    if meta_path.is_symlink() and _resolved(meta_path) is not None and not _inside(meta_path, folder):
        check.refuse("", "meta.yml 是指向成果文件夹之外的链接")
        return None, check.problems
    data = read_file(meta_path, check)
    text = decode_text(data, check, "") if data is not None else None
    raw = parse_meta_yaml(text, check) if text is not None else None
    fields = normalise(raw, catalog, check, term) if raw is not None else None
    if fields is None:
        return None, check.problems
    fields.setdefault("id", default_id(term, folder.name))
    if fields.get("files") not in (None, "", []):
        attachments = listed_files(folder, fields["files"], check, set(META_NAMES))
    else:
        attachments = folder_files(folder, check)
    if check.refused:
        return None, check.problems
    return _record(fields, folder, label, attachments, None), check.problems


def read_markdown(path: Path, term: str, label: str, catalog: Catalog, memo: MetadataMemo | None = None,
                  files: TermFiles | None = None) -> tuple[Record | None, list[Problem]]:
    record, problems, _ = _read_markdown(path, term, label, catalog, memo, files)
    return record, problems


def _read_markdown(path: Path, term: str, label: str, catalog: Catalog, memo: MetadataMemo | None,
                   files: TermFiles | None) -> tuple[Record | None, list[Problem], bool]:
    """(record, problems, whether they depend on the file's bytes alone: not when it names files)."""
    check = _Check(label, memo=memo)
    data = read_file(path, check)
    text = decode_text(data, check, "") if data is not None else None
    parsed = parse_front_matter(text, check) if text is not None else None
    if parsed is None:
        return None, check.problems, data is not None
    raw, body = parsed
    fields = normalise(raw, catalog, check, term)
    if fields is None:
        return None, check.problems, True
    fields.setdefault("id", default_id(term, path.stem))
    attachments: list[Attachment] = []
    names_files = fields.get("files") not in (None, "", [])
    if names_files:
        # A single-file submission may name files lying beside it, never outside its term folder,
        # and never a file that belongs to another submission.
        owned = files if files is not None else TermFiles.of(path.parent)
        attachments = listed_files(path.parent, fields["files"], check, {path.name}, term=owned, source=path)
    if check.refused:
        return None, check.problems, not names_files
    return _record(fields, path, label, attachments, body), check.problems, not names_files


# -- form 3: rows of a register spreadsheet ------------------------------------------------------

# File names may contain commas; registers separate files with semicolons or 、 only.
_FILE_SEPARATORS = re.compile(r"[;；、\n]+")


@dataclass
class RegisterResult:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    found: int = 0
    claimed: set[Path] = field(default_factory=set)


@dataclass
class _Register:
    """A spreadsheet that holds a register: its sheets with their header, or why it is unreadable."""

    path: Path
    sheets: list[tuple[Any, tuple[int, dict[int, str], dict[str, str]]]] = field(default_factory=list)
    error: str | None = None


def _open_register(path: Path) -> _Register | None:
    """The register in a spreadsheet; None when the spreadsheet is not one (a loose file)."""
    from .register import REGISTER_COLUMNS, TableError, find_header, read_tables

    try:
        tables = read_tables(path)
    except TableError as error:
        return _Register(path, error=str(error))
    sheets = [(table, header) for table in tables if (header := find_header(table, REGISTER_COLUMNS, ("title", "authors"))) is not None]
    return _Register(path, sheets) if sheets else None


def _register_rows(register: _Register, term: str, catalog: Catalog, files: TermFiles) -> RegisterResult:
    """Each data row of a register is one submission."""
    from .register import cell_text

    path = register.path
    result = RegisterResult()
    label = f"{term}/{path.name}"
    if register.error is not None:
        result.problems.append(Problem(label, "", register.error))
        result.found = 1
        return result
    for table, (start, mapping, written) in register.sheets:
        where = f"{label}［{table.name}］" if table.name and len(register.sheets) > 1 else label
        for number, row in enumerate(table.rows[start + 1 :], start=start + 2):
            raw = {key: row[i] for i, key in mapping.items() if i < len(row) and cell_text(row[i]) != ""}
            if not raw:
                continue  # blank rows between entries
            result.found += 1
            check = _Check(f"{where} 第 {number} 行", columns=written)
            fields = normalise(raw, catalog, check, term)
            if fields is not None:
                fields.setdefault("id", default_id(term, f"{path.stem}-{number}"))
                attachments = listed_files(path.parent, fields.get("files"), check, set(), _FILE_SEPARATORS, files, path)
                if not check.refused:
                    record = _record(fields, path, check.label, attachments, None)
                    result.records.append(record)
                    files.claim(record)
                    result.claimed.update(r for a in attachments if (r := _resolved(a.source)) is not None)
            result.problems.extend(check.problems)
    return result


def read_register(path: Path, term: str, catalog: Catalog) -> RegisterResult | None:
    """Each data row of a register is one submission; None if the file is not a register."""
    register = _open_register(path)
    if register is None:
        return None
    return _register_rows(register, term, catalog, TermFiles.of(path.parent, {path}))


# -- the whole tree ------------------------------------------------------------------------------


def _refuse_duplicates(records: list[Record], problems: list[Problem]) -> list[Record]:
    """Two submissions claiming one id are both refused, each naming the other: an admin decides."""
    by_id: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_id[record.id.lower()].append(record)
    kept: list[Record] = []
    for record in records:
        twins = by_id[record.id.lower()]
        if len(twins) == 1:
            kept.append(record)
            continue
        others = "、".join(t.source_label for t in twins if t is not record)
        problems.append(
            Problem(record.source_label, field_label("id"), f"编号“{record.id}”与 {others} 重复，两份都未发布，请管理员改正其中一份的编号")
        )
    return kept


def _spreadsheets(term_dir: Path) -> list[Path]:
    """The term's spreadsheets that may be registers: whatever inside the term folder is named
    like one and is not a folder. One that cannot be read (a FIFO, no permission) is refused by
    read_tables: it may well be the term's register."""
    return [p for p in _entries(term_dir) if p.suffix.lower() in (".xlsx", ".csv") and not _skipped(p.name) and _inside(p, term_dir) and not p.is_dir()]


def scan(resources: Path, catalog: Catalog, memo: MetadataMemo | None = None, remembered: RecordMemo | None = None,
         walked: Walk | None = None) -> Intake:
    """Read every submission under `resources/`, in a stable order; `memo` remembers parsed
    metadata between builds, `remembered` whole submissions, each by its files' signature (from
    `walked`, a walk of `resources` just taken, when given)."""
    tree, file = (walked.tree, walked.file) if walked is not None else (tree_signature, file_signature)
    remembered = remembered or RecordMemo(None, catalog)
    records: list[Record] = []
    problems: list[Problem] = []
    found = 0
    all_registers: set[Path] = set()
    listings: dict[Path, list[tuple[Path, str, bool, bool]]] = {}  # term folder -> its entries, for _warn_unclaimed
    if not resources.is_dir():
        return Intake(records, problems, found)
    for term_dir in sorted(resources.iterdir()):
        if _skipped(term_dir.name) or _is_roster(term_dir):
            continue
        if not term_dir.is_dir() or not is_term_name(term_dir.name):
            found += 1
            problems.append(Problem(term_dir.name, "", "resources/ 下只能放学期文件夹，名称如 2023-2024-1（学年-学期）"))
            continue
        term = term_dir.name
        if not os.access(term_dir, os.R_OK | os.X_OK):
            found += 1
            problems.append(Problem(term, "", "学期文件夹无法读取（没有权限），请检查文件夹权限"))
            continue
        claimed: set[Path] = set()
        opened = [r for r in map(_open_register, _spreadsheets(term_dir)) if r is not None]
        registers = {r.path for r in opened}  # known before any row is read: no row may name one
        all_registers |= registers
        files = TermFiles.of(term_dir, registers)
        for register in opened:
            result = _register_rows(register, term, catalog, files)
            found += result.found
            records.extend(result.records)
            problems.extend(result.problems)
            claimed |= result.claimed
        listings[term_dir] = listing = _listing(term_dir)
        for entry, name, is_dir, is_link in listing:
            if _skipped(name) or entry in registers:
                continue
            label = f"{term}/{name}"
            markdown = _suffix(name) in _MARKDOWN
            if not is_utf8_name(name) and (is_dir or markdown):
                found += 1
                problems.append(Problem(label, "", NOT_UTF8))
                continue
            if claimed and is_dir and not any(os.path.lexists(entry / n) for n in META_NAMES) and _all_claimed(entry, claimed):
                continue  # a folder of files that a register lists
            if is_link and (_resolved(entry) is None or not _inside(entry, term_dir)):
                found += 1
                reason = "是循环链接（链接指向自己或互相指向），未读取" if _resolved(entry) is None else "是指向学期文件夹之外的链接，未读取"
                problems.append(Problem(label, "", reason))
                continue
            if is_dir:
                found += 1
                folder = entry
                record, found_problems = remembered.read(tree(folder), lambda: (*read_folder(folder, term, label, catalog, memo), True))
            elif markdown:
                found += 1
                path = entry
                record, found_problems = remembered.read(file(path), lambda: _read_markdown(path, term, label, catalog, memo, files))
                if record is not None:
                    files.claim(record)
            else:
                continue  # files beside Markdown submissions; registers are read by their own stage
            problems.extend(found_problems)
            if record is not None:
                records.append(record)
    records = _refuse_duplicates(records, problems)
    _warn_unclaimed(resources, records, all_registers, problems, listings)
    return Intake(records, problems, found)


def _entries(folder: Path) -> list[Path]:
    """A folder's entries in name order (comparing names is much cheaper than comparing Paths)."""
    return sorted(folder.iterdir(), key=lambda entry: entry.name)


def _suffix(name: str) -> str:
    """`Path(name).suffix`, lower case, from the name alone (10,000 entries a build)."""
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def _listing(folder: Path) -> list[tuple[Path, str, bool, bool]]:
    """A folder's entries in name order, each with whether it is a folder (following a link, as
    Path.is_dir does) and whether it is a link: the kinds the listing already knows, so a term
    folder of 10,000 submissions is not asked about each one again."""
    found: list[tuple[Path, str, bool, bool]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            found.append((folder / entry.name, entry.name, is_dir, entry.is_symlink()))
    found.sort(key=lambda item: item[1])
    return found


def _is_roster(path: Path) -> bool:
    from .register import find_roster

    return path.is_file() and find_roster(path.parent) == path


def _all_claimed(folder: Path, claimed: set[Path]) -> bool:
    files = [p for p in folder.rglob("*") if p.is_file() and not _skipped(p.name)]
    return bool(files) and all(_resolved(p) in claimed for p in files)


def _warn_unclaimed(resources: Path, records: list[Record], registers: set[Path], problems: list[Problem],
                    listings: dict[Path, list[tuple[Path, str, bool, bool]]] | None = None) -> None:
    """Loose files in a term folder that no submission names would silently vanish: say so, and
    say why a loose file that is not a regular file (a FIFO, a broken link) was not read."""
    claimed: set[Path] | None = None  # what the submissions publish, resolved: only once a loose file needs it
    for term_dir in sorted(p for p in resources.iterdir() if p.is_dir() and is_term_name(p.name) and os.access(p, os.R_OK | os.X_OK)):
        top = term_dir.resolve()
        for entry, name, is_dir, _ in (listings or {}).get(term_dir) or _listing(term_dir):
            if _skipped(name) or is_dir or _suffix(name) in _MARKDOWN or entry in registers:
                continue
            target = _resolved(entry)
            if target is None or not target.is_relative_to(top):
                continue  # a loop or a link out: refused by scan
            reason = unreadable(entry)
            if claimed is None and reason is None:
                claimed = _published_files(records)
            if reason is not None:
                problems.append(Problem(f"{term_dir.name}/{entry.name}", "", f"这个文件{reason}", False))
            elif claimed is not None and target not in claimed:
                problems.append(
                    Problem(f"{term_dir.name}/{entry.name}", "", "这个文件不属于任何成果（没有 Markdown 成果在“文件”中列出它），未发布", False)
                )


def _published_files(records: list[Record]) -> set[Path]:
    """Every attachment's file with its links followed. A file that is not itself a link is where
    its folder leads, plus its name: each folder is resolved once, not each of 10,000 files."""
    folders: dict[Path, Path | None] = {}
    found: set[Path] = set()
    for record in records:
        for attachment in record.attachments:
            source = attachment.source
            if os.path.islink(source):
                target = _resolved(source)
            else:
                if source.parent not in folders:
                    folders[source.parent] = _resolved(source.parent)
                parent = folders[source.parent]
                target = parent / source.name if parent is not None else None
            if target is not None:
                found.add(target)
    return found
