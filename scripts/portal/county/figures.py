"""A school's term figures as a county export carries them: counts only, never a name.

`export_figures` writes them from the school's own `TermStats` (so the county shows exactly what
the school's statistics page shows); `read_figures` reads them back from an untrusted export,
refusing anything that is not a bounded count under a known key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..catalog import Catalog
from ..stats import TermStats, percent

# The export's layout: `school.json` beside the showcase folder.
SCHOOL_FILE = "school.json"
SHOWCASE_DIR = "showcase"
KIND = "county-export"
SCHEMA = 1
TERM = re.compile(r"^\d{4}-\d{4}-[12]$")
MAX_COUNT = 10_000_000
MAX_GROUPS = 200
MAX_LABEL = 40


class BadFigures(ValueError):
    """Figures that cannot be read; the message (Chinese) names the field."""


@dataclass(frozen=True)
class TermFigures:
    term: str
    accepted: int  # published achievements
    teachers: int  # participating teachers (roster teachers when there is a roster)
    roster: int | None  # roster size; None when the school keeps no roster
    graded: int
    qualified: int  # 合格 + 优秀
    excellent: int
    by_point: dict[str, int]
    by_env: dict[str, int]
    by_dim: dict[str, int]
    by_type: dict[str, int]
    by_group: dict[str, int]

    @property
    def participation_rate(self) -> str:
        return percent(self.teachers, self.roster or 0) if self.roster is not None else "—"

    @property
    def qualified_rate(self) -> str:
        return percent(self.qualified, self.graded)

    @property
    def excellent_rate(self) -> str:
        return percent(self.excellent, self.graded)

    @property
    def covered(self) -> list[str]:
        return [code for code, n in self.by_point.items() if n]


def export_figures(stats: TermStats) -> dict[str, Any]:
    return {
        "term": stats.term,
        "accepted": stats.accepted,
        "teachers": stats.teachers,
        "roster": len(stats.roster) if stats.roster is not None else None,
        "graded": stats.graded,
        "qualified": stats.levels.get("合格", 0) + stats.levels.get("优秀", 0),
        "excellent": stats.levels.get("优秀", 0),
        "by_point": stats.by_point,
        "by_env": stats.by_env,
        "by_dim": stats.by_dim,
        "by_type": stats.by_type,
        "by_group": stats.by_group,
    }


def _count(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise BadFigures(f"{where}的“{key}”不是合理的人数或份数")
    return value


def _counts(data: dict[str, Any], key: str, where: str, known: list[str] | None) -> dict[str, int]:
    """A mapping of label -> count; with `known`, only those labels, in that order (others are
    dropped); without, labels are bounded text (teaching-research groups, types)."""
    value = data.get(key, {})
    if not isinstance(value, dict) or len(value) > MAX_GROUPS:
        raise BadFigures(f"{where}的“{key}”格式不对")
    counts: dict[str, int] = {}
    for label, n in value.items():
        text = " ".join(str(label).split())[:MAX_LABEL]
        if not text or isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
            raise BadFigures(f"{where}的“{key}”中有不合理的条目")
        counts[text] = n
    if known is None:
        return counts
    return {label: counts.get(label, 0) for label in known}


def read_figures(data: Any, catalog: Catalog) -> TermFigures:
    if not isinstance(data, dict) or not isinstance(data.get("term"), str) or not TERM.match(data["term"]):
        raise BadFigures("某个学期的统计缺少学期（应写成 2023-2024-1）")
    where = f"学期 {data['term']} "
    roster = None if data.get("roster") is None else _count(data, "roster", where)
    figures = TermFigures(
        term=data["term"],
        accepted=_count(data, "accepted", where),
        teachers=_count(data, "teachers", where),
        roster=roster,
        graded=_count(data, "graded", where),
        qualified=_count(data, "qualified", where),
        excellent=_count(data, "excellent", where),
        by_point=_counts(data, "by_point", where, list(catalog.points)),
        by_env=_counts(data, "by_env", where, list(catalog.environments)),
        by_dim=_counts(data, "by_dim", where, list(catalog.dimensions)),
        by_type=_counts(data, "by_type", where, None),
        by_group=_counts(data, "by_group", where, None),
    )
    if figures.excellent > figures.qualified or figures.qualified > figures.graded or (roster is not None and figures.teachers > roster):
        raise BadFigures(f"{where}的数字前后矛盾（如优秀多于合格、参与多于名单）")
    return figures
