"""Videos with FFmpeg: probe, poster frames, make browser-playable, captions.

Teachers hand in what their screen recorders write (EV录屏, Camtasia): .mp4, .flv, .wmv, .avi,
.mov. Browsers play H.264/AAC in MP4 and VP8/VP9/AV1 in WebM; everything else is re-encoded once
to H.264/AAC MP4 with the index at the front (+faststart) so playback starts before the download
ends. Probing and poster frames use FFmpeg's libraries in-process (PyAV): starting the ffprobe and
ffmpeg programs cost ~0.1 s per video, reading a header and one frame costs a few milliseconds.
Re-encoding is the costliest thing a school server does, so a video is re-encoded only when its
streams need it: H.264 in .mov/.flv/.avi/.mkv, or an MP4 with its index at the end, is remuxed
(streams copied, audio made AAC only when browsers cannot play it); a WebM from a browser's
screen recorder (no duration, no cues: it shows 0:00 and cannot be sought) is remuxed into a WebM
that has both. Each function takes a source and writes one target; caching is the caller's business.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .documents import os_reason, run_program, translate_strerror
from .model import decode_chinese

VIDEO_SUFFIXES = {".mp4", ".m4v", ".webm", ".mov", ".flv", ".wmv", ".avi", ".mkv", ".mpg", ".mpeg", ".3gp", ".ts"}
CAPTION_SUFFIXES = {".vtt", ".srt"}
_BROWSER_MP4 = ({"h264"}, {"aac", "mp3"})
_BROWSER_WEBM = ({"vp8", "vp9", "av1"}, {"vorbis", "opus"})
TIMEOUT = 3600  # a 45-minute lesson recording on a slow server
MAX_SECONDS = 12 * 3600  # a longer "duration" is a damaged header, not a lesson
MAX_SIDE = 8192
_COPYABLE_MP4 = ({"h264"}, {"aac", "mp3"}, {"yuv420p", "yuvj420p"})


class MediaError(Exception):
    """FFmpeg could not read or write a file; the message is for admins, in Chinese."""


def ffmpeg_available() -> bool:
    """The ffmpeg program, needed only to re-encode videos browsers cannot play."""
    return shutil.which("ffmpeg") is not None


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    pixel_format: str
    container: str

    @property
    def minutes(self) -> float:
        return self.duration / 60

    @property
    def clock(self) -> str:
        """"3:05" or "1:02:03"."""
        seconds = round(self.duration)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    def sane(self) -> bool:
        """False for what a damaged header claims: a duration of days, a picture of no size."""
        return 0 <= self.duration <= MAX_SECONDS and 0 < self.width <= MAX_SIDE and 0 < self.height <= MAX_SIDE

    def browser_playable(self, suffix: str) -> bool:
        audio_ok = lambda allowed: self.audio_codec is None or self.audio_codec in allowed  # noqa: E731
        if suffix in (".mp4", ".m4v"):
            videos, audios = _BROWSER_MP4
            return self.video_codec in videos and audio_ok(audios) and self.pixel_format in ("yuv420p", "yuvj420p")
        if suffix == ".webm":
            videos, audios = _BROWSER_WEBM
            return self.video_codec in videos and audio_ok(audios)
        return False

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> VideoInfo:
        return cls(**json.loads(text))


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        result = run_program(command, TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise MediaError(f"{what}超时") from error
    if result.returncode != 0:
        last = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["未知错误"]
        # ffmpeg names the file by its full path: keep the server's folders out of the report.
        detail = last[0].split(": ", 1)[-1] if last[0].startswith("/") else last[0]
        raise MediaError(f"{what}失败：{translate_strerror(detail)[:200]}")
    return result


def probe(path: Path) -> VideoInfo:
    """Duration, codecs and size; MediaError if the file is not a video."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video = next((s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic), None)
            if video is None:
                raise MediaError("文件里没有视频画面，可能不是视频文件或已损坏")
            audio = container.streams.audio[0] if container.streams.audio else None
            if container.duration:
                duration = container.duration / av.time_base
            else:
                duration = float(video.duration * video.time_base) if video.duration and video.time_base else 0.0
            info = VideoInfo(
                duration=duration,
                video_codec=_codec_name(video),
                audio_codec=_codec_name(audio) if audio is not None else None,
                width=video.codec_context.width or 0,
                height=video.codec_context.height or 0,
                pixel_format=video.codec_context.pix_fmt or "",
                container=container.format.name,
            )
    except av.error.FFmpegError as error:
        raise MediaError(f"读取视频信息失败：{_reason(error)}，文件可能已损坏；请用播放器打开检查，必要时重新导出视频后提交") from error
    if not info.sane():
        raise MediaError(f"视频信息异常（时长 {info.clock}，画面 {info.width}×{info.height}），文件可能已损坏，网页上不提供播放；"
                         "请用播放器打开检查，必要时重新导出视频后提交")
    return info


def _codec_name(stream: object) -> str:
    """The codec's own name (mp3), not its decoder's (mp3float, aac_fixed)."""
    codec = stream.codec_context.codec  # type: ignore[attr-defined]
    return str(getattr(codec, "canonical_name", None) or codec.name or "")


def _reason(error: Exception) -> str:
    """FFmpeg's reason in Chinese and without the file's path (the server's folders stay out of
    reports)."""
    return os_reason(error)


# How a video is made browser-playable, cheapest first.
AS_IS, WEBM_REMUX, MP4_REMUX, MP4_COPY_VIDEO, TRANSCODE = "as-is", "webm-remux", "mp4-remux", "mp4-copy-video", "transcode"


def moov_at_end(path: Path) -> bool:
    """True for an MP4 whose index (moov) follows its media data: a browser must fetch the end
    of the file before it can play (what many cameras and editors write)."""
    with path.open("rb") as handle:
        while header := handle.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind == b"moov":
                return False
            if kind == b"mdat":
                return True
            if size == 1:
                size = int.from_bytes(handle.read(8), "big") - 8
            elif size == 0:
                return False
            handle.seek(size - 8, 1)
    return False


def plan(info: VideoInfo, suffix: str, path: Path) -> str:
    """What publishing this video takes: nothing, a remux (streams copied), or a re-encode."""
    if info.browser_playable(suffix):
        if suffix == ".webm":
            return WEBM_REMUX if info.duration <= 0 else AS_IS
        return MP4_REMUX if moov_at_end(path) else AS_IS
    videos, audios, pixels = _COPYABLE_MP4
    if info.video_codec in videos and info.pixel_format in pixels:
        return MP4_REMUX if info.audio_codec is None or info.audio_codec in audios else MP4_COPY_VIDEO
    return TRANSCODE


_STREAMS = ["-map", "0:v:0", "-map", "0:a:0?"]
_TO_MP4 = ["-movflags", "+faststart", "-f", "mp4"]
_AAC = ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
_ARGUMENTS = {
    WEBM_REMUX: ["-c", "copy", "-f", "webm"],  # the muxer writes the duration and the cues at the end
    MP4_REMUX: ["-c", "copy", *_TO_MP4],
    MP4_COPY_VIDEO: ["-c:v", "copy", *_AAC, *_TO_MP4],
    TRANSCODE: ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", *_AAC, *_TO_MP4],
}


def playable_suffix(how: str) -> str:
    return ".webm" if how == WEBM_REMUX else ".mp4"


def make_playable(source: Path, target: Path, how: str) -> None:
    """Write the browser-playable copy; a remux that FFmpeg refuses (odd timestamps in an old
    FLV) falls back to re-encoding, into MP4."""
    command = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source), *_STREAMS]
    try:
        _run([*command, *_ARGUMENTS[how], str(target)], "视频转码" if how == TRANSCODE else "视频重新封装")
    except MediaError:
        if how in (TRANSCODE, WEBM_REMUX):
            raise
        _run([*command, *_ARGUMENTS[TRANSCODE], str(target)], "视频转码")


def poster(source: Path, target: Path, duration: float) -> None:
    """A JPEG frame a little way in (a first frame is often black), at most 640 px wide."""
    import av

    at = min(1.0, duration / 3) if duration > 0 else 0.0
    try:
        with av.open(str(source), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if at and stream.time_base:
                try:
                    container.seek(int(at / stream.time_base), stream=stream)  # the key frame before `at`
                except av.error.FFmpegError:
                    pass  # no index to seek by (a screen recorder's WebM): decode from the start
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is None or frame.time >= at:
                    break
            if chosen is None:
                raise MediaError("生成视频封面失败：视频里没有可解码的画面")
            width = min(640, chosen.width)
            height = max(2, round(chosen.height * width / chosen.width / 2) * 2)
            image = chosen.to_image(width=width, height=height)
            image.save(target, format="JPEG", quality=82)
    except av.error.FFmpegError as error:
        raise MediaError(f"生成视频封面失败：{_reason(error)}") from error


# Timings as subtitle tools really write them: "00:00:00,1", "0:00:04", "00:04.5", "1:02:03.45".
_CUE_TIME = re.compile(r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})(?:[,.:](\d{1,3}))?")
_CUE_LINE = re.compile(rf"^\s*({_CUE_TIME.pattern})\s*-+>\s*({_CUE_TIME.pattern})(.*)$")


def _vtt_time(text: str) -> str:
    """One timing as WebVTT writes it: the digits after the comma or dot are a fraction of a
    second (",1" is 100 ms, ",05" 50 ms), missing ones are zero ("00:00:04" is 4.000 s)."""
    match = _CUE_TIME.fullmatch(text.strip())
    assert match is not None
    hours, minutes, seconds, millis = match.groups()
    return f"{int(hours or 0):02d}:{int(minutes):02d}:{int(seconds):02d}.{(millis or '0').ljust(3, '0')}"


def srt_to_vtt(text: str) -> str:
    """SubRip to WebVTT: a header, and each cue's timing line written the way WebVTT requires;
    cue numbers are dropped (a number alone is a cue identifier in WebVTT, harmless but noise)."""
    body = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cues: list[str] = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = block.split("\n")
        for at, line in enumerate(lines[:3]):
            match = _CUE_LINE.match(line)
            if match:
                start, end = _vtt_time(match.group(1)), _vtt_time(match.group(6))
                words = [w for w in lines[at + 1:] if w.strip()]
                if words:
                    cues.append(f"{start} --> {end}\n" + "\n".join(words))
                break
    if not cues:
        raise MediaError("字幕文件里没有可识别的时间轴（应为 00:00:01,000 --> 00:00:04,000 这样的格式），请用字幕软件另存为标准 SRT 或 VTT 后重新提交")
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
LANGUAGES = {"zh": "中文字幕", "en": "英语字幕"}


def caption_language(vtt: str) -> str:
    """"zh" or "en" from what the cues say (an English lesson's captions are English), by counting
    Chinese characters against Latin letters outside the timing lines."""
    text = "\n".join(line for line in vtt.splitlines()[1:] if "-->" not in line)
    han, latin = len(_HAN.findall(text)), len(_LATIN.findall(text))
    return "en" if latin > 4 * han else "zh"


def decode_subtitles(data: bytes) -> str:
    """Caption files from Chinese Windows tools are often GBK."""
    text = decode_chinese(data)
    if text is None:
        raise MediaError("字幕文件编码无法识别，请另存为 UTF-8")
    return text


def captions(source: Path, target: Path) -> None:
    text = decode_subtitles(source.read_bytes())
    if source.suffix.lower() == ".srt":
        text = srt_to_vtt(text)
    elif not text.lstrip("\ufeff").lstrip().startswith("WEBVTT"):
        raise MediaError("VTT 字幕文件应以 WEBVTT 开头，请用字幕软件另存为标准 VTT 或 SRT 后重新提交")
    target.write_text(text, encoding="utf-8")
