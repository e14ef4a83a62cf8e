"""The county portal's pages, from the schools' exports (schools.py):

    county/                       the schools and the terms, with county totals
    county/terms/<term>/          schools compared: participation, cases, coverage of the 30 points,
                                  and a school x point table marking points no school covered yet
    county/schools/<slug>/        one school: its figures per term and its public cases
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import jinja2
from markupsafe import Markup

from ..catalog import Catalog
from ..model import newest_first, term_label
from ..stats import percent
from .figures import TermFigures
from .schools import School

PageWriter = Callable[..., None]  # generate.Writer.page
UrlTo = Callable[[str, str], str]  # generate.url_to


@dataclass(frozen=True)
class Row:
    """One school in one term: its figures (None when its export has no such term) and the
    public cases it shows from that term."""

    school: School
    figures: TermFigures | None
    cases: int


@dataclass(frozen=True)
class CountyTerm:
    term: str
    rows: list[Row]
    points: list[str]  # the catalog's point codes, in order
    table: Markup = field(default=Markup(""), compare=False)  # the schools compared, for briefings

    @property
    def label(self) -> str:
        return term_label(self.term)

    def _sum(self, get: Callable[[TermFigures], int | None]) -> int:
        return sum(get(r.figures) or 0 for r in self.rows if r.figures)

    @property
    def schools(self) -> int:
        return sum(1 for r in self.rows if r.figures)

    @property
    def accepted(self) -> int:
        return self._sum(lambda f: f.accepted)

    @property
    def teachers(self) -> int:
        return self._sum(lambda f: f.teachers)

    @property
    def roster(self) -> int:
        return self._sum(lambda f: f.roster)

    @property
    def participation_rate(self) -> str:
        """Participating ÷ roster over the schools that keep a roster."""
        return percent(self._sum(lambda f: f.teachers if f.roster is not None else 0), self.roster)

    @property
    def qualified_rate(self) -> str:
        return percent(self._sum(lambda f: f.qualified), self._sum(lambda f: f.graded))

    @property
    def excellent_rate(self) -> str:
        return percent(self._sum(lambda f: f.excellent), self._sum(lambda f: f.graded))

    @property
    def cases(self) -> int:
        return sum(r.cases for r in self.rows)

    @property
    def by_point(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for row in self.rows:
            totals.update(row.figures.by_point if row.figures else {})
        return {code: totals[code] for code in self.points}

    @property
    def uncovered(self) -> list[str]:
        return [code for code, n in self.by_point.items() if not n]


def county_terms(schools: list[School], catalog: Catalog) -> list[CountyTerm]:
    """Every term any school reported, newest first, with every school's row."""
    terms = sorted({t for s in schools for t in s.terms} | {r.term for s in schools for r in s.cases if r.term}, reverse=True)
    return [CountyTerm(term, [Row(s, s.figures(term), sum(1 for r in s.cases if r.term == term)) for s in schools], list(catalog.points))
            for term in terms]


# A school's page lists its newest cases (a school may share hundreds: its page would weigh
# 180 KB); the search, filtered by the school, shows them all.
CASES_SHOWN = 50


def county_pages(env: jinja2.Environment, page: PageWriter, url_to: UrlTo, schools: list[School], catalog: Catalog) -> None:
    """Register the county pages with the writer (`page(path, title, render)`)."""
    terms = county_terms(schools, catalog)
    overview = env.get_template("county.html").render(root=url_to("county/index", "index"), schools=schools, terms=terms)
    page("county/index", "全县各校", partial(str, overview))
    term_page = env.get_template("county_term.html")
    for county in terms:
        path = f"county/terms/{county.term}"
        page(path, f"{county.label}全县统计", partial(term_page.render, root=url_to(path, "index"), c=county))
    school_page = env.get_template("county_school.html")
    for school in schools:
        path = f"county/schools/{school.slug}"
        figures = [school.terms[t.term] for t in terms if t.term in school.terms]
        page(path, school.name, partial(school_page.render, root=url_to(path, "index"), school=school, figures=figures,
                                         cases=newest_first(school.cases)[:CASES_SHOWN], total=len(school.cases), label=term_label))


def briefing_values(env: jinja2.Environment, schools: list[School], catalog: Catalog, term: str, root: str) -> dict[str, Any]:
    """`county` for a county briefing of `term`: the totals (`county.accepted`,
    `county.participation_rate`, ...), `county.rows` and `county.table`, the per-school table."""
    county = next((c for c in county_terms(schools, catalog) if c.term == term), None)
    county = county or CountyTerm(term, [Row(s, None, 0) for s in schools], list(catalog.points))
    table = env.get_template("county_macros.html").module.comparison(county, root)  # type: ignore[attr-defined]
    # One line: inside a briefing's Markdown, a blank line would end the HTML block.
    return {"county": replace(county, table=Markup("".join(line.strip() for line in str(table).splitlines())))}
