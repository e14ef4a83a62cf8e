"""School policy for "every teacher passes" (人人过关), and each roster teacher's standing in a term.

What passing means differs by province and school, so the rules live in `catalog/policy.yml`:
a minimum number of points across a minimum number of dimensions, points a teaching-research
group planned for its members, and the environments each age band chooses from. For each rule
not met yet the report says what would meet it.

Levels (考核规范): a point is 优秀 only when every piece of evidence for it is 优秀, and 不合格
when any piece is; a point graded 不合格 does not count towards passing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .catalog import SAFE_LOADER, Catalog
from .model import Record
from .register import Teacher

POLICY_FILE = "policy.yml"


@dataclass(frozen=True)
class AgeBand:
    environments: tuple[str, ...]
    min_age: int | None = None
    max_age: int | None = None

    def covers(self, age: int) -> bool:
        return (self.min_age is None or age >= self.min_age) and (self.max_age is None or age <= self.max_age)

    @property
    def label(self) -> str:
        if self.min_age is not None and self.max_age is not None:
            return f"{self.min_age}–{self.max_age} 岁"
        return f"{self.min_age} 岁及以上" if self.min_age is not None else f"{self.max_age} 岁及以下"


@dataclass(frozen=True)
class Policy:
    min_points: int = 3
    min_dimensions: int = 3
    age_bands: tuple[AgeBand, ...] = ()
    group_plans: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cycle: tuple[str, ...] = ()  # the terms of the school's 2.0 cycle; empty: every term there is

    @classmethod
    def load(cls, catalog_dir: Path) -> Policy:
        path = catalog_dir / POLICY_FILE
        if not path.exists():
            return cls()
        with path.open(encoding="utf-8") as handle:  # read from the file, so an error names it
            data: dict[str, Any] = yaml.load(handle, Loader=SAFE_LOADER) or {}  # noqa: S506
        bands = tuple(
            AgeBand(tuple(str(e) for e in band["environments"]), band.get("min_age"), band.get("max_age"))
            for band in data.get("age_bands") or []
        )
        plans = {str(group): tuple(str(c).upper() for c in codes) for group, codes in (data.get("group_plans") or {}).items()}
        cycle = tuple(sorted(str(t) for t in data.get("cycle") or []))
        return cls(int(data.get("min_points", 3)), int(data.get("min_dimensions", 3)), bands, plans, cycle)

    def cycle_terms(self, records: list[Record]) -> tuple[str, ...]:
        """The terms judged together for 人人过关: those policy.yml names, else every term found."""
        return self.cycle or tuple(sorted({r.term for r in records if r.term}))


def point_level(levels: list[str | None]) -> str | None:
    """优秀 when every piece is 优秀, 不合格 when any is, 合格 otherwise; None when nothing is graded."""
    graded = [level for level in levels if level]
    if not graded:
        return None
    if "不合格" in graded:
        return "不合格"
    return "优秀" if len(graded) == len(levels) and all(level == "优秀" for level in graded) else "合格"


@dataclass
class Standing:
    teacher: Teacher
    records: list[Record]
    point_levels: dict[str, str | None]  # every point the teacher handed evidence for
    counted: list[str]  # points that count towards passing
    dimensions: list[str]
    age: int | None
    unmet: list[str]  # one sentence per rule not met, with what would meet it

    @property
    def submitted(self) -> bool:
        return bool(self.records)

    @property
    def status(self) -> str:
        if not self.records:
            return "未提交"
        return "达标" if not self.unmet else "未达标"


def term_start_year(term: str) -> int:
    return int(term[:4])


def _suggest(catalog: Catalog, environments: tuple[str, ...] | None, dimensions: list[str], have: set[str], limit: int = 4) -> str:
    options = [
        p.code for p in catalog.points.values()
        if p.dimension in dimensions and (environments is None or p.env in environments) and p.code not in have
    ]
    return "、".join(options[:limit])


def evaluate(teacher: Teacher, records: list[Record], terms: str | tuple[str, ...], catalog: Catalog, policy: Policy) -> Standing:
    """A teacher's standing over one term, or over several (the cycle: evidence from all of them
    counts together, ages are taken at the cycle's start)."""
    terms = (terms,) if isinstance(terms, str) else terms
    mine = [r for r in records if r.term in terms and teacher.name in r.authors]
    by_point: dict[str, list[str | None]] = {}
    for record in mine:
        for code in record.competencies:
            by_point.setdefault(code, []).append(record.level)
    levels = {code: point_level(by_point[code]) for code in catalog.points if code in by_point}

    age = term_start_year(min(terms)) - teacher.birth_year if teacher.birth_year and terms else None
    band = next((b for b in policy.age_bands if age is not None and b.covers(age)), None)
    allowed = band.environments if band else None
    unmet: list[str] = []

    outside = [c for c in levels if allowed is not None and catalog.points[c].env not in allowed]
    failed = [c for c, level in levels.items() if level == "不合格"]
    counted = [c for c in catalog.points if c in levels and c not in outside and c not in failed]
    dimensions = [d for d in catalog.dimensions if any(catalog.points[c].dimension == d for c in counted)]
    envs_text = "、".join(f"{e}（{catalog.environments[e]}）" for e in allowed) if allowed else ""

    if outside and band is not None:
        unmet.append(f"{'、'.join(outside)} 不在 {band.label} 教师可选的环境 {envs_text} 内，不计入")
    if failed:
        unmet.append(f"{'、'.join(failed)} 评为不合格，不计入，需重新提交")
    if len(counted) < policy.min_points:
        need = policy.min_points - len(counted)
        hint = f"，可从 {envs_text} 中选择" if allowed else ""
        unmet.append(f"已完成 {len(counted)} 个能力点，还需 {need} 个（至少 {policy.min_points} 个）{hint}")
    if len(dimensions) < policy.min_dimensions:
        missing = [d for d in catalog.dimensions if d not in dimensions]
        need = policy.min_dimensions - len(dimensions)
        suggestion = _suggest(catalog, allowed, missing, set(counted))
        unmet.append(
            f"已覆盖 {len(dimensions)} 个维度，还需 {need} 个（至少 {policy.min_dimensions} 个）：可选 {'、'.join(missing)}"
            + (f"，如 {suggestion}" if suggestion else "")
        )
    planned = policy.group_plans.get(teacher.group or "", ())
    missing_plan = [c for c in planned if c not in counted]
    if missing_plan:
        unmet.append(f"{teacher.group}计划的能力点 {'、'.join(missing_plan)} 尚未完成")
    return Standing(teacher, mine, levels, counted, dimensions, age, unmet)


def latest_term(records: list[Record]) -> str | None:
    return max((r.term for r in records), default=None)
