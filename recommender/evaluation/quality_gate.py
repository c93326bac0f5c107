"""The quality gate of automatic publishing: an automatic build whose served row is significantly
worse than simply showing popular items, or than the version served now, is kept but not published,
and the admin is told why in plain words. A manual publish still works (with that warning shown).

Against most-popular the comparison is paired (the evaluation's `vs` section: the served row minus
most-popular per test user, with a bootstrap 95% interval): significantly worse means the whole
interval lies below 0. Against the version served now the new build is not re-scored on the old
split nor the old model on the new one (that would double an evaluation's cost): the new build's
HitRate interval is compared with the HitRate the served version recorded on its own split, and the
build is held back only when the whole interval lies below it. That comparison is unpaired and across
splits, and the reason says so.
"""

from __future__ import annotations

from recommender.tuning import CARRIED_KEY

SERVED_ROW = "served"  # the report's default served row (recommender/evaluation/evaluator.py SERVED); not
# imported from there, so that web processes, which read manifests through the pipeline, skip SciPy
POPULAR_PEER = "most-popular"
WORSE_THAN_POPULAR = "this build recommends worse than simply showing popular items"


def _served_row(evaluation: dict | None) -> dict | None:
    """The served method's test row of an evaluation, or None when it has none (skipped, no data)."""
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("test"), dict):
        return None
    row = evaluation["test"].get(evaluation.get("served") or SERVED_ROW)
    return row if isinstance(row, dict) and "hit_rate" in row else None


def held_back(evaluation: dict | None, served_manifest: dict | None) -> dict | None:
    """Why an automatic build with this evaluation must not be published (None: it may be).

    Only an evaluation this build ran counts: one carried forward is the served version's own."""
    row = _served_row(evaluation)
    if row is None or CARRIED_KEY in evaluation:
        return None
    popular = (row.get("vs") or {}).get(POPULAR_PEER)
    if popular and popular["ci"][1] < 0:
        return {"peer": POPULAR_PEER, "difference": popular["difference"], "ci": popular["ci"], "paired": True,
                "reason": f"{WORSE_THAN_POPULAR} (HitRate {popular['difference']:+.3f}, paired 95% interval "
                          f"[{popular['ci'][0]:+.3f}, {popular['ci'][1]:+.3f}])"}
    served = _served_row((served_manifest or {}).get("evaluation"))
    interval = row.get("hit_rate_ci")
    if served is None or not interval or interval[1] >= served["hit_rate"]:
        return None
    version = (served_manifest or {}).get("version")
    return {"peer": version, "difference": round(row["hit_rate"] - served["hit_rate"], 4), "paired": False,
            "ci": [round(interval[0] - served["hit_rate"], 4), round(interval[1] - served["hit_rate"], 4)],
            "reason": f"this build recommends worse than the version served now ({version}): HitRate "
                      f"{row['hit_rate']:.3f} [{interval[0]:.3f}, {interval[1]:.3f}] against the "
                      f"{served['hit_rate']:.3f} that version recorded on its own test split"}
