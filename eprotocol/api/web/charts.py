"""Geometry of the statistics charts, drawn by the templates as SVG (no script, no library).

Charts are sized in a fixed coordinate box and scale with the page (``viewBox``),
so the same drawing serves a desk screen and a phone.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Width and height of the monthly chart's coordinate box.
WIDTH, HEIGHT = 600, 220
_LEFT, _BOTTOM, _TOP = 36, 24, 8
MONTH_LABELS = ("Ι", "Φ", "Μ", "Α", "Μ", "Ι", "Ι", "Α", "Σ", "Ο", "Ν", "Δ")


@dataclass(frozen=True, slots=True)
class Segment:
    """One coloured part of a month's column."""

    x: float
    y: float
    width: float
    height: float
    series: int
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class MonthChart:
    """A column per month, stacked by series (direction), with the largest total for the axis."""

    segments: tuple[Segment, ...]
    series: tuple[str, ...]
    peak: int
    month_x: tuple[float, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    baseline: int = HEIGHT - _BOTTOM


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a bar chart: a label, its count and the bar's length as a fraction."""

    label: str
    value: int
    fraction: float


def stacked_months(series: dict[str, list[int]]) -> MonthChart:
    """Columns of twelve months, each stacked from ``series`` (name → 12 counts)."""
    names = tuple(sorted(series))
    totals = [sum(series[name][m] for name in names) for m in range(12)]
    peak = max(totals, default=0)
    plot_height = HEIGHT - _BOTTOM - _TOP
    step = (WIDTH - _LEFT) / 12
    segments = []
    for month in range(12):
        y: float = HEIGHT - _BOTTOM
        for index, name in enumerate(names):
            value = series[name][month]
            if not value:
                continue
            height = plot_height * value / peak
            y -= height
            x = _LEFT + month * step + step * 0.15
            segments.append(Segment(x, y, step * 0.7, height, index, name, value))
    centres = tuple(_LEFT + month * step + step / 2 for month in range(12))
    return MonthChart(tuple(segments), names, peak, centres)


def bars(counts: dict[str, int], *, limit: int = 15) -> tuple[Bar, ...]:
    """The ``limit`` largest counts, largest first, with bar lengths relative to the largest."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    peak = ranked[0][1] if ranked else 0
    return tuple(Bar(label, value, value / peak if peak else 0.0) for label, value in ranked)
