"""Choosing the served fusion on the validation split: EASE's lambda, then the fusion grid scored on one
candidate pool, under coverage and category floors raised by a margin."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from recommender.evaluation.candidate_pool import CandidatePool, candidate_pool
from recommender.evaluation.evaluator import SERVED, Evaluator
from recommender.evaluation.peer_tuning import choose_bm25
from recommender.evaluation.protocol import TIE_BREAK, K, Split, metrics_of, rank_metrics, seen_matrix, top_k
from recommender.similarity.fusion import EVIDENCE_SHRINKAGE, FusedModel, FusionSettings
from recommender.similarity.itemitem import EASE_LAMBDAS, Ease, ease_fits, rated_matrix
from recommender.topk import tie_broken

# The second neighbour source: none, binary-cosine item-kNN or random-walk item-kNN (knn, walk weights).
NEIGHBOUR_SOURCES = ((0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 1.0))
FUSION_GRID = tuple(FusionSettings(None, knn, content, 0.0, category, "EASE", 0.0, sequence, evidence, walk)
                    for knn, walk in NEIGHBOUR_SOURCES for sequence in (0.0, 0.5, 1.0) for content in (0.01, 0.05)
                    for category in (0.0, 0.1, 0.2) for evidence in (0.0, EVIDENCE_SHRINKAGE))
COVERAGE_TARGET = 0.25
CATEGORY_SHARE_TARGET = 0.93
CATEGORY_SHARE_ITEMS = 100
RARE_MAX_RATERS = 3  # the category floor also holds for a sample of items with 1 to 3 raters
RARE_SEED = 20261130
# Tuning sees one validation split, so its floors are raised: coverage by 0.01, the category share by
# 0.02 (two standard errors of a share near 0.93 over CATEGORY_SHARE_ITEMS x K = 1,000 neighbours).
FLOOR_MARGINS = (0.01, 0.02)


def choose_fusion(scored: list[tuple[FusionSettings, dict]],
                  margins: tuple[float, float] = (0.0, 0.0)) -> tuple[FusionSettings, dict]:
    """The best validation HitRate (then NDCG) among fusions that meet both floors on validation:
    coverage >= COVERAGE_TARGET, and the neighbours of the CATEGORY_SHARE_ITEMS most-rated items, and of
    as many rarely rated ones (1 to RARE_MAX_RATERS raters), share a category with them
    >= CATEGORY_SHARE_TARGET of the time, the floors raised by `margins`. If none
    meets both, among those that reach the coverage floor; if none does, among all. The grid holds the
    base model with only a trace of content (0.01, which breaks its ties among unrated items), so that
    wins where nothing else added helps and the floors allow it.

    Candidates are tried best first and each floor is read only when the one before it holds, so metrics
    that compute themselves when read (PooledMetrics) are computed for a few candidates, not the grid."""
    ranked = sorted(scored, key=lambda pair: (pair[1]["hit_rate"], pair[1]["ndcg"]), reverse=True)
    floor = CATEGORY_SHARE_TARGET + margins[1]

    def wide(m: dict) -> bool:
        return m["coverage"] >= COVERAGE_TARGET + margins[0]

    def alike(m: dict) -> bool:
        return m.get("category_share", 1.0) >= floor and m.get("rare_category_share", 1.0) >= floor
    for meets in (lambda m: alike(m) and wide(m), wide):
        found = next((pair for pair in ranked if meets(pair[1])), None)
        if found is not None:
            return found
    return ranked[0]


def category_share(categories: sparse.csr_matrix, query_rows: np.ndarray, recommended: np.ndarray) -> float:
    """Share of recommended items sharing at least one category with their query item."""
    query = categories[np.repeat(query_rows, recommended.shape[1])]
    shared = np.asarray(query.multiply(categories[recommended.ravel()]).sum(axis=1)).ravel() > 0
    return round(float(shared.mean()), 4)


def _choose_lambda(evaluator: Evaluator, split: Split) -> tuple[float | None, dict, Ease | None]:
    """EASE's lambda by validation HitRate (then NDCG), with the chosen model (reused by the grid), or
    None where EASE does not fit."""
    rated = rated_matrix(evaluator.items, split.train)
    if ease_fits(*rated.shape) is not None:
        return None, {}, None
    seen = seen_matrix(split.train, evaluator.positions, split.users)
    models = {lam: Ease(rated, lam) for lam in EASE_LAMBDAS}
    lambdas = {lam: evaluator.score(model, split, seen)[0] for lam, model in models.items()}
    best = max(lambdas, key=lambda c: (lambdas[c]["hit_rate"], lambdas[c]["ndcg"]))
    return best, lambdas, models[best]


def _by_sum(grid: list[FusionSettings]) -> dict[FusionSettings, list[int]]:
    """Grid positions grouped by their weighted sum (every knob but the category weight)."""
    groups: dict[FusionSettings, list[int]] = {}
    for i, candidate in enumerate(grid):
        groups.setdefault(replace(candidate, category_weight=0.0), []).append(i)
    return groups


def _score_grid(evaluator: Evaluator, split: Split, grid: list[FusionSettings], ease: Ease | None) -> list:
    """Every fusion of the grid on the validation split, as PooledMetrics: HitRate and NDCG at once,
    coverage and the category shares of the most-rated and rarely rated items' neighbours when read.
    Each source is scored once, each weighted sum computed once for the category weights tried on it,
    and each weighting ranks only a pool of candidates (recommender/evaluation/candidate_pool.py)."""
    rated = rated_matrix(evaluator.items, split.train)
    seen = seen_matrix(split.train, evaluator.positions, split.users)
    model = evaluator.models(split.train, ("item-kNN BM25", "item-kNN cosine", SERVED), reuse={"EASE": ease})[SERVED]
    query_rows = evaluator.positions.get_indexer(split.queries)
    target_rows = evaluator.positions.get_indexer(split.targets)
    every_source = FusionSettings(ease.lam if ease else None, 1.0, 1.0, 0.0, 1.0, "EASE", 0.0, 1.0, walk_weight=1.0)
    bases = ["EASE", "BM25"] if ease else ["BM25"]
    pool = candidate_pool(model, model.parts(query_rows, every_source, bases=bases), query_rows, seen)
    checked = {name: candidate_pool(model, model.parts(rows, every_source, bases=bases), rows, None)
               for name, rows in category_checked_rows(rated).items()}
    target_at = _pool_positions(pool.columns, target_rows)
    scored: list = [None] * len(grid)
    for weighting, positions in _by_sum(grid).items():
        summed = model.summed(pool.parts, weighting)
        for i in positions:
            ranks = _target_ranks(pool.scores(model, grid[i], summed), target_at)
            scored[i] = PooledMetrics(rank_metrics(ranks), Pooled(evaluator, model, grid[i], pool, checked,
                                                                   target_rows))
    return scored


def _pool_positions(columns: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each row's position of its target among its pooled columns, or -1 where it is not pooled."""
    found = columns == targets[:, None]
    return np.where(found.any(axis=1), found.argmax(axis=1), -1)


def _target_ranks(scores: np.ndarray, target_at: np.ndarray) -> np.ndarray:
    """Each row's rank of its target as top_k orders the columns (K where it is not pooled): the count of
    columns scoring above it with the same tie-break. Counting is many times cheaper than ranking."""
    broken = tie_broken(scores, TIE_BREAK)
    rows = np.flatnonzero(target_at >= 0)
    ranks = np.full(len(scores), K)
    target = broken[rows, target_at[rows]]
    ranks[rows] = np.minimum((broken[rows] > target[:, None]).sum(axis=1), K)
    return ranks


@dataclass
class Pooled:
    """What PooledMetrics needs to rank one fusion's top K over the pools when a floor is read."""

    evaluator: Evaluator
    model: FusedModel
    settings: FusionSettings
    pool: CandidatePool
    checked: dict[str, CandidatePool]
    target_rows: np.ndarray

    def top(self, pool: CandidatePool) -> np.ndarray:
        return _pooled_top(pool, self.model, self.settings, self.model.summed(pool.parts, self.settings))


class PooledMetrics(dict):
    """A fusion's validation metrics: HitRate and NDCG from the start; coverage (with HitRate and NDCG
    from the same top K) and the category shares are computed on first reading."""

    def __init__(self, ranked: dict, pooled: Pooled):
        super().__init__(ranked)
        self.pooled = pooled

    def __missing__(self, key: str):
        p = self.pooled
        if key in p.checked:
            self[key] = category_share(p.evaluator.categories, p.checked[key].rows, p.top(p.checked[key]))
        elif key == "coverage":
            self.update(metrics_of(p.top(p.pool), p.target_rows, len(p.evaluator.items)))
        else:
            raise KeyError(key)
        return self[key]

    def get(self, key: str, default=None):
        return self[key] if key in self or key == "coverage" or key in self.pooled.checked else default

    def complete(self) -> dict:
        """Every metric, as a plain dict (for the manifest)."""
        return {**{key: self[key] for key in ("coverage", *self.pooled.checked)}, **self}


def category_checked_rows(rated: sparse.csr_matrix) -> dict[str, np.ndarray]:
    """The rows whose neighbours must share a category: the CATEGORY_SHARE_ITEMS most-rated items, and a
    seeded sample of as many with 1 to RARE_MAX_RATERS raters (where collaborative rows are noise)."""
    raters = np.asarray((rated > 0).sum(axis=1)).ravel()
    rare = np.flatnonzero((raters >= 1) & (raters <= RARE_MAX_RATERS))
    rare = np.random.default_rng(RARE_SEED).permutation(rare)[:CATEGORY_SHARE_ITEMS]
    found = {"category_share": np.argsort(-raters, kind="stable")[:CATEGORY_SHARE_ITEMS]}
    return found | ({"rare_category_share": np.sort(rare)} if len(rare) else {})


def _pooled_top(pool: CandidatePool, model: FusedModel, candidate: FusionSettings, summed: np.ndarray) -> np.ndarray:
    return np.take_along_axis(pool.columns, top_k(pool.scores(model, candidate, summed)), axis=1)


def tune_served(evaluator: Evaluator, split: Split) -> tuple[FusionSettings, dict]:
    """On the validation split only: EASE's lambda (where EASE fits) and BM25's K1 and B, then the fusion weights over
    either base (on InstEval the BM25 base wins although EASE fits), floors raised by FLOOR_MARGINS so
    the choice still meets them on other users."""
    lam, lambdas, ease = _choose_lambda(evaluator, split)
    (k1, b), bm25 = choose_bm25(evaluator, split)
    evaluator.fusion = replace(evaluator.fusion, ease_lambda=lam, bm25_k1=k1, bm25_b=b)
    grid = [replace(c, ease_lambda=lam, base=base, bm25_k1=k1, bm25_b=b)
            for base in (("EASE", "BM25") if lam else ("BM25",)) for c in FUSION_GRID]
    scored = list(zip(grid, _score_grid(evaluator, split, grid, ease)))
    chosen, metrics = choose_fusion(scored, FLOOR_MARGINS)
    return chosen, {"served": metrics.complete(), "floor_margins": list(FLOOR_MARGINS),
                    "ease_lambdas": {str(k): v for k, v in lambdas.items()}, "bm25_k1_b": bm25}
