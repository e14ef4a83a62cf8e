"""Cleaned copies of teachers' files for everything that leaves the campus (the showcase, the
county export), and every text such a copy still holds, for the personal-data guard.

What a file carries besides what its reader sees is removed: document properties (author, last
modified by, company, template path), comments and their authors, tracked changes (deletions
dropped, insertions kept), PowerPoint speaker notes, Excel comments and revision logs; EXIF, XMP
and text chunks of photos (a photo keeps only its orientation); the Info dictionary, XMP,
annotations, attachments, scripts and form data of PDFs, and the metadata of photos inside them;
the tags, chapters and subtitle streams of videos and audio (a stream copy, nothing re-encoded).
What remains is content, and `published_text` reads all of it, headers, footers, text boxes,
grouped shapes, hidden slides and sheets, link targets included, for `privacy.scan`.

A file this module cannot clean (an archive, an unknown format) is not published: `kind_of`
returns None and the caller holds the case back. Legacy Office files (.doc, .wps, .ppt) are
converted to .docx/.pptx first and only the cleaned conversion is published.

API: `clean(source, suffix, target)` writes a cleaned copy; `published_text(path, suffix)`
returns what is readable in a file; `clean_cached` and `text_cached` do the same once per
content (SHA-256) through the artefact cache.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import documents, video
from .extract import VERSIONS, ArtefactError, Cache
from .forks import isolated
from .model import IMAGE_EXTENSIONS, decode_plain

# Cleaned copies and their texts are artefacts like previews and posters (see extract.Cache):
# bump these when what they hold changes, so copies made by older code are not reused.
VERSIONS.setdefault("scrubbed", "1")
VERSIONS.setdefault("published-text", "1")

OFFICE_SUFFIXES = {".docx", ".pptx", ".ppsx", ".xlsx"}
AUDIO_SUFFIXES = {".mp3", ".m4a", ".aac", ".wav", ".ogg", ".oga", ".flac", ".wma"}
MEDIA_SUFFIXES = set(video.VIDEO_SUFFIXES) | AUDIO_SUFFIXES
TEXT_SUFFIXES = {".txt", ".srt", ".vtt", ".md", ".markdown", ".csv", ".tsv", ".json", ".html", ".htm", ".xhtml", ".shtml",
                 ".xml", ".svg", ".js", ".mjs", ".css"}
TIMEOUT = 3600.0  # a stream copy of a long lesson recording on a slow disk
MAX_XML_PART = 64 * 1024 * 1024  # bytes one XML part of an Office file may inflate to
MAX_PACKAGE = 2048 * 1024 * 1024  # and all parts together (slides may embed videos)


class ScrubError(ArtefactError):
    """A file could not be cleaned or read; the message says why, in Chinese."""


def kind_of(suffix: str) -> str | None:
    """How a file is cleaned ("office", "pdf", "image", "media", "text", "legacy"), or None when
    this module cannot clean it and it must not leave the campus."""
    suffix = suffix.lower()
    if suffix in OFFICE_SUFFIXES:
        return "office"
    if suffix == ".pdf":
        return "pdf"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in MEDIA_SUFFIXES:
        return "media"
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in documents.LEGACY_TO_MODERN:
        return "legacy"
    return None


def unsupported_reason(suffix: str) -> str:
    return f"{suffix or '无扩展名'} 文件无法检查和清除其中的个人信息，不能对外公开"


UNSUPPORTED_ADVICE = "请改为 PDF、Word、PowerPoint、Excel、图片或视频后重新提交"


# -- Office Open XML (.docx .pptx .xlsx) ---------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Parts dropped whole: properties, thumbnails of the first page, comments and who wrote them,
# Excel's revision logs. Relationships to them and their content types go with them.
_DROPPED_PARTS = re.compile(
    r"^(docProps/(core|app|custom)\.xml|docProps/thumbnail\.\w+"
    r"|word/(comments\w*|people)\.xml"
    r"|ppt/comments/.*|ppt/(commentAuthors|authors)\.xml"
    r"|xl/comments\d*\.xml|xl/threadedComments/.*|xl/persons/.*|xl/revisions/.*)$",
    re.IGNORECASE,
)
# The same parts found by how the package refers to them, wherever a tool chose to put them.
_DROPPED_RELATIONSHIPS = {
    "core-properties", "extended-properties", "custom-properties", "thumbnail", "comments", "commentAuthors",
    "authors", "commentsExtended", "commentsIds", "commentsExtensible", "people", "threadedComment", "person",
    "revisionHeaders", "usernames",
}
_NOTES_PART = re.compile(r"^ppt/notesSlides/[^/]+\.xml$", re.IGNORECASE)
# Word elements removed with their content: deleted and moved-away text, the record of earlier
# formatting, comment anchors, the template's path on the teacher's PC, document variables.
_W_REMOVED = {f"{W}{name}" for name in (
    "del", "moveFrom", "delText", "delInstrText", "rPrChange", "pPrChange", "sectPrChange", "tblPrChange",
    "tblGridChange", "trPrChange", "tcPrChange", "numberingChange", "cellDel", "cellIns", "cellMerge",
    "commentRangeStart", "commentRangeEnd", "commentReference", "moveFromRangeStart", "moveFromRangeEnd",
    "moveToRangeStart", "moveToRangeEnd", "customXmlDelRangeStart", "customXmlDelRangeEnd",
    "customXmlMoveFromRangeStart", "customXmlMoveFromRangeEnd", "attachedTemplate", "docVars", "trackRevisions",
)}
_W_UNWRAPPED = {f"{W}ins", f"{W}moveTo"}  # inserted text stays, without who inserted it
# Elsewhere: Excel's path of the workbook on the teacher's PC, the shared-workbook user, and
# the anchors of the comments dropped above.
_REMOVED_ANYWHERE = {"absPath", "fileSharing", "legacyDrawing"}
_RELS_DROPPED_TYPES = ("/attachedTemplate",)


def _parser() -> Any:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=False)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The parts, refused before inflating anything when they would grow too large."""
    infos = archive.infolist()
    xml = [i for i in infos if i.filename.endswith((".xml", ".rels", ".vml"))]
    if any(i.file_size > MAX_XML_PART for i in xml) or sum(i.file_size for i in infos) > MAX_PACKAGE:
        raise ScrubError("文件解压后过大，可能是恶意构造的压缩包")
    return infos


def _rels_source(rels_name: str) -> str:
    """"word/_rels/document.xml.rels" -> the folder its relative targets start from ("word")."""
    folder = posixpath.dirname(posixpath.dirname(rels_name))
    return folder


def _target(rels_name: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(_rels_source(rels_name), target))


def _remove(element: Any) -> None:
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _unwrap(element: Any) -> None:
    """Put an element's children in its place (keeping the text that follows it)."""
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    for offset, child in enumerate(list(element)):
        parent.insert(index + offset, child)
    _remove(element)


def _clean_word(root: Any) -> None:
    for element in list(root.iter(f"{W}del")):
        parent = element.getparent()
        if parent is not None and parent.tag == f"{W}trPr" and parent.getparent() is not None:
            _remove(parent.getparent())  # a deleted table row goes whole, as "accept all changes" does
    for element in list(root.iter(*_W_REMOVED)):
        _remove(element)
    for element in list(root.iter(*_W_UNWRAPPED)):
        _unwrap(element)


def _clean_notes(root: Any) -> None:
    """Speaker notes are the teacher's, not the audience's: every notes text body is emptied."""
    for body in [e for e in root.iter() if _local(e.tag) == "txBody"]:
        paragraphs = [child for child in body if _local(child.tag) == "p"]
        if not paragraphs:
            continue
        for paragraph in paragraphs[1:]:
            body.remove(paragraph)
        first = paragraphs[0]
        for child in list(first):
            first.remove(child)
        first.text = None


def _clean_anywhere(root: Any) -> None:
    for element in [e for e in root.iter() if _local(e.tag) in _REMOVED_ANYWHERE]:
        parent = element.getparent()
        _remove(element)
        # An emptied mc:Choice leaves its mc:AlternateContent with nothing to say.
        if parent is not None and _local(parent.tag) == "Choice" and len(parent) == 0 and parent.getparent() is not None:
            _remove(parent.getparent())


def _clean_rels(root: Any, rels_name: str, dropped: set[str]) -> None:
    for relationship in list(root):
        target = relationship.get("Target") or ""
        external = relationship.get("TargetMode") == "External"
        if relationship.get("Type", "").endswith(_RELS_DROPPED_TYPES) or (not external and _target(rels_name, target) in dropped):
            root.remove(relationship)


def _clean_content_types(root: Any, dropped: set[str]) -> None:
    for override in list(root):
        if _local(override.tag) == "Override" and (override.get("PartName") or "").lstrip("/") in dropped:
            root.remove(override)


def _clean_xml(name: str, data: bytes, dropped: set[str]) -> bytes:
    from lxml import etree

    try:
        tree = etree.parse(io.BytesIO(data), _parser())
    except etree.XMLSyntaxError as error:
        raise ScrubError(f"文件内部的 {name} 已损坏（{type(error).__name__}）") from error
    root = tree.getroot()
    if name.endswith(".rels"):
        _clean_rels(root, name, dropped)
    elif name == "[Content_Types].xml":
        _clean_content_types(root, dropped)
    else:
        _clean_word(root)
        _clean_anywhere(root)
        if _NOTES_PART.match(name):
            _clean_notes(root)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=True)


def _clean_member(name: str, data: bytes, dropped: set[str], depth: int) -> bytes:
    suffix = posixpath.splitext(name)[1].lower()
    if name.endswith((".xml", ".rels")) or name == "[Content_Types].xml":
        return _clean_xml(name, data, dropped)
    if suffix in IMAGE_EXTENSIONS:
        return clean_image_bytes(data, suffix)
    if suffix in OFFICE_SUFFIXES and depth < 2:  # a workbook embedded in a document
        return clean_office_bytes(data, depth + 1)
    return data


def _dropped_by_relationship(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> set[str]:
    from lxml import etree

    dropped: set[str] = set()
    for info in infos:
        if not info.filename.endswith(".rels"):
            continue
        try:
            root = etree.fromstring(archive.read(info), _parser())
        except etree.XMLSyntaxError as error:
            raise ScrubError(f"文件内部的 {info.filename} 已损坏") from error
        for relationship in root:
            kind = (relationship.get("Type") or "").rsplit("/", 1)[-1]
            if kind in _DROPPED_RELATIONSHIPS and relationship.get("TargetMode") != "External":
                dropped.add(_target(info.filename, relationship.get("Target") or ""))
    return dropped


def clean_office_bytes(data: bytes, depth: int = 0) -> bytes:
    """A cleaned copy of an Office Open XML package, written deterministically."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise ScrubError("不是有效的 Office 文件（无法解压）") from error
    with archive:
        infos = _members(archive)
        dropped = {i.filename for i in infos if _DROPPED_PARTS.match(i.filename)} | _dropped_by_relationship(archive, infos)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as written:
            for info in infos:
                if info.filename in dropped or info.is_dir():
                    continue
                cleaned = _clean_member(info.filename, archive.read(info), dropped, depth)
                written.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), cleaned, zipfile.ZIP_DEFLATED)
    return out.getvalue()


_BLOCKS = {"p", "tr", "tc", "si", "c", "is", "row", "comment", "txBody", "br", "tab", "cr"}


def _xml_text(data: bytes) -> str:
    """Every text node and attribute value of one XML part. Runs of a paragraph join without a
    gap (Word splits a number across runs), paragraphs and cells end a line."""
    from lxml import etree

    try:
        root = etree.parse(io.BytesIO(data), _parser()).getroot()
    except etree.XMLSyntaxError:
        return data.decode("utf-8", "ignore")
    texts: list[str] = []
    attributes: list[str] = []

    def walk(element: Any) -> None:
        attributes.extend(str(v) for v in element.attrib.values())
        if element.text and isinstance(element.tag, str):
            texts.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                texts.append(child.tail)
        if _local(element.tag) in _BLOCKS:
            texts.append("\n")

    walk(root)
    return "".join(texts) + "\n" + "\n".join(attributes)


def office_text(data: bytes, depth: int = 0) -> str:
    """What an Office file holds as text: every XML part (headers, footers, notes, comments,
    text boxes, grouped shapes, hidden sheets, link targets), embedded photos' metadata and
    embedded Office files."""
    parts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in _members(archive):
            name = info.filename
            suffix = posixpath.splitext(name)[1].lower()
            parts.append(name)
            if name.endswith((".xml", ".rels", ".vml")):
                parts.append(_xml_text(archive.read(info)))
            elif suffix in IMAGE_EXTENSIONS:
                parts.append(image_text(archive.read(info)))
            elif suffix in OFFICE_SUFFIXES and depth < 2:
                parts.append(office_text(archive.read(info), depth + 1))
    return "\n".join(parts)


# -- images --------------------------------------------------------------------------------------

# JPEG segments kept: quantisation and Huffman tables, frame and scan headers, JFIF (APP0), the
# colour profile (APP2 ICC_PROFILE) and Adobe's colour transform (APP14). Everything else (EXIF
# with GPS and camera owner in APP1, XMP, IPTC, comments, a second picture after the end) goes.
_JPEG_KEPT_APP = {0xE0, 0xEE}
_PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP",
             b"mDCv", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT"}


def _orientation(data: bytes) -> int:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.getexif().get(0x0112, 1))
    except Exception:  # no readable EXIF: the picture stands as it is
        return 1


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _entropy_end(data: bytes, start: int) -> int:
    """Where the entropy-coded data after a scan header ends: the next marker that is not a
    stuffed 0xFF00, a restart marker or fill."""
    position = start
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return len(data)
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1
            continue
        return position


def clean_jpeg(data: bytes) -> bytes:
    """The same picture without metadata, not re-encoded; its EXIF orientation is kept alone."""
    if not data.startswith(b"\xff\xd8"):
        raise ScrubError("不是有效的 JPEG 图片")
    out = bytearray(b"\xff\xd8")
    orientation = _orientation(data)
    if orientation != 1:
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = orientation
        out += _segment(0xE1, exif.tobytes())
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ScrubError("JPEG 图片已损坏")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:  # end of image: whatever follows (another picture) is dropped
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[position:position + 2]
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        end = position + 2 + length
        payload = data[position + 4:end]
        keep = not (0xE0 <= marker <= 0xEF or marker == 0xFE) or marker in _JPEG_KEPT_APP or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"))
        if keep:
            out += data[position:end]
        position = end
        if marker == 0xDA:  # start of scan: copy its coded data up to the next marker
            stop = _entropy_end(data, position)
            out += data[position:stop]
            position = stop
    out += b"\xff\xd9"
    return bytes(out)


def clean_png(data: bytes) -> bytes:
    """Only the chunks that draw the picture: text (tEXt, iTXt, zTXt), EXIF and time go."""
    signature = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(signature):
        raise ScrubError("不是有效的 PNG 图片")
    out = bytearray(signature)
    position = len(signature)
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        end = position + 12 + length
        if kind in _PNG_KEPT:
            out += data[position:end]
        position = end
        if kind == b"IEND":
            break
    return bytes(out)


def _clean_with_pillow(data: bytes, suffix: str) -> bytes:
    """GIF, WebP and BMP: drawn again from their pixels, every frame, with no metadata."""
    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format or {"gif": "GIF", "webp": "WEBP", "bmp": "BMP"}[suffix.lstrip(".")]
        frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
        durations = image.info.get("duration")
        loop = image.info.get("loop")
    for frame in frames:
        frame.info.clear()
    options: dict[str, Any] = {"format": fmt}
    if len(frames) > 1:
        options.update(save_all=True, append_images=frames[1:])
        if durations is not None:
            options["duration"] = durations
        if loop is not None:
            options["loop"] = loop
    if fmt == "WEBP":
        options["lossless"] = True
    out = io.BytesIO()
    frames[0].save(out, **options)
    return out.getvalue()


def clean_image_bytes(data: bytes, suffix: str) -> bytes:
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        return clean_jpeg(data)
    if suffix == ".png":
        return clean_png(data)
    try:
        return _clean_with_pillow(data, suffix)
    except (OSError, ValueError, KeyError) as error:
        raise ScrubError(f"图片无法读取（{type(error).__name__}）") from error


def image_text(data: bytes) -> str:
    """What metadata a picture still holds: its info texts and every EXIF field, GPS included."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            values: list[object] = [v for v in image.info.values() if isinstance(v, (str, bytes))]
            exif = image.getexif()
            values.extend(exif.values())
            for ifd in (0x8769, 0x8825, 0xA005):  # Exif, GPS, interoperability
                values.extend(exif.get_ifd(ifd).values())
    except Exception:  # not a picture Pillow reads: nothing more to say than its bytes
        return ""
    return "\n".join(v.decode("utf-8", "ignore") if isinstance(v, bytes) else str(v) for v in values)


# -- PDF -----------------------------------------------------------------------------------------

_PDF_DROPPED_ROOT = ("/Metadata", "/PieceInfo", "/OpenAction", "/AA", "/AcroForm", "/SpiderInfo")
_PDF_DROPPED_PAGE = ("/Annots", "/Metadata", "/PieceInfo", "/Thumb", "/AA")
_PDF_DROPPED_NAMES = ("/EmbeddedFiles", "/JavaScript")


def clean_pdf(source: Path, target: Path) -> None:
    """Rewrite the PDF without its Info and XMP metadata, annotations (comments, notes, links,
    form fields), attachments and scripts; earlier revisions of an edited PDF are not carried."""
    import pikepdf

    try:
        pdf = pikepdf.open(source)
    except pikepdf.PasswordError as error:
        raise ScrubError("PDF 已加密，无法检查其中的个人信息") from error
    except pikepdf.PdfError as error:
        raise ScrubError("不是有效的 PDF 文件") from error
    with pdf:
        if "/Info" in pdf.trailer:
            del pdf.trailer["/Info"]
        root = pdf.Root
        for key in _PDF_DROPPED_ROOT:
            if key in root:
                del root[key]
        if "/Names" in root:
            for key in _PDF_DROPPED_NAMES:
                if key in root.Names:
                    del root.Names[key]
        for page in pdf.pages:
            for key in _PDF_DROPPED_PAGE:
                if key in page.obj:
                    del page.obj[key]
        for obj in pdf.objects:
            if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)) and "/Metadata" in obj:
                del obj["/Metadata"]
            if isinstance(obj, pikepdf.Stream) and obj.get("/Filter") == pikepdf.Name.DCTDecode:
                _clean_embedded_jpeg(obj)
        pdf.remove_unreferenced_resources()
        pdf.save(target, deterministic_id=True)


def _clean_embedded_jpeg(stream: Any) -> None:
    """A photo placed in a PDF is a JPEG file inside it, EXIF and all."""
    import pikepdf

    try:
        stream.write(clean_jpeg(stream.read_raw_bytes()), filter=pikepdf.Name.DCTDecode)
    except ScrubError:  # not a JPEG stream we understand: viewers draw it; it is left as it is
        pass


def _pdf_strings(obj: Any, seen: set[tuple[int, int]]) -> Iterator[str]:
    import pikepdf

    if isinstance(obj, pikepdf.String):
        yield str(obj)
        return
    if not isinstance(obj, pikepdf.Object):  # numbers and booleans come back as Python values
        return
    if obj.is_indirect:
        if obj.objgen in seen:
            return
        seen.add(obj.objgen)
    if isinstance(obj, pikepdf.Array):
        for item in obj:
            yield from _pdf_strings(item, seen)
    elif isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        for key in obj.keys():
            if key != "/Parent":
                yield from _pdf_strings(obj[key], seen)


def pdf_text(path: Path) -> str:
    """The text of every page (PDFium) and every string in the file: metadata, annotations,
    bookmarks, form values, whatever remains."""
    import pikepdf

    parts = [documents.read_pdf(path).text]
    with pikepdf.open(path) as pdf:
        seen: set[tuple[int, int]] = set()
        parts.extend(_pdf_strings(pdf.trailer, seen))
        for obj in pdf.objects:
            parts.extend(_pdf_strings(obj, seen))
    return "\n".join(parts)


# -- video and audio -----------------------------------------------------------------------------


def clean_media(source: Path, target: Path) -> None:
    """A stream copy without global or per-stream tags, chapters, subtitle or data streams or
    attached pictures; nothing is re-encoded."""
    audio_only = source.suffix.lower() in AUDIO_SUFFIXES
    maps = ["-map", "0:a"] if audio_only else ["-map", "0:V", "-map", "0:a?"]
    command = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source), *maps, "-c", "copy",
               "-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1",
               "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", str(target)]
    try:
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    except FileNotFoundError as error:
        raise ScrubError("未安装 ffmpeg，无法清除视频里的标签；请安装：apt-get install ffmpeg") from error
    except subprocess.TimeoutExpired as error:
        raise ScrubError("清除视频标签超时") from error
    if result.returncode != 0:
        raise ScrubError("无法清除视频里的标签（文件可能已损坏）")


def media_text(path: Path) -> str:
    """The tags a video or audio file still carries, of the container and of each stream."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            values = [*container.metadata.items()]
            for stream in container.streams:
                values.extend(stream.metadata.items())
    except av.error.FFmpegError as error:
        raise ScrubError("视频无法读取") from error
    return "\n".join(f"{key} {value}" for key, value in values)


# -- text ----------------------------------------------------------------------------------------


# -- one file ------------------------------------------------------------------------------------


def clean(source: Path, suffix: str, target: Path) -> None:
    """Write the cleaned copy of `source` (whose kind is `suffix`'s) to `target`."""
    kind = kind_of(suffix)
    if kind == "office":
        target.write_bytes(clean_office_bytes(source.read_bytes()))
    elif kind == "pdf":
        clean_pdf(source, target)
    elif kind == "image":
        target.write_bytes(clean_image_bytes(source.read_bytes(), suffix))
    elif kind == "media":
        clean_media(source, target)
    elif kind == "text":
        target.write_bytes(source.read_bytes())
    else:
        raise ScrubError(unsupported_reason(suffix))


def published_text(path: Path, suffix: str) -> str:
    """Everything readable in a (cleaned) file, for the personal-data guard."""
    kind = kind_of(suffix)
    if kind == "office":
        return office_text(path.read_bytes())
    if kind == "pdf":
        return pdf_text(path)
    if kind == "image":
        return image_text(path.read_bytes())
    if kind == "media":
        return media_text(path)
    if kind == "text":
        return decode_plain(path.read_bytes())  # read as its page reads it
    raise ScrubError(unsupported_reason(suffix))


# qpdf, PDFium, Pillow and FFmpeg are C code reading untrusted files: that work runs in a
# process of its own (see forks.isolated), where a crash or a hang ends the child, not the build.
# Office files (lxml, as python-docx reads them) and plain text are handled in this process.
_ISOLATED_KINDS = {"pdf", "image", "media"}


def _run(suffix: str, function: Callable[..., Any], *args: object) -> Any:
    if kind_of(suffix) in _ISOLATED_KINDS:
        return isolated(function, *args, timeout=TIMEOUT)
    return function(*args)


def clean_cached(source: Path, suffix: str, cache: Cache) -> Path:
    """The cleaned copy of `source`, made once per content; ScrubError (or ArtefactError) says
    why it cannot be made."""
    if kind_of(suffix) == "legacy":
        source = _modern(source, suffix, cache)
        suffix = documents.LEGACY_TO_MODERN[suffix.lower()]
    if kind_of(suffix) == "text":
        return source  # published as it is; its text is checked
    return cache.artefact("scrubbed", cache.digest(source), suffix.lower(), lambda target: _run(suffix, clean, source, suffix, target))


def _modern(source: Path, suffix: str, cache: Cache) -> Path:
    """A legacy Office file (.doc .wps .ppt) as .docx/.pptx through LibreOffice (the same
    conversion the campus site reads its text from)."""
    if documents.libreoffice() is None:
        raise ScrubError(f"未安装 LibreOffice，无法清除 {suffix} 文件里的作者、批注等信息；请另存为 .docx 或 .pptx 后重新提交")
    modern = documents.LEGACY_TO_MODERN[suffix.lower()]
    return cache.artefact("modern", cache.digest(source), modern, lambda target: documents.convert(source, target, modern[1:]))


def published_suffix(suffix: str) -> str:
    """The suffix a file is published under: legacy Office files as their modern form."""
    return documents.LEGACY_TO_MODERN.get(suffix.lower(), suffix) if kind_of(suffix) == "legacy" else suffix


def text_cached(path: Path, suffix: str, cache: Cache) -> str:
    """`published_text`, read once per content."""
    return cache.text("published-text", cache.digest(path), lambda: _run(suffix, published_text, path, suffix))
