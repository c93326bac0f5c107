"""Bounded reading: every oversized or misshapen file gets its CatalogError within seconds, naming the
file and the limit, before pandas parses it (a 400 KB line of 100,000 cells used to take minutes)."""

from __future__ import annotations

import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recommender.catalog.load import CatalogError, load_interactions, load_items
from recommender.catalog.read import MAX_CELL_CHARS, MAX_COLUMNS, MAX_LINE_CHARS

REFUSAL_SECONDS = 10


def refused(path, call=load_items, *args):
    started = time.monotonic()
    with pytest.raises(CatalogError) as info:
        call(path, *args)
    elapsed = time.monotonic() - started
    assert elapsed < REFUSAL_SECONDS, f"refusing {path.name} took {elapsed:.1f} s"
    problems = info.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    assert problems[0].file == path.name
    return problems[0]


def wide(cells: int) -> str:
    return ",".join("x" for _ in range(cells))


@pytest.mark.parametrize("data_line", [2, 3])
def test_data_line_with_100000_cells_is_refused_fast(tmp_path, data_line):
    """The issue 11.6 file: a short header, then a 100,000-cell line (~200-400 KB)."""
    lines = ["item_id,title", "1,A", "2,B"]
    lines[data_line - 1] = wide(100_000)
    path = tmp_path / "items.csv"
    path.write_text("\n".join(lines) + "\n")
    problem = refused(path)
    assert problem.rows == (data_line,)
    assert "more cells than the header's 2" in problem.message


def test_rows_wider_than_the_header_are_listed(tmp_path):
    """Unquoted commas in a title add cells; pandas would have made an index of them silently."""
    path = tmp_path / "items.csv"
    path.write_text("item_id,title\n1,Alpha\n2,Hello, World\n3,Gamma\n4,A,B,C\n")
    problem = refused(path)
    assert problem.rows == (3, 5) and "quote" in problem.message


def test_header_over_the_column_limit(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(f"item_id,title,{wide(MAX_COLUMNS)}\n1,A\n")
    problem = refused(path)
    assert "too many columns" in problem.message and str(MAX_COLUMNS) in problem.message


def test_column_limit_counts_quoted_commas_as_text(tmp_path):
    """A header cell with commas inside quotes is one column, not hundreds."""
    path = tmp_path / "items.csv"
    path.write_text('item_id,title,"' + wide(MAX_COLUMNS * 2) + '"\n1,A,b\n')
    assert load_items(path).shape[0] == 1


def test_line_over_the_length_limit(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,description\n1,A,short\n2,B," + "y" * (MAX_LINE_CHARS + 1) + "\n")
    problem = refused(path)
    assert problem.rows == (3,) and f"{MAX_LINE_CHARS:,}" in problem.message and "line 3" in problem.message


def test_cell_over_the_size_limit(tmp_path):
    """A quoted cell spanning many short lines is still one cell, and is bounded."""
    path = tmp_path / "items.csv"
    big = "\n".join(["z" * 1000] * (MAX_CELL_CHARS // 1000 + 2))
    path.write_text(f'item_id,title,description\n1,A,"{big}"\n')
    problem = refused(path)
    assert f"{MAX_CELL_CHARS:,}" in problem.message and "cell" in problem.message


def test_cell_at_the_size_limit_loads(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(f"item_id,title,description\n1,A,{'d' * MAX_CELL_CHARS}\n")
    assert len(load_items(path)["description"].iloc[0]) == MAX_CELL_CHARS


def test_cr_only_line_endings_are_read_as_lines(tmp_path):
    """Old Mac files end lines with a lone CR; they load like any other file, and stay bounded."""
    path = tmp_path / "items.csv"
    path.write_bytes(b"item_id,title,year\r1,Alpha,1990\r2,Beta,2001\r3,Gamma,\r")
    items = load_items(path)
    assert items["item_id"].tolist() == ["1", "2", "3"]
    assert items["year"].tolist()[:2] == [1990, 2001]
    path.write_bytes(b"item_id,title\r1,A\r" + wide(100_000).encode() + b"\r")
    assert refused(path).rows == (3,)


def test_interactions_are_bounded_too(tmp_path):
    path = tmp_path / "interactions.csv"
    path.write_text("user_id,item_id\nu1,1\n" + wide(100_000) + "\n")
    assert refused(path, load_interactions, None).rows == (3,)


def test_parquet_column_limit_is_read_from_the_schema(tmp_path):
    path = tmp_path / "items.parquet"
    pq.write_table(pa.table({"item_id": ["1"], "title": ["A"], **{f"c{i}": ["x"] for i in range(MAX_COLUMNS)}}), path)
    problem = refused(path)
    assert "too many columns" in problem.message and f"{MAX_COLUMNS + 2}" in problem.message


def test_nul_byte_after_the_sniffed_start_is_a_catalog_error(tmp_path):
    path = tmp_path / "items.csv"
    frame = pd.DataFrame({"item_id": range(20_000), "title": "t"})
    path.write_bytes(frame.to_csv(index=False).encode() + b"20001,bad\x00title\n")
    problem = refused(path)
    assert "binary" in problem.message and problem.rows == (20_002,)
