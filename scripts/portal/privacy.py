"""Personal-data guard for everything that leaves the campus: mainland ID numbers (with a valid
check digit), mobile numbers and e-mail addresses. A case containing one is held back, and the
report says where it was found, with the number masked so the report does not spread it.

Text is folded before matching, so a number cannot hide in another spelling of its characters:
full-width digits and letters (１３８…, ＠), invisible characters between them, HTML character
references (&#49;) and percent-encoding (tel:%31…) all read as the plain number."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_ID = re.compile(r"(?<![0-9])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_number(text: str) -> bool:
    """GB 11643: the 18th character is a checksum of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(text[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == text[17].upper()


def mask(text: str) -> str:
    if "@" in text:
        name, _, domain = text.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = re.sub(r"\D", "", text)
    if len(digits) == 13 and digits.startswith("86"):  # +86 before a mobile number
        digits = digits[2:]
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) > 7 else "****"


@dataclass(frozen=True)
class Finding:
    kind: str  # 身份证号 / 手机号 / 电子邮箱
    where: str  # the field or file it was found in
    masked: str


_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff]")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def fold(text: str) -> str:
    """The text as a reader sees it: compatibility forms folded (NFKC), invisible characters gone."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def readings(text: str) -> list[str]:
    """The text, and the text with character references and percent-encoding decoded (a link
    target or an attribute in a teacher's Markdown), each folded."""
    variants = [text]
    if "&" in text:
        variants.append(html.unescape(text))
    if _PERCENT.search(text):
        from urllib.parse import unquote

        variants.append(unquote(html.unescape(text)))
    return list(dict.fromkeys(fold(v) for v in variants))


def scan_text(text: str, where: str) -> list[Finding]:
    found: list[Finding] = []
    for reading in readings(text):
        for finding in _scan_reading(reading, where):
            if finding not in found:
                found.append(finding)
    return found


def _scan_reading(text: str, where: str) -> list[Finding]:
    found: list[Finding] = []
    for match in _ID.finditer(text):
        if valid_id_number(match.group(0)):
            found.append(Finding("身份证号", where, mask(match.group(0))))
    for match in _MOBILE.finditer(text):
        found.append(Finding("手机号", where, mask(match.group(0))))
    for match in _EMAIL.finditer(text):
        found.append(Finding("电子邮箱", where, mask(match.group(0))))
    return found


def scan(parts: Iterable[tuple[str, str]]) -> list[Finding]:
    """Every (where, text) pair that would be published; a number found in several places (a
    file and its preview) is reported where it was found first."""
    found: dict[tuple[str, str], Finding] = {}
    for where, text in parts:
        for finding in scan_text(text, where) if text else []:
            found.setdefault((finding.kind, finding.masked), finding)
    return list(found.values())
