"""Lists of values kept as one flat array and a length per list: which lists are equal, as whole-array steps.

A million awards' sources, or recipients, are a few values each, and most awards repeat a list another
award has (one source, the same two partners): a text joined from each distinct list once, then spread to the
awards by a code, makes one column of a million texts rather than three (the values spread out, joined,
then put in row order), which at this size is as much time as the joining itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aifunding.data.column_sets import index_in, repeats, strings

# Lists longer than this are coded in one pass per position, so a very long list costs a pass for each of its
# values: callers keep another way for such inputs (a thousand-source award does not occur in funding data).
LONGEST_CODED = 64


def list_codes(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A code per list, equal for lists holding the same values in the same order, and each code's first list.

    Args:
        values: the lists' values (whole numbers, at least 0) back to back, the first list's first.
        lengths: each list's number of values (0 for an empty list).

    Returns:
        (codes, first): ``codes[i]`` numbers list ``i`` from 0 in order of first appearance; ``first[c]`` is the
        first list with code ``c``.

    Each position is one step: the lists still that long pair the code of their values so far with the next
    value, and the pairs are numbered again. Exact (no hashing): equal codes mean equal lists.
    """
    values = np.asarray(values, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if not len(lengths):
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    width = int(values.max()) + 1 if len(values) else 1
    prefix = np.full(len(lengths), -1, dtype=np.int64)  # each list's code so far; -1: no value yet
    alive = np.flatnonzero(lengths > 0)
    step = 0
    while len(alive):
        pairs = (prefix[alive] + 1) * width + values[starts[alive] + step]
        prefix[alive] = pd.factorize(pairs, sort=False)[0]
        step += 1
        alive = alive[lengths[alive] > step]
    # Prefixes of different lengths are numbered apart, so the final code pairs the length with the last prefix.
    codes = pd.factorize(lengths * (int(prefix.max()) + 2) + (prefix + 1), sort=False)[0].astype(np.intp)
    # Codes number lists in order of first appearance, so each code first occurs where it exceeds every code
    # before it (numpy 2.4's np.unique with its first positions sorts them all: ten times as long).
    first = np.flatnonzero(~repeats(codes)).astype(np.intp)
    return codes, first


def sorted_distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of whole numbers: the distinct values ascending, and each one's place.

    Whole numbers spanning no more than a few times their count (codes paired with codes, the usual case) are
    counted rather than sorted: numpy 2.4's ``np.unique`` sorts, or hashes, three million pairs in a quarter to
    four tenths of a second, which a count does in a fiftieth.
    """
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    if not len(values):
        return values.copy(), np.zeros(0, dtype=np.intp)
    low, high = int(values.min()), int(values.max())
    if high - low > 4 * len(values) + 1024:
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, np.asarray(inverse, dtype=np.intp).reshape(-1)
    shifted = values - low
    present = np.bincount(shifted) > 0
    rank = np.cumsum(present, dtype=np.intp) - 1
    return np.flatnonzero(present).astype(np.int64) + low, rank[shifted]


def gathered(values: np.ndarray, lengths: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values and offsets of lists ``which`` alone, in that order (lists kept as :func:`list_codes` takes them)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    kept = lengths[which]
    offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    positions = np.repeat(starts[which] - offsets[:-1], kept) + np.arange(int(offsets[-1]), dtype=np.int64)
    return np.asarray(values)[positions], offsets


@dataclass(frozen=True)
class LinkedLists:
    """Each target's values in a link table, as distinct lists: pairs deduplicated keeping the first, in link order.

    ``targets`` holds each target once (first appearance) and ``lists[i]`` the code of its list; list ``k``
    is ``values[picked[offsets[k]:offsets[k + 1]]]``.
    """

    targets: pd.Index
    values: np.ndarray
    lists: np.ndarray
    picked: np.ndarray
    offsets: np.ndarray

    def list_of(self, ids: pd.Series) -> np.ndarray:
        """The list code of each of ``ids`` (``len(offsets) - 1``, one past the last list, for an id with none)."""
        if isinstance(ids.dtype, pd.StringDtype) and isinstance(self.targets.dtype, pd.StringDtype):
            # Arrow's hash lookup: pandas' index of a million award ids took three times as long, holding Python's
            # lock throughout (which the preparation's other thread wants).
            position = index_in(ids, strings(pd.Series(self.targets)))
        else:
            position = self.targets.get_indexer(pd.Index(ids))
        none = len(self.offsets) - 1
        return np.where(position < 0, none, self.lists[np.maximum(position, 0)] if len(self.lists) else 0)


def linked_lists(targets: pd.Series, values: pd.Series) -> LinkedLists | None:
    """The lists of ``values`` linked to each of ``targets`` (a link table's two text columns), as codes.

    Rows without a target are left out; None when the columns are not text or a value is missing (an invalid
    package's), for the caller to go row by row.
    """
    if not isinstance(targets.dtype, pd.StringDtype) or not isinstance(values.dtype, pd.StringDtype):
        return None
    kept = targets.notna().to_numpy()
    targets, values = targets[kept], values[kept]
    if values.isna().any():
        return None
    target_codes, target_ids = pd.factorize(targets, sort=False)
    value_codes, value_ids = pd.factorize(values, sort=False)
    first = ~pd.Series(target_codes.astype(np.int64) * len(value_ids) + value_codes).duplicated().to_numpy()
    target_codes, value_codes = target_codes[first], value_codes[first]
    order = np.argsort(target_codes, kind="stable")  # each target's values in the order first linked
    counts = np.bincount(target_codes, minlength=len(target_ids))
    grouped = value_codes[order]
    if len(counts) and counts.max() > LONGEST_CODED:
        codes = distinct = np.arange(len(counts), dtype=np.intp)  # each target's list on its own
    else:
        codes, distinct = list_codes(grouped, counts)
    picked, offsets = gathered(grouped, counts, distinct)
    return LinkedLists(pd.Index(target_ids), np.asarray(value_ids, dtype=object), codes, picked, offsets)
