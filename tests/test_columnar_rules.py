"""The columnar keys, references and package rules against the per-row ones: the same report, the same rows.

Given what the per-row validator is given (the rows ``parse_table`` loaded, and for the columnar one
``RowSet.from_loaded`` of them), ``run_reference_rules_columnar`` then ``run_package_rules_columnar``
must append exactly the problems, quarantined rows and unchecked counts that ``run_reference_rules``
then ``run_package_rules`` append, in the same order, and keep the same rows (lines, values, cells).
Every package is parsed by the loader itself: a spy on the loader's ``run_reference_rules`` takes a
copy of what it is handed, so unread, refused and optional tables are exactly as a load makes them.
Packages hypothesis builds are compared in ``test_columnar_rules_fuzz.py``.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import decimal
import importlib.util
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hostile.corpus import CASES, build
from test_validation import ROW_CASES, _april_2024_round, _many_awards, _not_utf8, _over_the_file_limit

from aifunding import BUNDLED_DATA
from aifunding.data.column_sets import objects
from aifunding.data.columnar_references import run_reference_rules_columnar
from aifunding.data.limits import Limits
from aifunding.data.parsing import LoadedRow
from aifunding.data.references import run_reference_rules
from aifunding.data.report import ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.loading import package as package_module
from aifunding.loading.columnar_rules import COLUMNAR_CHECKS, run_package_rules_columnar
from aifunding.loading.package import PackageReadError, load_package, validate_texts
from aifunding.loading.rules import PACKAGE_RULES, run_package_rules

from packages import ROUNDING_AMOUNTS, minimal_tables, rounding_ceiling_tables

Tables = dict[str, list[dict[str, str]]]

# --- The comparison -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What the loader hands to the rules: every table's loaded rows, the report so far, limits and file names."""

    rows: dict[str, list[LoadedRow]]
    report: ValidationReport
    limits: Limits
    files: dict[str, str]


@contextmanager
def capturing() -> Iterator[list[Parsed]]:
    """A list of what each load inside the block hands to its rules, copied before they run."""
    seen: list[Parsed] = []
    real = package_module.run_reference_rules

    def spy(rows: Any, report: ValidationReport, limits: Limits, files: dict[str, str]) -> None:
        seen.append(Parsed({k: list(v) for k, v in rows.items()}, copy.deepcopy(report), limits, dict(files)))
        real(rows, report, limits, files)

    with patch.object(package_module, "BY_ROW", dataclasses.replace(package_module.BY_ROW, references=spy)):
        yield seen


def parsed_folder(folder: Path, limits: Limits | None = None) -> Parsed:
    with capturing() as seen:
        load_package(folder, limits or Limits(), by_row=True)
    [parsed] = seen
    return parsed


def parsed_texts(texts: dict[str, tuple[str, str | None]], limits: Limits | None = None) -> Parsed:
    with capturing() as seen:
        validate_texts(Path("."), {}, texts, limits=limits or Limits(), by_row=True)
    [parsed] = seen
    return parsed


def rowsets(parsed: Parsed) -> dict[str, RowSet]:
    return {
        name: RowSet.from_loaded(TABLES_BY_NAME[name], parsed.files[name], rows) for name, rows in parsed.rows.items()
    }


def assert_same_report(actual: ValidationReport, expected: ValidationReport) -> None:
    # Texts first: a difference then shows as a readable diff.
    assert [p.as_text() for p in actual.problems] == [p.as_text() for p in expected.problems]
    assert actual.problems == expected.problems
    assert actual.quarantined == expected.quarantined
    assert actual.unchecked == expected.unchecked
    assert actual == expected  # and nothing else was touched


def assert_same_rows(actual: RowSet, expected: list[LoadedRow], file: str) -> None:
    """``actual`` holds the rows of ``expected``: lines, cells, and values of the same types."""
    table = actual.table
    assert actual.file == file
    assert actual.lines.tolist() == [row.line for row in expected]
    assert [actual.raw_row(i) for i in range(len(actual))] == [row.raw for row in expected]
    # A column's dtype may differ (a column left with no value is held as objects): compare the values, and
    # their types, as Decimal(5) == 5.
    wanted = RowSet.from_loaded(table, file, expected).values
    for name in table.columns:
        values, others = objects(actual.values[name]), objects(wanted[name])
        assert values == others, name
        assert list(map(type, values)) == list(map(type, others)), name


def assert_same(parsed: Parsed) -> ValidationReport:
    """Both validators on copies of ``parsed`` give the same report and keep the same rows; returns the report."""
    expected_rows, expected = dict(parsed.rows), copy.deepcopy(parsed.report)
    run_reference_rules(expected_rows, expected, parsed.limits, parsed.files)
    run_package_rules(expected_rows, expected)
    actual_rows, actual = rowsets(parsed), copy.deepcopy(parsed.report)
    resolved = run_reference_rules_columnar(actual_rows, actual, parsed.limits, parsed.files)
    looked_up = copy.deepcopy(actual)
    run_package_rules_columnar(actual_rows, actual, resolved=resolved)
    assert_same_report(actual, expected)
    # The rules that follow references read where they point from the references; looked up again, the same.
    run_package_rules_columnar(actual_rows, looked_up)
    assert_same_report(looked_up, expected)
    assert actual_rows.keys() == expected_rows.keys() == TABLES_BY_NAME.keys()
    for name, rows in expected_rows.items():
        assert_same_rows(actual_rows[name], rows, parsed.files[name])
    return expected


def assert_same_package_rules(parsed: Parsed) -> ValidationReport:
    """The package rules alone agree too, on rows no key or reference rule has cleaned."""
    expected = copy.deepcopy(parsed.report)
    run_package_rules(dict(parsed.rows), expected)
    actual = copy.deepcopy(parsed.report)
    run_package_rules_columnar(rowsets(parsed), actual)
    assert_same_report(actual, expected)
    return expected


def table_text(name: str, rows: list[dict[str, str]]) -> str:
    """The CSV text of ``rows`` with the table's columns in order, as csv.DictWriter writes it."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=TABLES_BY_NAME[name].columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: row.get(c) or "" for c in TABLES_BY_NAME[name].columns} for row in rows)
    return out.getvalue()


def texts_of(
    tables: Tables, unread: frozenset[str] = frozenset(), files: Callable[[str], str] = lambda name: f"{name}.csv"
) -> dict[str, tuple[str, str | None]]:
    """The loader's input for ``tables`` (a table not in it is left out of the package); ``unread`` ones as None."""
    return {
        name: (files(name), None if name in unread else table_text(name, rows))
        for name, rows in tables.items()
        if name in TABLES_BY_NAME
    }


def rules_of(report: ValidationReport) -> set[str]:
    return {problem.rule for problem in report.problems}


def test_every_package_rule_has_a_columnar_check() -> None:
    assert list(COLUMNAR_CHECKS) == [rule.code for rule in PACKAGE_RULES]


# --- The bundled package, generated ones, and the hostile corpus -------------------------------------------


def test_the_bundled_package() -> None:
    assert_same(parsed_folder(BUNDLED_DATA))


def _generate() -> Callable[..., Any]:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("benchmark_generate_columnar_rules", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.generate  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=[0, 1])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Tables:
    """The tables of a synthetic package of 2,000 more awards (seeds 0 and 1), generated once for this module."""
    out = tmp_path_factory.mktemp("columnar-rules") / "package"
    _generate()(2000, out, seed=request.param)
    return {
        table.name: list(csv.DictReader(io.StringIO((out / table.path).read_text(encoding="utf-8"), newline="")))
        for table in TABLES
    }


def _every(rows: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    return [row for i, row in enumerate(rows) if i % n == 0]


def _drop_rounds(tables: Tables) -> None:
    """Every seventh synthetic round goes: its awards, their recipients and citations follow it out."""
    gone = {row["id"] for row in _every([p for p in tables["programmes"] if p["level"] == "round"], 7)}
    tables["programmes"] = [row for row in tables["programmes"] if row["id"] not in gone]


def _repeat_awards(tables: Tables) -> None:
    tables["awards"] += _every(tables["awards"], 50)
    tables["award_recipients"] += _every(tables["award_recipients"], 40)


def _raise_amounts(tables: Tables) -> None:
    """Some awards grow past their programme's ceiling, some change currency."""
    for i, row in enumerate(_every([a for a in tables["awards"] if a["amount"]], 9)):
        row["amount"] = str(Decimal(row["amount"]) * (3 if i % 2 else Decimal("1.01")))
        if i % 5 == 0:
            row["currency"] = "USD"


GENERATED_CASES: dict[str, tuple[Callable[[Tables], None], frozenset[str]]] = {
    "as generated": (lambda tables: None, frozenset()),
    "rounds missing": (_drop_rounds, frozenset()),
    "awards repeated": (_repeat_awards, frozenset()),
    "amounts raised": (_raise_amounts, frozenset()),
    "programmes unread": (lambda tables: None, frozenset({"programmes"})),
    "awards unread": (_drop_rounds, frozenset({"awards"})),
}


@pytest.mark.parametrize("case", GENERATED_CASES)
def test_a_generated_package(generated: Tables, case: str) -> None:
    mutate, unread = GENERATED_CASES[case]
    tables = copy.deepcopy(generated)
    mutate(tables)
    report = assert_same(parsed_texts(texts_of(tables, unread)))
    assert case == "as generated" or report.problems  # each case breaks something


# Cases whose descriptor the loader refuses: no rule runs.
UNREADABLE = {"descriptor-is-a-symlink", "descriptor-nested-100000", "descriptor-not-an-object"}


@pytest.mark.parametrize("name", sorted(CASES.keys() - UNREADABLE))
def test_a_hostile_package(tmp_path: Path, name: str) -> None:
    assert_same(parsed_folder(build(name, tmp_path)))


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_a_hostile_package_that_is_never_validated(tmp_path: Path, name: str) -> None:
    with pytest.raises(PackageReadError):
        parsed_folder(build(name, tmp_path))


def test_the_file_limit_case_at_its_limit(tmp_path: Path) -> None:
    report = assert_same(parsed_folder(build("awards-over-the-file-limit", tmp_path), Limits(file_bytes=2000)))
    assert "awards" in report.unread and report.unchecked


# --- The packages of test_validation.py and test_adding.py ---------------------------------------------------


@pytest.mark.parametrize(("table", "index", "field", "value", "message"), ROW_CASES)
def test_a_row_rule_case(table: str, index: int, field: str, value: str, message: str) -> None:
    tables = minimal_tables()
    tables[table][index][field] = value
    assert_same(parsed_texts(texts_of(tables)))


@pytest.mark.parametrize("unreadable", [_not_utf8, _over_the_file_limit])
def test_rows_that_refer_to_an_unread_table(tmp_path: Path, unreadable: Callable[[Path], Limits]) -> None:
    folder = _many_awards(tmp_path / "pkg")
    report = assert_same(parsed_folder(folder, unreadable(folder)))
    assert report.unchecked


def _set(table: str, index: int, **values: str) -> Callable[[Tables], None]:
    return lambda tables: tables[table][index].update(values)


def _keep(table: str, keep: Callable[[dict[str, str]], bool]) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = [row for row in tables[table] if keep(row)]

    return mutate


def _all(*mutations: Callable[[Tables], None]) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        for mutation in mutations:
            mutation(tables)

    return mutate


def _append(table: str, *rows: dict[str, str]) -> Callable[[Tables], None]:
    return lambda tables: tables[table].extend(copy.deepcopy(list(rows)))


def _round(**values: str) -> Callable[[Tables], None]:
    return lambda tables: tables["programmes"].append({**tables["programmes"][0], **values})


def _april_over(tables: Tables) -> None:
    tables.update(_april_2024_round())
    tables["awards"][1]["amount"] = "55100000000"


MILESTONE = minimal_tables()["milestones"][0]
MINIMAL_AWARD = minimal_tables()["awards"][0]

# One case per test of test_validation.py and test_adding.py that builds a package; the rule it is about.
MINIMAL_CASES: dict[str, tuple[Callable[[Tables], None], frozenset[str]]] = {
    "amount without basis": (_set("awards", 0, basis=""), frozenset()),
    "link names two rows": (_set("citations", 0, award_id="award-a"), frozenset()),
    "invalid award cascades": (_set("awards", 0, amount="lots"), frozenset()),
    "duplicate id": (_set("awards", 1, id="award-a"), frozenset()),
    "dangling reference": (_set("awards", 1, programme_id="round-404"), frozenset()),
    "broken reference beside an unread table": (
        _set("award_recipients", 0, organisation_id="org-404"),
        frozenset({"awards"}),
    ),
    "over ceiling within rounding": (lambda tables: tables.update(_april_2024_round()), frozenset()),
    "over ceiling beyond rounding": (_april_over, frozenset()),
    "segment shares over 100%": (_set("market_shares", 1, share_low="75", share_high="75"), frozenset()),
    "uncited": (_keep("citations", lambda row: row.get("award_id") != "award-bc"), frozenset()),
    "currency not ISO": (_all(_set("programmes", 0, currency="XYZ"), _set("awards", 0, currency="XYZ")), frozenset()),
    "currency not convertible": (
        _all(_set("programmes", 0, currency="NGN"), _set("awards", 1, currency="NGN")),
        frozenset(),
    ),
    "future announcement": (_set("awards", 0, announced="2099-01-01"), frozenset()),
    "joint award with two leads": (
        _all(_set("award_recipients", 1, role="lead"), _set("award_recipients", 2, role="lead")),
        frozenset(),
    ),
    "joint award with a sole": (_set("award_recipients", 1, role="sole"), frozenset()),
    "single recipient not sole": (_set("award_recipients", 0, role="lead"), frozenset()),
    "award without recipient": (_keep("award_recipients", lambda row: row["award_id"] != "award-a"), frozenset()),
    "parent cycle": (
        _all(_round(id="round-2", parent_id="round-1"), _set("programmes", 0, parent_id="round-2")),
        frozenset(),
    ),
    "unattached caveat": (_keep("caveat_links", lambda row: False), frozenset()),
    "two unread tables, met in turn": (
        _all(
            lambda tables: tables["milestones"].insert(
                0, {**MILESTONE, "id": "ms-0", "award_id": "", "programme_id": "round-1"}
            ),
            _append("citations", {"source_id": "src-a", "milestone_id": "ms-0"}),
        ),
        frozenset({"programmes", "awards"}),
    ),
    "award in another currency": (_set("awards", 1, currency="USD"), frozenset()),
    "vendor share without organisation": (_set("market_shares", 0, segment_kind="vendor"), frozenset()),
    "markets empty": (_keep("markets", lambda row: False), frozenset()),
    "overlap caveat with one row": (
        _all(
            _keep("caveats", lambda row: False),
            _append("caveats", {"id": "cav-1", "kind": "overlap", "title_en": "same money?", "text_en": "maybe"}),
            _keep("caveat_links", lambda row: False),
            _append("caveat_links", {"programme_id": "round-1", "caveat_id": "cav-1"}),
        ),
        frozenset(),
    ),
    "longer plan inside a one-year line": (
        _round(id="plan-5y", parent_id="round-1", level="component", period_start_fy="2024", period_end_fy="2030"),
        frozenset(),
    ),
    "highlights naming two rows, one place twice, a missing row": (
        _append(
            "highlights",
            {"position": "1", "programme_id": "round-1", "claim_en": "The round", "page": "programmes"},
            {"position": "2", "programme_id": "round-1", "award_id": "award-a", "claim_en": "Two", "page": "companies"},
            {"position": "1", "market_share_id": "share-dom", "claim_en": "Same place", "page": "market"},
            {"position": "3", "award_id": "no-such-award", "claim_en": "Nothing", "page": "companies"},
        ),
        frozenset(),
    ),
    "Japanese in every English column": (
        _all(
            _set("countries", 0, name_en="日本"),
            _set("organisations", 1, name_en="ベータ研究所"),
            _set("awards", 0, purpose_en="GPUクラウド"),  # holds Latin letters: no warning
            _set("awards", 1, purpose_en="共同データセンター"),
            _set("market_shares", 0, segment_en="国内"),
            _set("milestones", 0, description_en="開所"),
            _set("caveats", 0, title_en="丸め", text_en="数値は概数"),
        ),
        frozenset(),
    ),
    "one organisation under three ids, and one name in two countries": (
        _all(
            _set("organisations", 1, name_en="ＡＬＰＨＡ　cloud"),
            _set("organisations", 2, name_en="Gamma AI", name_ja="アルファ"),
            _append("countries", {"id": "GB", "name_en": "UK", "fiscal_year_start_month": "4"}),
            _append("organisations", {"id": "org-uk", "name_en": "Alpha Cloud", "kind": "npo", "country_id": "GB"}),
        ),
        frozenset(),
    ),
    "programme titles that differ by width, a particle or a middle dot, beside and beneath": (
        _all(
            _set("programmes", 0, name_ja="計算資源の補助"),
            _round(id="round-2", name_en="Round two", name_ja="計算資源補助"),
            _round(id="round-3", name_en="ＲＯＵＮＤ・ＯＮＥ"),
            _round(id="part-1", parent_id="round-1", level="component", name_en="Round one"),
        ),
        frozenset(),
    ),
    # Rows quarantined with the row they refer to: one count per referring column, each row still listed.
    "negative amount with recipients and citations": (_set("awards", 1, amount="-5"), frozenset()),
    "bad programme date cascades three levels": (_set("programmes", 0, announced="2024-13-45"), frozenset()),
    "a missing id and a quarantined one in one table": (
        _all(
            _set("awards", 0, amount="-5"),
            lambda tables: tables["award_recipients"].insert(
                0, {"award_id": "award-x", "organisation_id": "org-b", "role": "sole"}
            ),
            _append("award_recipients", {"award_id": "award-404", "organisation_id": "org-b", "role": "sole"}),
        ),
        frozenset(),
    ),
    "programmes inside a quarantined one, and their awards": (
        _all(
            _round(id="part-1", parent_id="round-1", level="component"),
            _round(id="part-2", parent_id="part-1", level="component"),
            _append("awards", {**MINIMAL_AWARD, "id": "award-c", "programme_id": "part-2"}),
            _set("programmes", 0, announced="2024-13-45"),
        ),
        frozenset(),
    ),
    "a repeated id whose first row is quarantined": (
        _all(_append("awards", MINIMAL_AWARD), _set("awards", 0, programme_id="round-404")),
        frozenset(),
    ),
    "a quarantined row beside an unread table": (_set("awards", 0, amount="-5"), frozenset({"organisations"})),
}


@pytest.mark.parametrize("case", MINIMAL_CASES)
def test_a_broken_minimal_package(case: str) -> None:
    mutate, unread = MINIMAL_CASES[case]
    tables = minimal_tables()
    tables.setdefault("highlights", [])
    mutate(tables)
    assert assert_same(parsed_texts(texts_of(tables, unread))).problems


def test_a_package_without_highlights() -> None:
    tables = minimal_tables()
    tables.pop("highlights", None)
    assert not assert_same(parsed_texts(texts_of(tables))).problems


def test_the_nesting_limit() -> None:
    tables = minimal_tables()
    for i in range(5):
        tables["programmes"].append({**tables["programmes"][0], "id": f"level-{i}", "parent_id": f"level-{i - 1}"})
    tables["programmes"][1]["parent_id"] = "round-1"
    report = assert_same(parsed_texts(texts_of(tables), Limits(nesting=3)))
    # level-2 is too deep; level-3 and level-4 below it are quarantined with it, counted in one problem (and
    # level-0 and level-1, loaded, are uncited).
    assert [(p.rule, p.line) for p in report.problems if p.table == "programmes" and p.rule != "uncited"] == [
        ("nesting", 5),
        ("quarantined-reference", 6),
    ]
    assert [q.line for q in report.quarantined if q.table == "programmes"] == [5, 6, 7]


def test_sums_that_round_are_added_in_the_per_row_order() -> None:
    """At 6 digits of precision the sums round, so their order matters: the columnar ceiling keeps the per-row one.

    The round's total, added award by award, stays at 999999; added as the sums of the round's own
    awards and of the component's, it would reach 1.00000E+6 and go over the ceiling.
    """
    parsed = parsed_texts(texts_of(rounding_ceiling_tables()))
    with decimal.localcontext(prec=6):
        by_row = sum((Decimal(a) for _, a in ROUNDING_AMOUNTS.values()), Decimal(0))
        by_programme = Decimal(0) + Decimal("999999") + (Decimal(0) + Decimal("0.4") + Decimal("0.4"))
        assert by_row != by_programme
        report = assert_same(parsed)
    assert not rules_of(report) & {"ceiling", "ceiling-rounding"}
