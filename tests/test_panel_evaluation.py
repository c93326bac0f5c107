"""The per-build evaluation rows of trending and bought together (issue 24): orders derived from one user's
day of ratings when the catalog has none (and said so), the catalog's own orders when it has them, each list
against its baseline; `flask evaluate`'s table shows them."""

from __future__ import annotations

import pandas as pd

from recommender.catalog.demo import movielens_frames
from recommender.catalog.load import load_catalog
from recommender.evaluation.list_rows import format_panel_rows, panel_evaluation
from tests.helpers.catalogs import make_catalog


def test_orders_are_derived_from_days_of_ratings_when_the_catalog_has_none():
    items, ratings, _ = movielens_frames()  # the demo's MovieLens ratings, of 200 of its users
    ratings = ratings[ratings["user_id"].astype(int) <= 200]
    report = panel_evaluation(items, ratings)
    together = report["bought_together"]
    assert together["orders"].startswith("derived: one user's interactions within one UTC day")
    for method in ("served", "raw_co_occurrence"):
        assert 0.0 <= together[method]["hit_rate"] <= 1.0 and together[method]["queries"] > 0
        low, high = together[method]["hit_rate_ci"]
        assert low <= together[method]["hit_rate"] <= high
    trending = report["trending"]
    assert {"trending_24h", "trending_7d", "all_time_popular"} <= set(trending)
    assert trending["all_time_popular"]["queries"] > 0
    lines = "\n".join(format_panel_rows(report))
    assert "| bought_together | served |" in lines and "| trending | all_time_popular |" in lines


def test_the_catalogs_own_orders_are_used_and_a_strong_pair_is_found(tmp_path):
    files = make_catalog(tmp_path, n_items=80, n_users=60)
    catalog = load_catalog(files.items, files.interactions)
    orders = [(f"o{n}", item) for n in range(100) for item in ("1003", "1012", str(1020 + n % 10))]
    orders += [(f"p{n}", item) for n in range(100) for item in (str(1030 + n % 20), str(1050 + n % 20))]
    baskets = pd.DataFrame(orders, columns=["session_id", "item_id"])
    together = panel_evaluation(catalog.items, catalog.interactions, baskets)["bought_together"]
    assert together["orders"].startswith("the catalog's orders")
    assert together["served"]["hit_rate"] >= 0.9, together  # misses: pairs left under 3 training orders
    assert together["raw_co_occurrence"]["hit_rate"] >= together["served"]["hit_rate"]
