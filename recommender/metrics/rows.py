"""Turning impressions and clicks into rows of the metrics tables."""

from __future__ import annotations

import hashlib

from recommender.metrics.tokens import Click, Impression

SECONDS_PER_DAY = 86_400
CLICK_EVENT_ID_HEX = 32  # 128 bits of the visitor-item-day hash


def day_of(at: float) -> int:
    return int(at // SECONDS_PER_DAY)


def _panel_columns(impression: Impression, visitor: str, at: float) -> dict:
    return {"impression_id": impression.impression_id, "version": impression.version, "arm": impression.arm,
            "experiment_id": impression.experiment_id, "source_item": impression.source,
            "surface": impression.surface, "panel": impression.panel, "visitor": visitor, "at": at, "day": day_of(at)}


def impression_row(impression: Impression, visitor: str, at: float) -> dict:
    return _panel_columns(impression, visitor, at) | {
        "k": impression.k, "shown": list(impression.shown), "shown_count": len(impression.shown)}


def click_row(click: Click, visitor: str, at: float, bot: bool) -> dict:
    return _panel_columns(click.impression, visitor, at) | {
        "position": click.position, "item_id": click.item_id, "bot": bot}


def click_event(row: dict) -> dict:
    """The click as a behaviour event for the store, so clicks feed the next rebuild.

    The event id names the visitor, the item and the day (hashed: both ids may be long), and the store
    keeps one event per id: a visitor's clicks on one item give at most one training event a day, however
    many panels, tokens or flushes carried them."""
    day = hashlib.sha256("\0".join((row["visitor"], row["item_id"], str(row["day"]))).encode()).hexdigest()
    return {"event_id": f"click:{day[:CLICK_EVENT_ID_HEX]}", "user_id": row["visitor"], "item_id": row["item_id"],
            "type": "click", "timestamp": row["at"]}
