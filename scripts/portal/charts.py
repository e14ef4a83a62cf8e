"""Charts for statistics pages and briefings: matplotlib, written as inline SVG at build time.

Labels stay SVG <text> (`svg.fonttype: none`), so Chinese renders with the reader's own fonts and
stays searchable and printable; no chart script is loaded by any page. Mathtext is off: a group
name containing "$" is text, not a formula. Each function returns an SVG element ready to inline.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .catalog import Catalog  # noqa: E402

CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei"]
ENV_COLOURS = {"A": "#26a69a", "B": "#5c6bc0", "C": "#ef6c00"}
STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": CJK_FONTS + ["DejaVu Sans"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "portal",  # stable ids: an unchanged chart is an unchanged page
}


def _svg(figure: plt.Figure, title: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE: it is inlined in HTML
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"\n\s*\n", "\n", text)  # no blank lines: Markdown must see one HTML block
    # Make it scale with the page and name it for screen readers.
    text = re.sub(r'<svg ([^>]*?)width="[^"]+" height="[^"]+"', r'<svg \1', text, count=1)
    return text.replace("<svg ", f'<svg role="img" aria-label="{_attr(title)}" class="portal-chart" ', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def bar_chart(labels: Sequence[str], values: Sequence[int], title: str, colour: str = "#26a69a") -> str:
    """Horizontal bars, largest first as given, with the count at the end of each bar."""
    with plt.rc_context(STYLE):
        height = max(1.6, 0.38 * len(labels) + 0.8)
        figure, axes = plt.subplots(figsize=(6.4, height))
        positions = list(range(len(labels)))[::-1]
        axes.barh(positions, values, color=colour, height=0.6)
        axes.set_yticks(positions, labels=list(labels))
        for y, value in zip(positions, values):
            axes.text(value, y, f" {value}", va="center", fontsize=9)
        axes.set_title(title, loc="left", fontsize=11)
        axes.xaxis.set_visible(False)
        axes.spines["bottom"].set_visible(False)
        return _svg(figure, title)


def heat_map(catalog: Catalog, grid: dict[str, dict[str, int]], title: str) -> str:
    """Environments (rows) × dimensions (columns), shaded by count, the count in every cell."""
    with plt.rc_context(STYLE):
        rows = list(catalog.environments)
        columns = catalog.dimensions
        values = [[grid[env][dim] for dim in columns] for env in rows]
        figure, axes = plt.subplots(figsize=(6.4, 2.6))
        top = max(max(row) for row in values) or 1
        axes.imshow(values, cmap="Greens", vmin=0, vmax=top * 1.15, aspect="auto")
        axes.set_xticks(range(len(columns)), labels=columns)
        axes.set_yticks(range(len(rows)), labels=[f"{env} {catalog.environments[env]}" for env in rows])
        axes.tick_params(length=0)
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                empty = not catalog.points_in(rows[r], columns[c])
                axes.text(c, r, "—" if empty else str(value), ha="center", va="center",
                          color="white" if value > top * 0.6 else "#1b1b1b", fontsize=11)
        for spine in axes.spines.values():
            spine.set_visible(False)
        axes.set_title(title, loc="left", fontsize=11)
        return _svg(figure, title)


def point_coverage(catalog: Catalog, by_point: dict[str, int], title: str) -> str:
    """All 30 points in catalog order, coloured by environment; an uncovered point shows 0."""
    with plt.rc_context(STYLE):
        codes = list(catalog.points)
        figure, axes = plt.subplots(figsize=(7.2, 2.8))
        colours = [ENV_COLOURS.get(catalog.points[c].env, "#888888") for c in codes]
        counts = [by_point.get(c, 0) for c in codes]
        axes.bar(range(len(codes)), counts, color=colours, width=0.7)
        axes.set_xticks(range(len(codes)), labels=codes, rotation=90, fontsize=8)
        for x, value in enumerate(counts):
            axes.text(x, value, str(value), ha="center", va="bottom", fontsize=7, color="#b71c1c" if value == 0 else "#333333")
        axes.set_ylabel("成果数")
        axes.set_ylim(0, max(max(counts), 1) * 1.2)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        handles = [plt.Rectangle((0, 0), 1, 1, color=ENV_COLOURS[e]) for e in catalog.environments if e in ENV_COLOURS]
        axes.legend(handles, [catalog.environments[e] for e in catalog.environments if e in ENV_COLOURS], frameon=False,
                    fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.22))
        axes.set_title(title, loc="left", fontsize=11)
        return _svg(figure, title)
