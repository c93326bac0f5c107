"""Trending and frequently bought together (issue 24) as the views answer them: the served model's items,
without removed or hidden ones, narrowed by the similar panel's filters, each with its why.

Trending reads this process's recent counts (web/state/trending_counts.py); bought together reads the table
the build kept with the served version (recommender/panels/bought_together.py), with the thresholds of the
settings applied here, so a changed threshold needs no rebuild. Neither list is ever padded.
"""

from __future__ import annotations

from dataclasses import dataclass

from recommender.model import Filters, Item, UnknownItem
from recommender.panels.trending import Window
from web.extensions import served_model, settings, trending_counts

TRENDING_PANEL, BOUGHT_TOGETHER_PANEL = "trending", "bought-together"


@dataclass(frozen=True)
class Why:
    """A card's reason, shaped like the similar panel's (its `summary` is what a card shows)."""

    summary: str

    def as_dict(self) -> dict:
        return {"summary": self.summary}


@dataclass(frozen=True)
class ListCard:
    item: Item
    score: float
    why: Why

    @property
    def item_id(self) -> str:
        return self.item.item_id

    def as_dict(self) -> dict:
        return {"item_id": self.item.item_id, "title": self.item.title, "year": self.item.year,
                "categories": list(self.item.categories), "score": round(self.score, 4),
                "why": self.why.as_dict()}


@dataclass(frozen=True)
class ListAnswer:
    """One list as every route answers it: its cards, and why it is empty or short when it is."""

    panel: str
    k: int
    filters: Filters
    cards: list[ListCard]
    reason: str | None = None
    item: Item | None = None  # the item bought together with (None for trending)
    window: Window | None = None

    @property
    def results(self) -> list[ListCard]:
        return self.cards


def shown(model, filters: Filters):
    """The rows a list may show: in the served index, not removed since, and through the filters."""
    accept = model.accepts(filters)

    def allowed(item_id: str) -> int:
        row = model.table.row_of(item_id)
        return row if row >= 0 and model.has_item(item_id) and accept(row) else -1
    return allowed


def trending(window: Window, k: int, filters: Filters) -> ListAnswer:
    """The k items with the most decayed events in `window`, best first."""
    model = served_model()
    trends = trending_counts().trends(window)
    allowed, cards = shown(model, filters), []
    for item_id in trends.ranked:
        if len(cards) == k:
            break
        if allowed(item_id) >= 0:
            trend = trends.by_item[item_id]
            cards.append(ListCard(model.get_item(item_id), trend.score, Why(trend.why(window))))
    reason = None
    if not cards:
        reason = (f"no events in {window.phrase} for items that match these filters" if filters
                  else f"no events in {window.phrase}")
    return ListAnswer(TRENDING_PANEL, k, filters, cards, reason, window=window)


def bought_together(item_id: str, k: int, filters: Filters) -> ListAnswer:
    """The k items bought with `item_id` in the most orders, above the support and lift thresholds."""
    model = served_model()
    item = model.get_item(item_id)
    if not model.has_item(item.item_id):
        raise UnknownItem(item_id)
    app_settings = settings()
    table = model.bought_together
    partners, reason = table.partners(model.table.row_of(item.item_id), app_settings.bought_together_min_support,
                                      app_settings.bought_together_min_lift)
    allowed, cards = shown(model, filters), []
    for partner in partners:
        if len(cards) == k:
            break
        partner_id = model.table.value("item_id", partner.row)
        if partner.row != model.table.row_of(item.item_id) and allowed(partner_id) >= 0:
            cards.append(ListCard(model.get_item(partner_id), partner.lift, Why(partner.why)))
    if not cards and reason is None:
        reason = "no item bought together with this one matches these filters"
    return ListAnswer(BOUGHT_TOGETHER_PANEL, k, filters, cards, reason, item=item)
