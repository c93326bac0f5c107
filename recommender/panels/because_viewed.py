"""Because you viewed: the last few distinct items a visitor looked at, newest first, each with its top similar
items from the served model (filters and removed items applied as for similar; the visitor's own items left out).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from recommender.limits import BECAUSE_VIEWED_ITEMS, BECAUSE_VIEWED_SHOWN
from recommender.model import Filters, Item, SimilarItem, UnknownItem
from recommender.store.event_validation import RATING_TYPE
from recommender.store.user_data import HistoryEvent


@dataclass(frozen=True)
class ViewedRow:
    """One item the visitor looked at and the items most like it."""

    viewed: Item
    similar: list[SimilarItem]

    @property
    def why(self) -> str:
        return f"Because you viewed {self.viewed.title}"


def last_viewed(history: list[HistoryEvent]) -> list[str]:
    """The distinct items of the history, newest first; ratings are not looking at something."""
    seen: list[str] = []
    for event in sorted(history, key=lambda e: -e.ts):
        if event.type != RATING_TYPE and event.item_id not in seen:
            seen.append(event.item_id)
    return seen


def because_viewed(model, history: list[HistoryEvent], filters: Filters | None = None,
                   shown: int = BECAUSE_VIEWED_SHOWN, include_seen: bool = False) -> list[ViewedRow]:
    """Up to BECAUSE_VIEWED_ITEMS rows; items the served model no longer has are skipped."""
    touched = frozenset(e.item_id for e in history)
    filters = filters or Filters()
    if not include_seen:
        filters = replace(filters, exclude=filters.exclude | touched)
    rows = []
    for item_id in last_viewed(history):
        if len(rows) == BECAUSE_VIEWED_ITEMS:
            break
        try:
            rows.append(ViewedRow(model.get_item(item_id), model.get_similar_items(item_id, shown, filters)))
        except UnknownItem:
            continue
    return [row for row in rows if row.similar]
