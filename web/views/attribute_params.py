"""The attribute filters of a request: attr.<name>= (repeatable: any of), min.<name>=, max.<name>=.

An unknown attribute, a range on a text or boolean attribute, or a value that is not of the attribute's
type is a 400 naming the parameter and listing the attributes this index knows (with their types).
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import BadRequest

from recommender.attributes.attribute_filters import (
    AttributeCondition,
    AttributeProblem,
    condition,
    known_kind,
    parse_number,
)
from recommender.limits import ATTRIBUTE_FILTERS_MAX, FILTER_VALUES_MAX, QUERY_MAX_CHARS

PREFIXES = ("attr.", "min.", "max.")


def _asked() -> dict[str, dict]:
    """{attribute: {"values": [...], "min": raw, "max": raw}} from the query string (empty values ignored)."""
    asked: dict[str, dict] = {}
    for key, values in request.args.lists():
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        filled = [v.strip()[:QUERY_MAX_CHARS] for v in values if v.strip()]
        if prefix is None or not filled:
            continue
        name = key[len(prefix):]
        wanted = asked.setdefault(name, {"values": [], "min": None, "max": None})
        if prefix == "attr.":
            wanted["values"] += filled
        else:
            wanted[prefix[:-1]] = filled[-1]
    return asked


def attribute_conditions(model) -> tuple[AttributeCondition, ...]:
    """The request's attribute conditions, checked against `model`'s attributes."""
    asked = _asked()
    if len(asked) > ATTRIBUTE_FILTERS_MAX:
        raise BadRequest(f"attr./min./max.: at most {ATTRIBUTE_FILTERS_MAX} attributes per request")
    conditions = []
    for name, wanted in sorted(asked.items()):
        field = f"attr.{name}" if wanted["values"] else f"{'min' if wanted['min'] is not None else 'max'}.{name}"
        if len(wanted["values"]) > FILTER_VALUES_MAX:
            raise BadRequest(f"{field}: at most {FILTER_VALUES_MAX} values")
        try:
            for bound in ("min", "max"):
                if wanted[bound] is not None:
                    known_kind(model.attribute_columns, name, f"{bound}.{name}")
                    parse_number(wanted[bound], f"{bound}.{name}")
            conditions.append(condition(model.attribute_columns, name, wanted["values"], wanted["min"],
                                        wanted["max"], field=field))
        except AttributeProblem as problem:
            raise BadRequest(str(problem)) from None
    return tuple(conditions)
