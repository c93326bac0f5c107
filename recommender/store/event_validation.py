"""Checking behaviour events sent as JSON, and turning good ones into events rows."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

from recommender.limits import EVENT_TIMESTAMP_MIN, EVENT_TIMESTAMP_MIN_TEXT, SESSION_ID_MAX_CHARS
from recommender.store.tables import API_ORIGIN
from recommender.store.validation import id_problem

EVENT_TYPES = ("view", "click", "like", "add_to_cart", "purchase", "rating")
RATING_TYPE = "rating"
MIN_RATING, MAX_RATING = 0.5, 5.0
MAX_FUTURE_S = 86_400
EVENT_FIELDS = ("event_id", "user_id", "item_id", "type", "value", "timestamp", "session_id")


def _error(index, field: str, message: str) -> dict:
    return {"index": index, "field": field, "message": message}


def finite_number(value) -> float | None:
    """A JSON number as a float, or None when it is not a number or none fits a float (NaN, 1e400, 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_timestamp(value) -> float | None:
    """Unix seconds (number) or ISO 8601 text (UTC when no zone is given); None when neither."""
    if isinstance(value, (bool, int, float)):
        return finite_number(value)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _timestamp_problem(value, now: float) -> str | None:
    seconds = parse_timestamp(value)
    if seconds is None:
        return "timestamp must be Unix seconds or an ISO 8601 date and time"
    if seconds < EVENT_TIMESTAMP_MIN:
        return f"timestamp is before {EVENT_TIMESTAMP_MIN_TEXT} (Unix seconds {EVENT_TIMESTAMP_MIN})"
    if seconds > now + MAX_FUTURE_S:
        return "timestamp is more than a day in the future"
    return None


def _value_problem(event: dict) -> str | None:
    value = event.get("value")
    if event.get("type") != RATING_TYPE:
        if value is not None:
            return "value is only allowed on rating events; other types count their weight (LIKEWISE_EVENT_WEIGHTS)"
        return None
    if finite_number(value) is None or not MIN_RATING <= value <= MAX_RATING:
        return f"a rating needs a value from {MIN_RATING} to {MAX_RATING}"
    return None


def session_problem(value) -> str | None:
    """Why `value` cannot be a session_id (an order, basket or session), None when it can."""
    if isinstance(value, str) and len(value) > SESSION_ID_MAX_CHARS:
        return f"session_id must be 1 to {SESSION_ID_MAX_CHARS} characters, got {len(value)}"
    return id_problem(value, "session_id")


def _event_errors(index: int, event, now: float) -> list[dict]:
    if not isinstance(event, dict):
        return [_error(index, "", "an event must be a JSON object")]
    errors = []
    for field in ("user_id", "item_id"):
        if event.get(field) is None:
            errors.append(_error(index, field, f"{field} is required"))
        elif problem := id_problem(event[field], field):
            errors.append(_error(index, field, problem))
    if event.get("event_id") is not None and (problem := id_problem(event["event_id"], "event_id")):
        errors.append(_error(index, "event_id", problem))
    if event.get("session_id") is not None and (problem := session_problem(event["session_id"])):
        errors.append(_error(index, "session_id", problem))
    if event.get("type") not in EVENT_TYPES:
        errors.append(_error(index, "type", "type must be one of " + ", ".join(EVENT_TYPES)))
    if problem := _value_problem(event):
        errors.append(_error(index, "value", problem))
    if event.get("timestamp") is not None and (problem := _timestamp_problem(event["timestamp"], now)):
        errors.append(_error(index, "timestamp", problem))
    unknown = sorted(set(event) - set(EVENT_FIELDS))
    if unknown:
        errors.append(_error(index, unknown[0], "unknown fields: " + ", ".join(unknown)))
    return errors


def validate_events(events, now: float | None = None) -> list[dict]:
    """Every problem in a batch of events; an empty list means the whole batch can be stored."""
    if not isinstance(events, list):
        return [_error(None, "", "events must be a JSON list")]
    now = time.time() if now is None else now
    return [error for index, event in enumerate(events) for error in _event_errors(index, event, now)]


def event_row(event: dict, now: float) -> dict:
    """A validated event as an events row."""
    timestamp = event.get("timestamp")
    value = event.get("value")
    return {"event_id": event.get("event_id"), "user_id": event["user_id"], "item_id": event["item_id"],
            "type": event["type"], "value": None if value is None else float(value),
            "ts": now if timestamp is None else parse_timestamp(timestamp), "received_at": now, "origin": API_ORIGIN,
            "session_id": event.get("session_id")}
