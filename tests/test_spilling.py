"""Validation in pieces, spilling to disk (aifunding.loading.spilling), gives the report validation in memory gives.

Pieces are made tiny here (a few hundred bytes: a record or two each), so that every table that grows with the
awards is read in many pieces, every row-by-row rule runs on many of them and every rule across rows goes through its
DuckDB narrowing. Each package is validated both ways and the reports compared whole; the packages that this path
settles itself are checked to have been validated in pieces, and those it leaves to memory to say why.
"""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest
from hostile.corpus import CASES, build
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import BUNDLED_DATA
from aifunding.cli import main
from aifunding.data.report import ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.tables import TABLES
from aifunding.loading.columnar_rules import COLUMNAR_CHECKS
from aifunding.loading.package import PackageReadError, load_package
from aifunding.loading.spill_files import closed_end, pieces
from aifunding.loading.spilling import (
    IN_MEMORY_FACTOR,
    PIECED_TABLES,
    RULE_TABLES,
    Bounded,
    _run,
    validate_within,
)

from packages import assert_same_report, generate, minimal_tables, rounding_ceiling_tables, write_package

TINY = 300  # bytes per piece: a record or two


def same_in_pieces(folder: Path, piece_bytes: int = TINY) -> Bounded | None:
    """Validate ``folder`` in pieces (memory of 1 byte: never in memory by choice) and in memory; the same report."""
    try:
        expected = load_package(folder).report
    except PackageReadError as error:
        with pytest.raises(PackageReadError) as raised:
            validate_within(folder, 1, piece_bytes=piece_bytes)
        assert str(raised.value) == str(error)
        return None
    bounded = validate_within(folder, 1, piece_bytes=piece_bytes)
    assert_same_report(bounded.report, expected)
    assert bounded.spilled or bounded.why
    return bounded


def test_the_bundled_package_in_pieces() -> None:
    bounded = same_in_pieces(BUNDLED_DATA)
    assert bounded.spilled and bounded.report.valid
    assert [p.rule for p in bounded.report.problems] == ["ceiling-rounding"]  # worded by the rule


def test_a_generated_package_in_pieces(tmp_path: Path) -> None:
    folder = tmp_path / "generated"
    generate(1500, folder, seed=3)
    assert same_in_pieces(folder, 4096).spilled


def _package(tmp_path: Path, change) -> Path:
    tables = minimal_tables()
    change(tables)
    return write_package(tmp_path / "package", tables)


def _tomorrow() -> str:
    return (datetime.date.today() + datetime.timedelta(days=2)).isoformat()


# Packages whose problems are the package rules' (warnings and errors of rows that all load): validated in pieces, each
# rule's problems found by its narrowing (or row by row) and worded by the rule itself.
RULE_PROBLEMS = {
    "uncited award": lambda t: t.__setitem__(
        "citations", [c for c in t["citations"] if c.get("award_id") != "award-a"]
    ),
    "uncited programme and milestone": lambda t: t.__setitem__(
        "citations", [c for c in t["citations"] if not (c.get("programme_id") or c.get("milestone_id"))]
    ),
    "a joint award without a lead": lambda t: [
        r.update(role="member") for r in t["award_recipients"] if r["award_id"] == "award-bc"
    ],
    "an award with no recipient": lambda t: t.__setitem__(
        "award_recipients", [r for r in t["award_recipients"] if r["award_id"] != "award-a"]
    ),
    "a sole recipient called a lead": lambda t: [
        r.update(role="lead") for r in t["award_recipients"] if r["award_id"] == "award-a"
    ],
    "awards over the ceiling": lambda t: t["awards"][0].update(amount="9000000000", basis="exact"),
    "an award in another currency": lambda t: t["awards"][0].update(currency="USD"),
    "a currency the ECB does not quote": lambda t: t["awards"][0].update(currency="KPW"),
    "an announcement after today": lambda t: t["awards"][1].update(announced=_tomorrow()),
    "Japanese-only English names": lambda t: t["organisations"][0].update(name_en="アルファ"),
    "one organisation under two ids": lambda t: t["organisations"].append({**t["organisations"][0], "id": "org-a2"}),
    "namesakes in full width and in Japanese": lambda t: t["organisations"].extend(
        [
            {**t["organisations"][1], "id": "org-b2", "name_en": "ＢＥＴＡ  labs"},
            {**t["organisations"][2], "id": "org-c2", "name_en": "Delta", "name_ja": "アルファ"},
            {**t["organisations"][2], "id": "org-c3", "name_en": "Gamma AI", "country_id": "JP"},
        ]
    ),
    "titles that differ by a particle": lambda t: t["programmes"].extend(
        [
            {**t["programmes"][0], "id": "p-ja", "name_en": "Round 2", "name_ja": "計算資源の補助"},
            {**t["programmes"][0], "id": "p-ja2", "name_en": "Round 3", "name_ja": "計算資源補助"},
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(RULE_PROBLEMS))
def test_rule_problems_found_in_pieces(name: str, tmp_path: Path) -> None:
    bounded = same_in_pieces(_package(tmp_path, RULE_PROBLEMS[name]))
    assert bounded.spilled, bounded.why
    assert any(problem.line for problem in bounded.report.problems)  # each case makes at least one row's problem


def test_the_rounding_ceiling_in_pieces(tmp_path: Path) -> None:
    """The ceiling's sums round at six digits: the narrowing sees the exact sum under the ceiling, so the rule, run on
    the awards beneath the programmes whose sums are too long to be sure of, decides (as in memory)."""
    import decimal

    folder = write_package(tmp_path / "package", rounding_ceiling_tables())
    with decimal.localcontext(prec=6):
        bounded = same_in_pieces(folder)
    assert bounded.spilled


# Packages only whole tables settle: validated in memory, and saying why.
LEFT_TO_MEMORY = {
    "a dangling programme": (lambda t: t["awards"][0].update(programme_id="nowhere"), "names no row of programmes"),
    "a repeated award": (lambda t: t["awards"].append(dict(t["awards"][0])), "share a key"),
    "an amount that is not one": (lambda t: t["awards"][0].update(amount="lots"), "quarantined"),
    "a recipient of nobody": (
        lambda t: t["award_recipients"].append({"award_id": "award-a", "organisation_id": "nobody", "role": "member"}),
        "names no row of organisations",
    ),
    "a parent cycle": (
        lambda t: t["programmes"].extend(
            [
                {**t["programmes"][0], "id": "loop-a", "parent_id": "loop-b", "level": "round"},
                {**t["programmes"][0], "id": "loop-b", "parent_id": "loop-a", "level": "round"},
            ]
        ),
        "one tree",
    ),
}


@pytest.mark.parametrize("name", sorted(LEFT_TO_MEMORY))
def test_what_whole_tables_settle_is_validated_in_memory(name: str, tmp_path: Path) -> None:
    change, why = LEFT_TO_MEMORY[name]
    bounded = same_in_pieces(_package(tmp_path, change))
    assert not bounded.spilled and why in (bounded.why or "")


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_hostile_case_in_pieces(name: str, tmp_path: Path) -> None:
    same_in_pieces(build(name, tmp_path))


def test_a_package_that_fits_is_validated_in_memory(tmp_path: Path) -> None:
    folder = write_package(tmp_path / "package", minimal_tables())
    size = sum(path.stat().st_size for path in folder.glob("*.csv"))
    fits = validate_within(folder, IN_MEMORY_FACTOR * size, piece_bytes=TINY)
    assert not fits.spilled and fits.why is None and fits.report.valid
    assert validate_within(folder, IN_MEMORY_FACTOR * size - 1, piece_bytes=TINY).spilled


def test_a_line_after_quoted_line_breaks_is_named_at_its_line(tmp_path: Path) -> None:
    """Rows after a note that spans lines, in pieces: each row's problem names its line in the file."""
    tables = minimal_tables()
    tables["awards"][0]["note"] = 'first line\nsecond line, with a comma\n\nand a "quoted" word'
    tables["organisations"][0]["name_en"] = "アルファ"
    tables["organisations"][2]["name_en"] = "ガンマ"
    bounded = same_in_pieces(write_package(tmp_path / "package", tables), 40)
    assert bounded.spilled
    assert [p.line for p in bounded.report.problems if p.rule == "english-text"] == [2, 4]


@pytest.mark.parametrize("code", sorted(COLUMNAR_CHECKS))
def test_each_rule_reads_only_the_tables_it_is_said_to(code: str, tmp_path: Path) -> None:
    """RULE_TABLES decides which rules run on held tables and which need a narrowing: a rule given only its tables
    finds what it finds given them all (one that reads another fails with a KeyError)."""
    changes = [change for change in RULE_PROBLEMS.values()]
    tables = minimal_tables()
    for change in changes:
        change(tables)
    folder = write_package(tmp_path / "package", tables)
    rows = _rowsets(folder)
    assert _run(code, {name: rows[name] for name in RULE_TABLES[code]}) == _run(code, rows)


def _rowsets(folder: Path) -> dict[str, RowSet]:
    from aifunding.data.columnar import parse_table_columnar
    from aifunding.data.limits import Limits

    return {
        table.name: parse_table_columnar(
            table, table.path, (folder / table.path).read_bytes(), ValidationReport(), Limits()
        )
        for table in TABLES
    }


def test_only_the_tables_that_grow_with_the_awards_are_read_in_pieces() -> None:
    assert set(PIECED_TABLES) == {"organisations", "awards", "award_recipients", "citations"}


# Pieces of a file: whole records, whatever the quotes and line breaks inside them.

CELL = st.text(alphabet=st.sampled_from(list('ab,"\n\r x日')), max_size=12)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=1, max_size=12), size=st.integers(1, 64))
def test_pieces_are_whole_records(records: list[list[str]], size: int) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    data = buffer.getvalue().encode()
    cut = list(pieces(io.BytesIO(data), size))
    assert b"".join(piece for piece, _ in cut) == data
    read = [row for piece, _ in cut for row in csv.reader(io.StringIO(piece.decode(), newline=""))]
    assert read == list(csv.reader(io.StringIO(data.decode(), newline="")))
    offset = 0
    for piece, line in cut:  # each piece begins at the line the whole file has there
        assert line == 1 + data[:offset].count(b"\n")
        offset += len(piece)


def test_closed_end() -> None:
    assert closed_end(b'a,b\nc,"d\ne"\nf') == len(b'a,b\nc,"d\ne"\n')
    assert closed_end(b'a,"b\nc') == -1
    assert closed_end(b"no line break") == -1


# The command.


def test_validate_within_memory_prints_the_same_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _package(tmp_path, RULE_PROBLEMS["uncited award"])
    assert main(["validate", str(folder)]) == 1
    expected = capsys.readouterr().out
    assert main(["validate", "--memory", "1", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out == expected
    assert "validated in pieces" in captured.err


def test_validate_within_memory_says_when_it_validated_in_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _package(tmp_path, LEFT_TO_MEMORY["a repeated award"][0])
    assert main(["validate", "--memory", "1KB", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "validated in memory" in err and "share a key" in err


@pytest.mark.parametrize("given_memory", ["lots", "0", "-1GB", "1.5TBs"])
def test_a_memory_that_is_not_one_is_a_usage_error(given_memory: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--memory", given_memory])
    assert exited.value.code == 2
    assert "--memory" in capsys.readouterr().err


@pytest.mark.parametrize("text", [b"", b"  \n"])
def test_an_empty_file_is_left_to_memory_which_reports_it(text: bytes, tmp_path: Path) -> None:
    """An empty awards.csv (the largest file, parsed first, beside the others): the reason is its own, whichever table's
    parse is waited for first."""
    folder = write_package(tmp_path / "package", minimal_tables())
    (folder / "awards.csv").write_bytes(text)
    bounded = same_in_pieces(folder)
    assert bounded is not None and not bounded.spilled
    assert bounded.why == (
        "awards.csv is empty" if not text else "awards.csv has a header (or a model) that only the per-row parser reads"
    )


@pytest.mark.parametrize("rows", [2, 5, 40])
def test_a_table_over_the_rows_limit_reads_as_in_memory(rows: int, tmp_path: Path) -> None:
    """The rows limit counts a table's rows across its pieces: over it in one piece, the piece reports it as the whole
    file would; over it across pieces, the package is validated in memory, which reports it."""
    from aifunding.data.limits import Limits

    limits = Limits(rows=rows)
    bounded = validate_within(BUNDLED_DATA, 1, limits, piece_bytes=TINY)
    expected = load_package(BUNDLED_DATA, limits).report
    assert_same_report(bounded.report, expected)
    assert any(problem.rule == "too-many-rows" for problem in expected.problems)
