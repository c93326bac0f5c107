"""The JSON API: the same answers as the pages, as plain data, with JSON errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog

HOSTILE_TITLE = "<script>alert(1)</script> River <img src=x onerror=alert(2)>"


def current_version(app) -> str:
    version = IndexStore(app.extensions["settings"].data_dir / "indexes").current_version()
    assert version
    return version


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_item(app, client, model):
    """/api/items/<id> returns the item's fields and the index version."""
    response = client.get("/api/items/1000")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["item"] == model.get_item("1000").as_dict()
    assert body["item"]["item_id"] == "1000"
    assert isinstance(body["item"]["categories"], list)
    assert body["index_version"] == response.headers["X-Index-Version"] == current_version(app)


def test_similar_shape(app, client, model):
    """/api/items/<id>/similar?k=3 returns the item, k results with id, title and score, and the version."""
    response = client.get("/api/items/1000/similar?k=3")
    assert response.status_code == 200
    body = response.get_json()
    assert {"item", "results", "index_version"} <= set(body)
    assert body["item"]["item_id"] == "1000"
    assert len(body["results"]) == 3
    for result in body["results"]:
        assert {"item_id", "title", "score"} <= set(result)
        assert isinstance(result["item_id"], str) and isinstance(result["score"], float)
    expected = model.get_similar_items("1000", 3)
    assert [r["item_id"] for r in body["results"]] == [r.item_id for r in expected]
    assert [r["title"] for r in body["results"]] == [r.title for r in expected]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert body["index_version"] == response.headers["X-Index-Version"] == current_version(app)


@pytest.mark.parametrize("k", [1, 10, 100])
def test_similar_k(client, k):
    """k is honoured across its whole range (the catalog has 80 items, so at most 79 others)."""
    body = client.get(f"/api/items/1000/similar?k={k}").get_json()
    ids = [r["item_id"] for r in body["results"]]
    assert len(ids) == min(k, 79) and "1000" not in ids and len(set(ids)) == len(ids)


def test_similar_default_k(client):
    """Without k the API answers with the default of 10."""
    assert len(client.get("/api/items/1000/similar").get_json()["results"]) == 10


def test_search(client, model):
    """/api/search?q= returns the same hits as the model, with highlight pieces."""
    response = client.get("/api/search?q=river")
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == "river"
    expected = [r.item.item_id for r in model.search("river", 20)]
    assert [r["item_id"] for r in body["results"]] == expected
    for result in body["results"]:
        assert "".join(piece for piece, _ in result["highlights"]) == result["title"]
        assert any(matched for _, matched in result["highlights"])
    assert body["index_version"]


@pytest.mark.parametrize("query", ["", "%", "<script>alert(1)</script>", "東京物語", "\x00", "x" * 5000])
def test_search_odd_queries(client, query):
    """Odd queries give a JSON answer with a list of results, and long ones are cut to 200 chars."""
    response = client.get("/api/search", query_string={"q": query})
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body["results"], list)
    assert body["query"] == query[:200]


def test_unknown_item_is_json_404(client):
    """Unknown items answer with a JSON error naming the id, on both endpoints."""
    assert "nope" in assert_json_error(client.get("/api/items/nope"), 404)
    assert "nope" in assert_json_error(client.get("/api/items/nope/similar?k=3"), 404)


@pytest.mark.parametrize("k", ["abc", "0", "101", "-1", str(10**9), "2.5"])
def test_bad_k_is_json_400(client, k):
    """A bad k is a JSON 400 whose message is about k."""
    message = assert_json_error(client.get("/api/items/1000/similar", query_string={"k": k}), 400)
    assert re.search(r"\bk\b", message), message


@pytest.mark.parametrize("path", ["/api/items/%00", "/api/items/%00/similar", "/api/items/" + "x" * 500])
def test_bad_ids_are_json_400(client, path):
    """Control characters and huge ids are JSON client errors."""
    assert_json_error(client.get(path), 400)


def test_unknown_api_route_is_json_404(client):
    """Under /api everything answers JSON, even a route that does not exist."""
    assert_json_error(client.get("/api/nothing-here"), 404)


def test_wrong_method_is_json_405(client):
    """POST to a read-only endpoint is a JSON 405, not a CSRF page."""
    assert_json_error(client.post("/api/items/1000"), 405)


def test_api_without_index_is_json_503(tmp_path):
    """Before the first build the API says so in JSON, with a 503."""
    client = make_app(tmp_path).test_client()
    message = assert_json_error(client.get("/api/items/1000/similar"), 503)
    assert "index" in message.lower()
    assert_json_error(client.get("/api/search?q=x"), 503)


def test_hostile_title_is_plain_text_in_json(tmp_path):
    """JSON carries titles exactly as stored: no HTML escaping, and served as application/json."""
    files = make_catalog(tmp_path / "catalog")
    items = pd.read_csv(files.items, dtype=str)
    items.loc[items["item_id"] == "1000", "title"] = HOSTILE_TITLE
    items.to_csv(files.items, index=False)
    build_and_publish(IndexStore(tmp_path / "data" / "indexes"), files)
    client = make_app(tmp_path / "data").test_client()
    item = client.get("/api/items/1000")
    assert item.mimetype == "application/json"
    assert item.headers.get("X-Content-Type-Options") == "nosniff"
    assert item.get_json()["item"]["title"] == HOSTILE_TITLE
    hits = client.get("/api/search?q=script").get_json()["results"]
    assert [h["title"] for h in hits if h["item_id"] == "1000"] == [HOSTILE_TITLE]
    model = client.application.extensions["model_holder"].model
    neighbour = next(i for i in model.items["item_id"]
                     if "1000" in [r.item_id for r in model.get_similar_items(i, 20)] and i != "1000")
    results = client.get(f"/api/items/{neighbour}/similar?k=20").get_json()["results"]
    assert [r["title"] for r in results if r["item_id"] == "1000"] == [HOSTILE_TITLE]
