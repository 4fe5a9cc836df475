"""Text in chart specs shows a data "<" as itself: the list shortcut words exactly what item by item words."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding.figures.safe_text import LAYOUT_TEXT_KEYS, TRACE_TEXT_KEYS, chart_text, text_safe


def item_by_item(value: Any, keys: frozenset[str], inside: bool = False) -> Any:
    """``text_safe`` as first written: one call per value, whatever the list holds."""
    if isinstance(value, str):
        return chart_text(value) if inside else value
    if isinstance(value, dict):
        return {k: item_by_item(v, keys, inside or k in keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [item_by_item(v, keys, inside) for v in value]
    dtype = getattr(value, "dtype", None)
    if inside and dtype is not None and dtype.kind in "OUS":
        return item_by_item(value.tolist(), keys, inside)
    return value


texts = st.text(alphabet="ab <>/&日br", max_size=8) | st.sampled_from(["<br>", "<b>x</b>", "<a href=x>", "a<b"])
scalars = st.one_of(texts, st.floats(allow_nan=False), st.integers(), st.booleans(), st.none())
odd = st.one_of(st.floats(allow_nan=False).map(np.float64), texts.map(np.str_))  # subclasses: item by item
values = st.recursive(
    st.one_of(scalars, odd),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["text", "x", "customdata", "name", "color", "meta"]), inner, max_size=3),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values, st.booleans(), st.sampled_from([TRACE_TEXT_KEYS, LAYOUT_TEXT_KEYS]))
def test_lists_are_worded_as_item_by_item(value: Any, inside: bool, keys: frozenset[str]) -> None:
    got, want = text_safe(value, keys, inside), item_by_item(value, keys, inside)
    assert got == want
    assert [type(v) for v in _flat(got)] == [type(v) for v in _flat(want)]


def test_a_data_angle_bracket_in_a_list_is_shown_as_itself() -> None:
    trace = {"y": ["Sakura", "<img src=x>"], "customdata": [("a", "<b>ok</b>"), ("<script>", 1.0)]}
    assert text_safe(trace, TRACE_TEXT_KEYS) == {
        "y": ["Sakura", "&lt;img src=x>"],
        "customdata": [["a", "<b>ok</b>"], ["&lt;script>", 1.0]],
    }


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flat(item)]
    if isinstance(value, list):
        return [v for item in value for v in _flat(item)]
    return [value]
