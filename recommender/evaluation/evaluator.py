"""The methods compared and the Evaluator that trains and scores each of them on one split, keeping
each user's hits for the served method's paired differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.evaluation.protocol import (
    K,
    PopularityModel,
    RandomModel,
    Split,
    bootstrap_interval,
    masked_top,
    metrics_of,
    per_user,
    rank_by_vectors,
    seen_matrix,
)
from recommender.similarity.fusion import FusedModel, FusionSettings, category_matrix
from recommender.similarity.itemitem import (
    EASE_LAMBDAS,
    Ease,
    ItemModel,
    SequenceKnn,
    SparseKnn,
    VectorModel,
    ease_fits,
    rated_matrix,
    sequence_matrix,
)
from recommender.similarity.series import companions_of, series_hit_rate
from recommender.similarity.vectors import BlendSettings, blend, collaborative_vectors, interaction_matrix

SERVED = "served"
PEERS = ("EASE", "item-kNN BM25", "item-kNN cosine", "blend", "most-popular", "content-only")
METHODS = ("random", "most-popular", "content-only", "collaborative-only", "blend", "EASE", "item-kNN BM25",
           "item-kNN cosine", SERVED)
SERIES_CHECKED = (*PEERS, SERVED)


@dataclass
class Evaluator:
    """Scores every method on one split; content vectors are shared, the rest is trained on split.train.

    After `run`, `hits` holds each method's per-user hits, for paired intervals."""

    items: pd.DataFrame
    content: np.ndarray
    settings: BlendSettings
    fusion: FusionSettings = FusionSettings()
    pairs: np.ndarray | None = None

    def __post_init__(self):
        self.positions = pd.Index(self.items["item_id"])
        self.hits: dict[str, np.ndarray] = {}
        self.bases: dict[str, ItemModel] = {}  # the peers the last `run` trained, reused by `against_fusion`
        self.companions = companions_of(self.pairs, len(self.items)) if self.pairs is not None else None
        self.categories = category_matrix(self.items["categories"])

    def models(self, train: pd.DataFrame, methods, seed: int = 0, reuse: dict | None = None) -> dict:
        """Each method trained on `train` (str: why it cannot be built); `reuse` holds models already
        trained on it, which the served fusion takes instead of building them again."""
        n = len(self.items)
        matrix = interaction_matrix(self.items, train)
        counts = np.asarray(matrix.getnnz(axis=1)).ravel().astype(np.float32)
        rated = rated_matrix(self.items, train)
        built: dict[str, ItemModel | str] = {k: v for k, v in (reuse or {}).items() if v is not None}
        needs_collaborative = {"collaborative-only", "blend"} & set(methods) or \
            (SERVED in methods and self.fusion.vectors_weight)
        collaborative = collaborative_vectors(matrix, self.settings) if needs_collaborative else None
        blended = blend(self.content, collaborative, counts, self.settings)[0] if needs_collaborative else None
        sequence = SequenceKnn(sequence_matrix(self.items, train)) if SERVED in methods else None
        too_big = ease_fits(*rated.shape)
        lam = self.fusion.ease_lambda or EASE_LAMBDAS[0]
        makers = {
            "random": lambda: RandomModel(n, seed),
            "most-popular": lambda: PopularityModel(counts),
            "content-only": lambda: VectorModel(self.content, "content-only"),
            "collaborative-only": lambda: VectorModel(collaborative, "collaborative-only"),
            "blend": lambda: VectorModel(blended, "blend"),
            "EASE": lambda: too_big or Ease(rated, lam),
            "item-kNN BM25": lambda: SparseKnn(rated, "bm25", self.fusion.bm25_k1, self.fusion.bm25_b),
            "item-kNN cosine": lambda: SparseKnn(rated, "cosine"),
        }
        for method in methods:
            if method != SERVED:
                built[method] = makers[method]()
        if SERVED in methods:
            built[SERVED] = FusedModel(rated, self.content, self.fusion, self.companions,
                                       bases={"EASE": built.get("EASE"), "BM25": built.get("item-kNN BM25")},
                                       knn=built.get("item-kNN cosine"), categories=self.categories,
                                       vectors=blended, sequence=sequence)
        return built

    def score(self, model: ItemModel, split: Split, seen: sparse.csr_matrix) -> tuple[dict, np.ndarray]:
        query_rows = self.positions.get_indexer(split.queries)
        target_rows = self.positions.get_indexer(split.targets)
        recommended = masked_top(model.scores(query_rows), query_rows, seen)
        metrics = metrics_of(recommended, target_rows, len(self.items))
        return metrics, recommended

    def series_check(self, model: ItemModel) -> float | None:
        """Share of title-pattern series pairs found in each other's top K (no seen items to skip)."""
        if self.pairs is None or not len(self.pairs):
            return None
        rows = np.unique(self.pairs)
        table = np.full((len(self.items), K), -1, dtype=np.int64)
        table[rows] = masked_top(model.scores(rows), rows, None)
        return round(series_hit_rate(table, self.pairs, K), 4)

    def run(self, split: Split, methods=METHODS, grid: list[BlendSettings] | None = None, seed: int = 0) -> dict:
        seen = seen_matrix(split.train, self.positions, split.users)
        target_rows = self.positions.get_indexer(split.targets)
        table = {}
        built = self.models(split.train, methods, seed)
        self.bases = {name: model for name, model in built.items() if name != SERVED and not isinstance(model, str)}
        for method, model in built.items():
            if isinstance(model, str):
                table[method] = {"skipped": model, "users": len(split)}
                continue
            table[method], recommended = self.score(model, split, seen)
            hit, ndcg = per_user(recommended, target_rows)
            self.hits[method] = hit
            table[method]["hit_rate_ci"] = bootstrap_interval(hit)
            table[method]["series_hit_rate"] = self.series_check(model) if method in SERIES_CHECKED else None
        if grid:
            table["_grid"] = self._blend_grid(split, seen, grid)
        return table

    def _blend_grid(self, split: Split, seen, grid: list[BlendSettings]) -> list:
        matrix = interaction_matrix(self.items, split.train)
        counts = np.asarray(matrix.getnnz(axis=1)).ravel().astype(np.float32)
        collaborative = collaborative_vectors(matrix, self.settings)
        query_rows = self.positions.get_indexer(split.queries)
        target_rows = self.positions.get_indexer(split.targets)
        scored = []
        for candidate in grid:
            vectors, _ = blend(self.content, collaborative, counts, candidate)
            scored.append((candidate, metrics_of(rank_by_vectors(vectors, query_rows, seen), target_rows,
                                               len(self.items))))
        return scored

    def against_fusion(self, split: Split, fusion: FusionSettings) -> dict:
        """The served row minus another fusion (the one the version served now chose) trained on the same
        split's training rows and ranked for the same users: a paired HitRate difference with its 95% interval.
        Call after `run` on that split: the peers it trained are reused as the other fusion's sources."""
        chosen, self.fusion = self.fusion, fusion
        try:
            model = self.models(split.train, (SERVED,), reuse=self.bases)[SERVED]
        finally:
            self.fusion = chosen
        _, recommended = self.score(model, split, seen_matrix(split.train, self.positions, split.users))
        hits, _ = per_user(recommended, self.positions.get_indexer(split.targets))
        difference = self.hits[SERVED] - hits
        return {"hit_rate": round(float(hits.mean()), 4), "difference": round(float(difference.mean()), 4),
                "ci": bootstrap_interval(difference)}

    def paired_differences(self, served: str = SERVED) -> dict:
        """Served minus each peer in HitRate@K, with a paired bootstrap 95% interval."""
        mine = self.hits.get(served)
        if mine is None:
            return {}
        return {peer: {"difference": round(float((mine - self.hits[peer]).mean()), 4),
                       "ci": bootstrap_interval(mine - self.hits[peer])}
                for peer in PEERS if peer in self.hits}
