"""The evaluation's fast top-K returns exactly what the plain argpartition definition returns,
ties, -inf (seen items), NaN and rows of zeros included."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.topk import reference_top, tie_broken, top_columns

TIE_BREAK = 1e-6


def matrices(seed: int):
    rng = np.random.default_rng(seed)
    dense = rng.random((60, 2000), dtype=np.float32)  # wider than NARROW_COLUMNS
    yield "dense", dense
    coarse = np.round(dense * 4) / 4  # many exact ties, above the tie-break's resolution
    yield "coarse", coarse.astype(np.float32)
    sparse_like = np.where(rng.random((60, 2000)) < 0.02, dense, 0.0).astype(np.float32)
    yield "mostly zeros", sparse_like
    seen = dense.copy()
    seen[rng.random(seen.shape) < 0.3] = -np.inf
    seen[0, 12:] = -np.inf  # a row with fewer than K finite scores
    yield "seen items", seen
    odd = dense.copy()
    odd[3, 5] = np.nan
    odd[4, :] = 0.5
    yield "NaN and a constant row", odd
    yield "narrow", dense[:, :15].copy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_columns_equals_the_reference(seed):
    for name, scores in matrices(seed):
        for k in (1, 10):
            expected = reference_top(tie_broken(scores, TIE_BREAK), k)
            found = top_columns(scores, k, TIE_BREAK)
            assert found.shape == expected.shape, name
            assert np.array_equal(found, expected), (name, k, np.flatnonzero((found != expected).any(axis=1)))
