"""Item vectors: content (TF-IDF of text and categories, plus year) blended with collaborative
vectors (a factorisation of the item-user matrix) where interactions exist.

Each item's blend leans on its collaborative vector in proportion to how much evidence it has,
so an item nobody has touched yet is placed by its content alone and still gets neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

POSITIVE_RATING = 4.0
SVD_FIT_ROWS = 50_000
PROJECTION_BLOCK_ROWS = 65_536


@dataclass(frozen=True)
class BlendSettings:
    """Knobs of the blend; `collaborative_weight` is the share given to an item with ample evidence."""

    content_dims: int = 128
    collaborative_dims: int = 128
    collaborative_weight: float = 0.7
    evidence_shrinkage: float = 10.0
    text_weight: float = 1.0
    category_weight: float = 1.2
    year_weight: float = 0.5
    seed: int = 7


@dataclass
class ItemVectors:
    """Unit-length blended vectors, row i for items row i, and the parts they came from."""

    vectors: np.ndarray
    content: np.ndarray
    collaborative: np.ndarray | None
    interaction_counts: np.ndarray
    collaborative_share: np.ndarray

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])


def _reduce(matrix: sparse.spmatrix, dims: int, seed: int) -> np.ndarray:
    """Dense, unit-length float32 rows; SVD only when the matrix is wider than the target.

    Above SVD_FIT_ROWS rows the SVD is fitted on a random sample of rows and every row is then
    projected in blocks: time and memory stay near those of the sample (a full randomized SVD of a
    million rows takes minutes and gigabytes), and only the float32 result is held whole."""
    if matrix.shape[1] <= dims or matrix.shape[0] <= dims:
        dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
        return normalize(dense).astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        return _svd_reduce(matrix, dims, seed)


def _svd_reduce(matrix: sparse.spmatrix, dims: int, seed: int) -> np.ndarray:
    """The randomized SVD of _reduce, run with one BLAS thread: its QR and LU steps on tall, 128-wide
    blocks gain nothing from more, and OpenBLAS threads that spin for each other on a busy machine
    made the demo's SVDs 15× slower (22 s against 1.3 s for the vectors, results equal to 4e-9)."""
    svd = TruncatedSVD(n_components=dims, algorithm="randomized", n_iter=5, random_state=seed)
    if matrix.shape[0] <= SVD_FIT_ROWS:
        return normalize(svd.fit_transform(matrix)).astype(np.float32)
    rows = np.random.default_rng(seed).choice(matrix.shape[0], size=SVD_FIT_ROWS, replace=False)
    svd.fit(matrix[np.sort(rows)])
    basis = svd.components_.T.astype(np.float32)
    reduced = np.empty((matrix.shape[0], dims), dtype=np.float32)
    for start in range(0, matrix.shape[0], PROJECTION_BLOCK_ROWS):
        block = matrix[start:start + PROJECTION_BLOCK_ROWS] @ basis
        reduced[start:start + len(block)] = normalize(block)
    return reduced


def _year_features(years: pd.Series) -> sparse.csr_matrix:
    """Soft decade buckets: items a few years apart share weight, decades apart share none."""
    values = pd.to_numeric(years, errors="coerce").to_numpy(dtype=float)
    known = ~np.isnan(values)
    if not known.any():
        return sparse.csr_matrix((len(values), 1))
    low = int(np.nanmin(values)) // 10 - 1
    high = int(np.nanmax(values)) // 10 + 1
    centres = np.arange(low, high + 1) * 10 + 5
    dense = np.zeros((len(values), len(centres)))
    dense[known] = np.exp(-((values[known, None] - centres[None, :]) / 7.0) ** 2)
    return sparse.csr_matrix(normalize(dense))


def content_vectors(items: pd.DataFrame, settings: BlendSettings = BlendSettings()) -> np.ndarray:
    text = (items["title"].fillna("") + " " + items["description"].fillna("")).str.lower()
    text_matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1,
                                  token_pattern=r"(?u)\b\w+\b").fit_transform(text)
    categories = items["categories"].fillna("").str.lower()
    if categories.str.len().sum() > 0:
        category_matrix = TfidfVectorizer(tokenizer=lambda s: [t.strip() for t in s.split("|") if t.strip()],
                                          token_pattern=None, lowercase=False).fit_transform(categories)
    else:
        category_matrix = sparse.csr_matrix((len(items), 1))
    parts = [normalize(text_matrix) * settings.text_weight,
             normalize(category_matrix) * settings.category_weight,
             _year_features(items["year"]) * settings.year_weight]
    combined = sparse.hstack(parts).tocsr()
    return _reduce(combined, settings.content_dims, settings.seed)


def interaction_matrix(items: pd.DataFrame, interactions: pd.DataFrame) -> sparse.csr_matrix:
    """Item-by-user matrix of implicit preference: liked items weigh more than merely rated ones."""
    positions = pd.Index(items["item_id"])
    rows = positions.get_indexer(interactions["item_id"])
    users, cols = np.unique(interactions["user_id"].to_numpy(), return_inverse=True)
    ratings = interactions["rating"].to_numpy(dtype=float)
    weights = np.where(np.isnan(ratings), 1.0, np.where(ratings >= POSITIVE_RATING, 1.0, 0.3))
    keep = rows >= 0
    matrix = sparse.csr_matrix((weights[keep], (rows[keep], cols[keep])), shape=(len(items), len(users)))
    matrix.sum_duplicates()
    return matrix


def collaborative_vectors(matrix: sparse.csr_matrix, settings: BlendSettings = BlendSettings()) -> np.ndarray:
    """Factorise the item-user matrix after damping prolific users, so they do not define every item."""
    user_activity = np.asarray((matrix > 0).sum(axis=0)).ravel()
    idf = np.log1p(matrix.shape[0] / np.maximum(user_activity, 1))
    weighted = matrix @ sparse.diags(idf)
    reduced = _reduce(normalize(weighted), settings.collaborative_dims, settings.seed)
    empty = np.asarray(matrix.getnnz(axis=1)).ravel() == 0
    reduced[empty] = 0.0
    return reduced


def blend(content: np.ndarray, collaborative: np.ndarray | None, counts: np.ndarray,
          settings: BlendSettings = BlendSettings()) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate sqrt-weighted parts so the dot product of two items mixes both similarities."""
    if collaborative is None:
        return content, np.zeros(len(content), dtype=np.float32)
    share = settings.collaborative_weight * counts / (counts + settings.evidence_shrinkage)
    share = share.astype(np.float32)
    vectors = np.hstack([content * np.sqrt(1.0 - share)[:, None], collaborative * np.sqrt(share)[:, None]])
    return normalize(vectors).astype(np.float32), share


def build_item_vectors(items: pd.DataFrame, interactions: pd.DataFrame | None,
                       settings: BlendSettings = BlendSettings(), content: np.ndarray | None = None) -> ItemVectors:
    content = content_vectors(items, settings) if content is None else content
    if interactions is None or interactions.empty:
        counts = np.zeros(len(items), dtype=np.float32)
        vectors, share = blend(content, None, counts, settings)
        return ItemVectors(vectors, content, None, counts, share)
    matrix = interaction_matrix(items, interactions)
    counts = np.asarray(matrix.getnnz(axis=1)).ravel().astype(np.float32)
    collaborative = collaborative_vectors(matrix, settings)
    vectors, share = blend(content, collaborative, counts, settings)
    return ItemVectors(vectors, content, collaborative, counts, share)
