"""What a build or check tells the admin: the accounting and every problem, in plain Chinese."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .model import Intake, Problem


def summary_lines(intake: Intake) -> list[str]:
    """found = published + refused, per term and in total."""
    found_by_term: Counter[str] = Counter()
    published_by_term: Counter[str] = Counter(r.term for r in intake.records)
    refused_paths = {p.path for p in intake.refused}
    for path in refused_paths:
        found_by_term[path.split("/", 1)[0]] += 1
    for term, count in published_by_term.items():
        found_by_term[term] += count
    lines = []
    for term in sorted(found_by_term):
        published = published_by_term[term]
        lines.append(f"  {term}：共 {found_by_term[term]} 份，发布 {published} 份，未发布 {found_by_term[term] - published} 份")
    refused = intake.found - len(intake.records)
    lines.append(f"合计：共找到 {intake.found} 份成果，发布 {len(intake.records)} 份，未发布 {refused} 份，提醒 {len(intake.warnings)} 条")
    return lines


def problem_lines(problems: list[Problem]) -> list[str]:
    ordered = sorted(problems, key=lambda p: (not p.refused, p.path))
    return [str(p) for p in ordered]


def write_reports(intake: Intake, extra: list[Problem], folder: Path) -> Path:
    """`reports/problems.txt` for people, `reports/problems.json` for tools."""
    folder.mkdir(parents=True, exist_ok=True)
    problems = intake.problems + extra
    text = "\n".join(["成果检查报告", "", *summary_lines(intake), "", *problem_lines(problems), ""])
    (folder / "problems.txt").write_text(text, encoding="utf-8")
    data = {
        "found": intake.found,
        "published": len(intake.records),
        "refused": intake.found - len(intake.records),
        "problems": [
            {"path": p.path, "field": p.field, "reason": p.reason, "refused": p.refused} for p in problems
        ],
    }
    (folder / "problems.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder / "problems.txt"
