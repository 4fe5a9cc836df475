"""The package workbook and its template: written from the models, read back as the package's CSV texts, exactly.

Real workbooks throughout: written by :mod:`aifunding.outputs.workbook` or by openpyxl as a spreadsheet
user's edit would be, read by :func:`aifunding.loading.workbook.workbook_tables`, validated by
:func:`aifunding.loading.package.load_package` from a folder of the CSV texts it gives.
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import BUNDLED_DATA
from aifunding.cli import main
from aifunding.data import models
from aifunding.data.amounts import decimal_text
from aifunding.data.frames import frame_from_records
from aifunding.data.limits import Limits
from aifunding.data.report import ValidationReport
from aifunding.data.schema import base_type, build_descriptor, unwrap_optional
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.data.vocabulary import BOOLEAN_TEXT
from aifunding.loading.package import Package, load_package
from aifunding.loading.rule_problems import known_currencies
from aifunding.loading.workbook import WorkbookRefused, escape_text, unescape_text, workbook_tables
from aifunding.outputs.refusals import IncompleteExport
from aifunding.outputs.workbook import write_package_workbook, write_template

from packages import write_texts

MADE = datetime.datetime(2026, 7, 1, 9, 30, tzinfo=datetime.UTC)
SHEETS = ["about", *(table.name for table in TABLES), "notes", "lists"]


def workbook_of(package: Package) -> bytes:
    """The package workbook of ``package``, as bytes."""
    buffer = io.BytesIO()
    write_package_workbook(buffer, package, MADE)
    return buffer.getvalue()


def package_of(tables: dict[str, str], folder: Path) -> Package:
    """The package whose CSV files hold ``tables``, loaded and validated."""
    return load_package(write_texts(folder, tables))


def edited(data: bytes, edit: Any) -> bytes:
    """``data`` opened with openpyxl as a whole workbook, changed by ``edit(book)`` and saved again."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    edit(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def records(text: str) -> list[list[str]]:
    """A CSV text's records, as the csv module reads them."""
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture(scope="module")
def bundled_workbook(bundled: Package) -> bytes:
    """The package workbook of the bundled package (written once per module)."""
    return workbook_of(bundled)


@pytest.fixture(scope="module")
def bundled_tables(bundled_workbook: bytes) -> dict[str, str]:
    """The bundled package workbook read back as CSV texts."""
    return workbook_tables(bundled_workbook, "package.xlsx")


# --- Round trips of the bundled package -------------------------------------------------------------


def test_the_bundled_package_round_trips_to_the_same_frames_and_report(
    bundled: Package, bundled_tables: dict[str, str], tmp_path: Path
) -> None:
    again = package_of(bundled_tables, tmp_path / "again")
    assert list(bundled_tables) == [table.name for table in TABLES]
    for table in TABLES:
        pd.testing.assert_frame_equal(again.frames[table.name], bundled.frames[table.name], obj=table.name)
    assert again.report.as_dict() == bundled.report.as_dict()


def test_tables_without_defaults_read_back_as_the_bundled_files_byte_for_byte(bundled_tables: dict[str, str]) -> None:
    # An empty cell of a column with a default (status, caveat kind, rank_inferred) is written as its
    # default; every other cell is written as the bundled file holds it.
    plain = [
        table.name
        for table in TABLES
        if all(info.is_required() or info.default is None for info in table.model.model_fields.values())
    ]
    assert len(plain) >= 9
    for name in plain:
        assert bundled_tables[name] == (BUNDLED_DATA / f"{name}.csv").read_text(encoding="utf-8"), name


def test_export_read_export_gives_the_same_csv_texts(bundled_tables: dict[str, str], tmp_path: Path) -> None:
    again = package_of(bundled_tables, tmp_path / "again")
    assert again.report.valid
    assert workbook_tables(workbook_of(again), "again.xlsx") == bundled_tables


def test_an_edit_round_trips_exactly_that_change(
    bundled: Package, bundled_workbook: bytes, bundled_tables: dict[str, str], tmp_path: Path
) -> None:
    columns = TABLES_BY_NAME["awards"].columns
    programmes = bundled.frames["programmes"]
    new_award = {
        "id": "award-typed-in",
        "programme_id": programmes["id"][programmes["amount"].isna()].iloc[0],  # no ceiling to keep under
        "purpose_en": "=A new project, typed in",
        "amount": 387300000000,
        "currency": "JPY",
        "basis": "about",
        "announced": "2025-06",
    }

    source = records(bundled_tables["citations"])[1][4]

    def edit(book: Any) -> None:
        awards = book["awards"]
        awards.cell(row=2, column=columns.index("amount") + 1).value = 1000000000  # typed: a number
        awards.append([new_award.get(column) for column in columns])
        awards.cell(row=awards.max_row, column=columns.index("purpose_en") + 1).data_type = "s"
        book["award_recipients"].append(["award-typed-in", "sakura-internet", "sole"])
        book["citations"].append([None, "award-typed-in", None, None, source])

    tables = workbook_tables(edited(bundled_workbook, edit), "edited.xlsx")
    expected = records(bundled_tables["awards"])
    expected[1][columns.index("amount")] = "1000000000"
    expected.append(["" if new_award.get(c) is None else str(new_award[c]) for c in columns])
    assert records(tables["awards"]) == expected
    assert records(tables["award_recipients"]) == [
        *records(bundled_tables["award_recipients"]),
        ["award-typed-in", "sakura-internet", "sole"],
    ]
    assert records(tables["citations"]) == [
        *records(bundled_tables["citations"]),
        ["", "award-typed-in", "", "", source, ""],  # a row shorter than the header is padded to it
    ]
    untouched = set(bundled_tables) - {"awards", "award_recipients", "citations"}
    assert {name: tables[name] for name in untouched} == {name: bundled_tables[name] for name in untouched}
    package = package_of(tables, tmp_path / "edited")
    assert package.report.valid, package.report.summary()
    awards = package.frames["awards"].set_index("id")
    assert awards.loc["award-typed-in", "amount"] == Decimal("387300000000")
    assert awards.iloc[0]["amount"] == Decimal("1000000000")


def test_a_problem_is_reported_at_the_sheet_row_it_is_in(bundled_workbook: bytes, tmp_path: Path) -> None:
    amount = TABLES_BY_NAME["awards"].columns.index("amount") + 1

    def edit(book: Any) -> None:
        book["awards"].insert_rows(3, amount=2)  # two blank rows: rows 3 and 4
        book["awards"].cell(row=6, column=amount).value = -5

    package = package_of(workbook_tables(edited(bundled_workbook, edit), "edited.xlsx"), tmp_path / "edited")
    [problem] = [p for p in package.report.errors if p.table == "awards"]
    assert (problem.file, problem.line, problem.field) == ("awards.csv", 6, "amount")


# --- Cells -----------------------------------------------------------------------------------------------


def in_memory(**award: Any) -> Package:
    """A package held in memory and never validated: one award with these cells, every other table empty."""
    rows = {"awards": [{"id": "award-1", "programme_id": "round-1", "purpose_en": "GPU cloud", **award}]}
    frames = {table.name: frame_from_records(table, rows.get(table.name, [])) for table in TABLES}
    return Package(Path("memory"), build_descriptor(), frames, ValidationReport())


def award_read_back(package: Package) -> dict[str, str]:
    """The one award of ``package`` as its package workbook reads back: column -> CSV text."""
    [row] = csv.DictReader(io.StringIO(workbook_tables(workbook_of(package), "x.xlsx")["awards"], newline=""))
    return row


# Text a spreadsheet would take for a formula, an error value or an escape, and text in other scripts.
TRICKY_TEXTS = [
    "=1+1",
    '=HYPERLINK("http://x")',
    "+81 3",
    "-5",
    "@SUM(A1)",
    "\tindented",
    "two\nlines",
    "carriage\r\nreturn",
    "\rleading return",
    "#N/A",
    "#REF!",
    "_x000D_ is not a return",
    "_x005F_",
    " padded ",
    "最大約19.3億円",
    "bell \x07 and nul \x00",
    "\ufffe",
    "emoji 🚀",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_text_is_read_back_as_written(text: str) -> None:
    assert award_read_back(in_memory(note=text))["note"] == text


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_no_text_cell_is_written_as_a_formula_or_an_error(text: str) -> None:
    book = openpyxl.load_workbook(io.BytesIO(workbook_of(in_memory(note=text))))
    cell = book["awards"].cell(row=2, column=TABLES_BY_NAME["awards"].columns.index("note") + 1)
    assert cell.data_type == "s"


texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.sampled_from(["", "=", "+", "-", "@", "\t", "\n", "\r", "_x0041_", "日本"]), texts).map("".join))
def test_any_text_cell_is_read_back_identically(text: str) -> None:
    assert award_read_back(in_memory(note=text, purpose_ja=text))["note"] == text


@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_escaping_is_undone_by_unescaping(text: str) -> None:
    assert unescape_text(escape_text(text)) == text


amounts = st.tuples(st.integers(1, 10**18 - 1), st.integers(0, 4)).map(lambda t: Decimal(t[0]).scaleb(-t[1]))


@settings(max_examples=30, deadline=None)
@given(amounts)
def test_any_amount_the_model_allows_is_read_back_with_its_exact_digits(amount: Decimal) -> None:
    assert award_read_back(in_memory(amount=amount, currency="JPY", basis="exact"))["amount"] == decimal_text(amount)


@pytest.mark.parametrize(
    ("amount", "number"),
    [
        (Decimal("72500000000"), True),
        (Decimal("123456789012345"), True),  # 15 digits: a spreadsheet number holds them
        (Decimal("12345678901.2345"), True),
        (Decimal("0.0001"), True),
        (Decimal("1234567890123456"), False),  # 16 digits: exact text
        (Decimal("999999999999999999"), False),
        (Decimal("12345678901234.5678"), False),
    ],
)
def test_an_amount_is_a_number_only_when_a_spreadsheet_number_holds_its_digits(amount: Decimal, number: bool) -> None:
    package = in_memory(amount=amount, currency="JPY", basis="exact")
    book = openpyxl.load_workbook(io.BytesIO(workbook_of(package)))
    cell = book["awards"].cell(row=2, column=TABLES_BY_NAME["awards"].columns.index("amount") + 1)
    assert (cell.data_type == "n") is number
    assert award_read_back(package)["amount"] == decimal_text(amount)


def test_whole_numbers_and_flags_are_written_as_the_csv_spells_them(bundled_tables: dict[str, str]) -> None:
    shares = list(csv.DictReader(io.StringIO(bundled_tables["market_shares"], newline="")))
    assert {row["rank_inferred"] for row in shares} == set(BOOLEAN_TEXT.values())
    assert {row["rank"] for row in shares} >= {"1", "2", ""}


def typed_workbook(value: Any, number_format: str | None = None) -> bytes:
    """A workbook with a countries sheet whose row 2 holds ``value`` in its second column, as a user typed it."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "countries"
    sheet.append(TABLES_BY_NAME["countries"].columns)
    sheet.append(["JP", value, None, 4])
    if number_format:
        sheet["B2"].number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        # Numbers a spreadsheet made of typed digits
        (387300000000, None, "387300000000"),
        (387300000000.0, None, "387300000000"),
        (0.25, None, "0.25"),
        (1e-05, None, "0.00001"),
        (1e16, None, "10000000000000000"),
        # Dates: a day, or as much of one as the cell's format shows
        (datetime.datetime(2024, 4, 19), None, "2024-04-19"),
        (datetime.date(2024, 4, 19), None, "2024-04-19"),
        (datetime.datetime(2024, 4, 19), "d mmm yyyy", "2024-04-19"),
        (datetime.datetime(2024, 4, 1), "mmm-yy", "2024-04"),
        (datetime.datetime(2024, 4, 1), 'yyyy"年"m"月"', "2024-04"),
        (datetime.datetime(2024, 1, 1), "yyyy", "2024"),
        (datetime.datetime(2024, 4, 19, 10, 30), None, "2024-04-19 10:30:00"),
        # Flags and text
        (True, None, "true"),
        (False, None, "false"),
        ("Japan", None, "Japan"),
    ],
)
def test_a_typed_cell_comes_back_as_the_text_the_validator_expects(value: Any, number_format: Any, text: str) -> None:
    countries = workbook_tables(typed_workbook(value, number_format), "typed.xlsx")["countries"]
    assert records(countries)[1] == ["JP", text, "", "4"]


def test_sheet_rows_are_csv_lines_blank_ones_kept_trailing_ones_dropped() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "countries"
    sheet.append(["id", "name_en", "name_ja", "fiscal_year_start_month"])
    sheet.append(["JP", "Japan"])  # a short row: padded to the header
    sheet.append([])
    sheet.append(["CA", "Canada, the country", None, 4, None, None])
    sheet["H9"].font = openpyxl.styles.Font(bold=True)  # a formatted but empty cell, below and to the right
    buffer = io.BytesIO()
    book.save(buffer)
    text = workbook_tables(buffer.getvalue(), "shapes.xlsx")["countries"]
    assert text == 'id,name_en,name_ja,fiscal_year_start_month\nJP,Japan,,\n\nCA,"Canada, the country",,4\n'


# --- Refusals ---------------------------------------------------------------------------------------------


def test_a_formula_is_refused_with_its_cell_named(bundled_workbook: bytes) -> None:
    data = edited(bundled_workbook, lambda book: book["awards"].__setitem__("E12", "=B2*2"))
    with pytest.raises(WorkbookRefused, match=r"^edited\.xlsx: awards!E12 holds a formula \(=B2\*2\); type the value"):
        workbook_tables(data, "edited.xlsx")


def test_an_error_value_is_refused_with_its_cell_named() -> None:
    with pytest.raises(WorkbookRefused, match=r"^typed\.xlsx: countries!B2 holds an error value \(#DIV/0!\)"):
        workbook_tables(typed_workbook("#DIV/0!"), "typed.xlsx")


def test_a_workbook_with_macros_is_refused(bundled_workbook: bytes) -> None:
    buffer = io.BytesIO(bundled_workbook)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 macros")
    with pytest.raises(WorkbookRefused, match=r"^macro\.xlsx holds macros \(xl/vbaProject\.bin\), which are never run"):
        workbook_tables(buffer.getvalue(), "macro.xlsx")


def zip_of(**parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"id,name_en\nJP,Japan\n",  # a CSV
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,  # an .xls (or an encrypted .xlsx)
        zip_of(mimetype="application/vnd.oasis.opendocument.spreadsheet"),  # an .ods
        b"PK\x03\x04 truncated",
    ],
)
def test_a_file_that_is_not_an_xlsx_workbook_is_refused(data: bytes) -> None:
    with pytest.raises(WorkbookRefused, match=r"^upload\.xlsx is not an XLSX workbook .*save it as an Excel workbook"):
        workbook_tables(data, "upload.xlsx")


def test_a_sheet_that_is_not_a_table_is_refused_naming_the_tables(bundled_workbook: bytes) -> None:
    data = edited(bundled_workbook, lambda book: book.create_sheet("Sheet1"))
    names = ", ".join(table.name for table in TABLES)
    with pytest.raises(WorkbookRefused, match=rf"sheet 'Sheet1' is not a table of the package; .*\({names}\)"):
        workbook_tables(data, "edited.xlsx")


def test_rows_past_the_limit_are_refused_and_blank_ones_are_not_counted(bundled_workbook: bytes) -> None:
    countries = len(records((BUNDLED_DATA / "countries.csv").read_text(encoding="utf-8"))) - 1
    limits = Limits(rows=countries)
    only_countries = edited(bundled_workbook, lambda book: [book.remove(book[n]) for n in SHEETS if n != "countries"])

    def format_far_below(book: Any) -> None:
        book["countries"]["F5000"].font = openpyxl.styles.Font(bold=True)

    formatted = edited(only_countries, format_far_below)
    assert workbook_tables(formatted, "ok.xlsx", limits)["countries"].count("\n") == countries + 1
    longer = edited(only_countries, lambda book: book["countries"].append(["ZZ", "Nowhere"]))
    with pytest.raises(
        WorkbookRefused, match=rf"'countries' has data in row {countries + 2}, past the {countries} rows"
    ):
        workbook_tables(longer, "big.xlsx", limits)


def test_a_value_right_of_the_columns_a_table_may_have_is_refused(bundled_workbook: bytes) -> None:
    data = edited(bundled_workbook, lambda book: book["countries"].__setitem__("ZZ3", "stray"))
    with pytest.raises(WorkbookRefused, match=r"countries!ZZ3 holds a value right of the 100 columns"):
        workbook_tables(data, "wide.xlsx")


def test_a_workbook_that_unpacks_past_the_package_limit_is_refused(bundled_workbook: bytes) -> None:
    with pytest.raises(WorkbookRefused, match=r"^big\.xlsx unpacks to [\d,]+ bytes, more than the 100 KB a package"):
        workbook_tables(bundled_workbook, "big.xlsx", Limits(package_bytes=100 * 1024))


def test_a_text_longer_than_a_cell_holds_is_refused_not_cut() -> None:
    with pytest.raises(IncompleteExport, match=r"awards table's row 2 holds a note of 32,768 characters, more than"):
        workbook_of(in_memory(note="x" * 32_768))


# --- The template -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> bytes:
    buffer = io.BytesIO()
    write_template(buffer, MADE)
    return buffer.getvalue()


def allowed_by_model(table_name: str) -> dict[str, list[str]]:
    """Each enumerated column of a table with the values its model allows, read off the model itself."""
    allowed = {}
    for name, info in TABLES_BY_NAME[table_name].model.model_fields.items():
        annotation = unwrap_optional(info.annotation)[0]
        kind = base_type(annotation)
        if isinstance(kind, type) and issubclass(kind, Enum):
            allowed[name] = [member.value for member in kind]
        elif kind is bool:
            allowed[name] = ["false", "true"]
        elif annotation == models.Currency:
            allowed[name] = sorted(known_currencies()[0])
    return allowed


def test_the_template_has_every_sheet_and_header_and_explains_each_column(template: bytes) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template))
    assert book.sheetnames == SHEETS
    for table in TABLES:
        sheet = book[table.name]
        assert [cell.value for cell in sheet[1]] == table.columns
        assert sheet.max_row == 1
        assert sheet.freeze_panes == "A2"
        assert all(cell.comment and cell.comment.text for cell in sheet[1])
    notes = list(book["notes"].iter_rows(values_only=True))
    assert notes[0] == ("table", "column", "type", "required", "allowed values", "description")
    assert [row[:2] for row in notes[1:]] == [(t.name, c) for t in TABLES for c in t.columns]


@pytest.mark.parametrize("table", [table.name for table in TABLES])
def test_every_enumerated_column_has_a_dropdown_of_exactly_the_models_values(template: bytes, table: str) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template))
    columns = TABLES_BY_NAME[table].columns
    dropdowns = {}
    for validation in book[table].data_validations.dataValidation:
        [cells] = validation.sqref.ranges
        assert (cells.min_col, cells.min_row, cells.max_row) == (cells.max_col, 2, 1_048_576)
        source, area = validation.formula1.split("!")
        offered = [cell.value for (cell,) in book[source][area.replace("$", "")]]
        dropdowns[columns[cells.min_col - 1]] = offered
        assert validation.type == "list" and validation.showErrorMessage
    expected = allowed_by_model(table)
    assert {column: sorted(values) for column, values in dropdowns.items()} == {
        column: sorted(values) for column, values in expected.items()
    }
    assert all(dropdowns[column] == values for column, values in expected.items() if column != "currency")


def test_the_template_reads_back_as_header_only_tables(template: bytes, tmp_path: Path) -> None:
    tables = workbook_tables(template, "template.xlsx")
    assert tables == {table.name: ",".join(table.columns) + "\n" for table in TABLES}
    assert all(len(frame) == 0 for frame in package_of(tables, tmp_path / "empty").frames.values())


# --- The command line -------------------------------------------------------------------------------------


def test_the_cli_writes_the_template_and_the_package_workbook(tmp_path: Path, bundled_tables: dict[str, str]) -> None:
    assert main(["template", "-o", str(tmp_path / "template.xlsx")]) == 0
    assert openpyxl.load_workbook(tmp_path / "template.xlsx").sheetnames == SHEETS
    out = tmp_path / "out" / "package.xlsx"
    assert main(["export", "--format", "xlsx", "--package", "-o", str(out)]) == 0
    assert workbook_tables(out.read_bytes(), out.name) == bundled_tables
    about = dict(openpyxl.load_workbook(out)["about"].iter_rows(min_row=2, values_only=True))
    assert (about["version"], about["source"]) == ("1.0.0", "data")
    assert str(BUNDLED_DATA) not in " ".join(map(str, about.values()))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--format", "csv"], "--package writes an XLSX workbook: use it with --format xlsx"),
        (["--format", "xlsx", "--currency", "USD"], "leave out --table, --currency and --fx-date"),
        (["--format", "xlsx", "--table", "awards"], "leave out --table, --currency and --fx-date"),
    ],
)
def test_the_package_workbook_refuses_options_it_cannot_honour(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--package", *options, "-o", str(tmp_path / "x.xlsx")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()
