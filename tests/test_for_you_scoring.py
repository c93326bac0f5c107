"""The for-you scoring on its own (recommender/panels/for_you.py) and its rows in the per-build evaluation:
weights by type and age, the seen and removed items left out, and the three rows on the evaluation's split."""

from __future__ import annotations

import pytest

from recommender.evaluation.for_you_rows import FOR_YOU, HISTORY_KNN, POPULAR, ROWS
from recommender.evaluation.run import evaluate, format_table
from recommender.event_weights import DEFAULT_EVENT_WEIGHTS
from recommender.limits import FOR_YOU_HALF_LIFE_DAYS
from recommender.panels.for_you import DAY_SECONDS, interest, recommend
from recommender.removal import without_removed
from recommender.store.user_data import HistoryEvent

NOW = 1_800_000_000.0


def test_interest_weighs_type_and_halves_with_each_half_life():
    history = [HistoryEvent("a", "view", None, NOW), HistoryEvent("b", "purchase", None, NOW),
               HistoryEvent("c", "view", None, NOW - FOR_YOU_HALF_LIFE_DAYS * DAY_SECONDS),
               HistoryEvent("d", "rating", 2.0, NOW), HistoryEvent("e", "rating", 4.5, NOW)]
    found = interest(history, DEFAULT_EVENT_WEIGHTS, NOW)
    assert found["b"] == pytest.approx(DEFAULT_EVENT_WEIGHTS["purchase"] * found["a"])
    assert found["c"] == pytest.approx(found["a"] / 2)
    assert "d" not in found and found["e"] == pytest.approx(2.0)


def _history(model, rows) -> list[HistoryEvent]:
    return [HistoryEvent(model.table.value("item_id", row), "view", None, NOW - i) for i, row in enumerate(rows)]


def test_seen_items_are_left_out_and_every_card_names_a_seen_item(model):
    seen = [0, 1, 2]
    history = _history(model, seen)
    answer = recommend(model, history, 10, DEFAULT_EVENT_WEIGHTS, NOW)
    seen_ids = {e.item_id for e in history}
    titles = {model.table.title(row) for row in seen}
    assert answer.basis == "history" and len(answer.results) == 10
    assert not seen_ids & {r.item_id for r in answer.results}
    assert all(r.because and set(r.because) <= titles for r in answer.results)
    with_seen = recommend(model, history, len(model) - 1, DEFAULT_EVENT_WEIGHTS, NOW, include_seen=True)
    assert seen_ids & {r.item_id for r in with_seen.results}


def test_removed_items_never_show_and_unknown_history_is_the_cold_answer(model):
    history = _history(model, [0, 1, 2])
    first = recommend(model, history, 5, DEFAULT_EVENT_WEIGHTS, NOW).results[0].item_id
    view = without_removed(model, frozenset({first}))
    assert first not in {r.item_id for r in recommend(view, history, 20, DEFAULT_EVENT_WEIGHTS, NOW).results}
    cold = recommend(model, [HistoryEvent("no-such-item", "view", None, NOW)], 5, DEFAULT_EVENT_WEIGHTS, NOW)
    assert cold.basis == "trending" and [r.item_id for r in cold.results] == [i.item_id for i in model.popular(5)]


def test_the_evaluation_report_has_for_you_rows_on_the_test_split(small_catalog):
    catalog = small_catalog.load()
    report = evaluate(catalog.items, catalog.interactions)
    rows = report["for_you"]
    for name in ROWS:
        low, high = rows[name]["hit_rate_ci"]
        assert rows[name]["users"] == report["test_users"] and low <= rows[name]["hit_rate"] <= high
        assert rows[name]["ndcg"] <= rows[name]["hit_rate"]
    assert rows[POPULAR]["hit_rate"] == report["test"]["most-popular"]["hit_rate"]
    assert set(rows["vs"]) == {POPULAR, HISTORY_KNN}
    assert f"| {FOR_YOU} |" in format_table(report) and "for-you minus most-popular" in format_table(report)
