"""programme_totals as vectors (analysis.allocation): the same rows as gathering each programme's awards one by one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis.allocation import TOTALS_COLUMNS, allocation_rows
from aifunding.analysis.metrics import _totals_by_award, programme_totals
from aifunding.data.tree import ProgrammeTree

IDS = ["p0", "p1", "p2", "p3", "p4"]


def exactly(value: Any) -> Any:
    """A cell with each Decimal as its exact tuple (1.0 and 1.00 differ) and its type, so None, NaN and "" differ."""
    if isinstance(value, Decimal):
        return ("Decimal", value.as_tuple())
    if isinstance(value, dict):
        return {key: exactly(part) for key, part in value.items()}
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


def cells(frame: pd.DataFrame) -> list[list[Any]]:
    return [[exactly(value) for value in frame[column].tolist()] for column in frame.columns]


def by_award(programmes: pd.DataFrame, awards: pd.DataFrame) -> pd.DataFrame:
    """The reference: each programme's awards gathered from its subtree and added one by one."""
    return pd.DataFrame(
        _totals_by_award(programmes, awards, ProgrammeTree.from_frame(programmes)), columns=TOTALS_COLUMNS
    )


# Parents that make a tree, a forest, an unknown parent or a cycle (which validation refuses, but the tree reads).
parents = st.sampled_from([None, *IDS, "unknown"])
currencies = st.sampled_from(["JPY", "USD", "EUR", "", None])
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=0, max_value=Decimal("1e18"))
# Amounts as a package holds them, a missing one, and a few the vectors leave to the per-award path.
amounts = st.one_of(
    decimals,
    decimals,
    st.just(Decimal("123456789012345678901234567.89")),  # sums of these round past 28 digits
    st.none(),
    st.just(float("nan")),
    st.just(Decimal("-1.5")),
    st.just(Decimal("NaN")),
    st.just(2.5),
)
bases = st.sampled_from(["exact", "about", "up_to", "up_to_about", "at_least", "target", None])
award_rows = st.lists(
    st.tuples(st.sampled_from([*IDS, "p9", None]), amounts, currencies, bases),
    max_size=30,
)
programme_rows = st.lists(st.tuples(parents, currencies), min_size=len(IDS), max_size=len(IDS))


def frames(programme_rows: list, award_rows: list, text: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows as frames: text columns in the loader's dtype ("str", Arrow text with NaN) or plain objects."""
    programmes = pd.DataFrame(
        {
            "id": IDS[: len(programme_rows)],
            "parent_id": [r[0] for r in programme_rows],
            "currency": [r[1] for r in programme_rows],
        }
    )
    awards = pd.DataFrame(
        {
            "programme_id": [r[0] for r in award_rows],
            "amount": pd.Series([r[1] for r in award_rows], dtype=object),
            "currency": [r[2] for r in award_rows],
            "basis": [r[3] for r in award_rows],
        }
    )
    if text:
        for frame, columns in (
            (programmes, ["id", "parent_id", "currency"]),
            (awards, ["programme_id", "currency", "basis"]),
        ):
            for column in columns:
                frame[column] = frame[column].astype("str")
    return programmes.astype({} if text else {"id": object}), awards


@settings(max_examples=300, deadline=None)
@given(programme_rows, award_rows, st.booleans())
def test_vectors_give_the_rows_award_by_award(programme_rows: list, award_rows: list, text: bool) -> None:
    programmes, awards = frames(programme_rows, award_rows, text)
    before = (programmes.copy(), awards.copy())
    try:
        expected = by_award(programmes, awards)
    except TypeError as failed:  # bases of text and None cannot be sorted: the vectors leave that to the same error
        with pytest.raises(TypeError, match=str(failed)):
            programme_totals(programmes, awards)
        return
    got = programme_totals(programmes, awards)
    assert list(got.columns) == TOTALS_COLUMNS
    assert cells(got) == cells(expected)
    pd.testing.assert_frame_equal(programmes, before[0])
    pd.testing.assert_frame_equal(awards, before[1])


# Only what the loader gives (Decimals, currencies and bases as text where there is an amount): the
# vectors must take these, or the test above would only ever compare the per-award path with itself.
# Amounts as validation admits them: at most 18 digits, 4 of them after the point.
package_amounts = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=0, max_value=Decimal("1e14"))
plain_awards = st.lists(
    st.tuples(
        st.sampled_from([*IDS, "p9", None]),
        st.one_of(package_amounts, st.none()),
        st.sampled_from(["JPY", "USD"]),
        st.sampled_from(["exact", "about", "up_to", "up_to_about", "at_least", "target"]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(programme_rows, plain_awards)
def test_plain_packages_take_the_vectors(programme_rows: list, award_rows: list) -> None:
    programmes, awards = frames(programme_rows, award_rows, True)
    rows = allocation_rows(programmes, awards, ProgrammeTree.from_frame(programmes))
    assert rows is not None
    assert cells(pd.DataFrame(rows, columns=TOTALS_COLUMNS)) == cells(by_award(programmes, awards))


@pytest.mark.parametrize(
    ("amounts", "programme_ids"),
    [
        # a sum past 28 digits rounds: its order of addition could matter, so the awards are added one by one
        ([Decimal("123456789012345678901234567.89")] * 2, IDS[:1]),
        # a programme id given twice, each row with its own currency
        ([Decimal(1)], ["p0", "p0"]),
        # a negative amount (which validation refuses)
        ([Decimal("-1")], IDS[:1]),
    ],
)
def test_what_the_vectors_leave_to_the_per_award_path(amounts: list, programme_ids: list) -> None:
    programmes = pd.DataFrame(
        {"id": programme_ids, "parent_id": None, "currency": ["JPY", "USD"][: len(programme_ids)]}
    )
    awards = pd.DataFrame(
        {
            "programme_id": ["p0"] * len(amounts),
            "amount": pd.Series(amounts, dtype=object),
            "currency": "JPY",
            "basis": "exact",
        }
    )
    assert allocation_rows(programmes, awards, ProgrammeTree.from_frame(programmes)) is None
    assert cells(programme_totals(programmes, awards)) == cells(by_award(programmes, awards))


def test_an_allocation_keeps_the_finest_scale_and_names_a_rounded_ceiling() -> None:
    programmes = pd.DataFrame(
        {"id": ["top", "round"], "parent_id": [None, "top"], "currency": [None, "JPY"]}, dtype="str"
    )
    awards = pd.DataFrame(
        {
            "programme_id": ["round", "round", "top"],
            "amount": pd.Series([Decimal("1.5"), Decimal("2.25"), Decimal("10")], dtype=object),
            "currency": "JPY",
            "basis": ["up_to", "up_to_about", "target"],
        }
    )
    rows = allocation_rows(programmes, awards, ProgrammeTree.from_frame(programmes))
    assert rows is not None
    top = rows[0]
    assert top[C.ALLOCATED].as_tuple() == Decimal("13.75").as_tuple()
    assert top[C.ALLOCATED_CURRENCY] == "JPY"  # taken from its awards, which share it
    assert top[C.ALLOCATED_BASES] == ("target", "up_to", "up_to_about")
    assert top[C.ALLOCATED_BY_BASIS] == {"up_to_about": Decimal("3.75")}  # a target is never added to a kind
