"""Per-build evaluation rows for trending and bought together (issue 24), each against its simple baseline.

Bought together: co-occurrence counted on training orders, each held-out order's items asked in turn
(hit: another item of that order in the top 10); the served list (minimum support and lift, most shared
orders first) against raw co-occurrence counts. Orders are the catalog's sessions when it has enough;
otherwise they are derived, and said to be: one user's interactions within one UTC day (MovieLens
ratings carry no orders). Held out: the last HELD_OUT_SHARE of the days (derived), or every fifth order.
Trending: for each of the last TEST_DAYS days with events, the list made from the events before that day
(the served decay, minimum events and popular fill, 24 h and 7 d windows) against all-time popular before
that day; hit rate = the share of
that day's events whose item is in the top 10.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from recommender.panels.bought_together import BoughtTogether
from recommender.panels.co_purchases import kept_partners, order_matrix
from recommender.panels.trending import SLICES_PER_WINDOW, parse_window, trending_then_popular, trends_from_groups
from recommender.settings import Settings

K = 10
DAY_S = 86_400
HELD_OUT_SHARE = 0.2
MIN_ORDERS = 50
MAX_QUERIES = 5_000
TEST_DAYS = 30
TRENDING_WINDOWS = ("24h", "7d")
Z95 = 1.96


def rate_with_ci(hits: np.ndarray) -> dict:
    """Hit rate with a normal-approximation 95% interval."""
    n = len(hits)
    if not n:
        return {"hit_rate": 0.0, "hit_rate_ci": [0.0, 0.0], "queries": 0}
    rate = float(hits.mean())
    half = Z95 * float(np.sqrt(rate * (1 - rate) / n))
    return {"hit_rate": round(rate, 4), "hit_rate_ci": [round(max(0.0, rate - half), 4),
                                                         round(min(1.0, rate + half), 4)], "queries": n}


def orders_of(items: pd.DataFrame, interactions: pd.DataFrame | None, baskets: pd.DataFrame | None):
    """(orders as (session_id, item_id), held-out mask per order id, how they were made)."""
    if baskets is not None and baskets["session_id"].nunique() >= MIN_ORDERS:
        ids = baskets["session_id"].astype(str).unique()
        held = {s for s in ids if int(hashlib.sha1(s.encode()).hexdigest(), 16) % 5 == 0}
        return baskets, held, "the catalog's orders (session_id); every fifth order (by hash) held out"
    if interactions is None or "timestamp" not in interactions or interactions["timestamp"].isna().all():
        return None, set(), "no orders and no timestamps to derive them from"
    rated = interactions.dropna(subset=["timestamp"])
    day = (rated["timestamp"] // DAY_S).astype(np.int64)
    derived = pd.DataFrame({"session_id": rated["user_id"].astype(str) + "@" + day.astype(str),
                            "item_id": rated["item_id"].astype(str), "day": day})
    cut = derived["day"].quantile(1 - HELD_OUT_SHARE)
    held = set(derived.loc[derived["day"] > cut, "session_id"])
    return (derived[["session_id", "item_id"]], held,
            "derived: one user's interactions within one UTC day; the last 20% of days held out")


def _queries(test: pd.DataFrame, row_of: pd.Index, rng: np.random.Generator) -> list[tuple[int, set[int]]]:
    """(item asked, the order's other items) for every catalog item of every held-out order of two or more,
    at most MAX_QUERIES of them (a fixed sample)."""
    rows = row_of.get_indexer(test["item_id"].astype(str))
    known = pd.DataFrame({"order": test["session_id"].to_numpy()[rows >= 0], "row": rows[rows >= 0]})
    baskets = [set(group.tolist()) for group in known.drop_duplicates().groupby("order")["row"]
               .agg(lambda values: values.to_numpy()) if len(group) >= 2]
    asked = [(row, basket - {row}) for basket in baskets for row in sorted(basket)]
    if len(asked) > MAX_QUERIES:
        asked = [asked[i] for i in sorted(rng.choice(len(asked), MAX_QUERIES, replace=False))]
    return asked


def _raw_top(shared, position: int, row: int) -> set[int]:
    """The K items sharing the most training orders with `row` (the baseline), ties by row."""
    cols = shared.indices[shared.indptr[position]:shared.indptr[position + 1]]
    together = shared.data[shared.indptr[position]:shared.indptr[position + 1]]
    keep = cols != row
    return set(cols[keep][np.lexsort((cols[keep], -together[keep]))][:K].tolist())


def bought_together_rows(items: pd.DataFrame, interactions: pd.DataFrame | None,
                         baskets: pd.DataFrame | None, settings: Settings = Settings()) -> dict:
    orders, held, how = orders_of(items, interactions, baskets)
    if orders is None:
        return {"skipped": how}
    is_held = orders["session_id"].isin(held)
    train = order_matrix(items["item_id"], orders[~is_held])
    queries = _queries(orders[is_held], pd.Index(items["item_id"].astype(str)), np.random.default_rng(0))
    if not queries:
        return {"skipped": f"no held-out order with two items of the catalog ({how})"}
    asked = np.unique([row for row, _ in queries])
    table = BoughtTogether(*kept_partners(train, rows=asked), train.shape[1])
    shared, position = (train[asked] @ train.T).tocsr(), {int(row): n for n, row in enumerate(asked.tolist())}
    served, baseline, shown = [], [], []
    for row, wanted in queries:
        found, _ = table.partners(row, settings.bought_together_min_support, settings.bought_together_min_lift)
        served.append(bool(wanted & {p.row for p in found[:K]}))
        shown.append(bool(found))
        baseline.append(bool(wanted & _raw_top(shared, position[row], row)))
    served, baseline, shown = np.array(served), np.array(baseline), np.array(shown)
    return {"orders": how, "train_orders": int(train.shape[1]),
            "thresholds": {"min_support": settings.bought_together_min_support,
                           "min_lift": settings.bought_together_min_lift},
            "served": {**rate_with_ci(served), "answered": round(float(shown.mean()), 4),
                       "hit_rate_when_answered": round(float(served[shown].mean()), 4) if shown.any() else None},
            "raw_co_occurrence": {**rate_with_ci(baseline), "hit_rate_when_served_answered":
                                  round(float(baseline[shown].mean()), 4) if shown.any() else None}}


def _trending_top(history: pd.DataFrame, window_text: str, now: float, popular, min_events: int) -> list[str]:
    """The served list as of `now`: trending items (served decay and minimum), then popular ones."""
    window = parse_window(window_text)
    recent = history[history["timestamp"] > now - 2 * window.seconds]
    part = ((now - recent["timestamp"]) // (window.seconds / SLICES_PER_WINDOW)).astype(np.int64)
    grouped = recent.assign(part=part).groupby(["item_id", "part"])["timestamp"].agg(["count", "mean"])
    groups = [(item, int(p), int(c), float(m)) for (item, p), (c, m) in grouped.iterrows()]
    last = recent[recent["timestamp"] > now - window.seconds]["item_id"].value_counts()
    trends = trends_from_groups(groups, window, now, [(item, "rating", int(c)) for item, c in last.items()])
    return [item_id for item_id, _ in trending_then_popular(trends, min_events, popular, K)]


def trending_rows(interactions: pd.DataFrame | None, settings: Settings = Settings()) -> dict:
    if interactions is None or "timestamp" not in interactions or interactions["timestamp"].isna().all():
        return {"skipped": "no timestamps"}
    events = interactions.dropna(subset=["timestamp"])[["item_id", "timestamp"]].astype({"item_id": str})
    days = np.sort((events["timestamp"] // DAY_S).astype(np.int64).unique())[-TEST_DAYS:]
    hits = {name: [] for name in (*TRENDING_WINDOWS, "all_time_popular")}
    for day in days:
        start = float(day * DAY_S)
        history, today = events[events["timestamp"] < start], events[events["timestamp"] // DAY_S == day]
        if history.empty:
            continue
        popular = history["item_id"].value_counts().index[:K]
        hits["all_time_popular"] += today["item_id"].isin(set(popular)).tolist()
        for window in TRENDING_WINDOWS:
            top = _trending_top(history, window, start, popular, settings.trending_min_events)
            hits[window] += today["item_id"].isin(set(top)).tolist()
    return {"protocol": f"the last {len(days)} days with events: a top {K} made before each day, hit = that "
                        "day's events on it", **{f"trending_{name}" if name in TRENDING_WINDOWS else name:
                                                 rate_with_ci(np.array(h, dtype=bool)) for name, h in hits.items()}}


def panel_evaluation(items: pd.DataFrame, interactions: pd.DataFrame | None,
                     baskets: pd.DataFrame | None = None) -> dict:
    """The report's "panels" entry: bought together and trending, each with its baseline."""
    return {"bought_together": bought_together_rows(items, interactions, baskets),
            "trending": trending_rows(interactions)}


def format_panel_rows(panels: dict | None) -> list[str]:
    """Markdown lines for `flask evaluate`."""
    if not panels:
        return []
    lines = ["", f"| list | method | HitRate@{K} | 95% CI |", "|---|---|---:|---|"]
    for name, rows in panels.items():
        for method, metrics in rows.items():
            if isinstance(metrics, dict) and "hit_rate" in metrics:
                low, high = metrics["hit_rate_ci"]
                lines.append(f"| {name} | {method} | {metrics['hit_rate']:.4f} | [{low:.3f}, {high:.3f}] |")
        if "skipped" in rows:
            lines.append(f"| {name} | - | - | {rows['skipped']} |")
    return lines
