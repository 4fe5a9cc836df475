"""Lists coded as whole arrays (analysis.sequences): equal codes exactly when the lists are equal."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from aifunding.analysis.sequences import gathered, list_codes, sorted_distinct

# Few distinct values and short lists, so that equal lists, prefixes of one another and empty lists are common.
_lists = st.lists(st.lists(st.integers(min_value=0, max_value=3), max_size=4), max_size=12)


def _flat(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for items in lists for v in items], dtype=np.int64)
    return values, np.array([len(items) for items in lists], dtype=np.int64)


@given(lists=_lists)
def test_list_codes_number_the_distinct_lists_in_order_of_first_appearance(lists: list[list[int]]) -> None:
    codes, first = list_codes(*_flat(lists))
    numbered: dict[tuple[int, ...], int] = {}
    expected = [numbered.setdefault(tuple(items), len(numbered)) for items in lists]
    assert codes.tolist() == expected
    assert first.tolist() == [expected.index(code) for code in range(len(numbered))]


@given(lists=_lists, data=st.data())
def test_gathered_lists_are_the_lists_asked_for(lists: list[list[int]], data: st.DataObject) -> None:
    which = data.draw(st.lists(st.integers(min_value=0, max_value=len(lists) - 1), max_size=6)) if lists else []
    values, offsets = gathered(*_flat(lists), np.array(which, dtype=np.intp))
    got = [values[start:end].tolist() for start, end in itertools.pairwise(offsets)]
    assert got == [lists[i] for i in which]


def test_a_list_and_its_prefix_and_an_empty_list_are_told_apart() -> None:
    codes, first = list_codes(np.array([1, 2, 1, 1, 2, 2]), np.array([2, 1, 0, 2, 1, 0]))
    # [1, 2], [1], [], [1, 2], [2], []
    assert codes.tolist() == [0, 1, 2, 0, 3, 2]
    assert first.tolist() == [0, 1, 2, 4]


@given(
    values=st.one_of(
        st.lists(st.integers(min_value=-5, max_value=20), max_size=40),  # counted: a span a few times the count
        st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=40),  # sorted: a span far wider
    )
)
def test_sorted_distinct_is_numpys_unique_with_each_values_place(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    distinct, inverse = sorted_distinct(array)
    expected, expected_inverse = np.unique(array, return_inverse=True)
    assert distinct.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()
    assert distinct[inverse].tolist() == values
