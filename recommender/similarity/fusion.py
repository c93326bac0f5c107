"""The served similarity: an exact item-item model (EASE where it fits, BM25 item-kNN beyond)
fused with binary-cosine item-kNN, random-walk item-kNN, sequence item-kNN (taken up one after the
other) and content neighbours, series companions first.

Each source is scaled per query row so its best neighbour scores 1, then the sources are
weighted and summed; the sum is scaled down where the two items share no category (so a family
film's neighbours stay family films), and a popularity exponent can damp items everyone rated.
The weights are chosen on the validation split (recommender/evaluation/run.py), never the test split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.similarity.itemitem import BM25_B, BM25_K1, Ease, ItemModel, SparseKnn, ease_fits
from recommender.topk import best_columns

SERIES_BONUS = 10.0
# Ratings at which an item's collaborative sources and its content count alike: with n raters the fused
# score is n/(n+2) collaborative and the rest content. One or two ratings make EASE's row noise (Jimmy
# Neutron's ten was Operation Petticoat and Black Hawk Down; with it, Ice Age, Finding Nemo, Madagascar).
# The smallest of 2, 5, 10, 20 whose rarely rated items' neighbours shared a category >= 0.95 of the time
# on all three validation folds of the demo (0.90-0.92 without); popular items' scores barely move.
EVIDENCE_SHRINKAGE = 2.0
# The sources weighted beside the base: (part key, FusionSettings knob, name in the evaluation's words).
WEIGHTED_SOURCES = (("knn", "knn_weight", "item-kNN cosine"), ("walk", "walk_weight", "item-kNN random walk"),
                    ("sequence", "sequence_weight", "item-kNN sequence"), ("content", "content_weight", "content"),
                    ("vectors", "vectors_weight", "blend"))
ROW_FACTORS = ("evidence",)  # parts that hold one value per query row, not one per candidate
BLOCK_CELLS = 1 << 23
DENSE_CATEGORIES = 64  # up to this many categories, overlaps are found by a dense product


@dataclass(frozen=True)
class FusionSettings:
    """Weights of the fused score. `base` is "EASE" (used where EASE fits) or "BM25" item-kNN."""

    ease_lambda: float | None = 1000.0
    knn_weight: float = 0.0
    content_weight: float = 0.1
    popularity_exponent: float = 0.0
    category_weight: float = 0.0
    base: str = "EASE"
    vectors_weight: float = 0.0
    sequence_weight: float = 0.0
    evidence_shrinkage: float = EVIDENCE_SHRINKAGE
    walk_weight: float = 0.0
    bm25_k1: float = BM25_K1  # of the BM25 item-kNN base, chosen on validation with the peer's
    bm25_b: float = BM25_B

    def as_dict(self) -> dict:
        return asdict(self)


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its best score, negatives cut, so sources of different scales can be added.
    In place: every source's `scores` returns a new array, and the neighbour table scales 82 million
    cells per source at demo size."""
    np.maximum(scores, 0.0, out=scores)
    return np.divide(scores, np.maximum(scores.max(axis=1, keepdims=True), 1e-12), out=scores)


class FusedModel(ItemModel):
    """Scores for query rows: weighted sum of scaled sources, in [0, 1] before the popularity damping.

    Sources: the base model, binary-cosine and random-walk item-kNN, sequence item-kNN, content
    cosine and blended-vector cosine; the sum is scaled down where no category is shared, when asked. Models
    given in `bases` are reused, not rebuilt."""

    name = "served"

    def __init__(self, item_users: sparse.csr_matrix, content: np.ndarray, settings: FusionSettings,
                 companions: list[list[int]] | None = None, bases: dict | None = None,
                 knn: ItemModel | None = None, categories: sparse.csr_matrix | None = None,
                 vectors: np.ndarray | None = None, sequence: ItemModel | None = None,
                 walk: ItemModel | None = None):
        self.n_items = len(content)
        self.item_users = item_users
        self.categories, self.vectors, self.sequence = categories, vectors, sequence
        self.settings = settings
        self.content = content
        self.companions = companions
        self.ease_fits = ease_fits(*item_users.shape) is None
        self.bases = {name: model for name, model in (bases or {}).items() if isinstance(model, ItemModel)}
        self.knn = knn if knn is not None or not settings.knn_weight else SparseKnn(item_users, "cosine")
        self.walk = walk  # built when a weighting first asks for it
        self._counts = np.asarray((item_users > 0).sum(axis=1)).ravel().astype(np.float32)
        self._damping = (1.0 + self._counts) ** -settings.popularity_exponent

    def base_name(self, settings: FusionSettings) -> str:
        return "EASE" if settings.base == "EASE" and settings.ease_lambda and self.ease_fits else "BM25"

    def _base(self, name: str, settings: FusionSettings) -> ItemModel:
        if name not in self.bases:
            self.bases[name] = Ease(self.item_users, settings.ease_lambda) if name == "EASE" \
                else SparseKnn(self.item_users, "bm25", settings.bm25_k1, settings.bm25_b)
        return self.bases[name]

    def parts(self, rows: np.ndarray, settings: FusionSettings | None = None, bases=None) -> dict[str, np.ndarray]:
        """Each source's scores for the query rows, scaled; computed once when tuning many weightings."""
        s = settings or self.settings
        found = {f"base:{name}": _scaled(self._base(name, s).scores(rows)) for name in bases or [self.base_name(s)]}
        if s.knn_weight:
            found["knn"] = _scaled(self.knn.scores(rows))
        if s.walk_weight:
            self.walk = self.walk or SparseKnn(self.item_users, "walk")
            found["walk"] = _scaled(self.walk.scores(rows))
        if s.sequence_weight and self.sequence is not None:
            found["sequence"] = _scaled(self.sequence.scores(rows))
        if s.content_weight or s.evidence_shrinkage:
            found["content"] = np.maximum(self.content[rows] @ self.content.T, 0.0)
        if s.evidence_shrinkage:
            raters = self._counts[rows][:, None]  # n/(n + shrinkage) of each query row's score is collaborative
            found["evidence"] = raters / (raters + s.evidence_shrinkage)
        if s.vectors_weight and self.vectors is not None:
            found["vectors"] = _scaled(self.vectors[rows] @ self.vectors.T)
        if s.category_weight and self.categories is not None:
            found["category"] = category_overlap(self.categories, rows)
        return found

    def similarity(self, rows: np.ndarray, parts: dict | None = None, settings: FusionSettings | None = None):
        """The fused score in [0, 1] (weights sum to one), without damping or series bonus."""
        s = settings or self.settings
        total = self.combine(parts if parts is not None else self.parts(rows, s), s)
        total[np.arange(len(rows)), rows] = 0.0
        return total

    def combine(self, parts: dict, s: FusionSettings) -> np.ndarray:
        """The weighted sum of the sources and the category scaling, over whatever columns `parts` hold
        (every item, or a pool of candidates when tuning)."""
        return self.categorised(self.summed(parts, s), parts, s)

    def summed(self, parts: dict, s: FusionSettings) -> np.ndarray:
        """The weighted sum, leaning on content for rarely rated query rows; tuning shares it among
        weightings that differ only in the category weight."""
        total = parts[f"base:{self.base_name(s)}"].copy()
        weights = 1.0
        for key, knob, _ in WEIGHTED_SOURCES:
            weight = getattr(s, knob)
            if weight and key in parts:
                total += weight * parts[key]
                weights += weight
        total /= weights
        if s.evidence_shrinkage and "evidence" in parts:  # e * total + (1 - e) * content, in place
            total -= parts["content"]
            total *= parts["evidence"]
            total += parts["content"]
        return total

    @staticmethod
    def categorised(total: np.ndarray, parts: dict, s: FusionSettings) -> np.ndarray:
        """`total` scaled down where no category is shared; a new array, so a shared sum stays as it was."""
        if s.category_weight and "category" in parts:
            return total * (1.0 - s.category_weight + s.category_weight * parts["category"])
        return total

    def damping(self, s: FusionSettings) -> np.ndarray:
        """Per item, the popularity damping factor of settings `s`."""
        return self._damping if s == self.settings else (1.0 + self._counts) ** -s.popularity_exponent

    def scores(self, rows: np.ndarray, parts: dict | None = None, settings: FusionSettings | None = None):
        """The ranking score: damped fused similarity, series companions lifted above everything."""
        rows = np.asarray(rows)
        s = settings or self.settings
        ranked = self.similarity(rows, parts, s)
        if s.popularity_exponent:
            ranked *= self.damping(s)[None, :]
        if self.companions is not None:
            for out, row in enumerate(rows.tolist()):
                if self.companions[row]:
                    ranked[out, self.companions[row]] += SERIES_BONUS
        return ranked


def category_matrix(categories: pd.Series) -> sparse.csr_matrix:
    """Item-by-category indicator rows from 'A|B' strings."""
    lists = [[c for c in str(v).split("|") if c] if isinstance(v, str) else [] for v in categories]
    names = {c: i for i, c in enumerate(sorted({c for cats in lists for c in cats}))}
    rows = np.repeat(np.arange(len(lists)), [len(cats) for cats in lists])
    cols = np.array([names[c] for cats in lists for c in cats], dtype=np.int64)
    shape = (len(lists), max(len(names), 1))
    return sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=shape)


def category_overlap(categories: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """1 where two items share a category (or either has none), else 0, query rows against all.
    Sharing any category, not how many, is what keeps a neighbour recognisably alike; a Jaccard
    scaling also reordered neighbours that already share one and cost HitRate on validation."""
    if categories.shape[1] <= DENSE_CATEGORIES:  # a dense product is many times faster for a few genres
        dense = categories.toarray()
        shared = dense[rows] @ dense.T > 0
    else:
        shared = np.asarray((categories[rows] @ categories.T).toarray()) > 0
    empty = np.asarray(categories.sum(axis=1)).ravel() == 0
    return (shared | empty[rows][:, None] | empty[None, :]).astype(np.float32)


def fused_table(model: FusedModel, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Top `width` neighbours of every row by the fused model, scored for display in [0, 1].

    Display scores are the fused similarity rescaled per row by the damping of the first
    non-companion neighbour, so the order shown is the order ranked."""
    n = model.n_items
    width = min(width, n - 1)
    ids = np.empty((n, width), dtype=np.int32)
    shown = np.empty((n, width), dtype=np.float32)
    step = max(1, min(1024, BLOCK_CELLS // max(n, 1)))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        ranked = model.scores(rows)
        ranked[np.arange(len(rows)), rows] = -np.inf
        top = best_columns(ranked, width)
        ids[rows] = top
        shown[rows] = _display(np.take_along_axis(ranked, top, axis=1))
    return ids, shown


def _display(ranked: np.ndarray) -> np.ndarray:
    """Ranking scores mapped into [0, 1] in the same order: companions near 1, the rest scaled so the
    best non-companion shows its own fused similarity when undamped."""
    bonus = ranked >= SERIES_BONUS
    plain = np.where(bonus, ranked - SERIES_BONUS, ranked)
    scale = np.maximum(np.max(np.where(bonus, 0.0, plain), axis=1, keepdims=True), 1e-12)
    rest = np.clip(plain / scale, 0.0, 1.0) * 0.9
    return np.where(bonus, 0.9 + 0.1 * np.clip(plain, 0.0, 1.0), rest).astype(np.float32)
