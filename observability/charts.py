"""Server-side SVG charts for the monitoring page: stacked bars per minute, lines, sparklines.

Every drawn value is also an attribute (`data-count`, `data-value`): what the page shows can be
read back exactly (the browser test does).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 48, 22, 8
COLORS = {
    "2xx": "#3a8f4b",
    "3xx": "#5a7fbf",
    "4xx": "#d39a1c",
    "5xx": "#c0392b",
    "p50": "#2c6fbb",
    "p95": "#8e44ad",
    "tokens": "#16a085",
    "cost": "#7f8c8d",
}


def _axes(minutes: Sequence[int], top_value: float, unit: str) -> list[str]:
    """The frame: y axis with its top value, x labels every 10 minutes (UTC)."""
    plot_w = WIDTH - LEFT
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" font-size="10">'
        f"{_short(top_value)}{escape(unit)}</text>",
        f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end" font-size="10">0</text>',
    ]
    step = plot_w / max(len(minutes), 1)
    for index, minute in enumerate(minutes):
        if minute % 10 == 0:
            label = time.strftime("%H:%M", time.gmtime(minute * 60))
            x = LEFT + index * step
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle">'
                f"{label}</text>"
            )
    return parts


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:g}"


def _svg(chart_id: str, title: str, parts: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 (numbers and escaped text only)
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="100%" role="img" aria-label="{escape(title)}"'
        ' xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


def stacked_bars(
    chart_id: str,
    title: str,
    minutes: Sequence[int],
    stacks: Sequence[dict[str, float]],
    series: Sequence[str],
) -> SafeString:
    """One bar per minute, its `series` stacked; each rect carries its minute and count."""
    totals = [sum(stack.get(name, 0) for name in series) for stack in stacks]
    top_value = max(totals, default=0) or 1
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(minutes), 1)
    parts = _axes(minutes, top_value, "")
    for index, (minute, stack) in enumerate(zip(minutes, stacks, strict=True)):
        base = HEIGHT - BOTTOM
        for name in series:
            count = stack.get(name, 0)
            if not count:
                continue
            height = count / top_value * plot_h
            base -= height
            parts.append(
                f'<rect class="bar bar-{escape(name)}" data-minute="{minute}"'
                f' data-series="{escape(name)}" data-count="{count:g}"'
                f' x="{LEFT + index * step + 1:.1f}" y="{base:.1f}"'
                f' width="{max(step - 2, 1):.1f}" height="{height:.1f}"'
                f' fill="{COLORS.get(name, "#555")}"><title>{escape(name)}: {count:g}</title>'
                "</rect>"
            )
    return _svg(chart_id, title, parts)


def lines(
    chart_id: str,
    title: str,
    minutes: Sequence[int],
    series: dict[str, Sequence[float | None]],
    unit: str,
) -> SafeString:
    """One polyline per series (gaps where a minute has no value), points carrying values."""
    values = [v for points in series.values() for v in points if v is not None]
    top_value = max(values, default=0) or 1
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(minutes), 1)
    parts = _axes(minutes, top_value, unit)
    for name, points in series.items():
        color = COLORS.get(name, "#555")
        coords = []
        for index, value in enumerate(points):
            if value is None:
                continue
            x = LEFT + index * step + step / 2
            y = HEIGHT - BOTTOM - value / top_value * plot_h
            coords.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle class="point point-{escape(name)}" data-minute="{minutes[index]}"'
                f' data-value="{value:g}" cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{color}">'
                f"<title>{escape(name)}: {value:g}{escape(unit)}</title></circle>"
            )
        if len(coords) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5"'
                f' points="{" ".join(coords)}"/>'
            )
    return _svg(chart_id, title, parts)


def sparkline(values: Sequence[float], width: int = 180, height: int = 28) -> SafeString:
    """A small line of per-minute values (flat when there was nothing)."""
    top_value = max(values, default=0) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - v / top_value * (height - 4):.1f}"
        for i, v in enumerate(values)
    )
    return mark_safe(  # noqa: S308 (numbers only)
        f'<svg class="sparkline" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<polyline fill="none" stroke="#2c6fbb" stroke-width="1.2" points="{points}"/></svg>'
    )
