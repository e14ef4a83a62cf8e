"""Reference catalogs: the 30 micro-competency points, subjects, grades and resource types.

The facts live in YAML files under `catalog/` at the top of a school's repository so that a school
can edit them (regions word the points differently); this module only loads and looks them up.
Every lookup accepts the spellings teachers actually type (aliases, full-width letters, a code
followed by its name) and answers with the one canonical name the site prints.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the same rules, several times faster

COMPETENCIES_FILE = "competencies.yml"
CURRICULUM_FILE = "curriculum.yml"

# "B2", "b 2", "B2 微课程设计与制作", "B2微课程设计与制作", "B2：…" after NFKC folding.
_CODE_PREFIX = re.compile(r"^([A-Za-z])\s*(\d{1,2})(?![0-9])\s*[:：.、\-]?\s*(.*)$")


def fold(text: str) -> str:
    """Fold full-width forms and surrounding blanks so "Ｂ２ " compares equal to "B2"."""
    return unicodedata.normalize("NFKC", text).strip()


@dataclass(frozen=True)
class Point:
    code: str
    env: str
    env_name: str
    dimension: str
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The full line the site prints, e.g. "B2 微课程设计与制作 · 混合学习环境 · 教学设计"."""
        return f"{self.code} {self.name} · {self.env_name} · {self.dimension}"


@dataclass(frozen=True)
class ResourceType:
    name: str
    media: str
    max_minutes: float | None = None


@dataclass
class Catalog:
    environments: dict[str, str]
    dimensions: list[str]
    points: dict[str, Point]
    levels: list[str]
    subjects: list[str]
    grades: list[str]
    types: dict[str, ResourceType]
    _subject_alias: dict[str, str] = field(default_factory=dict)
    _grade_alias: dict[str, str] = field(default_factory=dict)
    _type_alias: dict[str, str] = field(default_factory=dict)
    _point_by_name: dict[str, str] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------------

    def subject(self, raw: str) -> str | None:
        return self._subject_alias.get(fold(raw))

    def grade(self, raw: str) -> str | None:
        return self._grade_alias.get(fold(raw))

    def resource_type(self, raw: str) -> str | None:
        return self._type_alias.get(fold(raw).upper() if fold(raw).isascii() else fold(raw))

    def point(self, raw: str) -> str | None:
        """The canonical code for one point as a teacher wrote it, or None if it is not one."""
        text = fold(raw)
        match = _CODE_PREFIX.match(text)
        if match:
            code = f"{match.group(1).upper()}{int(match.group(2))}"
            return code if code in self.points else None
        return self._point_by_name.get(text)

    def point_code_guess(self, raw: str) -> str:
        """What to call an unknown point in an error message: its code if it looks like one."""
        match = _CODE_PREFIX.match(fold(raw))
        return f"{match.group(1).upper()}{int(match.group(2))}" if match else fold(raw)

    def points_in(self, env: str, dimension: str) -> list[Point]:
        return [p for p in self.points.values() if p.env == env and p.dimension == dimension]

    def grade_order(self, grade: str) -> int:
        return self.grades.index(grade) if grade in self.grades else len(self.grades)


def _aliases(entries: list[dict[str, Any]], upper_ascii: bool = False) -> dict[str, str]:
    table: dict[str, str] = {}
    for entry in entries:
        name = str(entry["name"])
        for spelling in [name, *map(str, entry.get("aliases") or [])]:
            key = fold(spelling)
            table[key.upper() if upper_ascii and key.isascii() else key] = name
    return table


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=SAFE_LOADER)  # noqa: S506 - the safe loader, in C when available
    if not isinstance(data, dict):
        raise ValueError(f"目录文件 {path} 的内容不是 YAML 映射")
    return data


def load_catalog(directory: Path) -> Catalog:
    """Load `competencies.yml` and `curriculum.yml` from a school's `catalog/` folder."""
    comp = _read_yaml(directory / COMPETENCIES_FILE)
    curr = _read_yaml(directory / CURRICULUM_FILE)

    environments = {str(k): str(v["name"]) for k, v in comp["environments"].items()}
    dimensions = [str(d["name"]) for d in comp["dimensions"]]
    points: dict[str, Point] = {}
    by_name: dict[str, str] = {}
    for entry in comp["points"]:
        code = fold(str(entry["code"])).upper()
        aliases = tuple(str(a) for a in entry.get("aliases") or [])
        points[code] = Point(
            code=code,
            env=str(entry["env"]),
            env_name=environments[str(entry["env"])],
            dimension=str(entry["dimension"]),
            name=str(entry["name"]),
            aliases=aliases,
        )
        for spelling in (entry["name"], *aliases):
            by_name[fold(str(spelling))] = code

    grades: list[str] = []
    grade_alias: dict[str, str] = {}
    for stage in curr.get("stages") or []:
        for grade in stage["grades"]:
            grades.append(str(grade))
            grade_alias[fold(str(grade))] = str(grade)
        for grade, alias in (stage.get("aliases_by_grade") or {}).items():
            grade_alias[fold(str(alias))] = str(grade)

    types = {
        str(t["name"]): ResourceType(
            name=str(t["name"]),
            media=str(t.get("media", "any")),
            max_minutes=float(t["max_minutes"]) if t.get("max_minutes") is not None else None,
        )
        for t in curr["resource_types"]
    }
    return Catalog(
        environments=environments,
        dimensions=dimensions,
        points=points,
        levels=[str(level) for level in comp.get("levels") or ["优秀", "合格", "不合格"]],
        subjects=[str(s["name"]) for s in curr["subjects"]],
        grades=grades,
        types=types,
        _subject_alias=_aliases(curr["subjects"]),
        _grade_alias=grade_alias,
        _type_alias=_aliases(curr["resource_types"], upper_ascii=True),
        _point_by_name=by_name,
    )
