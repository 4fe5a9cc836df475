"""split_by_basis_groups: each group's sums exactly as split_by_basis adds the group's pairs one by one."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding.analysis.totals import _plain_decimals, split_by_basis, split_by_basis_groups


def row_by_row(keys: list, amounts: list, bases: list) -> dict:
    """The reference: pandas groups (first appearance, missing keys dropped), each added pair by pair."""
    frame = pd.DataFrame({"key": keys, "amount": pd.Series(amounts, dtype=object), "basis": bases})
    return {
        key: split_by_basis(zip(group["amount"], group["basis"], strict=True))
        for key, group in frame.groupby("key", sort=False)
    }


def exactly(sums: dict) -> dict:
    """Sums with each Decimal as its exact tuple, so a different exponent (1.0 against 1.00) counts."""
    return {key: {cls: value.as_tuple() for cls, value in parts.items()} for key, parts in sums.items()}


# Amounts as the package holds them: Decimals of any scale, up to 30 digits (past the 28 of the
# default context, so some sums round), and what a missing cell can be; a few that force the row-by-row way.
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=0, max_value=Decimal("1e18"))
amounts = st.one_of(
    decimals,
    st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10).map(lambda d: d.scaleb(-20)),
    st.just(Decimal("123456789012345678901234567.89")),
    st.none(),
    st.just(float("nan")),
    st.just(Decimal("-1.5")),
    st.just(Decimal("NaN")),
    st.just(2.5),
)
bases = st.sampled_from(["exact", "about", "up_to", "up_to_about", "at_least", "target", None])
rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), amounts, bases), max_size=40)


@settings(max_examples=400, deadline=None)
@given(rows)
def test_groups_add_up_as_row_by_row(rows: list) -> None:
    keys, values, kinds = ([row[i] for row in rows] for i in range(3))
    expected = row_by_row(keys, values, kinds)
    got = split_by_basis_groups(keys, values, kinds)
    assert list(got) == list(expected)
    assert exactly(got) == exactly(expected)


# Columns whose every amount is a finite, non-negative Decimal: checked once for the whole column,
# then added per kind with no check per group (what a chart of awards with amounts passes).
# A sum past 28 digits rounds: that group goes row by row, the others stay added per kind.
plain_amounts = st.one_of(decimals, st.just(Decimal("123456789012345678901234567.89")))
plain_rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), plain_amounts, bases), max_size=40)


@settings(max_examples=300, deadline=None)
@given(plain_rows)
def test_plain_decimal_columns_add_up_as_row_by_row(rows: list) -> None:
    keys, values, kinds = ([row[i] for row in rows] for i in range(3))
    expected = row_by_row(keys, values, kinds)
    got = split_by_basis_groups(keys, values, kinds)
    assert list(got) == list(expected)
    assert exactly(got) == exactly(expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(amounts, max_size=10))
def test_a_column_is_plain_exactly_when_each_amount_is(values: list) -> None:
    each = all(type(a) is Decimal and a.is_finite() and not a.is_signed() for a in values)
    assert _plain_decimals(values) == each


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        # Different scales: the sum keeps the finest one, as adding one by one does.
        ([Decimal("1.5"), Decimal("2.25")], {"exact": Decimal("3.75")}),
        # A sum past 28 digits is rounded: the same rounding as row by row, not an exact one.
        (
            [Decimal("1e30"), Decimal("1.000000001")],
            {"exact": Decimal(0) + Decimal("1e30") + Decimal("1.000000001")},
        ),
    ],
)
def test_known_sums(amounts: list, expected: dict) -> None:
    got = split_by_basis_groups(["k"] * len(amounts), amounts, ["exact"] * len(amounts))
    assert exactly(got) == exactly({"k": expected})


def test_inputs_are_not_changed_and_arrow_columns_work() -> None:
    labels = pd.Series(["x", "y", "x"], dtype="string[pyarrow]")
    values = pd.Series([Decimal(1), None, Decimal(2)], dtype=object)
    kinds = pd.Series(["up_to_about", "exact", "up_to"], dtype="string[pyarrow]")
    got = split_by_basis_groups(labels, values, kinds)
    assert got == {"x": {"up_to_about": Decimal(3)}, "y": {}}
    assert values.tolist() == [Decimal(1), None, Decimal(2)]
    assert split_by_basis_groups(np.array([], dtype=object), [], []) == {}


@settings(max_examples=300, deadline=None)
@given(plain_rows)
def test_whole_number_keys_group_as_the_same_keys_as_objects(rows: list) -> None:
    """Codes (an integer array, as a chart groups recipients) give the groups their names give."""
    import numpy as np

    named = [row for row in rows if row[0] is not None]
    keys, values, kinds = ([row[i] for row in named] for i in range(3))
    codes = np.array(["abc".index(key) * 7 for key in keys], dtype=np.int64)
    got = split_by_basis_groups(codes, values, kinds)
    expected = row_by_row(keys, values, kinds)
    assert ["abc"[int(code) // 7] for code in got] == list(expected)
    assert exactly({"abc"[int(code) // 7]: sums for code, sums in got.items()}) == exactly(expected)


def as_float(amount: object) -> float:
    """What a package keeps beside each amount: its float, NaN where there is none."""
    if isinstance(amount, Decimal):
        return float(amount)
    return float("nan") if amount is None else float(amount)  # type: ignore[arg-type]


# Past the float range, -0 and tiny negatives (floats of -0.0): the floats must not answer for these.
edge_amounts = st.one_of(
    amounts, st.just(Decimal("1e400")), st.just(Decimal("-0")), st.just(Decimal("-1e-400")), st.just(Decimal("Inf"))
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), edge_amounts, bases), max_size=40))
def test_floats_and_coded_bases_give_the_same_sums(rows: list) -> None:
    """With each amount's float beside it and the bases as a categorical (as the Companies chart passes them)."""
    keys, values, kinds = ([row[i] for row in rows] for i in range(3))
    floats = np.array([as_float(value) for value in values], dtype=float)
    coded = pd.Categorical(kinds, categories=["target", "up_to", "exact", "about", "at_least", "up_to_about", "spare"])
    expected = row_by_row(keys, values, kinds)
    for got in (
        split_by_basis_groups(keys, values, kinds, floats=floats),
        split_by_basis_groups(keys, values, coded),
        split_by_basis_groups(keys, values, coded, floats=floats),
    ):
        assert list(got) == list(expected)
        assert exactly(got) == exactly(expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(edge_amounts, max_size=10))
def test_floats_answer_for_a_column_exactly_when_each_amount_is_plain(values: list) -> None:
    each = all(type(a) is Decimal and a.is_finite() and not a.is_signed() for a in values)
    assert _plain_decimals(values, np.array([as_float(v) for v in values], dtype=float)) == each


def test_many_groups_add_up_as_few_do() -> None:
    """Past 13,107 groups (five kinds each no longer fit 16 bits, sorted as 64-bit integers), the same sums as
    row by row; and below it (a chart's few bars, sorted in 16 bits), the same."""
    rng = np.random.default_rng(7)
    kinds = ["exact", "about", "up_to", "up_to_about", "at_least", "target"]
    for groups in (26, 20_000):
        n = 3 * groups
        keys = rng.integers(0, groups, n)
        digits, places = rng.integers(0, 10**9, n).tolist(), rng.integers(0, 3, n).tolist()
        values = [Decimal(v).scaleb(-e) for v, e in zip(digits, places, strict=True)]
        bases = [kinds[i] for i in rng.integers(0, len(kinds), n)]
        got = split_by_basis_groups(keys, values, bases)
        expected = row_by_row(keys.tolist(), values, bases)
        assert list(got) == list(expected)
        assert exactly(got) == exactly(expected)
