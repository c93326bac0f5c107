"""The metrics and A/B test routes answer what web/openapi.py documents, with real counts in the database.

The schemathesis fuzz mostly meets empty metrics and unknown experiments; this walks an experiment through
start, report and stop with tracked panels, beacons and clicks, and checks each answer against the document.
"""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from tests.test_admin import with_fake_queue
from tests.test_metrics_tracking import ADMIN, BROWSER, flush, panel
from web.openapi import openapi_document

VISITORS = 30


@pytest.fixture
def metrics_app(tmp_path, celery_app):
    """Two kept versions (the second served), an SQLite database of its own and the job queue on fakeredis."""
    data_dir = tmp_path / "data"
    store = IndexStore(data_dir / "indexes")
    old = build_and_publish(store, make_catalog(tmp_path / "a", n_items=40, seed=1))
    new = build_and_publish(store, make_catalog(tmp_path / "b", n_items=40, seed=2))
    app = with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake",
                                   DATABASE_URL=f"sqlite:///{tmp_path / 'metrics.db'}"), celery_app)
    yield app, old, new
    app.extensions["tracking"].database.close()


def keeps_to_document(response, path: str, method: str) -> dict:
    """The answer's status is documented for the operation and its JSON body fits the documented schema."""
    document = openapi_document()
    documented = document["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (path, response.status_code, response.get_data(as_text=True))
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    body = response.get_json()
    errors = list(Draft202012Validator({**schema, "components": document["components"]}).iter_errors(body))
    assert not errors, (path, response.status_code, [e.message for e in errors[:3]])
    return body


def count_some_traffic(app, client) -> None:
    for visitor in range(VISITORS):
        tracked = client.get(f"/api/items/1000/similar?k=4&track=1&visitor=v{visitor}").get_json()
        if visitor % 3 == 0:
            client.get(tracked["results"][visitor % 4]["click_url"], headers=BROWSER)
    _, links, beacons = panel(client, k=3)
    client.get(beacons[0], headers=BROWSER)
    client.get(links[2], headers=BROWSER)
    flush(app)


def test_metrics_answers_keep_to_the_document(metrics_app):
    app, _, _ = metrics_app
    client = app.test_client()
    count_some_traffic(app, client)
    answer = keeps_to_document(client.get("/api/admin/metrics?since=2020-01-01", headers=ADMIN),
                               "/api/admin/metrics", "get")
    assert answer["versions"] and answer["versions"][0]["by_position"] and "api" in answer["versions"][0]["by_surface"]
    for bad in ("²", "yesterday", "nan"):
        refused = client.get("/api/admin/metrics", query_string={"until": bad}, headers=ADMIN)
        assert "until" in keeps_to_document(refused, "/api/admin/metrics", "get")["error"]
        assert refused.status_code == 400


def test_experiment_answers_keep_to_the_document(metrics_app):
    app, old, new = metrics_app
    client = app.test_client()
    start, one, stop = "/api/admin/experiments", "/api/admin/experiments/{experiment_id}", \
        "/api/admin/experiments/{experiment_id}/stop"
    for body in ([1], {"challenger": new}, {"challenger": old, "share": 2}):
        assert keeps_to_document(client.post(start, json=body, headers=ADMIN), start, "post")["error"]
    started = keeps_to_document(client.post(start, json={"challenger": old, "share": 0.4}, headers=ADMIN),
                                start, "post")
    assert started["running"] and (started["control"], started["challenger"]) == (new, old)
    assert "already running" in keeps_to_document(client.post(start, json={"challenger": old}, headers=ADMIN),
                                                   start, "post")["error"]
    count_some_traffic(app, client)
    experiment = f"/api/admin/experiments/{started['experiment_id']}"
    report = keeps_to_document(client.get(experiment, headers=ADMIN), one, "get")
    assert sum(arm["impressions"] for arm in report["arms"]) == VISITORS + 1
    assert keeps_to_document(client.get(f"{start}/no-such-id", headers=ADMIN), one, "get")["error"]
    assert keeps_to_document(client.post(f"{experiment}/stop", json={"promote": 7}, headers=ADMIN), stop, "post")
    stopped = keeps_to_document(client.post(f"{experiment}/stop", json={"promote": old}, headers=ADMIN), stop, "post")
    assert not stopped["running"] and stopped["promoted"] == old and stopped["promote_job_id"]
    again = client.post(f"{experiment}/stop", json={}, headers=ADMIN)
    assert again.status_code == 409 and keeps_to_document(again, stop, "post")
