"""Choosing the BM25 item-kNN peer's K1 and B on the validation split, so the peer the served model is
compared with (and the BM25 base the fusion may use) is the standard one at its best, not at defaults."""

from __future__ import annotations

from recommender.evaluation.evaluator import Evaluator
from recommender.evaluation.protocol import Split, seen_matrix
from recommender.similarity.itemitem import BM25_K1, SparseKnn, rated_matrix

BM25_B_GRID = (0.25, 0.5, 0.75, 1.0)
BM25_K1_GRID = (0.6, 1.2, 3.0, 100.0)


def choose_bm25(evaluator: Evaluator, split: Split) -> tuple[tuple[float, float], dict]:
    """((K1, B) by validation HitRate, then NDCG; {"K1/B": validation metrics} for every pair tried).
    A coordinate search, B at implicit's default K1 then K1 at that B (7 pairs, not 16: on the demo the
    whole grid took 4.4 s of a 20 s evaluation and chose as well)."""
    rated = rated_matrix(evaluator.items, split.train)
    seen = seen_matrix(split.train, evaluator.positions, split.users)
    scored: dict[tuple[float, float], dict] = {}

    def best_of(pairs: list[tuple[float, float]]) -> tuple[float, float]:
        for k1, b in pairs:
            if (k1, b) not in scored:
                scored[(k1, b)] = evaluator.score(SparseKnn(rated, "bm25", k1, b), split, seen)[0]
        return max(pairs, key=lambda pair: (scored[pair]["hit_rate"], scored[pair]["ndcg"]))
    _, b = best_of([(BM25_K1, b) for b in BM25_B_GRID])
    best = best_of([(k1, b) for k1 in BM25_K1_GRID])
    return best, {f"{k1:g}/{b:g}": metrics for (k1, b), metrics in scored.items()}
