"""The commands' work, stage after stage: intake -> extract -> generate -> build."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .build import add_attachments, mkdocs_site, publish
from .catalog import load_catalog
from .extract import Cache, Tools, extract
from .generate import generate
from .index import build_index
from .intake import scan
from .model import Intake, Problem
from .project import Project
from .register import TableError, Teacher, find_roster, read_roster
from .settings import Settings


@dataclass
class Outcome:
    intake: Intake
    problems: list[Problem] = field(default_factory=list)  # found after intake (unreadable files)
    pages_changed: int = 0
    cache: Cache | None = None
    index_sizes: dict[str, int] = field(default_factory=dict)  # bytes of the search index by part
    seconds: dict[str, float] = field(default_factory=dict)  # wall time by stage

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = time.perf_counter() - started


def load_roster(project: Project, problems: list[Problem]) -> list[Teacher] | None:
    """The roster, if the school keeps one; its own problems are reported by the admin report."""
    path = find_roster(project.resources)
    if path is None:
        return None
    try:
        return read_roster(path)[0]
    except TableError:
        return None


def check(project: Project) -> Outcome:
    """Validate every submission; nothing is built or written except the report."""
    return Outcome(scan(project.resources, load_catalog(project.catalog)))


def build_site(project: Project) -> Outcome:
    catalog = load_catalog(project.catalog)
    outcome = Outcome(Intake([], [], 0), cache=Cache(project.cache))
    with outcome.timed("intake"):
        outcome.intake = intake = scan(project.resources, catalog)
    settings = Settings.load(project.config_file)
    with outcome.timed("extract"):
        tools = Tools.detect(previews=settings.office_previews)
        extracted, outcome.problems = extract(intake.records, outcome.cache, catalog, tools)
    with outcome.timed("generate"):
        roster = load_roster(project, outcome.problems)
        writer, briefing_problems = generate(intake.records, extracted, catalog, project.docs, project.content, roster, settings)
        outcome.pages_changed = writer.changed
        outcome.problems.extend(briefing_problems)
    staged = project.work / "site.new"
    if staged.exists():
        shutil.rmtree(staged)
    with outcome.timed("mkdocs"):
        mkdocs_site(project.config_file, project.docs, staged)
        add_attachments(intake.records, extracted, staged)
    with outcome.timed("index"):
        outcome.index_sizes = build_index(intake.records, extracted, catalog, staged)
    publish(staged, project.site)
    return outcome
