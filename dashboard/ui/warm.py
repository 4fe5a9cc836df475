"""What every page shows a new viewer, worked out as the server starts (dashboard/serve.py), before anyone asks.

A new viewer's first page has no filters: a view every viewer of that language shares. Its figures are remembered
per view state (:func:`ui.loading.memo`), so the first viewer of each page used to pay for them, and for what a
process reads or works out once (the kept codes and ranks behind the recipients' charts, the adding rule's
rows, a currency's notes, the analytical engine's tables): at a million awards, 1 to 2 s of each page's first
run after a restart.
"""

from __future__ import annotations

import logging
import threading

from aifunding.analysis.memo import remembered
from aifunding.analysis.view import FilteredView, Prepared, ViewState
from aifunding.figures.registry import PAGES, Chart, Page, draw
from aifunding.i18n import LANGUAGES
from aifunding.outputs.summary import headline

from ui.blocks import HEADLINE, chart_memo
from ui.engine import default_totals
from ui.state import view_of

log = logging.getLogger("aifunding.dashboard")


def _remember_charts(prepared: Prepared, view: FilteredView, entry: Chart) -> None:
    remembered(prepared, (view.state, chart_memo(entry)), lambda: draw(entry, prepared, view))


def default_views(prepared: Prepared) -> None:
    """Every page's view for a new viewer in each language (no filters; World in its fallback currency), its
    charts and the Overview's headline totals, and the Data page's recipients' totals in English (DuckDB's
    tables loaded), remembered as the pages remember them. A page that fails here is logged and left to fail,
    or not, when a viewer opens it.

    The totals are added up in a thread of their own while the charts are drawn: DuckDB loads, writes and
    queries its tables without holding Python's lock, and the charts are Python's work, so on two cores some of
    the one runs beside the other (at a million awards the step took 9.0 to 9.2 s, against 9.6 to 9.9 s one
    after the other: the loading's Python part and the cache's writer compete for the same lock).
    """
    totals = threading.Thread(target=_default_totals, args=(prepared,), name="aifunding-warm-totals", daemon=True)
    totals.start()
    try:
        for lang in LANGUAGES:
            for page in PAGES:
                _default_page(prepared, page, lang)
    finally:
        totals.join()


def _default_page(prepared: Prepared, page: Page, lang: str) -> None:
    state = ViewState(lang=lang)
    if page.currency_fallback:
        state = state.with_(currency=page.currency_fallback)
    try:
        view = view_of(prepared, state)
        if page.key == "overview":
            remembered(prepared, (state, HEADLINE), lambda: headline(prepared, view))
        for entry in page.charts:
            _remember_charts(prepared, view, entry)
    except Exception:
        log.exception("the %s page's first view (%s) could not be worked out as the server started", page.key, lang)


def _default_totals(prepared: Prepared) -> None:
    try:
        # The Data page's recipients' totals, in English: the engine keeps that language's labels in its file; the
        # Japanese ones are joined in memory (half a gigabyte at a million awards), left to a viewer who asks.
        default_totals(prepared, view_of(prepared, ViewState()))
    except Exception:
        log.exception("the recipients' totals could not be added up as the server started")
