"""Keys and references over column-held rows: :mod:`aifunding.data.references` without an object per row.

:func:`run_reference_rules_columnar` applies the rules of :func:`run_reference_rules` to
:class:`RowSet`s. Given the rows the per-row validator is given, it appends the same problems and
quarantined rows in the same order, counts the same unchecked rows and the same rows quarantined with
the row they refer to, and keeps the same rows: both call the same functions for every message,
quarantine and count (:mod:`aifunding.data.references`, :mod:`aifunding.data.left_out`), and the
programme tree is walked by the same :func:`resolve_programme_tree`, over plain dicts of two columns.
What differs is how the rows to report are found and counted: whole columns at once (factorised keys,
Arrow hash lookups, group counts), so at a million awards the cost is a few hash passes, and a Python
object is made only for a row that makes a problem or is quarantined. Each reference is looked up once,
against the ids as parsed, two at a time while the keys are checked, and renumbered among the rows kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.column_sets import (
    At,
    StringSet,
    at,
    index_in,
    isin,
    key_codes,
    present,
    raw_rows,
    repeats,
    strings,
    value_codes,
)
from aifunding.data.left_out import Fold, Folds, Unchecked, report_left_out
from aifunding.data.limits import Limits
from aifunding.data.references import (
    Causes,
    HeldRow,
    dangling_message,
    duplicate_key_message,
    hold_row,
    quarantine_causes,
    quarantine_row,
    resolve_programme_tree,
)
from aifunding.data.report import ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table

RowSets = dict[str, RowSet]

# No reference of a row: the marker in the arrays that hold, per row, which of its references is meant.
_NONE = -1


# Lookups made at once: at a million awards, the recipients' and the citations' award ids each take 0.3 to 0.4 s
# to hash against the awards' ids, in Arrow, which lets another thread run meanwhile.
LOOKUP_THREADS = 2


class _Lookups:
    """Where each reference's values stand among the ids of the table it refers to, as parsed: looked up side by side
    in ``pool`` while the keys are checked, each waited for when asked for.

    Per row of the referring table as parsed, the position of its value among the referred table's rows as parsed
    (its first row holding it, which is the one its repeated keys leave), -1 where no row holds it. A programme's
    parent, a reference to the table itself, is not looked up: the tree is walked instead.
    """

    def __init__(self, rows: RowSets, pool: ThreadPoolExecutor) -> None:
        ids: dict[str, StringSet] = {}
        self._looked: dict[tuple[str, str], Future[np.ndarray]] = {}
        # The keys' references first: the keys are checked first, the other references once every key is.
        wanted = [(t, r) for t in TABLES for r in t.foreign_keys if r.field in t.primary_key]
        wanted += [(t, r) for t in TABLES for r in t.foreign_keys if r.field not in t.primary_key]
        for table, reference in wanted:
            target = reference.ref_table
            if target == table.name or TABLES_BY_NAME[target].primary_key != ("id",):
                continue
            if target not in ids:
                ids[target] = strings(rows[target].values["id"])
            column = rows[table.name].values[reference.field]
            self._looked[table.name, reference.field] = pool.submit(index_in, column, ids[target])

    def among(self, table: str, field: str, rows: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """For the parsed ``rows`` of ``table`` (a mask), the position of each one's ``field`` among the rows
        ``kept`` (a mask over the parsed rows) of the table it refers to; -1 where none of them holds it."""
        positions = self._looked[table, field].result()
        return _renumbered(kept)[positions if rows.all() else positions[rows]]


def _renumbered(kept: np.ndarray) -> np.ndarray:
    """Per row, its position among the rows ``kept``; -1 for a row not kept and, last, for no row at all (-1)."""
    return np.append(np.where(kept, np.cumsum(kept) - 1, _NONE), _NONE)


class Resolved:
    """Where each reference of the rows kept points: per (table, field), the position of each kept row's value among
    the kept rows of the table it refers to, -1 where the row holds none.

    The references look each such column up once; the package rules ask the same of some of them (each recipient's
    award, each citation's figure), and at a million awards each lookup hashes a million ids again (0.25 s).
    """

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[RowSet, RowSet, np.ndarray]] = {}

    def hold(self, table: str, field: str, rows: RowSet, target: RowSet, positions: np.ndarray) -> None:
        """Keep where the ``field`` of each of ``rows`` (of ``table``) points among ``target``'s rows."""
        self._held[table, field] = (rows, target, positions)

    def positions(self, rows: RowSets, table: str, field: str, target: str) -> np.ndarray | None:
        """Each of ``rows[table]``'s positions among ``rows[target]``, if these are the rows it was resolved for."""
        held = self._held.get((table, field))
        if held is None or held[0] is not rows[table] or held[1] is not rows[target]:
            return None
        return held[2]


class _Blind(NamedTuple):
    """The rows of one table left unchecked: their ids, and the unread table each refers to (aligned)."""

    ids: pa.Array | pa.ChunkedArray
    unread: np.ndarray


def run_reference_rules_columnar(
    rows: RowSets, report: ValidationReport, limits: Limits | None = None, files: Mapping[str, str] | None = None
) -> Resolved:
    """Quarantine repeated keys and rows whose references do not resolve, as :func:`run_reference_rules` does.

    Replaces each ``rows[name]`` by the rows kept, as the per-row function replaces its lists, and returns where
    their references point (for the package rules, which ask some of them again).
    """
    limits = limits or Limits()
    files = files or {}
    with ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="aifunding-references") as pool:
        return _run_reference_rules(rows, report, limits, files, _Lookups(rows, pool))


def _run_reference_rules(
    rows: RowSets, report: ValidationReport, limits: Limits, files: Mapping[str, str], lookups: _Lookups
) -> Resolved:
    causes = quarantine_causes(report)  # before the repeated keys, as the per-row function takes them
    ids: dict[str, StringSet] = {}  # per table with an id, its ids once no two rows share one
    # Per table, which of its parsed rows are still kept: once no two rows share a key, then once loaded.
    alive = {table.name: np.ones(len(rows[table.name]), dtype=bool) for table in TABLES}
    for table in TABLES:
        if table.primary_key:
            rows[table.name] = _drop_repeated_keys(table, rows[table.name], report, ids, alive, lookups)
            if table.primary_key == ("id",):
                ids[table.name] = strings(rows[table.name].values["id"])

    blind: dict[str, _Blind] = {}  # per table, its rows left unchecked because they refer to an unread table
    resolved = Resolved()
    for table in TABLES:
        folds: Folds = {}
        pointing: dict[str, np.ndarray] = {}
        mask, unchecked, hidden = _resolve_references(
            table, rows[table.name], report, alive, lookups, blind, causes, folds, pointing
        )
        if hidden is not None:
            blind[table.name] = hidden
        loaded = _keep(rows[table.name], mask)
        if table.name == "programmes":
            in_tree = _resolve_programme_tree(loaded, report, limits, causes, folds)
            mask[mask] = in_tree
            loaded = _keep(loaded, in_tree)
        rows[table.name] = loaded
        alive[table.name][alive[table.name]] = mask
        for reference in table.foreign_keys:
            if reference.field in pointing:
                resolved.hold(
                    table.name, reference.field, loaded, rows[reference.ref_table], pointing[reference.field][mask]
                )
        report_left_out(report, table.name, folds, unchecked, files)
    return resolved


def _keep(rows: RowSet, mask: np.ndarray) -> RowSet:
    """``rows.keep(mask)``, without copying a table that loses no row (most of them, most of the time)."""
    return rows if mask.all() else rows.keep(mask)


def _drop_repeated_keys(
    table: Table,
    rows: RowSet,
    report: ValidationReport,
    ids: dict[str, StringSet],
    alive: dict[str, np.ndarray],
    lookups: _Lookups,
) -> RowSet:
    """The rows whose key no earlier row has; each later one is quarantined, naming the first one's line.

    A key column that refers to a table with ids is coded by where its values are among them (its lookup); the
    others are factorised. The rows of ``table`` are as parsed: ``alive`` records which of them are kept.
    """
    refers = {reference.field: reference.ref_table for reference in table.foreign_keys}
    where = {
        column: lookups.among(table.name, column, alive[table.name], alive[refers[column]])
        for column in table.primary_key
        if refers.get(column) in ids
    }
    coded = {column: value_codes(rows.values[column], ids[refers[column]], w) for column, w in where.items()}
    codes = key_codes(rows.values, table.primary_key, coded)
    repeated = repeats(codes)
    if not repeated.any():
        return rows
    alive[table.name][:] = ~repeated
    first_lines = rows.lines[~repeated]  # by code: codes are numbered in the order of their first rows
    positions = np.flatnonzero(repeated)
    keys = zip(*(rows.values[column].iloc[positions].tolist() for column in table.primary_key), strict=True)
    for position, key, raw in zip(positions, keys, raw_rows(rows, positions), strict=True):
        shown, message = duplicate_key_message(table, key, int(first_lines[codes[position]]))
        column = table.primary_key[-1]
        held = HeldRow(table.name, at(rows, position), raw, None)
        quarantine_row(report, held, column, shown, message, "duplicate-key")
    return rows.keep(~repeated)


def _resolve_references(
    table: Table,
    rows: RowSet,
    report: ValidationReport,
    alive: dict[str, np.ndarray],
    lookups: _Lookups,
    blind: dict[str, _Blind],
    causes: Causes,
    folds: Folds,
    pointing: dict[str, np.ndarray],
) -> tuple[np.ndarray, dict[str, Unchecked], _Blind | None]:
    """Which rows' references resolve; the rest are quarantined (a broken reference) or counted (unread).

    Per row, the first reference that does not resolve quarantines it, whatever the others; otherwise
    the first that leads to an unread table (directly, or through a row left unchecked) leaves it
    unchecked. Returns which rows are kept, the counts of unchecked rows per unread table, and the
    ids of the rows left unchecked (for the tables that refer to this one); the rows quarantined
    with the row they refer to are counted in ``folds``. Where each row's value of a field that refers to a
    table that was read stands among that table's rows loaded (-1 if nowhere) goes into ``pointing``.
    ``alive`` says which of each table's parsed rows are kept (of this one: ``rows``; of those it refers to: loaded).
    """
    references = table.foreign_keys
    n = len(rows)
    if n == 0:
        return np.ones(0, dtype=bool), {}, None
    broken = np.full(n, _NONE, dtype=np.int64)  # per row, the index of its first reference that does not resolve
    unread = np.full(n, _NONE, dtype=np.int64)  # ... of its first reference that cannot be checked
    unread_table = np.full(n, None, dtype=object)  # ... the unread table that one leads to
    through = np.full(n, None, dtype=object)  # ... and the table of the unchecked row it leads through, if any
    for index in reversed(range(len(references))):  # backwards, so that a row's first reference is the one kept
        reference = references[index]
        if reference.ref_table == table.name:
            continue  # a programme's parent is resolved with the tree
        column = strings(rows.values[reference.field])
        given = present(column)
        if reference.ref_table in report.unread:
            unread[given], unread_table[given], through[given] = index, reference.ref_table, None
            continue
        where = lookups.among(table.name, reference.field, alive[table.name], alive[reference.ref_table])
        pointing[reference.field] = where
        resolved = where != _NONE
        hidden = blind.get(reference.ref_table)
        if hidden is not None:
            where = index_in(column, hidden.ids)
            seen = where != _NONE
            unread[seen], unread_table[seen], through[seen] = index, hidden.unread[where[seen]], reference.ref_table
            resolved |= seen
        missing = given & ~resolved
        if reference.ref_table in report.partly_read:  # perhaps a row that was never read, unless quarantined
            quarantined = pa.array(list(causes.get(reference.ref_table, {})), type=pa.large_string())
            lost = missing & ~isin(column, quarantined)
            unread[lost], unread_table[lost], through[lost] = index, reference.ref_table, None
            missing &= ~lost
        broken[missing] = index

    _quarantine_broken(table, rows, report, broken, causes, folds)
    left = (broken == _NONE) & (unread != _NONE)
    positions = np.flatnonzero(left)
    fields = np.array([reference.field for reference in references] or [""], dtype=object)
    unchecked = _count_unchecked(fields[unread[positions]], unread_table[positions], through[positions])
    hidden = None
    if len(positions) and "id" in table.columns:
        hidden = _Blind(strings(rows.values["id"].iloc[positions]), unread_table[positions])
    return (broken == _NONE) & ~left, unchecked, hidden


def _quarantine_broken(
    table: Table, rows: RowSet, report: ValidationReport, broken: np.ndarray, causes: Causes, folds: Folds
) -> None:
    """Quarantine, in row order, each row with a reference that does not resolve (``broken``: which one).

    A reference that names no row at all is the row's own ``foreign-key`` problem; the rows whose
    reference names a quarantined row (a set lookup per column) are counted in ``folds`` instead.
    """
    positions = np.flatnonzero(broken != _NONE)
    if not len(positions):
        return
    value_at: dict[int, str] = {}
    folded = np.zeros(len(rows), dtype=bool)  # the rows whose reference names a quarantined row
    for index in np.unique(broken[positions]):
        reference = table.foreign_keys[index]
        chosen = positions[broken[positions] == index]
        values = rows.values[reference.field].iloc[chosen]
        value_at.update(zip(chosen.tolist(), values.tolist(), strict=True))
        quarantined = pa.array(list(causes.get(reference.ref_table, {})), type=pa.large_string())
        folded[chosen] = isin(values, quarantined)
    _fold(table, rows, folded, broken, value_at, causes, folds)
    ids = rows.values["id"].iloc[positions].tolist() if "id" in table.columns else [None] * len(positions)
    for position, rid, raw in zip(positions.tolist(), ids, raw_rows(rows, positions), strict=True):
        reference = table.foreign_keys[broken[position]]
        value = value_at[position]
        message = dangling_message(reference.ref_table, value, causes)
        row = HeldRow(table.name, at(rows, position), raw, rid)
        if folded[position]:
            hold_row(report, row, reference.field, message, causes, causes[reference.ref_table][value].reason)
        else:
            quarantine_row(report, row, reference.field, value, message, "foreign-key", causes)


def _fold(
    table: Table,
    rows: RowSet,
    folded: np.ndarray,
    broken: np.ndarray,
    value_at: dict[int, str],
    causes: Causes,
    folds: Folds,
) -> None:
    """Count the ``folded`` rows per reference at once, each count naming its first row, into ``folds``.

    The references come in the order of their first rows, as the per-row function meets them.
    """
    positions = np.flatnonzero(folded)
    if not len(positions):
        return
    indexes, firsts, counts = np.unique(broken[positions], return_index=True, return_counts=True)
    for k in np.argsort(firsts):
        reference = table.foreign_keys[indexes[k]]
        first = int(positions[firsts[k]])
        value = value_at[first]
        where = causes[reference.ref_table][value].where
        line = int(rows.lines[first])
        folds[reference.field] = Fold(
            reference.field, reference.ref_table, int(counts[k]), rows.file, line, value, where
        )


def _count_unchecked(fields: np.ndarray, unread: np.ndarray, through: np.ndarray) -> dict[str, Unchecked]:
    """The unchecked rows (each one's field, unread table and table led through) counted per unread table.

    Tables, fields and tables led through keep the order in which their first row comes, as the
    per-row count meets them.
    """
    counts: dict[str, Unchecked] = {}
    if not len(unread):
        return counts
    frame = pd.DataFrame({"unread": unread, "field": fields, "through": through})
    for name, group in frame.groupby("unread", sort=False):
        via = group["through"].dropna()
        by_table = via.value_counts()
        counts[str(name)] = Unchecked(
            len(group),
            dict.fromkeys(pd.unique(group["field"])),
            Counter({table: int(by_table[table]) for table in pd.unique(via)}),
        )
    return counts


def _resolve_programme_tree(
    programmes: RowSet, report: ValidationReport, limits: Limits, causes: Causes, folds: Folds
) -> np.ndarray:
    """Which programmes sit in a tree at most ``limits.nesting`` deep; the rest are quarantined."""
    ids = programmes.values["id"].tolist()
    parents = [parent if isinstance(parent, str) else None for parent in programmes.values["parent_id"].tolist()]
    position = {pid: i for i, pid in enumerate(ids)}
    raws: list[dict[str, str | None]] = []  # every programme's cells, read in one pass at the first quarantine

    def locate(pid: str) -> tuple[At, dict[str, str | None]]:
        if not raws:
            raws.extend(raw_rows(programmes, np.arange(len(programmes))))
        i = position[pid]
        return at(programmes, i), raws[i]

    kept = resolve_programme_tree(dict(zip(ids, parents, strict=True)), limits, report, causes, folds, locate)
    return np.fromiter((pid in kept for pid in ids), dtype=bool, count=len(ids))
