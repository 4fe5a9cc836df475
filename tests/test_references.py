"""Rows quarantined with the row they refer to: listed one by one, reported once per referring table and column.

One bad cell of a register's approval (an award) takes its recipients, citations and caveat links
with it. Each of those rows is still quarantined and listed with its reason (``report.quarantined``),
but the problems hold one ``quarantined-reference`` problem per referring table and column, counting
them and naming the first, while a reference to an id that does not exist stays one ``foreign-key``
problem per row. Every case runs both validators, by column and by row.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from aifunding import BUNDLED_DATA
from aifunding.cli import problem_lines
from aifunding.data.left_out import Fold, report_left_out
from aifunding.data.report import ValidationReport
from aifunding.loading.package import load_package

from packages import minimal_tables, write_package

Tables = dict[str, list[dict[str, str]]]

NET_RULE = (
    "must be more than zero; record a reduction or repayment by lowering the amount it reduces to the net figure, "
    "and say so in the note"
)
BAD_DATE = "announced: 2024-13-45 is not a real calendar date"


def fold(rows: int, table: str, ref_table: str, first: str, where: str) -> str:
    """The message of a ``quarantined-reference`` problem, as the README words it."""
    if rows == 1:
        return (
            f"1 row of {table}.csv refers to a row of {ref_table}.csv that was quarantined ('{first}', {where}), "
            "so it was quarantined too; it is listed with its reason among the quarantined rows"
        )
    return (
        f"{rows:,} rows of {table}.csv refer to rows of {ref_table}.csv that were quarantined (first: '{first}', "
        f"{where}), so they were quarantined too; each is listed with its reason among the quarantined rows, not "
        "here one by one"
    )


def problems(report: ValidationReport) -> list[tuple]:
    return [(p.severity, p.rule, p.table, p.file, p.line, p.field, p.value, p.message) for p in report.problems]


def quarantined(report: ValidationReport) -> list[tuple]:
    return [(q.table, q.line, q.reasons) for q in report.quarantined]


@pytest.fixture(params=[False, True], ids=["by column", "by row"])
def validate(request: pytest.FixtureRequest, tmp_path: Path):
    """Validate ``tables`` written as a package, by column or by row (the two give the same report)."""

    def run(tables: Tables) -> ValidationReport:
        return load_package(write_package(tmp_path / "package", tables), by_row=request.param).report

    return run


# --- The cascade of one bad cell -------------------------------------------------------------------------


def test_a_negative_award_is_one_error_and_one_warning_per_table_that_refers_to_it(validate) -> None:
    tables = minimal_tables()
    tables["awards"][1]["amount"] = "-5"  # award-bc: two recipients and a citation
    report = validate(tables)
    assert problems(report) == [
        ("error", "row:greater_than", "awards", "awards.csv", 3, "amount", "-5", NET_RULE),
        (
            "warning",
            "quarantined-reference",
            "award_recipients",
            "award_recipients.csv",
            3,
            "award_id",
            None,
            "2 rows of award_recipients.csv refer to rows of awards.csv that were quarantined (first: 'award-bc', "
            "awards.csv:3), so they were quarantined too; each is listed with its reason among the quarantined "
            "rows, not here one by one",
        ),
        (
            "warning",
            "quarantined-reference",
            "citations",
            "citations.csv",
            4,
            "award_id",
            None,
            "1 row of citations.csv refers to a row of awards.csv that was quarantined ('award-bc', awards.csv:3), "
            "so it was quarantined too; it is listed with its reason among the quarantined rows",
        ),
    ]
    # Every row left out is still listed, with its own reason naming the cause.
    cause = (f"award_id: award 'award-bc' was quarantined: amount: {NET_RULE}, awards.csv:3",)
    assert quarantined(report) == [
        ("awards", 3, (f"amount: {NET_RULE}",)),
        ("award_recipients", 3, cause),
        ("award_recipients", 4, cause),
        ("citations", 4, cause),
    ]
    assert report.left_out() == {"awards": 1, "award_recipients": 2, "citations": 1}
    assert report.summary() == "INVALID: 1 error(s), 2 warning(s); 19 of 23 rows loaded from 13 tables, 4 quarantined"


def test_a_bad_programme_date_cascades_three_levels_as_one_problem_per_referring_column(validate) -> None:
    tables = minimal_tables()
    tables["programmes"][0]["announced"] = "2024-13-45"
    report = validate(tables)
    assert [p[1:7] for p in problems(report)] == [
        ("row:value_error", "programmes", "programmes.csv", 2, "announced", "2024-13-45"),
        ("quarantined-reference", "awards", "awards.csv", 2, "programme_id", None),
        ("quarantined-reference", "award_recipients", "award_recipients.csv", 2, "award_id", None),
        ("quarantined-reference", "milestones", "milestones.csv", 2, "award_id", None),
        ("quarantined-reference", "citations", "citations.csv", 2, "programme_id", None),
        ("quarantined-reference", "citations", "citations.csv", 3, "award_id", None),
        ("quarantined-reference", "citations", "citations.csv", 7, "milestone_id", None),
        ("quarantined-reference", "caveat_links", "caveat_links.csv", 2, "award_id", None),
        # The caveat itself loads, but nothing it was attached to does: as before, a warning says so.
        ("caveat-unattached", "caveats", "caveats.csv", 2, "id", "cv-1"),
    ]
    folds = [p.message for p in report.problems if p.rule == "quarantined-reference"]
    assert folds == [
        fold(2, "awards", "programmes", "round-1", "programmes.csv:2"),
        fold(3, "award_recipients", "awards", "award-a", "awards.csv:2"),
        fold(1, "milestones", "awards", "award-a", "awards.csv:2"),
        fold(1, "citations", "programmes", "round-1", "programmes.csv:2"),
        fold(2, "citations", "awards", "award-a", "awards.csv:2"),
        fold(1, "citations", "milestones", "ms-1", "milestones.csv:2"),
        fold(1, "caveat_links", "awards", "award-a", "awards.csv:2"),
    ]
    # Down the chain, each row names the row it refers to and the one first cause, never a nested one.
    root = f"{BAD_DATE}, programmes.csv:2"
    assert quarantined(report) == [
        ("programmes", 2, (BAD_DATE,)),
        ("awards", 2, (f"programme_id: programme 'round-1' was quarantined: {root}",)),
        ("awards", 3, (f"programme_id: programme 'round-1' was quarantined: {root}",)),
        ("award_recipients", 2, (f"award_id: award 'award-a' was quarantined: {root}",)),
        ("award_recipients", 3, (f"award_id: award 'award-bc' was quarantined: {root}",)),
        ("award_recipients", 4, (f"award_id: award 'award-bc' was quarantined: {root}",)),
        ("milestones", 2, (f"award_id: award 'award-a' was quarantined: {root}",)),
        ("citations", 2, (f"programme_id: programme 'round-1' was quarantined: {root}",)),
        ("citations", 3, (f"award_id: award 'award-a' was quarantined: {root}",)),
        ("citations", 4, (f"award_id: award 'award-bc' was quarantined: {root}",)),
        ("citations", 7, (f"milestone_id: milestone 'ms-1' was quarantined: {root}",)),
        ("caveat_links", 2, (f"award_id: award 'award-a' was quarantined: {root}",)),
    ]


def test_a_missing_id_stays_one_error_per_row_beside_the_fold(validate) -> None:
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "-5"  # award-a
    recipients = tables["award_recipients"]
    recipients.insert(0, {"award_id": "award-x", "organisation_id": "org-b", "role": "sole"})
    recipients.append({"award_id": "award-404", "organisation_id": "org-b", "role": "sole"})
    report = validate(tables)
    of_recipients = [p[1:] for p in problems(report) if p[2] == "award_recipients"]
    assert of_recipients == [
        (
            "foreign-key",
            "award_recipients",
            "award_recipients.csv",
            2,
            "award_id",
            "award-x",
            "refers to awards id 'award-x', which does not exist in awards.csv",
        ),
        (
            "foreign-key",
            "award_recipients",
            "award_recipients.csv",
            6,
            "award_id",
            "award-404",
            "refers to awards id 'award-404', which does not exist in awards.csv",
        ),
        (
            "quarantined-reference",
            "award_recipients",
            "award_recipients.csv",
            3,
            "award_id",
            None,
            fold(1, "award_recipients", "awards", "award-a", "awards.csv:2"),
        ),
    ]
    assert [
        (q.line, q.reasons[0].split(":")[1].strip()) for q in report.quarantined if q.table == "award_recipients"
    ] == [
        (2, "refers to awards id 'award-x', which does not exist in awards.csv"),
        (3, "award 'award-a' was quarantined"),
        (6, "refers to awards id 'award-404', which does not exist in awards.csv"),
    ]


def test_programmes_inside_a_quarantined_one_fold_and_name_the_first_cause(validate) -> None:
    tables = minimal_tables()
    round_1 = tables["programmes"][0]
    tables["programmes"] += [
        {**round_1, "id": "part-1", "parent_id": "round-1", "level": "component", "amount": "", "basis": ""},
        {**round_1, "id": "part-2", "parent_id": "part-1", "level": "component", "amount": "", "basis": ""},
    ]
    round_1["announced"] = "2024-13-45"
    report = validate(tables)
    [programmes] = [p for p in report.problems if p.rule == "quarantined-reference" and p.table == "programmes"]
    assert (programmes.line, programmes.field, programmes.message) == (
        3,
        "parent_id",
        fold(2, "programmes", "programmes", "round-1", "programmes.csv:2"),
    )
    root = f"{BAD_DATE}, programmes.csv:2"
    assert [(q.line, q.reasons) for q in report.quarantined if q.table == "programmes"] == [
        (2, (BAD_DATE,)),
        (3, (f"parent_id: programme 'round-1' was quarantined: {root}",)),
        (4, (f"parent_id: programme 'part-1' was quarantined: {root}",)),
    ]


def test_a_repeated_id_is_not_named_as_why_its_first_row_was_quarantined(validate) -> None:
    tables = minimal_tables()
    tables["awards"].append(dict(tables["awards"][0]))  # award-a again, on line 4
    tables["awards"][0]["programme_id"] = "round-404"
    report = validate(tables)
    assert [(p.rule, p.table, p.line) for p in report.problems][:3] == [
        ("duplicate-key", "awards", 4),
        ("foreign-key", "awards", 2),
        ("quarantined-reference", "award_recipients", 2),
    ]
    [recipient] = [q for q in report.quarantined if q.table == "award_recipients"]
    assert recipient.reasons == (
        "award_id: award 'award-a' was quarantined: programme_id: refers to programmes id 'round-404', which does "
        "not exist in programmes.csv, awards.csv:2",
    )


# --- The package rules count only the rows loaded ---------------------------------------------------------


def test_awards_left_out_with_their_programme_count_against_no_ceiling(validate) -> None:
    tables = minimal_tables()
    round_1 = tables["programmes"][0]
    round_1["amount"] = "8560000000"  # award-a and award-bc exactly
    tables["programmes"].append(
        {**round_1, "id": "part-1", "parent_id": "round-1", "level": "component", "announced": "2024-13-45"}
    )
    tables["awards"].append({**tables["awards"][0], "id": "award-c", "programme_id": "part-1"})
    tables["award_recipients"].append({"award_id": "award-c", "organisation_id": "org-a", "role": "sole"})
    tables["citations"] += [
        {"source_id": "src-a", "programme_id": "part-1"},
        {"source_id": "src-a", "award_id": "award-c"},
    ]
    report = validate(tables)
    # Its own error and one count per referring column: no ceiling, no award without recipients, nothing uncited.
    assert [(p.rule, p.table, p.field) for p in report.problems] == [
        ("row:value_error", "programmes", "announced"),
        ("quarantined-reference", "awards", "programme_id"),
        ("quarantined-reference", "award_recipients", "award_id"),
        ("quarantined-reference", "citations", "programme_id"),
        ("quarantined-reference", "citations", "award_id"),
    ]
    assert len(report.quarantined) == 5


def test_the_readme_example_is_what_validate_says_of_the_bundled_package(tmp_path: Path) -> None:
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    awards = folder / "awards.csv"
    rows = list(csv.reader(io.StringIO(awards.read_text(encoding="utf-8"), newline="")))
    rows[1][rows[0].index("amount")] = "-5"  # the first award, on line 2
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    awards.write_text(out.getvalue(), encoding="utf-8", newline="")
    report = load_package(folder).report
    assert report == load_package(folder, by_row=True).report
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("validate` says, in 1 error and 3 warnings where it once said 11 errors:\n\n```\n", 1)[
        1
    ].split("```", 1)[0]
    assert [*problem_lines(report), report.summary()] == example.splitlines()


# --- The wording ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "opening"),
    [
        (1, "1 row of citations.csv refers to a row of awards.csv that was quarantined ('award-a', awards.csv:2)"),
        (2, "2 rows of citations.csv refer to rows of awards.csv that were quarantined (first: 'award-a'"),
        (1024, "1,024 rows of citations.csv refer to rows of awards.csv that were quarantined (first: 'award-a'"),
    ],
)
def test_a_fold_counts_in_words(rows: int, opening: str) -> None:
    report = ValidationReport()
    folds = {"award_id": Fold("award_id", "awards", rows, "data/citations.csv", 9, "award-a", "awards.csv:2")}
    report_left_out(report, "citations", folds, {}, {"citations": "citations.csv"})
    [problem] = report.problems
    assert problem.message.startswith(opening) and problem.message == fold(
        rows, "citations", "awards", "award-a", "awards.csv:2"
    )
    assert problem.location() == "data/citations.csv:9: award_id" and problem.value is None
    assert report.unchecked == {}
