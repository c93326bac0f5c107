"""The k nearest of every row of a large matrix by an inverted file, with as many probes as the
recall floor needs.

Rows are grouped by k-means; each group is compared exactly, in large matrix products, with the rows
of the `probes` groups whose centres are nearest its own. How many probes a catalog needs depends on
how its vectors spread, so it is chosen on a sample first: the fewest probes on PROBE_LADDER whose
recall (ties counted) on the sample reaches the floor plus a margin, then every row is searched once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.neighbours.exact import RECALL_FLOOR, TIE_TOLERANCE, exact_top, top_of_block

PROBE_LADDER = (8, 16, 32, 64, 128)
TUNING_SAMPLE = 1_000
TUNING_MARGIN = 0.005
MIN_GROUPS, MAX_GROUPS = 16, 4096
FIT_ROWS_PER_GROUP = 50
GROUP_ROWS = 256
KMEANS_ROUNDS = 8
BLOCK_CELLS = 1 << 23
SEARCH_ROWS = 131_072  # rows searched together: their probe lists (rows x probes, int64) stay small


@dataclass
class InvertedFile:
    """Rows grouped by nearest k-means centre: group g holds order[bounds[g]:bounds[g + 1]]."""

    centres: np.ndarray
    labels: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    def rows_of(self, groups) -> np.ndarray:
        return np.sort(np.concatenate([self.order[self.bounds[g]:self.bounds[g + 1]] for g in groups]))


def nearest_centres(rows: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The nearest centre of each row, BLOCK_CELLS / 2 similarities at a time: the whole rows x centres
    matrix of a 1M catalog's fit sample (195k x 3,906) would take 3 GiB."""
    labels = np.empty(len(rows), dtype=np.int32)
    step = max(1, (BLOCK_CELLS >> 1) // len(centres))
    for start in range(0, len(rows), step):
        labels[start:start + step] = np.argmax(rows[start:start + step] @ centres.T, axis=1)
    return labels


def spherical_kmeans(sample: np.ndarray, groups: int, seed: int) -> np.ndarray:
    """Unit-length centres of a few Lloyd rounds of k-means by cosine, started from sample rows: a
    rough grouping is enough, since every row probes the groups nearest itself."""
    rng = np.random.default_rng(seed)
    centres = sample[rng.choice(len(sample), size=groups, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        labels = nearest_centres(sample, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, sample)
        empty = np.linalg.norm(sums, axis=1) < 1e-12
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        centres = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centres.astype(np.float32)


def group_rows(vectors: np.ndarray, seed: int) -> InvertedFile:
    """k-means fitted on a sample, then every row labelled by its nearest centre. About sqrt(n) groups,
    but none of more than about GROUP_ROWS rows on average: a row's search then costs probes x
    GROUP_ROWS comparisons however large the catalog, and the whole search grows linearly."""
    n = len(vectors)
    groups = int(np.clip(max(np.sqrt(n), n / GROUP_ROWS), MIN_GROUPS, MAX_GROUPS))
    rng = np.random.default_rng(seed)
    sample = np.asarray(vectors[np.sort(rng.choice(n, size=min(n, FIT_ROWS_PER_GROUP * groups), replace=False))])
    centres = spherical_kmeans(sample, groups, seed)
    labels = nearest_centres(vectors, centres)
    order = np.argsort(labels, kind="stable")
    return InvertedFile(centres, labels, order, np.searchsorted(labels[order], np.arange(groups + 1)))


def probed_groups(vectors: np.ndarray, ivf: InvertedFile, rows: np.ndarray, probes: int) -> np.ndarray:
    """The `probes` groups whose centres are nearest each row (not its group's: a row far from its
    centre has neighbours in groups its own centre does not see)."""
    probes = min(probes, len(ivf.centres))
    found = np.empty((len(rows), probes), dtype=np.int32)
    step = max(1, (1 << 22) // len(ivf.centres))
    for start in range(0, len(rows), step):
        sims = vectors[rows[start:start + step]] @ ivf.centres.T
        found[start:start + step] = top_of_block(sims, probes)[0]
    return found


def _merge(ids, scores, at, new_ids, new_scores, k) -> None:
    """Keep the best k of each row's current neighbours and new candidates."""
    both_ids = np.hstack([ids[at], new_ids])
    top, top_scores = top_of_block(np.hstack([scores[at], new_scores]), k)
    ids[at] = np.take_along_axis(both_ids, top, axis=1)
    scores[at] = top_scores


def search(vectors: np.ndarray, ivf: InvertedFile, rows: np.ndarray, k: int, probes: int):
    """Approximate k nearest other rows (ids, cosines; -1 padded) for `rows`, in the order given:
    each group is compared, in blocks, with the rows that probe it, and their lists are merged."""
    probe = probed_groups(vectors, ivf, rows, probes)
    by_group = np.argsort(probe.ravel(), kind="stable")  # entry i of probe.ravel() is asked by row i // probes
    bounds = np.searchsorted(probe.ravel()[by_group], np.arange(len(ivf.centres) + 1))
    ids = np.full((len(rows), k), -1, dtype=np.int32)
    scores = np.full((len(rows), k), -np.inf, dtype=np.float32)
    for group in np.flatnonzero(np.diff(bounds)):
        members = ivf.order[ivf.bounds[group]:ivf.bounds[group + 1]]
        if not len(members):
            continue
        at_all = by_group[bounds[group]:bounds[group + 1]] // probe.shape[1]
        member_vectors = vectors[members].T
        width = min(k, len(members))
        step = max(1, BLOCK_CELLS // len(members))
        for start in range(0, len(at_all), step):
            at = at_all[start:start + step]
            sims = vectors[rows[at]] @ member_vectors
            own = np.flatnonzero(ivf.labels[rows[at]] == group)  # rows of this group: leave each out
            sims[own, np.searchsorted(members, rows[at][own])] = -np.inf
            top, top_scores = top_of_block(sims, width)
            _merge(ids, scores, at, members[top], top_scores, k)
    ids[~np.isfinite(scores)] = -1
    scores[~np.isfinite(scores)] = -1.0
    return ids, scores


def item_recall(found, found_scores, truth, truth_scores, twins: np.ndarray) -> float:
    """Recall@depth of the items a sample of distinct rows stand for: an item with t other twins has
    them as its first min(t, depth) neighbours (all hits), and only the rest come from the search."""
    depth = truth.shape[1]
    from_search = depth - np.minimum(twins, depth)
    columns = np.arange(depth)[None, :]
    kth = np.take_along_axis(truth_scores, np.maximum(from_search - 1, 0)[:, None], axis=1)
    in_truth = (found[:, :, None] == np.where(columns < from_search[:, None], truth, -2)[:, None, :]).any(axis=2)
    hits = ((in_truth | (found_scores >= kth - TIE_TOLERANCE)) & (found >= 0) & (columns < from_search[:, None]))
    return float((depth - from_search + hits.sum(axis=1)).sum()) / (depth * len(found))


def tuned_probes(vectors: np.ndarray, ivf: InvertedFile, k: int, floor: float, seed: int,
                 sizes: np.ndarray | None = None) -> tuple[int, float]:
    """The fewest probes on PROBE_LADDER whose recall@10 (ties counted) on a sample reaches floor +
    TUNING_MARGIN; all groups (exact search) when none does. With `sizes` (items per distinct row) the
    sample is one of items, and recall is theirs (item_recall). Returns (probes, recall)."""
    rng = np.random.default_rng(seed + 1)
    sizes = np.ones(len(vectors), dtype=np.int64) if sizes is None else sizes
    sample = rng.choice(len(vectors), size=min(TUNING_SAMPLE, len(vectors)), p=sizes / sizes.sum())
    depth = min(10, k)
    truth, truth_scores = exact_top(vectors, sample, depth)
    for probes in PROBE_LADDER:
        if probes >= len(ivf.centres):
            break
        found, found_scores = search(vectors, ivf, sample, depth, probes)
        recall = item_recall(found, found_scores, truth, truth_scores, sizes[sample] - 1)
        if recall >= floor + TUNING_MARGIN:
            return probes, recall
    return len(ivf.centres), 1.0


def ivf_top(vectors: np.ndarray, k: int, seed: int = 7, floor: float = RECALL_FLOOR,
            sizes: np.ndarray | None = None):
    """The k nearest other rows of every row, ids and cosines, -1 padded; and the probes used."""
    ivf = group_rows(vectors, seed)
    probes, _ = tuned_probes(vectors, ivf, k, floor, seed, sizes)
    n = len(vectors)
    ids = np.empty((n, k), dtype=np.int32)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, SEARCH_ROWS):
        rows = np.arange(start, min(start + SEARCH_ROWS, n))
        ids[rows], scores[rows] = search(vectors, ivf, rows, k, probes)
    return ids, scores, probes
