"""The amount range every step honours: at most 18 significant digits, below 10^18, at most 4 decimals.

A property drives amounts across the whole accepted range, and just outside it, through the model,
formatting in both languages, conversion, every export format and every chart builder (the HTML
report draws every chart of every page): nothing raises and nothing is lost.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.view import ViewState, prepare
from aifunding.data.amounts import AMOUNT_DECIMALS, AMOUNT_DIGITS, AMOUNT_LIMIT
from aifunding.data.messages import friendly_message
from aifunding.data.models import Award
from aifunding.loading.package import load_package
from aifunding.money.formatting import format_money
from aifunding.money.fx import convert
from aifunding.outputs.export import export_bytes, write_export
from aifunding.outputs.snapshot import build_report

from packages import minimal_tables, write_package


@st.composite
def accepted_amounts(draw: st.DrawFn) -> Decimal:
    """Any amount the model accepts: up to 18 significant digits, 0 to 4 decimals, below 10^18."""
    decimals = draw(st.integers(0, AMOUNT_DECIMALS))
    digits = draw(st.integers(1, AMOUNT_DIGITS))
    whole_digits = min(digits, 18)
    unscaled = draw(st.integers(1, 10**digits - 1))
    value = Decimal(unscaled).scaleb(-decimals)
    if value >= AMOUNT_LIMIT:
        value = Decimal(10**whole_digits - 1).scaleb(-decimals)
    return value


EDGES = [
    Decimal("999999999999999999"),  # the largest whole amount
    Decimal("99999999999999.9999"),  # 18 digits, 4 decimals
    Decimal("0.0001"),  # the smallest
    Decimal("1E+17"),  # a Decimal with an exponent (its cell is plain digits, as a package must write it)
]
OUTSIDE = [
    (Decimal("1E+18"), "is too large"),
    (Decimal("1234567890123456789"), "is too large"),
    (Decimal("0.00001"), "has 5 decimal places; at most 4"),
    (Decimal("12345678901234567.89"), "has 19 significant digits; at most 18"),
]


def award(amount: Decimal) -> dict[str, str]:
    return {"id": "a", "programme_id": "p", "purpose_en": "x", "amount": format(amount, "f"), "currency": "JPY",
            "basis": "exact"}  # fmt: skip


@pytest.mark.parametrize(("amount", "message"), OUTSIDE)
def test_amounts_just_outside_the_range_are_refused(amount: Decimal, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Award.model_validate(award(amount))
    # The validator words pydantic's error for people (aifunding.data.messages), as the report shows it.
    [error] = caught.value.errors()
    assert message in friendly_message(error, "amount")


def exported_amounts(package, fmt: str, fx: FxChoice | None) -> dict[str, str]:
    """Award id -> amount cell as written, for each export format."""
    if fmt == "json":
        payload = json.loads(export_bytes(package, "json", fx))
        return {r["id"]: r["amount"] for r in payload["awards"]}
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(export_bytes(package, "xlsx", fx)))
        rows = list(book["awards"].iter_rows(values_only=True))
        header = rows[0]
        return {r[header.index("id")]: r[header.index("amount")] for r in rows[1:]}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(export_bytes(package, "parquet", fx, ("awards",))))
        return {r["id"]: r["amount"] for r in table.to_pylist()}
    with tempfile.TemporaryDirectory() as tmp:
        [path] = write_export(package, "csv", Path(tmp) / "awards.csv", fx, ("awards",))
        return {r["id"]: r["amount"] for r in csv.DictReader(path.open(encoding="utf-8"))}


@settings(max_examples=12, deadline=None)
@given(amounts=st.lists(accepted_amounts(), min_size=2, max_size=2), edge=st.sampled_from(EDGES))
def test_every_step_honours_every_accepted_amount(amounts: list[Decimal], edge: Decimal) -> None:
    values = [edge, *amounts]
    for value in values:
        assert Award.model_validate(award(value)).amount == value
        for lang in ("en", "ja"):
            assert format_money(value, "JPY", locale=lang)
        for currency in ("USD", "KRW", "EUR"):
            assert convert(value, "JPY", currency, "2024-04-19").amount > 0
    tables = minimal_tables()
    tables["programmes"][0].update(amount="", basis="", currency="")  # no ceiling: any awards fit
    tables["awards"][0]["amount"] = format(values[0], "f")
    tables["awards"][1]["amount"] = format(values[1], "f")
    with tempfile.TemporaryDirectory() as tmp:
        package = load_package(write_package(Path(tmp) / "pkg", tables))
    assert package.report.valid, package.report.errors[:2]
    expected = {"award-a": values[0], "award-bc": values[1]}
    for fx in (None, FxChoice("USD", "announcement"), FxChoice("KRW", "2024-04-19")):
        for fmt in ("json", "xlsx", "csv", "parquet"):
            written = exported_amounts(package, fmt, fx)
            # Nothing lost: each amount comes back exactly, from text in every format.
            assert {k: Decimal(str(v)) for k, v in written.items()} == expected, (fmt, fx)
    prepared = prepare(package)
    for state in (ViewState(), ViewState(lang="ja"), ViewState(currency="USD"), ViewState(currency="KRW", lang="ja")):
        html = build_report(prepared, state)
        # Both awards reach the report (its charts and the rows behind them).
        assert "award-a" in html and "award-bc" in html


def test_the_xlsx_export_keeps_the_largest_amount_as_text_exactly() -> None:
    # A spreadsheet number has 15 significant digits: an 18-digit amount must not be rounded in the file.
    tables = minimal_tables()
    tables["programmes"][0].update(amount="", basis="", currency="")
    tables["awards"][0]["amount"] = "999999999999999999"
    with tempfile.TemporaryDirectory() as tmp:
        package = load_package(write_package(Path(tmp) / "pkg", tables))
        data = export_bytes(package, "xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        xml = "".join(book.read(n).decode("utf-8") for n in book.namelist())
    assert "999999999999999999" in xml


@pytest.mark.parametrize("fx", [None, FxChoice("KRW", "2024-04-19"), FxChoice("EUR", "2024-04-19")])
def test_the_parquet_export_holds_the_largest_amounts_as_the_json_export_does(fx: FxChoice | None) -> None:
    # The largest whole amount, the most digits with 4 decimals, and their sum (past 10^18) as the
    # programme's allocation: each an exact decimal128 equal, digit for digit, to the JSON's string.
    import pandas as pd
    import pyarrow.parquet as pq

    from aifunding.outputs.cells import decimal_text

    tables = minimal_tables()
    tables["programmes"][0].update(amount="", basis="", currency="")
    tables["awards"][0]["amount"] = str(EDGES[0])
    tables["awards"][1]["amount"] = str(EDGES[1])
    with tempfile.TemporaryDirectory() as tmp:
        package = load_package(write_package(Path(tmp) / "pkg", tables))
        assert package.report.valid, package.report.errors[:2]
        payload = json.loads(export_bytes(package, "json", fx))
        written = write_export(package, "parquet", Path(tmp) / "out", fx)
        back = {path.stem: (pq.read_table(path).to_pylist(), pd.read_parquet(path)) for path in written}
    columns = ["amount", "allocated", "allocated_up_to_about"]
    if fx is not None:
        columns += ["amount_converted", "fx_rate", "allocated_converted"]
    for table in ("awards", "programmes"):
        rows, frame = back[table]
        for row, record, (_, pandas_row) in zip(rows, payload[table], frame.iterrows(), strict=True):
            for column in (c for c in columns if c in record):
                expected = record[column]
                assert (None if row[column] is None else decimal_text(row[column])) == expected, (table, column)
                assert (None if pandas_row[column] is None else decimal_text(pandas_row[column])) == expected
    amounts = {r["id"]: r["amount"] for r in back["awards"][0]}
    assert amounts == {"award-a": EDGES[0], "award-bc": EDGES[1]}
    [programme] = back["programmes"][0]
    assert programme["allocated"] == EDGES[0] + EDGES[1] > AMOUNT_LIMIT
