"""The analytical engine: the package's tables in DuckDB (embedded, the default) or Spark, queried with Ibis.

Each query is written once, as an Ibis expression, and runs unchanged on either engine; what comes back
is a small pandas frame for charts and tables. Amounts are exact decimals (``decimal(38, 4)``: the data
allows at most 18 digits and 4 decimal places), never floats. The programme tree becomes a table of
(programme, ancestor) pairs, so "an award counts toward every programme above it" is a join.

    con = connect()                      # or connect("spark"), or AIFUNDING_ENGINE=spark
    tables = Tables.load(con, package)
    recipient_totals(tables)             # what metrics.totals_by_recipient(award_view(package)) adds up
    programme_allocations(tables)        # metrics.programme_totals' counts and allocations
    recipient_totals(tables, fx=FxChoice("USD"))       # the same, converted as conversion.convert_frame does
    programme_allocations(tables, fx=FxChoice("USD"))  # with conversion.convert_programmes' columns
    market_shares(tables, countries=("JP",))           # metrics.market_share_view, as the Market page orders it

Conversion joins each amount to a small table of rates, one row per (currency, date) the package
uses, made by :func:`aifunding.analysis.conversion.convert_frame` itself (one unit of each currency at
each date), so the rate, its date and fallbacks, and the reason a figure is not converted are the pandas
path's own. Each product is computed exactly, in a decimal type sized from the package's amounts and
rates; programme allocations are rounded to the cent half to even, as ``convert_programmes`` quantizes.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from ibis.backends import BaseBackend

from aifunding import columns as C
from aifunding.analysis.conversion import NO_AMOUNT_NOTE, FxChoice, convert_frame
from aifunding.analysis.recipients import ROLE_ORDER
from aifunding.data.amounts import AMOUNT_DECIMALS
from aifunding.data.frames import field_types
from aifunding.data.tables import TABLES
from aifunding.data.tree import ProgrammeTree
from aifunding.i18n import translate
from aifunding.loading.package import Package

ENGINE_VARIABLE = "AIFUNDING_ENGINE"
DEFAULT_ENGINE = "duckdb"
ENGINES = ("duckdb", "spark")
# Exact amounts: 18 digits before the point and 4 after fit with room for sums of many rows.
AMOUNT_TYPE = pa.decimal128(38, AMOUNT_DECIMALS)
# The closure of the programme tree: every programme with itself and each programme above it.
CLOSURE = "programme_ancestors"
ANCESTOR_ID = "ancestor_id"
# Each row's place in its file (award_recipients: a joint project's members in their own order).
POSITION = "row_position"
# Spark in one process, on two cores, unless AIFUNDING_SPARK_MASTER names a cluster ("spark://host:7077").
SPARK_MASTER_VARIABLE = "AIFUNDING_SPARK_MASTER"
SPARK_CONFIG = {
    "spark.master": "local[2]",
    "spark.app.name": "aifunding",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # A decimal result too wide for 38 digits fails rather than silently dropping digits after the point.
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
}

_spark_session: Any = None


def engine_name(name: str | None = None) -> str:
    """The engine to use: ``name``, else ``AIFUNDING_ENGINE``, else DuckDB; an unknown one is a ValueError."""
    chosen = (name or os.environ.get(ENGINE_VARIABLE) or DEFAULT_ENGINE).strip().lower()
    if chosen not in ENGINES:
        raise ValueError(f"unknown analytical engine {chosen!r}: choose one of {', '.join(ENGINES)}")
    return chosen


def spark_session() -> Any:
    """One local Spark session per process, made on first use (PySpark and a Java runtime needed)."""
    global _spark_session
    if _spark_session is None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:  # pragma: no cover - depends on the installation
            raise RuntimeError("the Spark engine needs PySpark: pip install 'aifunding[spark]'") from error
        builder = SparkSession.builder
        config = {**SPARK_CONFIG, "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="aifunding-spark-")}
        config["spark.master"] = os.environ.get(SPARK_MASTER_VARIABLE) or config["spark.master"]
        for key, value in config.items():
            builder = builder.config(key, value)
        _spark_session = builder.getOrCreate()
        _spark_session.sparkContext.setLogLevel("ERROR")
    return _spark_session


def stop_spark() -> None:
    """Stops the process's Spark session, if one was started (the next Spark connection starts another)."""
    global _spark_session
    if _spark_session is not None:
        _spark_session.stop()
        _spark_session = None


def connect(name: str | None = None) -> BaseBackend:
    """An Ibis backend: in-memory DuckDB (nothing to start) or a local Spark session, as :func:`engine_name` says."""
    if engine_name(name) == "spark":
        return ibis.pyspark.connect(spark_session())
    con = ibis.duckdb.connect()
    # Ibis 12 (with sqlglot below 29) writes list lambdas as "x -> ...", which DuckDB 2 still reads once asked.
    con.raw_sql("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    return con


def _column(values: pd.Series, kind: Any) -> pa.Array:
    """One frame column as Arrow: exact decimals, nullable integers, booleans, or text (None where missing)."""
    cells = [None if v is None or (not isinstance(v, (str, Decimal)) and pd.isna(v)) else v for v in values]
    if kind is Decimal:
        return pa.array(cells, type=AMOUNT_TYPE)
    if kind is int:
        return pa.array(cells, type=pa.int64())
    if kind is bool:
        return pa.array(cells, type=pa.bool_())
    return pa.array([None if v is None else str(v) for v in cells], type=pa.string())


def arrow_table(name: str, frame: pd.DataFrame) -> pa.Table:
    """A package frame as an Arrow table typed from its row model (decimal amounts stay exact)."""
    kinds = field_types(next(table for table in TABLES if table.name == name))
    arrays = {column: _column(frame[column], kinds.get(column, str)) for column in frame.columns}
    arrays[POSITION] = pa.array(range(len(frame)), type=pa.int64())
    return pa.table(arrays)


def closure_table(tree: ProgrammeTree) -> pa.Table:
    """(programme_id, ancestor_id) for every programme and each programme above it, itself included."""
    pairs = [(pid, up) for pid in tree.parent for up in tree.ancestors(pid)]
    return pa.table(
        {
            C.PROGRAMME_ID: pa.array([p for p, _ in pairs], type=pa.string()),
            ANCESTOR_ID: pa.array([a for _, a in pairs], type=pa.string()),
        }
    )


@dataclass(frozen=True)
class Tables:
    """A package's tables registered in one engine (under names of their own), as Ibis table expressions."""

    con: BaseBackend
    tables: dict[str, ibis.Table]
    # The rates table of each money choice asked for, made once (see :func:`fx_rates`).
    rates: dict[FxChoice, Rates] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, con: BaseBackend, package: Package) -> Tables:
        """Registers every frame of ``package`` and the programme closure in ``con``."""
        prefix = f"aifunding_{uuid.uuid4().hex[:12]}_"
        arrow = {name: arrow_table(name, frame) for name, frame in package.frames.items()}
        arrow[CLOSURE] = closure_table(package.tree)
        return cls(con, {name: register(con, prefix + name, table) for name, table in arrow.items()})

    def __getitem__(self, name: str) -> ibis.Table:
        return self.tables[name]


def register(con: BaseBackend, name: str, table: pa.Table) -> ibis.Table:
    """``table`` as a temporary table of ``con`` called ``name``, exact decimals kept, as an Ibis table."""
    if con.name == "duckdb":
        return con.create_table(name, table, temp=True, overwrite=True)
    # Spark: a temporary view over the Arrow rows, handed to Spark directly (Ibis' own memtable path goes
    # through pandas and fails on a missing decimal; create_table would write to the warehouse).
    session = spark_session()
    session.createDataFrame(table).createOrReplaceTempView(name)
    return con.table(name)


def project_labels(tables: Tables) -> ibis.Table:
    """Each award's project label: recipients lead first (members in file order), "(joint)" when several.

    The same label as :func:`aifunding.analysis.metrics.recipients_by_award`, in English.
    """
    recipients, organisations = tables["award_recipients"], tables["organisations"]
    ranked = recipients.mutate(role_rank=recipients.role.cases(*ROLE_ORDER.items(), else_=len(ROLE_ORDER)))
    named = ranked.left_join(organisations, ranked.organisation_id == organisations.id).select(
        "award_id", "role_rank", ranked[POSITION], name=organisations.name_en.coalesce(ranked.organisation_id)
    )
    grouped = named.group_by("award_id").aggregate(
        # Sorted (role, file position, name) structs rather than an ordered collect, which Spark lacks.
        names=ibis.struct({"rank": named.role_rank, "position": named[POSITION], "name": named["name"]})
        .collect()
        .sort()
        .map(lambda recipient: recipient["name"]),
        n=named.count(),
    )
    joined = grouped.names.join(" + ")
    label = ibis.ifelse(grouped.n > 1, joined + translate("award.joint", "en"), joined)
    return grouped.select("award_id", **{C.PROJECT_LABEL: label})


def awards_with_programme(tables: Tables) -> ibis.Table:
    """Awards with their programme's country and their kind (their own, else their programme's)."""
    awards, programmes = tables["awards"], tables["programmes"]
    joined = awards.left_join(programmes, awards.programme_id == programmes.id)
    return joined.select(
        "id",
        "programme_id",
        "amount",
        "currency",
        "basis",
        "announced",
        **{C.COUNTRY_ID: programmes.country_id, C.KIND: awards.kind.coalesce(programmes.kind)},
    )


def filter_awards(
    tables: Tables,
    countries: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> ibis.Table:
    """Awards of the given countries and kinds (all when empty) announced in [date_from, date_to].

    A partial date ("2024-04") is kept when its span overlaps the range, as the view's date filter does;
    an undated award fails once a bound is set.
    """
    awards = awards_with_programme(tables)
    if countries:
        awards = awards.filter(awards[C.COUNTRY_ID].isin(list(countries)))
    if kinds:
        awards = awards.filter(awards[C.KIND].isin(list(kinds)))
    if date_from is not None:
        # Its last day is on or after date_from: "2024" reads "2024-12-31", "2024-04" reads "2024-04-31"
        # (text order, so a day 31 that April lacks still sorts after every April date and before May's).
        last = awards.announced.concat(ibis.literal("-12-31").substr(awards.announced.length() - 4))
        awards = awards.filter(last >= date_from.isoformat())
    if date_to is not None:
        # Its first day is on or before date_to: "2024" reads "2024-01-01", "2024-04" reads "2024-04-01".
        first = awards.announced.concat(ibis.literal("-01-01").substr(awards.announced.length() - 4))
        awards = awards.filter(first <= date_to.isoformat())
    return awards


def recipient_totals(tables: Tables, awards: ibis.Table | None = None, fx: FxChoice | None = None) -> pd.DataFrame:
    """Per project label and currency: the exact total, the number of awards and of those without an amount.

    ``awards`` is a filtered expression from :func:`filter_awards` (every award when omitted). With ``fx``
    the totals are of the converted amounts, in that one currency, as ``metrics.totals_by_recipient`` adds
    up ``convert_frame``'s columns: an award that could not be converted counts as one without an amount.
    Sorted by total (largest first), then label and currency.
    """
    awards = awards_with_programme(tables) if awards is None else awards
    value, currency = "amount", "currency"
    if fx is not None:
        awards = convert_awards(tables, fx, awards)
        value, currency = C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY
    labels = project_labels(tables)
    rows = awards.left_join(labels, awards.id == labels.award_id)
    scale = rows[value].type().scale or 0
    total_type = dt.Decimal(MAX_DIGITS, scale)
    totals = rows.group_by([C.PROJECT_LABEL, rows[currency].name(C.CURRENCY)]).aggregate(
        **{
            C.TOTAL: rows[value].sum().cast(total_type).coalesce(ibis.literal(Decimal(0), type=total_type)),
            C.N_AWARDS: rows.count(),
            C.N_AWARDS_UNPUBLISHED: rows[value].isnull().sum(),
        }
    )
    ordered = totals.order_by([ibis.desc(C.TOTAL), ibis.asc(C.PROJECT_LABEL), ibis.asc(C.CURRENCY)])
    return _small(ordered.to_pandas(), (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED))


def programme_allocations(tables: Tables, fx: FxChoice | None = None) -> pd.DataFrame:
    """Per programme (descendants included): awards, awards without an amount, and the sum in its currency.

    The currency is the programme's own, or, when it declares none, the one currency its awards with an
    amount share. Awards with an amount in another currency are counted in ``awards_other_currency``.

    With ``fx``, :data:`FX_PROGRAMME_COLUMNS` follow, as ``conversion.convert_programmes`` adds them: the
    programme's own amount converted (exact) with its rate, and its allocation at that same rate, to the
    cent (half to even), when the allocation is in the programme's own currency.
    """
    awards, programmes, closure = tables["awards"], tables["programmes"], tables[CLOSURE]
    up = closure.join(awards, closure[C.PROGRAMME_ID] == awards.programme_id).select(ANCESTOR_ID, "amount", "currency")
    published = up.amount.notnull()
    counts = up.group_by(ANCESTOR_ID).aggregate(
        n=up.count(),
        n_published=published.sum(),
        n_currencies=up.currency.nunique(where=published),
        only_currency=up.currency.min(where=published),
    )
    base = programmes.left_join(counts, programmes.id == counts[ANCESTOR_ID])
    currency = programmes.currency.coalesce(ibis.ifelse(base.n_currencies == 1, base.only_currency, ibis.null()))
    base = base.select(
        programmes.id, n=base.n.coalesce(0), n_published=base.n_published.coalesce(0), allocated_currency=currency
    )
    same = up.join(base, (up[ANCESTOR_ID] == base.id) & (up.currency == base.allocated_currency))
    same = same.filter(same.amount.notnull())
    sums = same.group_by(ANCESTOR_ID).aggregate(allocated=same.amount.sum(), n_same=same.count())
    result = base.left_join(sums, base.id == sums[ANCESTOR_ID]).select(
        **{
            C.PROGRAMME_ID: base.id,
            C.N_AWARDS: base.n,
            C.N_AWARDS_UNPUBLISHED: base.n - base.n_published,
            C.ALLOCATED: sums.allocated.cast(AMOUNT_DTYPE),
            C.ALLOCATED_CURRENCY: base.allocated_currency,
            C.AWARDS_OTHER_CURRENCY: base.n_published - sums.n_same.coalesce(0),
        }
    )
    if fx is not None:
        result = _convert_allocations(tables, fx, result)
    frame = result.order_by(C.PROGRAMME_ID).to_pandas()
    return _small(frame, (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED, C.AWARDS_OTHER_CURRENCY))


# --- Conversion -------------------------------------------------------------------------------------------

# The columns conversion.convert_frame adds, in its order; a programme also gets its converted allocation.
FX_COLUMNS = [C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY, C.FX_RATE, C.FX_RATE_DATE, C.FX_METHOD, C.FX_NOTE]
FX_PROGRAMME_COLUMNS = [*FX_COLUMNS, C.ALLOCATED_CONVERTED]
# The rates table's keys: a figure's currency and date, "" where it has none (so a missing one still joins).
RATE_CURRENCY = "fx_currency_key"
RATE_DATE = "fx_date_key"
# The widest decimal either engine holds.
MAX_DIGITS = 38
AMOUNT_DTYPE = dt.Decimal(MAX_DIGITS, AMOUNT_DECIMALS)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rates:
    """The rates one money choice needs, registered in an engine; ``rate_type`` holds each one exactly."""

    choice: FxChoice
    table: ibis.Table
    rate_type: dt.Decimal


def rate_type(rates: list[Decimal]) -> dt.Decimal:
    """``decimal(38, s)``, s the most decimal places of any rate (at least the amounts' 4).

    The amounts' ``decimal(38, 4)`` times this is ``decimal(38, 4 + s)`` on both engines (Spark without
    precision loss, see :data:`SPARK_CONFIG`): every digit of the product kept, or an overflow error when
    it would need more than 38, never a rounded result.
    """
    places = (max(0, -int(r.normalize().as_tuple().exponent)) for r in rates)
    return dt.Decimal(MAX_DIGITS, max(AMOUNT_DECIMALS, *places))


def fx_rates(tables: Tables, choice: FxChoice) -> Rates:
    """The rate for every (currency, date) of an award or programme with an amount, as the pandas path picks it.

    The rates are ``convert_frame``'s for one unit of each currency at each date (the day's ECB rate or the
    last one before it, a month or year average for a partial date, the reason when there is none), so
    both paths make the same choice. With a fixed date the date plays no part and each currency is one row.
    Made once per money choice and package, registered in its engine: a few thousand rows at most.
    """
    if choice in tables.rates:
        return tables.rates[choice]
    found = []
    for table in (tables["awards"], tables["programmes"]):
        with_amount = table.filter(table.amount.notnull())
        when = ibis.null(str) if choice.fixed else with_amount.announced
        found.append(with_amount.select(currency=with_amount.currency, announced=when).distinct().to_pandas())
    pairs = pd.concat(found, ignore_index=True).astype(object)
    pairs = pairs.where(pairs.notna(), None).drop_duplicates(ignore_index=True)
    units = convert_frame(pairs.assign(amount=Decimal(1)), choice)
    rates = [_none_if_missing(r) for r in units[C.FX_RATE]]
    kind = rate_type([r for r in rates if r is not None])

    def text(column: pd.Series) -> pa.Array:
        return pa.array([None if _none_if_missing(v) is None else str(v) for v in column], type=pa.string())

    arrow = pa.table(
        {
            RATE_CURRENCY: pa.array([c or "" for c in pairs["currency"]], type=pa.string()),
            RATE_DATE: pa.array([d or "" for d in pairs["announced"]], type=pa.string()),
            C.FX_RATE: pa.array(rates, type=pa.decimal128(kind.precision, kind.scale)),
            C.FX_RATE_DATE: text(units[C.FX_RATE_DATE]),
            C.FX_METHOD: text(units[C.FX_METHOD]),
            C.FX_NOTE: text(units[C.FX_NOTE]),
        }
    )
    name = f"aifunding_{uuid.uuid4().hex[:12]}_fx_rates"
    tables.rates[choice] = Rates(choice, register(tables.con, name, arrow), kind)
    return tables.rates[choice]


def _none_if_missing(value: Any) -> Any:
    return None if value is None or (not isinstance(value, (str, Decimal)) and pd.isna(value)) else value


def times_rate(value: ibis.Value, rate: ibis.Value, kind: dt.Decimal) -> ibis.Value:
    """``value`` (a ``decimal(38, 4)`` amount) times a rate of type ``kind``, exactly (see :func:`rate_type`)."""
    return (value.cast(AMOUNT_DTYPE) * rate.cast(kind)).cast(dt.Decimal(MAX_DIGITS, AMOUNT_DECIMALS + kind.scale))


def cents_half_even(value: ibis.Value) -> ibis.Value:
    """``value`` to the cent, a half cent to the even cent (``Decimal.quantize`` with ROUND_HALF_EVEN).

    Written with remainders rather than ``round``, which rounds half away from zero on both engines.
    """
    cent = ibis.literal(CENT, type=dt.Decimal(3, 2))
    half = ibis.literal(CENT / 2, type=dt.Decimal(4, 3))
    rest = value % cent  # the sign of value on DuckDB and on Spark
    down = value - rest  # toward zero, to the cent
    odd = (down % ibis.literal(2 * CENT, type=dt.Decimal(3, 2))) != 0
    away = (rest.abs() > half) | ((rest.abs() == half) & odd)
    step = ibis.ifelse(value < 0, ibis.literal(-CENT, type=dt.Decimal(3, 2)), cent)
    return ibis.ifelse(away, down + step, down).cast(dt.Decimal(MAX_DIGITS, 2))


def _with_rates(figures: ibis.Table, rates: Rates) -> ibis.Table:
    """``figures`` with convert_frame's columns, from a join to the rates table."""
    table = rates.table
    match = figures.currency.coalesce("") == table[RATE_CURRENCY]
    if not rates.choice.fixed:
        match &= figures.announced.coalesce("") == table[RATE_DATE]
    joined = figures.left_join(table, match)
    has = joined.amount.notnull()
    rate = ibis.ifelse(has, joined[C.FX_RATE], ibis.null(rates.rate_type))
    converted = times_rate(joined.amount, rate, rates.rate_type)
    return joined.select(
        *figures.columns,
        **{
            C.AMOUNT_CONVERTED: converted,
            C.CONVERTED_CURRENCY: ibis.literal(rates.choice.currency, type="string"),
            C.FX_RATE: rate,
            C.FX_RATE_DATE: ibis.ifelse(has, joined[C.FX_RATE_DATE], ibis.null(str)),
            C.FX_METHOD: ibis.ifelse(has, joined[C.FX_METHOD], ibis.null(str)),
            C.FX_NOTE: ibis.ifelse(has, joined[C.FX_NOTE], ibis.literal(NO_AMOUNT_NOTE)),
        },
    )


def convert_awards(tables: Tables, fx: FxChoice, awards: ibis.Table | None = None) -> ibis.Table:
    """Awards (every one, or a :func:`filter_awards` expression) with ``convert_frame``'s columns.

    ``amount_converted`` is the exact product of the amount and the rate, unrounded, as in pandas.
    """
    awards = awards_with_programme(tables) if awards is None else awards
    return _with_rates(awards, fx_rates(tables, fx))


def _convert_allocations(tables: Tables, fx: FxChoice, allocations: ibis.Table) -> ibis.Table:
    """Programme allocations with each programme's own amount converted and its allocation at that rate."""
    programmes = tables["programmes"].select("id", "amount", "currency", "announced")
    rates = fx_rates(tables, fx)
    converted = _with_rates(programmes, rates)
    joined = allocations.join(converted, allocations[C.PROGRAMME_ID] == converted.id)
    same = (joined[C.ALLOCATED_CURRENCY] == joined.currency) & joined[C.FX_RATE].notnull()
    at_rate = cents_half_even(times_rate(joined[C.ALLOCATED], joined[C.FX_RATE], rates.rate_type))
    return joined.select(
        *allocations.columns,
        *FX_COLUMNS,
        **{C.ALLOCATED_CONVERTED: ibis.ifelse(same & joined[C.ALLOCATED].notnull(), at_rate, ibis.null())},
    )


# --- Market -----------------------------------------------------------------------------------------------

MARKET_COLUMNS = ("name_en", "name_ja", "country_id", "year_label", "year", "framing")


def linked_ids(tables: Tables, link_table: str, value_column: str, target_column: str) -> ibis.Table:
    """Per target row: the distinct linked ids in the order they first appear in the file (``ids``).

    What :func:`aifunding.analysis.metrics.market_share_view` collects with ``dict.fromkeys``.
    """
    links = tables[link_table]
    links = links.filter(links[target_column].notnull() & links[value_column].notnull())
    firsts = links.group_by([target_column, value_column]).aggregate(first=links[POSITION].min())
    return firsts.group_by(target_column).aggregate(
        ids=ibis.struct({"position": firsts["first"], "id": firsts[value_column]})
        .collect()
        .sort()
        .map(lambda link: link["id"])
    )


def market_shares(tables: Tables, countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each market share with its market's name, country, year and framing, its sources and caveats.

    The frame ``metrics.market_share_view`` makes, kept to ``countries`` (all when empty) as the view
    keeps it, in the order the Market page draws it: newest year first, then market, then file order.
    """
    shares, markets = tables["market_shares"], tables["markets"]
    joined = shares.left_join(markets, shares.market_id == markets.id)
    own = [column for column in shares.columns if column != POSITION]
    market = {
        "market_en": markets.name_en,
        "market_ja": markets.name_ja,
        **{column: markets[column] for column in MARKET_COLUMNS[2:]},
    }
    frame = joined.select(*(shares[column] for column in own), shares[POSITION], **market)
    if countries:
        frame = frame.filter(frame.country_id.isin(list(countries)))
    for column, link_table, value_column in (
        (C.SOURCE_IDS, "citations", "source_id"),
        (C.CAVEAT_IDS, "caveat_links", "caveat_id"),
    ):
        links = linked_ids(tables, link_table, value_column, "market_share_id")
        frame = frame.left_join(links, frame.id == links.market_share_id).select(*frame.columns, **{column: links.ids})
    ordered = frame.order_by([ibis.desc("year"), ibis.asc("market_id"), ibis.asc(POSITION)]).drop(POSITION)
    result = _small(ordered.to_pandas(), ())
    for column, kind in ordered.schema().items():
        if kind.is_integer():  # a rank, a year: whole numbers, not the floats a column with gaps becomes
            result[column] = pd.Series([None if v is None else int(v) for v in result[column]], dtype=object)
    for column in (C.SOURCE_IDS, C.CAVEAT_IDS):
        result[column] = pd.Series([tuple(ids) if ids is not None else () for ids in result[column]], dtype=object)
    return result


def _small(frame: pd.DataFrame, counts: tuple[str, ...]) -> pd.DataFrame:
    """The frame charts receive: whole-number counts, exact Decimals (None where missing), no index."""
    frame = frame.reset_index(drop=True)
    for column in counts:
        frame[column] = frame[column].astype("int64")
    for column in frame.columns:
        if column not in counts:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame
