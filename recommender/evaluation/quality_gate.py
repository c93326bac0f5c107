"""The quality gate of automatic publishing: an automatic build whose served row is significantly
worse than simply showing popular items, or than the version served now, is kept but not published,
and the admin is told why in plain words. A manual publish still works (with that warning shown).

Against most-popular the comparison is paired (the evaluation's `vs` section: the served row minus
most-popular per test user, with a bootstrap 95% interval): significantly worse means the whole
interval lies below 0. Against the version served now it is paired too and on the same
split: the fusion that version chose is trained on this build's training rows and ranked for the same
test users (`vs_served_now`). The served model itself is not scored: it was trained on this split's
held-out interactions and would be scored on what it had seen.
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
    now = row.get("vs_served_now")
    if not now or now["ci"][1] >= 0:
        return None
    version = (served_manifest or {}).get("version")
    return {"peer": version, "difference": now["difference"], "ci": now["ci"], "paired": True,
            "reason": f"this build recommends worse than the version served now ({version}) on the same test "
                      f"users (HitRate {now['difference']:+.3f}, paired 95% interval "
                      f"[{now['ci'][0]:+.3f}, {now['ci'][1]:+.3f}])"}
