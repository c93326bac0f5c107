"""Counting, at build time, the orders that items share (issue 24): the partners kept per item beside a
version, read by recommender/panels/bought_together.py.

An order is a session_id of purchase or add-to-cart events (or of an uploaded interactions file's rows).
Per item, the BOUGHT_TOGETHER_KEPT partners with the most shared orders among those bought together more often
than chance (lift above 1) are kept; serving applies the settings' minimum support and lift to them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.limits import BOUGHT_TOGETHER_KEPT
from recommender.panels.bought_together import COUNTS_FILE, FILES, ORDERS_FILE, PARTNERS_FILE

CHANCE_LIFT = 1.0


def order_matrix(item_ids: pd.Series, baskets: pd.DataFrame | None) -> sparse.csr_matrix:
    """Item-by-order 0/1 matrix of the baskets (session_id, item_id) whose items are in `item_ids`."""
    n = len(item_ids)
    if baskets is None or baskets.empty:
        return sparse.csr_matrix((n, 0), dtype=np.int32)
    rows = pd.Index(item_ids.astype(str)).get_indexer(baskets["item_id"].astype(str))
    known = rows >= 0
    orders, columns = np.unique(baskets["session_id"].astype(str).to_numpy()[known], return_inverse=True)
    matrix = sparse.csr_matrix((np.ones(int(known.sum()), dtype=np.int32), (rows[known], columns)),
                               shape=(n, len(orders)))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def kept_partners(matrix: sparse.csr_matrix, kept: int = BOUGHT_TOGETHER_KEPT,
                  rows: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """(partner rows, shared orders, each item's orders): per item, up to `kept` partners above chance
    (only for `rows` when given, e.g. an evaluation's queries; the others keep none)."""
    n, total = matrix.shape
    own = np.asarray(matrix.sum(axis=1)).ravel().astype(np.int32)
    partners = np.full((n, kept), -1, dtype=np.int32)
    counts = np.zeros((n, kept), dtype=np.int32)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if total and len(rows):
        shared = (matrix[rows] @ matrix.T).tocsr()
        for position, row in enumerate(rows.tolist()):
            cols = shared.indices[shared.indptr[position]:shared.indptr[position + 1]]
            together = shared.data[shared.indptr[position]:shared.indptr[position + 1]]
            cols, together = cols[cols != row], together[cols != row]
            lift = together * total / np.maximum(1, own[row] * own[cols].astype(np.int64))
            above = lift > CHANCE_LIFT
            cols, together, lift = cols[above], together[above], lift[above]
            order = np.lexsort((cols, -lift, -together))[:kept]
            partners[row, :len(order)] = cols[order]
            counts[row, :len(order)] = together[order]
    return partners, counts, own


def write_bought_together(out_dir: Path, item_ids: pd.Series, baskets: pd.DataFrame | None) -> tuple[dict, dict]:
    """Write the kept partners beside a version; returns (file sizes, the manifest's summary)."""
    matrix = order_matrix(item_ids, baskets)
    partners, counts, own = kept_partners(matrix)
    for name, array in zip((PARTNERS_FILE, COUNTS_FILE, ORDERS_FILE), (partners, counts, own)):
        np.save(out_dir / name, array)
    summary = {"orders": int(matrix.shape[1]), "items_in_orders": int((own > 0).sum()),
               "items_with_partners": int((partners[:, 0] >= 0).sum())}
    return {name: (out_dir / name).stat().st_size for name in FILES}, summary


def baskets_of(catalog) -> pd.DataFrame | None:
    """The catalog's orders: the store's (Catalog.baskets), else an interactions file's session_id column."""
    if getattr(catalog, "baskets", None) is not None:
        return catalog.baskets
    interactions = catalog.interactions
    if interactions is None or "session_id" not in interactions:
        return None
    rows = interactions[interactions["session_id"].notna()]
    return rows[["session_id", "item_id"]] if len(rows) else None
