"""Exports re-import to the same figures: CSV amounts are exact decimals, JSON amounts exact decimal strings."""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding.loading.package import Package, load_package
from aifunding.outputs.export import write_export

from packages import minimal_tables, write_package

# Positive amounts as a CSV may hold them: whole units up to quadrillions, or with cents.
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e15"), places=2) | st.integers(
    min_value=1, max_value=10**15
).map(Decimal)


def package_with(folder: Path, programme_amount: Decimal, award_amounts: list[Decimal]) -> Package:
    """The minimal package with one round of ``programme_amount`` and one sole award per amount."""
    tables = minimal_tables()
    tables["programmes"][0]["amount"] = format(programme_amount, "f")
    tables["awards"] = [
        {
            "id": f"award-{i}",
            "programme_id": "round-1",
            "purpose_en": f"Project {i}",
            "amount": format(amount, "f"),
            "currency": "JPY",
            "basis": "about",
            "announced": "2024-04-19",
        }
        for i, amount in enumerate(award_amounts)
    ]
    tables["award_recipients"] = [
        {"award_id": f"award-{i}", "organisation_id": "org-a", "role": "sole"} for i in range(len(award_amounts))
    ]
    tables["citations"] = [c for c in tables["citations"] if not c.get("award_id") and not c.get("milestone_id")]
    tables["citations"] += [{"source_id": "src-a", "award_id": f"award-{i}"} for i in range(len(award_amounts))]
    tables["milestones"], tables["caveat_links"], tables["caveats"] = [], [], []
    return load_package(write_package(folder, tables))


def amounts_by_id(frame: pd.DataFrame, column: str = "amount") -> dict[str, Decimal | None]:
    return {i: (None if pd.isna(v) else Decimal(v)) for i, v in zip(frame["id"], frame[column], strict=True)}


@settings(max_examples=25, deadline=None)
@given(programme_amount=amounts, award_amounts=st.lists(amounts, min_size=1, max_size=4))
def test_csv_export_reimports_to_the_same_figures(programme_amount: Decimal, award_amounts: list[Decimal]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        package = package_with(Path(tmp) / "pkg", programme_amount, award_amounts)
        assert package.report.rows_loaded["awards"] == len(award_amounts)
        written = write_export(package, "csv", Path(tmp) / "out")
        back = {path.stem: pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]) for path in written}

    for table in ("awards", "programmes"):
        expected = amounts_by_id(package.frame(table))
        assert amounts_by_id(back[table]) == expected
    # The figures are the ones written into the package, digit for digit.
    assert amounts_by_id(back["awards"]) == {f"award-{i}": a for i, a in enumerate(award_amounts)}
    assert amounts_by_id(back["programmes"]) == {"round-1": programme_amount}
    # The allocation is the exact sum of the awards.
    assert amounts_by_id(back["programmes"], "allocated") == {"round-1": sum(award_amounts, Decimal(0))}


@settings(max_examples=25, deadline=None)
@given(programme_amount=amounts, award_amounts=st.lists(amounts, min_size=1, max_size=4))
def test_json_export_writes_every_amount_as_an_exact_decimal_string(
    programme_amount: Decimal, award_amounts: list[Decimal]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        package = package_with(Path(tmp) / "pkg", programme_amount, award_amounts)
        [path] = write_export(package, "json", Path(tmp) / "out.json")
        payload = json.loads(path.read_text(encoding="utf-8"))

    for record, amount in zip(payload["awards"], award_amounts, strict=True):
        # One JSON type for the column, whole or not: a string, exact at any size (a JSON number past
        # 2^53 is rounded by JavaScript), in plain notation with no exponent.
        assert isinstance(record["amount"], str)
        assert Decimal(record["amount"]) == amount
        assert "E" not in record["amount"].upper()
    [programme] = payload["programmes"]
    assert isinstance(programme["amount"], str) and Decimal(programme["amount"]) == programme_amount
    assert Decimal(programme["allocated"]) == sum(award_amounts, Decimal(0))


def test_bundled_csv_export_reimports_to_the_same_figures(bundled: Package, tmp_path: Path) -> None:
    written = write_export(bundled, "csv", tmp_path)
    back = {path.stem: pd.read_csv(path, dtype=str) for path in written}
    for table in ("awards", "programmes"):
        assert amounts_by_id(back[table]) == amounts_by_id(bundled.frame(table))
    assert amounts_by_id(back["awards"])["jp-cloud-2024-04-kddi"] == Decimal("10240000000")


def test_bundled_json_amounts_are_exact_strings(bundled: Package, tmp_path: Path) -> None:
    [path] = write_export(bundled, "json", tmp_path / "funding.json")
    payload = json.loads(path.read_text(encoding="utf-8"))
    for table in ("awards", "programmes"):
        amounts = [r["amount"] for r in payload[table] if r["amount"] is not None]
        assert amounts and all(type(a) is str for a in amounts), table
    by_id = {r["id"]: r for r in payload["programmes"]}
    assert by_id["jp-physical-ai-fm-fy2026"]["amount"] == "387300000000"


@pytest.mark.parametrize("currency", [None, "USD"])
def test_every_json_column_keeps_one_type(bundled: Package, tmp_path: Path, currency: str | None) -> None:
    from aifunding.analysis.conversion import FxChoice

    fx = FxChoice(currency, "announcement") if currency else None
    [path] = write_export(bundled, "json", tmp_path / "funding.json", fx)
    payload = json.loads(path.read_text(encoding="utf-8"))
    for table in ("programmes", "awards", "market_shares"):
        types: dict[str, set[str]] = {}
        for record in payload[table]:
            for key, value in record.items():
                if value is not None:
                    types.setdefault(key, set()).add(type(value).__name__)
        mixed = {key: kinds for key, kinds in types.items() if len(kinds) > 1}
        assert mixed == {}, table
    if currency:
        converted = [r["amount_converted"] for r in payload["awards"] if r["amount_converted"] is not None]
        assert converted and all(isinstance(v, str) for v in converted)


def test_every_exported_allocation_states_its_currency(bundled: Package) -> None:
    # The Cloud Program declares no amount (so no currency) but its rounds' awards add to JPY 132.63bn:
    # a reader of the export must be told which currency that sum is in.
    from aifunding.outputs.export import export_programmes

    programmes = export_programmes(bundled).set_index("id")
    assert programmes.at["jp-cloud-program", "allocated_currency"] == "JPY"
    # Exact money, an "about" figure and ceilings: never one number, each kind in its own column.
    cloud = programmes.loc["jp-cloud-program"]
    assert cloud["allocated"] is None and cloud["allocated_basis"] == "mixed"
    assert (cloud["allocated_exact"], cloud["allocated_about"], cloud["allocated_up_to_about"]) == (
        Decimal("600000000"),
        Decimal("4200000000"),
        Decimal("127830000000"),
    )
    assert cloud["allocated_up_to"] is None and cloud["allocated_at_least"] is None
    round_2024 = programmes.loc["jp-cloud-2024-05"]
    assert (round_2024["allocated"], round_2024["allocated_basis"]) == (Decimal("42100000000"), "up_to")
    with_allocation = programmes[programmes["allocated"].notna()]
    assert with_allocation["allocated_currency"].notna().all()
