"""Colours and outlines that do not need a browser: the school's palette reaches WCAG AA whatever
primary colour Material offers, and teachers' headings never skip a level."""

from __future__ import annotations

import pytest

from portal.generate import nest_headings, qr_svg
from portal.palette import WHITE, contrast, material_names, palette, palette_names

PRIMARIES = material_names("primary")


def test_material_offers_the_usual_colours() -> None:
    assert {"teal", "indigo", "yellow", "white", "black"} <= set(PRIMARIES)
    assert "teal" in material_names("accent")


@pytest.mark.parametrize("primary", PRIMARIES)
def test_every_primary_colour_reaches_aa(primary: str) -> None:
    colours = palette(primary, "indigo")
    assert colours is not None
    assert contrast(colours.header, colours.header_text) >= 4.5  # header and tab labels
    assert contrast(colours.link, WHITE) >= 4.5  # links and coloured text
    assert contrast(colours.link, colours.tint) >= 4.5  # tags on their light background
    assert contrast(colours.accent, WHITE) >= 4.5  # hover and focus colour


def test_teal_is_darkened_not_replaced() -> None:
    teal = palette("teal", "indigo")
    assert teal is not None
    r, g, b = teal.header
    assert g > r and b > r  # still teal
    assert teal.css().count("--md-primary-fg-color:") == 1


def test_a_custom_palette_is_left_to_the_school() -> None:
    assert palette("custom", "custom") is None


def test_palette_names_from_mkdocs_yml() -> None:
    assert palette_names({"primary": "Deep Orange", "accent": "teal"}) == ("deep-orange", "teal")
    assert palette_names([{"media": "(prefers-color-scheme: light)", "primary": "teal"}, {"primary": "black"}]) == ("teal", "indigo")
    assert palette_names(None) == ("indigo", "indigo")


@pytest.mark.parametrize(
    ("html", "top", "expected"),
    [
        ("<h1>a</h1><h2>b</h2>", 3, "<h3>a</h3><h4>b</h4>"),
        ("<h2>a</h2><h4>b</h4><h3>c</h3>", 3, "<h3>a</h3><h4>b</h4><h4>c</h4>"),
        ("<h4>a</h4><h2>b</h2>", 3, "<h3>a</h3><h3>b</h3>"),
        ("<h6>a</h6><h6>b</h6>", 4, "<h4>a</h4><h4>b</h4>"),
        ("<p>no headings</p>", 3, "<p>no headings</p>"),
    ],
)
def test_headings_never_skip_a_level(html: str, top: int, expected: str) -> None:
    assert str(nest_headings(html, top)) == expected


def test_qr_code_is_inline_svg_of_the_address() -> None:
    svg = str(qr_svg("http://192.168.1.10:8000/r/2023-2024-1-x/"))
    assert svg.startswith("<svg") and 'role="img"' in svg and "<script" not in svg
    assert "http://192.168.1.10:8000/r/2023-2024-1-x/" in svg  # in its title
