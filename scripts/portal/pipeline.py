"""The commands' work, stage after stage: intake -> extract -> generate -> build."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from multiprocessing.process import BaseProcess
from pathlib import Path
from urllib.parse import urlsplit

from . import forks, unchanged
from .build import (add_attachments, close_slot, copy_rendered, docs_outputs, docs_pages, expected_files, next_slot, open_slot, prune, publish, render,
                    require_pages, switch, theme_fingerprint)
from .briefings import draw_charts
from .builders import choose
from .catalog import Catalog, load_catalog
from .chrome import MANIFEST, Filled, directory_url, fill_pages, fill_rendered, read_manifest, read_shells, render_ahead, write_sitemap
from .extract import Cache, Extracted, ExtractMemo, Tools, extract
from .generate import Generated, generate
from .index import build_index, write_atomic
from .segments import mirror, update_index
from .intake import MetadataMemo, RecordMemo, scan
from .memo import Memo, Walk, keep_loaded
from .model import Intake, Problem, Record, json_text
from .project import EXTRACTED_MEMO, METADATA_MEMO, RECORDS_MEMO, Project
from .register import TableError, Teacher, find_roster, read_roster
from .settings import Settings, nav_pages
from .usage import Usage, read_usage
from .peers import read_peers
from .county.schools import keep_shown, read_schools
from .showcase import CATALOG_FILE, FEED_FILE, catalog_json, cases_feed, is_candidate, prepare_cases


@dataclass
class Outcome:
    intake: Intake
    problems: list[Problem] = field(default_factory=list)  # found after intake (unreadable files)
    pages_changed: int = 0
    cache: Cache | None = None
    index_sizes: dict[str, int] = field(default_factory=dict)  # bytes of the search index by part
    seconds: dict[str, float] = field(default_factory=dict)  # wall time by stage
    published: list[Record] = field(default_factory=list)  # the showcase's cases
    pages_reused: int = 0  # pages whose Markdown did not change, in an incremental build
    usage: Usage | None = None  # views, plays and downloads from the access logs
    schools: dict[str, int] = field(default_factory=dict)  # a county portal: school -> cases shown
    rendered: bool = True  # whether the builder (MkDocs) ran: not when its docs folder did not change
    reported: bool = False  # the admin report (reports/) was written during the build

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            raise StageFailed(stage, error) from error
        finally:
            self.seconds[stage] = time.perf_counter() - started


STAGES = {"intake": "读取成果", "usage": "读取访问日志", "extract": "提取文档内容", "generate": "生成页面", "mkdocs": "渲染页面（MkDocs 等页面生成器）",
          "pages": "写入页面和附件", "index": "生成搜索索引"}


class StageFailed(Exception):
    """A stage of a build failed; the live site is untouched (it is switched only at the end)."""

    def __init__(self, stage: str, error: Exception):
        super().__init__(f"{stage}: {error!r}")
        self.stage = stage
        self.error = error

    @property
    def stage_name(self) -> str:
        return STAGES.get(self.stage, self.stage)


def load_roster(project: Project) -> list[Teacher] | None:
    """The roster, if the school keeps one; its own problems are reported by the admin report."""
    path = find_roster(project.resources)
    if path is None:
        return None
    try:
        return read_roster(path)[0]
    except TableError:
        return None


def check(project: Project) -> Outcome:
    """Validate every submission; nothing is built or written except the report (which shows
    each teacher's resources with their usage)."""
    catalog = load_catalog(project.catalog)
    outcome = Outcome(scan(project.resources, catalog))
    outcome.usage = read_logs(project, Settings.load(project.config_file))
    # A county: each school's export is checked as the county build would read it, unpacked into
    # a folder of its own (a build may be using the cache's meanwhile: check takes no lock).
    with tempfile.TemporaryDirectory(prefix="portal-check-") as store:
        schools, outcome.problems = read_schools(project.resources, catalog, Path(store))
    outcome.schools = {s.name: len(s.cases) for s in schools}
    return outcome


def read_logs(project: Project, settings: Settings) -> Usage:
    """Usage from `logs/access.log*` and the nginx logs mkdocs.yml names; only new lines are read."""
    prefix = urlsplit(settings.site_url).path if settings.site_url else "/"
    return read_usage(project.root, project.cache / "usage.pickle", settings.access_logs, prefix=prefix.rstrip("/") + "/")


class Gate(Protocol):
    """What `make serve` says of a build it started while a copy may still be going on."""

    def dropped(self) -> bool:
        """Already told to drop it (a look, no wait)."""

    def decided(self) -> bool:
        """Wait for the word: True to publish, False to drop."""


class Dropped(Exception):
    """`make serve` started this build while a copy might still be going on, and the copy went on:
    what it built is not published (the next build reads the finished files)."""


def build_site(project: Project, gate: Gate | None = None, report: bool = False, walked: Walk | None = None) -> Outcome:
    """Build the site into the standby copy and switch to it. `gate`, when given, is asked just
    before the switch (and looked at between stages): a drop raises `Dropped`, the live site
    untouched, the standby copy complete for the next build. With
    `report`, the admin report is written meanwhile (`Outcome.reported` says if it was). `walked`:
    the resources folder as walked just before (by the no-change check), to sign submissions by."""
    unchanged.forget(project)  # whatever this build leaves, the next `make site` looks again
    catalog = load_catalog(project.catalog)
    outcome = Outcome(Intake([], [], 0), cache=Cache(project.cache))
    savers: list[BaseProcess] = []
    try:
        _build(project, catalog, outcome, savers, gate, report, walked)
    finally:
        _join(savers)  # also when the build failed: a saver stopped with this process would leave half a file
    return outcome


def _join(savers: list[BaseProcess]) -> None:
    """Wait for the children saving memos. One that failed (a full disk) costs the next build
    the work it remembered, not this build: its traceback is in .build/last-error.log."""
    for saver in savers:
        saver.join()
    savers.clear()


def _build(project: Project, catalog: Catalog, outcome: Outcome, savers: list[BaseProcess], gate: Gate | None = None,
           report: bool = False, walked: Walk | None = None) -> None:
    with outcome.timed("intake"):
        memo = MetadataMemo(project.cache / METADATA_MEMO)
        remembered = RecordMemo(project.cache / RECORDS_MEMO, catalog)
        keep_loaded()
        outcome.intake = intake = scan(project.resources, catalog, memo, remembered, walked)
        # Written by a child on the other core while this build goes on (an 18 MB pickle at 10,000).
        savers.append(forks.start(_save_memos, memo, remembered))
        # The terms' charts, drawn by another child meanwhile: the statistics pages find them drawn.
        savers.append(forks.start(draw_charts, intake.records, catalog, load_roster(project), project.docs.parent / "charts"))
    _look(gate)
    settings = Settings.load(project.config_file)
    with outcome.timed("usage"):
        outcome.usage = read_logs(project, settings)
    with outcome.timed("extract"):
        tools = Tools.detect(settings.office_previews, settings.max_video_mb, settings.max_file_mb)
        remembered_views = ExtractMemo(project.cache / EXTRACTED_MEMO, tools)
        keep_loaded()
        extracted, outcome.problems = extract(intake.records, outcome.cache, catalog, tools, memo=remembered_views)
        savers.append(forks.start(_save_memos, remembered_views))
        peers, peer_problems = read_peers(project.resources, catalog)
        schools, school_problems = read_schools(project.resources, catalog, project.cache / "schools")  # a county portal
        peers, clashes = drop_clashing_peers(intake.records, [*peers, *(r for s in schools for r in s.cases)])
        keep_shown(schools, peers)
        outcome.schools = {s.name: len(s.cases) for s in schools}
        outcome.problems.extend(peer_problems + school_problems + clashes)
        peer_extracted, peer_file_problems = extract(peers, outcome.cache, catalog, tools)
        extracted.update(peer_extracted)
        outcome.problems.extend(peer_file_problems)  # named by the school's folder (_peers/<school>)
    _look(gate)
    searchable = [*intake.records, *peers]
    # The search index needs only the records: a second process brings it up to date meanwhile.
    index_dir = project.work / "search-index"
    indexer = _start_index(searchable, extracted, catalog, index_dir, project.cache / "tokens.pickle")
    with outcome.timed("generate"):
        roster = load_roster(project)
        made = generate(intake.records, extracted, catalog, project.docs, project.content, roster, settings, peers, nav=settings.nav, usage=outcome.usage,
                        county=schools)
        outcome.problems.extend(made.problems)
    # Everything the admin report says is known now: a child writes it while the pages are made.
    reporter = forks.start(_report_job, project, catalog, outcome) if report else None
    if reporter is not None:
        savers.append(reporter)  # also waited for when a later stage fails: never half a report
    with outcome.timed("mkdocs"):
        builder = choose(project.config_file)
        theme = theme_fingerprint(project.root, project.config_file, builder.fingerprint())
        slot = next_slot(project.work, project.site)
        open_slot(slot, theme)
        scratch = project.work / "render" / "site"
        # The builder renders on the other core; meanwhile, what does not need its pages.
        rendering = forks.ahead(render, builder, project.config_file, project.docs, scratch, theme)
        try:
            expected = expected_files(project.docs, made.pages, searchable, extracted)
            add_attachments(searchable, extracted, slot)
            bodies = render_ahead(slot, made.pages)
        except BaseException:
            rendering.stop()
            raise
        outcome.rendered = bool(rendering.result("渲染页面"))
    with outcome.timed("pages"):
        filled, placed, wanted, bodies_changed = _frame(scratch, slot, project.docs, made, settings.site_url, project.site, bodies)
        live = read_manifest(project.site)  # the previous build's pages: what visitors see change
        outcome.pages_changed = made.writer.changed + bodies_changed + sum(1 for path, key in filled.keys.items() if live.get(path) != key)
        outcome.pages_reused = filled.kept
        prune(slot, expected | placed)
        require_pages(slot, wanted, builder)
    with outcome.timed("index"):
        outcome.index_sizes = _finish_index(indexer, index_dir, slot / "search")
    _join(savers)  # saved before the site goes live: make serve reads them ahead for the next rebuild
    # Else the command line writes the report itself, and says why it cannot.
    outcome.reported = reporter is not None and reporter.exitcode == 0
    close_slot(slot, theme)  # complete whether it goes live or not: the next build fills it from here
    if gate is not None and not gate.decided():
        raise Dropped()
    switch(project.site, slot)


def _look(gate: Gate | None) -> None:
    if gate is not None and gate.dropped():
        raise Dropped()


def _report_job(project: Project, catalog: Catalog, outcome: Outcome) -> None:
    from .policy import Policy
    from .report import write_reports

    write_reports(project.resources, outcome.intake, outcome.problems, catalog, Policy.load(project.catalog), project.reports, None, False, outcome.usage)


def _save_memos(*memos: Memo) -> None:
    for memo in memos:
        memo.save()


def drop_clashing_peers(records: list[Record], peers: list[Record]) -> tuple[list[Record], list[Problem]]:
    """Peer cases whose page `r/<id>/` would replace one of ours or an earlier peer's: ours wins,
    the peer's case is not shown and is reported."""
    if not peers:
        return [], []
    taken = {r.id.lower() for r in records}
    kept: list[Record] = []
    problems: list[Problem] = []
    for peer in peers:
        if peer.id.lower() in taken:
            problems.append(Problem(peer.source_label, "编号", f"案例“{peer.title}”的编号 {peer.id} 与本校或另一所学校的成果重复，未显示；请改用其他编号", refused=False))
            continue
        taken.add(peer.id.lower())
        kept.append(peer)
    return kept, problems


def _frame(scratch: Path, out: Path, docs: Path, made: Generated, site_url: str | None, live: Path | None = None,
           bodies: dict[str, str] | None = None) -> tuple[Filled, set[str], list[str], int]:
    """Into `out`: the builder's files from `scratch`, its pages with their bodies put in, the
    generated pages in its shells, and the sitemap of all. Returns what was filled, the builder's
    files placed, the builder's pages `out` must now hold (for `require_pages`), and how many of the
    builder's pages differ from `live`'s."""
    shells = read_shells(scratch, made.shells)
    rendered = docs_outputs(docs)
    filled_rendered = {directory_url(path) + "index.html" for path in made.fills}
    placed = copy_rendered(scratch, out, rendered, filled_rendered) | filled_rendered
    bodies_changed = fill_rendered(scratch, out, made.fills, live)
    filled = fill_pages(out, made.pages, shells, bodies)  # each of its pages is in `out` now: written, or found there
    write_sitemap(out, made.pages, site_url, docs_pages(docs))
    return filled, placed, list(rendered), bodies_changed


def _index_job(records: list[Record], extracted: dict[str, Extracted], catalog: Catalog, folder: Path, memo_file: Path) -> None:
    sizes = update_index(records, extracted, catalog, folder, memo_file)
    write_atomic(folder / "sizes.json", json.dumps(sizes).encode("utf-8"))


def _start_index(records: list[Record], extracted: dict[str, Extracted], catalog: Catalog, folder: Path, memo_file: Path) -> BaseProcess:
    folder.mkdir(parents=True, exist_ok=True)
    return forks.start(_index_job, records, extracted, catalog, folder, memo_file)


def _finish_index(process: BaseProcess, folder: Path, target: Path) -> dict[str, int]:
    forks.finish(process, "搜索索引")
    sizes: dict[str, int] = json.loads((folder / "sizes.json").read_text(encoding="utf-8"))
    mirror(folder / "search", target)  # beside the search page the page generator wrote there
    return sizes


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    return folder


SHOWCASE_NAV = [
    {"首页": "index.md"},
    {"按学科": "subjects/index.md"},
    {"按能力点": "points/index.md"},
    {"按类型": "types/index.md"},
    {"按学期": "terms/index.md"},
    {"搜索": "search/index.md"},
]


def build_showcase(project: Project) -> Outcome:
    """The public showcase: exemplary cases the teachers agreed to share, nothing else."""
    catalog = load_catalog(project.catalog)
    settings = Settings.load(project.config_file)
    outcome = Outcome(Intake([], [], 0), cache=Cache(project.cache))
    with outcome.timed("intake"):
        outcome.intake = scan(project.resources, catalog)
    candidates = [r for r in outcome.intake.records if is_candidate(r)]
    with outcome.timed("extract"):
        # A county's showcase shows its schools' public cases too, checked again like its own.
        schools, school_problems = read_schools(project.resources, catalog, project.cache / "schools")
        from_schools, clashes = drop_clashing_peers(candidates, [r for s in schools for r in s.cases])
        tools = Tools.detect(settings.office_previews, settings.max_video_mb, settings.max_file_mb)
        cases, extracted, outcome.problems = prepare_cases(candidates + from_schools, outcome.cache, catalog, tools)
        outcome.problems[:0] = school_problems + clashes
        outcome.published = cases
    docs = project.work / "showcase-docs"
    with outcome.timed("generate"):
        made = generate(cases, extracted, catalog, docs, project.content, None, settings, showcase=True, nav=nav_pages(SHOWCASE_NAV))
        outcome.pages_changed = made.writer.changed + len(made.pages)
    staged = _fresh(project.work / "showcase.new")
    scratch = project.work / "render" / "showcase"
    with outcome.timed("mkdocs"):
        builder = choose(project.config_file)
        theme = theme_fingerprint(project.root, project.config_file, builder.fingerprint())
        render(builder, project.config_file, docs, scratch, theme, site_name=f"{settings.site_name} · 优秀案例", nav=SHOWCASE_NAV)
    with outcome.timed("pages"):
        _, _, wanted, _ = _frame(scratch, staged, docs, made, settings.site_url)
        (staged / MANIFEST).unlink()  # a fresh folder each time: nothing to compare with next time
        add_attachments(cases, extracted, staged)
        require_pages(staged, wanted, builder)
    with outcome.timed("index"):
        outcome.index_sizes = build_index(cases, extracted, catalog, staged)
        data = catalog_json(cases, catalog, settings.school_name, settings.site_url)
        (staged / CATALOG_FILE).write_text(json_text(data, indent=2), encoding="utf-8")
        (staged / FEED_FILE).write_bytes(cases_feed(cases, settings.site_name, settings.site_url))
    publish(staged, project.showcase)
    return outcome
