""":mod:`aifunding.loading.text_rules` by column: the same warnings, in the same order, with whole-column operations.

Latin letters are found by one regular expression over a column; names and titles are keyed by
:mod:`aifunding.data.text_keys` (the keys the per-row rules use), and the first row of each key in
its scope is found by one hash encoding and one ``minimum.at``, so a million rows cost no loop in Python.
Only a row that gets a warning is read out one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from aifunding.data.column_sets import at, objects, present
from aifunding.data.report import Problem
from aifunding.data.rowset import RowSet
from aifunding.data.text_keys import Texts, latin_letters, name_keys, text_array, title_keys
from aifunding.loading.rule_problems import (
    ENGLISH_COLUMNS,
    NAME_COLUMNS,
    english_text_problem,
    namesake_problem,
)

RowSets = dict[str, RowSet]
# Joins a row's scope to its key; no scope (a country code, a programme id) holds it.
_SCOPE_END = "\x1f"


def check_english_text(rows: RowSets) -> Iterator[Problem]:
    """An English text column holds Latin letters: one warning per cell without any, row by row."""
    for table, columns in ENGLISH_COLUMNS.items():
        values = rows[table].values
        lacking = np.column_stack([present(values[column]) & ~latin_letters(values[column]) for column in columns])
        positions, which = np.nonzero(lacking)  # row by row, and in a row column by column, as the per-row rule
        texts = _cells(values, columns, positions, which)
        for position, index, text in zip(positions.tolist(), which.tolist(), texts, strict=True):
            yield english_text_problem(table, at(rows[table], position), columns[index], text)


def earlier_namesakes(scopes: pa.Array, keys: list[pa.Array]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows whose key (in any of ``keys``' columns) an earlier row of its scope has in any column.

    Returns, in row order, each such row's position, the index of its column whose key was found
    earliest (the first on a tie), and the earliest row with that key: what
    :func:`aifunding.loading.text_rules.earlier_namesakes` yields.
    """
    count = len(scopes)
    encoded = pc.dictionary_encode(pa.concat_arrays(scoped_keys(scopes, keys)))
    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    positions = np.tile(np.arange(count, dtype=np.int64), len(keys))
    known = codes >= 0
    # Each key's first row; one more slot, for the code -1 of no key, holds ``count``: no row.
    first = np.full(len(encoded.dictionary) + 1, count, dtype=np.int64)
    np.minimum.at(first, codes[known], positions[known])
    earliest = first[codes].reshape(len(keys), count)
    column = earliest.argmin(axis=0)
    before = earliest[column, np.arange(count)]
    hits = np.flatnonzero(before < np.arange(count))
    return hits, column[hits], before[hits]


def scoped_keys(scopes: pa.Array, keys: list[pa.Array]) -> list[pa.Array]:
    """Each of ``keys``' columns joined to its row's scope: two rows share a scoped key when they share a key and a
    scope (null where the key is)."""
    end = pa.scalar(_SCOPE_END, scopes.type)
    return [pc.binary_join_element_wise(scopes, key, end) for key in keys]


def name_scopes(values: pd.DataFrame, scope: str) -> pa.Array:
    """Each row's scope (its ``scope`` column's text; "" where it has none, as a programme at the top)."""
    return pc.fill_null(text_array(values[scope]), "")


def _namesakes(rows: RowSet, scope: str, keyed: Callable[[Texts], pa.Array]) -> Iterator[Problem]:
    """A warning for each row named (by ``keyed``) as an earlier one of its ``scope``, naming that one."""
    values = rows.values
    scopes = name_scopes(values, scope)
    hits, which, before = earlier_namesakes(scopes, [keyed(values[column]) for column in NAME_COLUMNS])
    ids = values["id"]
    named = zip(hits.tolist(), which.tolist(), before.tolist(), _cells(values, NAME_COLUMNS, hits, which), strict=True)
    for (position, index, earlier, text), rid, first in zip(
        named, objects(ids.iloc[hits]), objects(ids.iloc[before]), strict=True
    ):
        column = NAME_COLUMNS[index]
        yield namesake_problem(rows.table.name, at(rows, position), rid, column, text, first, at(rows, earlier).line)


def check_organisation_names(rows: RowSets) -> Iterator[Problem]:
    """One body, one id: an organisation named as an earlier one of its country is a warning naming that one."""
    return _namesakes(rows["organisations"], "country_id", name_keys)


def check_programme_titles(rows: RowSets) -> Iterator[Problem]:
    """One programme, one id: a programme titled as an earlier one beside it is a warning naming that one."""
    return _namesakes(rows["programmes"], "parent_id", title_keys)


def _cells(values: pd.DataFrame, columns: Sequence[str], positions: np.ndarray, which: np.ndarray) -> list[Any]:
    """The value of the row at each of ``positions`` in its column, ``columns[which]``: read column by column."""
    cells = np.empty(len(positions), dtype=object)
    for index, column in enumerate(columns):
        chosen = which == index
        cells[chosen] = objects(values[column].iloc[positions[chosen]])
    return cells.tolist()
