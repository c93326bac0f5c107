"""The leave-last-out protocol: the split, HitRate and NDCG from each held-out item's rank, bootstrap
intervals, and the two baselines every method is compared with (random, most-popular)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.similarity.itemitem import ItemModel
from recommender.similarity.vectors import POSITIVE_RATING
from recommender.topk import top_columns

K = 10
TIE_BREAK = 1e-6
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 20190513


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


def seen_matrix(train: pd.DataFrame, positions: pd.Index, users: np.ndarray) -> sparse.csr_matrix:
    """Per evaluated user, the items they interacted with in training (to skip when recommending)."""
    user_row = pd.Index(users).get_indexer(train["user_id"])
    keep = user_row >= 0
    cols = positions.get_indexer(train["item_id"][keep])
    return sparse.csr_matrix((np.ones(int(keep.sum())), (user_row[keep], cols)), shape=(len(users), len(positions)))


def rank_by_vectors(vectors: np.ndarray, query_rows: np.ndarray, seen: sparse.csr_matrix) -> np.ndarray:
    return masked_top(vectors[query_rows] @ vectors.T, query_rows, seen)


def top_k(scores: np.ndarray) -> np.ndarray:
    """The K best columns per row, best first. A sub-resolution tie-break (earlier rows win) keeps
    argpartition fast on rows full of equal scores (zeros of sparse models); recommender/topk.py
    returns what argpartition would, faster."""
    return top_columns(scores, K, TIE_BREAK)


def metrics_of(recommended: np.ndarray, target_rows: np.ndarray, n_items: int) -> dict:
    return {**rank_metrics(_ranks_in(recommended, target_rows)),
            "coverage": round(len(np.unique(recommended)) / n_items, 4)}


def _ranks_in(recommended: np.ndarray, target_rows: np.ndarray) -> np.ndarray:
    """Each user's rank of their held-out item in their recommended top K (K where it is not there)."""
    hits = recommended == target_rows[:, None]
    return np.where(hits.any(axis=1), hits.argmax(axis=1), K)


def _per_rank(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hit (0/1) and NDCG of each user from the rank of their held-out item."""
    hit = ranks < K
    return hit.astype(np.float64), np.where(hit, 1.0 / np.log2(ranks + 2), 0.0)


def rank_metrics(ranks: np.ndarray) -> dict:
    hit, ndcg = _per_rank(ranks)
    return {"hit_rate": round(float(hit.mean()), 4), "ndcg": round(float(ndcg.mean()), 4), "users": int(len(ranks))}


def masked_top(scores: np.ndarray, query_rows: np.ndarray, seen: sparse.csr_matrix | None) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float32)
    scores[np.arange(len(query_rows)), query_rows] = -np.inf
    if seen is not None:
        scores[seen.nonzero()] = -np.inf
    return top_k(scores)


def per_user(recommended: np.ndarray, target_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hit (0/1) and NDCG of each evaluated user, for bootstrap intervals."""
    return _per_rank(_ranks_in(recommended, target_rows))


def bootstrap_interval(values: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> list:
    """95% percentile interval of the mean, resampling users (the same resamples for every method,
    so intervals of differences are paired)."""
    if not len(values):
        return [0.0, 0.0]
    picks = np.random.default_rng(seed).integers(0, len(values), size=(samples, len(values)))
    means = values[picks].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


class PopularityModel(ItemModel):
    name = "most-popular"

    def __init__(self, counts: np.ndarray):
        self.n_items = len(counts)
        self._scores = counts + np.linspace(0, 1e-3, len(counts), dtype=np.float32)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self._scores, (len(rows), 1))


class RandomModel(ItemModel):
    name = "random"

    def __init__(self, n_items: int, seed: int):
        self.n_items, self.seed = n_items, seed

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.random.default_rng(self.seed).random((len(rows), self.n_items))
