"""Building one index version into a directory: vectors, Annoy index, neighbour table, manifest.

The web tier answers the common question (the k nearest items to an item) from a precomputed
neighbour table read through a memory map, as Gorse does; the Annoy index serves wider searches.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.ann import (
    INDEX_FILE,
    METRIC,
    NEIGHBOURS_FILE,
    RECALL_FLOOR,
    RECALL_SAMPLE,
    SCORES_FILE,
    BuildError,
    annoy_top,
    build_neighbour_search,
    exact_top,
    recall_at,
    tune_annoy,
)
from recommender.catalog import Catalog
from recommender.evaluation import evaluate, positives
from recommender.index_store import write_manifest
from recommender.vectors import BlendSettings, build_item_vectors, content_vectors

# Re-exported: callers that build indexes need these names from one place.
__all__ = ["BuildError", "build_index", "liked_matrix", "RECALL_FLOOR", "RECALL_SAMPLE", "annoy_top", "exact_top",
           "recall_at", "tune_annoy"]

FORMAT_VERSION = 1
ITEMS_FILE = "items.parquet"
LIKES_FILE = "likes.npz"

Progress = Callable[[str, int], None]


def _no_progress(stage: str, percent: int) -> None:
    return None


def liked_matrix(items, interactions) -> sparse.csr_matrix:
    """Item-by-user matrix of positive interactions, kept so explanations can say how many people
    liked both items."""
    if interactions is None or interactions.empty:
        return sparse.csr_matrix((len(items), 0), dtype=np.int8)
    liked = interactions[positives(interactions)]
    rows = pd.Index(items["item_id"]).get_indexer(liked["item_id"])
    users, cols = np.unique(liked["user_id"].to_numpy(), return_inverse=True)
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(items), len(users)))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    matrix.sort_indices()
    return matrix


def build_index(catalog: Catalog, out_dir: str | Path, settings: BlendSettings = BlendSettings(),
                progress: Progress = _no_progress, n_trees: int | None = None,
                recall_floor: float = RECALL_FLOOR, evaluate_quality: bool = True) -> dict:
    """Write a complete, checked index version into out_dir and return its manifest."""
    out_dir = Path(out_dir)
    started = time.perf_counter()
    items = catalog.items.reset_index(drop=True)
    n_items = len(items)
    if n_items < 2:
        raise BuildError(f"the catalog has {n_items} item(s); at least 2 are needed to find similar items")

    progress("vectors", 5)
    content = content_vectors(items, settings)
    evaluation = None
    if catalog.interactions is not None and not catalog.interactions.empty and evaluate_quality:
        progress("evaluating", 10)
        evaluation = evaluate(items, catalog.interactions, settings, content=content)
        if "chosen" in evaluation:
            settings = replace(settings, **evaluation["chosen"])
    progress("vectors", 30)
    vectors = build_item_vectors(items, catalog.interactions, settings, content=content)

    progress("index", 40)
    ann = build_neighbour_search(vectors.vectors, out_dir, recall_floor, n_trees, settings.seed, progress)
    sparse.save_npz(out_dir / LIKES_FILE, liked_matrix(items, catalog.interactions), compressed=False)

    progress("save", 90)
    table = items.copy()
    table["interaction_count"] = vectors.interaction_counts.astype(np.int64)
    table["collaborative_share"] = vectors.collaborative_share
    table.to_parquet(out_dir / ITEMS_FILE, index=False)

    manifest = {
        "format": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "item_count": n_items,
        "interaction_count": 0 if catalog.interactions is None else int(len(catalog.interactions)),
        "dimensions": vectors.dims,
        "metric": METRIC,
        **asdict(ann),
        "evaluation": evaluation,
        "source_hash": catalog.source_hash,
        "settings": asdict(settings),
        "files": {name: (out_dir / name).stat().st_size
                  for name in (INDEX_FILE, ITEMS_FILE, NEIGHBOURS_FILE, SCORES_FILE, LIKES_FILE)},
        "notes": list(catalog.notes),
    }
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)
    write_manifest(out_dir, manifest)
    progress("built", 95)
    return manifest
