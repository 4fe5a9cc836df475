"""Column work done once per distinct value equals the row-by-row function it replaces."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding.analysis.distinct import ids_in_column, localized_by_value
from aifunding.analysis.metrics import localized
from aifunding.figures.base import ids_in

# Texts as a name column holds them: words, blanks of every kind (Python's idea of whitespace), missing.
texts = st.one_of(
    st.sampled_from(["Sakura", "さくら", "", " ", "\u3000", "\x1c", " KDDI ", "GMO"]),
    st.text(alphabet=" \t\nあa\u00a0", max_size=3),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(texts, texts), max_size=30),
    st.sampled_from(["en", "ja", "fr"]),
    st.sampled_from(["name", "project_label"]),
    st.sampled_from(["str", "object"]),
)
def test_localized_by_value_is_localized(rows: list[tuple], lang: str, stem: str, dtype: str) -> None:
    # "name" has an English column of its own; "project_label" is the English column itself.
    english = f"{stem}_en" if stem == "name" else stem
    frame = pd.DataFrame(
        {
            english: pd.array([r[0] for r in rows], dtype=dtype),
            f"{stem}_ja": pd.array([r[1] for r in rows], dtype=dtype),
        },
        index=pd.RangeIndex(len(rows)) * 3,  # a filtered view's index: not 0..n
    )
    before = frame.copy()
    pd.testing.assert_series_equal(localized_by_value(frame, stem, lang), localized(frame, stem, lang))
    pd.testing.assert_frame_equal(frame, before)


# Cells of an id column: tuples of ids, empty ones, missing ones.
id_cells = st.one_of(st.tuples(*[st.sampled_from(["s-1", "s-2", "c-9"])] * 2), st.just(()), st.none())


@settings(max_examples=200, deadline=None)
@given(st.lists(id_cells, max_size=20), st.booleans())
def test_ids_in_column_is_ids_in(cells: list, present: bool) -> None:
    frame = pd.DataFrame({"source_ids": pd.Series(cells, dtype=object)} if present else {"id": range(len(cells))})
    assert ids_in_column(frame, "source_ids") == ids_in(frame, "source_ids")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(["a", "b", "", "jp-1", "さくら"]), st.none()), max_size=20),
    st.lists(
        st.one_of(st.sampled_from(["a", "b", "", "x", "さくら"]), st.none(), st.just(float("nan")), st.integers(0, 3)),
        max_size=8,
    ),
    st.sampled_from(["str", "object"]),
)
def test_isin_texts_is_isin(cells: list, wanted: list, dtype: str) -> None:
    """Texts looked up in one Arrow pass match pandas' ``isin``, missing cells and non-texts included."""
    import numpy as np

    from aifunding.data.frames import TEXT, isin_texts

    values = pd.Series(cells, dtype=TEXT if dtype == "str" else object)
    expected = values.isin(wanted).to_numpy(dtype=bool)
    found = isin_texts(values, wanted)
    assert found.dtype == bool
    np.testing.assert_array_equal(found, expected)
