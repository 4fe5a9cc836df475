"""A package validated for the dashboard is prepared, and one validated for ``aifunding export`` has its tables made,
while its package rules run (``load_package``'s ``meanwhile``).

The rules only add problems to the report; the joins read the rows, final by then. What the rules find is in
the report when the load returns, a failure of either is raised after both have ended, and a package read back
from the cache is prepared (or its views read back) after, as before. An export the problems found before the
rules refuse makes nothing beside them.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import threading
import weakref
from pathlib import Path

import pandas as pd
import pytest

import aifunding.analysis.cached_views as cached_views
import aifunding.cli as cli
import aifunding.loading.package as package_module
import aifunding.outputs.export as export
from aifunding import BUNDLED_DATA
from aifunding.analysis.cached_views import prepare_cached
from aifunding.analysis.view import Prepared, prepare
from aifunding.cli import main
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import MadeMeanwhile, Package, load_package

from packages import minimal_tables, write_package


def _waiting_for(
    event: threading.Event, seen: list[bool], monkeypatch: pytest.MonkeyPatch, step: str = "rules"
) -> None:
    """Validation's ``step`` (the package rules, or the references), run only once ``event`` is set (or two seconds
    pass): ``seen`` says whether it was."""
    way = package_module.BY_COLUMN
    run = getattr(way, step)

    def waiting(*args: object) -> None:
        seen.append(event.wait(timeout=2))
        run(*args)

    monkeypatch.setattr(package_module, "BY_COLUMN", dataclasses.replace(way, **{step: waiting}))


def test_the_package_is_handed_over_while_its_rules_run_and_their_problems_are_in_the_report_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, seen, handed = threading.Event(), [], []
    _waiting_for(started, seen, monkeypatch)

    def meanwhile(package: Package) -> None:
        handed.append(len(package.report.problems))  # the rules have not run: they wait for this
        started.set()

    package = load_package(BUNDLED_DATA, meanwhile=meanwhile)
    assert seen == [True]  # the rules ran beside it, not before it
    plain = load_package(BUNDLED_DATA)
    assert package.report.problems == plain.report.problems
    assert handed[0] < len(plain.report.problems)  # the bundled package's one rule warning came after


def test_a_failure_beside_the_rules_is_raised_once_they_have_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    ended = threading.Event()
    way = package_module.BY_COLUMN

    def rules(*args: object) -> None:
        way.rules(*args)
        ended.set()

    monkeypatch.setattr(package_module, "BY_COLUMN", dataclasses.replace(way, rules=rules))

    def failing(package: Package) -> None:
        raise RuntimeError("joins failed")

    with pytest.raises(RuntimeError, match="joins failed"):
        load_package(BUNDLED_DATA, meanwhile=failing)
    assert ended.is_set()


def test_a_rule_that_fails_is_raised_after_what_ran_beside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def rules(*args: object) -> None:
        raise ValueError("a rule failed")

    monkeypatch.setattr(package_module, "BY_COLUMN", dataclasses.replace(package_module.BY_COLUMN, rules=rules))
    handed: list[Package] = []
    with pytest.raises(ValueError, match="a rule failed"):
        load_package(BUNDLED_DATA, meanwhile=handed.append)
    assert len(handed) == 1


def _frames_equal(package: Package, other: Package) -> None:
    for name in package.frames:
        pd.testing.assert_frame_equal(package.frame(name), other.frame(name), obj=name)


def test_a_package_parsed_without_an_error_is_handed_over_while_its_references_are_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, seen, handed = threading.Event(), [], []
    _waiting_for(started, seen, monkeypatch, "references")

    def meanwhile(package: Package) -> None:
        handed.append(package)
        started.set()

    package = load_package(BUNDLED_DATA, meanwhile=meanwhile)
    assert seen == [True] and handed == [package]  # once: the references left every row in
    plain = load_package(BUNDLED_DATA)
    assert package.report.problems == plain.report.problems and package.report.rows_loaded == plain.report.rows_loaded
    _frames_equal(package, plain)


def _unknown_award(folder: Path) -> Path:
    """A package that parses without an error, one of whose recipients names an award it has not got."""
    tables = minimal_tables()
    tables["award_recipients"].append({"award_id": "award-zz", "organisation_id": "org-a", "role": "sole"})
    return write_package(folder, tables)


def test_a_package_whose_references_leave_a_row_out_is_handed_over_again_with_its_final_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _unknown_award(tmp_path / "package")
    rules: list[int] = []
    way = package_module.BY_COLUMN
    counted = dataclasses.replace(way, rules=lambda *args: rules.append(1) or way.rules(*args))
    monkeypatch.setattr(package_module, "BY_COLUMN", counted)
    handed: list[Package] = []
    package = load_package(folder, meanwhile=handed.append)
    assert len(handed) == 2 and handed[1] is package and rules == [1]  # the rules ran once, on the final rows
    assert len(handed[0].frame("award_recipients")) == len(package.frame("award_recipients")) + 1
    plain = load_package(folder)
    assert package.report.problems == plain.report.problems and package.report.rows_loaded == plain.report.rows_loaded
    assert any("award-zz" in problem.message for problem in plain.report.errors)
    _frames_equal(package, plain)


def test_a_package_with_an_error_is_handed_over_once_its_rows_are_final(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "lots"  # refused as it is parsed: its recipients are then left out too
    folder = write_package(tmp_path / "package", tables)
    handed: list[tuple[Package, dict[str, int]]] = []
    package = load_package(folder, meanwhile=lambda early: handed.append((early, dict(early.report.rows_loaded))))
    assert [early for early, _ in handed] == [package]
    assert handed[0][1] == package.report.rows_loaded == load_package(folder).report.rows_loaded
    assert len(package.frame("award_recipients")) == 2  # award-a's recipient was left out by the references


def test_a_failure_on_rows_the_references_then_leave_out_is_dropped_with_what_was_made(tmp_path: Path) -> None:
    folder = _unknown_award(tmp_path / "package")
    handed: list[Package] = []

    def meanwhile(package: Package) -> None:
        handed.append(package)
        if len(handed) == 1:
            raise KeyError("award-zz")  # as a join that meets a link naming no row might

    package = load_package(folder, meanwhile=meanwhile)
    assert len(handed) == 2 and handed[1] is package
    _frames_equal(package, load_package(folder))


def _programme(pid: str, parent: str | None) -> dict[str, str]:
    programme = {**minimal_tables()["programmes"][0], "id": pid, "level": "programme"}
    return {**programme, "parent_id": parent} if parent else programme


def _chain(length: int) -> list[dict[str, str]]:
    """The minimal package's round under ``length - 1`` programmes, each inside the one before."""
    ids = [f"p{level}" for level in range(length - 1)] + ["round-1"]
    chain = [_programme(pid, ids[level - 1] if level else None) for level, pid in enumerate(ids)]
    chain[-1] = {**minimal_tables()["programmes"][0], "parent_id": ids[-2]}
    return chain


PROGRAMMES_LEFT_OUT = {
    "a repeated id": [*minimal_tables()["programmes"], _programme("round-1", None)],
    "a parent that is no programme": [{**minimal_tables()["programmes"][0], "parent_id": "nowhere"}],
    "a cycle": [{**minimal_tables()["programmes"][0], "parent_id": "p1"}, _programme("p1", "round-1")],
    "one level too deep": _chain(17),
}


@pytest.mark.parametrize("case", sorted(PROGRAMMES_LEFT_OUT))
def test_programmes_the_references_will_leave_out_are_never_handed_over_unchecked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The joins walk the programmes' chains: a tree the references will cut is never handed over before them."""
    tables = minimal_tables()
    tables["programmes"] = PROGRAMMES_LEFT_OUT[case]
    folder = write_package(tmp_path / "package", tables)
    resolved: list[int] = []
    way = package_module.BY_COLUMN
    counted = dataclasses.replace(way, references=lambda *args: resolved.append(1) or way.references(*args))
    monkeypatch.setattr(package_module, "BY_COLUMN", counted)
    handed: list[tuple[Package, int]] = []
    made = MadeMeanwhile(prepare)

    def meanwhile(package: Package) -> None:
        handed.append((package, len(resolved)))
        made(package)

    package = load_package(folder, meanwhile=meanwhile)
    assert handed == [(package, 1)]  # once, its references resolved
    assert package.report.errors and made.of(package) is not None
    _frames_equal(package, load_package(folder))


def test_a_tree_as_deep_as_the_limit_is_handed_over_before_its_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = minimal_tables()
    tables["programmes"] = _chain(16)
    folder = write_package(tmp_path / "package", tables)
    started, seen, handed = threading.Event(), [], []
    _waiting_for(started, seen, monkeypatch, "references")
    package = load_package(folder, meanwhile=lambda early: handed.append(early) or started.set())
    assert seen == [True] and handed == [package] and len(package.frame("programmes")) == 16  # none left out


@pytest.mark.parametrize("table", ["awards", "organisations", "award_recipients", "sources"])
def test_rows_the_references_will_leave_out_are_joined_or_dropped_never_a_failed_load(
    tmp_path: Path, table: str
) -> None:
    """A repeated key passes the parser: the package is handed over unchecked, and whatever its joins make of it, the
    load ends as without them, its views made of the final rows."""
    tables = minimal_tables()
    tables[table].append(dict(tables[table][-1]))
    folder = write_package(tmp_path / "package", tables)
    made = MadeMeanwhile(prepare)
    package = load_package(folder, meanwhile=made)
    plain = load_package(folder)
    assert package.report.problems == plain.report.problems and package.report.errors
    _frames_equal(package, plain)
    prepared = made.of(package)
    assert prepared is not None and prepared.package is package
    pd.testing.assert_frame_equal(prepared.awards, prepare(plain).awards)


def test_what_was_made_of_a_package_handed_over_before_is_let_go_of_and_never_taken(tmp_path: Path) -> None:
    folder = _unknown_award(tmp_path / "package")

    class Made:
        def __init__(self, package: Package) -> None:
            self.package = package

    made = MadeMeanwhile(Made)
    first: list[weakref.ref[Made]] = []
    handed: list[Package] = []

    def meanwhile(package: Package) -> None:
        handed.append(package)
        made(package)
        if len(handed) == 1:
            first.append(weakref.ref(made.of(package)))  # type: ignore[arg-type]

    package = load_package(folder, meanwhile=meanwhile)
    assert len(handed) == 2
    kept = made.of(package)
    assert kept is not None and kept.package is package and made.of(handed[0]) is None
    gc.collect()
    assert first[0]() is None
    # Nothing made (a refused package) is nothing taken.
    assert MadeMeanwhile(lambda package: None).of(package) is None


def test_an_export_of_a_package_handed_over_twice_is_made_of_its_final_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIFUNDING_CACHE", str(tmp_path / "cache"))
    folder = _unknown_award(tmp_path / "package")
    args = ["export", "--data", str(folder), "--format", "json", "--allow-invalid", "-o"]
    made = _recorded_exporters(monkeypatch, threading.Event())
    assert main([*args, str(tmp_path / "beside.json")]) == 0
    assert made == 2 * list(export.EXPORT_TABLES)  # made of the first package handed over, then of the final one
    # Read back from the cache, the package is not validated nor handed over: its tables are made after.
    assert main([*args, str(tmp_path / "after.json")]) == 0
    assert made == 3 * list(export.EXPORT_TABLES)
    assert _document(tmp_path / "beside.json") == _document(tmp_path / "after.json")
    assert "award-zz" not in (tmp_path / "beside.json").read_text(encoding="utf-8")
    capsys.readouterr()
    summary = ["summary", "--data", str(folder), "--allow-invalid", "--format", "json"]
    monkeypatch.setenv("AIFUNDING_CACHE", "off")
    assert main(summary) == 0
    beside = capsys.readouterr().out
    monkeypatch.setenv("AIFUNDING_CACHE", str(tmp_path / "cache"))
    assert main(summary) == 0
    assert capsys.readouterr().out == beside


def test_a_package_read_back_from_the_cache_is_not_handed_over(tmp_path: Path) -> None:
    folder = write_package(tmp_path / "package", minimal_tables())
    cache = PackageCache(tmp_path / "cache")
    first: list[Package] = []
    validated = load_package(folder, cache=cache, meanwhile=first.append)
    again: list[Package] = []
    read_back = load_package(folder, cache=cache, meanwhile=again.append)
    assert first == [validated] and again == []
    assert read_back.cache_key == validated.cache_key


def test_views_prepared_beside_the_rules_are_kept_not_prepared_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_package(tmp_path / "package", minimal_tables())
    cache = PackageCache(tmp_path / "cache")
    made: list[Prepared] = []
    package = load_package(folder, cache=cache, meanwhile=lambda validated: made.append(prepare(validated)))
    calls: list[Package] = []
    monkeypatch.setattr(cached_views, "prepare", lambda package: calls.append(package) or prepare(package))
    prepared = prepare_cached(package, cache, made[0])
    assert calls == [] and prepared.package is package and prepared.awards.equals(made[0].awards)
    # A restart reads the package and its views back: nothing is prepared again.
    restarted = prepare_cached(load_package(folder, cache=cache), cache)
    assert calls == [] and restarted.awards.equals(prepared.awards)
    # Views of another package are not taken for this one's.
    assert prepare_cached(load_package(BUNDLED_DATA), None, made[0]).package is not made[0].package


def _recorded_exporters(monkeypatch: pytest.MonkeyPatch, started: threading.Event) -> list[str]:
    """The export tables made from here on, by name; making one sets ``started``."""
    made: list[str] = []
    for name, make in dict(export.EXPORTERS).items():

        def recorded(package: Package, fx: object, prepared: object, name: str = name, make: object = make) -> object:
            made.append(name)
            started.set()
            return make(package, fx, prepared)  # type: ignore[operator]

        monkeypatch.setitem(export.EXPORTERS, name, recorded)
    return made


def _document(path: Path) -> dict:
    document = json.loads(path.read_text(encoding="utf-8"))
    document["about"].pop("generated_at")
    return document


def test_an_export_of_a_package_validated_here_makes_its_tables_beside_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIFUNDING_CACHE", "off")
    out = tmp_path / "beside.json"
    assert main(["export", "--format", "json", "--currency", "USD", "-o", str(tmp_path / "plain.json")]) == 0
    started, seen = threading.Event(), []
    _waiting_for(started, seen, monkeypatch)
    made = _recorded_exporters(monkeypatch, started)
    assert main(["export", "--format", "json", "--currency", "USD", "-o", str(out)]) == 0
    assert seen == [True]  # the rules waited for the first table to be begun: it was made beside them
    assert made == list(export.EXPORT_TABLES)  # each made once, and not again as it was written
    assert _document(out) == _document(tmp_path / "plain.json")
    capsys.readouterr()


def test_an_export_refused_by_what_was_found_before_the_rules_makes_nothing_beside_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIFUNDING_CACHE", "off")
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "lots"  # refused as it is parsed, before the rules
    broken = write_package(tmp_path / "broken", tables)
    made = _recorded_exporters(monkeypatch, threading.Event())
    assert main(["export", "--data", str(broken), "--format", "csv", "-o", str(tmp_path / "out")]) == 1
    assert made == []
    assert "the package has errors" in capsys.readouterr().err
    # Allowed, its valid rows are made beside the rules, once.
    args = ["export", "--data", str(broken), "--format", "csv", "--allow-invalid", "-o", str(tmp_path / "out")]
    assert main(args) == 0
    assert made == list(export.EXPORT_TABLES)


def _prepares_counted(monkeypatch: pytest.MonkeyPatch, started: threading.Event) -> list[Package]:
    """The packages the command line prepares from here on; preparing one sets ``started``."""
    calls: list[Package] = []

    def counted(package: Package) -> Prepared:
        calls.append(package)
        started.set()
        return prepare(package)

    monkeypatch.setattr(cli, "prepare", counted)
    return calls


def test_a_summary_and_a_report_of_a_package_validated_here_prepare_it_beside_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIFUNDING_CACHE", "off")
    assert main(["summary", "--format", "json"]) == 0
    plain = capsys.readouterr().out
    started, seen = threading.Event(), []
    _waiting_for(started, seen, monkeypatch)
    calls = _prepares_counted(monkeypatch, started)
    assert main(["summary", "--format", "json"]) == 0
    assert seen == [True] and len(calls) == 1  # prepared once, beside the rules
    assert capsys.readouterr().out == plain
    started.clear()
    assert main(["report", "-o", str(tmp_path / "report.html")]) == 0
    assert seen == [True, True] and len(calls) == 2
    assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_summary_refused_by_what_was_found_before_the_rules_prepares_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIFUNDING_CACHE", "off")
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "lots"
    broken = write_package(tmp_path / "broken", tables)
    calls = _prepares_counted(monkeypatch, threading.Event())
    assert main(["summary", "--data", str(broken)]) == 1
    assert calls == [] and "the package has errors" in capsys.readouterr().err
    assert main(["summary", "--data", str(broken), "--allow-invalid"]) == 0
    assert len(calls) == 1
