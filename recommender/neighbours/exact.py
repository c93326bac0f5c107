"""Exact nearest neighbours by cosine, and recall against them: the yardstick every approximate search
(Annoy, the inverted file) is tuned to, in blocks so memory stays flat however large the catalog."""

from __future__ import annotations

import numpy as np

from recommender.topk import best_first

RECALL_FLOOR = 0.98
TIE_TOLERANCE = 1e-5
WIDE_ROWS = 100_000  # rows of a block wider than this are partitioned one by one (bounded temporaries)


def top_of_block(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row, best first. No negated copy of the block; rows wider than WIDE_ROWS
    one at a time, so the index array argpartition makes stays one row long."""
    n = sims.shape[1]
    if k >= n:
        part = np.argsort(-sims, axis=1)[:, :k]
    elif n <= WIDE_ROWS:
        part = np.argpartition(sims, n - k, axis=1)[:, n - k:]
    else:
        part = np.stack([np.argpartition(row, n - k)[n - k:] for row in sims])
    return best_first(sims, part)


def exact_top(vectors: np.ndarray, rows: np.ndarray, k: int, block_cells: int = 1 << 24):
    """Exact k nearest (by cosine) for the given rows, excluding each row itself; rows are taken in
    blocks of about block_cells similarities, so memory stays flat however large the catalog."""
    k = min(k, len(vectors) - 1)
    block = max(1, min(1024, block_cells // max(len(vectors), 1)))
    ids = np.empty((len(rows), k), dtype=np.int32)
    scores = np.empty((len(rows), k), dtype=np.float32)
    for start in range(0, len(rows), block):
        chunk = rows[start:start + block]
        sims = vectors[chunk] @ vectors.T
        sims[np.arange(len(chunk)), chunk] = -np.inf
        top_ids, top_scores = top_of_block(sims, k)
        ids[start:start + len(chunk)] = top_ids
        scores[start:start + len(chunk)] = top_scores
    return ids, scores


def recall_at(found: np.ndarray, truth: np.ndarray, found_scores: np.ndarray | None = None,
              truth_scores: np.ndarray | None = None) -> float:
    """Share of the exact k nearest that were found. Given exact scores of both, a found neighbour
    scoring at least the k-th exact score (within TIE_TOLERANCE) is a hit too: among tied items
    exact search lists an arbitrary few, and any of the others is as near."""
    if found_scores is None or truth_scores is None:
        hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth))
        return hits / max(1, truth.size)
    k = truth.shape[1]
    found, found_scores = found[:, :k], found_scores[:, :k]
    in_truth = (found[:, :, None] == truth[:, None, :]).any(axis=2)
    tied = found_scores >= truth_scores[:, k - 1:k] - TIE_TOLERANCE
    hits = np.minimum(((in_truth | tied) & (found >= 0)).sum(axis=1), k)
    return float(hits.sum()) / max(1, truth.size)


def exact_scores(vectors: np.ndarray, rows: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Cosine of each row with each of its found neighbours, computed exactly (-inf where none)."""
    safe = np.where(found >= 0, found, 0)
    scores = np.einsum("rkd,rd->rk", np.asarray(vectors[safe.ravel()]).reshape(*found.shape, -1),
                       np.asarray(vectors[rows]))
    scores[found < 0] = -np.inf
    return scores.astype(np.float32)
