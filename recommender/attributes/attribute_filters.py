"""Conditions on attributes (`attr.<name>=`, `min.<name>=`, `max.<name>=`, and the rules' `where`/`when`), checked
against one version's columns, and tested on many rows at once.

A condition holds the values wanted (any of), and for numbers a range; every condition of a filter must hold.
Problems are raised as AttributeProblem naming the field, so the web tier answers 400 and rules 422.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recommender.attributes.attribute_columns import AttributeColumns
from recommender.catalog.attribute_types import BOOLEAN, NUMBER, TEXT

TRUE_TEXTS, FALSE_TEXTS = ("true", "1", "yes"), ("false", "0", "no")


class AttributeProblem(ValueError):
    """A condition that cannot be used; `field` names the parameter or rule field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class AttributeCondition:
    """`name` has one of `values` (when any) and lies within [low, high] (numbers; either may be None)."""

    name: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None

    def mask(self, columns: AttributeColumns, rows: np.ndarray) -> np.ndarray:
        """For each of `rows`, whether its item meets the condition (missing values never do)."""
        column = columns[self.name]
        found = column.values[rows]
        if column.kind == TEXT:
            return _any_of(found, [code for code in (column.code_of(v) for v in self.values) if code >= 0])
        if column.kind == BOOLEAN:
            return _any_of(found, [1 if v else 0 for v in self.values])
        keep = _any_of(found, self.values) if self.values else ~np.isnan(found)
        if self.low is not None:
            keep &= found >= self.low
        if self.high is not None:
            keep &= found <= self.high
        return keep

    def holds_for(self, value) -> bool:
        """The same test on one value as an item's attributes hold it (rules' `when` on the page's item)."""
        if value is None:
            return False
        if self.values and value not in self.values:
            return False
        if self.low is not None or self.high is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
        return True


def _any_of(found: np.ndarray, wanted) -> np.ndarray:
    """found == any of wanted: a comparison per value, quicker than np.isin for the few values filters hold."""
    keep = np.zeros(len(found), dtype=bool)
    for value in wanted:
        keep |= found == value
    return keep


def known_kind(columns: AttributeColumns, name: str, field: str) -> str:
    if name not in columns:
        raise AttributeProblem(field, f"unknown attribute '{name}'; known attributes: {columns.described()}")
    return columns[name].kind


def parse_number(raw, field: str) -> float:
    if isinstance(raw, bool):
        raise AttributeProblem(field, f"must be a number, got {raw!r}")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise AttributeProblem(field, f"must be a number, got {str(raw)[:40]!r}") from None
    if not math.isfinite(number):
        raise AttributeProblem(field, f"must be a finite number, got {str(raw)[:40]!r}")
    return number


def parse_value(kind: str, raw, field: str):
    """A wanted value in the attribute's type: a number, True/False, or text."""
    if kind == NUMBER:
        return parse_number(raw, field)
    if kind == BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE_TEXTS or text in FALSE_TEXTS:
            return text in TRUE_TEXTS
        raise AttributeProblem(field, f"must be true or false, got {str(raw)[:40]!r}")
    if isinstance(raw, (dict, list)) or raw is None:
        raise AttributeProblem(field, "must be a text value")
    return str(raw)


def condition(columns: AttributeColumns, name: str, values=(), low=None, high=None,
              field: str | None = None) -> AttributeCondition:
    """A checked condition: the attribute exists, values have its type, a range only on numbers."""
    field = field or name
    kind = known_kind(columns, name, field)
    if (low is not None or high is not None) and kind != NUMBER:
        raise AttributeProblem(field, f"'{name}' is a {kind} attribute: a range (min/max) needs a number "
                                      f"attribute; known attributes: {columns.described()}")
    low = None if low is None else parse_number(low, field)
    high = None if high is None else parse_number(high, field)
    if low is not None and high is not None and low > high:
        raise AttributeProblem(field, f"the minimum {low:g} is above the maximum {high:g}")
    return AttributeCondition(name, tuple(parse_value(kind, v, field) for v in values), low, high)
