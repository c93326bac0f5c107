"""Automatic rebuilds reuse the served version's tuned settings instead of evaluating again (issue 12
"fresh within seconds", issue 15 "upload to served ≤ 20 s"); manual rebuilds and a catalog that
changed shape evaluate in full."""

from __future__ import annotations

import json

import recommender.builder
from recommender.index_store import IndexStore, read_manifest
from recommender.layout import BuildError
from recommender.store import Store
from recommender.tuning import Tuned, refusal, served_tuning
from worker.queue import AUTO_REASON, REBUILD_TASK


def counted_evaluate(monkeypatch, fail: bool = False) -> list:
    """Record every call of the builder's evaluation; with fail, any call fails the build."""
    calls, original = [], recommender.builder.evaluate_in_two

    def evaluate(*args, **kwargs):
        calls.append(1)
        if fail:
            raise AssertionError("an automatic rebuild of an unchanged catalog must not evaluate")
        return original(*args, **kwargs)
    monkeypatch.setattr(recommender.builder, "evaluate_in_two", evaluate)
    return calls


def served(data_dir) -> tuple[str, dict]:
    store = IndexStore(data_dir / "indexes")
    return store.current_version(), read_manifest(store.current_path())


def test_an_automatic_rebuild_reuses_the_served_settings_without_evaluating(run_task, monkeypatch):
    first, before = served(run_task.data_dir)
    assert "chosen" in before["evaluation"], "the fixture's first version must have been tuned"
    calls = counted_evaluate(monkeypatch, fail=True)
    for _ in range(2):  # the second carries from the version that evaluated, not from the carrier
        result = run_task(REBUILD_TASK, reason=AUTO_REASON)
        assert result.successful(), result.result
        version, after = served(run_task.data_dir)
        assert calls == [] and version != first
        carried = after["evaluation"]["carried_forward"]
        assert carried["from_version"] == first and carried["item_count"] == before["item_count"]
        assert after["evaluation"]["test"] == before["evaluation"]["test"]
        assert after["tuned_settings"]["carried"] is True and after["tuned_settings"]["evaluated_in"] == first
        assert after["settings"] == before["settings"] and isinstance(after["tuning"], list)  # Annoy's trials
        assert after["neighbour_model"]["fusion"] == before["neighbour_model"]["fusion"]


def test_a_manual_rebuild_evaluates_again(run_task, monkeypatch):
    first, _ = served(run_task.data_dir)
    assert run_task(REBUILD_TASK, reason=AUTO_REASON).successful()
    calls = counted_evaluate(monkeypatch)
    result = run_task(REBUILD_TASK, reason="manual")
    assert result.successful(), result.result
    version, manifest = served(run_task.data_dir)
    assert calls == [1]
    assert "carried_forward" not in manifest["evaluation"] and manifest["tuned_settings"]["carried"] is False
    assert served_tuning(manifest, version).evaluated_in == version


def test_an_automatic_rebuild_evaluates_when_the_item_count_changed_much(run_task, monkeypatch):
    assert run_task(REBUILD_TASK, reason=AUTO_REASON).successful()  # imports the catalog into the store
    _, before = served(run_task.data_dir)
    added = before["item_count"] // 10 + 1
    store = Store.open(None, run_task.data_dir)
    for n in range(added):
        store.put_item(f"new-{n}", {"title": f"A new film {n}", "categories": "Drama"})
    store.engine.dispose()
    calls = counted_evaluate(monkeypatch)
    assert run_task(REBUILD_TASK, reason=AUTO_REASON).successful()
    _, after = served(run_task.data_dir)
    assert calls == [1] and after["item_count"] == before["item_count"] + added
    assert "item count changed" in after["tuned_settings"]["full_evaluation_because"]
    assert "carried_forward" not in after["evaluation"]


def test_older_manifests_and_other_shapes_carry_nothing():
    old = {"evaluation": {"chosen": {"collaborative_weight": 0.5, "evidence_shrinkage": 10.0}}, "item_count": 100}
    assert served_tuning(old, "v1") is None and refusal(None, 100, 10) is not None
    tuned = Tuned({"collaborative_weight": 0.5, "evidence_shrinkage": 10.0}, {}, 1000, 200, {}, "v1")
    assert refusal(tuned, 1100, 220) is None
    assert "item count" in refusal(tuned, 1101, 200) and "user count" in refusal(tuned, 1000, 179)


def test_the_admin_page_says_the_evaluation_was_carried_forward(app, model):
    manifest = dict(model.manifest)
    template = app.jinja_env.get_template("partials/admin_evaluation.html")
    assert "Carried forward" not in template.render(m=manifest)
    manifest["evaluation"] = {**manifest["evaluation"], "carried_forward": {
        "from_version": "v-evaluated", "item_count": 80, "user_count": 40, "evaluated_at": None}}
    assert "Carried forward from version v-evaluated" in " ".join(template.render(m=manifest).split())


def test_a_carried_forest_size_is_tried_first_and_the_full_ladder_follows_if_it_fails(run_task, monkeypatch):
    store = IndexStore(run_task.data_dir / "indexes")
    manifest = read_manifest(store.current_path())
    manifest.update(search_method="tuned forest", trees=3)  # as a catalog above the exhaustive size records it
    (store.current_path() / "manifest.json").write_text(json.dumps(manifest))
    assert served_tuning(manifest, store.current_version()).annoy_trees == 3
    asked, original = [], recommender.builder.build_neighbour_search

    def neighbour_search(vectors, out_dir, floor, n_trees, *args):
        asked.append(n_trees)
        if n_trees == 3:
            raise BuildError("ANN recall@10 reached only 0.5")
        return original(vectors, out_dir, floor, n_trees, *args)
    monkeypatch.setattr(recommender.builder, "build_neighbour_search", neighbour_search)
    result = run_task(REBUILD_TASK, reason=AUTO_REASON)
    assert result.successful(), result.result
    assert asked == [3, None]
    assert read_manifest(store.current_path())["tuned_settings"]["annoy_trees_carried"] == 3
