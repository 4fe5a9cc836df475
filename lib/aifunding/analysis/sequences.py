"""Lists of values kept as one flat array and a length per list: which lists are equal, as whole-array steps.

A million awards' sources, or recipients, are a few values each, and most awards repeat a list another
award has (one source, the same two partners): a text joined from each distinct list once, then spread to the
awards by a code, makes one column of a million texts rather than three (the values spread out, joined,
then put in row order), which at this size is as much time as the joining itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    # Codes number lists in order of first appearance, so each code's first list is where it first occurs.
    first = np.unique(codes, return_index=True)[1].astype(np.intp)
    return codes, first


def gathered(values: np.ndarray, lengths: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values and offsets of lists ``which`` alone, in that order (lists kept as :func:`list_codes` takes them)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    kept = lengths[which]
    offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    positions = np.repeat(starts[which] - offsets[:-1], kept) + np.arange(int(offsets[-1]), dtype=np.int64)
    return np.asarray(values)[positions], offsets
