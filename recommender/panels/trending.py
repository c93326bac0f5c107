"""Trending (issue 24): a time-decayed count of each item's events, so a burst in the last hour rises
above steady all-time favourites.

An event `age` seconds old counts 0.5 ** (age / half-life), the half-life half the window; events of the
last two windows are read (one twice the window old counts 1/16). The database groups events by
(item, slice of the window) with their mean time, and counts the last window's by type
(recommender/store/recent_events.py); each group counts as its size at that mean time: with
SLICES_PER_WINDOW slices, the decay within one slice moves by at most 2 ** (1 / 6), 12%, and the mean
time puts the group near its events' own weight.
The why compares the window with the one before: "42 views in the last 24 hours, up from 3".

An item trends once it has at least LIKEWISE_TRENDING_MIN_EVENTS (3) events in the window; the rest of
the list is the all-time popular items, said so in their why ("popular overall"). On sparse data (a
dozen ratings a day) a list of items with one event each is noise, and worse than popular items
(the per-build evaluation, recommender/evaluation/panels.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from recommender.limits import (
    TRENDING_WINDOW_MAX_SECONDS,
    TRENDING_WINDOW_MIN_SECONDS,
    TRENDING_WINDOW_TEXT_MAX_CHARS,
)

SLICES_PER_WINDOW = 12
DEFAULT_WINDOW = "24h"
WINDOW_PATTERN = re.compile(r"([1-9][0-9]{0,4})([mhd])")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400}
UNIT_NAMES = {"m": ("minute", "minutes"), "h": ("hour", "hours"), "d": ("day", "days")}
TYPE_NOUNS = {"view": ("view", "views"), "click": ("click", "clicks"), "like": ("like", "likes"),
              "add_to_cart": ("add to cart", "adds to cart"), "purchase": ("purchase", "purchases"),
              "rating": ("rating", "ratings")}


@dataclass(frozen=True)
class Window:
    """A trending window as asked ("24h") and in seconds."""

    text: str
    seconds: int

    @property
    def half_life(self) -> float:
        return self.seconds / 2

    @property
    def phrase(self) -> str:
        """"the last 24 hours", "the last hour"."""
        number, unit = WINDOW_PATTERN.fullmatch(self.text).groups()
        one, many = UNIT_NAMES[unit]
        return f"the last {one}" if number == "1" else f"the last {number} {many}"


def parse_window(raw: str | None) -> Window:
    """`raw` ("30m", "1h", "24h", "7d"; empty: 24h) as a Window; ValueError naming the problem otherwise."""
    text = (raw or "").strip() or DEFAULT_WINDOW
    found = WINDOW_PATTERN.fullmatch(text) if len(text) <= TRENDING_WINDOW_TEXT_MAX_CHARS else None
    if found is None:
        raise ValueError(f"window must be a number and a unit (m, h or d) such as 1h, 24h or 7d, got {text[:20]!r}")
    seconds = int(found.group(1)) * UNIT_SECONDS[found.group(2)]
    if not TRENDING_WINDOW_MIN_SECONDS <= seconds <= TRENDING_WINDOW_MAX_SECONDS:
        raise ValueError(f"window must be from 1m to {TRENDING_WINDOW_MAX_SECONDS // 86_400}d, got {text!r}")
    return Window(text, seconds)


@dataclass
class ItemTrend:
    """One item's decayed score, its events in the window by type, and its events in the window before."""

    score: float = 0.0
    recent: Counter = field(default_factory=Counter)
    before: int = 0

    def why(self, window: Window) -> str:
        """"42 views in the last 24 hours, up from 3" (events of several types are counted as events)."""
        count = sum(self.recent.values())
        kinds = [kind for kind, n in self.recent.items() if n]
        one, many = TYPE_NOUNS.get(kinds[0], ("event", "events")) if len(kinds) == 1 else ("event", "events")
        change = (f"up from {self.before}" if count > self.before else
                  f"down from {self.before}" if count < self.before else "as many as before")
        return f"{count} {one if count == 1 else many} in {window.phrase}, {change}"


@dataclass(frozen=True)
class Trends:
    """Every item's trend over one window at one moment, items ranked best first."""

    window: Window
    now: float
    by_item: dict[str, ItemTrend]
    ranked: tuple[str, ...]


def trends_from_groups(groups, window: Window, now: float, types=()) -> Trends:
    """Trends from (item_id, slice, count, mean ts) groups (slice 0 the newest) and the last window's
    (item_id, type, count)."""
    by_item: dict[str, ItemTrend] = {}
    for item_id, part, count, mean_ts in groups:
        trend = by_item.get(item_id)
        if trend is None:
            trend = by_item[item_id] = ItemTrend()
        trend.score += count * 0.5 ** (max(0.0, now - mean_ts) / window.half_life)
        if part >= SLICES_PER_WINDOW:
            trend.before += count
    for item_id, kind, count in types:
        if item_id in by_item:
            by_item[item_id].recent[kind] += count
    ranked = sorted(by_item, key=lambda item_id: (-by_item[item_id].score, item_id))
    return Trends(window, now, by_item, tuple(ranked))


def trending_then_popular(trends: Trends, min_events: int, popular_ids, k: int, allowed=lambda item_id: True):
    """Up to k (item_id, trend or None): items with at least `min_events` events in the window, best first,
    then popular ones (trend None) not already listed; `allowed` says which items may be shown."""
    chosen: list[tuple[str, ItemTrend | None]] = []
    for item_id in trends.ranked:
        if len(chosen) == k:
            return chosen
        trend = trends.by_item[item_id]
        if sum(trend.recent.values()) >= min_events and allowed(item_id):
            chosen.append((item_id, trend))
    listed = {item_id for item_id, _ in chosen}
    for item_id in popular_ids:
        if len(chosen) == k:
            break
        if item_id not in listed and allowed(item_id):
            chosen.append((item_id, None))
            listed.add(item_id)
    return chosen
