"""The analytical engine's totals as files: ``aifunding query`` runs them on DuckDB or Spark.

The same Ibis queries the engine's tests hold to the pandas path (:mod:`aifunding.analysis.engine`),
asked from the command line: totals per recipient of the awards a filter keeps, each programme's
allocation (every award under it added up), or the market shares, in original currencies or converted
at ECB rates. DuckDB runs them in the process; ``--engine spark`` (or ``AIFUNDING_ENGINE=spark``) sends
them to Spark, in local mode or the cluster ``AIFUNDING_SPARK_MASTER`` names. The rows come back as a
small frame and are written as the exports write theirs: CSV cells neutralised for spreadsheets, JSON
amounts as exact decimal text.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, BinaryIO

import pandas as pd

from aifunding import columns as C
from aifunding.analysis import engine
from aifunding.analysis.conversion import CENTS, FxChoice
from aifunding.analysis.engine_view import recipient_totals_by_basis
from aifunding.analysis.totals import KINDS, ROUNDED_CEILING, basis_names, basis_parts, split_columns
from aifunding.data.amounts import decimal_text
from aifunding.data.vocabulary import SupportKind
from aifunding.loading.package import Package
from aifunding.outputs.writers import write_csv, write_json

QUERIES = ("recipients", "programmes", "markets")
# What names a programme beside its allocation (its own row's columns, before the engine's counts).
PROGRAMME_COLUMNS = ("name_en", "country_id", "kind", "level", "amount", "currency", "basis")


class QueryError(ValueError):
    """A query asked for something it cannot do (a filter its rows do not have): one line, exit 2."""


@dataclass(frozen=True)
class Query:
    """Which totals, of which rows, in which money."""

    what: str
    countries: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    fx: FxChoice | None = None

    def check(self) -> None:
        """A filter or conversion the rows of :attr:`what` cannot take is a :class:`QueryError`."""
        if self.what not in QUERIES:
            raise QueryError(f"unknown query {self.what!r}: choose one of {', '.join(QUERIES)}")
        if self.what != "recipients" and (self.date_from or self.date_to):
            why = {
                "programmes": "a programme's allocation adds every award under it",
                "markets": "a market share is of a year, not of an announcement",
            }[self.what]
            raise QueryError(
                f"--from and --to keep awards by their announcement date: they apply to recipients, not {self.what} "
                f"({why})"
            )
        if self.what == "markets" and (self.kinds or self.fx):
            raise QueryError("market shares are percentages of a market: --kind and --currency do not apply")

    def filters(self) -> str:
        """The filters in words, for the JSON file's about block."""
        words = [f"countries {', '.join(self.countries)}"] if self.countries else []
        words += [f"kinds {', '.join(self.kinds)}"] if self.kinds else []
        words += [f"announced from {self.date_from.isoformat()}"] if self.date_from else []
        words += [f"announced to {self.date_to.isoformat()}"] if self.date_to else []
        return "; ".join(words) or "none"


def run_query(package: Package, query: Query, engine_choice: str | None = None) -> pd.DataFrame:
    """``query`` on ``package``'s tables in the engine chosen (``AIFUNDING_ENGINE``, else DuckDB)."""
    query.check()
    _check_filters(package, query)
    con = engine.connect(engine_choice)
    try:
        tables = engine.Tables.load(con, package)
        if query.what == "recipients":
            awards = engine.filter_awards(tables, query.countries, query.kinds, query.date_from, query.date_to)
            totals = _recipients(recipient_totals_by_basis(tables, awards, query.fx))
            return _plain_amounts(totals, set(totals.columns) if query.fx else set())
        if query.what == "programmes":
            allocations = _split(engine.programme_allocations(tables, fx=query.fx, by_basis=True))
            return _plain_amounts(_programmes(package, allocations, query), {C.AMOUNT_CONVERTED})
        shares = _plain_amounts(_plain_ids(engine.market_shares(tables, query.countries)), set())
        # A rank is a whole number (2, not 2.0) or none, as the export writes it.
        shares["rank"] = shares["rank"].astype("Int64")
        return shares
    finally:
        if con.name == "duckdb":
            con.disconnect()


def _check_filters(package: Package, query: Query) -> None:
    """A country the package does not have, or a kind of support there is not, is a :class:`QueryError`: a typo
    (``--country XX``) gave a file of no rows, which reads as no awards."""
    countries = sorted(package.frame("countries")["id"].astype(str))
    for country in query.countries:
        if country not in countries:
            raise QueryError(f"--country {country}: not a country of the package (it has {', '.join(countries)})")
    kinds = [kind.value for kind in SupportKind]
    for kind in query.kinds:
        if kind not in kinds:
            raise QueryError(f"--kind {kind}: not a kind of support (one of {', '.join(kinds)})")


# A total of several kinds of basis is never one number ("¥600M + up to about ¥56.9B" on the dashboard): a recipient's
# total, or a programme's allocation, is written only when its awards share one kind, named in ``<total>_basis``
# ("mixed" when they do not), and each kind's sum has a column of its own, as the exports split an allocation.
RECIPIENT_SPLIT = split_columns(C.TOTAL)
PROGRAMME_SPLIT = split_columns(C.ALLOCATED)


def _kinds(frame: pd.DataFrame, prefix: str) -> list[dict[str, Decimal]]:
    """Each row's sums by kind of basis (a rounded ceiling's as "up_to_about"), from ``<prefix><kind>`` columns."""
    named = frame.rename(columns={f"{prefix}{kind}": kind for kind in KINDS})
    return [basis_parts(row) for row in named[[*KINDS, ROUNDED_CEILING]].to_dict(orient="records")]


def _recipients(totals: pd.DataFrame) -> pd.DataFrame:
    """Per recipient and currency: its total when its awards share one kind of basis, that kind, each kind's sum."""
    parts = _kinds(totals, "")
    return pd.DataFrame(
        {
            C.PROJECT_LABEL: totals[C.PROJECT_LABEL],
            C.CURRENCY: totals[C.CURRENCY],
            # None of its awards has an amount (or, converted, a rate): no total, an empty cell, never 0.
            C.TOTAL: pd.Series([next(iter(p.values())) if len(p) == 1 else None for p in parts], dtype=object),
            f"{C.TOTAL}_basis": basis_names(parts),
            **{
                column: pd.Series([p.get(kind) for p in parts], dtype=object)
                for kind, column in RECIPIENT_SPLIT.items()
            },
            C.N_AWARDS: totals[C.N_AWARDS],
            C.N_AWARDS_UNPUBLISHED: totals[C.N_AWARDS_UNPUBLISHED],
        }
    )


def _split(allocations: pd.DataFrame) -> pd.DataFrame:
    """Each programme's allocation kept only when its awards share one kind of basis (converted too), then
    ``allocated_basis`` and each kind's sum, as the export writes them."""
    parts = _kinds(allocations, f"{C.ALLOCATED}_")
    single = pd.Series([len(p) == 1 for p in parts], index=allocations.index)
    frame = allocations.drop(columns=[*(f"{C.ALLOCATED}_{kind}" for kind in KINDS), ROUNDED_CEILING])
    for column in (C.ALLOCATED, C.ALLOCATED_CONVERTED):
        if column in frame:
            frame[column] = frame[column].astype(object).where(single, None)
    at = list(frame.columns).index(C.ALLOCATED) + 1
    frame.insert(at, C.ALLOCATED_BASIS, basis_names(parts))
    for offset, (kind, column) in enumerate(PROGRAMME_SPLIT.items(), start=1):
        frame.insert(at + offset, column, pd.Series([p.get(kind) for p in parts], index=frame.index, dtype=object))
    return frame


def _programmes(package: Package, allocations: pd.DataFrame, query: Query) -> pd.DataFrame:
    """Each programme's allocation after its name, country and kind, kept to the countries and kinds asked."""
    programmes = package.frame("programmes").set_index("id")
    named = programmes.loc[allocations[C.PROGRAMME_ID], list(PROGRAMME_COLUMNS)].reset_index(drop=True)
    frame = pd.concat([allocations[[C.PROGRAMME_ID]], named, allocations.drop(columns=C.PROGRAMME_ID)], axis=1)
    keep = pd.Series(True, index=frame.index)
    if query.countries:
        keep &= frame["country_id"].isin(query.countries)
    if query.kinds:
        keep &= frame["kind"].isin(query.kinds)
    return frame[keep.to_numpy(dtype=bool)].reset_index(drop=True)


def _plain_amounts(frame: pd.DataFrame, converted: set[str]) -> pd.DataFrame:
    """Amounts as the exports write them: converted ones to the cent (half to even), others as published.

    The engine keeps every digit of a product (a rate has up to 17); the exports round converted amounts
    to the cent ("376248728.20"), and write "387300000000" for an amount the engine holds as
    387300000000.0000.
    """
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object or not any(isinstance(v, Decimal) for v in values.tolist()):
            continue
        if column in converted:
            frame[column] = values.map(lambda v: v.quantize(CENTS, ROUND_HALF_EVEN) if isinstance(v, Decimal) else v)
        else:
            frame[column] = values.map(lambda v: Decimal(decimal_text(v)) if isinstance(v, Decimal) else v)
    return frame


def _plain_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Id lists (a share's sources and caveats) as "a; b" text, as a CSV cell holds them."""
    for column in (C.SOURCE_IDS, C.CAVEAT_IDS):
        if column in frame:
            frame[column] = frame[column].map(lambda ids: "; ".join(ids))
    return frame


def about(package: Package, query: Query, engine_used: str) -> dict[str, Any]:
    """What a JSON file of a query holds and how it was made."""
    conversion = (
        "no conversion: amounts in their original currencies"
        if query.fx is None
        else f"converted to {query.fx.currency} at ECB reference rates "
        + ("on each announcement date" if not query.fx.fixed else f"of {query.fx.at}")
    )
    return {
        "query": query.what,
        "engine": engine_used,
        "package": package.name,
        "filters": query.filters(),
        "conversion": conversion,
        "validation": package.report.summary(),
    }


def write_query(handle: BinaryIO, fmt: str, frame: pd.DataFrame, about_block: dict[str, Any], name: str) -> None:
    """The rows as CSV (header, then rows) or as JSON (``{"about": ..., name: [records]}``)."""
    if fmt == "csv":
        write_csv(handle, frame)
    else:
        write_json(handle, about_block, [(name, frame)])
