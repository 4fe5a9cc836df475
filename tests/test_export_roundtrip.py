"""Exports re-import to the same figures: CSV amounts are exact decimals, JSON amounts exact decimal strings,
Parquet amounts exact decimal128 holding the JSON export's values; exports stream, XLSX never truncates."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis import sequences
from aifunding.analysis.conversion import FxChoice
from aifunding.cli import main
from aifunding.loading.package import Package, load_package
from aifunding.outputs import cells, citations, export, parquet, refusals, writers
from aifunding.outputs.cells import decimal_text, json_default, neutralise_frame, records, table_csv_bytes
from aifunding.outputs.export import about_rows, export_bytes, export_tables, write_export

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


# --- Parquet ---------------------------------------------------------------------------------------

AT = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
CONVERSIONS = [None, FxChoice("USD", "announcement"), FxChoice("KRW", "2024-04-19")]


def same_as_json(parquet_value: Any, json_value: Any) -> bool:
    """A Parquet cell holds the JSON export's value: a decimal to the last digit, anything else equal."""
    if isinstance(parquet_value, Decimal):
        return isinstance(json_value, str) and decimal_text(parquet_value) == json_value
    return type(parquet_value) is type(json_value) and parquet_value == json_value


def assert_parquet_matches_json(table: pa.Table, records_: list[dict[str, Any]]) -> None:
    rows = table.to_pylist()
    assert len(rows) == len(records_)
    for row, record in zip(rows, records_, strict=True):
        assert list(row) == list(record)
        differ = {key: (row[key], value) for key, value in record.items() if not same_as_json(row[key], value)}
        assert differ == {}, record.get("id")


@pytest.mark.parametrize("fx", CONVERSIONS)
def test_parquet_export_holds_the_json_exports_values(bundled: Package, tmp_path: Path, fx: FxChoice | None) -> None:
    [document] = write_export(bundled, "json", tmp_path / "all.json", fx, generated_at=AT)
    payload = json.loads(document.read_text(encoding="utf-8"))
    written = write_export(bundled, "parquet", tmp_path / "parquet", fx, generated_at=AT)
    assert [path.name for path in written] == ["programmes.parquet", "awards.parquet", "market_shares.parquet"]
    for path in written:
        table = pq.read_table(path)
        assert_parquet_matches_json(table, payload[path.stem])
        # What the file holds and how it was made travels with it, as the JSON's about block.
        assert json.loads(table.schema.metadata[b"aifunding.about"]) == payload["about"]
    schema = {table: pq.read_schema(tmp_path / "parquet" / f"{table}.parquet") for table in export.EXPORT_TABLES}
    # Amounts are exact decimals, one type in every export; partial dates text; counts integers.
    assert schema["awards"].field("amount").type == pa.decimal128(38, 4)
    assert schema["programmes"].field("allocated_at_least").type == pa.decimal128(38, 4)  # every row empty
    assert schema["programmes"].field("announced").type == pa.string()
    assert schema["programmes"].field("period_start_fy").type == pa.int64()
    assert schema["awards"].field("joint").type == pa.bool_()
    assert schema["market_shares"].field("share_low").type == pa.decimal128(38, 4)
    if fx is not None:
        assert schema["awards"].field("fx_rate").type == pa.decimal128(38, 18)
        assert schema["programmes"].field("allocated_converted").type == pa.decimal128(38, 4)
    # pandas reads the same exact figures back.
    for table in ("awards", "programmes"):
        assert amounts_by_id(pd.read_parquet(tmp_path / "parquet" / f"{table}.parquet")) == amounts_by_id(
            bundled.frame(table)
        )


@settings(max_examples=15, deadline=None)
@given(programme_amount=amounts, award_amounts=st.lists(amounts, min_size=1, max_size=4))
def test_parquet_export_reimports_to_the_same_figures(programme_amount: Decimal, award_amounts: list[Decimal]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        package = package_with(Path(tmp) / "pkg", programme_amount, award_amounts)
        written = write_export(package, "parquet", Path(tmp) / "out")
        back = {path.stem: pd.read_parquet(path) for path in written}
    assert amounts_by_id(back["awards"]) == {f"award-{i}": a for i, a in enumerate(award_amounts)}
    assert amounts_by_id(back["programmes"]) == {"round-1": programme_amount}
    assert amounts_by_id(back["programmes"], "allocated") == {"round-1": sum(award_amounts, Decimal(0))}


def test_one_table_to_a_parquet_file_and_as_bytes(bundled: Package, tmp_path: Path) -> None:
    target = tmp_path / "sub" / "awards.parquet"
    assert write_export(bundled, "parquet", target, tables=("awards",), generated_at=AT) == [target]
    data = export_bytes(bundled, "parquet", tables=("awards",), generated_at=AT)
    assert pq.read_table(io.BytesIO(data)).equals(pq.read_table(target))
    with pytest.raises(ValueError, match="one table per file"):
        export_bytes(bundled, "parquet")


def test_the_parquet_writer_types_lists_dates_and_what_no_decimal128_holds(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "ids": [["a", "=b"], ("c",), None],
            "day": [datetime.date(2024, 4, 19), "2024-04", None],
            "year": pd.array([2024, None, 2026], dtype="Int64"),
            "amount": [None, None, None],
            "huge": [Decimal("1E+40"), Decimal("0.5"), None],
        }
    )
    buffer = io.BytesIO()
    parquet.write_parquet(buffer, frame, [("title", "t")], {"amount": 4})
    table = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert table.schema.field("ids").type == pa.list_(pa.string())
    assert table.schema.field("amount").type == pa.decimal128(38, 4)
    # A value past decimal128's 38 digits is exact text, never a rounded number.
    assert table.schema.field("huge").type == pa.string()
    assert table.to_pydict() == {
        "ids": [["a", "'=b"], ["c"], None],  # list items are neutralised like any text cell
        "day": ["2024-04-19", "2024-04", None],
        "year": [2024, None, 2026],
        "amount": [None, None, None],
        "huge": ["1" + "0" * 40, "0.5", None],
    }


# Decimals as the loader, a conversion and a crafted file may give them: any sign, digits and exponent, shared
# objects, and what no decimal128 or Arrow holds (not finite, over 38 or 76 digits), with other values among them.
_any_decimal = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=80),
    st.integers(-45, 45),
) | st.sampled_from([Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN"), Decimal("0E-7"), Decimal("-0")])


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(_any_decimal | st.sampled_from([1, 0.5, "1.5"]), max_size=12).flatmap(
        lambda drawn: st.lists(st.sampled_from(drawn), max_size=40) if drawn else st.just([])
    ),
    scale=st.sampled_from([0, 4, 18]),
)
def test_the_decimal_type_read_by_arrow_is_the_one_read_value_by_value(values: list[Any], scale: int) -> None:
    """Each distinct object read by Arrow's inference (the fast path) gives the type a value-by-value reading does."""
    assert parquet._decimal_type(values, scale) == parquet._decimal_type_by_value(values, scale)


@settings(max_examples=100, deadline=None)
@given(
    text=st.lists(st.none() | st.text(max_size=6), max_size=30),
    flags=st.lists(st.booleans(), max_size=30),
    amounts=st.lists(st.none() | amounts, max_size=30),
)
def test_parquet_columns_made_as_vectors_hold_what_a_cell_at_a_time_gives(
    text: list[str | None], flags: list[bool], amounts: list[Decimal | None]
) -> None:
    """Arrow text, numpy flags and Decimal objects are handed to Arrow whole; the array is the per-cell one."""
    columns = {
        "text": pd.Series(text, dtype="str"),
        "arrow": pd.Series(text, dtype=pd.StringDtype("pyarrow")),
        "flag": pd.Series(flags, dtype=bool),
        "amount": pd.Series([np.nan if a is None and i % 2 else a for i, a in enumerate(amounts)], dtype=object),
    }
    for name, series in columns.items():
        for piece in (series, series.iloc[1:], series.iloc[::2]):  # a slice's offset and a copy's
            kind, arrow_type = parquet._column_kind(name, piece, {"amount": 4})
            expected = pa.array(parquet._cells(kind, piece), type=arrow_type)
            assert parquet._array(kind, arrow_type, piece).equals(expected), (name, kind)


# --- streaming -------------------------------------------------------------------------------------


class Recorder(io.BytesIO):
    """A binary file that remembers the size of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: Any) -> int:
        self.sizes.append(len(data))
        return super().write(data)


def whole_document(package: Package, fx: FxChoice | None) -> bytes:
    """The JSON export as one json.dumps of the whole payload: what the streamed file must equal."""
    payload = {
        "about": dict(about_rows(package, fx, AT)),
        **{n: records(f) for n, f in export_tables(package, fx).items()},
    }
    return (json.dumps(payload, ensure_ascii=False, indent=2, default=json_default) + "\n").encode("utf-8")


@pytest.mark.parametrize("fx", CONVERSIONS[:2])
def test_json_streamed_in_chunks_is_the_document_json_dumps_makes(
    bundled: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fx: FxChoice | None
) -> None:
    expected = whole_document(bundled, fx)
    for size in (1, 7, writers.CHUNK_ROWS):
        monkeypatch.setattr(writers, "CHUNK_ROWS", size)
        [path] = write_export(bundled, "json", tmp_path / f"{size}.json", fx, generated_at=AT)
        assert path.read_bytes() == expected, size
        assert export_bytes(bundled, "json", fx, generated_at=AT) == expected
    written = sorted(f"{size}.json" for size in (1, 7, writers.CHUNK_ROWS))
    assert sorted(p.name for p in tmp_path.iterdir()) == written  # no partial file left


def test_json_writer_lays_out_empty_tables_and_no_tables_as_json_dumps() -> None:
    about = {"title": "t"}
    empty = pd.DataFrame({"id": pd.Series([], dtype=str)})
    one = pd.DataFrame({"id": ["a"], "n": [1]})
    for tables in ([], [("empty", empty)], [("empty", empty), ("one", one)], [("one", one), ("empty", empty)]):
        buffer = io.BytesIO()
        writers.write_json(buffer, about, iter(tables))
        payload = {"about": about, **{name: records(frame) for name, frame in tables}}
        assert buffer.getvalue().decode("utf-8") == json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


_cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.lists(st.text(max_size=5), max_size=3),
)


@settings(deadline=None)  # the first example imports Arrow's compute functions
@given(rows=st.lists(st.fixed_dictionaries({"id": st.text(), "a": _cells, "b": _cells}), max_size=5))
def test_json_records_written_fast_are_the_bytes_json_dumps_writes(rows: list[dict[str, Any]]) -> None:
    """Records go through json's C encoder one value at a time; the document is still json.dumps's."""
    frame = pd.DataFrame(rows, columns=["id", "a", "b"], dtype=object)
    buffer = io.BytesIO()
    writers.write_json(buffer, {"title": "t"}, [("rows", frame)])
    payload = {"about": {"title": "t"}, "rows": records(neutralise_frame(frame))}
    assert buffer.getvalue().decode("utf-8") == json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


@settings(deadline=None)  # the first example imports Arrow's compute functions
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=8)),
            st.one_of(st.none(), st.sampled_from(["1", "1.0", "0.25", "72500000000", "-0"]).map(Decimal)),
            st.one_of(st.none(), st.integers(-5, 5)),
            st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.5, float("inf")])),
            st.booleans(),
        ),
        max_size=8,
    )
)
def test_json_typed_columns_written_a_column_at_a_time_are_json_dumps_bytes(rows: list[tuple]) -> None:
    """Arrow text, exact amounts that are equal but written differently, nullable whole numbers, -0.0, flags."""
    frame = pd.DataFrame(rows, columns=["t", "d", "i", "f", "b"])
    frame = frame.astype({"t": "str", "d": object, "i": "Int64", "f": "float64", "b": bool})
    buffer = io.BytesIO()
    writers.write_json(buffer, {"title": "t"}, [("rows", frame)])
    payload = {"about": {"title": "t"}, "rows": records(neutralise_frame(frame))}
    assert buffer.getvalue().decode("utf-8") == json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


@given(
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), min_size=3, max_size=3),
    floats=st.lists(st.one_of(st.none(), st.floats()), min_size=3, max_size=3),
    texts=st.lists(st.one_of(st.none(), st.text()), min_size=3, max_size=3),
    amounts=st.lists(st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False)), min_size=3, max_size=3),
    flags=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_records_are_the_frames_rows_with_amounts_as_exact_text(ints, floats, texts, amounts, flags) -> None:
    """Records are built a column at a time; they are what the frame's rows say, cell for cell and type for type."""
    frame = pd.DataFrame(
        {
            "n": pd.array(ints, dtype="Int64"),
            "x": pd.array([np.nan if f is None else f for f in floats], dtype="float64"),
            "t": pd.array(texts, dtype="str"),
            "amount": pd.Series(amounts, dtype=object),
            "flag": flags,
        }
    )
    expected = [
        {k: (decimal_text(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
        for row in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    ]
    got = records(frame)
    assert got == expected
    assert [[type(v) for v in row.values()] for row in got] == [[type(v) for v in row.values()] for row in expected]


# Text a JSON string must escape (quotes, backslashes, control characters), formulas, non-ASCII.
_awkward_text = st.text(alphabet=st.sampled_from(list('a"\\\n\r\t\x00\x1f\x7f=+-@ é日\u2028')), max_size=6)


@settings(deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), _awkward_text, st.text(max_size=4)),
            st.booleans(),
            st.one_of(
                st.none(),
                st.sampled_from(["1", "1.0", "0.25", "-0", "-0.00", "1E+2", "0E+3", "10.500", "Infinity"]).map(Decimal),
                st.decimals(allow_nan=False),
            ),
            st.one_of(st.none(), _awkward_text),
        ),
        max_size=12,
    ),
    names=st.sampled_from([["t", "b", "d", "o"], ["=t", 'b"', "d\n", "日"]]),
)
def test_records_joined_in_arrow_are_the_records_written_one_by_one(rows: list[tuple], names: list[str]) -> None:
    """The Arrow path (text and flags as vectors, rows joined in C) writes the bytes of the per-record path."""
    frame = pd.DataFrame(rows, columns=names).astype({names[0]: "str", names[1]: bool, names[2]: object})
    frame[names[3]] = pd.Series([r[3] for r in rows], dtype=object)
    frame = neutralise_frame(frame)
    expected = "".join(",\n    " + text for text in writers._records_text(frame, 2)).encode("utf-8")
    assert bytes(writers._records_bytes(frame, 2)) == expected
    for i, name in enumerate(frame.columns):
        key = writers._key_text(str(name))
        column = frame.iloc[:, i]
        assert writers._column_text_array(column, key, 3).to_pylist() == writers._column_texts(column, key, 3)
        # A slice (as a chunk is) reads its own rows, not its parent's.
        tail = column.iloc[1:]
        assert writers._column_text_array(tail, key, 3).to_pylist() == writers._column_texts(tail, key, 3)


# Decimal objects that are equal but written differently (1 == 1.0 == 1.00, 0 == -0 == 0E+3), each used many times.
_DECIMAL_POOL = [Decimal(t) for t in ["1", "1.0", "1.00", "0", "-0", "0E+3", "1E+2", "100", "0.0064689094", "2.50"]]


@settings(deadline=None)
@given(
    picks=st.lists(st.one_of(st.none(), st.integers(0, len(_DECIMAL_POOL) - 1)), min_size=1, max_size=30),
    extra=st.lists(st.decimals(allow_nan=False), max_size=5),
    start=st.integers(0, 3),
)
def test_amounts_written_once_per_object_are_each_cells_text(picks: list, extra: list, start: int) -> None:
    """Amounts repeat as one object per distinct cell (as the loader gives them): each object is written once, and
    equal amounts of different exponents keep their own text, as written cell by cell."""
    cells_ = [None if pick is None else _DECIMAL_POOL[pick] for pick in picks] + extra
    column = pd.Series(cells_, dtype=object).iloc[start:]
    assert writers._column_text_array(column, '"a": ', 3).to_pylist() == writers._column_texts(column, '"a": ', 3)


@settings(deadline=None)
@given(texts=st.lists(st.one_of(st.none(), _awkward_text, st.text(max_size=5)), max_size=8), start=st.integers(0, 3))
def test_plain_bytes_says_what_the_escape_pattern_says(texts: list, start: int) -> None:
    """The byte scan that skips the pattern agrees with it on every array and slice (nulls included)."""
    for kind in (pa.string(), pa.large_string()):
        values = pa.array(texts, type=kind)[start:]
        matches = [bool(re.search(r'[\x00-\x1f"\\]', t)) for t in values.to_pylist() if t is not None]
        assert writers._plain_bytes(values) == (not any(matches))


def _neutralise_frame_before(frame: pd.DataFrame) -> pd.DataFrame:
    """neutralise_frame as it was before text columns were checked in Arrow and amounts skipped: the reference."""
    result = frame.copy()
    result.columns = [cells.neutralise(str(c)) for c in result.columns]
    for column in result.columns:
        values = result[column]
        if isinstance(values.dtype, pd.StringDtype):
            risky = values.str.startswith(cells.FORMULA_PREFIXES).fillna(False).astype(bool)
            if risky.any():
                result[column] = values.where(~risky, "'" + values)
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            result[column] = values.map(cells.neutralise)
    return result


@settings(deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), _awkward_text), min_size=1, max_size=10),
    storage=st.sampled_from(["pyarrow", "python"]),
    amounts=st.lists(st.one_of(st.none(), st.decimals(allow_nan=False)), min_size=10, max_size=10),
    start=st.integers(0, 3),
)
def test_neutralised_columns_are_what_they_were_before(texts: list, storage: str, amounts: list, start: int) -> None:
    """A text column checked in one pass (Arrow), and a column of amounts left alone, give the frame as before;
    a slice of it too (as a chunk is: its cells start part way into the Arrow buffers)."""
    frame = pd.DataFrame(
        {
            "t": pd.Series(texts, dtype=pd.StringDtype(storage, na_value=np.nan)),
            "o": pd.Series(texts, dtype=object),
            "d": pd.Series(amounts[: len(texts)], dtype=object),
            "=h": pd.Series(texts, dtype="str"),
        }
    )
    for part in (frame, frame.iloc[start:]):
        result, expected = neutralise_frame(part), _neutralise_frame_before(part)
        pd.testing.assert_frame_equal(result, expected, check_exact=True)
        for column in result.columns:
            assert [type(v) for v in result[column]] == [type(v) for v in expected[column]]


class _Tables:
    """Just enough of a Package for metrics.links_by_row: its frames by name."""

    def __init__(self, **frames: pd.DataFrame) -> None:
        self.frames = frames

    def frame(self, name: str) -> pd.DataFrame:
        return self.frames[name]


_link_ids = st.sampled_from(["a", "b", "c", "=d", "日"])


@settings(deadline=None)
@given(
    links=st.lists(st.tuples(st.one_of(st.none(), _link_ids), _link_ids), max_size=12),
    ids=st.lists(st.one_of(_link_ids, st.just("none")), max_size=6),
    lookup=st.dictionaries(_link_ids, st.text(max_size=4), max_size=4),
    longest=st.sampled_from([1, 64]),  # lists coded (equal lists joined once) or, past the longest, each on its own
)
def test_linked_texts_as_vectors_are_the_tuples_joined(
    links: list[tuple], ids: list[str], lookup: dict, longest: int
) -> None:
    """An award's sources joined from the link table in Arrow are links_by_row's tuples joined one by one."""
    from unittest import mock

    from aifunding.analysis.metrics import links_by_row

    table = pd.DataFrame(links, columns=["award_id", "source_id"], dtype="str")
    rows = pd.Series(ids, dtype="str", index=pd.RangeIndex(len(ids)) * 2)  # an index of its own is kept
    linked = links_by_row(_Tables(citations=table), "citations", "source_id", "award_id")  # type: ignore[arg-type]
    with mock.patch.object(sequences, "LONGEST_CODED", longest):
        got = citations.linked_texts(table, "award_id", "source_id", rows, [None, lookup])
    assert got is not None
    for texts, words in zip(got, [None, lookup], strict=True):
        expected = pd.Series([citations.joined(linked.get(i, ()), words) for i in ids], dtype="str", index=rows.index)
        pd.testing.assert_series_equal(texts, expected, check_exact=True)


@settings(deadline=None)
@given(
    links=st.lists(st.tuples(st.one_of(st.none(), _link_ids), st.one_of(_link_ids, st.none())), max_size=12),
    ids=st.lists(st.one_of(_link_ids, st.just("none")), max_size=6),
    text=st.booleans(),
    longest=st.sampled_from([1, 64]),
)
def test_linked_ids_are_the_tuples_links_by_row_gives(
    links: list[tuple], ids: list[str], text: bool, longest: int
) -> None:
    """Each row's linked ids made once per distinct list are links_by_row's, missing values and object columns too."""
    from unittest import mock

    from aifunding.analysis.metrics import linked_ids, links_by_row

    table = pd.DataFrame(links, columns=["award_id", "source_id"], dtype="str" if text else object)
    tables = _Tables(citations=table)
    rows = pd.Series(ids, dtype="str", index=pd.RangeIndex(len(ids)) * 2)
    by_row = links_by_row(tables, "citations", "source_id", "award_id")  # type: ignore[arg-type]
    with mock.patch.object(sequences, "LONGEST_CODED", longest):
        got = linked_ids(tables, "citations", "source_id", "award_id", rows)  # type: ignore[arg-type]
    assert list(got.index) == list(rows.index) and got.dtype == object
    assert got.tolist() == [by_row.get(i, ()) for i in ids]
    assert all(type(cell) is tuple for cell in got)
    assert [[type(v) for v in cell] for cell in got] == [[type(v) for v in by_row.get(i, ())] for i in ids]


def test_exports_are_written_a_chunk_at_a_time(bundled: Package, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "CHUNK_ROWS", 5)
    frame = export_tables(bundled)["programmes"]
    csv_file, json_file = Recorder(), Recorder()
    writers.write_csv(csv_file, frame)
    writers.write_json(json_file, {"title": "t"}, [("programmes", frame)])
    for recorded, total in ((csv_file, len(frame.to_csv(index=False))), (json_file, len(json_file.getvalue()))):
        # Many writes, none holding more than about five rows of the table.
        assert len(recorded.sizes) >= len(frame) // 5
        assert max(recorded.sizes) < total / 4
    assert csv_file.getvalue().decode("utf-8") == frame.to_csv(index=False, lineterminator="\r\n")


@settings(deadline=None)
@given(texts=st.lists(st.one_of(_awkward_text, st.text(max_size=5)), min_size=1, max_size=8))
def test_csv_cells_read_back_whole_whatever_they_hold(texts: list[str]) -> None:
    """A cell holding a lone carriage return, a line feed, a quote or a comma reads back as one cell of its row
    (a lone "\r" was written unquoted, and every reader split the row there), in the export and a download."""
    frame = pd.DataFrame({"n": range(len(texts)), "t": pd.array(texts, dtype="str")})
    expected = [["n", "t"]] + [[str(n), text] for n, text in enumerate(neutralise_frame(frame)["t"])]
    handle = io.BytesIO()
    writers.write_csv(handle, frame)
    exported = handle.getvalue().decode("utf-8")
    header, downloaded = table_csv_bytes(frame, [("title", "a\rb")]).decode("utf-8").split("\r\n", 1)
    assert header == "# title: a b"
    for text in (exported, downloaded):
        assert list(csv.reader(io.StringIO(text, newline=""))) == expected
        back = pd.read_csv(io.StringIO(text, newline=""), dtype=str, keep_default_na=False)
        assert back.values.tolist() == expected[1:]


_csv_text = st.one_of(_awkward_text, st.text(max_size=6), st.sampled_from(["=1+1", "-2", "a,b", 'say "hi"', ""]))


@st.composite
def csv_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Frames of the kinds an export holds (Arrow text, flags, whole numbers, exact amounts, empty columns), with
    missing cells, and now and then a kind pandas writes its own way (floats, mixed objects) or one column alone."""
    rows = draw(st.integers(0, 12))
    shared = [Decimal("1E+3"), Decimal("0.10"), Decimal("-0"), Decimal("72500000000")]  # one object, many cells
    kinds = {
        "text": st.lists(st.none() | _csv_text, min_size=rows, max_size=rows).map(lambda v: pd.array(v, dtype="str")),
        "flag": st.lists(st.booleans(), min_size=rows, max_size=rows).map(lambda v: np.array(v, dtype=bool)),
        "int": st.lists(st.integers(-(2**62), 2**62), min_size=rows, max_size=rows).map(
            lambda v: np.array(v, dtype=np.int64)
        ),
        "Int": st.lists(st.none() | st.integers(-5, 3000), min_size=rows, max_size=rows).map(
            lambda v: pd.array(v, dtype="Int64")
        ),
        "amount": st.lists(
            st.none() | st.just(np.nan) | st.sampled_from(shared) | amounts, min_size=rows, max_size=rows
        ).map(lambda v: pd.array(v, dtype=object)),
        "empty": st.just(pd.array([None] * rows, dtype=object)),
        "float": st.lists(st.floats(allow_nan=True), min_size=rows, max_size=rows).map(lambda v: np.array(v)),
        "mixed": st.lists(st.none() | st.integers(0, 9) | st.text(max_size=3), min_size=rows, max_size=rows).map(
            lambda v: pd.array(v, dtype=object)
        ),
    }
    picked = draw(st.lists(st.sampled_from(sorted(kinds)), min_size=1, max_size=6))
    names = draw(st.lists(_csv_text, min_size=len(picked), max_size=len(picked), unique=True))
    return pd.DataFrame({name: draw(kinds[kind]) for name, kind in zip(names, picked, strict=True)})


@settings(max_examples=300, deadline=None)
@given(frame=csv_frames(), size=st.sampled_from([1, 5, 1000]))
def test_csv_rows_made_in_arrow_are_the_bytes_pandas_writes(frame: pd.DataFrame, size: int) -> None:
    """Chunk by chunk, two at a time, the rows made in Arrow are the bytes pandas writes of each neutralised chunk.

    (Of the whole table too, for the kinds an export holds: a column mixing whole numbers and missing cells is
    written as floats by one to_csv, and a chunk of it without a missing cell as whole numbers, in either path.)
    """
    expected = b"".join(
        chunk.to_csv(index=False, header=number == 0, lineterminator="\r\n").encode("utf-8")
        for number, chunk in enumerate(writers.chunks(frame, size))
    )
    handle = io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writers, "CHUNK_ROWS", size)
        writers.write_csv(handle, frame)
    assert handle.getvalue() == expected


@pytest.mark.parametrize("fx", CONVERSIONS[:2])
def test_the_export_tables_csv_is_made_in_arrow_and_is_one_to_csv(
    bundled: Package, monkeypatch: pytest.MonkeyPatch, fx: FxChoice | None
) -> None:
    """Every column of every export table is of a kind made in Arrow (pandas writes none of it), byte for byte
    one to_csv of the neutralised table."""
    tables = export_tables(bundled, fx)
    expected = {
        name: frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8") for name, frame in tables.items()
    }
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda *args, **kwargs: pytest.fail("written by pandas"))
    for name, frame in tables.items():
        handle = io.BytesIO()
        writers.write_csv(handle, frame)
        assert handle.getvalue() == expected[name], name


def test_chunks_made_two_at_a_time_come_out_in_order_and_few_ahead() -> None:
    """JSON's chunks are made by two threads at once (writers.in_order): whichever finishes first, they are written
    in order, and no more than two are taken from the table ahead of the one being written."""
    import threading
    import time

    taken: list[int] = []
    given_back: list[int] = []
    threads: set[int] = set()

    def items():
        for n in range(12):
            assert len(taken) - len(given_back) <= writers.WORKERS + 1  # a few chunks held, never the table
            taken.append(n)
            yield n

    def work(n: int) -> int:
        threads.add(threading.get_ident())
        time.sleep(0.02 if n % 3 == 0 else 0.001)  # every third chunk is slow: the next one finishes first
        return n * n

    for result in writers.in_order(work, items()):
        given_back.append(result)
    assert given_back == [n * n for n in range(12)]
    assert len(threads) == writers.WORKERS


def test_a_chunk_that_fails_stops_the_rest() -> None:
    made: list[int] = []

    def work(n: int) -> int:
        if n == 3:
            raise ValueError("chunk 3")
        made.append(n)
        return n

    out: list[int] = []
    with pytest.raises(ValueError, match="chunk 3"):
        for result in writers.in_order(work, range(1000)):
            out.append(result)
    assert out == [0, 1, 2]
    assert len(made) < 10  # the chunks after it are not made


class _FullDisk(io.BytesIO):
    """A file that takes a few writes, then fails as a full disk does."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.left = writes

    def write(self, data: Any) -> int:
        if self.left == 0:
            raise OSError(28, "No space left on device")
        self.left -= 1
        return super().write(data)


@pytest.mark.parametrize("writes", [0, 1, 3])
def test_a_json_write_that_fails_behind_raises_in_the_caller(
    bundled: Package, monkeypatch: pytest.MonkeyPatch, writes: int
) -> None:
    """JSON is written by a thread of its own a chunk behind; its error still reaches write_json's caller."""
    monkeypatch.setattr(writers, "CHUNK_ROWS", 5)
    with pytest.raises(OSError, match="No space left"):
        writers.write_json(_FullDisk(writes), {"title": "t"}, export_tables(bundled).items())


def test_a_failed_export_leaves_the_previous_file_and_no_partial_one(
    bundled: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "all.json"
    target.write_text("previous", encoding="utf-8")

    def broken(package: Package, fx: FxChoice | None, prepared: object = None) -> pd.DataFrame:
        raise RuntimeError("broken table")

    monkeypatch.setitem(export.EXPORTERS, "awards", broken)
    with pytest.raises(RuntimeError, match="broken table"):
        write_export(bundled, "json", target)
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["all.json"]


# --- XLSX row limit --------------------------------------------------------------------------------


def test_xlsx_refuses_a_table_longer_than_a_sheet(
    bundled: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {name: len(frame) for name, frame in export_tables(bundled).items()}
    limit = rows["awards"] + 1  # the awards and their header fill a sheet exactly; the programmes do not fit
    assert rows["programmes"] >= limit > rows["market_shares"]
    monkeypatch.setattr(refusals, "XLSX_MAX_ROWS", limit)
    target = tmp_path / "all.xlsx"
    with pytest.raises(refusals.TooManyRows) as caught:
        write_export(bundled, "xlsx", target)
    assert str(caught.value) == (
        f"the programmes table has {rows['programmes']:,} rows, and an XLSX sheet holds at most {limit - 1:,} "
        "below its header; nothing was written: export as csv or parquet, which have no row limit"
    )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(refusals.TooManyRows):
        export_bytes(bundled, "xlsx")
    # The command refuses it as it refuses any incomplete export: exit 1 and one line.
    code = main(["export", "--format", "xlsx", "-o", str(target)])
    err = capsys.readouterr().err
    assert code == 1 and err == f"aifunding export: {caught.value}\n"
    assert not target.exists()
    # A table that fits is written whole, every row on its sheet.
    from openpyxl import load_workbook

    [path] = write_export(bundled, "xlsx", target, tables=("awards", "market_shares"))
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["about", "awards", "market_shares"]
    assert sum(1 for _ in book["awards"].iter_rows()) == limit  # rows counted, header included


def test_xlsx_refuses_a_text_longer_than_a_cell_rather_than_cut_it_short() -> None:
    # openpyxl cuts a longer text to 32,767 characters without a word: an award citing 40 long sources was cut.
    fits = pd.DataFrame({"id": ["a", "b"], "sources": ["x" * 32_767, None], "amount": [Decimal(1), None]})
    refusals.check_cell_texts({"awards": fits})
    long = fits.assign(sources=[None, "x" * 40_848])
    with pytest.raises(refusals.IncompleteExport) as caught:
        refusals.check_cell_texts({"programmes": fits, "awards": long})
    assert str(caught.value) == (
        "the awards table's row 3 holds a sources of 40,848 characters, more than the 32,767 a spreadsheet cell "
        "holds, so a workbook would cut it short; nothing was written: export as csv, json or parquet, which hold "
        "it whole"
    )
    # As written: each control character is a 7-character escape (_x001B_), so 5,000 of them do not fit.
    with pytest.raises(refusals.IncompleteExport) as caught:
        refusals.check_cell_texts({"awards": pd.DataFrame({"note": ["\x1b" * 5_000]}, dtype="str")})
    # 5,000 alone read as less than a cell holds: the length as written is given beside it.
    assert str(caught.value).startswith(
        "the awards table's row 2 holds a note of 5,000 characters (35,000 as a sheet writes them: a control "
        "character takes seven), more than the 32,767 a spreadsheet cell holds"
    )


def test_the_dashboards_workbook_notes_a_text_longer_than_a_cell_where_it_cannot_refuse_in_words(
    tmp_path: Path,
) -> None:
    # A download the dashboard builds when clicked can only fail with Streamlit's "Failed to generate file": the
    # whole package as XLSX said nothing more. The cell says why instead, and the about sheet names it.
    from openpyxl import load_workbook

    tables = minimal_tables()
    tables["awards"][1]["note"] = "\x1b" * 5_000
    package = load_package(write_package(tmp_path / "pkg", tables))
    assert package.report.valid, package.report.summary()
    with pytest.raises(refusals.IncompleteExport, match="holds a note of 5,000 characters"):
        export_bytes(package, "xlsx")
    book = load_workbook(io.BytesIO(export_bytes(package, "xlsx", note_long_texts=True)), read_only=True)
    header, *rows = [list(row) for row in book["awards"].iter_rows(values_only=True)]
    notes = {row[header.index("id")]: row[header.index("note")] for row in rows}
    noted = tables["awards"][1]["id"]
    assert notes[noted] == (
        "[Not shown: 35,000 characters as a spreadsheet writes them, more than a cell holds (32,767). A CSV or JSON "
        "download holds the whole text.]"
    )
    assert all(note is None or len(note) < 1_000 for note in notes.values())
    row = [r[0] for r in rows].index(noted) + 2
    about = dict(book["about"].iter_rows(min_row=2, values_only=True))
    assert about["left out"] == (
        "1 text is longer than a spreadsheet cell holds (32,767 characters), so its cell says so rather than cut it "
        f"short: row {row}, awards.note. CSV and JSON hold it whole."
    )
    # Every other sheet and cell is the refused export's (a package that fits is written as before).
    assert "left out" not in dict(
        load_workbook(io.BytesIO(export_bytes(load_package(write_package(tmp_path / "ok", minimal_tables())), "xlsx")))[
            "about"
        ].iter_rows(min_row=2, values_only=True)
    )


def test_xlsx_keeps_control_characters_as_a_spreadsheet_does(tmp_path: Path) -> None:
    # A NUL or an escape in a text made openpyxl raise mid-export ("could not finish ... please report this"),
    # and a carriage return came back a line feed: each is written as Excel's _xHHHH_ escape, read back whole.
    from openpyxl import load_workbook

    from aifunding.loading.workbook import unescape_text

    tables = minimal_tables()
    tables["organisations"][0]["name_en"] = "Alpha\x1b[2J Cloud"
    tables["awards"][0]["purpose_en"] = "GPU\rcloud _x0041_ \x00 end"
    package = load_package(write_package(tmp_path / "pkg", tables))
    assert package.report.valid, package.report.summary()
    [path] = write_export(package, "xlsx", tmp_path / "all.xlsx")
    sheet = load_workbook(path, read_only=True)["awards"]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    award = dict(zip(header, rows[[r[0] for r in rows].index("award-a")], strict=True))
    assert unescape_text(award["purpose_en"]) == "GPU\rcloud _x0041_ \x00 end"
    assert unescape_text(award[C.RECIPIENTS_EN]).startswith("Alpha\x1b[2J Cloud")


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([Decimal("1.005"), Decimal("1.015"), None, "1.5", 2.5], [Decimal("1.00"), Decimal("1.02"), None, None, None]),
        ([Decimal("-0.005"), Decimal("12345678.125")], [Decimal("-0.00"), Decimal("12345678.12")]),
    ],
)
def test_converted_amounts_are_rounded_to_the_cent_half_to_even(cells: list, expected: list) -> None:
    frame = pd.DataFrame({C.AMOUNT_CONVERTED: pd.Series(cells, index=range(10, 10 + len(cells)), dtype=object)})
    rounded = export._round_converted(frame)[C.AMOUNT_CONVERTED]
    assert rounded.dtype == object and list(rounded.index) == list(range(10, 10 + len(cells)))
    assert [(v, str(v)) if v is not None else None for v in rounded] == [
        (v, str(v)) if v is not None else None for v in expected
    ]


@pytest.mark.parametrize("dtype", ["float64", "object", "str"])
def test_no_converted_amounts_keep_the_type_the_conversion_gave(dtype: str) -> None:
    """A package without awards exports the same Parquet schema as it always did."""
    frame = pd.DataFrame({C.AMOUNT_CONVERTED: pd.Series([], dtype=dtype)})
    assert export._round_converted(frame)[C.AMOUNT_CONVERTED].dtype == frame[C.AMOUNT_CONVERTED].dtype
