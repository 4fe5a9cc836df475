"""What an export refuses to write rather than write a file that misleads: a table that could not be read shown as
empty, a package's errors left unsaid, a sheet or a cell cut short."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from aifunding.loading.package import Package
from aifunding.loading.workbook import XLSX_CELL_CHARS, XLSX_MAX_ROWS  # a sheet's rows with its header
from aifunding.outputs.cells import over_long_cells


class IncompleteExport(Exception):
    """An export would present a table that could not be read as an empty one; the message names it."""


class TooManyRows(IncompleteExport):
    """A table has more rows than an XLSX sheet holds: refused, never cut short; the message names it."""


def check_sheet_rows(frames: Mapping[str, pd.DataFrame]) -> None:
    """Refuse an XLSX export with a table longer than a sheet (rather than a workbook that drops rows).

    Raises:
        TooManyRows: naming each such table, its rows and the limit, and the formats that hold it.
    """
    over = {name: len(frame) for name, frame in frames.items() if len(frame) + 1 > XLSX_MAX_ROWS}
    if over:
        tables = "; ".join(f"the {name} table has {rows:,} rows" for name, rows in over.items())
        raise TooManyRows(
            f"{tables}, and an XLSX sheet holds at most {XLSX_MAX_ROWS - 1:,} below its header; "
            "nothing was written: export as csv or parquet, which have no row limit"
        )


def check_cell_texts(
    frames: Mapping[str, pd.DataFrame], instead: str = "export as csv, json or parquet, which hold it whole"
) -> None:
    """Refuse an XLSX export with a text longer than a cell holds as written (escaped), rather than cut it short.

    Raises:
        IncompleteExport: naming the first such cell's table, row (as on its sheet) and column, its length (and
            its length as a sheet writes it, when escapes make it longer), and what to do ``instead``.
    """
    for name, frame in frames.items():
        for position, i, written in over_long_cells(frame):
            column, chars = frame.columns[i], len(str(frame.iloc[position, i]))
            escaped = (
                f" ({written:,} as a sheet writes them: a control character takes seven)" if written > chars else ""
            )
            raise IncompleteExport(
                f"the {name} table's row {position + 2:,} holds a {column} of {chars:,} characters{escaped}, more "
                f"than the {XLSX_CELL_CHARS:,} a spreadsheet cell holds, so a workbook would cut it short; "
                f"nothing was written: {instead}"
            )


def check_exportable(package: Package, allow_invalid: bool = False, made: str = "an export") -> None:
    """Refuse to export a package with errors (unless ``allow_invalid``), or one with an unread table.

    ``made`` is what the command makes of the package, as its messages name it ("the report", "the summary").

    Raises:
        IncompleteExport: naming the errors, or the tables whose files could not be read at all.
    """
    report = package.report
    if report.unread:
        names = ", ".join(sorted(report.unread))
        raise IncompleteExport(
            f"the {names} table(s) could not be read, so {made} would show them as empty; "
            f"fix the package first ({report.summary()})"
        )
    if not report.valid and not allow_invalid:
        raise IncompleteExport(
            f"the package has errors ({report.summary()}); fix them, or make {made} of the valid rows with "
            "--allow-invalid"
        )
