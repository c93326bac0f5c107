"""What every view needs: the served model, validated parameters, page-or-fragment rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import render_template, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from recommender.limits import (
    ADMIN_BODY_MAX_BYTES,
    FILTER_VALUES_MAX,
    ITEM_ID_MAX_CHARS,
    K_DEFAULT,
    K_MAX,
    K_MIN,
    QUERY_MAX_CHARS,
    YEAR_MAX,
    YEAR_MIN,
)
from recommender.model import Filters, Item, SimilarItem, SimilarItemsModel
from web.extensions import served_model, wants_fragment
from web.services.merchandising import similar_with_rules
from web.views.attribute_params import attribute_conditions
from web.views.json_input import read_json

DIGITS = re.compile(r"[0-9]{1,6}")
YEAR_DIGITS = re.compile(r"[0-9]{1,4}")


class FilterError(BadRequest):
    """A filter parameter that cannot be used; `field` names it, so a form can mark that field."""

    def __init__(self, field: str, description: str):
        super().__init__(description)
        self.field = field





def parse_k(raw: str | None, default: int = K_DEFAULT) -> int:
    if raw is None or raw == "":
        return default
    if not DIGITS.fullmatch(raw.strip()):
        raise BadRequest(f"k must be a whole number from {K_MIN} to {K_MAX}, got {raw[:20]!r}")
    k = int(raw)
    if not K_MIN <= k <= K_MAX:
        raise BadRequest(f"k must be from {K_MIN} to {K_MAX}, got {k}")
    return k


def check_item_id(item_id: str) -> str:
    if len(item_id) > ITEM_ID_MAX_CHARS or any(ord(c) < 32 for c in item_id):
        raise BadRequest("item id is too long or contains control characters")
    return item_id




def page_or_fragment(page: str, fragment: str, **context) -> str:
    return render_template(fragment if wants_fragment() else page, **context)


def query_arg(name: str, max_chars: int = QUERY_MAX_CHARS) -> str:
    return request.args.get(name, "", type=str)[:max_chars]


def _year(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not YEAR_DIGITS.fullmatch(raw) or not YEAR_MIN <= int(raw) <= YEAR_MAX:
        raise FilterError(name, f"{name} must be a year between {YEAR_MIN} and {YEAR_MAX}, got {raw[:20]!r}")
    return int(raw)


def parse_filters(model: SimilarItemsModel | None = None) -> Filters:
    """category= (repeatable, any of), exclude= (item ids, repeatable or comma-separated), year_min=, year_max=,
    and attr.<name>= (repeatable, any of), min.<name>=, max.<name>= on the attributes of `model` (the served
    one by default): web/views/attribute_params.py."""
    categories = [c.strip() for c in request.args.getlist("category") if c.strip()]
    exclude = [i.strip() for raw in request.args.getlist("exclude") for i in raw.split(",") if i.strip()]
    for name, values in (("category", categories), ("exclude", exclude)):
        if len(values) > FILTER_VALUES_MAX or any(len(v) > ITEM_ID_MAX_CHARS for v in values):
            raise FilterError(name, f"{name}: at most {FILTER_VALUES_MAX} values of at most {ITEM_ID_MAX_CHARS} "
                                    "characters")
    year_min, year_max = _year("year_min"), _year("year_max")
    if year_min is not None and year_max is not None and year_min > year_max:
        raise FilterError("year_max", f"year_min ({year_min}) is after year_max ({year_max})")
    return Filters(frozenset(categories), frozenset(exclude), year_min, year_max,
                   attributes=attribute_conditions(model or served_model()))


@dataclass(frozen=True)
class SimilarAnswer:
    """What every similar-items route answers from: the model, the item, k, the filters, the results."""

    model: SimilarItemsModel
    item: Item
    k: int
    filters: Filters
    results: list[SimilarItem]
    filtered_out: int = 0  # nearer items the filters turned away to fill k


def similar_answer(item_id: str) -> SimilarAnswer:
    """The served model's similar items for `item_id`, with k and the filters read from the request."""
    model = served_model()
    item = model.get_item(check_item_id(item_id))
    k = parse_k(request.args.get("k"))
    filters = parse_filters(model)
    ranked = similar_with_rules(model, item, k, filters)  # filters, then the rules (web/services/merchandising.py)
    return SimilarAnswer(model, item, k, filters, ranked.results, ranked.filtered_out)


def versioned(response, model: SimilarItemsModel):
    """Say which index version produced an answer, so clients can tell answers across a swap apart."""
    response.headers["X-Index-Version"] = model.version
    return response


def json_batch(key: str, max_bytes: int, max_count: int, example: str) -> list:
    """The list under `key` of a JSON body: 413 past the byte or count limit, 400 without the key."""
    body = json_body(max_bytes, example)
    if not isinstance(body, dict) or key not in body:
        raise BadRequest(f"send {example}")
    if isinstance(body[key], list) and len(body[key]) > max_count:
        raise RequestEntityTooLarge(f"{len(body[key])} {key}: at most {max_count} per call")
    return body[key]


def admin_json_object(example: str) -> dict:
    """The small JSON object an admin call sends (rollback, restore, experiments): 400 if it is not one."""
    body = json_body(ADMIN_BODY_MAX_BYTES, example)
    if not isinstance(body, dict):
        raise BadRequest(f"Send a JSON object: {example}.")
    return body


def json_body(max_bytes: int, example: str = ""):
    """The request's JSON body (web/views/json_input.py): 415, 413 past `max_bytes`, 400 when it is not JSON,
    too deep or repeats a key."""
    return read_json(max_bytes, example)
