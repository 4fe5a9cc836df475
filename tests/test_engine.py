"""The analytical engine: the same Ibis queries on DuckDB and on Spark agree with each other and with pandas.

Run on the bundled package, on a generated one (benchmarks/generate.py, 2000 awards) and on that one made
awkward for conversion (weekend, holiday, month and year dates, dates outside the ECB table, no date, a
currency the ECB does not quote, four decimal places, allocations of exactly half a cent). Every query
is compared cell for cell: filters, totals per recipient and per programme, conversion in three money
choices, and the market tables. The Spark tests need a Java runtime: without one they are skipped, except
under CI=true, where they must run.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import subprocess
import sys
import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis import engine, metrics
from aifunding.analysis.conversion import FxChoice, convert_frame, convert_programmes
from aifunding.analysis.engine_tables import AMOUNT_TYPE
from aifunding.analysis.engine_view import VIEW_COLUMNS
from aifunding.analysis.view import date_mask
from aifunding.loading import stored_tables
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import Package, load_package

from packages import generate, minimal_tables, write_package

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
CONVERTED_PROGRAMME_COLUMNS = PROGRAMME_COLUMNS + engine.FX_PROGRAMME_COLUMNS
PACKAGES = ("bundled", "generated", "awkward")
# At each announcement date, and at one fixed month and day (a Saturday: the Friday's rate is used).
CHOICES = (FxChoice("USD"), FxChoice("JPY", "2023-06"), FxChoice("EUR", "2024-04-20"))
# Announcement dates the awkward package gives its first awards with an amount: a Saturday, Easter Sunday
# (the last rate is the Thursday's), Christmas, a month, a year, before the ECB table, after it, none.
AWKWARD_DATES = ("2024-04-20", "2024-03-31", "2024-12-25", "2023-06", "2019", "1998-06-01", "2090-01-02", None)
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


def _awkward(package: Package) -> Package:
    """``package`` with the awards conversion finds hard, and two allocations of exactly N.xx5 yen."""
    awards = package.frame("awards").copy()
    awards["amount"] = awards["amount"].astype(object)
    with_amount = list(awards.index[awards["amount"].notna()])
    for row, when in zip(with_amount, AWKWARD_DATES, strict=False):
        awards.at[row, "announced"] = when
    rest = with_amount[len(AWKWARD_DATES) :]
    awards.at[rest[0], "currency"] = "XYZ"  # not quoted by the ECB
    awards.at[rest[1], "amount"] = Decimal("1234.5678")
    # Programmes in yen, with an amount and a date, that no programme sits under: converted to yen (rate 1)
    # their allocation is rounded to the cent, so an allocation of N.0050 or N.0250 is a tie.
    programmes = package.frame("programmes")
    parents = set(programmes["parent_id"].dropna())
    leaves = programmes[
        ~programmes["id"].isin(parents)
        & (programmes["currency"] == "JPY")
        & programmes["amount"].notna()
        & programmes["announced"].notna()
    ]["id"]
    tied = 0
    for pid in leaves:
        mine = awards.index[(awards["programme_id"] == pid) & awards["amount"].notna() & (awards["currency"] == "JPY")]
        if len(mine) and tied < 2:
            awards.loc[mine, "amount"] = [Decimal(int(v)) for v in awards.loc[mine, "amount"]]
            awards.at[mine[0], "amount"] += Decimal("0.0050") if tied == 0 else Decimal("0.0250")
            tied += 1
    assert tied == 2
    awkward = dataclasses.replace(package, frames={**package.frames, "awards": awards})
    awkward.__dict__.pop("tree", None)
    return awkward


@pytest.fixture(scope="module")
def packages(bundled: Package, generated: Package) -> dict[str, Package]:
    return {"bundled": bundled, "generated": generated, "awkward": _awkward(generated)}


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


def _pandas_recipients(package: Package, fx: FxChoice | None = None) -> list[tuple]:
    view = metrics.award_view(package)
    if fx is None:
        return _rows(metrics.totals_by_recipient(view), RECIPIENT_COLUMNS)
    converted = convert_frame(view, fx)
    return _rows(metrics.totals_by_recipient(converted, C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY), RECIPIENT_COLUMNS)


def _pandas_programmes(package: Package, fx: FxChoice | None = None) -> list[tuple]:
    if fx is None:
        frame = metrics.programme_totals(package.frame("programmes"), package.frame("awards"), package.tree)
        return _rows(frame, PROGRAMME_COLUMNS)
    frame = convert_programmes(metrics.programme_view(package), fx).rename(columns={"id": C.PROGRAMME_ID})
    return _rows(frame, CONVERTED_PROGRAMME_COLUMNS)


def _pandas_awards(package: Package, fx: FxChoice) -> list[tuple]:
    return _rows(convert_frame(metrics.award_view(package), fx), ["id", *engine.FX_COLUMNS])


def _pandas_market(package: Package, countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """The market shares as the view keeps them and the Market page orders them."""
    shares = metrics.market_share_view(package)
    if countries:
        shares = shares[shares["country_id"].isin(countries)]
    return shares.sort_values(["year", "market_id"], ascending=[False, True]).reset_index(drop=True)


def _in_order(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(map(_cell, row)) for row in frame.itertuples(index=False)]


def _queries(tables: engine.Tables) -> dict[str, pd.DataFrame]:
    """Every analysis the engine runs, by name: what both engines must return alike."""
    japan_since_2020 = engine.filter_awards(tables, ("JP", "FR"), date_from=datetime.date(2020, 1, 1))
    results = {
        "filtered ids": japan_since_2020.select("id").order_by("id").to_pandas(),
        "recipients": engine.recipient_totals(tables),
        "programmes": engine.programme_allocations(tables),
        "filtered recipients USD": engine.recipient_totals(tables, japan_since_2020, FxChoice("USD")),
        "market": engine.market_shares(tables),
        "market JP": engine.market_shares(tables, ("JP",)),
    }
    for fx in CHOICES:
        results[f"recipients {fx}"] = engine.recipient_totals(tables, fx=fx)
        results[f"programmes {fx}"] = engine.programme_allocations(tables, fx=fx)
        results[f"awards {fx}"] = (
            engine.convert_awards(tables, fx).select("id", *engine.FX_COLUMNS).order_by("id").to_pandas()
        )
    return results


def _check(package: Package, con: Any) -> dict[str, pd.DataFrame]:
    """Each engine query of ``package`` on ``con`` against the pandas path; returns what the engine gave."""
    tables = engine.Tables.load(con, package)
    results = _queries(tables)
    recipients = results["recipients"]
    assert list(recipients.columns) == RECIPIENT_COLUMNS
    assert _rows(recipients, RECIPIENT_COLUMNS) == _pandas_recipients(package)
    # Largest total first, ties by label: the same order on every engine.
    assert list(recipients[C.TOTAL]) == sorted(recipients[C.TOTAL], reverse=True)
    assert all(isinstance(total, Decimal) for total in recipients[C.TOTAL])
    programmes = results["programmes"]
    assert list(programmes.columns) == PROGRAMME_COLUMNS
    assert list(programmes[C.PROGRAMME_ID]) == sorted(programmes[C.PROGRAMME_ID])
    assert _rows(programmes, PROGRAMME_COLUMNS) == _pandas_programmes(package)
    for fx in CHOICES:
        converted = results[f"recipients {fx}"]
        assert set(converted[C.CURRENCY]) <= {fx.currency}
        assert _rows(converted, RECIPIENT_COLUMNS) == _pandas_recipients(package, fx)
        allocations = results[f"programmes {fx}"]
        assert list(allocations.columns) == CONVERTED_PROGRAMME_COLUMNS
        assert _rows(allocations, CONVERTED_PROGRAMME_COLUMNS) == _pandas_programmes(package, fx)
        assert _rows(results[f"awards {fx}"], ["id", *engine.FX_COLUMNS]) == _pandas_awards(package, fx)
    view = metrics.award_view(package)
    japan = view[view[C.COUNTRY_ID].isin(("JP", "FR"))]
    japan = japan[date_mask(japan["announced"], datetime.date(2020, 1, 1), None)]
    assert list(results["filtered ids"]["id"]) == sorted(japan["id"])
    expected = metrics.totals_by_recipient(
        convert_frame(japan, FxChoice("USD")), C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY
    )
    assert _rows(results["filtered recipients USD"], RECIPIENT_COLUMNS) == _rows(expected, RECIPIENT_COLUMNS)
    for key, countries in (("market", ()), ("market JP", ("JP",))):
        expected_market = _pandas_market(package, countries)
        assert list(results[key].columns) == list(expected_market.columns)
        assert _in_order(results[key]) == _in_order(expected_market)
    return results


# Ties both ways and either sign, values either side of a tie, more places than a product of amount and rate.
ROUNDING_CASES = (
    *("1234.5650", "1234.5750", "-1234.5650", "-1234.5750", "0.0050", "-0.0150", "2.0250"),
    *("0.0049", "-0.0051", "12.345678901234567800", "999999999999.995000000000000001", "0"),
)


def _check_rounding(con: Any) -> None:
    """The engine's cents, half to even, against ``Decimal.quantize``: round() would fail the ties."""
    values = [Decimal(v) for v in ROUNDING_CASES]
    table = pa.table({"x": pa.array(values, type=pa.decimal128(38, 18))})
    registered = engine.register(con, f"rounding_{uuid.uuid4().hex[:8]}", table)
    found = registered.select(x=registered.x, cents=engine.cents_half_even(registered.x)).to_pandas()
    expected = {v: v.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) for v in values}
    assert {Decimal(x): c for x, c in zip(found["x"], found["cents"], strict=True)} == expected
    assert expected[Decimal("1234.5650")] == Decimal("1234.56")  # not 1234.57, as round() gives


@pytest.mark.parametrize("name", PACKAGES)
def test_duckdb_matches_pandas(packages: dict[str, Package], name: str) -> None:
    _check(packages[name], engine.connect("duckdb"))


@pytest.mark.spark
def test_spark_matches_duckdb_and_pandas(packages: dict[str, Package], spark: Any) -> None:
    con, duck = engine.connect("spark"), engine.connect("duckdb")
    _check_rounding(con)
    for package in packages.values():
        on_spark = _check(package, con)
        on_duckdb = _queries(engine.Tables.load(duck, package))
        # Same rows in the same order, cell for cell, on both engines.
        assert on_spark.keys() == on_duckdb.keys()
        for name, frame in on_spark.items():
            assert list(frame.columns) == list(on_duckdb[name].columns), name
            assert _in_order(frame) == _in_order(on_duckdb[name]), name


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


def test_cents_are_rounded_half_to_even() -> None:
    _check_rounding(engine.connect("duckdb"))


def test_the_awkward_package_has_the_hard_cases(packages: dict[str, Package]) -> None:
    """What the comparisons above rely on to mean something: each hard case is there and handled."""
    tables = engine.Tables.load(engine.connect(), packages["awkward"])
    awards = engine.convert_awards(tables, FxChoice("USD")).to_pandas().set_index("id")
    by_date = awards[awards["amount"].notna()].drop_duplicates("announced").set_index("announced", drop=False)
    assert by_date.at["2024-04-20", C.FX_RATE_DATE] == "2024-04-19"  # Saturday: Friday's rate
    assert by_date.at["2024-03-31", C.FX_RATE_DATE] == "2024-03-28"  # Easter: Thursday's rate
    assert by_date.at["2024-12-25", C.FX_RATE_DATE] == "2024-12-24"
    assert by_date.at["2023-06", C.FX_METHOD] == "month_average"
    assert by_date.at["2019", C.FX_METHOD] == "year_average"
    notes = " | ".join(n for n in awards[C.FX_NOTE] if isinstance(n, str))
    for reason in ("covers 1999-01-04", "'XYZ' is not in the ECB", "no announcement date", "no published amount"):
        assert reason in notes
    # Two allocations of exactly half a cent, converted to yen at rate 1: to the even cent, as quantize does.
    programmes = engine.programme_allocations(tables, fx=FxChoice("JPY", "2023-06"))
    allocated = programmes[programmes[C.ALLOCATED_CONVERTED].notna()]
    ties = allocated[[a % Decimal("0.01") == Decimal("0.005") for a in allocated[C.ALLOCATED]]]
    assert len(ties) >= 2
    for value, cents in zip(ties[C.ALLOCATED], ties[C.ALLOCATED_CONVERTED], strict=True):
        assert cents == value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert {str(a)[-5:] for a in ties[C.ALLOCATED]} >= {".0050", ".0250"}


@pytest.mark.spark
def test_the_query_command_gives_the_same_files_on_spark(spark: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``aifunding query --engine spark`` writes what DuckDB's run writes, byte for byte."""
    from aifunding.cli import main

    for argv in (
        ["recipients", "--country", "JP", "--currency", "USD"],
        ["programmes", "--currency", "EUR", "--format", "json"],
        ["markets"],
    ):
        written = {}
        for name in ("spark", "duckdb"):
            assert main(["query", *argv, "--engine", name]) == 0
            written[name] = capsys.readouterr().out.replace(f'"engine": "{name}"', '"engine": "..."')
        assert written["spark"] == written["duckdb"], argv
        assert written["spark"].count("\n") > 3


def _column_cell_by_cell(values: pd.Series, kind: Any) -> pa.Array:
    """The first way a frame column became Arrow: a Python step per cell."""
    cells = [None if v is None or (not isinstance(v, (str, Decimal)) and pd.isna(v)) else v for v in values]
    if kind is Decimal:
        return pa.array(cells, type=AMOUNT_TYPE)
    if kind is int:
        return pa.array(cells, type=pa.int64())
    if kind is bool:
        return pa.array(cells, type=pa.bool_())
    return pa.array([None if v is None else str(v) for v in cells], type=pa.string())


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["text", "object text", "decimal", "int", "bool"]),
    st.lists(st.booleans(), max_size=12),
    st.data(),
)
def test_a_frame_column_becomes_the_arrow_column_it_became_cell_by_cell(
    kind: str, gaps: list[bool], data: st.DataObject
) -> None:
    from aifunding.analysis.engine_tables import _column
    from aifunding.data.frames import TEXT

    missing = st.sampled_from([None, float("nan"), pd.NA])
    cell = {
        "text": st.text(max_size=4),
        "object text": st.one_of(st.text(max_size=4), st.integers(0, 9)),
        "decimal": st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False),
        "int": st.integers(-(10**12), 10**12),
        "bool": st.booleans(),
    }[kind]
    cells = [data.draw(missing) if gap else data.draw(cell) for gap in gaps]
    values = {
        "text": lambda: pd.Series([None if c is not None and not isinstance(c, str) else c for c in cells], dtype=TEXT),
        "object text": lambda: pd.Series(cells, dtype=object),
        "decimal": lambda: pd.Series(cells, dtype=object),
        "int": lambda: pd.Series([None if not isinstance(c, int) else c for c in cells], dtype="Int64"),
        "bool": lambda: pd.Series([None if not isinstance(c, bool) else c for c in cells], dtype="boolean"),
    }[kind]()
    python_kind = {"decimal": Decimal, "int": int, "bool": bool}.get(kind, str)
    got = _column(values, python_kind)
    got = got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got
    assert got.equals(_column_cell_by_cell(values, python_kind))


def test_a_package_from_the_cache_gives_the_engine_its_tables_without_making_frames(
    tmp_path: Path, generated: Package, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back from the cache, the engine's tables are the fresh package's, cast from the stored columns."""
    tables = minimal_tables()
    first = tables["awards"][0]
    # Amounts as people write them: trailing zeros past four places, leading zeros, none at all (an exponent is
    # refused: amounts are plain digits).
    written = {"award-b": "2.50", "award-c": "1.000000", "award-d": "0001500", "award-e": ""}
    for award, amount in written.items():
        tables["awards"].append({**first, "id": award, "amount": amount, **({} if amount else {"basis": ""})})
        tables["award_recipients"].append({**tables["award_recipients"][0], "award_id": award})
        tables["citations"].append({"source_id": tables["citations"][0]["source_id"], "award_id": award})
    small = write_package(tmp_path / "small", tables)
    assert load_package(small).report.valid
    made: list[str] = []
    read = stored_tables._read_frame
    monkeypatch.setattr(
        stored_tables, "_read_frame", lambda table, source: made.append(table.name) or read(table, source)
    )
    for folder in (small, generated.path):
        cache = PackageCache(tmp_path / "cache")
        fresh = load_package(folder, cache=cache)
        made.clear()
        cached = load_package(folder, cache=cache)
        assert isinstance(cached.frames, stored_tables.StoredFrames)
        for columns in (None, VIEW_COLUMNS):
            expected, found = engine.package_tables(fresh, columns), engine.package_tables(cached, columns)
            assert made == []  # no frame was made for the engine
            assert list(found) == list(expected)
            for name, table in expected.items():
                assert found[name].schema == table.schema, name
                assert found[name].equals(table), name
    stored = PackageCache(tmp_path / "cache")
    awards = load_package(small, cache=stored).frames.arrow("awards", ["id", "amount"]).to_pylist()
    assert {row["id"]: row["amount"] for row in awards if row["id"] in written} == {
        "award-b": "2.50",
        "award-c": "1.000000",
        "award-d": "1500",  # as the Decimal writes itself (its leading zeros dropped)
        "award-e": None,
    }
    engine_awards = engine.package_tables(load_package(small, cache=stored))["awards"]
    amounts = dict(zip(engine_awards["id"].to_pylist(), engine_awards["amount"].to_pylist(), strict=True))
    assert [amounts[award] for award in written] == [Decimal("2.5"), Decimal(1), Decimal(1500), None]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.decimals(min_value=-(10**14), max_value=10**14, places=4, allow_nan=False, allow_infinity=False),
        ),
        max_size=20,
    ),
    st.sampled_from(["{}", "{:e}", "{:E}", "{:f}"]),
)
def test_stored_amount_text_casts_to_the_decimals_of_the_frame(values: list[Decimal | None], layout: str) -> None:
    """An amount's text, in any notation the cache could hold, is the engine's decimal as its Decimal gives it."""
    texts = [None if v is None else layout.format(v) for v in values]
    stored = pa.table({"amount": pa.array(texts, pa.large_string())})
    decimals = pd.Series([None if t is None else Decimal(t) for t in texts], dtype=object)
    frame = pd.DataFrame({"amount": decimals})
    assert engine.stored_table("awards", stored).equals(engine.arrow_table("awards", frame))


def test_a_stored_table_names_a_column_it_lacks(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path / "cache")
    folder = write_package(tmp_path / "pkg")
    load_package(folder, cache=cache)
    frames = load_package(folder, cache=cache).frames
    assert frames.arrow("awards", ["id", "amount"]).column_names == ["id", "amount"]
    assert frames.arrow("awards", ["amount", "id"]).column_names == ["amount", "id"]  # in the order asked
    with pytest.raises(KeyError, match="awards has no column 'value'"):
        frames.arrow("awards", ["id", "value"])
    with pytest.raises(KeyError):
        frames.arrow("grants")


_SPARK_FOLDERS = """
import glob, os, sys
from aifunding.analysis.engine_tables import spark_session, stop_spark
made = lambda: glob.glob(os.path.join(sys.argv[1], "aifunding-spark-*"))
spark_session()
assert len(made()) == 1, made()
stop_spark()
assert made() == [], made()
spark_session()  # left running: the process removes its folder as it exits
assert len(made()) == 1, made()
"""


@pytest.mark.spark
def test_spark_leaves_no_warehouse_folder_behind(spark: Any, tmp_path: Path) -> None:
    """Each Spark session gets a warehouse folder of its own; it was left in the temp folder by every run."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _SPARK_FOLDERS, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(tmp_path.glob("aifunding-spark-*")) == []
