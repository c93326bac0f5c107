"""Example requests and answers, written into the OpenAPI document where OpenAPI keeps them.

Requests: a parameter's `example`, a request body's `example`, and `x-example-status` (the answer the example
request gets). Answers: the example status's response `example`, made from its schema with the field values
below, so every example answer is one its schema accepts (tests check both that and that the app takes each
example request). An example that names a job, a kept version or an experiment says so in `x-example-needs`
(on another deployment it answers `x-example-missing-status` until the id names one there).
"""

from __future__ import annotations

from recommender.metrics.stats import NO_DIFFERENCE

JSON = "application/json"
EXAMPLE_VERSION = "20240501T120000000Z-3fa2c1"
OTHER_VERSION = "20240430T090000000Z-b71e04"
EXAMPLE_JOB = "5b0e8f3c-0d7e-4d8a-9a51-2c7f6f0f5e11"
EXAMPLE_EXPERIMENT = "exp-20240501-1"
ITEMS_CSV = "item_id,title,categories,year\n1,Toy Story (1995),Animation|Children|Comedy,1995\n" \
            "2,Jumanji (1995),Adventure|Children|Fantasy,1995\n"
NEEDS_VERSION = "a kept version: GET /api/admin/index lists them"

# Field values by property name, used wherever a schema of that name has no example of its own.
FIELD_EXAMPLES = {
    "item_id": "1", "user_id": "17", "event_id": "web-17-000123", "title": "Toy Story (1995)",
    "description": "A cowboy doll is threatened by a new spaceman figure.", "year": 1995,
    "categories": ["Animation", "Children", "Comedy"], "words": ["toy", "story"], "summary": "Both Animation",
    "score": 0.8312, "query": "toy story", "k": 5, "index_version": EXAMPLE_VERSION, "version": EXAMPLE_VERSION,
    "serving": EXAMPLE_VERSION, "published": EXAMPLE_VERSION, "control": EXAMPLE_VERSION,
    "challenger": OTHER_VERSION, "job_id": EXAMPLE_JOB, "experiment_id": EXAMPLE_EXPERIMENT, "kind": "rebuild",
    "state": "SUCCESS", "stage": "done", "progress": 100, "type": "view", "why": "holiday sale",
    "label": "before the sale", "since": 1714521600, "until": 1714608000, "started_at": 1714521600,
    "requested_at": 1714521600, "created_at": 1714521600, "updated_at": 1714521600, "impressions": 211,
    "clicks": 9, "ctr": 0.0427, "ci_low": 0.0226, "ci_high": 0.0794, "share": 0.5, "position": 1,
    "interaction_count": 215, "accepted": 1, "duplicates": 0, "unknown_items": 0, "created": 1, "updated": 1,
    "status": "updated", "hidden": False, "image_url": "", "url": "", "note": "", "warning": "",
    "error": "No such item.", "message": "title is required", "field": "title", "index": 0,
}

RATES = {"impressions": 211, "clicks": 9, "ctr": 0.0427, "ci_low": 0.0226, "ci_high": 0.0794}
CHALLENGER_RATES = {"impressions": 198, "clicks": 14, "ctr": 0.0707, "ci_low": 0.0425, "ci_high": 0.1152}
REPORT = {"arms": [{"arm": "control", "version": EXAMPLE_VERSION, "share": 0.5, **RATES,
                    "by_panel": {"similar": RATES}},
                   {"arm": "challenger", "version": OTHER_VERSION, "share": 0.5, **CHALLENGER_RATES,
                    "by_panel": {"similar": CHALLENGER_RATES}}],
          "p_value": 0.21, "verdict": NO_DIFFERENCE, "stopped_at": None, "promoted": None, "running": True}

# Per operationId: the example request (path and query values, body) and the status it gets.
REQUESTS = {
    "getItem": {"path": {"item_id": "1"}, "status": "200"},
    "getSimilar": {"path": {"item_id": "1"}, "query": {"k": 5}, "status": "200", "answer": {"results": [
        {"item_id": "3114", "title": "Toy Story 2 (1999)", "score": 0.8312, "year": 1999,
         "categories": ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
         "why": {"categories": ["Animation", "Children", "Comedy"], "words": ["toy", "story"], "liked_both": 38,
                 "summary": "Both Animation, Children and Comedy; both titles say toy story; 38 people liked both"}}]}},
    "search": {"query": {"q": "toy story"}, "status": "200"},
    "rebuild": {"status": "202"},
    "uploadCatalog": {"body": {"items": ITEMS_CSV, "mode": "merge"}, "status": "202"},
    "getJob": {"path": {"job_id": EXAMPLE_JOB}, "status": "200",
               "needs": ("a job id from POST /api/admin/rebuild or /api/admin/catalog", "404")},
    "getIndex": {"status": "200"},
    "rollback": {"body": {"version": EXAMPLE_VERSION}, "status": "200", "needs": (NEEDS_VERSION, "404")},
    "restoreCatalog": {"body": {"version": EXAMPLE_VERSION}, "status": "202", "needs": (NEEDS_VERSION, "404")},
    "pin": {"body": {"why": "holiday sale"}, "status": "200"},
    "unpin": {"status": "200"},
    "publish": {"body": {"version": EXAMPLE_VERSION}, "status": "200", "needs": (NEEDS_VERSION, "404")},
    "labelVersion": {"path": {"version": EXAMPLE_VERSION}, "body": {"label": "before the sale"}, "status": "200",
                     "needs": (NEEDS_VERSION, "404")},
    "putItems": {"body": {"items": [{"item_id": "1", "title": "Toy Story (1995)", "year": 1995,
                                     "categories": ["Animation", "Children", "Comedy"]},
                                    {"item_id": "2", "title": "Jumanji (1995)", "categories": "Adventure|Fantasy"}]},
                 "status": "200"},
    "getStoredItem": {"path": {"item_id": "1"}, "status": "200"},
    "putItem": {"path": {"item_id": "2"}, "body": {"title": "Jumanji (1995)", "year": 1995, "colour": "green"},
                "status": "200"},
    "deleteItem": {"path": {"item_id": "2"}, "status": "204"},
    "getMetrics": {"query": {"since": "2024-05-01"}, "status": "200"},
    "startExperiment": {"body": {"challenger": OTHER_VERSION, "share": 0.5}, "status": "201",
                        "needs": ("a kept version other than the served one", "400")},
    "getExperiment": {"path": {"experiment_id": EXAMPLE_EXPERIMENT}, "status": "200", "answer": REPORT,
                      "needs": ("an experiment id from POST /api/admin/experiments", "404")},
    "stopExperiment": {"path": {"experiment_id": EXAMPLE_EXPERIMENT}, "body": {"promote": None}, "status": "200",
                       "answer": {**REPORT, "running": False, "stopped_at": 1714608000, "promote_job_id": None},
                       "needs": ("an experiment id from POST /api/admin/experiments", "404")},
    "getRecommendations": {"query": {"user_id": "1", "k": 5}, "status": "200"},
    "forgetUser": {"path": {"user_id": "1"}, "status": "200"},
    "forgetVisitor": {"path": {"visitor": "v-7Jq2"}, "status": "200",
                      "needs": ("a visitor id (the likewise_visitor cookie) with events", "404")},
    "getTrending": {"query": {"window": "24h", "k": 5}, "status": "200"},
    "getBoughtTogether": {"path": {"item_id": "1"}, "query": {"k": 5}, "status": "200"},
    "listRules": {"status": "200"},
    "getRule": {"path": {"rule_id": "animation-up"}, "status": "200",
                "needs": ("a rule id stored by PUT /api/admin/rules/<rule_id>", "404")},
    "putRule": {"path": {"rule_id": "animation-up"}, "status": "201",
                "body": {"surface": "similar", "where": {"category": "Animation"}, "action": "boost", "factor": 1.5,
                         "enabled": True}},
    "deleteRule": {"path": {"rule_id": "animation-up"}, "status": "204"},
    "postEvents": {"body": {"events": [{"user_id": "17", "item_id": "1", "type": "view"},
                                       {"user_id": 17, "item_id": 1, "type": "rating", "value": 4.5,
                                        "timestamp": "2024-05-01T10:00:00Z", "event_id": "web-17-000123"}]},
                   "status": "202"},
}


def resolve(document: dict, node):
    """Follow local `$ref`s until a schema, parameter or response itself."""
    while isinstance(node, dict) and "$ref" in node:
        found = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def _alternative(document: dict, schema: dict) -> dict:
    """The first alternative of an anyOf/oneOf that is not null."""
    options = [resolve(document, s) for s in schema.get("anyOf") or schema.get("oneOf")]
    return next((s for s in options if s.get("type") != "null"), options[0])


KINDS = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float), "boolean": bool,
         "null": type(None)}


def _scalar(schema: dict, kind: str):
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return schema.get("minimum", 0.5)
    return {"boolean": False, "null": None}.get(kind, "text")


def _kind(schema: dict) -> str:
    kind = schema.get("type", "object")
    return next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind


def _fits(value, kind: str) -> bool:
    return isinstance(value, KINDS.get(kind, object)) and not (isinstance(value, bool) and kind != "boolean")


def example_value(document: dict, schema, name: str | None = None, depth: int = 0):
    """A value `schema` accepts: its own example, the field example for `name`, or one made from its type."""
    schema = resolve(document, schema) or {}
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return FIELD_EXAMPLES[name] if FIELD_EXAMPLES.get(name) in schema["enum"] else schema["enum"][0]
    if "anyOf" in schema or "oneOf" in schema:
        return example_value(document, _alternative(document, schema), name, depth)
    kind = _kind(schema)
    if depth > 0 and name in FIELD_EXAMPLES and _fits(FIELD_EXAMPLES[name], kind):
        return FIELD_EXAMPLES[name]
    if kind == "object" and depth < 6:
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {key: example_value(document, value, key, depth + 1) for key, value in properties.items()
                if key in required or depth == 0}
    if kind == "array" and depth < 6:
        if "prefixItems" in schema:
            return [example_value(document, item, None, depth + 1) for item in schema["prefixItems"]]
        return [example_value(document, schema.get("items", {}), name, depth + 1)] * max(schema.get("minItems", 1), 1)
    return _scalar(schema, kind)


def _answer_example(document: dict, operation: dict, status: str, answer: dict) -> None:
    response = resolve(document, operation["responses"][status])
    content = response.get("content", {}).get(JSON)
    if content is None:
        return
    example = example_value(document, content["schema"])
    content["example"] = example | answer if isinstance(example, dict) else example


def attach_examples(document: dict) -> dict:
    """The document with every operation's example request and answer written in (in place)."""
    for item in document["paths"].values():
        for operation in item.values():
            example = REQUESTS.get(operation.get("operationId"))
            if example is None:
                continue
            operation["x-example-request"] = {part: example[part] for part in ("path", "query", "body")
                                              if part in example}
            operation["x-example-status"] = example["status"]
            if "needs" in example:
                operation["x-example-needs"], operation["x-example-missing-status"] = example["needs"]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                media["example"] = example.get("body")
            _answer_example(document, operation, example["status"], example.get("answer", {}))
    return document
