"""A teacher deletes, moves or copies over a file while the site builds: the build goes on without
it and says so; the next build publishes what is there then."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from factories import make_docx, make_project, make_video, write_meta

from portal import pipeline
from portal.build import add_attachments
from portal.catalog import load_catalog
from portal import video
from portal.extract import UNSTEADY, Cache, ExtractMemo, Tools, Unsteady, extract
from portal.intake import RecordMemo, scan

T = "2023-2024-1"
META = {"title": "认识钟表", "type": "教学设计", "subject": "数学", "grade": "一年级", "competencies": ["B2"], "authors": ["张敏"]}


def test_a_file_deleted_after_intake_is_left_out_with_a_warning(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    folder = project.resources / T / "钟表"
    write_meta(folder, META)
    make_docx(folder / "教学设计.docx", "认识钟表", [("目标", ["认识整时。"])])
    (folder / "照片.txt").write_text("说明", encoding="utf-8")
    catalog = load_catalog(project.catalog)
    intake = scan(project.resources, catalog)
    (folder / "教学设计.docx").unlink()  # between intake and extraction

    extracted, problems = extract(intake.records, Cache(project.cache), catalog, Tools.detect(previews=False))
    assert [a.name for a in intake.records[0].attachments] == ["照片.txt"]
    assert any(p.field == "文件 教学设计.docx" and "删除或移动" in p.reason and not p.refused for p in problems)

    (folder / "照片.txt").unlink()  # between extraction and publishing
    out = tmp_path / "out"
    add_attachments(intake.records, extracted, out)
    assert not (out / "r" / intake.records[0].id / "files" / "照片.txt").exists()

    (folder / "照片.txt").write_text("说明", encoding="utf-8")  # put back: the next build publishes it
    outcome = pipeline.build_site(project)
    assert (project.site / "r" / intake.records[0].id / "files" / "照片.txt").exists()
    assert not [p for p in outcome.problems if "删除或移动" in p.reason]


def test_what_was_read_from_a_file_being_copied_over_is_not_kept_for_its_content(tmp_path: Path) -> None:
    # A teacher copies the same folder in again: the finished file has the very content hashed
    # before the copy began, so a failure read from the half-written one must not stick to it.
    # The same video is in a second submission too: either copy may be the one being read.
    clip = make_video(tmp_path / "a" / "课堂实录.mp4", seconds=2)
    data = clip.read_bytes()
    twin = tmp_path / "b" / "课堂实录.mp4"
    twin.parent.mkdir()
    twin.write_bytes(data)
    cache = Cache(tmp_path / "cache")
    digest = cache.digest(clip)
    assert cache.digest(twin) == digest

    def probe_while_copying() -> str:
        clip.write_bytes(data[:100])  # the copy has begun
        return video.probe(clip).to_json()

    def poster_while_copying(target: Path) -> None:
        clip.write_bytes(data[:200])
        video.poster(clip, target, 1.0)

    def pages_while_copying(target: Path) -> None:  # an artefact that is a folder (a PDF's page images)
        target.mkdir()
        (target / "1.jpg").write_bytes(b"made from the half-written file")
        clip.write_bytes(data[:300])

    with pytest.raises(Unsteady, match="正被修改或复制"):
        cache.text("probe", digest, probe_while_copying)
    with pytest.raises(Unsteady, match="正被修改或复制"):
        cache.artefact("poster", digest, ".jpg", poster_while_copying)
    with pytest.raises(Unsteady, match="正被修改或复制"):
        cache.artefact("sheets", digest, ".pages", pages_while_copying)
    cache.save()
    assert not [p for p in (tmp_path / "cache").rglob("*") if "partial" in p.name]

    clip.write_bytes(data)  # the copy is done: the same content as before
    later = Cache(tmp_path / "cache")
    assert later.digest(clip) == digest
    assert video.VideoInfo.from_json(later.text("probe", digest, lambda: video.probe(clip).to_json())).duration > 1.5
    assert later.artefact("poster", digest, ".jpg", lambda target: video.poster(clip, target, 1.0)).stat().st_size > 1000


def _copy_over_and_over(clip: Path, data: bytes, copying: threading.Event, mtime_ns: int | None = None) -> None:
    """The same file written again and again in place: its size and type never change, its index
    comes and goes; with `mtime_ns`, each finished copy gets its old time back (`cp -p`)."""
    with clip.open("r+b") as handle:
        while copying.is_set():
            for head in (bytes(4064), data[32:4096]):
                handle.seek(32)
                handle.write(head)
                handle.flush()
                os.utime(handle.fileno())
            if mtime_ns is not None:
                os.utime(handle.fileno(), ns=(mtime_ns, mtime_ns))


def test_a_build_while_a_video_is_copied_over_says_so_and_the_next_build_plays_it(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    folder = project.resources / T / "钟表"
    write_meta(folder, {**META, "type": "微课"})
    clip = make_video(folder / "课堂实录.mp4", seconds=2)
    data = clip.read_bytes()
    copying = threading.Event()
    copying.set()
    copier = threading.Thread(target=_copy_over_and_over, args=(clip, data, copying))
    copier.start()
    try:
        outcome = pipeline.build_site(project)
    finally:
        copying.clear()
        copier.join()
    said = [p for p in outcome.problems if "课堂实录" in p.field]
    assert len(said) == 1 and said[0].reason == UNSTEADY and not said[0].refused, [str(p) for p in outcome.problems]

    clip.write_bytes(data)
    outcome = pipeline.build_site(project)
    assert not [p for p in outcome.problems if "课堂实录" in p.field], [str(p) for p in outcome.problems]
    page = (project.site / "r" / f"{T}-钟表" / "index.html").read_text(encoding="utf-8")
    assert "<video" in page and "无法在网页上播放" not in page


def test_a_submission_read_while_copied_over_is_not_remembered_even_when_the_copy_keeps_its_time(tmp_path: Path) -> None:
    # `cp -p` (or Explorer onto a share) puts the old time back: the next intake signs the folder
    # as before, so what was extracted meanwhile must not have been remembered under that signature.
    project = make_project(tmp_path / "school")
    folder = project.resources / T / "钟表"
    write_meta(folder, {**META, "type": "微课"})
    clip = make_video(folder / "课堂实录.mp4", seconds=2)
    data, mtime = clip.read_bytes(), clip.stat().st_mtime_ns
    catalog = load_catalog(project.catalog)
    records = scan(project.resources, catalog, remembered=RecordMemo(project.cache / "records.pickle", catalog)).records
    assert records[0].digest  # signed by its files: the extract memo may remember it
    memo_path = project.cache / "extracted.pickle"
    tools = Tools.detect(previews=False)

    copying = threading.Event()
    copying.set()
    copier = threading.Thread(target=_copy_over_and_over, args=(clip, data, copying, mtime))
    copier.start()
    try:
        memo = ExtractMemo(memo_path, tools)
        _, problems = extract(records, Cache(project.cache), catalog, tools, memo=memo)
    finally:
        copying.clear()
        copier.join()
    assert [p.reason for p in problems if "课堂实录" in p.field] == [UNSTEADY]
    memo.save()
    clip.write_bytes(data)
    os.utime(clip, ns=(mtime, mtime))

    again = scan(project.resources, catalog, remembered=RecordMemo(project.cache / "records.pickle", catalog)).records
    assert again[0].digest == records[0].digest  # the same signature as before the copy
    assert ExtractMemo(memo_path, tools).recall(again[0]) is None
    extracted, problems = extract(again, Cache(project.cache), catalog, tools, memo=ExtractMemo(memo_path, tools))
    assert not [p for p in problems if "课堂实录" in p.field]
    assert extracted[again[0].id].files["课堂实录.mp4"].video is not None
