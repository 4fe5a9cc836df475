"""Parsing one table's CSV by column: the same report and rows as :func:`~aifunding.data.parsing.parse_table`.

The per-row parser builds a dict and a pydantic model for every line, which is most of the time
validation takes at 100,000 awards and hopeless at a million. Here pyarrow reads the cells
(:mod:`aifunding.data.grid`), every field is checked once per distinct value by the model's own field
validator (:mod:`aifunding.data.distinct`), the model's cross-field validators mark the rows they
could refuse (:mod:`aifunding.data.crossfield`), and only a row some check marked goes through the
per-row code (:func:`~aifunding.data.parsing.check_row`), which words its problems exactly as before.
The loaded rows come out as a :class:`~aifunding.data.rowset.RowSet` built from the distinct values.

Whenever the columns cannot mirror the per-row parser exactly (a text pyarrow would read otherwise,
or a model whose checks are not its field annotations and known cross-field validators) the table
is read by the per-row code instead: the same result, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from aifunding.data.crossfield import Cells, predicates_for
from aifunding.data.distinct import Column, Encoded, check_column, encode, field_checks, objects
from aifunding.data.frames import field_types, plain, typed_frame
from aifunding.data.grid import Grid, header_record, read_grid, whole
from aifunding.data.limits import Limits
from aifunding.data.parsing import (
    Header,
    check_row,
    csv_reader,
    parse_table,
    read_header,
    read_rows,
    report_too_many_rows,
)
from aifunding.data.report import ValidationReport
from aifunding.data.rowset import RawCells, RowSet
from aifunding.data.tables import Table

# The dtype pandas gives a column of text (NaN where missing), as the per-row frames hold it.
TEXT = pd.StringDtype(na_value=np.nan)


def parse_table_columnar(
    table: Table, file: str, text: str | bytes, report: ValidationReport, limits: Limits
) -> RowSet:
    """Parse one CSV text (or its UTF-8 bytes) into the RowSet of its valid rows, reporting and quarantining the rest.

    Appends to ``report`` exactly what :func:`~aifunding.data.parsing.parse_table` appends, in the same
    order, and returns ``RowSet.from_loaded`` of the rows it loads. Bytes are read as they are and
    decoded only for the per-row reader, when the columns cannot read them.
    """
    record = header_record(text) if _mirrored(table) else None
    if record is None:
        return RowSet.from_loaded(table, file, parse_table(table, file, _decoded(text), report, limits))
    header = read_header(table, file, iter([record]), report, limits)
    if header is None:
        return RowSet.from_loaded(table, file, [])
    grid = read_grid(text, len(header.names), _checked_by_arrow(table, header))
    if grid is None:
        reader = csv_reader(_decoded(text))
        next(reader)  # the header, read above
        return RowSet.from_loaded(table, file, read_rows(table, file, reader, header, report, limits))
    # The cells are read: a text the caller handed over for good (as the package loader does) is let go
    # of here rather than held while they are checked.
    del text
    pa.default_memory_pool().release_unused()
    rows = _parse_grid(table, file, header, grid, report, limits)
    del grid
    # What Arrow's allocator kept of the cells and checks goes back to the system before the next table.
    pa.default_memory_pool().release_unused()
    return rows


def parse_chunk_columnar(
    table: Table, file: str, data: bytes, report: ValidationReport, limits: Limits, first_line: int
) -> RowSet | None:
    """:func:`parse_table_columnar` of a piece of a file: its header line, then lines that begin at ``first_line``.

    A table too large to hold is parsed a piece at a time (:mod:`aifunding.loading.spilling`): each piece is its
    header line followed by whole records, and its rows carry their lines in the whole file. Lines the columns cannot
    split (a quoted line break) are read row by row, as a whole file's are. None where the columns cannot mirror the
    model or the header is refused: the caller validates the whole file instead. ``limits.rows`` applies to the
    piece; the caller counts the whole table's rows.
    """
    record = header_record(data) if _mirrored(table) else None
    header = None if record is None else read_header(table, file, iter([record]), report, limits)
    if header is None:
        return None
    grid = read_grid(data, len(header.names), _checked_by_arrow(table, header))
    if grid is None:  # read row by row, as parse_table_columnar reads such a file
        reader = csv_reader(_decoded(data), first_line - 2)
        next(reader)  # the header, read above
        return RowSet.from_loaded(table, file, read_rows(table, file, reader, header, report, limits))
    del data
    return _parse_grid(table, file, header, Grid(grid.cells, grid.lines + (first_line - 2)), report, limits)


def _mirrored(table: Table) -> bool:
    """Whether the columns can check ``table`` as its model does (its checks are field annotations and known
    cross-field validators)."""
    return field_checks(table.model) is not None and predicates_for(table.model) is not None


def _checked_by_arrow(table: Table, header: Header) -> set[int]:
    """The positions of the header's columns whose field a :class:`~aifunding.data.distinct.TextRule` checks."""
    ruled = {check.name for check in field_checks(table.model) or () if check.text is not None}
    return {position for position, name in enumerate(header.names) if name in ruled}


def _decoded(text: str | bytes) -> str:
    return text if isinstance(text, str) else text.decode("utf-8")


@dataclass(frozen=True)
class Checked:
    """A grid's cells checked by column, and which rows are blank and which some check flagged."""

    by_name: dict[str, Encoded]  # each header column's cells (a name given twice: its last, as in a row's dict)
    columns: dict[str, Column]  # each model field's checked cells
    blank: np.ndarray  # per row: every cell is blank (a line the per-row reader skips)
    flagged: np.ndarray  # per row: a cell failed or is too long, or a cross-field validator could refuse it


def check_grid(table: Table, header: Header, grid: Grid, limits: Limits) -> Checked:
    """Every cell of ``grid`` checked once per distinct value, and every row flagged that a model could refuse."""
    count = grid.cells.num_rows
    encoded = [encode(column) for column in grid.cells.columns]
    by_name = dict(zip(header.names, encoded, strict=True))
    columns = {
        check.name: check_column(check, by_name.get(check.name), count) for check in field_checks(table.model) or ()
    }
    flagged = _too_long(grid, limits) | np.logical_or.reduce([c.failed_rows() for c in columns.values()])
    cells = Cells(columns, count)
    for predicate in predicates_for(table.model) or ():
        flagged |= predicate(cells, table.model)
    if header.required_missing:
        flagged[:] = True
    blank = np.logical_and.reduce([e.blank_rows() for e in encoded])
    return Checked(by_name, columns, blank, flagged)


def _parse_grid(
    table: Table, file: str, header: Header, grid: Grid, report: ValidationReport, limits: Limits
) -> RowSet:
    """The rows of ``grid`` as :func:`~aifunding.data.parsing.read_rows` would load and report them."""
    checked = check_grid(table, header, grid, limits)
    rows = np.flatnonzero(~checked.blank)
    over = int(grid.lines[rows[limits.rows]]) if len(rows) > limits.rows else None
    rows = rows[: limits.rows]
    flagged = checked.flagged

    # Only flagged rows meet a model, through the per-row code and in line order, as in parse_table.
    marked = rows[flagged[rows]]
    loaded: list[int] = []  # the marked rows the model loaded after all
    marked_cells = grid.cells.take(pa.array(marked)).columns
    # Plain text before to_pylist (a dictionary column makes a scalar per cell).
    lines = zip(*(column.cast(pa.large_string()).to_pylist() for column in marked_cells), strict=True)
    for position, line in zip(marked.tolist(), lines, strict=True):
        if check_row(table, file, header, list(line), int(grid.lines[position]), report, limits) is not None:
            loaded.append(position)
    if over is not None:
        report_too_many_rows(table, file, over, report, limits)

    keep = np.sort(np.concatenate([rows[~flagged[rows]], np.array(loaded, dtype=np.intp)]))
    if not len(keep):
        return RowSet.from_loaded(table, file, [])
    texts = _text_fields(table, checked)
    # A text field's cells are its values, unless a blank cell takes a default: the raw cells need not hold them.
    same = {name for name in texts if checked.columns[name].empty is None}
    every = len(keep) == grid.cells.num_rows  # every row kept (``keep`` is in order): nothing to take
    raw = RawCells(
        list(checked.by_name),
        [None if name in same else e.text for name, e in checked.by_name.items()],
        [None if name in same else e.indices if every else e.indices[keep] for name, e in checked.by_name.items()],
        len(keep),
    )
    kept_lines = grid.lines if every else grid.lines[keep]
    return RowSet(table, file, _values_frame(table, checked, keep, texts), kept_lines, raw)  # checked is used up


def _too_long(grid: Grid, limits: Limits) -> np.ndarray:
    """Per row, whether a cell (of any column, as read) has more than ``limits.cell_chars`` characters."""
    hits = np.zeros(grid.cells.num_rows, dtype=bool)
    for chunk in (whole(column) for column in grid.cells.columns):
        # Each distinct cell is measured once (most of the grid's columns are dictionary-encoded).
        cells, indices = (chunk.dictionary, chunk.indices) if pa.types.is_dictionary(chunk.type) else (chunk, None)
        # A cell never has more characters than bytes: count characters only in a column that may hold one.
        if len(cells) and pc.max(pc.binary_length(cells)).as_py() > limits.cell_chars:
            long = pc.greater(pc.utf8_length(cells), limits.cell_chars).to_numpy(zero_copy_only=False)
            hits |= long if indices is None else long[indices.to_numpy(zero_copy_only=False)]
    return hits


def _text_fields(table: Table, checked: Checked) -> set[str]:
    """The text fields each of whose valid values is its cleaned cell (so the column is the cleaned text)."""
    kinds = field_types(table)
    return {
        name
        for name, column in checked.columns.items()
        if isinstance(kinds[name], type)
        and issubclass(kinds[name], str)
        and (encoded := checked.by_name.get(name)) is not None
        and _is_cleaned(column, encoded)
    }


def _values_frame(table: Table, checked: Checked, keep: np.ndarray, texts: set[str]) -> pd.DataFrame:
    """The typed frame of the kept rows, as :func:`~aifunding.data.frames.frame_from_models` builds it.

    A flagged row that the model then loaded passed every cell check, so its values are the columns' too.
    Each column is taken out of ``checked`` as it is built, so that its Python values (a string per distinct
    cell: a million for a column of identifiers) are let go of as its text column is made.
    """
    kinds = field_types(table)
    frame: dict[str, Any] = {}
    for name in list(checked.columns):
        column, encoded = checked.columns.pop(name), checked.by_name.pop(name, None)
        codes = column.codes if len(keep) == len(column.codes) else column.codes[keep]  # ``keep`` is in order
        kind = kinds[name]
        if name in texts and encoded is not None:
            if len(codes) == len(encoded.text) and np.array_equal(codes, np.arange(len(codes))):
                # Each row its own cell (a column of plain text, no cell blank, every row kept): the cells are the
                # column, and taking them one by one would copy a million identifiers twice.
                frame[name] = _text(encoded.text)
                continue
            dictionary = pa.concat_arrays([encoded.text, pa.array([plain(column.empty)], pa.string())])
            frame[name] = _text(pc.take(dictionary, pa.array(codes)))
            continue
        values = objects([plain(value) for value in column.values])[codes]
        if kind is Decimal:
            frame[name] = pd.Series(values, dtype=object)
        elif kind is int:
            frame[name] = pd.array(values, dtype="Int64")
        else:
            frame[name] = pd.Series(values.tolist())
    return typed_frame(table, pd.DataFrame(frame))  # each column of its field's type, as from records


def _is_cleaned(column: Column, encoded: Encoded) -> bool:
    """Whether each valid value of a text column is its cleaned cell (so the column is the cleaned text)."""
    if column.cleaned:
        return True  # so by construction (a TextRule's column)
    valid = ~encoded.blank & ~column.failed[:-1]
    # Lists compare each pair by identity first: a text cell is usually validated as the very same string.
    return bool(column.values[:-1][valid].tolist() == encoded.cleaned[valid].tolist())


def _text(text: pa.Array) -> Any:
    """A column of Arrow text in pandas' text dtype (NaN where missing)."""
    return pd.Series(pd.array(text, dtype=TEXT))
