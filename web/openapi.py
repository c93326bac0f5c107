"""The OpenAPI 3.1 document of the whole JSON API, kept as data beside the routes it describes.

Served at /api/openapi.json and rendered as /api/docs; tests validate it and fuzz the API from it, so a
route whose answers drift from this document fails the suite.
"""

from __future__ import annotations

from recommender.limits import ITEM_ID_MAX_CHARS, K_DEFAULT, K_MAX, K_MIN, YEAR_MAX, YEAR_MIN
from recommender.metrics.arms import ARMS
from recommender.metrics.experiments import MAX_SHARE, MIN_SHARE
from recommender.metrics.stats import CHALLENGER_BETTER, CONTROL_BETTER, NO_DIFFERENCE, NOT_ENOUGH_DATA

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
JSON = "application/json"
EVENT_TYPES = ["view", "click", "like", "add_to_cart", "purchase", "rating"]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict, required: list[str] | None = None, extra: bool = True) -> dict:
    schema = {"type": "object", "properties": properties, "required": required or list(properties)}
    if not extra:
        schema["additionalProperties"] = False
    return schema


def answer(description: str, schema: dict, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def error(description: str) -> dict:
    return answer(description, ref("Error"))


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
CACHED_HEADERS = {
    "ETag": {"description": "Strong validator of the index version and the request's parameters; send it back "
                            "in If-None-Match for a 304.", "schema": STRING},
    "Cache-Control": {"description": "public, max-age=…, stale-while-revalidate=…", "schema": STRING},
    "X-Index-Version": {"description": "The index version that produced this answer.", "schema": STRING},
}


def schemas() -> dict:
    """Bodies: what the routes answer and accept."""
    item_fields = {"item_id": STRING, "title": STRING, "description": STRING, "categories": STRINGS,
                   "year": nullable({"type": "integer"}), "attributes": {"type": "object"},
                   "interaction_count": {"type": "integer", "minimum": 0}}
    why = obj({"categories": STRINGS, "words": STRINGS, "liked_both": nullable({"type": "integer"}),
               "summary": STRING})
    return {
        "Error": obj({"error": STRING}),
        "Item": obj(item_fields),
        "Why": why,
        "SimilarItem": obj({"item_id": STRING, "title": STRING, "score": {"type": "number"},
                            "year": nullable({"type": "integer"}), "categories": STRINGS, "why": nullable(ref("Why"))}),
        "SearchResult": obj({"item_id": STRING, "title": STRING, "year": nullable({"type": "integer"}),
                             "score": {"type": "number"},
                             "highlights": {"type": "array", "items": {
                                 "type": "array", "prefixItems": [STRING, {"type": "boolean"}],
                                 "minItems": 2, "maxItems": 2}}}),
        "ItemAnswer": obj({"item": ref("Item"), "index_version": STRING}),
        "SimilarAnswer": obj({"item": ref("Item"), "k": {"type": "integer"},
                              "results": {"type": "array", "items": ref("SimilarItem")},
                              "index_version": STRING, "note": STRING},
                             ["item", "k", "results", "index_version"]),
        "SearchAnswer": obj({"query": STRING, "results": {"type": "array", "items": ref("SearchResult")},
                             "index_version": STRING}, ["query", "results"]),
        "Job": obj({"job_id": STRING, "kind": STRING, "state": STRING, "progress": {"type": ["number", "null"]},
                    "stage": {"type": ["string", "null"]}, "index_version": {"type": ["string", "null"]},
                    "error": {"type": ["string", "null"]}, "requested_at": {"type": ["number", "string", "null"]}},
                   ["job_id", "state"]),
        "IndexSummary": obj({"current": {"type": ["object", "null"]}, "serving": {"type": ["string", "null"]},
                             "published": {"type": ["string", "null"]},
                             "versions": {"type": "array", "items": {"type": "object"}},
                             "load_error": {"type": ["object", "null"]}}),
        "CatalogProblems": obj({"errors": {"type": "array", "items": obj(
            {"file": STRING, "column": {"type": ["string", "null"]}, "rows": {"type": "array"},
             "message": STRING, "text": STRING}, ["message"])}}),
        **ingest_schemas(),
        **metrics_schemas(),
    }


def ingest_schemas() -> dict:
    """Item upserts and interaction events (the admin items routes and POST /api/events)."""
    scalar = {"type": ["string", "number", "boolean", "null"]}
    item_input = {"type": "object", "required": ["title"], "additionalProperties": scalar, "properties": {
        "title": {"type": "string", "minLength": 1}, "description": STRING,
        "categories": {"anyOf": [STRINGS, {"type": "string", "description": "categories separated by |"}]},
        "year": nullable({"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX}),
        "image_url": STRING, "url": STRING, "hidden": {"type": "boolean"}}}
    event = obj({"event_id": STRING, "user_id": STRING, "item_id": STRING,
                 "type": {"type": "string", "enum": EVENT_TYPES}, "value": {"type": "number"},
                 "timestamp": {"anyOf": [{"type": "number", "description": "unix seconds"},
                                         {"type": "string", "format": "date-time"}]}},
                ["user_id", "item_id", "type"])
    return {
        "ItemInput": item_input,
        "StoredItem": obj({"item": {"type": "object"}}, ["item"]),
        "Event": event,
        "Events": obj({"events": {"type": "array", "items": ref("Event"), "minItems": 1}}),
        "EventsAccepted": obj({"accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                               "unknown_items": {"type": "array"}}),
        "FieldErrors": obj({"errors": {"type": "array", "items": obj(
            {"index": {"type": ["integer", "null"]}, "field": STRING, "message": STRING}, ["message"])}}),
    }


def metrics_schemas() -> dict:
    """Click-through rates per index version and A/B tests between two versions (the admin metrics routes)."""
    count, rate = {"type": "integer", "minimum": 0}, {"type": "number", "minimum": 0}
    share = {"type": "number", "minimum": MIN_SHARE, "maximum": MAX_SHARE}
    rate_fields = {"impressions": count, "clicks": count, "ctr": rate,
                   "ci_low": {"type": "number", "minimum": 0, "maximum": 1},
                   "ci_high": {"type": "number", "minimum": 0, "maximum": 1}}
    moment = {"type": "number", "description": "Unix seconds"}
    experiment = {"experiment_id": STRING, "control": STRING, "challenger": STRING, "share": share,
                  "started_at": moment, "stopped_at": nullable(moment), "promoted": {"type": ["string", "null"]},
                  "running": {"type": "boolean"}}
    arm = obj({"arm": {"type": "string", "enum": list(ARMS)}, "version": STRING,
               "share": {"type": "number", "minimum": 0, "maximum": 1}, **rate_fields})
    report = {**experiment, "arms": {"type": "array", "items": arm, "minItems": 2, "maxItems": 2},
              "p_value": nullable({"type": "number", "minimum": 0, "maximum": 1}),
              "verdict": {"type": "string", "enum": [NOT_ENOUGH_DATA, NO_DIFFERENCE, CHALLENGER_BETTER,
                                                     CONTROL_BETTER]}}
    return {
        "Rate": obj(rate_fields),
        "VersionMetrics": obj({"version": STRING, **rate_fields,
                               "by_position": {"type": "array", "items": obj(
                                   {"position": {"type": "integer", "minimum": 1}, **rate_fields})},
                               "by_surface": {"type": "object", "additionalProperties": ref("Rate")}}),
        "MetricsAnswer": obj({"since": nullable(moment), "until": nullable(moment),
                              "versions": {"type": "array", "items": ref("VersionMetrics")}}),
        "ExperimentInput": obj({"challenger": {"type": "string", "description": "A kept version other than the "
                                               "one served now (which becomes the control)."},
                                "share": nullable({**share, "description": "Share of visitors shown the "
                                                   "challenger (default 0.5)."})}, ["challenger"]),
        "Experiment": obj(experiment),
        "ExperimentReport": obj(report),
        "StopInput": {"type": "object", "properties": {"promote": {
            "type": ["string", "null"], "description": "The control or challenger version to serve from now on "
                                                       "(a rollback job); null or left out keeps the control."}}},
        "StoppedExperiment": obj({**report, "promote_job_id": {"type": ["string", "null"]}}),
    }


def parameters() -> dict:
    return {
        "ItemId": {"name": "item_id", "in": "path", "required": True, "description": "An item's id.",
                   "schema": {"type": "string", "minLength": 1, "maxLength": ITEM_ID_MAX_CHARS,
                              "pattern": "^[^/\\x00-\\x1f]+$"}},
        "K": {"name": "k", "in": "query", "description": f"How many similar items (default {K_DEFAULT}).",
              "schema": {"type": "integer", "minimum": K_MIN, "maximum": K_MAX}},
        "Category": {"name": "category", "in": "query", "description": "Only items in any of these categories.",
                     "schema": STRINGS, "style": "form", "explode": True},
        "Exclude": {"name": "exclude", "in": "query", "description": "Item ids to leave out.",
                    "schema": STRINGS, "style": "form", "explode": True},
        "YearMin": {"name": "year_min", "in": "query", "schema": {"type": "integer", "minimum": YEAR_MIN,
                                                                  "maximum": YEAR_MAX}},
        "YearMax": {"name": "year_max", "in": "query", "schema": {"type": "integer", "minimum": YEAR_MIN,
                                                                  "maximum": YEAR_MAX}},
        "Query": {"name": "q", "in": "query", "description": "Title words or their beginnings; cut at 200 characters.",
                  "schema": STRING},
        "IfNoneMatch": {"name": "If-None-Match", "in": "header", "required": False,
                        "description": "An ETag of an earlier answer: 304 with no body while it still holds.",
                        "schema": STRING},
    }


def params(*names: str) -> list[dict]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def public_paths() -> dict:
    not_modified = {"description": "Not modified: the ETag still names this answer."}
    no_index = error("No index has been built yet.")
    return {
        "/api/items/{item_id}": {"get": {
            "summary": "One item", "tags": ["public"], "operationId": "getItem",
            "parameters": params("ItemId", "IfNoneMatch"),
            "responses": {"200": answer("The item.", ref("ItemAnswer"), CACHED_HEADERS), "304": not_modified,
                          "400": error("A bad item id."), "404": error("No such item."), "503": no_index}}},
        "/api/items/{item_id}/similar": {"get": {
            "summary": "The items most similar to one item", "tags": ["public"], "operationId": "getSimilar",
            "parameters": params("ItemId", "K", "Category", "Exclude", "YearMin", "YearMax", "IfNoneMatch"),
            "responses": {"200": answer("Similar items, most similar first.", ref("SimilarAnswer"), CACHED_HEADERS),
                          "304": not_modified, "400": error("A bad parameter, named in the message."),
                          "404": error("No such item."), "503": no_index}}},
        "/api/search": {"get": {
            "summary": "Items by title", "tags": ["public"], "operationId": "search",
            "parameters": params("Query", "IfNoneMatch"),
            "responses": {"200": answer("Matching items, best first.", ref("SearchAnswer"), CACHED_HEADERS),
                          "304": not_modified, "400": error("A bad parameter."), "503": no_index}}},
    }


def admin_responses(ok: dict, *extra: str) -> dict:
    responses = {**ok, "401": error("No or a wrong Bearer token."),
                 "429": error("Too many failed attempts from this address."),
                 "503": error("The job queue (Redis) is unavailable.")}
    for code in extra:
        responses[code] = error({"400": "Bad input.", "404": "Not found.", "409": "Refused.",
                                 "413": "Too large."}[code])
    return responses


def admin_paths() -> dict:
    bearer = [{"adminToken": []}]

    def op(summary: str, operation_id: str, responses: dict, **more) -> dict:
        return {"summary": summary, "tags": ["admin"], "operationId": operation_id, "security": bearer,
                "responses": responses, **more}
    job = answer("The job.", ref("Job"))
    return {
        "/api/admin/rebuild": {"post": op("Rebuild the index from the active catalog", "rebuild", admin_responses(
            {"202": answer("Queued (or joined to a rebuild already queued).", obj(
                {"job_id": STRING, "coalesced": {"type": "boolean"}}))}))},
        "/api/admin/catalog": {"post": op("Upload a catalog and rebuild from it", "uploadCatalog", admin_responses(
            {"202": answer("Validated and queued.", obj({"job_id": STRING})),
             "422": answer("Every problem found in the files.", ref("CatalogProblems"))}, "400", "413"),
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "string", "contentMediaType": "text/csv"},
                               "interactions": {"type": "string", "contentMediaType": "text/csv"}}}}}})},
        "/api/admin/jobs/{job_id}": {"get": op("A job's state and progress", "getJob", admin_responses(
            {"200": job}, "404"), parameters=[{"name": "job_id", "in": "path", "required": True, "schema": STRING}])},
        "/api/admin/index": {"get": op("Served, published and kept index versions", "getIndex",
                                       admin_responses({"200": answer("The versions.", ref("IndexSummary"))}))},
        "/api/admin/index/rollback": {"post": op("Serve a kept version again", "rollback", admin_responses(
            {"200": answer("Rolled back.", obj({"job_id": STRING, "version": STRING, "state": STRING})),
             "202": answer("Still running.", obj({"job_id": STRING, "version": STRING, "state": STRING})),
             "409": answer("The rollback failed; the served version is unchanged.",
                           obj({"job_id": STRING, "version": STRING, "state": STRING, "error": STRING}))},
            "400", "404"), requestBody={"required": True, "content": {JSON: {"schema": obj({"version": STRING})}}})},
        **item_paths(op),
        **metrics_paths(op),
    }


def item_paths(op) -> dict:
    """Single items, kept in the store and picked up by the next build."""
    item_id = [{"name": "item_id", "in": "path", "required": True, "schema": STRING}]
    body = {"required": True, "content": {JSON: {"schema": ref("ItemInput")}}}
    stored = answer("The stored item.", ref("StoredItem"))
    invalid = answer("The fields that are wrong.", ref("FieldErrors"))
    return {
        "/api/admin/items": {"post": op("Add an item", "createItem", admin_responses(
            {"201": stored, "422": invalid}, "400", "409"), requestBody=body)},
        "/api/admin/items/{item_id}": {
            "get": op("A stored item", "getStoredItem", admin_responses({"200": stored}, "404"), parameters=item_id),
            "put": op("Add or replace an item", "putItem", admin_responses(
                {"200": stored, "201": stored, "422": invalid}, "400"), parameters=item_id, requestBody=body),
            "delete": op("Remove an item", "deleteItem", admin_responses(
                {"200": answer("Removed.", {"type": "object"}), "204": {"description": "Removed."}}, "404"),
                parameters=item_id),
        },
    }


def metrics_paths(op) -> dict:
    """CTR per index version and A/B tests; their data lives in the store's database."""
    no_database = {"503": error("The database cannot be reached: metrics and experiments are unavailable.")}
    experiment_id = [{"name": "experiment_id", "in": "path", "required": True,
                      "schema": {"type": "string", "minLength": 1, "pattern": "^[^/\\x00-\\x1f]+$"}}]
    moment = "Unix seconds or an ISO 8601 date such as 2024-05-01 (UTC unless it says otherwise)"
    window = [{"name": "since", "in": "query", "description": f"Count from this moment on: {moment}.",
               "schema": STRING},
              {"name": "until", "in": "query", "description": f"Count up to (not including) this moment: {moment}.",
               "schema": STRING}]
    metrics = admin_responses({"200": answer("One entry per version, newest first.", ref("MetricsAnswer")),
                               "400": error("A bad since or until, named in the message.")}) | no_database
    start = admin_responses({
        "201": answer("Started.", ref("Experiment")),
        "400": error("Not a JSON object, or a bad challenger or share."),
        "409": error("No version is served yet, or an experiment is already running.")}) | no_database
    report = admin_responses({"200": answer("The report.", ref("ExperimentReport"))}, "404") | no_database
    stop = admin_responses({
        "200": answer("Stopped; promote_job_id names the rollback job when a version was promoted.",
                      ref("StoppedExperiment")),
        "400": error("Not a JSON object, or promote is neither version of the experiment."),
        "404": error("No such experiment, or the promoted version is no longer kept."),
        "409": error("The experiment has already stopped.")}) | {
        "503": error("The database or, when promoting, the job queue (Redis) is unavailable; the experiment "
                     "keeps running.")}

    def body(schema: str) -> dict:
        return {"required": True, "content": {JSON: {"schema": ref(schema)}}}
    return {
        "/api/admin/metrics": {"get": op("Impressions, clicks and CTR per index version", "getMetrics", metrics,
                                         parameters=window)},
        "/api/admin/experiments": {"post": op("Start an A/B test of the served version against a kept one",
                                              "startExperiment", start, requestBody=body("ExperimentInput"))},
        "/api/admin/experiments/{experiment_id}": {"get": op(
            "An experiment with each arm's CTR, the p value and the verdict", "getExperiment", report,
            parameters=experiment_id)},
        "/api/admin/experiments/{experiment_id}/stop": {"post": op(
            "Stop an experiment, optionally promoting one of its versions", "stopExperiment", stop,
            parameters=experiment_id, requestBody=body("StopInput"))},
    }


def event_paths() -> dict:
    return {"/api/events": {"post": {
        "summary": "Record interaction events", "tags": ["ingest"], "operationId": "postEvents",
        "security": [{"ingestToken": []}],
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("Events")}}},
        "responses": {"202": answer("Recorded; duplicates (same event_id) and events of unknown items counted.",
                                    ref("EventsAccepted")),
                      "400": error("Not JSON."), "401": error("No or a wrong Bearer token (INGEST_TOKEN)."),
                      "413": error("Too many events in one request."),
                      "422": answer("Events that are wrong, by index and field.", ref("FieldErrors")),
                      "429": error("Too many failed attempts from this address.")}}}}


def openapi_document() -> dict:
    """The whole document (a fresh dict each call: callers may change theirs)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Likewise API", "version": API_VERSION,
                 "description": "Similar items, item lookup and title search from the served index version; "
                                "admin actions and ingest with Bearer tokens."},
        "paths": {**public_paths(), **admin_paths(), **event_paths()},
        "components": {
            "schemas": schemas(),
            "parameters": parameters(),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
                "ingestToken": {"type": "http", "scheme": "bearer", "description": "INGEST_TOKEN"},
            },
        },
    }
