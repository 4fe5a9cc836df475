"""The awards in view by position, taken as far as they are read: some columns of all, or all columns of some.

A filter keeps hundreds of thousands of a million awards. The Companies charts read a dozen of their
columns and the table behind each chart shows a page of their rows, so neither needs every column of
every award (the ``note`` column alone holds 200 MB of text at a million awards). A conversion reads
three columns of each award; it is done once per view, from those three.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from aifunding import columns as C
from aifunding.analysis.adding import Selection
from aifunding.analysis.conversion import ANNOUNCEMENT, FxChoice, conversion_notes, convert_frame
from aifunding.analysis.distinct import floats

# What :func:`~aifunding.analysis.conversion.convert_frame` reads of each row: amount, currency and date.
CONVERSION_INPUTS = ("amount", "currency", "announced")

# Columns of names that a million awards repeat (38,000 recipients, a few thousand programmes, a handful
# of currencies and bases, the days awards were announced on): :meth:`ViewAwards.coded` gives them as
# categoricals, whose rows are taken, compared and grouped as integers. Each whole column is coded once
# per loaded package.
CODED = frozenset(
    (
        "project_label",
        "project_label_ja",
        "programme_name_en",
        "programme_name_ja",
        "root_programme_id",
        "root_programme_name_en",
        "root_programme_name_ja",
        "currency",
        "basis",
        "announced",
    )
)
# Coded names a chart ranks by name (the recipients): their order by name is worked out once per package too.
RANKED = frozenset(("project_label", "project_label_ja"))
# Amount columns that :meth:`ViewAwards.coded` gives with their floats beside them (``C.FLOATS``).
AMOUNTS = frozenset(("amount", C.AMOUNT_CONVERTED))
# id(whole frame) -> column -> (each row's code, -1 for none; the categories), or an amount column's
# floats, or a money choice's conversion notes as codes: dropped with the frame.
_CODES: dict[int, dict[Any, Any]] = {}
# The money choices whose notes are kept for each frame, at most (the latest asked for).
KEPT_NOTES = 8
# Names in name order, by the names' Index (kept with it, so a reused id is no match): the latest few asked for.
NAME_RANKS: dict[int, tuple[pd.Index, np.ndarray]] = {}
KEPT_RANKS = 4
# How the ranks of a whole frame's coded names (:data:`RANKED`) are worked out or read back, by the names' Index.
_RANKERS: dict[int, tuple[pd.Index, Callable[[], np.ndarray]]] = {}


# How a whole frame's codes and floats are kept beyond this process: ``keeper(name, build)`` gives what
# ``build()`` makes, read back when it was kept before (a package's cache entry: see :func:`keep_with`).
Keeper = Callable[[str, Callable[[], Any]], Any]
_KEEPERS: dict[int, Keeper] = {}


def keep_with(whole: pd.DataFrame, keeper: Keeper) -> None:
    """Keep what is worked out once for ``whole`` (its names' codes, its amounts' floats) with ``keeper``.

    A restart at a million awards then reads a recipient label's codes back (a tenth of a second) rather
    than coding 400,000 distinct labels again (0.6 s in English, 1.4 s in Japanese) on its first view. What
    ``keeper`` gives back is checked; anything else is worked out again.
    """
    _KEEPERS[id(whole)] = keeper
    weakref.finalize(whole, _KEEPERS.pop, id(whole), None)


def _kept_for(whole: pd.DataFrame) -> dict[Any, Any]:
    kept = _CODES.get(id(whole))
    if kept is None:
        kept = _CODES[id(whole)] = {}
        weakref.finalize(whole, _CODES.pop, id(whole), None)
    return kept


def _once(whole: pd.DataFrame, name: str, build: Callable[[], Any], fits: Callable[[Any], bool]) -> Any:
    """``build()`` for ``whole``, or what its keeper kept under ``name`` when that ``fits``."""
    keeper = _KEEPERS.get(id(whole))
    if keeper is not None:
        value = keeper(name, build)
        if fits(value):
            return value
    return build()


def _floats(whole: pd.DataFrame, name: str) -> np.ndarray:
    """``whole[name]``'s amounts as floats, converted once per frame."""
    kept = _kept_for(whole)
    if name not in kept:

        def fits(value: Any) -> bool:
            return isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == (len(whole),)

        kept[name] = _once(whole, f"floats-{name}", lambda: floats(whole, name), fits)
    return kept[name]


def _codes(whole: pd.DataFrame, name: str) -> tuple[np.ndarray, pd.CategoricalDtype]:
    """Each row's code in ``whole[name]`` and the names they stand for, worked out once per frame."""
    kept = _kept_for(whole)
    if name not in kept:

        def fits(value: Any) -> bool:
            if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], pd.CategoricalDtype)):
                return False
            return _codes_fit(value[0], whole, len(value[1].categories))

        kept[name] = _once(whole, f"codes-{name}", lambda: _coded(whole[name]), fits)
        if name in RANKED:
            _rank_with(whole, name, kept[name][1].categories)
    return kept[name]


def _codes_fit(codes: Any, whole: pd.DataFrame, names: int) -> bool:
    """Whether kept ``codes`` give each row of ``whole`` one of ``names`` names (or -1, none)."""
    return (
        isinstance(codes, np.ndarray)
        and codes.dtype == np.int32
        and codes.shape == (len(whole),)
        and bool(((codes >= -1) & (codes < names)).all())
    )


def _coded(column: pd.Series) -> tuple[np.ndarray, pd.CategoricalDtype]:
    codes, names = pd.factorize(column)  # -1: no name (a missing cell stays missing)
    # Python texts, made once: a chart reads the names of the codes it groups.
    return codes.astype(np.int32), pd.CategoricalDtype(pd.Index(np.asarray(names, dtype=object), dtype=object))


def by_name(names: pd.Index) -> np.ndarray:
    """The order of ``names`` (distinct texts) by name: Arrow's UTF-8 bytes order, as code points order them."""
    return np.asarray(pc.sort_indices(pa.array(names.to_numpy(dtype=object), type=pa.string())))


def name_ranks(names: pd.Index) -> np.ndarray:
    """Each of ``names``' place in name order, worked out once for the names a package's awards are coded by.

    A view then orders its recipients by comparing integers, not by sorting tens of thousands of names.
    The ranks of a whole frame's recipients are kept with its codes: a restart reads them back.
    """
    kept = NAME_RANKS.get(id(names))
    if kept is None or kept[0] is not names:
        ranker = _RANKERS.get(id(names))
        ranks = ranker[1]() if ranker is not None and ranker[0] is names else _ranks(names)
        for stale in list(NAME_RANKS)[: max(0, len(NAME_RANKS) - KEPT_RANKS + 1)]:
            NAME_RANKS.pop(stale, None)  # sessions share these: one another dropped is no error
        kept = NAME_RANKS[id(names)] = (names, ranks)
    return kept[1]


def _ranks(names: pd.Index) -> np.ndarray:
    ranks = np.empty(len(names), dtype=np.int64)
    ranks[by_name(names)] = np.arange(len(names))
    return ranks


def _rank_with(whole: pd.DataFrame, name: str, names: pd.Index) -> None:
    """Let :func:`name_ranks` of ``names`` (``whole[name]``'s coded names) keep them with ``whole``'s codes."""
    owner = weakref.ref(whole)  # not the frame itself: it would then never be collected

    def fits(value: Any) -> bool:
        if not (isinstance(value, np.ndarray) and value.dtype == np.int64 and value.shape == (len(names),)):
            return False
        inside = not len(value) or (value.min() >= 0 and value.max() < len(names))
        if not (inside and (np.bincount(value, minlength=len(names)) == 1).all()):  # each place once
            return False
        order = np.empty(len(value), dtype=np.intp)
        order[value] = np.arange(len(value))
        # And in name order. Compared as Python texts, which order by code point as UTF-8 bytes do (by_name's
        # order): making 400,000 names into an Arrow array to compare them took 0.2 s of a restart's first view.
        ordered = names.to_numpy(dtype=object)[order]
        try:
            return len(ordered) < 2 or bool(np.all(ordered[:-1] < ordered[1:]))
        except TypeError:  # a name that is not a text
            return False

    def ranks() -> np.ndarray:
        frame = owner()
        return _ranks(names) if frame is None else _once(frame, f"ranks-{name}", lambda: _ranks(names), fits)

    _RANKERS[id(names)] = (names, ranks)
    weakref.finalize(whole, _RANKERS.pop, id(names), None)


def _note_codes(whole: pd.DataFrame, fx: FxChoice) -> tuple[np.ndarray, list[str]]:
    """Each award's conversion note (as ``convert_frame`` writes it) as a code, -1 for none; once per choice.

    Those of a conversion at each award's announcement date (the money menu's own choice) are kept with the
    frame's codes: a restart reads them back rather than looking up a rate for each day again.
    """
    kept = _kept_for(whole)
    key = ("fx_notes", fx)
    if key not in kept:
        # Sessions share the frame: keys are read at once, and one another session dropped is no error.
        older = [k for k in list(kept) if isinstance(k, tuple) and k[0] == "fx_notes"]
        for stale in older[: max(0, len(older) - KEPT_NOTES + 1)]:
            kept.pop(stale, None)

        def build() -> tuple[np.ndarray, list[str]]:
            codes, notes = pd.factorize(conversion_notes(whole[list(CONVERSION_INPUTS)], fx))  # None: -1
            return codes.astype(np.int32), [str(note) for note in notes]

        def fits(value: Any) -> bool:
            if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list)):
                return False
            return all(type(note) is str for note in value[1]) and _codes_fit(value[0], whole, len(value[1]))

        keep = fx.at == ANNOUNCEMENT and re.fullmatch("[A-Z]{3}", fx.currency)  # a code, safe in a file's name
        kept[key] = _once(whole, f"notes-{fx.currency}", build, fits) if keep else build()
    return kept[key]


@dataclass(frozen=True)
class ViewAwards:
    """The awards ``selection`` keeps, in its order, as ``FilteredView.awards`` holds them (converted by ``fx``).

    :meth:`columns` gives some columns of every award and :meth:`take` every column of some: the cells,
    types and column order of the same part of the whole frame, numbered from 0.
    """

    selection: Selection
    fx: FxChoice | None = None
    # Columns already taken, by the names asked for: the charts of one page ask for the same ones.
    _kept: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        rows = self.selection.award_rows
        return len(self.selection.awards) if rows is None else len(rows)

    def _published(self, names: Sequence[str], positions: np.ndarray | None = None) -> pd.DataFrame:
        """``names`` of the awards at ``positions`` in view (None: all), in their published amounts."""
        rows = self.selection.award_rows
        if positions is not None:
            rows = positions if rows is None else rows[positions]
        frame = self.selection.awards[list(names)]
        return (frame if rows is None else frame.take(rows)).reset_index(drop=True)

    @cached_property
    def conversion(self) -> pd.DataFrame:
        """The columns a conversion adds (converted amount, rate, note...), for every award in view."""
        if self.fx is None:
            return pd.DataFrame(index=pd.RangeIndex(len(self)))
        return convert_frame(self._published(CONVERSION_INPUTS), self.fx).drop(columns=list(CONVERSION_INPUTS))

    def notes(self) -> dict[str, int]:
        """Each conversion note the awards in view carry and how many carry it, in the order first met.

        Counted from codes made once per package and money choice, without converting or taking any award.
        """
        if self.fx is None:
            return {}
        codes, notes = _note_codes(self.selection.awards, self.fx)
        rows = self.selection.award_rows
        codes = codes if rows is None else codes[rows]
        counts = np.bincount(codes[codes >= 0], minlength=len(notes))
        present = np.flatnonzero(counts)
        first = sorted((int(np.argmax(codes == code)), int(code)) for code in present.tolist())
        return {notes[code]: int(counts[code]) for _, code in first}

    @property
    def names(self) -> list[str]:
        """Every column, in the order of the whole frame: the published ones, then those a conversion adds."""
        return [*self.selection.awards.columns, *self.conversion.columns]

    def columns(self, names: Sequence[str]) -> pd.DataFrame:
        """Only ``names`` of every award in view, numbered from 0."""
        key = tuple(names)
        if key not in self._kept:
            added = [name for name in names if name in self.conversion.columns]
            published = self._published([name for name in names if name not in added])
            self._kept[key] = (
                pd.concat([published, self.conversion[added]], axis=1)[list(names)] if added else published
            )
        return self._kept[key]

    def coded(self, names: Sequence[str]) -> pd.DataFrame:
        """:meth:`columns`, with those of :data:`CODED` as categoricals of the same names (missing stays missing).

        An amount column among ``names`` comes with its floats after the columns asked for
        (``C.FLOATS``): the package's amounts converted once per package, a currency's once per view.
        """
        key = ("coded", *names)
        if key not in self._kept:
            whole, rows = self.selection.awards, self.selection.award_rows
            coded: dict[str, Any] = {}
            for name in names:
                if name in CODED and name in whole:
                    codes, dtype = _codes(whole, name)
                    coded[name] = pd.Categorical.from_codes(codes if rows is None else codes[rows], dtype=dtype)
            frame = self.columns([name for name in names if name not in coded]).assign(**coded)[list(names)]
            amounts: dict[str, Any] = {}
            for name in names:
                if name in AMOUNTS and name in whole:
                    kept = _floats(whole, name)
                    amounts[C.FLOATS.format(name)] = kept if rows is None else kept[rows]
                elif name in AMOUNTS:  # converted for this view
                    amounts[C.FLOATS.format(name)] = floats(frame, name)
            self._kept[key] = frame.assign(**amounts)
        return self._kept[key]

    def at(self, names: Sequence[str], positions: np.ndarray) -> pd.DataFrame:
        """Only ``names`` (published columns) of the awards at ``positions`` in view, numbered from 0.

        A few texts of the awards a chart draws, without taking them for every award in view: each column's
        cells taken from its array, never a frame of the whole columns first.
        """
        positions = np.asarray(positions, dtype=np.intp)
        if not names or len(set(names)) < len(names):  # no columns, or one twice: as a frame of them gives them
            return self._published(names, positions)
        rows = self.selection.award_rows
        rows = positions if rows is None else rows[positions]
        whole = self.selection.awards
        return pd.DataFrame({name: whole[name].array.take(rows) for name in names}, index=pd.RangeIndex(len(rows)))

    def take(self, positions: np.ndarray, /) -> pd.DataFrame:
        """Every column of the awards at ``positions`` in view, numbered from 0."""
        positions = np.asarray(positions, dtype=np.intp)
        published = self._published(list(self.selection.awards.columns), positions)
        if self.fx is None:
            return published
        return pd.concat([published, self.conversion.take(positions).reset_index(drop=True)], axis=1)
