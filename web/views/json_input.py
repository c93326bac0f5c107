"""Reading a JSON request body safely: only `application/json`, bounded in bytes and in nesting depth, and
with no key repeated in any object.

Python's JSON decoder recurses once per nested array or object, so a 2 KB body of 1,000 nested arrays would
raise RecursionError (a 500). The depth is measured on the raw bytes first, outside strings, without
recursing, and a body deeper than JSON_MAX_DEPTH is refused before it is decoded. A repeated key would be
read as its last value by us and as its first by other parsers, so it is refused, named.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from recommender.limits import JSON_MAX_DEPTH

JSON_MEDIA_TYPE = "application/json"
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
BRACKETS = b"[]{}"
NOT_BRACKETS = bytes(b for b in range(256) if b not in BRACKETS)
STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class RepeatedKey(ValueError):
    """An object in the body names the same key twice."""


def nesting_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in `data`, counting only brackets outside strings."""
    brackets = STRING.sub(b"", data).translate(None, NOT_BRACKETS)
    return max(accumulate(map(STEP.__getitem__, brackets)), default=0)


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """An object's members, refused when a key repeats."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise RepeatedKey(key)
        seen[key] = value
    return seen


def require_json_content_type() -> None:
    if request.mimetype != JSON_MEDIA_TYPE:
        sent = request.mimetype or "none"
        raise UnsupportedMediaType(f"send the body as {JSON_MEDIA_TYPE} (Content-Type: {JSON_MEDIA_TYPE}); "
                                   f"got {sent[:60]!r}")


def body_bytes(max_bytes: int) -> bytes:
    """The raw body, 413 past `max_bytes` (read only that far when the length is not announced)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise RequestEntityTooLarge(f"the body is {request.content_length} bytes; at most {max_bytes} are taken "
                                    "per call: send fewer per call")
    data = request.get_data(cache=True)
    if len(data) > max_bytes:
        raise RequestEntityTooLarge(f"the body is over {max_bytes} bytes: send fewer per call")
    return data


def read_json(max_bytes: int, example: str = ""):
    """The request's JSON body: 415 unless application/json, 413 past `max_bytes`, 400 when it is not JSON,
    nests deeper than JSON_MAX_DEPTH or repeats a key."""
    require_json_content_type()
    data = body_bytes(max_bytes)
    depth = nesting_depth(data)
    if depth > JSON_MAX_DEPTH:
        raise BadRequest(f"the JSON body nests {depth} arrays or objects deep; at most {JSON_MAX_DEPTH} are taken")
    try:
        return json.loads(data, object_pairs_hook=unique_keys)
    except RepeatedKey as exc:
        key = str(exc)[:100]
        raise BadRequest(f"the JSON body repeats the key {key!r} in one object: send each key once") from None
    except ValueError:
        hint = f": send {example}" if example else ""
        raise BadRequest(f"the body must be JSON ({JSON_MEDIA_TYPE}){hint}") from None
