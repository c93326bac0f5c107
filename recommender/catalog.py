"""Loading and validating a catalog: an items file and an optional interactions file.

Errors are collected, not raised one at a time, so an operator fixing a file sees every
problem at once, each naming the file, the column and the first offending rows.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ITEM_COLUMNS = ("item_id", "title", "description", "categories", "year")
REQUIRED_ITEM_COLUMNS = ("item_id", "title")
REQUIRED_INTERACTION_COLUMNS = ("user_id", "item_id")
MAX_COLUMNS = 200
MAX_EXPANDED_BYTES = 2 * 2**30
MAX_ROWS_LISTED = 5
SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, specific enough to fix."""

    file: str
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = self.file + (f", column '{self.column}'" if self.column else "")
        rows = ""
        if self.rows:
            rows = " (rows " + ", ".join(str(r) for r in self.rows[:MAX_ROWS_LISTED])
            rows += ", …)" if len(self.rows) > MAX_ROWS_LISTED else ")"
        return f"{where}: {self.message}{rows}"

    def as_dict(self) -> dict:
        return {"file": self.file, "column": self.column, "rows": list(self.rows[:MAX_ROWS_LISTED]),
                "message": self.message}


class CatalogError(ValueError):
    """A catalog that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class Catalog:
    """Validated items (and interactions, if any), with the hash of the source data."""

    items: pd.DataFrame
    interactions: pd.DataFrame | None = None
    source_hash: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def attribute_columns(self) -> list[str]:
        return [c for c in self.items.columns if c not in ITEM_COLUMNS]


def _row_numbers(mask: pd.Series) -> tuple[int, ...]:
    """Spreadsheet-style row numbers (header is row 1) of the rows where mask is true."""
    return tuple(int(i) + 2 for i in np.flatnonzero(mask.to_numpy()))


def _read_table(path: Path, name: str) -> pd.DataFrame:
    if not path.exists():
        raise CatalogError([Problem(name, "file not found")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CatalogError([Problem(name, f"unsupported file type '{suffix or 'none'}': use .csv or .parquet")])
    if path.stat().st_size == 0:
        raise CatalogError([Problem(name, "the file is empty")])
    if suffix == ".csv":
        return _read_csv(path, name)
    return _read_parquet(path, name)


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04" or zipfile.is_zipfile(io.BytesIO(raw[:1 << 16])):
        raise CatalogError([Problem(name, "this is a zip archive, not a CSV file: upload the CSV itself")])
    if b"\x00" in raw[:1 << 16]:
        raise CatalogError([Problem(name, "binary data found: this is not a text CSV file")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogError([Problem(name, f"not valid UTF-8 text (first bad byte on line {line}): "
                                          "save the file as UTF-8", rows=(line,))]) from None
    header = text.split("\n", 1)[0]
    if header.count(",") + 1 > MAX_COLUMNS:
        raise CatalogError([Problem(name, f"too many columns ({header.count(',') + 1}); at most {MAX_COLUMNS}")])
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise CatalogError([Problem(name, "the file is empty")]) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise CatalogError([Problem(name, f"cannot be read as CSV: {exc}")]) from None
    return frame


def _read_parquet(path: Path, name: str) -> pd.DataFrame:
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        schema = pq.read_schema(path)
        if len(schema.names) > MAX_COLUMNS:
            raise CatalogError([Problem(name, f"too many columns ({len(schema.names)}); at most {MAX_COLUMNS}")])
        metadata = pq.ParquetFile(path).metadata
        expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        if expanded > MAX_EXPANDED_BYTES:
            raise CatalogError([Problem(name, f"decompresses to {expanded // 2**20} MiB, more than the "
                                              f"{MAX_EXPANDED_BYTES // 2**20} MiB allowed: split the catalog")])
        frame = pq.read_table(path).to_pandas()
    except (ArrowException, OSError) as exc:
        raise CatalogError([Problem(name, f"cannot be read as Parquet: {exc}")]) from None
    return frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})


def _check_columns(frame: pd.DataFrame, name: str, required: tuple[str, ...]) -> list[Problem]:
    problems = []
    stripped = [str(c).strip() for c in frame.columns]
    duplicated = sorted({c for c in stripped if stripped.count(c) > 1 or c.endswith(".1") and c[:-2] in stripped})
    for column in duplicated:
        problems.append(Problem(name, "column appears more than once", column=column.removesuffix(".1")))
    for column in required:
        if column not in stripped:
            problems.append(Problem(name, "required column is missing", column=column))
    if len(frame) == 0 and not problems:
        problems.append(Problem(name, "the file has a header but no rows"))
    return problems


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("string").str.strip()


def _formula_cells(frame: pd.DataFrame, name: str, columns) -> list[Problem]:
    """Cells that a spreadsheet would run as a formula when someone exports the data again
    (leading spaces do not hide one); plain signed numbers and a lone sign are fine."""
    problems = []
    for column in columns:
        values = frame[column].astype("string").fillna("").str.lstrip(" \t\r\n")
        starts = values.str[:1].isin(FORMULA_PREFIXES)
        harmless = values.str.fullmatch(r"[+\-]?(\d+([.,]\d+)?)?") | values.str.fullmatch(r"-+")
        mask = starts & ~harmless
        if mask.any():
            problems.append(Problem(name, "cells start like a spreadsheet formula (=, +, -, @); "
                                          "remove the formula", column=column, rows=_row_numbers(mask)))
    return problems


def _parse_timestamp(raw: pd.Series) -> pd.Series:
    """Unix seconds, or any date pandas understands, as float seconds."""
    numbers = pd.to_numeric(raw, errors="coerce")
    dates = pd.to_datetime(raw.where(numbers.isna()), errors="coerce", utc=True, format="mixed")
    seconds = dates.map(lambda d: np.nan if pd.isna(d) else d.timestamp()).astype(float)
    return numbers.astype(float).fillna(seconds)


def _open_table(path: str | Path, name: str | None, required: tuple[str, ...]) -> tuple[pd.DataFrame, str]:
    """Read a file and check its columns; returns the frame (column names stripped) and its name."""
    path = Path(path)
    name = name or path.name
    frame = _read_table(path, name)
    problems = _check_columns(frame, name, required)
    if problems:
        raise CatalogError(problems)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, name


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values == "")


def load_items(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Read and validate an items file; item ids come back as strings."""
    frame, name = _open_table(path, name, REQUIRED_ITEM_COLUMNS)
    problems: list[Problem] = []
    item_id = _text_column(frame, "item_id")
    empty_id = _blank(item_id)
    if empty_id.any():
        problems.append(Problem(name, "empty item id", column="item_id", rows=_row_numbers(empty_id)))
    slash = item_id.fillna("").str.contains("/", regex=False)
    if slash.any():
        problems.append(Problem(name, "item ids cannot contain '/'", column="item_id", rows=_row_numbers(slash)))
    duplicate = item_id.duplicated(keep="first") & ~empty_id
    if duplicate.any():
        problems.append(Problem(name, "duplicate item id", column="item_id", rows=_row_numbers(duplicate)))
    title = _text_column(frame, "title")
    empty_title = _blank(title)
    if empty_title.any():
        problems.append(Problem(name, "empty title", column="title", rows=_row_numbers(empty_title)))
    year = None
    if "year" in frame.columns:
        raw_year = _text_column(frame, "year")
        year = pd.to_numeric(raw_year, errors="coerce")
        bad_year = (raw_year.notna() & (raw_year != "") & year.isna()) | ~year.isna() & (
            (year % 1 != 0) | (year < 0) | (year > 3000))
        if bad_year.any():
            problems.append(Problem(name, "year is not a whole number between 0 and 3000", column="year",
                                    rows=_row_numbers(bad_year.fillna(False))))
    problems += _formula_cells(frame, name, [c for c in frame.columns if c != "year"])
    if problems:
        raise CatalogError(problems)

    items = pd.DataFrame({"item_id": item_id.astype(str), "title": title.astype(str)})
    items["description"] = (_text_column(frame, "description").fillna("").astype(str)
                            if "description" in frame.columns else "")
    items["categories"] = (_text_column(frame, "categories").fillna("").astype(str)
                           if "categories" in frame.columns else "")
    items["year"] = year.astype("Int64") if year is not None else pd.array([pd.NA] * len(frame), dtype="Int64")
    for column in frame.columns:
        if column not in ITEM_COLUMNS:
            items[column] = frame[column].astype("string").fillna("").astype(str)
    return items.reset_index(drop=True)


def load_interactions(path: str | Path, item_ids: pd.Series | None, name: str | None = None) -> pd.DataFrame:
    """Read and validate interactions against the known item ids (when the items file was readable)."""
    frame, name = _open_table(path, name, REQUIRED_INTERACTION_COLUMNS)
    problems: list[Problem] = []
    user_id = _text_column(frame, "user_id")
    item_id = _text_column(frame, "item_id")
    for column, values in (("user_id", user_id), ("item_id", item_id)):
        empty = _blank(values)
        if empty.any():
            problems.append(Problem(name, "empty id", column=column, rows=_row_numbers(empty)))
    unknown = item_id.notna() & (item_id != "") & ~item_id.isin(set(() if item_ids is None else item_ids))
    if item_ids is not None and unknown.any():
        examples = ", ".join(sorted(set(item_id[unknown].head(MAX_ROWS_LISTED))))
        problems.append(Problem(name, f"item ids not in the items file ({examples})", column="item_id",
                                rows=_row_numbers(unknown)))
    problems += _formula_cells(frame, name, ["user_id", "item_id"])
    interactions = pd.DataFrame({"user_id": user_id.astype(str), "item_id": item_id.astype(str)})
    for column in ("rating", "timestamp"):
        if column in frame.columns:
            raw = _text_column(frame, column)
            parsed = _parse_timestamp(raw) if column == "timestamp" else pd.to_numeric(raw, errors="coerce")
            bad = raw.notna() & (raw != "") & parsed.isna()
            if bad.any():
                kind = "a number" if column == "rating" else "a Unix time or a date"
                problems.append(Problem(name, f"{column} is not {kind}", column=column, rows=_row_numbers(bad)))
            interactions[column] = parsed.astype(float)
        else:
            interactions[column] = np.nan
    if problems:
        raise CatalogError(problems)
    return interactions


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
    try:
        items = load_items(items_path)
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
    return Catalog(items=items, interactions=interactions, source_hash=file_hash(items_path, interactions_path))
