"""Charts for statistics pages and briefings: pygal SVG, inlined at build time.

pygal writes labels as SVG <text>, so Chinese renders with the reader's own fonts and stays
searchable and printable. It loads in a few hundredths of a second and draws a chart in a few
milliseconds, so a rebuild that changes a term's figures redraws its charts at no noticeable cost.
No chart script is loaded by any page: pygal's tooltip script and its inline configuration are
left out, and the output is made stable (no random id, no date) so an unchanged chart is an
unchanged page. The environment × dimension grid is a shaded HTML table: twelve numbers read best
as a table, and a table is what screen readers and printers handle best.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import pygal
from markupsafe import Markup, escape
from pygal.style import Style

from . import palette
from .catalog import Catalog

FONTS = "'Noto Sans CJK SC', 'Noto Sans CJK JP', 'WenQuanYi Micro Hei', 'Microsoft YaHei', SimHei, sans-serif"
ENV_COLOURS = {"A": "#26a69a", "B": "#5c6bc0", "C": "#ef6c00"}
WIDTH = 720
HEAT: palette.Colour = (38.0, 166.0, 154.0)  # the heat table's darkest shade


def _style(colours: Sequence[str]) -> Style:
    return Style(
        font_family=FONTS, background="transparent", plot_background="transparent",
        foreground="#333333", foreground_strong="#1b1b1b", foreground_subtle="#dddddd",
        colors=tuple(colours), opacity="1", opacity_hover="0.85", transition="0ms",
        title_font_size=17, label_font_size=13, major_label_font_size=13, value_font_size=12,
        legend_font_size=13, tooltip_font_size=12, value_colors=("#1b1b1b",) * 3,
    )


def _config(colours: Sequence[str], height: float, **options: object) -> dict[str, object]:
    return {
        "style": _style(colours), "width": WIDTH, "height": int(height), "js": [], "disable_xml_declaration": True,
        "print_values": True, "print_zeroes": True, "show_legend": False, "truncate_label": -1, "truncate_legend": -1,
        "margin": 12, "spacing": 8, "value_formatter": lambda value: f"{value:g}", "no_data_text": "暂无数据",
        **options,
    }


def _svg(chart: pygal.graph.graph.Graph, title: str) -> str:
    """The chart's SVG element, ready to inline: no script, no comments, a stable id, and a name
    for screen readers."""
    text = chart.render(is_unicode=True)
    text = re.sub(r"<script\b.*?</script>", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    random_id = re.search(r'id="chart-([0-9a-f-]+)"', text)
    if random_id:
        stable = hashlib.sha1(text.replace(random_id.group(1), "").encode("utf-8")).hexdigest()[:12]
        text = text.replace(random_id.group(1), stable)
    label = escape(title)
    svg = text.replace("<svg ", f'<svg role="img" aria-label="{label}" class="portal-chart" ', 1).replace(' class="pygal-chart"', "", 1)
    return _scroll_box(svg, title)


def _scroll_box(inner: str, title: str) -> str:
    """A chart or table in a box that scrolls sideways on a phone: the chart keeps its drawn width,
    so its text stays at least 12 px, and the page itself never scrolls sideways."""
    return f'<div class="portal-scroll" tabindex="0" role="region" aria-label="{escape(title)}">{inner}</div>'


def bar_chart(labels: Sequence[str], values: Sequence[int], title: str, colour: str = "#26a69a") -> str:
    """Horizontal bars, in the order given from the top, with the count beside each bar."""
    # pygal sizes the label column for Latin letters; Chinese characters are about twice as wide.
    label_width = max((_text_width(label, 13) for label in labels), default=0)
    chart = pygal.HorizontalBar(**_config([colour], 90 + 34 * max(len(labels), 1), print_values_position="top",
                                          show_x_labels=False, show_x_guides=False, show_y_guides=False,
                                          margin_left=int(label_width) + 12))
    chart.title = title
    chart.x_labels = list(labels)[::-1]  # pygal draws the first label at the bottom
    chart.add("成果数", list(values)[::-1])
    return _svg(chart, title)


def point_coverage(catalog: Catalog, by_point: dict[str, int], title: str) -> str:
    """All points in catalog order, each bar in its environment's colour (named in a legend under
    the chart); an uncovered point shows 0."""
    codes = list(catalog.points)
    counts = [by_point.get(c, 0) for c in codes]
    chart = pygal.Bar(**_config(["#26a69a"], 330, x_label_rotation=-90, print_values_position="top",
                                show_x_guides=False, y_title="成果数", value_font_size=12))
    chart.title = title
    chart.x_labels = codes
    chart.y_labels = _integer_ticks(max(counts, default=0))
    chart.add("成果数", [{"value": n, "color": ENV_COLOURS.get(catalog.points[c].env, "#888888")} for c, n in zip(codes, counts)])
    legend = "".join(
        f'<span class="portal-legend__item"><span class="portal-legend__swatch" style="background:{ENV_COLOURS.get(env, "#888888")}"></span>{escape(name)}</span>'
        for env, name in catalog.environments.items()
    )
    return f'{_svg(chart, title)}<figcaption class="portal-legend">{legend}</figcaption>'


def _text_width(text: str, size: float) -> float:
    """Rough width in pixels: a full-width character is one em, anything else about half."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def _integer_ticks(top: int) -> list[int]:
    """At most six whole-number ticks from 0 to at least `top`: counts have no fractions."""
    step = max(1, -(-top // 5))
    return list(range(0, max(top, 1) + step, step))


def heat_table(catalog: Catalog, grid: dict[str, dict[str, int]], by_env: dict[str, int], by_dim: dict[str, int], title: str) -> Markup:
    """Environments (rows) × dimensions (columns): counts in cells shaded by size, with totals
    (a submission counts once per environment and per dimension, however many of its points
    fall there); "—" where the catalog has no point for the pair."""
    rows = list(catalog.environments)
    columns = catalog.dimensions
    top = max((grid[env][dim] for env in rows for dim in columns), default=0) or 1
    head = "".join(f"<th scope=\"col\">{escape(dim)}</th>" for dim in columns)
    body = []
    for env in rows:
        cells = []
        for dim in columns:
            if not catalog.points_in(env, dim):
                cells.append('<td class="portal-heat__none">—</td>')
                continue
            value = grid[env][dim]
            share = value / top
            # Shades of teal; the digits in whichever of near-black and white reads better on the shade.
            shade = palette.mix(HEAT, palette.WHITE, 0.08 + 0.82 * share)
            colour = palette.hex_of(palette.readable_on(shade))
            cells.append(f'<td style="background:{palette.hex_of(shade)};color:{colour}">{value}</td>')
        body.append(f'<tr><th scope="row">{escape(env)} · {escape(catalog.environments[env])}</th>{"".join(cells)}<td>{by_env[env]}</td></tr>')
    totals = "".join(f"<td>{by_dim[dim]}</td>" for dim in columns)
    return Markup(_scroll_box(
        f'<table class="portal-heat" aria-label="{escape(title)}"><caption>{escape(title)}</caption>'
        f'<thead><tr><th scope="col">教学环境</th>{head}<th scope="col">合计</th></tr></thead>'
        f'<tbody>{"".join(body)}<tr><th scope="row">合计</th>{totals}<td></td></tr></tbody></table>', title))
