"""Keys and references: the validation step that quarantines rows, cascading, in one pass.

Duplicate keys and references that do not resolve quarantine the rows that hold them; an award whose
programme was quarantined is quarantined too, so no loaded row points at nothing, and its reason
names the first cause with its file and line. Programmes are resolved as a tree: cycles and nesting
deeper than :attr:`Limits.nesting` are quarantined, so every later walk of the tree is short.

A row left out because of another row, not its own, is one problem per referring table, not one per
row (:mod:`aifunding.data.left_out`): a row that refers to a quarantined row is quarantined and listed
with its reason, and counted in one ``quarantined-reference`` problem ("5 rows of citations.csv refer
to rows of awards.csv that were quarantined ..."); a row that refers to a table whose file was not
read (``report.unread``), directly or through rows that do, cannot be checked: it is not loaded, and
is counted in one ``unread-reference`` problem, kept in ``report.unchecked``. So one bad cell or an
unread table of a million rows is a few lines, not millions. A reference to an id that does not
exist at all is the row's own ``foreign-key`` problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple, Protocol

from aifunding.data.left_out import Folds, Unchecked, add_to_fold, report_left_out
from aifunding.data.limits import Limits
from aifunding.data.models import Programme
from aifunding.data.parsing import LoadedRow, clip_row, typed_rows
from aifunding.data.report import Problem, QuarantinedRow, Severity, ValidationReport
from aifunding.data.tables import TABLES, TABLES_BY_NAME, ForeignKey, Table

Rows = dict[str, list[LoadedRow]]


class Cause(NamedTuple):
    """Why a row was quarantined, as a row that refers to it is told."""

    reason: str  # the first cause of its cascade, with that row's file and line ("amount: ..., awards.csv:2")
    where: str  # its own file and line


# Table -> id -> why the row with that id was quarantined.
Causes = dict[str, dict[str, Cause]]


class RowLocation(Protocol):
    """Where a row is: a :class:`LoadedRow`, or a row of a column-held table (see ``columnar_references``)."""

    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int: ...


def row_problem(
    severity: Severity, rule: str, table: str, row: RowLocation | None, column: str | None, value: object, message: str
) -> Problem:
    return Problem(
        severity,
        rule,
        table,
        row.file if row else TABLES_BY_NAME[table].path,
        row.line if row else None,
        column,
        None if value is None else str(value),
        message,
    )


def _key(row: LoadedRow, columns: Iterable[str]) -> tuple:
    return tuple(getattr(row.model, c) for c in columns)


# How a table's row is named in a follow-on message ("award 'x' was quarantined: ...").
ROW_NOUNS = {
    "countries": "country",
    "sources": "source",
    "organisations": "organisation",
    "programmes": "programme",
    "awards": "award",
    "markets": "market",
    "market_shares": "market share",
    "milestones": "milestone",
    "caveats": "caveat",
}


def run_reference_rules(
    rows: Rows, report: ValidationReport, limits: Limits | None = None, files: Mapping[str, str] | None = None
) -> None:
    """Quarantine duplicate keys and rows whose references do not resolve, cascading, in one pass.

    Tables are visited in registry order, which puts every referenced table before the tables
    that refer to it; the programmes' own parent links are resolved as a tree (cycles and nesting
    deeper than ``limits.nesting`` are quarantined). A row whose reference names no row is its own
    ``foreign-key`` problem; a row that refers to a quarantined row is quarantined too, its reason
    naming the first cause, and counted in one ``quarantined-reference`` problem per referring table
    and column. A row that refers to a table in ``report.unread`` (or to a row left unchecked for
    that reason) is not loaded and is counted in one ``unread-reference`` problem per referring
    table; a reference that is known to be broken still quarantines the row. A reference to an id that a
    table in ``report.partly_read`` lacks (and no quarantined row of it has) is counted alike: it may name a
    row that was never read. ``files`` names each table's file as the package gives it.
    """
    limits = limits or Limits()
    files = files or {}
    # Before the repeated keys: a row quarantined as a repeat is not why its id fails (the first row has it).
    causes = quarantine_causes(report)
    for table in TABLES:
        if not table.primary_key:
            continue
        first_line: dict[tuple, int] = {}
        kept = []
        for row in rows[table.name]:
            key = _key(row, table.primary_key)
            if key in first_line:
                shown, message = duplicate_key_message(table, key, first_line[key])
                held = HeldRow(table.name, row, row.raw, None)
                quarantine_row(report, held, table.primary_key[-1], shown, message, "duplicate-key")
            else:
                first_line[key] = row.line
                kept.append(row)
        rows[table.name] = kept

    valid: dict[str, set[str]] = {}
    # Table -> id of a row left unchecked -> the unread table it refers to, directly or through other rows.
    blind: dict[str, dict[str, str]] = defaultdict(dict)
    for table in TABLES:
        kept = []
        unchecked: dict[str, Unchecked] = {}  # per unread table referred to
        folds: Folds = {}
        for row in rows[table.name]:
            broken = None
            unread_ref: tuple[str, str, str | None] | None = None  # field, unread table, through table
            for fk in table.foreign_keys:
                value = getattr(row.model, fk.field)
                if fk.ref_table == table.name or value is None:
                    continue
                if fk.ref_table in report.unread:
                    unread_ref = unread_ref or (fk.field, fk.ref_table, None)
                elif value in blind[fk.ref_table]:
                    unread_ref = unread_ref or (fk.field, blind[fk.ref_table][value], fk.ref_table)
                elif value not in valid[fk.ref_table]:
                    if fk.ref_table in report.partly_read and value not in causes.get(fk.ref_table, {}):
                        # Perhaps a row that was never read: counted, not reported as a broken reference.
                        unread_ref = unread_ref or (fk.field, fk.ref_table, None)
                        continue
                    broken = fk
                    break
            rid = getattr(row.model, "id", None)
            if broken is not None:
                held = HeldRow(table.name, row, row.raw, rid)
                quarantine_reference(report, held, broken, getattr(row.model, broken.field), causes, folds)
            elif unread_ref is not None:
                column, unread, through = unread_ref
                unchecked.setdefault(unread, Unchecked()).add(column, through)
                if isinstance(rid, str):
                    blind[table.name][rid] = unread
            else:
                kept.append(row)
        if table.name == "programmes":
            kept = _resolve_programme_tree(kept, report, limits, causes, folds)
        rows[table.name] = kept
        if table.primary_key == ("id",):
            valid[table.name] = {getattr(row.model, table.primary_key[0]) for row in kept}
        report_left_out(report, table.name, folds, unchecked, files)


def duplicate_key_message(table: Table, key: tuple, first_line: int) -> tuple[str, str]:
    """The key as shown in the report, and why the row that repeats it was quarantined."""
    shown = ", ".join(str(k) for k in key)
    message = f"{' + '.join(table.primary_key)} '{shown}' is already used on line {first_line}; each row needs its own"
    return shown, message


def quarantine_causes(report: ValidationReport) -> Causes:
    """Table -> id -> why the row with that id was quarantined, with its file and line."""
    causes: Causes = defaultdict(dict)
    for q in report.quarantined:
        rid = q.row.get("id")
        if rid and q.reasons:
            where = f"{q.file}:{q.line}"
            causes[q.table].setdefault(rid, Cause(f"{q.reasons[0]}, {where}", where))
    return causes


def dangling_message(ref_table: str, value: object, causes: Causes) -> str:
    cause = causes.get(ref_table, {}).get(str(value))
    if cause is not None:
        return f"{ROW_NOUNS.get(ref_table, ref_table)} '{value}' was quarantined: {cause.reason}"
    return f"refers to {ref_table} id '{value}', which does not exist in {TABLES_BY_NAME[ref_table].path}"


def _resolve_programme_tree(
    programmes: list[LoadedRow], report: ValidationReport, limits: Limits, causes: Causes, folds: Folds
) -> list[LoadedRow]:
    """Keep the programmes that sit in a tree at most ``limits.nesting`` deep; quarantine the rest."""
    typed = list(typed_rows(programmes, Programme))
    by_id = {programme.id: row for row, programme in typed}
    parent_of = {p.id: p.parent_id for _, p in typed}
    kept = resolve_programme_tree(parent_of, limits, report, causes, folds, lambda pid: (by_id[pid], by_id[pid].raw))
    return [row for row, programme in typed if programme.id in kept]


# Where the programme with an id is, and its cells: how each validator hands its rows to the tree walk.
LocateProgramme = Callable[[str], tuple[RowLocation, dict[str, str | None]]]

# The parent reference of a programme, resolved by the tree walk rather than with the other references.
_PARENT = ForeignKey("parent_id", "programmes")


def resolve_programme_tree(
    parent_of: dict[str, str | None],
    limits: Limits,
    report: ValidationReport,
    causes: Causes,
    folds: Folds,
    locate: LocateProgramme,
) -> set[str]:
    """The ids of the programmes that sit in a tree at most ``limits.nesting`` deep; the rest are quarantined.

    ``parent_of`` maps each programme's id to its parent's, in row order. Shared by the per-row and the
    columnar validator, which hold their rows differently (``locate`` finds one) but must quarantine in
    the same order. Each programme is visited once: a walk up from an unresolved programme stops at
    the first one already resolved, and everything on the walk is resolved from there. (No programme
    is left out unchecked here: a programme refers to no table but countries, so when countries.csv
    is not read every programme is counted as unchecked before the tree is built.)
    """
    depth: dict[str, int] = {}  # resolved and kept: levels from the top (1 = no parent)
    bad: set[str] = set()  # resolved and quarantined

    def quarantine(pid: str, rule: str, message: str) -> None:
        quarantine_row(
            report, HeldRow("programmes", *locate(pid), pid), "parent_id", parent_of[pid], message, rule, causes
        )
        bad.add(pid)

    def refers(pid: str) -> None:  # its parent names no programme kept
        quarantine_reference(report, HeldRow("programmes", *locate(pid), pid), _PARENT, parent_of[pid], causes, folds)
        bad.add(pid)

    for start in parent_of:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current in parent_of and current not in depth and current not in bad:
            if current in on_path:  # a cycle: every programme on it is inside itself
                for pid in path[path.index(current) :]:
                    message = f"programme '{pid}' is inside itself through its parents; parents must form a tree"
                    quarantine(pid, "parent-cycle", message)
                path = path[: path.index(current)]
                break
            path.append(current)
            on_path.add(current)
            current = parent_of[current]
        # ``current`` is now None (top reached), unknown, resolved, or quarantined; settle ``path`` from it.
        base: int | None = 0 if current is None else depth.get(current)
        if current is not None and current not in parent_of and path:  # the top of the walk names no programme
            refers(path.pop())
        for pid in reversed(path):
            if base is None or parent_of[pid] in bad:
                refers(pid)
                base = None
            elif base + 1 > limits.nesting:
                message = (
                    f"programme '{pid}' sits {base + 1} levels deep; at most {limits.nesting} levels of nesting "
                    "are allowed (frame, programme, round, component is 4)"
                )
                quarantine(pid, "nesting", message)
                base = None
            else:
                base += 1
                depth[pid] = base
    return set(depth)


class HeldRow(NamedTuple):
    """A row to quarantine: its table, where it is, its cells, and its id if it has one."""

    table: str
    row: RowLocation
    raw: dict[str, str | None]
    rid: object


def quarantine_reference(
    report: ValidationReport, held: HeldRow, reference: ForeignKey, value: object, causes: Causes, folds: Folds
) -> None:
    """Quarantine ``held``, whose ``reference`` holds ``value``, which names no row kept.

    When ``value`` names no row at all, that is the row's own ``foreign-key`` problem; when it names a
    quarantined row, the row is quarantined with it, its reason naming the first cause, and is counted
    in ``folds`` rather than given a problem of its own.
    """
    cause = causes.get(reference.ref_table, {}).get(str(value))
    message = dangling_message(reference.ref_table, value, causes)
    if cause is None:
        quarantine_row(report, held, reference.field, value, message, "foreign-key", causes)
        return
    hold_row(report, held, reference.field, message, causes, cause.reason)
    add_to_fold(folds, reference.field, reference.ref_table, held.row.file, held.row.line, str(value), cause.where)


def quarantine_row(
    report: ValidationReport,
    held: HeldRow,
    column: str,
    value: object,
    message: str,
    rule: str,
    causes: Causes | None = None,
) -> None:
    """Quarantine ``held`` for a problem of its own, and remember why under its id, for the rows that refer to it."""
    report.problems.append(row_problem(Severity.ERROR, rule, held.table, held.row, column, value, message))
    hold_row(report, held, column, message, causes, None)


def hold_row(
    report: ValidationReport, held: HeldRow, column: str, message: str, causes: Causes | None, root: str | None
) -> None:
    """List ``held`` among the quarantined and remember why under its id (``root``: the first cause of a cascade)."""
    table, row, raw, rid = held
    report.quarantined.append(QuarantinedRow(table, row.file, row.line, clip_row(raw), (f"{column}: {message}",)))
    if causes is not None and isinstance(rid, str):
        where = f"{row.file}:{row.line}"
        causes[table].setdefault(rid, Cause(root or f"{column}: {message}, {where}", where))
