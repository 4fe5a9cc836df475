"""An XLSX workbook in the package's own shape, read back as the text of the package's CSV files.

The workbook is the one ``aifunding export --format xlsx --package`` writes, or its template
(:mod:`aifunding.outputs.workbook`), perhaps edited in a spreadsheet since: each sheet named after a
table holds the table's header in row 1 and one record per row below. :func:`workbook_tables` turns
each such sheet into the exact text the table's CSV file would hold, for the validator to read as it
reads any package. It checks nothing the validator checks; it refuses, with one message naming the
workbook (and the sheet and cell), only what it cannot read faithfully:

- a file that is not an XLSX workbook, one that holds macros, or one that unpacks to more than a
  package may hold (:class:`~aifunding.data.limits.Limits` ``package_bytes``);
- a sheet that is not a table (the ``about``, ``notes`` and ``lists`` sheets are ignored);
- a cell holding a formula or an error value: a formula is never evaluated, and the result a
  spreadsheet saved beside it may be stale, so neither is used;
- more data rows than a table may hold (``rows``), or a value right of the columns it may have.

Cells become text as the CSV files spell it: text as it is (with the XLSX format's ``_xHHHH_``
escapes undone), whole numbers as digits, other numbers in plain notation with the digits the
spreadsheet holds (a spreadsheet number keeps 15 significant digits: a longer amount must be typed
as text), a date as YYYY-MM-DD (YYYY-MM or YYYY when the cell's format shows no day, or no month:
a month typed as "Apr 2024" is April 2024, not its first day), a date with a time of day as
``YYYY-MM-DD HH:MM:SS``, flags as ``true`` and ``false``.

Sheet row N is CSV line N: a blank row is an empty line, which the validator skips but counts, and
blank rows and columns after the last value are dropped. So a problem's "line N" is the sheet's row
N, down to the first cell that holds a line break: a CSV record holding one spans as many more lines,
and the rows below it are reported that many lines further down.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from io import BytesIO
from pathlib import PurePosixPath
from typing import Any

from aifunding.data.amounts import decimal_text
from aifunding.data.limits import Limits, describe_bytes
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.data.vocabulary import BOOLEAN_TEXT

# Sheets a package workbook holds besides its tables: what it is, what each column means, and the
# values its dropdowns offer. Reading ignores them.
INFO_SHEETS = ("about", "notes", "lists")
# Rows in one sheet, the header included (Excel's limit; openpyxl and LibreOffice share it).
XLSX_MAX_ROWS = 1_048_576
# The most characters a spreadsheet cell holds (Excel's limit; openpyxl cuts a longer text short).
XLSX_CELL_CHARS = 32_767
# The part of an .xlsm (or of an .xlsx renamed from one) that holds its macros.
MACROS = "vbaproject.bin"


class WorkbookRefused(ValueError):
    """A workbook that cannot be read faithfully; the message says why, naming the workbook and the cell."""


# The XLSX format's escape for a character its XML cannot hold (ECMA-376 ST_Xstring): ``_xHHHH_``, with
# ``_x005F_`` for an underscore that would otherwise start one. Spreadsheets undo it when they read a
# file and openpyxl does not, so the package workbook's writer and this reader do it themselves.
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
# What is escaped: characters XML 1.0 cannot hold, the carriage return (an XML reader turns it into a
# line feed), and an underscore that starts what would read as an escape.
_TO_ESCAPE = re.compile(r"[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def escape_text(text: str) -> str:
    """``text`` as an XLSX cell holds it, so that every character survives the file's XML."""
    return _TO_ESCAPE.sub(lambda match: f"_x{ord(match.group()):04X}_", text)


def unescape_text(text: str) -> str:
    """The text an XLSX cell's ``text`` stands for (what a spreadsheet shows): ``_xHHHH_`` escapes undone."""
    return _ESCAPED.sub(_unescaped, text) if "_x" in text else text


def _unescaped(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    # Half of a surrogate pair is no character: no text (and no UTF-8 file) can hold one alone.
    return match.group() if 0xD800 <= code <= 0xDFFF else chr(code)


def workbook_tables(data: bytes, name: str, limits: Limits | None = None) -> dict[str, str]:
    """Each table's sheet of the XLSX workbook ``data`` as the text of the table's CSV file.

    Args:
        data: the workbook file's bytes.
        name: its file name, for messages.
        limits: the sizes it may reach; by default :meth:`Limits.from_env`.

    Returns:
        Table name -> CSV text (UTF-8 text, header first, a line feed after each line), in the package's
        table order. A table with no sheet is left out, as a missing file would be.

    Raises:
        WorkbookRefused: saying what could not be read faithfully, and where.
    """
    limits = limits or Limits.from_env()
    _check_archive(data, name, limits)
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # here: a quarter of a second to import

    try:
        book = load_workbook(BytesIO(data), read_only=True, data_only=False)
    except Exception:  # whatever openpyxl trips on in a stranger's file, it means the same
        raise WorkbookRefused(_not_xlsx(name)) from None
    try:
        sheets = _table_sheets(book, name)
        return {table.name: _sheet_csv(sheets[table.name], name, limits) for table in TABLES if table.name in sheets}
    except WorkbookRefused:
        raise
    except Exception as exc:  # a sheet whose XML openpyxl cannot follow
        raise WorkbookRefused(f"{name} could not be read as a workbook ({type(exc).__name__}); {_SAVE_AS}") from None
    finally:
        book.close()


_SAVE_AS = "open it in a spreadsheet and save it as an Excel workbook (.xlsx)"


def _not_xlsx(name: str) -> str:
    return f"{name} is not an XLSX workbook (an .xls, .ods, .csv or password-protected file is not one); {_SAVE_AS}"


def _check_archive(data: bytes, name: str, limits: Limits) -> None:
    """Refuse a file that is no zip archive, one that holds macros, or one that unpacks to more than a package may hold.

    openpyxl reads a workbook's shared texts and styles whole: the sizes the archive states bound them
    (a part that unpacks to more than it states fails its check instead).
    """
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise WorkbookRefused(_not_xlsx(name)) from None
    if any(PurePosixPath(part.filename).name.lower() == MACROS for part in parts):
        raise WorkbookRefused(
            f"{name} holds macros (xl/vbaProject.bin), which are never run or kept; "
            "save it as an Excel workbook without macros (.xlsx) and upload that"
        )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.package_bytes:
        raise WorkbookRefused(
            f"{name} unpacks to {describe_bytes(unpacked)}, more than the {describe_bytes(limits.package_bytes)} "
            "a package may hold (AIFUNDING_LIMIT_PACKAGE_BYTES)"
        )


def _table_sheets(book: Any, name: str) -> dict[str, Any]:
    """The workbook's sheets named after tables; a sheet that is neither a table nor an information sheet is refused."""
    unknown = [sheet for sheet in book.sheetnames if sheet not in TABLES_BY_NAME and sheet not in INFO_SHEETS]
    if unknown:
        listed = ", ".join(f"'{sheet[:40]}'" for sheet in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise WorkbookRefused(
            f"{name}: {'sheet' if len(unknown) == 1 else 'sheets'} {listed} {'is' if len(unknown) == 1 else 'are'} "
            f"not a table of the package; a sheet is named after its table ({', '.join(TABLES_BY_NAME)}), "
            f"and the sheets {', '.join(INFO_SHEETS)} are ignored: rename or delete the others"
        )
    sheets = {sheet: book[sheet] for sheet in book.sheetnames if sheet in TABLES_BY_NAME}
    for sheet, content in sheets.items():
        if not hasattr(content, "iter_rows"):
            raise WorkbookRefused(f"{name}: the sheet '{sheet}' is a chart, not a table's rows")
    return sheets


def _sheet_csv(sheet: Any, name: str, limits: Limits) -> str:
    """One sheet as CSV text, row N as line N; blank rows after the last row with a value are dropped."""
    sheet.reset_dimensions()  # the size a file states may be wrong: read every row and cell it holds
    lines: list[str] = []
    blank = 0  # blank rows passed since the last row with a value: written once another such row follows
    width = 0  # the header's: a shorter row is padded to it, as a spreadsheet leaves trailing blanks out
    for number, row in enumerate(sheet.iter_rows(), start=1):
        if number > XLSX_MAX_ROWS:
            raise WorkbookRefused(
                f"{name}: the sheet '{sheet.title}' has rows past {XLSX_MAX_ROWS:,}, which no sheet has"
            )
        texts = _row_texts(row, sheet.title, name, limits)
        if not texts:
            blank += 1
            continue
        if number - 1 > limits.rows:
            raise WorkbookRefused(
                f"{name}: the sheet '{sheet.title}' has data in row {number:,}, past the {limits.rows:,} rows "
                "a table may hold below its header (AIFUNDING_LIMIT_ROWS)"
            )
        width = width or len(texts)
        lines += [""] * blank
        blank = 0
        lines.append(",".join(_csv_field(text) for text in texts + [""] * (width - len(texts))))
    return "".join(line + "\n" for line in lines)


def _row_texts(row: Sequence[Any], sheet: str, name: str, limits: Limits) -> list[str]:
    """The texts of a row's cells up to its last one with a value (none for a blank row)."""
    end = len(row)
    while end and row[end - 1].value in (None, ""):
        end -= 1
    if end > limits.columns:
        raise WorkbookRefused(
            f"{name}: {sheet}!{row[end - 1].coordinate} holds a value right of the {limits.columns:,} columns "
            "a table may have (AIFUNDING_LIMIT_COLUMNS); delete what is there"
        )
    return [_cell_text(cell, sheet, name) for cell in row[:end]]


def _cell_text(cell: Any, sheet: str, name: str) -> str:
    """One cell's value as the CSV file spells it; a formula or an error value is refused."""
    value = cell.value
    if cell.data_type == "f":
        formula = value if isinstance(value, str) else getattr(value, "text", None) or "a data-table formula"
        shown = formula if len(formula) <= 60 else formula[:59] + "…"
        raise WorkbookRefused(f"{name}: {sheet}!{cell.coordinate} holds a formula ({shown}); type the value instead")
    if cell.data_type == "e":
        raise WorkbookRefused(
            f"{name}: {sheet}!{cell.coordinate} holds an error value ({value}); type the value instead"
        )
    if value is None:
        return ""
    if isinstance(value, str):
        return unescape_text(value)
    if isinstance(value, bool):
        return BOOLEAN_TEXT[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # The shortest digits that are this number: what was typed, when it had at most 15 of them.
        return decimal_text(Decimal(repr(value)))
    if isinstance(value, datetime.datetime):
        if value.time() != datetime.time():
            return value.isoformat(sep=" ")
        return value.date().isoformat()[: _date_shown(cell.number_format or "")]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)  # a duration: no column holds one, so the validator says what it should be


# Parts of a number format that show themselves rather than the value: "text", [colour or locale], \x.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


def _date_shown(number_format: str) -> int:
    """How much of a date a cell's number format shows, as a length of YYYY-MM-DD: 10, 7 (no day) or 4 (a year).

    A spreadsheet turns "Apr 2024" typed into a cell into the first of April shown as ``mmm-yy``; the
    package's dates are as precise as their source, so that cell reads back as the month it shows.
    """
    code = _FORMAT_LITERALS.sub("", number_format).lower()
    if any(token in code for token in "dhs") or not any(token in code for token in "my"):
        return 10
    return 7 if "m" in code else 4


# A CSV value is quoted when it holds a comma, a double quote or a line break (a lone carriage return
# too, which Python's csv writer leaves bare when its lines end in a line feed).
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text
