"""The validator: one test per rule, asserting the message, on a corpus of packages broken on purpose."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from aifunding.data.limits import MB, Limits, describe_bytes
from aifunding.data.report import Severity
from aifunding.data.tables import TABLES_BY_NAME
from aifunding.loading.package import PackageReadError, load_package
from aifunding.loading.rules import half_unit

from packages import line_of, minimal_tables, write_package, write_table


def problems_for(folder: Path, rule: str) -> list:
    return [p for p in load_package(folder).report.problems if p.rule == rule]


def test_minimal_package_is_valid_and_clean(minimal: Path) -> None:
    package = load_package(minimal)
    assert package.report.problems == []
    assert package.report.quarantined == []
    assert package.report.rows_loaded["awards"] == 2


def test_money_is_exact(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "10240000000"
    package = load_package(write_package(tmp_path, tables))
    amount = package.frame("awards").set_index("id").at["award-a", "amount"]
    assert amount == Decimal("10240000000") and isinstance(amount, Decimal)


# --- Row rules: each bad cell is reported with file, line, field, value and a plain message -------------

ROW_CASES = [
    # table, row index, field, bad value, expected message
    ("awards", 0, "amount", "12 billion", r"'12 billion' is not a number; write amounts as plain digits"),
    ("awards", 0, "amount", "-5", r"must be more than zero; record a reduction or repayment by lowering"),
    ("awards", 0, "amount", "0", r"must be more than zero; record a reduction or repayment by lowering"),
    ("awards", 0, "basis", "maybe", r"'maybe' is not allowed; use one of: 'exact', 'about'"),
    ("awards", 0, "announced", "19/04/2024", r"is not a date; write YYYY, YYYY-MM or YYYY-MM-DD"),
    ("awards", 0, "announced", "2024-02-30", r"2024-02-30 is not a real calendar date"),
    ("awards", 0, "announced", "2204-01-01", r"year 2204 is implausible: it must be between 1990 and 2100"),
    ("awards", 0, "currency", "yen", r"'yen' is not valid; use a three-letter ISO 4217 code"),
    ("awards", 0, "id", "Award A", r"'Award A' is not a valid identifier; use lowercase letters"),
    ("awards", 0, "purpose_en", "", r"is required but empty"),
    ("market_shares", 0, "share_high", "20", r"share_low \(30\) must not exceed share_high \(20\)"),
    ("market_shares", 0, "share_low", "130", r"130 is too large: it must be at most 100"),
    ("programmes", 0, "period_end_fy", "2020", r"period_end_fy must not be before period_start_fy"),
    ("sources", 0, "tier", "blog", r"'blog' is not allowed; use one of: 'primary', 'press', 'secondary' or 'low'"),
    ("milestones", 0, "due_fiscal_year", "2026", r"give exactly one of due_date and due_fiscal_year"),
    # Numbers Python would read but a cell does not plainly say (README: amounts are plain digits)
    ("awards", 0, "amount", "1_930_000_000", r"'1_930_000_000' is not written as plain digits; write numbers with"),
    ("awards", 0, "amount", "１９３００００", r"'１９３００００' is not written as plain digits"),
    ("awards", 0, "amount", "١٢٣", r"'١٢٣' is not written as plain digits"),
    ("awards", 0, "amount", "1e9", r"'1e9' is not written as plain digits; .* no underscores, exponent \(1e9\), sign"),
    ("awards", 0, "amount", "1E+9", r"'1E\+9' is not written as plain digits"),
    ("awards", 0, "amount", "+5", r"'\+5' is not written as plain digits"),
    ("awards", 0, "amount", ".5", r"'\.5' is not written as plain digits"),
    ("awards", 0, "amount", "5.", r"'5\.' is not written as plain digits"),
    ("market_shares", 0, "share_low", "3_0", r"'3_0' is not written as plain digits; .* \(30 or 12\.5\)$"),
    ("market_shares", 0, "share_high", "３０", r"'３０' is not written as plain digits"),
    ("market_shares", 0, "share_low", "-0", r"'-0' is not written as plain digits"),
    ("markets", 0, "year", "2_024", r"'2_024' is not a whole number written as plain digits; write the digits 0-9"),
    ("markets", 0, "year", "+2024", r"'\+2024' is not a whole number written as plain digits"),
    ("markets", 0, "year", "2024.0", r"'2024\.0' is not a whole number written as plain digits"),
    ("markets", 0, "year", "２０２４", r"'２０２４' is not a whole number"),
    ("caveats", 0, "conflict_no", "1_0", r"'1_0' is not a whole number written as plain digits"),
    ("countries", 0, "fiscal_year_start_month", "٤", r"'٤' is not a whole number"),
    ("awards", 0, "announced", "２０２４-04-19", r"'２０２４-04-19' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD"),
    ("awards", 0, "announced", "2024-0٤-19", r"is not a date; write YYYY, YYYY-MM or YYYY-MM-DD"),
]


@pytest.mark.parametrize(("table", "index", "field", "value", "message"), ROW_CASES)
def test_row_rule_reports_location_and_message(tmp_path: Path, table, index, field, value, message) -> None:
    tables = minimal_tables()
    tables[table][index][field] = value
    folder = write_package(tmp_path, tables)
    report = load_package(folder).report
    row_id = tables[table][index]["id"]
    line = line_of(folder, table, row_id if field != "id" else value)
    matching = [p for p in report.errors if p.table == table and p.line == line]
    assert matching, report.problems
    problem = matching[0]
    assert problem.file == f"{table}.csv"
    # A problem across fields names one too ("share_low (30) must not exceed share_high (20)": share_high).
    assert problem.field == field
    assert problem.message
    assert any(__import__("re").search(message, p.message) for p in matching), [p.message for p in matching]
    assert any(q.table == table and q.line == line for q in report.quarantined)


def test_amount_without_basis_is_refused(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["basis"] = ""
    errors = load_package(write_package(tmp_path, tables)).report.errors
    [problem] = [p for p in errors if "an amount needs both a currency and a basis" in p.message]
    assert problem.field == "basis"  # the field it points at (it named none)


@pytest.mark.parametrize(
    ("table", "changes", "field", "message"),
    [
        ("awards", {"amount": "", "currency": "", "basis": "exact"}, "basis", "a basis was given without an amount"),
        ("awards", {"currency": ""}, "currency", "an amount needs both a currency and a basis"),
        ("awards", {"project_cost": "5"}, "project_cost", "project_cost and project_cost_basis must be given together"),
        ("market_shares", {"share_low": ""}, "share_low", "share_low is required unless the basis is rank_only"),
        ("milestones", {"due_date": ""}, "due_date", "give exactly one of due_date and due_fiscal_year"),
    ],
)
def test_a_problem_across_fields_names_the_field_it_points_at(
    tmp_path: Path, table: str, changes: dict[str, str], field: str, message: str
) -> None:
    # Found by a model's cross-field check, these named no field: "awards.csv:2: error: a basis was given ...".
    tables = minimal_tables()
    tables[table][0].update(changes)
    for by_row in (False, True):
        errors = load_package(write_package(tmp_path / str(by_row), tables), by_row=by_row).report.errors
        [problem] = [p for p in errors if message in p.message]
        assert (problem.field, problem.line) == (field, 2)
        assert problem.location() == f"{table}.csv:2: {field}"


@pytest.mark.parametrize(
    ("changes", "field", "found"),
    [({"award_id": "award-a"}, "award_id", 2), ({"programme_id": ""}, "programme_id", 0)],
    ids=["two", "none"],
)
def test_link_must_name_exactly_one_row(tmp_path: Path, changes: dict, field: str, found: int) -> None:
    """The problem names the column filled past the one allowed, or the first to fill (columnar and per row)."""
    tables = minimal_tables()
    tables["citations"][0].update(changes)
    for by_row in (False, True):
        errors = load_package(write_package(tmp_path / str(by_row), tables), by_row=by_row).report.errors
        [problem] = [p for p in errors if p.table == "citations" and "name exactly one row" in p.message]
        assert f"(found {found})" in problem.message
        assert problem.location() == f"citations.csv:2: {field}"


@pytest.mark.parametrize(("table", "column"), [("market_shares", "rank"), ("caveats", "conflict_no")])
def test_a_count_too_large_for_a_whole_number_column_is_one_problem(tmp_path: Path, table: str, column: str) -> None:
    tables = minimal_tables()
    tables[table][0][column] = "9" * 30  # once passed the model and overflowed the table's 64-bit column
    package = load_package(write_package(tmp_path, tables))
    [problem] = [p for p in package.report.errors if p.table == table]
    assert problem.field == column and "is too large: it must be at most 1000000" in problem.message
    assert [q.line for q in package.report.quarantined if q.table == table] == [2]


def test_invalid_row_is_quarantined_and_others_still_load(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "lots"
    package = load_package(write_package(tmp_path, tables))
    assert list(package.frame("awards")["id"]) == ["award-bc"]
    quarantined = [q for q in package.report.quarantined if q.table == "awards"]
    assert [q.row["id"] for q in quarantined] == ["award-a"]
    # Its recipient, milestone, citation and caveat link point at a quarantined award: quarantined too.
    cascaded = {q.table for q in package.report.quarantined}
    assert {"award_recipients", "milestones", "citations", "caveat_links"} <= cascaded


# --- File and header problems ---------------------------------------------------------------------------


def test_missing_required_column_quarantines_every_row(minimal: Path) -> None:
    path = minimal / "awards.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    drop = header.index("purpose_en")
    rewritten = [",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in lines]
    path.write_text("\n".join(rewritten) + "\n", encoding="utf-8")
    report = load_package(minimal).report
    assert any(
        p.rule == "missing-column"
        and p.field == "purpose_en"
        and p.line == 1
        and "required column 'purpose_en' is missing" in p.message
        for p in report.errors
    )
    assert report.rows_loaded["awards"] == 0
    assert len([q for q in report.quarantined if q.table == "awards"]) == 2


def test_extra_column_is_an_error_but_rows_load(minimal: Path) -> None:
    path = minimal / "organisations.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",secret"] + [line + ",x" for line in lines[1:]]) + "\n", encoding="utf-8")
    package = load_package(minimal)
    problems = [p for p in package.report.errors if p.rule == "unknown-column"]
    assert (
        problems
        and problems[0].field == "secret"
        and "is not a column of the organisations table" in problems[0].message
    )
    assert package.report.rows_loaded["organisations"] == 3


def test_byte_order_mark_is_accepted_with_a_warning(minimal: Path) -> None:
    path = minimal / "awards.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    package = load_package(minimal)
    assert package.report.valid
    assert [p.rule for p in package.report.warnings] == ["bom"]
    assert package.report.rows_loaded["awards"] == 2


def test_wrong_encoding_names_the_line(minimal: Path) -> None:
    path = minimal / "organisations.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("shift_jis"))
    problems = problems_for(minimal, "encoding")
    assert problems[0].line == 2 and problems[0].file == "organisations.csv"
    assert "is not UTF-8 text" in problems[0].message and "save it as UTF-8" in problems[0].message
    # The byte as a person reads it, where the value was Python's repr of it: "b'\\x93'".
    offset = (
        path.read_bytes().index(b"\n")
        + 1
        + next(i for i, b in enumerate(path.read_bytes().split(b"\n")[1]) if b >= 0x80)
    )
    byte = path.read_bytes()[offset]
    assert problems[0].value == f"0x{byte:02x}" and f"the byte 0x{byte:02x} at offset {offset:,}" in problems[0].message


def test_empty_file_is_reported(minimal: Path) -> None:
    (minimal / "markets.csv").write_text("", encoding="utf-8")
    problems = problems_for(minimal, "empty-file")
    assert problems and "the file is empty; it needs at least the header line: id,name_en" in problems[0].message


def test_missing_file_is_reported(minimal: Path) -> None:
    (minimal / "caveats.csv").unlink()
    problems = problems_for(minimal, "missing-file")
    assert problems and problems[0].table == "caveats" and "is missing" in problems[0].message


def test_line_with_wrong_number_of_values(minimal: Path) -> None:
    path = minimal / "countries.csv"
    path.write_text(path.read_text(encoding="utf-8") + "KR,South Korea\n", encoding="utf-8")
    problems = problems_for(minimal, "field-count")
    assert problems[0].line == 3 and "the line has 2 values but the header has 4 columns" in problems[0].message


def test_line_numbers_count_multiline_cells(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["note"] = "first line\nsecond line"
    tables["awards"][1]["amount"] = "n/a"
    folder = write_package(tmp_path, tables)
    problem = next(p for p in load_package(folder).report.errors if p.field == "amount")
    assert problem.line == 4  # header, award-a over two lines, then award-bc


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"no datapackage.json found"),
        ("{not json", r"is not valid JSON \(line 1"),
        ("[1, 2]", r"must hold a JSON object"),
        # The decoder's "at" ended the sentence: "(line 2: Invalid control character at)".
        ('{\n"name": "a\tb"}', r"is not valid JSON \(line 2, column 11: Invalid control character\)$"),
    ],
)
def test_unreadable_descriptor_raises_read_error(minimal: Path, content, message) -> None:
    descriptor = minimal / "datapackage.json"
    if content is None:
        descriptor.unlink()
    else:
        descriptor.write_text(content, encoding="utf-8")
    with pytest.raises(PackageReadError, match=message):
        load_package(minimal)


def test_descriptor_without_a_table(minimal: Path) -> None:
    descriptor = minimal / "datapackage.json"
    data = json.loads(descriptor.read_text(encoding="utf-8"))
    data["resources"] = [r for r in data["resources"] if r["name"] != "markets"]
    descriptor.write_text(json.dumps(data), encoding="utf-8")
    problems = problems_for(minimal, "missing-table")
    assert problems and "does not list the 'markets' table" in problems[0].message


# --- Keys ----------------------------------------------------------------------------------------------


def test_duplicate_id_quarantines_the_second(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][1]["id"] = "award-a"
    folder = write_package(tmp_path, tables)
    problem = problems_for(folder, "duplicate-key")[0]
    assert problem.line == 3 and problem.value == "award-a"
    assert "id 'award-a' is already used on line 2; each row needs its own" in problem.message


def test_dangling_reference(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][1]["programme_id"] = "round-404"
    folder = write_package(tmp_path, tables)
    problem = problems_for(folder, "foreign-key")[0]
    assert problem.table == "awards" and problem.field == "programme_id" and problem.line == 3
    assert "refers to programmes id 'round-404', which does not exist in programmes.csv" in problem.message


# --- A table that could not be read: one problem, and the rows that refer to it counted, not listed ---------

EXTRA_AWARDS = 500
# Rows that refer to awards.csv when it is not read: the minimal package's (award_recipients 3, milestones 1,
# citations 2 of awards and 1 of the milestone, caveat_links 1) and each extra award's recipient and citation.
UNCHECKED = {"award_recipients": 3 + EXTRA_AWARDS, "milestones": 1, "citations": 3 + EXTRA_AWARDS, "caveat_links": 1}


def _many_awards(folder: Path) -> Path:
    """The minimal package with 500 more awards, each with one sole recipient and one citation."""
    tables = minimal_tables()
    award = tables["awards"][0]
    tables["awards"][0]["purpose_en"] = "GPU クラウド"  # so that awards.csv is not ASCII
    for i in range(EXTRA_AWARDS):
        tables["awards"].append({**award, "id": f"award-{i}", "amount": "1000"})
        tables["award_recipients"].append({"award_id": f"award-{i}", "organisation_id": "org-a", "role": "sole"})
        tables["citations"].append({"source_id": "src-a", "award_id": f"award-{i}"})
    return write_package(folder, tables)


def _not_utf8(folder: Path) -> Limits:
    path = folder / "awards.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("shift_jis"))
    return Limits()


def _over_the_file_limit(folder: Path) -> Limits:
    others = max(p.stat().st_size for p in folder.glob("*.csv") if p.name != "awards.csv")
    assert (folder / "awards.csv").stat().st_size > others + 1
    return Limits(file_bytes=others + 1)


@pytest.mark.parametrize(("unreadable", "rule"), [(_not_utf8, "encoding"), (_over_the_file_limit, "file-too-large")])
def test_rows_that_refer_to_an_unread_table_are_counted_not_listed(tmp_path: Path, unreadable, rule) -> None:
    folder = _many_awards(tmp_path / "pkg")
    assert load_package(folder).report.valid  # read, every reference resolves
    report = load_package(folder, unreadable(folder)).report
    assert report.unread == {"awards"}
    [unread] = [p for p in report.problems if p.table == "awards"]
    assert unread.rule == rule
    counted = {p.table: p for p in report.problems if p.rule == "unread-reference"}
    assert len(counted) == len([p for p in report.problems if p.rule == "unread-reference"])  # one per table
    assert set(counted) == set(UNCHECKED)
    for table, problem in counted.items():
        assert (problem.severity, problem.file, problem.line, problem.value) == (
            Severity.ERROR,
            f"{table}.csv",
            None,
            None,
        )
    assert counted["award_recipients"].field == "award_id"
    assert counted["award_recipients"].message == (
        "503 rows of award_recipients.csv refer to awards.csv, which was not read, so they could not be checked "
        "against it and were not loaded; such rows are counted here, not listed or quarantined one by one"
    )
    assert counted["milestones"].message.startswith(
        "1 row of milestones.csv refers to awards.csv, which was not read, so it could not be checked against it "
        "and was not loaded"
    )
    # A citation of a milestone of an unread award cannot be checked either: counted with the others.
    assert counted["citations"].field == "award_id, milestone_id"
    assert counted["citations"].message.startswith(
        "503 rows of citations.csv refer to awards.csv, which was not read "
        "(1 of them through rows of milestones.csv that refer to it), so they could not be checked"
    )
    # Nothing is listed or quarantined row by row ...
    assert not [p for p in report.problems if p.rule == "foreign-key" or (p.table in UNCHECKED and p.line)]
    assert not [q for q in report.quarantined if q.table in UNCHECKED]
    assert len(report.problems) <= 6  # the unread file, the four counts, and the caveat left unattached
    # ... and nothing is dropped silently: every row read and not loaded is counted, and the summary says so.
    assert report.unchecked == UNCHECKED
    assert report.left_out() == UNCHECKED
    assert report.rows_loaded["citations"] == 3  # the programme's and the market shares' citations still load
    assert report.stats()["rows_unchecked"] == sum(UNCHECKED.values())
    assert report.summary().endswith("0 quarantined, 1,008 not checked (they refer to a table that was not read)")


def test_the_default_limits_admit_a_million_awards() -> None:
    """A million awards is 400 to 500 MB of CSV, awards.csv up to 380 MB, up to 2.6 million recipient rows."""
    limits = Limits()
    assert limits.file_bytes >= 380 * MB and limits.package_bytes >= 500 * MB and limits.rows >= 2_600_000
    assert (describe_bytes(limits.package_bytes), describe_bytes(limits.file_bytes)) == ("1 GB", "512 MB")


def test_a_broken_reference_beside_an_unread_one_is_still_quarantined(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["award_recipients"][0]["organisation_id"] = "org-404"
    folder = write_package(tmp_path, tables)
    (folder / "awards.csv").unlink()
    report = load_package(folder).report
    [broken] = [p for p in report.problems if p.rule == "foreign-key"]
    assert (broken.table, broken.line, broken.field, broken.value) == (
        "award_recipients",
        2,
        "organisation_id",
        "org-404",
    )
    assert [q.line for q in report.quarantined if q.table == "award_recipients"] == [2]
    [counted] = [p for p in report.problems if p.rule == "unread-reference" and p.table == "award_recipients"]
    assert counted.message.startswith("2 rows of award_recipients.csv refer to awards.csv, which was not read")
    assert report.left_out()["award_recipients"] == 3  # 1 quarantined + 2 counted


# A package rule that looks for rows of a table (its citations, recipients, caveat links) and reports a row it
# does not find is not run when that table, or the one its rows refer to, was not read: one warning says so.


def _missing(path: Path) -> None:
    path.unlink()


def _not_utf8_bytes(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\xff\n")


def _not_csv(path: Path) -> None:
    path.write_text("<html><body>404 Not Found</body></html>\n", encoding="utf-8")


def _without_a_required_column(path: Path) -> None:
    """The file without its first required column, in the header and every row."""
    model = TABLES_BY_NAME[path.stem].model
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    required = next(name for name in model.model_fields if model.model_fields[name].is_required())
    columns = [name for name in model.model_fields if name != required]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


UNREADABLE = [_missing, _not_utf8_bytes, _not_csv, _without_a_required_column]
RULES_NOT_RUN = [
    # the table made unreadable, the false problems it gave, the table the warning names, its rules and why
    ("citations", {"uncited"}, "citations", "rule 'uncited' was", "citations.csv was not read"),
    (
        "award_recipients",
        {"no-recipient", "recipient-role"},
        "award_recipients",
        "rule 'recipients' was",
        "award_recipients.csv was not read",
    ),
    (
        "caveat_links",
        {"caveat-unattached", "overlap-pair"},
        "caveat_links",
        "rules 'caveat-unattached' and 'overlap-pair' were",
        "caveat_links.csv was not read",
    ),
    # The rows the rule looks for refer to the table that was not read, so they are not loaded either.
    (
        "sources",
        {"uncited"},
        "citations",
        "rule 'uncited' was",
        "6 rows of citations.csv refer to a table that was not read",
    ),
    (
        "organisations",
        {"no-recipient", "recipient-role"},
        "award_recipients",
        "rule 'recipients' was",
        "3 rows of award_recipients.csv refer to a table that was not read",
    ),
]


@pytest.mark.parametrize("unreadable", UNREADABLE)
@pytest.mark.parametrize(("table", "false_rules", "looked_in", "rules", "why"), RULES_NOT_RUN)
def test_a_rule_that_looks_in_a_table_not_read_is_not_run(
    minimal: Path, unreadable, table: str, false_rules: set[str], looked_in: str, rules: str, why: str
) -> None:
    unreadable(minimal / f"{table}.csv")
    report = load_package(minimal).report
    assert table in report.unread
    assert not [p for p in report.problems if p.rule in false_rules]  # once an error per figure, award or caveat
    [note] = [p for p in report.problems if p.rule == "rule-not-checked"]
    assert (note.severity, note.table, note.file, note.line, note.field, note.value) == (
        Severity.WARNING,
        looked_in,
        f"{looked_in}.csv",
        None,
        None,
        None,
    )
    they = "it looks" if rules.endswith(" was") else "they look"
    assert note.message == (
        f"the package {rules} not checked, because {why}: {they} for rows of that table, and would report one "
        "that was only not loaded as missing"
    )
    assert load_package(minimal, by_row=True).report == report  # the per-row path says the same


def test_rules_that_do_not_look_in_the_table_not_read_still_run(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["award_recipients"] = tables["award_recipients"][1:]  # award-a has no recipient
    tables["awards"][1]["currency"] = "USD"  # in another currency than its programme's
    folder = write_package(tmp_path, tables)
    _not_utf8_bytes(folder / "citations.csv")
    report = load_package(folder).report
    assert [(p.rule, p.value) for p in report.problems if p.rule not in ("encoding", "rule-not-checked")] == [
        ("ceiling-currency", "JPY"),
        ("no-recipient", "award-a"),
        ("award-currency", "USD"),
    ]
    [note] = [p for p in report.problems if p.rule == "rule-not-checked"]
    assert note.message.startswith("the package rule 'uncited' was not checked, because citations.csv was not read")


def test_a_table_not_read_under_four_rules_is_one_warning(tmp_path: Path) -> None:
    """The awards table not read: its recipients, citations and caveat links are counted; each rule one warning."""
    folder = write_package(tmp_path)
    (folder / "awards.csv").unlink()
    report = load_package(folder).report
    assert [p.rule for p in report.warnings] == ["rule-not-checked"]
    assert report.warnings[0].message.startswith(
        "the package rules 'uncited', 'recipients', 'caveat-unattached' and 'overlap-pair' were not checked, because "
        "3 rows of award_recipients.csv refer to a table that was not read; 3 rows of citations.csv refer to a "
        "table that was not read; 1 row of caveat_links.csv refers to a table that was not read: they look for "
        "rows of those tables"
    )


# --- Package rules ---------------------------------------------------------------------------------------


def _april_2024_round() -> dict[str, list[dict[str, str]]]:
    """The 2024-04-19 cloud round as published: five 'up to about' awards, ceiling 'up to' ¥72.5bn."""
    tables = minimal_tables()
    tables["programmes"][0]["amount"] = "72500000000"
    amounts = ["1930000000", "50100000000", "2560000000", "10240000000", "7700000000"]
    tables["awards"] = [
        {
            "id": f"award-{i}",
            "programme_id": "round-1",
            "purpose_en": "GPU cloud",
            "amount": amount,
            "currency": "JPY",
            "basis": "up_to_about",
            "announced": "2024-04-19",
        }
        for i, amount in enumerate(amounts)
    ]
    tables["award_recipients"] = [
        {"award_id": f"award-{i}", "organisation_id": "org-a", "role": "sole"} for i in range(5)
    ]
    tables["citations"] = [c for c in tables["citations"] if not c.get("award_id")] + [
        {"source_id": "src-a", "award_id": f"award-{i}"} for i in range(5)
    ]
    tables["caveat_links"] = [{"caveat_id": "cv-1", "programme_id": "round-1"}]
    tables["milestones"][0]["award_id"] = "award-0"
    return tables


def test_awards_over_ceiling_within_rounding_is_a_warning(tmp_path: Path) -> None:
    report = load_package(write_package(tmp_path, _april_2024_round())).report
    assert report.valid
    (warning,) = [p for p in report.warnings if p.rule == "ceiling-rounding"]
    assert warning.table == "programmes" and warning.field == "amount" and warning.line == 2
    assert (
        "the 5 awards under 'round-1' add up to 72,530,000,000 JPY, more than its up to 72,500,000,000 JPY "
        "by 30,000,000" in warning.message
    )
    assert "most likely rounding" in warning.message


def test_awards_over_ceiling_beyond_rounding_is_an_error(tmp_path: Path) -> None:
    tables = _april_2024_round()
    tables["awards"][1]["amount"] = "55100000000"
    report = load_package(write_package(tmp_path, tables)).report
    (error,) = [p for p in report.errors if p.rule == "ceiling"]
    assert "more than rounding of 'about' figures can explain" in error.message


@pytest.mark.parametrize(
    ("amount", "half"),
    [
        ("1930000000", "5000000"),  # 19.3億: exact to 0.1億
        ("50100000000", "50000000"),  # 501億
        ("10240000000", "5000000"),  # 102.4億
        ("7", "0.5"),
    ],
)
def test_half_unit(amount: str, half: str) -> None:
    assert half_unit(Decimal(amount)) == Decimal(half)


def test_segment_shares_over_100_percent(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["market_shares"][1].update(share_low="75", share_high="75")
    problem = problems_for(write_package(tmp_path, tables), "share-total")[0]
    assert "the segment shares of market 'market-1' add up to at least 105%, more than 100%" in problem.message


def test_uncited_figure_row(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["citations"] = [c for c in tables["citations"] if c.get("award_id") != "award-bc"]
    problem = problems_for(write_package(tmp_path, tables), "uncited")[0]
    assert problem.table == "awards" and problem.value == "award-bc"
    assert "'award-bc' is not cited by any source; add a row to citations.csv" in problem.message


@pytest.mark.parametrize(
    ("code", "rule", "severity", "message"),
    [
        ("XYZ", "currency", Severity.ERROR, r"'XYZ' is not an ISO 4217 currency code"),
        ("NGN", "currency-not-convertible", Severity.WARNING, r"'NGN' is not in the ECB reference rates"),
    ],
)
def test_currency_rules(tmp_path: Path, code, rule, severity, message) -> None:
    tables = minimal_tables()
    tables["programmes"][0]["currency"] = code
    for award in tables["awards"]:
        award["currency"] = code
    problems = problems_for(write_package(tmp_path, tables), rule)
    assert problems and problems[0].severity == severity
    assert __import__("re").search(message, problems[0].message)


def test_future_announcement(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["announced"] = "2099-01-01"
    problem = problems_for(write_package(tmp_path, tables), "future-date")[0]
    assert "2099-01-01 is in the future" in problem.message


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (("lead", "lead"), r"joint award 'award-bc' needs exactly one 'lead'"),
        (("sole", "member"), r"joint award 'award-bc' needs exactly one 'lead'"),
    ],
)
def test_joint_award_roles(tmp_path: Path, roles, message) -> None:
    tables = minimal_tables()
    for recipient, role in zip(tables["award_recipients"][1:], roles, strict=True):
        recipient["role"] = role
    problem = problems_for(write_package(tmp_path, tables), "recipient-role")[0]
    assert __import__("re").search(message, problem.message)


def test_single_recipient_must_be_sole(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["award_recipients"][0]["role"] = "lead"
    problem = problems_for(write_package(tmp_path, tables), "recipient-role")[0]
    assert "an award with one recipient must give it the role 'sole'" in problem.message


def test_award_without_recipient(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["award_recipients"] = tables["award_recipients"][1:]
    problem = problems_for(write_package(tmp_path, tables), "no-recipient")[0]
    assert "award 'award-a' has no recipient" in problem.message


def test_parent_cycle(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["programmes"].append({**tables["programmes"][0], "id": "round-2", "parent_id": "round-1"})
    tables["programmes"][0]["parent_id"] = "round-2"
    tables["citations"].append({"source_id": "src-a", "programme_id": "round-2"})
    problems = problems_for(write_package(tmp_path, tables), "parent-cycle")
    assert problems and "is inside itself through its parents" in problems[0].message


def test_unattached_caveat_warns(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["caveat_links"] = []
    problem = problems_for(write_package(tmp_path, tables), "caveat-unattached")[0]
    assert problem.severity == Severity.WARNING and "is not attached to any row" in problem.message


def test_every_problem_has_text_location(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "abc"
    folder = write_package(tmp_path, tables)
    write_table(folder, "markets", [])
    for problem in load_package(folder).report.problems:
        text = problem.as_text()
        assert text.startswith(f"{problem.file}:") and problem.message in text


# --- The remaining rules, one test each -------------------------------------------------------------------


def test_award_in_another_currency_than_its_programme(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][1]["currency"] = "USD"
    report = load_package(write_package(tmp_path, tables)).report
    (problem,) = [p for p in report.problems if p.rule == "award-currency"]
    assert problem.severity == Severity.WARNING and problem.line == 3
    assert "the award is in USD but its programme is in JPY" in problem.message
    (ceiling,) = [p for p in report.problems if p.rule == "ceiling-currency"]
    assert "in another currency, so they were not checked against its amount" in ceiling.message


def test_vendor_share_without_its_organisation(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["market_shares"][0].update(segment_kind="vendor", segment_en="Alpha Cloud")
    problem = problems_for(write_package(tmp_path, tables), "vendor-organisation")[0]
    assert problem.severity == Severity.WARNING
    assert "a vendor segment should name the vendor in organisation_id" in problem.message


def test_unknown_resource_in_the_descriptor_is_reported(minimal: Path) -> None:
    descriptor = minimal / "datapackage.json"
    data = json.loads(descriptor.read_text(encoding="utf-8"))
    data["resources"].append({"name": "notes", "path": "notes.csv"})
    descriptor.write_text(json.dumps(data), encoding="utf-8")
    problem = problems_for(minimal, "unknown-table")[0]
    assert (
        problem.severity == Severity.WARNING
        and "resource 'notes' is not a known table and was not loaded" in problem.message
    )


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd", "", ".", "./"])  # "." was an IndexError
def test_resource_path_must_stay_inside_the_package(minimal: Path, path: str) -> None:
    descriptor = minimal / "datapackage.json"
    data = json.loads(descriptor.read_text(encoding="utf-8"))
    next(r for r in data["resources"] if r["name"] == "caveats")["path"] = path
    descriptor.write_text(json.dumps(data), encoding="utf-8")
    problem = problems_for(minimal, "resource-path")[0]
    assert "needs a relative 'path' inside the package folder" in problem.message


def test_duplicate_column_in_the_header(minimal: Path) -> None:
    path = minimal / "countries.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([lines[0] + ",name_en"] + [line + ",Japan" for line in lines[1:]]) + "\n", encoding="utf-8"
    )
    problem = problems_for(minimal, "duplicate-column")[0]
    assert problem.line == 1 and "the column 'name_en' appears more than once in the header" in problem.message


def test_unterminated_quote_is_reported_not_raised(minimal: Path) -> None:
    path = minimal / "awards.csv"
    path.write_text(path.read_text(encoding="utf-8") + 'award-x,round-1,"unclosed\n', encoding="utf-8")
    report = load_package(minimal).report
    # The csv module reads an unclosed quote to the end of the file: the row is malformed and quarantined.
    assert any(q.table == "awards" and q.line == 4 for q in report.quarantined)
    assert report.rows_loaded["awards"] == 2


@pytest.mark.parametrize("by_row", [False, True])
def test_rows_a_quote_left_open_took_are_counted_where_they_are_referred_to(minimal: Path, by_row: bool) -> None:
    # award-a's purpose opens a quote never closed: award-bc's line is read into it. The rows that refer to
    # award-bc are counted as referring to rows not read, not each reported as naming an award that does not exist.
    path = minimal / "awards.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("GPU cloud", '"GPU cloud'), encoding="utf-8")
    report = load_package(minimal, by_row=by_row).report
    assert [(p.rule, p.file, p.line, p.field) for p in report.errors] == [
        ("unclosed-quote", "awards.csv", 2, "purpose_en"),
        ("unread-reference", "award_recipients.csv", None, "award_id"),
        ("unread-reference", "citations.csv", None, "award_id"),
    ]
    assert "the rest of the file, line 3 (1 line, to the end), was read into it" in report.errors[0].message
    assert report.errors[1].message.startswith(
        "2 rows of award_recipients.csv refer to awards.csv, rows of which were not read (a quote left open), "
        "so they could not be checked against it and were not loaded"
    )
    assert report.partly_read == {"awards"} and report.unread == set()
    assert report.as_dict()["partly_read_tables"] == ["awards"]  # validate --format json says so too
    assert report.unchecked == {"award_recipients": 2, "citations": 1}
    assert not any(p.rule == "foreign-key" for p in report.problems)
    # The summary says why in the same words: not "a table that was not read", which awards.csv was.
    assert report.summary().endswith(
        ", 3 not checked (they may refer to rows that were not read: a quote left open took them into one cell)"
    )


def test_a_control_character_in_a_problem_reaches_the_terminal_as_its_escape(tmp_path: Path) -> None:
    # The message repeats the cell's text: a crafted cell could clear or retitle the screen of whoever validates.
    tables = minimal_tables()
    tables["countries"][0]["fiscal_year_start_month"] = "4\x1b[2J\x1b]0;pwned\x07"
    report = load_package(write_package(tmp_path / "pkg", tables)).report
    (problem,) = [p for p in report.problems if p.field == "fiscal_year_start_month"]
    assert "\x1b" in problem.message  # the data keep what the file holds
    text = problem.as_text()
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)
    assert "'4\\x1b[2J\\x1b]0;pwned\\x07' is not a whole number" in text


def test_a_csv_file_no_resource_names_is_a_warning_not_left_out_without_a_word(tmp_path: Path) -> None:
    # awards_2025.csv dropped beside the tables was never read, and nothing said so.
    folder = write_package(tmp_path / "pkg", minimal_tables())
    (folder / "awards_2025.csv").write_bytes((folder / "awards.csv").read_bytes())
    (folder / "notes.txt").write_text("not a table", encoding="utf-8")
    (folder / "old").mkdir()
    (folder / "old" / "awards.csv").write_text("id\n", encoding="utf-8")  # only the folder's own files
    report = load_package(folder).report
    [problem] = [p for p in report.problems if p.rule == "unlisted-file"]
    assert problem.severity == Severity.WARNING and problem.file == "awards_2025.csv"
    assert problem.message == (
        "awards_2025.csv is in the package folder but no resource of datapackage.json names it, so it was not read"
    )
    assert report.valid
