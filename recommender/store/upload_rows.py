"""Turning a validated catalog (the frames load_items / load_interactions produce) into store rows.

Uploaded interactions become events: a row with a rating becomes a 'rating' event (value = the
rating, as given); a row without one becomes a 'like' event, because a file without ratings lists
what people chose, which the file pipeline also counted as positive. The timestamp is the row's
own, or the upload time when it has none. Each gets a stable event_id hashed from its content, so
uploading the same interactions again adds nothing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from recommender.catalog.attribute_types import json_value
from recommender.catalog.load import ITEM_COLUMNS, SESSION_COLUMN
from recommender.store.tables import UPLOAD_ORIGIN

IMPORTED_RATED_TYPE = "rating"
IMPORTED_UNRATED_TYPE = "like"
IMPORT_EVENT_PREFIX = "import-"
IMPORT_EVENT_HASH_CHARS = 24
HIDDEN_COLUMN = "hidden"
TRUE_TEXTS = ("1", "true", "yes", "y")
OWN_COLUMNS = ("image_url", "url")


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def item_rows(frame: pd.DataFrame) -> list[dict]:
    """Items rows from an items frame; a 'hidden' column sets the flag (1/true/yes), other extra
    columns become attributes in their types (numbers, booleans, text; empty cells left out)."""
    extra = [c for c in frame.columns if c not in ITEM_COLUMNS and c not in OWN_COLUMNS and c != HIDDEN_COLUMN]
    rows = []
    for record in frame.to_dict("records"):
        year = record.get("year")
        rows.append({
            "item_id": str(record["item_id"]), "title": _text(record["title"]),
            "description": _text(record.get("description")), "categories": _text(record.get("categories")),
            "year": None if year is None or pd.isna(year) else int(year),
            "image_url": _text(record.get("image_url")), "url": _text(record.get("url")),
            "hidden": _text(record.get(HIDDEN_COLUMN)).strip().lower() in TRUE_TEXTS,
            "attributes": {name: value for name in extra if (value := json_value(record[name])) is not None},
        })
    return rows


def _import_event_id(user_id: str, item_id: str, timestamp, rating, session=None) -> str:
    """Stable per row content; a row's session is part of it only when it has one (ids of files without
    sessions stay as they were)."""
    key = f"{user_id}\x1f{item_id}\x1f{timestamp!r}\x1f{rating!r}"
    key = (key if not session else f"{key}\x1f{session}").encode()
    return IMPORT_EVENT_PREFIX + hashlib.sha1(key).hexdigest()[:IMPORT_EVENT_HASH_CHARS]


def _floats(frame: pd.DataFrame, column: str) -> list[float | None]:
    """A column as Python floats, None where empty (or everywhere, when the frame lacks it)."""
    if column not in frame:
        return [None] * len(frame)
    values = np.asarray(frame[column].astype("float64"))
    return [None if value != value else value for value in values.tolist()]


def event_rows(frame: pd.DataFrame, now: float) -> list[dict]:
    """Events rows from an interactions frame (user_id, item_id, rating, timestamp). Column-wise, not
    row by row through pandas: 100,000 demo ratings took 1.3 s that way, in every upload's critical path."""
    users, items = frame["user_id"].astype(str).tolist(), frame["item_id"].astype(str).tolist()
    sessions = frame[SESSION_COLUMN].tolist() if SESSION_COLUMN in frame else [None] * len(frame)
    return [{"event_id": _import_event_id(user_id, item_id, stamp, rating, session), "user_id": user_id,
             "item_id": item_id,
             "type": IMPORTED_UNRATED_TYPE if rating is None else IMPORTED_RATED_TYPE, "value": rating,
             "ts": now if stamp is None else stamp, "received_at": now, "origin": UPLOAD_ORIGIN,
             "session_id": session if isinstance(session, str) and session else None}
            for user_id, item_id, rating, stamp, session in zip(users, items, _floats(frame, "rating"),
                                                                _floats(frame, "timestamp"), sessions)]
