"""CSV written by Likewise opens in a spreadsheet as data: formula-like text gets a leading apostrophe."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from recommender.catalog.csv_export import safe_cell, safe_csv_text, write_safe_csv

DANGEROUS = ["=1+1", "+1 -1", "-30-", "@SUM(A1)", "\t=1", "\r=1", " =HYPERLINK(\"http://x\")", "-2+3"]
HARMLESS = ["Alpha", "Don't stop", "A - B", "", "-5", "+12", "1e5", "3.25"]


@pytest.mark.parametrize("value", DANGEROUS, ids=repr)
def test_formula_like_text_is_prefixed(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS, ids=repr)
def test_plain_text_and_numbers_are_unchanged(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [-5, -2.5, None, np.nan, True], ids=repr)
def test_non_text_values_are_unchanged(value):
    assert safe_cell(value) is value


def test_write_safe_csv_neutralises_every_text_column_and_header(tmp_path):
    frame = pd.DataFrame({"item_id": ["1", "2", "3"], "title": ["=cmd|' /C calc'!A0", "Alpha", "@x"],
                          "=evil": ["a", "+b", None], "score": [-1.5, 2.0, -3.0]})
    frame["title"] = frame["title"].astype("string")
    path = tmp_path / "export.csv"
    write_safe_csv(frame, path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["item_id", "title", "'=evil", "score"]
    assert [r[1] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "Alpha", "'@x"]
    assert [r[2] for r in rows[1:]] == ["a", "'+b", ""]
    assert [r[3] for r in rows[1:]] == ["-1.5", "2.0", "-3.0"]
    assert frame.loc[0, "title"] == "=cmd|' /C calc'!A0", "the caller's frame was changed"


def test_no_written_cell_starts_like_a_formula():
    """Whatever text goes in, no cell of the output starts with a formula character after spaces."""
    rng = np.random.default_rng(7)
    alphabet = list("=+-@\t\r\n ab1,\"'")
    values = ["".join(rng.choice(alphabet, size=rng.integers(1, 6))) for _ in range(2000)]
    text = safe_csv_text(pd.DataFrame({"v": values}))
    cells = [row[0] for row in csv.reader(io.StringIO(text, newline=""))][1:]
    assert len(cells) == len(values)
    for original, cell in zip(values, cells):
        assert cell in (original, "'" + original)
        stripped = cell.lstrip(" ")
        assert not stripped[:1] or stripped[0] not in "=+-@\t\r\n" or _is_plain_number(cell), repr(cell)


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text
