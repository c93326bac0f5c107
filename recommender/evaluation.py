"""Offline evaluation of similar-items quality against baselines, by a leave-last-out protocol.

For each user, the last positive interaction (by time) is held out; the query is the user's
previous positive item; each method recommends 10 items similar to the query, skipping items the
user already interacted with. Models are trained without the held-out interactions. Knobs (the
blend weight) are chosen on a validation split made the same way from the earlier interactions,
never on the test split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.vectors import (
    POSITIVE_RATING,
    BlendSettings,
    blend,
    collaborative_vectors,
    content_vectors,
    interaction_matrix,
)

K = 10
METHODS = ("random", "most-popular", "content-only", "collaborative-only", "blend")
WEIGHT_GRID = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SHRINKAGE_GRID = (2.0, 10.0, 30.0)


@dataclass(frozen=True)
class Split:
    """Training interactions, and one (user, query item, held-out item) case per evaluable user."""

    train: pd.DataFrame
    users: np.ndarray
    queries: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def positives(interactions: pd.DataFrame) -> pd.Series:
    """Liked: rating >= 4 where ratings exist, else any interaction."""
    ratings = interactions["rating"]
    if ratings.notna().any():
        return ratings.fillna(0) >= POSITIVE_RATING
    return pd.Series(True, index=interactions.index)


def leave_last_out(interactions: pd.DataFrame) -> Split:
    """Hold out each user's last positive interaction; the query is the positive one before it."""
    frame = interactions.reset_index(drop=True).copy()
    frame["_order"] = np.arange(len(frame))
    frame["_time"] = frame["timestamp"].fillna(-1.0) if "timestamp" in frame else -1.0
    liked = frame[positives(frame)].sort_values(["user_id", "_time", "_order"])
    last_two = liked.groupby("user_id", sort=False).tail(2)
    counts = last_two.groupby("user_id", sort=False)["item_id"].transform("size")
    last_two = last_two[counts == 2]
    queries = last_two.groupby("user_id", sort=False).nth(0)
    targets = last_two.groupby("user_id", sort=False).nth(1)
    keep = queries["item_id"].to_numpy() != targets["item_id"].to_numpy()
    queries, targets = queries[keep], targets[keep]
    held_out = pd.MultiIndex.from_arrays([targets["user_id"], targets["item_id"]])
    pairs = pd.MultiIndex.from_arrays([frame["user_id"], frame["item_id"]])
    train = frame[~pairs.isin(held_out)].drop(columns=["_order", "_time"])
    return Split(train=train, users=targets["user_id"].to_numpy(), queries=queries["item_id"].to_numpy(),
                 targets=targets["item_id"].to_numpy())


def _seen_matrix(train: pd.DataFrame, positions: pd.Index, users: np.ndarray) -> sparse.csr_matrix:
    """Per evaluated user, the items they interacted with in training (to skip when recommending)."""
    user_row = pd.Index(users).get_indexer(train["user_id"])
    keep = user_row >= 0
    cols = positions.get_indexer(train["item_id"][keep])
    return sparse.csr_matrix((np.ones(int(keep.sum())), (user_row[keep], cols)), shape=(len(users), len(positions)))


def _rank_by_vectors(vectors: np.ndarray, query_rows: np.ndarray, seen: sparse.csr_matrix) -> np.ndarray:
    scores = vectors[query_rows] @ vectors.T
    scores[np.arange(len(query_rows)), query_rows] = -np.inf
    scores[seen.nonzero()] = -np.inf
    return _top(scores)


def _top(scores: np.ndarray) -> np.ndarray:
    part = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _metrics(recommended: np.ndarray, target_rows: np.ndarray, n_items: int) -> dict:
    hits = recommended == target_rows[:, None]
    ranks = np.argmax(hits, axis=1)
    hit = hits.any(axis=1)
    ndcg = np.where(hit, 1.0 / np.log2(ranks + 2), 0.0)
    return {"hit_rate": round(float(hit.mean()), 4), "ndcg": round(float(ndcg.mean()), 4),
            "coverage": round(len(np.unique(recommended)) / n_items, 4), "users": int(len(target_rows))}


@dataclass
class Evaluator:
    """Scores every method on one split; content vectors are shared, the rest is trained on split.train."""

    items: pd.DataFrame
    content: np.ndarray
    settings: BlendSettings

    def __post_init__(self):
        self.positions = pd.Index(self.items["item_id"])

    def run(self, split: Split, methods=METHODS, grid: list[BlendSettings] | None = None, seed: int = 0) -> dict:
        n = len(self.items)
        matrix = interaction_matrix(self.items, split.train)
        counts = np.asarray(matrix.getnnz(axis=1)).ravel().astype(np.float32)
        collaborative = collaborative_vectors(matrix, self.settings)
        query_rows = self.positions.get_indexer(split.queries)
        target_rows = self.positions.get_indexer(split.targets)
        seen = _seen_matrix(split.train, self.positions, split.users)
        table = {}
        for method in methods:
            if method == "random":
                scores = np.random.default_rng(seed).random((len(split), n))
                scores[np.arange(len(split)), query_rows] = -np.inf
                scores[seen.nonzero()] = -np.inf
                recommended = _top(scores)
            elif method == "most-popular":
                scores = np.tile(counts + np.linspace(0, 1e-3, n, dtype=np.float32), (len(split), 1))
                scores[np.arange(len(split)), query_rows] = -np.inf
                scores[seen.nonzero()] = -np.inf
                recommended = _top(scores)
            elif method == "content-only":
                recommended = _rank_by_vectors(self.content, query_rows, seen)
            elif method == "collaborative-only":
                recommended = _rank_by_vectors(collaborative, query_rows, seen)
            else:
                vectors, _ = blend(self.content, collaborative, counts, self.settings)
                recommended = _rank_by_vectors(vectors, query_rows, seen)
            table[method] = _metrics(recommended, target_rows, n)
        if grid:
            table["_grid"] = []
            for candidate in grid:
                vectors, _ = blend(self.content, collaborative, counts, candidate)
                table["_grid"].append((candidate, _metrics(_rank_by_vectors(vectors, query_rows, seen),
                                                           target_rows, n)))
        return table


def choose_blend(scored: list[tuple[BlendSettings, dict]], users: int) -> tuple[BlendSettings, dict]:
    """One-standard-error rule: of the blends whose validation HitRate is within one standard error
    of the best, the one that leans most on content. Where the data cannot tell blends apart, the
    neighbours that are recognisably alike (same franchise, genre, era) win."""
    best_rate = max(metrics["hit_rate"] for _, metrics in scored)
    standard_error = float(np.sqrt(best_rate * (1 - best_rate) / max(users, 1)))
    eligible = [(c, m) for c, m in scored if m["hit_rate"] >= best_rate - standard_error]
    return min(eligible, key=lambda pair: (pair[0].collaborative_weight, -pair[0].evidence_shrinkage))


def evaluate(items: pd.DataFrame, interactions: pd.DataFrame, settings: BlendSettings = BlendSettings(),
             content: np.ndarray | None = None) -> dict:
    """Choose the blend on validation, then report every method on the test split.

    Returns {"chosen": {...knobs}, "validation": {...}, "test": {method: metrics}, ...}.
    """
    started = time.perf_counter()
    items = items.reset_index(drop=True)
    content = content_vectors(items, settings) if content is None else content
    evaluator = Evaluator(items, content, settings)
    test_split = leave_last_out(interactions)
    validation_split = leave_last_out(test_split.train)
    if len(items) <= 2 * K:
        return {"skipped": f"the catalog has {len(items)} items; evaluation at k={K} needs more than {2 * K}"}
    if len(test_split) < 10 or len(validation_split) < 10:
        return {"skipped": f"too few users with two liked items ({len(test_split)}); need at least 10"}
    grid = [replace(settings, collaborative_weight=w, evidence_shrinkage=s)
            for w in WEIGHT_GRID for s in SHRINKAGE_GRID]
    validation = evaluator.run(validation_split, methods=(), grid=grid)
    best, best_metrics = choose_blend(validation["_grid"], len(validation_split))
    chosen = replace(settings, collaborative_weight=best.collaborative_weight,
                     evidence_shrinkage=best.evidence_shrinkage)
    evaluator.settings = chosen
    test = evaluator.run(test_split)
    return {
        "protocol": "leave-last-positive-out by time; query = previous positive; k=10; seen items excluded",
        "k": K,
        "chosen": {"collaborative_weight": chosen.collaborative_weight,
                   "evidence_shrinkage": chosen.evidence_shrinkage},
        "validation": {"users": len(validation_split), "blend": best_metrics,
                       "best_hit_rate": max(m["hit_rate"] for _, m in validation["_grid"])},
        "test": test,
        "test_users": len(test_split),
        "seconds": round(time.perf_counter() - started, 2),
    }


def format_table(report: dict) -> str:
    """The evaluation as a markdown table, as printed by `flask evaluate`."""
    if "test" not in report:
        return f"evaluation skipped: {report.get('skipped', 'no interactions')}"
    lines = [f"| method | HitRate@{report['k']} | NDCG@{report['k']} | coverage@{report['k']} |",
             "|---|---:|---:|---:|"]
    for method in METHODS:
        m = report["test"][method]
        lines.append(f"| {method} | {m['hit_rate']:.4f} | {m['ndcg']:.4f} | {m['coverage']:.4f} |")
    chosen = report["chosen"]
    lines.append("")
    lines.append(f"{report['test_users']} test users; blend chosen on validation: collaborative weight "
                 f"{chosen['collaborative_weight']}, evidence shrinkage {chosen['evidence_shrinkage']}")
    return "\n".join(lines)
