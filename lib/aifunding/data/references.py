"""Keys and references: the validation step that quarantines rows, cascading, in one pass.

Duplicate keys and references that do not resolve quarantine the rows that hold them; an award whose
programme was quarantined is quarantined too, so no loaded row points at nothing, and its problem
names the first cause with its file and line. Programmes are resolved as a tree: cycles and nesting
deeper than :attr:`Limits.nesting` are quarantined, so every later walk of the tree is short.

A row that refers to a table whose file was not read (``report.unread``), directly or through rows
that do, cannot be checked: it is not loaded either, but it is counted rather than quarantined, one
``unread-reference`` problem per referring table ("2,598,097 rows of award_recipients.csv refer to
awards.csv, which was not read, ..."), so an unread table of a million rows is one line, not millions.
The count is kept in ``report.unchecked``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aifunding.data.limits import Limits
from aifunding.data.models import Programme
from aifunding.data.parsing import LoadedRow, clip_row, typed_rows
from aifunding.data.report import Problem, QuarantinedRow, Severity, ValidationReport
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table

Rows = dict[str, list[LoadedRow]]
# Table -> id -> why the row with that id was quarantined (the first cause of a cascade), with its file and line.
Causes = dict[str, dict[str, str]]


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


@dataclass
class Unchecked:
    """The rows of one table that refer to one unread table: how many, by which fields, through which tables."""

    rows: int = 0
    fields: dict[str, None] = field(default_factory=dict)  # in the order met
    through: Counter[str] = field(default_factory=Counter)  # table whose unchecked rows they refer to -> rows

    def add(self, column: str, through: str | None) -> None:
        self.rows += 1
        self.fields.setdefault(column)
        if through is not None:
            self.through[through] += 1


def run_reference_rules(
    rows: Rows, report: ValidationReport, limits: Limits | None = None, files: Mapping[str, str] | None = None
) -> None:
    """Quarantine duplicate keys and rows whose references do not resolve, cascading, in one pass.

    Tables are visited in registry order, which puts every referenced table before the tables
    that refer to it; the programmes' own parent links are resolved as a tree (cycles and nesting
    deeper than ``limits.nesting`` are quarantined). A row that refers to a quarantined row says
    which one and why, so a follow-on problem always names its cause. A row that refers to a table
    in ``report.unread`` (or to a row left unchecked for that reason) is not loaded and is counted
    in one ``unread-reference`` problem per referring table; a reference that is known to be
    broken still quarantines the row. ``files`` names each table's file as the package gives it.
    """
    limits = limits or Limits()
    files = files or {}
    for table in TABLES:
        if not table.primary_key:
            continue
        first_line: dict[tuple, int] = {}
        kept = []
        for row in rows[table.name]:
            key = _key(row, table.primary_key)
            if key in first_line:
                shown, message = duplicate_key_message(table, key, first_line[key])
                _quarantine(report, table.name, row, table.primary_key[-1], shown, message, "duplicate-key")
            else:
                first_line[key] = row.line
                kept.append(row)
        rows[table.name] = kept

    causes = quarantine_causes(report)
    valid: dict[str, set[str]] = {}
    # Table -> id of a row left unchecked -> the unread table it refers to, directly or through other rows.
    blind: dict[str, dict[str, str]] = defaultdict(dict)
    for table in TABLES:
        kept = []
        unchecked: dict[str, Unchecked] = {}  # per unread table referred to
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
                    broken = fk
                    break
            if broken is not None:
                value = getattr(row.model, broken.field)
                message = dangling_message(broken.ref_table, value, causes)
                root = root_cause(broken.ref_table, value, causes)
                _quarantine(report, table.name, row, broken.field, value, message, "foreign-key", causes, root)
            elif unread_ref is not None:
                column, unread, through = unread_ref
                unchecked.setdefault(unread, Unchecked()).add(column, through)
                rid = getattr(row.model, "id", None)
                if isinstance(rid, str):
                    blind[table.name][rid] = unread
            else:
                kept.append(row)
        if table.name == "programmes":
            kept = _resolve_programme_tree(kept, report, limits, causes)
        rows[table.name] = kept
        if table.primary_key == ("id",):
            valid[table.name] = {getattr(row.model, table.primary_key[0]) for row in kept}
        report_unchecked(report, table.name, unchecked, files)


def duplicate_key_message(table: Table, key: tuple, first_line: int) -> tuple[str, str]:
    """The key as shown in the report, and why the row that repeats it was quarantined."""
    shown = ", ".join(str(k) for k in key)
    message = f"{' + '.join(table.primary_key)} '{shown}' is already used on line {first_line}; each row needs its own"
    return shown, message


def report_unchecked(
    report: ValidationReport, table: str, unchecked: dict[str, Unchecked], files: Mapping[str, str]
) -> None:
    """One problem per unread table that rows of ``table`` refer to, with how many rows and through what."""
    if not unchecked:
        return

    def file_of(name: str) -> str:
        return files.get(name) or TABLES_BY_NAME[name].path

    for unread, found in unchecked.items():
        n = found.rows
        many = n != 1
        via = "; ".join(
            f"{count:,} of them through rows of {file_of(through)} that refer to it"
            for through, count in found.through.items()
        )
        message = (
            f"{n:,} row{'s' if many else ''} of {file_of(table)} refer{'' if many else 's'} to {file_of(unread)}, "
            f"which was not read{f' ({via})' if via else ''}, so {'they' if many else 'it'} could not be checked "
            f"against it and {'were' if many else 'was'} not loaded; such rows are counted here, "
            "not listed or quarantined one by one"
        )
        report.problems.append(
            Problem(
                Severity.ERROR,
                "unread-reference",
                table,
                file_of(table),
                None,
                ", ".join(found.fields),
                None,
                message,
            )
        )
    report.unchecked[table] = report.unchecked.get(table, 0) + sum(u.rows for u in unchecked.values())


def quarantine_causes(report: ValidationReport) -> Causes:
    """Table -> id -> why the row with that id was quarantined, with its file and line."""
    causes: Causes = defaultdict(dict)
    for q in report.quarantined:
        rid = q.row.get("id")
        if rid and q.reasons:
            causes[q.table].setdefault(rid, f"{q.reasons[0]}, {q.file}:{q.line}")
    return causes


def dangling_message(ref_table: str, value: object, causes: Causes) -> str:
    cause = causes.get(ref_table, {}).get(str(value))
    if cause is not None:
        return f"{ROW_NOUNS.get(ref_table, ref_table)} '{value}' was quarantined: {cause}"
    return f"refers to {ref_table} id '{value}', which does not exist in {TABLES_BY_NAME[ref_table].path}"


def root_cause(ref_table: str, value: object, causes: Causes) -> str | None:
    """The first cause in a chain of quarantines, so a long chain never nests its messages."""
    return causes.get(ref_table, {}).get(str(value))


def _resolve_programme_tree(
    programmes: list[LoadedRow], report: ValidationReport, limits: Limits, causes: Causes
) -> list[LoadedRow]:
    """Keep the programmes that sit in a tree at most ``limits.nesting`` deep; quarantine the rest."""
    typed = list(typed_rows(programmes, Programme))
    by_id = {programme.id: row for row, programme in typed}

    def quarantine(pid: str, value: str | None, rule: str, message: str, root: str | None) -> None:
        _quarantine(report, "programmes", by_id[pid], "parent_id", value, message, rule, causes, root)

    kept = walk_programme_tree({p.id: p.parent_id for _, p in typed}, limits, causes, quarantine)
    return [row for row, programme in typed if programme.id in kept]


# Quarantines one programme found by the tree walk: (id, parent_id shown, rule, message, first cause or None).
TreeQuarantine = Callable[[str, str | None, str, str, str | None], None]


def walk_programme_tree(
    parent_of: dict[str, str | None], limits: Limits, causes: Causes, quarantine: TreeQuarantine
) -> set[str]:
    """The ids of the programmes that sit in a tree at most ``limits.nesting`` deep; ``quarantine`` gets the rest.

    ``parent_of`` maps each programme's id to its parent's, in row order. Shared by the per-row and the
    columnar validator, which hold their rows differently but must quarantine in the same order. Each
    programme is visited once: a walk up from an unresolved programme stops at the first one already
    resolved, and everything on the walk is resolved from there. (No programme is left out unchecked
    here: a programme refers to no table but countries, so when countries.csv is not read every
    programme is counted as unchecked before the tree is built.)
    """
    depth: dict[str, int] = {}  # resolved and kept: levels from the top (1 = no parent)
    bad: set[str] = set()  # resolved and quarantined
    for start in parent_of:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current in parent_of and current not in depth and current not in bad:
            if current in on_path:  # a cycle: every programme on it is inside itself
                for pid in path[path.index(current) :]:
                    message = f"programme '{pid}' is inside itself through its parents; parents must form a tree"
                    quarantine(pid, parent_of[pid], "parent-cycle", message, None)
                    bad.add(pid)
                path = path[: path.index(current)]
                break
            path.append(current)
            on_path.add(current)
            current = parent_of[current]
        # ``current`` is now None (top reached), unknown, resolved, or quarantined; settle ``path`` from it.
        base: int | None = 0 if current is None else depth.get(current)
        if current is not None and current not in parent_of and path:  # the top of the walk names no programme
            quarantine(path[-1], current, "foreign-key", dangling_message("programmes", current, causes), None)
            bad.add(path.pop())
        for pid in reversed(path):
            parent = parent_of[pid]
            if base is None or parent in bad:
                message = dangling_message("programmes", parent, causes)
                quarantine(pid, parent, "foreign-key", message, root_cause("programmes", parent, causes))
                bad.add(pid)
                base = None
            elif base + 1 > limits.nesting:
                message = (
                    f"programme '{pid}' sits {base + 1} levels deep; at most {limits.nesting} levels of nesting "
                    "are allowed (frame, programme, round, component is 4)"
                )
                quarantine(pid, parent, "nesting", message, None)
                bad.add(pid)
                base = None
            else:
                base += 1
                depth[pid] = base
    return set(depth)


def _quarantine(
    report: ValidationReport,
    table: str,
    row: LoadedRow,
    column: str,
    value: object,
    message: str,
    rule: str,
    causes: Causes | None = None,
    root: str | None = None,
) -> None:
    quarantine_row(
        report, table, row, row.raw, getattr(row.model, "id", None), column, value, message, rule, causes, root
    )


def quarantine_row(
    report: ValidationReport,
    table: str,
    row: RowLocation,
    raw: dict[str, str | None],
    rid: object,
    column: str,
    value: object,
    message: str,
    rule: str,
    causes: Causes | None = None,
    root: str | None = None,
) -> None:
    """Quarantine the row at ``row`` (``raw``: its cells, ``rid``: its id if it has one).

    Remembers why under its id (``root``: the first cause of a cascade) for follow-ons.
    """
    report.problems.append(row_problem(Severity.ERROR, rule, table, row, column, value, message))
    report.quarantined.append(QuarantinedRow(table, row.file, row.line, clip_row(raw), (f"{column}: {message}",)))
    if causes is not None and isinstance(rid, str):
        causes[table].setdefault(rid, root or f"{column}: {message}, {row.file}:{row.line}")
