"""Carrying a version's tuned settings forward, so an automatic rebuild after a small change to the
store does not re-run the whole offline evaluation (over half of a full build's CPU at demo size). Imports
nothing of the build stack: the pipeline, which web processes import, reads manifests through it.

A build that evaluates records in its manifest's "tuned_settings" section the blend and fusion it
chose and the catalog shape it chose them on. A build asked to reuse them (the worker asks on automatic
rebuilds) takes them from the served version when the catalog has not changed shape much since
that evaluation ran; its manifest then shows the same evaluation marked "carried_forward" from the
version where it ran. Versions written before this section existed carry nothing: the next build
evaluates in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

TUNING_KEY = "tuned_settings"  # not "tuning": that key holds the Annoy trials
CARRIED_KEY = "carried_forward"
SHAPE_CHANGE_LIMIT = 0.10  # a larger relative change in items or users asks for a full evaluation
BLEND_KNOBS = ("collaborative_weight", "evidence_shrinkage")


@dataclass(frozen=True)
class Tuned:
    """What an evaluation chose, on which catalog shape, in which version it ran (None: this build)."""

    blend: dict
    fusion: dict
    item_count: int
    user_count: int
    evaluation: dict
    evaluated_in: str | None = None
    evaluated_at: str | None = None
    annoy_trees: int | None = None  # the served forest's size, tried first (its search_k is tuned again)

    def record(self) -> dict:
        """The manifest's "tuned_settings" section (the evaluation itself stays under "evaluation")."""
        return {"blend": self.blend, "fusion": self.fusion, "item_count": self.item_count,
                "user_count": self.user_count, "evaluated_in": self.evaluated_in, "evaluated_at": self.evaluated_at}


def evaluated(evaluation: dict | None, n_items: int, n_users: int) -> Tuned | None:
    """The settings an evaluation of this build chose, or None when it chose none (skipped, no data)."""
    if not evaluation or "chosen" not in evaluation or "fusion" not in evaluation:
        return None
    return Tuned({k: evaluation["chosen"][k] for k in BLEND_KNOBS}, dict(evaluation["fusion"]), n_items, n_users,
                 evaluation, evaluated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def served_tuning(manifest: dict | None, version: str | None) -> Tuned | None:
    """The tuned settings a served version holds, traced back to the version whose build evaluated."""
    record = (manifest or {}).get(TUNING_KEY)
    evaluation = (manifest or {}).get("evaluation")
    if not version or not isinstance(record, dict) or not isinstance(evaluation, dict):
        return None
    try:
        origin = record.get("evaluated_in") or version
        plain = {k: v for k, v in evaluation.items() if k != CARRIED_KEY}
        trees = int(manifest["trees"]) if manifest.get("search_method") == "tuned forest" else None
        return Tuned({k: float(record["blend"][k]) for k in BLEND_KNOBS}, dict(record["fusion"]),
                     int(record["item_count"]), int(record["user_count"]), plain, origin, record.get("evaluated_at"),
                     trees)
    except (KeyError, TypeError, ValueError):
        return None


def refusal(tuned: Tuned | None, n_items: int, n_users: int) -> str | None:
    """Why these settings cannot be reused for a catalog of this shape (None: they can)."""
    if tuned is None:
        return "the served version holds no tuned settings"
    for what, then, now in (("item", tuned.item_count, n_items), ("user", tuned.user_count, n_users)):
        if abs(now - then) > SHAPE_CHANGE_LIMIT * max(then, 1):
            return (f"the {what} count changed from {then:,} to {now:,} since the evaluation in "
                    f"{tuned.evaluated_in} (more than {SHAPE_CHANGE_LIMIT:.0%})")
    return None


def carried_evaluation(tuned: Tuned) -> dict:
    """The evaluation report as shown for a build that reused it: said to be carried forward."""
    return {**tuned.evaluation, CARRIED_KEY: {"from_version": tuned.evaluated_in, "evaluated_at": tuned.evaluated_at,
                                              "item_count": tuned.item_count, "user_count": tuned.user_count}}
