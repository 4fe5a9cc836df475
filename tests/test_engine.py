"""The analytical engine: the same Ibis queries on DuckDB and on Spark agree with each other and with pandas.

Run on the bundled package and on a generated one (benchmarks/generate.py, 2000 awards). The Spark tests
need a Java runtime: without one they are skipped, except under CI=true, where they must run.
"""

from __future__ import annotations

import datetime
import importlib.util
import shutil
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from aifunding import columns as C
from aifunding.analysis import engine, metrics
from aifunding.analysis.view import date_mask
from aifunding.loading.package import Package, load_package

from needs import require
from packages import generate

GENERATED_AWARDS = 2000
RECIPIENT_COLUMNS = [C.PROJECT_LABEL, C.CURRENCY, C.TOTAL, C.N_AWARDS, C.N_AWARDS_UNPUBLISHED]
PROGRAMME_COLUMNS = [
    C.PROGRAMME_ID,
    C.N_AWARDS,
    C.N_AWARDS_UNPUBLISHED,
    C.ALLOCATED,
    C.ALLOCATED_CURRENCY,
    C.AWARDS_OTHER_CURRENCY,
]
PACKAGES = ("bundled", "generated")
# Deprecations between the pinned libraries, none about our code: Ibis 12 calls DuckDB's fetch_arrow_table
# and reads pandas' future.infer_string; PySpark 4 warns on every conversion that pandas 3 is new to it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Package:
    out = tmp_path_factory.mktemp("engine") / "package"
    generate(GENERATED_AWARDS, out, seed=3)
    package = load_package(out)
    assert package.report.valid
    return package


@pytest.fixture(scope="module")
def packages(bundled: Package, generated: Package) -> dict[str, Package]:
    return {"bundled": bundled, "generated": generated}


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (starting one costs seconds)."""
    require(
        shutil.which("java") is not None,
        "no Java runtime for PySpark (apt-get install default-jre-headless)",
        "the Spark tests",
    )
    require(
        importlib.util.find_spec("pyspark") is not None,
        "PySpark is not installed (pip install '.[spark]')",
        "the Spark tests",
    )
    yield engine.spark_session()
    engine.stop_spark()


def _cell(value: Any) -> Any:
    """A comparable cell: Decimals normalised (1.0000 == 1), every kind of missing as None, numpy ints as int."""
    if value is None or (not isinstance(value, (str, Decimal)) and pd.isna(value)):
        return None
    if isinstance(value, Decimal):
        return value.normalize()
    return int(value) if hasattr(value, "__index__") else value


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    rows = [tuple(_cell(v) for v in row) for row in frame[columns].itertuples(index=False)]
    return sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))


def _pandas_recipients(package: Package) -> list[tuple]:
    return _rows(metrics.totals_by_recipient(metrics.award_view(package)), RECIPIENT_COLUMNS)


def _pandas_programmes(package: Package) -> list[tuple]:
    frame = metrics.programme_totals(package.frame("programmes"), package.frame("awards"), package.tree)
    return _rows(frame, PROGRAMME_COLUMNS)


def _check(package: Package, con: Any) -> None:
    tables = engine.Tables.load(con, package)
    recipients = engine.recipient_totals(tables)
    assert list(recipients.columns) == RECIPIENT_COLUMNS
    assert _rows(recipients, RECIPIENT_COLUMNS) == _pandas_recipients(package)
    # Largest total first, ties by label: the same order on every engine.
    assert list(recipients[C.TOTAL]) == sorted(recipients[C.TOTAL], reverse=True)
    assert all(isinstance(total, Decimal) for total in recipients[C.TOTAL])
    programmes = engine.programme_allocations(tables)
    assert list(programmes.columns) == PROGRAMME_COLUMNS
    assert list(programmes[C.PROGRAMME_ID]) == sorted(programmes[C.PROGRAMME_ID])
    assert _rows(programmes, PROGRAMME_COLUMNS) == _pandas_programmes(package)


@pytest.mark.parametrize("name", PACKAGES)
def test_duckdb_matches_pandas(packages: dict[str, Package], name: str) -> None:
    _check(packages[name], engine.connect("duckdb"))


@pytest.mark.spark
def test_spark_matches_duckdb_and_pandas(packages: dict[str, Package], spark: Any) -> None:
    con = engine.connect("spark")
    duck = engine.connect("duckdb")
    for package in packages.values():
        _check(package, con)
        on_spark, on_duckdb = engine.Tables.load(con, package), engine.Tables.load(duck, package)
        # Same rows in the same order, cell for cell, on both engines.
        for query in (engine.recipient_totals, engine.programme_allocations):
            spark_frame, duckdb_frame = query(on_spark), query(on_duckdb)
            assert [tuple(map(_cell, row)) for row in spark_frame.itertuples(index=False)] == [
                tuple(map(_cell, row)) for row in duckdb_frame.itertuples(index=False)
            ]
        filters = {"countries": ("JP", "FR"), "date_from": datetime.date(2020, 1, 1)}
        ids_spark = engine.filter_awards(on_spark, **filters).to_pandas()["id"]
        ids_duckdb = engine.filter_awards(on_duckdb, **filters).to_pandas()["id"]
        assert sorted(ids_spark) == sorted(ids_duckdb)


def test_filter_matches_the_view_rules(packages: dict[str, Package]) -> None:
    start, end = datetime.date(2023, 6, 1), datetime.date(2024, 12, 31)
    for package in packages.values():
        tables = engine.Tables.load(engine.connect(), package)
        view = metrics.award_view(package)
        for countries, kinds in (((), ()), (("JP",), ()), (("JP", "FR", "US"), ("compute_subsidy",))):
            keep = date_mask(view["announced"], start, end)
            if countries:
                keep &= view[C.COUNTRY_ID].isin(countries)
            if kinds:
                keep &= view[C.KIND].isin(kinds)
            found = engine.filter_awards(tables, countries, kinds, start, end).to_pandas()
            assert sorted(found["id"]) == sorted(view.loc[keep, "id"])
        # Totals of the filtered awards only.
        japan = engine.filter_awards(tables, ("JP",))
        totals = engine.recipient_totals(tables, japan)
        expected = metrics.totals_by_recipient(view[view[C.COUNTRY_ID] == "JP"])
        assert _rows(totals, RECIPIENT_COLUMNS) == _rows(expected, RECIPIENT_COLUMNS)


def test_engine_is_chosen_by_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engine.ENGINE_VARIABLE, raising=False)
    assert engine.engine_name() == "duckdb"
    assert engine.connect().name == "duckdb"
    monkeypatch.setenv(engine.ENGINE_VARIABLE, "Spark")
    assert engine.engine_name() == "spark"
    assert engine.engine_name("duckdb") == "duckdb"
    with pytest.raises(ValueError, match="unknown analytical engine 'polars'"):
        engine.connect("polars")


def test_amounts_stay_exact_decimals(bundled: Package) -> None:
    table = engine.arrow_table("awards", bundled.frame("awards"))
    assert str(table.schema.field("amount").type) == "decimal128(38, 4)"
    closure = engine.closure_table(bundled.tree)
    pairs = set(zip(closure[C.PROGRAMME_ID].to_pylist(), closure[engine.ANCESTOR_ID].to_pylist(), strict=True))
    for pid in bundled.frame("programmes")["id"]:
        assert {up for p, up in pairs if p == pid} == set(bundled.tree.ancestors(pid))
