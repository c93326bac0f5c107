"""One index version's attributes as numpy columns, made once when the model loads, so a filter on a
million items is a few array operations on the candidate rows instead of a Python call per row.

Numbers become float64 (NaN when missing), booleans int8 (1, 0, -1 when missing), text dictionary codes
(int32, -1 when missing) with the dictionary kept as Arrow (no per-value Python objects per process).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recommender.catalog.attribute_types import BOOLEAN, NUMBER, TEXT, json_value
from recommender.limits import FEW_VALUES_MAX

CODES_KEPT = 10_000  # text values whose codes each column remembers (filters and rules ask for the same few)


@dataclass(frozen=True)
class AttributeColumn:
    """One attribute's values by row, in the array its type wants."""

    name: str
    kind: str
    values: np.ndarray
    dictionary: pa.Array | None = None  # text only: the distinct values, codes index into it

    codes_seen: dict = field(default_factory=dict, compare=False, repr=False)  # text -> code, looked up once

    def code_of(self, text: str) -> int:
        """The dictionary code of a text value, or -1 when no item has it."""
        code = self.codes_seen.get(text)
        if code is None:
            found = pc.index(self.dictionary, pa.scalar(text, type=self.dictionary.type)).as_py()
            code = -1 if found is None else int(found)
            if len(self.codes_seen) < CODES_KEPT:
                self.codes_seen[text] = code
        return code

    def summary(self) -> dict:
        """What the admin page and the filter form show: type, range or values, and how many items have one."""
        if self.kind == NUMBER:
            present = self.values[~np.isnan(self.values)]
            low, high = (json_value(present.min()), json_value(present.max())) if len(present) else (None, None)
            return {"name": self.name, "type": NUMBER, "min": low, "max": high, "items": int(len(present))}
        if self.kind == BOOLEAN:
            return {"name": self.name, "type": BOOLEAN, "true": int((self.values == 1).sum()),
                    "false": int((self.values == 0).sum()), "items": int((self.values >= 0).sum())}
        count = len(self.dictionary)
        values = sorted(self.dictionary.to_pylist()) if count <= FEW_VALUES_MAX else None
        return {"name": self.name, "type": TEXT, "distinct": count, "values": values,
                "items": int((self.values >= 0).sum())}


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return BOOLEAN
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return NUMBER
    return TEXT


def attribute_column(name: str, array: pa.Array) -> AttributeColumn:
    kind = _kind(array.type)
    if kind == NUMBER:
        return AttributeColumn(name, kind, np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False),
                                                      dtype=np.float64))
    if kind == BOOLEAN:
        flags = np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.int8)
        flags[np.asarray(array.is_null().to_numpy(zero_copy_only=False))] = -1
        return AttributeColumn(name, kind, flags)
    text = array.cast(pa.string())
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    encoded = text.dictionary_encode()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
    return AttributeColumn(name, kind, codes, encoded.dictionary)


class AttributeColumns:
    """Every attribute of one version, by name (the item table's extra columns)."""

    def __init__(self, columns: dict[str, pa.Array], names: list[str]):
        self.columns = {name: attribute_column(name, columns[name]) for name in names}
        self._summaries: list[dict] | None = None

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> AttributeColumn:
        return self.columns[name]

    def kinds(self) -> dict[str, str]:
        return {name: column.kind for name, column in self.columns.items()}

    def described(self) -> str:
        """'Manufacturer (text), Price (number)', for error messages that list the known attributes."""
        return ", ".join(f"{name} ({kind})" for name, kind in sorted(self.kinds().items())) or "none"

    def summaries(self) -> list[dict]:
        """Each attribute's summary, worked out once per version (the filter form shows them on every panel)."""
        if self._summaries is None:
            self._summaries = [self.columns[name].summary() for name in sorted(self.columns)]
        return self._summaries
