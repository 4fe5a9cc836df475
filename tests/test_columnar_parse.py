"""The columnar parser against the per-row one: for any text, the same report entries and the same rows.

``parse_table_columnar`` must append to the report exactly what ``parse_table`` appends, in the same
order, and return ``RowSet.from_loaded`` of what ``parse_table`` loads. Each test also says which
path a text takes: a test of an exact fallback proves nothing about the columns, so well-formed
texts must take the columnar path.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hostile.corpus import CASES
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from test_generate import generate
from test_validation import ROW_CASES

from aifunding import BUNDLED_DATA
from aifunding.data import columnar
from aifunding.data.columnar import parse_table_columnar
from aifunding.data.limits import Limits
from aifunding.data.parsing import decode_csv_bytes, parse_table
from aifunding.data.report import ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table

from packages import minimal_tables, write_package, write_table

# --- The comparison -------------------------------------------------------------------------------------


@contextmanager
def watching_fallback() -> Iterator[list[str]]:
    """A list to which every hand-over of a table to the per-row reader appends the table's name."""
    handed: list[str] = []

    def watched(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(table: Table, *args: Any) -> Any:
            handed.append(table.name)
            return original(table, *args)

        return call

    with (
        patch.object(columnar, "parse_table", watched(columnar.parse_table)),
        patch.object(columnar, "read_rows", watched(columnar.read_rows)),
    ):
        yield handed


def assert_same_rows(actual: RowSet, expected: RowSet) -> None:
    assert (actual.table, actual.file) == (expected.table, expected.file)
    pd.testing.assert_frame_equal(actual.values, expected.values)
    for name in actual.values.columns:  # object columns compare by ==, and Decimal(5) == 5: compare types too
        if actual.values[name].dtype == object:
            assert list(map(type, actual.values[name])) == list(map(type, expected.values[name])), name
    assert actual.lines.dtype == expected.lines.dtype == np.int64
    np.testing.assert_array_equal(actual.lines, expected.lines)
    pd.testing.assert_frame_equal(actual.raw_frame(), expected.raw_frame())


def columnar_matches(table: Table, text: str, limits: Limits | None = None, file: str | None = None) -> bool:
    """Assert both parsers give the same report entries and rows for ``text``; return whether the columns read it."""
    limits, file = limits or Limits(), file or table.path
    expected_report, actual_report = ValidationReport(), ValidationReport()
    expected = RowSet.from_loaded(table, file, parse_table(table, file, text, expected_report, limits))
    with watching_fallback() as handed:
        actual = parse_table_columnar(table, file, text, actual_report, limits)
    assert actual_report.problems == expected_report.problems
    assert actual_report.quarantined == expected_report.quarantined
    assert actual_report.unread == expected_report.unread
    assert actual_report == expected_report  # and nothing else was touched
    assert_same_rows(actual, expected)
    return not handed


def table_text(name: str, rows: list[dict[str, str]], line_end: str = "\n", quoting: int = csv.QUOTE_MINIMAL) -> str:
    """The CSV text of ``rows`` with the table's columns in order, as csv.DictWriter writes it."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=TABLES_BY_NAME[name].columns, lineterminator=line_end, quoting=quoting)
    writer.writeheader()
    writer.writerows({c: row.get(c, "") for c in TABLES_BY_NAME[name].columns} for row in rows)
    return out.getvalue()


def minimal_text(name: str) -> str:
    return table_text(name, minimal_tables()[name])


# --- Whole packages: the bundled one, a generated one, the hostile corpus --------------------------------


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_table_of_the_bundled_package(table: Table) -> None:
    text = (BUNDLED_DATA / table.path).read_text(encoding="utf-8")
    assert columnar_matches(table, text)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic package of 2,000 more awards (seed 1), written once for this module."""
    out = tmp_path_factory.mktemp("columnar") / "package"
    generate(2000, out, seed=1)
    return out


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_table_of_a_generated_package(generated: Path, table: Table) -> None:
    assert columnar_matches(table, (generated / table.path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_table_of_every_hostile_package(case: str, tmp_path: Path) -> None:
    folder = CASES[case](tmp_path / case)
    for table in TABLES:
        path = folder / table.path
        if path.is_symlink() or not path.is_file():  # links, FIFOs and folders are refused before parsing
            continue
        text = decode_csv_bytes(table.name, table.path, path.read_bytes(), ValidationReport())
        if text is not None:
            columnar_matches(table, text)


@pytest.mark.parametrize(("table", "index", "field", "value", "message"), ROW_CASES)
def test_every_row_rule_case_of_the_validator(table: str, index: int, field: str, value: str, message: str) -> None:
    tables = minimal_tables()
    tables[table][index][field] = value
    assert columnar_matches(TABLES_BY_NAME[table], table_text(table, tables[table]))


def test_flagging_every_row_changes_nothing(generated: Path) -> None:
    # Every row then meets its model; those it loads must come out exactly as the unflagged rows do.
    def everything(cells: Any, model: type[BaseModel]) -> np.ndarray:
        return np.ones(cells.rows, dtype=bool)

    with patch.object(columnar, "predicates_for", lambda model: [everything]):
        for table in TABLES:
            assert columnar_matches(table, (generated / table.path).read_text(encoding="utf-8"))
            assert columnar_matches(table, (BUNDLED_DATA / table.path).read_text(encoding="utf-8"))


# --- Texts the two readers could read differently: each either mirrored exactly or handed over ----------

AWARDS = minimal_text("awards")
HEADER, FIRST, SECOND = AWARDS.splitlines()
BAD = FIRST.replace("6000000000", "lots")
# A purpose whose quote is never closed, a third award, and one with a quoted purpose (a quote closes the open one).
OPEN = FIRST.replace("GPU cloud", '"GPU cloud')
THIRD = SECOND.replace("award-bc", "award-d")
QUOTED = SECOND.replace("award-bc", "award-q").replace("Joint data centre", '"Joint, quoted"')
OPEN_TO_NOTE = OPEN[:-1] + '"x, y"'  # the note's opening quote closes the purpose's
OPEN_HEADER = HEADER.replace(",purpose_en", ',"purpose_en')

EDGES: list[tuple[str, str, str, Limits | None, bool]] = [
    # id, table, text, limits, read by the columns
    # Line ends and blank lines
    ("crlf", "awards", AWARDS.replace("\n", "\r\n"), None, True),
    ("no final line end", "awards", AWARDS.rstrip("\n"), None, True),
    ("blank lines", "awards", f"{HEADER}\n\n{BAD}\n\n\r\n{SECOND}\n\n\n", None, True),
    ("lines of commas", "awards", f"{HEADER}\n{',' * 12}\n{BAD}\n , ,\t,,,,,,,,,,\n{SECOND}\n", None, True),
    ("whitespace-only line", "awards", f"{HEADER}\n{BAD}\n   \n{SECOND}\n", None, False),
    ("lone carriage return", "awards", f"{HEADER}\n{BAD}\r{SECOND}\n", None, False),
    ("lone carriage return in line 1", "awards", f"{HEADER}\r{BAD}\n{SECOND}\n", None, False),
    # Quoting
    ("quoted commas and quotes", "awards", AWARDS.replace("GPU cloud", '"GPU, ""cloud"""'), None, True),
    ("every cell quoted", "awards", table_text("awards", minimal_tables()["awards"], "\n", csv.QUOTE_ALL), None, True),
    ("quote inside a value", "awards", AWARDS.replace("GPU cloud", 'GPU 5" cloud'), None, True),
    ("text after a closing quote", "awards", AWARDS.replace("GPU cloud", '"GPU" cloud'), None, False),
    ("value over two lines", "awards", AWARDS.replace("GPU cloud", '"GPU\ncloud"'), None, False),
    ("value over two lines with crlf", "awards", AWARDS.replace("GPU cloud", '"GPU\r\ncloud"'), None, False),
    ("quote never closed", "awards", AWARDS + 'x,round-1,"open', None, False),
    ("quote never closed on line 2", "awards", f'{HEADER}\n{FIRST[:-1]}"\n{SECOND}\n', None, False),
    ("quote left open to the end of the file", "awards", f'{HEADER}\n{OPEN}\n{SECOND}\n{THIRD}\n', None, False),
    ("quote left open to the end, crlf", "awards", f'{HEADER}\r\n{OPEN}\r\n{SECOND}\r\n', None, False),
    ("quote left open to a later cell's", "awards", f"{HEADER}\n{OPEN}\n{SECOND}\n{QUOTED}\n{THIRD}\n", None, False),
    ("quote left open to a later cell's on its line", "awards", f"{HEADER}\n{OPEN_TO_NOTE}\n{SECOND}\n", None, False),
    ("quote left open in the header", "awards", f"{OPEN_HEADER}\n{FIRST}\n", None, False),
    ("value over many lines", "awards", AWARDS.replace("GPU cloud", '"GPU\n\n, cloud\r\n\n"'), None, False),
    # Odd characters
    ("byte-order mark at the start", "awards", "\ufeff" + AWARDS, None, True),
    ("byte-order mark on line 2", "awards", f"{HEADER}\n\ufeff{FIRST}\n{SECOND}\n", None, False),
    ("byte-order mark on line 3", "awards", f"{HEADER}\n{FIRST}\n\ufeff{SECOND}\n", None, True),
    ("NUL in a value", "awards", AWARDS.replace("GPU cloud", "GPU\x00cloud"), None, True),
    ("lone surrogate", "awards", AWARDS.replace("GPU cloud", "GPU\udc80cloud"), None, False),
    ("unicode whitespace around cells", "awards",
     AWARDS.replace("award-a,", "\u3000award-a\x1c,").replace("JPY", "\xa0JPY\x85").replace(",up_", ",\u2003up_"),
     None, True),
    ("whitespace only cells", "awards", AWARDS.replace("GPU cloud", "\u3000 \x1f"), None, True),
    # Header
    ("duplicate column", "awards", f"{HEADER},id\n{FIRST},other-id\n{SECOND},\n", None, True),
    ("blank column name", "awards", f"{HEADER},\n{FIRST},x\n{SECOND},\n", None, True),
    ("unknown column", "awards", f"{HEADER},secret\n{FIRST},x\n{SECOND},y\n", None, True),
    ("missing required column", "awards",
     AWARDS.replace("purpose_en,", "").replace("GPU cloud,", "").replace("Joint data centre,", ""), None, True),
    ("missing optional column", "awards", AWARDS.replace(",note", "").replace(",\n", "\n"), None, True),
    ("header only", "awards", HEADER + "\n", None, True),
    ("header without a line end", "awards", HEADER, None, True),
    ("header over two lines", "awards", AWARDS.replace("purpose_en", '"purpose\n_en"'), None, False),
    ("empty first line", "awards", "\n" + AWARDS, None, True),  # one problem: the header is not on line 1
    ("empty text", "awards", "", None, False),
    ("whitespace text", "awards", " \r\n\t\n", None, False),
    # Values per line
    ("a value too many", "awards", f"{HEADER}\n{FIRST},\n{SECOND}\n", None, False),
    ("a value too few", "awards", f"{HEADER}\n{FIRST[:FIRST.rindex(',')]}\n{SECOND}\n", None, False),
    # Limits
    ("cells over the limit", "awards", AWARDS, Limits(cell_chars=9), True),
    ("rows over the limit", "awards", f"{HEADER}\n\n{BAD}\n{SECOND}\n\n{BAD}\n", Limits(rows=1), True),
    ("a broken line after the row limit", "awards", f"{HEADER}\n{BAD}\n{SECOND}\nx,y\n", Limits(rows=1), False),
    ("rows at the limit", "awards", f"{HEADER}\n{BAD}\n{SECOND}\n\n", Limits(rows=2), True),
    ("columns over the limit", "awards", AWARDS, Limits(columns=3), True),
    # Values
    ("every row refused", "awards", AWARDS.replace("JPY", "yen"), None, True),
    ("cross-field refusals", "market_shares",
     minimal_text("market_shares").replace(",30,30,about", ",30,20,range"), None, True),
    ("defaults", "caveats", "id,title_en,text_en,kind\ncv-1,T,X,\ncv-2,T,X,overlap\n", None, True),
    ("booleans", "market_shares",
     "id,market_id,segment_kind,segment_en,basis,rank,rank_inferred\n"
     "s1,m,vendor,V,rank_only,1,yes\ns2,m,vendor,V,rank_only,2,\ns3,m,vendor,V,rank_only,,true\ns4,m,vendor,V,rank_only,3,maybe\n",
     None, True),
]  # fmt: skip


@pytest.mark.parametrize(("table", "text", "limits", "by_columns"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_each_edge_is_mirrored_or_handed_over(table: str, text: str, limits: Limits | None, by_columns: bool) -> None:
    assert columnar_matches(TABLES_BY_NAME[table], text, limits) is by_columns


# A quote left open is one error at the line and column it opened in, saying what became of the lines after it.
UNCLOSED: list[tuple[str, str, int, str, str, list[int]]] = [
    # id, text, line, field, the message (a regular expression), the lines loaded
    ("to the end of the file", f"{HEADER}\n{OPEN}\n{SECOND}\n{THIRD}\n", 2, "purpose_en",
     r"^a quote opens the purpose_en cell and is never closed, so the rest of the file, lines 3 to 4 "
     r"\(2 lines, to the end\), was read into it and none of those rows was loaded", []),
    ("to the end, crlf", f"{HEADER}\r\n{OPEN}\r\n{SECOND}\r\n", 2, "purpose_en",
     r"the rest of the file, line 3 \(1 line, to the end\), was read into it", []),
    ("to a later cell's quote", f"{HEADER}\n{SECOND}\n{OPEN}\n{SECOND}\n{THIRD}\n{QUOTED}\n{THIRD}\n", 3,
     "purpose_en", r"is not closed on its line: the next quote is on line 6, so lines 4 to 6 \(3 lines\) were read "
     r"into it and none of their rows was loaded", [2, 7]),
    ("to the next line's", f"{HEADER}\n{OPEN}\n{QUOTED}\n{THIRD}\n", 2, "purpose_en",
     r"the next quote is on line 3, so line 3 \(1 line\) was read into it and its row was loaded", [4]),
    ("the file ends inside it", f"{HEADER}\n{FIRST}\naward-x,round-1,\"unclosed\n", 3, "purpose_en",
     r"^a quote opens the purpose_en cell and is never closed: the file ends inside it; close the quote", [2]),
    ("to a later cell's quote on its line", f"{HEADER}\n{OPEN_TO_NOTE}\n{SECOND}\n", 2, "purpose_en",
     r"it closes at a later quote on the line, with text after it, so the line has 4 values but the header has 13 "
     r"columns",
     [3]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "field", "message", "loaded"), [u[1:] for u in UNCLOSED], ids=[u[0] for u in UNCLOSED]
)
def test_a_quote_left_open_is_one_error_where_it_opened(
    text: str, line: int, field: str, message: str, loaded: list[int]
) -> None:
    table, report = TABLES_BY_NAME["awards"], ValidationReport()
    rows = parse_table(table, table.path, text, report, Limits())
    (problem,) = report.problems
    assert (problem.rule, problem.severity, problem.line, problem.field) == ("unclosed-quote", "error", line, field)
    assert re.search(message, problem.message)
    assert [row.line for row in rows] == loaded
    assert [q.line for q in report.quarantined] == [line]  # the row it opened in, shown with the same reason
    assert report.quarantined[0].reasons == (problem.message,)
    assert columnar_matches(table, text) is False


def test_a_quote_left_open_in_the_header_reads_no_row() -> None:
    table, report = TABLES_BY_NAME["awards"], ValidationReport()
    text = f"{OPEN_HEADER}\n{FIRST}\n{SECOND}\n"
    assert parse_table(table, table.path, text, report, Limits()) == []
    (problem,) = report.problems
    assert (problem.rule, problem.line, problem.field) == ("unclosed-quote", 1, None)
    assert problem.message.startswith(
        "a quote opens column 3 of the header line and is never closed, so the rest of the file, lines 2 to 3 "
        "(2 lines, to the end), was read into it"
    )
    assert problem.message.endswith("No row of this table was read")
    assert report.unread == {"awards"}


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_value_over_many_lines_still_loads(line_end: str) -> None:
    # A quoted value may hold line ends, a comma and quotes: closed where it ends, it is a value like any other.
    table, report = TABLES_BY_NAME["awards"], ValidationReport()
    value = f'"GPU{line_end}{line_end}cloud, ""fast""{line_end}"'
    text = line_end.join([HEADER, FIRST.replace("GPU cloud", value), SECOND, ""])
    rows = parse_table(table, table.path, text, report, Limits())
    assert report.problems == [] and [row.line for row in rows] == [2, 6]
    assert rows[0].raw["purpose_en"] == f'GPU{line_end}{line_end}cloud, "fast"'  # stripped, as every cell
    assert columnar_matches(table, text) is False


# --- Cells mutated at random ------------------------------------------------------------------------------

# Values that break a cell one way or another, or look like they might.
HOSTILE = [
    "", " ", "\t", "\u3000", "\xa0x\xa0", "\x1c", "maybe", "EXACT", "about ",
    "2023-02-30", "2024-13", "2024-1-1", "1989", "2101", "2024-02-29", "0202", "19/04/2024",
    "1e5", "0", "-1", "-0", "1.23456", "1.2345", "1000000000000000000", "999999999999999999", "9" * 40,
    "NaN", "Infinity", "-inf", "1_000", "0x10", "١٢٣", "1,000", "12 billion", "1e400", "1e-999",
    "true", "false", "yes", "0.5", "12", "50", "51", "1990", "2100",
    '"', 'a"b', '""', ",", "a,b", "JP", "jp", "EU", "x" * 81, "Award A", "-lead", "award-a", "round-1",
    "\x00", "😀", "=1+1", "\ufeff",
    "1_930_000_000", "１９３", "1E+9", "+5", ".5", "5.", "5.0", "+2024", "2_024", "２０２４-04-19",
]  # fmt: skip
FIGURE_TABLES = [
    "awards", "programmes", "market_shares", "milestones", "citations", "caveat_links", "sources",
    "organisations", "countries", "caveats", "markets", "award_recipients",
]  # fmt: skip


def _pool(name: str) -> dict[str, list[str]]:
    """Per column, the values the bundled table holds: valid cells to mix with hostile ones."""
    rows = list(csv.DictReader(io.StringIO((BUNDLED_DATA / TABLES_BY_NAME[name].path).read_text(encoding="utf-8"))))
    return {column: sorted({row[column] for row in rows})[:40] for column in TABLES_BY_NAME[name].columns}


POOLS = {name: _pool(name) for name in [*FIGURE_TABLES, "highlights"]}


@st.composite
def mutated_tables(draw: st.DrawFn) -> tuple[str, list[dict[str, str]], str]:
    name = draw(st.sampled_from(FIGURE_TABLES))
    rows = minimal_tables()[name] * draw(st.integers(1, 3))
    rows = [dict(row) for row in rows]
    columns = TABLES_BY_NAME[name].columns
    for _ in range(draw(st.integers(0, 6))):
        row, column = draw(st.integers(0, len(rows) - 1)), draw(st.sampled_from(columns))
        rows[row][column] = draw(
            st.sampled_from(HOSTILE) | st.sampled_from(POOLS[name][column] or [""]) | st.text(max_size=12)
        )
    return name, rows, draw(st.sampled_from(["\n", "\r\n"]))


@settings(max_examples=300, deadline=None)
@given(mutated_tables())
def test_mutated_cells_give_the_same_result(case: tuple[str, list[dict[str, str]], str]) -> None:
    name, rows, line_end = case
    by_columns = columnar_matches(TABLES_BY_NAME[name], table_text(name, rows, line_end))
    # What the csv module writes is read by the columns, unless a value holds a line break (a
    # record over two lines) or starts line 2 with a byte-order mark (which pyarrow drops).
    odd = any(ch in value for row in rows for value in row.values() for ch in "\r\n\ufeff")
    assert by_columns or odd


CSV_NOISE = st.text(alphabet=',"\n\r \t\x00a1-.é\u3000\ufeff', max_size=6)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(FIGURE_TABLES), data=st.data())
def test_text_edited_at_random_gives_the_same_result(name: str, data: st.DataObject) -> None:
    text = minimal_text(name)
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 8)))
        text = text[:start] + data.draw(CSV_NOISE) + text[end:]
    columnar_matches(
        TABLES_BY_NAME[name], text, data.draw(st.sampled_from([None, Limits(rows=1), Limits(cell_chars=8)]))
    )


# --- Values ---------------------------------------------------------------------------------------------


def test_amounts_keep_their_exact_decimal(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "100000.50"  # its trailing zero kept: Decimal("100000.5") would differ
    tables["awards"][1]["amount"] = "99999999999999.9999"
    write_package(tmp_path, tables)
    text = (tmp_path / "awards.csv").read_text(encoding="utf-8")
    rows = parse_table_columnar(TABLES_BY_NAME["awards"], "awards.csv", text, ValidationReport(), Limits())
    assert [repr(a) for a in rows.values["amount"]] == [
        repr(Decimal("100000.50")),
        repr(Decimal("99999999999999.9999")),
    ]
    assert columnar_matches(TABLES_BY_NAME["awards"], text)


# A number as Python's Decimal and int would read it, but not in the plain digits a package writes.
FULL_WIDTH, ARABIC_INDIC = (
    str.maketrans("0123456789", "０１２３４５６７８９"),
    str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
)
LENIENT_FORMS: list[Callable[[int], str]] = [
    lambda n: f"{n:_}" if n >= 1000 else f"{str(n)[:-1] or 0}_{str(n)[-1]}",  # 12_345, 1_2, 0_5: the same number
    lambda n: str(n).translate(FULL_WIDTH),
    lambda n: str(n).translate(ARABIC_INDIC),
    lambda n: f"{n:e}",
    lambda n: f"{n:E}".replace("E+0", "E+"),
    lambda n: f"+{n}",
    lambda n: f"{n}.",
]


@settings(max_examples=100, deadline=None)
@given(number=st.integers(1, 99), form=st.sampled_from(LENIENT_FORMS), where=st.sampled_from(
    [("awards", "amount"), ("awards", "project_cost"), ("market_shares", "share_low"), ("markets", "year"),
     ("caveats", "conflict_no"), ("market_shares", "rank")]))  # fmt: skip
def test_a_number_not_in_plain_digits_is_refused_alike_by_both_parsers(
    number: int, form: Callable[[int], str], where: tuple[str, str]
) -> None:
    name, column = where
    tables = minimal_tables()
    row = tables[name][0]
    number = 2024 if column == "year" else number * 10**9 if column in ("amount", "project_cost") else number
    row[column] = form(number)
    if column == "project_cost":
        row["project_cost_basis"] = "exact"
    if column == "share_low":
        row["share_high"] = str(number)
    if column == "rank":
        row.update(basis="rank_only", share_low="", share_high="")
    report = ValidationReport()
    assert columnar_matches(TABLES_BY_NAME[name], table_text(name, [row]))
    parse_table_columnar(TABLES_BY_NAME[name], f"{name}.csv", table_text(name, [row]), report, Limits())
    [problem] = report.problems
    assert (problem.line, problem.field, problem.value) == (2, column, row[column])
    plain = (f"'{row[column]}' is not written as plain digits", f"'{row[column]}' is not a whole number")
    assert problem.message.startswith(plain)


def test_write_table_output_is_read_by_columns(tmp_path: Path) -> None:
    # The tests' own package writer (csv.DictWriter) produces what the columns read.
    for name, rows in minimal_tables().items():
        assert columnar_matches(TABLES_BY_NAME[name], write_table(tmp_path, name, rows).read_text(encoding="utf-8"))


# --- Bytes: what the package loader hands over --------------------------------------------------------


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_the_bytes_of_a_file_read_as_its_text(generated: Path, table: Table) -> None:
    # The loader hands the columns a file's bytes, never decoded: the same report and rows as its text.
    data = (generated / table.path).read_bytes()
    expected_report, actual_report = ValidationReport(), ValidationReport()
    expected = parse_table_columnar(table, table.path, data.decode("utf-8"), expected_report, Limits())
    actual = parse_table_columnar(table, table.path, data, actual_report, Limits())
    assert actual_report == expected_report
    assert_same_rows(actual, expected)


@pytest.mark.parametrize("above", ["\n", "\r\n\r\n", "   \n", ",,,\n"])
def test_a_header_below_a_blank_line_is_one_problem_and_the_table_unread(above: str) -> None:
    # A blank line above the header gave one "missing column" problem per column, then one "the line has 4 values
    # but the header has 0 columns" per line: the file's every line, and nothing said what was wrong.
    table = TABLES_BY_NAME["countries"]
    text = above + "id,name_en,name_ja,fiscal_year_start_month\nJP,Japan,日本,4\nUS,United States,,10\n"
    columnar_matches(table, text)
    report = ValidationReport()
    assert len(parse_table_columnar(table, table.path, text.encode("utf-8"), report, Limits())) == 0
    [problem] = report.problems
    assert (problem.rule, problem.line, problem.file) == ("blank-header", 1, "countries.csv")
    assert problem.message.startswith("line 1 names no column: the header (id, name_en, name_ja, ...) must be the ")
    assert report.unread == {"countries"}


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing: reported as empty
        " \n\u3000\n",  # whitespace only, a wide space among it
        "\nid,name_en\n",  # a blank first line before the header
        "  \nid\n",  # a first line of spaces
        'id,"name\n_en"\nx,y\n',  # a header over two lines
    ],
)
def test_bytes_whose_first_line_is_odd_read_as_their_text(text: str) -> None:
    table = TABLES_BY_NAME["countries"]
    expected_report, actual_report = ValidationReport(), ValidationReport()
    expected = parse_table_columnar(table, table.path, text, expected_report, Limits())
    actual = parse_table_columnar(table, table.path, text.encode("utf-8"), actual_report, Limits())
    assert actual_report == expected_report
    assert_same_rows(actual, expected)
