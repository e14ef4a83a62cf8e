"""A rebuild does the work of what changed: one new submission needs no run of MkDocs (the pages it
renders get their bodies put in afterwards), unchanged submissions' extraction is remembered whole,
and what comes out is byte for byte what a build from scratch makes."""

from __future__ import annotations

import shutil
from pathlib import Path

from factories import make_image, make_pdf, make_project, write_markdown, write_meta

from portal import pipeline
from portal.project import Project

TERM = "2024-2025-1"  # no briefing of the shipped content is about this term
OTHER = "2023-2024-1"


def _school(root: Path) -> Project:
    project = make_project(root)
    config = project.config_file.read_text(encoding="utf-8")
    project.config_file.write_text(config.replace("office_previews: true", "office_previews: false"), encoding="utf-8")
    for n in range(6):
        meta = {"title": f"分数的意义{n}", "type": "教学设计", "subject": "数学", "grade": "五年级", "competencies": ["A1", "B2"],
                "authors": [f"教师{n}"], "group": "数学组", "date": f"2024-10-{n + 1:02d}"}
        write_markdown(project.resources / (TERM if n % 2 else OTHER) / f"分数{n}.md", meta, f"第{n}课时的设计。")
    return project


def _pages(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*.html")}


def test_a_new_submission_runs_no_builder_and_matches_a_build_from_scratch(tmp_path: Path) -> None:
    project = _school(tmp_path / "school")
    pipeline.build_site(project)
    second = pipeline.build_site(project)  # fills the other slot
    assert not second.rendered  # nothing in MkDocs' docs folder changed

    new = {"title": "新来的语文成果：春晓", "type": "微课", "subject": "语文", "grade": "二年级", "competencies": ["B2"],
           "authors": ["新老师"], "group": "语文组", "date": "2024-11-30"}
    write_markdown(project.resources / TERM / "春晓.md", new, "古诗朗读微课。")
    third = pipeline.build_site(project)
    assert not third.rendered, "a new submission changed only generated bodies: MkDocs need not run"
    site = project.site.resolve()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "新来的语文成果：春晓" in home and "PORTAL-FILL" not in home
    assert "语文" in (site / "subjects/index.html").read_text(encoding="utf-8")
    assert third.pages_changed >= 5  # its page, the home page, overviews, listings, statistics

    # The same submissions built from scratch in another folder: the very same pages.
    fresh = _school(tmp_path / "fresh")
    write_markdown(fresh.resources / TERM / "春晓.md", new, "古诗朗读微课。")
    for path in project.resources.rglob("*.md"):  # same files, same modification times
        shutil.copy2(path, fresh.resources / path.relative_to(project.resources))
    pipeline.build_site(fresh)
    ours, theirs = _pages(site), _pages(fresh.site.resolve())
    assert ours.keys() == theirs.keys()
    differing = [path for path in ours if ours[path] != theirs[path]]
    assert not differing, differing[:5]

    # A new briefing is Markdown MkDocs renders: then it runs.
    write_markdown(project.content / "briefings" / f"{TERM}-1.md", {"title": "第一期", "term": TERM, "issue": "第1期"}, "本学期共 {{ accepted }} 份成果。")
    fourth = pipeline.build_site(project)
    assert fourth.rendered
    assert "第一期" in (project.site.resolve() / "briefings" / f"{TERM}-1" / "index.html").read_text(encoding="utf-8")


def test_a_remembered_extraction_whose_cached_file_is_gone_is_made_again(tmp_path: Path) -> None:
    project = _school(tmp_path / "school")
    folder = project.resources / TERM / "讲义"
    write_meta(folder, {"title": "讲义", "type": "教学资源", "subject": "数学", "grade": "五年级", "competencies": ["B2"], "authors": ["甲"]})
    make_pdf(folder / "讲义.pdf", "分数的意义讲义")
    first = pipeline.build_site(project)
    media = project.site.resolve() / "r" / f"{TERM}-讲义" / "media"
    published = sorted(p.name for p in media.iterdir())
    assert published, "the PDF's first pages are published as images"
    assert first.cache is not None and first.cache.misses > 0

    again = pipeline.build_site(project)
    assert again.cache is not None and again.cache.misses == 0  # the whole extraction was remembered

    shutil.rmtree(project.cache / "sheets")  # an admin clearing part of the cache by hand
    third = pipeline.build_site(project)
    assert third.cache is not None and third.cache.misses > 0  # made again, not taken from the memo
    media = project.site.resolve() / "r" / f"{TERM}-讲义" / "media"
    assert sorted(p.name for p in media.iterdir()) == published
    assert all(p.stat().st_size > 0 for p in media.iterdir())


def test_memo_files_read_ahead_are_used_only_while_the_file_is_the_same(tmp_path: Path) -> None:
    """`make serve` reads the memo files between rebuilds, and each forked rebuild finds them in
    memory; a file saved since (replaced whole: a new inode) is read from disk."""
    import os

    from portal.memo import _PRELOADED, Memo, preload

    path = tmp_path / "m.pickle"
    first = Memo(path, "v1")
    first.put(Memo.key("a"), "from disk, first")
    first.save()
    preload(path)
    assert str(path) in _PRELOADED
    # Bytes changed in place with size, inode and time kept: the copy in memory is what is used.
    info = path.stat()
    data = path.read_bytes().replace(b"first", b"FIRST")
    with path.open("r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert Memo(path, "v1").get(Memo.key("a")) == "from disk, first"
    # Saved again (a new file replaces it): read from disk, and read ahead anew.
    second = Memo(path, "v1")
    second.put(Memo.key("a"), "from disk, second")
    second.save()
    assert Memo(path, "v1").get(Memo.key("a")) == "from disk, second"
    preload(path)
    assert _PRELOADED[str(path)][1]["entries"][Memo.key("a")] == "from disk, second"
    path.unlink()
    preload(path)
    assert str(path) not in _PRELOADED


def test_mkdocs_runs_again_when_its_output_or_a_docs_file_went_missing(tmp_path: Path) -> None:
    """The builder is skipped only while its scratch folder is as it left it; a file deleted from
    the docs folder (a photo of a briefing) makes a clean render, so it leaves the site too."""
    project = _school(tmp_path / "school")
    photo = project.content / "images" / "合影.png"
    photo.parent.mkdir(parents=True, exist_ok=True)
    make_image(photo, "合影")
    pipeline.build_site(project)
    assert not pipeline.build_site(project).rendered
    scratch = project.work / "render" / "site"
    (scratch / "index.html").unlink()  # someone tidying .build by hand
    css = next(p for p in (scratch / "assets").rglob("*.css"))
    css.unlink()
    again = pipeline.build_site(project)
    assert again.rendered and (scratch / "index.html").is_file() and css.is_file()
    site = project.site.resolve()
    assert (site / css.relative_to(scratch)).is_file() and "分数的意义" in (site / "index.html").read_text(encoding="utf-8")
    assert (site / "images" / "合影.png").is_file()

    photo.unlink()
    pipeline.build_site(project)
    pipeline.build_site(project)  # both copies of the site
    assert not (project.site.resolve() / "images" / "合影.png").exists()
    assert not list((project.work / "sites").glob("*/images/合影.png"))


def test_a_memo_half_written_by_a_killed_process_is_swept_away(tmp_path: Path) -> None:
    import subprocess
    import sys

    from portal.memo import Memo

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    leftover = tmp_path / f"records.{gone.stdout.strip()}.tmp"
    leftover.write_bytes(b"half a pickle")
    memo = Memo(tmp_path / "records.pickle", "v")
    memo.put(Memo.key("a"), 1)
    memo.save()
    assert not leftover.exists() and (tmp_path / "records.pickle").is_file()
    assert Memo(tmp_path / "records.pickle", "v").get(Memo.key("a")) == 1


def test_stored_artefacts_are_found_row_by_row_and_all_at_once_alike(tmp_path: Path) -> None:
    """A rebuild asks the artefact store a few questions, one row each; a cold build asks many,
    and after ONE_BY_ONE of them one query reads all. Both find the same, failures included."""
    from portal.extract import ONE_BY_ONE, ArtefactError, Cache

    stored = Cache(tmp_path / "cache")
    digests = [f"{n:064x}" for n in range(ONE_BY_ONE * 2)]
    for number, digest in enumerate(digests):
        stored.put("text", digest, f"正文 {number}", ok=number % 7 != 0)
    stored.save()

    asking = Cache(tmp_path / "cache")
    for number, digest in enumerate(digests):
        if number % 7 == 0:
            try:
                asking.text("text", digest, lambda: "不该再做")
                raise AssertionError("a stored failure is raised again")
            except ArtefactError as error:
                assert str(error) == f"正文 {number}"
        else:
            assert asking.text("text", digest, lambda: "不该再做") == f"正文 {number}"
        assert not asking.has("text", "f" * 64)
    assert asking.hits == len(digests) and asking.misses == 0  # a failure remembered is found too


def _walk_on_its_own(folder: Path) -> str | None:
    """The signature of a folder as builds before the shared walk made it (memo keys and the
    no-change check's sum must not change with it): every entry's row, sorted; None for a link."""
    import os
    import stat

    from portal.memo import _row

    rows, pending = [], [str(folder)]
    try:
        rows.append(_row(str(folder), os.lstat(folder)))
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISLNK(info.st_mode):
                        return None
                    rows.append(_row(entry.path, info))
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(entry.path)
    except OSError:
        return None
    return "\n".join(sorted(rows))


def test_one_walk_signs_every_submission_as_a_walk_of_its_own_would(tmp_path: Path) -> None:
    """`make site` walks resources/ once, for its no-change check and for intake: the signature of
    each folder, file and link is what signing it on its own gives."""
    import os

    from portal.catalog import load_catalog
    from portal.intake import scan
    from portal.memo import Walk, file_signature, tree_signature

    project = _school(tmp_path / "school")
    term = project.resources / TERM
    make_pdf(term / "带附件" / "教案.pdf", "教案正文")
    (term / "带附件" / "子文件夹").mkdir()
    (term / "带附件" / "子文件夹" / "说明.txt").write_text("附件说明", encoding="utf-8")
    (term / "有链接").mkdir()
    os.symlink(term / "带附件", term / "有链接" / "指向别处")
    os.symlink(term / "分数1.md", term / "链接.md")
    walked = Walk(project.resources)
    everything = [project.resources, *project.resources.rglob("*"), tmp_path / "不存在", project.catalog]
    for path in everything:
        assert walked.tree(path) == tree_signature(path) == _walk_on_its_own(path), path
        assert walked.file(path) == file_signature(path), path
    assert walked.tree(term / "有链接") is None and walked.tree(project.resources) is None

    catalog = load_catalog(project.catalog)
    assert scan(project.resources, catalog, walked=walked) == scan(project.resources, catalog)
