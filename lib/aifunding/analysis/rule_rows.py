"""What the adding rule reads of each row: programmes then awards as columns of plain values.

:class:`~aifunding.analysis.adding.AddingRule` reads a view's rows through :func:`read_rows` (or picks
them out of the package's whole rows, read once and kept with the prepared package): one object array
per column the rule asks about, with None where a value is missing, and each row's parent as a code so
that an answer about a programme is worked out once per programme. The names an explanation shows are
read from the frames only for the rows it lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.data.frames import TEXT


class Rows:
    """What the rule reads of each row, programmes then awards in view order, as object arrays (None: missing).

    A row's parent is kept as a code into its distinct parents, so an answer that depends only on the
    parent is asked once per programme, not once per row. The names an entry shows are read from the
    frames only for the rows an explanation lists.
    """

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        parent_codes: np.ndarray,
        parents: np.ndarray,
        names: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    ) -> None:
        self.columns = columns
        self.parent_codes = parent_codes  # -1 where a row has no parent
        self.parents = parents
        self._names = names
        # Rows picked out of whole rows read their columns and masks from them, taking their own on first use.
        self._whole: Rows | None = None
        self._positions: np.ndarray | None = None
        # isin's masks by (column, values asked for); present's by (column, None).
        self._masks: dict[tuple[str, frozenset[Any] | None], np.ndarray] = {}
        self._derived: dict[str, np.ndarray] = {}
        self._own_money = False  # amounts, currencies and notes of its own (a converted view's), not the whole's
        # Rows read back from a pickle (a prepared package's): their columns, each made when first read.
        self._stored: dict[str, StoredColumn] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        column = self.columns.get(name)
        if column is None and name in self._stored:
            column = self.columns[name] = self._stored[name].column()
        if column is None and self._whole is not None and self._positions is not None:
            column = self.columns[name] = self._whole[name][self._positions]
        if column is None:
            raise KeyError(name)
        return column

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with each column in its stored form, made into its array again only when read.

        A page that shows no total then never makes the million strings of a package's whole rows.
        """
        state = dict(self.__dict__)
        state["_stored"] = {**self._stored, **{name: StoredColumn.of(c) for name, c in self.columns.items()}}
        state["columns"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Rows kept by an earlier version have no derived columns yet.
        self.__dict__.update({"_derived": {}, "_own_money": False, **state})

    def __len__(self) -> int:
        return len(self.parent_codes)

    def _from_whole(self, name: str) -> bool:
        """Whether ``name``'s values are the whole rows' at this one's positions (its masks can be taken)."""
        picked = self._whole is not None and self._positions is not None
        return picked and not (self._own_money and name in MONEY_COLUMNS)

    def isin(self, name: str, wanted: Iterable[Any]) -> np.ndarray:
        """Which rows' ``name`` is among ``wanted`` (kept: a package's statuses, bases and kinds do not change)."""
        wanted = frozenset(wanted)
        key = (name, wanted)
        mask = self._masks.get(key)
        if mask is None:
            if self._from_whole(name):
                mask = self._whole.isin(name, wanted)[self._positions]  # type: ignore[union-attr]
            else:
                mask = isin_objects(self[name], wanted)
            self._masks[key] = mask
        return mask

    def present(self, name: str) -> np.ndarray:
        """Which rows have a ``name`` (not missing), kept as :meth:`isin`'s masks are.

        The adding rule asks it of every scope's rows; picked rows take the whole rows' (worked out once
        per package) unless their money is their own.
        """
        key = (name, None)
        mask = self._masks.get(key)
        if mask is None:
            whole = self._whole if self._from_whole(name) else None
            mask = pd.notna(self[name]) if whole is None else whole.present(name)[self._positions]
            self._masks[key] = mask
        return mask

    def derived(self, name: str, make: Callable[[Rows], np.ndarray]) -> np.ndarray:
        """``make(rows)``, a column worked out from the package's rows and its programme tree, never from money.

        Kept by ``name``: rows picked out of the package's whole rows take it from the whole rows' (worked
        out once per package), so a view's masks of kinds, levels and statuses are taken, not made again.
        """
        column = self._derived.get(name)
        if column is None:
            if self._whole is not None and self._positions is not None:
                column = self._whole.derived(name, make)[self._positions]
            else:
                column = make(self)
            self._derived[name] = column
        return column

    def per_parent(self, answer: Callable[[Any], Any]) -> np.ndarray:
        """``answer`` for each row's parent (None for a row without one), asked once per distinct parent."""
        # Only the parents these rows have: a view of one country asks about that country's programmes.
        present = np.flatnonzero(np.bincount(self.parent_codes + 1, minlength=len(self.parents) + 1))
        answers = np.empty(len(self.parents) + 1, dtype=object)
        for slot in present.tolist():  # slot 0 holds the rows without a parent, whose code -1 reads the last answer
            answers[slot - 1] = answer(None if slot == 0 else self.parents[slot - 1])
        return answers[self.parent_codes]

    def take(self, positions: np.ndarray) -> Rows:
        """These rows only, in the order given (each column taken when it is first read)."""
        picked = Rows({}, self.parent_codes[positions], self.parents, lambda at: self._names(positions[at]))
        picked._whole, picked._positions = self, positions
        return picked

    def with_money(self, money: dict[str, np.ndarray]) -> Rows:
        """The same rows with other amounts, currencies and conversion notes (a converted view's)."""
        changed = Rows({**self.columns, **money}, self.parent_codes, self.parents, self._names)
        changed._whole, changed._positions = self._whole, self._positions
        changed._own_money = True
        changed._masks = {key: mask for key, mask in self._masks.items() if key[0] not in MONEY_COLUMNS}
        changed._derived = self._derived
        return changed

    def entry_columns(self, positions: np.ndarray) -> tuple[np.ndarray, ...]:
        """Id, table, English and Japanese name, amount, currency, basis and date of the rows at ``positions``."""
        name_en, name_ja = self._names(positions)
        columns = {name: self[name][positions] for name in _ENTRY_COLUMNS if name not in ("name_en", "name_ja")}
        return tuple(
            name_en if name == "name_en" else name_ja if name == "name_ja" else columns[name] for name in _ENTRY_COLUMNS
        )


_TEXT_OR_NONE = frozenset((str, type(None)))


class StoredColumn:
    """A column of :class:`Rows` as pickled: text as the codes of its distinct texts, anything else as it is.

    The distinct texts are an Arrow-backed text array, which a cache keeps beside its pickle and maps
    back without a copy (:mod:`aifunding.loading.cache`); :meth:`column` makes the object array.
    """

    def __init__(self, codes: np.ndarray | None, distinct: Any, values: np.ndarray | None = None) -> None:
        self.codes, self.distinct, self.values = codes, distinct, values

    @classmethod
    def of(cls, column: np.ndarray) -> StoredColumn:
        # The types gathered in C (``map``): a test per value in a loop took most of a million rows' pickling.
        if column.dtype == object and set(map(type, column.tolist())) <= _TEXT_OR_NONE:
            codes, distinct = pd.factorize(column)  # None gets code -1
            text = pd.array(np.asarray(distinct, dtype=object), dtype=TEXT)
            return cls(np.asarray(codes, dtype=np.int32), text)
        return cls(None, None, column)

    def column(self) -> np.ndarray:
        if self.values is not None:
            return self.values
        if self.codes is None:
            raise ValueError("a stored column has neither codes nor values")
        table = np.empty(len(self.distinct) + 1, dtype=object)  # its last item stays None, for code -1
        table[:-1] = np.asarray(self.distinct, dtype=object)
        return table[self.codes]


def _objects(values: pd.Series) -> np.ndarray:
    """A frame column as an object array with None where missing.

    Text is factorised first, so a column of a few kinds or dates holds each distinct text once
    rather than a new string per row (faster to read, and a fraction of the memory at a million rows).
    """
    if isinstance(values.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(values)
        distinct = np.empty(len(uniques) + 1, dtype=object)  # its last item stays None, for code -1
        distinct[:-1] = np.asarray(uniques, dtype=object)
        return distinct[codes]
    objects = values.to_numpy(dtype=object)
    return _where(pd.isna(objects), None, objects)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return _objects(frame[name]) if name in frame.columns else np.full(len(frame), None, dtype=object)


_TABLES = ("programmes", "awards")


def money_columns(
    frames: tuple[pd.DataFrame, pd.DataFrame], value_column: str, currency_column: str
) -> dict[str, np.ndarray]:
    """Amount, currency and conversion note of programmes then awards, as the rule reads them."""
    parts: dict[str, list[np.ndarray]] = {"value": [], "currency": [], "fx_note": []}
    for frame in frames:
        if frame.empty:
            continue
        value = _column(frame, value_column)
        has_value = ~_missing(value)
        if not all(type(v) is Decimal for v in value[has_value].tolist()):
            value = np.array([Decimal(v) if v is not None else None for v in value] + [None], dtype=object)[:-1]
        parts["value"].append(value)
        parts["currency"].append(_where(~has_value, None, _column(frame, currency_column)))
        # Read once when the value is the published amount (a converted one is another column).
        published = ~has_value if value_column == "amount" else _missing(_column(frame, "amount"))
        parts["fx_note"].append(_where(has_value | published, None, _column(frame, C.FX_NOTE)))
    return {name: _joined(part) for name, part in parts.items()}


def _missing(values: np.ndarray) -> np.ndarray:
    """Where ``values`` (an object array) holds None: by identity, not ``== None``, which asks each Decimal
    to compare itself with None (two abstract-class checks each: 0.4 s of a million awards' preparation)."""
    return np.fromiter((value is None for value in values.tolist()), dtype=bool, count=len(values))


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(part, dtype=object) for part in parts]) if parts else np.empty(0, dtype=object)


def read_rows(
    programmes: pd.DataFrame,
    awards: pd.DataFrame,
    value_column: str,
    currency_column: str,
    kind_of: Mapping[str, Any],
) -> Rows:
    """Programmes then awards as the rule reads them (``kind_of``: each programme's own kind)."""
    frames = (programmes, awards)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("id", "table", "parent", "kind", "level", "status")}
    parts.update({"basis": [], "announced": []})
    for table, frame in zip(_TABLES, frames, strict=True):
        if frame.empty:
            continue
        n = len(frame)
        parts["id"].append(frame["id"].to_numpy(dtype=object))
        parts["table"].append(np.full(n, table, dtype=object))
        parent = _column(frame, "parent_id" if table == "programmes" else "programme_id")
        parts["parent"].append(parent)
        # An award's own kind when it has one (quantum computing paid from a compute programme).
        own_kind = _column(frame, "kind")
        codes, distinct = pd.factorize(parent)
        parent_kind = np.array([kind_of.get(p) for p in distinct.tolist()] + [None], dtype=object)[codes]
        parts["kind"].append(_where(pd.isna(own_kind), parent_kind, own_kind))
        parts["level"].append(_column(frame, "level") if table == "programmes" else np.full(n, None, dtype=object))
        for name in ("status", "basis", "announced"):
            parts[name].append(_column(frame, name))
    columns = {name: _joined(part) for name, part in parts.items()}
    columns.update(money_columns(frames, value_column, currency_column))
    parent_codes, parents = pd.factorize(columns["parent"])
    return Rows(
        columns,
        np.asarray(parent_codes, dtype=np.intp),
        np.asarray(parents, dtype=object),
        _Names(frames),
    )


class _Names:
    """Reads the names of rows of these frames (a class, not a closure, so a prepared rule can be kept)."""

    def __init__(self, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        self.frames = frames

    def __call__(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _names_at(self.frames, positions)


def _names_at(frames: tuple[pd.DataFrame, pd.DataFrame], positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The English and Japanese names of the rows at ``positions`` (of programmes then awards).

    A programme's own name; an award's project label; the id when a row has neither.
    """
    name_en = np.full(len(positions), None, dtype=object)
    name_ja = np.full(len(positions), None, dtype=object)
    offset = 0
    for frame in frames:
        if frame.empty:
            continue
        inside = (positions >= offset) & (positions < offset + len(frame))
        rows = frame.iloc[positions[inside] - offset]
        offset += len(frame)
        if rows.empty:
            continue
        english = _column(rows, "name_en")
        for fallback in (_column(rows, C.PROJECT_LABEL), rows["id"].to_numpy(dtype=object)):
            english = _where(pd.isna(english) | (english == ""), fallback, english)
        japanese = _column(rows, "name_ja")
        japanese = _where(pd.isna(japanese) | (japanese == ""), _column(rows, C.PROJECT_LABEL_JA), japanese)
        name_en[inside] = [str(v) for v in english]
        name_ja[inside] = _where(pd.isna(japanese) | (japanese == ""), None, japanese)
    return name_en, name_ja


# What a converted view replaces in the rows it picks.
MONEY_COLUMNS = frozenset({"value", "currency", "fx_note"})
# The frame's columns an entry keeps, in the order of Entry's fields.
_ENTRY_COLUMNS = ("id", "table", "name_en", "name_ja", "value", "currency", "basis", "announced")


def _where(mask: Any, replacement: Any, values: np.ndarray) -> np.ndarray:
    """``values`` (an object array) with ``replacement`` (one value, or an array of them) where ``mask`` holds."""
    result = np.array(values, dtype=object)
    mask = np.asarray(mask, dtype=bool)
    result[mask] = replacement[mask] if isinstance(replacement, np.ndarray) else replacement
    return result


def isin_objects(values: np.ndarray, wanted: Iterable[Any]) -> np.ndarray:
    """Which items of the object array ``values`` are among ``wanted``, as one vector pass."""
    return pd.Series(values, dtype=object).isin(list(wanted)).to_numpy(dtype=bool)
