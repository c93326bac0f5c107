"""A daily CTR line chart per index version, drawn on the server as inline SVG (no JavaScript)."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from recommender.metrics.rows import SECONDS_PER_DAY

WIDTH, HEIGHT = 640, 200
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 12, 12, 28
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
Y_TICKS = 4


def _day_label(day: int) -> str:
    return datetime.fromtimestamp(day * SECONDS_PER_DAY, tz=timezone.utc).strftime("%d %b")


def _scale(series: dict[str, list]) -> tuple[int, int, float]:
    days = [day for points in series.values() for day, _ in points]
    top = max((rate.ctr for points in series.values() for _, rate in points), default=0.0)
    return min(days), max(days), max(top * 1.1, 0.01)


def _axes(first: int, last: int, top: float) -> list[str]:
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    parts = [f'<line x1="{MARGIN_LEFT}" y1="{HEIGHT - MARGIN_BOTTOM}" x2="{WIDTH - MARGIN_RIGHT}" '
             f'y2="{HEIGHT - MARGIN_BOTTOM}" stroke="#888"/>']
    for tick in range(Y_TICKS + 1):
        value = top * tick / Y_TICKS
        y = HEIGHT - MARGIN_BOTTOM - plot_h * tick / Y_TICKS
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                     f'{value:.1%}</text>')
    parts.append(f'<text x="{MARGIN_LEFT}" y="{HEIGHT - 8}" font-size="11">{_day_label(first)}</text>')
    if last != first:
        parts.append(f'<text x="{WIDTH - MARGIN_RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">'
                     f'{_day_label(last)}</text>')
    return parts


def _line(points: list, first: int, last: int, top: float, colour: str, version: str) -> str:
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    span = max(last - first, 1)
    coords = []
    for day, rate in points:
        x = MARGIN_LEFT + plot_w * ((day - first) / span if last != first else 0.5)
        coords.append((x, HEIGHT - MARGIN_BOTTOM - plot_h * min(rate.ctr / top, 1.0), day, rate))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(version)} '
                   f'{_day_label(day)}: {rate.ctr:.2%} ({rate.clicks}/{rate.impressions})</title></circle>'
                   for x, y, day, rate in coords)
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>{dots}'


def daily_ctr_svg(series: dict[str, list], labels: dict[str, str] | None = None) -> str:
    """An <svg> with one line per version (its legend names each version's label, if any), or "" when
    there is nothing to draw."""
    if not series:
        return ""
    first, last, top = _scale(series)
    parts = _axes(first, last, top)
    legend = []
    for index, (version, points) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        parts.append(_line(points, first, last, top, colour, version))
        named = f"{version} ({labels[version]})" if labels and labels.get(version) else version
        legend.append(f'<tspan fill="{colour}">■ {escape(named)}</tspan> ')
    title = "Daily click-through rate per index version"
    return (f'<svg class="ctr-chart" viewBox="0 0 {WIDTH} {HEIGHT + 18}" width="100%" role="img" '
            f'aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
            + "".join(parts)
            + f'<text x="{MARGIN_LEFT}" y="{HEIGHT + 14}" font-size="11">{"".join(legend)}</text></svg>')
