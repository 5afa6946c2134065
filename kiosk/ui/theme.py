"""Colours and sizes of the kiosk, in one place so contrast can be checked.

Every text colour is used only on the backgrounds listed in CONTRAST_PAIRS,
and a test holds each pair to WCAG AA (4.5:1). Sizes are in pixels at the
kiosk's density (a 15.6" 1280x800 panel: 96 px is about 2 cm).
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEXT_FONT = str(ASSETS / "fonts" / "DejaVuSans.ttf")
BOLD_FONT = str(ASSETS / "fonts" / "DejaVuSans-Bold.ttf")


def rgba(hex_colour: str) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)) + (1.0,)


PALETTE = {
    "background": "#F6F4EF",
    "surface": "#FFFFFF",
    "ink": "#1B1B1B",
    "muted": "#4A4A4A",
    "primary": "#1D4E89",   # check in
    "secondary": "#0B6347",  # workshops
    "tertiary": "#8A3B12",   # first visit
    "on_colour": "#FFFFFF",
    "warning": "#7A4A00",
    "selected": "#FFE08A",
}

#: (text, background) pairs the screens actually use.
CONTRAST_PAIRS = [
    ("ink", "background"), ("ink", "surface"), ("muted", "background"), ("muted", "surface"),
    ("on_colour", "primary"), ("on_colour", "secondary"), ("on_colour", "tertiary"),
    ("warning", "surface"), ("ink", "selected"), ("primary", "surface"), ("primary", "background"),
]

C = {name: rgba(value) for name, value in PALETTE.items()}

TEXT = 28          # body text
TEXT_SMALL = 24    # the smallest text anywhere
TITLE = 40
TOUCH = 96         # the smallest touch target
ICON = 64


def luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b, _ = rgba(hex_colour)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: str, bg: str) -> float:
    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)
