"""The OpenAPI 3.1 document of the whole JSON API, kept as data beside the routes it describes.

Served at /api/openapi.json and rendered as /api/docs; tests validate it and fuzz the API from it, so a
route whose answers drift from this document fails the suite.
"""

from __future__ import annotations

from recommender.limits import (
    ADMIN_BODY_MAX_BYTES,
    ATTRIBUTE_FILTERS_MAX,
    EVENT_TIMESTAMP_MIN,
    EVENT_TIMESTAMP_MIN_TEXT,
    EVENTS_BODY_MAX_BYTES,
    EVENTS_PER_CALL_MAX,
    FILTER_VALUES_MAX,
    ITEM_ID_MAX_CHARS,
    ITEMS_BODY_MAX_BYTES,
    ITEMS_PER_CALL_MAX,
    JSON_MAX_DEPTH,
    K_DEFAULT,
    K_MAX,
    K_MIN,
    PIN_WHY_MAX_CHARS,
    RULE_BODY_MAX_BYTES,
    RULE_CONDITIONS_MAX,
    RULE_FACTOR_MAX,
    RULE_ID_MAX_CHARS,
    RULES_MAX,
    SESSION_ID_MAX_CHARS,
    TRENDING_WINDOW_MAX_SECONDS,
    TRENDING_WINDOW_MIN_SECONDS,
    VERSION_LABEL_MAX_CHARS,
    YEAR_MAX,
    YEAR_MIN,
)
from recommender.metrics.arms import ARMS
from recommender.metrics.experiments import MAX_SHARE, MIN_SHARE
from recommender.metrics.stats import CHALLENGER_BETTER, CONTROL_BETTER, NO_DIFFERENCE, NOT_ENOUGH_DATA
from recommender.metrics.tokens import PANELS
from recommender.neighbours.version_marks import LABEL_PATTERN, TRIGGERS
from recommender.rules.rule_schema import ACTIONS, SURFACES
from recommender.store.event_validation import EVENT_TYPES, MAX_RATING, MIN_RATING, RATING_TYPE
from recommender.store.events import MAX_UNKNOWN_IDS_LISTED
from recommender.store.validation import (
    CATEGORY_SEPARATOR,
    ITEM_FIELDS,
    MAX_ATTRIBUTE_NAME_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    MAX_YEAR,
    MIN_YEAR,
    RESERVED_NAMES,
)
from web.apidocs.examples import attach_examples
from worker.queue import UPLOAD_MODES

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
JSON = "application/json"


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
COUNT = {"type": "integer", "minimum": 0}
CACHED_HEADERS = {
    "ETag": {"description": "Strong validator of the index version and the request's parameters; send it back "
                            "in If-None-Match for a 304.", "schema": STRING},
    "Cache-Control": {"description": "public, max-age=…, stale-while-revalidate=…", "schema": STRING},
    "X-Index-Version": {"description": "The index version that produced this answer.", "schema": STRING},
}


def served_schema() -> dict:
    """What a switch's answer says the web processes served when it returned (web/state/serving_registry.py)."""
    return obj({"agreed": {"type": ["boolean", "null"], "description": "Every web process that reports to Redis "
                           "serves the version (null: Redis could not be asked)"},
                "processes": COUNT, "versions": {"type": "object", "additionalProperties": COUNT,
                                                 "description": "version -> processes serving it"},
                "waited_seconds": {"type": "number"}, "error": STRING}, ["agreed"])


def index_summary_schema() -> dict:
    """GET /api/admin/index: served, published and kept versions, the pin, the processes and the catalog."""
    return obj({"current": {"type": ["object", "null"], "description": "The served version's manifest; "
                            "its evaluation.carried_forward.from_version names the version whose "
                            "evaluation an automatic rebuild reused"},
                "serving": {"type": ["string", "null"]},
                "published": {"type": ["string", "null"]},
                "versions": {"type": "array", "items": ref("KeptVersion")},
                "pinned": nullable(ref("Pin")),
                "processes": {"type": ["object", "null"], "description": "How many web processes "
                              "serve which version now (null without Redis)"},
                "waiting": {**COUNT, "description": "Automatic builds kept, not published, newer "
                                                    "than the served version (while pinned)"},
                "load_error": {"type": ["object", "null"]},
                "store": {"type": "object", "description": "The store's counts and the next automatic "
                                                          "rebuild, or an error saying why not."},
                "catalog": {"type": ["object", "null"], "description": (
                    "The served catalog: the served version's own (a rollback restores it into the "
                    "store), its item count, and whether the store holds it now (store_matches: "
                    "null when the store cannot be read)."), "properties": {
                    "version": STRING, "item_count": {"type": ["integer", "null"]},
                    "hidden_items": {"type": ["integer", "null"]},
                    "built_from_revision": {"type": ["integer", "null"]},
                    "store_revision": {"type": ["integer", "null"]},
                    "restored_from": {"type": ["string", "null"]},
                    "store_matches": {"type": ["boolean", "null"]}}}})


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
                             "corrected": {**nullable(STRING), "description": "What the query was read as when "
                                           "the best title needed typos fixed or words left out, else null"},
                             "index_version": STRING}, ["query", "results"]),
        "Job": obj({"job_id": STRING, "kind": STRING, "state": STRING, "progress": {"type": ["number", "null"]},
                    "stage": {"type": ["string", "null"]}, "index_version": {"type": ["string", "null"]},
                    "error": {"type": ["string", "null"]}, "requested_at": {"type": ["number", "string", "null"]}},
                   ["job_id", "state"]),
        "IndexSummary": index_summary_schema(),
        **version_schemas(),
        "CatalogProblems": obj({"errors": {"type": "array", "items": obj(
            {"file": STRING, "column": {"type": ["string", "null"]}, "rows": {"type": "array"},
             "message": STRING, "text": STRING}, ["message"])}}),
        **item_schemas(),
        **event_schemas(),
        **metrics_schemas(),
    }


SCALAR = {"type": ["string", "number", "boolean", "null"]}
NO_CONTROL_CHARS = "^[^\\x00-\\x1f\\x7f]+$"
# Patterns are whole-value: every character class leaves control characters out, so no "$" before a newline
# lets one through. What the server refuses, the document refuses.
WEB_ADDRESS = "^https?://[^\\s/\\x00-\\x1f\\x7f]+[^\\x00-\\x1f\\x7f]*$"
PRINTABLE_NAME = "^[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$"
SINCE_1970 = "(197[1-9]|19[89][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
CLOCK = "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?"
ISO_MOMENT = f"^{SINCE_1970}([T ]{CLOCK})?$"
SINCE_1991 = SINCE_1970.replace("(197[1-9]|19[89][0-9]|", "(199[1-9]|")  # events: the store takes 1990 on
EVENT_MOMENT = f"^{SINCE_1991}([T ]{CLOCK})?$"
UNIX_OR_ISO = f"^([0-9]{{1,12}}(\\.[0-9]{{1,6}})?|{SINCE_1970}([T ]{CLOCK})?)$"


def categories_text() -> str:
    """At most MAX_CATEGORIES '|'-separated categories of at most MAX_CATEGORY_CHARS characters each."""
    one = f"[^|]{{0,{MAX_CATEGORY_CHARS}}}"
    return f"^{one}(\\|{one}){{0,{MAX_CATEGORIES - 1}}}$"


def store_id(what: str) -> dict:
    """An id as the store takes it (item, user or event id)."""
    schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS, "pattern": NO_CONTROL_CHARS,
              "description": f"The {what}: 1 to {MAX_ID_CHARS} characters, no control characters."}
    if what == "item id":
        schema |= {"pattern": "^[^/\\x00-\\x1f\\x7f]+$", "not": {"enum": [".", ".."]},
                   "description": f"The item id: 1 to {MAX_ID_CHARS} characters, no '/' or control characters, "
                                  "not '.' or '..'."}
    return schema


def id_or_number(what: str) -> dict:
    """An id as the events API takes it: text, or a whole number read as its decimal text (as catalog files)."""
    return {"anyOf": [store_id(what), {"type": "integer", "description": "A whole number, stored as its decimal "
                                                                         "text (42 is the id \"42\")."}]}


def item_schemas() -> dict:
    """Items written and read one by one or in batches (the admin items routes)."""
    web_address = {"anyOf": [{"const": ""}, {"type": "string", "maxLength": MAX_URL_CHARS, "pattern": WEB_ADDRESS}]}
    attribute = {"anyOf": [{"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE_CHARS},
                           {"type": ["number", "boolean", "null"]}]}
    fields = {
        "item_id": {**store_id("item id"), "description": "Optional; when sent it must equal the id in the path."},
        "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": "\\S"},
        "description": nullable({"type": "string", "maxLength": MAX_DESCRIPTION_CHARS}),
        "categories": nullable({"anyOf": [
            {"type": "array", "maxItems": MAX_CATEGORIES, "items": {"type": "string", "maxLength": MAX_CATEGORY_CHARS}},
            {"type": "string", "pattern": categories_text(),
             "description": f"Categories separated by '{CATEGORY_SEPARATOR}' (at most "
                                              f"{MAX_CATEGORIES} of at most {MAX_CATEGORY_CHARS} characters)."}]}),
        "year": nullable({"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR}),
        "image_url": nullable(web_address), "url": nullable(web_address),
        "hidden": {"type": "boolean", "description": "Hidden items leave every answer at once."}}
    item_input = {
        "type": "object", "required": ["title"], "properties": fields, "additionalProperties": attribute,
        "propertyNames": {"maxLength": MAX_ATTRIBUTE_NAME_CHARS, "pattern": PRINTABLE_NAME,
                          "not": {"enum": [name for name in RESERVED_NAMES if name != "item_id"]}},
        "maxProperties": len(ITEM_FIELDS) + 1 + MAX_ATTRIBUTES,
        "description": f"Any other property is kept as an attribute (at most {MAX_ATTRIBUTES}, scalar values)."}
    record = {"type": "object", "additionalProperties": SCALAR, "required": [*fields, "created_at", "updated_at"],
              "properties": {"item_id": STRING, "title": STRING, "description": STRING, "categories": STRINGS,
                             "year": nullable({"type": "integer"}), "image_url": STRING, "url": STRING,
                             "hidden": {"type": "boolean"}, "created_at": {"type": "number"},
                             "updated_at": {"type": "number"}}}
    return {
        "ItemInput": item_input,
        "ItemsInput": obj({"items": {"type": "array", "maxItems": ITEMS_PER_CALL_MAX, "items": {
            **item_input, "required": ["item_id", "title"]},
            "description": "Stored all or none; item ids may not repeat."}}),
        "ItemWritten": obj({"item_id": STRING, "status": {"type": "string", "enum": ["created", "updated"]}}),
        "ItemsWritten": obj({"created": COUNT, "updated": COUNT}),
        "StoredItem": obj({"item": record, "in_served_index": {"type": "boolean"},
                           "shown_in_answers": {"type": "boolean"}, "index_version": {"type": ["string", "null"]}}),
        "FieldErrors": obj({"errors": {"type": "array", "minItems": 1, "items": obj(
            {"index": {"type": ["integer", "null"]}, "field": STRING, "message": STRING})}}),
    }


def event_schemas() -> dict:
    """Interaction events (POST /api/events)."""
    event_id = nullable({**id_or_number("event id"), "description": "Repeats are counted, not stored."})
    event = {**obj({"event_id": event_id,
                    "user_id": id_or_number("user id"), "item_id": id_or_number("item id"),
                    "type": {"type": "string", "enum": list(EVENT_TYPES)},
                    "value": nullable({"type": "number", "description": f"A rating's value, {MIN_RATING} to "
                                                                       f"{MAX_RATING}; refused on other types."}),
                    "timestamp": nullable({"anyOf": [{"type": "number", "minimum": EVENT_TIMESTAMP_MIN,
                                                      "description": "Unix seconds"},
                                                     {"type": "string", "pattern": EVENT_MOMENT,
                                                      "description": "ISO 8601"}],
                                           "description": f"From {EVENT_TIMESTAMP_MIN_TEXT} to a day ahead; the "
                                                          "time received when left out."}),
                    "session_id": nullable({**store_id("session id"), "maxLength": SESSION_ID_MAX_CHARS,
                                            "description": "The order, basket or session (at most "
                                                           f"{SESSION_ID_MAX_CHARS} characters): purchases and "
                                                           "carts sharing one count as bought together."})},
                   ["user_id", "item_id", "type"], extra=False),
             "if": {"properties": {"type": {"const": RATING_TYPE}}},
             "then": {"required": ["value"], "properties": {"value": {"type": "number", "minimum": MIN_RATING,
                                                                      "maximum": MAX_RATING}}},
             "else": {"properties": {"value": {"type": "null"}}}}
    return {
        "Event": event,
        "Events": obj({"events": {"type": "array", "items": ref("Event"), "maxItems": EVENTS_PER_CALL_MAX,
                                  "description": "Stored all or none."}}),
        "EventsAccepted": obj({"accepted": COUNT, "duplicates": COUNT, "unknown_items": COUNT,
                               "unknown_item_ids": {**STRINGS, "maxItems": MAX_UNKNOWN_IDS_LISTED}}),
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
    by_panel = {"type": "object", "additionalProperties": ref("Rate"), "propertyNames": {"enum": list(PANELS)},
                "description": "The rate of each list (panel) shown."}
    arm = obj({"arm": {"type": "string", "enum": list(ARMS)}, "version": STRING,
               "share": {"type": "number", "minimum": 0, "maximum": 1}, **rate_fields, "by_panel": by_panel})
    report = {**experiment, "arms": {"type": "array", "items": arm, "minItems": 2, "maxItems": 2},
              "p_value": nullable({"type": "number", "minimum": 0, "maximum": 1}),
              "verdict": {"type": "string", "enum": [NOT_ENOUGH_DATA, NO_DIFFERENCE, CHALLENGER_BETTER,
                                                     CONTROL_BETTER]}}
    return {
        "Rate": obj(rate_fields),
        "VersionMetrics": obj({"version": STRING, **rate_fields,
                               "by_position": {"type": "array", "items": obj(
                                   {"position": {"type": "integer", "minimum": 1}, **rate_fields})},
                               "by_surface": {"type": "object", "additionalProperties": ref("Rate")},
                               "by_panel": by_panel}),
        "PanelMetrics": obj({"panel": {"type": "string", "enum": list(PANELS)}, **rate_fields,
                             "by_version": {"type": "object", "additionalProperties": ref("Rate")}}),
        "MetricsAnswer": obj({"since": nullable(moment), "until": nullable(moment),
                              "versions": {"type": "array", "items": ref("VersionMetrics")},
                              "panels": {"type": "array", "items": ref("PanelMetrics")}}),
        "ExperimentInput": obj({"challenger": {"type": "string", "description": "A kept version other than the "
                                               "one served now (which becomes the control)."},
                                "share": nullable({**share, "description": "Share of visitors shown the "
                                                   "challenger (default 0.5)."})}, ["challenger"]),
        "Experiment": obj(experiment),
        "ExperimentReport": obj(report),
        "StopInput": {"type": "object", "properties": {"promote": {
            "type": ["string", "null"], "description": "The control or challenger version to serve from now on "
                                                       "(a rollback job); null or left out keeps the control."}}},
        "StoppedExperiment": obj({**report, "promote_job_id": {"type": ["string", "null"]},
                                  "promote_state": STRING, "served": nullable(ref("Served"))},
                                 [*report, "promote_job_id"]),
        "Served": served_schema(),
    }


def version_schemas() -> dict:
    """A kept version as GET /api/admin/index lists it, and the pin."""
    held = obj({"reason": STRING, "peer": {"type": ["string", "null"]}, "difference": {"type": "number"},
                "ci": {"type": "array", "items": {"type": "number"}}, "paired": {"type": "boolean"}})
    return {
        "KeptVersion": obj({"version": STRING, "current": {"type": "boolean"}, "pinned": {"type": "boolean"},
                            "trigger": nullable({"type": "string", "enum": list(TRIGGERS)}),
                            "label": nullable(STRING),
                            "held_back": {**nullable(held), "description": "Why the quality gate kept this "
                                                                           "automatic build from being published"},
                            "kept_unpublished": nullable({"type": "string", "enum": ["pinned", "held back"]}),
                            "waiting": {"type": "boolean"}}, ["version"]),
        "Pin": obj({"version": STRING, "since": STRING, "why": STRING}, ["version", "since", "why"]),
    }


def label_body() -> dict:
    return json_body(obj({"label": nullable({"type": "string", "maxLength": VERSION_LABEL_MAX_CHARS,
                                             "pattern": f"^{LABEL_PATTERN.pattern}$|^$",
                                             "description": "null or an empty string removes the label"})},
                         ["label"]))


def pin_paths(op) -> dict:
    version = [{"name": "version", "in": "path", "required": True, "schema": STRING}]
    pin_body = json_body(obj({"why": {"type": "string", "minLength": 1, "maxLength": PIN_WHY_MAX_CHARS,
                                      "pattern": NO_CONTROL_CHARS}}))
    rollback_state = obj({"job_id": STRING, "version": STRING, "state": STRING,
                          "served": nullable(ref("Served"))}, ["job_id", "version", "state"])
    return {
        "/api/admin/index/pin": {
            "post": op("Pin the served version: automatic builds are kept, not published", "pin", admin_responses(
                {"200": answer("Pinned.", obj({"pinned": ref("Pin")})), "400": error("why is not a short text."),
                 "409": error("No version is served yet.")}, unavailable=None),
                requestBody={**pin_body, "required": False}),
            "delete": op("Unpin: the next automatic build publishes again", "unpin", admin_responses(
                {"200": answer("Unpinned.", obj({"pinned": {"type": "null"}}))}, unavailable=None))},
        "/api/admin/index/publish": {"post": op(
            "Publish a kept build by hand (waiting while pinned, or held back by the quality gate)", "publish",
            admin_responses({"200": answer("Published (warning: the quality gate's reason, when it held the build "
                                           "back).", obj({"job_id": STRING, "version": STRING, "state": STRING,
                                                          "warning": STRING, "served": nullable(ref("Served"))},
                                                         ["job_id", "version", "state"])),
                             "202": answer("Still running.", rollback_state),
                             "400": error("Not a JSON object with a version."),
                             "404": error("The version is not kept."),
                             "409": answer("It does not load; the served version is unchanged.", rollback_state)}),
            requestBody=version_body())},
        "/api/admin/index/versions/{version}": {"patch": op(
            "Label a kept version (labelled versions are never pruned)", "labelVersion", admin_responses(
                {"200": answer("Labelled.", obj({"version": STRING, "label": nullable(STRING)})),
                 "400": error("label is missing, too long or has characters a label may not hold."),
                 "404": error("The version is not kept.")}, unavailable=None),
            requestBody=label_body(), parameters=version)},
    }


def filter_values() -> dict:
    return {"type": "array", "maxItems": FILTER_VALUES_MAX, "items": {"type": "string", "maxLength": ITEM_ID_MAX_CHARS}}


def parameters() -> dict:
    return {
        "ItemId": {"name": "item_id", "in": "path", "required": True, "description": "An item's id.",
                   "schema": {"type": "string", "minLength": 1, "maxLength": ITEM_ID_MAX_CHARS,
                              "pattern": "^[^/\\x00-\\x1f\\x7f]+$"}},
        "K": {"name": "k", "in": "query", "description": f"How many similar items (default {K_DEFAULT}).",
              "schema": {"type": "integer", "minimum": K_MIN, "maximum": K_MAX}},
        "Category": {"name": "category", "in": "query", "description": "Only items in any of these categories.",
                     "schema": filter_values(), "style": "form", "explode": True},
        "Exclude": {"name": "exclude", "in": "query", "description": "Item ids to leave out (a comma also "
                    f"separates ids; at most {FILTER_VALUES_MAX} in all).",
                    "schema": filter_values(), "style": "form", "explode": True},
        "YearMin": {"name": "year_min", "in": "query", "schema": {"type": "integer", "minimum": YEAR_MIN,
                                                                  "maximum": YEAR_MAX}},
        "YearMax": {"name": "year_max", "in": "query", "schema": {"type": "integer", "minimum": YEAR_MIN,
                                                                  "maximum": YEAR_MAX}},
        "Query": {"name": "q", "in": "query", "description": "Title words or their beginnings; cut at 200 characters.",
                  "schema": STRING},
        "AttributeFilters": {"name": "attributes", "in": "query", "style": "form", "explode": True,
                             "description": "Filters on any attribute (issue 25): attr.<name>=<value> (repeatable: "
                             "any of; true|false for booleans), min.<name>= and max.<name>= (numbers). An unknown "
                             "attribute, a range on a text attribute or a bad number is a 400 naming the parameter "
                             "and listing the known attributes.",
                             "schema": {"type": "object", "additionalProperties": STRING,
                                        "maxProperties": ATTRIBUTE_FILTERS_MAX},
                             "example": {"max.Price": "20", "attr.Manufacturer": "Honda"}},
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
            "parameters": params("ItemId", "K", "Category", "Exclude", "YearMin", "YearMax", "AttributeFilters",
                                 "IfNoneMatch"),
            "responses": {"200": answer("Similar items, most similar first.", ref("SimilarAnswer"), CACHED_HEADERS),
                          "304": not_modified, "400": error("A bad parameter, named in the message."),
                          "404": error("No such item."), "503": no_index}}},
        "/api/search": {"get": {
            "summary": "Items by title", "tags": ["public"], "operationId": "search",
            "parameters": params("Query", "Category", "YearMin", "YearMax", "AttributeFilters", "IfNoneMatch"),
            "responses": {"200": answer("Matching items, best first.", ref("SearchAnswer"), CACHED_HEADERS),
                          "304": not_modified, "400": error("A bad parameter."), "503": no_index}}},
    }


NOT_JSON = "The body was not sent as application/json."
QUEUE_DOWN = "The job queue (Redis) is unavailable (or REDIS_URL is not set): nothing was queued."
STORE_DOWN = "The store of record (database) is unavailable: nothing was stored or read."
COMMON_ERRORS = {"400": "Bad input, named in the message.", "404": "Not found.", "409": "Refused.",
                 "413": "Too large."}


def admin_responses(ok: dict, *extra: str, unavailable: str | None = QUEUE_DOWN) -> dict:
    """`ok` plus the answers of every Bearer-token route, plus the `extra` error codes named."""
    responses = {**ok, "401": error("No or a wrong Bearer token."),
                 "429": error("Too many failed attempts from this address.")}
    if unavailable:
        responses["503"] = error(unavailable)
    for code in extra:
        responses.setdefault(code, error(COMMON_ERRORS[code]))
    return responses


def json_body(schema: dict, max_bytes: int = ADMIN_BODY_MAX_BYTES) -> dict:
    """A required application/json body, with the byte and nesting limits the server holds it to."""
    return {"required": True, "content": {JSON: {"schema": schema}},
            "description": f"application/json only (else 415), at most {max_bytes} bytes (else 413), arrays and "
                           f"objects nested at most {JSON_MAX_DEPTH} deep and no key repeated in an object (else 400).",
            "x-max-bytes": max_bytes, "x-max-nesting-depth": JSON_MAX_DEPTH}


def version_body() -> dict:
    return json_body(obj({"version": {"type": "string", "minLength": 1, "description": "A kept index version."}}))


def admin_paths() -> dict:
    bearer = [{"adminToken": []}]

    def op(summary: str, operation_id: str, responses: dict, **more) -> dict:
        if JSON in more.get("requestBody", {}).get("content", {}):
            responses = {"413": error(COMMON_ERRORS["413"]), **responses, "415": error(NOT_JSON)}
        return {"summary": summary, "tags": ["admin"], "operationId": operation_id, "security": bearer,
                "responses": responses, **more}
    rollback_state = obj({"job_id": STRING, "version": STRING, "state": STRING,
                          "served": nullable(ref("Served"))}, ["job_id", "version", "state"])
    return {
        "/api/admin/rebuild": {"post": op("Rebuild the index from the store's catalog", "rebuild", admin_responses(
            {"202": answer("Queued (or joined to a rebuild already queued).", obj(
                {"job_id": STRING, "coalesced": {"type": "boolean"}}))}))},
        "/api/admin/catalog": {"post": op("Upload a catalog into the store and rebuild from it", "uploadCatalog",
                                          catalog_responses(), requestBody=catalog_body())},
        "/api/admin/jobs/{job_id}": {"get": op("A job's state and progress", "getJob", admin_responses(
            {"200": answer("The job.", ref("Job"))}, "404"),
            parameters=[{"name": "job_id", "in": "path", "required": True, "schema": STRING}])},
        "/api/admin/index": {"get": op(
            "Served, published and kept index versions, and the store's counts", "getIndex",
            admin_responses({"200": answer("The versions.", ref("IndexSummary"))}, unavailable=None))},
        "/api/admin/index/rollback": {"post": op(
            "Serve a kept version again, with the catalog it was built from written back into the store (events "
            "stay)", "rollback", admin_responses(
            {"200": answer("Rolled back.", rollback_state),
             "202": answer("Still running.", rollback_state),
             "400": error("Not a JSON object with a version."),
             "404": error("The version is not kept."),
             "409": answer("The rollback failed; the served version is unchanged.",
                           obj({"job_id": STRING, "version": STRING, "state": STRING, "error": STRING}))}),
            requestBody=json_body(obj({"version": {"type": "string", "minLength": 1,
                                                   "description": "A kept index version."},
                                       "restore_rules": {"type": "boolean", "default": False, "description":
                                                         "Also put the merchandising rules back as they were "
                                                         "when the version was built."}}, ["version"])))},
        "/api/admin/index/restore-catalog": {"post": op(
            "Write the items a kept version was built from back into the store (replacing its catalog)",
            "restoreCatalog", admin_responses(
                {"202": answer("Queued.", obj({"job_id": STRING, "version": STRING})),
                 "400": error("Not a JSON object with a version."), "404": error("The version is not kept.")}),
            requestBody=version_body())},
        **pin_paths(op),
        **rule_paths(op),
        **item_paths(op),
        **metrics_paths(op),
    }


def catalog_body() -> dict:
    csv = {"type": "string", "format": "binary", "contentMediaType": "text/csv"}
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["items"],
        "properties": {"items": {**csv, "description": "items.csv: item_id, title and optional columns."},
                       "interactions": {**csv, "description": "interactions.csv: user_id, item_id, optional rating."},
                       "mode": {"type": "string", "enum": list(UPLOAD_MODES), "default": UPLOAD_MODES[0],
                                "description": "replace: the upload becomes the whole catalog, its interactions "
                                               "replacing those of earlier uploads (events sent through the API "
                                               "stay); merge: its items are added or overwritten and the others "
                                               "kept, its interactions added."},
                       "clear_events": {"type": "string", "enum": ["true", "false"], "default": "false",
                                        "description": "With mode replace only: also remove every stored event, "
                                                       "those the events API received included."}}}}}}


def catalog_responses() -> dict:
    return admin_responses({
        "202": answer("Validated and queued: the job writes it into the store, then builds.", obj({"job_id": STRING})),
        "400": error("mode is neither replace nor merge, clear_events is not true or false, or clear_events "
                     "was sent with mode merge."),
        "413": error("The upload is larger than MAX_UPLOAD_BYTES."),
        "422": answer("Every problem found in the files (or no items file).", ref("CatalogProblems"))})


def rule_body() -> dict:
    condition = {"type": "object", "maxProperties": RULE_CONDITIONS_MAX, "description": 'Attributes (or "category") '
                 'to a value, a list of values (any of) or {"min": …, "max": …}; every key must hold.'}
    return json_body(obj({"surface": {"enum": list(SURFACES)}, "action": {"enum": list(ACTIONS)},
                          "where": condition, "when": condition,
                          "factor": {"type": "number", "exclusiveMinimum": 0, "maximum": RULE_FACTOR_MAX},
                          "position": {"type": "integer", "minimum": 1, "maximum": K_MAX}, "item_id": STRING,
                          "enabled": {"type": "boolean"}}, ["surface", "action"]), RULE_BODY_MAX_BYTES)


def rule_paths(op) -> dict:
    """Merchandising rules (issue 25): stored in the store of record, applied in every web process within 2 s."""
    rule_id = [{"name": "rule_id", "in": "path", "required": True,
                "schema": {"type": "string", "maxLength": RULE_ID_MAX_CHARS,
                           "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}}]
    rule = obj({"rule_id": STRING, "updated_at": {"type": "number"}, "updated_by": STRING})
    refused = answer("The field that is wrong; nothing was stored.", obj({"error": STRING, "errors": {
        "type": "array", "items": obj({"field": STRING, "message": STRING})}}))
    return {
        "/api/admin/rules": {"get": op("The rules in force, with who changed each and when", "listRules",
                                       admin_responses({"200": answer("The rules.", obj({
                                           "rules": {"type": "array", "items": rule},
                                           "max_rules": {"type": "integer"}}))}, unavailable=STORE_DOWN))},
        "/api/admin/rules/{rule_id}": {
            "get": op("One rule", "getRule", admin_responses({"200": answer("The rule.", rule), "404": error(
                "No such rule.")}, unavailable=STORE_DOWN), parameters=rule_id),
            "put": op("Create or replace a rule (pin, boost, bury or hide)", "putRule", admin_responses(
                {"200": answer("Replaced.", obj({"rule_id": STRING, "result": STRING})),
                 "201": answer("Created.", obj({"rule_id": STRING, "result": STRING})),
                 "400": error("The body is not JSON."), "409": error(f"There are {RULES_MAX} rules already."),
                 "422": refused}, unavailable=STORE_DOWN), parameters=rule_id, requestBody=rule_body()),
            "delete": op("Delete a rule", "deleteRule", admin_responses(
                {"204": {"description": "Deleted."}, "404": error("No such rule.")}, unavailable=STORE_DOWN),
                parameters=rule_id),
        },
    }


def item_paths(op) -> dict:
    """Single items and batches, written to the store and picked up by the next (automatic) build."""
    item_id = params("ItemId")
    invalid = answer("Every field that is wrong, by index and field; nothing was stored.", ref("FieldErrors"))
    too_large = error(f"The body is too large, or more than {ITEMS_PER_CALL_MAX} items.")
    bad_body = error("The body is not JSON, or not of the expected shape.")
    bad_id = error("The item id in the path is too long or contains control characters.")
    return {
        "/api/admin/items": {"post": op("Add or replace a batch of items, all or none", "putItems", admin_responses(
            {"200": answer("Stored.", ref("ItemsWritten")), "400": bad_body, "413": too_large, "422": invalid},
            unavailable=STORE_DOWN), requestBody=json_body(ref("ItemsInput"), ITEMS_BODY_MAX_BYTES))},
        "/api/admin/items/{item_id}": {
            "get": op("A stored item, and whether the served index has it yet", "getStoredItem", admin_responses(
                {"200": answer("The stored item.", ref("StoredItem")), "400": bad_id,
                 "404": error("No item with this id is stored.")}, unavailable=STORE_DOWN), parameters=item_id),
            "put": op("Add or replace an item", "putItem", admin_responses(
                {"200": answer("Replaced.", ref("ItemWritten")), "201": answer("Created.", ref("ItemWritten")),
                 "400": error("The body is not a JSON object, or a bad item id in the path."), "413": too_large,
                 "422": invalid}, unavailable=STORE_DOWN), parameters=item_id,
                   requestBody=json_body(ref("ItemInput"), ITEMS_BODY_MAX_BYTES)),
            "delete": op("Remove an item from the store and from every answer at once", "deleteItem", admin_responses(
                {"204": {"description": "Removed."}, "400": bad_id,
                 "404": error("No item with this id is stored.")}, unavailable=STORE_DOWN), parameters=item_id),
        },
    }


def metrics_paths(op) -> dict:
    """CTR per index version and A/B tests; their data lives in the store's database."""
    no_database = {"503": error("The database cannot be reached: metrics and experiments are unavailable.")}
    experiment_id = [{"name": "experiment_id", "in": "path", "required": True,
                      "schema": {"type": "string", "minLength": 1, "pattern": "^[^/\\x00-\\x1f]+$"}}]
    moment = "Unix seconds or an ISO 8601 date such as 2024-05-01 (UTC unless it says otherwise)"
    window = [{"name": "since", "in": "query", "description": f"Count from this moment on: {moment}.",
               "schema": {"type": "string", "pattern": UNIX_OR_ISO}},
              {"name": "until", "in": "query", "description": f"Count up to (not including) this moment: {moment}.",
               "schema": {"type": "string", "pattern": UNIX_OR_ISO}}]
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
        return json_body(ref(schema))
    return {
        "/api/admin/metrics": {"get": op("Impressions, clicks and CTR per index version", "getMetrics", metrics,
                                         parameters=window)},
        "/api/admin/experiments": {"post": op("Start an A/B test of the served version against a kept one",
                                              "startExperiment", start, requestBody=body("ExperimentInput"),
                                              description="From the moment this answers, every web process answers "
                                                          "each visitor from their arm.")},
        "/api/admin/experiments/{experiment_id}": {"get": op(
            "An experiment with each arm's CTR, the p value and the verdict", "getExperiment", report,
            parameters=experiment_id)},
        "/api/admin/experiments/{experiment_id}/stop": {"post": op(
            "Stop an experiment, optionally promoting one of its versions", "stopExperiment", stop,
            parameters=experiment_id, requestBody=body("StopInput"),
            description="From the moment this answers, no web process answers from the challenger (until a "
                        "promotion of it is published).")},
    }


def event_paths() -> dict:
    return {"/api/events": {"post": {
        "summary": "Record interaction events, all or none", "tags": ["ingest"], "operationId": "postEvents",
        "security": [{"ingestToken": []}, {"adminToken": []}],
        "requestBody": json_body(ref("Events"), EVENTS_BODY_MAX_BYTES),
        "responses": {"202": answer("Committed; repeated event_ids and events of items not in the catalog counted.",
                                    ref("EventsAccepted")),
                      "400": error('Not JSON, or not an object with "events".'),
                      "401": error("No or a wrong Bearer token (INGEST_TOKEN or ADMIN_TOKEN)."),
                      "413": error(f"The body is too large, or more than {EVENTS_PER_CALL_MAX} events."),
                      "415": error(NOT_JSON),
                      "422": answer("Every event that is wrong, by index and field; nothing was stored.",
                                    ref("FieldErrors")),
                      "429": error("Too many failed attempts from this address."),
                      "503": error(STORE_DOWN)}}}}


def panel_schemas() -> dict:
    """The personal lists' answers (issue 24) and what forgetting a user removed."""
    count = {"type": "integer", "minimum": 0}
    why = obj({"summary": STRING, "because": {**STRINGS, "description": "Titles of the visitor's items behind it."}})
    return {
        "PanelItem": obj({"item_id": STRING, "title": STRING, "score": {"type": "number"},
                          "year": nullable({"type": "integer"}), "categories": STRINGS, "why": why}),
        "ForYouAnswer": obj({"for": {"type": "object", "description": "{\"visitor\": V} or {\"user_id\": U}"},
                             "k": {"type": "integer"}, "basis": {"type": "string", "enum": ["history", "trending"],
                                                                "description": "trending: no usable history"},
                             "seeds": {**STRINGS, "description": "The visitor's items it was scored from."},
                             "results": {"type": "array", "items": ref("PanelItem")}, "index_version": STRING}),
        "Forgotten": obj({"removed": obj({"events": count, "impressions_anonymised": count,
                                          "clicks_anonymised": count}),
                          "rebuild_job_id": {"type": ["string", "null"]}}),
    }


def panel_paths() -> dict:
    """GET /api/recommendations and forgetting a user or a visitor."""
    visitor = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,100}$"}
    user = {"type": "string", "minLength": 1, "maxLength": ITEM_ID_MAX_CHARS, "pattern": "^[^/\\x00-\\x1f\\x7f]+$"}
    who = [{"name": "visitor", "in": "query", "description": "Likewise's visitor id (the lw_visitor cookie).",
            "schema": visitor},
           {"name": "user_id", "in": "query", "description": "Your site's user id, as sent to the events API "
            "(give this or visitor).", "schema": user},
           {"name": "include_seen", "in": "query", "description": "1: items the visitor already touched may come "
            "back.", "schema": {"type": "string", "enum": ["0", "1"]}}]
    forget = {"200": answer("What was removed; a rebuild is asked for.", ref("Forgotten")),
              "400": error("A malformed id."), "404": error("Likewise holds nothing of them.")}
    return {
        "/api/recommendations": {"get": {
            "summary": "For you: a visitor's or user's list from their recent events", "tags": ["public"],
            "operationId": "getRecommendations",
            "parameters": who + params("K", "Category", "Exclude", "YearMin", "YearMax"),
            "responses": {"200": answer("Best first; basis trending when they have no usable history.",
                                        ref("ForYouAnswer")),
                          "400": error("A bad parameter, named in the message (or neither visitor nor user_id)."),
                          "503": error("No index has been built yet.")}}},
        "/api/admin/users/{user_id}": {"delete": {
            "summary": "Forget a site user: delete their events, wipe their id from impressions and clicks",
            "tags": ["admin"], "operationId": "forgetUser", "security": [{"adminToken": []}],
            "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": user}],
            "responses": admin_responses(forget, unavailable="The database is unavailable: nothing was removed.")}},
        "/api/admin/visitors/{visitor}": {"delete": {
            "summary": "Forget a visitor (lw_visitor id): the same as for a user", "tags": ["admin"],
            "operationId": "forgetVisitor", "security": [{"adminToken": []}],
            "parameters": [{"name": "visitor", "in": "path", "required": True, "schema": visitor}],
            "responses": admin_responses(forget, unavailable="The database is unavailable: nothing was removed.")}},
    }


def list_schemas() -> dict:
    """Trending and bought together (issue 24): cards with a why, and the reason a list is empty."""
    card = obj({"item_id": STRING, "title": STRING, "year": {"type": ["integer", "null"]}, "categories": STRINGS,
                "score": {"type": "number", "description": "Trending: the decayed event count; bought together: "
                                                           "the lift."},
                "why": obj({"summary": STRING, "rules": STRINGS}, ["summary"]), "click_url": STRING},
               ["item_id", "title", "why"])
    reason = {**STRING, "description": "Why the list is empty (never padded with other items)."}
    return {
        "ListCard": card,
        "TrendingAnswer": obj({"window": STRING, "basis": {"const": "trending"}, "k": {"type": "integer"},
                               "results": {"type": "array", "items": ref("ListCard")}, "reason": reason,
                               "index_version": STRING}, ["window", "k", "results", "index_version"]),
        "BoughtTogetherAnswer": obj({"item": ref("Item"), "k": {"type": "integer"},
                                     "results": {"type": "array", "items": ref("ListCard")}, "reason": reason,
                                     "index_version": STRING}, ["item", "k", "results", "index_version"]),
    }


def list_paths() -> dict:
    """GET /api/trending and GET /api/items/{item_id}/bought-together (issue 24)."""
    window = {"name": "window", "in": "query", "description": "The window: a number and m, h or d (1h, 24h, "
              f"7d; default 24h), {TRENDING_WINDOW_MIN_SECONDS // 60} minute to "
              f"{TRENDING_WINDOW_MAX_SECONDS // 86_400} days; the half-life of the decay is half of it.",
              "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,4}[mhd]$"}}
    bad = error("A bad parameter (window, k, filters), named in the message.")
    return {
        "/api/trending": {"get": {
            "summary": "The items with the most recent events, time-decayed", "tags": ["public"],
            "operationId": "getTrending",
            "parameters": [window, *params("K", "Category", "Exclude", "YearMin", "YearMax")],
            "responses": {"200": answer("Trending items, best first, each with its why; follows new events within "
                                        "15 s.", ref("TrendingAnswer")), "400": bad,
                          "503": error("No index yet, or the store of record is unavailable.")}}},
        "/api/items/{item_id}/bought-together": {"get": {
            "summary": "Items bought in the same orders as one item", "tags": ["public"],
            "operationId": "getBoughtTogether",
            "parameters": params("ItemId", "K", "Category", "Exclude", "YearMin", "YearMax", "IfNoneMatch"),
            "responses": {"200": answer("Items sharing the most orders above the support and lift thresholds (empty "
                                        "with a reason below them), computed by the build.",
                                        ref("BoughtTogetherAnswer"), CACHED_HEADERS),
                          "304": {"description": "Not modified: the ETag still names this answer."},
                          "400": bad, "404": error("No such item."), "503": error("No index has been built yet.")}}},
    }


def openapi_document() -> dict:
    """The whole document (a fresh dict each call: callers may change theirs), with its examples."""
    return attach_examples({
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Likewise API", "version": API_VERSION,
                 "description": "Similar items, item lookup and title search from the served index version; "
                                "admin actions and ingest with Bearer tokens."},
        "paths": {**public_paths(), **admin_paths(), **event_paths(), **panel_paths(), **list_paths()},
        "components": {
            "schemas": {**schemas(), **panel_schemas(), **list_schemas()},
            "parameters": parameters(),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
                "ingestToken": {"type": "http", "scheme": "bearer",
                                "description": "INGEST_TOKEN (POST /api/events also takes ADMIN_TOKEN)"},
            },
        },
    })
