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
from aifunding.analysis.totals import CLASS_ORDER, split_by_basis
from aifunding.analysis.view import ViewState, apply_view, prepare
from aifunding.loading.package import load_package
from aifunding.outputs.export import export_tables

from packages import minimal_tables, write_package
from recipient_reference import recipient_currencies

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def prepared() -> object:
    return prepare(load_package(BUNDLED_DATA))


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _expected_recipients(view: object, converted: bool) -> list[tuple]:
    """Per recipient and currency, the awards' sums kept apart by kind of basis, as the dashboard adds them up."""
    awards = view.awards  # type: ignore[attr-defined]
    value, currency_column = (C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY) if converted else ("amount", "currency")
    rows = []
    currencies = pd.Series(recipient_currencies(awards[C.PROJECT_LABEL], awards[currency_column]), index=awards.index)
    keys = awards[C.PROJECT_LABEL].astype(str) + "\0" + currencies.fillna("").astype(str)
    for key, group in awards.groupby(keys, sort=False):
        label, currency = str(key).split("\0")
        parts = split_by_basis(zip(group[value], group["basis"], strict=True))
        parts = {kind: v.quantize(CENT, ROUND_HALF_EVEN) if converted else v for kind, v in parts.items()}
        total = next(iter(parts.values())) if len(parts) == 1 else None
        basis = next(iter(parts)) if len(parts) == 1 else ("mixed" if parts else None)
        unpublished = int(group[value].isna().sum())
        rows.append((label, currency, total, basis, *(parts.get(k) for k in CLASS_ORDER), len(group), unpublished))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _said_recipients(text: str) -> list[tuple]:
    def amount(cell: str) -> Decimal | None:
        return Decimal(cell) if cell else None

    rows = [
        (
            *(r[C.PROJECT_LABEL], r[C.CURRENCY], amount(r[C.TOTAL]), r["total_basis"] or None),
            *(amount(r[f"total_{kind}"]) for kind in CLASS_ORDER),
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
    # Each currency's recipients together, largest first (all their sums added, as the Companies chart ranks);
    # a converted sum is written to the cent.
    rows = _csv_rows(out)
    currencies = [r[C.CURRENCY] for r in rows]
    assert currencies == sorted(currencies, key=lambda c: (c == "", c))
    for currency in set(currencies):
        ranked = [sum(Decimal(r[f"total_{k}"] or 0) for k in CLASS_ORDER) for r in rows if r[C.CURRENCY] == currency]
        assert ranked == sorted(ranked, reverse=True)
    assert all(r[C.TOTAL] != "0" or r[C.N_AWARDS] != r[C.N_AWARDS_UNPUBLISHED] for r in rows)
    if state.currency:
        cells = [r[f"total_{k}"] for r in rows for k in CLASS_ORDER] + [r[C.TOTAL] for r in rows]
        assert all(len(cell.split(".")[1]) == 2 for cell in cells if "." in cell)


def test_a_recipient_s_grant_and_ceilings_are_never_one_total(capsys: pytest.CaptureFixture[str]) -> None:
    """Sakura Internet's ¥600M grant and its up-to-about ceilings: "¥600M + up to about ¥56.9B" on the dashboard.
    The query added them into 57500000000, a number no source gives."""
    code, out, err = run(["query", "recipients", "--country", "JP"], capsys)
    assert code == 0, err
    sakura = next(r for r in _csv_rows(out) if r[C.PROJECT_LABEL] == "Sakura Internet")
    assert (sakura[C.TOTAL], sakura["total_basis"]) == ("", "mixed")
    assert (sakura["total_exact"], sakura["total_up_to_about"], sakura["total_up_to"]) == (
        "600000000",
        "56900000000",
        "",
    )
    softbank = next(r for r in _csv_rows(out) if r[C.PROJECT_LABEL] == "SoftBank Corp.")
    assert (softbank[C.TOTAL], softbank["total_basis"], softbank["total_up_to_about"]) == (
        "47400000000",
        "up_to_about",
        "47400000000",
    )


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
    exported = export_tables(package)["programmes"].set_index("id")
    for row in rows:
        assert row["country_id"] == "JP"
        assert row["name_en"] == japanese.set_index("id").at[row["programme_id"], "name_en"]
        # The allocation as the export writes it: one number only when its awards share one kind of basis.
        for column in (C.ALLOCATED, C.ALLOCATED_BASIS, *(f"allocated_{kind}" for kind in CLASS_ORDER)):
            value = exported.at[row["programme_id"], column]
            expected = None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
            said = row[column]
            assert (Decimal(said) if said is not None and column != C.ALLOCATED_BASIS else said) == expected, column
        assert row["n_awards"] == exported.at[row["programme_id"], C.N_AWARDS]
    program = next(r for r in rows if r["programme_id"] == "jp-cloud-program")
    assert (program["allocated"], program["allocated_basis"]) == (None, "mixed")  # it read 132630000000
    assert (program["allocated_exact"], program["allocated_up_to_about"]) == ("600000000", "127830000000")
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
        (["programmes", "--from", "2024-01-01"], "not programmes (a programme's allocation adds every award under"),
        # It gave the programmes' reason: "a programme's allocation adds every award under it".
        (["markets", "--to", "2024-01-01"], "not markets (a market share is of a year, not of an announcement)"),
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


def test_several_countries_or_kinds_after_one_flag_are_the_same_as_the_flag_repeated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The synopsis reads [--country CC ...]: "--country JP KR" was a usage error (unrecognised KR)."""
    code, together, err = run(["query", "recipients", "--country", "JP", "KR", "--kind", "compute_subsidy"], capsys)
    assert code == 0, err
    code, repeated, err = run(
        ["query", "recipients", "--country", "JP", "--country", "KR", "--kind", "compute_subsidy"], capsys
    )
    assert code == 0, err
    assert together == repeated and "Sakura Internet" in together


def test_several_tables_after_one_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["export", "--format", "csv", "--table", "awards", "programmes", "-o", str(tmp_path)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["awards.csv", "programmes.csv"]
