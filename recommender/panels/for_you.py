"""For you: a visitor's recent events, weighted by type and recency, scored through the served item-item
neighbour table (the fused EASE / BM25 item-kNN scores the build kept), without what they already touched.

score(c) = sum over seeds s of interest(s) x similarity(s, c), where interest(s) sums the visitor's events on s:
type weight (LIKEWISE_EVENT_WEIGHTS; a rating weighs its value above 2.5, so a low rating says nothing)
x 0.5 ** (age / FOR_YOU_HALF_LIFE_DAYS). Every candidate passes the model's one filter (`accepting`), which
is where removed items, category/year filters and any later attribute filters apply. No history, or none the
model knows, is the cold answer: `cold_answer`, the one place that decides what a newcomer sees.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from recommender.limits import FOR_YOU_HALF_LIFE_DAYS, FOR_YOU_SEEDS, FOR_YOU_WHY_TITLES
from recommender.model import Filters, Item
from recommender.store.event_validation import RATING_TYPE
from recommender.store.user_data import HistoryEvent

DAY_SECONDS = 86_400.0
RATING_NEUTRAL = 2.5  # a rating counts by how far it is above this; at or below it counts nothing
HISTORY, TRENDING = "history", "trending"
COLD_WHY = "Popular with everyone right now"


@dataclass(frozen=True)
class PanelItem:
    """One card of a personal list: the item, its score, and the titles of the visitor's items behind it."""

    item: Item
    score: float
    because: tuple[str, ...] = ()
    cold_why: str = COLD_WHY
    rules: tuple[str, ...] = ()  # "Pinned by rule house-brand": the merchandising rules that moved the card

    @property
    def item_id(self) -> str:
        return self.item.item_id

    @property
    def title(self) -> str:
        return self.item.title

    @property
    def why(self) -> str:
        """e.g. 'Because you viewed Toy Story and Up'."""
        said = "Because you viewed " + " and ".join(self.because) if self.because else self.cold_why
        return "; ".join((said, *self.rules))

    def with_rule_notes(self, notes) -> "PanelItem":
        """The card with the rules that moved it named in its why (recommender/rules/rule_engine.py)."""
        return replace(self, rules=(*self.rules, *notes))

    def as_dict(self) -> dict:
        return {"item_id": self.item.item_id, "title": self.item.title, "score": round(self.score, 4),
                "year": self.item.year, "categories": list(self.item.categories),
                "why": {"summary": self.why, "because": list(self.because), "rules": list(self.rules)}}


@dataclass(frozen=True)
class ForYou:
    """The answer: its cards and what they come from (`history`, or `trending` for the cold answer)."""

    results: list[PanelItem]
    basis: str
    seeds: tuple[str, ...] = ()


def interest(history: list[HistoryEvent], weights: dict[str, float], now: float,
             half_life_days: float = FOR_YOU_HALF_LIFE_DAYS) -> dict[str, float]:
    """{item_id: how much the visitor's events on it say they like it}, recency-decayed; only positive ones."""
    found: dict[str, float] = {}
    for event in history:
        if event.type == RATING_TYPE:
            weight = max((event.value or 0.0) - RATING_NEUTRAL, 0.0)
        else:
            weight = weights.get(event.type, 0.0)
        age_days = max(now - event.ts, 0.0) / DAY_SECONDS
        found[event.item_id] = found.get(event.item_id, 0.0) + weight * 0.5 ** (age_days / half_life_days)
    return {item_id: w for item_id, w in found.items() if w > 0}


def _seed_rows(model, liked: dict[str, float]) -> dict[int, float]:
    """The FOR_YOU_SEEDS items liked most that the served model knows (removed items are not known)."""
    rows = {}
    for item_id, weight in sorted(liked.items(), key=lambda pair: (-pair[1], pair[0])):
        if len(rows) == FOR_YOU_SEEDS:
            break
        row = model.table.row_of(item_id)
        if row >= 0 and model.has_item(item_id):
            rows[row] = weight
    return rows


def _score(model, seeds: dict[int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(candidate rows, their scores) through the neighbour table, best first, and the seeds' (rows, gains)
    table each candidate's why is read from: one numpy pass over the seeds' neighbour rows."""
    if not seeds:
        empty = np.zeros((0, 0))
        return np.zeros(0, dtype=np.int64), np.zeros(0), empty, empty
    seed_rows = np.fromiter(seeds, dtype=np.int64, count=len(seeds))
    weights = np.fromiter(seeds.values(), dtype=np.float64, count=len(seeds))
    rows = np.asarray(model.neighbours[seed_rows], dtype=np.int64)
    gains = np.where((rows >= 0) & (np.asarray(model.scores[seed_rows]) > 0),
                     weights[:, None] * np.asarray(model.scores[seed_rows], dtype=np.float64), 0.0)
    valid = gains > 0
    candidates, inverse = np.unique(rows[valid], return_inverse=True)
    totals = np.bincount(inverse, weights=gains[valid], minlength=len(candidates))
    order = np.lexsort((candidates, -totals))
    return candidates[order], totals[order], rows, gains


def _because(seed_title, rows: np.ndarray, gains: np.ndarray, candidate: int) -> tuple[str, ...]:
    """The titles of the seeds that gave `candidate` the most (`seed_title(i)`: the title of seed i)."""
    given = np.where(rows == candidate, gains, 0.0).sum(axis=1)
    best = [i for i in np.argsort(-given, kind="stable")[:FOR_YOU_WHY_TITLES] if given[i] > 0]
    return tuple(seed_title(i) for i in best)


def seed_titles(model, seed_ids: list[str]):
    """Seed i's title as the cards show titles (model.get_item: in an experiment, the served version's title of
    the arm's item, not the arm's own), looked up once per seed."""
    @functools.cache
    def title(i: int) -> str:
        return model.get_item(seed_ids[i]).title
    return title


def recommend(model, history: list[HistoryEvent], k: int, weights: dict[str, float], now: float,
              filters: Filters | None = None, include_seen: bool = False) -> ForYou:
    """The visitor's k best items, best first; the cold answer when their history gives nothing."""
    seeds = _seed_rows(model, interest(history, weights, now))
    candidates, totals, rows, gains = _score(model, seeds)
    touched = {model.table.row_of(e.item_id) for e in history}
    accept = model.accepting(filters)
    seed_ids = [model.table.value("item_id", row) for row in seeds]
    seed_title = seed_titles(model, seed_ids)
    chosen = []
    for row, score in zip(candidates.tolist(), totals.tolist()):
        if len(chosen) == k:
            break
        if (include_seen or row not in touched) and accept(row):
            chosen.append(PanelItem(model.get_item(model.table.value("item_id", row)), score,
                                    _because(seed_title, rows, gains, row)))
    if not chosen:
        return cold_answer(model, k, filters, exclude=set() if include_seen else touched)
    return ForYou(chosen, HISTORY, tuple(seed_ids))


def cold_answer(model, k: int, filters: Filters | None = None, exclude: set[int] | frozenset[int] = frozenset()
                ) -> ForYou:
    """What a visitor without (usable) history sees: the most popular items the filters allow.

    The one place to point at trending once it exists; the answer already says `basis: trending`."""
    accept = model.accepting(filters)
    chosen = []
    for row in model.popular_rows.tolist():
        if len(chosen) == k:
            break
        if row not in exclude and accept(row):
            chosen.append(PanelItem(model.get_item(model.table.value("item_id", row)), 0.0))
    return ForYou(chosen, TRENDING)
