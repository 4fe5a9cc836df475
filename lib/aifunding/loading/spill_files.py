"""The files of a package validated in pieces (:mod:`aifunding.loading.spilling`): cut into pieces of whole records,
and their rows stored in Parquet and read back as validation holds them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.frames import TEXT, field_types, typed_frame
from aifunding.data.rowset import RawCells, RowSet
from aifunding.data.tables import Table


def sizes(root: Path, names: Iterable[str]) -> int | None:
    """What the files ``names`` add up to, or None if one cannot be found."""
    try:
        return sum((root / name).stat().st_size for name in names)
    except (OSError, ValueError):
        return None


def pieces(handle: BinaryIO, size: int) -> Iterator[tuple[bytes, int]]:
    """A file's bytes in pieces of whole records, each about ``size`` bytes or more, with the line each begins at.

    A piece ends after a line break that no quotes hold open (an even number of quote characters before it, counted
    from the piece's start, which is where a record starts); a record longer than ``size`` makes a longer piece.
    """
    line, carry = 1, b""
    while True:
        block = handle.read(size)
        data = carry + block if carry else block
        if not block:
            if data:
                yield data, line
            return
        cut = closed_end(data)
        if cut < 0:  # no record ends in it yet
            carry = data
            continue
        piece, carry = data[:cut], data[cut:]
        yield piece, line
        line += piece.count(b"\n")


def closed_end(data: bytes) -> int:
    """Where the last record that ends in ``data`` ends (just after its line break), or -1: no quote left open."""
    quotes, end = data.count(b'"'), len(data)
    while (newline := data.rfind(b"\n", 0, end)) >= 0:
        quotes -= data.count(b'"', newline + 1, end)
        if quotes % 2 == 0:
            return newline + 1
        end = newline
    return -1


def stored_schema(table: Table) -> pa.Schema:
    """A table's rows as they are spilled: amounts as their text (exact), each row's place and line beside them."""
    kinds = {Decimal: pa.string(), int: pa.int64(), bool: pa.bool_()}
    fields = [pa.field(name, kinds.get(kind, pa.large_string())) for name, kind in field_types(table).items()]
    return pa.schema([*fields, pa.field("_row", pa.int64()), pa.field("_line", pa.int64())])


def stored(table: Table, rows: RowSet, start: int, schema: pa.Schema) -> pa.Table:
    columns = []
    for name, kind in field_types(table).items():
        values = rows.values[name]
        if kind is Decimal:
            columns.append(pa.array([None if v is None else str(v) for v in values.tolist()], pa.string()))
        elif kind is int or kind is bool:
            columns.append(pa.array(values.array, schema.field(name).type))
        else:
            columns.append(pa.array(values.array).cast(pa.large_string()))
    columns += [pa.array(range(start, start + len(rows)), pa.int64()), pa.array(rows.lines, pa.int64())]
    return pa.Table.from_arrays(columns, schema=schema)


def rowset(table: Table, file: str, stored: pa.Table) -> RowSet:
    """The rows of a spilled table, as validation holds them (values, lines; no raw cells: a rule never shows them)."""
    frame = stored.drop_columns(["_row", "_line"]).to_pandas(
        types_mapper={pa.large_string(): TEXT, pa.string(): TEXT}.get
    )
    for name, kind in field_types(table).items():
        if kind is Decimal:
            frame[name] = pd.Series([None if pd.isna(v) else Decimal(v) for v in frame[name]], dtype=object)
    lines = stored.column("_line").to_numpy()
    return RowSet(table, file, typed_frame(table, frame), lines, RawCells([], [], [], len(frame)))
