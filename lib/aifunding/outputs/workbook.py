"""The package workbook: a package's own tables in one XLSX file that reads back exactly; and its template.

``aifunding export --format xlsx --package`` writes it and ``aifunding template`` writes the same
workbook without rows; :func:`aifunding.loading.workbook.workbook_tables` reads either back, edited in a
spreadsheet or not, as the text of the package's CSV files. Its sheets:

- ``about``: what it is: the package's title, name and version, when it was made and from which folder;
- one per table, named after it, in the registry's order (:data:`aifunding.data.tables.TABLES`): row 1
  the table's columns in the descriptor's order, each with a comment saying what it holds, then one row
  per (valid) row of the table;
- ``notes``: one row per table and column: its type, whether it is required, the values it allows and
  its description, from the descriptor generated from the models (:mod:`aifunding.data.schema`);
- ``lists``: the values each dropdown offers. Every enumerated column (a vocabulary, a currency, a flag)
  has a dropdown over all its rows below the header.

Cells are typed from the models, so that a cell reads back as the text the CSV file holds: text as
text, never a formula or an error value whatever it starts with (nothing is neutralised: an apostrophe
would change the data); an amount or share as a number when a spreadsheet number holds its digits (at
most 15 significant digits, shown with thousands separators), otherwise as text with its exact digits;
whole numbers as numbers; dates as the package's partial-date text (2024, 2024-04, 2024-04-12); flags
as ``true`` and ``false``. A table is written row by row in openpyxl's write-only mode, a chunk of rows
at a time, as :func:`aifunding.outputs.writers.write_xlsx` writes the tidy tables.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, BinaryIO

import pandas as pd
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.comments import Comment  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.datavalidation import DataValidation  # type: ignore[import-untyped]
from pydantic.fields import FieldInfo

from aifunding.data.amounts import AMOUNT_DECIMALS, AMOUNT_DIGITS
from aifunding.data.frames import field_types
from aifunding.data.models import CURRENCY_PATTERN, ID_PATTERN, PARTIAL_DATE_PATTERN
from aifunding.data.schema import PACKAGE_METADATA, annotated_metadata, table_schema, unwrap_optional
from aifunding.data.tables import TABLES, Table
from aifunding.data.vocabulary import BOOLEAN_TEXT
from aifunding.loading.package import Package
from aifunding.loading.rule_problems import known_currencies
from aifunding.loading.workbook import XLSX_MAX_ROWS, escape_text
from aifunding.outputs.about import about_rows
from aifunding.outputs.cells import spreadsheet_exact
from aifunding.outputs.refusals import check_cell_texts, check_sheet_rows
from aifunding.outputs.writers import CHUNK_ROWS

# How amounts and shares are shown (the value itself is exact): whole, or with up to 4 decimals.
WHOLE_FORMAT, DECIMAL_FORMAT = "#,##0", "#,##0.0###"
NOTES_HEADER = ("table", "column", "type", "required", "allowed values", "description")


@dataclass(frozen=True)
class Column:
    """One column of a table's sheet: its field, its base type, and what the notes and the dropdown say of it."""

    name: str
    kind: Any  # the field's base type: str, Decimal, int, bool or an enum
    type_words: str
    required: bool
    allowed: str
    description: str
    values: tuple[str, ...] = ()  # what its dropdown offers; none for a column without one

    @property
    def width(self) -> int:
        """A width that shows a typical value (characters)."""
        typical = {Decimal: 18, int: 10, bool: 7}.get(self.kind, 40)
        if self.values:
            typical = max(len(value) for value in self.values) + 3
        elif self.type_words in ("date", "identifier"):
            typical = {"date": 12, "identifier": 28}[self.type_words]
        return max(len(self.name) + 4, typical)


def table_columns(table: Table) -> list[Column]:
    """The columns of ``table``'s sheet, from the descriptor generated from its model."""
    kinds = field_types(table)
    return [_column(table, field, kinds[field["name"]]) for field in table_schema(table)["fields"]]


def _column(table: Table, field: dict[str, Any], kind: Any) -> Column:
    constraints = field.get("constraints", {})
    pattern = constraints.get("pattern")
    info = table.model.model_fields[field["name"]]
    values: tuple[str, ...] = ()
    if "enum" in constraints:
        values, type_words, allowed = tuple(constraints["enum"]), "one of a list", ", ".join(constraints["enum"])
    elif field["type"] == "boolean":
        values, type_words, allowed = tuple(BOOLEAN_TEXT.values()), "flag", ", ".join(BOOLEAN_TEXT.values())
    elif pattern == CURRENCY_PATTERN:
        values = tuple(sorted(known_currencies()[0]))
        type_words, allowed = (
            "currency",
            f"an ISO 4217 code such as JPY, USD or EUR (the dropdown lists all {len(values)})",
        )
    elif pattern == PARTIAL_DATE_PATTERN:
        type_words, allowed = "date", "YYYY, YYYY-MM or YYYY-MM-DD, as precise as the source"
    elif field["type"] == "number":
        type_words = f"exact number (at most {AMOUNT_DIGITS} significant digits and {AMOUNT_DECIMALS} decimals)"
        allowed = " and ".join(_bounds(info))
    elif field["type"] == "integer":
        type_words, allowed = "whole number", " and ".join(_bounds(info))
    else:
        type_words = "identifier" if pattern == ID_PATTERN else "text"
        allowed = f"text matching {pattern}" if pattern else ""
    if "maxLength" in constraints:
        allowed = "; ".join(filter(None, [allowed, f"at most {constraints['maxLength']} characters"]))
    if not info.is_required() and info.default is not None:
        allowed = "; ".join(filter(None, [allowed, f"empty means {_spelled(info.default)}"]))
    return Column(
        field["name"],
        kind,
        type_words,
        bool(constraints.get("required")),
        allowed,
        field.get("description", ""),
        values,
    )


def _spelled(value: Any) -> str:
    """A model's default as a CSV cell spells it."""
    if isinstance(value, Enum):
        return str(value.value)
    return BOOLEAN_TEXT[value] if isinstance(value, bool) else str(value)


_BOUND_WORDS = (("gt", "more than"), ("ge", "at least"), ("lt", "below"), ("le", "at most"))


def _bounds(info: FieldInfo) -> list[str]:
    """A number field's bounds in words ("more than 0", "below 1,000,000,000,000,000,000"), from its model."""
    wrapped = unwrap_optional(info.annotation)[0]
    words = []
    for meta in [*info.metadata, *annotated_metadata(wrapped)]:
        for attribute, word in _BOUND_WORDS:
            bound = getattr(meta, attribute, None)
            if bound is not None:
                # Digits grouped only where it helps: 1,000,000,000,000,000,000 but 2100 (a year).
                whole = bound == int(bound) and abs(bound) >= 10_000
                words.append(f"{word} {int(bound):,}" if whole else f"{word} {bound}")
    return words


def write_package_workbook(handle: BinaryIO, package: Package, generated_at: datetime.datetime | None = None) -> None:
    """The package workbook of ``package``'s valid rows (see the module's description), written to ``handle``.

    Raises:
        TooManyRows: when a table is longer than a sheet (before anything is written).
        IncompleteExport: when a text is longer than a spreadsheet cell holds (before anything is written).
    """
    check_sheet_rows(package.frames)
    frames = {table.name: package.frames[table.name] for table in TABLES if table.name in package.frames}
    check_cell_texts(frames, instead="use the package's CSV files instead")
    made = generated_at or datetime.datetime.now(datetime.UTC)
    about = [
        ("workbook", "the package's own tables, one sheet each: edit them and upload the workbook again"),
        *about_rows(package, None, made),
        ("version", str(package.descriptor.get("version", ""))),
        ("source", package.path.name),  # the folder's name, never a path on this machine
    ]
    _write(handle, about, package.frames)


def write_template(handle: BinaryIO, generated_at: datetime.datetime | None = None) -> None:
    """The package workbook with no rows: every table's sheet and header, the notes and the dropdowns."""
    made = generated_at or datetime.datetime.now(datetime.UTC)
    about = [
        ("title", f"Template: {PACKAGE_METADATA['title']}"),
        ("package", PACKAGE_METADATA["name"]),
        ("version", PACKAGE_METADATA["version"]),
        ("generated_at", made.isoformat(timespec="seconds")),
        (
            "how",
            "Fill each table's sheet with one row per record below its header; the notes sheet says what each "
            "column holds, and a column with a dropdown takes one of its values. Upload the workbook as it is: "
            "each sheet is read as the table's CSV file, and validated.",
        ),
    ]
    _write(handle, about, {})


def _write(handle: BinaryIO, about: list[tuple[str, str]], frames: Mapping[str, pd.DataFrame]) -> None:
    book = Workbook(write_only=True)
    columns = {table.name: table_columns(table) for table in TABLES}
    lists = _lists(columns)
    _info_sheet(book, "about", ("field", "value"), about, (16, 100))
    for table in TABLES:
        sheet = _table_sheet(book, table.name, columns[table.name], lists)
        frame = frames.get(table.name)
        if frame is not None:
            for row in _rows(sheet, columns[table.name], frame):
                sheet.append(row)
    notes = [
        (table.name, c.name, c.type_words, "yes" if c.required else "no", c.allowed, c.description)
        for table in TABLES
        for c in columns[table.name]
    ]
    _info_sheet(book, "notes", NOTES_HEADER, notes, (18, 22, 24, 10, 60, 80))
    _lists_sheet(book, lists)
    book.save(handle)


def _lists(columns: Mapping[str, list[Column]]) -> dict[tuple[str, ...], list[str]]:
    """Each distinct list of dropdown values, with the columns (table.column) that offer it, in order."""
    lists: dict[tuple[str, ...], list[str]] = {}
    for table, sheet_columns in columns.items():
        for column in sheet_columns:
            if column.values:
                lists.setdefault(column.values, []).append(f"{table}.{column.name}")
    return lists


def _list_range(lists: Mapping[tuple[str, ...], list[str]], values: tuple[str, ...]) -> str:
    """Where the ``lists`` sheet holds ``values``: their own column, below its header."""
    letter = get_column_letter(list(lists).index(values) + 1)
    return f"lists!${letter}$2:${letter}${len(values) + 1}"


def _table_sheet(book: Workbook, name: str, columns: list[Column], lists: Mapping[tuple[str, ...], list[str]]) -> Any:
    """A table's sheet with its header row written: widths, comments, a frozen header, dropdowns."""
    sheet = book.create_sheet(name)
    sheet.freeze_panes = "A2"
    for number, column in enumerate(columns, start=1):
        letter = get_column_letter(number)
        sheet.column_dimensions[letter].width = column.width
        if column.values:
            dropdown = DataValidation(
                type="list",
                formula1=_list_range(lists, column.values),
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=f"Not a {column.name}",
                error=f"{column.name} takes one of the values its dropdown offers (the notes sheet explains them)",
            )
            dropdown.add(f"{letter}2:{letter}{XLSX_MAX_ROWS}")
            sheet.data_validations.append(dropdown)
    sheet.append([_header_cell(sheet, column) for column in columns])
    return sheet


def _header_cell(sheet: Any, column: Column) -> WriteOnlyCell:
    cell = _text_cell(sheet, column.name)
    cell.font = Font(bold=True)
    words = [column.description, column.type_words + ("; required" if column.required else ""), column.allowed]
    cell.comment = Comment("\n".join(filter(None, words)), "aifunding", width=320, height=140)
    return cell


def _info_sheet(
    book: Workbook, name: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], widths: tuple[int, ...]
) -> None:
    sheet = book.create_sheet(name)
    sheet.freeze_panes = "A2"
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.append([_bold(_text_cell(sheet, text)) for text in header])
    for row in rows:
        sheet.append([_text_cell(sheet, str(text)) for text in row])


def _lists_sheet(book: Workbook, lists: Mapping[tuple[str, ...], list[str]]) -> None:
    """One column per list of dropdown values, headed by the columns that offer it."""
    sheet = book.create_sheet("lists")
    for number in range(1, len(lists) + 1):
        sheet.column_dimensions[get_column_letter(number)].width = 24
    sheet.append([_bold(_text_cell(sheet, ", ".join(users))) for users in lists.values()])
    for position in range(max((len(values) for values in lists), default=0)):
        sheet.append([_text_cell(sheet, values[position]) if position < len(values) else None for values in lists])


def _bold(cell: WriteOnlyCell) -> WriteOnlyCell:
    cell.font = Font(bold=True)
    return cell


def _text_cell(sheet: Any, text: str) -> WriteOnlyCell:
    """A cell that holds ``text`` as text: never a formula or an error value, every character kept."""
    cell = WriteOnlyCell(sheet, value=escape_text(text))
    # openpyxl takes a text starting with "=" for a formula, and "#N/A" and the like for error values.
    cell.data_type = "s"
    return cell


def _rows(sheet: Any, columns: list[Column], frame: pd.DataFrame) -> Iterator[list[Any]]:
    """The table's rows as lists of cells, built a chunk of :data:`CHUNK_ROWS` rows at a time."""
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = spreadsheet_exact(frame.iloc[start : start + CHUNK_ROWS][[c.name for c in columns]])
        cells = [_column_cells(sheet, column, chunk[column.name]) for column in columns]
        yield from (list(row) for row in zip(*cells, strict=True))


def _column_cells(sheet: Any, column: Column, values: pd.Series) -> list[Any]:
    """One column of a chunk as cells: None where a value is missing."""
    missing = values.isna().tolist()
    present = values.astype(object).tolist()
    if column.kind is bool:
        return [None if gone else BOOLEAN_TEXT[bool(v)] for v, gone in zip(present, missing, strict=True)]
    if column.kind is int:
        return [None if gone else int(v) for v, gone in zip(present, missing, strict=True)]
    if column.kind is Decimal:
        return [None if gone else _number_cell(sheet, v) for v, gone in zip(present, missing, strict=True)]
    return [None if gone else _text_cell(sheet, str(v)) for v, gone in zip(present, missing, strict=True)]


def _number_cell(sheet: Any, value: Decimal | str) -> WriteOnlyCell:
    """An amount or share: a number with a format that shows all its digits, or (past 15 of them) exact text."""
    if isinstance(value, str):
        return _text_cell(sheet, value)
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = WHOLE_FORMAT if value == value.to_integral_value() else DECIMAL_FORMAT
    return cell
