"""Personal data never reaches the public showcase (issue 14).

A school with one hostile public case per way data hid from the old guard, and one clean case.
The showcase is built once; then every file it holds is read the way an outsider would read it
(zip parts of Office files, PDF strings and XMP, EXIF, ffprobe tags, decompressed search shards,
catalog.json) and no planted string may be found. Hidden data is either cleaned away (the case is
published without it) or, where it is content, the case is held back with a report naming where.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from factories import make_docx, make_image, make_pdf, make_pptx, make_project, make_video, write_markdown, write_meta

from portal import pipeline
from portal.project import Project

T = "2023-2024-1"
PUBLIC = {"type": "教学设计", "subject": "数学", "grade": "五年级", "competencies": ["B2"], "authors": ["公开作者"],
          "exemplary": True, "share": "public"}


def case(term: Path, folder: str, title: str) -> Path:
    write_meta(term / folder, {**PUBLIC, "title": title})
    return term / folder


# -- hostile files -------------------------------------------------------------------------------


def docx_with(path: Path, edit: Any) -> Path:
    from docx import Document

    document = Document()
    document.add_paragraph("正文第一段。")
    edit(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def _header_footer(document: Any) -> None:
    document.sections[0].header.paragraphs[0].text = "页眉 联系电话 13800000001"
    document.sections[0].footer.paragraphs[0].text = "页脚 footer.leak@example.com"


def _comment(document: Any) -> None:
    paragraph = document.add_paragraph("被批注的一句。")
    document.add_comment(paragraph.runs, text="批注泄露甲 13800000002", author="批注作者乙", initials="乙")


def _tracked(document: Any) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    paragraph = document.add_paragraph("修订后的句子。")
    paragraph._p.append(parse_xml(f'<w:del {nsdecls("w")} w:id="91" w:author="修订者丙" w:date="2023-01-01T00:00:00Z">'
                                  "<w:r><w:delText>删除的内容 13800000003</w:delText></w:r></w:del>"))
    paragraph._p.append(parse_xml(f'<w:ins {nsdecls("w")} w:id="92" w:author="修订者丙" w:date="2023-01-01T00:00:00Z">'
                                  "<w:r><w:t>插入后保留的文字</w:t></w:r></w:ins>"))


def _textbox(document: Any) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    run = document.add_paragraph().add_run()
    run._r.append(parse_xml(f'<w:pict {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml"><v:shape style="width:200pt;height:40pt">'
                            "<v:textbox><w:txbxContent><w:p><w:r><w:t>文本框 13800000004</w:t></w:r></w:p>"
                            "</w:txbxContent></v:textbox></v:shape></w:pict>"))


def _core(document: Any) -> None:
    document.core_properties.author = "作者隐私名丁"
    document.core_properties.last_modified_by = "修改人戊"
    document.core_properties.comments = "备注 core.leak@example.com"


def pptx_notes(path: Path) -> Path:
    from pptx import Presentation

    make_pptx(path)
    presentation = Presentation(str(path))
    presentation.slides[0].notes_slide.notes_text_frame.text = "演讲者备注 13800000006 备注人己"
    presentation.save(str(path))
    return path


def pptx_group(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    make_pptx(path)
    presentation = Presentation(str(path))
    group = presentation.slides[0].shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1)).text_frame.text = "分组里的电话 13800000007"
    presentation.save(str(path))
    return path


def pdf_metadata(path: Path) -> Path:
    import pikepdf

    make_pdf(path.with_name("raw.pdf"), "学习单")
    with pikepdf.open(path.with_name("raw.pdf")) as pdf:
        pdf.docinfo["/Author"] = "PDF作者庚"
        pdf.docinfo["/Keywords"] = "13800000008"
        with pdf.open_metadata() as meta:
            meta["dc:creator"] = ["XMP作者辛"]
        # A photo placed on the page: a JPEG stream inside the PDF, with its EXIF.
        picture = photo(path.with_name("placed.jpg"))
        image = pikepdf.Stream(pdf, picture.read_bytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=480, Height=270,
                               ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
        page = pdf.pages[0]
        page.add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Photo)
        page.contents_add(pikepdf.Stream(pdf, b"q 96 0 0 54 20 20 cm /Photo Do Q"))
        pdf.save(path)
    picture.unlink()
    path.with_name("raw.pdf").unlink()
    return path


def pdf_annotation(path: Path) -> Path:
    import pikepdf

    make_pdf(path.with_name("raw.pdf"), "评价量规")
    with pikepdf.open(path.with_name("raw.pdf")) as pdf:
        note = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[10, 10, 30, 30],
                                  Contents=pikepdf.String("批注 13800000009"), T=pikepdf.String("注释人壬"))
        pdf.pages[0].obj["/Annots"] = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(note)]))
        pdf.save(path)
    path.with_name("raw.pdf").unlink()
    return path


def photo(path: Path, orientation: int = 6) -> Path:
    from PIL import Image

    make_image(path.with_suffix(".png"), "课堂照片")
    with Image.open(path.with_suffix(".png")) as image:
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x013B] = "Artist Guo Leak"
        exif.get_ifd(0x8769)[0xA430] = "OwnerLeakName"
        exif.get_ifd(0x8825).update({1: "N", 2: (39.0, 54.0, 20.0), 3: "E", 4: (116.0, 23.0, 29.0)})
        image.convert("RGB").save(path, exif=exif, comment=b"jpeg comment 13800000018")
    path.with_suffix(".png").unlink()
    return path


def png_with_text(path: Path) -> Path:
    from PIL import Image, PngImagePlugin

    make_image(path.with_name("raw.png"), "图表")
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "PNG作者癸")
    info.add_itxt("Comment", "png.leak@example.com")
    with Image.open(path.with_name("raw.png")) as image:
        image.save(path, pnginfo=info)
    path.with_name("raw.png").unlink()
    return path


def tagged_video(path: Path) -> Path:
    raw = make_video(path.with_name("raw.mp4"))
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(raw), "-c", "copy", "-metadata", "artist=视频作者子",
                    "-metadata", "comment=13800000010", "-metadata:s:v:0", "handler_name=录制人丑", str(path)], check=True)
    raw.unlink()
    return path


def commented_xlsx(path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    workbook = Workbook()
    workbook.active["A1"] = "评价量规"
    workbook.active["A1"].comment = Comment("表格批注 13800000020", "表格批注人寅")
    workbook.save(path)
    return path


def legacy_doc(path: Path) -> Path:
    """A Word 97 .doc with an author and a comment, as LibreOffice (or WPS) saves it."""
    source = docx_with(path.with_name("source.docx"), lambda document: (_core(document), _comment(document)))
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation={path.parent.joinpath('lo').as_uri()}",
                    "--convert-to", "doc", "--outdir", str(path.parent), str(source)], capture_output=True, check=True, timeout=300)
    path.with_name("source.doc").rename(path)
    source.unlink()
    subprocess.run(["rm", "-rf", str(path.parent / "lo")], check=True)
    return path


def register_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["学生", "家长电话"])
    sheet.append(["小明", 13800000013])
    workbook.save(path)
    return path


HELD = "held"
CLEAN = "published"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome, dict[Path, str]]:
    project = make_project(tmp_path_factory.mktemp("privacy") / "school")
    term = project.resources / T
    docx_with(case(term, "页眉页脚", "页眉页脚案例") / "教案.docx", _header_footer)
    docx_with(case(term, "批注", "批注案例") / "教案.docx", _comment)
    docx_with(case(term, "修订", "修订案例") / "教案.docx", _tracked)
    docx_with(case(term, "文本框", "文本框案例") / "教案.docx", _textbox)
    docx_with(case(term, "文档属性", "文档属性案例") / "教案.docx", _core)
    pptx_notes(case(term, "演讲备注", "演讲备注案例") / "课件.pptx")
    pptx_group(case(term, "组合图形", "组合图形案例") / "课件.pptx")
    pdf_metadata(case(term, "PDF属性", "PDF属性案例") / "学习单.pdf")
    pdf_annotation(case(term, "PDF批注", "PDF批注案例") / "量规.pdf")
    folder = case(term, "照片", "照片案例")
    photo(folder / "课堂.jpg")
    png_with_text(folder / "图表.png")
    tagged_video(case(term, "视频标签", "视频标签案例") / "微课.mp4")
    folder = case(term, "字幕", "字幕案例")
    make_video(folder / "微课.mp4")
    (folder / "微课.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\n有事打 13800000012\n", encoding="utf-8")
    (case(term, "网页字幕", "网页字幕案例") / "讲解.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nvtt.leak@example.com\n", encoding="utf-8")
    register_xlsx(case(term, "表格附件", "表格附件案例") / "名单.xlsx")
    (case(term, "文本附件", "文本附件案例") / "说明.txt").write_text("作业发到 txt.leak@example.com", encoding="utf-8")
    (case(term, "联系13800000014", "文件夹名案例") / "说明.md").write_text("# 说明", encoding="utf-8")
    write_markdown(term / "电话链接.md", {**PUBLIC, "title": "电话链接案例"}, "有问题[打电话](tel:+86-138-0000-0015)。")
    write_markdown(term / "邮件链接.md", {**PUBLIC, "title": "邮件链接案例"}, "[写信给我](mailto:md.leak@example.com)")
    write_markdown(term / "标题属性.md", {**PUBLIC, "title": "标题属性案例"}, '<abbr title="班主任 13800000016">班主任</abbr>的话')
    write_meta(term / "全角数字", {**PUBLIC, "title": "全角数字案例", "summary": "联系１３８ ００００ ００１７"})
    commented_xlsx(case(term, "表格批注", "表格批注案例") / "量规.xlsx")
    legacy_doc(case(term, "旧版文档", "旧版文档案例") / "教案.doc")
    (case(term, "压缩包", "压缩包案例") / "素材.zip").write_bytes(_zip_with("名单.txt", "13800000019"))
    # The clean exemplary case: files with what any tool writes (python-docx's author, a photo's
    # orientation), nothing personal.
    clean = case(term, "干净案例", "干净的优秀案例")
    make_docx(clean / "教学设计.docx", "圆的面积", [("过程", ["把圆剪拼成近似长方形。"])])
    photo_clean(clean / "板书.jpg")
    make_pdf(clean / "学习单.pdf", "学习单")
    outcome = pipeline.build_showcase(project)
    return project, outcome, published_texts(project.showcase)


def _zip_with(name: str, text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, text)
    return out.getvalue()


def photo_clean(path: Path) -> Path:
    from PIL import Image

    make_image(path.with_suffix(".png"), "板书")
    with Image.open(path.with_suffix(".png")) as image:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.convert("RGB").save(path, exif=exif)
    path.with_suffix(".png").unlink()
    return path


# -- reading the showcase as an outsider would ---------------------------------------------------


def _pdf_strings(path: Path) -> str:
    import pikepdf

    texts: list[str] = []
    with pikepdf.open(path) as pdf:
        texts.extend(f"{k} {v}" for k, v in pdf.docinfo.items())
        if "/Metadata" in pdf.Root:
            texts.append(pdf.Root.Metadata.read_bytes().decode("utf-8", "ignore"))
        for page in pdf.pages:
            for annotation in page.obj.get("/Annots", []):
                texts.extend(str(annotation.get(key, "")) for key in ("/Contents", "/T"))
    return "\n".join(texts)


def _exif(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as image:
        exif = image.getexif()
        values = [*image.info.values(), *exif.values(), *exif.get_ifd(0x8769).values(), *exif.get_ifd(0x8825).values()]
    return "\n".join(v.decode("utf-8", "ignore") if isinstance(v, bytes) else str(v) for v in values)


def _ffprobe(path: Path) -> str:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
                            capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def published_texts(folder: Path) -> dict[Path, str]:
    """Every file of the showcase and its name, as raw text and as its readers show it."""
    texts: dict[Path, str] = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        parts = [path.relative_to(folder).as_posix(), data.decode("utf-8", "ignore"), data.decode("utf-16-be", "ignore")]
        suffix = path.suffix.lower()
        if suffix == ".gz":
            parts.append(gzip.decompress(data).decode("utf-8", "ignore"))
        if suffix in (".docx", ".pptx", ".xlsx"):
            with zipfile.ZipFile(path) as archive:
                parts.extend(archive.read(name).decode("utf-8", "ignore") for name in archive.namelist())
        if suffix == ".pdf":
            parts.append(_pdf_strings(path))
        if suffix in (".jpg", ".png"):
            parts.append(_exif(path))
        if suffix in (".mp4",):
            parts.append(_ffprobe(path))
        texts[path] = "\n".join(parts)
    return texts


def leaks(texts: dict[Path, str], planted: list[str]) -> list[str]:
    return [f"{needle} in {path.name}" for path, text in texts.items() for needle in planted if needle in text]


def held(outcome: pipeline.Outcome, label: str) -> str:
    reasons = [p.reason for p in outcome.problems if p.path == f"{T}/{label}" and p.field == "公开前检查"]
    assert reasons, f"{label} was not held back"
    return reasons[0]


def published(outcome: pipeline.Outcome, title: str) -> bool:
    return any(r.title == title for r in outcome.published)


# -- one test per way data hid -------------------------------------------------------------------

CASES = [
    # (id, folder or Markdown file, title, planted strings, fate, where the report says it was)
    ("word-header-footer", "页眉页脚", "页眉页脚案例", ["13800000001", "footer.leak@example.com"], HELD, "文件 教案.docx中有手机号（138****0001）"),
    ("word-comments", "批注", "批注案例", ["批注泄露甲", "批注作者乙", "13800000002"], CLEAN, None),
    ("word-tracked-deletion", "修订", "修订案例", ["删除的内容", "修订者丙", "13800000003"], CLEAN, None),
    ("word-text-box", "文本框", "文本框案例", ["13800000004"], HELD, "文件 教案.docx中有手机号"),
    ("word-core-properties", "文档属性", "文档属性案例", ["作者隐私名丁", "修改人戊", "core.leak@example.com"], CLEAN, None),
    ("powerpoint-notes", "演讲备注", "演讲备注案例", ["13800000006", "备注人己"], CLEAN, None),
    ("powerpoint-grouped-shape", "组合图形", "组合图形案例", ["13800000007"], HELD, "文件 课件.pptx中有手机号"),
    ("pdf-metadata", "PDF属性", "PDF属性案例", ["PDF作者庚", "XMP作者辛", "13800000008", "OwnerLeakName", "Artist Guo Leak"], CLEAN, None),
    ("pdf-annotation", "PDF批注", "PDF批注案例", ["13800000009", "注释人壬"], CLEAN, None),
    ("photo-exif", "照片", "照片案例", ["Artist Guo Leak", "OwnerLeakName", "13800000018", "PNG作者癸", "png.leak@example.com"], CLEAN, None),
    ("video-tags", "视频标签", "视频标签案例", ["视频作者子", "13800000010", "录制人丑"], CLEAN, None),
    ("srt-captions", "字幕", "字幕案例", ["13800000012"], HELD, "文件 微课.srt中有手机号"),
    ("vtt-file", "网页字幕", "网页字幕案例", ["vtt.leak@example.com"], HELD, "文件 讲解.vtt中有电子邮箱"),
    ("xlsx-attachment", "表格附件", "表格附件案例", ["13800000013"], HELD, "文件 名单.xlsx中有手机号"),
    ("txt-attachment", "文本附件", "文本附件案例", ["txt.leak@example.com"], HELD, "文件 说明.txt中有电子邮箱"),
    ("folder-name", "联系13800000014", "文件夹名案例", ["13800000014"], HELD, "编号中有手机号"),
    ("markdown-tel-link", "电话链接.md", "电话链接案例", ["138-0000-0015"], HELD, "正文中有手机号（138****0015）"),
    ("markdown-mailto-link", "邮件链接.md", "邮件链接案例", ["md.leak@example.com", "md.leak"], HELD, "正文中有电子邮箱"),
    ("markdown-title-attribute", "标题属性.md", "标题属性案例", ["13800000016"], HELD, "正文中有手机号"),
    ("full-width-digits", "全角数字", "全角数字案例", ["１３８", "００１７"], HELD, "简介中有手机号（138****0017）"),
    ("excel-comment", "表格批注", "表格批注案例", ["13800000020", "表格批注人寅"], CLEAN, None),
    ("legacy-word-document", "旧版文档", "旧版文档案例", ["作者隐私名丁", "修改人戊", "批注泄露甲", "批注作者乙", "core.leak@example.com"], CLEAN, None),
    ("unknown-file-type", "压缩包", "压缩包案例", ["素材.zip", "13800000019"], HELD, "文件 素材.zip：.zip 文件无法检查"),
]


@pytest.mark.parametrize(("label", "title", "planted", "fate", "where"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_planted_data_never_reaches_the_showcase(built, label: str, title: str, planted: list[str], fate: str, where: str | None) -> None:
    _, outcome, texts = built
    assert not leaks(texts, planted)
    if fate == HELD:
        assert not published(outcome, title)
        reason = held(outcome, label)
        assert where in reason
        assert not [needle for needle in planted if needle in reason and needle.isdigit() and len(needle) == 11]
    else:  # cleaned: the case still goes out, without what was hidden in it
        assert published(outcome, title), [str(p) for p in outcome.problems if title in p.path or label in p.path]


def test_tracked_insertions_and_visible_text_survive_cleaning(built) -> None:
    from docx import Document

    project, outcome, _ = built
    record = next(r for r in outcome.published if r.title == "修订案例")
    document = Document(str(project.showcase / "r" / record.id / "files" / "教案.docx"))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "插入后保留的文字" in text and "修订后的句子。" in text and "正文第一段。" in text


def test_the_clean_case_is_published_with_cleaned_files(built) -> None:
    from docx import Document
    from PIL import Image

    project, outcome, _ = built
    record = next(r for r in outcome.published if r.title == "干净的优秀案例")
    files = project.showcase / "r" / record.id / "files"
    assert sorted(p.name for p in files.iterdir()) == ["学习单.pdf", "教学设计.docx", "板书.jpg"]
    document = Document(str(files / "教学设计.docx"))
    assert "把圆剪拼成近似长方形。" in [p.text for p in document.paragraphs]
    assert document.core_properties.author == ""  # python-docx wrote "python-docx" there
    with Image.open(files / "板书.jpg") as image:
        assert dict(image.getexif()) == {0x0112: 6}  # the photo still stands the right way up
        assert image.size == (480, 270)
    catalog = json.loads((project.showcase / "catalog.json").read_text(encoding="utf-8"))
    entry = next(c for c in catalog["cases"] if c["id"] == record.id)
    assert sorted(f["name"] for f in entry["files"]) == ["学习单.pdf", "教学设计.docx", "板书.jpg"]


def test_only_what_leaves_the_school_is_cleaned(built) -> None:
    """The showcase gets a cleaned copy; resources/ (and so the campus site) keeps the original."""
    from docx import Document

    project, outcome, _ = built
    record = next(r for r in outcome.published if r.title == "文档属性案例")
    assert Document(str(project.showcase / "r" / record.id / "files" / "教案.docx")).core_properties.author == ""
    assert Document(str(project.resources / T / "文档属性" / "教案.docx")).core_properties.author == "作者隐私名丁"


def test_a_legacy_document_goes_out_as_its_cleaned_conversion(built) -> None:
    from docx import Document

    project, outcome, _ = built
    record = next(r for r in outcome.published if r.title == "旧版文档案例")
    files = project.showcase / "r" / record.id / "files"
    assert [p.name for p in files.iterdir()] == ["教案.docx"]
    assert "被批注的一句。" in [p.text for p in Document(str(files / "教案.docx")).paragraphs]


def test_cleaned_copies_are_cached_by_content(built, tmp_path: Path) -> None:
    from portal import scrub
    from portal.extract import Cache

    project, _, _ = built
    cache = Cache(project.cache)
    source = project.resources / T / "批注" / "教案.docx"
    first = scrub.clean_cached(source, ".docx", cache)
    assert (cache.hits, cache.misses) == (1, 0)  # made by the build, reused now
    assert first.read_bytes() == scrub.clean_office_bytes(source.read_bytes())  # and deterministic


def test_jpeg_cleaning_keeps_the_picture_bit_for_bit(tmp_path: Path) -> None:
    from PIL import Image

    from portal import scrub

    original = photo(tmp_path / "p.jpg", orientation=1)
    cleaned = scrub.clean_jpeg(original.read_bytes())
    with Image.open(original) as before, Image.open(io.BytesIO(cleaned)) as after:
        assert before.tobytes() == after.tobytes()
        assert not after.getexif()
