"""Loading and validating a data package: one validator for the CLI, the dashboard and uploads.

A package is a folder with ``datapackage.json`` and one CSV per table (see :mod:`aifunding.tables`).
Loading never raises on bad content: each row is checked against its pydantic model, then keys and
package-wide rules run (:mod:`aifunding.rules`). Rows that fail are quarantined and reported with
file, line, field and value; valid rows still load. Only an unreadable package (no descriptor, a
descriptor that is not JSON) raises :class:`PackageReadError`. Files are read through
:mod:`aifunding.reading` (regular files inside the package only) within :class:`Limits`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from aifunding.limits import Limits, describe_bytes
from aifunding.messages import friendly_message
from aifunding.reading import (
    PackageReadError,  # noqa: F401  (re-exported: callers catch it from here)
    UnsafeFile,
    check_relative_path,
    clean_descriptor,
    package_root,
    read_descriptor,
    read_inside,
)
from aifunding.report import Problem, QuarantinedRow, Severity, ValidationReport
from aifunding.schema import DESCRIPTOR_NAME, base_type, unwrap_optional
from aifunding.tables import TABLES, TABLES_BY_NAME, Table


@dataclass
class LoadedRow:
    """A row as read: its line in the file, its raw text values and its validated model."""

    file: str
    line: int
    raw: dict[str, str | None]
    model: BaseModel


@dataclass
class Package:
    """A loaded package: valid rows as frames, the descriptor, and the validation report."""

    path: Path
    descriptor: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    report: ValidationReport
    rows: dict[str, list[LoadedRow]] = field(repr=False, default_factory=dict)

    @property
    def name(self) -> str:
        """The package's own name (its descriptor's ``name``), never a path on this machine."""
        name = self.descriptor.get("name")
        return name if isinstance(name, str) and name else "package"

    @property
    def title(self) -> str:
        title = self.descriptor.get("title")
        return title if isinstance(title, str) and title else self.name

    def frame(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def load_package(path: str | Path, limits: Limits | None = None) -> Package:
    """Load and validate the data package at ``path`` (a folder or its datapackage.json).

    Only regular files inside the package folder are read, each within ``limits`` (by default
    :meth:`Limits.from_env`); anything else is one problem naming the table and why.

    Returns:
        The package with every valid row loaded and the report of everything else.

    Raises:
        PackageReadError: when there is no usable descriptor.
    """
    limits = limits or Limits.from_env()
    root = package_root(path)
    descriptor, issues = clean_descriptor(read_descriptor(root, limits))
    report = ValidationReport()
    for issue in issues:
        report.problems.append(
            Problem(
                Severity.WARNING,
                "descriptor-field",
                None,
                DESCRIPTOR_NAME,
                None,
                issue.field,
                issue.value,
                issue.message,
            )
        )
    files = _resource_files(descriptor, report)
    texts = _read_texts(root, files, report, limits)
    return validate_texts(root, descriptor, texts, report, limits)


def validate_texts(
    root: Path,
    descriptor: dict[str, Any],
    texts: dict[str, tuple[str, str | None]],
    report: ValidationReport | None = None,
    limits: Limits | None = None,
) -> Package:
    """Validate tables given as text: ``{table: (file name, CSV text or None if unreadable)}``.

    This is the entry point shared by files on disk and uploads held in memory. A table given as
    None (or not given) is recorded as unread, so outputs can refuse to pass it off as empty.
    """
    from aifunding.rules import run_package_rules, run_reference_rules

    limits = limits or Limits.from_env()
    report = report or ValidationReport()
    rows: dict[str, list[LoadedRow]] = {}
    for table in TABLES:
        file, text = texts.get(table.name, (table.path, None))
        if text is None:
            report.unread.add(table.name)
        rows[table.name] = _parse_table(table, file, text, report, limits) if text is not None else []
        report.rows_read[table.name] = len(rows[table.name]) + sum(
            1 for q in report.quarantined if q.table == table.name
        )
    run_reference_rules(rows, report, limits)
    run_package_rules(rows, report)
    for name, loaded in rows.items():
        report.rows_loaded[name] = len(loaded)
    frames = {table.name: _to_frame(table, rows[table.name]) for table in TABLES}
    return Package(path=root, descriptor=descriptor, frames=frames, report=report, rows=rows)


def _descriptor_problem(rule: str, table: str | None, field: str, value: str | None, message: str) -> Problem:
    return Problem(Severity.ERROR, rule, table, DESCRIPTOR_NAME, None, field, value, message)


def _resource_files(descriptor: dict[str, Any], report: ValidationReport) -> dict[str, str]:
    """Table name -> the relative path its resource names, for every table whose path is usable."""
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        report.problems.append(
            _descriptor_problem(
                "descriptor",
                None,
                "resources",
                None,
                "the descriptor has no 'resources' list; it must list one resource per table",
            )
        )
        resources = []
    by_name = {r["name"]: r for r in resources}
    files: dict[str, str] = {}
    for table in TABLES:
        resource = by_name.get(table.name)
        if resource is None:
            report.problems.append(
                _descriptor_problem(
                    "missing-table",
                    table.name,
                    "resources",
                    table.name,
                    f"the descriptor does not list the '{table.name}' table; expected a resource named "
                    f"'{table.name}' with path '{table.path}'",
                )
            )
            continue
        rel = resource.get("path")
        try:
            check_relative_path(rel)
        except UnsafeFile as exc:
            report.problems.append(
                _descriptor_problem(
                    "resource-path", table.name, "path", _short(rel), f"the '{table.name}' resource {exc}"
                )
            )
            continue
        files[table.name] = rel
    for name in sorted(by_name.keys() - TABLES_BY_NAME.keys()):
        report.problems.append(
            Problem(
                Severity.WARNING,
                "unknown-table",
                _short(name),
                DESCRIPTOR_NAME,
                None,
                "resources",
                _short(name),
                f"resource '{_short(name)}' is not a known table and was not loaded; known tables: "
                + ", ".join(TABLES_BY_NAME),
            )
        )
    return files


def _read_texts(
    root: Path, files: dict[str, str], report: ValidationReport, limits: Limits
) -> dict[str, tuple[str, str | None]]:
    """Each table's file as text, read through :func:`read_inside`; a refused file is one problem, never raised."""
    texts: dict[str, tuple[str, str | None]] = {}
    total = 0
    for name, rel in files.items():
        shown = _short(rel)

        def fail(rule: str, message: str, name: str = name, shown: str = shown) -> None:
            report.problems.append(Problem(Severity.ERROR, rule, name, shown, None, None, None, message))
            texts[name] = (shown, None)

        budget = min(limits.file_bytes, limits.package_bytes - total)
        try:
            data = read_inside(root, rel, limits.file_bytes)
        except UnsafeFile as exc:
            fail(exc.rule, f"the file for the '{name}' table {exc}")
            continue
        if len(data) > budget:
            fail(
                "package-too-large",
                f"the package's files add up to more than the {describe_bytes(limits.package_bytes)} limit, "
                f"so the '{name}' table was not read",
            )
            continue
        total += len(data)
        texts[name] = (shown, decode_csv_bytes(name, shown, data, report))
    return texts


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_csv_bytes(name: str, shown: str, data: bytes, report: ValidationReport) -> str | None:
    """Decode CSV bytes as UTF-8 (a byte-order mark is accepted and noted)."""
    if data.startswith(b"\xef\xbb\xbf"):
        report.problems.append(
            Problem(
                Severity.WARNING,
                "bom",
                name,
                shown,
                1,
                None,
                None,
                "the file starts with a byte-order mark (as Excel writes it); it was ignored",
            )
        )
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.problems.append(
            Problem(
                Severity.ERROR,
                "encoding",
                name,
                shown,
                line,
                None,
                repr(data[exc.start : exc.start + 1]),
                "the file is not UTF-8 text (for example Shift-JIS or Latin-1); save it as UTF-8 "
                "and load it again. No row of this table was loaded",
            )
        )
        return None


def _parse_table(table: Table, file: str, text: str, report: ValidationReport, limits: Limits) -> list[LoadedRow]:
    """Parse one CSV text into validated rows, quarantining what fails. Linear in the size of the text."""

    def problem(
        rule: str,
        line: int | None,
        column: str | None,
        value: str | None,
        message: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        report.problems.append(Problem(severity, rule, table.name, file, line, column, clip(value), message))

    if not text.strip():
        problem(
            "empty-file",
            1,
            None,
            None,
            f"the file is empty; it needs at least the header line: {','.join(table.columns)}",
        )
        report.unread.add(table.name)
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        problem("csv-syntax", 1, None, None, f"the header line cannot be read as CSV: {exc}")
        report.unread.add(table.name)
        return []
    if len(header) > limits.columns:
        problem(
            "too-many-columns",
            1,
            None,
            None,
            f"the header has {len(header):,} columns, more than the limit of {limits.columns}; "
            f"the {table.name} table has {len(table.columns)}. No row of this table was read",
        )
        report.unread.add(table.name)
        return []
    expected = table.columns
    expected_set = set(expected)
    present = Counter(header)
    missing = [c for c in expected if c not in present]
    for column in header:
        if column not in expected_set:
            problem(
                "unknown-column",
                1,
                clip(column) or "(blank)",
                column,
                f"'{clip(column)}' is not a column of the {table.name} table and its values were ignored; "
                f"allowed columns: {', '.join(expected)}",
            )
    for column in sorted(c for c, n in present.items() if n > 1 and c):
        problem(
            "duplicate-column",
            1,
            clip(column),
            column,
            f"the column '{clip(column)}' appears more than once in the header",
        )
    required = [c for c in missing if table.model.model_fields[c].is_required()]
    for column in missing:
        severity = Severity.ERROR if column in required else Severity.WARNING
        note = "so no row can be loaded" if column in required else "so it is empty in every row"
        problem(
            "missing-column",
            1,
            column,
            None,
            f"the required column '{column}' is missing, {note}"
            if column in required
            else f"the optional column '{column}' is missing, {note}",
            severity,
        )

    loaded: list[LoadedRow] = []
    rows_seen = 0
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problem(
                "csv-syntax",
                start,
                None,
                None,
                f"this line cannot be read as CSV ({exc}); the rest of the file was not read",
            )
            break
        line = start
        if not values or all(not v.strip() for v in values):
            continue  # blank lines carry no data; csv writers often end files with one
        rows_seen += 1
        if rows_seen > limits.rows:
            problem(
                "too-many-rows",
                line,
                None,
                None,
                f"the file has more than {limits.rows:,} rows, the limit for one table; "
                "this line and the rest of the file were not read",
            )
            break
        raw = {header[i]: (values[i] if i < len(values) else None) for i in range(len(header))}
        cleaned = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}
        reasons: list[str] = []
        too_long = next((i for i, v in enumerate(values) if len(v) > limits.cell_chars), None)
        if too_long is not None:
            column = header[too_long] if too_long < len(header) else None
            reasons.append(
                f"a value has {len(values[too_long]):,} characters, more than the limit of {limits.cell_chars:,}"
            )
            problem("cell-too-long", line, column, values[too_long], reasons[-1])
        elif len(values) != len(header):
            reasons.append(f"the line has {len(values)} values but the header has {len(header)} columns")
            problem("field-count", line, None, None, reasons[-1])
        elif required:
            reasons.append("required column(s) missing from the header: " + ", ".join(required))
        else:
            data = {k: v for k, v in cleaned.items() if k in expected_set}
            try:
                model = table.model.model_validate(data)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    column = str(err["loc"][0]) if err["loc"] else None
                    value = cleaned.get(column) if column else None
                    message = friendly_message(err, column)
                    reasons.append(f"{column}: {message}" if column else message)
                    problem(f"row:{err['type']}", line, column, value, message)
            else:
                loaded.append(LoadedRow(file, line, cleaned, model))
                continue
        report.quarantined.append(QuarantinedRow(table.name, file, line, clip_row(cleaned), tuple(reasons)))
    return loaded


# The csv module refuses fields over 128 KB with an error that ends the file; let every cell through
# to the per-cell check instead, which names the line and the limit (files are bounded in size).
csv.field_size_limit(2**31 - 1)

# Values echoed in the report (problems, quarantined rows) are cut to this many characters: enough to
# recognise the value, and a hostile megabyte cell is not copied into every report line.
SHOWN_CHARS = 200


def clip(value: str | None, limit: int = SHOWN_CHARS) -> str | None:
    """``value`` cut to ``limit`` characters with an ellipsis; None stays None."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


def clip_row(row: dict[str, str | None]) -> dict[str, str | None]:
    """A quarantined row as the report shows it: at most :data:`SHOWN_CHARS` columns, each value clipped."""
    return {clip(k) or "": clip(v) for k, v in list(row.items())[:SHOWN_COLUMNS]}


SHOWN_COLUMNS = 100


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return value


def _to_frame(table: Table, rows: Iterable[LoadedRow]) -> pd.DataFrame:
    """One frame per table: model fields as columns, enums as their string values, Decimals kept."""
    records = [{name: _plain(getattr(r.model, name)) for name in table.columns} for r in rows]
    frame = pd.DataFrame.from_records(records, columns=table.columns)
    for name, kind in field_types(table).items():
        if kind is Decimal:
            # Object dtype keeps Decimals exact; None (not NaN) marks a missing amount.
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        elif kind is int:
            frame[name] = pd.array(frame[name], dtype="Int64")
    return frame


def field_types(table: Table) -> dict[str, Any]:
    """Each column's base Python type, with Optional and Annotated unwrapped."""
    return {name: base_type(unwrap_optional(info.annotation)[0]) for name, info in table.model.model_fields.items()}


def package_signature(path: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime_ns, size) of the descriptor and every CSV in the package folder.

    Cheap (a few ``stat`` calls), so a dashboard can check it on every rerun and reload the
    package only when a file changed.
    """
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    entries = []
    for file in sorted([folder / DESCRIPTOR_NAME, *folder.glob("*.csv")]):
        try:
            stat = file.lstat()  # never follows a link: the package's files are read only as regular files
        except OSError:
            continue
        entries.append((file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def newest_source_date(package: Package) -> str | None:
    """The newest publication date among the package's sources: the data is "as of" this date."""
    dates = [d for d in package.frame("sources")["published"] if isinstance(d, str)]
    return max(dates) if dates else None
