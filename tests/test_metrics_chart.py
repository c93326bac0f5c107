"""The metrics chart (issue 27 item 5): the legend has a row per version with its counts and never runs past
the chart, dots and lines are drawn by traffic, and one day of data comes as a table, not a column of dots."""

from __future__ import annotations

import re

from recommender.metrics.chart import LEGEND_NAME_CHARS, WIDTH, daily_ctr_svg
from recommender.metrics.stats import Rate

DAY = 20_000


def radii(svg: str) -> list[float]:
    return [float(r) for r in re.findall(r'<circle [^>]*r="([0-9.]+)"', svg)]


def test_a_version_with_little_traffic_is_drawn_smaller_and_thinner():
    series = {"busy": [(DAY, Rate(20, 211)), (DAY + 1, Rate(25, 190))],
              "quiet": [(DAY, Rate(1, 3)), (DAY + 1, Rate(0, 2))]}
    svg = daily_ctr_svg(series)
    busy, quiet = radii(svg)[:2], radii(svg)[2:]
    assert min(busy) > max(quiet)
    widths = [float(w) for w in re.findall(r'<polyline [^>]*stroke-width="([0-9.]+)"', svg)]
    assert widths[0] > widths[1]
    assert "busy: 401 impressions, 45 clicks" in svg and "quiet: 5 impressions, 1 clicks" in svg


def test_every_legend_entry_has_its_own_row_inside_the_chart():
    labels = {f"v{i}": "a label an admin typed that is long enough to run off the side of the chart" for i in range(4)}
    series = {f"v{i}": [(DAY, Rate(i, 50)), (DAY + 2, Rate(i, 60))] for i in range(4)}
    svg = daily_ctr_svg(series, labels)
    height = float(re.search(r'viewBox="0 0 \d+ (\d+)"', svg).group(1))
    rows = [float(y) for y in re.findall(r'<text x="48" y="([0-9.]+)" font-size="12">', svg)]
    assert len(rows) == 4 and len(set(rows)) == 4 and max(rows) < height
    for entry in re.findall(r'</tspan> ([^<]*)</text>', svg):
        name = entry.split(": ")[0]
        assert len(name) <= LEGEND_NAME_CHARS and len(entry) * 7 < WIDTH - 48, entry  # 12 px text: < 7 px a character


def test_one_day_of_data_is_a_table():
    chart = daily_ctr_svg({"v1": [(DAY, Rate(3, 40))], "v2": [(DAY, Rate(1, 9))]})
    assert "<svg" not in chart and "<table" in chart
    cells = re.search(r"v1</code></th>(.*?)</tr>", chart).group(1)
    assert re.findall(r'data-label="(\w+)">([^<]+)<', cells)[1:] == [("Impressions", "40"), ("Clicks", "3"),
                                                                    ("CTR", "7.50%")]
    assert daily_ctr_svg({}) == ""
