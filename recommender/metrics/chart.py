"""A daily CTR line chart per index version, drawn on the server as inline SVG (no JavaScript).

Traffic decides how boldly a version is drawn: a day's dot grows with its impressions and a version's
line with its share of all impressions, so 3 impressions never look as sure as 211. The legend has one
row per version with its counts (it grows the chart's height, so no entry is ever cut off). With fewer
than two days there is no line to draw: the same figures come as a table instead.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from html import escape

from recommender.metrics.rows import SECONDS_PER_DAY

WIDTH, HEIGHT = 640, 200
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 12, 12, 28
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
Y_TICKS = 4
LEGEND_ROW = 18
DOT_MIN, DOT_MAX = 2.0, 7.0  # radius of a day's dot: fewest to most impressions of any day shown
LINE_MIN, LINE_MAX = 1.0, 4.0  # width of a version's line: smallest to largest share of impressions
MIN_DAYS_FOR_A_LINE = 2
LEGEND_NAME_CHARS = 52  # a legend row's version and label, shortened with "…" to fit the width at 12 px


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


def dot_radius(impressions: int, most: int) -> float:
    """Area grows with impressions (the square root keeps a busy day from swallowing the chart)."""
    return DOT_MIN + (DOT_MAX - DOT_MIN) * math.sqrt(impressions / most) if most else DOT_MIN


def line_width(impressions: int, total: int) -> float:
    return LINE_MIN + (LINE_MAX - LINE_MIN) * (impressions / total) if total else LINE_MIN


def _line(points: list, scale: tuple[int, int, float], colour: str, version: str, widths: tuple[float, int]) -> str:
    first, last, top = scale
    width, most = widths
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    span = max(last - first, 1)
    coords = []
    for day, rate in points:
        x = MARGIN_LEFT + plot_w * ((day - first) / span if last != first else 0.5)
        coords.append((x, HEIGHT - MARGIN_BOTTOM - plot_h * min(rate.ctr / top, 1.0), day, rate))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{dot_radius(rate.impressions, most):.1f}" fill="{colour}">'
                   f'<title>{escape(version)} {_day_label(day)}: {rate.ctr:.2%} ({rate.clicks}/{rate.impressions})'
                   f'</title></circle>' for x, y, day, rate in coords)
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
    return (f'<polyline fill="none" stroke="{colour}" stroke-width="{width:.1f}" stroke-opacity=".8" '
            f'points="{path}"/>{dots}')


def _named(version: str, labels: dict[str, str] | None) -> str:
    return f"{version} ({labels[version]})" if labels and labels.get(version) else version


def _totals(points: list) -> tuple[int, int]:
    return sum(rate.clicks for _, rate in points), sum(rate.impressions for _, rate in points)


def _table(series: dict[str, list], labels: dict[str, str] | None) -> str:
    """One day (or none to join): the figures as a table, which says more than a column of dots."""
    rows = "".join(f'<tr><th scope="row"><code>{escape(_named(version, labels))}</code></th>'
                   f'<td data-label="Day">{_day_label(day)}</td>'
                   f'<td class="num" data-label="Impressions">{rate.impressions}</td>'
                   f'<td class="num" data-label="Clicks">{rate.clicks}</td>'
                   f'<td class="num" data-label="CTR">{rate.ctr:.2%}</td></tr>'
                   for version, points in sorted(series.items()) for day, rate in points)
    return ('<div class="table-wrap"><table class="plain numbers stack ctr-chart ctr-days"><caption>Daily '
            'click-through rate per index version (one day so far: a line needs two)</caption><thead><tr>'
            '<th scope="col">Version</th><th scope="col">Day</th><th scope="col" class="num">Impressions</th>'
            '<th scope="col" class="num">'
            f'Clicks</th><th scope="col" class="num">CTR</th></tr></thead><tbody>{rows}</tbody></table></div>')


def daily_ctr_svg(series: dict[str, list], labels: dict[str, str] | None = None) -> str:
    """An <svg> with one line per version, drawn by traffic, and a legend row per version with its counts
    (and its label, if any); a table when there are fewer than two days; "" when there is nothing at all."""
    if not series:
        return ""
    if len({day for points in series.values() for day, _ in points}) < MIN_DAYS_FOR_A_LINE:
        return _table(series, labels)
    scale = _scale(series)
    parts = _axes(*scale)
    most = max(rate.impressions for points in series.values() for _, rate in points)
    total = sum(_totals(points)[1] for points in series.values())
    legend = []
    for index, (version, points) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        clicks, shown = _totals(points)
        parts.append(_line(points, scale, colour, version, (line_width(shown, total), most)))
        named = _named(version, labels)
        short = named if len(named) <= LEGEND_NAME_CHARS else named[:LEGEND_NAME_CHARS - 1] + "…"
        legend.append(f'<text x="{MARGIN_LEFT}" y="{HEIGHT + 14 + index * LEGEND_ROW}" font-size="12">'
                      f'<title>{escape(named)}</title><tspan fill="{colour}">■</tspan> {escape(short)}: '
                      f'{shown} impressions, {clicks} clicks</text>')
    title = "Daily click-through rate per index version"
    height = HEIGHT + 8 + LEGEND_ROW * len(series)
    return (f'<svg class="ctr-chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
            f'aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
            + "".join(parts) + "".join(legend) + '</svg>')
