"""The analytical engine: the package's tables in DuckDB (embedded, the default) or Spark, queried with Ibis.

Each query is written once, as an Ibis expression, and runs unchanged on either engine; what comes back
is a small pandas frame for charts and tables. Amounts are exact decimals (``decimal(38, 4)``: the data
allows at most 18 digits and 4 decimal places), never floats. The programme tree becomes a table of
(programme, ancestor) pairs, so "an award counts toward every programme above it" is a join.

    con = connect()                      # or connect("spark"), or AIFUNDING_ENGINE=spark
    tables = Tables.load(con, package)
    recipient_totals(tables)             # what metrics.totals_by_recipient(award_view(package)) adds up
    programme_allocations(tables)        # metrics.programme_totals' counts and allocations
"""

from __future__ import annotations

import datetime
import os
import tempfile
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from ibis.backends import BaseBackend

from aifunding import columns as C
from aifunding.analysis.metrics import ROLE_ORDER
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

    @classmethod
    def load(cls, con: BaseBackend, package: Package) -> Tables:
        """Registers every frame of ``package`` and the programme closure in ``con``."""
        prefix = f"aifunding_{uuid.uuid4().hex[:12]}_"
        arrow = {name: arrow_table(name, frame) for name, frame in package.frames.items()}
        arrow[CLOSURE] = closure_table(package.tree)
        return cls(con, {name: _register(con, prefix + name, table) for name, table in arrow.items()})

    def __getitem__(self, name: str) -> ibis.Table:
        return self.tables[name]


def _register(con: BaseBackend, name: str, table: pa.Table) -> ibis.Table:
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


def recipient_totals(tables: Tables, awards: ibis.Table | None = None) -> pd.DataFrame:
    """Per project label and currency: the exact total, the number of awards and of those without an amount.

    ``awards`` is a filtered expression from :func:`filter_awards` (every award when omitted). Sorted by
    total (largest first), then label and currency.
    """
    awards = awards_with_programme(tables) if awards is None else awards
    labels = project_labels(tables)
    rows = awards.left_join(labels, awards.id == labels.award_id)
    totals = rows.group_by([C.PROJECT_LABEL, C.CURRENCY]).aggregate(
        **{
            C.TOTAL: rows.amount.sum().coalesce(ibis.literal(Decimal(0), type=AMOUNT_TYPE)),
            C.N_AWARDS: rows.count(),
            C.N_AWARDS_UNPUBLISHED: rows.amount.isnull().sum(),
        }
    )
    ordered = totals.order_by([ibis.desc(C.TOTAL), ibis.asc(C.PROJECT_LABEL), ibis.asc(C.CURRENCY)])
    return _small(ordered.to_pandas(), (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED))


def programme_allocations(tables: Tables) -> pd.DataFrame:
    """Per programme (descendants included): awards, awards without an amount, and the sum in its currency.

    The currency is the programme's own, or, when it declares none, the one currency its awards with an
    amount share. Awards with an amount in another currency are counted in ``awards_other_currency``.
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
            C.ALLOCATED: sums.allocated,
            C.ALLOCATED_CURRENCY: base.allocated_currency,
            C.AWARDS_OTHER_CURRENCY: base.n_published - sums.n_same.coalesce(0),
        }
    )
    frame = result.order_by(C.PROGRAMME_ID).to_pandas()
    return _small(frame, (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED, C.AWARDS_OTHER_CURRENCY))


def _small(frame: pd.DataFrame, counts: tuple[str, ...]) -> pd.DataFrame:
    """The frame charts receive: whole-number counts, exact Decimals (None where missing), no index."""
    frame = frame.reset_index(drop=True)
    for column in counts:
        frame[column] = frame[column].astype("int64")
    for column in frame.columns:
        if column not in counts:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame
