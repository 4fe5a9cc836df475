"""What the columnar parser relies on: flags that cover every refusal, and readers that agree with the csv module.

``test_columnar_parse`` compares whole results; the tests here pin the pieces down: every row a
model refuses is flagged (so only flagged rows need a model), a model whose checks are not known is
read row by row, the header and quoted lines are read as the csv module reads them, and pyarrow's
and pydantic's whitespace agree with ``str.strip``.
"""

from __future__ import annotations

import csv
import itertools
import re
import sys
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator
from test_columnar_parse import HOSTILE, POOLS, columnar_matches, table_text

from aifunding.data import grid
from aifunding.data.columnar import Checked, check_grid
from aifunding.data.crossfield import PREDICATES, predicates_for
from aifunding.data.distinct import FieldCheck, TextRule, field_checks
from aifunding.data.grid import Grid, header_record, read_grid
from aifunding.data.limits import Limits
from aifunding.data.models import ID_PATTERN
from aifunding.data.parsing import csv_reader, decode_csv_bytes, read_header, utf8_csv_bytes
from aifunding.data.report import ValidationReport
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table

from packages import minimal_tables

# --- Flags: every row a model refuses is flagged ----------------------------------------------------------


def assert_refused_rows_flagged(name: str, rows: list[dict[str, str]]) -> int:
    """Assert that every row of ``rows`` its model refuses is flagged by the columnar checks; return how many."""
    table = TABLES_BY_NAME[name]
    text = table_text(name, rows)
    record = header_record(text)
    assert record is not None
    header = read_header(table, table.path, iter([record]), ValidationReport(), Limits())
    assert header is not None
    grid = read_grid(text, len(header.names))
    # None only where the csv module could read the text otherwise (a cell starting with a byte-order
    # mark, a lone carriage return): such a file is read row by row, which columnar_matches checks below.
    checked = None if grid is None else check_grid(table, header, grid, Limits())
    refused = 0
    for position, row in enumerate(rows):  # csv.DictWriter writes one line per row: positions match
        data = {k: v.strip() for k, v in row.items() if v.strip()}
        if not data:
            continue  # a blank line, which holds no row
        try:
            table.model.model_validate(data)
        except ValidationError:
            refused += 1
            assert checked is None or checked.flagged[position], (name, row)
    assert columnar_matches(table, text) == (grid is not None)  # the same rows and problems either way
    return refused


# Per table with cross-field validators: a valid row, and the values to combine in each field they read.
COMBINATIONS: dict[str, tuple[dict[str, str], dict[str, list[str]]]] = {
    "programmes": (
        {**minimal_tables()["programmes"][0], "id": "p-1"},  # every row p-1: a parent_id p-1 names the row itself
        {
            "amount": ["", "5"], "currency": ["", "JPY"], "basis": ["", "exact"],
            "period_start_fy": ["", "2020", "2024"], "period_end_fy": ["", "2020", "2024"],
            "parent_id": ["", "p-1", "p-2"],
        },
    ),
    "awards": (
        minimal_tables()["awards"][0],
        {
            "amount": ["", "5"], "currency": ["", "JPY"], "basis": ["", "about"],
            "project_cost": ["", "9"], "project_cost_basis": ["", "exact"],
        },
    ),
    "market_shares": (
        minimal_tables()["market_shares"][0],
        {
            "share_low": ["", "30", "70"], "share_high": ["", "30", "70"],
            "basis": ["exact", "about", "range", "more_than", "rank_only"],
            "rank": ["", "1"], "rank_inferred": ["", "false", "true"],
        },
    ),
    "milestones": (
        minimal_tables()["milestones"][0],
        {"due_date": ["", "2024-12"], "due_fiscal_year": ["", "2025"], "programme_id": ["", "round-1"],
         "award_id": ["", "award-a"]},
    ),
    "citations": (
        {"source_id": "src-a"},
        {"programme_id": ["", "p"], "award_id": ["", "a"], "market_share_id": ["", "s"], "milestone_id": ["", "m"]},
    ),
    "caveat_links": (
        {"caveat_id": "cv-1"},
        {"programme_id": ["", "p"], "award_id": ["", "a"], "market_share_id": ["", "s"], "milestone_id": ["", "m"]},
    ),
    "highlights": (
        {"position": "1", "claim_en": "A claim", "page": "overview"},
        {"programme_id": ["", "p"], "award_id": ["", "a"], "market_share_id": ["", "s"]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_every_combination_a_cross_field_validator_reads_is_flagged_when_refused(name: str) -> None:
    base, choices = COMBINATIONS[name]
    rows = [dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())]
    refused = assert_refused_rows_flagged(name, [{**base, **row} for row in rows])
    assert 0 < refused < len(rows)


@st.composite
def pooled_rows(draw: st.DrawFn) -> tuple[str, list[dict[str, str]]]:
    """Rows of bundled values, a few cells emptied and one made hostile: many mixes reach the model validators."""
    name = draw(st.sampled_from(sorted(COMBINATIONS)))
    columns = TABLES_BY_NAME[name].columns
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        row = {c: draw(st.sampled_from(POOLS[name][c] or [""])) for c in columns}
        for column in draw(st.lists(st.sampled_from(columns), max_size=3)):
            row[column] = ""
        if draw(st.booleans()):
            row[draw(st.sampled_from(columns))] = draw(st.sampled_from(HOSTILE))
        rows.append(row)
    return name, rows


def _first_cell_a_byte_order_mark() -> tuple[str, list[dict[str, str]]]:
    """A programme whose first cell is U+FEFF: its line starts with a byte-order mark, so it is read row by row."""
    columns = TABLES_BY_NAME["programmes"].columns
    row = {c: (POOLS["programmes"][c] or [""])[0] for c in columns}
    return "programmes", [{**row, columns[0]: "\ufeff"}, row]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pooled_rows())
@example(_first_cell_a_byte_order_mark())
def test_every_row_the_model_refuses_is_flagged(case: tuple[str, list[dict[str, str]]]) -> None:
    assert_refused_rows_flagged(*case)


def test_every_table_is_read_by_columns() -> None:
    # A validator renamed or added without its predicate would silently send every table to the per-row reader.
    for table in TABLES:
        assert field_checks(table.model) is not None, table.name
        assert predicates_for(table.model) is not None, table.name
    validators = {
        v.func.__qualname__ for t in TABLES for v in t.model.__pydantic_decorators__.model_validators.values()
    }
    assert validators == set(PREDICATES)  # and no predicate outlives its validator


class _Checked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z]+$")
    size: int | None = Field(None, ge=1)


class _FieldValidated(_Checked):
    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == "admin":
            raise ValueError("reserved")
        return value


class _UnknownRule(_Checked):
    @model_validator(mode="after")
    def _small(self) -> _UnknownRule:
        if self.size is not None and self.size > 9:
            raise ValueError("too big")
        return self


@pytest.mark.parametrize(
    ("model", "by_columns"),
    [(_Checked, True), (_FieldValidated, False), (_UnknownRule, False)],
    ids=["annotations only", "a field validator", "an unknown model validator"],
)
def test_a_model_whose_checks_are_not_known_is_read_row_by_row(model: type[BaseModel], by_columns: bool) -> None:
    table = Table("things", model, "Things", "Test rows.")
    text = "id,size\nadmin,3\nbob,12\nBad,0\n,\ncarol,\n"
    assert columnar_matches(table, text) is by_columns


# --- Text rules: Arrow's check of a plain text field is the field's validator ----------------------------------


def _text_rules() -> dict[TextRule, FieldCheck]:
    """Each distinct text rule of the package's models, with a field that has it."""
    rules: dict[TextRule, FieldCheck] = {}
    for table in TABLES:
        for check in field_checks(table.model) or ():
            if check.text is not None:
                rules.setdefault(check.text, check)
    return rules


TEXT_RULES = _text_rules()
# Letters and digits of other scripts and cases (a Kelvin sign, a dotted I, an Arabic-Indic three, full-width A),
# separators, and the characters the identifier pattern allows and refuses.
TEXT_ALPHABET = "az09AZ-_ .\n\u212a\u0130\u0663\uff21\u00df\u3000\u0301é日"


def test_the_plain_text_fields_have_text_rules() -> None:
    rules = {(table.name, check.name): check.text for table in TABLES for check in field_checks(table.model) or ()}
    assert rules[("awards", "id")] == TextRule(1, 80, ID_PATTERN)
    assert rules[("award_recipients", "award_id")] == TextRule(1, 80, ID_PATTERN)
    assert rules[("citations", "award_id")] == TextRule(1, 80, ID_PATTERN)  # an optional field's
    assert rules[("awards", "purpose_en")] == TextRule(1, None, None)
    assert rules[("highlights", "claim_ja")] == TextRule(None, 200, None)
    # A validator of its own, a pattern with an escape, an enum: the field's validator checks each distinct value.
    assert rules[("awards", "announced")] is None
    assert rules[("sources", "url")] is None
    assert rules[("awards", "basis")] is None


@pytest.mark.parametrize(
    "config",
    [ConfigDict(str_to_lower=True), ConfigDict(str_max_length=3), ConfigDict(coerce_numbers_to_str=True)],
    ids=["lower", "max length", "numbers"],
)
def test_an_option_that_changes_text_leaves_no_text_rule(config: ConfigDict) -> None:
    adapter = TypeAdapter(list[Annotated[str, Field(pattern="^[a-z]+$")]], config=config)
    assert TextRule.of(adapter, config) is None
    plain = TypeAdapter(list[Annotated[str, Field(pattern="^[a-z]+$")]])
    assert TextRule.of(plain, ConfigDict()) == TextRule(None, None, "^[a-z]+$")


@pytest.mark.parametrize("pattern", [r"^\d+$", "^(?i)[a-z]+$", "^a.b$", "^[à-ÿ]+$"])
def test_a_pattern_engines_may_read_apart_leaves_no_text_rule(pattern: str) -> None:
    assert TextRule.of(TypeAdapter(list[Annotated[str, Field(pattern=pattern)]]), ConfigDict()) is None


@pytest.mark.parametrize("rule", list(TEXT_RULES), ids=str)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.text(alphabet=TEXT_ALPHABET, max_size=12) | st.text(alphabet="ab-", min_size=78, max_size=82)))
@example(cells=["a" * 80, "a" * 81, "a" * 200, "a" * 201, "", "-a", "a-", "ab\n", "\u212a", "JP", "JPN", "jp"])
def test_a_text_rule_accepts_what_the_field_validator_accepts(rule: TextRule, cells: list[str]) -> None:
    adapter = TEXT_RULES[rule].adapter

    def accepted(cell: str) -> bool:
        try:
            [value] = adapter.validate_python([cell])
        except ValidationError:
            return False
        assert value == cell  # a valid cell is handed back as it is: the column is its cleaned text
        return True

    assert rule.accepts(pa.array(cells, pa.string())).tolist() == [accepted(cell) for cell in cells]


# A column of ids all but a few distinct, as a package's ids are: a few given twice, padded, cased otherwise,
# blank, or refused by the pattern; and a column repeating a few values (kept dictionary-encoded either way).
AWARD_IDS = [f"award-{i}" for i in range(60)] + ["award-1", " award-2", "award-3 ", "AWARD-4", "", "-bad", "x" * 81]


def _checked(text: str, plain: bool) -> tuple[Checked, Grid]:
    table = TABLES_BY_NAME["awards"]
    record = header_record(text)
    assert record is not None
    header = read_header(table, table.path, iter([record]), ValidationReport(), Limits())
    assert header is not None
    grid = read_grid(text, len(header.names), set(range(len(header.names))) if plain else ())
    assert grid is not None
    return check_grid(table, header, grid, Limits()), grid


def test_a_column_all_but_a_few_distinct_is_checked_cell_by_cell_as_by_distinct_value() -> None:
    base = minimal_tables()["awards"][0]
    purposes = ["A purpose", " A purpose", "", "Another"]
    rows = [{**base, "id": id_, "purpose_en": purposes[i % 4]} for i, id_ in enumerate(AWARD_IDS)]
    text = table_text("awards", rows)
    by_value, dictionary_grid = _checked(text, plain=False)
    by_cell, plain_grid = _checked(text, plain=True)
    position = TABLES_BY_NAME["awards"].columns.index
    assert pa.types.is_dictionary(dictionary_grid.cells.column(position("id")).type)
    assert plain_grid.cells.column(position("id")).type == pa.string()  # read as plain text: checked per cell
    assert pa.types.is_dictionary(plain_grid.cells.column(position("purpose_en")).type)  # four values: by value
    assert len(by_cell.by_name["id"]) == len(rows) > len(by_value.by_name["id"])
    assert by_cell.flagged.tolist() == by_value.flagged.tolist()
    assert by_cell.blank.tolist() == by_value.blank.tolist()
    # A blank purpose (required), a blank id, the ids the pattern refuses (upper case, a leading hyphen), one too long.
    refused = {"", "AWARD-4", "-bad", "x" * 81}
    expected = [row["purpose_en"].strip() == "" or row["id"].strip() in refused for row in rows]
    assert by_value.flagged.tolist() == expected
    for name, column in by_value.columns.items():
        other = by_cell.columns[name]
        assert other.failed_rows().tolist() == column.failed_rows().tolist(), name
        assert other.values[other.codes].tolist() == column.values[column.codes].tolist(), name
    assert by_cell.columns["id"].values[by_cell.columns["id"].codes][:3].tolist() == ["award-0", "award-1", "award-2"]
    assert columnar_matches(TABLES_BY_NAME["awards"], text)  # and the parse reads it as the per-row reader


@pytest.mark.parametrize("blank_id", [False, True])
def test_each_rows_flags_are_its_codes_flags(blank_id: bool) -> None:
    # A column with no blank cell takes no row's flag by its code (nothing failed, or everything is present), and
    # the codes are the cells' indices: each must still be what taking every row's by its code gives.
    base = minimal_tables()["awards"][0]
    ids = AWARD_IDS[:60] + [""] * blank_id  # a blank id: required, so it fails though every id given is valid
    rows = [{**base, "id": id_, "announced_note": ["", "A detail"][i % 2]} for i, id_ in enumerate(ids)]
    for plain in (False, True):
        checked, _ = _checked(table_text("awards", rows), plain)
        for name, column in checked.columns.items():
            assert column.failed_rows().tolist() == column.failed[column.codes].tolist(), name
            assert column.present_rows().tolist() == column.present[column.codes].tolist(), name
            assert column.blanks == bool((column.codes == len(column.failed) - 1).any()), name
        for name, encoded in checked.by_name.items():
            assert encoded.blank_rows().tolist() == encoded.blank[encoded.indices].tolist(), name
        assert checked.columns["id"].failed_rows().tolist() == [False] * 60 + [True] * blank_id
        assert checked.columns["announced_note"].present_rows().tolist() == [i % 2 == 1 for i in range(len(ids))]


# --- Readers and whitespace -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab,"\n\r \t\ufeff', max_size=30))
def test_the_header_line_is_read_as_the_csv_module_reads_it(text: str) -> None:
    record = header_record(text)
    if record is not None:
        reader = csv_reader(text)
        assert record == next(reader)
        assert reader.line_num == 1  # line 1 holds all of it


def split_quoted_lines(data: bytes, start: int) -> tuple[list[int], list[str], int]:
    """Every data line holding a double quote (index, text) and how many data lines there are, by splitting."""
    lines = data[start:].decode("utf-8").split("\n")
    lines = lines[:-1] if lines[-1] == "" else lines  # a line end ends the last line: no empty line after it
    indices = [i for i, line in enumerate(lines) if '"' in line]
    return indices, [lines[i].removesuffix("\r") for i in indices], len(lines)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab,"\n\r\u3000', max_size=40).map(lambda t: t.replace("\r", "\r\n")), st.integers(0, 3))
def test_quoted_lines_found_are_those_split_and_the_odd_ones_among_them(text: str, start: int) -> None:
    data = text.encode("utf-8")
    start = min(start, len(data))
    if start and not data[:start].endswith(b"\n"):
        start = data.rfind(b"\n", 0, start) + 1
    indices, texts, count = split_quoted_lines(data, start)
    assert grid._find_quoted_lines(data, start) == (indices, texts)
    odd, odd_texts, lines = grid._odd_quoted_lines(data, start)
    assert lines == count
    assert odd_texts == [texts[indices.index(i)] for i in odd]  # a subset of the quoted lines, with their text
    plain = re.compile(grid.PLAINLY_QUOTED)
    assert [i for i, line in zip(indices, texts, strict=True) if not plain.search(line)] == odd


# A line of fields, each unquoted or quoted, with quotes, commas, spaces and a line end where the csv module and
# pyarrow might part: stray quotes, a quote after a space, text after a closing quote.
FIELD = st.text(alphabet='ab ,"\u3000', max_size=6)
QUOTED = FIELD.map(lambda f: '"' + f.replace('"', '""') + '"')
LINE = st.lists(st.one_of(FIELD, QUOTED, st.text(alphabet='a"', max_size=4)), min_size=1, max_size=5).map(",".join)


@settings(max_examples=500, deadline=None)
@given(LINE, st.sampled_from(["", "\n", "\r\n"]))
@example('"a""b",c', "\n")
@example('a,""', "\r\n")
def test_a_plainly_quoted_line_reads_alike_in_pyarrow_and_the_csv_module(line: str, end: str) -> None:
    # What lets the parser skip the csv module for a quoted line: each such line reads as the same values in both.
    if '"' not in line or not re.search(grid.PLAINLY_QUOTED, line + end):
        return
    [record] = list(csv.reader([line], strict=True))
    read = grid.read_grid(("header\n" + line + end).encode("utf-8"), len(record))
    assert read is not None
    assert [column.cast(pa.string()).to_pylist() for column in read.cells.columns] == [[cell] for cell in record]


def test_pyarrow_trims_exactly_what_str_strip_strips() -> None:
    points = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    trimmed = pc.utf8_trim_whitespace(pa.array([f"{p}x{p}" for p in points])).to_pylist()
    assert [t for t, p in zip(trimmed, points, strict=True) if t != f"{p}x{p}".strip()] == []


def test_pydantic_strips_nothing_str_strip_keeps() -> None:
    # So a cell stripped by str.strip is what the model's str_strip_whitespace leaves (see distinct.py).
    kept = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF and not chr(c).isspace()]
    stripping = TypeAdapter(list[str], config=ConfigDict(str_strip_whitespace=True))
    assert stripping.validate_python([f"{k}x{k}" for k in kept]) == [f"{k}x{k}" for k in kept]


# --- The encoding, checked without decoding -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"plain ascii,1\n",
        "日本語,¥\n".encode(),
        b"\xef\xbb\xbfid\n",  # a byte-order mark
        b"\xff",  # never UTF-8
        b"caf\xe9",  # Latin-1
        b"\xc0\xaf",  # an overlong slash
        b"\xed\xa0\x80",  # a surrogate
        b"\xf4\x90\x80\x80",  # past U+10FFFF
        b"\xe6\x97",  # a character cut short at the end
    ],
)
def test_utf8_is_what_bytes_decode_accepts(data: bytes) -> None:
    assert grid.is_utf8(data) == _decodes(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_utf8_is_what_bytes_decode_accepts_for_any_bytes(data: bytes) -> None:
    assert grid.is_utf8(data) == _decodes(data)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize(
    "data", [b"id\nx\n", b"\xef\xbb\xbfid\nx\n", b"id\nca\xe9\n", b"\xef\xbb\xbfid\n\xff\n"], ids=str
)
def test_utf8_bytes_are_reported_as_decoding_reports_them(data: bytes) -> None:
    decoded, checked = ValidationReport(), ValidationReport()
    text = decode_csv_bytes("countries", "countries.csv", data, decoded)
    kept = utf8_csv_bytes("countries", "countries.csv", data, checked)
    assert checked.problems == decoded.problems
    assert (kept is None) == (text is None)
    assert kept is None or kept.decode("utf-8") == text
