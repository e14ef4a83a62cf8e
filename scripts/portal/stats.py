"""Term statistics for briefings (研修简报): pure counting over accepted records and the roster.

Definitions (also printed on every statistics page):
- participation rate = roster teachers who are an author of at least one accepted submission in
  the term ÷ roster teachers;
- qualified rate = (合格 + 优秀) ÷ graded submissions; excellent rate = 优秀 ÷ graded submissions.
A submission counts once for each point it claims, once for each environment and dimension those
points fall in, and once for its group and its type. Refused submissions never count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .catalog import Catalog
from .model import Record
from .register import Teacher

DEFINITIONS = [
    "参与率 = 本学期至少有一份成果发布（作为作者或合作者）的名单内教师数 ÷ 教师名单人数",
    "合格率 =（合格 + 优秀）÷ 已评定等级的成果数；优秀率 = 优秀 ÷ 已评定等级的成果数",
    "一份成果选了几个能力点，就在每个能力点（及其环境、维度）下各计一次；未发布的成果不计入",
    "浏览 = 打开成果页面的次数；播放 = 同一访问者每天播放某个视频记一次；下载 = 同一访问者每天下载某个文件记一次；"
    "搜索引擎和程序的访问、出错的请求不计入；统计的是访问日志中的全部记录，不保存访问者的地址",
]


def percent(part: int, whole: int) -> str:
    """One decimal place, as briefings print it; "—" when there is nothing to divide by."""
    return f"{100 * part / whole:.1f}%" if whole else "—"


@dataclass
class GroupParticipation:
    group: str
    roster: int
    participating: int

    @property
    def rate(self) -> str:
        return percent(self.participating, self.roster)


@dataclass
class TermStats:
    term: str
    accepted: int
    authors: list[str]  # everyone who authored an accepted submission in the term
    roster: list[Teacher] | None
    participating: int | None  # roster teachers among the authors; None without a roster
    by_env: dict[str, int]
    by_dim: dict[str, int]
    by_point: dict[str, int]
    grid: dict[str, dict[str, int]]  # environment code -> dimension -> submissions
    by_group: dict[str, int]
    by_type: dict[str, int]
    levels: dict[str, int]
    group_participation: list[GroupParticipation] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)  # points nobody covered this term

    @property
    def graded(self) -> int:
        return sum(self.levels.values())

    @property
    def participation_rate(self) -> str:
        return percent(self.participating or 0, len(self.roster or []))

    @property
    def qualified_rate(self) -> str:
        return percent(self.levels.get("合格", 0) + self.levels.get("优秀", 0), self.graded)

    @property
    def excellent_rate(self) -> str:
        return percent(self.levels.get("优秀", 0), self.graded)

    @property
    def teachers(self) -> int:
        """Participating teachers: roster teachers when there is a roster, else distinct authors."""
        return self.participating if self.participating is not None else len(self.authors)

    @property
    def empty(self) -> bool:
        return self.accepted == 0


def term_stats(term: str, records: list[Record], catalog: Catalog, roster: list[Teacher] | None) -> TermStats:
    mine = [r for r in records if r.term == term]
    by_point = Counter(code for r in mine for code in r.competencies)
    by_env = Counter(env for r in mine for env in {catalog.points[c].env for c in r.competencies})
    by_dim = Counter(dim for r in mine for dim in {catalog.points[c].dimension for c in r.competencies})
    # Records with at least one point of each (environment, dimension): one pass over the records.
    pairs = Counter(pair for r in mine for pair in {(catalog.points[c].env, catalog.points[c].dimension) for c in r.competencies})
    grid = {env: {dim: pairs[(env, dim)] for dim in catalog.dimensions} for env in catalog.environments}
    authors = sorted({a for r in mine for a in r.authors})
    participating = None
    groups: list[GroupParticipation] = []
    if roster is not None:
        present = set(authors)
        participating = sum(1 for t in roster if t.name in present)
        for group in sorted({t.group or "（未填教研组）" for t in roster}):
            members = [t for t in roster if (t.group or "（未填教研组）") == group]
            groups.append(GroupParticipation(group, len(members), sum(1 for t in members if t.name in present)))
    return TermStats(
        term=term,
        accepted=len(mine),
        authors=authors,
        roster=roster,
        participating=participating,
        by_env={env: by_env.get(env, 0) for env in catalog.environments},
        by_dim={dim: by_dim.get(dim, 0) for dim in catalog.dimensions},
        by_point={code: by_point.get(code, 0) for code in catalog.points},
        grid=grid,
        by_group=dict(Counter(r.group or "（未填教研组）" for r in mine).most_common()),
        by_type={t: n for t, n in ((t, sum(1 for r in mine if r.type == t)) for t in catalog.types) if n},
        levels={level: sum(1 for r in mine if r.level == level) for level in catalog.levels},
        group_participation=groups,
        uncovered=[code for code in catalog.points if not by_point.get(code)],
    )
