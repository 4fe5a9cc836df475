"""Rows left out because of another row, not their own: one problem per referring table, not one per row.

Two kinds, each counted per referring table and worded alike ("503 rows of award_recipients.csv
refer to ..."), so that one bad cell or one unreadable file is a few lines of the report, not millions:

- ``unread-reference``: rows that refer to a table whose file was not read cannot be checked; they
  are not loaded, and are counted (``report.unchecked``), not listed or quarantined one by one.
- ``quarantined-reference``: rows that refer to a row that was quarantined (for its own problem, or
  down a chain: a programme, its awards, their recipients and citations) are quarantined with it, and
  each is listed with its reason among the quarantined rows; the problem counts them and names the
  first. A reference to an id that does not exist at all stays the row's own ``foreign-key`` problem.

Both validators (:mod:`aifunding.data.references`, :mod:`aifunding.data.columnar_references`) fill
the same records and report them here, so their reports agree to the byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from aifunding.data.report import Problem, Severity, ValidationReport
from aifunding.data.tables import TABLES_BY_NAME

UNREAD_REFERENCE = "unread-reference"
QUARANTINED_REFERENCE = "quarantined-reference"


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


@dataclass
class Fold:
    """The rows of one table quarantined only because the row each refers to through ``field`` was.

    ``file``, ``line`` and ``value`` are the first of them (the lowest line) and the id it refers to;
    ``where`` is the file and line of the quarantined row that id names.
    """

    field: str
    ref_table: str
    rows: int
    file: str
    line: int
    value: str
    where: str


# Per referring column of one table, the rows it left out, in the order their first rows are met.
Folds = dict[str, Fold]


def add_to_fold(folds: Folds, column: str, ref_table: str, file: str, line: int, value: str, where: str) -> None:
    """Count one more row left out through ``column``, keeping the first (the lowest line) to name."""
    found = folds.get(column)
    if found is None:
        folds[column] = Fold(column, ref_table, 1, file, line, value, where)
        return
    found.rows += 1
    if line < found.line:
        found.file, found.line, found.value, found.where = file, line, value, where


def report_left_out(
    report: ValidationReport,
    table: str,
    folds: Folds,
    unchecked: Mapping[str, Unchecked],
    files: Mapping[str, str],
) -> None:
    """The problems that count the rows of ``table`` left out because of other rows: folds, then unchecked."""

    def file_of(name: str) -> str:
        return files.get(name) or TABLES_BY_NAME[name].path

    def counted(rule: str, file: str, line: int | None, fields: str, message: str) -> None:
        # A row left out with the row it refers to is that row's consequence, not a mistake of its own:
        # the cause is the error (one per bad row, as a register's reader needs), the fold a warning.
        severity = Severity.WARNING if rule == QUARANTINED_REFERENCE else Severity.ERROR
        report.problems.append(Problem(severity, rule, table, file, line, fields, None, message))

    for fold in folds.values():
        n, target = fold.rows, file_of(fold.ref_table)
        if n == 1:
            referred = f"a row of {target} that was quarantined ('{fold.value}', {fold.where}), so it was"
            listed = "it is listed with its reason among the quarantined rows"
        else:
            referred = f"rows of {target} that were quarantined (first: '{fold.value}', {fold.where}), so they were"
            listed = "each is listed with its reason among the quarantined rows, not here one by one"
        message = f"{_rows_refer(n, file_of(table))} {referred} quarantined too; {listed}"
        counted(QUARANTINED_REFERENCE, fold.file, fold.line, fold.field, message)
    for unread, found in unchecked.items():
        n = found.rows
        via = "; ".join(
            f"{count:,} of them through rows of {file_of(through)} that refer to it"
            for through, count in found.through.items()
        )
        which = "which was not read" if unread in report.unread else "rows of which were not read (a quote left open)"
        message = (
            f"{_rows_refer(n, file_of(table))} {file_of(unread)}, {which}{f' ({via})' if via else ''}, "
            f"so {'it' if n == 1 else 'they'} could not be checked against it and {'was' if n == 1 else 'were'} "
            "not loaded; such rows are counted here, not listed or quarantined one by one"
        )
        counted(UNREAD_REFERENCE, file_of(table), None, ", ".join(found.fields), message)
    if unchecked:
        report.unchecked[table] = report.unchecked.get(table, 0) + sum(u.rows for u in unchecked.values())


def _rows_refer(n: int, file: str) -> str:
    """A count's opening words: ``1 row of x.csv refers to``, ``1,024 rows of x.csv refer to``."""
    return f"{n:,} row of {file} refers to" if n == 1 else f"{n:,} rows of {file} refer to"
