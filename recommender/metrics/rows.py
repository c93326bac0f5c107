"""Turning impressions and clicks into rows of the metrics tables."""

from __future__ import annotations

from recommender.metrics.tokens import Click, Impression

SECONDS_PER_DAY = 86_400


def day_of(at: float) -> int:
    return int(at // SECONDS_PER_DAY)


def _panel_columns(impression: Impression, visitor: str, at: float) -> dict:
    return {"impression_id": impression.impression_id, "version": impression.version, "arm": impression.arm,
            "experiment_id": impression.experiment_id, "source_item": impression.source,
            "surface": impression.surface, "visitor": visitor, "at": at, "day": day_of(at)}


def impression_row(impression: Impression, visitor: str, at: float) -> dict:
    return _panel_columns(impression, visitor, at) | {
        "k": impression.k, "shown": list(impression.shown), "shown_count": len(impression.shown)}


def click_row(click: Click, visitor: str, at: float, bot: bool) -> dict:
    return _panel_columns(click.impression, visitor, at) | {
        "position": click.position, "item_id": click.item_id, "bot": bot}


def click_event(row: dict, row_number: int | None = None) -> dict:
    """The click as a behaviour event for the store, so clicks feed the next rebuild.

    The event id names the impression, position and moment, so a retried flush never counts it twice."""
    return {"event_id": f"click:{row['impression_id']}:{row['position']}:{row['at']!r}"
                        + (f":{row_number}" if row_number is not None else ""),
            "user_id": row["visitor"], "item_id": row["item_id"], "type": "click", "timestamp": row["at"]}
