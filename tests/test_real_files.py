"""What teachers really hand in must come out right: PDFs whose fonts have no Unicode map, Word
content controls, encrypted PDFs, hand-typed subtitles, screen-recorder WebMs, MP4s with the index
at the end, H.264 in other containers, damaged videos, portrait phone videos; and every message
names the file and says in Chinese what to do. One real build over all of them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from factories import make_pdf, make_project, make_video, write_meta
from real_files import GARBLED_CODES, content_controls_docx, ffmpeg, type3_pdf, webm_with_long_sizes

from portal import cli, pipeline
from portal.project import Project

TERM = "2023-2024-1"
BASE = {"type": "教学资源", "subject": "英语", "grade": "五年级", "competencies": ["B2"], "authors": ["刘洋"]}


def ffprobe(path: Path, *entries: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", *entries, str(path)], check=True, capture_output=True).stdout
    return json.loads(out)


def frame_hashes(path: Path, stream: str) -> list[str]:
    """MD5 of every decoded frame: equal for a stream copy, different after any re-encode."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-f", "framemd5", "-"],
                         check=True, capture_output=True, text=True).stdout
    return [line.rsplit(",", 1)[-1].strip() for line in out.splitlines() if not line.startswith("#")]


def lavfi(target: Path, *codec: str, seconds: str = "2", size: str = "320x240", audio: bool = True) -> Path:
    inputs = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=15"] + (["-f", "lavfi", "-i", "sine=f=440"] if audio else [])
    ffmpeg(*inputs, "-t", seconds, *codec, *(["-shortest"] if audio else []), str(target))
    return target


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pipeline.Outcome, str]:
    root = tmp_path_factory.mktemp("real")
    project = make_project(root / "school")
    res = project.resources / TERM
    scratch = root / "scratch"
    scratch.mkdir()

    docs = res / "文档"
    write_meta(docs, {**BASE, "title": "老师交来的文档"})
    (docs / "乱码.pdf").write_bytes(type3_pdf(GARBLED_CODES))
    make_pdf(docs / "正常.pdf", "认识钟表的学习单")
    content_controls_docx(docs / "模板.docx")
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret", algorithm="RC4-128")
    writer.write(docs / "加密.pdf")

    captions = res / "字幕"
    write_meta(captions, {**BASE, "title": "英语课的字幕", "type": "微课"})
    make_video(captions / "英语课.mp4")
    (captions / "英语课.srt").write_text("1\n00:00:00,1 --> 00:00:02\nGood morning, class.\n\n2\n0:02.5 --> 0:03\nLet's read together.\n",
                                         encoding="utf-8")

    recordings = res / "录屏"
    write_meta(recordings, {**BASE, "title": "浏览器录屏", "type": "微课"})
    # What MediaRecorder writes: a live WebM, no duration, no cues.
    live = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
                           "-f", "lavfi", "-i", "sine=f=440", "-t", "3", "-c:v", "libvpx", "-b:v", "200k", "-c:a", "libopus",
                           "-shortest", "-live", "1", "-f", "webm", "-"], check=True, capture_output=True).stdout
    (recordings / "屏幕录制.webm").write_bytes(live)
    webm_with_long_sizes(lavfi(scratch / "tiny.webm", "-c:v", "libvpx", seconds="0.4", size="64x48", audio=False), recordings / "很短.webm")

    remux = res / "封装"
    write_meta(remux, {**BASE, "title": "换个封装就能播放", "type": "微课"})
    lavfi(remux / "相机.mp4", *H264, "-c:a", "aac")  # ffmpeg's default: the index (moov) at the end
    lavfi(remux / "剪辑.mov", *H264, "-c:a", "aac")
    lavfi(remux / "直播.flv", *H264, "-c:a", "aac")
    lavfi(remux / "录课.mkv", *H264, "-c:a", "libmp3lame")  # H.264 with MP3 (PyAV: mp3float)
    lavfi(remux / "老机器.avi", *H264, "-c:a", "pcm_s16le")  # PCM: the audio needs AAC, the picture does not

    broken = res / "坏视频"
    write_meta(broken, {**BASE, "title": "损坏的视频", "type": "微课"})
    first, second = lavfi(scratch / "a.ts", *H264, seconds="1", audio=False), scratch / "b.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-t", "1", *H264, "-output_ts_offset", "86400", str(second))
    (broken / "时间戳跳变.ts").write_bytes(first.read_bytes() + second.read_bytes())  # "lasts" 24 hours
    (broken / "截断.mp4").write_bytes(make_video(scratch / "whole.mp4").read_bytes()[:2000])

    phone = res / "手机"
    write_meta(phone, {**BASE, "title": "手机竖拍", "type": "微课"})
    lavfi(phone / "竖屏.mp4", *H264, "-c:a", "aac", "-movflags", "+faststart", size="360x640")

    outcome = pipeline.build_site(project)
    return project, outcome, ""


def page(project: Project, name: str) -> str:
    return (project.site / "r" / f"{TERM}-{name}" / "index.html").read_text(encoding="utf-8")


def section(text: str, name: str) -> str:
    return text.split(f"<h3>{name}", 1)[1].split("</section>", 1)[0]


def media(project: Project, name: str) -> Path:
    return project.site / "r" / f"{TERM}-{name}" / "media"


def warnings(outcome: pipeline.Outcome, folder: str) -> dict[str, str]:
    return {p.field: p.reason for p in outcome.problems if p.path == f"{TERM}/{folder}"}


# -- documents -----------------------------------------------------------------------------------


def test_garbled_pdf_text_is_a_warning_and_reaches_neither_page_nor_search(built) -> None:
    project, outcome, _ = built
    reason = warnings(outcome, "文档")["文件 乱码.pdf"]
    assert "乱码" in reason and "请" in reason
    text = page(project, "文档")
    assert "认识钟表的学习单" in text  # a good PDF beside it is read as before
    garbage = ("ÍÆ", "\\u00cd\\u00c6", "&#205;")
    for path in project.site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".js", ".txt"):
            content = path.read_text(encoding="utf-8", errors="replace")
            assert not any(g in content for g in garbage), path


def test_is_garbled_tells_codes_from_language() -> None:
    from portal.documents import is_garbled

    assert is_garbled("ÍÆ#(ØK) 1õ \x9c\x88¡³\x07\x12" * 3)
    assert not is_garbled("教师利用信息技术创设情境，激发学生的学习兴趣。")
    assert not is_garbled("Photosynthesis needs light, water and carbon dioxide (CO2).")
    assert not is_garbled("第 1 页")  # too short to judge
    assert not is_garbled("bà ba mā ma, nǚ ér, lǜ sè, zhōng guó")  # pinyin
    assert not is_garbled("∠A = 30°，∠B = 60°，温度 ±0.5°C，面积 3×4 m²")
    assert not is_garbled("(a+b)² = a² + 2ab + b²; (a-b)² = a² - 2ab + b²")


def test_word_content_controls_are_read_into_page_and_search(built) -> None:
    project, _, _ = built
    text = page(project, "文档")
    assert "<p>认识钟表的教学目标</p>" in text  # a block-level control
    assert "<p>课题名称：时分秒的认识</p>" in text  # an inline control
    assert "<td>授课教师</td><td>王芳老师</td>" in text  # a control in a table cell
    search = "".join(p.read_text(encoding="utf-8") for p in (project.site / "search").rglob("*.json")) if (project.site / "search").exists() else ""
    search += "".join(p.read_text(encoding="utf-8") for p in project.site.rglob("search*.json"))
    assert "时分秒的认识" in search or "\\u65f6\\u5206\\u79d2" in search


def test_encrypted_pdf_is_called_encrypted_with_what_to_do(built) -> None:
    _, outcome, _ = built
    reason = warnings(outcome, "文档")["文件 加密.pdf"]
    assert "加密" in reason and "密码" in reason and "不加密" in reason
    assert "损坏" not in reason


# -- subtitles -----------------------------------------------------------------------------------


def test_hand_typed_srt_timings_are_normalised_and_english_is_labelled_english(built) -> None:
    project, outcome, _ = built
    (vtt,) = media(project, "字幕").glob("*-captions.vtt")
    captions = vtt.read_text(encoding="utf-8")
    assert "00:00:00.100 --> 00:00:02.000\nGood morning, class." in captions
    assert "00:00:02.500 --> 00:00:03.000\nLet's read together." in captions
    assert f'<track kind="captions" srclang="en" label="英语字幕" src="media/{vtt.name}" default>' in page(project, "字幕")
    assert not warnings(outcome, "字幕")


def test_srt_without_any_timing_is_a_warning_naming_what_to_do() -> None:
    from portal.video import MediaError, srt_to_vtt

    with pytest.raises(MediaError, match="请用字幕软件"):
        srt_to_vtt("1\nhello\n\n2\nworld\n")


# -- videos --------------------------------------------------------------------------------------


def test_screen_recorder_webm_is_remuxed_with_duration_and_cues(built) -> None:
    project, _, _ = built
    text = page(project, "录屏")
    part = section(text, "屏幕录制.webm")
    (published,) = media(project, "录屏").glob("*-video.webm")
    assert f'src="media/{published.name}"' in part
    assert abs(float(ffprobe(published, "-show_format")["format"]["duration"]) - 3) < 0.2
    assert b"\x1c\x53\xbb\x6b" in published.read_bytes()  # Cues: the player can seek
    assert '<span class="portal-duration">0:03</span>' in part  # the published file's duration, not 0:00


def test_a_tiny_valid_webm_is_a_video(built) -> None:
    project, outcome, _ = built
    assert "文件 很短.webm" not in warnings(outcome, "录屏")
    assert "<video" in section(page(project, "录屏"), "很短.webm")


def test_h264_is_remuxed_not_reencoded(built) -> None:
    project, outcome, _ = built
    folder = project.resources / TERM / "封装"
    text = page(project, "封装")
    assert not warnings(outcome, "封装")
    for name in ("相机.mp4", "剪辑.mov", "直播.flv", "录课.mkv", "老机器.avi"):
        src = re.search(r'<video [^>]*src="media/([^"]+)"', section(text, name))
        assert src, name
        published = media(project, "封装") / src.group(1)
        assert frame_hashes(published, "v:0") == frame_hashes(folder / name, "v:0"), name  # the same H.264, copied
        data = published.read_bytes()
        assert data.find(b"moov") < data.find(b"mdat"), name  # index first: playback starts at once
        audio = {s["codec_name"] for s in ffprobe(published, "-show_streams")["streams"] if s["codec_type"] == "audio"}
        assert audio == ({"mp3"} if name == "录课.mkv" else {"aac"}), name
    mov = re.search(r'src="media/([^"]+)"', section(text, "剪辑.mov"))
    assert mov and frame_hashes(media(project, "封装") / mov.group(1), "a:0") == frame_hashes(folder / "剪辑.mov", "a:0")  # AAC copied


def test_damaged_videos_are_downloads_with_a_warning_not_dead_players(built) -> None:
    project, outcome, _ = built
    found = warnings(outcome, "坏视频")
    assert "24:00:01" in found["文件 时间戳跳变.ts"] and "请" in found["文件 时间戳跳变.ts"]
    assert "请" in found["文件 截断.mp4"]
    text = page(project, "坏视频")
    for name in ("时间戳跳变.ts", "截断.mp4"):
        part = section(text, name)
        assert "<video" not in part and "portal-duration" not in part
        assert "请下载后用播放器观看" in part and f"下载 {name}" in part


def test_portrait_phone_video_fits_the_column_and_the_window(built, serve, offline_page) -> None:
    project, _, _ = built
    server = serve(project.site)
    browser_page = offline_page.page
    browser_page.goto(server.url + f"r/{TERM}-手机/")
    browser_page.wait_for_function("document.querySelector('video').readyState >= 1")
    box = browser_page.locator("video").bounding_box()
    column = browser_page.locator(".portal-file").bounding_box()
    assert box is not None and column is not None
    assert box["width"] <= column["width"] + 1
    assert box["height"] <= 0.8 * 900 + 1


# -- messages ------------------------------------------------------------------------------------


def test_closing_line_counts_every_printed_warning(built, capsys: pytest.CaptureFixture[str]) -> None:
    project, _, _ = built
    assert cli.main(["--root", str(project.root), "site"]) == 0
    out = capsys.readouterr().out
    printed = out.count("[提醒]")
    (total,) = re.findall(r"提醒 (\d+) 条", out)
    assert printed >= 4 and int(total) == printed
    summary = (project.reports / "problems.txt").read_text(encoding="utf-8")
    assert f"提醒 {printed} 条" in summary


def test_os_errors_are_said_in_chinese() -> None:
    from portal.documents import os_reason, translate_strerror

    assert os_reason(PermissionError(1, "Operation not permitted")) == "操作不被允许（没有权限，或文件结构异常）"
    assert "Operation not permitted" not in translate_strerror("Error while decoding stream #0:0: Operation not permitted")


def test_every_warning_says_what_to_do(built) -> None:
    _, outcome, _ = built
    for problem in outcome.problems:
        assert re.search(r"[\u4e00-\u9fff]", problem.reason), problem
        assert "请" in problem.reason or "仍" in problem.reason, problem
        assert not re.search(r"\b(Operation|permitted|Error|Invalid)\b", problem.reason), problem
