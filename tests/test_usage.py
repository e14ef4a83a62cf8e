"""Usage statistics from access logs: what counts as a view, a play and a download, what does
not, and reading only new lines."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from pathlib import Path

from portal.usage import classify, read_usage

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0 Safari/537.36 QIHU 360SE"
PHONE = "Mozilla/5.0 (Linux; Android 12) AppleWebKit/537.36 Chrome/116.0 Mobile Safari/537.36 MicroMessenger/8.0.47"
PAGE = "/r/2023-2024-1-%E6%95%B0%E5%AD%A6/"
VIDEO = "/r/2023-2024-1-%E6%95%B0%E5%AD%A6/files/%E9%92%9F%E8%A1%A8.mp4"
DOC = "/r/2023-2024-1-%E6%95%B0%E5%AD%A6/files/%E6%95%99%E5%AD%A6%E8%AE%BE%E8%AE%A1.docx"
ID = "2023-2024-1-数学"


def line(path: str, ip: str = "10.1.2.3", agent: str = BROWSER, status: int = 200, method: str = "GET", day: str = "12/Mar/2024") -> str:
    return f'{ip} - - [{day}:10:15:32 +0800] "{method} {path} HTTP/1.1" {status} 1234 "-" "{agent}"\n'


def test_what_counts(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    text = "".join([
        line(PAGE), line(PAGE), line(PAGE.rstrip("/") + "/index.html"),  # 3 views
        line(PAGE, method="HEAD"), line(PAGE, status=404), line(PAGE, status=500),
        line(PAGE, agent="Mozilla/5.0 (compatible; Baiduspider/2.0)"), line(PAGE, agent="curl/8.5.0"),
        line("/assets/stylesheets/main.css"), line("/search/"), line("/r/"),
        *[line(VIDEO, status=206) for _ in range(6)],  # one visitor seeking: one play
        line(VIDEO, ip="10.1.2.4", agent=PHONE, status=206),  # another visitor
        line(VIDEO, day="13/Mar/2024"),  # the first visitor again, the next day
        line(DOC), line(DOC, status=206), line(DOC, ip="10.9.9.9"),  # two downloads
        line(PAGE.replace("%E6%95%B0", "%E8%8B%B1"), ip="10.1.2.3"),  # another resource's page
        'garbage line without the format\n',
    ])
    (logs / "access.log").write_text(text, encoding="utf-8")
    usage = read_usage(tmp_path, tmp_path / "cache" / "usage.pickle", today=dt.date(2024, 3, 13))
    counts = usage.of(ID)
    assert (counts.views, counts.plays, counts.downloads) == (3, 3, 2)
    assert counts.recent_views == 3
    assert usage.of("2023-2024-1-英学").views == 1
    assert usage.lines == text.count("\n")


def test_only_new_lines_are_read_and_rotation_is_followed(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    state = tmp_path / "cache" / "usage.pickle"
    log = logs / "access.log"
    log.write_text(line(PAGE) + line(PAGE), encoding="utf-8")
    assert read_usage(tmp_path, state).of(ID).views == 2
    with log.open("a", encoding="utf-8") as handle:
        handle.write(line(PAGE) + line(PAGE)[:30])  # one whole line and half of one being written
    second = read_usage(tmp_path, state)
    assert second.lines == 1 and second.of(ID).views == 3
    with log.open("a", encoding="utf-8") as handle:
        handle.write(line(PAGE)[30:])
    assert read_usage(tmp_path, state).of(ID).views == 4
    assert read_usage(tmp_path, state).lines == 0  # nothing new: nothing read
    # Rotation: yesterday's file compressed, a new one started.
    with gzip.open(logs / "access.log.1.gz", "wb") as handle:
        handle.write(log.read_bytes())
    log.write_text(line(PAGE, day="14/Mar/2024"), encoding="utf-8")
    rotated = read_usage(tmp_path, state)
    # The compressed copy holds lines already counted from access.log: the school's rotated
    # file names differ, so counts are by file; what matters is that new lines are counted.
    assert rotated.of(ID).views >= 5


def test_nginx_logs_named_in_settings_are_read(tmp_path: Path) -> None:
    nginx = tmp_path / "nginx"
    nginx.mkdir()
    with gzip.open(nginx / "access.log.2.gz", "wt", encoding="utf-8") as handle:
        handle.write(line(PAGE) * 4)
    (nginx / "access.log").write_text(line(DOC), encoding="utf-8")
    usage = read_usage(tmp_path, tmp_path / "state.pickle", configured=[str(nginx / "access.log*")])
    assert usage.files == 2 and usage.of(ID).views == 4 and usage.of(ID).downloads == 1


def test_classify() -> None:
    assert classify(PAGE) == ("view", ID, "")
    assert classify(VIDEO) == ("play", ID, "钟表.mp4")
    assert classify("/r/x/media/preview.mp4?v=1") == ("play", "x", "preview.mp4")
    assert classify("/r/x/media/preview.pdf") is None  # a preview is part of the page, not a download
    assert classify("/r/x/files/a.pdf") == ("download", "x", "a.pdf")
    assert classify("/r/x/files/照片.PNG") is None  # a picture shown on its page is part of the view
    assert classify("/portal/r/x/", prefix="/portal/") == ("view", "x", "")
    assert classify("/assets/x.js") is None and classify("/r/") is None


def test_a_million_lines_are_read_in_seconds(tmp_path: Path, capsys) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    block = "".join(line(PAGE, ip=f"10.0.{i % 200}.{i % 250}") + line(VIDEO, ip=f"10.1.{i % 200}.{i % 250}", status=206) + line("/assets/a.css") for i in range(1000))
    (logs / "access.log").write_text(block * 333, encoding="utf-8")
    started = time.perf_counter()
    usage = read_usage(tmp_path, tmp_path / "state.pickle")
    seconds = time.perf_counter() - started
    assert usage.lines == 999_000 and usage.of(ID).views == 333_000
    with capsys.disabled():
        print(f"\nusage: {usage.lines} lines in {seconds:.1f} s")


def test_a_rotated_log_is_not_counted_again(tmp_path: Path) -> None:
    # `make serve` rotates at midnight by renaming access.log to access.log.<date> (nginx's
    # logrotate renames and may compress it): lines counted before the rename count once.
    logs = tmp_path / "logs"
    logs.mkdir()
    state = tmp_path / "cache" / "usage.pickle"
    log = logs / "access.log"
    log.write_text(line(PAGE) + line(DOC), encoding="utf-8")
    assert read_usage(tmp_path, state).of(ID).views == 1
    with log.open("a", encoding="utf-8") as handle:
        handle.write(line(PAGE))  # written after that build, before midnight
    log.rename(logs / "access.log.2024-03-12")
    log.write_text(line(PAGE, day="13/Mar/2024"), encoding="utf-8")
    counts = read_usage(tmp_path, state).of(ID)
    assert (counts.views, counts.downloads) == (3, 1)
    # Compressed later (logrotate's delaycompress): still the same lines.
    rotated = logs / "access.log.2024-03-12"
    with gzip.open(logs / "access.log.2024-03-12.gz", "wb") as handle:
        handle.write(rotated.read_bytes())
    rotated.unlink()
    counts = read_usage(tmp_path, state).of(ID)
    assert (counts.views, counts.downloads) == (3, 1)


def test_a_damaged_log_is_skipped_with_a_note_and_read_on_later(tmp_path: Path) -> None:
    # logrotate compressing yesterday's log while the build runs leaves a truncated .gz; an
    # unreadable log must not stop the site being built, and its lines count once when whole.
    logs = tmp_path / "logs"
    logs.mkdir()
    state = tmp_path / "cache" / "usage.pickle"
    text = (line(PAGE) * 3000).encode("utf-8")
    whole = gzip.compress(text)
    (logs / "access.log.1.gz").write_bytes(whole[: len(whole) // 2])
    (logs / "access.log").write_text(line(DOC), encoding="utf-8")
    usage = read_usage(tmp_path, state)
    assert usage.of(ID).downloads == 1
    assert len(usage.skipped) == 1 and "access.log.1.gz" in usage.skipped[0]
    (logs / "access.log.1.gz").write_bytes(whole)
    usage = read_usage(tmp_path, state)
    assert usage.of(ID).views == 3000 and usage.skipped == ()
