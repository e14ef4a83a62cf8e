"""Palette: the school's Material colours, adjusted so that text meets WCAG 2.1 AA contrast.

A school picks `theme.palette.primary` (and `accent`) in mkdocs.yml by name, as Material offers
them. Several of Material's colours are too light for small text: teal links on white are 3.8:1,
white header text on teal the same, the tabs' 70 % white 2.6:1. Here the colours Material defines
for the chosen names are read from Material's own palette stylesheet (so every name it offers works
and none is copied here), and each is darkened, keeping its hue, until it reaches the contrast AA
requires against what it is drawn on. The result is a small stylesheet of CSS variables that the
theme override links after Material's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

Colour = tuple[float, float, float]  # sRGB channels 0-255

WHITE: Colour = (255.0, 255.0, 255.0)
BLACK: Colour = (0.0, 0.0, 0.0)
AA = 4.5  # WCAG 2.1 AA for normal-size text
# Text colours drawn on light tints of the palette (tags, table heads, cards) need a margin.
INK_TARGET = 5.6
HUE = 225  # Material's default --md-hue, used by the white and black palettes' hsla() values
TINT = 0.1  # share of the primary colour in light backgrounds (tags, table heads)
LINE = 0.35  # share of the primary colour in borders


def parse(value: str, backdrop: Colour = WHITE) -> Colour:
    """A CSS colour as Material writes them (#rgb, #rrggbb, #rrggbbaa, hsl(), hsla()), with any
    transparency blended onto `backdrop`."""
    value = value.strip().replace("var(--md-hue)", str(HUE))
    alpha = 1.0
    if value.startswith("#"):
        digits = value[1:]
        if len(digits) in (3, 4):
            digits = "".join(ch * 2 for ch in digits)
        channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        rgb: Colour = (float(channels[0]), float(channels[1]), float(channels[2]))
        if len(channels) == 4:
            alpha = channels[3] / 255
    else:
        match = re.fullmatch(r"hsla?\(\s*([\d.]+)\s*,\s*([\d.]+)%\s*,\s*([\d.]+)%\s*(?:,\s*([\d.]+))?\s*\)", value)
        if not match:
            raise ValueError(f"not a colour: {value!r}")
        hue, saturation, lightness = float(match.group(1)), float(match.group(2)) / 100, float(match.group(3)) / 100
        rgb = _hsl(hue, saturation, lightness)
        alpha = float(match.group(4)) if match.group(4) else 1.0
    return mix(rgb, backdrop, alpha)


def _hsl(hue: float, saturation: float, lightness: float) -> Colour:
    chroma = (1 - abs(2 * lightness - 1)) * saturation

    def channel(n: int) -> float:
        k = (n + hue / 30) % 12
        return 255 * (lightness - chroma / 2 * max(-1, min(k - 3, 9 - k, 1)))

    return (channel(0), channel(8), channel(4))


def mix(colour: Colour, other: Colour, share: float) -> Colour:
    """`share` of `colour` over `other`."""
    return (
        colour[0] * share + other[0] * (1 - share),
        colour[1] * share + other[1] * (1 - share),
        colour[2] * share + other[2] * (1 - share),
    )


def luminance(colour: Colour) -> float:
    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: Colour, two: Colour) -> float:
    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def darken(colour: Colour, against: Colour, target: float) -> Colour:
    """The lightest shade of `colour` (mixed with black, so the hue stays) with at least `target`
    contrast against `against`; `colour` itself when it already has it."""
    for step in range(101):
        shade = mix(colour, BLACK, 1 - step / 100)
        if contrast(shade, against) >= target:
            return shade
    return BLACK


def hex_of(colour: Colour) -> str:
    return "#" + "".join(f"{min(255, max(0, round(c))):02x}" for c in colour)


def readable_on(background: Colour) -> Colour:
    """Near-black or white, whichever reads better on `background`."""
    dark: Colour = (27.0, 27.0, 27.0)
    return dark if contrast(dark, background) >= contrast(WHITE, background) else WHITE


@functools.cache
def _material_rules() -> tuple[tuple[tuple[str, ...], dict[str, str]], ...]:
    """Every rule of Material's palette stylesheet: (selectors, declarations)."""
    import material

    folder = Path(material.__file__).parent / "templates" / "assets" / "stylesheets"
    css = next(folder.glob("palette.*.min.css")).read_text(encoding="utf-8")
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";") if d.strip().startswith("--"))
        )
        rules.append((tuple(s.strip() for s in selectors.split(",")), declarations))
    return tuple(rules)


def material_names(kind: str = "primary") -> list[str]:
    """The colour names Material offers for `kind` (primary or accent)."""
    found: dict[str, None] = {}
    for selectors, _ in _material_rules():
        for selector in selectors:
            match = re.fullmatch(rf"\[data-md-color-{kind}=([a-z-]+)\]", selector)
            if match:
                found[match.group(1)] = None
    return list(found)


def material_colours(kind: str, name: str) -> dict[str, str]:
    """The CSS variables Material sets for a colour name in the light scheme."""
    wanted = {f"[data-md-color-{kind}={name}]", f"[data-md-color-{kind}={name}]:not([data-md-color-scheme=slate])"}
    variables: dict[str, str] = {}
    for selectors, declarations in _material_rules():
        if wanted & set(selectors):
            variables.update(declarations)
    return variables


@dataclass(frozen=True)
class Palette:
    """The colours the site draws with, each meeting AA where it is used."""

    header: Colour  # header and tabs background
    header_text: Colour  # text on the header
    link: Colour  # links and the portal's coloured text on white and light tints
    accent: Colour  # link hover and focus colour on white
    tint: Colour  # light background of tags and table heads
    line: Colour  # borders in the palette's hue

    def css(self) -> str:
        """Variables for Material and the portal, on <body>, where Material sets its palette."""
        values = {
            "--md-primary-fg-color": self.header,
            "--md-primary-fg-color--dark": darken(self.header, WHITE, 7),
            "--md-primary-bg-color": self.header_text,
            "--md-primary-bg-color--light": self.header_text,
            "--md-typeset-a-color": self.link,
            "--md-accent-fg-color": self.accent,
            "--portal-ink": self.link,
            "--portal-tint": self.tint,
            "--portal-line": self.line,
            "--portal-focus": self.accent,
        }
        body = "".join(f"  {name}: {hex_of(colour)};\n" for name, colour in values.items())
        return (
            "/* Made by scripts/portal/palette.py from theme.palette in mkdocs.yml: Material's colours,\n"
            "   darkened where needed to reach WCAG 2.1 AA contrast. Do not edit: it is rewritten. */\n"
            f"body[data-md-color-primary] {{\n{body}}}\n"
        )


def palette(primary: str, accent: str) -> Palette | None:
    """The adjusted palette for Material's colour names; None for a name Material does not
    define (`custom`: the school sets its own variables and its own contrast)."""
    base = material_colours("primary", primary)
    if "--md-primary-fg-color" not in base:
        return None
    header = parse(base["--md-primary-fg-color"])
    text = parse(base.get("--md-primary-bg-color", "#fff"), header)
    if luminance(text) > luminance(header):  # light text: darken the header behind it
        header = darken(header, text, AA + 0.1)
        header_text = WHITE
    else:  # dark text on a light header (yellow, white): make the text solid, black if need be
        header_text = text if contrast(text, header) >= AA + 0.1 else BLACK
    link_source = base.get("--md-typeset-a-color", base["--md-primary-fg-color"])
    link_base = parse(link_source)
    if luminance(link_base) > 0.9:  # a white primary: links in Material's default indigo
        link_base = parse("#4051b5")
    link = darken(link_base, WHITE, INK_TARGET)
    accent_source = material_colours("accent", accent).get("--md-accent-fg-color", "#526cfe")
    accent_colour = darken(parse(accent_source), WHITE, AA + 0.1)
    return Palette(header, header_text, link, accent_colour, mix(link, WHITE, TINT), mix(link, WHITE, LINE))


def palette_names(config_palette: object) -> tuple[str, str]:
    """(primary, accent) from mkdocs.yml's theme.palette: a mapping, or a list of schemes (the
    first, light one counts). Material's defaults when unset."""
    entries: Iterable[object] = config_palette if isinstance(config_palette, list) else [config_palette]
    for entry in entries:
        if isinstance(entry, dict):
            return str(entry.get("primary") or "indigo").replace(" ", "-").lower(), str(entry.get("accent") or "indigo").replace(" ", "-").lower()
    return "indigo", "indigo"
