"""A table's valid rows as a pandas frame, one way for rows just validated and rows read from the cache.

Model fields are the columns; enums are their string values; Decimal columns keep exact Decimals
(object dtype, None where missing); whole numbers are nullable integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from aifunding.data.parsing import LoadedRow
from aifunding.data.schema import base_type, unwrap_optional
from aifunding.data.tables import Table


def field_types(table: Table) -> dict[str, Any]:
    """Each column's base Python type, with Optional and Annotated unwrapped."""
    return {name: base_type(unwrap_optional(info.annotation)[0]) for name, info in table.model.model_fields.items()}


def plain(value: Any) -> Any:
    """A validated value as a frame holds it: an enum member as its value, anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def frame_from_models(table: Table, rows: Iterable[LoadedRow]) -> pd.DataFrame:
    """The frame of a table's validated rows."""
    return frame_from_records(table, [{name: plain(getattr(r.model, name)) for name in table.columns} for r in rows])


def frame_from_records(table: Table, records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The frame of a table from plain records (one dict per row, a value per column)."""
    return typed_frame(table, pd.DataFrame.from_records(list(records), columns=table.columns))


# Text and vocabulary columns: pandas' string type, NaN where missing.
TEXT = pd.StringDtype(na_value=np.nan)


def typed_frame(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column of the type its field has, whatever its values happen to be.

    pandas infers a column's type from what is in it (a column of nothing but missing values would
    be ``object``); the package's frames have one type per field instead, however they were made
    (validated by row or by column, or read from the cache), so every step can rely on it.
    """
    for name, kind in field_types(table).items():
        if kind is Decimal:
            # Object dtype keeps Decimals exact; None (not NaN) marks a missing amount.
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        elif kind is int:
            # pandas-stubs' "Int64" overloads of pd.array take no Series, though pandas accepts any array-like.
            frame[name] = pd.array(frame[name], dtype="Int64")  # type: ignore[call-overload]
        elif kind is bool:
            frame[name] = frame[name].astype(bool)
        elif frame[name].dtype != TEXT:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None).astype(TEXT)
        else:
            frame[name] = one_chunk(frame[name])
    return frame


def one_chunk(values: pd.Series) -> pd.Series:
    """A text column held in one Arrow buffer rather than the chunks a Parquet or CSV reader left.

    Arrow takes rows from a chunked text column by first joining its chunks: picking five awards
    out of a million joined 200 MB of notes (half a second) on every lookup. Joined once here, each
    later take touches only the rows it takes.
    """
    arrow = pa.array(values.array)  # pandas hands over its Arrow data without a copy
    if not isinstance(arrow, pa.ChunkedArray) or arrow.num_chunks <= 1:
        return values
    joined = pd.arrays.ArrowStringArray(arrow.combine_chunks(), dtype=TEXT)  # type: ignore[call-arg]
    return pd.Series(joined, index=values.index, name=values.name)


def isin_texts(values: pd.Series, wanted: Iterable[Any]) -> np.ndarray:
    """``values.isin(wanted)`` as a bool array: for a text column, one Arrow pass over a set of texts.

    pandas makes an Arrow scalar of each wanted value first: a view's 1,400 programme ids took 13 ms to
    look up in 1,400 rows. Same answer: only texts are looked for, and a missing value (None, NaN) among
    ``wanted`` matches the missing cells.
    """
    wanted = list(wanted)
    if values.dtype != TEXT:
        return values.isin(wanted).to_numpy(dtype=bool)
    arrow = pa.array(values.array)  # pandas hands over its Arrow data without a copy
    texts: list[str | None] = [value for value in wanted if isinstance(value, str)]
    if any(value is None or value is pd.NA or (isinstance(value, float) and value != value) for value in wanted):
        texts.append(None)
    if not texts:
        return np.zeros(len(values), dtype=bool)
    found = pc.is_in(arrow, value_set=pa.array(texts, type=arrow.type))
    return np.asarray(found, dtype=bool)


def rows_named(ids: pd.Series, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The positions in ``ids`` of the ids ``values`` name, and those ids (as texts)."""
    wanted = values.dropna().unique().tolist()
    rows = np.flatnonzero(isin_texts(ids, wanted)) if wanted else np.array([], dtype=np.intp)
    return rows, ids.take(rows).to_numpy(dtype=object)


def found_in(values: pd.Series, ids: pd.Series) -> pd.Series:
    """``values.isin(ids)`` for a few values and many ids: the few are looked up in the many.

    pandas' ``isin`` on a text column walks its lookup list in Python, which for a view's million
    award ids took seconds; looking a dozen milestone ids up in the ids column is one vector pass.
    """
    wanted = values.dropna().unique().tolist()
    found = set(ids[isin_texts(ids, wanted)].tolist()) if wanted else set()
    return pd.Series(isin_texts(values, found), index=values.index)


def rows_where(frame: pd.DataFrame, wanted: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """The rows of ``frame`` whose column holds one of its ``wanted`` texts (any column), in order, numbered from 0."""
    mask = np.zeros(len(frame), dtype=bool)
    for column, values in wanted.items():
        mask |= isin_texts(frame[column], [value for value in values if isinstance(value, str)])
    return frame[mask].reset_index(drop=True)
