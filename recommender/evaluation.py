"""Offline evaluation of similar-items quality against baselines and well-known item-to-item peers,
by a leave-last-out protocol.

For each user, the last positive interaction (by time) is held out; the query is the user's
previous positive item; each method recommends 10 items similar to the query, skipping items the
user already interacted with. Models are trained without the held-out interactions. Knobs (the
blend weight, EASE's lambda, the served fusion's weights) are chosen on a validation split made the
same way from the earlier interactions, never on the test split. Every method gets a bootstrap 95%
interval for HitRate@10; the served method's difference against each peer gets a paired one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.candidate_pool import CandidatePool, candidate_pool
from recommender.fusion import (
    EVIDENCE_SHRINKAGE,
    WEIGHTED_SOURCES,
    FusedModel,
    FusionSettings,
    category_matrix,
)
from recommender.itemitem import (
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
from recommender.series import companions_of, series_hit_rate, series_pairs
from recommender.topk import tie_broken, top_columns
from recommender.vectors import (
    POSITIVE_RATING,
    BlendSettings,
    blend,
    collaborative_vectors,
    content_vectors,
    interaction_matrix,
)

K = 10
SERVED = "served"
PEERS = ("EASE", "item-kNN BM25", "item-kNN cosine", "blend", "most-popular", "content-only")
METHODS = ("random", "most-popular", "content-only", "collaborative-only", "blend", "EASE", "item-kNN BM25",
           "item-kNN cosine", SERVED)
WEIGHT_GRID = (0.0, 0.3, 0.5, 0.7, 0.9)
SHRINKAGE_GRID = (2.0, 10.0, 30.0)
# The second neighbour source: none, binary-cosine item-kNN or random-walk item-kNN (knn, walk weights).
NEIGHBOUR_SOURCES = ((0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 1.0))
FUSION_GRID = tuple(FusionSettings(None, knn, content, 0.0, category, "EASE", 0.0, sequence, evidence, walk)
                    for knn, walk in NEIGHBOUR_SOURCES for sequence in (0.0, 0.5, 1.0) for content in (0.01, 0.05)
                    for category in (0.0, 0.1, 0.2) for evidence in (0.0, EVIDENCE_SHRINKAGE))
SERIES_CHECKED = (*PEERS, SERVED)
MIN_USERS = 10
COVERAGE_TARGET = 0.25
CATEGORY_SHARE_TARGET = 0.93
CATEGORY_SHARE_ITEMS = 100
RARE_MAX_RATERS = 3  # the category floor also holds for a sample of items with 1 to 3 raters
RARE_SEED = 20261130
# Tuning sees one validation split, so its floors are raised: coverage by 0.01, the category share by
# 0.02 (two standard errors of a share near 0.93 over CATEGORY_SHARE_ITEMS x K = 1,000 neighbours).
FLOOR_MARGINS = (0.01, 0.02)
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


def _seen_matrix(train: pd.DataFrame, positions: pd.Index, users: np.ndarray) -> sparse.csr_matrix:
    """Per evaluated user, the items they interacted with in training (to skip when recommending)."""
    user_row = pd.Index(users).get_indexer(train["user_id"])
    keep = user_row >= 0
    cols = positions.get_indexer(train["item_id"][keep])
    return sparse.csr_matrix((np.ones(int(keep.sum())), (user_row[keep], cols)), shape=(len(users), len(positions)))


def _rank_by_vectors(vectors: np.ndarray, query_rows: np.ndarray, seen: sparse.csr_matrix) -> np.ndarray:
    return _masked_top(vectors[query_rows] @ vectors.T, query_rows, seen)


def _top(scores: np.ndarray) -> np.ndarray:
    """The K best columns per row, best first. A sub-resolution tie-break (earlier rows win) keeps
    argpartition fast on rows full of equal scores (zeros of sparse models); recommender/topk.py
    returns what argpartition would, faster."""
    return top_columns(scores, K, TIE_BREAK)


def _metrics(recommended: np.ndarray, target_rows: np.ndarray, n_items: int) -> dict:
    return {**_rank_metrics(_ranks_in(recommended, target_rows)),
            "coverage": round(len(np.unique(recommended)) / n_items, 4)}


def _ranks_in(recommended: np.ndarray, target_rows: np.ndarray) -> np.ndarray:
    """Each user's rank of their held-out item in their recommended top K (K where it is not there)."""
    hits = recommended == target_rows[:, None]
    return np.where(hits.any(axis=1), hits.argmax(axis=1), K)


def _per_rank(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hit (0/1) and NDCG of each user from the rank of their held-out item."""
    hit = ranks < K
    return hit.astype(np.float64), np.where(hit, 1.0 / np.log2(ranks + 2), 0.0)


def _rank_metrics(ranks: np.ndarray) -> dict:
    hit, ndcg = _per_rank(ranks)
    return {"hit_rate": round(float(hit.mean()), 4), "ndcg": round(float(ndcg.mean()), 4), "users": int(len(ranks))}


def _masked_top(scores: np.ndarray, query_rows: np.ndarray, seen: sparse.csr_matrix | None) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float32)
    scores[np.arange(len(query_rows)), query_rows] = -np.inf
    if seen is not None:
        scores[seen.nonzero()] = -np.inf
    return _top(scores)


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
            "item-kNN BM25": lambda: SparseKnn(rated, "bm25"),
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
        recommended = _masked_top(model.scores(query_rows), query_rows, seen)
        metrics = _metrics(recommended, target_rows, len(self.items))
        return metrics, recommended

    def series_check(self, model: ItemModel) -> float | None:
        """Share of title-pattern series pairs found in each other's top K (no seen items to skip)."""
        if self.pairs is None or not len(self.pairs):
            return None
        rows = np.unique(self.pairs)
        table = np.full((len(self.items), K), -1, dtype=np.int64)
        table[rows] = _masked_top(model.scores(rows), rows, None)
        return round(series_hit_rate(table, self.pairs, K), 4)

    def run(self, split: Split, methods=METHODS, grid: list[BlendSettings] | None = None, seed: int = 0) -> dict:
        seen = _seen_matrix(split.train, self.positions, split.users)
        target_rows = self.positions.get_indexer(split.targets)
        table = {}
        for method, model in self.models(split.train, methods, seed).items():
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
            scored.append((candidate, _metrics(_rank_by_vectors(vectors, query_rows, seen), target_rows,
                                               len(self.items))))
        return scored

    def paired_differences(self, served: str = SERVED) -> dict:
        """Served minus each peer in HitRate@K, with a paired bootstrap 95% interval."""
        mine = self.hits.get(served)
        if mine is None:
            return {}
        return {peer: {"difference": round(float((mine - self.hits[peer]).mean()), 4),
                       "ci": bootstrap_interval(mine - self.hits[peer])}
                for peer in PEERS if peer in self.hits}


def choose_blend(scored: list[tuple[BlendSettings, dict]], users: int) -> tuple[BlendSettings, dict]:
    """One-standard-error rule: of the blends whose validation HitRate is within one standard error
    of the best, the one that leans most on content. Where the data cannot tell blends apart, the
    neighbours that are recognisably alike (same franchise, genre, era) win."""
    best_rate = max(metrics["hit_rate"] for _, metrics in scored)
    standard_error = float(np.sqrt(best_rate * (1 - best_rate) / max(users, 1)))
    eligible = [(c, m) for c, m in scored if m["hit_rate"] >= best_rate - standard_error]
    return min(eligible, key=lambda pair: (pair[0].collaborative_weight, -pair[0].evidence_shrinkage))


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
    seen = _seen_matrix(split.train, evaluator.positions, split.users)
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
    and each weighting ranks only a pool of candidates (recommender/candidate_pool.py)."""
    rated = rated_matrix(evaluator.items, split.train)
    seen = _seen_matrix(split.train, evaluator.positions, split.users)
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
            scored[i] = PooledMetrics(_rank_metrics(ranks), Pooled(evaluator, model, grid[i], pool, checked,
                                                                   target_rows))
    return scored


def _pool_positions(columns: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each row's position of its target among its pooled columns, or -1 where it is not pooled."""
    found = columns == targets[:, None]
    return np.where(found.any(axis=1), found.argmax(axis=1), -1)


def _target_ranks(scores: np.ndarray, target_at: np.ndarray) -> np.ndarray:
    """Each row's rank of its target as _top orders the columns (K where it is not pooled): the count of
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
            self.update(_metrics(p.top(p.pool), p.target_rows, len(p.evaluator.items)))
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
    return np.take_along_axis(pool.columns, _top(pool.scores(model, candidate, summed)), axis=1)


def tune_served(evaluator: Evaluator, split: Split) -> tuple[FusionSettings, dict]:
    """On the validation split only: EASE's lambda (where EASE fits), then the fusion weights over
    either base (on InstEval the BM25 base wins although EASE fits), floors raised by FLOOR_MARGINS so
    the choice still meets them on other users."""
    lam, lambdas, ease = _choose_lambda(evaluator, split)
    evaluator.fusion = replace(evaluator.fusion, ease_lambda=lam)
    grid = [replace(c, ease_lambda=lam, base=base) for base in (("EASE", "BM25") if lam else ("BM25",))
            for c in FUSION_GRID]
    scored = list(zip(grid, _score_grid(evaluator, split, grid, ease)))
    chosen, metrics = choose_fusion(scored, FLOOR_MARGINS)
    return chosen, {"served": metrics.complete(), "floor_margins": list(FLOOR_MARGINS),
                    "ease_lambdas": {str(k): v for k, v in lambdas.items()}}


def evaluate(items: pd.DataFrame, interactions: pd.DataFrame, settings: BlendSettings = BlendSettings(),
             content: np.ndarray | None = None) -> dict:
    """Choose the blend and the served fusion on validation, then report every method on the test split.

    Returns {"chosen": {...blend knobs}, "fusion": {...}, "validation": {...}, "test": {method: metrics},
    "served": name of the served row, "series": {...}, ...}.
    """
    _, report = evaluate_in_two(items, interactions, settings, content)
    return report()


def evaluate_in_two(items: pd.DataFrame, interactions: pd.DataFrame, settings: BlendSettings = BlendSettings(),
                    content: np.ndarray | None = None) -> tuple[dict, Callable[[], dict]]:
    """(what the validation split chose: the report without its test split, a function that ranks every
    method on the test split and returns the whole report). A build needs only the choice to go on, so
    it ranks the test split while it builds the index (a third of the evaluation at demo size)."""
    started = time.perf_counter()
    items = items.reset_index(drop=True)
    content = content_vectors(items, settings) if content is None else content
    test_split = leave_last_out(interactions)
    validation_split = leave_last_out(test_split.train)
    skipped = None
    if len(items) <= 2 * K:
        skipped = {"skipped": f"the catalog has {len(items)} items; evaluation at k={K} needs more than {2 * K}"}
    elif len(test_split) < MIN_USERS or len(validation_split) < MIN_USERS:
        skipped = {"skipped": f"too few users with two liked items ({len(test_split)}); need at least {MIN_USERS}"}
    if skipped:
        return skipped, lambda: skipped
    pairs = series_pairs(items["title"].astype(str).tolist(), content)
    evaluator = Evaluator(items, content, settings, pairs=pairs)
    choice = _choose_on_validation(evaluator, validation_split, settings)
    choice["ease"] = {"lambda": evaluator.fusion.ease_lambda,
                      "skipped": ease_fits(len(items), interactions["user_id"].nunique())}
    choice["series"] = {"pairs": int(len(pairs)), "rule": "shared title stem with a sequel marker or subtitle, "
                        "or an uncommon two-word prefix, and close content"}
    choice["served_as"] = describe_fusion(choice["fusion"], len(pairs))
    choice["validation_seconds"] = round(time.perf_counter() - started, 2)

    def report() -> dict:
        test = evaluator.run(test_split)
        test[SERVED]["vs"] = evaluator.paired_differences()
        return {**choice, "test": test, "test_users": len(test_split),
                "seconds": round(time.perf_counter() - started, 2)}
    return choice, report


def _choose_on_validation(evaluator: Evaluator, split: Split, settings: BlendSettings) -> dict:
    """The blend (for the vectors Annoy searches) and the served fusion, chosen on the validation split;
    the evaluator is left set to both."""
    grid = [replace(settings, collaborative_weight=w, evidence_shrinkage=s)
            for w in WEIGHT_GRID for s in SHRINKAGE_GRID]
    validation = evaluator.run(split, methods=(), grid=grid)
    best, best_metrics = choose_blend(validation["_grid"], len(split))
    evaluator.settings = replace(settings, collaborative_weight=best.collaborative_weight,
                                 evidence_shrinkage=best.evidence_shrinkage)
    fusion, tuning = tune_served(evaluator, split)
    evaluator.fusion = fusion
    return {
        "protocol": "leave-last-positive-out by time; query = previous positive; k=10; seen items excluded",
        "k": K,
        "served": SERVED,
        "methods": list(METHODS),
        "peers": list(PEERS),
        "chosen": {"collaborative_weight": best.collaborative_weight, "evidence_shrinkage": best.evidence_shrinkage},
        "fusion": fusion.as_dict(),
        "validation": {"users": len(split), "blend": best_metrics,
                       "best_hit_rate": max(m["hit_rate"] for _, m in validation["_grid"]), **tuning},
    }


def _row(method: str, m: dict, k: int, served: str) -> str:
    if "skipped" in m:
        return f"| {method} | - | - | - | - | - | {m['skipped']} |"
    low, high = m.get("hit_rate_ci", [0.0, 0.0])
    series = "-" if m.get("series_hit_rate") is None else f"{m['series_hit_rate']:.3f}"
    return (f"| {method} | {m['hit_rate']:.4f} | {m['ndcg']:.4f} | {m['coverage']:.4f} | [{low:.3f}, {high:.3f}] "
            f"| {series} | {'served' if method == served else ''} |")


def describe_fusion(fusion: dict, pairs: int) -> str:
    """The served fusion in words, naming only the parts it uses (for the table, /admin and the API)."""
    base = f"EASE (lambda {fusion['ease_lambda']:g})" if fusion.get("ease_lambda") and fusion.get("base") == "EASE" \
        else "item-kNN BM25"
    parts = [base] + [f"{fusion[knob]:g} x {name}" for _, knob, name in WEIGHTED_SOURCES if fusion.get(knob)]
    text = " + ".join(parts)
    if fusion.get("category_weight"):
        text += f", scaled by {1 - fusion['category_weight']:g} where no category is shared"
    if fusion.get("popularity_exponent"):
        text += f", popularity damped by exponent {fusion['popularity_exponent']:g}"
    if fusion.get("evidence_shrinkage"):
        text += f", leaning on content for items with few raters (shrinkage {fusion['evidence_shrinkage']:g})"
    return text + f", series companions first ({pairs:,} title pairs)"


def format_table(report: dict) -> str:
    """The evaluation as a markdown table, as printed by `flask evaluate`: every method with its
    bootstrap interval and series check, then the served method's paired differences."""
    if "test" not in report:
        return f"evaluation skipped: {report.get('skipped', 'no interactions')}"
    k, served = report["k"], report.get("served", SERVED)
    lines = [f"| method | HitRate@{k} | NDCG@{k} | coverage@{k} | HitRate 95% CI | series@{k} | |",
             "|---|---:|---:|---:|---|---:|---|"]
    lines += [_row(method, report["test"][method], k, served) for method in report.get("methods", METHODS)]
    differences = report["test"].get(served, {}).get("vs", {})
    if differences:
        lines += ["", f"| {served} minus | HitRate@{k} difference | paired 95% CI |", "|---|---:|---|"]
        lines += [f"| {peer} | {d['difference']:+.4f} | [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] |"
                  for peer, d in differences.items()]
    chosen, fusion = report["chosen"], report.get("fusion", {})
    lines.append("")
    lines.append(f"{report['test_users']} test users; blend chosen on validation: collaborative weight "
                 f"{chosen['collaborative_weight']}, evidence shrinkage {chosen['evidence_shrinkage']}")
    if fusion:
        lines.append(f"served = {report.get('served_as') or describe_fusion(fusion, report['series']['pairs'])}; "
                     "chosen on validation")
    if report.get("ease", {}).get("skipped"):
        lines.append(report["ease"]["skipped"])
    return "\n".join(lines)
