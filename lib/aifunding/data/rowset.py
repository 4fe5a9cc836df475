"""A table's rows held by column: what the columnar validator passes from one step to the next.

The per-row path (:mod:`aifunding.data.parsing`, :mod:`aifunding.data.references`,
:mod:`aifunding.loading.rules`) holds a pydantic model per row; at a million rows that object per
row is most of the cost. A :class:`RowSet` holds the same rows as three aligned columns of data:

- ``values``: the typed values, one column per model field, exactly as the package's frames hold them
  (strings with missing values as NaN, Decimals as objects with None, whole numbers as ``Int64``,
  booleans as ``bool``, enums as their string values);
- ``lines``: each row's line in its file (the header is line 1), as a text editor shows it;
- ``raw``: each row's cleaned text cells in header order (unknown columns included, blanks as
  None), kept only to show a quarantined row exactly as the per-row path shows it (:class:`RawCells`:
  a Python string per cell would hold more memory than the rows' values do).

Every step keeps or drops rows with :meth:`RowSet.keep`; nothing is copied row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.frames import frame_from_models, frame_from_records
from aifunding.data.parsing import LoadedRow
from aifunding.data.tables import Table


@dataclass(frozen=True)
class RawCells:
    """Each row's cleaned text cells by column, as Arrow text and a row's index into it.

    ``texts[c]`` holds column ``c``'s distinct cleaned cells (an empty string or a null stands for a
    blank cell), and ``indices[c]`` each row's index into them: a column of a million rows holding a
    thousand distinct cells costs four bytes a row, and a row's cells become Python strings only when
    a quarantined row is shown. Both are None for a column whose cells are the rows' values in the
    column of that name (a text field whose every value is its cleaned cell): nothing is held twice.
    """

    names: list[str]
    texts: list[pa.Array | None]
    indices: list[np.ndarray | None]
    count: int

    def __len__(self) -> int:
        return self.count

    def take(self, rows: np.ndarray) -> RawCells:
        """The rows at ``rows`` (positions, or a mask over every row), in that order."""
        count = int(np.count_nonzero(rows)) if rows.dtype == bool else len(rows)
        return RawCells(self.names, self.texts, [None if i is None else i[rows] for i in self.indices], count)

    def records(self, positions: Sequence[int] | np.ndarray, values: pd.DataFrame) -> Iterator[dict[str, str | None]]:
        """The cells of each row at ``positions`` (str, None where blank), read column by column.

        ``values`` are the rows' values, aligned with these cells (:attr:`RowSet.values`).
        """
        at = pa.array(np.asarray(positions, dtype=np.intp))
        columns = []
        for name, text, index in zip(self.names, self.texts, self.indices, strict=True):
            if text is None or index is None:  # the rows' values are the cells
                columns.append(pa.array(values[name].array).take(at).to_pylist())
            else:
                columns.append(text.take(pa.array(index).take(at)).to_pylist())
        for cells in zip(*columns, strict=True) if columns else (() for _ in range(len(at))):
            yield {name: cell or None for name, cell in zip(self.names, cells, strict=True)}

    @classmethod
    def from_records(cls, names: list[str], records: Sequence[dict[str, str | None]]) -> RawCells:
        """The cells of rows given as dicts (a value per name, None or left out where blank), a text per row."""
        texts = [pa.array([record.get(name) for record in records], pa.string()) for name in names]
        return cls(names, texts, [np.arange(len(records))] * len(names), len(records))


@dataclass(frozen=True)
class RowSet:
    """The loaded rows of one table, by column; the three parts are aligned by position."""

    table: Table
    file: str
    values: pd.DataFrame
    lines: np.ndarray
    raw: RawCells

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
            self.raw.take(keep),
        )

    def raw_row(self, position: int) -> dict[str, str | None]:
        """The cleaned text cells of the row at ``position``, as :class:`LoadedRow.raw` holds them."""
        return next(self.raw_rows([position]))

    def raw_rows(self, positions: Sequence[int] | np.ndarray) -> Iterator[dict[str, str | None]]:
        """:meth:`raw_row` of each row at ``positions``, read in one pass (a cascade may quarantine millions)."""
        return self.raw.records(positions, self.values)

    def raw_frame(self) -> pd.DataFrame:
        """Every row's cleaned text cells as a frame of objects (str, None where blank), in header order."""
        records = list(self.raw_rows(np.arange(len(self))))
        return pd.DataFrame.from_records(records, columns=self.raw.names).astype(object)

    @classmethod
    def empty(cls, table: Table, file: str) -> RowSet:
        no_lines = np.empty(0, dtype=np.int64)
        return cls(table, file, frame_from_records(table, []), no_lines, RawCells.from_records([], []))

    @classmethod
    def from_loaded(cls, table: Table, file: str, rows: Iterable[LoadedRow]) -> RowSet:
        """The RowSet of rows the per-row path loaded (used for files it reads, and to compare the two)."""
        rows = list(rows)
        raw = RawCells.from_records(list(rows[0].raw) if rows else [], [row.raw for row in rows])
        lines = np.fromiter((row.line for row in rows), dtype=np.int64, count=len(rows))
        return cls(table, file, frame_from_models(table, rows), lines, raw)
