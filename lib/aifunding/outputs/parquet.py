"""The tidy tables as Parquet, a row group per chunk of rows, amounts as exact decimals.

Written a chunk of :data:`aifunding.outputs.writers.CHUNK_ROWS` neutralised rows at a time, as CSV and JSON are
(:mod:`aifunding.outputs.writers`).
"""

from __future__ import annotations

import datetime
import json
import numbers
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from aifunding.data.amounts import AMOUNT_DECIMALS
from aifunding.outputs.arrow_text import text_array
from aifunding.outputs.cells import decimal_text, neutralise, neutralise_frame
from aifunding.outputs.writers import chunks

# Arrow's decimal128 holds at most 38 digits. Amounts are written with scale 4, the model's most
# decimal places (data.amounts.AMOUNT_DECIMALS), which leaves 34 whole digits: an accepted amount has
# at most 18 (below AMOUNT_LIMIT, 10^18), so any sum of them (allocations) and any conversion of them
# (at most 4.4 million to one between the ECB currencies, so under 10^25) is held exactly, in a type
# that is the same for every export. A column given a larger scale (exchange rates) or holding more
# decimals gets the scale it needs. Should a column ever need more than 38 digits, or hold something
# that is not a finite number, it is written as exact decimal text (plain notation, as in JSON)
# rather than rounded: never a lossy float.
DECIMAL_PRECISION = 38


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, list | tuple) and bool(pd.isna(value)))


def _digits(value: Decimal) -> tuple[int, int]:
    """(whole digits, decimal places) of a finite Decimal, read off its digits (no context arithmetic)."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return max(len(digits) + exponent, 0), max(-exponent, 0)


def _decimal_type(values: list[Any], scale: int) -> Any:
    """decimal128(38, at least ``scale``) holding every value exactly, or None when no decimal128 can.

    Each distinct object is read once (the loader shares equal amounts' objects), by Arrow when they are all
    Decimals: its inferred type holds the most whole digits and the most places among them, as
    :func:`_digits` counts them (a million converted amounts in a tenth of the time). Anything Arrow refuses (a
    value that is not finite, or over 76 digits) is read value by value.
    """
    import pyarrow as pa  # type: ignore[import-untyped]

    distinct = list({id(value): value for value in values}.values())
    if set(map(type, distinct)) == {Decimal}:
        try:
            inferred = pa.array(distinct).type
        except (pa.ArrowInvalid, TypeError):
            inferred = None
        if inferred is not None and pa.types.is_decimal(inferred):
            scale = max(scale, inferred.scale)
            whole = inferred.precision - inferred.scale
            return pa.decimal128(DECIMAL_PRECISION, scale) if whole + scale <= DECIMAL_PRECISION else None
    return _decimal_type_by_value(distinct, scale)


def _decimal_type_by_value(values: list[Any], scale: int) -> Any:
    """:func:`_decimal_type`, a value at a time."""
    import pyarrow as pa

    whole = 0
    for value in values:
        if not isinstance(value, Decimal) or not value.is_finite():
            return None
        value_whole, value_scale = _digits(value)
        whole, scale = max(whole, value_whole), max(scale, value_scale)
    return pa.decimal128(DECIMAL_PRECISION, scale) if whole + scale <= DECIMAL_PRECISION else None


def _text(value: Any) -> str:
    # Dates stay text: the package's dates are partial ("2024", "2024-04"), so no date type fits.
    if isinstance(value, datetime.date):
        return value.isoformat()
    return decimal_text(value) if isinstance(value, Decimal) and value.is_finite() else str(value)


def _column_kind(name: str, series: pd.Series, decimals: Mapping[str, int]) -> tuple[str, Any]:
    """How a column is written: (kind, Arrow type), kind one of decimal, list, bool, int, float, text."""
    import pyarrow as pa

    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool", pa.bool_()
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int", pa.int64()
    if pd.api.types.is_float_dtype(series.dtype):
        return "float", pa.float64()
    # pandas' missing cells are those _missing finds (a list is never one), told apart as a vector.
    present = series.notna().to_numpy()
    if isinstance(series.dtype, pd.StringDtype) and (name not in decimals or present.any()):
        return "text", pa.string()  # text alone (an empty column named a decimal is typed as one, below)
    values = series.to_numpy(dtype=object)[present].tolist()
    if name in decimals or (values and all(isinstance(v, Decimal) for v in values)):
        decimal = _decimal_type(values, decimals.get(name, AMOUNT_DECIMALS))
        return ("decimal", decimal) if decimal is not None else ("text", pa.string())
    if values and all(isinstance(v, list | tuple) for v in values):
        return "list", pa.list_(pa.string())
    if values and all(isinstance(v, bool) for v in values):
        return "bool", pa.bool_()
    if values and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return "int", pa.int64()
    return "text", pa.string()


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "decimal": lambda v: v,
    "list": lambda v: [neutralise(_text(item)) for item in v],  # each item a text cell, made safe as one
    "bool": bool,
    "int": int,
    "float": float,
    "text": _text,
}


def _cells(kind: str, series: pd.Series) -> list[Any]:
    convert = _CONVERTERS[kind]
    return [None if _missing(v) else convert(v) for v in series]


def _array(kind: str, arrow_type: Any, series: pd.Series) -> Any:
    """The column as an Arrow array of ``arrow_type``: text, flags and decimals as vectors, the rest a cell at a time.

    Arrow text is taken as it is and exact amounts handed to Arrow as their Decimal objects: a million awards'
    thirty columns in seconds, not a Python call per cell (fifty seconds).
    """
    import pyarrow as pa

    if kind == "text" and isinstance(series.dtype, pd.StringDtype):
        return text_array(series).cast(arrow_type)
    if kind == "bool" and series.dtype == np.dtype(bool):
        return pa.array(series.to_numpy(), type=arrow_type)
    if kind == "decimal":
        values = series.to_numpy(dtype=object, copy=True)
        values[series.isna().to_numpy()] = None
        return pa.array(values, type=arrow_type)
    return pa.array(_cells(kind, series), type=arrow_type)


def write_parquet(
    handle: BinaryIO, frame: pd.DataFrame, about: list[tuple[str, str]], decimals: Mapping[str, int] | None = None
) -> None:
    """One table as Parquet, a row group per chunk; ``about`` goes in the file's key-value metadata.

    Columns named in ``decimals`` (with the scale each needs at least), and any whose values are all
    Decimals (scale 4 at least), are exact decimal128; integers (nullable ones too) are int64, flags
    bool, lists and tuples lists of text, and everything else text, dates included.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    header = neutralise_frame(frame.iloc[:0]).columns
    kinds = [_column_kind(str(name), frame.iloc[:, i], decimals or {}) for i, name in enumerate(frame.columns)]
    schema = pa.schema(
        [pa.field(str(name), arrow_type) for name, (_kind, arrow_type) in zip(header, kinds, strict=True)],
        metadata={"aifunding.about": json.dumps(dict(about), ensure_ascii=False)},
    )
    with pq.ParquetWriter(handle, schema) as writer:
        for chunk in chunks(frame):
            arrays = [_array(kind, arrow_type, chunk.iloc[:, i]) for i, (kind, arrow_type) in enumerate(kinds)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
