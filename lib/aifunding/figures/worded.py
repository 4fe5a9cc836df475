"""Display tables worded on demand: a view of a million awards words only the rows someone looks at.

Wording a row (its amount as "up to ¥72.5B", its date, its sources) costs tens of microseconds; a
table behind a chart of every award in view would cost seconds on each rerun, though a page shows
:data:`~aifunding.figures.worded.PAGE_ROWS` at a time. A :class:`Worded` keeps the plain rows and
how to word them; a page, the snapshot's first rows and a download each word just what they show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from aifunding.analysis.view import FilteredView
from aifunding.analysis.view_awards import ViewAwards
from aifunding.data.frames import isin_texts


@dataclass(frozen=True)
class Taken:
    """The rows at ``positions`` of ``source``, numbered from 0, taken only as far as they are read.

    ``source`` is a frame or the awards of a view (:class:`~aifunding.analysis.view_awards.ViewAwards`,
    converted when its view converts), which take a column without the others.
    """

    source: pd.DataFrame | ViewAwards
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    def part(self, first: int, count: int) -> pd.DataFrame:
        """The rows from position ``first``, numbered as in the whole (as ``whole().iloc[first:first + count]``)."""
        picked = self.source.take(self.positions[first : first + count])
        picked.index = pd.RangeIndex(first, first + len(picked))
        return picked

    def whole(self) -> pd.DataFrame:
        return self.part(0, len(self))

    def column(self, name: str) -> pd.Series:
        """One column of every row, numbered from 0, without taking the others."""
        whole = self.source[name] if isinstance(self.source, pd.DataFrame) else self.source.columns([name])[name]
        return whole.take(self.positions).reset_index(drop=True)

    def where(self, keep: np.ndarray) -> Taken:
        """The rows where ``keep`` (a mask over these rows) holds, still not taken."""
        return Taken(self.source, self.positions[keep])


class Rows(Protocol):
    """Rows read a part at a time (:class:`Taken`, or a query's pages such as the engine's recipients' totals)."""

    def __len__(self) -> int: ...
    def part(self, first: int, count: int) -> pd.DataFrame: ...
    def whole(self) -> pd.DataFrame: ...
    def column(self, name: str) -> pd.Series: ...
    def where(self, keep: np.ndarray) -> pd.DataFrame | Taken: ...


class Worded:
    """Plain rows and the function that makes their display table (any slice of them, in order).

    The rows may be :class:`Rows` (:class:`Taken`, say): a page then takes (and words) its own rows only, and
    the rest are taken when something reads them all (a download, :meth:`where`).
    """

    def __init__(self, rows: pd.DataFrame | Rows, word: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        self._rows = rows
        self.word = word
        self._shown: tuple[tuple[int, int], pd.DataFrame] | None = None

    @property
    def rows(self) -> pd.DataFrame:
        """Every plain row. Taken rows are taken anew each time, not kept: a table kept with its view for
        reruns then holds the positions of its rows, not a copy of every column of them (a download of a
        view of a million awards would otherwise keep one)."""
        if isinstance(self._rows, pd.DataFrame):
            return self._rows
        return self._rows.whole()

    def __len__(self) -> int:
        return len(self._rows)

    @classmethod
    def of(cls, table: pd.DataFrame) -> Worded:
        """A table already worded (short ones, built whole)."""
        return cls(table, lambda part: part)

    def page(self, first: int, count: int) -> pd.DataFrame:
        """The display table of ``count`` rows from position ``first``."""
        if isinstance(self._rows, pd.DataFrame):
            return self.word(self._rows.iloc[first : first + count])
        return self.word(self._rows.part(first, count))

    def shown(self, first: int, count: int) -> pd.DataFrame:
        """:meth:`page`, kept until another page is asked for: a rerun showing the same page words nothing."""
        kept = self._shown
        if kept is None or kept[0] != (first, count):
            kept = self._shown = ((first, count), self.page(first, count))
        return kept[1]

    def head(self, count: int) -> pd.DataFrame:
        return self.page(0, count)

    def whole(self) -> pd.DataFrame:
        """Every row worded: for a download, built when it is asked for."""
        return self.word(self.rows)

    def column(self, name: str) -> pd.Series:
        """One plain column of every row, numbered as :attr:`rows` (taken rows give it without taking the rest)."""
        return self._rows[name] if isinstance(self._rows, pd.DataFrame) else self._rows.column(name)

    def where(self, keep: pd.Series) -> Worded:
        """The rows where ``keep`` (aligned with :attr:`rows`) holds, worded the same way (taken rows stay untaken)."""
        if isinstance(self._rows, pd.DataFrame):
            return Worded(self._rows[keep.to_numpy(dtype=bool)], self.word)
        return Worded(self._rows.where(keep.to_numpy(dtype=bool)), self.word)

    def with_ids(self, ids: Iterable[str], column: str = "id") -> Worded:
        """Only the rows whose ``column`` is one of ``ids`` (the rows a chart drew)."""
        values = self.column(column)
        return self.where(pd.Series(isin_texts(values, ids), index=values.index))

    def then(self, reword: Callable[[pd.DataFrame], pd.DataFrame]) -> Worded:
        """The same rows, their display table passed through ``reword`` (fewer columns, say)."""
        word = self.word
        return Worded(self._rows, lambda part: reword(word(part)))


def view_awards(view: FilteredView, word: Callable[[pd.DataFrame], pd.DataFrame]) -> Worded:
    """The awards in view worded by ``word``: a page takes (and words) only its own rows.

    Converted awards take their converted columns from the view's conversion, done whole once (a page's
    rows converted alone could come out with other column types).
    """
    if "awards" in view.__dict__ or (view.state.fx is None and "published_awards" in view.__dict__):
        return Worded(view.awards, word)
    return Worded(Taken(view.lazy_awards, np.arange(view.award_count)), word)
