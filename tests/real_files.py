"""Files as real teachers' tools write them, made byte by byte where no library writes them so:
PDFs whose fonts have no Unicode map, Word content controls, screen-recorder WebMs."""

from __future__ import annotations

import subprocess
from pathlib import Path

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def type3_pdf(codes: bytes) -> bytes:
    """A one-page PDF whose text is set in a Type3 font with made-up glyph names and no ToUnicode
    map, as pdfTeX's bitmap fonts and some scanners' OCR layers are: text extraction can only
    return the raw character codes (`ÍÆ#(ØK) 1õ`)."""
    names = sorted(set(codes))
    diffs = " ".join(f"{c} /g{c}" for c in names)
    procs = " ".join(f"/g{c} 5 0 R" for c in names)
    widths = " ".join("600" for _ in range(min(names), max(names) + 1))
    text = ("BT /F1 12 Tf 72 720 Td <" + codes.hex() + "> Tj ET").encode()
    glyph = b"600 0 0 0 500 700 d1 0 0 500 700 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R >>",
        (f"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 600 700] /FontMatrix [0.001 0 0 0.001 0 0] "
         f"/CharProcs << {procs} >> /Encoding << /Type /Encoding /Differences [{diffs}] >> "
         f"/FirstChar {min(names)} /LastChar {max(names)} /Widths [{widths}] >>").encode(),
        b"<< /Length %d >>\nstream\n" % len(glyph) + glyph + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


GARBLED_CODES = bytes([0xCD, 0xC6, 0x23, 0x28, 0xD8, 0x4B, 0x29, 0x20, 0x31, 0xF5, 0x20, 0x9C, 0x88, 0xA1, 0xB3, 0x07, 0x12]) * 4


def content_controls_docx(path: Path) -> Path:
    """A school template filled in through Word content controls: a block-level control holding a
    paragraph, an inline control inside a paragraph, and a control inside a table cell."""
    from docx import Document
    from docx.oxml import parse_xml

    document = Document()
    document.add_paragraph("课题名称：")
    document.add_table(rows=1, cols=2).rows[0].cells[0].text = "授课教师"
    body = document.element.body

    def sdt(inner: str) -> str:
        return f'<w:sdt xmlns:w="{W}"><w:sdtPr><w:alias w:val="填写"/></w:sdtPr><w:sdtContent>{inner}</w:sdtContent></w:sdt>'

    block = parse_xml(sdt(f'<w:p xmlns:w="{W}"><w:r><w:t>认识钟表的教学目标</w:t></w:r></w:p>'))
    body.insert(0, block)
    paragraph = body.findall(f"{{{W}}}p")[-1]  # 课题名称：
    paragraph.append(parse_xml(sdt(f'<w:r xmlns:w="{W}"><w:t>时分秒的认识</w:t></w:r>')))
    cell = body.findall(f".//{{{W}}}tc")[1]
    for old in cell.findall(f"{{{W}}}p"):
        cell.remove(old)
    cell.append(parse_xml(sdt(f'<w:p xmlns:w="{W}"><w:r><w:t>王芳老师</w:t></w:r></w:p>')))
    document.save(str(path))
    return path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def webm_with_long_sizes(source: Path, target: Path) -> Path:
    """The same WebM with its DocType's size written in eight bytes, as EBML allows (and some
    recorders write): players read it, a one-byte-size signature check does not."""
    data = source.read_bytes()
    assert data[4] == 0x80 | (data.index(b"\x18\x53\x80\x67") - 5)  # a one-byte header size
    patched = data.replace(b"\x42\x82\x84webm", b"\x42\x82\x01\x00\x00\x00\x00\x00\x00\x04webm", 1)
    target.write_bytes(data[:4] + bytes([data[4] + 7]) + patched[5:])
    return target


def docx_linking_image(path: Path, url: str, picture: Path) -> Path:
    """A .docx whose picture is linked, not embedded (Word: Insert picture > Link to file), from
    `url`: LibreOffice fetches it when it lays the page out unless told not to."""
    from docx import Document
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    document = Document()
    document.add_paragraph("课堂照片如下：")
    document.add_picture(str(picture))
    link = document.part.relate_to(url, RT.IMAGE, is_external=True)
    for blip in document.element.body.iter("{http://schemas.openxmlformats.org/drawingml/2006/main}blip"):
        embed = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"
        del blip.attrib[embed]
        blip.set("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}link", link)
    document.save(str(path))
    return path
