"""What is wrong with a catalog file, said so an operator can fix it: file, column, rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_ROWS_LISTED = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, specific enough to fix."""

    file: str
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = self.file + (f", column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}{listed_rows(self.rows)}"

    def as_dict(self) -> dict:
        return {"file": self.file, "column": self.column, "rows": list(self.rows[:MAX_ROWS_LISTED]),
                "message": self.message}


class CatalogError(ValueError):
    """A catalog that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def listed_rows(rows: tuple[int, ...]) -> str:
    """' (rows 2, 3, …)': the first few row numbers, abbreviated."""
    if not rows:
        return ""
    text = " (rows " + ", ".join(str(r) for r in rows[:MAX_ROWS_LISTED])
    return text + (", …)" if len(rows) > MAX_ROWS_LISTED else ")")


def row_numbers(mask: pd.Series) -> tuple[int, ...]:
    """Spreadsheet-style row numbers (header is row 1) of the rows where mask is true."""
    return tuple(int(i) + 2 for i in np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False)))
