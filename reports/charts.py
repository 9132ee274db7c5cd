"""Bar charts drawn on the server as SVG: no script, no style attribute (the CSP forbids both),
and each chart titled and described for screen readers, with its data table beside it."""

import math
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 240
_LEFT = 40
_BOTTOM = 28
_TOP = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    label_x: float
    # What fits under a bar; the full label is the bar's tooltip and in the data table.
    short_label: str = ""


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    bars: list[Bar]
    maximum: float
    # A horizontal line across the chart (a target, like the 95% go-live rule), or None.
    rule_y: float | None
    rule_label: str
    # Labelled values up the axis (0, a few steps, the top), so a bar or the rule reads as a number.
    ticks: tuple[Tick, ...] = ()
    rule_text: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    axis_x: int = _LEFT
    axis_y: int = HEIGHT - _BOTTOM


def bar_chart(
    *,
    id: str,
    title: str,
    points: list[tuple[str, float]],
    unit: str = "",
    rule: float | None = None,
    rule_label: str = "",
    maximum: float | None = None,
) -> BarChart:
    """`points` are (label, value) in order; the description says the range in words.
    `maximum` fixes the top of the scale (100 for a percentage); otherwise the largest value."""
    maximum = maximum or max([v for _, v in points] + ([rule] if rule is not None else []) + [1])
    plot_height = HEIGHT - _BOTTOM - _TOP
    plot_width = WIDTH - _LEFT - 8
    slot = plot_width / max(len(points), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        height = plot_height * value / maximum
        x = _LEFT + index * slot + slot * 0.15
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(HEIGHT - _BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label=label,
                value=value,
                label_x=round(x + slot * 0.35, 1),
                short_label=_shorten(label, slot),
            )
        )
    if points:
        low = min(points, key=lambda p: p[1])
        high = max(points, key=lambda p: p[1])
        description = (
            f"{len(points)} bar{'s' if len(points) != 1 else ''} from {points[0][0]} to {points[-1][0]}. "
            f"Highest {_number(high[1])}{unit} ({high[0]}), lowest {_number(low[1])}{unit} ({low[0]})."
        )
    else:
        description = "No data in this date range."
    rule_y = round(HEIGHT - _BOTTOM - plot_height * rule / maximum, 1) if rule is not None else None
    if rule is not None:
        description += f" The line marks {rule_label}."
    ticks = tuple(
        Tick(y=round(HEIGHT - _BOTTOM - plot_height * value / maximum, 1), label=f"{_number(value)}{unit}")
        for value in _tick_values(maximum)
    )
    return BarChart(
        id=id, title=title, description=description, bars=bars, maximum=maximum, rule_y=rule_y, rule_label=rule_label,
        ticks=ticks, rule_text=f"{_number(rule)}{unit}" if rule is not None else "",
    )  # fmt: skip


def _tick_values(maximum: float) -> list[float]:
    """0 to `maximum` in 4 or 5 round steps (1, 2, 2.5 or 5 times a power of ten)."""
    raw = maximum / 4
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    values, value = [], 0.0
    while value <= maximum + 1e-9:
        values.append(int(value) if float(value).is_integer() else round(value, 2))
        value += step
    return values


def _shorten(label: str, slot: float) -> str:
    # About 6.5 px a character at the ticks' 12 px size.
    room = max(int(slot / 6.5), 3)
    return label if len(label) <= room else label[: room - 1].rstrip() + "…"


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
