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
from portal.extract import UNSTEADY, ArtefactError, Cache, Tools, extract
from portal.intake import scan

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
    clip = make_video(tmp_path / "课堂实录.mp4", seconds=2)
    data = clip.read_bytes()
    cache = Cache(tmp_path / "cache")
    digest = cache.digest(clip)

    def probe_while_copying() -> str:
        clip.write_bytes(data[:100])  # the copy has begun
        return video.probe(clip).to_json()

    def poster_while_copying(target: Path) -> None:
        clip.write_bytes(data[:200])
        video.poster(clip, target, 1.0)

    with pytest.raises(ArtefactError, match="正被修改或复制"):
        cache.text("probe", digest, probe_while_copying)
    with pytest.raises(ArtefactError, match="正被修改或复制"):
        cache.artefact("poster", digest, ".jpg", poster_while_copying)
    cache.save()

    clip.write_bytes(data)  # the copy is done: the same content as before
    later = Cache(tmp_path / "cache")
    assert later.digest(clip) == digest
    assert video.VideoInfo.from_json(later.text("probe", digest, lambda: video.probe(clip).to_json())).duration > 1.5
    assert later.artefact("poster", digest, ".jpg", lambda target: video.poster(clip, target, 1.0)).stat().st_size > 1000


def test_a_build_while_a_video_is_copied_over_says_so_and_the_next_build_plays_it(tmp_path: Path) -> None:
    project = make_project(tmp_path / "school")
    folder = project.resources / T / "钟表"
    write_meta(folder, {**META, "type": "微课"})
    clip = make_video(folder / "课堂实录.mp4", seconds=2)
    data = clip.read_bytes()
    copying = threading.Event()
    copying.set()

    def copy_over_and_over() -> None:  # the same file written again and again while the site builds
        with clip.open("r+b") as handle:  # in place: its size and type never change, its index comes and goes
            while copying.is_set():
                for head in (bytes(4064), data[32:4096]):
                    handle.seek(32)
                    handle.write(head)
                    handle.flush()
                    os.utime(handle.fileno())

    copier = threading.Thread(target=copy_over_and_over)
    copier.start()
    try:
        outcome = pipeline.build_site(project)
    finally:
        copying.clear()
        copier.join()
    assert any(UNSTEADY in p.reason and not p.refused for p in outcome.problems), [str(p) for p in outcome.problems]

    clip.write_bytes(data)
    outcome = pipeline.build_site(project)
    assert not [p for p in outcome.problems if "课堂实录" in p.field], [str(p) for p in outcome.problems]
    page = (project.site / "r" / f"{T}-钟表" / "index.html").read_text(encoding="utf-8")
    assert "<video" in page and "无法在网页上播放" not in page
