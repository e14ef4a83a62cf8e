"""`make county-export`: one file for the county, `county-export.zip`, holding

- `showcase/`: the public showcase exactly as `make showcase` publishes it (exemplary cases the
  teachers agreed to share, cleaned, checked by the personal-data guard), and
- `school.json`: the school's name and its figures per term (see figures.py): counts only, no
  names, no review text, no level of any single case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import pipeline
from ..build import zip_folder
from ..catalog import load_catalog
from ..model import Problem, json_text
from ..project import Project
from ..settings import Settings
from ..stats import term_stats
from .figures import KIND, SCHEMA, SCHOOL_FILE, SHOWCASE_DIR, export_figures

EXPORT_ZIP = "county-export.zip"


@dataclass
class Exported:
    path: Path
    school: str
    cases: int
    terms: list[str]
    problems: list[Problem] = field(default_factory=list)


def school_name(settings: Settings) -> str:
    return settings.school_name


def school_json(project: Project, outcome: pipeline.Outcome, settings: Settings) -> dict[str, Any]:
    catalog = load_catalog(project.catalog)
    records = outcome.intake.records
    roster = pipeline.load_roster(project)
    terms = sorted({r.term for r in records}, reverse=True)
    return {
        "schema": SCHEMA,
        "kind": KIND,
        "school": school_name(settings),
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cases": len(outcome.published),
        "terms": [export_figures(term_stats(term, records, catalog, roster)) for term in terms],
    }


def county_export(project: Project) -> Exported:
    """Build the showcase, then pack it with the school's figures into `county-export.zip`."""
    settings = Settings.load(project.config_file)
    outcome = pipeline.build_showcase(project)
    data = school_json(project, outcome, settings)
    target = zip_folder(project.showcase, project.root / EXPORT_ZIP, prefix=f"{SHOWCASE_DIR}/",
                        extra={SCHOOL_FILE: json_text(data, indent=2).encode("utf-8")})
    return Exported(target, data["school"], len(outcome.published), [t["term"] for t in data["terms"]], outcome.problems)
