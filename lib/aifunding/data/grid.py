"""A CSV text read by pyarrow as columns of raw text, exactly as the csv module would read it, or not at all.

:func:`aifunding.data.parsing.parse_table` reads a table with Python's csv module, one line at a time.
pyarrow's reader is many times faster but not the same reader: it drops a byte-order mark at the start
of its input, ends a quoted value at a line end (here: ``newlines_in_values=False``, its fast mode) and
parses some odd quoting its own way. The functions here return what the csv module would read only when
the two readers agree on every line, and None otherwise, so the caller falls back to the csv module.
They agree when:

- the header is line 1 alone, and no line ends in a lone carriage return (the csv module ends a line
  there, pyarrow does not);
- every data line holds one value per header column (pyarrow refuses a line that does not);
- every line holding a double quote reads the same with the csv module (checked line by line; its
  strict mode fails a line that ends inside a quoted value, which would run on into the next line),
  or, where quoted lines are many, is quoted plainly (``PLAINLY_QUOTED``), which both read alike.
  A line without one is split at its commas by both readers.

Every line is a row, each on its own line number: pyarrow reads an empty line as a row of empty cells
(``ignore_empty_lines=False``), which the caller skips as the per-row reader skips the empty line, a row
whose every cell is blank. So the rows are the lines, and neither need counting.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pa_csv  # type: ignore[import-untyped]

BOM = "\ufeff".encode()
# Large enough for the widest line the limits allow (100 columns of 10,000 characters of up to 4
# bytes); pyarrow refuses a line longer than its block, and the caller then falls back.
BLOCK_BYTES = 1 << 22


def header_record(text: str | bytes) -> list[str] | None:
    """The first record of ``text`` (or of its UTF-8 bytes) as the csv module reads it, if line 1 holds all of it.

    None otherwise, and for a text of whitespace only, which the per-row reader reports as empty.
    """
    if isinstance(text, bytes):
        end = text.find(b"\n")
        first = (text if end < 0 else text[: end + 1]).decode("utf-8")
        # Only the whole text tells whether it is whitespace only, and only a blank first line asks.
        return header_record(text.decode("utf-8") if not first or first.isspace() else first)
    if not text or text.isspace():
        return None
    end = text.find("\n")
    line = text if end < 0 else text[: end + 1]
    if line.count("\r") != line.count("\r\n"):
        return None
    try:
        records = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    return records[0] if len(records) == 1 else None


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` decodes as UTF-8 (as ``bytes.decode`` does, strictly), checked without decoding it."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


# Each column read dictionary-encoded: a column of a million awards holds a few thousand distinct
# amounts, dates and notes, which is all the checks look at (see :mod:`aifunding.data.distinct`), and
# reading them so takes a third of the memory text columns take, and less time.
CELL_TYPE = pa.dictionary(pa.int32(), pa.string())


@dataclass(frozen=True)
class Grid:
    """The data lines of a CSV text: one column of raw (unstripped) text per header column, by position.

    Each column is one dictionary-encoded chunk whose dictionary holds each distinct cell once, in
    order of first appearance (as ``dictionary_encode`` gives it); or, where the caller allowed it and
    all but a few cells are distinct, one chunk of plain text.
    """

    cells: pa.Table
    lines: np.ndarray  # each row's line in the file, as a text editor counts them (the header is line 1)


def read_grid(text: str | bytes, width: int, plain: Collection[int] = ()) -> Grid | None:
    """The lines after line 1 of ``text`` (or its UTF-8 bytes) as ``width`` columns; None where the csv module differs.

    The caller has read line 1 with :func:`header_record`. A column whose position is in ``plain`` is
    left as plain text where all but a few of its cells are distinct (see :func:`_one_chunk`).
    """
    try:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: not text any file could hold
        return None
    header_end = data.find(b"\n")
    start = len(data) if header_end < 0 else header_end + 1  # where the data lines begin
    if width == 0 or data.startswith(BOM, start) or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    names = [f"c{i}" for i in range(width)]
    if start == len(data):
        empty = pa.table({name: pa.array([], pa.string()).dictionary_encode() for name in names})
        return Grid(empty, np.empty(0, dtype=np.int64))
    try:
        cells = pa_csv.read_csv(
            pa.py_buffer(data).slice(start),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, CELL_TYPE),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        # One chunk per column: taking rows from many would concatenate them each time.
        cells = pa.table([_one_chunk(column, i in plain) for i, column in enumerate(cells.columns)], names=names)
    except pa.ArrowException:  # a line with another number of values, longer than a block, or 2 GB in a column
        return None
    if not _quoted_lines_agree(data, start, cells):
        return None
    return Grid(cells, np.arange(2, cells.num_rows + 2, dtype=np.int64))  # the header is line 1


def whole(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is (``combine_chunks`` copies even one), or its chunks joined."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _one_chunk(column: pa.ChunkedArray, plain: bool) -> pa.Array:
    """The column as one chunk: each block of the file was encoded alone, so one dictionary for all, in order of
    first appearance; or, if ``plain`` and all but a few of its cells are distinct, its plain text.

    Uniting the blocks' dictionaries hashes every distinct cell: at a million awards 0.3 s for the ids and 0.5 s
    for the purposes, all but a few distinct. A caller that checks such a column cell by cell in Arrow (a
    :class:`~aifunding.data.distinct.TextRule`'s) gains nothing from knowing which cells are the same.
    """
    if plain and sum(len(chunk.dictionary) for chunk in column.chunks) > MOSTLY_DISTINCT * len(column):
        return whole(column.cast(pa.string()))
    return whole(column.unify_dictionaries())


# A column whose blocks' dictionaries hold more entries than this share of its cells is all but a few distinct
# (a block's cells may be distinct where the column's are not: at a million awards the recipients' organisation
# ids fill the blocks' dictionaries to 0.58 of their cells, and 0.07 of them are distinct in the whole column).
MOSTLY_DISTINCT = 0.9


def _quoted_lines_agree(data: bytes, start: int, cells: pa.Table) -> bool:
    """Whether every data line holding a double quote reads as the same values with the csv module as with pyarrow.

    Each must read as one record of its own: a quoted value that runs on into the next line is read by the csv
    module as one record of two lines, where pyarrow may have joined the two lines or split them, and only a line
    that holds a quote can leave one open. So each line is a row of pyarrow's, on its own line.
    """
    # Finding each quote costs a few calls per line, splitting costs the whole text: split when quotes are
    # many, as the first lines tell (counting them all would take longer than finding a few).
    sample = data[start : start + SAMPLE_BYTES]
    if sample.count(b'"') * SPLIT_QUOTES_PER_BYTE > len(sample):
        # Many quoted lines: those quoted plainly need no reading again (see PLAINLY_QUOTED).
        indices, texts, lines = _odd_quoted_lines(data, start)
        if lines != cells.num_rows:
            return False
    else:
        indices, texts = _find_quoted_lines(data, start)
    if not texts:
        return True
    try:
        expected = list(csv.reader(texts, strict=True))
    except csv.Error:
        return False
    # A record read from two lines (the csv module reads the lines given as one file) makes one fewer.
    if len(expected) != len(texts) or indices[-1] >= cells.num_rows:
        return False
    rows = np.array(indices, dtype=np.int64)
    # Decoded to plain text first: a dictionary column's to_pylist makes a scalar per cell, nine times slower.
    columns = [column.cast(pa.large_string()).to_pylist() for column in cells.take(pa.array(rows)).columns]
    return expected == list(map(list, zip(*columns, strict=True)))


# Above one double quote per this many bytes of the first data lines, quoted lines are found by splitting.
SPLIT_QUOTES_PER_BYTE = 200
SAMPLE_BYTES = 1 << 16


def _find_quoted_lines(data: bytes, start: int) -> tuple[list[int], list[str]]:
    """The data lines holding a double quote, found quote by quote: their indices (0 for line 2) and text."""
    indices: list[int] = []
    texts: list[str] = []
    counted, newlines = start, 0
    at = data.find(b'"', start)
    while at >= 0:
        newline = data.rfind(b"\n", start, at)
        line_start = start if newline < 0 else newline + 1
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end
        newlines += data.count(b"\n", counted, line_start)
        counted = line_start
        indices.append(newlines)
        texts.append(data[line_start:end].removesuffix(b"\r").decode("utf-8"))
        at = data.find(b'"', end)
    return indices, texts


# A line each of whose fields is either unquoted with no quote in it, or quoted whole with every quote inside it
# doubled (RFC 4180's quoting: nothing before the opening quote or after the closing one), ended by its line end.
# The csv module and pyarrow read such a line alike (a property test holds them to it).
PLAINLY_QUOTED = r'^(?:[^",\r\n]*|"(?:[^"]|"")*")(?:,(?:[^",\r\n]*|"(?:[^"]|"")*"))*\r?\n?$'


def _odd_quoted_lines(data: bytes, start: int) -> tuple[list[int], list[str], int]:
    """The data lines holding a double quote not :data:`PLAINLY_QUOTED` (their indices, 0 for line 2, and text),
    and how many data lines there are: every line split and matched by Arrow, none made a Python string but those.

    A hundred thousand organisations whose names hold a comma took 0.3 s read again by the csv module, line by line.
    """
    view = np.frombuffer(data, dtype=np.uint8)[start:]
    # Found a block at a time: a comparison of the whole text at once would hold a byte per byte of it.
    found = [np.flatnonzero(view[at : at + BLOCK_BYTES] == ord("\n")) + at for at in range(0, len(view), BLOCK_BYTES)]
    ends = np.concatenate([np.empty(0, dtype=np.int64), *found]).astype(np.int64) + 1  # where each next line begins
    last = [len(view)] if len(view) > (ends[-1] if len(ends) else 0) else []  # a last line without its line end
    bounds = np.concatenate(([0], ends, last)).astype(np.int64)
    count = len(bounds) - 1
    offsets = pa.py_buffer(bounds + start)
    lines = pa.Array.from_buffers(pa.large_string(), count, [None, offsets, pa.py_buffer(data)])
    quoted = np.flatnonzero(pc.match_substring(lines, '"').to_numpy(zero_copy_only=False))
    plain = pc.match_substring_regex(lines.take(pa.array(quoted)), PLAINLY_QUOTED).to_numpy(zero_copy_only=False)
    odd = quoted[~plain]
    texts = [line.removesuffix("\n").removesuffix("\r") for line in lines.take(pa.array(odd)).to_pylist()]
    return odd.tolist(), texts, count
