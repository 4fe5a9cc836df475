"""The file formats of an export, each written to a binary file a chunk of rows at a time.

CSV, JSON and Parquet (:mod:`aifunding.outputs.parquet`) never hold more than :data:`CHUNK_ROWS` rows
of a table in their output form: each chunk is neutralised (:func:`aifunding.outputs.cells.neutralise_frame`),
turned into text or Arrow arrays and written before the next is made, so memory beyond the tables
themselves stays bounded however large the package. XLSX is written row by row too, in openpyxl's write-only mode (a
sheet holds at most 1,048,576 rows, and :mod:`aifunding.outputs.export` refuses a table longer than that).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any, BinaryIO, TypeVar

import numpy as np
import pandas as pd

from aifunding.outputs.arrow_text import object_texts, string_bytes, text_array
from aifunding.outputs.cells import (
    CSV_LINE_END,
    json_default,
    json_value,
    neutralise_frame,
    records,
    sheet_texts,
    spreadsheet_exact,
)
from aifunding.outputs.csv_text import csv_rows

# Rows turned into output at once: about 40 MB of JSON for 25,000 awards (a million awards' JSON is 1.6 GB), a few
# chunks held at a time. Each chunk costs a few Python calls per column: a million awards' JSON in USD is written
# in 2.7 s in chunks of 25,000 against 3.1 s in chunks of 10,000, at the same peak memory (2.1 GB for the export).
CHUNK_ROWS = 25_000


def chunks(frame: pd.DataFrame, size: int | None = None) -> Iterator[pd.DataFrame]:
    """``frame`` in neutralised slices of ``size`` (default :data:`CHUNK_ROWS`) rows; one if it is empty."""
    size = size or CHUNK_ROWS
    for start in range(0, max(len(frame), 1), size):
        yield neutralise_frame(frame.iloc[start : start + size])


# A table's rows: a frame, or frames one after another (a package validated in pieces is exported a piece at a time).
Rows = pd.DataFrame | Iterable[pd.DataFrame]


def _frames(rows: Rows) -> Iterator[pd.DataFrame]:
    return iter([rows]) if isinstance(rows, pd.DataFrame) else iter(rows)


def _row_slices(rows: Rows) -> Iterator[pd.DataFrame]:
    """The rows in slices of :data:`CHUNK_ROWS`, piece after piece, as :func:`_slices` cuts a frame (none if empty)."""
    for frame in _frames(rows):
        yield from _slices(frame)


def write_csv(handle: BinaryIO, rows: Rows) -> None:
    """One table as CSV (RFC 4180), header first, written chunk by chunk (the same bytes as one ``to_csv``).

    Each chunk's rows are made in Arrow (:func:`aifunding.outputs.csv_text.csv_rows`), two chunks at a time. Given in
    pieces, the rows are the same bytes as the pieces' frames joined.
    """
    frames = _frames(rows)
    first = next(frames)  # rows in pieces come as one frame at least, which names the columns
    slices = itertools.chain(_slices(first), _row_slices(frames))
    head = next(slices, None)
    numbered = enumerate([first] if head is None else itertools.chain([head], slices))  # no rows: the header alone
    for data in in_order(_csv_chunk, numbered):
        for piece in data:
            handle.write(piece)


def _csv_chunk(numbered: tuple[int, pd.DataFrame]) -> list[Any]:
    number, rows = numbered
    return csv_rows(neutralise_frame(rows), CSV_LINE_END, header=number == 0)


def _dumps(value: Any, level: int) -> str:
    # json.dumps with indent=2, shifted right to sit ``level`` levels deep in the document (a JSON
    # string never holds a raw newline, so every newline is one of the layout's).
    text = json.dumps(value, ensure_ascii=False, indent=2, default=json_default)
    return text.replace("\n", "\n" + "  " * level)


# Without an indent, json encodes with its C encoder; with one, in Python, ten times slower.
_FLAT = json.JSONEncoder(ensure_ascii=False, default=json_default)


@lru_cache(maxsize=1024)
def _key_text(key: str) -> str:
    return encode_basestring(key) + ": "


def _value_text(value: Any, level: int) -> str:
    """One value as json.dumps(indent=2) writes it ``level`` levels deep: text and constants directly."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list | tuple | dict):
        return _dumps(value, level)
    return _FLAT.encode(value)


def _record_text(record: dict[Hashable, Any], level: int) -> str:
    """:func:`_dumps` of one record, the same text: its values written one by one, one line each.

    A record is one flat object; a list or object inside it (or a key that is not text) takes the
    general path, so the text never depends on which path wrote it.
    """
    if not record or not all(isinstance(key, str) for key in record):
        return _dumps(record, level)
    pad = "\n" + "  " * (level + 1)
    items = [_key_text(key) + _value_text(value, level + 1) for key, value in record.items()]
    return "{" + pad + ("," + pad).join(items) + "\n" + "  " * level + "}"


def _records_text(frame: pd.DataFrame, level: int) -> list[str]:
    """:func:`_record_text` of each row of ``frame``, the same text, built a column at a time.

    Each column is factorised (in C for Arrow text), each distinct value written once, key included, and
    the rows joined from those texts: a million awards' thirty columns are thirty vector passes and a
    million joins, not thirty million calls. A frame whose names are not distinct text takes the row path.
    """
    names = list(frame.columns)
    if not names or len(set(names)) != len(names) or not all(isinstance(name, str) for name in names):
        return [_record_text(record, level) for record in records(frame)]
    pad = "\n" + "  " * (level + 1)
    columns = [_column_texts(frame.iloc[:, i], _key_text(name), level + 1) for i, name in enumerate(names)]
    start, between, end = "{" + pad, "," + pad, "\n" + "  " * level + "}"
    return [start + between.join(row) + end for row in zip(*columns, strict=True)]


def _column_texts(column: pd.Series, key: str, level: int) -> list[str]:
    """``key`` and the JSON text of each cell of ``column`` (missing cells null), as :func:`_value_text` writes it."""
    values = column.astype(object)
    missing = column.isna().to_numpy()
    present = values[~missing].tolist()
    # Distinct values are written once, for text, whole numbers and flags alone: equal values of other
    # kinds can be written differently (1 == True == Decimal("1.0"), -0.0 == 0.0), so a column of
    # amounts, of floats or mixing kinds is written cell by cell.
    kinds = set(map(type, present))
    if len(kinds) > 1 or not kinds <= {str, int, bool}:
        cells = zip(values.tolist(), missing.tolist(), strict=True)
        return [key + ("null" if gone else _value_text(json_value(v), level)) for v, gone in cells]
    codes, uniques = pd.factorize(pd.Series(values.where(~missing, None), dtype=object), use_na_sentinel=True)
    texts = np.array([key + _value_text(json_value(u), level) for u in uniques.tolist()] + [key + "null"], dtype=object)
    return texts[codes].tolist()  # a missing cell's code is -1: the last text, null


def write_json(handle: BinaryIO, about: dict[str, str], tables: Iterable[tuple[str, Rows]]) -> None:
    """One object, ``{"about": {...}, "<table>": [records], ...}``, written record by record.

    The bytes are those of ``json.dumps(document, ensure_ascii=False, indent=2) + "\\n"``; ``tables``
    may be a generator, so only one table need exist at a time.
    """
    with _writing_behind(handle) as write:
        write(("{\n  " + _dumps("about", 1) + ": " + _dumps(about, 1)).encode("utf-8"))
        for name, frame in tables:
            write((",\n  " + _dumps(name, 1) + ": [").encode("utf-8"))
            empty = True
            for data in in_order(_chunk_records, _row_slices(frame)):
                # Every record follows ",\n    "; the table's first, "\n    " alone (the comma is one byte).
                write(data[1:] if empty else data)
                empty = False
            write(("]" if empty else "\n  ]").encode("utf-8"))
        write(b"\n}\n")


def _slices(frame: pd.DataFrame, size: int | None = None) -> Iterator[pd.DataFrame]:
    """``frame`` in slices of ``size`` (default :data:`CHUNK_ROWS`) rows, as :func:`chunks` cuts it, not neutralised."""
    size = size or CHUNK_ROWS
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def _chunk_records(rows: pd.DataFrame) -> bytes | memoryview:
    return _records_bytes(neutralise_frame(rows), 2)


T = TypeVar("T")
R = TypeVar("R")
# Chunks turned into JSON at once (and at most this many more waiting to be written): most of a chunk's work is
# Arrow's, which lets another thread run, so a second core makes the next chunk while one is made.
WORKERS = 2


def in_order(work: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> Iterator[R]:
    """``map(work, items)``, ``workers`` items worked on at once in threads, results in order, at most
    ``workers`` of them held ahead of the caller (memory stays bounded by a few chunks)."""
    if workers <= 1:
        yield from map(work, items)
        return
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="aifunding-chunk") as pool:
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # the caller stopped or a chunk failed: the rest are not worked on
                future.cancel()


@contextmanager
def _writing_behind(handle: BinaryIO) -> Iterator[Callable[[Any], None]]:
    """A ``write`` that hands its bytes to a thread of their own, in order, at most two chunks behind.

    The kernel copies one chunk into the file while the next is built (a million awards are 1.6 GB of
    JSON); the first error of a write is raised here, at the next write or at the end.
    """
    import queue
    import threading

    pending: queue.Queue[Any] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def drain() -> None:
        while (data := pending.get()) is not None:
            if not failed:
                try:
                    handle.write(data)
                except BaseException as exc:  # handed to the caller, which raises it
                    failed.append(exc)

    def write(data: Any) -> None:
        if failed:
            raise failed[0]
        pending.put(data)

    writer = threading.Thread(target=drain, name="aifunding-json-writer", daemon=True)
    writer.start()
    try:
        yield write
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]


def _records_bytes(frame: pd.DataFrame, level: int) -> bytes | memoryview:
    """The UTF-8 of ``",\n" + indent + record`` for each row: :func:`_records_text`'s texts, joined in Arrow.

    Each column becomes an Arrow array of JSON values (:func:`_column_values`), and every row is joined from
    them and the keys between them in one pass in C: no Python string per cell or per row for text, flags
    and amounts, and the record's text is copied once.
    """
    names = list(frame.columns)
    lead = ",\n" + "  " * level
    if not names or len(set(names)) != len(names) or not all(isinstance(name, str) for name in names):
        return "".join(lead + text for text in _records_text(frame, level)).encode("utf-8")
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    pad = "\n" + "  " * (level + 1)
    parts: list[Any] = []
    between = lead + "{" + pad  # what comes before the next key: the record's opening, then a comma
    for i, name in enumerate(names):
        values, bare = _column_values(frame.iloc[:, i], level + 1)
        parts += [between + _key_text(name) + ('"' if bare else ""), values]
        between = ('"' if bare else "") + "," + pad
    parts.append(between[: -len("," + pad)] + "\n" + "  " * level + "}")
    return string_bytes(pc.binary_join_element_wise(*parts, ""))


# decimal_text strips a plain number's zeros after its point, then the point if nothing follows it: one
# pattern for both ("1.50" keeps ".5", "1.00" loses ".00", "100" has no point and keeps its zeros).
_POINT_ZEROS = r"(\.[0-9]*[1-9])0+$|\.0*$"
# What json escapes in a string with ensure_ascii=False: the quote, the backslash and control characters.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def _column_text_array(column: pd.Series, key: str, level: int) -> Any:
    """:func:`_column_texts` of ``column`` as an Arrow string array (``key`` and each cell's JSON text)."""
    import pyarrow.compute as pc

    values, bare = _column_values(column, level)
    return pc.binary_join_element_wise(key + ('"' if bare else ""), values, '"' if bare else "", "")


def _column_values(column: pd.Series, level: int) -> tuple[Any, bool]:
    """The JSON text of each cell of ``column`` as :func:`_value_text` writes it, as an Arrow string array.

    Returns (array, bare): bare when the array holds text that needs no escaping and no cell is missing,
    so its JSON is the text between quotes, which the caller writes around it (saving a copy). Arrow text,
    flags and exact amounts are done as vectors; any other column a cell at a time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return _quoted(text_array(column), escape=True)
    if dtype == np.dtype(bool):
        return pc.if_else(pa.array(column.to_numpy()), "true", "false"), False
    if dtype == np.dtype(object):
        missing = column.isna().to_numpy()
        values = column.to_numpy(dtype=object)
        if not missing.all() and pd.api.types.infer_dtype(values[~missing], skipna=False) == "decimal":
            return _quoted(_decimal_texts(values, missing), escape=False)
    return pa.array(_column_texts(column, "", level), type=pa.string()), False


def _decimal_texts(values: np.ndarray, missing: np.ndarray) -> Any:
    """Exact amounts in decimal_text's plain notation (missing cells null), each Decimal object written once
    (:func:`~aifunding.outputs.arrow_text.object_texts`); the zeros after a point are stripped in Arrow."""
    import pyarrow.compute as pc

    texts, where = object_texts(values, missing, _plain)
    return pc.replace_substring_regex(texts, _POINT_ZEROS, r"\1").take(where)


def _plain(value: Any) -> str:
    return format(value, "f")


def _plain_bytes(values: Any) -> bool:
    """Whether no byte of a string array's values is one json escapes (a quote, a backslash, a control
    character): one pass of the buffer's smallest byte and two byte searches, faster than a pattern per
    cell. In UTF-8 those bytes never occur inside another character, so bytes tell what characters would.
    """
    _validity, offsets_buffer, data = values.buffers()
    if data is None or not len(values):
        return True
    import pyarrow as pa

    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width, count=len(values) + 1, offset=values.offset * width().itemsize)
    raw = np.frombuffer(data, dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]
    if not raw.size:
        return True
    if int(raw.min()) < 0x20:
        return False
    text = raw.tobytes()
    return text.find(b'"') < 0 and text.find(b"\\") < 0


def _quoted(values: Any, escape: bool) -> tuple[Any, bool]:
    """Text as JSON strings (missing cells null), or the text itself (bare) when that needs nothing more."""
    import pyarrow as pa
    import pyarrow.compute as pc

    needs = None
    if escape and not _plain_bytes(values):
        needs = pc.fill_null(pc.match_substring_regex(values, _NEEDS_ESCAPE), False)
    some = needs is not None and pc.any(needs).as_py()
    if not some and values.null_count == 0:
        return values, True
    texts = pc.binary_join_element_wise('"', values, '"', "")
    if some:
        escaped = [encode_basestring(text) for text in values.filter(needs).to_pylist()]
        texts = pc.replace_with_mask(texts, needs, pa.array(escaped, type=pa.string()))
    return pc.fill_null(texts, "null"), False


def write_xlsx(handle: BinaryIO, about: list[tuple[str, str]], frames: dict[str, pd.DataFrame]) -> None:
    """One workbook: an ``about`` sheet, then a sheet per (neutralised) table, amounts kept exact.

    Written row by row in openpyxl's write-only mode, a chunk of :data:`CHUNK_ROWS` rows at a time:
    a sheet of a million rows as cell objects held whole took over 14 GB.
    """
    from openpyxl import Workbook  # type: ignore[import-untyped]  # here: a quarter of a second to import

    book = Workbook(write_only=True)
    _append_sheet(book, "about", pd.DataFrame(about, columns=["field", "value"]))
    for name, frame in frames.items():
        _append_sheet(book, name, frame)
    book.save(handle)


def _append_sheet(book: Any, name: str, frame: pd.DataFrame) -> None:
    sheet = book.create_sheet(name)
    sheet.append([str(column) for column in frame.columns])
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = spreadsheet_exact(sheet_texts(frame.iloc[start : start + CHUNK_ROWS]))
        for row in chunk.astype(object).where(chunk.notna(), None).itertuples(index=False, name=None):
            sheet.append(list(row))
