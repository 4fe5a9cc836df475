"""The analytical engine's connection and tables: DuckDB (embedded, the default) or Spark, through Ibis.

A package's frames become Arrow tables typed from the row models (amounts exact ``decimal(38, 4)``),
registered in the engine chosen by :func:`engine_name`; the queries are in
:mod:`aifunding.analysis.engine`, conversion's rates in :mod:`aifunding.analysis.engine_fx`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from ibis.backends import BaseBackend

from aifunding import columns as C
from aifunding.analysis.conversion import FxChoice
from aifunding.data.amounts import AMOUNT_DECIMALS
from aifunding.data.frames import TEXT, field_types
from aifunding.data.tables import TABLES_BY_NAME
from aifunding.data.tree import ProgrammeTree
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
        warehouse = tempfile.mkdtemp(prefix="aifunding-spark-")
        _spark_folders.append(warehouse)
        config = {**SPARK_CONFIG, "spark.sql.warehouse.dir": warehouse}
        config["spark.master"] = os.environ.get(SPARK_MASTER_VARIABLE) or config["spark.master"]
        for key, value in config.items():
            builder = builder.config(key, value)
        _spark_session = builder.getOrCreate()
        _spark_session.sparkContext.setLogLevel("ERROR")
    return _spark_session


def stop_spark() -> None:
    """Stops the process's Spark session, if one was started (the next Spark connection starts another), and
    removes the folder it was given as its warehouse."""
    global _spark_session
    if _spark_session is not None:
        _spark_session.stop()
        _spark_session = None
    _remove_spark_folders()


def _remove_spark_folders() -> None:
    """Remove the warehouse folders this process made for Spark (also as it exits: one a run left behind each time)."""
    while _spark_folders:
        shutil.rmtree(_spark_folders.pop(), ignore_errors=True)


_spark_folders: list[str] = []
atexit.register(_remove_spark_folders)


def connect(name: str | None = None, *, database: str = ":memory:") -> BaseBackend:
    """An Ibis backend: DuckDB (nothing to start; in memory, or the file ``database``) or a local Spark session,
    as :func:`engine_name` says."""
    if engine_name(name) == "spark":
        return ibis.pyspark.connect(spark_session())
    con = ibis.duckdb.connect(database)
    # Ibis 12 (with sqlglot below 29) writes list lambdas as "x -> ...", which DuckDB 2 still reads once asked.
    con.raw_sql("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    return con


def _column(values: pd.Series, kind: Any) -> pa.Array | pa.ChunkedArray:
    """One frame column as Arrow: exact decimals, nullable integers, booleans, or text (None where missing).

    A text column the frame already holds in Arrow is handed over as it is (cast to ``string``); any other
    is converted by Arrow from its cells, missing ones found in one pass (a text or a Decimal, NaN
    included, is never missing here), not a Python step per cell: a million awards took 19 s.
    """
    if kind not in (Decimal, int, bool) and values.dtype == TEXT:
        return pa.array(values.array).cast(pa.string())  # pandas hands over its Arrow data without a copy
    cells = values.to_numpy(dtype=object, copy=True)
    missing = pd.isna(cells)
    missing[missing] = [not isinstance(v, (str, Decimal)) for v in cells[missing].tolist()]
    cells[missing] = None
    if kind is Decimal:
        return pa.array(cells, type=AMOUNT_TYPE)
    if kind is int:
        return pa.array(cells, type=pa.int64())
    if kind is bool:
        return pa.array(cells, type=pa.bool_())
    return pa.array([None if v is None else str(v) for v in cells.tolist()], type=pa.string())


def arrow_table(name: str, frame: pd.DataFrame) -> pa.Table:
    """A package frame as an Arrow table typed from its row model (decimal amounts stay exact)."""
    kinds = field_types(TABLES_BY_NAME[name])
    arrays = {column: _column(frame[column], kinds.get(column, str)) for column in frame.columns}
    arrays[POSITION] = pa.array(np.arange(len(frame), dtype=np.int64))
    return pa.table(arrays)


def stored_table(name: str, stored: pa.Table) -> pa.Table:
    """:func:`arrow_table` of a table read as the cache stores it (amounts as text): the same table, by casts.

    Arrow reads an amount's text (``"2.50"``, ``"1E+3"``) into ``decimal(38, 4)`` as ``Decimal`` does, and
    refuses one with more than four places as converting a Decimal does.
    """
    kinds = field_types(TABLES_BY_NAME[name])
    types = {Decimal: AMOUNT_TYPE, int: pa.int64(), bool: pa.bool_()}
    arrays = {
        column: stored.column(column).cast(types.get(kinds.get(column, str), pa.string()))
        for column in stored.column_names
    }
    arrays[POSITION] = pa.array(np.arange(stored.num_rows, dtype=np.int64))
    return pa.table(arrays)


def package_tables(package: Package, columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, pa.Table]:
    """The package's tables as the engine loads them (with ``columns``: those tables and columns).

    A package read back from the cache hands over its stored columns
    (:meth:`aifunding.loading.stored_tables.StoredFrames.arrow`) rather than frames of Decimals: at a million awards
    the engine's columns took 0.34 s against 3.9 s.
    """
    wanted: Mapping[str, Sequence[str] | None] = dict.fromkeys(package.frames) if columns is None else columns
    stored = getattr(package.frames, "arrow", None)
    if callable(stored):
        return {name: stored_table(name, stored(name, names)) for name, names in wanted.items()}
    return {
        name: arrow_table(name, package.frame(name) if names is None else package.frame(name)[list(names)])
        for name, names in wanted.items()
    }


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
    # The rates table of each money choice asked for, made once (``engine_fx.Rates``, see ``engine_fx.fx_rates``).
    rates: dict[FxChoice, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, con: BaseBackend, package: Package, columns: Mapping[str, Sequence[str]] | None = None) -> Tables:
        """Registers the frames of ``package`` and the programme closure (with ``columns``: those tables and columns).

        A query that reads a few columns of a few tables need not copy a million awards' purposes, or the
        million citations it never joins, into the engine.
        """
        prefix = f"aifunding_{uuid.uuid4().hex[:12]}_"
        arrow = package_tables(package, columns)
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


# The widest decimal either engine holds, and an amount's type in it.
MAX_DIGITS = 38
AMOUNT_DTYPE = dt.Decimal(MAX_DIGITS, AMOUNT_DECIMALS)


def small_frame(frame: pd.DataFrame, counts: tuple[str, ...]) -> pd.DataFrame:
    """The frame charts receive: whole-number counts, exact Decimals (None where missing), no index."""
    frame = frame.reset_index(drop=True)
    for column in counts:
        frame[column] = frame[column].astype("int64")
    for column in frame.columns:
        if column not in counts:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame
