"""No file the project writes holds a spreadsheet formula: every sheet of every XLSX, every line of every CSV.

The corpus's formula case puts formulas in the package's title, name and licence (which reach the
``about`` sheet and header blocks) and in text cells of every exported table; the bundled package is
checked as well. Every writer is covered: ``export`` in CSV and XLSX, and the dashboard's download of
a table (``table_csv_bytes`` / ``table_xlsx_bytes``) with its about block.
"""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from aifunding import BUNDLED_DATA
from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.view import prepare
from aifunding.figures.presentation import awards_table
from aifunding.loading.package import Package, load_package
from aifunding.outputs.about import about_rows
from aifunding.outputs.cells import FORMULA_PREFIXES, table_csv_bytes, table_xlsx_bytes
from aifunding.outputs.export import export_bytes, write_export

from corpus import FORMULA, build


def formula_cells_in_xlsx(data: bytes) -> list[str]:
    """``sheet!cell: value`` of every cell a spreadsheet would evaluate, on every sheet, headers included."""
    book = load_workbook(io.BytesIO(data))
    found = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith(FORMULA_PREFIXES)):
                    found.append(f"{sheet.title}!{cell.coordinate}: {cell.value!r}")
    return found


def formula_cells_in_csv(text: str) -> list[str]:
    """``line: value`` of every cell of every line that starts like a formula (``#`` header lines are comments)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            continue
        for cell in next(csv.reader([line]), []):
            if cell.startswith(FORMULA_PREFIXES):
                found.append(f"{number}: {cell!r}")
    return found


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Package]:
    root = tmp_path_factory.mktemp("formulas")
    return {"formulas": load_package(build("formulas-everywhere", root)), "bundled": load_package(BUNDLED_DATA)}


@pytest.mark.parametrize("which", ["formulas", "bundled"])
@pytest.mark.parametrize("currency", [None, "USD"])
def test_export_writes_no_formula(
    packages: dict[str, Package], which: str, currency: str | None, tmp_path: Path
) -> None:
    package = packages[which]
    fx = FxChoice(currency, "announcement") if currency else None
    assert formula_cells_in_xlsx(export_bytes(package, "xlsx", fx)) == []
    for path in write_export(package, "csv", tmp_path / "csv", fx):
        assert formula_cells_in_csv(path.read_text(encoding="utf-8")) == [], path.name


def test_the_formula_case_really_holds_formulas(packages: dict[str, Package]) -> None:
    # Guard: the text reaches the outputs, neutralised, so the checks above would have seen a formula.
    package = packages["formulas"]
    assert package.title == FORMULA
    book = load_workbook(io.BytesIO(export_bytes(package, "xlsx")))
    about = {row[0]: row[1] for row in book["about"].iter_rows(min_row=2, values_only=True)}
    assert about["title"] == "'" + FORMULA
    assert about["package"] == "'=cmd|'/c calc'!A0"
    names = [row[4] for row in book["programmes"].iter_rows(min_row=2, values_only=True)]
    assert "'" + FORMULA in names


def test_dashboard_downloads_write_no_formula(packages: dict[str, Package]) -> None:
    package = packages["formulas"]
    prepared = prepare(package)
    frame = awards_table(prepared.awards, package, lang="en")
    frame = frame.rename(columns={frame.columns[0]: "=SUM(A1)"})  # a header cell too
    about = [("title", package.title), ("view", FORMULA), *about_rows(package, None, datetime.datetime.now())]
    assert formula_cells_in_xlsx(table_xlsx_bytes(frame, "=awards", about)) == []
    assert formula_cells_in_csv(table_csv_bytes(frame, about).decode("utf-8")) == []


def test_the_checks_find_a_formula() -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active["A1"] = "=1+1"
    buffer = io.BytesIO()
    book.save(buffer)
    assert formula_cells_in_xlsx(buffer.getvalue()) == ["Sheet!A1: '=1+1'"]
    assert formula_cells_in_csv("# title: =x\na,b\n1,@SUM(1)\n") == ["3: '@SUM(1)'"]
