"""Reading a catalog file (CSV or Parquet) into a frame of text, within bounds checked before parsing.

Every limit is checked on the cheap view first (the header, the Parquet schema, a streaming pass of
Python's C csv reader) so a hostile or broken file is refused within seconds, naming the file and the
limit, instead of pandas building a 100,000-column index for a minute.
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from recommender.catalog.problems import CatalogError, Problem

MAX_COLUMNS = 200
MAX_LINE_CHARS = 2**20
MAX_CELL_CHARS = 64 * 2**10
MAX_EXPANDED_BYTES = 2 * 2**30
SNIFF_BYTES = 1 << 16
SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")


def read_table(path: Path, name: str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The file as a frame of text (Parquet numbers stay numbers); text_columns must hold text or
    whole numbers, which only a Parquet schema can get wrong."""
    if not path.exists():
        raise CatalogError([Problem(name, "file not found")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CatalogError([Problem(name, f"unsupported file type '{suffix or 'none'}': use .csv or .parquet")])
    if path.stat().st_size == 0:
        raise CatalogError([Problem(name, "the file is empty")])
    if suffix == ".csv":
        return _read_csv(path, name)
    return _read_parquet(path, name, text_columns)


def _decode_csv(path: Path, name: str) -> str:
    """The file's text with \\n line ends; old-Mac files ending lines with a lone CR are read as lines."""
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04" or zipfile.is_zipfile(io.BytesIO(raw[:SNIFF_BYTES])):
        raise CatalogError([Problem(name, "this is a zip archive, not a CSV file: upload the CSV itself")])
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw[:nul].count(b"\n") + 1
        raise CatalogError([Problem(name, f"binary data found (a NUL byte on line {line}): this is not a text "
                                          "CSV file", rows=(line,))])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogError([Problem(name, f"not valid UTF-8 text (first bad byte on line {line}): "
                                          "save the file as UTF-8", rows=(line,))]) from None
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    return text


def _bounded_lines(text: str, name: str) -> Iterator[str]:
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE_CHARS:
            if number == 1 and line.count(",") >= MAX_COLUMNS:
                raise CatalogError([Problem(name, f"too many columns (about {line.count(',') + 1} in a header "
                                                  f"line of {len(line):,} characters); at most {MAX_COLUMNS}")])
            raise CatalogError([Problem(name, f"line {number} is longer than {MAX_LINE_CHARS:,} characters, the "
                                              "most a line may hold", rows=(number,))])
        yield line


@contextlib.contextmanager
def _csv_cell_limit(limit: int):
    """The csv module's cell limit is process-wide: set it for one scan and put it back."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def check_csv_shape(text: str, name: str) -> None:
    """Refuse a line over MAX_LINE_CHARS, a cell over MAX_CELL_CHARS, a header over MAX_COLUMNS and
    lines with more cells than the header (pandas would silently turn the extras into an index)."""
    reader = csv.reader(_bounded_lines(text, name))
    wider: list[int] = []
    with _csv_cell_limit(MAX_CELL_CHARS):
        try:
            header = next(reader, [])
            if len(header) > MAX_COLUMNS:
                raise CatalogError([Problem(name, f"too many columns ({len(header)}); at most {MAX_COLUMNS}")])
            for record in reader:
                if len(record) > len(header):
                    wider.append(reader.line_num)
        except csv.Error as exc:
            raise CatalogError([Problem(name, _csv_error_text(exc), rows=(reader.line_num,))]) from None
    if wider:
        raise CatalogError([Problem(name, f"lines with more cells than the header's {len(header)}: quote cells "
                                          "that contain commas", rows=tuple(wider))])


def _csv_error_text(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {MAX_CELL_CHARS:,} characters, the most a cell may hold"
    return f"cannot be read as CSV: {exc}"


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    text = _decode_csv(path, name)
    check_csv_shape(text, name)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise CatalogError([Problem(name, "the file is empty")]) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise CatalogError([Problem(name, f"cannot be read as CSV: {exc}")]) from None


def _check_parquet_schema(path: Path, name: str, text_columns: tuple[str, ...]) -> None:
    """Column count, nested or binary id/title columns and the expanded size, from metadata only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if len(schema.names) > MAX_COLUMNS:
        raise CatalogError([Problem(name, f"too many columns ({len(schema.names)}); at most {MAX_COLUMNS}")])
    problems = []
    for column in text_columns:
        if column in schema.names:
            kind = schema.field(column).type
            if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind) \
                    or pa.types.is_fixed_size_binary(kind):
                problems.append(Problem(name, f"must be text or whole numbers, not Parquet type {kind}",
                                        column=column))
    if problems:
        raise CatalogError(problems)
    metadata = pq.ParquetFile(path).metadata
    expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if expanded > MAX_EXPANDED_BYTES:
        raise CatalogError([Problem(name, f"decompresses to {expanded // 2**20} MiB, more than the "
                                          f"{MAX_EXPANDED_BYTES // 2**20} MiB allowed: split the catalog")])


def _read_parquet(path: Path, name: str, text_columns: tuple[str, ...]) -> pd.DataFrame:
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        _check_parquet_schema(path, name, text_columns)
        frame = pq.read_table(path).to_pandas()
    except (ArrowException, OSError) as exc:
        raise CatalogError([Problem(name, f"cannot be read as Parquet: {exc}")]) from None
    return frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
