"""The visits-per-week bar chart, drawn on the server as SVG geometry.

No JavaScript and no CDN: the page template turns these numbers into an inline
<svg>, which also prints and works with the strict Content-Security-Policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from federation.formatting import LOCALE, long_date, number

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 40


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # read by screen readers and shown as a tooltip


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    baseline: float
    left: int
    right: int


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 x 10^n at or above ``value`` (at least 1), so the
    axis ends on a round number."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    raise AssertionError("unreachable")


def weekly_chart(weeks: list[tuple[date, int]]) -> BarChart:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = nice_ceiling(max((n for _w, n in weeks), default=0))
    slot = plot_w / max(len(weeks), 1)
    baseline = TOP + plot_h
    bars = []
    for i, (monday, visits) in enumerate(weeks):
        height = plot_h * visits / top_value
        bars.append(
            Bar(
                LEFT + i * slot + slot * 0.15,
                baseline - height,
                slot * 0.7,
                height,
                f"Semaine du {long_date(monday)} : {number(visits)} passages",
            )
        )
    # visits are whole numbers: split the axis only where every tick is whole
    steps = 4 if top_value % 4 == 0 else 5 if top_value % 5 == 0 else top_value
    y_ticks = [Tick(baseline - plot_h * k / steps, number(top_value * k // steps)) for k in range(steps + 1)]
    every = max(1, math.ceil(len(weeks) / 8))  # at most ~8 labels so they never overlap
    x_ticks = [
        Tick(LEFT + i * slot + slot / 2, format_date(monday, "d MMM", locale=LOCALE))
        for i, (monday, _n) in enumerate(weeks)
        if i % every == 0
    ]
    return BarChart(WIDTH, HEIGHT, bars, y_ticks, x_ticks, baseline, LEFT, WIDTH - RIGHT)
