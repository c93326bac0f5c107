"""Writing CSV that a spreadsheet opens as data, never as formulas (CSV injection).

Catalogs are accepted as they are: real titles such as `-30-`, `+1 -1` or `@Home` are data. The danger
is only when Likewise writes a CSV that someone opens in a spreadsheet, so the neutralising happens here,
on the way out: a text cell that starts with a formula character gets a leading apostrophe, which
spreadsheets read as "this is text" (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import IO

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
TEXT_MARKER = "'"
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """The value to write in a CSV cell: text that a spreadsheet would run as a formula (also after
    leading spaces, which some spreadsheets skip) is prefixed with an apostrophe; numbers, text holding
    a plain signed number, missing values and ordinary text are unchanged."""
    if not isinstance(value, str) or PLAIN_NUMBER.fullmatch(value):
        return value
    if value.lstrip(" ").startswith(FORMULA_STARTS):
        return TEXT_MARKER + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame whose text cells and column names are safe to open in a spreadsheet."""
    safe = frame.copy()
    safe.columns = [safe_cell(str(c)) for c in frame.columns]
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            cells = [safe_cell(value) for value in values]  # not Series.map: it would turn 12 beside a None into 12.0
            safe.isetitem(position, pd.Series(cells, index=frame.index, dtype=object))
    return safe


def write_safe_csv(frame: pd.DataFrame, path_or_buffer: str | Path | IO[str], header: bool = True) -> None:
    """Write the frame (without its index: reset_index first to keep it) as UTF-8 CSV with every text
    cell and column name neutralised (see safe_cell). Lines end in CRLF (RFC 4180): Python's csv writer
    quotes only the line-end characters of its own terminator, so with a bare LF a cell holding a CR
    would be written unquoted and split the row for every reader."""
    safe_frame(frame).to_csv(path_or_buffer, index=False, header=header, quoting=csv.QUOTE_MINIMAL,
                             lineterminator="\r\n", encoding="utf-8")


def safe_csv_text(frame: pd.DataFrame, header: bool = True) -> str:
    """The neutralised CSV as a string, for an HTTP response body (or one chunk of it, without header)."""
    buffer = io.StringIO()
    write_safe_csv(frame, buffer, header)
    return buffer.getvalue()


def catalog_csv_chunks(columns: list[str], frames):
    """Neutralised CSV text for a streamed download: the header of `columns`, then a chunk per frame."""
    yield safe_csv_text(pd.DataFrame(columns=columns))
    for frame in frames:
        yield safe_csv_text(frame, header=False)
