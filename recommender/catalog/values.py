"""Checks on the values of a catalog: ids, ratings, timestamps and image links.

Limits (named here so an operator can be told them):
- item ids: not empty, unique, no '/', not '.' or '..', no control characters (newline, tab, NUL, ...),
  because ids become URL path segments and file-safe keys; no invisible characters (zero-width, byte-order
  mark, direction overrides, no-break spaces); read in Unicode NFC, so "café" typed two ways is one id;
- ratings: finite numbers with |rating| <= MAX_ABS_RATING; any rating scale (1-5, 0-10, -1/+1,
  0-100) fits, while inf, NaN and 1e308 (which would swamp every weight) do not;
- timestamps: Unix seconds or dates from 1970-01-01 to now + MAX_CLOCK_SKEW_SECONDS; later ones are
  from a broken clock or in milliseconds, earlier ones cannot be interactions;
- image links (image_url, image): http(s) URLs only; any other value (javascript:, data:, file:, a
  bare path) is blanked, keeping the row, and a note names the rows.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from recommender.catalog.ids import invisible_character
from recommender.catalog.problems import Problem, listed_rows, row_numbers

MAX_ABS_RATING = 1e6
MAX_CLOCK_SKEW_SECONDS = 24 * 3600
IMAGE_COLUMNS = ("image_url", "image")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
RESERVED_IDS = (".", "..")
ID_FORM = "NFC"  # ids are read in one Unicode form (recommender/catalog/ids.py)


def present(values: pd.Series) -> pd.Series:
    """True where a cell holds something (not missing, not empty text)."""
    return values.notna() & (values != "")


def _invisible(value: str) -> bool:
    return invisible_character(value) is not None


def item_id_problems(item_id: pd.Series, name: str) -> list[Problem]:
    """Every reason an item id cannot be used, each with its rows."""
    checks = (
        (~present(item_id), "empty item id"),
        (item_id.str.contains("/", regex=False), "item ids cannot contain '/'"),
        (item_id.isin(RESERVED_IDS), "item ids cannot be '.' or '..'"),
        (item_id.str.contains(CONTROL_CHARACTERS), "item ids cannot contain control characters "
                                                   "(newline, tab and the like)"),
        (item_id.map(_invisible, na_action="ignore") & ~item_id.str.contains(CONTROL_CHARACTERS),
         "item ids cannot contain invisible characters (zero-width, byte-order mark, direction marks, no-break "
         "and other special spaces)"),
        (item_id.duplicated(keep="first") & present(item_id), "duplicate item id"),
    )
    return [Problem(name, message, column="item_id", rows=row_numbers(mask.fillna(False)))
            for mask, message in checks if mask.fillna(False).any()]


def parse_ratings(raw: pd.Series, name: str) -> tuple[pd.Series, list[Problem]]:
    """Ratings as floats; text, NaN, infinities and values beyond ±MAX_ABS_RATING are problems."""
    parsed = pd.to_numeric(raw, errors="coerce").astype(float)
    unparsed = present(raw) & parsed.isna()
    out_of_range = ~np.isfinite(parsed) & parsed.notna() | (parsed.abs() > MAX_ABS_RATING)
    problems = []
    if unparsed.any():
        problems.append(Problem(name, "rating is not a number", column="rating", rows=row_numbers(unparsed)))
    if out_of_range.any():
        problems.append(Problem(name, f"rating is not a finite number between -{MAX_ABS_RATING:g} and "
                                      f"{MAX_ABS_RATING:g}", column="rating", rows=row_numbers(out_of_range)))
    return parsed, problems


def _timestamp_seconds(raw: pd.Series) -> pd.Series:
    """Unix seconds, or any date pandas understands, as float seconds."""
    numbers = pd.to_numeric(raw, errors="coerce").astype(float)
    dates = pd.to_datetime(raw.where(numbers.isna()), errors="coerce", utc=True, format="mixed")
    seconds = dates.map(lambda d: np.nan if pd.isna(d) else d.timestamp()).astype(float)
    return numbers.fillna(seconds)


def parse_timestamps(raw: pd.Series, name: str, now: float | None = None) -> tuple[pd.Series, list[Problem]]:
    """Timestamps as Unix seconds between 1970 and now plus a day of clock skew."""
    parsed = _timestamp_seconds(raw)
    latest = (time.time() if now is None else now) + MAX_CLOCK_SKEW_SECONDS
    unparsed = present(raw) & parsed.isna()
    out_of_range = parsed.notna() & ~((parsed >= 0) & (parsed <= latest))
    problems = []
    if unparsed.any():
        problems.append(Problem(name, "timestamp is not a Unix time or a date", column="timestamp",
                                rows=row_numbers(unparsed)))
    if out_of_range.any():
        problems.append(Problem(name, "timestamp is not between 1970-01-01 and tomorrow (Unix seconds: if these "
                                      "are milliseconds, divide by 1000)", column="timestamp",
                                rows=row_numbers(out_of_range)))
    return parsed, problems


def _is_web_url(value: str) -> bool:
    if CONTROL_CHARACTERS.search(value) or " " in value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def blank_non_web_images(items: pd.DataFrame, name: str) -> list[str]:
    """Blank image cells that are not http(s) URLs (they would become <img src>), returning a note
    per column naming the rows, so a catalog with a few bad links still loads."""
    notes = []
    for column in IMAGE_COLUMNS:
        if column not in items.columns:
            continue
        values = items[column]
        bad = (values != "") & ~values.map(_is_web_url).astype(bool)
        if bad.any():
            items.loc[bad, column] = ""
            notes.append(f"{name}, column '{column}': {int(bad.sum())} value(s) are not http(s) URLs and were "
                         f"left blank{listed_rows(row_numbers(bad))}")
    return notes
