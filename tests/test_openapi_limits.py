"""Issue 23 (low): the OpenAPI document publishes the limits the server enforces (from recommender/limits.py
and the store's validation), and a value its patterns allow is one the server takes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.limits import FILTER_VALUES_MAX, ITEM_ID_MAX_CHARS, JSON_MAX_DEPTH
from recommender.store.event_validation import parse_timestamp
from recommender.store.validation import MAX_URL_CHARS, _attribute_problem, _categories_problem, _url_problem
from web.openapi import openapi_document
from web.services.panel_metrics import parse_moment

EXAMPLES = 400


def document() -> dict:
    return openapi_document()


def item_input() -> dict:
    return document()["components"]["schemas"]["ItemInput"]


def window_pattern() -> str:
    metrics = document()["paths"]["/api/admin/metrics"]["get"]["parameters"]
    return next(p for p in metrics if p["name"] == "since")["schema"]["pattern"]


def json_operations():
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                yield f"{method.upper()} {path}", operation


def test_filters_publish_their_counts_and_lengths():
    parameters = document()["components"]["parameters"]
    for name in ("Category", "Exclude"):
        schema = parameters[name]["schema"]
        assert schema["maxItems"] == FILTER_VALUES_MAX and schema["items"]["maxLength"] == ITEM_ID_MAX_CHARS, name


def test_every_json_body_publishes_the_nesting_depth_and_its_415():
    operations = dict(json_operations())
    assert len(operations) >= 7
    for name, operation in operations.items():
        assert operation["requestBody"]["x-max-nesting-depth"] == JSON_MAX_DEPTH, name
        assert str(JSON_MAX_DEPTH) in operation["requestBody"]["description"], name
        assert {"400", "413", "415"} <= operation["responses"].keys(), name


def accepted_by_server(pattern: str, check) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(pattern, fullmatch=True))
    def run(value):
        assert check(value), repr(value)
    run()


def url_pattern() -> str:
    return item_input()["properties"]["url"]["anyOf"][0]["anyOf"][1]["pattern"]


@pytest.mark.parametrize("what", ["url", "attribute name", "categories text", "event time", "since"])
def test_what_a_published_pattern_allows_the_server_takes(what):
    schemas = document()["components"]["schemas"]
    categories = item_input()["properties"]["categories"]["anyOf"][0]["anyOf"][1]["pattern"]
    timestamp = schemas["Event"]["properties"]["timestamp"]["anyOf"][0]["anyOf"][1]["pattern"]
    cases = {
        "url": (url_pattern(), lambda v: len(v) > MAX_URL_CHARS or _url_problem(v, "url") is None),
        "attribute name": (item_input()["propertyNames"]["pattern"],
                           lambda v: len(v) > 100 or _attribute_problem(v, "x") is None),
        "categories text": (categories, lambda v: _categories_problem(v) is None),
        "event time": (timestamp, lambda v: parse_timestamp(v) is not None and parse_timestamp(v) >= 0),
        "since": (window_pattern(), lambda v: parse_moment("since", v) is not None),
    }
    pattern, check = cases[what]
    accepted_by_server(pattern, check)
