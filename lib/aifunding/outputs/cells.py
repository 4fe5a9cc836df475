"""Cells that are safe to hand out: no formula a spreadsheet would run, no amount it would round, exact JSON.

Every export and download goes through here: :func:`neutralise_frame` before a table leaves the
program, :func:`spreadsheet_exact` before it is written to XLSX, :func:`records` for JSON.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Hashable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from aifunding.data.amounts import decimal_text
from aifunding.i18n import Translator
from aifunding.loading.workbook import XLSX_CELL_CHARS, escape_text

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"); prefixing an apostrophe makes it plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Return text that a spreadsheet will show rather than evaluate; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and every column header neutralised (see :func:`neutralise`)."""
    result = frame.copy()
    result.columns = [neutralise(str(c)) for c in result.columns]
    for column in result.columns:
        values = result[column]
        if isinstance(values.dtype, pd.StringDtype):
            # A text column at once: only the cells that start like a formula are touched.
            risky = _starts_like_a_formula(values)
            if risky is not None:
                result[column] = values.where(~risky, "'" + values)
        elif values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "decimal":
            continue  # exact amounts alone: no text to neutralise
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            result[column] = values.map(neutralise)
    return result


# The same prefixes (one ASCII character each) as byte values: a text column is checked by its first byte in one
# pass (a character beyond ASCII never starts with one of these bytes in UTF-8).
assert all(len(prefix) == 1 and prefix.isascii() for prefix in FORMULA_PREFIXES)
_FORMULA_FIRST_BYTE = np.zeros(256, dtype=bool)
_FORMULA_FIRST_BYTE[[ord(prefix) for prefix in FORMULA_PREFIXES]] = True


def _starts_like_a_formula(values: pd.Series) -> pd.Series | None:
    """Which cells of a text column start like a formula, or None when none does (missing cells never)."""
    if getattr(values.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa  # type: ignore[import-untyped]

        text = pa.array(values)
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        # Each cell's first byte read off the Arrow buffers (its offset into the data), looked up in a table of 256.
        validity, offsets_buffer, data = text.buffers()
        width = np.dtype(np.int64 if pa.types.is_large_string(text.type) else np.int32)
        offsets = np.frombuffer(offsets_buffer, dtype=width, count=len(text) + 1, offset=text.offset * width.itemsize)
        raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
        filled = offsets[1:] > offsets[:-1]  # an empty cell starts with nothing
        starts = np.zeros(len(text), dtype=bool)
        starts[filled] = _FORMULA_FIRST_BYTE[raw[offsets[:-1][filled]]]
        if validity is not None:
            starts &= text.is_valid().to_numpy(zero_copy_only=False)
        if not starts.any():
            return None
        return pd.Series(starts, index=values.index, dtype=bool)
    risky = values.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
    return risky if risky.any() else None


# A spreadsheet number holds 15 significant digits; amounts beyond that are written as exact text.
SPREADSHEET_DIGITS = 15


def spreadsheet_exact(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose Decimals a spreadsheet would round are text in plain notation; the rest stay numbers."""
    result = frame.copy()
    for column in result.columns:
        if result[column].dtype == object:
            result[column] = result[column].map(_exact_cell)
    return result


def _exact_cell(value: Any) -> Any:
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and len(value.normalize().as_tuple().digits) > SPREADSHEET_DIGITS
    ):
        return decimal_text(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    """One dict per row, as JSON holds it: missing cells None, amounts exact decimal text.

    Built a column at a time (a list of plain values each, then zipped into rows), not cell by cell.
    """
    columns = list(frame.columns)
    values = [_json_column(frame.iloc[:, i]) for i in range(len(columns))]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)] if columns else []


def _json_column(column: pd.Series) -> list[Any]:
    missing = column.isna().tolist()
    return [None if gone else json_value(v) for v, gone in zip(column.astype(object).tolist(), missing, strict=True)]


def json_value(value: Any) -> Any:
    # Amounts are exact decimal strings in plain notation ("72500000000", "0.25"): one JSON type per
    # column, exact at any size (a JSON number past 2^53 is rounded by JavaScript and most readers).
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value


def json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# RFC 4180's line end. With a bare "\n" the csv module quotes a cell holding "\n" but not one holding a lone
# "\r", which every reader (pandas, pyarrow, a spreadsheet) takes for a line end: the row split in two.
CSV_LINE_END = "\r\n"


def table_csv_bytes(frame: pd.DataFrame, about: list[tuple[str, str]], cents: Collection[str] = ()) -> bytes:
    """One table as CSV, after a header block of ``# key: value`` lines saying what it is.

    The header names the view, its link, sources and generation time; ``pandas.read_csv(path,
    comment="#")`` (or skipping the lines that start with ``#``) reads the table back. The columns named in
    ``cents`` hold amounts to the cent (converted ones): each is written with its two places, ``4013690.20``.
    """
    header = "".join(f"# {key}: {' '.join(str(value).splitlines())}{CSV_LINE_END}" for key, value in about)
    table = plain_numbers(neutralise_frame(frame), cents=frozenset(neutralise(str(c)) for c in cents))
    return (header + table.to_csv(index=False, lineterminator=CSV_LINE_END)).encode("utf-8")


# Up to this size every whole number is a float exactly (2 ** 53), so its digits are the number's.
_EXACT_WHOLE = 2.0**53


def plain_numbers(frame: pd.DataFrame, cents: Collection[Hashable] = frozenset()) -> pd.DataFrame:
    """``frame`` with each column of floats written as a reader would: a whole amount as its digits
    ("1930000000", not "1930000000.0"), any other as Python's shortest text that reads back as the same number
    ("12484995.14"), and one of the columns named in ``cents`` with two places ("4013690.20"). A display table
    keeps amounts as floats so that a page sorts and groups them; a file of text has no reason to show that.
    The frame is not copied when it has no column of floats."""
    out: pd.DataFrame | None = None
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if not pd.api.types.is_float_dtype(values.dtype):
            continue
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        known = ~np.isnan(numbers)
        if frame.columns[i] in cents:
            out = frame.copy() if out is None else out
            out.isetitem(i, [f"{number:.2f}" if seen else None for number, seen in zip(numbers, known, strict=True)])
            continue
        whole = known & (np.abs(numbers) < _EXACT_WHOLE) & (numbers == np.trunc(numbers))
        cells = np.full(len(numbers), None, dtype=object)
        cells[whole] = numbers[whole].astype(np.int64).astype(str)
        other = known & ~whole
        cells[other] = [repr(float(number)) for number in numbers[other]]
        out = frame.copy() if out is None else out
        out.isetitem(i, cells)
    return frame if out is None else out


# What may need escaping in a sheet (loading.workbook's pattern without its look-ahead, which Arrow's regex lacks).
_MAY_ESCAPE = r"[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]|_x"


def sheet_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text as a sheet's cell holds it (control characters as _xHHHH_ escapes, which a
    spreadsheet shows as the characters): openpyxl refuses a control character, and an XML reader turns a
    carriage return into a line feed. Only the few texts that need it are escaped; the frame is not copied
    when none does."""
    out: pd.DataFrame | None = None
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if not (isinstance(values.dtype, pd.StringDtype) or values.dtype == object):
            continue
        try:
            flagged = values.str.contains(_MAY_ESCAPE, regex=True).to_numpy(dtype=bool, na_value=False)
        except AttributeError:  # a column of amounts (Decimals), not text
            continue
        if flagged.any():
            out = frame.copy() if out is None else out
            cells = values.to_numpy(dtype=object, copy=True)
            cells[flagged] = [escape_text(v) if isinstance(v, str) else v for v in cells[flagged]]
            out.isetitem(i, cells)
    return frame if out is None else out


def over_long_cells(frame: pd.DataFrame) -> Iterator[tuple[int, int, int]]:
    """Each text of ``frame`` longer than a spreadsheet cell holds as a sheet writes it (control characters escaped):
    its row and column positions and that length, in column order. ``frame`` is as it will be written (neutralised,
    where it is). Only texts over a seventh of a cell are looked at: an escape (_xHHHH_) stands for one character
    in seven. openpyxl would cut such a text short, with no more than a warning.
    """
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if not (isinstance(values.dtype, pd.StringDtype) or values.dtype == object):
            continue
        try:
            long = values.str.len().gt(XLSX_CELL_CHARS // 7).to_numpy(dtype=bool, na_value=False)
        except AttributeError:  # a column of amounts (Decimals), not text
            continue
        for position in np.flatnonzero(long).tolist():
            written = len(escape_text(values.iloc[position]))
            if written > XLSX_CELL_CHARS:
                yield position, i, written


# A workbook's "about" sheet names this many of the cells it could not hold, and counts the rest.
CUT_NAMED = 10


def fit_cells(frame: pd.DataFrame, note: Callable[[int], str]) -> tuple[pd.DataFrame, list[tuple[int, str, int]]]:
    """``frame`` with each text too long for a spreadsheet cell (:func:`over_long_cells`) replaced by ``note(its
    length)``, and those cells as (row position, column, length). Not copied when every text fits."""
    cut = list(over_long_cells(frame))
    if not cut:
        return frame, []
    fitted = frame.copy()
    for i in sorted({column for _, column, _ in cut}):
        cells = fitted.iloc[:, i].to_numpy(dtype=object, copy=True)
        for position, column, written in cut:
            if column == i:
                cells[position] = note(written)
        fitted.isetitem(i, cells)
    return fitted, [(position, str(frame.columns[i]), written) for position, i, written in cut]


def too_long_note(t: Callable[..., str]) -> Callable[[int], str]:
    """What a cell says in place of a text of so many characters, too long for it (in ``t``'s language)."""
    return lambda chars: t("table.cell_too_long", chars=f"{chars:,}", limit=f"{XLSX_CELL_CHARS:,}")


def cut_about(cut: list[tuple[int, str, int]], t: Callable[..., str]) -> list[tuple[str, str]]:
    """The "about" line naming the cells :func:`fit_cells` replaced (by their row on the sheet), if any."""
    if not cut:
        return []
    named = [t("table.cut_cell", row=f"{position + 2:,}", column=column) for position, column, _ in cut[:CUT_NAMED]]
    more = len(cut) - CUT_NAMED
    cells = "; ".join(named) + (t("table.cut_more", count=f"{more:,}") if more > 0 else "")
    return [("left out", t("table.cut_cells", n=len(cut), limit=f"{XLSX_CELL_CHARS:,}", cells=cells))]


def fit_tables(frames: dict[str, pd.DataFrame], t: Callable[..., str]) -> list[tuple[str, str]]:
    """:func:`fit_cells` on each of ``frames`` (in place); the "about" line naming the cells replaced, if any."""
    cut = []
    for name, frame in frames.items():
        frames[name], cells = fit_cells(frame, too_long_note(t))
        cut += [(position, f"{name}.{column}", chars) for position, column, chars in cells]
    return cut_about(cut, t)


def table_xlsx_bytes(
    frame: pd.DataFrame, sheet: str, about: list[tuple[str, str]], lang: str = "en", cents: Collection[str] = ()
) -> bytes:
    """One table as an XLSX workbook: the rows on ``sheet`` and what they are on an ``about`` sheet.

    A text longer than a cell holds is never cut short: its cell says so and the "about" sheet names it (the CSV
    download holds it whole). The columns named in ``cents`` (amounts to the cent) show their two places.
    """
    t = Translator(lang)
    written, cut = fit_cells(neutralise_frame(frame), too_long_note(t))
    about = [*about, *cut_about(cut, t)]
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        name = _sheet_name(sheet)
        spreadsheet_exact(sheet_texts(written)).to_excel(writer, sheet_name=name, index=False)
        headers = [neutralise(str(c)) for c in cents]
        for position in [i for i, column in enumerate(written.columns) if column in headers]:
            for (cell,) in writer.sheets[name].iter_rows(min_row=2, min_col=position + 1, max_col=position + 1):
                cell.number_format = "#,##0.00"
        neutralise_frame(pd.DataFrame(about, columns=["field", "value"])).to_excel(
            writer, sheet_name="about", index=False
        )
    return buffer.getvalue()


# Characters Excel refuses in a sheet name.
_SHEET_FORBIDDEN = set("[]:*?/\\")


def _sheet_name(name: str) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, never empty or 'about'."""
    cleaned = "".join("-" if ch in _SHEET_FORBIDDEN else ch for ch in name).strip("'")[:31]
    return cleaned if cleaned and cleaned.lower() != "about" else "data"
