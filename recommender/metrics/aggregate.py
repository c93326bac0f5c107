"""Counting impressions and clicks per index version, position, surface, panel (list), day and experiment arm.

Bot clicks are stored (flagged) but never counted here.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from recommender.metrics.schema import clicks, impressions
from recommender.metrics.stats import Rate


def _window(table, since: float | None, until: float | None) -> list:
    conditions = []
    if since is not None:
        conditions.append(table.c.at >= since)
    if until is not None:
        conditions.append(table.c.at < until)
    if table is clicks:
        conditions.append(clicks.c.bot.is_(False))
    return conditions


def _counts(connection: Connection, table, keys: list, conditions: list) -> dict[tuple, int]:
    statement = select(*keys, func.count()).where(and_(True, *conditions)).group_by(*keys)
    return {tuple(row[:-1]): row[-1] for row in connection.execute(statement)}


def _by_position(shown_counts: dict[int, int], click_counts: dict[int, int]) -> list[dict]:
    """Impressions at position p are the panels that showed at least p items."""
    longest = max([*shown_counts, *click_counts, 0])
    rows, still_shown = [], sum(shown_counts.values())
    for position in range(1, longest + 1):
        rate = Rate(click_counts.get(position, 0), still_shown)
        rows.append({"position": position, **rate.as_dict()})
        still_shown -= shown_counts.get(position, 0)
    return rows


def version_metrics(connection: Connection, since: float | None = None, until: float | None = None) -> list[dict]:
    """One entry per index version that had impressions or clicks in the window, newest version first."""
    shown_at = _window(impressions, since, until)
    clicked_at = _window(clicks, since, until)
    by_shown = _counts(connection, impressions, [impressions.c.version, impressions.c.shown_count], shown_at)
    by_position = _counts(connection, clicks, [clicks.c.version, clicks.c.position], clicked_at)
    shown_surface = _counts(connection, impressions, [impressions.c.version, impressions.c.surface], shown_at)
    clicked_surface = _counts(connection, clicks, [clicks.c.version, clicks.c.surface], clicked_at)
    by_panel = _pair_rates(connection, "panel", "version", since, until)
    versions = sorted({key[0] for key in (*by_shown, *by_position)}, reverse=True)
    result = []
    for version in versions:
        shown_counts = {n: c for (v, n), c in by_shown.items() if v == version}
        click_counts = {p: c for (v, p), c in by_position.items() if v == version}
        total = Rate(sum(click_counts.values()), sum(shown_counts.values()))
        surfaces = sorted({s for (v, s) in (*shown_surface, *clicked_surface) if v == version})
        result.append({"version": version, **total.as_dict(),
                       "by_position": _by_position(shown_counts, click_counts),
                       "by_surface": {s: Rate(clicked_surface.get((version, s), 0),
                                              shown_surface.get((version, s), 0)).as_dict() for s in surfaces},
                       "by_panel": {p: rate.as_dict() for (p, v), rate in sorted(by_panel.items()) if v == version}})
    return result


def _pair_rates(connection: Connection, first: str, second: str, since: float | None, until: float | None,
                conditions: tuple = ()) -> dict[tuple, Rate]:
    """{(first, second): Rate} over two columns both tables have (panel, version, arm)."""
    shown = _counts(connection, impressions, [impressions.c[first], impressions.c[second]],
                    [*_window(impressions, since, until), *[c(impressions) for c in conditions]])
    clicked = _counts(connection, clicks, [clicks.c[first], clicks.c[second]],
                      [*_window(clicks, since, until), *[c(clicks) for c in conditions]])
    return {key: Rate(clicked.get(key, 0), shown.get(key, 0)) for key in {*shown, *clicked}}


def panel_metrics(connection: Connection, since: float | None = None, until: float | None = None) -> list[dict]:
    """One entry per panel (list) that had impressions or clicks in the window, with its rate per version."""
    pairs = _pair_rates(connection, "panel", "version", since, until)
    result = []
    for panel in sorted({p for p, _ in pairs}):
        mine = {v: rate for (p, v), rate in pairs.items() if p == panel}
        total = Rate(sum(r.clicks for r in mine.values()), sum(r.impressions for r in mine.values()))
        result.append({"panel": panel, **total.as_dict(),
                       "by_version": {v: mine[v].as_dict() for v in sorted(mine, reverse=True)}})
    return result


def daily_ctr(connection: Connection, since: float | None = None, until: float | None = None) -> dict[str, list]:
    """{version: [(day, Rate), ...]} in day order, for the chart."""
    shown = _counts(connection, impressions, [impressions.c.version, impressions.c.day],
                    _window(impressions, since, until))
    clicked = _counts(connection, clicks, [clicks.c.version, clicks.c.day], _window(clicks, since, until))
    series: dict[str, list] = {}
    for version, day in sorted({*shown, *clicked}):
        series.setdefault(version, []).append((day, Rate(clicked.get((version, day), 0), shown.get((version, day), 0))))
    return series


def arm_rates(connection: Connection, experiment_id: str) -> dict[str, Rate]:
    """{arm: Rate} for one experiment."""
    shown = _counts(connection, impressions, [impressions.c.arm], [impressions.c.experiment_id == experiment_id])
    clicked = _counts(connection, clicks, [clicks.c.arm],
                      [clicks.c.experiment_id == experiment_id, clicks.c.bot.is_(False)])
    return {arm: Rate(clicked.get((arm,), 0), shown.get((arm,), 0)) for (arm,) in {*shown, *clicked}}


def arm_panel_rates(connection: Connection, experiment_id: str) -> dict[tuple[str, str], Rate]:
    """{(arm, panel): Rate} for one experiment: how each list did in each arm."""
    return _pair_rates(connection, "arm", "panel", None, None,
                       (lambda table: table.c.experiment_id == experiment_id,))
