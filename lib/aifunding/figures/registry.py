"""The chart registry: every page and its charts, declared once as data.

A page script, presenter mode and the HTML snapshot all draw from :data:`PAGES`, so a chart added
here is on its page, in the deck and in the snapshot (``tests/test_registry.py`` checks all three).
Each :class:`Chart` says which rows of the filtered view it draws (``select``), how it splits them
into several figures when it does (one per programme family, one per market), its builder, the
display table of the rows behind it, and the currency it falls back to when the view shows
original currencies (World cannot put eight currencies on one axis).

The path of one figure: page (``dashboard/views/<page>.py``) -> :func:`draw` -> ``Chart.build``
(a builder in ``aifunding.figures``) -> the filtered view (``aifunding.analysis.view``) -> the
package's rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.memo import remembered
from aifunding.analysis.metrics import localized
from aifunding.analysis.view import FilteredView, Prepared, apply_view
from aifunding.analysis.view_awards import ViewAwards
from aifunding.data.vocabulary import Level, SupportKind
from aifunding.figures.base import drawable_positions
from aifunding.figures.companies import build_recipient_figure, recipient_columns
from aifunding.figures.market import build_market_figure
from aifunding.figures.plain import figure_meta
from aifunding.figures.presentation import awards_table, programme_families, programmes_table, shares_table
from aifunding.figures.programmes import build_annualised_figure, build_programme_totals_figure
from aifunding.figures.timeline import build_timeline_figure
from aifunding.figures.worded import Taken, Worded
from aifunding.figures.world import build_world_figure
from aifunding.i18n import Translator, translate

# (rows, money, lang) -> figure, in the view's money and language; given ``whole=`` too when the chart has ``rows_of``.
Builder = Callable[..., go.Figure]
Table = Callable[[pd.DataFrame, FilteredView], pd.DataFrame]
# One figure per group: (key suffix, heading in the view's language or None, its rows).
Split = Callable[[pd.DataFrame, FilteredView], Sequence[tuple[str, str | None, pd.DataFrame]]]


@dataclass(frozen=True)
class Drawn:
    """One figure ready to show: its widget key, the figure, the display rows behind it and its words."""

    key: str
    figure: go.Figure
    rows: Worded  # the rows it drew, worded when shown
    heading: str | None = None  # the section heading in the snapshot and, when ``on_page``, above the chart
    on_page: bool = False  # draw the heading above the chart on its page too
    intro: str | None = None  # a paragraph drawn before the chart on its page (Markdown, ours)
    note: str | None = None  # a line drawn after it: how many more a capped split chart left out
    # What its downloads (PNG, "Show data") are named after: the figure's own file name, and a split chart's
    # part's name after it (two programmes' charts of recipients were saved under one name).
    name: str | None = None


@dataclass(frozen=True)
class Chart:
    """One chart (or one family of charts) of a page."""

    key: str
    select: Callable[[FilteredView], pd.DataFrame]
    build: Builder
    table: Table
    heading: str | None = None  # message key of its snapshot heading (a split chart's parts name their own)
    split: Split | None = None
    lead: tuple[str, str] | None = None  # message keys of a subheader and a paragraph drawn before it on the page
    currency_fallback: str | None = None
    prefix: str | None = None  # a split chart's widget keys are "<prefix or key>-<group>"
    limit: int | None = None  # a split chart draws at most this many groups (the largest first)
    more: str | None = None  # message key (with {n}) saying how many groups the limit left out
    # Where the rows ``select`` picks come from when it picks only the columns the figure reads: each row is
    # numbered by its position there, and the table behind the chart words all its columns, taken when read.
    # The builder is handed it as ``whole``, to take a column it draws for a few rows only.
    rows_of: Callable[[FilteredView], ViewAwards] | None = None
    # Message key of a line drawn after it while organisations are chosen: it draws programmes whole, not only
    # the money of the organisations chosen (the Overview's totals add their awards instead).
    whole_programmes: str | None = None
    # In presenter mode's deck (it is always on its page and in the snapshot).
    on_slides: bool = True


@dataclass(frozen=True)
class Page:
    """A page of the dashboard: its address, words, icon and charts."""

    key: str  # its url path and script, dashboard/views/<key>.py
    title: str  # message key of its title
    icon: str
    intro: str | None = None  # message key of the paragraph under its title
    charts: tuple[Chart, ...] = ()

    @property
    def currency_fallback(self) -> str | None:
        """The currency the page converts to when the view shows original currencies (its charts need one)."""
        return next((chart.currency_fallback for chart in self.charts if chart.currency_fallback), None)


def _programmes_rows(rows: pd.DataFrame, view: FilteredView) -> pd.DataFrame:
    return programmes_table(rows, view.package, money=view.money, lang=view.state.lang)


def _awards_rows(rows: pd.DataFrame, view: FilteredView) -> pd.DataFrame:
    return awards_table(rows, view.package, money=view.money, lang=view.state.lang)


def _shares_rows(rows: pd.DataFrame, view: FilteredView) -> pd.DataFrame:
    return shares_table(rows, view.package, lang=view.state.lang)


# Per-programme recipient charts drawn on the Companies page (largest programmes first); the page
# names how many more there are, and the Programme filter charts any of them.
MAX_FAMILIES = 8


def _families(awards: pd.DataFrame, view: FilteredView) -> Sequence[tuple[str, str | None, pd.DataFrame]]:
    """One chart per programme with several funded recipients: its recipients compete for its own pool."""
    lang = view.state.lang
    return programme_families(awards, money=view.money).map(
        # The heading names the programme from its first award: the rest are not localized for it.
        lambda pair: (pair[0], str(localized(pair[1].iloc[:1], "root_programme_name", lang).iloc[0]), pair[1])
    )


def _recipient_awards(view: FilteredView) -> pd.DataFrame:
    """The columns of the awards in view that the recipient charts and :func:`_families` read, numbered from 0.

    Not every column of every award: at a million awards that was a third of a Companies rerun. Names
    come as categoricals (a recipient's label, a programme's name), taken and grouped as integers.
    """
    lang = view.state.lang
    # Not the purposes, one text per award: the figure takes those of the awards it draws from the view.
    wanted = recipient_columns(view.money, lang, purposes=False) | {C.ROOT_PROGRAMME_ID}
    wanted.update(("root_programme_name", "root_programme_name_en", f"root_programme_name_{lang}"))
    awards = view.lazy_awards
    return awards.coded([name for name in awards.names if name in wanted])


def _markets(shares: pd.DataFrame, view: FilteredView) -> list[tuple[str, str | None, pd.DataFrame]]:
    """Never one axis for two market definitions: each market is its own panel."""
    return [(str(market_id), None, panel) for market_id, panel in shares.groupby("market_id", sort=False)]


def _levels(frame: pd.DataFrame, *levels: Level) -> pd.DataFrame:
    return frame[frame["level"].isin([level.value for level in levels])]


def _funding(view: FilteredView) -> pd.DataFrame:
    """Programmes other than budget frames: those hold money for far more than AI programmes."""
    return view.programmes[view.programmes[C.KIND] != SupportKind.BUDGET_FRAME.value]


def _money_builder(builder: Callable[..., go.Figure]) -> Builder:
    """A builder taking the view's money choice and language, in the registry's (rows, money, lang) form."""
    return lambda rows, money, lang, **whole: builder(rows, money=money, lang=lang, **whole)


COMPUTE_KINDS = (SupportKind.COMPUTE_SUBSIDY.value, SupportKind.PUBLIC_COMPUTE.value)


OVERVIEW_TOTALS = Chart(
    "overview-totals",
    lambda view: _levels(view.programmes, Level.PROGRAMME, Level.ROUND),
    _money_builder(build_programme_totals_figure),
    _programmes_rows,
    heading="page.overview",
    whole_programmes="chart.programme.whole",
    # The Programmes page's chart draws these programmes and rounds and their components: one slide, where the
    # deck showed the two under one title, four slides apart.
    on_slides=False,
)
RECIPIENTS = Chart(
    "recipients",
    _recipient_awards,
    _money_builder(build_recipient_figure),
    _awards_rows,
    heading="companies.title",
    rows_of=lambda view: view.lazy_awards,
)
# The all-programme chart is dominated by the largest award; each programme's own pool is what its
# recipients compete for, so each gets its own chart too.
RECIPIENT_FAMILIES = Chart(
    "recipient-families",
    _recipient_awards,
    _money_builder(build_recipient_figure),
    _awards_rows,
    split=_families,
    prefix="recipients",
    limit=MAX_FAMILIES,
    more="companies.more_families",
    rows_of=lambda view: view.lazy_awards,
)
# Budget frames and their budget lines hold money for far more than AI programmes: they are in the
# nesting table, not drawn against the programmes they contain.
PROGRAMME_TOTALS = Chart(
    "programme-totals",
    _funding,
    _money_builder(build_programme_totals_figure),
    _programmes_rows,
    heading="programmes.title",
    whole_programmes="chart.programme.whole",
)
TIMELINE = Chart(
    "timeline",
    lambda view: view.programmes,
    _money_builder(build_timeline_figure),
    _programmes_rows,
    heading="programmes.timeline",
)
ANNUALISED = Chart(
    "annualised",
    _funding,
    _money_builder(build_annualised_figure),
    _programmes_rows,
    heading="snapshot.per_year",
)
MARKET_PANELS = Chart(
    "market",
    lambda view: view.market_shares.sort_values(["year", "market_id"], ascending=[False, True]),
    lambda rows, money, lang: build_market_figure(rows, lang=lang),
    _shares_rows,
    split=_markets,
)
MARKET_SUBSIDIES = Chart(
    "market-subsidies",
    lambda view: view.programmes[view.programmes[C.KIND].isin(COMPUTE_KINDS) & (view.programmes[C.COUNTRY_ID] == "JP")],
    lambda rows, money, lang, **whole: build_programme_totals_figure(
        rows, money=money, lang=lang, none=translate("market.context.none", lang), **whole
    ),
    _programmes_rows,
    heading="market.context",
    lead=("market.context", "market.context.intro"),
)
WORLD = Chart(
    "world",
    lambda view: _levels(view.programmes, Level.PROGRAMME, Level.BUDGET_FRAME),
    _money_builder(build_world_figure),
    _programmes_rows,
    heading="world.title",
    currency_fallback="USD",
)

PAGES: tuple[Page, ...] = (
    Page("overview", "overview.title", ":material/dashboard:", "overview.intro", (OVERVIEW_TOTALS,)),
    Page("companies", "companies.title", ":material/apartment:", "companies.intro", (RECIPIENTS, RECIPIENT_FAMILIES)),
    Page("programmes", "programmes.title", ":material/account_tree:", None, (PROGRAMME_TOTALS, TIMELINE, ANNUALISED)),
    Page("market", "market.title", ":material/cloud:", "market.intro", (MARKET_PANELS, MARKET_SUBSIDIES)),
    Page("world", "world.title", ":material/public:", "world.intro", (WORLD,)),
    Page("data", "data.title", ":material/table:"),
    Page("sources", "sources.title", ":material/menu_book:"),
)
PAGES_BY_KEY = {page.key: page for page in PAGES}


def chart_view(chart: Chart, prepared: Prepared, view: FilteredView) -> FilteredView:
    """The view a chart draws: ``view``, converted to the chart's fallback currency when it shows original ones."""
    if chart.currency_fallback and view.state.currency is None:
        return apply_view(prepared, view.state.with_(currency=chart.currency_fallback))
    return view


def draw(chart: Chart, prepared: Prepared, view: FilteredView) -> list[Drawn]:
    """The figures of ``chart`` for ``view``, each with the display rows behind it."""
    view = chart_view(chart, prepared, view)
    t = Translator(view.state.lang)
    lang, money = view.state.lang, view.money
    rows = chart.select(view)
    whole = {} if chart.rows_of is None else {"whole": chart.rows_of(view)}
    if chart.split is None:
        heading = t(chart.heading) if chart.heading else None
        intro = t(chart.lead[1]) if chart.lead else None
        figure = chart.build(rows, money, lang, **whole)
        note = t(chart.whole_programmes) if chart.whole_programmes and view.state.organisations else None
        table = _table(chart, figure, rows, view)
        return [Drawn(chart.key, figure, table, heading, chart.lead is not None, intro, note)]
    drawn = []
    groups = chart.split(rows, view)
    shown = groups[: chart.limit] if chart.limit is not None else groups
    for suffix, heading, part in shown:
        figure = _part_figure(chart, prepared, view, suffix, part, whole)
        drawn.append(
            Drawn(
                f"{chart.prefix or chart.key}-{suffix}",
                figure,
                _table(chart, figure, part, view),
                heading,
                heading is not None,
                name=f"{figure_meta(figure).get('filename') or chart.key}-{suffix}",
            )
        )
    if drawn and chart.more and len(groups) > len(shown):
        drawn[-1] = replace(drawn[-1], note=t(chart.more, n=len(groups) - len(shown)))
    return drawn


def _table(chart: Chart, figure: go.Figure, rows: pd.DataFrame, view: FilteredView) -> Worded:
    """The rows ``figure`` drew (those its metadata names, when it names them), worded by the chart's table.

    Nothing is worded here: a page words the rows it shows, a download all of them, when asked. Rows of a
    chart with ``rows_of`` are not even taken: each is found there by its number, when read.
    """
    plain = rows if chart.rows_of is None else Taken(chart.rows_of(view), rows.index.to_numpy())
    worded = Worded(plain, lambda part: chart.table(part, view))
    meta = figure_meta(figure)
    drawn = meta.get("row_ids")
    if drawn is None and meta.get("amount_rows"):  # too many to name: the rows with an amount in its currency
        keep = np.zeros(len(rows), dtype=bool)
        keep[drawable_positions(rows, view.money.value_column, view.money.currency_column, meta["amount_rows"])] = True
        return worded.where(pd.Series(keep, index=rows.index))
    return worded if drawn is None or "id" not in rows.columns else worded.with_ids(drawn)


def page_charts(page: str | Page) -> tuple[Chart, ...]:
    """The charts of a page, by its key or itself."""
    return (PAGES_BY_KEY[page] if isinstance(page, str) else page).charts


def _part_figure(
    chart: Chart, prepared: Prepared, view: FilteredView, suffix: str, part: pd.DataFrame, whole: dict[str, ViewAwards]
) -> go.Figure:
    """The figure of one part of a split chart of awards, shared by every view that gives the part the same awards.

    A programme's recipient chart depends on its awards in view alone (with the money and the language): Japan's
    programmes draw the same charts in a view of Japan as in one of Japan and the US, so a filter change draws
    again only the programmes whose awards it changes. The awards are named by their rows in the package.
    """
    lang, money = view.state.lang, view.money
    if chart.rows_of is None:
        return chart.build(part, money, lang, **whole)
    award_rows, positions = view.selection.award_rows, part.index.to_numpy()
    rows = np.ascontiguousarray(positions if award_rows is None else award_rows[positions], dtype=np.int64)
    awards = (len(rows), hashlib.blake2b(rows.tobytes(), digest_size=16).digest())
    key = ("part-figure", chart.key, suffix, lang, view.state.fx, awards)
    return remembered(prepared, key, lambda: chart.build(part, money, lang, **whole))
