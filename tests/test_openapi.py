"""The OpenAPI document: valid 3.1, covers every JSON route, readable at /api/docs, and the API keeps to it
under schemathesis' generated requests (public routes, and admin routes with the Bearer token)."""

from __future__ import annotations

import re
from html import unescape

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.test_admin import with_fake_queue
from web.openapi import openapi_document
from web.services import admin_actions

ADMIN = {"Authorization": "Bearer test-admin-token"}
INGEST_TOKEN = "fuzz-ingest-token"
INGEST = {"Authorization": f"Bearer {INGEST_TOKEN}"}
UNDOCUMENTED = {"/api/openapi.json", "/api/docs"}
FUZZ_EXAMPLES = 12


def flask_api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI-style path, method) of every JSON route the app serves."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in UNDOCUMENTED:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def documented(document) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def test_document_is_valid_openapi_31(client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_served_json_route_is_documented(app):
    missing = flask_api_routes(app) - documented(openapi_document())
    assert not missing, f"JSON routes missing from web/openapi.py: {sorted(missing)}"


def test_ingest_routes_are_documented():
    paths = openapi_document()["paths"]
    assert {"get", "put", "delete"} <= set(paths["/api/admin/items/{item_id}"])
    assert "post" in paths["/api/admin/items"] and "post" in paths["/api/events"]
    assert paths["/api/events"]["post"]["security"] == [{"ingestToken": []}, {"adminToken": []}]
    upload = paths["/api/admin/catalog"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["mode"]["enum"] == ["replace", "merge"]


def test_docs_page_lists_every_operation_without_scripts_from_elsewhere(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    text = unescape(response.get_data(as_text=True))
    for path, method in documented(openapi_document()):
        assert f"{method.upper()} {path}" in text
    assert "ItemInput" in text and "EventsAccepted" in text and "If-None-Match" in text
    assert not re.search(r"<script[^>]+src=\"https?://", text)


def test_docs_answer_304_on_their_etag(client):
    first = client.get("/api/openapi.json")
    again = client.get("/api/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


# -- fuzzing ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, small_catalog):
    """An app of its own (uploads and the SQLite store land in its own data dir), with the job queue on
    fakeredis and an ingest token for POST /api/events."""
    import celery

    data_dir = tmp_path_factory.mktemp("fuzz")
    build_and_publish(IndexStore(data_dir / "indexes"), small_catalog)
    broker = celery.Celery("fuzz", broker="memory://", backend="cache+memory://")
    app = with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake", INGEST_TOKEN=INGEST_TOKEN,
                                   DATABASE_URL=f"sqlite:///{data_dir / 'store.db'}"), broker)
    yield app
    app.extensions["store_of_record"].close()


def fuzz_schema(app):
    config = SchemathesisConfig()
    config.projects.default.generation.update(modes=[GenerationMode.POSITIVE], max_examples=FUZZ_EXAMPLES)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)
    served = flask_api_routes(app)
    # Operations documented for routes another branch adds are fuzzed once those routes are served here.
    return schema.include(lambda ctx: (ctx.operation.path, ctx.operation.method.lower()) in served)


CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def test_fuzz_json_api_keeps_to_the_document(fuzz_app, monkeypatch):
    """No 5xx, and every status code, content type and body is one the document describes."""
    monkeypatch.setattr(admin_actions, "ROLLBACK_WAIT_SECONDS", 0.05)
    schema = fuzz_schema(fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, "the public and admin operations must all be fuzzed"
    model = fuzz_app.extensions["model_holder"].model
    real_ids = st.sampled_from([None] + [item.item_id for item in model.popular(20)])
    failures = []
    for operation in operations:
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), real_id=real_ids)
        def run(case, real_id):
            if real_id is not None and "item_id" in (case.path_parameters or {}):
                case.path_parameters["item_id"] = real_id  # random ids are all 404s: answers of real items too
            response = case.call(headers=INGEST if case.operation.path == "/api/events" else ADMIN)
            assert response.status_code < 500, (case.path, case.query, response.status_code, response.text[:300])
            case.validate_response(response, checks=CHECKS)
        try:
            run()
        except AssertionError as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
        except Exception as exc:  # schemathesis raises its own failure types: collect them all, report together
            failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
