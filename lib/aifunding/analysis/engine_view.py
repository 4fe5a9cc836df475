"""The dashboard's queries on the analytical engine: the awards a view keeps, and each recipient's totals.

A view's filters (countries, programmes with everything inside them, kinds, recipients, announcement
dates) become one Ibis expression over the package's tables, so the same query runs on DuckDB, embedded,
or on Spark (``AIFUNDING_ENGINE``). Each recipient's total is kept apart by kind of basis, as every total
on the dashboard is ("¥0.6B + up to about ¥56.9B"): a ceiling is never added to money granted. What comes
back is one small row per recipient and currency.

    engine = ViewEngine(package)                 # the tables are loaded into the engine on first use
    engine.recipients(ViewState(countries=("JP",), currency="USD", lang="ja"))
"""

from __future__ import annotations

import hashlib
import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding import columns as C
from aifunding.analysis.cached_views import PREPARING_SOURCES
from aifunding.analysis.engine import (
    awards_with_programme,
    convert_awards,
    filter_awards,
    fold_unpriced,
    project_labels,
)
from aifunding.analysis.engine_tables import (
    ANCESTOR_ID,
    CLOSURE,
    MAX_DIGITS,
    Tables,
    closure_table,
    connect,
    package_tables,
    small_frame,
)
from aifunding.analysis.totals import KINDS, ROUNDED_CEILING
from aifunding.analysis.view import ViewState
from aifunding.data.vocabulary import Basis
from aifunding.i18n import LANGUAGES
from aifunding.loading.cache import PackageCache
from aifunding.loading.keys import source_digest
from aifunding.loading.package import Package

log = logging.getLogger(__name__)

# The tables and columns the view's queries read (with the programme tree's closure, always loaded): at a
# million awards, copying every column of every table into DuckDB took 5.7 s; these four tables whole, 3.4 s;
# these columns, 1.7 s (on a machine busy with other work).
VIEW_COLUMNS = {
    "awards": ("id", "programme_id", "kind", "amount", "currency", "basis", "announced"),
    "programmes": ("id", "parent_id", "country_id", "kind", "amount", "currency", "announced"),
    "award_recipients": ("award_id", "organisation_id", "role"),
    "organisations": ("id", "name_en", "name_ja"),
}
RECIPIENT_COLUMNS = (C.PROJECT_LABEL, C.CURRENCY, *KINDS, ROUNDED_CEILING, C.N_AWARDS, C.N_AWARDS_UNPUBLISHED)
# DuckDB's tables of a package are kept in its cache entry as a database file (``engine-<code>.duckdb``), which a
# restart attaches read-only: the tables and one language's labelled awards without loading or joining anything.
ENGINE_FILE, ENGINE_SUFFIX = "engine", ".duckdb"
KEPT = "kept"  # the name the kept file is attached under
LABELLED = "labelled_awards_"  # + the language: the awards joined once (see ViewEngine._view)


def engine_digest() -> str:
    """What the kept file depends on besides the package: the code that fills it (the prepared views' code, whose
    labels the engine's must equal, with its messages, and the tables' types), and the versions of DuckDB (the
    file's format), Ibis and sqlglot (the SQL that made the labelled awards)."""
    import duckdb
    import sqlglot

    code = source_digest(*PREPARING_SOURCES, "data/models.py", "data/frames.py", "loading/stored_*.py")
    versions = f"duckdb {duckdb.__version__}/ibis {ibis.__version__}/sqlglot {sqlglot.__version__}"
    return hashlib.sha256(f"{code}/{versions}".encode()).hexdigest()


def view_awards(tables: Tables, state: ViewState, awards: ibis.Table | None = None) -> ibis.Table:
    """The awards ``state`` keeps, as :func:`aifunding.analysis.view.apply_view` keeps them.

    A programme keeps the awards of every programme inside it (the tree's closure); a recipient keeps the
    awards it has a part in, a joint project's included. ``awards``: as :func:`filter_awards` takes them.
    """
    awards = filter_awards(tables, state.countries, state.kinds, state.date_from, state.date_to, awards)
    if state.programmes:
        closure = tables[CLOSURE]
        inside = closure.filter(closure[ANCESTOR_ID].isin(list(state.programmes)))[C.PROGRAMME_ID]
        awards = awards.filter(awards.programme_id.isin(inside))
    if state.organisations:
        links = tables["award_recipients"]
        receiving = links.filter(links.organisation_id.isin(list(state.organisations))).award_id
        awards = awards.filter(awards.id.isin(receiving))
    return awards


def _grouped_totals(
    tables: Tables, awards: ibis.Table, fx: Any = None, lang: str = "en", labels: ibis.Table | None = None
) -> ibis.Table:
    """:func:`recipient_totals_by_basis`' rows, not yet ordered, with the ``ranked_by`` sum they are ordered by."""
    value, currency = "amount", "currency"
    if fx is not None:
        awards = convert_awards(tables, fx, awards)
        value, currency = C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY
    if C.PROJECT_LABEL in awards.columns:
        rows = awards
    else:
        labels = project_labels(tables, lang) if labels is None else labels
        rows = awards.left_join(labels, awards.id == labels.award_id)
    amount = rows[value]
    total_type = dt.Decimal(MAX_DIGITS, amount.type().scale or 0)
    counted = amount.notnull()
    grouped = rows.group_by([C.PROJECT_LABEL, rows[currency].name(C.CURRENCY)]).aggregate(
        **{kind: amount.sum(where=rows.basis.isin(list(bases))).cast(total_type) for kind, bases in KINDS.items()},
        **{
            ROUNDED_CEILING: (counted & (rows.basis == str(Basis.UP_TO_ABOUT))).any(),
            "ranked_by": amount.sum().cast(total_type).coalesce(ibis.literal(Decimal(0), type=total_type)),
            C.N_AWARDS: rows.count(),
            C.N_AWARDS_UNPUBLISHED: (~counted).sum(),
        },
    )
    # Converted, every award is in the one currency chosen (one without a rate counts as one without an amount).
    return grouped if fx is not None else fold_unpriced(grouped, added=(C.N_AWARDS, C.N_AWARDS_UNPUBLISHED))


# Amounts in different currencies are never ranked against each other: each currency's recipients together
# (none last), largest first, then by name. A recipient and currency is one row, so the order is total and
# a page is always the same rows.
RECIPIENT_ORDER = (ibis.asc(C.CURRENCY), ibis.desc("ranked_by"), ibis.asc(C.PROJECT_LABEL))
# The rows of the whole query, counted in the page's own query (a window over the groups).
ROWS_IN_ALL = "rows_in_all"


def _recipient_frame(arrow: Any) -> pd.DataFrame:
    """Arrow's rows as the frame the tables receive (its decimals become Python Decimals in one C++ pass)."""
    frame = small_frame(arrow.to_pandas(), (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED))
    frame[ROUNDED_CEILING] = frame[ROUNDED_CEILING].map(bool)
    return frame


def recipient_totals_by_basis(
    tables: Tables, awards: ibis.Table, fx: Any = None, lang: str = "en", labels: ibis.Table | None = None
) -> pd.DataFrame:
    """Per recipient (a joint project is one) and currency: the sum of each kind of basis, and the awards.

    A kind's column is None when no award of that kind has an amount. ``rounded_ceiling`` says the
    ceilings include a rounded one. With ``fx`` (a :class:`~aifunding.analysis.conversion.FxChoice`) the
    sums are of the converted amounts, in that one currency; an award that could not be converted counts
    as one without an amount. ``labels`` are :func:`~aifunding.analysis.engine.project_labels` in ``lang``,
    when already made; awards that carry their label (:meth:`ViewEngine.recipients`' do) are not joined to
    them. By currency (none last), then largest first (every amount added, as the
    Companies chart ranks its bars), then by name.
    """
    ordered = _grouped_totals(tables, awards, fx, lang, labels).order_by(list(RECIPIENT_ORDER))
    # Through Arrow rather than Ibis' pandas conversion, which takes a Python step per cell (5 of the 11 s of a
    # million awards' 440,000 recipients).
    return _recipient_frame(ordered.select(*RECIPIENT_COLUMNS).to_pyarrow())


def recipient_totals_page(
    tables: Tables,
    awards: ibis.Table,
    first: int,
    count: int,
    fx: Any = None,
    lang: str = "en",
    labels: ibis.Table | None = None,
) -> tuple[pd.DataFrame, int]:
    """Rows ``first`` to ``first + count`` of :func:`recipient_totals_by_basis`, and how many rows it has.

    One query: the engine adds up every recipient, counts them and sends one page (a million awards' 100,000
    recipients were all sent, and made Python Decimals, to show a thousand). The page is numbered from 0.
    """
    grouped = _grouped_totals(tables, awards, fx, lang, labels)
    counted = grouped.mutate(**{ROWS_IN_ALL: grouped[C.N_AWARDS].count().over(ibis.window())})
    page = counted.order_by(list(RECIPIENT_ORDER)).limit(count, offset=first)
    arrow = page.select(*RECIPIENT_COLUMNS, ROWS_IN_ALL).to_pyarrow()
    if arrow.num_rows:
        rows = int(arrow.column(ROWS_IN_ALL)[0].as_py())
    elif first == 0 and count > 0:  # no rows at all
        rows = 0
    else:  # past the last row, or no row asked for: the count alone
        rows = int(grouped.count().to_pyarrow().as_py())
    return _recipient_frame(arrow.drop_columns([ROWS_IN_ALL])), rows


def _labelled(tables: Tables, lang: str) -> ibis.Table:
    """The awards with their programme's country and kind, and their project label in ``lang``."""
    awards, labels = awards_with_programme(tables), project_labels(tables, lang)
    labelled = awards.left_join(labels, awards.id == labels.award_id)
    return labelled.select(*awards.columns, labels[C.PROJECT_LABEL])


class ViewEngine:
    """A package's tables in the analytical engine, loaded on first use and shared by every session.

    One query runs at a time (an engine connection is not shared between threads); the engine is the
    one :func:`~aifunding.analysis.engine_tables.engine_name` chooses.
    """

    def __init__(self, package: Package, cache: PackageCache | None = None) -> None:
        self._package = package
        self._cache = cache  # where DuckDB's tables are kept for a restart (with the package's cache entry)
        self._lock = threading.Lock()
        self._tables: Tables | None = None
        # Each language's awards with their programme's country and kind and their project label, joined once
        # (the engine keeps them): a view then filters and adds up one table (at a million awards, a country's
        # totals in 137-215 ms against 159-308 ms when each view joined them; the first query 1.5-2.5 s longer).
        self._awards: dict[str, ibis.Table] = {}

    def _loaded(self, lang: str) -> Tables:
        """The tables, loaded on first use: attached from the kept file when there is one (written first if not)."""
        if self._tables is None:
            con = connect()
            kept = self._kept_file(lang) if con.name == "duckdb" else None
            self._tables = self._attached(con, kept) if kept is not None else None
            if self._tables is None:
                if kept is not None:  # a kept file that cannot be read: the tables are loaded as without one
                    con = connect()
                self._tables = Tables.load(con, self._package, VIEW_COLUMNS)
        return self._tables

    def _kept_file(self, lang: str) -> Path | None:
        key = self._package.cache_key
        if self._cache is None or key is None:
            return None
        import duckdb

        try:
            return self._cache.kept_file(
                key, ENGINE_FILE, engine_digest(), lambda path: self._write(path, lang), ENGINE_SUFFIX
            )
        except (duckdb.Error, ibis.common.exceptions.IbisError, pa.ArrowException) as exc:  # a full disk, say
            log.warning("the engine's tables could not be kept (%s): loaded in memory", exc)
            return None

    def _write(self, path: Path, lang: str) -> None:
        """A DuckDB database at ``path`` with the tables the views read and the awards labelled in ``lang``.

        At a million awards 4.3 to 4.7 s, against 2.8 s to load the tables and join the labels in memory; a restart
        then attaches it in a tenth of a second. A later language is joined in memory, as without a file.
        """
        con = connect(database=str(path))
        try:
            arrow = package_tables(self._package, VIEW_COLUMNS)
            arrow[CLOSURE] = closure_table(self._package.tree)
            tables = Tables(con, {name: con.create_table(name, table) for name, table in arrow.items()})
            con.create_table(LABELLED + lang, _labelled(tables, lang))
            con.raw_sql("CHECKPOINT")  # everything in the file itself, none of it left in a write-ahead log
        finally:
            con.disconnect()

    def _attached(self, con: Any, path: Path) -> Tables | None:
        """The tables of the kept file at ``path``, attached read-only to ``con``; None when it cannot be read."""
        import duckdb

        try:
            # Attached by our own statement: Ibis' attach writes the path into SQL as it is, so a quote in it broke it.
            con.raw_sql(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {KEPT} (READ_ONLY)")
            # Asked of DuckDB itself: Ibis 12's list_tables reads a cursor method DuckDB 2 no longer has.
            found = con.raw_sql(f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{KEPT}'").fetchall()
            names = {name for (name,) in found}
            wanted = (*VIEW_COLUMNS, CLOSURE)
            if not set(wanted) <= names:
                log.warning("the engine's kept tables in %s lack some tables: loaded anew", path.name)
                path.unlink(missing_ok=True)  # written again by the next process to use the engine
                return None
            tables = Tables(con, {name: con.table(name, database=KEPT) for name in wanted})
            self._awards.update(
                {lang: con.table(LABELLED + lang, database=KEPT) for lang in LANGUAGES if LABELLED + lang in names}
            )
            return tables
        except (duckdb.Error, ibis.common.exceptions.IbisError) as exc:
            log.warning("the engine's kept tables in %s could not be read (%s): loaded anew", path.name, exc)
            path.unlink(missing_ok=True)  # written again by the next process to use the engine
            return None

    def _view(self, state: ViewState) -> tuple[Tables, ibis.Table]:
        """The tables and the awards ``state`` keeps, labelled in its language (called holding the lock)."""
        tables = self._loaded(state.lang)
        if state.lang not in self._awards:
            self._awards[state.lang] = _labelled(tables, state.lang).cache()
        return tables, view_awards(tables, state, self._awards[state.lang])

    def recipients(self, state: ViewState) -> pd.DataFrame:
        """:func:`recipient_totals_by_basis` of the awards ``state`` keeps, in its money and language."""
        with self._lock:
            tables, awards = self._view(state)
            return recipient_totals_by_basis(tables, awards, state.fx, state.lang)

    def recipients_page(self, state: ViewState, first: int, count: int) -> tuple[pd.DataFrame, int]:
        """:func:`recipient_totals_page` of the awards ``state`` keeps: one page, and how many rows in all."""
        with self._lock:
            tables, awards = self._view(state)
            return recipient_totals_page(tables, awards, first, count, state.fx, state.lang)


class RecipientTotals:
    """A view's recipients' totals as a display table reads them: a page at a time, from the engine.

    Made with its first page and the number of rows (one query); another page is another query, and every
    row (a download) the whole query. Kept with the view, it holds one page, not a million awards' 100,000
    recipients. Rows are numbered from 0 in the whole's order, as :class:`~aifunding.figures.worded.Taken`.
    """

    # Pages other than the first kept, the latest last: a reader on page 5 reruns the page without a query.
    KEPT_PAGES = 4

    def __init__(self, engine: ViewEngine, state: ViewState, first_page: int) -> None:
        self._engine, self._state = engine, state
        self._first, self._rows = engine.recipients_page(state, 0, first_page)
        self._pages: dict[tuple[int, int], pd.DataFrame] = {}
        self._lock = threading.Lock()  # sessions share it

    def __len__(self) -> int:
        return self._rows

    def part(self, first: int, count: int) -> pd.DataFrame:
        """The rows from position ``first``, numbered as in the whole (as ``whole().iloc[first:first + count]``)."""
        if first == 0 and (count <= len(self._first) or len(self._first) == self._rows):
            rows = self._first.iloc[:count]
        else:
            with self._lock:
                kept = self._pages.pop((first, count), None)
            rows = self._engine.recipients_page(self._state, first, count)[0] if kept is None else kept
            with self._lock:
                self._pages[(first, count)] = rows
                while len(self._pages) > self.KEPT_PAGES:
                    self._pages.pop(next(iter(self._pages)))
        rows = rows.copy()
        rows.index = pd.RangeIndex(first, first + len(rows))
        return rows

    def whole(self) -> pd.DataFrame:
        return self._engine.recipients(self._state)

    def column(self, name: str) -> pd.Series:
        return self.whole()[name]

    def where(self, keep: np.ndarray) -> pd.DataFrame:
        """Every row where ``keep`` (a mask over all the rows) holds."""
        whole = self.whole()
        return whole[np.asarray(keep, dtype=bool)].reset_index(drop=True)
