"""The dashboard's engine queries: a view's awards and each recipient's totals by basis, against the pandas view.

Every filter of the view (countries, programmes with what is inside them, kinds, recipients, dates), money
choices and both languages, on the bundled package and a generated one (2,000 awards): the engine keeps
the awards :func:`~aifunding.analysis.view.apply_view` keeps, and adds up each recipient's as
``split_by_basis`` does, row by row. On Spark (marked ``spark``) the same rows come back in the same order.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aifunding import columns as C
from aifunding.analysis import engine, metrics
from aifunding.analysis.engine_view import (
    RECIPIENT_COLUMNS,
    RecipientTotals,
    ViewEngine,
    recipient_totals_by_basis,
    recipient_totals_page,
    view_awards,
)
from aifunding.analysis.totals import KINDS, basis_parts
from aifunding.analysis.view import Prepared, ViewState, apply_view, prepare
from aifunding.figures.worded import Worded
from aifunding.loading.package import Package, load_package

from packages import generate, minimal_tables, write_package
from recipient_reference import recipient_groups

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Package:
    out = tmp_path_factory.mktemp("engine-view") / "package"
    generate(2000, out, seed=5)
    package = load_package(out)
    assert package.report.valid
    return package


def _states(prepared: Prepared) -> list[ViewState]:
    """Views of every filter, alone and together, picked from what the package holds."""
    awards, programmes = prepared.awards, prepared.programmes
    roots = programmes.loc[programmes["parent_id"].isna(), "id"].tolist()
    # A programme with others inside it, and a round: a filter keeps what is inside a programme.
    parents = set(programmes["parent_id"].dropna())
    parent = next(pid for pid in roots if pid in parents)
    child = programmes.loc[programmes["parent_id"] == parent, "id"].iloc[0]
    joint = awards.loc[awards[C.RECIPIENT_IDS].map(len) > 1, C.RECIPIENT_IDS].iloc[0]
    kinds = awards[C.KIND].dropna().unique().tolist()[:2]
    countries = awards[C.COUNTRY_ID].value_counts().index[:2].tolist()
    return [
        ViewState(),
        ViewState(lang="ja"),
        ViewState(countries=(countries[0],)),
        ViewState(countries=tuple(countries), currency="USD"),
        ViewState(programmes=(parent,)),
        ViewState(programmes=(child,), lang="ja"),
        ViewState(kinds=tuple(kinds)),
        ViewState(organisations=(joint[-1],)),  # a member of a joint project, not its lead
        ViewState(organisations=tuple(joint), currency="EUR", fx_at="2024-04-20"),
        ViewState(date_from=datetime.date(2023, 6, 1), date_to=datetime.date(2024, 12, 31)),
        ViewState(countries=(countries[0],), kinds=(kinds[0],), date_from=datetime.date(2024, 1, 1), currency="JPY"),
        ViewState(countries=("nowhere",)),
        ViewState(countries=(countries[0],), currency="ISK", fx_at="1990"),  # before the ECB table: no rate at all
    ]


def _expected(prepared: Prepared, state: ViewState) -> list[tuple]:
    return [tuple(group) for group in recipient_groups(prepared, state)]


def _found(frame: pd.DataFrame) -> list[tuple]:
    return [
        (row[C.PROJECT_LABEL], row[C.CURRENCY], basis_parts(row), row[C.N_AWARDS], row[C.N_AWARDS_UNPUBLISHED])
        for _, row in frame.iterrows()
    ]


def _normal(rows: list[tuple]) -> list[tuple]:
    """Decimals compared by value (1.0000 == 1)."""
    return [(*row[:2], {kind: value.normalize() for kind, value in row[2].items()}, *row[3:]) for row in rows]


@pytest.mark.parametrize("name", ["bundled", "generated"])
def test_the_engine_keeps_and_adds_up_what_the_view_does(bundled: Package, generated: Package, name: str) -> None:
    package = bundled if name == "bundled" else generated
    prepared = prepare(package)
    views = ViewEngine(package)
    tables = engine.Tables.load(engine.connect("duckdb"), package)
    for state in _states(prepared):
        kept = view_awards(tables, state).select("id").to_pandas()["id"]
        assert sorted(kept) == sorted(apply_view(prepared, state).awards["id"]), state
        found = views.recipients(state)
        assert list(found.columns) == list(RECIPIENT_COLUMNS)
        assert _normal(_found(found)) == _normal(_expected(prepared, state)), state
        assert all(isinstance(v, Decimal) for kind in KINDS for v in found[kind] if v is not None)


@pytest.mark.parametrize("name", ["bundled", "generated"])
def test_a_page_of_totals_is_those_rows_of_the_whole_and_says_how_many_there_are(
    bundled: Package, generated: Package, name: str
) -> None:
    package = bundled if name == "bundled" else generated
    views = ViewEngine(package)
    for state in _states(prepare(package)):
        whole = views.recipients(state)
        for first, count in [(0, 7), (7, 7), (0, len(whole) + 5), (len(whole) - 3, 10), (len(whole) + 4, 3)]:
            if first < 0:
                continue
            page, rows = views.recipients_page(state, first, count)
            assert rows == len(whole), state
            assert list(page.columns) == list(RECIPIENT_COLUMNS)
            expected = whole.iloc[first : first + count].reset_index(drop=True)
            assert _normal(_found(page)) == _normal(_found(expected)), (state, first, count)


def test_recipient_totals_read_a_page_at_a_time_as_the_whole(generated: Package) -> None:
    """What the Data page keeps: its first page and the count, another page asked for, the whole for a download."""
    views = ViewEngine(generated)
    state = ViewState(currency="USD")
    whole = views.recipients(state)
    assert len(whole) > 300
    totals = RecipientTotals(views, state, 100)
    assert len(totals) == len(whole)
    for first, count in [(0, 100), (0, 40), (100, 100), (len(whole) - 10, 100)]:
        part = totals.part(first, count)
        assert list(part.index) == list(range(first, min(first + count, len(whole))))
        assert _normal(_found(part)) == _normal(_found(whole.iloc[first : first + count]))
    assert _normal(_found(totals.whole())) == _normal(_found(whole))
    keep = (whole[C.N_AWARDS] > 1).to_numpy()
    assert _normal(_found(totals.where(keep))) == _normal(_found(whole[keep]))
    worded = Worded(totals, lambda rows: rows.assign(shown=True))
    assert len(worded) == len(whole) and len(worded.shown(100, 100)) == 100 and len(worded.whole()) == len(whole)
    # A page shown again (a rerun, another session) is kept, not asked for again; the first never is.
    asked: list[tuple[int, int]] = []
    real = views.recipients_page

    def counted(state: ViewState, first: int, count: int) -> tuple[pd.DataFrame, int]:
        asked.append((first, count))
        return real(state, first, count)

    views.recipients_page = counted  # type: ignore[method-assign]
    for first in (0, 200, 200, 0, 200):
        assert _normal(_found(totals.part(first, 100))) == _normal(_found(whole.iloc[first : first + 100]))
    assert asked == [(200, 100)]
    # No row asked for still says how many there are.
    assert real(state, 0, 0)[1] == real(state, 5, 0)[1] == len(whole)


def test_a_japanese_view_names_recipients_in_japanese(bundled: Package) -> None:
    views = ViewEngine(bundled)
    english = views.recipients(ViewState())[C.PROJECT_LABEL].tolist()
    japanese = views.recipients(ViewState(lang="ja"))[C.PROJECT_LABEL].tolist()
    assert any("（共同）" in label for label in japanese) and not any("（共同）" in label for label in english)
    assert any("(joint)" in label for label in english)


def test_ceilings_are_never_added_to_money_granted(bundled: Package) -> None:
    """Sakura Internet holds a grant and ceilings: two sums, never one."""
    found = ViewEngine(bundled).recipients(ViewState())
    parts = [basis_parts(row) for _, row in found.iterrows()]
    assert any(len(p) > 1 and "exact" in p and any(k.startswith("up_to") for k in p) for p in parts)


def test_a_recipients_awards_without_an_amount_count_in_its_one_currencys_row(tmp_path: Path) -> None:
    """An award with no published amount names no currency: it joins the row of its recipient's one currency
    (the University of Tokyo's ¥4.2B row said 1 award, its unpublished one a row of its own); a recipient
    in two currencies keeps it apart, as there is no saying which it belongs to."""
    tables = minimal_tables()
    unpublished = {"programme_id": "round-1", "purpose_en": "Not yet priced", "announced": "2024-04-19"}
    tables["awards"] += [
        {**unpublished, "id": "award-a2"},
        {**unpublished, "id": "award-c2"},
        {**tables["awards"][0], "id": "award-c-usd", "amount": "5000000", "currency": "USD", "basis": "exact"},
        {**tables["awards"][0], "id": "award-c-jpy", "amount": "7000000", "currency": "JPY", "basis": "exact"},
    ]
    tables["award_recipients"] += [
        {"award_id": award, "organisation_id": org, "role": "sole"}
        for award, org in [
            ("award-a2", "org-a"),
            ("award-c2", "org-c"),
            ("award-c-usd", "org-c"),
            ("award-c-jpy", "org-c"),
        ]
    ]
    tables["citations"] += [
        {"source_id": "src-a", "award_id": a} for a in ("award-a2", "award-c2", "award-c-usd", "award-c-jpy")
    ]
    package = load_package(write_package(tmp_path / "pkg", tables))
    found = ViewEngine(package).recipients(ViewState())
    rows = {
        (r[C.PROJECT_LABEL], r[C.CURRENCY]): (r[C.N_AWARDS], r[C.N_AWARDS_UNPUBLISHED]) for _, r in found.iterrows()
    }
    assert rows == {
        ("Alpha Cloud", "JPY"): (2, 1),
        ("Beta Labs + Gamma AI (joint)", "JPY"): (1, 0),
        ("Gamma AI", "JPY"): (1, 0),
        ("Gamma AI", "USD"): (1, 0),
        ("Gamma AI", None): (1, 1),
    }
    assert _normal(_found(found)) == _normal(_expected(prepare(package), ViewState()))
    alpha = found[found[C.PROJECT_LABEL] == "Alpha Cloud"].iloc[0]
    assert basis_parts(alpha) == {"up_to_about": Decimal("6000000000")}
    # The engine's plain totals and the pandas path's say the same.
    expected = [
        ("Alpha Cloud", "JPY", 2),
        ("Beta Labs + Gamma AI (joint)", "JPY", 1),
        ("Gamma AI", "", 1),
        ("Gamma AI", "JPY", 1),
        ("Gamma AI", "USD", 1),
    ]
    plain = engine.recipient_totals(engine.Tables.load(engine.connect(), package))
    by_pandas = metrics.totals_by_recipient(prepare(package).awards)
    for totals in (plain, by_pandas):
        named = totals[C.CURRENCY].astype(object).where(totals[C.CURRENCY].notna(), "")
        assert sorted(zip(totals[C.PROJECT_LABEL], named, totals[C.N_AWARDS], strict=True)) == expected


@pytest.mark.spark
def test_spark_gives_the_same_rows_in_the_same_order(
    generated: Package, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = prepare(generated)
    on_duckdb = ViewEngine(generated)
    monkeypatch.setenv(engine.ENGINE_VARIABLE, "spark")
    on_spark = ViewEngine(generated)  # the engine AIFUNDING_ENGINE names, its labels kept in Spark's cache
    for state in _states(prepared):
        assert _normal(_found(on_spark.recipients(state))) == _normal(_found(on_duckdb.recipients(state))), state
    for state in _states(prepared)[:4]:  # and the same pages, counted the same
        for first, count in [(0, 50), (50, 50), (10_000, 5)]:
            spark_page, spark_rows = on_spark.recipients_page(state, first, count)
            duckdb_page, duckdb_rows = on_duckdb.recipients_page(state, first, count)
            assert spark_rows == duckdb_rows and _normal(_found(spark_page)) == _normal(_found(duckdb_page)), state
    # And the query itself, with the labels made in it.
    tables = engine.Tables.load(engine.connect("spark"), generated)
    state = ViewState(countries=("JP",), lang="ja")
    direct = recipient_totals_by_basis(tables, view_awards(tables, state), state.fx, state.lang)
    assert _normal(_found(direct)) == _normal(_expected(prepared, state))
    page, rows = recipient_totals_page(tables, view_awards(tables, state), 3, 5, state.fx, state.lang)
    assert rows == len(direct) and _normal(_found(page)) == _normal(_expected(prepared, state)[3:8])


def test_a_restart_attaches_the_engine_tables_kept_with_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """At a million awards loading the tables and joining the labels took 2.8 s of each restart's first table;
    the kept file is attached in a tenth of a second. The same rows come back, in every language and money.
    The cache's folder has a quote in its name (a path is written into the engine's SQL)."""
    from aifunding.analysis import engine_tables, engine_view
    from aifunding.loading.cache import PackageCache

    tmp_path = tmp_path / "o'brien"
    folder = tmp_path / "package"
    generate(600, folder, seed=9)
    cache = PackageCache(tmp_path / "cache")
    package = load_package(folder, cache=cache)
    assert package.cache_key is not None
    prepared = prepare(package)
    states = _states(prepared)
    first = ViewEngine(package, cache)
    written = [first.recipients(state) for state in states]  # the first use writes the file, then attaches it
    (kept,) = cache.entry(package.cache_key).glob(f"engine-*{engine_view.ENGINE_SUFFIX}")

    loaded: list[str] = []
    for module in (engine_view, engine_tables):  # written, or loaded in memory: either reads the package's tables
        real = module.package_tables
        monkeypatch.setattr(
            module, "package_tables", lambda *a, real=real, **k: loaded.append("tables") or real(*a, **k)
        )
    again = ViewEngine(load_package(folder, cache=cache), cache)
    for state, before in zip(states, written, strict=True):
        with caplog.at_level("WARNING", logger="aifunding.analysis.engine_view"):
            found = again.recipients(state)
        pd.testing.assert_frame_equal(found, before)
        assert _normal(_found(found)) == _normal(_expected(prepared, state)), state
    page, rows = again.recipients_page(ViewState(lang="ja"), 3, 5)
    pd.testing.assert_frame_equal(page, written[1].iloc[3:8].reset_index(drop=True))
    assert rows == len(written[1])
    assert loaded == [] and not caplog.text  # attached, not loaded: the Japanese labels joined from its tables
    assert list(cache.entry(package.cache_key).glob(f"engine-*{engine_view.ENGINE_SUFFIX}")) == [kept]


def test_a_kept_engine_file_that_cannot_be_read_means_loading_the_tables(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aifunding.analysis import engine_view
    from aifunding.loading.cache import PackageCache

    folder = tmp_path / "package"
    generate(200, folder, seed=4)
    cache = PackageCache(tmp_path / "cache")
    package = load_package(folder, cache=cache)
    expected = ViewEngine(package).recipients(ViewState())
    ViewEngine(package, cache).recipients(ViewState())
    (kept,) = cache.entry(package.cache_key).glob(f"engine-*{engine_view.ENGINE_SUFFIX}")
    kept.write_bytes(b"not a database" * 100)
    with caplog.at_level("WARNING", logger="aifunding.analysis.engine_view"):
        found = ViewEngine(package, cache).recipients(ViewState())
    pd.testing.assert_frame_equal(found, expected)
    assert "could not be read" in caplog.text and kept.name in caplog.text
    assert not kept.exists()  # the next process to use the engine writes it again
    pd.testing.assert_frame_equal(ViewEngine(package, cache).recipients(ViewState()), expected)
    assert kept.is_file() and kept.read_bytes()[:14] != b"not a database"


def test_engine_tables_that_cannot_be_kept_are_loaded_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import duckdb

    from aifunding.analysis import engine_view
    from aifunding.loading.cache import PackageCache

    folder = tmp_path / "package"
    generate(200, folder, seed=4)
    cache = PackageCache(tmp_path / "cache")
    package = load_package(folder, cache=cache)
    expected = ViewEngine(package).recipients(ViewState(countries=("JP",)))

    def full_disk(self: ViewEngine, path: Path, lang: str) -> None:
        path.write_bytes(b"half a database")
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(engine_view.ViewEngine, "_write", full_disk)
    with caplog.at_level("WARNING", logger="aifunding.analysis.engine_view"):
        found = ViewEngine(package, cache).recipients(ViewState(countries=("JP",)))
    pd.testing.assert_frame_equal(found, expected)
    assert "could not be kept" in caplog.text
    assert not [p for p in cache.entry(package.cache_key).iterdir() if p.name.startswith((".", "engine"))]
