"""Parsing one table's CSV into validated rows: the header, each line against its row model, every limit.

Linear in the size of the text. Nothing raises on bad content: a problem is added to the report
with file, line, field and value (values cut to :data:`SHOWN_CHARS`), and a row that fails is
quarantined with its reasons.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from aifunding.data.grid import BOM, is_utf8
from aifunding.data.limits import Limits
from aifunding.data.messages import friendly_message
from aifunding.data.records import CsvReader, RunawayQuote, misquoted_cell, runaway_quote
from aifunding.data.report import Problem, QuarantinedRow, Severity, ValidationReport
from aifunding.data.tables import Table


@dataclass
class LoadedRow:
    """A row as read: its line in the file, its raw text values and its validated model."""

    file: str
    line: int
    raw: dict[str, str | None]
    model: BaseModel


M = TypeVar("M", bound=BaseModel)


def typed_rows(rows: Iterable[LoadedRow], model: type[M]) -> Iterator[tuple[LoadedRow, M]]:
    """Each row with its model typed as ``model``: the row model of the table the rows were parsed for.

    Raises TypeError on a row of another model, which would mean rows of two tables were mixed up.
    """
    for row in rows:
        if not isinstance(row.model, model):
            raise TypeError(f"{row.file}:{row.line} holds a {type(row.model).__name__}, not a {model.__name__}")
        yield row, row.model


def decode_csv_bytes(name: str, shown: str, data: bytes, report: ValidationReport) -> str | None:
    """Decode CSV bytes as UTF-8 (a byte-order mark is accepted and noted)."""
    data = _without_bom(name, shown, data, report)
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
                f"0x{data[exc.start]:02x}",  # the byte, as the upload's refusal names it (not Python's b'\xe9')
                f"the file is not UTF-8 text (for example Shift-JIS or Latin-1): the byte 0x{data[exc.start]:02x} "
                f"at offset {exc.start:,} cannot be read; save it as UTF-8 and load it again. No row of this table "
                "was loaded",
            )
        )
        return None


def utf8_csv_bytes(name: str, shown: str, data: bytes, report: ValidationReport) -> bytes | None:
    """The bytes :func:`decode_csv_bytes` would decode (a byte-order mark cut off); the same problems, None alike.

    pyarrow checks the encoding without decoding: a million awards are 700 MB as a Python string (two
    bytes a character once one is Japanese), and decoding them took seconds. Only a file that is not
    UTF-8 is decoded, to word its problem exactly.
    """
    if not is_utf8(data):
        decode_csv_bytes(name, shown, data, report)
        return None
    return _without_bom(name, shown, data, report)


def _without_bom(name: str, shown: str, data: bytes, report: ValidationReport) -> bytes:
    """``data`` without its byte-order mark, which is noted; ``data`` itself when it has none."""
    if not data.startswith(BOM):
        return data
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
    return data[len(BOM) :]


def parse_table(table: Table, file: str, text: str, report: ValidationReport, limits: Limits) -> list[LoadedRow]:
    """Parse one CSV text into validated rows, quarantining what fails. Linear in the size of the text."""
    if report_empty_file(table, file, text, report):
        return []
    reader = csv_reader(text)
    header = read_header(table, file, reader, report, limits)
    if header is None:
        return []
    return read_rows(table, file, reader, header, report, limits)


def csv_reader(text: str, offset: int = 0) -> CsvReader:
    """The csv module's reader of ``text``, line by line (any line end), counting lines in ``line_num`` (after
    ``offset`` lines: ``text`` is a piece of a file, its header line then lines from ``offset`` + 2 on)."""
    return CsvReader(text, offset)


def report_empty_file(table: Table, file: str, text: str, report: ValidationReport) -> bool:
    """Whether ``text`` holds nothing but whitespace, which is reported (the table is then unread)."""
    # `text.isspace()` is `not text.strip()` without copying a text of hundreds of megabytes.
    if text and not text.isspace():
        return False
    _problem(
        report,
        table,
        file,
        "empty-file",
        1,
        None,
        None,
        f"the file is empty; it needs at least the header line: {','.join(table.columns)}",
    )
    report.unread.add(table.name)
    return True


@dataclass(frozen=True)
class Header:
    """A table's header line as read: its column names in file order, and the required columns it lacks."""

    names: list[str]
    expected: frozenset[str]
    required_missing: list[str]


def _first_columns(table: Table, shown: int = 3) -> str:
    """The table's first ``shown`` columns, as its header starts ("id, name_en, name_ja, ...")."""
    columns = list(table.columns)
    return ", ".join(columns[:shown] + (["..."] if len(columns) > shown else []))


def read_header(
    table: Table, file: str, reader: Iterator[list[str]], report: ValidationReport, limits: Limits
) -> Header | None:
    """The header, the first record ``reader`` yields; None when no row can be read.

    Reports the header's problems (a header that is not CSV or too wide, unknown, duplicate and
    missing columns); a table none of whose rows can be read is marked unread.
    """
    try:
        record = next(reader)
    except csv.Error as exc:
        _problem(report, table, file, "csv-syntax", 1, None, None, f"the header line cannot be read as CSV: {exc}")
        report.unread.add(table.name)
        return None
    runaway = runaway_quote(reader, record, 1, None) if isinstance(reader, CsvReader) else None
    if runaway is not None:
        message = f"{runaway.describe(f'column {runaway.index + 1} of the header line')}. No row of this table was read"
        _problem(report, table, file, UNCLOSED_QUOTE, 1, None, record[runaway.index], message)
        report.unread.add(table.name)
        return None
    header = [h.strip() for h in record]
    if not any(header):
        # A blank line (or one of commas) where the header should be: every column would be missing and every
        # line after it too wide, one problem a line; it is one problem, and the table is not read.
        _problem(
            report,
            table,
            file,
            "blank-header",
            1,
            None,
            None,
            f"line 1 names no column: the header ({_first_columns(table)}) must be the file's first line, with "
            "nothing above it. No row of this table was read",
        )
        report.unread.add(table.name)
        return None
    if len(header) > limits.columns:
        _problem(
            report,
            table,
            file,
            "too-many-columns",
            1,
            None,
            None,
            f"the header has {len(header):,} columns, more than the limit of {limits.columns}; "
            f"the {table.name} table has {len(table.columns)}. No row of this table was read",
        )
        report.unread.add(table.name)
        return None
    expected = table.columns
    expected_set = set(expected)
    present = Counter(header)
    missing = [c for c in expected if c not in present]
    for column in header:
        if column not in expected_set:
            _problem(
                report,
                table,
                file,
                "unknown-column",
                1,
                clip(column) or "(blank)",
                column,
                f"'{clip(column)}' is not a column of the {table.name} table and its values were ignored; "
                f"allowed columns: {', '.join(expected)}",
            )
    for column in sorted(c for c, n in present.items() if n > 1 and c):
        _problem(
            report,
            table,
            file,
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
        _problem(
            report,
            table,
            file,
            "missing-column",
            1,
            column,
            None,
            f"the required column '{column}' is missing, {note}"
            if column in required
            else f"the optional column '{column}' is missing, {note}",
            severity,
        )
    # No row loads without a required column (each is quarantined, as its own): the table is as good as
    # unread, and rows that refer to it are counted, not each reported as a broken reference.
    if required:
        report.unread.add(table.name)
    return Header(header, frozenset(expected_set), required)


def read_rows(
    table: Table, file: str, reader: CsvReader, header: Header, report: ValidationReport, limits: Limits
) -> list[LoadedRow]:
    """Every row after the header, each checked by :func:`check_row`: blank lines skipped, at most ``limits.rows``.

    ``reader`` is a :func:`csv_reader` that has read the header.
    """
    loaded: list[LoadedRow] = []
    rows_seen = 0
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            _problem(
                report,
                table,
                file,
                "csv-syntax",
                start,
                None,
                None,
                f"this line cannot be read as CSV ({exc}); the rest of the file was not read",
            )
            break
        line = start
        runaway = runaway_quote(reader, values, start, len(header.names))
        if runaway is None and (not values or all(not v.strip() for v in values)):
            continue  # blank lines carry no data; csv writers often end files with one
        rows_seen += 1
        if rows_seen > limits.rows:
            report_too_many_rows(table, file, line, report, limits)
            break
        if runaway is not None:
            report_runaway_quote(table, file, header, values, runaway, runaway.describe, report)
            if runaway.lost:
                report.partly_read.add(table.name)
            continue
        misquoted = misquoted_cell(reader.last_line) if len(values) != len(header.names) else None
        if misquoted is not None:
            runaway = RunawayQuote(misquoted, start, start, True)
            report_runaway_quote(
                table, file, header, values, runaway, partial(_misquoted, len(values), len(header.names)), report
            )
            continue
        row = check_row(table, file, header, values, line, report, limits)
        if row is not None:
            loaded.append(row)
    return loaded


# A quote left open: the rows of the lines read into its cell were never read.
UNCLOSED_QUOTE = "unclosed-quote"


def report_runaway_quote(
    table: Table,
    file: str,
    header: Header,
    values: list[str],
    runaway: RunawayQuote,
    describe: Callable[[str], str],
    report: ValidationReport,
) -> None:
    """Report and quarantine the row whose cell ``runaway`` ran on: one error, at the line its quote opened.

    ``describe`` words what happened for the cell, given as "the <column> cell".
    """
    names = header.names
    column = names[runaway.index] if runaway.index < len(names) else None
    message = describe(f"the {column} cell" if column else f"value {runaway.index + 1} of this row")
    _problem(report, table, file, UNCLOSED_QUOTE, runaway.opened, column, values[runaway.index], message)
    raw = {name: (values[i] if i < len(values) else None) for i, name in enumerate(names)}
    cleaned = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}
    report.quarantined.append(QuarantinedRow(table.name, file, runaway.opened, clip_row(cleaned), (message,)))


def _misquoted(count: int, width: int, what: str) -> str:
    return (
        f"a quote opens {what} and is not closed where the value ends: it closes at a later quote on the line, "
        f"with text after it, so the line has {count} values but the header has {width} columns; close the quote where "
        'the value ends, or double a quote that is part of the text ("")'
    )


def report_too_many_rows(table: Table, file: str, line: int, report: ValidationReport, limits: Limits) -> None:
    """Report that ``line`` is the first row over ``limits.rows``, where reading stopped."""
    _problem(
        report,
        table,
        file,
        "too-many-rows",
        line,
        None,
        None,
        f"the file has more than {limits.rows:,} rows, the limit for one table; "
        "this line and the rest of the file were not read",
    )


def check_row(
    table: Table, file: str, header: Header, values: list[str], line: int, report: ValidationReport, limits: Limits
) -> LoadedRow | None:
    """The row of ``values`` (one non-blank line, as read) validated, or None after reporting and quarantining it."""
    names = header.names
    raw = {names[i]: (values[i] if i < len(values) else None) for i in range(len(names))}
    cleaned = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}
    reasons: list[str] = []
    too_long = next((i for i, v in enumerate(values) if len(v) > limits.cell_chars), None)
    if too_long is not None:
        long_column = names[too_long] if too_long < len(names) else None
        reasons.append(
            f"a value has {len(values[too_long]):,} characters, more than the limit of {limits.cell_chars:,}"
        )
        _problem(report, table, file, "cell-too-long", line, long_column, values[too_long], reasons[-1])
    elif len(values) != len(names):
        reasons.append(f"the line has {len(values)} values but the header has {len(names)} columns")
        _problem(report, table, file, "field-count", line, None, None, reasons[-1])
    elif header.required_missing:
        reasons.append("required column(s) missing from the header: " + ", ".join(header.required_missing))
    else:
        # An empty cell is a missing value: the model's default applies (status "active", caveat
        # kind "conflict"), and a required field says it is required.
        data = {k: v for k, v in cleaned.items() if k in header.expected and v is not None}
        try:
            model = table.model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                # A problem across fields names the one it points at (models.FieldError); pydantic gives no place.
                bad_column = (
                    str(err["loc"][0]) if err["loc"] else getattr((err.get("ctx") or {}).get("error"), "field", None)
                )
                value = cleaned.get(bad_column) if bad_column else None
                message = friendly_message(err, bad_column)
                reasons.append(f"{bad_column}: {message}" if bad_column else message)
                _problem(report, table, file, f"row:{err['type']}", line, bad_column, value, message)
        else:
            return LoadedRow(file, line, cleaned, model)
    report.quarantined.append(QuarantinedRow(table.name, file, line, clip_row(cleaned), tuple(reasons)))
    return None


def _problem(
    report: ValidationReport,
    table: Table,
    file: str,
    rule: str,
    line: int | None,
    column: str | None,
    value: str | None,
    message: str,
    severity: Severity = Severity.ERROR,
) -> None:
    report.problems.append(Problem(severity, rule, table.name, file, line, column, clip(value), message))


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
