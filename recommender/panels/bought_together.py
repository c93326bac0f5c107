"""Frequently bought together as serving reads it (issue 24): the partners the build kept per item
(recommender/panels/co_purchases.py) and the thresholds applied to them.

A pair counts the orders (sessions holding a purchase or an add to cart) that hold both items. Lift is how
much more often than chance: count x orders / (orders of A x orders of B); a best-seller is in many orders
with everything, so its lift with any one item stays near 1 and it is not shown beside everything. Below
the thresholds the answer is empty, with the reason, never padded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

PARTNERS_FILE = "bought_together_rows.npy"
COUNTS_FILE = "bought_together_counts.npy"
ORDERS_FILE = "bought_together_orders.npy"
FILES = (PARTNERS_FILE, COUNTS_FILE, ORDERS_FILE)
MANIFEST_KEY = "bought_together"


@dataclass(frozen=True)
class Partner:
    row: int
    orders: int
    lift: float

    @property
    def why(self) -> str:
        return f"bought together in {self.orders} {'order' if self.orders == 1 else 'orders'}"


class BoughtTogether:
    """One version's kept partners: rows, shared-order counts, and each item's own order count."""

    def __init__(self, partners: np.ndarray | None, counts: np.ndarray | None, orders: np.ndarray | None,
                 total_orders: int):
        self.partner_rows, self.counts, self.orders, self.total_orders = partners, counts, orders, total_orders

    @classmethod
    def open(cls, version_dir: str | Path, manifest: dict) -> "BoughtTogether":
        """Memory-mapped; a version built before bought together was kept has none (every answer says so)."""
        path = Path(version_dir)
        if not all((path / name).is_file() for name in FILES):
            return cls(None, None, None, 0)
        arrays = [np.load(path / name, mmap_mode="r").view(np.ndarray) for name in FILES]
        return cls(*arrays, int((manifest.get(MANIFEST_KEY) or {}).get("orders", 0)))

    def lift(self, row: int, partner: int, count: int) -> float:
        return count * self.total_orders / max(1, int(self.orders[row]) * int(self.orders[partner]))

    def partners(self, row: int, min_support: int, min_lift: float) -> tuple[list[Partner], str | None]:
        """Partners in at least `min_support` shared orders with lift at least `min_lift`, most shared orders
        first; with none, the reason."""
        if self.partner_rows is None:
            return [], "this index version was built before bought together was kept: the next build adds it"
        own = int(self.orders[row])
        if own == 0:
            return [], "no orders with this item yet"
        found = [Partner(int(p), int(c), self.lift(row, int(p), int(c)))
                 for p, c in zip(self.partner_rows[row].tolist(), self.counts[row].tolist()) if p >= 0]
        kept = sorted((p for p in found if p.orders >= min_support and p.lift >= min_lift),
                      key=lambda p: (-p.orders, -p.lift, p.row))
        if kept:
            return kept, None
        return [], (f"no item shares at least {min_support} of this item's {own} "
                    f"{'order' if own == 1 else 'orders'} at a lift of {min_lift:g} or more (more often than "
                    "chance): nothing is shown rather than best-sellers")
