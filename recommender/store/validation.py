"""Checking items and events sent as JSON, before anything is written.

Each check returns a list of errors {index, field, message} so a client fixing a batch sees every
problem at once; an empty list means the input is good. `item_fields` and `event_row` turn good input
into the values stored.
"""

from __future__ import annotations

import math
import re

from recommender.catalog.ids import invisible_character

MAX_ID_CHARS = 200
MAX_TITLE_CHARS = 500
MAX_DESCRIPTION_CHARS = 20_000
MAX_URL_CHARS = 2_000
MAX_CATEGORIES = 100
MAX_CATEGORY_CHARS = 200
MIN_YEAR, MAX_YEAR = 0, 3000
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME_CHARS = 100
MAX_ATTRIBUTE_VALUE_CHARS = 2_000
CATEGORY_SEPARATOR = "|"
ITEM_FIELDS = ("title", "description", "categories", "year", "image_url", "url", "hidden")
RESERVED_NAMES = ("item_id", "attributes", "created_at", "updated_at")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
SURROGATES = re.compile("[\ud800-\udfff]")  # JSON escapes such as \\ud800 that no database can store as text
NOT_TEXT = "contains a lone surrogate (\\ud800-\\udfff), which is not text"
URL_SCHEME = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


def _error(index, field: str, message: str) -> dict:
    return {"index": index, "field": field, "message": message}


def id_problem(value, what: str = "item_id") -> str | None:
    """Why `value` cannot be an id (None when it can): also safe as one URL path segment."""
    if not isinstance(value, str):
        return f"{what} must be text or a whole number"
    if not 1 <= len(value) <= MAX_ID_CHARS:
        return f"{what} must be 1 to {MAX_ID_CHARS} characters"
    if CONTROL_CHARS.search(value):
        return f"{what} cannot contain control characters"
    if SURROGATES.search(value):
        return f"{what} {NOT_TEXT}"
    if invisible := invisible_character(value):
        return f"{what} cannot contain invisible or control characters: it has {invisible}"
    if what == "item_id" and ("/" in value or value in (".", "..")):
        return "item_id cannot contain '/' or be '.' or '..'"
    return None


def _text_problem(value, field: str, limit: int, required: bool = False) -> str | None:
    if not isinstance(value, str):
        return f"{field} must be text"
    if required and not value.strip():
        return f"{field} cannot be empty"
    if len(value) > limit:
        return f"{field} is longer than {limit} characters"
    if SURROGATES.search(value):
        return f"{field} {NOT_TEXT}"
    return None


def _categories_problem(value) -> str | None:
    if isinstance(value, str):
        value = value.split(CATEGORY_SEPARATOR)
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        return "categories must be a list of text or one '|'-separated text"
    if len(value) > MAX_CATEGORIES or any(len(c) > MAX_CATEGORY_CHARS for c in value):
        return f"at most {MAX_CATEGORIES} categories of at most {MAX_CATEGORY_CHARS} characters each"
    if any(SURROGATES.search(c) for c in value):
        return f"categories {NOT_TEXT}"
    return None


def _year_problem(value) -> str | None:
    whole = isinstance(value, int) or isinstance(value, float) and math.isfinite(value) and value.is_integer()
    if isinstance(value, bool) or not whole or not MIN_YEAR <= value <= MAX_YEAR:
        return f"year must be a whole number from {MIN_YEAR} to {MAX_YEAR}"
    return None


def _url_problem(value, field: str) -> str | None:
    if not isinstance(value, str):
        return f"{field} must be text"
    if value and (not URL_SCHEME.match(value) or len(value) > MAX_URL_CHARS or CONTROL_CHARS.search(value)):
        return f"{field} must be an http(s) address of at most {MAX_URL_CHARS} characters"
    if SURROGATES.search(value):
        return f"{field} {NOT_TEXT}"
    return None


def _field_problem(field: str, value) -> str | None:
    if field == "title":
        return _text_problem(value, field, MAX_TITLE_CHARS, required=True)
    if field == "description":
        return None if value is None else _text_problem(value, field, MAX_DESCRIPTION_CHARS)
    if field == "categories":
        return None if value is None else _categories_problem(value)
    if field == "year":
        return None if value is None else _year_problem(value)
    if field in ("image_url", "url"):
        return None if value is None else _url_problem(value, field)
    return None if isinstance(value, bool) else "hidden must be true or false"


def _attribute_problem(name: str, value) -> str | None:
    if name in RESERVED_NAMES:
        return f"'{name}' is reserved and cannot be an attribute"
    if len(name) > MAX_ATTRIBUTE_NAME_CHARS or not name.strip() or CONTROL_CHARS.search(name):
        return f"attribute names must be 1 to {MAX_ATTRIBUTE_NAME_CHARS} printable characters"
    if SURROGATES.search(name) or isinstance(value, str) and SURROGATES.search(value):
        return f"the attribute's name or value {NOT_TEXT}"
    if value is not None and not isinstance(value, (str, int, float, bool)):
        return "attributes must be a text, number, true/false or null (no lists or objects)"
    if isinstance(value, float) and not math.isfinite(value):
        return "attribute numbers must be finite"
    if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
        return f"attribute values are at most {MAX_ATTRIBUTE_VALUE_CHARS} characters"
    return None


def validate_item(index, item_id, body) -> list[dict]:
    """Every problem with one item sent as JSON (`item_id` from the URL or from the body)."""
    if not isinstance(body, dict):
        return [_error(index, "", "an item must be a JSON object")]
    errors = []
    problem = id_problem(item_id)
    if problem:
        errors.append(_error(index, "item_id", problem))
    if "item_id" in body and body["item_id"] != item_id:
        errors.append(_error(index, "item_id", "item_id in the body differs from the item's id"))
    if "title" not in body:
        errors.append(_error(index, "title", "title is required"))
    for field in ITEM_FIELDS:
        if field in body and (problem := _field_problem(field, body[field])):
            errors.append(_error(index, field, problem))
    extra = [name for name in body if name not in ITEM_FIELDS and name != "item_id"]
    if len(extra) > MAX_ATTRIBUTES:
        errors.append(_error(index, "", f"at most {MAX_ATTRIBUTES} other attributes"))
    for name in extra[:MAX_ATTRIBUTES]:
        if problem := _attribute_problem(name, body[name]):
            errors.append(_error(index, name, problem))
    return errors


def split_categories(value) -> list[str]:
    parts = value.split(CATEGORY_SEPARATOR) if isinstance(value, str) else list(value or [])
    return [c.strip() for c in parts if c.strip()]


def item_fields(body: dict) -> dict:
    """A validated JSON item as the values of an items row (without item_id and times)."""
    return {
        "title": body["title"].strip(),
        "description": (body.get("description") or "").strip(),
        "categories": CATEGORY_SEPARATOR.join(split_categories(body.get("categories"))),
        "year": None if body.get("year") is None else int(body["year"]),
        "image_url": body.get("image_url") or "",
        "url": body.get("url") or "",
        "hidden": bool(body.get("hidden", False)),
        "attributes": {k: v for k, v in body.items() if k not in ITEM_FIELDS and k != "item_id"},
    }
