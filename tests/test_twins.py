"""Identical vectors are searched once and expanded: every item's row lists its twins first (cosine 1,
or 0 between zero vectors), leaves the item itself out, and scores as exact search would."""

from __future__ import annotations

import numpy as np

from recommender.neighbours.annoy_index import distinct_neighbours, sample_recall
from recommender.neighbours.exact import RECALL_FLOOR, exact_scores, exact_top
from recommender.neighbours.twins import find_twins

WIDTH = 10


def duplicate_heavy_vectors(seed: int = 4, distinct: int = 300, dims: int = 16, draws: int = 1500) -> np.ndarray:
    """Unit vectors around a few themes, drawn with heavy repetition (a few drawn hundreds of times), plus zero rows,
    one of them written as -0.0."""
    rng = np.random.default_rng(seed)
    themes = rng.standard_normal((distinct // 20, dims))
    base = (themes[rng.integers(len(themes), size=distinct)] + 0.4 * rng.standard_normal((distinct, dims)))
    base = base.astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, distinct + 1)
    picks = rng.choice(distinct, size=draws, p=weights / weights.sum())
    vectors = np.vstack([base[picks], np.zeros((40, dims), np.float32), -np.zeros((1, dims), np.float32)])
    return vectors[rng.permutation(len(vectors))]


def test_find_twins_groups_identical_rows_and_only_them():
    vectors = duplicate_heavy_vectors()
    twins = find_twins(vectors)
    expected = np.unique(vectors + np.float32(0), axis=0)
    assert len(twins) == len(expected)
    assert twins.sizes.sum() == len(vectors) and twins.sizes.max() > WIDTH + 1
    for group in range(len(twins)):
        rows = twins.members[twins.bounds[group]:twins.bounds[group + 1]]
        assert rows[0] == twins.representatives[group] and np.all(twins.group_of[rows] == group)
        assert np.all(vectors[rows] == vectors[rows[0]])
    assert np.all(np.diff(twins.representatives) > 0)  # groups numbered by their first row


def test_rows_list_twins_first_and_match_exact_scores():
    vectors = duplicate_heavy_vectors()
    ids, scores, method, distinct = distinct_neighbours(vectors, WIDTH, seed=7)
    assert method == "exact" and distinct < len(vectors) // 2
    rows = np.arange(len(vectors))
    assert np.all(ids != rows[:, None]) and np.all(ids >= 0)
    assert all(len(set(row)) == WIDTH for row in ids)
    _, truth_scores = exact_top(vectors, rows, WIDTH)
    assert np.allclose(scores, truth_scores, atol=1e-5)  # the exact scores, ties in any order
    assert np.allclose(exact_scores(vectors, rows, ids), scores, atol=1e-5)
    twins = find_twins(vectors)
    for row in rows[:200]:
        others = twins.sizes[twins.group_of[row]] - 1
        assert set(twins.group_of[ids[row, :min(others, WIDTH)]]) <= {twins.group_of[row]}


def test_zero_vectors_have_only_each_other_at_score_zero():
    vectors = duplicate_heavy_vectors()
    ids, scores, _, _ = distinct_neighbours(vectors, WIDTH, seed=7)
    zero = np.flatnonzero(~vectors.any(axis=1))
    assert len(zero) == 41
    assert np.all(np.isin(ids[zero], zero)) and np.all(scores[zero] == 0)


def test_forced_inverted_file_meets_the_floor_with_ties_counted():
    vectors = duplicate_heavy_vectors(seed=9, distinct=20_000, dims=24, draws=8000)
    ids, _, method, distinct = distinct_neighbours(vectors, WIDTH, seed=7, exact_max=500)
    assert method.startswith("inverted file") and distinct > 500
    sample = np.arange(0, len(vectors), 3)
    truth, truth_scores = exact_top(vectors, sample, 10)
    assert sample_recall(vectors, sample, ids[sample], truth, truth_scores) >= RECALL_FLOOR
