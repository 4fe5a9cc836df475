"""A table's rows held by column: what the columnar validator passes from one step to the next.

The per-row path (:mod:`aifunding.data.parsing`, :mod:`aifunding.data.references`,
:mod:`aifunding.loading.rules`) holds a pydantic model per row; at a million rows that object per
row is most of the cost. A :class:`RowSet` holds the same rows as three aligned columns of data:

- ``values``: the typed values, one column per model field, exactly as the package's frames hold them
  (strings with missing values as NaN, Decimals as objects with None, whole numbers as ``Int64``,
  booleans as ``bool``, enums as their string values);
- ``lines``: each row's line in its file (the header is line 1), as a text editor shows it;
- ``raw``: each row's cleaned text cells in header order (unknown columns included, blanks as
  None), kept only to show a quarantined row exactly as the per-row path shows it.

Every step keeps or drops rows with :meth:`RowSet.keep`; nothing is copied row by row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aifunding.data.frames import frame_from_models, frame_from_records
from aifunding.data.parsing import LoadedRow
from aifunding.data.tables import Table


@dataclass(frozen=True)
class RowSet:
    """The loaded rows of one table, by column; the three parts are aligned by position."""

    table: Table
    file: str
    values: pd.DataFrame
    lines: np.ndarray
    raw: pd.DataFrame

    def __post_init__(self) -> None:
        if not (len(self.values) == len(self.lines) == len(self.raw)):
            raise ValueError(
                f"{self.table.name}: values, lines and raw must be aligned "
                f"({len(self.values)}, {len(self.lines)}, {len(self.raw)} rows)"
            )

    def __len__(self) -> int:
        return len(self.values)

    def keep(self, mask: np.ndarray | pd.Series) -> RowSet:
        """The rows where ``mask`` is true, in the same order (positions renumbered from 0)."""
        keep = np.asarray(mask, dtype=bool)
        return RowSet(
            self.table,
            self.file,
            self.values[keep].reset_index(drop=True),
            self.lines[keep],
            self.raw[keep].reset_index(drop=True),
        )

    def raw_row(self, position: int) -> dict[str, str | None]:
        """The cleaned text cells of the row at ``position``, as :class:`LoadedRow.raw` holds them."""
        record = self.raw.iloc[position]
        return {
            str(k): (None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for k, v in record.items()
        }

    @classmethod
    def empty(cls, table: Table, file: str) -> RowSet:
        return cls(table, file, frame_from_records(table, []), np.empty(0, dtype=np.int64), pd.DataFrame())

    @classmethod
    def from_loaded(cls, table: Table, file: str, rows: Iterable[LoadedRow]) -> RowSet:
        """The RowSet of rows the per-row path loaded (used for files it reads, and to compare the two)."""
        rows = list(rows)
        raw = pd.DataFrame.from_records([row.raw for row in rows], columns=list(rows[0].raw) if rows else [])
        raw = raw.astype(object).where(raw.notna(), None)
        lines = np.fromiter((row.line for row in rows), dtype=np.int64, count=len(rows))
        return cls(table, file, frame_from_models(table, rows), lines, raw)
