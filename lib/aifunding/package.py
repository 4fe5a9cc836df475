"""Loading and validating a data package: one validator for the CLI, the dashboard and uploads.

A package is a folder with ``datapackage.json`` and one CSV per table (see :mod:`aifunding.tables`).
Loading never raises on bad content: each row is checked against its pydantic model, then keys and
package-wide rules run (:mod:`aifunding.rules`). Rows that fail are quarantined and reported with
file, line, field and value; valid rows still load. Only an unreadable package (no descriptor, a
descriptor that is not JSON) raises :class:`PackageReadError`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from aifunding.report import Problem, QuarantinedRow, Severity, ValidationReport
from aifunding.schema import DESCRIPTOR_NAME, base_type, unwrap_optional
from aifunding.tables import TABLES, TABLES_BY_NAME, Table

# Files larger than this are refused rather than parsed: uploads come from strangers, and the
# bundled package is a few hundred kilobytes.
MAX_FILE_BYTES = 200 * 1024 * 1024


class PackageReadError(Exception):
    """The package cannot be read at all (no descriptor, or a descriptor that is not JSON)."""


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
    def title(self) -> str:
        return str(self.descriptor.get("title") or self.path.name)

    def frame(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def resolve_descriptor(path: str | Path) -> Path:
    """The datapackage.json for a package folder or the descriptor path itself."""
    path = Path(path)
    if path.is_dir():
        path = path / DESCRIPTOR_NAME
    if not path.is_file():
        raise PackageReadError(f"no {DESCRIPTOR_NAME} found at {path}")
    return path


def read_descriptor(descriptor_path: Path) -> dict[str, Any]:
    try:
        text = descriptor_path.read_bytes().decode("utf-8-sig")
        descriptor = json.loads(text)
    except UnicodeDecodeError:
        raise PackageReadError(f"{descriptor_path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PackageReadError(f"{descriptor_path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except OSError as exc:
        raise PackageReadError(f"{descriptor_path} cannot be read: {exc.strerror}") from None
    if not isinstance(descriptor, dict):
        raise PackageReadError(f"{descriptor_path} must hold a JSON object")
    return descriptor


def load_package(path: str | Path) -> Package:
    """Load and validate the data package at ``path`` (a folder or its datapackage.json).

    Returns:
        The package with every valid row loaded and the report of everything else.

    Raises:
        PackageReadError: when there is no readable descriptor.
    """
    descriptor_path = resolve_descriptor(path)
    descriptor = read_descriptor(descriptor_path)
    report = ValidationReport()
    files = _resource_files(descriptor, descriptor_path.parent, report)
    texts = {name: _read_text(name, file, report) for name, file in files.items()}
    return validate_texts(descriptor_path.parent, descriptor, texts, report)


def validate_texts(
    root: Path,
    descriptor: dict[str, Any],
    texts: dict[str, tuple[str, str | None]],
    report: ValidationReport | None = None,
) -> Package:
    """Validate tables given as text: ``{table: (file name, CSV text or None if unreadable)}``.

    This is the entry point shared by files on disk and uploads held in memory.
    """
    from aifunding.rules import run_package_rules, run_reference_rules

    report = report or ValidationReport()
    rows: dict[str, list[LoadedRow]] = {}
    for table in TABLES:
        file, text = texts.get(table.name, (table.path, None))
        rows[table.name] = _parse_table(table, file, text, report) if text is not None else []
        report.rows_read[table.name] = len(rows[table.name]) + sum(
            1 for q in report.quarantined if q.table == table.name
        )
    run_reference_rules(rows, report)
    run_package_rules(rows, report)
    for name, loaded in rows.items():
        report.rows_loaded[name] = len(loaded)
    frames = {table.name: _to_frame(table, rows[table.name]) for table in TABLES}
    return Package(path=root, descriptor=descriptor, frames=frames, report=report, rows=rows)


def _resource_files(descriptor: dict[str, Any], root: Path, report: ValidationReport) -> dict[str, Path]:
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        report.problems.append(
            Problem(
                Severity.ERROR,
                "descriptor",
                None,
                DESCRIPTOR_NAME,
                None,
                "resources",
                None,
                "the descriptor has no 'resources' list; it must list one resource per table",
            )
        )
        resources = []
    by_name = {r.get("name"): r for r in resources if isinstance(r, dict)}
    files: dict[str, Path] = {}
    for table in TABLES:
        resource = by_name.get(table.name)
        if resource is None:
            report.problems.append(
                Problem(
                    Severity.ERROR,
                    "missing-table",
                    table.name,
                    DESCRIPTOR_NAME,
                    None,
                    "resources",
                    table.name,
                    f"the descriptor does not list the '{table.name}' table; expected a resource named "
                    f"'{table.name}' with path '{table.path}'",
                )
            )
            continue
        rel = resource.get("path")
        if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            report.problems.append(
                Problem(
                    Severity.ERROR,
                    "resource-path",
                    table.name,
                    DESCRIPTOR_NAME,
                    None,
                    "path",
                    str(rel),
                    f"the '{table.name}' resource needs a relative 'path' inside the package folder",
                )
            )
            continue
        files[table.name] = root / rel
    for name in by_name.keys() - TABLES_BY_NAME.keys():
        report.problems.append(
            Problem(
                Severity.WARNING,
                "unknown-table",
                str(name),
                DESCRIPTOR_NAME,
                None,
                "resources",
                str(name),
                f"resource '{name}' is not a known table and was not loaded; known tables: "
                + ", ".join(TABLES_BY_NAME),
            )
        )
    return files


def _read_text(name: str, file: Path, report: ValidationReport) -> tuple[str, str | None]:
    """Read one CSV as text, reporting a missing, huge or non-UTF-8 file instead of raising."""
    shown = file.name

    def fail(rule: str, message: str, line: int | None = None) -> tuple[str, None]:
        report.problems.append(Problem(Severity.ERROR, rule, name, shown, line, None, None, message))
        return shown, None

    if not file.is_file():
        return fail("missing-file", f"the file for the '{name}' table is missing")
    if file.stat().st_size > MAX_FILE_BYTES:
        return fail("file-too-large", f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB and was not read")
    data = file.read_bytes()
    return shown, decode_csv_bytes(name, shown, data, report)


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


def _parse_table(table: Table, file: str, text: str, report: ValidationReport) -> list[LoadedRow]:
    """Parse one CSV text into validated rows, quarantining what fails."""

    def problem(
        rule: str,
        line: int | None,
        column: str | None,
        value: str | None,
        message: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        report.problems.append(Problem(severity, rule, table.name, file, line, column, value, message))

    if not text.strip():
        problem(
            "empty-file",
            1,
            None,
            None,
            f"the file is empty; it needs at least the header line: {','.join(table.columns)}",
        )
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        problem("csv-syntax", 1, None, None, f"the header line cannot be read as CSV: {exc}")
        return []
    expected = table.columns
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    for column in extra:
        problem(
            "unknown-column",
            1,
            column or "(blank)",
            column,
            f"'{column}' is not a column of the {table.name} table and its values were ignored; "
            f"allowed columns: {', '.join(expected)}",
        )
    duplicated = sorted({c for c in header if header.count(c) > 1 and c})
    for column in duplicated:
        problem("duplicate-column", 1, column, column, f"the column '{column}' appears more than once in the header")
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
    line = 1
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
        raw = {header[i]: (values[i] if i < len(values) else None) for i in range(len(header))}
        cleaned = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}
        reasons: list[str] = []
        if len(values) != len(header):
            reasons.append(f"the line has {len(values)} values but the header has {len(header)} columns")
            problem("field-count", line, None, None, reasons[-1])
        elif required:
            reasons.append("required column(s) missing from the header: " + ", ".join(required))
        else:
            data = {k: v for k, v in cleaned.items() if k in expected}
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
        report.quarantined.append(QuarantinedRow(table.name, file, line, cleaned, tuple(reasons)))
    return loaded


_FIELD_HINTS = {
    "id": "use lowercase letters, digits and hyphens, starting with a letter or digit (for example kddi-2024-04)",
    "currency": "use a three-letter ISO 4217 code in capitals, such as JPY or USD",
    "country_id": "use a two-letter country code in capitals (JP, GB) or EU",
    "url": "use a full web address starting with http:// or https://",
    "language": "use a two-letter ISO 639-1 code in lowercase, such as en or ja",
}


def friendly_message(err: Any, column: str | None) -> str:
    """Turn a pydantic error into a sentence that says what is allowed."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing" or (value is None and kind.endswith("_type")):
        return "is required but empty"
    if kind == "enum":
        return f"'{value}' is not allowed; use one of: {ctx.get('expected', '')}"
    if kind in ("decimal_parsing", "decimal_type", "float_parsing"):
        return f"'{value}' is not a number; write amounts as plain digits with no separators or symbols (72500000000)"
    if kind in ("int_parsing", "int_from_float"):
        return f"'{value}' is not a whole number"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"{value} is too small: it must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{value} is too large: it must be at most {ctx.get('le')}"
    if kind == "string_pattern_mismatch":
        if column and (column.endswith("_id") or column == "id"):
            return f"'{value}' is not a valid identifier; {_FIELD_HINTS['id']}"
        if column in _FIELD_HINTS:
            return f"'{value}' is not valid; {_FIELD_HINTS[column]}"
        if column and ("date" in column or column in ("announced", "published", "status_as_of")):
            return f"'{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD (for example 2024-04-19)"
        return f"'{value}' does not match the pattern {ctx.get('pattern')}"
    if kind in ("string_too_short",):
        return "must not be empty"
    if kind in ("string_too_long",):
        return f"is too long (at most {ctx.get('max_length')} characters)"
    message = str(err.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


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
            stat = file.stat()
        except OSError:
            continue
        entries.append((file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def newest_source_date(package: Package) -> str | None:
    """The newest publication date among the package's sources: the data is "as of" this date."""
    dates = [d for d in package.frame("sources")["published"] if isinstance(d, str)]
    return max(dates) if dates else None
