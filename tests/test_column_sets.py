"""The column helpers of the columnar validator (aifunding.data.column_sets), on hand-written columns."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from aifunding.data.column_sets import group_sums, index_in, isin, key_codes, repeats, string_set, value_codes


@pytest.mark.parametrize(
    ("frame", "columns", "repeated"),
    [
        # one column; a missing value repeats another missing one, as None == None
        (pd.DataFrame({"id": pd.array(["b", "a", "b", None, None], dtype="str")}), ["id"], [0, 0, 1, 0, 1]),
        # two columns: only the pair repeats
        (pd.DataFrame({"a": ["x", "x", "y", "x"], "o": ["1", "2", "1", "1"]}), ["a", "o"], [0, 0, 0, 1]),
        # whole numbers
        (pd.DataFrame({"position": pd.array([2, 1, 2], dtype="Int64")}), ["position"], [0, 0, 1]),
        (pd.DataFrame({"id": pd.array([], dtype="str")}), ["id"], []),
    ],
)
def test_key_codes_and_repeats(frame: pd.DataFrame, columns: list[str], repeated: list[int]) -> None:
    before = frame.copy()
    codes = key_codes(frame, columns)
    assert repeats(codes).tolist() == [bool(r) for r in repeated]
    keys = list(frame[columns].itertuples(index=False, name=None))
    assert [keys.index(k) for k in keys] == [keys.index(keys[np.flatnonzero(codes == c)[0]]) for c in codes]
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("values", [["a", "c"], [f"v{i}" for i in range(100)] + ["a", "c", "a"]])
def test_isin_and_index_in(values: list[str]) -> None:
    """The same answers whether the set is cut down to the column's values first (a long set) or not."""
    column = pd.Series(["a", None, "b", "c", "a"], dtype="str")
    found = string_set(pd.Series(values, dtype="str"))
    assert isin(column, found).tolist() == [True, False, False, True, True]
    assert index_in(column, found).tolist() == [values.index("a"), -1, -1, values.index("c"), values.index("a")]
    assert isin(pd.Series([None, None], dtype=object), found).tolist() == [False, False]


def test_group_sums_add_as_sum_does() -> None:
    values = np.array([Decimal("1E+3"), Decimal("2.50"), Decimal("3"), Decimal("0.25")], dtype=object)
    codes = np.array([1, 0, 1, 1])
    sums = group_sums(values, codes, 3).tolist()
    assert sums == [Decimal("2.50"), Decimal("1003.25"), Decimal(0)]
    assert [str(s) for s in sums] == [str(sum(values[codes == g], Decimal(0))) for g in range(3)]


def test_value_codes_code_keys_by_where_their_values_are() -> None:
    """Positions among the ids for values that are ids, codes past them for the rest, missing values alike."""
    ids = string_set(pd.Series(["x", "y"], dtype="str"))
    column = pd.Series(["y", "q", None, "x", "q", None, "y"], dtype="str")
    where = index_in(column, ids)
    codes = value_codes(column, ids, where)
    assert codes[[0, 3, 6]].tolist() == [1, 0, 1]
    assert codes[1] == codes[4] >= 2 and codes[2] == codes[5] >= 2 and codes[1] != codes[2]
    frame = pd.DataFrame({"a": column, "b": ["1", "1", "1", "1", "1", "1", "2"]})
    assert repeats(key_codes(frame, ["a", "b"], {"a": codes})).tolist() == [0, 0, 0, 0, 1, 1, 0]
