"""Loading and validating a catalog: an items file and an optional interactions file.

Errors are collected, not raised one at a time, so an operator fixing a file sees every
problem at once, each naming the file, the column and the first offending rows. Text is taken
as it is (titles such as `-30-` or `@Home` are real); CSV written back out goes through
recommender.catalog.csv_export, which neutralises spreadsheet formulas. Reading limits live in
recommender.catalog.read, value limits in recommender.catalog.values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.catalog.attribute_types import type_attributes
from recommender.catalog.column_hints import missing_column_message
from recommender.catalog.problems import MAX_ROWS_LISTED, CatalogError, Problem, row_numbers
from recommender.catalog.read import MAX_COLUMNS, SUPPORTED_SUFFIXES, read_table
from recommender.catalog.values import (
    ID_FORM,
    blank_non_web_images,
    item_id_problems,
    parse_ratings,
    parse_timestamps,
    present,
)
from recommender.limits import SESSION_ID_MAX_CHARS

__all__ = ["CatalogError", "Problem", "Catalog", "load_items", "load_interactions", "load_catalog", "file_hash",
           "MAX_COLUMNS", "MAX_ROWS_LISTED", "SUPPORTED_SUFFIXES"]

ITEM_COLUMNS = ("item_id", "title", "description", "categories", "year")
REQUIRED_ITEM_COLUMNS = ("item_id", "title")
REQUIRED_INTERACTION_COLUMNS = ("user_id", "item_id")
SESSION_COLUMN = "session_id"
MAX_YEAR = 3000


@dataclass
class Catalog:
    """Validated items (and interactions, if any), with the hash of the source data."""

    items: pd.DataFrame
    interactions: pd.DataFrame | None = None
    source_hash: str = ""
    notes: list[str] = field(default_factory=list)
    baskets: pd.DataFrame | None = None  # (session_id, item_id) of orders, from the store (issue 24)

    @property
    def attribute_columns(self) -> list[str]:
        return [c for c in self.items.columns if c not in ITEM_COLUMNS]


def _check_columns(frame: pd.DataFrame, name: str, required: tuple[str, ...]) -> list[Problem]:
    problems = []
    stripped = [str(c).strip() for c in frame.columns]
    duplicated = sorted({c for c in stripped if stripped.count(c) > 1 or c.endswith(".1") and c[:-2] in stripped})
    for column in duplicated:
        problems.append(Problem(name, "column appears more than once", column=column.removesuffix(".1")))
    for column in required:
        if column not in stripped:
            problems.append(Problem(name, missing_column_message(column, stripped), column=column))
    if len(frame) == 0 and not problems:
        problems.append(Problem(name, "the file has a header but no rows"))
    return problems


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("string").str.strip()


def _open_table(path: str | Path, name: str | None, required: tuple[str, ...]) -> tuple[pd.DataFrame, str]:
    """Read a file and check its columns; returns the frame (column names stripped) and its name."""
    path = Path(path)
    name = name or path.name
    frame = read_table(path, name, text_columns=required)
    problems = _check_columns(frame, name, required)
    if problems:
        raise CatalogError(problems)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, name


def _parse_year(frame: pd.DataFrame, name: str) -> tuple[pd.Series | None, list[Problem]]:
    if "year" not in frame.columns:
        return None, []
    raw_year = _text_column(frame, "year")
    year = pd.to_numeric(raw_year, errors="coerce")
    bad_year = (present(raw_year) & year.isna()) | year.notna() & ((year % 1 != 0) | (year < 0) | (year > MAX_YEAR))
    if bad_year.fillna(False).any():
        return year, [Problem(name, f"year is not a whole number between 0 and {MAX_YEAR}", column="year",
                              rows=row_numbers(bad_year.fillna(False)))]
    return year, []


def _item_table(frame: pd.DataFrame, item_id: pd.Series, title: pd.Series, year: pd.Series | None,
                attributes: dict) -> pd.DataFrame:
    """The validated columns in their fixed order, then every extra column in its type
    (recommender/catalog/attribute_types.py)."""
    items = pd.DataFrame({"item_id": item_id.astype(str), "title": title.astype(str)})
    for column in ("description", "categories"):
        items[column] = _text_column(frame, column).fillna("").astype(str) if column in frame.columns else ""
    items["year"] = year.astype("Int64") if year is not None else pd.array([pd.NA] * len(frame), dtype="Int64")
    for column, values in attributes.items():
        items[column] = values.to_numpy() if isinstance(values, pd.Series) else values
    return items.reset_index(drop=True)


def read_items(path: str | Path, name: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read and validate an items file; returns the items (ids as strings) and notes on what was
    cleaned (non-web image links blanked) without refusing the file."""
    frame, name = _open_table(path, name, REQUIRED_ITEM_COLUMNS)
    item_id = _text_column(frame, "item_id").str.normalize(ID_FORM)  # "café" typed two ways is one item
    problems = item_id_problems(item_id, name)
    title = _text_column(frame, "title")
    empty_title = ~present(title)
    if empty_title.any():
        problems.append(Problem(name, "empty title", column="title", rows=row_numbers(empty_title)))
    year, year_problems = _parse_year(frame, name)
    problems += year_problems
    attributes, type_problems = type_attributes(frame, [c for c in frame.columns if c not in ITEM_COLUMNS], name)
    problems += type_problems
    if problems:
        raise CatalogError(problems)
    items = _item_table(frame, item_id, title, year, attributes)
    return items, blank_non_web_images(items, name)


def load_items(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Read and validate an items file; item ids come back as strings."""
    return read_items(path, name)[0]


def load_interactions(path: str | Path, item_ids: pd.Series | None, name: str | None = None) -> pd.DataFrame:
    """Read and validate interactions against the known item ids (when the items file was readable)."""
    frame, name = _open_table(path, name, REQUIRED_INTERACTION_COLUMNS)
    problems: list[Problem] = []
    user_id = _text_column(frame, "user_id").str.normalize(ID_FORM)
    item_id = _text_column(frame, "item_id").str.normalize(ID_FORM)
    for column, values in (("user_id", user_id), ("item_id", item_id)):
        empty = ~present(values)
        if empty.any():
            problems.append(Problem(name, "empty id", column=column, rows=row_numbers(empty)))
    unknown = present(item_id) & ~item_id.isin(set(() if item_ids is None else item_ids))
    if item_ids is not None and unknown.any():
        examples = ", ".join(sorted(set(item_id[unknown].head(MAX_ROWS_LISTED))))
        problems.append(Problem(name, f"item ids not in the items file ({examples})", column="item_id",
                                rows=row_numbers(unknown)))
    interactions = pd.DataFrame({"user_id": user_id.astype(str), "item_id": item_id.astype(str)})
    for column, parse in (("rating", parse_ratings), ("timestamp", parse_timestamps)):
        if column in frame.columns:
            parsed, column_problems = parse(_text_column(frame, column), name)
            problems += column_problems
            interactions[column] = parsed.to_numpy(dtype=float)
        else:
            interactions[column] = np.nan
    if SESSION_COLUMN in frame.columns:
        interactions[SESSION_COLUMN], session_problems = _session_ids(frame, name)
        problems += session_problems
    if problems:
        raise CatalogError(problems)
    return interactions


def _session_ids(frame: pd.DataFrame, name: str) -> tuple[pd.Series, list[Problem]]:
    """The optional session_id column (an order, basket or session; empty cells: none), at most
    SESSION_ID_MAX_CHARS characters."""
    sessions = _text_column(frame, SESSION_COLUMN).str.normalize(ID_FORM)
    too_long = sessions.fillna("").str.len() > SESSION_ID_MAX_CHARS
    problems = [Problem(name, f"session_id longer than {SESSION_ID_MAX_CHARS} characters", column=SESSION_COLUMN,
                        rows=row_numbers(too_long))] if too_long.any() else []
    kept = present(sessions).fillna(False).to_numpy(dtype=bool)
    return pd.Series([value if keep else None for value, keep in zip(sessions.tolist(), kept)], dtype=object,
                     index=frame.index), problems


def file_hash(*paths: str | Path | None) -> str:
    """Hash of the source files, so a manifest shows when two builds came from the same data."""
    digest = hashlib.sha256()
    for path in paths:
        if path is None:
            digest.update(b"<none>")
            continue
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def load_catalog(items_path: str | Path, interactions_path: str | Path | None = None) -> Catalog:
    """Load both files; every problem in either file is reported together."""
    problems: list[Problem] = []
    items = None
    notes: list[str] = []
    try:
        items, notes = read_items(items_path)
    except CatalogError as exc:
        problems += exc.problems
    interactions = None
    if interactions_path is not None:
        try:
            interactions = load_interactions(interactions_path, None if items is None else items["item_id"])
        except CatalogError as exc:
            problems += exc.problems
    if problems:
        raise CatalogError(problems)
    return Catalog(items=items, interactions=interactions, source_hash=file_hash(items_path, interactions_path),
                   notes=notes)
