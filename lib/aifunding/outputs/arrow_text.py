"""Arrow text the writers share: each distinct object written once, and a text array's bytes without a copy.

JSON (:mod:`aifunding.outputs.writers`) and CSV (:mod:`aifunding.outputs.csv_text`) make each column's cells as
an Arrow string array, join every row's cells in one pass in C and hand the joined buffer to the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def object_texts(values: np.ndarray, missing: np.ndarray, text: Callable[[Any], str]) -> tuple[Any, Any]:
    """``text`` of each distinct object of the present cells, and each cell's index into them (null where missing),
    as Arrow arrays: ``texts.take(where)`` is every cell's text, and what is done to ``texts`` is done once per object.

    The loader gives equal cells of a column one object (a Decimal), and a conversion one rate object per
    date: a million amounts or rates are a few thousand objects. Objects are told apart by identity, never by
    value (1.0 == 1.00 but they are written differently).
    """
    import pyarrow as pa  # type: ignore[import-untyped]

    present = values[~missing]
    codes, distinct = pd.factorize(np.fromiter(map(id, present), dtype=np.uint64, count=len(present)))
    first = np.empty(len(distinct), dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # each object's first cell
    texts = pa.array([text(value) for value in present[first].tolist()], type=pa.string())
    where = np.zeros(len(values), dtype=np.intp)
    where[~missing] = codes
    return texts, pa.array(where, mask=missing)


def string_bytes(array: Any) -> memoryview:
    """The UTF-8 bytes of an Arrow string array without nulls, its values back to back (no copy)."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _validity, offsets_buffer, data = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width, count=len(array) + 1, offset=array.offset * width().itemsize)
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def text_array(column: pd.Series) -> Any:
    """A text column as one Arrow string array (pandas' Arrow text as it is, its chunks combined)."""
    import pyarrow as pa

    values = pa.array(column, from_pandas=True)
    return (values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values).cast(pa.string())
