"""Real gunicorn with two workers: from the moment the start or stop call of an A/B test returns, every
worker answers each visitor from their arm (issue 22, item 5). Each request opens its own connection, so
four at a time keep both (sync) workers answering."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from recommender.index_store import IndexStore
from recommender.metrics.arms import CHALLENGER, assign_arm
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import http_call, live_stack

ADMIN = {"Authorization": "Bearer integration-admin-token", "Content-Type": "application/json"}
VISITORS = 40


def _version(base: str, visitor: str) -> str:
    status, headers, _ = http_call(base, f"/api/items/1000/similar?k=3&visitor={visitor}")
    assert status == 200
    return headers["X-Index-Version"]


def _versions(base: str, visitors: list[str]) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda visitor: _version(base, visitor), visitors))


def _expected(experiment: dict, visitor: str) -> str:
    arm = assign_arm(visitor, experiment["experiment_id"], experiment["share"])
    return experiment["challenger"] if arm == CHALLENGER else experiment["control"]


def test_start_and_stop_are_exact_in_both_gunicorn_workers(tmp_path):
    data_dir = tmp_path / "data"
    store = IndexStore(data_dir / "indexes")
    challenger = build_and_publish(store, make_catalog(tmp_path / "a", seed=3))
    control = build_and_publish(store, make_catalog(tmp_path / "b", seed=5))
    logs = tmp_path / "logs"
    logs.mkdir()
    with live_stack(data_dir, logs, f"likewise-test-{uuid.uuid4().hex[:8]}:", workers=2) as stack:
        assert set(_versions(stack.base, [f"warm-{n}" for n in range(40)])) == {control}  # both workers read "none"
        body = json.dumps({"challenger": challenger, "share": 0.5}).encode()
        status, _, raw = http_call(stack.base, "/api/admin/experiments", "POST", body, ADMIN)
        assert status == 201, raw
        experiment = json.loads(raw)
        visitors = [f"new-{n}" for n in range(VISITORS)]
        answered = _versions(stack.base, visitors)
        wrong = [v for v, got in zip(visitors, answered) if got != _expected(experiment, v)]
        assert wrong == [], f"{len(wrong)} of {VISITORS} answers right after the start were not the visitor's arm"
        stopped, _, raw = http_call(stack.base, f"/api/admin/experiments/{experiment['experiment_id']}/stop",
                                    "POST", json.dumps({"promote": None}).encode(), ADMIN)
        assert stopped == 200, raw
        assert set(_versions(stack.base, visitors)) == {control}, "no challenger once the stop returned"
