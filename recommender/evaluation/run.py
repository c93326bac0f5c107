"""Offline evaluation of similar-items quality against baselines and well-known item-to-item peers,
by a leave-last-out protocol.

For each user, the last positive interaction (by time) is held out; the query is the user's
previous positive item; each method recommends 10 items similar to the query, skipping items the
user already interacted with. Models are trained without the held-out interactions. Knobs (the
blend weight, EASE's lambda, the served fusion's weights) are chosen on a validation split made the
same way from the earlier interactions, never on the test split. Every method gets a bootstrap 95%
interval for HitRate@10; the served method's difference against each peer gets a paired one."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from recommender.evaluation.evaluator import METHODS, PEERS, SERVED, Evaluator
from recommender.evaluation.for_you_rows import for_you_rows, format_for_you
from recommender.evaluation.fusion_tuning import tune_served
from recommender.evaluation.list_rows import format_panel_rows, panel_evaluation
from recommender.evaluation.protocol import K, Split, leave_last_out
from recommender.similarity.fusion import WEIGHTED_SOURCES, FusionSettings
from recommender.similarity.itemitem import ease_fits, rated_matrix
from recommender.similarity.series import series_pairs
from recommender.similarity.vectors import BlendSettings, content_vectors

WEIGHT_GRID = (0.0, 0.3, 0.5, 0.7, 0.9)
SHRINKAGE_GRID = (2.0, 10.0, 30.0)
MIN_USERS = 10


def choose_blend(scored: list[tuple[BlendSettings, dict]], users: int) -> tuple[BlendSettings, dict]:
    """One-standard-error rule: of the blends whose validation HitRate is within one standard error
    of the best, the one that leans most on content. Where the data cannot tell blends apart, the
    neighbours that are recognisably alike (same franchise, genre, era) win."""
    best_rate = max(metrics["hit_rate"] for _, metrics in scored)
    standard_error = float(np.sqrt(best_rate * (1 - best_rate) / max(users, 1)))
    eligible = [(c, m) for c, m in scored if m["hit_rate"] >= best_rate - standard_error]
    return min(eligible, key=lambda pair: (pair[0].collaborative_weight, -pair[0].evidence_shrinkage))


def evaluate(items: pd.DataFrame, interactions: pd.DataFrame, settings: BlendSettings = BlendSettings(),
             content: np.ndarray | None = None) -> dict:
    """Choose the blend and the served fusion on validation, then report every method on the test split.

    Returns {"chosen": {...blend knobs}, "fusion": {...}, "validation": {...}, "test": {method: metrics},
    "served": name of the served row, "series": {...}, ...}.
    """
    _, report = evaluate_in_two(items, interactions, settings, content)
    return report()


def evaluate_in_two(items: pd.DataFrame, interactions: pd.DataFrame, settings: BlendSettings = BlendSettings(),
                    content: np.ndarray | None = None,
                    served_fusion: FusionSettings | None = None,
                    baskets: pd.DataFrame | None = None) -> tuple[dict, Callable[[], dict]]:
    """(what the validation split chose: the report without its test split, a function that ranks every
    method on the test split and returns the whole report). A build needs only the choice to go on, so
    it ranks the test split while it builds the index (a third of the evaluation at demo size).

    Given the fusion the version served now chose, the report also holds the served row minus that fusion
    trained on this very split (`test.served.vs_served_now`, paired): the quality gate's second question."""
    started = time.perf_counter()
    items = items.reset_index(drop=True)
    content = content_vectors(items, settings) if content is None else content
    test_split = leave_last_out(interactions)
    validation_split = leave_last_out(test_split.train)
    skipped = None
    if len(items) <= 2 * K:
        skipped = {"skipped": f"the catalog has {len(items)} items; evaluation at k={K} needs more than {2 * K}"}
    elif len(test_split) < MIN_USERS or len(validation_split) < MIN_USERS:
        skipped = {"skipped": f"too few users with two liked items ({len(test_split)}); need at least {MIN_USERS}"}
    if skipped:
        return skipped, lambda: skipped
    # raters of the validation split's training rows only, so no held-out item shapes the series pairs
    pairs = series_pairs(items["title"].astype(str).tolist(), content,
                         raters=rated_matrix(items, validation_split.train))
    evaluator = Evaluator(items, content, settings, pairs=pairs)
    choice = _choose_on_validation(evaluator, validation_split, settings)
    choice["ease"] = {"lambda": evaluator.fusion.ease_lambda,
                      "skipped": ease_fits(len(items), interactions["user_id"].nunique())}
    choice["series"] = {"pairs": int(len(pairs)), "rule": "shared title stem with a sequel marker or subtitle, "
                        "or an uncommon two-word prefix, and close content; or a title extended or "
                        "used as a subtitle, close in content and sharing raters"}
    choice["served_as"] = describe_fusion(choice["fusion"], len(pairs))
    choice["validation_seconds"] = round(time.perf_counter() - started, 2)

    def report() -> dict:
        test = evaluator.run(test_split)
        test[SERVED]["vs"] = evaluator.paired_differences()
        if served_fusion is not None and SERVED in evaluator.hits:
            test[SERVED]["vs_served_now"] = evaluator.against_fusion(test_split, served_fusion)
        for_you = for_you_rows(evaluator, test_split)
        return {**choice, "test": test, "test_users": len(test_split), "for_you": for_you,
                "panels": panel_evaluation(items, interactions, baskets),  # issue 24: trending, bought together
                "seconds": round(time.perf_counter() - started, 2)}
    return choice, report


def _choose_on_validation(evaluator: Evaluator, split: Split, settings: BlendSettings) -> dict:
    """The blend (for the vectors Annoy searches) and the served fusion, chosen on the validation split;
    the evaluator is left set to both."""
    grid = [replace(settings, collaborative_weight=w, evidence_shrinkage=s)
            for w in WEIGHT_GRID for s in SHRINKAGE_GRID]
    validation = evaluator.run(split, methods=(), grid=grid)
    best, best_metrics = choose_blend(validation["_grid"], len(split))
    evaluator.settings = replace(settings, collaborative_weight=best.collaborative_weight,
                                 evidence_shrinkage=best.evidence_shrinkage)
    fusion, tuning = tune_served(evaluator, split)
    evaluator.fusion = fusion
    return {
        "protocol": "leave-last-positive-out by time; query = previous positive; k=10; seen items excluded",
        "k": K,
        "served": SERVED,
        "methods": list(METHODS),
        "peers": list(PEERS),
        "chosen": {"collaborative_weight": best.collaborative_weight, "evidence_shrinkage": best.evidence_shrinkage},
        "fusion": fusion.as_dict(),
        "validation": {"users": len(split), "blend": best_metrics,
                       "best_hit_rate": max(m["hit_rate"] for _, m in validation["_grid"]), **tuning},
    }


def _row(method: str, m: dict, k: int, served: str) -> str:
    if "skipped" in m:
        return f"| {method} | - | - | - | - | - | {m['skipped']} |"
    low, high = m.get("hit_rate_ci", [0.0, 0.0])
    series = "-" if m.get("series_hit_rate") is None else f"{m['series_hit_rate']:.3f}"
    return (f"| {method} | {m['hit_rate']:.4f} | {m['ndcg']:.4f} | {m['coverage']:.4f} | [{low:.3f}, {high:.3f}] "
            f"| {series} | {'served' if method == served else ''} |")


def describe_fusion(fusion: dict, pairs: int) -> str:
    """The served fusion in words, naming only the parts it uses (for the table, /admin and the API)."""
    base = f"EASE (lambda {fusion['ease_lambda']:g})" if fusion.get("ease_lambda") and fusion.get("base") == "EASE" \
        else "item-kNN BM25"
    parts = [base] + [f"{fusion[knob]:g} x {name}" for _, knob, name in WEIGHTED_SOURCES if fusion.get(knob)]
    text = " + ".join(parts)
    if fusion.get("category_weight"):
        text += f", scaled by {1 - fusion['category_weight']:g} where no category is shared"
    if fusion.get("popularity_exponent"):
        text += f", popularity damped by exponent {fusion['popularity_exponent']:g}"
    if fusion.get("evidence_shrinkage"):
        text += f", leaning on content for items with few raters (shrinkage {fusion['evidence_shrinkage']:g})"
    return text + f", series companions first ({pairs:,} title pairs)"


def format_table(report: dict) -> str:
    """The evaluation as a markdown table, as printed by `flask evaluate`: every method with its
    bootstrap interval and series check, then the served method's paired differences."""
    if "test" not in report:
        return f"evaluation skipped: {report.get('skipped', 'no interactions')}"
    k, served = report["k"], report.get("served", SERVED)
    lines = [f"| method | HitRate@{k} | NDCG@{k} | coverage@{k} | HitRate 95% CI | series@{k} | |",
             "|---|---:|---:|---:|---|---:|---|"]
    lines += [_row(method, report["test"][method], k, served) for method in report.get("methods", METHODS)]
    differences = report["test"].get(served, {}).get("vs", {})
    if differences:
        lines += ["", f"| {served} minus | HitRate@{k} difference | paired 95% CI |", "|---|---:|---|"]
        lines += [f"| {peer} | {d['difference']:+.4f} | [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] |"
                  for peer, d in differences.items()]
    chosen, fusion = report["chosen"], report.get("fusion", {})
    lines.append("")
    lines.append(f"{report['test_users']} test users; blend chosen on validation: collaborative weight "
                 f"{chosen['collaborative_weight']}, evidence shrinkage {chosen['evidence_shrinkage']}")
    if fusion:
        lines.append(f"served = {report.get('served_as') or describe_fusion(fusion, report['series']['pairs'])}; "
                     "chosen on validation")
    if report.get("ease", {}).get("skipped"):
        lines.append(report["ease"]["skipped"])
    if "for_you" in report:
        lines += format_for_you(report["for_you"])
    lines += format_panel_rows(report.get("panels"))
    return "\n".join(lines)
