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
from annoy import AnnoyIndex
from scipy import sparse

from recommender.catalog import Catalog
from recommender.evaluation import evaluate, positives
from recommender.index_store import write_manifest
from recommender.vectors import BlendSettings, build_item_vectors, content_vectors

FORMAT_VERSION = 1
INDEX_FILE = "index.ann"
ITEMS_FILE = "items.parquet"
NEIGHBOURS_FILE = "neighbours.npy"
SCORES_FILE = "scores.npy"
LIKES_FILE = "likes.npz"
NEIGHBOURS_KEPT = 100
EXACT_NEIGHBOURS_MAX_ITEMS = 30_000
RECALL_SAMPLE = 500
RECALL_FLOOR = 0.98
SEARCH_K_MULTIPLES = (1, 2, 4, 8, 16, 32, 64)
METRIC = "angular"

Progress = Callable[[str, int], None]


class BuildError(RuntimeError):
    """A build that must not be published, with a reason a person can act on."""


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


def default_trees(n_items: int) -> int:
    return int(min(100, max(10, 2 * np.sqrt(n_items) / 3)))


def angular_to_cosine(distance):
    return 1.0 - np.square(distance) / 2.0


def exact_top(vectors: np.ndarray, rows: np.ndarray, k: int, block: int = 1024):
    """Exact k nearest (by cosine) for the given rows, excluding each row itself."""
    k = min(k, len(vectors) - 1)
    ids = np.empty((len(rows), k), dtype=np.int32)
    scores = np.empty((len(rows), k), dtype=np.float32)
    for start in range(0, len(rows), block):
        chunk = rows[start:start + block]
        sims = vectors[chunk] @ vectors.T
        sims[np.arange(len(chunk)), chunk] = -np.inf
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(
            np.arange(sims.shape[1]), (len(chunk), 1))[:, :k]
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        ids[start:start + len(chunk)] = np.take_along_axis(part, order, axis=1)
        scores[start:start + len(chunk)] = np.take_along_axis(part_scores, order, axis=1)
    return ids, scores


def annoy_top(index: AnnoyIndex, n_items: int, rows, k: int, search_k: int):
    k = min(k, n_items - 1)
    ids = np.empty((len(rows), k), dtype=np.int32)
    scores = np.empty((len(rows), k), dtype=np.float32)
    for out, row in enumerate(rows):
        found, distances = index.get_nns_by_item(int(row), k + 1, search_k=search_k, include_distances=True)
        pairs = [(f, d) for f, d in zip(found, distances) if f != row][:k]
        pairs += [(-1, 2.0)] * (k - len(pairs))
        ids[out] = [p[0] for p in pairs]
        scores[out] = angular_to_cosine(np.array([p[1] for p in pairs]))
    return ids, scores


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth))
    return hits / max(1, truth.size)


def tune_annoy(vectors: np.ndarray, sample: np.ndarray, truth: np.ndarray, floor: float,
               n_trees: int | None = None):
    """The cheapest (n_trees, search_k) whose recall@10 on the sample reaches the floor.

    Query cost grows with search_k (nodes inspected), so for each forest size on a short ladder
    the least search_k meeting the floor is found, and the smallest search_k overall wins; the
    ladder stops once a bigger forest no longer lowers it. Returns (index, trees, search_k, recall, trials).
    """
    n_items, dims = vectors.shape
    k = truth.shape[1]
    ladder = [n_trees] if n_trees else [default_trees(n_items) * m for m in (1, 2, 4)]
    best, trials = None, []
    for trees in ladder:
        index = AnnoyIndex(dims, METRIC)
        for row, vector in enumerate(vectors):
            index.add_item(row, vector)
        index.build(trees, n_jobs=-1)
        found_for_trees = None
        for multiple in SEARCH_K_MULTIPLES:
            search_k = trees * (k + 1) * multiple
            found, _ = annoy_top(index, n_items, sample, k, search_k)
            recall = recall_at(found, truth)
            trials.append({"trees": trees, "search_k": search_k, "recall_at_10": round(recall, 4)})
            if recall >= floor:
                found_for_trees = (index, trees, search_k, recall)
                break
        if found_for_trees is None:
            index.unload()
            continue
        if best is not None and found_for_trees[2] >= best[2]:
            index.unload()
            break
        if best is not None:
            best[0].unload()
        best = found_for_trees
    if best is None:
        top = max(trials, key=lambda t: t["recall_at_10"])
        raise BuildError(f"ANN recall@10 reached only {top['recall_at_10']:.3f} (floor {floor}) with up to "
                         f"{ladder[-1]} trees: the vectors may be degenerate (many identical items)")
    return (*best, trials)


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
    rng = np.random.default_rng(settings.seed)
    sample = rng.choice(n_items, size=min(RECALL_SAMPLE, n_items), replace=False)
    truth, _ = exact_top(vectors.vectors, sample, min(10, n_items - 1))
    index, n_trees, search_k, recall, trials = tune_annoy(vectors.vectors, sample, truth, recall_floor, n_trees)
    index.save(str(out_dir / INDEX_FILE))

    progress("neighbours", 70)
    k = min(NEIGHBOURS_KEPT, n_items - 1)
    all_rows = np.arange(n_items)
    if n_items <= EXACT_NEIGHBOURS_MAX_ITEMS:
        neighbour_ids, neighbour_scores = exact_top(vectors.vectors, all_rows, k)
    else:
        neighbour_ids, neighbour_scores = annoy_top(index, n_items, all_rows, k, search_k)
    np.save(out_dir / NEIGHBOURS_FILE, neighbour_ids)
    np.save(out_dir / SCORES_FILE, neighbour_scores)
    index.unload()
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
        "trees": n_trees,
        "search_k": search_k,
        "metric": METRIC,
        "neighbours_kept": k,
        "recall_at_10": round(recall, 4),
        "recall_sample": int(len(sample)),
        "recall_floor": recall_floor,
        "tuning": trials,
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
