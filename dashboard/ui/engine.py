"""The Data page's recipients' totals, added up by the analytical engine (DuckDB, or Spark when chosen).

The package's tables are loaded into the engine the first time someone asks for the table (seconds at a
million awards), once per package load, and shared by every session; each view's totals are kept like its
charts. Ibis and the engine are imported only then, so pages that never ask start no faster or slower.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from aifunding import markup
from aifunding.analysis.memo import remembered
from aifunding.analysis.view import FilteredView, Prepared
from aifunding.figures.presentation import recipient_totals_table
from aifunding.figures.worded import Worded
from aifunding.loading.cache import PackageCache

from ui.blocks import PAGE_ROWS
from ui.state import translator
from ui.text import notice, small

if TYPE_CHECKING:
    from aifunding.analysis.engine_view import RecipientTotals

log = logging.getLogger("aifunding.dashboard")
# The engines by the names their makers give them.
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark"}


def recipient_totals(prepared: Prepared, view: FilteredView) -> Worded | None:
    """Every recipient of the view's awards with its totals, or None after saying why the engine could not."""
    from aifunding.analysis.engine_tables import engine_name

    t = translator()
    lang = view.state.lang
    try:
        chosen = engine_name()
    except ValueError as exc:  # AIFUNDING_ENGINE names no engine: its message says which exist
        notice("error", t("data.recipients_failed", engine="?", problem=str(exc)), ":material/error:")
        return None
    name = ENGINE_NAMES.get(chosen, chosen)
    try:
        with st.spinner(t("data.recipients_adding"), show_time=True):
            totals = _totals(prepared, view)
    except Exception:
        # The server log keeps the traceback (a Spark or Java message can name paths on this machine).
        log.exception("the %s engine could not add up the recipients", name)
        notice("error", t("data.recipients_failed", engine=name, problem=t("error.unexpected")), ":material/error:")
        return None
    converted = view.money.converted
    # Converted, every recipient is ranked together: "choose a currency to rank them all" read under USD's table.
    if converted:
        small(markup.text(t("data.recipients_note_converted", engine=name, currency=view.state.currency)))
    else:
        small(markup.text(t("data.recipients_note", engine=name)))
    return Worded(_Guarded(totals, name), lambda rows: recipient_totals_table(rows, lang, converted=converted))


def _totals(prepared: Prepared, view: FilteredView) -> RecipientTotals:
    """The view's totals: the first page and the number of rows, in one query (another page or a download asks
    again), kept per view state; the engine is loaded once per package and shared."""
    from aifunding.analysis.engine_view import RecipientTotals, ViewEngine

    engine = remembered(prepared, "view-engine", lambda: ViewEngine(prepared.package, PackageCache.from_env()))
    return remembered(
        prepared, (view.state, "recipient-totals"), lambda: RecipientTotals(engine, view.state, PAGE_ROWS)
    )


def default_totals(prepared: Prepared, view: FilteredView) -> None:
    """Load the engine and add up ``view``'s totals as a server starts (ui.warm), when the engine is DuckDB:
    embedded, it starts nothing. A Spark session (a JVM) is left to the first viewer who asks for the table."""
    from aifunding.analysis.engine_tables import DEFAULT_ENGINE, engine_name

    if engine_name() == DEFAULT_ENGINE:
        _totals(prepared, view)


class _Guarded:
    """The totals' rows, read as the page reads them; a later page the engine fails to give is said on the page.

    The first page came with the totals (a failure there is said above); page 2 asks the engine again, and a
    Spark or DuckDB error then is the same message, with the traceback in the server log, and an empty page.
    """

    def __init__(self, totals: RecipientTotals, engine: str) -> None:
        self._totals, self._engine = totals, engine

    def __len__(self) -> int:
        return len(self._totals)

    def part(self, first: int, count: int) -> pd.DataFrame:
        try:
            return self._totals.part(first, count)
        except Exception:
            log.exception("the %s engine could not give rows %d to %d", self._engine, first, first + count)
            t = translator()
            notice(
                "error",
                t("data.recipients_failed", engine=self._engine, problem=t("error.unexpected")),
                ":material/error:",
            )
            return self._totals.part(0, 0)

    def whole(self) -> pd.DataFrame:
        return self._totals.whole()

    def column(self, name: str) -> pd.Series:
        return self._totals.column(name)

    def where(self, keep: np.ndarray) -> pd.DataFrame:
        return self._totals.where(keep)
