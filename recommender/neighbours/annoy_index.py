"""Nearest neighbours over unit vectors: the Annoy index, tuned to a recall floor, and the
precomputed neighbour table the web tier reads through a memory map.

Catalogs up to EXACT_SEARCH_MAX_ITEMS items are searched exhaustively (Annoy inspects every item,
so its recall is 1 by construction and no floor can fail). Recall counts ties as hits: a neighbour
scoring as high as the k-th exact neighbour is as right as it, whichever of the tied items exact
search happened to list. Vectors may come memory-mapped from a file: the build reads them in blocks
and lets the kernel take back the pages it has read, so they are never held twice.

The table is computed for distinct vectors only (identical ones, common among short titles, are
searched once: recommender.neighbours.twins), exactly up to EXACT_TABLE_MAX_ITEMS of them and above that by an
inverted file tuned to the recall floor (recommender.neighbours.inverted_file); its recall against exact search,
ties counted, is measured on the sample and kept.
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from recommender.layout import INDEX_FILE, NEIGHBOURS_FILE, SCORES_FILE, BuildError, Progress, no_progress
from recommender.neighbours.exact import RECALL_FLOOR, exact_scores, exact_top, recall_at
from recommender.neighbours.inverted_file import ivf_top
from recommender.neighbours.lookup import METRIC, annoy_neighbours, table_width
from recommender.neighbours.twins import expand_to_items, find_twins

RECALL_SAMPLE = 500
SEARCH_K_MULTIPLES = (1, 2, 4, 8, 16, 32, 64)
EXACT_TABLE_MAX_ITEMS = 30_000
EXACT_SEARCH_MAX_ITEMS = 5_000
EXACT_SEARCH_TREES = 1
ANNOY_FEED_ROWS = 4_096  # a block goes through Python floats (about 32 bytes each) on its way in
SPILL_FILE = ".vectors.npy"
FOREST_FILE = ".forest-{trees}.ann"
ONE_FOREST_ITEMS = 250_000  # from here on one forest of tree_budget trees is built, not a ladder of two
DIRECT_READ_MAX_BYTES = 64 * 2**20  # smaller vector files are read directly when checking recall


def tree_budget(dims: int) -> int:
    """Trees that together take about as much room as the vectors themselves (a tree costs about
    20 bytes an item, a vector 4 bytes a dimension plus 12), so the file stays near twice the data."""
    return int(np.clip((4 * dims + 12) / 20, 8, 64))


def annoy_top(index: AnnoyIndex, n_items: int, rows, k: int, search_k: int):
    """annoy_neighbours for many rows, as arrays padded with -1 where fewer were found."""
    k = min(k, n_items - 1)
    ids = np.full((len(rows), k), -1, dtype=np.int32)
    scores = np.full((len(rows), k), -1.0, dtype=np.float32)
    for out, row in enumerate(rows):
        found, cosines = annoy_neighbours(index, row, k, search_k)
        ids[out, :len(found)] = found
        scores[out, :len(found)] = cosines
    return ids, scores


def release_pages(vectors: np.ndarray) -> None:
    """Let the kernel take back the pages of a memory-mapped vector file this process has read (they
    stay in the page cache), so the build's resident memory holds only the block at hand. Arrays in
    ordinary memory are left alone."""
    owner = vectors
    while owner is not None and not isinstance(owner, mmap.mmap):
        owner = getattr(owner, "base", None)
    if owner is not None:
        owner.madvise(mmap.MADV_DONTNEED)


def vectors_on_disk(vectors: np.ndarray, directory: Path) -> np.ndarray:
    """Write the vectors to a file and map it back read-only. The caller drops its own copy, so the
    build holds them once; the file's name is removed at once (the mapping keeps it alive until it is
    dropped), so a failed build leaves nothing behind."""
    path = Path(directory) / SPILL_FILE
    np.save(path, np.ascontiguousarray(vectors, dtype=np.float32))
    mapped = np.load(path, mmap_mode="r")
    path.unlink()
    return mapped


def _build_annoy(vectors: np.ndarray, trees: int, path: Path | None = None) -> AnnoyIndex:
    """Annoy keeps its own copy of every vector: feed it block by block and release each block. Given
    a path, the forest is built in that file (Annoy's on-disk build) rather than in memory that Annoy
    grows by 30% at a time and zero-fills, so a big build holds about the file's size, not more."""
    index = AnnoyIndex(vectors.shape[1], METRIC)
    if path is not None:
        index.on_disk_build(str(path))
    for start in range(0, len(vectors), ANNOY_FEED_ROWS):
        for row, vector in enumerate(np.asarray(vectors[start:start + ANNOY_FEED_ROWS]).tolist(), start):
            index.add_item(row, vector)
        release_pages(vectors)
    index.build(trees, n_jobs=-1)
    return index


def forest_path(directory: Path | None, trees: int) -> Path | None:
    """Where a candidate forest of `trees` trees is built on disk (None: in memory)."""
    return None if directory is None else Path(directory) / FOREST_FILE.format(trees=trees)


def _park(index: AnnoyIndex, path: Path | None) -> str:
    """Free a candidate forest's memory while the next is built: one built on disk is only unmapped,
    one built in memory is saved to a temporary file first."""
    import tempfile

    if path is not None:
        index.unload()
        return str(path)
    handle, path = tempfile.mkstemp(suffix=".ann")
    os.close(handle)
    index.save(path)
    index.unload()
    return path


def _reload(kept, dims: int, on_disk: bool) -> AnnoyIndex:
    """The chosen forest, loaded again if it was parked; a temporary file is removed, a forest built
    on disk stays where it is (the caller moves it into place)."""
    if isinstance(kept, AnnoyIndex):
        return kept
    index = AnnoyIndex(dims, METRIC)
    index.load(kept)
    if not on_disk:
        os.unlink(kept)
    return index


def _discard(index: AnnoyIndex, path: Path | None) -> None:
    index.unload()
    if path is not None:
        path.unlink(missing_ok=True)


class ForestVectors:
    """Rows read back from a built Annoy forest, which holds every vector as it was given: scattered
    reads of a mapped vector file would fault most of the file back in while the forest is resident."""

    def __init__(self, index: AnnoyIndex):
        self.index = index

    def __getitem__(self, rows) -> np.ndarray:
        return np.array([self.index.get_item_vector(int(r)) for r in np.atleast_1d(rows)], dtype=np.float32)


def checkable(vectors: np.ndarray, index: AnnoyIndex):
    """What exact scores are read from: the vector file itself when it is small (reading vectors back
    from the forest one by one was 1.8 s of a demo build's 12 tuning trials), else the forest."""
    return vectors if vectors.nbytes <= DIRECT_READ_MAX_BYTES else ForestVectors(index)


def sample_recall(vectors: np.ndarray, sample: np.ndarray, found: np.ndarray, truth: np.ndarray,
                  truth_scores: np.ndarray | None) -> float:
    """recall_at of answers for the sample rows, counting ties when the exact scores are known. The
    scattered rows read fault in most of a mapped vector file (the kernel maps pages around each
    one): they are released again at once."""
    if truth_scores is None:
        return recall_at(found, truth)
    scores = exact_scores(vectors, sample, found[:, :truth.shape[1]])
    release_pages(vectors)
    return recall_at(found, truth, scores, truth_scores)


def exhaustive_annoy(vectors: np.ndarray, sample: np.ndarray, truth: np.ndarray, truth_scores: np.ndarray | None,
                     n_trees: int | None = None, directory: Path | None = None):
    """A small forest searched with search_k = trees x items, so every query inspects every item:
    exact search, cheap for small catalogs. Returns what tune_annoy returns."""
    trees = n_trees or EXACT_SEARCH_TREES
    index = _build_annoy(vectors, trees, forest_path(directory, trees))
    search_k = trees * len(vectors)
    answers, _ = annoy_top(index, len(vectors), sample, truth.shape[1], search_k)
    recall = sample_recall(checkable(vectors, index), sample, answers, truth, truth_scores)
    return index, trees, search_k, recall, [{"trees": trees, "search_k": search_k, "recall_at_10": round(recall, 4)}]


def tune_annoy(vectors: np.ndarray, sample: np.ndarray, truth: np.ndarray, floor: float,
               n_trees: int | None = None, truth_scores: np.ndarray | None = None, directory: Path | None = None):
    """The cheapest (n_trees, search_k) whose recall@10 on the sample reaches the floor.

    Query cost grows with search_k (nodes inspected), so for each forest size on a short ladder
    the least search_k meeting the floor is found (see least_search_k), and the smallest search_k
    overall wins. From ONE_FOREST_ITEMS items on, the
    ladder is the full budget alone (a second forest costs a minute at 1M for little gain). With
    truth_scores, ties count as hits. Given a directory, forests are built on disk in it (the
    chosen one stays at forest_path(directory, trees)). Returns (index, trees, search_k, recall, trials).
    """
    budget = tree_budget(vectors.shape[1])
    ladder = [n_trees] if n_trees else [budget] if len(vectors) >= ONE_FOREST_ITEMS else [budget // 2, budget]
    best, kept, trials = None, None, []
    for trees in ladder:
        path = forest_path(directory, trees)
        index = _build_annoy(vectors, trees, path)
        trial = partial(_recall_trial, index, trees, vectors, sample, (truth, truth_scores), trials)
        found = least_search_k(trial, trees * (truth.shape[1] + 1), floor, best and best[1])
        if found is None:
            _discard(index, path)
            continue
        if isinstance(kept, str):
            os.unlink(kept)
        best = (trees, *found)
        kept = index if trees == ladder[-1] else _park(index, path)
    if best is None:
        top = max(trials, key=lambda t: t["recall_at_10"])
        raise BuildError(f"ANN recall@10 reached only {top['recall_at_10']:.3f} (floor {floor}) with up to "
                           f"{ladder[-1]} trees: the vectors may be degenerate (many identical items)")
    index = _reload(kept, vectors.shape[1], directory is not None)
    return (index, *best, trials)


def _recall_trial(index: AnnoyIndex, trees: int, vectors: np.ndarray, sample: np.ndarray, exact: tuple,
                  trials: list, search_k: int) -> float:
    """Recall@10 of the forest at this search_k on the sample (`exact`: truth and its scores), recorded."""
    truth, truth_scores = exact
    answers, _ = annoy_top(index, len(vectors), sample, truth.shape[1], search_k)
    recall = sample_recall(checkable(vectors, index), sample, answers, truth, truth_scores)
    trials.append({"trees": trees, "search_k": search_k, "recall_at_10": round(recall, 4)})
    return recall


def least_search_k(recall_at: Callable[[int], float], step: int, floor: float,
                   below: int | None) -> tuple[int, float] | None:
    """The least search_k among step x SEARCH_K_MULTIPLES whose recall meets the floor, with its recall.
    With no forest kept yet, going up from the smallest. Once one is kept at search_k `below`, only
    smaller values can win: going down from just under it until recall falls short (recall grows with
    search_k), so a bigger forest that cannot win costs one trial, not a climb (4 trials on the demo)."""
    ladder = [step * multiple for multiple in SEARCH_K_MULTIPLES]
    if below is None:
        return next(((k, r) for k in ladder if (r := recall_at(k)) >= floor), None)
    found = None
    for search_k in reversed([k for k in ladder if k < below]):
        recall = recall_at(search_k)
        if recall < floor:
            break
        found = (search_k, recall)
    return found


@dataclass
class AnnSummary:
    """What the manifest records about the neighbour search of one version."""

    trees: int
    search_k: int
    recall_at_10: float
    recall_sample: int
    recall_floor: float
    neighbours_kept: int
    table_method: str
    table_recall_at_10: float
    seconds: dict = field(default_factory=dict)
    tuning: list = field(default_factory=list)
    search_method: str = "tuned forest"
    distinct_vectors: int = 0


def build_neighbour_search(vectors: np.ndarray, out_dir: Path, recall_floor: float = RECALL_FLOOR,
                           n_trees: int | None = None, seed: int = 7,
                           progress: Progress = no_progress,
                           table: Callable[[], tuple | None] = lambda: None) -> AnnSummary:
    """Write index.ann, neighbours.npy and scores.npy for unit vectors (in memory or memory-mapped,
    see vectors_on_disk); refuse below the recall floor. `table`, when given, is called once the forest
    is built and gives (ids, scores, method name), a neighbour table made by an exact model, or None."""
    n_items = len(vectors)
    seconds = {}
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n_items, size=min(RECALL_SAMPLE, n_items), replace=False))
    started = time.perf_counter()
    truth, truth_scores = exact_top(vectors, sample, min(10, n_items - 1))
    release_pages(vectors)
    if n_items <= EXACT_SEARCH_MAX_ITEMS:
        method = "exhaustive"
        index, trees, search_k, recall, trials = exhaustive_annoy(vectors, sample, truth, truth_scores, n_trees,
                                                                  out_dir)
    else:
        method = "tuned forest"
        index, trees, search_k, recall, trials = tune_annoy(vectors, sample, truth, recall_floor, n_trees,
                                                            truth_scores, out_dir)
    index.unload()
    if recall < recall_floor:
        forest_path(out_dir, trees).unlink(missing_ok=True)
        raise BuildError(f"ANN recall@10 is {recall:.3f}, below the floor {recall_floor}, with {method} search")
    os.replace(forest_path(out_dir, trees), out_dir / INDEX_FILE)
    seconds["annoy"] = round(time.perf_counter() - started, 2)

    progress("neighbours", 70)
    started = time.perf_counter()
    width, table_method, table_recall, distinct = write_neighbour_table(vectors, out_dir, sample, truth,
                                                                         truth_scores, seed, table=table())
    if table_recall < recall_floor:
        raise BuildError(f"neighbour table recall@10 is {table_recall:.3f}, below the floor {recall_floor}")
    seconds["table"] = round(time.perf_counter() - started, 2)
    return AnnSummary(trees, search_k, round(recall, 4), len(sample), recall_floor, width, table_method,
                      round(table_recall, 4), seconds, trials, method, distinct)


def write_neighbour_table(vectors: np.ndarray, out_dir: Path, sample: np.ndarray, truth: np.ndarray,
                          truth_scores: np.ndarray, seed: int, exact_max: int = EXACT_TABLE_MAX_ITEMS,
                          table=None) -> tuple[int, str, float, int]:
    """neighbours.npy and scores.npy: a given exact model's table (ids, scores, method), or one computed
    for distinct vectors only (see recommender.neighbours.twins) and expanded to every item: exactly up to exact_max
    distinct vectors, else by inverted file. Returns (width, method, recall on the sample with ties
    counted, distinct vectors)."""
    if table is not None:
        ids, scores, method = table
        width, recall, distinct = ids.shape[1], 1.0, len(vectors)
    else:
        width = table_width(len(vectors))
        ids, scores, method, distinct = distinct_neighbours(vectors, width, seed, exact_max)
        recall = sample_recall(vectors, sample, ids[sample], truth, truth_scores)
    release_pages(vectors)
    np.save(out_dir / NEIGHBOURS_FILE, ids)
    np.save(out_dir / SCORES_FILE, scores)
    return width, method, recall, distinct


def distinct_neighbours(vectors: np.ndarray, width: int, seed: int, exact_max: int = EXACT_TABLE_MAX_ITEMS):
    """Every item's `width` nearest (ids, scores, method, distinct vectors): twins first, then the
    twins of its distinct vector's nearest distinct vectors."""
    twins = find_twins(vectors, release_pages)
    unique = np.asarray(vectors[twins.representatives], dtype=np.float32)
    release_pages(vectors)
    k = min(width, len(unique) - 1)
    if k == 0:
        unique_ids, unique_scores = np.empty((len(unique), 0), np.int32), np.empty((len(unique), 0), np.float32)
        method = "exact"
    elif len(unique) <= exact_max:
        unique_ids, unique_scores = exact_top(unique, np.arange(len(unique)), k)
        method = "exact"
    else:
        unique_ids, unique_scores, probes = ivf_top(unique, k, seed, sizes=twins.sizes)
        method = f"inverted file, {probes} probes"
    self_scores = np.einsum("ij,ij->i", unique, unique)
    del unique
    ids, scores = expand_to_items(twins, unique_ids, unique_scores, self_scores, width)
    return ids, scores, method, len(twins)
