"""The served neighbour table: from the exact fused item-item model where the catalog allows, else
the Annoy/inverted-file table over blended vectors; either way series companions lead.

The fused model scores every item against every item in blocks, so it is limited to
FUSED_TABLE_MAX_ITEMS items; above that, or without interactions, the vector table stands and only
the series companions are moved to the front.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recommender.layout import NEIGHBOURS_FILE, SCORES_FILE
from recommender.neighbours.lookup import table_width
from recommender.similarity.fusion import FusedModel, FusionSettings, category_matrix, fused_table
from recommender.similarity.itemitem import SequenceKnn, ease_fits, rated_matrix, sequence_matrix
from recommender.similarity.series import companions_of, put_companions_first, series_hit_rate

FUSED_TABLE_MAX_ITEMS = 30_000
DEFAULT_EASE_LAMBDA = 1000.0


def default_fusion(n_items: int, n_users: int) -> FusionSettings:
    """The fusion used when no evaluation chose one: EASE where it fits, BM25 item-kNN beyond."""
    lam = DEFAULT_EASE_LAMBDA if ease_fits(n_items, n_users) is None else None
    return FusionSettings(ease_lambda=lam)


def exact_model_table(items: pd.DataFrame, interactions: pd.DataFrame | None, content: np.ndarray,
                      fusion: FusionSettings, pairs: np.ndarray,
                      vectors: np.ndarray | None = None) -> tuple[tuple | None, dict]:
    """((ids, scores, method), summary) from the fused model, or (None, summary saying why not)."""
    n_items = len(items)
    if interactions is None or interactions.empty:
        return None, {"method": "vectors", "reason": "no interactions: content neighbours only"}
    if n_items > FUSED_TABLE_MAX_ITEMS:
        return None, {"method": "vectors", "reason": f"exact item-item models skipped: {n_items} items "
                                                     f"(limit {FUSED_TABLE_MAX_ITEMS})"}
    rated = rated_matrix(items, interactions)
    model = FusedModel(rated, content, fusion, companions_of(pairs, n_items),
                       categories=category_matrix(items["categories"]), vectors=vectors,
                       sequence=SequenceKnn(sequence_matrix(items, interactions)) if fusion.sequence_weight else None)
    ids, scores = fused_table(model, table_width(n_items))
    method = "fused EASE" if model.base_name(fusion) == "EASE" else "fused BM25 item-kNN"
    return (ids, scores, method), {"method": method, "fusion": fusion.as_dict(),
                                   "ease": ease_fits(*rated.shape)}


def lead_with_companions(out_dir: Path, vectors: np.ndarray, pairs: np.ndarray) -> None:
    """Rewrite the vector table written by the neighbour search so series companions come first."""
    if not len(pairs):
        return
    ids = np.load(out_dir / NEIGHBOURS_FILE)
    scores = np.load(out_dir / SCORES_FILE)
    companions = companions_of(pairs, len(vectors))
    ids, scores = put_companions_first(ids, scores, companions,
                                       lambda row, mates: np.clip(vectors[mates] @ vectors[row], -1.0, 1.0))
    np.save(out_dir / NEIGHBOURS_FILE, ids)
    np.save(out_dir / SCORES_FILE, scores)


def series_summary(out_dir: Path, pairs: np.ndarray, k: int = 10) -> dict:
    """How many title-pattern series pairs the catalog holds and the share found in each other's top k."""
    ids = np.load(out_dir / NEIGHBOURS_FILE, mmap_mode="r")
    rate = series_hit_rate(np.asarray(ids[:, :k]), pairs, k)
    return {"pairs": int(len(pairs)), "hit_rate_at_10": None if rate is None else round(rate, 4)}
