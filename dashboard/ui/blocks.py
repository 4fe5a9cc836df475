"""The chart block every chart is drawn in (figure, sources, rows, downloads), and a page's registered charts."""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pandas.api.types import is_integer_dtype, is_numeric_dtype

from aifunding import markup
from aifunding.analysis.memo import remembered
from aifunding.analysis.urlstate import view_file_name
from aifunding.analysis.view import FilteredView, Prepared, ViewState
from aifunding.figures.plain import Figure, figure_meta
from aifunding.figures.presentation import best_sources_first, count_columns, money_columns
from aifunding.figures.registry import PAGES_BY_KEY, Chart, Drawn, draw
from aifunding.figures.worded import Worded
from aifunding.loading.package import Package
from aifunding.loading.workbook import XLSX_MAX_ROWS
from aifunding.money.formatting import format_partial_date
from aifunding.outputs.about import upload_about_rows, view_about_rows
from aifunding.outputs.cells import table_csv_bytes, table_xlsx_bytes
from aifunding.outputs.export import export_bytes
from aifunding.outputs.snapshot import Section, phone_title_html, title_lift

from ui import live
from ui.loading import memo
from ui.state import current_link, translator
from ui.text import heading_text, notice, small

# How many sources a chart names inline before the rest go into "all sources": the best-tier ones
# first, so a reader sees the strongest evidence without a wall of links.
INLINE_SOURCES = 3
# Rows a table sends to the browser at once; a longer one is paged on the server (its downloads hold every row).
PAGE_ROWS = 1000
# Rows a table of sentences to read shows at once (:func:`reading_table`): each row of it is a few lines of text.
READING_ROWS = 100
# Characters of a cell of such a table short enough to be kept on one line (a date, "as early as FY2026").
SHORT_CELL = 20
# Pixels of a column of amounts as numbers ("323,675,700,000.00").
AMOUNT_WIDTH = 150
# What a table shows for a cell with no value, in either language: Streamlit wrote a grey "None", a word
# a Japanese reader is not told and an English one may take for a name.
MISSING_CELL = "—"
MIME_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
}


def source_footer(prepared: Prepared, source_ids: Iterable[str], caveat_ids: Iterable[str]) -> None:
    """Publisher, date, tier and link of the sources behind a chart (best first), then its caveats."""
    t = translator()
    sources, caveats = prepared.sources, prepared.caveats
    known = best_sources_first(sources, source_ids)

    def cites() -> dict[str, str]:
        words = {}
        for sid, row in sources.items():
            date = format_partial_date(row["published"], t.lang)
            link = markup.link(row["publisher"], row["url"])
            # In the page's punctuation: 「出典：…（2024年4月19日、報道）」, where Japanese read "(…; …)" after "出典:".
            words[sid] = t("common.cite", source=link, date=markup.text(date), tier=t("tier." + str(row["tier"])))
        return words

    # Each source worded once per package and language: every chart of every rerun cites from these.
    cite = remembered(prepared, ("citations", t.lang), cites).__getitem__

    if known:
        more = len(known) - INLINE_SOURCES
        small(
            f"**{t('common.label', label=t('common.sources'))}** "
            + " · ".join(cite(s) for s in known[:INLINE_SOURCES])
            + (f" · {t('common.more_sources', n=more)}" if more > 0 else "")
        )
    caveat_lines = [
        f"- **{markup.text(caveats[c]['title_en'])}** {markup.text(caveats[c]['text_en'])}"
        for c in caveat_ids
        if c in caveats
    ]
    if len(known) > INLINE_SOURCES or caveat_lines:
        counted = t("common.n_sources", n=len(known))
        label = (
            t("common.sources_and_caveats", sources=counted, caveats=t("common.n_caveats", n=len(caveat_lines)))
            if caveat_lines
            else t("common.all_sources", sources=counted)  # "All 13 sources", not "... and 0 caveats"
        )
        with st.expander(label):
            if caveat_lines:
                st.markdown(f"**{t('common.caveats')}**\n\n" + "\n".join(caveat_lines))
            st.markdown(f"**{t('common.sources')}**\n\n" + "\n".join(f"- {cite(s)}" for s in known))


def chart(
    prepared: Prepared, fig: go.Figure, rows: Worded, *, key: str, heading: str | None = None, name: str | None = None
) -> None:
    """One chart block: the figure (PNG download named after it, or after ``name``), its sources, and its rows.

    ``rows`` are the rows the figure drew (:attr:`Drawn.rows`): "Show data" words the page of them
    it shows, and the downloads word them all when clicked, headed with the chart's title.
    """
    t = translator()
    meta = figure_meta(fig)
    name = name or meta.get("filename", key)
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
    phone_title(meta, key, title_lift(fig))
    # Streamlit only writes the figure's dict as JSON: handed the figure's own, not a copy of it.
    st.plotly_chart(
        fig.sent() if isinstance(fig, Figure) else fig, key=key, config=config, alt=meta.get("alt"), theme=None
    )
    live.spotlight_button(key)
    # The page's snapshot download holds the charts this run drew, in order.
    snapshot_sections(Section(heading, fig, rows, key))
    source_footer(prepared, meta.get("source_ids", ()), meta.get("caveat_ids", ()))
    # Built only while open: a closed "Show data" costs nothing, whatever the rows behind the chart.
    shown = st.expander(t("common.show_data"), key=f"{key}-show", on_change="rerun")
    if shown.open:
        with shown:
            paged_table(rows, key=f"{key}-data")
            title = meta.get("title") or None
            download_row(rows, name, key=f"{key}-dl", source_ids=meta.get("source_ids", ()), chart_title=title)


def phone_title(meta: dict[str, Any], key: str, lift: int) -> None:
    """The chart's title and subtitle as text above it, shown in a page column narrower than 800 pixels only (a
    phone, or the sidebar open on a 1,024-pixel screen: ``ui.page.PAGE_CSS``), and the room above its plot taken
    up there (``lift`` pixels, :func:`~aifunding.outputs.snapshot.title_lift`).

    There a chart is drawn 640 pixels wide and scrolls sideways, and its own title, drawn inside it, ran off the
    screen's edge: "Noetra + National Institute of Advanced..." and no amount. Here it wraps to the screen.
    """
    words = phone_title_html(meta)
    if not words:
        return
    chart = "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key)  # the class Streamlit gives the chart's element
    frame = f".{chart} [data-testid='stFullScreenFrame'] {{ margin-top: -{lift}px; }}"
    css = f"@container page-column (max-width: 799px) {{ {frame} }}"
    st.html(f"{words}<style>{css}</style>")


def paged_table(
    frame: pd.DataFrame | Worded,
    *,
    key: str,
    download: str | None = None,
    on_page: Callable[[], None] | None = None,
    snapshot: str | None = None,
    **options: Any,
) -> None:
    """``st.dataframe`` of ``frame``, one page of :data:`PAGE_ROWS` rows at a time when it is longer.

    The page is cut (and, for :class:`Worded` rows, worded) on the server, so a table of a million
    rows sends a thousand; the page says which rows it shows, and the download buttons beside each
    table hold them all: ``download`` names the files of a table that has no buttons of its own. The page
    box is ``<key>-page`` in session state (set it before to open another page); ``on_page`` runs when the
    reader chooses another. With a ``snapshot`` heading the table is in the page's snapshot too, under it.
    """
    rows = frame if isinstance(frame, Worded) else Worded.of(frame)
    if snapshot is not None:
        snapshot_sections(Section(snapshot, None, rows))
    _page(rows, key, lambda shown: _dataframe(shown, key, options), on_page)
    if download is not None:
        download_row(rows, download, key=f"{key}-dl")


def snapshot_sections(*sections: Section) -> None:
    """Put ``sections`` in the page's snapshot download, after what the page drew before them."""
    st.session_state.get("_sections", []).extend(sections)


def reading_table(frame: pd.DataFrame | Worded, *, key: str, label: str, download: str) -> None:
    """A table of sentences to read (what to watch, the caveats): an HTML table whose every cell wraps, paged past
    :data:`READING_ROWS` rows, with its downloads under it and its rows in the page's snapshot under ``label``.

    ``st.dataframe`` cut each cell at its column's edge ("Subsidised GPU systems offered to generative-AI developers
    and ot"), hid the columns past the page's width in a canvas scrolled sideways, and made the Overview, which
    has no other table, fetch 1.5 MB of the grid's code while its charts were being drawn. ``label`` names the
    table to a screen reader, which reads it as a table of its own.
    """
    rows = frame if isinstance(frame, Worded) else Worded.of(frame)
    snapshot_sections(Section(label, None, rows))
    _page(rows, key, lambda shown: st.html(table_html(shown, label)), size=READING_ROWS)
    download_row(rows, download, key=f"{key}-dl")


def table_html(shown: pd.DataFrame, label: str) -> str:
    """``shown`` as an HTML table labelled ``label``, every cell escaped (a missing one :data:`MISSING_CELL`), in a
    box that scrolls sideways when it is wider than the page and that a keyboard can scroll; on a phone each row is
    a card of its cells, each under its column's name (``ui.page.PAGE_CSS``)."""

    def cell(name: str, value: object) -> str:
        text = MISSING_CELL if pd.isna(value) else str(value)  # type: ignore[call-overload]
        # A short value (a date, a status, a number) is kept on one line; the rest wrap.
        short = " class='short'" if len(text) <= SHORT_CELL else ""
        return f"<td role='cell' data-label='{name}'{short}>{html.escape(text)}</td>"

    names = [html.escape(str(name), quote=True) for name in shown.columns]
    head = "".join(f"<th scope='col' role='columnheader'>{name}</th>" for name in names)
    # Each cell names its column (data-label), which a phone writes before it: there each row is a card.
    body = "".join(
        "<tr role='row'>" + "".join(cell(name, value) for name, value in zip(names, row, strict=True)) + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    named = html.escape(label, quote=True)
    # The roles are written out: a phone's cards are a table's rows shown as blocks, which a browser would
    # otherwise no longer tell a screen reader is a table.
    return (
        f"<div class='reading-table' role='region' aria-label='{named}' tabindex='0'>"
        f"<table role='table' aria-label='{named}'><thead><tr role='row'>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def table_pages(rows: int, size: int = PAGE_ROWS) -> int:
    """How many pages of ``size`` rows a table of ``rows`` rows has (one when it is empty)."""
    return max(1, -(-rows // size))


def _page(
    rows: Worded,
    key: str,
    draw: Callable[[pd.DataFrame], None],
    on_page: Callable[[], None] | None = None,
    size: int = PAGE_ROWS,
) -> None:
    """The page of ``rows`` the reader asked for, drawn by ``draw``, and which rows it is when there are several."""
    if len(rows) <= size:
        draw(rows.shown(0, len(rows)))
        return
    t = translator()
    pages = table_pages(len(rows), size)
    # The label says how many pages there are: the box alone said only "outside the range" past the last one.
    label = t("table.page_of", pages=f"{pages:,}")
    page = st.number_input(label, min_value=1, max_value=pages, step=1, key=f"{key}-page", on_change=on_page)
    first = (int(page) - 1) * size
    shown = rows.shown(first, size)
    draw(shown)
    small(
        markup.text(
            t("table.rows_shown", first=f"{first + 1:,}", last=f"{first + len(shown):,}", total=f"{len(rows):,}")
        )
    )


def _dataframe(shown: pd.DataFrame, key: str, options: dict[str, Any]) -> None:
    """``st.dataframe`` of a page of rows, its amounts and counts with their digits grouped in the reader's locale.

    ``1,234,567.89`` rather than Streamlit's plain ``1234567.89``, ``12,408`` awards rather than ``12408``; a
    page's own column settings win. Only columns of numbers: the validation report's "Value" is the text a
    cell held.
    """
    lang = translator().lang
    amounts = [name for name in money_columns(lang) & set(shown.columns) if is_numeric_dtype(shown[name])]
    # Converted amounts are to the cent: each shows its two places (4,013,690.20, not 4,013,690.2). Published
    # ones show what they hold (¥600,000,000, not ¥600,000,000.00).
    view = st.session_state.get("_current_view")
    cents = 0.01 if view is not None and view.money.converted else None
    # Wide enough for a trillion with its cents: a column sized by its first cells (often empty) cut them off.
    config = {
        name: st.column_config.NumberColumn(format="localized", width=AMOUNT_WIDTH, step=cents)
        for name in sorted(amounts)
    }
    counts = [name for name in count_columns(lang) & set(shown.columns) if is_integer_dtype(shown[name])]
    config.update({name: st.column_config.NumberColumn(format="localized") for name in sorted(counts)})
    config.update(options.get("column_config") or {})
    st.dataframe(
        shown, hide_index=True, key=key, placeholder=MISSING_CELL, **{**options, "column_config": config or None}
    )


# The Overview's headline totals, remembered under this name per view state (views/overview.py, ui.warm).
HEADLINE = "headline"


def chart_memo(entry: Chart) -> str:
    """The name a chart's figures are remembered by, per view state (:func:`page_charts`, ui.warm)."""
    return f"chart-{entry.key}"


def page_charts(prepared: Prepared, view: FilteredView, page: str) -> dict[str, list[Drawn]]:
    """Every chart the registry declares for ``page``, in order, each built once per view state.

    Returns what was drawn by registry key, so a page can reuse a chart's rows (never rebuild them).
    """
    result: dict[str, list[Drawn]] = {}
    for entry in PAGES_BY_KEY[page].charts:
        figures: list[Drawn] = memo(view, chart_memo(entry), lambda entry=entry: draw(entry, prepared, view))
        for drawn in figures:
            if drawn.on_page and drawn.heading:
                heading_text(drawn.heading)
            if drawn.intro:
                st.markdown(drawn.intro)
            chart(prepared, drawn.figure, drawn.rows, key=drawn.key, heading=drawn.heading, name=drawn.name)
            if drawn.note:
                small(markup.text(drawn.note))
        result[entry.key] = figures
    return result


def download_row(
    frame: pd.DataFrame | Worded,
    name: str,
    *,
    key: str,
    source_ids: Iterable[str] = (),
    upload: tuple[Package, str] | None = None,
    chart_title: str | None = None,
) -> None:
    """CSV and XLSX of exactly these rows, named after the view, with a header block saying what they are.

    The files are built (and :class:`Worded` rows worded) only when clicked. Rows of an ``upload`` being checked
    (its package and the name it was uploaded as) are named and headed after it, not after the view. A chart's rows
    are headed with its title (``chart_title``) too: two charts of one page drawn from one table read alike.
    """
    rows = frame if isinstance(frame, Worded) else Worded.of(frame)
    t = translator()
    view = st.session_state["_current_view"]
    if upload is not None:
        file_name = view_file_name(name, ViewState(lang=view.state.lang), package=upload[0].name)
    else:
        file_name = view_file_name(name, view.state, package=view.package.name)
    source_ids = tuple(source_ids)
    link = current_link()

    def about(whole: pd.DataFrame) -> list[tuple[str, str]]:
        if upload is not None:
            return upload_about_rows(*upload, lang=view.state.lang)
        lines = view_about_rows(view, link, source_ids, sources_column=t("column.sources") in whole.columns)
        return [*lines[:1], ("chart", chart_title), *lines[1:]] if chart_title else lines

    def cents(whole: pd.DataFrame) -> list[str]:
        """Its converted amounts, to the cent: written with their two places, as the page shows them."""
        if upload is not None or not view.money.converted:
            return []
        return [c for c in money_columns(view.state.lang) & set(whole.columns) if is_numeric_dtype(whole[c])]

    def csv_bytes() -> bytes:
        whole = rows.whole()
        return table_csv_bytes(whole, about(whole), cents=cents(whole))

    def xlsx_bytes() -> bytes:
        whole = rows.whole()
        return table_xlsx_bytes(whole, name, about(whole), lang=view.state.lang, cents=cents(whole))

    _download_buttons(
        (t("common.download_csv"), csv_bytes, f"{file_name}.csv", f"{key}-csv"),
        (t("common.download_xlsx"), xlsx_bytes, f"{file_name}.xlsx", f"{key}-xlsx"),
    )


def _download_buttons(*buttons: tuple[str, Callable[[], bytes], str, str]) -> None:
    """Download buttons side by side: (label, builder run on click, file name, widget key) each."""
    for slot, (label, build, file_name, key) in zip(st.columns([1] * len(buttons) + [2]), buttons, strict=False):
        with slot:
            st.download_button(
                label,
                build,
                file_name=file_name,
                mime=MIME_TYPES[file_name.rsplit(".", 1)[-1]],
                key=key,
                on_click="ignore",
                icon=":material/download:",
            )


def full_download_row(prepared: Prepared, view: FilteredView) -> None:
    """The whole package as tidy tables: XLSX workbook and JSON (built when clicked), named after the view."""
    t = translator()
    unread = sorted(prepared.package.report.unread)
    if unread:
        # A table that could not be read is never handed out as an empty one.
        notice("warning", t("data.all_unread", tables=", ".join(unread)), ":material/block:")
        return
    name = view_file_name("all", view.state, package=view.package.name)

    def export(fmt: str) -> Callable[[], bytes]:
        # A text too long for a workbook's cell is noted in its cell: a download that fails cannot say why.
        return lambda: export_bytes(
            prepared.package,
            fmt,
            view.state.fx,
            generated_at=datetime.datetime.now(datetime.UTC),
            prepared=prepared,
            note_long_texts=True,
        )

    # A sheet holds 1,048,575 rows: a longer table is never handed out cut short (JSON holds it all).
    rows = {"programmes": len(prepared.programmes), "awards": len(prepared.awards)}
    rows["market_shares"] = len(prepared.market_shares)
    too_long = [table for table, count in rows.items() if count + 1 > XLSX_MAX_ROWS]
    buttons = [(t("data.all_json"), export("json"), f"{name}.json", "all-json")]
    if too_long:
        notice(
            "info",
            t("data.all_too_long", tables=", ".join(too_long), limit=f"{XLSX_MAX_ROWS - 1:,}"),
            ":material/info:",
        )
    else:
        buttons.insert(0, (t("data.all_xlsx"), export("xlsx"), f"{name}.xlsx", "all-xlsx"))
    _download_buttons(*buttons)
