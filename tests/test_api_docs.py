"""/api/docs as readable sections made from the OpenAPI document (issue 27 item 4): each operation's
parameters, body fields, one example request and answer and its status codes, a table of contents, no raw
JSON schema, no script of its own. The examples are real: each answer is one its schema accepts, and each
example request, sent to an app serving a MovieLens sample, gets the status its example shows."""

from __future__ import annotations

import io
import re
from html import unescape

import celery
import jsonschema
import pytest

from recommender.catalog.demo import movielens_frames
from recommender.catalog.sources import ActiveCatalog, CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.test_admin import with_fake_queue
from web.apidocs.examples import JSON, resolve
from web.openapi import openapi_document

ADMIN = {"Authorization": "Bearer test-admin-token"}
INGEST_TOKEN = "docs-ingest-token"
SAMPLE_MOVIES = 300
METHODS = ("get", "put", "post", "delete", "patch")


def operations(document: dict):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def schema_validator(document: dict, schema: dict):
    """A validator of `schema` whose `#/components/...` references resolve in the document."""
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_every_operation_has_an_example_request_and_an_answer_its_schema_accepts():
    document = openapi_document()
    for path, method, operation in operations(document):
        status = operation.get("x-example-status")
        assert status in operation["responses"], (method, path)
        assert "x-example-request" in operation, (method, path)
        response = resolve(document, operation["responses"][status])
        content = response.get("content", {}).get(JSON)
        if content is not None:
            errors = list(schema_validator(document, content["schema"]).iter_errors(content["example"]))
            assert not errors, (method, path, [e.message for e in errors[:3]])
        body = operation.get("requestBody", {}).get("content", {}).get(JSON)
        if body is not None:
            errors = list(schema_validator(document, body["schema"]).iter_errors(body["example"]))
            assert not errors, (method, path, [e.message for e in errors[:3]])


@pytest.fixture(scope="module")
def sample_app(tmp_path_factory):
    """An app serving the first 300 MovieLens movies (Toy Story is item 1) and their ratings, with a SQLite
    store, the job queue on fakeredis and an ingest token."""
    data_dir = tmp_path_factory.mktemp("docs")
    items, interactions, _ = movielens_frames()
    items = items[items["item_id"].astype(int) <= SAMPLE_MOVIES]
    interactions = interactions[interactions["item_id"].isin(items["item_id"])]
    source = data_dir / "source"
    source.mkdir()
    items.to_csv(source / "items.csv", index=False)
    interactions.to_csv(source / "interactions.csv", index=False)
    files = CatalogFiles(source / "items.csv", source / "interactions.csv")
    ActiveCatalog(data_dir / "catalog").replace_with(files)
    build_and_publish(IndexStore(data_dir / "indexes"), files)
    broker = celery.Celery("docs", broker="memory://", backend="cache+memory://")
    app = with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake", INGEST_TOKEN=INGEST_TOKEN,
                                   DATABASE_URL=f"sqlite:///{data_dir / 'store.db'}"), broker)
    yield app
    app.extensions["store_of_record"].close()


def example_call(client, path: str, method: str, operation: dict):
    example = operation["x-example-request"]
    for name, value in example.get("path", {}).items():
        path = path.replace("{" + name + "}", str(value))
    schemes = [name for scheme in operation.get("security", [])[:1] for name in scheme]
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"} if schemes == ["ingestToken"] else \
        ADMIN if schemes else {}
    content = operation.get("requestBody", {}).get("content", {})
    kwargs = {}
    if JSON in content:
        kwargs["json"] = example.get("body")
    elif "multipart/form-data" in content:
        kwargs["data"] = {name: (io.BytesIO(value.encode()), f"{name}.csv") if name in ("items", "interactions")
                          else value for name, value in example["body"].items()}
    return client.open(path, method=method.upper(), query_string=example.get("query"), headers=headers, **kwargs)


def test_each_example_request_gets_the_status_its_example_shows(sample_app):
    """In the document's order (the batch example stores the items the single-item examples read); an example
    naming a job, a kept version or an experiment gets its documented 'missing' status here."""
    client = sample_app.test_client()
    document = openapi_document()
    seen = []
    for path, method, operation in operations(document):
        response = example_call(client, path, method, operation)
        expected = operation.get("x-example-missing-status") or operation["x-example-status"]
        seen.append((method.upper(), path, response.status_code, int(expected)))
        if operation.get("x-example-missing-status") is None:
            assert response.status_code < 400, (method, path, response.get_data(as_text=True)[:300])
    assert [s for s in seen if s[2] != s[3]] == []
    assert len(seen) >= 20


def test_the_docs_page_has_a_section_per_operation_with_curl_fields_answer_and_statuses(client):
    response = client.get("/api/docs")
    html = response.get_data(as_text=True)
    text = unescape(html)
    document = openapi_document()
    for path, method, operation in operations(document):
        anchor = operation["operationId"]
        assert f'href="#{anchor}"' in html and f'id="{anchor}"' in html
        section = text[text.index(f'id="{anchor}"'):]
        section = section[:section.index("</section>")]
        assert f"{method.upper()} {path}" in section and "curl" in section and "Status codes" in section
        for code in operation["responses"]:
            assert f"<code>{code}</code>" in section, (anchor, code)
    assert "curl 'http://127.0.0.1:5000/api/items/1/similar?k=5'" in text
    assert '-H "Authorization: Bearer $ADMIN_TOKEN"' in text and "Toy Story 2 (1999)" in text
    assert '"type": "object"' not in text and '"$ref"' not in text, "no raw JSON schema on the page"
    assert re.findall(r"<script[^>]*>", html) == [re.search(r"<script[^>]*>", html).group(0)]
    assert "vendor/htmx" in re.search(r"<script[^>]*>", html).group(0)
    assert " style=" not in html and "<style" not in html, "CSP: no inline styles"
    assert 'id="schema-Item"' in html and "whole number" in text
