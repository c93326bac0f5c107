"""Issue 22 problem 6: which evaluations hold an automatic build back, and why, in plain words."""

from __future__ import annotations

from recommender.evaluation.quality_gate import held_back


def evaluation(hit_rate: float, ci: list[float], popular_ci: list[float], carried: bool = False) -> dict:
    row = {"hit_rate": hit_rate, "hit_rate_ci": ci,
           "vs": {"most-popular": {"difference": round((popular_ci[0] + popular_ci[1]) / 2, 4), "ci": popular_ci}}}
    report = {"served": "served", "test": {"served": row}}
    return {**report, "carried_forward": {"from_version": "v0"}} if carried else report


def test_significantly_worse_than_most_popular_is_held_back():
    """The issue's figures: -0.106 [-0.183, -0.030] against most-popular."""
    reason = held_back(evaluation(0.413, [0.37, 0.46], [-0.183, -0.030]), None)
    assert reason["peer"] == "most-popular" and reason["paired"]
    assert reason["reason"].startswith("this build recommends worse than simply showing popular items")


def test_an_interval_that_reaches_zero_is_not_held_back():
    assert held_back(evaluation(0.45, [0.40, 0.50], [-0.12, 0.01]), None) is None


def test_worse_than_the_served_versions_recorded_figure_is_held_back_and_says_it_is_unpaired():
    served = {"version": "v1", "evaluation": evaluation(0.60, [0.55, 0.65], [0.05, 0.15])}
    reason = held_back(evaluation(0.45, [0.40, 0.50], [0.01, 0.10]), served)
    assert reason["peer"] == "v1" and not reason["paired"] and "its own test split" in reason["reason"]
    assert held_back(evaluation(0.58, [0.52, 0.64], [0.01, 0.10]), served) is None


def test_a_carried_forward_or_skipped_evaluation_never_holds_a_build_back():
    assert held_back(evaluation(0.1, [0.05, 0.15], [-0.5, -0.4], carried=True), None) is None
    assert held_back({"skipped": "too few users"}, None) is None
    assert held_back(None, None) is None
