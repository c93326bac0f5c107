"""Exact item-to-item models learnt from interactions: EASE (Steck 2019), item-kNN on a
BM25-weighted rating matrix (as implicit's BM25Recommender) or on binary cosine, and item-kNN on
what people take up one after the other (co-occurrence within a few steps of each user's history).

Each model answers one question, `scores(rows)`: for some query items, a score for every item
(higher is more similar). The evaluation ranks with it; the builder fills the neighbour table from
it in blocks. EASE inverts a square matrix of side min(users, items) (by the Woodbury identity when
users are fewer), so it is only built where that fits: see `ease_fits`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from recommender.similarity.vectors import POSITIVE_RATING

EASE_MAX_ITEMS = 20_000
EASE_MAX_INNER = 6_000
EASE_MAX_CELLS = 60_000_000
EASE_LAMBDAS = (100.0, 300.0, 1000.0, 3000.0)
BM25_K1 = 1.2  # implicit's BM25Recommender defaults; the evaluation tunes both on validation
BM25_B = 0.75
SEQUENCE_WINDOW = 10
ONE_THREAD_SIDE = 2_000  # EASE inverts matrices up to this side with one BLAS thread


def rated_matrix(items: pd.DataFrame, interactions: pd.DataFrame) -> sparse.csr_matrix:
    """Item-by-user matrix of ratings (1 where there is no rating); the last rating of a pair counts."""
    positions = pd.Index(items["item_id"])
    rows = positions.get_indexer(interactions["item_id"])
    users, cols = np.unique(interactions["user_id"].to_numpy(), return_inverse=True)
    values = interactions["rating"].to_numpy(dtype=float) if "rating" in interactions else np.ones(len(rows))
    values = np.where(np.isnan(values), 1.0, np.maximum(values, 0.5))
    keep = rows >= 0
    coo = sparse.coo_matrix((values[keep], (rows[keep], cols[keep])), shape=(len(items), len(users)))
    matrix = coo.tocsr()
    matrix.sum_duplicates()
    counts = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=matrix.shape)
    matrix.data = matrix.data / counts.tocsr().data
    return matrix


def ease_fits(n_items: int, n_users: int) -> str | None:
    """None when EASE can be built for this many items and users, else why not (for the manifest)."""
    if n_items > EASE_MAX_ITEMS:
        return f"EASE skipped: {n_items} items (limit {EASE_MAX_ITEMS})"
    if min(n_items, n_users) > EASE_MAX_INNER:
        return f"EASE skipped: {n_items} items and {n_users} users (limit {EASE_MAX_INNER} for the smaller)"
    if n_users < n_items and n_users * n_items > EASE_MAX_CELLS:
        return f"EASE skipped: {n_users} x {n_items} user-item cells (limit {EASE_MAX_CELLS})"
    return None


def _inverse(gram: np.ndarray) -> np.ndarray:
    """The inverse, with one BLAS thread up to ONE_THREAD_SIDE: on a busy two-core machine OpenBLAS
    threads spin for each other, and the demo's 671-square inverse took 146 ms with two, 46 with one."""
    if len(gram) > ONE_THREAD_SIDE:
        return np.linalg.inv(gram)
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.inv(gram)


class ItemModel:
    """Scores of every item for some query rows; subclasses say how."""

    name = "item model"
    n_items: int

    def scores(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass
class Ease(ItemModel):
    """EASE on the binary user-item matrix: B = I - P / diag(P), P = (XᵀX + λI)⁻¹.

    With fewer users than items, Woodbury gives P = (I - XᵀMX) / λ with M = (XXᵀ + λI)⁻¹, so
    B[q, j] = x_qᵀ M x_j / (1 - x_jᵀ M x_j) and only a users-square matrix is inverted.
    """

    item_users: sparse.csr_matrix
    lam: float = 1000.0
    name = "EASE"

    def __post_init__(self):
        x = (self.item_users > 0).astype(np.float64).tocsr()
        self.n_items, n_users = x.shape
        self._by_users = n_users < self.n_items
        if self._by_users:
            gram = (x.T @ x).toarray() + self.lam * np.eye(n_users)
            inner = _inverse(gram)
            self._x = x
            self._mx = np.asarray(x @ inner, dtype=np.float32)
            self._denominator = (1.0 - np.asarray(x.multiply(self._mx).sum(axis=1)).ravel()).astype(np.float32)
        else:
            gram = (x @ x.T).toarray() + self.lam * np.eye(self.n_items)
            precision = _inverse(gram)
            self._denominator = np.diag(precision).astype(np.float32).copy()
            self._precision = precision.astype(np.float32)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        if self._by_users:
            out = (self._x[rows].toarray().astype(np.float32) @ self._mx.T) / self._denominator[None, :]
        else:
            out = -self._precision[rows] / self._denominator[None, :]
        out[np.arange(len(rows)), rows] = 0.0
        return out.astype(np.float32, copy=False)


def bm25_weight(item_users: sparse.csr_matrix, k1: float = BM25_K1, b: float = BM25_B) -> sparse.csr_matrix:
    """BM25 of each row of a sparse matrix (rows are documents, columns terms), as
    implicit.nearest_neighbours.bm25_weight. BM25 item-kNN applies it to the item-by-user matrix as
    implicit's BM25Recommender does (items are the documents): idf damps prolific users, the length
    norm damps items everyone rated."""
    coo = item_users.tocoo()
    n = float(item_users.shape[0])
    idf = np.log(n) - np.log1p(np.bincount(coo.col, minlength=item_users.shape[1]))
    row_sums = np.asarray(item_users.sum(axis=1)).ravel()
    length_norm = (1.0 - b) + b * row_sums / max(row_sums.mean(), 1e-12)
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.row] + coo.data) * idf[coo.col]
    return sparse.csr_matrix((data, (coo.row, coo.col)), shape=item_users.shape)


KNN_WEIGHTINGS = {"bm25": "BM25", "cosine": "cosine", "walk": "random walk"}


@dataclass
class SparseKnn(ItemModel):
    """Item-kNN by dot products of sparse item rows: weighted by BM25 (k1, b), binary and unit length (cosine),
    or a two-step random walk item -> user -> item ("walk", P3 of Cooper et al. 2014 with alpha 1:
    each user shares out 1/their item count, so prolific raters tie items together less)."""

    item_users: sparse.csr_matrix
    weighting: str = "bm25"
    k1: float = BM25_K1
    b: float = BM25_B

    def __post_init__(self):
        if self.weighting not in KNN_WEIGHTINGS:
            raise ValueError(f"weighting must be one of {sorted(KNN_WEIGHTINGS)}, not {self.weighting!r}")
        self._rows, self._columns = self._sides()
        self.n_items = self._rows.shape[0]
        self.name = f"item-kNN ({KNN_WEIGHTINGS[self.weighting]})"

    def _sides(self) -> tuple[sparse.csr_matrix, sparse.csc_matrix]:
        """The left rows and right columns whose products are the similarities."""
        if self.weighting == "bm25":
            rows = bm25_weight(self.item_users, self.k1, self.b).astype(np.float32).tocsr()
            return rows, rows.T.tocsc()
        binary = (self.item_users > 0).astype(np.float32)
        if self.weighting == "cosine":
            rows = normalize(binary).tocsr()
            return rows, rows.T.tocsc()
        per_user = 1.0 / np.maximum(np.asarray(binary.sum(axis=0)).ravel(), 1.0)
        return binary.multiply(per_user[None, :]).astype(np.float32).tocsr(), binary.T.tocsc()

    def scores(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        out = np.asarray((self._rows[rows] @ self._columns).toarray(), dtype=np.float32)
        out[np.arange(len(rows)), rows] = 0.0
        return out


@dataclass
class VectorModel(ItemModel):
    """Cosine over unit vectors (content, or the blend), as an ItemModel."""

    vectors: np.ndarray
    name: str = "vectors"

    def __post_init__(self):
        self.n_items = len(self.vectors)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        out = self.vectors[np.asarray(rows)] @ self.vectors.T
        out[np.arange(len(rows)), rows] = 0.0
        return out


def sequence_matrix(items: pd.DataFrame, interactions: pd.DataFrame,
                    window: int = SEQUENCE_WINDOW) -> sparse.csr_matrix:
    """Item-by-item co-occurrence within `window` steps of each user's liked history in time order
    (rating >= POSITIVE_RATING where rated; rows without a time keep file order), weighted 1/steps,
    symmetric, normalised by sqrt of both degrees. Items liked in one sitting are alike in a way the
    whole-history models blur."""
    frame = interactions.reset_index(drop=True)
    if "rating" in frame and frame["rating"].notna().any():
        frame = frame[frame["rating"].fillna(0) >= POSITIVE_RATING].reset_index(drop=True)
    order = frame["timestamp"].fillna(-1.0) if "timestamp" in frame else pd.Series(-1.0, index=frame.index)
    ordered = pd.DataFrame({"user": frame["user_id"], "time": order, "row": np.arange(len(frame))})
    ordered = ordered.sort_values(["user", "time", "row"], kind="stable")
    items_in_order = pd.Index(items["item_id"]).get_indexer(frame["item_id"].to_numpy()[ordered["row"].to_numpy()])
    users = ordered["user"].to_numpy()
    firsts, seconds, weights = [], [], []
    for step in range(1, window + 1):
        a, b = items_in_order[:-step], items_in_order[step:]
        keep = (users[step:] == users[:-step]) & (a >= 0) & (b >= 0) & (a != b)
        firsts += [a[keep], b[keep]]
        seconds += [b[keep], a[keep]]
        weights.append(np.full(2 * int(keep.sum()), 1.0 / step, dtype=np.float32))
    n = len(items)
    matrix = sparse.csr_matrix((np.concatenate(weights), (np.concatenate(firsts), np.concatenate(seconds))),
                               shape=(n, n), dtype=np.float32)
    matrix.sum_duplicates()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(np.asarray(matrix.sum(axis=1)).ravel(), 1e-12)))
    return (scale @ matrix @ scale).astype(np.float32).tocsr()


@dataclass
class SequenceKnn(ItemModel):
    """Item-kNN on `sequence_matrix`: a score for items taken up close in time to the query."""

    matrix: sparse.csr_matrix
    name = "item-kNN sequence"

    def __post_init__(self):
        self.n_items = self.matrix.shape[0]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        out = np.asarray(self.matrix[rows].toarray(), dtype=np.float32)
        out[np.arange(len(rows)), rows] = 0.0
        return out
