"""What a total is: its sum kept apart by kind of basis, and an entry for every row it considered.

:class:`~aifunding.analysis.adding.AddingRule` makes them; tiles, exports, the snapshot and
``aifunding summary`` read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, Rounded, localcontext
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from aifunding.data.vocabulary import Basis
from aifunding.i18n import translate

# Basis -> the kind a total keeps apart. Ceilings add to a ceiling: "up to about" when any part was
# rounded, "up to" otherwise. Targets are never added.
BASIS_CLASSES: dict[str, str] = {
    Basis.EXACT: "exact",
    Basis.ABOUT: "about",
    Basis.UP_TO: "up_to",
    Basis.UP_TO_ABOUT: "up_to",
    Basis.AT_LEAST: "at_least",
}
CLASS_ORDER = ("exact", "about", "up_to", "up_to_about", "at_least")
# The kinds of basis a total keeps apart, in writing order, with the bases each adds up (a target, or an
# amount with no basis, is never added), and the flag set when a ceiling is a rounded one ("up to about").
KINDS: dict[str, tuple[str, ...]] = {
    kind: tuple(str(basis) for basis, of in BASIS_CLASSES.items() if of == kind)
    for kind in dict.fromkeys(BASIS_CLASSES.values())
}
ROUNDED_CEILING = "rounded_ceiling"
# The reasons that leave a row out as possibly the same money as a row counted.
COUNTED_ONCE = ("overlap", "overlap_inside")


def split_by_basis(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Decimal]:
    """Sum (amount, basis) pairs per kind of basis, in writing order; targets and missing amounts add nothing.

    ``{"exact": 395.7bn, "up_to": 127.8bn}`` is written "¥395.7B + up to ¥127.8B", never one number.
    """
    sums: dict[str, Decimal] = {}
    rounded_ceiling = False
    for amount, basis in pairs:
        amount = na(amount)
        if amount is None or basis not in BASIS_CLASSES:
            continue
        cls = BASIS_CLASSES[basis]
        rounded_ceiling = rounded_ceiling or basis == Basis.UP_TO_ABOUT
        sums[cls] = sums.get(cls, Decimal(0)) + (amount if isinstance(amount, Decimal) else Decimal(str(amount)))
    if rounded_ceiling:
        sums["up_to_about"] = sums.pop("up_to")
    return {cls: sums[cls] for cls in CLASS_ORDER if cls in sums}


def basis_parts(row: Mapping[Any, Any]) -> dict[str, Decimal]:
    """A row of sums by kind (:data:`KINDS` columns, None where none) as :func:`split_by_basis` gives them."""
    parts = {kind: row[kind] for kind in KINDS if row[kind] is not None}
    if row[ROUNDED_CEILING] and "up_to" in parts:
        parts = {("up_to_about" if kind == "up_to" else kind): value for kind, value in parts.items()}
    return parts


def split_columns(total: str) -> dict[str, str]:
    """The column of each kind of basis a split ``total`` is written in (``allocated_up_to``), in writing order."""
    return {kind: f"{total}_{kind}" for kind in CLASS_ORDER}


def basis_names(parts: list[dict[str, Decimal]]) -> list[str | None]:
    """Each split's one kind of basis, "mixed" when it has several, None when it has none."""
    return [next(iter(p)) if len(p) == 1 else ("mixed" if p else None) for p in parts]


def split_by_basis_groups(
    keys: Any, amounts: Any, bases: Any, *, floats: np.ndarray | None = None
) -> dict[Any, dict[str, Decimal]]:
    """:func:`split_by_basis` of each group of rows sharing a key, keys in order of first appearance.

    The same sums as adding each group's pairs one by one, without a Python step per row: each kind
    of basis is added with ``sum`` in a decimal context that traps rounding. Amounts that are all
    finite, non-negative Decimals make every partial sum no longer than the group's total, so when
    that sum is exact every partial sum of the row-by-row addition was exact too and both give the
    same Decimal (value and exponent). Anything else (a float, a negative amount, a rounded sum)
    goes row by row. Keys given as an integer array (codes, every row in a group) are grouped as machine
    integers; any others as Python objects. Bases may come as a ``pd.Categorical`` (grouped by its codes);
    ``floats``, each amount as a float if the caller has them, check the amounts' signs in one vector pass.
    """
    whole_numbers = isinstance(keys, np.ndarray) and keys.dtype.kind in "iu"
    codes, uniques = pd.factorize(keys if whole_numbers else np.asarray(keys, dtype=object))
    amounts = np.asarray(amounts, dtype=object)
    # A missing key is no group (as in groupby).
    grouped = codes >= 0
    if not grouped.any():
        return {}
    # Checked once for the whole column (the usual case): then no group checks its own, nor loops over its kinds.
    if _plain_decimals(amounts[grouped].tolist(), None if floats is None else np.asarray(floats)[grouped]):
        return _plain_groups(codes, uniques, amounts, bases)
    bases = _objects(bases)
    # Rows in key order, each group's rows in their own order.
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    result: dict[Any, dict[str, Decimal]] = {}
    for key, positions in zip(uniques, np.split(order, bounds), strict=True):
        result[key] = _basis_sums(amounts[positions], bases[positions])
    return result


def _objects(bases: Any) -> np.ndarray:
    """Bases as an object array, a missing one as None (a ``pd.Categorical``'s too)."""
    if isinstance(bases, pd.Categorical):
        values = np.asarray(bases, dtype=object)
        values[bases.codes < 0] = None
        return values
    return np.asarray(bases, dtype=object)


def _plain_decimals(amounts: list[Any], floats: np.ndarray | None = None) -> bool:
    """Whether every amount is a finite, non-negative ``Decimal`` (each checked by a C loop, not a Python step).

    With ``floats`` (``float(amount)`` of each), finite unsigned floats answer for the Decimals: an infinite
    or NaN Decimal, or one past the float range, is not a finite float, and a negative Decimal, or -0, is a
    float with its sign bit set. Otherwise (or when they do not answer yes) each Decimal is asked.
    """
    if not set(map(type, amounts)) <= {Decimal}:
        return False
    if floats is not None and np.isfinite(floats).all() and not np.signbit(floats).any():
        return True
    return all(map(Decimal.is_finite, amounts)) and not any(map(Decimal.is_signed, amounts))


def _plain_groups(codes: np.ndarray, uniques: Any, amounts: np.ndarray, bases: np.ndarray) -> dict[Any, Any]:
    """:func:`split_by_basis_groups` of plain Decimals: rows sorted by key then basis, each run added by one ``sum``.

    The order of the runs is :func:`_basis_sums`' order of kinds; an exact sum does not depend on it.
    """
    names = list(BASIS_CLASSES)
    # Each row's basis as its place in BASIS_CLASSES (-1: a target or no basis, never added), tested once per value.
    kinds_of, found = pd.factorize(bases if isinstance(bases, pd.Categorical) else np.asarray(bases, dtype=object))
    kinds = np.array([next((i for i, name in enumerate(names) if v == name), -1) for v in found] + [-1])[kinds_of]
    rows = np.flatnonzero((codes >= 0) & (kinds >= 0))
    # By key, then kind, as one integer; stable, so each run keeps its rows' order. In 16 bits when the keys are
    # few (a chart's 26 bars), where numpy's stable sort is a radix sort: a view's 90,000 awards in a sixth of the time.
    runs = codes[rows].astype(np.int64) * len(names) + kinds[rows]
    if len(uniques) * len(names) < 2**16:
        runs = runs.astype(np.uint16)
    rows = rows[np.argsort(runs, kind="stable")]
    keys, kinds = codes[rows], kinds[rows]
    starts = np.flatnonzero(np.diff(keys, prepend=-1) | np.diff(kinds, prepend=-1)).tolist()
    ends = [*starts[1:], len(rows)] if starts else []
    values = amounts[rows].tolist()
    result: dict[Any, dict[str, Decimal]] = {key: {} for key in uniques}  # a group of targets adds nothing
    by_key: dict[int, list[tuple[str, int, int]]] = {}
    for start, end in zip(starts, ends, strict=True):
        by_key.setdefault(int(keys[start]), []).append((names[kinds[start]], start, end))
    for key, runs in by_key.items():
        sums: dict[str, Decimal] = {}
        try:
            with localcontext() as exact:
                exact.traps[Rounded] = True  # as in _basis_sums
                for basis, start, end in runs:
                    sums[BASIS_CLASSES[basis]] = sum(values[start:end], sums.get(BASIS_CLASSES[basis], Decimal(0)))
        except Rounded:
            positions = np.flatnonzero(codes == key)
            result[uniques[key]] = split_by_basis(zip(amounts[positions], _objects(bases)[positions], strict=True))
            continue
        if any(basis == Basis.UP_TO_ABOUT for basis, _, _ in runs):
            sums["up_to_about"] = sums.pop("up_to")
        result[uniques[key]] = {cls: sums[cls] for cls in CLASS_ORDER if cls in sums}
    return result


def _basis_sums(amounts: np.ndarray, bases: np.ndarray) -> dict[str, Decimal]:
    """``split_by_basis(zip(amounts, bases))``, added per kind when that is provably the same."""
    kinds: list[tuple[str, str, list[Decimal]]] = []
    for basis, cls in BASIS_CLASSES.items():
        # Missing amounts (None, float NaN) add nothing either way; any other kind of value goes row by row.
        group = [a for a in amounts[bases == basis].tolist() if a is not None and not (type(a) is float and a != a)]
        if not all(type(a) is Decimal and a.is_finite() and not a.is_signed() for a in group):
            return split_by_basis(zip(amounts, bases, strict=True))
        kinds.append((basis, cls, group))
    sums: dict[str, Decimal] = {}
    try:
        with localcontext() as exact:
            exact.traps[Rounded] = True  # any rounding at all, even of zeros, would change a sum or its exponent
            for _, cls, group in kinds:
                if group:
                    sums[cls] = sum(group, sums.get(cls, Decimal(0)))
    except Rounded:
        return split_by_basis(zip(amounts, bases, strict=True))
    if any(group for basis, _, group in kinds if basis == Basis.UP_TO_ABOUT):
        sums["up_to_about"] = sums.pop("up_to")
    return {cls: sums[cls] for cls in CLASS_ORDER if cls in sums}


@dataclass(frozen=True)
class Entry:
    """One row a total considered: added (``reason`` None) or left out, and why."""

    id: str
    table: str  # "programmes" or "awards"
    name_en: str
    name_ja: str | None
    amount: Decimal | None  # in the total's currency
    currency: str | None
    basis: str | None
    announced: str | None
    reason: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    def reason_text(self, lang: str = "en") -> str:
        """Why the row was left out, in words ("" when it was added)."""
        if self.reason is None:
            return ""
        words = {k: v for k, v in self.detail.items() if not k.endswith("_ja")}
        if lang == "ja":
            words.update({k[: -len("_ja")]: v for k, v in self.detail.items() if k.endswith("_ja")})
        if "kind" in words:
            words["kind"] = translate(f"kind.{words['kind']}", lang)
        if "status" in words:
            words["status"] = translate(f"programme_status.{words['status']}", lang)
        return translate(f"adding.{self.reason}", lang, **words)


@dataclass(frozen=True)
class Considered:
    """The rows a total considered, by column, with the reason each was left out (None: added).

    Entries are made from it only when someone reads them: a total over a million awards names
    hundreds of thousands of rows, and its tile needs none of them.
    """

    # id, table, name_en, name_ja, amount, currency, basis, announced of the rows at the positions given.
    columns: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    reasons: np.ndarray
    # The words of each reason, made for the rows asked for (their positions here) when they are read.
    details: Callable[[np.ndarray], list[Mapping[str, str]]]

    def count(self, added: bool, reasons: Iterable[str] = ()) -> int:
        """How many rows were added (``added``), or left out (for one of ``reasons``, when given), without entries."""
        if added:
            return int(pd.isna(self.reasons).sum())
        wanted = set(reasons)
        if wanted:
            return sum(1 for reason in self.reasons if reason in wanted)
        return int(pd.notna(self.reasons).sum())

    def entries(self, added: bool) -> tuple[Entry, ...]:
        keep = pd.isna(self.reasons) if added else pd.notna(self.reasons)
        picked = self.columns(np.flatnonzero(keep))
        return tuple(
            Entry(row_id, table, name, name_ja, amount, currency, basis, announced, why, words or {})
            for row_id, table, name, name_ja, amount, currency, basis, announced, why, words in zip(
                *picked, self.reasons[keep], self.details(np.flatnonzero(keep)), strict=True
            )
        )


@dataclass(frozen=True)
class Total:
    """A total that knows what it added and what it left out."""

    key: str
    currency: str | None
    by_basis: Mapping[str, Decimal]
    considered: Considered = field(repr=False, compare=False)
    # The first and last announcement dates of the rows added, and how many of them have none.
    announced: tuple[str | None, str | None] = (None, None)
    undated: int = 0

    @cached_property
    def included(self) -> tuple[Entry, ...]:
        """The rows added, in view order."""
        return self.considered.entries(added=True)

    @cached_property
    def excluded(self) -> tuple[Entry, ...]:
        """The rows left out, in view order, each with its reason."""
        return self.considered.entries(added=False)

    @property
    def value(self) -> Decimal | None:
        """The total as one number, only when every figure it adds has the same kind of basis."""
        return next(iter(self.by_basis.values())) if len(self.by_basis) == 1 else None

    @property
    def counted_once(self) -> tuple[Entry, ...]:
        """Rows left out because they may be the same money as a row counted."""
        return tuple(e for e in self.excluded if e.reason in COUNTED_ONCE)

    @property
    def counts(self) -> tuple[int, int, int]:
        """How many rows were added, left out, and left out as counted once: counted, no entry made.

        A tile says "1,024 figures; 598,000 left out" over a million awards without building an
        entry for each of them (seconds at that size).
        """
        return (
            self.considered.count(added=True),
            self.considered.count(added=False),
            self.considered.count(added=False, reasons=COUNTED_ONCE),
        )

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        """The JSON form ``aifunding summary`` prints: exact amounts as decimal strings."""
        result: dict[str, Any] = {"key": self.key, "currency": self.currency}
        if self.value is not None:
            result["value"] = _decimal_text(self.value)
            result["basis"] = next(iter(self.by_basis))
        else:
            result["by_basis"] = {basis: _decimal_text(v) for basis, v in self.by_basis.items()}
        first, last = self.announced
        result["announced"] = {"first": first, "last": last, "undated": self.undated}
        result["included"] = [e.id for e in self.included]
        result["excluded"] = [{"id": e.id, "reason": e.reason_text(lang), "rule": e.reason} for e in self.excluded]
        return result


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def na(value: Any) -> Any:
    """None for a missing value (None, NaN, NA), the value itself otherwise."""
    if value is None or (not isinstance(value, (str, Decimal, tuple, list)) and pd.isna(value)):
        return None
    return value
