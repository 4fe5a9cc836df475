"""The validation report: every problem found in a data package, with where it is."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem: where it is (table, file, line, field), what was there, and what is wrong.

    ``line`` is the line number in the file as a text editor shows it (the header is line 1);
    ``None`` when the problem concerns a whole file or the package.
    """

    severity: Severity
    rule: str
    table: str | None
    file: str | None
    line: int | None
    field: str | None
    value: str | None
    message: str

    def location(self) -> str:
        """``file:line: field`` as compilers print it, leaving out what is not known."""
        parts = [self.file or "datapackage.json"]
        if self.line is not None:
            parts.append(str(self.line))
        where = ":".join(parts)
        return f"{where}: {self.field}" if self.field else where

    def as_text(self) -> str:
        """One line for a terminal: a control character the data put in the message is written as its escape
        (``\\x1b``), as the value is, so a crafted file cannot clear or retitle the screen of whoever validates it."""
        value = f" (value: {self.value!r})" if self.value not in (None, "") else ""
        return _CONTROL.sub(_escaped, f"{self.location()}: {self.severity}: {self.message}") + value

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": str(self.severity)}


# C0 and C1 control characters and DEL: what a terminal may act on rather than show.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


@dataclass(frozen=True)
class QuarantinedRow:
    """A row that failed validation and was kept out of the loaded tables."""

    table: str
    file: str
    line: int
    row: dict[str, str | None]
    reasons: tuple[str, ...]


# Why the rows counted "not checked" were not (:meth:`ValidationReport.unchecked_why`), as ``counts`` says it.
UNCHECKED_WHY = {
    "unread": "they refer to a table that was not read",
    "partly": "they may refer to rows that were not read: a quote left open took them into one cell",
    "either": "they refer to a table that was not read, or may refer to rows that were not read",
}


@dataclass
class ValidationReport:
    """Everything the validator found, plus per-table row counts."""

    problems: list[Problem] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    # Tables whose file could not be read at all (missing, refused, not UTF-8, no header or one without a
    # required column): an output must never present one of these as an empty table.
    unread: set[str] = field(default_factory=set)
    # Tables some of whose lines were never read as rows (a quote left open took them into one cell): a
    # reference to an id such a table lacks may name a row not read, so it is counted as one to an unread table.
    partly_read: set[str] = field(default_factory=set)
    # Per table, rows read but neither checked nor loaded because they refer to an unread table
    # (directly or through other such rows); each table's count is one "unread-reference" problem.
    unchecked: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def add_parsed(self, table: str, parsed: ValidationReport, loaded: int) -> None:
        """What parsing ``table`` found, in a report of its own (tables are parsed two at a time), added to this one.

        Its rows read are those it ``loaded`` and those it quarantined (counted without rescanning every row).
        """
        self.problems += parsed.problems
        self.quarantined += parsed.quarantined
        self.unread |= parsed.unread
        self.partly_read |= parsed.partly_read
        self.rows_read[table] = loaded + len(parsed.quarantined)

    def by_rule(self) -> dict[str, list[Problem]]:
        """The problems grouped by rule code: codes in the order they first appear, each group in report order."""
        groups: dict[str, list[Problem]] = {}
        for problem in self.problems:
            groups.setdefault(problem.rule, []).append(problem)
        return groups

    def stats(self) -> dict[str, Any]:
        return {
            "tables": len(self.rows_read),
            "rows_read": sum(self.rows_read.values()),
            "rows_loaded": sum(self.rows_loaded.values()),
            "rows_quarantined": len(self.quarantined),
            "rows_unchecked": sum(self.unchecked.values()),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "by_table": {
                name: {"read": self.rows_read[name], "loaded": self.rows_loaded.get(name, 0)} for name in self.rows_read
            },
        }

    def left_out(self) -> dict[str, int]:
        """Per table, how many rows that were read are not loaded, where any are.

        Those rows were quarantined, or (``unchecked``) not checked because they refer to a table that was not read.
        """
        return {
            name: read - self.rows_loaded.get(name, 0)
            for name, read in self.rows_read.items()
            if read - self.rows_loaded.get(name, 0) > 0
        }

    def unchecked_why(self) -> str:
        """Why rows were not checked, as a key of :data:`UNCHECKED_WHY`: they refer to a table that was not read
        (``unread``), to one a quote left open kept from being read whole (``partly``), or to either."""
        if self.partly_read and self.unread:
            return "either"
        return "partly" if self.partly_read else "unread"

    def counts(self) -> str:
        """Errors, warnings and rows in one line, without a verdict (counts grouped: 3,522,095 rows)."""
        stats = self.stats()
        s = {key: f"{value:,}" if isinstance(value, int) else value for key, value in stats.items()}
        unchecked = f", {s['rows_unchecked']} not checked ({UNCHECKED_WHY[self.unchecked_why()]})"
        unchecked = unchecked if stats["rows_unchecked"] else ""
        return (
            f"{s['errors']} error(s), {s['warnings']} warning(s); "
            f"{s['rows_loaded']} of {s['rows_read']} rows loaded from {s['tables']} tables, "
            f"{s['rows_quarantined']} quarantined{unchecked}"
        )

    def summary(self) -> str:
        """The verdict and the counts, as the CLI's last line."""
        return f"{'valid' if self.valid else 'INVALID'}: {self.counts()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            "quarantined": [
                {"table": q.table, "file": q.file, "line": q.line, "row": q.row, "reasons": list(q.reasons)}
                for q in self.quarantined
            ],
            "unread_tables": sorted(self.unread),
            "partly_read_tables": sorted(self.partly_read),
            "unchecked_rows": dict(self.unchecked),
            "stats": self.stats(),
        }
