"""Recipients ranked and added up as integers: the codes a package's names are kept as, their order by name.

The Companies charts rank tens of thousands of recipients per view. Grouping, ordering and adding by name
(text) cost most of a chart at a million awards; these do it on integer codes, named at the end, with the
same order and sums as grouping by name and sorting by value would give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aifunding.analysis.view_awards import by_name, name_ranks


def label_codes(labels: pd.Series) -> tuple[np.ndarray, pd.Index, np.ndarray | None]:
    """Each award's recipient as a code (-1: none), the names the codes stand for, and their ranks by name if known.

    Labels taken as categoricals (a package's names, coded once) keep the package's codes and ranks;
    others are coded here (``pd.factorize``) and ranked when summed.
    """
    if isinstance(labels.dtype, pd.CategoricalDtype) and labels.cat.categories.dtype == object:
        names = labels.cat.categories
        return labels.cat.codes.to_numpy().astype(np.intp), names, name_ranks(names)
    codes, names = pd.factorize(labels)  # -1: no name, in no total (as a groupby leaves it out)
    return codes, pd.Index(np.asarray(names, dtype=object), dtype=object), None


def ranked_sums(
    values: pd.Series, keys: np.ndarray, names: pd.Index, ranks: np.ndarray | None = None
) -> tuple[pd.Series, np.ndarray]:
    """Each key's values added up (as ``groupby().sum()`` adds them), named and ordered as the chart ranks them.

    Grouped by integer code (-1: none) rather than by name; ordered by name, then by total (quicksort, as
    ``sort_values`` sorts), as grouping by name and sorting by value orders them, ties included. The
    names are ordered by Arrow (UTF-8 bytes order as code points do, as Python orders texts), or by
    ``ranks``, each name's place in that order; the keys come back in the totals' order.
    """
    grouped = keys >= 0
    present, added = group_sums(values.to_numpy(dtype=float)[grouped], keys[grouped], len(names))
    labels = names.to_numpy(dtype=object)[present]
    named = by_name(pd.Index(labels, dtype=object)) if ranks is None else _by_rank(ranks, present)
    sums = added[named]
    order = sums.argsort(kind="quicksort")
    return pd.Series(sums[order], index=pd.Index(labels[named][order], dtype=object)), present[named][order]


def _by_rank(ranks: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``np.argsort(ranks[present])``: the order of the present names by their ranks (each name's own place).

    Ranks are distinct, so any sort gives this one order. When the present names are a good part of all of
    them (a country's 50,000 recipients among 400,000), they are read off in rank order by marking their ranks
    and walking the marks once, rather than sorted.
    """
    mine = ranks[present]
    if len(mine) * 16 < len(ranks):
        return np.argsort(mine, kind="stable")
    place = np.zeros(len(ranks), dtype=np.intp)  # each rank's place in ``present``, where a name holds it
    place[mine] = np.arange(len(mine))
    marked = np.zeros(len(ranks), dtype=bool)
    marked[mine] = True
    return place[np.flatnonzero(marked)]


# Below this every sum of whole numbers is exact in a float: added in any order, the total is the same.
EXACT_FLOATS = 2.0**53


def group_sums(values: np.ndarray, keys: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The keys present (ascending) and each one's values added up, as ``pd.Series.groupby(keys).sum()`` adds them.

    Unsigned whole numbers adding up to less than 2**53 (amounts in most currencies) are added by
    ``np.bincount``: every partial sum is exact, so pandas' compensated sum gives the same floats. Anything
    else (cents, a converted amount, NaN) is added by pandas itself.
    """
    # NaN is never whole, and infinity never adds up below 2**53. A signed value (-0.0, a negative one) goes to
    # pandas: a group of -0.0 alone adds up to -0.0 there, to 0.0 in a bincount.
    whole = len(values) and not np.signbit(values).any() and (values == np.trunc(values)).all()
    if whole and float(values.sum()) < EXACT_FLOATS:
        if len(keys) * 8 < groups:
            # A programme's few hundred rows among a package's 400,000 names: counted by the keys they hold.
            present, keys = np.unique(keys, return_inverse=True)
            return present, np.bincount(keys, weights=values, minlength=len(present))
        present = np.flatnonzero(np.bincount(keys, minlength=groups))
        return present, np.bincount(keys, weights=values, minlength=groups)[present]
    added = pd.Series(values).groupby(keys).sum()
    return added.index.to_numpy(), added.to_numpy(dtype=float)
