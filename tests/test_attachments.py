"""Attachments every campus PC can open: real videos from ffmpeg test sources, documents from
python-docx / python-pptx / LibreOffice, captions; checked with ffprobe and by reading the pages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from factories import assert_accounting, make_docx, make_pdf, make_pptx, make_project, write_meta

from portal import pipeline
from portal.project import Project

TERM = "2023-2024-1"
BASE = {"type": "教学资源", "subject": "科学", "grade": "五年级", "competencies": ["B2"], "authors": ["刘洋"]}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
                         check=True, capture_output=True).stdout
    return json.loads(out)


def codecs(path: Path) -> set[str]:
    return {s["codec_name"] for s in ffprobe(path)["streams"]}


def libreoffice_convert(source: Path, to: str, out: Path) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", to, "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    return out / f"{source.stem}.{to}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome]:
    root = tmp_path_factory.mktemp("attachments")
    project = make_project(root / "school")
    res = project.resources / TERM

    videos = res / "视频"
    write_meta(videos, {**BASE, "title": "各种格式的录屏", "type": "微课"})
    # EV录屏-style AVI in MPEG-4 Part 2 with MP3 audio: browsers cannot play it.
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-f", "lavfi", "-i", "sine=f=440",
           "-t", "3", "-c:v", "mpeg4", "-c:a", "libmp3lame", "-shortest", str(videos / "录屏.avi"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15", "-t", "2", "-c:v", "libvpx-vp9", "-b:v", "200k",
           str(videos / "网页版.webm"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-f", "lavfi", "-i", "sine=f=330", "-t", "2",
           "-c:v", "wmv2", "-c:a", "wmav2", "-shortest", str(videos / "旧电脑.wmv"))
    # H.264 in an MP4, but 4:4:4 at odd dimensions: most browsers show nothing.
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=321x241:rate=15", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv444p",
           str(videos / "高画质.mp4"))
    (videos / "录屏.srt").write_bytes("1\r\n00:00:00,500 --> 00:00:02,000\r\n认识钟表\r\n".encode("gbk"))

    docs = res / "文档"
    write_meta(docs, {**BASE, "title": "各种文档", "type": "教学设计"})
    make_docx(docs / "教学设计.docx", "光合作用教学设计", [("教学目标", ["知道光合作用需要光。"])])
    make_pptx(docs / "课件.pptx")
    scratch = root / "scratch"
    scratch.mkdir()
    legacy_source = make_docx(scratch / "旧版教案.docx", "旧版教案", [("过程", ["叶绿体是光合作用的场所。"])])
    shutil.copy(libreoffice_convert(legacy_source, "doc", scratch), docs / "旧版教案.doc")
    shutil.copy(libreoffice_convert(make_docx(scratch / "学习单.docx", "学习单", [("任务", ["记录气泡数量。"])]), "pdf", scratch),
                docs / "学习单.pdf")

    broken = res / "损坏"
    write_meta(broken, {**BASE, "title": "损坏的文件也不影响其他文件"})
    (broken / "不是视频.mp4").write_text("这是一个文本文件", encoding="utf-8")
    (broken / "空白.docx").write_bytes(b"")
    (broken / "坏的.pdf").write_bytes(b"%PDF-1.4 garbage")
    make_pdf(broken / "好的.pdf", "正常的学习单")

    long = res / "超长微课"
    write_meta(long, {**BASE, "title": "超长微课", "type": "微课"})
    ffmpeg("-f", "lavfi", "-i", "color=c=navy:s=64x36:r=1", "-t", "660", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(long / "十一分钟.mp4"))

    outcome = pipeline.build_site(project)
    return project, outcome


def page(project: Project, name: str) -> str:
    return (project.site / "r" / f"{TERM}-{name}" / "index.html").read_text(encoding="utf-8")


def media(project: Project, name: str) -> Path:
    return project.site / "r" / f"{TERM}-{name}" / "media"


def test_avi_in_mpeg4_part2_is_published_as_h264_aac_mp4_with_faststart(site) -> None:
    project, _ = site
    text = page(project, "视频")
    # Videos come first, by name: 录屏.avi is attachment 0, so its playable copy is media/0-video.mp4.
    section = text.split("<h3>录屏.avi", 1)[1].split("</section>", 1)[0]
    assert 'src="media/0-video.mp4"' in section
    published = media(project, "视频") / "0-video.mp4"
    assert codecs(published) >= {"h264", "aac"}
    data = published.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: playback starts before the download ends
    assert ffprobe(published)["streams"][0]["pix_fmt"] == "yuv420p"


def test_every_unplayable_format_gets_an_mp4_and_webm_is_kept(site) -> None:
    project, _ = site
    text = page(project, "视频")
    made = sorted(p.name for p in media(project, "视频").glob("*-video.mp4"))
    assert len(made) == 3  # .avi, .wmv and the 4:4:4 .mp4; the VP9 WebM plays as it is
    for name in made:
        stream = ffprobe(media(project, "视频") / name)["streams"][0]
        assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
        assert stream["width"] % 2 == 0 and stream["height"] % 2 == 0
    assert 'src="files/%E7%BD%91%E9%A1%B5%E7%89%88.webm"' in text
    # The originals stay downloadable.
    assert "下载 录屏.avi" in text and "下载 旧电脑.wmv" in text


def test_posters_durations_and_captions(site) -> None:
    project, _ = site
    text = page(project, "视频")
    posters = list(media(project, "视频").glob("*-poster.jpg"))
    assert len(posters) == 4
    for poster in posters:
        assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
        assert f'poster="media/{poster.name}"' in text
    assert '<span class="portal-duration">0:03</span>' in text
    (vtt,) = media(project, "视频").glob("*-captions.vtt")
    captions = vtt.read_text(encoding="utf-8")
    assert captions.startswith("WEBVTT")
    assert "00:00:00.500 --> 00:00:02.000" in captions and "认识钟表" in captions
    assert f'<track kind="captions" srclang="zh" label="中文字幕" src="media/{vtt.name}" default>' in text
    assert "<h3>录屏.srt</h3>" not in text  # shown as the video's captions, not as a file of its own


def test_document_text_is_shown_and_office_files_get_pdf_previews(site) -> None:
    project, _ = site
    text = page(project, "文档")
    assert "<p>知道光合作用需要光。</p>" in text  # .docx
    assert "<h4>第 1 张幻灯片：光合作用</h4>" in text and "<p>植物利用光能制造有机物</p>" in text  # .pptx
    assert "<td>光照组</td><td>多</td>" in text  # a table on a slide
    assert "<p>叶绿体是光合作用的场所。</p>" in text  # legacy .doc through LibreOffice
    assert "记录气泡数量。" in text  # .pdf written by LibreOffice
    previews = sorted(media(project, "文档").glob("*-preview.pdf"))
    assert len(previews) == 3  # .docx, .pptx, .doc
    for preview in previews:
        assert preview.read_bytes()[:5] == b"%PDF-"
        assert f'href="media/{preview.name}"' in text  # 打开完整 PDF, beside images of its first pages
    assert len(list(media(project, "文档").glob("*-page1.jpg"))) == 4  # the three previews and the .pdf


def test_broken_files_are_reported_by_path_and_the_rest_publishes(site) -> None:
    project, outcome = site
    assert_accounting(outcome.intake)
    warnings = {p.field: p.reason for p in outcome.problems if p.path == f"{TERM}/损坏"}
    assert "文件名是 .mp4，但内容不是视频（无法识别）" in warnings["文件 不是视频.mp4"]  # checked by content, not name
    assert "空的" in warnings["文件 空白.docx"]
    assert "PDF" in warnings["文件 坏的.pdf"]
    assert all(not p.refused for p in outcome.problems if p.path == f"{TERM}/损坏")
    text = page(project, "损坏")
    assert "正常的学习单" in text
    for name in ("不是视频.mp4", "空白.docx", "坏的.pdf", "好的.pdf"):
        assert f"下载 {name}" in text


def test_a_micro_lesson_over_ten_minutes_is_a_warning_not_a_refusal(site) -> None:
    project, outcome = site
    (warning,) = [p for p in outcome.problems if p.path == f"{TERM}/超长微课"]
    assert not warning.refused
    assert "11:00" in warning.reason and "10 分钟" in warning.reason
    assert "<h1>超长微课</h1>" in page(project, "超长微课")


def test_second_build_does_no_extraction_or_encoding_and_links_media(site) -> None:
    project, first = site
    again = pipeline.build_site(project)
    assert again.cache is not None and first.cache is not None
    assert again.cache.misses == 0
    assert again.cache.hits == first.cache.hits + first.cache.misses
    original = project.resources / TERM / "视频" / "录屏.avi"
    published = project.site / "r" / f"{TERM}-视频" / "files" / "录屏.avi"
    assert published.stat().st_ino == original.stat().st_ino  # a hard link, not a second copy


def test_missing_libreoffice_is_said_once_and_files_stay_downloadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_LIBREOFFICE", "")
    project = make_project(tmp_path / "school")
    for name in ("甲", "乙"):
        folder = project.resources / TERM / name
        write_meta(folder, {**BASE, "title": name})
        (folder / "旧教案.doc").write_bytes(b"\xd0\xcf\x11\xe0 not really")
        make_docx(folder / "新教案.docx", name, [("过程", [f"{name}的过程。"])])
    outcome = pipeline.build_site(project)
    notes = [p for p in outcome.problems if "LibreOffice" in p.reason]
    assert len(notes) == 1 and "apt-get install libreoffice" in notes[0].reason
    text = (project.site / "r" / f"{TERM}-甲" / "index.html").read_text(encoding="utf-8")
    assert "下载 旧教案.doc" in text and "甲的过程。" in text
    assert not list((project.site / "r").glob("*/media/*-preview.pdf"))


def test_pdf_text_keeps_chinese_words_whole_across_line_breaks(tmp_path: Path) -> None:
    from portal.documents import join_lines, read_pdf

    # A heading long enough to wrap over several lines of the printed page.
    sentence = "教师利用信息技术创设情境，激发学生的学习兴趣，" * 5 + "认识钟表"
    found = read_pdf(make_pdf(tmp_path / "长段落.pdf", sentence))
    assert sentence in found.parts  # one paragraph, no space where a line broke, 用 not ⽤
    assert join_lines(["第一行末尾", "接着写", "Photo", "synthesis"]) == "第一行末尾接着写 Photo synthesis"


def test_pdfs_read_from_many_threads_at_once(tmp_path: Path) -> None:
    """Conversion threads may read two PDFs at the same moment; PDFium must not see that."""
    from concurrent.futures import ThreadPoolExecutor

    from portal.documents import read_pdf

    pdf = make_pdf(tmp_path / "学习单.pdf", "正常的学习单")
    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(lambda _: " ".join(read_pdf(pdf).parts), range(64)))
    assert set(texts) == {"正常的学习单"}


def test_a_truncated_video_is_a_clear_error_and_a_whole_one_gets_a_poster(tmp_path: Path) -> None:
    from portal.video import MediaError, poster, probe

    whole = tmp_path / "微课.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(whole))
    info = probe(whole)
    assert (info.video_codec, info.width, info.height, info.pixel_format) == ("h264", 320, 240, "yuv420p")
    assert 2.9 < info.duration < 3.1 and info.browser_playable(".mp4")
    poster(whole, tmp_path / "poster.jpg", info.duration)
    assert (tmp_path / "poster.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    truncated = tmp_path / "断了.mp4"
    truncated.write_bytes(whole.read_bytes()[:1500])  # the header says MP4; the data is gone
    with pytest.raises(MediaError) as caught:
        probe(truncated)
        poster(truncated, tmp_path / "never.jpg", 3)
    assert str(tmp_path) not in str(caught.value)  # no server paths in reports


@pytest.mark.parametrize("name", ["../x.pdf", "..", ".", "", "/etc/passwd", "a/../../x.pdf", "a/../../files-2/x.pdf"])
def test_the_last_check_before_placing_a_file_refuses_names_leading_out_of_its_folder(tmp_path: Path, name: str) -> None:
    from portal.build import contained

    with pytest.raises(ValueError):
        contained(tmp_path / "r" / "a" / "files", name)


def test_names_inside_the_folder_are_placed_there(tmp_path: Path) -> None:
    from portal.build import contained

    folder = tmp_path / "r" / "a" / "files"
    assert contained(folder, "教案 1.pdf") == str(folder / "教案 1.pdf")
    assert contained(folder, "sub/../x.pdf") == str(folder / "x.pdf")
