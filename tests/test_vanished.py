"""A teacher deletes or moves a file while the site builds: the build goes on without it and says
so; the next build publishes what is there then."""

from __future__ import annotations

from pathlib import Path

from factories import make_docx, make_project, write_meta

from portal import pipeline
from portal.build import add_attachments
from portal.catalog import load_catalog
from portal.extract import Cache, Tools, extract
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
