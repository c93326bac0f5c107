"""The items of one index version, stored so that every web process can memory-map them.

Columns live in an uncompressed Arrow IPC file (zero-copy when mapped), and id lookups go
through a sorted id array and its row permutation, so no process builds a per-item dict or
list: a million items cost each process pages of the shared file, not private memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from recommender.catalog.attribute_types import json_value
from recommender.layout import ITEM_ID_ROWS_FILE, ITEM_IDS_FILE, ITEM_TABLE_FILE

if TYPE_CHECKING:
    import pandas as pd

CORE_COLUMNS = ("item_id", "title", "description", "categories", "year", "interaction_count",
                "collaborative_share")


def write_item_table(items: pd.DataFrame, directory: Path) -> None:
    """Write the table as one record batch (one chunk when read back) and the sorted id index."""
    frame = items.reset_index(drop=True).copy()
    frame["year"] = frame["year"].astype("Int64")
    table = pa.Table.from_pandas(frame, preserve_index=False).combine_chunks()
    with pa.OSFile(str(directory / ITEM_TABLE_FILE), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=max(len(frame), 1))
    ids = frame["item_id"].astype(str).to_numpy().astype(str)
    order = np.argsort(ids, kind="stable").astype(np.int32)
    np.save(directory / ITEM_IDS_FILE, ids[order])
    np.save(directory / ITEM_ID_ROWS_FILE, order)


class ItemTable:
    """Read-only, memory-mapped view of the items; rows are positions in the index."""

    def __init__(self, directory: Path):
        source = pa.memory_map(str(directory / ITEM_TABLE_FILE), "r")
        self.table = pa.ipc.open_file(source).read_all()
        self._columns = {name: (self.table.column(name).chunk(0) if self.table.column(name).num_chunks
                                else pa.array([], type=self.table.column(name).type))
                         for name in self.table.column_names}
        self.ids = np.load(directory / ITEM_IDS_FILE, mmap_mode="r").view(np.ndarray)
        self.id_rows = np.load(directory / ITEM_ID_ROWS_FILE, mmap_mode="r").view(np.ndarray)
        self.attribute_columns = [c for c in self.table.column_names if c not in CORE_COLUMNS]

    def __len__(self) -> int:
        return self.table.num_rows

    def row_of(self, item_id: str) -> int:
        """The row of an item id, or -1."""
        if not len(self.ids):
            return -1
        i = int(np.searchsorted(self.ids, item_id))
        if i < len(self.ids) and self.ids[i] == item_id:
            return int(self.id_rows[i])
        return -1

    def value(self, column: str, row: int):
        return self._columns[column][row].as_py()

    def values(self, column: str, rows: list[int]) -> list:
        """A column's values at `rows`, in one take."""
        return self._columns[column].take(pa.array(rows, type=pa.int64())).to_pylist()

    def rows_of(self, item_ids: list[str]) -> np.ndarray:
        """row_of for many ids at once (-1 where unknown)."""
        if not len(self.ids) or not item_ids:
            return np.full(len(item_ids), -1, dtype=np.int64)
        width = self.ids.dtype.itemsize // 4  # the longest id: a longer one is no item (and is not cut short)
        texts = [str(i) for i in item_ids]
        fits = np.array([len(t) <= width for t in texts], dtype=bool)
        wanted = np.array([t if ok else "" for t, ok in zip(texts, fits.tolist())], dtype=self.ids.dtype)
        at = np.minimum(np.searchsorted(self.ids, wanted), len(self.ids) - 1)
        return np.where(fits & (self.ids[at] == wanted), self.id_rows[at], -1).astype(np.int64)

    def title(self, row: int) -> str:
        return self.value("title", row)

    def description(self, row: int) -> str:
        return self.value("description", row) or ""

    def categories(self, row: int) -> tuple[str, ...]:
        return tuple(c for c in (self.value("categories", row) or "").split("|") if c)

    def attributes(self, row: int) -> dict:
        """The row's attributes in their types (whole numbers as int), empty ones left out."""
        values = {c: json_value(self.value(c, row)) for c in self.attribute_columns}
        return {c: v for c, v in values.items() if v is not None}

    def arrays(self) -> dict[str, pa.Array]:
        """Every column as one Arrow array (memory-mapped)."""
        return dict(self._columns)

    def numbers(self, column: str) -> np.ndarray:
        """A numeric column as float64, NaN where empty."""
        return np.asarray(self._columns[column].cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()


class TitleColumn:
    """Titles by row, for the search highlighter, without copying the column."""

    def __init__(self, table: ItemTable):
        self._table = table

    def __getitem__(self, row: int) -> str:
        return self._table.title(row)

    def __len__(self) -> int:
        return len(self._table)
