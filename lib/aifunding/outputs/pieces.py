"""The tidy tables of a package validated in pieces (:mod:`aifunding.loading.spilling`), made a piece at a time.

A package too large to hold never becomes frames: its awards, recipients, citations and organisations stay in the
Parquet files its validation spilled, which DuckDB reads. The programmes' totals are added up by DuckDB, one group of
awards at a time (a programme, a currency, a basis, with or without an amount), and gathered up the tree as they are
award by award (:func:`~aifunding.analysis.metrics.programme_totals_of_groups`); the market shares take the
organisations they name; and the awards are made :data:`AWARDS_PER_PIECE` at a time, each piece with its recipients,
their organisations and its citations, by the exporter that makes them whole
(:func:`~aifunding.outputs.export.export_awards`), and written one after another: CSV and JSON, the same bytes as an
export in memory. Parquet and XLSX are written from a table whole, and are not made this way.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import pandas as pd

from aifunding.analysis.allocation import AwardGroup, programme_totals_of_groups
from aifunding.analysis.conversion import FxChoice
from aifunding.data.tables import TABLES
from aifunding.loading.package import Package
from aifunding.loading.spilling import Pieces
from aifunding.outputs.export import EXPORT_TABLES, export_awards, export_market_shares, export_programmes, write_export
from aifunding.outputs.writers import Rows

# Awards made and written at once: a hundred thousand awards' table is about 100 MB, and making and writing it
# takes about as much again; a budget under 2 GB makes fewer at once (one for every 20 KB of it).
AWARDS_PER_PIECE = 100_000
AWARD_BYTES = 20_000


def awards_per_piece(memory: int) -> int:
    """How many awards are made and written at once within ``memory`` bytes (DuckDB's share included)."""
    return max(1_000, min(AWARDS_PER_PIECE, memory // AWARD_BYTES))


# The formats written a piece of rows at a time.
PIECE_FORMATS = ("csv", "json")


class _Frames(dict[str, pd.DataFrame]):
    """A package's frames, some of them only the rows an exporter reads, with every table's count of rows."""

    def __init__(self, frames: Mapping[str, pd.DataFrame], counts: Mapping[str, int]) -> None:
        super().__init__(frames)
        self.counts = dict(counts)

    def rows(self, name: str) -> int:
        return self.counts[name]


def write_export_in_pieces(
    pieces: Pieces,
    fmt: str,
    out: Path,
    fx: FxChoice | None = None,
    tables: tuple[str, ...] = EXPORT_TABLES,
    generated_at: datetime.datetime | None = None,
    awards_per_piece: int = AWARDS_PER_PIECE,
) -> list[Path]:
    """:func:`~aifunding.outputs.export.write_export` of the package validated in ``pieces``, in CSV or JSON.

    Raises:
        ValueError: for another format.
    """
    if fmt not in PIECE_FORMATS:
        raise ValueError(f"{fmt} is written from a table whole, not in pieces: use {' or '.join(PIECE_FORMATS)}")
    package = _tables_read_whole(pieces)
    made: dict[str, Rows] = {}
    for name in dict.fromkeys(tables):
        if name == "programmes":
            made[name] = export_programmes(package, fx, None, _programme_totals(pieces, package))
        elif name == "market_shares":
            made[name] = export_market_shares(package, fx)
        else:
            made[name] = _awards(pieces, package, fx, awards_per_piece)
    return write_export(package, fmt, out, fx, tables, generated_at, made=made)


def _tables_read_whole(pieces: Pieces) -> Package:
    """The package with the tables held whole, and of those read in pieces what the programmes and the market
    shares read: the citations of anything but an award, the organisations a share names; no award, no recipient."""
    wanted = {
        "awards": "FALSE",
        "award_recipients": "FALSE",
        "citations": "award_id IS NULL",
        "organisations": "id IN (SELECT organisation_id FROM market_shares)",
    }
    frames = {
        table.name: pieces.held[table.name].values
        if table.name in pieces.held
        else pieces.table(table.name, wanted[table.name])
        for table in TABLES
    }
    return Package(pieces.root, pieces.descriptor, _Frames(frames, pieces.counts), pieces.report)


def _programme_totals(pieces: Pieces, package: Package) -> pd.DataFrame:
    """The programmes' totals of the awards' groups: exact, as the awards added one by one give them.

    Raises:
        ValueError: should a sum need more digits than the decimal context keeps: the awards one by one would be
            rounded then, in an order the groups do not keep.
    """
    with decimal.localcontext() as context:
        context.traps[decimal.Inexact] = True
        try:
            return programme_totals_of_groups(package.frame("programmes"), award_groups(pieces), package.tree)
        except decimal.Inexact:
            raise ValueError(
                f"the awards beneath a programme add up to more digits than the {context.prec} the decimal context "
                "keeps: export the package in memory"
            ) from None


def award_groups(pieces: Pieces) -> list[AwardGroup]:
    """The awards added up by programme, currency, basis and whether they have an amount, in the order of each group's
    first award; each sum exact (DuckDB's decimals), written to the places of its most precise amount, as Decimal
    adds them."""
    rows = pieces.con.execute(
        """
        SELECT programme_id, currency, basis, count(*), sum(CAST(amount AS DECIMAL(38, 4))),
            max(CASE WHEN strpos(amount, '.') > 0 THEN length(amount) - strpos(amount, '.') ELSE 0 END), min(_row)
        FROM awards GROUP BY programme_id, currency, basis, amount IS NULL ORDER BY min(_row)
        """
    ).fetchall()
    groups = []
    for pid, currency, basis, count, total, places, first in rows:
        exact = None if total is None else Decimal(total).quantize(Decimal(1).scaleb(-int(places)), context=_EXACT)
        groups.append(AwardGroup(pid, currency, basis, int(count), exact, int(first)))
    return groups


# Enough digits for any sum of amounts (each under 10^18, to 4 places): DuckDB's sums are taken as they are.
_EXACT = decimal.Context(prec=60)


def _awards(pieces: Pieces, package: Package, fx: FxChoice | None, per_piece: int) -> Iterator[pd.DataFrame]:
    """The awards' export table, a piece of ``per_piece`` awards at a time (one piece, if empty, for its columns)."""
    count = pieces.counts["awards"]
    for start in range(0, max(count, 1), per_piece):
        chosen = f"SELECT id FROM awards WHERE _row >= {start} AND _row < {start + per_piece}"
        frames = dict(package.frames)
        frames["awards"] = pieces.table("awards", f"_row >= {start} AND _row < {start + per_piece}")
        frames["award_recipients"] = pieces.table("award_recipients", f"award_id IN ({chosen})")
        frames["citations"] = pieces.table("citations", f"award_id IN ({chosen})")
        named = f"SELECT organisation_id FROM award_recipients WHERE award_id IN ({chosen})"
        frames["organisations"] = pieces.table("organisations", f"id IN ({named})")
        piece = Package(package.path, package.descriptor, frames, package.report)
        piece.__dict__["tree"] = package.tree  # the programmes' tree, worked out once
        yield export_awards(piece, fx)
