"""The usage page's per-day chart: an SVG drawn on the server from DailyUsage rows.

No chart library and no script: the template draws rectangles whose geometry is computed here
(SVG presentation attributes, which the strict CSP allows), coloured by CSS classes so both
themes work. A table with the same numbers sits next to it for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from accounts.models import DailyUsage

WIDTH = 640
HEIGHT = 240
LEFT = 56  # room for the y-axis labels
RIGHT = 8
TOP = 12
BOTTOM = 36  # room for the x-axis labels
TICKS = 4


@dataclass(frozen=True)
class Bar:
    day: date
    characters: int
    jobs: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    label: str
    x: float = 0
    y: float = 0


@dataclass(frozen=True)
class Chart:
    start: date
    end: date  # inclusive
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM
    right_edge: int = WIDTH - RIGHT


def usage_days(*, user, start: date, end: date) -> list[DailyUsage]:
    """The user's days with settled usage between start and end, inclusive."""
    return list(
        DailyUsage.objects.filter(user=user, day__gte=start, day__lte=end, characters__gt=0)
    )


def nice_ceiling(value: int) -> int:
    """The smallest 1/2/5 x 10^n at or above value (an axis top that reads well)."""
    if value <= 0:
        return TICKS
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            top = step * magnitude
            break
    # Ticks at quarters must be whole numbers.
    return max(top, TICKS) + (-max(top, TICKS)) % TICKS


def _compact(value: int) -> str:
    """Axis labels short enough for a phone: 950, 1.5k, 20k, 1.2M."""
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= unit:
            text = f"{value / unit:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return str(value)


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


def chart_build(*, rows: list[DailyUsage], start: date, end: date) -> Chart:
    days = (end - start).days + 1
    slot = (WIDTH - LEFT - RIGHT) / days
    plot_height = HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((row.characters for row in rows), default=0))
    bars = []
    for row in rows:
        height = plot_height * row.characters / top
        x = LEFT + (row.day - start).days * slot + slot * 0.15
        bars.append(
            Bar(
                day=row.day,
                characters=row.characters,
                jobs=row.jobs,
                x=round(x, 2),
                y=round(TOP + plot_height - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
            )
        )
    y_ticks = [
        Tick(label=_compact(top * i // TICKS), y=round(TOP + plot_height * (1 - i / TICKS), 2))
        for i in range(TICKS + 1)
    ]
    every = max(1, round(days / 6))
    x_ticks = [
        Tick(
            label=_short(start + timedelta(days=i)),
            x=round(LEFT + i * slot + slot / 2, 2),
        )
        for i in range(0, days, every)
    ]
    total = sum(row.characters for row in rows)
    return Chart(start=start, end=end, bars=bars, y_ticks=y_ticks, x_ticks=x_ticks, total=total)
