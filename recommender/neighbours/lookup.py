"""What serving needs of the neighbour search: the metric, one lookup in a loaded Annoy forest, and how
wide the precomputed table is. Kept free of the build, so web processes load only this."""

from __future__ import annotations

import numpy as np
from annoy import AnnoyIndex

METRIC = "angular"
TABLE_CELLS = 20_000_000
MAX_TABLE_WIDTH = 100
MIN_TABLE_WIDTH = 20


def angular_to_cosine(distance):
    return 1.0 - np.square(distance) / 2.0


def table_width(n_items: int) -> int:
    """Neighbours kept per item: 100 for small catalogs, fewer for huge ones so the table stays
    a fraction of the index; wider questions go to Annoy."""
    return int(min(n_items - 1, MAX_TABLE_WIDTH, max(MIN_TABLE_WIDTH, TABLE_CELLS // max(n_items, 1))))


def annoy_neighbours(index: AnnoyIndex, row: int, k: int, search_k: int) -> tuple[list[int], np.ndarray]:
    """Up to k nearest other rows from Annoy, with cosine similarities."""
    found, distances = index.get_nns_by_item(int(row), k + 1, search_k=search_k, include_distances=True)
    pairs = [(f, d) for f, d in zip(found, distances) if f != row][:k]
    return [p[0] for p in pairs], angular_to_cosine(np.array([p[1] for p in pairs], dtype=float))
