"""The ceiling rule over column-held rows: awards inside a programme add to no more than its amount.

The per-row rule (:func:`aifunding.loading.rules.check_awards_within_ceiling`) lists, for every
programme, each award beneath it and adds their amounts one by one. Here the awards are added once
per group of one programme and one currency (Decimal sums of whole groups), and each group's sum is
carried up the tree to every programme above it: a few thousand additions instead of one per award
and level. Only a programme found over its ceiling has its awards listed, to work out the rounding
tolerance that decides between the warning and the error.

Decimal arithmetic rounds to the context's precision (28 digits), and then the order of the
additions matters. Amounts are positive, so when no addition here rounds, no partial sum of the
per-row order does either, and both give the exact sum (to the same digits and exponent); when one
does round (a sum of more than 28 digits: a million awards near the 10^18 limit), each programme's
total is added again in the per-row order instead.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd

from aifunding.data.column_sets import at, group_sums, index_in, objects, string_set
from aifunding.data.report import Problem
from aifunding.data.rowset import RowSet
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import CEILING_BASES, ROUNDED_BASES
from aifunding.loading.rule_problems import ceiling_currency_problem, over_ceiling_problem

RowSets = dict[str, RowSet]
# A programme's id and a currency (None when the awards give none).
Pair = tuple[str, str | None]


def check_awards_within_ceiling(rows: RowSets) -> Iterator[Problem]:
    """Awards inside a programme must not add to more than its amount (rounding of 'about' allowed)."""
    programmes = rows["programmes"]
    values = programmes.values
    bases = objects(values["basis"])
    amounts = objects(values["amount"])
    ceilings = [i for i, basis in enumerate(bases) if amounts[i] is not None and basis in CEILING_BASES]
    if not ceilings:
        return
    awards = _AwardsUnder(programmes, rows["awards"])
    ids, currencies = objects(values["id"]), objects(values["currency"])
    for position in ceilings:
        pid, amount, currency, basis = ids[position], amounts[position], currencies[position], bases[position]
        same = awards.count.get((pid, currency), 0)
        if same != awards.count_all.get(pid, 0):
            yield ceiling_currency_problem(at(programmes, position), pid, currency)
        total = awards.total(pid, currency)
        if total > amount:
            rounded = awards.rounded(pid, currency)
            yield over_ceiling_problem(at(programmes, position), pid, amount, currency, basis, same, total, rounded)


class _AwardsUnder:
    """The awards with an amount beneath each programme (itself included), counted and added per currency."""

    def __init__(self, programmes: RowSet, awards: RowSet) -> None:
        ids = objects(programmes.values["id"])
        tree = ProgrammeTree.from_pairs(zip(ids, objects(programmes.values["parent_id"]), strict=True))
        values = awards.values
        self.amounts = values["amount"].to_numpy(dtype=object)
        self.bases = values["basis"]
        # Each award's group: its programme (the first row with its programme_id) and its currency; -1
        # for an award with no amount, or whose programme is not loaded (no programme row has its id).
        programme = index_in(values["programme_id"], string_set(programmes.values["id"]))
        currency, uniques = pd.factorize(values["currency"], use_na_sentinel=False)
        currencies = [code if isinstance(code, str) else None for code in uniques.tolist()]
        pair = programme * len(currencies) + currency
        counted = (programme >= 0) & ~pd.isna(self.amounts)
        self.group = np.full(len(pair), -1, dtype=np.int64)
        self.group[counted], pairs = pd.factorize(pair[counted])
        self.pairs = len(pairs)
        sizes = np.bincount(self.group[counted], minlength=len(pairs)).tolist()
        self.count_all: dict[str, int] = defaultdict(int)
        self.count: dict[Pair, int] = defaultdict(int)
        self.groups: dict[Pair, list[int]] = defaultdict(list)
        self.sums: dict[Pair, Decimal] | None = defaultdict(lambda: Decimal(0))
        with decimal.localcontext() as context:
            context.clear_flags()
            sums = group_sums(self.amounts[counted], self.group[counted], len(pairs))
            for group, (code, size, amount) in enumerate(zip(pairs.tolist(), sizes, sums.tolist(), strict=True)):
                pid, key = ids[code // len(currencies)], currencies[code % len(currencies)]
                for above in tree.ancestors(pid):
                    self.count_all[above] += size
                    self.count[above, key] += size
                    self.groups[above, key].append(group)
                    self.sums[above, key] += amount
            if context.flags[decimal.Rounded]:
                self.sums = None

    @cached_property
    def _by_group(self) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the counted awards group by group, and where each group's run of them starts and ends."""
        counted = np.flatnonzero(self.group >= 0)
        order = counted[np.argsort(self.group[counted], kind="stable")]
        bounds = np.concatenate(([0], np.cumsum(np.bincount(self.group[counted], minlength=self.pairs))))
        return order, bounds

    def _rows(self, pid: str, currency: str | None) -> np.ndarray:
        """Positions of the awards under ``pid`` in ``currency``, in row order (asked only of a programme over)."""
        order, bounds = self._by_group
        runs = [order[bounds[g] : bounds[g + 1]] for g in self.groups.get((pid, currency), [])]
        return np.sort(np.concatenate(runs)) if runs else np.empty(0, dtype=np.int64)

    def total(self, pid: str, currency: str | None) -> Decimal:
        """What the awards under ``pid`` in ``currency`` add up to, as the per-row rule adds them."""
        if self.sums is not None:
            return self.sums.get((pid, currency), Decimal(0))
        return sum(self.amounts[self._rows(pid, currency)].tolist(), Decimal(0))

    def rounded(self, pid: str, currency: str | None) -> list[Decimal]:
        """The amounts of those awards that are rounded figures ('about'), in row order."""
        chosen = self._rows(pid, currency)
        bases = objects(self.bases.iloc[chosen])
        return [a for a, b in zip(self.amounts[chosen].tolist(), bases, strict=True) if b in ROUNDED_BASES]
