"""Per-row column work without a Python step per row: a view of a million awards repeats its names.

A filtered view of 92,000 awards names about 38,000 recipients and a few hundred programmes: a
Python step per distinct value, or a C loop over the column, gives the same result in a fraction of
the time. Each function here equals the row-by-row one it names (``tests/test_distinct.py`` checks it).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.metrics import as_texts, localized
from aifunding.i18n import DEFAULT_LANGUAGE


def localized_by_value(frame: pd.DataFrame, column: str, lang: str) -> pd.Series:
    """:func:`~aifunding.analysis.metrics.localized`, testing each distinct text for words once, not each row."""
    other = f"{column}_{lang}"
    if lang == DEFAULT_LANGUAGE or other not in frame:
        return localized(frame, column, lang)
    english = frame[f"{column}_en"] if f"{column}_en" in frame else frame[column]
    text, english = as_texts(frame[other], english)
    codes, uniques = pd.factorize(text)  # a missing text is -1: never words
    has_words = np.array([isinstance(v, str) and bool(v.strip()) for v in uniques] + [False], dtype=bool)
    return text.where(has_words[codes], english)


def floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]``'s amounts as floats (NaN where none): those the frame carries, else converted here.

    A Decimal becomes a float through its text, about half a microsecond each: the awards in view carry
    their amounts' floats, converted once per package (or per view, when converted to a currency).
    """
    kept = C.FLOATS.format(column)
    if kept in frame:
        return frame[kept].to_numpy(dtype=float)
    return np.asarray(frame[column].to_numpy(dtype=object), dtype=float)


def has_amount(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Whether each row has an amount in ``column`` (``notna``), read off the floats the frame carries if any."""
    kept = C.FLOATS.format(column)
    if kept in frame:
        return ~np.isnan(frame[kept].to_numpy(dtype=float))
    return frame[column].notna().to_numpy(dtype=bool)


def ids_in_column(frame: pd.DataFrame, column: str, positions: np.ndarray | None = None) -> set[str]:
    """:func:`~aifunding.figures.base.ids_in`: every id in a column of id tuples (of the rows at ``positions``).

    Gathered by C loops: ``filter(None, ...)`` skips exactly the cells ``ids or ()`` skips (None, an
    empty tuple).
    """
    if column not in frame:
        return set()
    cells = frame[column].to_numpy(dtype=object)
    return set(itertools.chain.from_iterable(filter(None, (cells if positions is None else cells[positions]).tolist())))
