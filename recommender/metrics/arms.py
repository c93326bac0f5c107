"""Which arm of an experiment a visitor sees: a stable hash, so the same visitor always gets the same arm."""

from __future__ import annotations

import hashlib

CONTROL = "control"
CHALLENGER = "challenger"
ARMS = (CONTROL, CHALLENGER)
HASH_BUCKETS = 2**32


def bucket(visitor: str, experiment_id: str) -> float:
    """A number in [0, 1) fixed by visitor and experiment; a new experiment reshuffles visitors."""
    digest = hashlib.sha256(f"{experiment_id}:{visitor}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / HASH_BUCKETS


def assign_arm(visitor: str | None, experiment_id: str, share: float) -> str:
    """`share` of visitors get the challenger; a request without a visitor gets the control."""
    if not visitor:
        return CONTROL
    return CHALLENGER if bucket(visitor, experiment_id) < share else CONTROL
