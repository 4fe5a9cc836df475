"""Display tables worded on demand: a view of a million awards words only the rows someone looks at.

Wording a row (its amount as "up to ¥72.5B", its date, its sources) costs tens of microseconds; a
table behind a chart of every award in view would cost seconds on each rerun, though a page shows
:data:`~aifunding.figures.worded.PAGE_ROWS` at a time. A :class:`Worded` keeps the plain rows and
how to word them; a page, the snapshot's first rows and a download each word just what they show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Worded:
    """Plain rows and the function that makes their display table (any slice of them, in order)."""

    rows: pd.DataFrame
    word: Callable[[pd.DataFrame], pd.DataFrame]

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def of(cls, table: pd.DataFrame) -> Worded:
        """A table already worded (short ones, built whole)."""
        return cls(table, lambda part: part)

    def page(self, first: int, count: int) -> pd.DataFrame:
        """The display table of ``count`` rows from position ``first``."""
        return self.word(self.rows.iloc[first : first + count])

    def head(self, count: int) -> pd.DataFrame:
        return self.page(0, count)

    def whole(self) -> pd.DataFrame:
        """Every row worded: for a download, built when it is asked for."""
        return self.word(self.rows)

    def where(self, keep: pd.Series) -> Worded:
        """The rows where ``keep`` (aligned with :attr:`rows`) holds, worded the same way."""
        return Worded(self.rows[keep.to_numpy(dtype=bool)], self.word)

    def with_ids(self, ids: Iterable[str], column: str = "id") -> Worded:
        """Only the rows whose ``column`` is one of ``ids`` (the rows a chart drew)."""
        return self.where(self.rows[column].isin(list(ids)))

    def then(self, reword: Callable[[pd.DataFrame], pd.DataFrame]) -> Worded:
        """The same rows, their display table passed through ``reword`` (fewer columns, say)."""
        word = self.word
        return Worded(self.rows, lambda part: reword(word(part)))
