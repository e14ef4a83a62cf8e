"""Videos with FFmpeg: probe, poster frames, make browser-playable, captions.

Teachers hand in what their screen recorders write (EV录屏, Camtasia): .mp4, .flv, .wmv, .avi,
.mov. Browsers play H.264/AAC in MP4 and VP8/VP9/AV1 in WebM; everything else is re-encoded once
to H.264/AAC MP4 with the index at the front (+faststart) so playback starts before the download
ends. Probing and poster frames use FFmpeg's libraries in-process (PyAV): starting the ffprobe and
ffmpeg programs cost ~0.1 s per video, reading a header and one frame costs a few milliseconds.
Re-encoding, long and rare, runs the ffmpeg program. Each function takes a source and writes one
target; caching is the caller's business.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = {".mp4", ".m4v", ".webm", ".mov", ".flv", ".wmv", ".avi", ".mkv", ".mpg", ".mpeg", ".3gp", ".ts"}
CAPTION_SUFFIXES = {".vtt", ".srt"}
_BROWSER_MP4 = ({"h264"}, {"aac", "mp3"})
_BROWSER_WEBM = ({"vp8", "vp9", "av1"}, {"vorbis", "opus"})
TIMEOUT = 3600  # a 45-minute lesson recording on a slow server


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
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as error:
        raise MediaError(f"{what}超时") from error
    if result.returncode != 0:
        last = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["未知错误"]
        # ffmpeg names the file by its full path: keep the server's folders out of the report.
        detail = last[0].split(": ", 1)[-1] if last[0].startswith("/") else last[0]
        raise MediaError(f"{what}失败：{detail[:200]}")
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
            return VideoInfo(
                duration=duration,
                video_codec=video.codec_context.name or "",
                audio_codec=audio.codec_context.name if audio is not None else None,
                width=video.codec_context.width or 0,
                height=video.codec_context.height or 0,
                pixel_format=video.codec_context.pix_fmt or "",
                container=container.format.name,
            )
    except av.error.FFmpegError as error:
        raise MediaError(f"读取视频信息失败：{_reason(error)}") from error


def _reason(error: Exception) -> str:
    """FFmpeg's reason without the file's path (the server's folders stay out of reports)."""
    return str(getattr(error, "strerror", None) or type(error).__name__)[:200]


def transcode(source: Path, target: Path) -> None:
    """Re-encode to H.264/AAC MP4, even dimensions, 4:2:0, index at the front."""
    _run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source),
         "-map", "0:v:0", "-map", "0:a:0?",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
         "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2",
         "-movflags", "+faststart", "-f", "mp4", str(target)],
        "视频转码",
    )


def poster(source: Path, target: Path, duration: float) -> None:
    """A JPEG frame a little way in (a first frame is often black), at most 640 px wide."""
    import av

    at = min(1.0, duration / 3) if duration > 0 else 0.0
    try:
        with av.open(str(source), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if at and stream.time_base:
                container.seek(int(at / stream.time_base), stream=stream)  # the key frame before `at`
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


_SRT_TIME = re.compile(r"(\d{1,2}:\d{2}:\d{2}),(\d{3})")


def srt_to_vtt(text: str) -> str:
    """SubRip to WebVTT: a header, and "," before milliseconds becomes "."."""
    body = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "WEBVTT\n\n" + _SRT_TIME.sub(r"\1.\2", body).strip() + "\n"


def decode_subtitles(data: bytes) -> str:
    """Caption files from Chinese Windows tools are often GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MediaError("字幕文件编码无法识别，请另存为 UTF-8")


def captions(source: Path, target: Path) -> None:
    text = decode_subtitles(source.read_bytes())
    if source.suffix.lower() == ".srt":
        text = srt_to_vtt(text)
    elif not text.lstrip().startswith("WEBVTT"):
        raise MediaError("VTT 字幕文件应以 WEBVTT 开头")
    target.write_text(text, encoding="utf-8")
