"""Whole packages validated by column and by row give the same package and the same report.

The parts are tested apart (tests/test_columnar_parse.py, tests/test_columnar_rules.py); here the
pipeline is: every table parsed, keys and references resolved, the package rules run, on the bundled
package, a generated one, every hostile case, and packages broken on purpose in the ways the
validator reports (dangling and duplicate ids, cycles, unread tables, quarantine cascades).
"""

from __future__ import annotations

import decimal
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hostile.corpus import CASES, build

from aifunding import BUNDLED_DATA
from aifunding.data.tables import TABLES
from aifunding.loading.package import Package, PackageReadError, load_package

from packages import (
    ROUNDING_AMOUNTS,
    assert_same_report,
    generate,
    minimal_tables,
    rounding_ceiling_tables,
    write_package,
)


def same(folder: Path) -> Package | None:
    """Validate ``folder`` both ways and assert that everything they found and loaded is the same."""
    try:
        by_row = load_package(folder, by_row=True)
    except PackageReadError as error:
        with pytest.raises(PackageReadError, match=None) as raised:
            load_package(folder)
        assert str(raised.value) == str(error)
        return None
    by_column = load_package(folder)
    # Handed to a ``meanwhile`` while its references and package rules run, a package ends the same too. One that
    # parsed without an error is handed over before its references are resolved, and again with its final rows
    # should they leave one out: the package returned is the last one handed over.
    handed: list[Package] = []
    beside = load_package(folder, meanwhile=handed.append)
    assert 1 <= len(handed) <= 2 and handed[-1] is beside
    if len(handed) == 2:
        rows = [(len(handed[0].frame(t.name)), len(beside.frame(t.name))) for t in TABLES]
        assert all(early >= final for early, final in rows) and any(early > final for early, final in rows)
    for package in (by_column, beside):
        assert_same_report(package.report, by_row.report)
        for table in TABLES:
            pd.testing.assert_frame_equal(package.frame(table.name), by_row.frame(table.name), obj=table.name)
    return by_column


def test_the_bundled_package(tmp_path: Path) -> None:
    package = same(BUNDLED_DATA)
    assert package is not None and package.report.valid


def test_a_generated_package(tmp_path: Path) -> None:
    folder = tmp_path / "generated"
    generate(3000, folder, seed=5)
    package = same(folder)
    assert package is not None and len(package.frame("awards")) > 3000


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_hostile_case(name: str, tmp_path: Path) -> None:
    same(build(name, tmp_path))


def _broken(tmp_path: Path, change) -> Path:
    tables = minimal_tables()
    change(tables)
    return write_package(tmp_path, tables)


BREAKAGES = {
    "dangling programme": lambda t: t["awards"][0].update(programme_id="nowhere"),
    "duplicate award": lambda t: t["awards"].append(dict(t["awards"][0])),
    "bad amount cascades": lambda t: t["awards"][0].update(amount="lots"),
    "parent cycle": lambda t: t["programmes"].extend(
        [
            {**t["programmes"][0], "id": "loop-a", "parent_id": "loop-b", "level": "round"},
            {**t["programmes"][0], "id": "loop-b", "parent_id": "loop-a", "level": "round"},
        ]
    ),
    "recipient of nobody": lambda t: t["award_recipients"].append(
        {"award_id": "award-a", "organisation_id": "no-such-org", "role": "member"}
    ),
    "uncited award": lambda t: t.__setitem__(
        "citations", [c for c in t["citations"] if c.get("award_id") != "award-a"]
    ),
    "blank status takes its default": lambda t: t["programmes"][0].update(status=""),
    "negative amount, one error and its follow-ons": lambda t: t["awards"][1].update(amount="-250000"),
    "bad programme date, three levels of follow-ons": lambda t: t["programmes"][0].update(announced="2024-13-45"),
    "a missing id beside a quarantined one": lambda t: (
        t["awards"][0].update(amount="-5"),
        t["award_recipients"].append({"award_id": "award-404", "organisation_id": "org-b", "role": "sole"}),
    ),
    "Japanese-only English names": lambda t: t["organisations"][0].update(name_en="アルファ"),
    "one organisation under two ids": lambda t: t["organisations"].append({**t["organisations"][0], "id": "org-a2"}),
    "titles that differ by a particle": lambda t: t["programmes"].extend(
        [
            {**t["programmes"][0], "id": "p-ja", "name_en": "Round 2", "name_ja": "計算資源の補助"},
            {**t["programmes"][0], "id": "p-ja2", "name_en": "Round 3", "name_ja": "計算資源補助"},
        ]
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_packages(breakage: str, tmp_path: Path) -> None:
    same(_broken(tmp_path, BREAKAGES[breakage]))


@pytest.mark.parametrize("missing", ["awards.csv", "programmes.csv", "organisations.csv"])
def test_a_table_that_cannot_be_read(missing: str, tmp_path: Path) -> None:
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    (folder / missing).unlink()
    package = same(folder)
    assert package is not None and missing.removesuffix(".csv") in package.report.unread


def test_tables_parsed_at_once_report_in_table_order(tmp_path: Path) -> None:
    """By column, the largest table is parsed first and beside the others; its problems still come in table order.

    Countries come before awards in the report (as read one at a time, by row) although awards, the largest file,
    are parsed first, and organisations, parsed beside them, finish long before.
    """
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    with (folder / "countries.csv").open("a", encoding="utf-8") as handle:
        handle.write("XX,Nowhere,どこでもない,13\n")
    with (folder / "organisations.csv").open("a", encoding="utf-8") as handle:
        handle.write("odd-org,Odd,,not-a-kind,JP,\n")
    awards = (folder / "awards.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    awards[1] = awards[1].replace(",1930000000,", ",lots,", 1)
    (folder / "awards.csv").write_text("".join(awards), encoding="utf-8")
    package = same(folder)
    assert package is not None
    order = [table.name for table in TABLES]
    parsed = [p.table for p in package.report.problems if p.rule.startswith("row:")]
    assert parsed == ["countries", "organisations", "awards"]
    assert parsed == sorted(parsed, key=order.index)


def test_the_rules_add_in_the_callers_decimal_context(tmp_path: Path) -> None:
    # The package rules run in threads, which start with the default context: they take the caller's. At 6 digits
    # the round's awards, added in the per-row order, stay within its ceiling of 999999; at the default 28 they go
    # over it (999999.8), an error.
    tables = rounding_ceiling_tables()
    tables["award_recipients"] = [{**tables["award_recipients"][0], "award_id": aid} for aid in ROUNDING_AMOUNTS]
    tables["citations"] += [{**tables["citations"][-1], "programme_id": "part-1", "award_id": ""}]
    tables["citations"] += [{**tables["citations"][-1], "programme_id": "", "award_id": a} for a in ROUNDING_AMOUNTS]
    folder = write_package(tmp_path / "pkg", tables)

    def ceilings(package: Package) -> list[str]:
        return [problem.as_text() for problem in package.report.problems if problem.rule.startswith("ceiling")]

    assert ceilings(load_package(folder)) != []  # over, at the default precision
    with decimal.localcontext(prec=6):
        by_row = load_package(folder, by_row=True)
        assert ceilings(by_row) == []
        for package in (load_package(folder), load_package(folder, meanwhile=lambda package: None)):
            assert package.report.problems == by_row.report.problems
