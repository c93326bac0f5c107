"""Building one index version into a directory: vectors, Annoy index, neighbour table, manifest.

The web tier answers the common question (the k nearest items to an item) from a precomputed
neighbour table read through a memory map, as Gorse does. Where the catalog allows, that table comes
from an exact item-item model fused with content (recommender/similarity/fusion.py), series companions first;
the Annoy index over blended vectors answers filters, cold items and catalogs too large for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalog.load import Catalog
from recommender.evaluation.protocol import positives
from recommender.evaluation.run import evaluate_in_two
from recommender.index_store import write_manifest
from recommender.item_table import write_item_table
from recommender.layout import (
    FORMAT_VERSION,
    INDEX_FILE,
    ITEM_TABLE_FILES,
    LIKES_INDICES_FILE,
    LIKES_INDPTR_FILE,
    NEIGHBOURS_FILE,
    POPULAR_FILE,
    SCORES_FILE,
    SEARCH_DIR,
    WORD_WEIGHTS_DIR,
    BuildError,
    Progress,
    no_progress,
)
from recommender.neighbour_table import (
    FUSED_TABLE_MAX_ITEMS,
    default_fusion,
    exact_model_table,
    lead_with_companions,
    series_summary,
)
from recommender.neighbours.annoy_index import AnnSummary, build_neighbour_search, vectors_on_disk
from recommender.neighbours.disk_space import require_space_for_index
from recommender.neighbours.exact import RECALL_FLOOR
from recommender.neighbours.lookup import METRIC
from recommender.panels.bought_together import MANIFEST_KEY as BOUGHT_TOGETHER_KEY
from recommender.panels.co_purchases import baskets_of, write_bought_together
from recommender.search import TitleSearch
from recommender.similarity.explain import content_words
from recommender.similarity.fusion import FusionSettings
from recommender.similarity.itemitem import rated_matrix
from recommender.similarity.series import series_pairs
from recommender.similarity.vectors import BlendSettings, ItemVectors, build_item_vectors, content_vectors
from recommender.similarity.word_weights import WordWeights
from recommender.tuning import TUNING_KEY, Tuned, carried_evaluation, evaluated, refusal

POPULAR_KEPT = 200
MAX_CATEGORIES_LISTED = 1000

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


def all_categories(items: pd.DataFrame) -> list[str]:
    found = {c for value in items["categories"].fillna("") for c in str(value).split("|") if c}
    return sorted(found)[:MAX_CATEGORIES_LISTED]


def write_serving_files(out_dir: Path, items: pd.DataFrame, likes: sparse.csr_matrix) -> dict[str, int]:
    """Everything the web tier reads besides the neighbour search, in memory-mappable form:
    the item table, the search arrays, who liked what (for explanations) and the most popular rows.
    `items` carries interaction_count and collaborative_share. Returns file sizes for the manifest."""
    write_item_table(items, out_dir)
    counts = items["interaction_count"].to_numpy()
    sizes = TitleSearch(items["title"].astype(str).tolist(), counts).save(out_dir / SEARCH_DIR)
    descriptions = items["description"].fillna("").astype(str) if "description" in items else [""] * len(items)
    texts = (content_words(title, text) for title, text in zip(items["title"].astype(str), descriptions))
    sizes.update(WordWeights.from_texts(texts).save(out_dir / WORD_WEIGHTS_DIR))
    likes = likes.tocsr()
    np.save(out_dir / LIKES_INDPTR_FILE, likes.indptr.astype(np.int64))
    np.save(out_dir / LIKES_INDICES_FILE, likes.indices.astype(np.int32))
    popular = np.lexsort((items["title"].astype(str).to_numpy(), -counts))[:POPULAR_KEPT].astype(np.int32)
    np.save(out_dir / POPULAR_FILE, popular)
    names = (*ITEM_TABLE_FILES, LIKES_INDPTR_FILE, LIKES_INDICES_FILE, POPULAR_FILE)
    return {**{name: (out_dir / name).stat().st_size for name in names}, **sizes}


def checked_items(catalog: Catalog) -> pd.DataFrame:
    items = catalog.items.reset_index(drop=True)
    if len(items) < 2:
        raise BuildError(f"the catalog has {len(items)} item(s); at least 2 are needed to find similar items")
    return items


def fusion_settings(recorded: dict) -> FusionSettings:
    """FusionSettings from a manifest's record, ignoring fields this version does not know."""
    known = {f.name for f in fields(FusionSettings)}
    return FusionSettings(**{k: v for k, v in recorded.items() if k in known})


def tuned_settings(catalog: Catalog, items: pd.DataFrame, content: np.ndarray, settings: BlendSettings,
                   options: dict, progress: Progress) -> tuple[Callable[[], dict | None], BlendSettings,
                                                            FusionSettings, dict]:
    """The blend and fusion an evaluation chose on validation (when asked for and possible), with a
    function giving the evaluation's whole report (its test split is ranked when it is called), or, when
    options["reuse_tuning"] and the catalog kept its shape, those options["served_tuning"] carries from
    the version where they were chosen. The last item is the manifest's "tuned_settings"."""
    interactions = catalog.interactions
    has_interactions = interactions is not None and not interactions.empty
    n_users = int(interactions["user_id"].nunique()) if has_interactions else 0
    fusion = default_fusion(len(items), n_users)
    if not (has_interactions and options["evaluate_quality"]):
        return lambda: None, settings, fusion, {"carried": False}
    why_not = refusal(options.get("served_tuning"), len(items), n_users) if options.get("reuse_tuning") else None
    if options.get("reuse_tuning") and why_not is None:
        carried = options["served_tuning"]
        progress("reusing the served version's evaluation", 10)
        return (lambda: carried_evaluation(carried), replace(settings, **carried.blend),
                fusion_settings(carried.fusion),
                {**carried.record(), "carried": True, "annoy_trees_carried": carried.annoy_trees})
    progress("evaluating", 10)
    served = options.get("served_tuning") if options.get("reuse_tuning") else None
    choice, report = evaluate_in_two(items, interactions, settings, content=content,
                                     served_fusion=fusion_settings(served.fusion) if served else None,
                                     baskets=baskets_of(catalog))
    tuned = evaluated(choice, len(items), n_users)
    if tuned is not None:
        settings = replace(settings, **tuned.blend)
        fusion = fusion_settings(tuned.fusion)
    record = tuned.record() if tuned else {}
    return report, settings, fusion, {**record, "carried": False, "full_evaluation_because": why_not}


def write_neighbours(out_dir: Path, items: pd.DataFrame, catalog: Catalog, vectors: ItemVectors,
                     fusion: FusionSettings, options: dict, progress: Progress) -> tuple[AnnSummary, dict]:
    """Annoy over blended vectors, and the neighbour table: exact fused model where it fits, series first.
    A forest size carried from the served version is tried alone; the full ladder runs if it fails.

    The exact model's table is computed in a second thread while the forest is built and tuned: they
    share nothing, and on two cores the two stages took 5.0 s instead of 5.75 (medians of three demo
    builds). The table exists only up to FUSED_TABLE_MAX_ITEMS items, so a large build never holds both."""
    interactions = catalog.interactions
    raters = rated_matrix(items, interactions) if interactions is not None and not interactions.empty else None
    pairs = series_pairs(items["title"].astype(str).tolist(), vectors.content, raters=raters)
    with alongside(exact_model_table, items, catalog.interactions, vectors.content, fusion, pairs, vectors.vectors,
                   name="exact-table") as exact:
        vectors.vectors = vectors_on_disk(vectors.vectors, out_dir)  # held once, on disk, from here on
        vectors.content = vectors.collaborative = None

        def table() -> tuple | None:
            return exact()[0]
        try:
            ann = build_neighbour_search(vectors.vectors, out_dir, options["recall_floor"], options["n_trees"],
                                         options["seed"], progress, table)
        except BuildError:
            if not options["trees_carried"]:
                raise
            ann = build_neighbour_search(vectors.vectors, out_dir, options["recall_floor"], None, options["seed"],
                                         progress, table)  # the carried forest size no longer reaches the floor
        exact_table, summary = exact()
    if exact_table is None:
        lead_with_companions(out_dir, vectors.vectors, pairs)
    return ann, {**summary, "series": series_summary(out_dir, pairs)}


def build_manifest(out_dir: Path, catalog: Catalog, table: pd.DataFrame, vectors: ItemVectors, parts: dict) -> dict:
    """What a version holds and how it was made; keys read by the web tier stay as they were."""
    return {
        "format": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "item_count": len(table),
        "interaction_count": 0 if catalog.interactions is None else int(len(catalog.interactions)),
        "dimensions": vectors.dims,
        "metric": METRIC,
        **asdict(parts["ann"]),
        "neighbour_model": parts["neighbour_model"],
        "evaluation": parts["evaluation"],
        "source_hash": catalog.source_hash,
        "settings": asdict(parts["settings"]),
        "files": {**{name: (out_dir / name).stat().st_size for name in (INDEX_FILE, NEIGHBOURS_FILE, SCORES_FILE)},
                  **parts["serving"]},
        "categories": all_categories(table),
        "notes": list(catalog.notes),
    }


@contextmanager
def alongside(work: Callable, *args, name: str, at_once: bool = False):
    """Yields a function giving work(*args), which runs in a second thread (named `name`) while the
    caller goes on; with at_once, it runs first, in the caller's thread."""
    if at_once:
        done = work(*args)
        yield lambda: done
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        yield pool.submit(work, *args).result


def build_index(catalog: Catalog, out_dir: str | Path, settings: BlendSettings = BlendSettings(),
                progress: Progress = no_progress, n_trees: int | None = None,
                recall_floor: float = RECALL_FLOOR, evaluate_quality: bool = True,
                reuse_tuning: bool = False, served_tuning: Tuned | None = None) -> dict:
    """Write a complete, checked index version into out_dir and return its manifest. With
    reuse_tuning, the served version's tuned settings (served_tuning) replace the evaluation where
    the catalog kept its shape (recommender/tuning.py)."""
    out_dir = Path(out_dir)
    started, cpu_started = time.perf_counter(), time.process_time()
    items = checked_items(catalog)
    progress("vectors", 5)
    content = content_vectors(items, settings)
    asked = {"evaluate_quality": evaluate_quality, "reuse_tuning": reuse_tuning, "served_tuning": served_tuning}
    tuning_started = time.perf_counter()
    report, settings, fusion, tuning = tuned_settings(catalog, items, content, settings, asked, progress)
    tuning["seconds"] = round(time.perf_counter() - tuning_started, 2)
    # The evaluation's test split is only a report (nothing the index needs depends on it): it is ranked
    # while the index is built, 2-3 s off a demo upload. Above FUSED_TABLE_MAX_ITEMS items it is ranked
    # first, as before, so a large build never holds both.
    with alongside(report, name="test-report", at_once=len(items) > FUSED_TABLE_MAX_ITEMS) as evaluation:
        progress("vectors", 30)
        vectors = build_item_vectors(items, catalog.interactions, settings, content=content)
        del content  # vectors.content holds it (or is it), and write_neighbours moves it to disk: never held twice
        require_space_for_index(out_dir, len(items), vectors.dims)  # before Annoy maps a file a full disk would kill
        progress("index", 40)
        trees = n_trees or tuning.get("annoy_trees_carried")
        options = {"recall_floor": recall_floor, "n_trees": trees, "trees_carried": not n_trees and bool(trees),
                   "seed": settings.seed}
        ann, neighbour_model = write_neighbours(out_dir, items, catalog, vectors, fusion, options, progress)
        progress("save", 90)
        table = items.copy()
        table["interaction_count"] = vectors.interaction_counts.astype(np.int64)
        table["collaborative_share"] = vectors.collaborative_share
        serving = write_serving_files(out_dir, table, liked_matrix(items, catalog.interactions))
        together_files, together = write_bought_together(out_dir, items["item_id"], baskets_of(catalog))
        manifest = build_manifest(out_dir, catalog, table, vectors, {
            "ann": ann, "neighbour_model": neighbour_model, "evaluation": evaluation(), "settings": settings,
            "serving": {**serving, **together_files}})
    manifest[TUNING_KEY] = tuning
    manifest[BOUGHT_TOGETHER_KEY] = together
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)
    manifest["build_cpu_seconds"] = round(time.process_time() - cpu_started, 2)  # near idle wall time
    write_manifest(out_dir, manifest)
    progress("built", 95)
    return manifest
