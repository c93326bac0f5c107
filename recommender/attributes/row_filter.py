"""Which rows of one version pass a similar-items (or any list's) filters, one row or many at a time.

`base` is what is never shown (excluded ids, removed items); `wanted` is what the visitor asked for
(categories, years, attributes). Lists count the rows `wanted` turned away to say "N filtered out".
"""

from __future__ import annotations

import numpy as np

from recommender.attributes.attribute_columns import AttributeColumns


class RowFilter:
    """Callable per row (`accept(row)`), and vectorised over an array of rows (`mask`, `wanted_mask`)."""

    def __init__(self, filters, table, columns: AttributeColumns, years: np.ndarray, excluded: set[int]):
        self.filters = filters
        self.table = table
        self.columns = columns
        self.years = years
        self.excluded = np.fromiter(excluded, dtype=np.int64, count=len(excluded))

    def __call__(self, row) -> bool:
        return bool(self.mask(np.array([int(row)], dtype=np.int64))[0])

    def base_mask(self, rows: np.ndarray) -> np.ndarray:
        return ~np.isin(rows, self.excluded) if len(self.excluded) else np.ones(len(rows), dtype=bool)

    def wanted_mask(self, rows: np.ndarray) -> np.ndarray:
        filters = self.filters
        keep = np.ones(len(rows), dtype=bool)
        if filters.year_min is not None or filters.year_max is not None:
            years = self.years[rows]
            keep &= ~np.isnan(years)
            if filters.year_min is not None:
                keep &= years >= filters.year_min
            if filters.year_max is not None:
                keep &= years <= filters.year_max
        for wanted in getattr(filters, "attributes", ()):
            keep &= wanted.mask(self.columns, rows)
        if filters.categories:
            chosen = np.flatnonzero(keep)
            keep[chosen] = [bool(filters.categories.intersection(self.table.categories(int(rows[i]))))
                            for i in chosen]
        return keep

    def mask(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return self.base_mask(rows) & self.wanted_mask(rows)


def first_accepted(rows: np.ndarray, scores: np.ndarray, accept: RowFilter, k: int) -> tuple[list, int]:
    """The first k (row, score) pairs that pass, and how many rows before the k-th the visitor's filters
    turned away (all of them when fewer than k pass)."""
    rows = np.asarray(rows, dtype=np.int64)
    base = accept.base_mask(rows)
    wanted = accept.wanted_mask(rows)
    passing = np.flatnonzero(base & wanted)[:k]
    seen = passing[-1] + 1 if len(passing) == k else len(rows)
    turned_away = int((base[:seen] & ~wanted[:seen]).sum())
    return [(int(rows[i]), float(scores[i])) for i in passing], turned_away
