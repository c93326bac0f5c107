"""Trending and frequently bought together (issue 24) as the views answer them: the served model's items,
without removed or hidden ones, narrowed by the similar panel's filters, each with its why.

Trending reads this process's recent counts (web/state/trending_counts.py); bought together reads the table
the build kept with the served version (recommender/panels/bought_together.py), with the thresholds of the
settings applied here, so a changed threshold needs no rebuild. Bought together is never padded; trending is
followed by popular items, each card saying which it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from recommender.limits import K_MAX
from recommender.model import Filters, Item, UnknownItem
from recommender.panels.trending import Trends, Window, trending_then_popular
from web.extensions import served_model, settings, trending_counts
from web.services.merchandising import ranked_with_rules, rules_here, rules_widen

TRENDING_PANEL, BOUGHT_TOGETHER_PANEL = "trending", "bought-together"
TRENDING_BASIS, POPULAR_BASIS = "trending", "popular"


@dataclass(frozen=True)
class Why:
    """A card's reason, shaped like the similar panel's (its `summary` is what a card shows)."""

    summary: str
    rules: tuple[str, ...] = ()  # what merchandising rules did to the card, also said in the summary

    def as_dict(self) -> dict:
        return {"summary": self.summary, "rules": list(self.rules)}


@dataclass(frozen=True)
class ListCard:
    item: Item
    score: float
    why: Why
    basis: str = ""  # trending: "trending" or "popular" (filling the list after the trending items)

    @property
    def item_id(self) -> str:
        return self.item.item_id

    def with_rule_notes(self, notes) -> "ListCard":
        """The card with the rules that moved it named in its why (recommender/rules/rule_engine.py)."""
        why = Why("; ".join((self.why.summary, *notes)), (*self.why.rules, *notes))
        return replace(self, why=why)

    def as_dict(self) -> dict:
        return {"item_id": self.item.item_id, "title": self.item.title, "year": self.item.year,
                "categories": list(self.item.categories), "score": round(self.score, 4),
                "why": self.why.as_dict(), **({"basis": self.basis} if self.basis else {})}


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
    accept = model.accepting(filters)

    def allowed(item_id: str) -> int:
        row = model.table.row_of(item_id)
        return row if row >= 0 and model.has_item(item_id) and accept(row) else -1
    return allowed


def trending(window: Window, k: int, filters: Filters, trends: Trends | None = None) -> ListAnswer:
    """The k items with the most decayed events in `window` (at least the settings' minimum), best first,
    then popular items, each card saying which it is. `trends`: the counts to use (default: this process's)."""
    model = served_model()
    trends = trending_counts().trends(window) if trends is None else trends
    allowed = shown(model, filters)
    popular = (model.table.value("item_id", int(row)) for row in model.popular_rows)
    rules = rules_here(TRENDING_PANEL, None, model)
    wide = min(2 * k, K_MAX) if rules_widen(rules) else k
    chosen = trending_then_popular(trends, settings().trending_min_events, popular, wide,
                                   lambda item_id: allowed(item_id) >= 0)
    cards = []
    for item_id, trend in chosen:
        item = model.get_item(item_id)
        why = trend.why(window) if trend is not None else popular_why(item)
        cards.append(ListCard(item, trend.score if trend is not None else 0.0, Why(why),
                              TRENDING_BASIS if trend is not None else POPULAR_BASIS))
    cards = ranked_with_rules(TRENDING_PANEL, None, cards, model, filters, k) if rules else cards
    reason = None
    if not any(card.basis == TRENDING_BASIS for card in cards):
        reason = (f"no item matching these filters has {settings().trending_min_events} events in {window.phrase}"
                  if filters else f"no item has {settings().trending_min_events} events in {window.phrase}")
        reason += ": popular items are shown" if cards else ""
    return ListAnswer(TRENDING_PANEL, k, filters, cards, reason, window=window)


def popular_why(item: Item) -> str:
    count = item.interaction_count
    return f"popular overall: {count} {'interaction' if count == 1 else 'interactions'}"


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
    rules = rules_here(BOUGHT_TOGETHER_PANEL, item, model)
    wide = min(2 * k, K_MAX) if rules_widen(rules) else k
    allowed, cards = shown(model, filters), []
    for partner in partners:
        if len(cards) == wide:
            break
        partner_id = model.table.value("item_id", partner.row)
        if partner.row != model.table.row_of(item.item_id) and allowed(partner_id) >= 0:
            cards.append(ListCard(model.get_item(partner_id), partner.lift, Why(partner.why)))
    if rules:  # a pin moves a partner that is listed; it never adds an item not bought with this one
        cards = ranked_with_rules(BOUGHT_TOGETHER_PANEL, item, cards, model, filters, k, make_entry=lambda _: None)
    if not cards and reason is None:
        reason = "no item bought together with this one matches these filters"
    return ListAnswer(BOUGHT_TOGETHER_PANEL, k, filters, cards, reason, item=item)
