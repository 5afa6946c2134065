"""Colours and sizes of the kiosk, in one place so contrast and sizes can be checked.

Every text colour is used only on the backgrounds listed in CONTRAST_PAIRS,
and a test holds each pair to WCAG AA (4.5:1).

Sizes follow the window and the display's density: ``sizes`` (one
``Sizes``, like Kivy's own ``Metrics``) holds every size the .kv rules use,
in pixels, recomputed when the window is resized or the density changes.
Each is the larger of a physical minimum (the ``*_MM`` constants below,
converted with Kivy's metrics at the display's real density) and the
design's size at 1280x800 scaled by the room the window gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEXT_FONT = str(ASSETS / "fonts" / "DejaVuSans.ttf")
BOLD_FONT = str(ASSETS / "fonts" / "DejaVuSans-Bold.ttf")


def rgba(hex_colour: str) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    red, green, blue = (int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue, 1.0


PALETTE = {
    "background": "#F6F4EF",
    "surface": "#FFFFFF",
    "ink": "#1B1B1B",
    "muted": "#4A4A4A",
    "primary": "#1D4E89",  # check in
    "secondary": "#0B6347",  # workshops
    "tertiary": "#8A3B12",  # first visit
    "on_colour": "#FFFFFF",
    "warning": "#7A4A00",
    "selected": "#FFE08A",
}

#: (text, background) pairs the screens actually use.
CONTRAST_PAIRS = [
    ("ink", "background"),
    ("ink", "surface"),
    ("muted", "background"),
    ("muted", "surface"),
    ("on_colour", "primary"),
    ("on_colour", "secondary"),
    ("on_colour", "tertiary"),
    ("warning", "surface"),
    ("ink", "selected"),
    ("primary", "surface"),
    ("primary", "background"),
]

C = {name: rgba(value) for name, value in PALETTE.items()}

# The design's sizes in pixels on its reference window, DESIGN (a 10" 1280x800
# panel); ``sizes`` scales them to the window actually shown.
DESIGN = (1280, 800)
TEXT = 28  # body text
TEXT_SMALL = 24  # the smallest text anywhere
TITLE = 40
TOUCH = 96  # the smallest touch target
ICON = 64

# Physical minimums, whatever the display (millimetres on the glass).
TARGET_MM = 9.0  # every touch target, on its shorter side
KEY_MM = 7.0  # a key of the on-screen keyboards (ten keys fit 720 px at 210 dpi)
TILE_MM = 20.0  # the residents' main tiles, where the screen has room
TEXT_MM = 4.0  # residents' text, from the top of capitals to the bottom of descenders
STAFF_TEXT_MM = 3.0  # volunteers' and staff's text (forms and lists read from close by)
#: DejaVu Sans: capitals rise 0.729 em above the baseline, descenders fall
#: 0.208 em below it, so a font size of 1 em spans 0.937 em cap to descender.
CAP_TO_DESCENDER_EM = 0.937
#: The density assumed when neither the display, the kiosk setting nor
#: ``kiosk run --dpi`` gives one (the desktop convention Kivy uses too).
FALLBACK_DPI = 96.0
#: Densities outside this range are a panel reporting nonsense (0 mm, or its
#: aspect ratio in centimetres): ignored.
PLAUSIBLE_DPI = (50.0, 600.0)


def mm_px(mm: float, dpi: float) -> float:
    return mm * dpi / 25.4


def font_for_mm(mm: float, dpi: float) -> float:
    """The smallest font size (px) whose capitals-to-descenders span ``mm``."""
    return mm_px(mm, dpi) / CAP_TO_DESCENDER_EM


@dataclass(frozen=True)
class Layout:
    """Every size a screen uses for one window and density (pixels)."""

    width: int
    height: int
    dpi: float
    room: float  # the design's scale: 1 at 1280x800, 0.6 at 800x480, 1.35 at 1920x1080
    portrait: bool
    compact: bool  # a short window (800x480, 1024x600, 1280x720): bars and gaps tighten
    text: float
    small: float
    staff_text: float
    title: float
    touch: float
    least_touch: float  # the physical minimum itself, for lists that must fit a short window
    key: float
    tile: float
    icon: float  # a pictogram in a button or a row
    big_icon: float  # a main tile's pictogram
    pad: float
    gap: float
    bar: float  # the header and the screens' top bars


def layout_for(width: int, height: int, dpi: float) -> Layout:
    """Pure arithmetic (no Kivy): what ``sizes`` holds for this window."""
    short, long = sorted((width, height))
    room = min(long / DESIGN[0], short / DESIGN[1])
    text_min = font_for_mm(TEXT_MM, dpi)
    text = max(text_min, TEXT * room)
    small = max(text_min, TEXT_SMALL * room)
    # a short window: fewer than 24 lines of body text fit its height
    compact = height < 24 * max(font_for_mm(TEXT_MM, dpi), TEXT * room)
    # on a short window, targets come nearer their physical minimum: rows must fit
    # and a target holds two lines of the smallest text
    touch = max(mm_px(TARGET_MM, dpi), TOUCH * room * (0.85 if compact else 1), small * 2.4)
    return Layout(
        width=width,
        height=height,
        dpi=dpi,
        room=room,
        portrait=height > width,
        compact=compact,
        text=round(text),
        small=round(small),
        staff_text=round(max(font_for_mm(STAFF_TEXT_MM, dpi), TEXT_SMALL * room)),
        title=round(max(text * 1.2, TITLE * room)),
        touch=round(touch),
        least_touch=math.ceil(mm_px(TARGET_MM, dpi)),
        key=round(max(mm_px(KEY_MM, dpi), 80 * room)),
        tile=round(max(mm_px(TILE_MM, dpi), 2 * touch)),
        icon=round(max(text * 1.3, 48 * room)),
        big_icon=round(max(text * 2, 120 * room)),
        pad=round(max(6, 16 * room)),
        gap=round(max(6, 12 * room)),
        bar=round(touch + 2 * max(4, 8 * room)),
    )


def luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = rgba(hex_colour)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: str, bg: str) -> float:
    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)
