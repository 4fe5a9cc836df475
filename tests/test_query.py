"""``aifunding query``: the engine's totals from the command line, the same as the dashboard's pandas path."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pandas as pd
import pytest
from test_cli import run

from aifunding import BUNDLED_DATA
from aifunding import columns as C
from aifunding.analysis import metrics
from aifunding.analysis.view import ViewState, apply_view, prepare
from aifunding.loading.package import load_package

from packages import minimal_tables, write_package

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def prepared() -> object:
    return prepare(load_package(BUNDLED_DATA))


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _expected_recipients(view: object, converted: bool) -> list[tuple[str, str, Decimal, int, int]]:
    awards = view.awards  # type: ignore[attr-defined]
    columns = (C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY) if converted else ("amount", "currency")
    totals = metrics.totals_by_recipient(awards, *columns)
    rows = []
    for row in totals.itertuples(index=False):
        total = getattr(row, C.TOTAL)
        total = total.quantize(CENT, ROUND_HALF_EVEN) if converted else total
        # None of its awards has an amount (converted: a rate): no total, where the file said 0.
        total = None if row.n_awards == row.n_awards_unpublished else total
        currency = getattr(row, C.CURRENCY)
        currency = "" if pd.isna(currency) else currency  # awards without an amount have none: an empty cell
        rows.append((getattr(row, C.PROJECT_LABEL), currency, total, row.n_awards, row.n_awards_unpublished))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _said_recipients(text: str) -> list[tuple[str, str, Decimal, int, int]]:
    rows = [
        (
            *(r[C.PROJECT_LABEL], r[C.CURRENCY], Decimal(r[C.TOTAL]) if r[C.TOTAL] else None),
            *(int(r[C.N_AWARDS]), int(r[C.N_AWARDS_UNPUBLISHED])),
        )
        for r in _csv_rows(text)
    ]
    return sorted(rows, key=lambda r: (r[0], r[1]))


@pytest.mark.parametrize(
    ("argv", "state"),
    [
        ([], ViewState()),
        (["--country", "jp", "--currency", "USD"], ViewState(countries=("JP",), currency="USD")),
        (
            ["--country", "US", "--country", "JP", "--from", "2024-01-01", "--to", "2024-12-31"],
            ViewState(countries=("US", "JP"), date_from=datetime.date(2024, 1, 1), date_to=datetime.date(2024, 12, 31)),
        ),
        (["--kind", "compute_subsidy", "--currency", "EUR"], ViewState(kinds=("compute_subsidy",), currency="EUR")),
    ],
    ids=["all", "japan-in-dollars", "us-japan-2024", "compute-in-euros"],
)
def test_recipient_totals_are_the_views_totals(
    prepared: object, argv: list[str], state: ViewState, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per recipient and currency: the total, awards and awards without an amount of the awards the view keeps."""
    code, out, err = run(["query", "recipients", *argv], capsys)
    assert code == 0, err
    said = _said_recipients(out)
    assert said == _expected_recipients(apply_view(prepared, state), converted=state.currency is not None)  # type: ignore[arg-type]
    assert said  # every case keeps some awards
    # Largest first, as the engine orders them; a converted total is written to the cent.
    totals = [Decimal(r[C.TOTAL]) for r in _csv_rows(out) if r[C.TOTAL]]
    assert totals == sorted(totals, reverse=True)
    assert all(r[C.TOTAL] != "0" or r[C.N_AWARDS] != r[C.N_AWARDS_UNPUBLISHED] for r in _csv_rows(out))
    if state.currency:
        assert all(len(r[C.TOTAL].split(".")[1]) == 2 for r in _csv_rows(out) if "." in r[C.TOTAL])


def test_programme_allocations_name_each_programme_and_keep_the_countries_asked(
    prepared: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "programmes.json"
    code, said, err = run(["query", "programmes", "--country", "JP", "--format", "json", "-o", str(out)], capsys)
    assert code == 0, err and said == f"wrote {out}\n"
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["about"]["query"] == "programmes" and document["about"]["engine"] == "duckdb"
    assert document["about"]["filters"] == "countries JP"
    rows = document["programmes"]
    package = load_package(BUNDLED_DATA)
    programmes = package.frame("programmes")
    japanese = programmes[programmes["country_id"] == "JP"]
    assert [r["programme_id"] for r in rows] == sorted(japanese["id"])
    expected = metrics.programme_totals(programmes, package.frame("awards"), package.tree).set_index(C.PROGRAMME_ID)
    for row in rows:
        assert row["country_id"] == "JP"
        assert row["name_en"] == japanese.set_index("id").at[row["programme_id"], "name_en"]
        allocated = expected.at[row["programme_id"], C.ALLOCATED]
        assert (Decimal(row["allocated"]) if row["allocated"] is not None else None) == (
            None if pd.isna(allocated) else allocated
        )
        assert row["n_awards"] == expected.at[row["programme_id"], C.N_AWARDS]
    cloud = next(r for r in rows if r["programme_id"] == "jp-cloud-2024-04")
    assert cloud["amount"] == "72500000000" and cloud["basis"] == "up_to"  # as published, no trailing zeros


def test_market_shares_keep_the_countries_asked(prepared: object, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["query", "markets", "--country", "JP"], capsys)
    assert code == 0, err
    rows = _csv_rows(out)
    expected = metrics.market_share_view(load_package(BUNDLED_DATA))
    expected = expected[expected["country_id"] == "JP"]
    assert sorted(r["id"] for r in rows) == sorted(expected["id"])
    domestic = next(r for r in rows if r["id"] == "share-meti-2024-domestic")
    assert domestic["source_ids"] == "src-impress-watch-2024-04-19"  # ids as "a; b" text
    # Shares and ranks as the export and this query's JSON write them: "30" and 2 (the CSV said 30.0000 and 2.0).
    assert (domestic["share_low"], domestic["share_high"], domestic["rank"]) == ("30", "30", "")
    ranks = [r["rank"] for r in rows if r["rank"]]
    assert ranks and all(rank.isdigit() for rank in ranks)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["markets", "--currency", "USD"], "--kind and --currency do not apply"),
        (["programmes", "--from", "2024-01-01"], "they apply to recipients, not programmes"),
        (["recipients", "--from", "2024-13-01"], "--from 2024-13-01: not a date (YYYY-MM-DD)"),
        (["recipients", "--currency", "XXX"], "currency 'XXX' is not in the ECB reference rates"),
        (["recipients", "--engine", "oracle"], "invalid choice: 'oracle'"),
        # A typo gave a file of no rows and exit 0, which read as no awards.
        (["recipients", "--country", "XX"], "--country XX: not a country of the package (it has CA, EU, FR"),
        (["programmes", "--kind", "grants"], "--kind grants: not a kind of support (one of model_development"),
        (["markets", "--country", "ZZ"], "--country ZZ: not a country of the package"),
    ],
)
def test_a_query_it_cannot_answer_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["query", *argv], capsys)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_an_unknown_engine_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIFUNDING_ENGINE", "oracle")
    code, _, err = run(["query", "recipients"], capsys)
    assert code == 2 and "unknown analytical engine 'oracle'" in err


def test_a_recipient_named_like_a_formula_is_plain_text_in_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = minimal_tables()
    organisation = tables["award_recipients"][0]["organisation_id"]
    for row in tables["organisations"]:
        if row["id"] == organisation:
            row["name_en"] = '=HYPERLINK("http://x")'
    folder = write_package(tmp_path / "pkg", tables)
    code, out, err = run(["query", "recipients", "--data", str(folder)], capsys)
    assert code == 0, err
    labels = [r[C.PROJECT_LABEL] for r in _csv_rows(out)]
    assert any(label.startswith("'=HYPERLINK") for label in labels)
    assert not any(label.startswith("=") for label in labels)


def test_an_invalid_package_is_refused_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = minimal_tables()
    tables["awards"][0]["currency"] = "yen"
    folder = write_package(tmp_path / "pkg", tables)
    code, out, err = run(["query", "recipients", "--data", str(folder)], capsys)
    assert code == 1 and out == "" and "--allow-invalid" in err
    code, out, err = run(["query", "recipients", "--data", str(folder), "--allow-invalid"], capsys)
    assert code == 0 and "writing the valid rows only" in err and out.startswith("project_label,")
