"""Items whose vectors are identical ("twins"): found once, so the neighbour table is computed for
distinct vectors only and then expanded to every item.

Catalogs of short titles repeat themselves: a million 1-3 word titles hold about half as many distinct
vectors, and a tenth of them are all zero (titles of stop words only). Searching duplicates again and
again costs time, and groups of thousands of identical points make the inverted file's k-means groups
lopsided. An item's twins are its nearest neighbours (cosine 1, or 0 between zero vectors, which share
no content), so they come first in its row, then the twins of its distinct vector's neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASH_BLOCK_ROWS = 65_536
EXPAND_BLOCK_ROWS = 131_072
HASH_SEED = 11


@dataclass
class Twins:
    """Groups of identical rows. Group g's first row is representatives[g]; its rows are
    members[bounds[g]:bounds[g + 1]], in row order; group_of[row] is the group of a row."""

    representatives: np.ndarray
    group_of: np.ndarray
    members: np.ndarray
    bounds: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.bounds)

    def __len__(self) -> int:
        return len(self.representatives)


def _row_hashes(vectors: np.ndarray, release=lambda vectors: None) -> np.ndarray:
    """A 64-bit hash of the bits of each row (with -0.0 read as 0.0), computed block by block."""
    multipliers = np.random.default_rng(HASH_SEED).integers(1, 2**63, size=vectors.shape[1], dtype=np.uint64) | 1
    hashes = np.empty(len(vectors), dtype=np.uint64)
    for start in range(0, len(vectors), HASH_BLOCK_ROWS):
        bits = (np.asarray(vectors[start:start + HASH_BLOCK_ROWS], dtype=np.float32) + np.float32(0)).view(np.uint32)
        mixed = bits.astype(np.uint64) * multipliers
        hashes[start:start + len(bits)] = np.bitwise_xor.reduce(mixed ^ (mixed >> np.uint64(29)), axis=1)
        release(vectors)
    return hashes


def _split_collisions(vectors: np.ndarray, first: np.ndarray, group_of: np.ndarray, release) -> np.ndarray:
    """Rows whose hash matched a different vector's get a group of their own."""
    group_of = group_of.copy()
    next_group = len(first)
    for start in range(0, len(vectors), HASH_BLOCK_ROWS):
        rows = np.arange(start, min(start + HASH_BLOCK_ROWS, len(vectors)))
        same = np.all(np.asarray(vectors[rows]) == np.asarray(vectors[first[group_of[rows]]]), axis=1)
        for row in rows[~same]:
            group_of[row] = next_group
            next_group += 1
        release(vectors)
    return group_of


def find_twins(vectors: np.ndarray, release=lambda vectors: None) -> Twins:
    """Group identical rows of a float32 matrix (in memory or memory-mapped; `release` is called after
    each block read, so a mapped file's pages can be given back)."""
    _, first, group_of = np.unique(_row_hashes(vectors, release), return_index=True, return_inverse=True)
    group_of = _split_collisions(vectors, first, group_of.astype(np.int64).ravel(), release)
    members = np.argsort(group_of, kind="stable")
    counts = np.bincount(group_of)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    representatives = members[bounds[:-1]]
    order = np.argsort(representatives, kind="stable")  # groups numbered by their first row
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    group_of = renumber[group_of].astype(np.int32)
    members = np.argsort(group_of, kind="stable").astype(np.int32)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(group_of))]).astype(np.int64)
    return Twins(members[bounds[:-1]], group_of, members, bounds)


def _group_rows(twins: Twins, ids: np.ndarray, scores: np.ndarray, self_scores: np.ndarray, length: int):
    """For every group, the first `length` items of: its own members (at its self score), then the
    members of each neighbouring group in turn (at that neighbour's score); -1 where there are fewer.
    Groups are taken EXPAND_BLOCK_ROWS at a time, so the int64 temporaries stay small at 1M groups."""
    groups = len(twins)
    out_ids = np.full((groups, length), -1, dtype=np.int32)
    out_scores = np.full((groups, length), -1.0, dtype=np.float32)
    for start in range(0, groups, EXPAND_BLOCK_ROWS):
        block = slice(start, min(start + EXPAND_BLOCK_ROWS, groups))
        _group_block(twins, block, ids[block], scores[block], self_scores[block], out_ids[block], out_scores[block])
    return out_ids, out_scores


def _group_block(twins: Twins, block: slice, ids, scores, self_scores, out_ids, out_scores) -> None:
    """_group_rows for the groups of one block, written into out_ids and out_scores (views)."""
    length = out_ids.shape[1]
    candidates = np.hstack([np.arange(block.start, block.stop, dtype=np.int64)[:, None], ids.astype(np.int64)])
    candidate_scores = np.hstack([self_scores[:, None], scores]).astype(np.float32)
    counts = np.where(candidates >= 0, np.minimum(twins.sizes[np.maximum(candidates, 0)], length), 0)
    before = np.cumsum(counts, axis=1) - counts
    taken = np.clip(length - before, 0, counts).ravel()
    starts = np.cumsum(taken) - taken
    offsets = np.arange(taken.sum()) - np.repeat(starts, taken)
    picked = np.repeat(candidates.ravel(), taken)
    row_lengths = taken.reshape(len(candidates), -1).sum(axis=1)
    rows = np.repeat(np.arange(len(candidates)), row_lengths)
    columns = np.arange(len(rows)) - np.repeat(np.cumsum(row_lengths) - row_lengths, row_lengths)
    out_ids[rows, columns] = twins.members[twins.bounds[picked] + offsets]
    out_scores[rows, columns] = np.repeat(candidate_scores.ravel(), taken)


def expand_to_items(twins: Twins, ids: np.ndarray, scores: np.ndarray, self_scores: np.ndarray, width: int):
    """Each item's `width` nearest other items from its group's nearest groups (ids, scores: rows per
    group, best first, -1 padded; self_scores: each group's cosine with itself, 1 or 0 for a zero
    vector). An item's own twins come first, itself left out. With no twins at all, the groups' rows
    are the items' rows already (groups are numbered by first row)."""
    if len(twins) == len(twins.group_of) and ids.shape[1] >= width:
        return ids[:, :width], scores[:, :width]
    group_ids, group_scores = _group_rows(twins, ids, scores, self_scores, width + 1)
    n_items = len(twins.group_of)
    rank = np.empty(n_items, dtype=np.int64)
    rank[twins.members] = np.arange(n_items) - np.repeat(twins.bounds[:-1], twins.sizes)
    out_ids = np.empty((n_items, width), dtype=np.int32)
    out_scores = np.empty((n_items, width), dtype=np.float32)
    columns = np.arange(width)
    for start in range(0, n_items, EXPAND_BLOCK_ROWS):
        rows = np.arange(start, min(start + EXPAND_BLOCK_ROWS, n_items))
        skip = columns[None, :] + (columns[None, :] >= rank[rows, None])  # step over the item itself
        groups = twins.group_of[rows, None]
        out_ids[rows] = group_ids[groups, skip]
        out_scores[rows] = group_scores[groups, skip]
    return out_ids, out_scores
