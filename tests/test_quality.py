"""Recommendation quality you can see: the evaluation protocol, the ANN recall floor, explanations,
filters, cold start, and where the numbers show up (CLI, admin)."""

from __future__ import annotations

import functools
import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recommender.evaluation.evaluator as evaluator_module
import recommender.evaluation.protocol as protocol
import recommender.evaluation.run as run
import recommender.pipeline as pipeline
from recommender.builder import build_index
from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.load import load_catalog
from recommender.catalog.sources import CatalogFiles
from recommender.evaluation.evaluator import METHODS, Evaluator
from recommender.evaluation.protocol import K, leave_last_out
from recommender.evaluation.run import choose_blend, evaluate, format_table
from recommender.index_store import IndexStore, read_manifest
from recommender.layout import BuildError
from recommender.model import SimilarItemsModel
from recommender.neighbours.annoy_index import RECALL_SAMPLE, annoy_top, tune_annoy
from recommender.neighbours.exact import RECALL_FLOOR, exact_top, recall_at
from recommender.pipeline import build_and_publish
from recommender.similarity.vectors import POSITIVE_RATING, BlendSettings, content_vectors
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from web.auth import limiter as throttle

HX = {"HX-Request": "true"}


# -- helpers ------------------------------------------------------------------------------------

def frame(rows, columns=("user_id", "item_id", "rating", "timestamp")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def expected_cases(interactions: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Per user with two positives, (query, target): the last two positives by time, derived naively."""
    rated = interactions["rating"].notna().any()
    cases = {}
    for user, rows in interactions.groupby("user_id"):
        liked = rows[rows["rating"] >= POSITIVE_RATING] if rated else rows
        liked = liked.sort_values("timestamp", kind="stable")
        if len(liked) >= 2 and liked["item_id"].iloc[-2] != liked["item_id"].iloc[-1]:
            cases[user] = (liked["item_id"].iloc[-2], liked["item_id"].iloc[-1])
    return cases


def pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["user_id"], df["item_id"]))


def published_model(files: CatalogFiles, root: Path) -> SimilarItemsModel:
    store = IndexStore(root / "indexes")
    build_and_publish(store, files)
    return SimilarItemsModel(store.current_path())


def read_interactions(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"user_id": str, "item_id": str})


def similar_json(client, item_id: str, query: str = "") -> dict:
    response = client.get(f"/api/items/{item_id}/similar{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def item_frame(model: SimilarItemsModel) -> pd.DataFrame:
    """The served items with categories as sets, for deriving what a filter should let through."""
    table = model.items[["item_id", "year"]].copy()
    table["item_id"] = table["item_id"].astype(str)
    table["cats"] = [set(model.get_item(i).categories) for i in table["item_id"]]
    return table


def assert_by_score(results: list[dict]) -> None:
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True), scores


# -- 1. the protocol ------------------------------------------------------------------------------

@pytest.fixture
def hand_built() -> pd.DataFrame:
    """Rows deliberately out of time order; ratings below 4 mixed in; users with 0, 1, 2 and 3 positives."""
    return frame([
        ("ann", "d", 5.0, 50), ("ann", "a", 5.0, 10), ("ann", "b", 2.0, 20), ("ann", "e", 1.0, 60),
        ("ann", "c", 4.0, 30), ("ann", "f", 3.0, 40),
        ("bob", "g", 5.0, 100), ("bob", "h", 4.0, 20), ("bob", "a", 3.5, 200),
        ("cat", "a", 5.0, 10), ("cat", "b", 2.0, 20),
        ("dan", "c", 1.0, 10), ("dan", "d", 3.0, 20),
        ("eve", "a", 4.0, 5), ("eve", "c", 4.0, 6),
    ])


def test_leave_last_out_holds_out_the_last_positive_by_time(hand_built):
    """The test case per user is (previous positive -> last positive) by timestamp, not by row order."""
    split = leave_last_out(hand_built)
    expected = expected_cases(hand_built)
    got = {u: (q, t) for u, q, t in zip(split.users, split.queries, split.targets)}
    assert got == expected
    assert {"cat", "dan"}.isdisjoint(got), "users with fewer than two positives are not evaluated"
    assert len(split) == len(expected)


def test_leave_last_out_keeps_everything_but_the_targets_in_training(hand_built):
    """Only the held-out rows leave training: non-positive interactions and unevaluated users stay."""
    split = leave_last_out(hand_built)
    targets = set(zip(split.users, split.targets))
    assert len(split.train) == len(hand_built) - len(targets)
    assert not pairs(split.train) & targets, "a held-out (user, item) pair leaked into training"
    kept = hand_built[[(u, i) not in targets for u, i in zip(hand_built["user_id"], hand_built["item_id"])]]
    assert pairs(split.train) == pairs(kept)
    non_positive = hand_built[hand_built["rating"] < POSITIVE_RATING]
    assert pairs(non_positive) <= pairs(split.train)
    assert {"cat", "dan"} <= set(split.train["user_id"])


def test_validation_split_never_sees_a_test_target(hand_built, small_catalog):
    """The validation split is made from test-split training only, so it cannot hold a test answer."""
    for interactions in (hand_built, read_interactions(small_catalog.interactions)):
        test_split = leave_last_out(interactions)
        validation = leave_last_out(test_split.train)
        test_targets = set(zip(test_split.users, test_split.targets))
        assert len(validation) > 0
        assert not set(zip(validation.users, validation.targets)) & test_targets
        assert not set(zip(validation.users, validation.queries)) & test_targets
        assert not pairs(validation.train) & test_targets
        # each validation target is the test query: one step back in the same user's history
        test_query = dict(zip(test_split.users, test_split.queries))
        assert all(test_query[u] == t for u, t in zip(validation.users, validation.targets))


def test_leave_last_out_drops_repeated_interactions_with_the_held_out_item():
    """A user who met the target item before (rated it 3, then 5) must not keep that pair in training:
    it leaks the answer into the collaborative model and marks the target as already seen."""
    interactions = frame([
        ("ann", "x", 3.0, 1), ("ann", "y", 5.0, 2), ("ann", "x", 5.0, 3),
        ("bob", "p", 5.0, 1), ("bob", "q", 5.0, 2), ("bob", "r", 2.0, 3), ("bob", "p", 4.0, 4),
        ("cid", "s", 5.0, 1), ("cid", "t", 5.0, 2),
    ])
    split = leave_last_out(interactions)
    targets = set(zip(split.users, split.targets))
    assert ("cid", "t") in targets
    assert not pairs(split.train) & targets, (
        f"held-out pairs still in training: {sorted(pairs(split.train) & targets)}")


def test_without_ratings_every_interaction_is_positive(hand_built):
    """With no ratings at all, every interaction counts as liked, so the last one by time is held out."""
    unrated = hand_built.assign(rating=np.nan)
    split = leave_last_out(unrated)
    expected = expected_cases(unrated)
    assert {u: (q, t) for u, q, t in zip(split.users, split.queries, split.targets)} == expected
    last_by_time = unrated.sort_values("timestamp").groupby("user_id")["item_id"].last()
    assert all(last_by_time[u] == t for u, t in zip(split.users, split.targets))
    assert {"cat", "dan"} <= set(split.users), "one-rated-positive users count once ratings are absent"


@pytest.fixture(scope="module")
def small(small_catalog):
    catalog = load_catalog(small_catalog.items, small_catalog.interactions)
    items = catalog.items.reset_index(drop=True)
    return items, catalog.interactions, content_vectors(items)


def test_every_method_is_scored_on_the_same_users(small):
    """Baselines and blend see the same split, so their numbers are comparable."""
    items, interactions, content = small
    split = leave_last_out(interactions)
    table = Evaluator(items, content, BlendSettings()).run(split)
    assert set(table) == set(METHODS)
    assert {m["users"] for m in table.values()} == {len(split)}
    assert len(split) > 0


def test_recommendations_skip_the_query_and_training_items(small, monkeypatch):
    """No method may recommend the query item or anything the user already interacted with."""
    items, interactions, content = small
    split = leave_last_out(interactions)
    captured = []
    original = protocol.metrics_of

    def spy(recommended, target_rows, n_items):
        captured.append(recommended.copy())
        return original(recommended, target_rows, n_items)
    monkeypatch.setattr(evaluator_module, "metrics_of", spy)
    Evaluator(items, content, BlendSettings()).run(split)
    assert len(captured) == len(METHODS)

    positions = pd.Index(items["item_id"])
    query_rows = positions.get_indexer(split.queries)
    seen = {u: set(positions.get_indexer(rows["item_id"])) for u, rows in split.train.groupby("user_id")}
    for method, recommended in zip(METHODS, captured):
        assert recommended.shape == (len(split), K)
        for user, query, row in zip(split.users, query_rows, recommended):
            assert query not in row, f"{method} recommended the query item to {user}"
            assert not seen[user] & set(row), f"{method} recommended items {user} saw in training"


def test_rank_by_vectors_excludes_query_and_seen_on_a_tiny_example():
    """On an arc of 14 items (uneven spacing, so no ties), the nearest items not seen and not the query win."""
    angles = (np.arange(14) / 13) ** 1.5 * (np.pi / 2)
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    positions = pd.Index([f"i{n}" for n in range(14)])
    train = frame([("u", "i1", 5.0, 1), ("u", "i2", 2.0, 2), ("v", "i7", 5.0, 1)])
    seen = protocol.seen_matrix(train, positions, np.array(["u", "v"]))
    ranked = protocol.rank_by_vectors(vectors, np.array([0, 6]), seen)
    for query, excluded, row in ((0, {0, 1, 2}, ranked[0]), (6, {6, 7}, ranked[1])):
        sims = vectors @ vectors[query]
        expected = [i for i in np.argsort(-sims, kind="stable") if i not in excluded][:K]
        assert not excluded & set(row)
        assert sorted(row) == sorted(expected)


def blend_scores(rates: dict[tuple[float, float], float]) -> list[tuple[BlendSettings, dict]]:
    return [(BlendSettings(collaborative_weight=w, evidence_shrinkage=s), {"hit_rate": r})
            for (w, s), r in rates.items()]


def test_choose_blend_takes_most_content_leaning_within_one_standard_error():
    """Among blends within one SE of the best, the least collaborative (then most shrunk) one wins."""
    users, best = 400, 0.5
    se = math.sqrt(best * (1 - best) / users)
    scored = blend_scores({
        (0.8, 10.0): best,
        (0.4, 10.0): best - 0.5 * se,
        (0.2, 2.0): best - 0.9 * se,
        (0.2, 30.0): best - 0.8 * se,
        (0.0, 30.0): best - 1.5 * se,
        (1.0, 2.0): best - 0.1 * se,
    })
    chosen, metrics = choose_blend(scored, users)
    assert (chosen.collaborative_weight, chosen.evidence_shrinkage) == (0.2, 30.0)
    assert metrics["hit_rate"] == pytest.approx(best - 0.8 * se)


def test_choose_blend_keeps_the_best_when_nothing_is_close():
    """When every other blend is more than one SE behind, the best one is chosen even if collaborative."""
    users, best = 400, 0.3
    se = math.sqrt(best * (1 - best) / users)
    scored = blend_scores({(0.0, 30.0): best - 2 * se, (0.4, 10.0): best - 1.2 * se, (0.9, 2.0): best})
    chosen, metrics = choose_blend(scored, users)
    assert (chosen.collaborative_weight, chosen.evidence_shrinkage) == (0.9, 2.0)
    assert metrics["hit_rate"] == best


def test_evaluate_chooses_the_blend_on_validation_users_only(small, monkeypatch):
    """The weight grid is scored on the validation split (earlier history), never on the test split."""
    items, interactions, content = small
    # users with exactly two positives are test users but cannot be validation users
    extra = frame([(f"x{n}", items["item_id"][n + step], 5.0, 1_700_000_000 + step)
                   for n in range(6) for step in (0, 8)])
    interactions = pd.concat([interactions, extra], ignore_index=True)
    test_split = leave_last_out(interactions)
    validation = leave_last_out(test_split.train)
    assert len(validation) != len(test_split)

    seen_choose, seen_runs = [], []
    original_choose, original_run = run.choose_blend, Evaluator.run

    def spy_choose(scored, users):
        seen_choose.append((scored, users))
        return original_choose(scored, users)

    def spy_run(self, split, methods=METHODS, grid=None, seed=0):
        seen_runs.append((split, methods, grid))
        return original_run(self, split, methods, grid, seed)
    monkeypatch.setattr(run, "choose_blend", spy_choose)
    monkeypatch.setattr(Evaluator, "run", spy_run)

    report = evaluate(items, interactions, content=content)
    assert len(seen_choose) == 1
    scored, users = seen_choose[0]
    assert users == len(validation) == report["validation"]["users"]
    assert len(scored) > 1 and all(m["users"] == len(validation) for _, m in scored)
    graded = [split for split, _, grid in seen_runs if grid]
    assert len(graded) == 1 and list(graded[0].users) == list(validation.users)
    assert list(graded[0].targets) == list(validation.targets)
    tested = [split for split, methods, grid in seen_runs if methods]
    assert len(tested) == 1 and not [g for s, _, g in seen_runs if s is tested[0] and g]
    assert report["test_users"] == len(test_split)
    assert all(report["test"][m]["users"] == len(test_split) for m in METHODS)
    chosen = choose_blend(scored, users)[0]
    assert report["chosen"] == {"collaborative_weight": chosen.collaborative_weight,
                                "evidence_shrinkage": chosen.evidence_shrinkage}


def test_evaluate_skips_with_too_few_users(small):
    """A handful of users cannot support a comparison: the report says why instead of numbers."""
    items, interactions, content = small
    few_users = sorted(interactions["user_id"].unique())[:5]
    report = evaluate(items, interactions[interactions["user_id"].isin(few_users)], content=content)
    assert set(report) == {"skipped"}
    assert str(len(few_users)) in report["skipped"]
    assert format_table(report).startswith("evaluation skipped")


def test_evaluate_on_a_catalog_with_at_most_k_items_does_not_crash():
    """A catalog of 8 items with enough users must evaluate (or skip), not crash the build."""
    n_items = 8
    items = pd.DataFrame({"item_id": [str(i) for i in range(n_items)],
                          "title": [f"Item {w}" for w in "abcdefgh"[:n_items]], "description": "",
                          "categories": "", "year": pd.array([pd.NA] * n_items, dtype="Int64")})
    interactions = frame([(f"u{u}", str((u + j) % n_items), 5.0, j) for u in range(20) for j in range(3)])
    assert len(leave_last_out(leave_last_out(interactions).train)) >= 10
    report = evaluate(items, interactions)
    assert "skipped" in report or set(report["test"]) == set(METHODS)


# -- 2. the recall floor ----------------------------------------------------------------------------

def test_tune_annoy_refuses_vectors_it_cannot_search_well():
    """One tree over uniform 64-d noise cannot reach 0.999 recall: a BuildError names recall and floor."""
    rng = np.random.default_rng(11)
    vectors = rng.random((3000, 64)).astype(np.float32)
    sample = rng.choice(len(vectors), 200, replace=False)
    truth, _ = exact_top(vectors, sample, 10)
    with pytest.raises(BuildError) as raised:
        tune_annoy(vectors, sample, truth, 0.999, n_trees=1)
    message = str(raised.value)
    assert "recall" in message.lower() and "0.999" in message


def test_tune_annoy_meets_the_floor_on_clustered_vectors():
    """With the normal ladder, clustered vectors reach the floor, and the recall claimed is the real one."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(30, 32))
    vectors = centres[rng.integers(0, 30, 3000)] + 0.3 * rng.normal(size=(3000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    sample = rng.choice(len(vectors), 300, replace=False)
    truth, _ = exact_top(vectors, sample, 10)
    index, trees, search_k, recall, trials = tune_annoy(vectors, sample, truth, 0.98)
    try:
        assert recall >= 0.98
        assert trials and all(t["search_k"] > 0 and t["trees"] > 0 for t in trials)
        assert {"trees": trees, "search_k": search_k, "recall_at_10": round(recall, 4)} in trials
        first = next(t for t in trials if t["recall_at_10"] >= 0.98)
        later = [t for t in trials if t["trees"] > first["trees"]]
        assert all(t["search_k"] < first["search_k"] for t in later), "a bigger forest is only tried below"
        found, _ = annoy_top(index, len(vectors), sample, 10, search_k)
        assert recall_at(found, truth) == pytest.approx(recall)
    finally:
        index.unload()


@pytest.mark.parametrize("below, met_from, expected, tried", [
    (None, 440, (704, 1.0), [11, 22, 44, 88, 176, 352, 704]),
    (704, 88, (88, 1.0), [352, 176, 88, 44]),
    (704, 400, None, [352]),
])
def test_least_search_k_climbs_first_then_only_looks_below_the_kept_forest(below, met_from, expected, tried):
    """Without a kept forest the ladder (11 x 1, 2, 4 ... 64) is climbed to the first search_k meeting the
    floor; with one kept at `below`, only smaller values are tried, downward, stopping at the first that
    falls short."""
    from recommender.neighbours.annoy_index import least_search_k

    asked = []

    def recall_at(search_k: int) -> float:
        asked.append(search_k)
        return 1.0 if search_k >= met_from else 0.5
    assert least_search_k(recall_at, 11, 0.98, below) == expected
    assert asked == tried


def test_built_index_records_its_recall(built_data_dir, model):
    """The manifest records recall@10 over the floor, the forest, search_k and the sample size, and
    an independent check of Annoy at that search_k agrees."""
    manifest = read_manifest(IndexStore(built_data_dir / "indexes").current_path())
    assert manifest["recall_at_10"] >= RECALL_FLOOR >= 0.98
    assert manifest["recall_floor"] == RECALL_FLOOR
    assert manifest["trees"] >= 1 and manifest["search_k"] >= 1
    assert manifest["recall_sample"] >= min(RECALL_SAMPLE, manifest["item_count"])
    vectors = np.array([model.annoy.get_item_vector(i) for i in range(len(model))], dtype=np.float32)
    rows = np.arange(len(model))
    truth, _ = exact_top(vectors, rows, 10)
    found, _ = annoy_top(model.annoy, len(model), rows, 10, manifest["search_k"])
    assert recall_at(found, truth) >= RECALL_FLOOR


def test_build_below_the_recall_floor_publishes_nothing(tmp_path, small_catalog, monkeypatch):
    """When tuning cannot reach the recall floor the build fails and the served version stays."""
    store = IndexStore(tmp_path / "indexes")
    before = build_and_publish(store, small_catalog)
    unreachable = 1.01  # recall@10 is at most 1
    monkeypatch.setattr(pipeline, "build_index", functools.partial(build_index, recall_floor=unreachable))
    with pytest.raises(BuildError, match=rf"(?i)recall.*floor {unreachable}"):
        build_and_publish(store, small_catalog)
    assert store.current_version() == before
    assert [v["version"] for v in store.versions()] == [before]
    assert not list(store.staging_root.iterdir()), "the failed build's staging directory was left behind"


# -- 3. explanations ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def liked_by(small_catalog) -> dict[str, set[str]]:
    interactions = read_interactions(small_catalog.interactions)
    liked = interactions[interactions["rating"] >= POSITIVE_RATING]
    return liked.groupby("item_id")["user_id"].agg(set).to_dict()


def test_why_matches_the_data(model, liked_by):
    """Shared categories are the intersection, liked_both counts people who liked both, and the summary
    says so."""
    shared_seen = 0
    for item_id in model.items["item_id"].astype(str)[:8]:
        query = model.get_item(item_id)
        for result in model.get_similar_items(item_id, 10):
            why = result.why
            other = model.get_item(result.item_id)
            assert set(why.categories) == set(query.categories) & set(other.categories)
            expected = len(liked_by.get(item_id, set()) & liked_by.get(result.item_id, set()))
            assert why.liked_both == expected
            assert isinstance(why.summary, str) and why.summary.strip()
            assert all(c in why.summary for c in why.categories)
            assert ("liked both" in why.summary) == (expected > 0)
            if expected:
                assert f"{expected} {'person' if expected == 1 else 'people'} liked both" in why.summary
            shared_seen += bool(why.categories)
    assert shared_seen > 0


def test_api_similar_carries_why(client, model):
    """Every JSON result has why: categories, words, liked_both, same_series and the summary line."""
    item_id = model.items["item_id"].astype(str).iloc[3]
    body = similar_json(client, item_id)
    expected = model.get_similar_items(item_id, body["k"])
    assert [r["item_id"] for r in body["results"]] == [r.item_id for r in expected]
    for result, truth in zip(body["results"], expected):
        assert set(result["why"]) == {"categories", "words", "liked_both", "same_series", "rules", "summary"}
        assert result["why"] == truth.why.as_dict() | {"summary": truth.why.summary}


def test_html_panel_shows_each_summary(client, model):
    """The htmx panel prints the why line under every similar item."""
    item_id = model.items["item_id"].astype(str).iloc[5]
    response = client.get(f"/items/{item_id}/similar", headers=HX)
    assert response.status_code == 200
    body = html.unescape(response.get_data(as_text=True))
    results = model.get_similar_items(item_id, 10)
    whys = re.findall(r'<p class="why"[^>]*>(.*?)</p>', body, re.S)
    assert [w.strip() for w in whys] == [r.why.summary for r in results]


def test_why_without_interactions_has_no_liked_both(tmp_path):
    """Without interactions nobody 'liked both': liked_both is None and the summary does not say it."""
    model = published_model(make_catalog(tmp_path / "catalog", with_interactions=False), tmp_path)
    item_id = str(model.items["item_id"].iloc[0])
    results = model.get_similar_items(item_id, 10)
    assert len(results) == 10
    for result in results:
        assert result.why.liked_both is None
        assert result.why.as_dict()["liked_both"] is None
        assert "liked both" not in result.why.summary and result.why.summary.strip()


# -- 4. filters -------------------------------------------------------------------------------------

def test_category_filter_returns_exactly_k_of_that_category(client, model):
    """category=X keeps only items with X and still fills k when the catalog has enough of them."""
    items = item_frame(model)
    query = items["item_id"].iloc[0]
    own = model.get_item(query).categories
    other = next(c for c in model.all_categories if c not in own)
    for category in (own[0], other):
        available = sum(category in cats for i, cats in zip(items["item_id"], items["cats"]) if i != query)
        assert available >= 10
        body = similar_json(client, query, f"?category={category}")
        assert len(body["results"]) == 10 and "note" not in body
        assert all(category in r["categories"] for r in body["results"])
        assert query not in {r["item_id"] for r in body["results"]}
        assert_by_score(body["results"])


def test_repeated_category_means_any_of_them(client, model):
    """category=A&category=B is the unfiltered ranking restricted to items with A or B."""
    query = str(model.items["item_id"].iloc[1])
    wanted = set(model.all_categories[:2])
    everything = similar_json(client, query, f"?k={len(model) - 1}")["results"]
    expected = [r["item_id"] for r in everything if wanted & set(r["categories"])][:10]
    body = similar_json(client, query, "?" + "&".join(f"category={c}" for c in sorted(wanted)))
    assert [r["item_id"] for r in body["results"]] == expected
    assert_by_score(body["results"])


def test_exclude_removes_ids_comma_separated_and_repeated(client, model):
    """exclude=a,b&exclude=c removes exactly those items; the next most similar fill their places."""
    query = str(model.items["item_id"].iloc[2])
    unfiltered = [r["item_id"] for r in similar_json(client, query, "?k=13")["results"]]
    a, b, c = unfiltered[0], unfiltered[4], unfiltered[9]
    body = similar_json(client, query, f"?exclude={a},{b}&exclude={c}")
    got = [r["item_id"] for r in body["results"]]
    assert got == [i for i in unfiltered if i not in {a, b, c}][:10]
    assert_by_score(body["results"])


def test_year_range_keeps_items_inside(client, model):
    """year_min/year_max keep only items from inside the range, inclusive."""
    items = item_frame(model)
    query = items["item_id"].iloc[0]
    years = sorted(items["year"].dropna().astype(int).unique())
    low, high = years[len(years) // 3], years[2 * len(years) // 3]
    body = similar_json(client, query, f"?year_min={low}&year_max={high}")
    available = int(((items["year"] >= low) & (items["year"] <= high) & (items["item_id"] != query)).sum())
    assert len(body["results"]) == min(10, available) > 0
    assert all(low <= r["year"] <= high for r in body["results"])
    assert_by_score(body["results"])


def test_narrow_filter_returns_fewer_with_a_note(client, model):
    """When fewer than k items match, all of them come back, with a note (JSON) and 'Only N' (HTML)."""
    items = item_frame(model)
    query = items["item_id"].iloc[0]
    item = model.get_item(query)
    category = item.categories[0]
    match = (items["item_id"] != query) & (items["year"] == item.year) & items["cats"].map(lambda s: category in s)
    expected = set(items["item_id"][match])
    assert 0 < len(expected) < 10
    params = f"?category={category}&year_min={item.year}&year_max={item.year}"
    body = similar_json(client, query, params)
    assert {r["item_id"] for r in body["results"]} == expected
    assert str(len(expected)) in body["note"]
    panel = client.get(f"/items/{query}/similar{params}", headers=HX)
    assert panel.status_code == 200
    assert f"Only {len(expected)}" in panel.get_data(as_text=True)


@pytest.mark.parametrize("query, names", [
    ("?year_min=abc", ["year_min"]),
    ("?year_max=19x9", ["year_max"]),
    ("?year_min=2000&year_max=1990", ["year_min", "year_max"]),
])
def test_bad_year_filters_are_400(client, query, names):
    """A year that is not a number, or a reversed range, is refused with the parameter named."""
    response = client.get(f"/api/items/1000/similar{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert all(name in error for name in names)
    page = client.get(f"/items/1000/similar{query}", headers=HX)
    assert page.status_code == 400 and names[0] in page.get_data(as_text=True)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """240 items: the neighbour table (100) covers less than half the catalog."""
    data_dir = tmp_path_factory.mktemp("wide")
    files = make_catalog(data_dir / "catalog", n_items=240)
    build_and_publish(IndexStore(data_dir / "indexes"), files)
    app = make_app(data_dir, REDIS_URL="")
    return app, app.extensions["model_holder"].model


def test_filter_beyond_the_neighbour_table_is_still_right_and_full(wide):
    """A category first met past the table's 100 neighbours forces the Annoy path; the answer is still
    k items of that category, the nearest ones, by score."""
    app, model = wide
    k = 10
    vectors = np.array([model.annoy.get_item_vector(i) for i in range(len(model))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = "1000"
    row = model.table.row_of(query)
    order = [int(r) for r in np.argsort(-(vectors @ vectors[row]), kind="stable") if r != row]
    table_width = model.neighbours.shape[1]
    assert table_width < len(model) - 1

    def ranked(category):
        return [r for r in order if category in model.table.categories(r)]
    category = max((c for c in model.all_categories if len(ranked(c)) >= k),
                   key=lambda c: order.index(ranked(c)[0]))
    first_rank = order.index(ranked(category)[0])
    assert first_rank >= table_width, "the chosen filter does not reach past the table"

    body = similar_json(app.test_client(), query, f"?category={category}&k={k}")
    got = [r["item_id"] for r in body["results"]]
    assert len(got) == k, f"{len(got)} of {k} for category={category} (first match at rank {first_rank}); " \
                          f"{len(ranked(category))} items have it: {body.get('note')}"
    assert all(category in r["categories"] for r in body["results"])
    assert_by_score(body["results"])
    exact = {model.table.value("item_id", r) for r in ranked(category)[:k]}
    assert len(exact & set(got)) >= k - 1, "the filtered answer is not the nearest matching items"


# -- 5. cold start ----------------------------------------------------------------------------------

def test_cold_items_get_neighbours_from_their_family(tmp_path):
    """Items with no interactions are placed by content: k neighbours, no collaborative share, mostly
    from their own family (the studio make_catalog gives each family)."""
    files = make_catalog(tmp_path / "catalog", n_items=80, extra_items=8)
    model = published_model(files, tmp_path)
    items = pd.read_csv(files.items, dtype=str)
    cold = set(items["item_id"]) - set(read_interactions(files.interactions)["item_id"])
    assert set(items["item_id"].iloc[-8:]) <= cold, "the extra items should have no interactions"
    studio = dict(zip(items["item_id"], items["studio"]))
    for item_id in sorted(cold):
        row = model.table.row_of(item_id)
        assert model.items["collaborative_share"].iloc[row] == 0
        assert model.items["interaction_count"].iloc[row] == 0
        results = model.get_similar_items(item_id, 10)
        assert len(results) == 10 and item_id not in {r.item_id for r in results}
        same = sum(studio[r.item_id] == studio[item_id] for r in results)
        assert same > len(results) / 2, f"{item_id}: only {same} of {len(results)} from its family"


def test_collaborative_share_grows_with_evidence(tmp_path):
    """Items with 20 interactions lean on collaborative vectors more than items with one, and items with
    none not at all (default blend weight, no tuning, so the share is not zeroed by the evaluation)."""
    files = make_catalog(tmp_path / "catalog", n_items=80, with_interactions=False)
    ids = pd.read_csv(files.items, dtype=str)["item_id"].tolist()
    heavy, light = ids[:10], ids[10:20]
    rows = [(f"u{u}", i, 5.0, 1_600_000_000 + n) for n, i in enumerate(heavy) for u in range(20)]
    rows += [(f"u{n}", i, 5.0, 1_600_000_100 + n) for n, i in enumerate(light)]
    interactions_path = tmp_path / "catalog" / "interactions.csv"
    frame(rows).to_csv(interactions_path, index=False)
    out = tmp_path / "version"
    out.mkdir()
    build_index(load_catalog(files.items, interactions_path), out, evaluate_quality=False)
    model = SimilarItemsModel(out)
    table = model.items.set_index(model.items["item_id"].astype(str))
    counts = frame(rows).groupby("item_id").size()
    settings = model.manifest["settings"]
    assert settings["collaborative_weight"] > 0
    for item_id in ids:
        count = int(counts.get(item_id, 0))
        assert table.loc[item_id, "interaction_count"] == count
        expected = settings["collaborative_weight"] * count / (count + settings["evidence_shrinkage"])
        assert table.loc[item_id, "collaborative_share"] == pytest.approx(expected, abs=1e-6)
    share = table["collaborative_share"]
    assert share[heavy].min() > share[light].max() > 0
    assert (share[[i for i in ids if i not in counts.index]] == 0).all()


# -- 6. CLI ------------------------------------------------------------------------------------------

def test_cli_evaluate_prints_the_table(app, small_catalog):
    """`flask evaluate` prints a markdown row per method with the numbers evaluate() computes."""
    result = app.test_cli_runner().invoke(args=["evaluate", "--items", str(small_catalog.items),
                                                "--interactions", str(small_catalog.interactions)])
    assert result.exit_code == 0, result.output
    catalog = load_catalog(small_catalog.items, small_catalog.interactions)
    report = evaluate(catalog.items, catalog.interactions)
    assert "| method | HitRate@10 | NDCG@10 | coverage@10 |" in result.output
    for method in METHODS:
        m = report["test"][method]
        assert f"| {method} | {m['hit_rate']:.4f} | {m['ndcg']:.4f} | {m['coverage']:.4f} |" in result.output
    assert f"{report['test_users']} test users" in result.output


def test_cli_evaluate_needs_interactions(app, small_catalog):
    """Without interactions there is nothing to hold out: a non-zero exit and a message saying so."""
    result = app.test_cli_runner().invoke(args=["evaluate", "--items", str(small_catalog.items)])
    assert result.exit_code != 0
    assert "interactions" in result.output
    assert "| blend |" not in result.output


# -- 7. admin ----------------------------------------------------------------------------------------

def test_admin_page_shows_the_evaluation(built_data_dir):
    """A signed-in admin sees the served index's evaluation table, the served row marked."""
    manifest = read_manifest(IndexStore(built_data_dir / "indexes").current_path())
    report = manifest["evaluation"]
    assert report and "test" in report, f"the built index has no evaluation: {report}"
    app = make_app(built_data_dir, REDIS_URL="")
    browser = app.test_client()
    throttle.local.clear()
    form = browser.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    signed = browser.post("/admin/login", data={"token": app.extensions["settings"].admin_token, "csrf_token": csrf})
    assert signed.status_code == 302
    page = browser.get("/admin")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    table = body[body.index("Offline quality"):]
    for method in METHODS:
        m = report["test"][method]
        row = re.search(rf'<th scope="row">{re.escape(method)}.*?</tr>', table, re.S)
        assert row, f"no row for {method}"
        assert f"{m['hit_rate']:.4f}" in row.group(0) and f"{m['ndcg']:.4f}" in row.group(0)
        low, high = m["hit_rate_ci"]
        assert f"[{low:.3f}, {high:.3f}]" in row.group(0), f"no interval for {method}"
    assert f'<tr class="served"><th scope="row">{report["served"]}</th>' in table, "the served row, named once"
    assert f"Served: {report['served_as']}" in table
    paired = table[table.index("paired bootstrap 95% interval"):]
    for peer, d in report["test"][report["served"]]["vs"].items():
        row = re.search(rf'<th scope="row">{re.escape(peer)}</th>.*?</tr>', paired, re.S)
        assert row and f"{d['difference']:+.4f}" in row.group(0) and f"[{d['ci'][0]:+.3f}, " in row.group(0)
    assert f"{report['test_users']} users" in table
    assert str(report["chosen"]["collaborative_weight"]) in table


# -- 8. the demo catalog -------------------------------------------------------------------------------

def test_demo_blend_beats_the_baselines(tmp_path):
    """On MovieLens the served blend's test HitRate@10 beats most-popular, content-only and
    collaborative-only, and random is worst."""
    demo = prepare_demo_catalog(tmp_path / "demo")
    catalog = load_catalog(demo.items_path, demo.interactions_path)
    report = evaluate(catalog.items, catalog.interactions)
    rates = {method: report["test"][method]["hit_rate"] for method in METHODS}
    for baseline in ("most-popular", "content-only", "collaborative-only"):
        assert rates["blend"] > rates[baseline], rates
    assert all(rates["random"] < rates[m] for m in METHODS if m != "random"), rates
    assert report["test_users"] >= 100

