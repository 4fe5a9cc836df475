"""A package validated for the dashboard is prepared while its package rules run (``load_package``'s ``meanwhile``).

The rules only add problems to the report; the joins read the rows, final by then. What the rules find is in
the report when the load returns, a failure of either is raised after both have ended, and a package read back
from the cache is prepared (or its views read back) after, as before.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

import aifunding.analysis.cached_views as cached_views
import aifunding.loading.package as package_module
from aifunding import BUNDLED_DATA
from aifunding.analysis.cached_views import prepare_cached
from aifunding.analysis.view import Prepared, prepare
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import Package, load_package

from packages import minimal_tables, write_package


def _rules_waiting_for(event: threading.Event, seen: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """The package rules, run only once ``event`` is set (or two seconds pass): ``seen`` says whether it was."""
    way = package_module.BY_COLUMN

    def rules(*args: object) -> None:
        seen.append(event.wait(timeout=2))
        way.rules(*args)

    monkeypatch.setattr(package_module, "BY_COLUMN", dataclasses.replace(way, rules=rules))


def test_the_package_is_handed_over_while_its_rules_run_and_their_problems_are_in_the_report_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, seen, handed = threading.Event(), [], []
    _rules_waiting_for(started, seen, monkeypatch)

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
