"""Every page's first line, :func:`start`: load the package, sync the view, draw the header and the share menu."""

from __future__ import annotations

import datetime
import json
from typing import NoReturn

import streamlit as st

from aifunding import markup
from aifunding.analysis.urlstate import view_file_name, worded
from aifunding.analysis.view import FilteredView, Prepared
from aifunding.figures.registry import PAGES_BY_KEY
from aifunding.loading.package import newest_source_date
from aifunding.money.formatting import format_partial_date
from aifunding.outputs.snapshot import Section, build_snapshot

from ui import live
from ui.loading import Served, load, reload_when_opened
from ui.own_data import Linked, open_link
from ui.present import present, presenting, set_presenting
from ui.state import current_link, page_view, translator
from ui.text import notice, small

DOCUMENT_LANGUAGE = "<span class='document-language'></span><script>document.documentElement.lang = {lang};</script>"
# Print: drop the controls and chrome, keep charts whole on a page.
PAGE_CSS = """<style>
/* The script that sets the document's language takes no room (a slide's buttons moved below a full screen). */
[data-testid="stElementContainer"]:has(.document-language) { display: none; }
/* A section's heading (h2, the level under the page's title) in the size a section's had as an h3. */
[data-testid="stMain"] h2 { font-size: 1.75rem; }
/* A headline total is a figure, not a heading: as large as one. */
[class*="st-key-total-figure"] p { font-size: 1.75rem; font-weight: 600; line-height: 1.25; margin: 0; }
[data-testid="stElementContainer"]:has(.phone-title) { display: none; }
/* A table of sentences to read (ui.blocks.reading_table): each cell wraps; a table wider than the page scrolls in its
   own box. */
.reading-table { overflow-x: auto; }
.reading-table table { border-collapse: collapse; width: 100%; font-size: .875rem; line-height: 1.45; }
.reading-table th, .reading-table td { text-align: left; vertical-align: top; padding: .45rem .6rem;
  border-bottom: 1px solid color-mix(in srgb, currentColor 14%, transparent); }
.reading-table th { font-weight: 600; border-bottom-width: 2px; white-space: nowrap; }
.reading-table td { min-width: 8rem; }
.reading-table td.short { min-width: 0; white-space: nowrap; }
/* The page's column is a container whose width a chart's title asks: a title line (84 columns of 18-pixel type) and
   a subtitle line (112 of 13-pixel) fit a column 800 pixels wide. */
[data-testid="stMainBlockContainer"] { container-type: inline-size; container-name: page-column; }
@media (max-width: 640px) {
  /* A phone: a chart is drawn 640 pixels wide and scrolls sideways, where plotly cut its bars' values, axis
     title and legend off at the screen's edge, beyond reach (and squeezed a timeline's plot to a sliver). */
  [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]) { overflow-x: auto; }
  [data-testid="stFullScreenFrame"]:has(> [data-testid="stPlotlyChart"]) { min-width: 640px; }
  /* A table to read: each row a card, each cell under its column's name (the headings stay for a screen reader). */
  .reading-table thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  .reading-table table, .reading-table tbody, .reading-table tr, .reading-table td { display: block; }
  .reading-table tr { padding: .5rem 0; border-bottom: 1px solid color-mix(in srgb, currentColor 14%, transparent); }
  .reading-table td, .reading-table td.short { border: none; padding: .1rem 0; min-width: 0; white-space: normal; }
  .reading-table td:first-child { font-weight: 600; }
  .reading-table td:not(:first-child)::before { content: attr(data-label) ": "; font-weight: 600; }
}
@container page-column (max-width: 799px) {
  /* A column narrower than a chart's title (a phone, where it scrolled off the screen's edge with the chart; the
     sidebar open on a 1,024-pixel screen, where plotly cut it off at the chart's edge): text above it that wraps. */
  [data-testid="stElementContainer"]:has(.phone-title) { display: block; }
  [data-testid="stPlotlyChart"] .gtitle { display: none; }
  .phone-title p { margin: 0; }
  .phone-title .chart-title { font-size: 1.1rem; font-weight: 600; }
  .phone-title .chart-subtitle { font-size: .85rem; color: #5f6368; }
}
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDownloadButton"],
  [data-testid="stPopover"], [data-testid="stElementToolbar"], .modebar, [data-testid="stSidebarCollapsedControl"] {
    display: none !important; }
  [data-testid="stMain"], [data-testid="stMainBlockContainer"] { margin: 0 !important; padding: 0 !important;
    max-width: 100% !important; }
  [data-testid="stPlotlyChart"], [data-testid="stExpander"], [data-testid="stDataFrame"], [data-testid="stMetric"] {
    break-inside: avoid; page-break-inside: avoid; }
}
</style>"""
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


class PageEnd(Exception):
    """Raised by :func:`end_page`; app.py catches it and still draws the sidebar."""


def end_page() -> NoReturn:
    """End the page here, keeping the sidebar: a view with nothing to show can still be widened.

    ``st.stop()`` stops the whole script run, the sidebar app.py draws after the page included, so an
    empty view would leave its reader no filter to clear.
    """
    raise PageEnd


def start(page_key: str) -> tuple[Prepared, FilteredView]:
    """Load the package, sync the view, and draw the header (or presenter mode, which stops the page)."""
    page = PAGES_BY_KEY[page_key]
    # A follower takes the presenter's newest view (even another page or package) before anything loads.
    live.begin(page_key)
    # This page's key first: which package an address without parameters keeps depends on it (ui.state).
    st.session_state["_page_key"] = page_key
    current = load()
    if current is None:
        st.stop()
    st.session_state["_served"] = current
    prepared = current.prepared
    st.session_state["_page"] = page.title
    view = page_view(prepared, page.currency_fallback)
    st.session_state["_current_view"] = view
    live.moved()
    st.html(PAGE_CSS)
    # The document's language is the page's (a screen reader reads Japanese with a Japanese voice): Streamlit
    # writes <html lang="en"> whatever the page says.
    st.html(DOCUMENT_LANGUAGE.format(lang=json.dumps(view.state.lang)), unsafe_allow_javascript=True)
    live.banner()
    if current.checking is not None:
        reload_when_opened(current.checking)  # presenter mode's slides included
    # The charts this run draws, in order, for the snapshot download (built only when clicked).
    sections: list[Section] = []
    st.session_state["_sections"] = sections
    if presenting():
        ignored_notice()  # a link's value it could not use (every=abc, country=ZZ) is named on a slide too
        present(view.state)
        st.stop()
    header(page.title, view, current, page.intro)
    share_row(prepared, view, page.title, sections)
    return prepared, view


def ignored_notice() -> None:
    """What the link gave that the view could not use, named once (the next run's address no longer holds it)."""
    ignored = st.session_state.pop("_ignored_params", None)
    if ignored:
        t = translator()
        notice("warning", t("url.ignored", params="; ".join(worded(ignored, t.lang))), ":material/link_off:")


def header(title_key: str, view: FilteredView, current: Served, intro_key: str | None = None) -> None:
    """Page title, the filter sentence, data freshness, and a banner when the package has errors."""
    t = translator()
    st.title(t(title_key))
    if intro_key:
        st.markdown(t(intro_key))
    ignored_notice()
    if current.linked is not None:
        uploaded_banner(current.linked, view)
    notice("info", view.sentence(), ":material/filter_alt:")
    as_of = newest_source_date(view.package)
    freshness = t("common.loaded_at", time=current.loaded_at.strftime(TIME_FORMAT))
    if as_of:
        freshness += " · " + t("common.data_as_of", date=format_partial_date(as_of, t.lang))
    small(markup.text(freshness))
    if current.checking is not None:
        since, loaded = current.checking.started.strftime(TIME_FORMAT), current.loaded_at.strftime(TIME_FORMAT)
        notice("info", t("loading.checking", time=since, loaded=loaded), ":material/hourglass_top:")
    if current.problem and current.prepared is not current.latest:
        stale = t("error.stale", problem=current.problem, time=current.loaded_at.strftime(TIME_FORMAT))
        notice("warning", stale, ":material/warning:")
    elif current.problem:
        notice("warning", t("error.invalid_package", problem=current.problem), ":material/warning:")


def uploaded_banner(linked: Linked, view: FilteredView) -> None:
    """Which uploaded package every page shows (its "data as of" is in the line below), and one click back."""
    t = translator()
    title = str(view.package.descriptor.get("title") or linked.title or linked.name)
    notice("info", t("upload.banner", title=title, name=linked.name), ":material/upload_file:")
    st.button(t("upload.back"), key="upload_back", on_click=open_link, args=(None,), icon=":material/undo:")


def share_row(prepared: Prepared, view: FilteredView, title_key: str, sections: list[Section]) -> None:
    """Copy link, snapshot download and presenter mode, in one popover under the page header."""
    t = translator()
    with st.popover(t("share.button"), icon=":material/share:"):
        st.markdown(t("share.link"))
        # Captured now: the download callables run after this script run, outside its context.
        link = current_link()
        st.code(link, language=None, wrap_lines=True)

        def snapshot() -> bytes:
            return build_snapshot(
                title=t(title_key),
                sentence=view.sentence(),
                sections=list(sections),
                package=prepared.package,
                generated_at=datetime.datetime.now(datetime.UTC),
                link=link,
                lang=view.state.lang,
                converted=view.money.converted,
            ).encode("utf-8")

        st.download_button(
            t("share.snapshot"),
            snapshot,
            file_name=f"{view_file_name(title_key, view.state, package=view.package.name)}.html",
            mime="text/html",
            key="snapshot",
            on_click="ignore",
            icon=":material/download:",
        )
        st.button(
            t("share.present"), key="present_start", icon=":material/slideshow:", on_click=set_presenting, args=(True,)
        )
        live.share_controls()
        st.markdown(t("share.print"))
