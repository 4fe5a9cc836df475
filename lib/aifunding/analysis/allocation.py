"""Programme allocations added as vectors: :func:`aifunding.analysis.metrics.programme_totals` without a step per award.

An award counts toward its programme and every programme above it: a million awards under ten thousand
programmes are a few million (programme, award) pairs. Here the pairs are numpy arrays, counted with
``bincount``, sorted by programme and basis, and each run of equal (programme, basis) added by one ``sum``
in C, rather than gathered into a list per programme and filtered in Python (five seconds at a million
awards).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, Rounded, localcontext
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import split_by_basis
from aifunding.analysis.sequences import sorted_distinct
from aifunding.analysis.totals import BASIS_CLASSES, CLASS_ORDER
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import Basis

# The columns :func:`~aifunding.analysis.metrics.programme_totals` returns, so an empty package still has every one.
TOTALS_COLUMNS = [
    C.PROGRAMME_ID,
    C.N_AWARDS,
    C.N_AWARDS_UNPUBLISHED,
    C.ALLOCATED,
    C.ALLOCATED_CURRENCY,
    C.AWARDS_OTHER_CURRENCY,
    C.ALLOCATED_BASES,
    C.ALLOCATED_BY_BASIS,
]
# How the per-award path reads a missing amount or id: None, or NaN (float or pandas').
_MISSING_KINDS = {type(None), float, type(pd.NA)}


def allocation_rows(programmes: pd.DataFrame, awards: pd.DataFrame, tree: ProgrammeTree) -> list[dict[str, Any]] | None:
    """The rows :func:`~aifunding.analysis.metrics.programme_totals` builds one by one, the same values.

    None when the columns hold something that path treats its own way (amounts other than finite,
    non-negative Decimals or missing; an award with an amount but no currency or basis as text; an id
    that is not text, or a programme id given twice) or when a sum would round (then its order of
    addition could matter): the caller takes the per-award path.
    """
    ids = programmes["id"].tolist()
    own = programmes["currency"].tolist()
    amounts = awards["amount"].to_numpy(dtype=object)
    present = ~pd.isna(amounts)
    currency, currencies = pd.factorize(awards["currency"])
    basis, bases = pd.factorize(awards["basis"])
    if not (
        _all_text(ids)
        and len(set(ids)) == len(ids)
        and _text_or_missing(own)
        and _all_text(currencies)
        and _all_text(bases)
        and (currency[present] >= 0).all()
        and (basis[present] >= 0).all()
        and _plain_or_missing(amounts, present)
    ):
        return None
    pairs = _pairs(awards["programme_id"], {pid: i for i, pid in enumerate(ids)}, tree)
    if pairs is None:
        return None
    programme, award = pairs
    count = len(ids)
    chosen, names = _currencies(programme, award, present, currency, list(currencies.tolist()), own)
    with_amount = present[award]
    n_awards = np.bincount(programme, minlength=count)
    n_with = np.bincount(programme[with_amount], minlength=count)
    same = with_amount & (chosen[programme] >= 0) & (currency[award] == chosen[programme])
    n_same = np.bincount(programme[same], minlength=count)
    added = _added(programme[same], basis[award[same]], amounts[award[same]], bases.tolist())
    if added is None:
        return None
    rows = []
    for i, pid in enumerate(ids):
        total, kinds, by_kind = added.get(i, (None, (), {}))  # a programme that adds nothing
        rows.append(
            {
                C.PROGRAMME_ID: pid,
                C.N_AWARDS: int(n_awards[i]),
                C.N_AWARDS_UNPUBLISHED: int(n_awards[i] - n_with[i]),
                C.ALLOCATED: total,
                C.ALLOCATED_CURRENCY: names[chosen[i]] if chosen[i] >= 0 else None,
                C.AWARDS_OTHER_CURRENCY: int(n_with[i] - n_same[i]),
                C.ALLOCATED_BASES: kinds,
                C.ALLOCATED_BY_BASIS: by_kind,
            }
        )
    return rows


def _pairs(
    award_programmes: pd.Series, index: dict[str, int], tree: ProgrammeTree
) -> tuple[np.ndarray, np.ndarray] | None:
    """Every (programme, award) pair where the award's programme is the programme or beneath it (None: an id not text).

    An award's programme is in a programme's subtree exactly when the programme is in its chain of
    ancestors (the tree's parent links, read once per distinct programme of the awards). A missing id is
    in no programme's subtree.
    """
    codes, distinct = pd.factorize(award_programmes)
    if not _all_text(distinct):
        return None
    chains = [[index[up] for up in tree.ancestors(pid) if up in index] for pid in distinct.tolist()]
    lengths = np.array([len(chain) for chain in chains] + [0], dtype=np.int64)  # the last: a missing id's
    starts = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.array([up for chain in chains for up in chain], dtype=np.int64)
    per_award = lengths[codes]
    award = np.repeat(np.arange(len(codes)), per_award)
    within = np.arange(len(award)) - np.repeat(np.cumsum(per_award) - per_award, per_award)
    return flat[np.repeat(starts[codes], per_award) + within], award


def _currencies(
    programme: np.ndarray,
    award: np.ndarray,
    present: np.ndarray,
    currency: np.ndarray,
    names: list[str],
    own: list[Any],
) -> tuple[np.ndarray, list[str]]:
    """Each programme's currency as a code into the returned names (-1: none): its own, else its awards' one.

    A programme that declares none takes the currency of its awards with an amount when they all share
    it. A declared currency no award has gets a code of its own, which no award matches.
    """
    known = {name: code for code, name in enumerate(names)}
    declared = np.full(len(own), -1, dtype=np.int64)
    for i, value in enumerate(own):
        if isinstance(value, str):
            declared[i] = known.setdefault(value, len(known))
            if declared[i] == len(names):
                names.append(value)
    width = len(names) + 1
    with_amount = present[award]
    found = sorted_distinct(programme[with_amount] * width + currency[award[with_amount]])[0]
    owners, shared = found // width, found % width
    single = np.bincount(owners, minlength=len(own))[owners] == 1
    chosen = np.full(len(own), -1, dtype=np.int64)
    chosen[owners[single]] = shared[single]
    return np.where(declared >= 0, declared, chosen), names


def _added(
    programme: np.ndarray, basis: np.ndarray, amounts: np.ndarray, bases: list[str]
) -> dict[int, tuple[Decimal, tuple[str, ...], dict[str, Decimal]]] | None:
    """Per programme that adds any amount: their sum, their distinct bases (sorted), and their sums by kind of basis.

    The pairs are sorted by programme and basis, and each run added by one ``sum`` in a context that
    traps rounding; the runs then add to the total and to each kind (``split_by_basis``' rules). The
    amounts are finite and non-negative, so no partial sum is longer than its programme's total: when
    every total is exact, so was every step, in any order, and each sum is the per-award path's to its
    exponent. None when a sum would round.
    """
    width = len(bases) + 1
    keys = programme.astype(np.int64) * width + basis
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    values = amounts[order].tolist()
    starts = np.flatnonzero(np.diff(keys, prepend=-1)).tolist()
    ends = [*starts[1:], len(keys)] if starts else []
    result: dict[int, tuple[Decimal, tuple[str, ...], dict[str, Decimal]]] = {}
    runs: list[tuple[str, Decimal]] = []
    try:
        with localcontext() as exact:
            exact.traps[Rounded] = True
            for start, end in zip(starts, ends, strict=True):
                runs.append((bases[int(keys[start] % width)], sum(values[start:end], Decimal(0))))
                if end == len(keys) or keys[end] // width != keys[start] // width:
                    result[int(keys[start] // width)] = _programme_sums(runs)
                    runs = []
    except Rounded:
        return None
    return result


def _programme_sums(runs: list[tuple[str, Decimal]]) -> tuple[Decimal, tuple[str, ...], dict[str, Decimal]]:
    """One programme's total, bases and sums by kind, from its runs of one basis each (the caller traps rounding)."""
    total = Decimal(0)
    kinds: dict[str, Decimal] = {}
    for basis, value in runs:
        total += value
        if basis in BASIS_CLASSES:
            kind = BASIS_CLASSES[basis]
            kinds[kind] = kinds.get(kind, Decimal(0)) + value
    if any(basis == Basis.UP_TO_ABOUT for basis, _ in runs):
        kinds["up_to_about"] = kinds.pop("up_to")  # a ceiling with a rounded part is "up to about"
    return (
        total,
        tuple(sorted(basis for basis, _ in runs)),
        {kind: kinds[kind] for kind in CLASS_ORDER if kind in kinds},
    )


def _all_text(values: Any) -> bool:
    return set(map(type, values)) <= {str}


def _text_or_missing(values: list[Any]) -> bool:
    return all(isinstance(value, str) or (type(value) in _MISSING_KINDS and pd.isna(value)) for value in values)


def _plain_or_missing(amounts: np.ndarray, present: np.ndarray) -> bool:
    """Whether every amount is a finite, non-negative Decimal, or missing as the per-award path reads it."""
    values = amounts[present].tolist()
    return (
        set(map(type, values)) <= {Decimal}
        and all(map(Decimal.is_finite, values))
        and not any(map(Decimal.is_signed, values))
        and set(map(type, amounts[~present])) <= _MISSING_KINDS
    )


@dataclass(frozen=True)
class AwardGroup:
    """Awards of one programme that share a currency and a basis, and have an amount or not: counted and added up.

    ``total`` is their amounts' exact sum, as Decimal adds them (None for awards without an amount);
    ``first`` the place of the first of them among all awards.
    """

    programme_id: str
    currency: str | None
    basis: str | None
    count: int
    total: Decimal | None
    first: int


def programme_totals_of_groups(
    programmes: pd.DataFrame, groups: Iterable[AwardGroup], tree: ProgrammeTree | None = None
) -> pd.DataFrame:
    """:func:`~aifunding.analysis.metrics.programme_totals` of awards given in groups (a package too large to hold its
    awards, whose groups a query added up): the same rows, as its reference gathers them award by award.

    Each programme's groups are taken in the order of their first awards, so the kinds of basis come in the order
    the awards bring them. Exact while no sum passes the decimal context's precision (which the caller sees to).
    """
    tree = tree or ProgrammeTree.from_frame(programmes)
    by_programme: dict[str, list[AwardGroup]] = {}
    for group in sorted(groups, key=lambda group: group.first):
        by_programme.setdefault(group.programme_id, []).append(group)
    rows = []
    for pid, currency in zip(programmes["id"], programmes["currency"], strict=True):
        mine = [group for member in tree.subtree(pid) for group in by_programme.get(member, ())]
        with_amount = [group for group in mine if group.total is not None]
        currency = currency if isinstance(currency, str) else None
        currencies = {group.currency for group in with_amount}
        if currency is None and len(currencies) == 1:
            currency = next(iter(currencies))
        same = [group for group in with_amount if currency is not None and group.currency == currency]
        awards, published, counted = (sum(group.count for group in groups) for groups in (mine, with_amount, same))
        totals = [group.total for group in same if group.total is not None]  # each of them: they have an amount
        rows.append(
            {
                C.PROGRAMME_ID: pid,
                C.N_AWARDS: awards,
                C.N_AWARDS_UNPUBLISHED: awards - published,
                C.ALLOCATED: sum(totals, Decimal(0)) if same else None,
                C.ALLOCATED_CURRENCY: currency,
                C.AWARDS_OTHER_CURRENCY: published - counted,
                C.ALLOCATED_BASES: tuple(sorted({group.basis for group in same if group.basis is not None})),
                C.ALLOCATED_BY_BASIS: split_by_basis((group.total, group.basis) for group in same),
            }
        )
    return pd.DataFrame(rows, columns=TOTALS_COLUMNS)
