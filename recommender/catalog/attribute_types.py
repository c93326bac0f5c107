"""The types of a catalog's extra columns (attributes), so prices stay numbers and flags stay booleans.

A CSV column is numeric when every non-empty cell is a finite number, boolean when every non-empty cell
is true or false (any case), text otherwise; a header suffix (`price:number`, `in_stock:boolean`,
`sku:text`) says so instead of guessing, and is removed from the name. A column with no values at all
is text. Parquet columns keep the type the file gives them. The store keeps the values as JSON; its
frames get the type every stored value of an attribute agrees on (stored_attribute_column below).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recommender.catalog.problems import Problem, row_numbers

NUMBER, BOOLEAN, TEXT = "number", "boolean", "text"
TYPE_SUFFIXES = {"number": NUMBER, "numeric": NUMBER, "boolean": BOOLEAN, "bool": BOOLEAN, "text": TEXT}
TRUE_WORDS, FALSE_WORDS = ("true",), ("false",)
UNTYPED_COLUMNS = ("image_url", "image", "url", "hidden")  # read elsewhere as text


def split_type_suffix(column: str) -> tuple[str, str | None]:
    """('price', 'number') for 'price:number'; (column, None) without a known suffix."""
    name, colon, suffix = column.rpartition(":")
    kind = TYPE_SUFFIXES.get(suffix.strip().lower()) if colon else None
    return (name.strip(), kind) if kind and name.strip() else (column, None)


def _numbers(text: pd.Series) -> pd.Series:
    parsed = pd.to_numeric(text.where(text != ""), errors="coerce").astype(float)
    return parsed.where(np.isfinite(parsed))


def _booleans(text: pd.Series) -> pd.Series:
    folded = text.str.strip().str.lower()
    return folded.map(lambda v: True if v in TRUE_WORDS else False if v in FALSE_WORDS else None)


def detect_type(text: pd.Series) -> str:
    """NUMBER, BOOLEAN or TEXT for a column of text cells ('' = empty)."""
    filled = text[text != ""]
    if not len(filled):
        return TEXT
    if _numbers(filled).notna().all():
        return NUMBER
    if _booleans(filled).notna().all():
        return BOOLEAN
    return TEXT


def typed_column(text: pd.Series, kind: str, name: str, column: str) -> tuple[pd.Series, list[Problem]]:
    """The column in its type: floats (NaN when empty), booleans (None when empty) or text."""
    filled = text != ""
    if kind == NUMBER:
        values = _numbers(text)
        bad = filled & values.isna()
        message = "is declared a number but holds cells that are not finite numbers"
    elif kind == BOOLEAN:
        values = _booleans(text).astype(object)
        bad = filled & values.isna()
        message = "is declared boolean but holds cells that are not true or false"
    else:
        return text, []
    problems = [Problem(name, message, column=column, rows=row_numbers(bad))] if bad.any() else []
    return values, problems


def type_attributes(frame: pd.DataFrame, columns: list[str], name: str) -> tuple[dict, list[Problem]]:
    """{attribute name: typed values} for the text `columns` of a CSV frame, with the suffixes removed."""
    typed, problems = {}, []
    for column in columns:
        text = frame[column].astype("string").fillna("").astype(str)
        attribute, declared = split_type_suffix(column)
        if attribute in UNTYPED_COLUMNS:
            typed[attribute] = text
            continue
        values, column_problems = typed_column(text, declared or detect_type(text), name, column)
        typed[attribute] = values
        problems += column_problems
    return typed, problems


def json_value(value):
    """A cell as JSON keeps it: whole numbers as int, other numbers as float, booleans, text; None when empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)
    return None if str(value) == "" else str(value)


def value_kind(value) -> str | None:
    """The type of one stored attribute value (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOLEAN
    return NUMBER if isinstance(value, (int, float)) else TEXT


def stored_attribute_column(values: list) -> list | pd.Series:
    """A frame column for one attribute from its stored values: floats or booleans when every stored value
    agrees on that type, else text ('' when missing, true/false for booleans)."""
    kinds = {value_kind(v) for v in values} - {None}
    if kinds == {NUMBER}:
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if kinds == {BOOLEAN}:
        return pd.Series(values, dtype=object)
    return ["" if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]
