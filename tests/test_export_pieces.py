"""Exports of a package validated in pieces (aifunding.outputs.pieces): the same bytes as the export in memory.

The awards are made a few at a time and the tables that grow with them read a record or two at a time, so that every
piece boundary is crossed; the programmes' totals come from DuckDB's groups of awards, gathered up the tree.
"""

from __future__ import annotations

import datetime
import decimal
from decimal import Decimal
from pathlib import Path

import pytest

from aifunding import BUNDLED_DATA
from aifunding.analysis.allocation import AwardGroup, programme_totals_of_groups
from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.metrics import programme_totals
from aifunding.cli import main
from aifunding.loading.package import Package, load_package
from aifunding.loading.spilling import validated_within
from aifunding.outputs.export import write_export
from aifunding.outputs.pieces import award_groups, awards_per_piece, write_export_in_pieces

from packages import generate, minimal_tables, rounding_ceiling_tables, write_package

AT = datetime.datetime(2026, 12, 6, 9, 30, tzinfo=datetime.UTC)
USD = FxChoice(currency="USD", at="announcement")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated") / "package"
    generate(1200, folder, seed=7)
    return folder


def same_export(folder: Path, fmt: str, out: Path, fx: FxChoice | None = None, **options) -> list[Path]:
    """Export ``folder`` in pieces and in memory; the files are the same, byte for byte."""
    tables = options.pop("tables", ("programmes", "awards", "market_shares"))
    name = "export.json" if fmt == "json" else "tables"
    with validated_within(folder, 1, piece_bytes=300) as within:
        assert within.pieces is not None, within.bounded.why
        written = write_export_in_pieces(within.pieces, fmt, out / "pieces" / name, fx, tables, AT, **options)
    expected = write_export(load_package(folder), fmt, out / "memory" / name, fx, tables, AT)
    assert [path.name for path in written] == [path.name for path in expected]
    for mine, theirs in zip(written, expected, strict=True):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
    return written


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("fx", [None, USD], ids=["original", "usd"])
def test_the_bundled_package_in_pieces(fmt: str, fx: FxChoice | None, tmp_path: Path) -> None:
    same_export(BUNDLED_DATA, fmt, tmp_path, fx, awards_per_piece=4)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_generated_package_in_pieces(fmt: str, generated: Path, tmp_path: Path) -> None:
    written = same_export(generated, fmt, tmp_path, USD if fmt == "json" else None, awards_per_piece=97)
    assert sum(path.stat().st_size for path in written) > 500_000


def test_one_table_in_pieces_of_one_award(tmp_path: Path) -> None:
    same_export(BUNDLED_DATA, "csv", tmp_path, tables=("awards",), awards_per_piece=1)


def test_a_package_with_errors_in_pieces(tmp_path: Path) -> None:
    """Errors of the package rules leave every row in: the export of the valid rows is the whole package's."""
    tables = minimal_tables()
    tables["citations"] = [c for c in tables["citations"] if c.get("award_id") != "award-a"]
    folder = write_package(tmp_path / "package", tables)
    assert not load_package(folder).report.valid
    same_export(folder, "json", tmp_path, awards_per_piece=1)


def test_no_awards_in_pieces(tmp_path: Path) -> None:
    tables = minimal_tables()
    for name in ("awards", "award_recipients", "milestones", "caveat_links"):
        tables[name] = []
    tables["citations"] = [c for c in tables["citations"] if not (c.get("award_id") or c.get("milestone_id"))]
    folder = write_package(tmp_path / "package", tables)
    same_export(folder, "csv", tmp_path)


def test_parquet_and_xlsx_are_not_written_in_pieces(tmp_path: Path) -> None:
    with validated_within(BUNDLED_DATA, 1, piece_bytes=300) as within:
        assert within.pieces is not None
        for fmt in ("parquet", "xlsx"):
            with pytest.raises(ValueError, match="use csv or json"):
                write_export_in_pieces(within.pieces, fmt, tmp_path / "out")


def _groups_of(package: Package) -> list[AwardGroup]:
    """The awards' groups made in Python, as DuckDB makes them."""
    groups: dict[tuple, AwardGroup] = {}
    awards = package.frame("awards")
    for row, (pid, currency, basis, amount) in enumerate(
        zip(*(awards[c].tolist() for c in ("programme_id", "currency", "basis", "amount")), strict=True)
    ):
        currency = currency if isinstance(currency, str) else None
        basis = basis if isinstance(basis, str) else None
        key = (pid, currency, basis, amount is None)
        known = groups.get(key)
        if known is None:
            groups[key] = AwardGroup(pid, currency, basis, 1, amount, row)
        else:
            total = None if amount is None else known.total + amount
            groups[key] = AwardGroup(pid, currency, basis, known.count + 1, total, known.first)
    return list(groups.values())


@pytest.mark.parametrize("which", ["bundled", "generated"])
def test_programme_totals_of_groups_are_the_awards(which: str, generated: Path) -> None:
    package = load_package(BUNDLED_DATA if which == "bundled" else generated)
    programmes = package.frame("programmes")
    by_award = programme_totals(programmes, package.frame("awards"), package.tree)
    of_groups = programme_totals_of_groups(programmes, reversed(_groups_of(package)), package.tree)
    assert of_groups.to_dict("records") == by_award.to_dict("records")


def test_programme_totals_the_context_would_round_are_refused(tmp_path: Path) -> None:
    """Round-1's awards add up to 999999.8, seven digits: in a context of six, the awards added one by one round (in
    their order); the groups refuse rather than round in another."""
    folder = write_package(tmp_path / "package", rounding_ceiling_tables())
    with validated_within(folder, 1, piece_bytes=300) as within:
        assert within.pieces is not None
        assert [group.total for group in award_groups(within.pieces)] == [Decimal("999999"), Decimal("0.8")]
        with decimal.localcontext(prec=6), pytest.raises(ValueError, match="more digits than the 6 the decimal"):
            write_export_in_pieces(within.pieces, "csv", tmp_path / "out", tables=("programmes",))


# The command.


def test_export_within_memory_writes_the_same_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["export", "--data", str(BUNDLED_DATA), "--format", "csv", "--currency", "EUR"]
    assert main([*common, "-o", str(tmp_path / "memory")]) == 0
    assert main([*common, "--memory", "1", "-o", str(tmp_path / "pieces")]) == 0
    assert "aifunding export: validated in pieces within" in capsys.readouterr().err
    for path in sorted((tmp_path / "memory").iterdir()):
        assert (tmp_path / "pieces" / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--format", "parquet"], "--memory writes csv or json"),
        (["--format", "xlsx", "--package"], "leave out --memory"),
    ],
)
def test_export_within_memory_refuses_what_needs_a_table_whole(
    options: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--memory", "1GB", *options, "-o", str(tmp_path / "out")]) == 2
    assert said in capsys.readouterr().err


def test_fewer_awards_at_once_within_less_memory() -> None:
    gb = 1024**3
    assert awards_per_piece(4 * gb) == awards_per_piece(2 * gb) == 100_000
    assert awards_per_piece(gb) == gb // 20_000
    assert awards_per_piece(1) == 1_000
