"""The pieces every page repeats: data loading, the filter sidebar, the chart block, downloads.

Caching lives here and only here: thin ``st.cache_resource`` wrappers around ``aifunding``
loaders, keyed by the package folder and the modification times of its files, so a changed file
is picked up on the next rerun and nothing is parsed twice.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from aifunding import BUNDLED_DATA, markup
from aifunding.analysis.filters import FilteredView, Prepared, ViewState, apply_view, prepare
from aifunding.analysis.urlstate import MIN_SLIDE_SECONDS, Vocabulary, decode, encode
from aifunding.data.dates import partial_bounds
from aifunding.data.models import SupportKind
from aifunding.figures.presentation import ID_COLUMN, column, explain_tables
from aifunding.i18n import LANGUAGE_NAMES, LANGUAGES, Translator
from aifunding.loading.package import PackageReadError, load_package, newest_source_date, package_signature
from aifunding.money.formatting import format_partial_date
from aifunding.money.fx import rate_bounds, supported_currencies
from aifunding.outputs.export import export_bytes, table_csv_bytes, table_xlsx_bytes
from aifunding.outputs.snapshot import Section, build_snapshot, report_sections
from aifunding.outputs.summary import Headline, span_text, total_text

T = TypeVar("T")
log = logging.getLogger("aifunding.dashboard")
DATA_ENV = "AIFUNDING_DATA"
ORIGINAL = "original"
ANNOUNCEMENT = "announcement"
# The currencies offered first in the currency menu; every other ECB currency follows.
MAIN_CURRENCIES = ("JPY", "USD", "EUR", "GBP", "CAD", "INR", "KRW", "SGD")


def data_path() -> Path:
    """The package to serve: $AIFUNDING_DATA, or the bundled data/ folder."""
    return Path(os.environ.get(DATA_ENV) or BUNDLED_DATA)


@st.cache_resource(show_spinner=False, max_entries=4)
def _prepared(path: str, signature: tuple) -> tuple[Prepared, datetime.datetime]:
    # ``signature`` only keys the cache: a changed file gives a new key and a fresh load.
    return prepare(load_package(path)), datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Served:
    """What this rerun shows: the package viewers see, and the newest load when it failed validation."""

    prepared: Prepared
    loaded_at: datetime.datetime
    latest: Prepared | None = None  # the newest load, kept when it had errors so the Data page can list them
    problem: str | None = None  # why viewers are not seeing the newest files


@st.cache_resource(show_spinner=False)
def _last_valid() -> dict[str, tuple[Prepared, datetime.datetime]]:
    """Per package path, the newest load that passed validation (shared by every session)."""
    return {}


def _first_errors(report, limit: int = 2) -> str:
    shown = "; ".join(p.as_text() for p in report.errors[:limit])
    more = len(report.errors) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def load() -> Served | None:
    """The package to show on this rerun, or None after showing why nothing can be shown.

    A changed file is picked up on the next rerun. If the changed package no longer validates,
    viewers keep the last valid version and a banner names the problem; a package that never
    validated is shown with its valid rows and the same banner.
    """
    path = data_path()
    key = str(path)
    store = _last_valid()
    try:
        prepared, loaded_at = _prepared(key, package_signature(path))
    except Exception as exc:
        # The server log keeps the traceback; viewers see one line that names no path on this machine.
        if isinstance(exc, PackageReadError):
            problem = exc.public
            log.warning("the data package could not be read: %s", exc)
        else:
            problem = translator()("error.unexpected")
            log.exception("the data package could not be loaded")
        if key in store:
            return Served(*store[key], problem=problem)
        st.error(f"**{translator()('error.load')}**: {markup.text(problem)}", icon=":material/error:")
        return None
    if prepared.package.report.valid:
        store[key] = (prepared, loaded_at)
        return Served(prepared, loaded_at)
    problem = _first_errors(prepared.package.report)
    if key in store:
        return Served(*store[key], latest=prepared, problem=problem)
    return Served(prepared, loaded_at, latest=prepared, problem=problem)


def served() -> Served:
    """The :class:`Served` of the current rerun (set by :func:`start`)."""
    return st.session_state["_served"]


def current_language() -> str:
    """The language chosen in the sidebar, else asked for by the link, else English."""
    lang = st.session_state.get(W["lang"]) or st.query_params.get("lang") or "en"
    return lang if lang in LANGUAGES else "en"


def translator() -> Translator:
    return Translator(current_language())


def _kind_labels(t: Translator) -> dict[str, str]:
    return {k.value: t(f"kind.{k.value}") for k in SupportKind}


def vocabulary(prepared: Prepared) -> Vocabulary:
    """The values a URL may name in this package."""
    first_rate, last_rate = rate_bounds()
    return Vocabulary(
        countries=set(prepared.package.frame("countries")["id"]),
        programmes=set(prepared.programmes["id"]),
        organisations={o for ids in prepared.awards["recipient_ids"] for o in ids},
        kinds=set(prepared.programmes["kind"]),
        currencies=set(supported_currencies()) | {"EUR"},
        first_rate_date=first_rate,
        last_rate_date=last_rate,
    )


def _date_span(prepared: Prepared) -> tuple[datetime.date, datetime.date]:
    """First and last day any announcement can mean; computed once per package load."""
    if "_date_span" in prepared.memo:
        return prepared.memo["_date_span"]
    dates = [
        d for d in pd.concat([prepared.programmes["announced"], prepared.awards["announced"]]) if isinstance(d, str)
    ]
    span = (
        (min(partial_bounds(d)[0] for d in dates), max(partial_bounds(d)[1] for d in dates))
        if dates
        else (datetime.date(1990, 1, 1), datetime.date.today())
    )
    prepared.memo["_date_span"] = span
    return span


# Widget keys, one per control; the URL parameters are encoded from the state, not from these.
W = {
    "lang": "w_lang",
    "country": "w_country",
    "programme": "w_programme",
    "kind": "w_kind",
    "org": "w_org",
    "from": "w_from",
    "to": "w_to",
    "cur": "w_cur",
    "fx": "w_fx",
    "fxdate": "w_fxdate",
}


def _put_state_in_widgets(
    state: ViewState, span: tuple[datetime.date, datetime.date], last_rate: datetime.date
) -> None:
    ss = st.session_state
    ss[W["lang"]] = state.lang
    ss[W["country"]] = list(state.countries)
    ss[W["programme"]] = list(state.programmes)
    ss[W["kind"]] = list(state.kinds)
    ss[W["org"]] = list(state.organisations)
    ss[W["from"]] = state.date_from or span[0]
    ss[W["to"]] = state.date_to or span[1]
    ss[W["cur"]] = state.currency or ORIGINAL
    ss[W["fx"]] = ANNOUNCEMENT if state.fx_at == ANNOUNCEMENT else "fixed"
    ss[W["fxdate"]] = datetime.date.fromisoformat(state.fx_at) if state.fx_at != ANNOUNCEMENT else last_rate


def _query_params() -> dict[str, str | list[str]]:
    """The link's parameters; one given more than once is a list, so decoding can say so."""
    params: dict[str, str | list[str]] = {}
    for name in st.query_params:
        values = st.query_params.get_all(name)
        params[name] = values if len(values) > 1 else (values[0] if values else "")
    return params


def sync_state(prepared: Prepared) -> ViewState:
    """The view state of this rerun, with the URL and the controls' session state kept in step.

    The URL is the source of truth when it changed since this session last wrote it (a shared
    link was opened, or the address was edited); otherwise the controls are. Either way the URL is
    rewritten from the resulting state, so it always reproduces the view, across page switches too.
    The controls themselves are drawn later (:func:`draw_controls`); their values are read here
    from session state, which Streamlit fills with the browser's widget values before each rerun.
    """
    ss = st.session_state
    span = _date_span(prepared)
    _, last_rate = rate_bounds()
    params = _query_params()
    if params != ss.get("_written_params") and (params or "_view" not in ss):
        decoded = decode(params, vocabulary(prepared))
        ss["_view"] = decoded.state
        ss["_ignored_params"] = decoded.ignored
        ss["_extra_params"] = decoded.extra
        _put_state_in_widgets(decoded.state, span, last_rate)
    elif W["cur"] not in ss or ss.get("_widgets_page") != ss.get("_page"):
        # Widgets belong to the page that drew them: on another page (or after Streamlit dropped
        # their state) they start from the view the previous page left, not from empty.
        _put_state_in_widgets(ss["_view"], span, last_rate)
    ss["_widgets_page"] = ss.get("_page")

    currency = ss.get(W["cur"]) or ORIGINAL
    fx_mode = ss.get(W["fx"], ANNOUNCEMENT) if currency != ORIGINAL else ANNOUNCEMENT
    fx_date = ss.get(W["fxdate"]) if fx_mode == "fixed" else None
    date_from, date_to = ss.get(W["from"]), ss.get(W["to"])
    state = ViewState(
        countries=tuple(ss.get(W["country"]) or ()),
        programmes=tuple(ss.get(W["programme"]) or ()),
        kinds=tuple(ss.get(W["kind"]) or ()),
        organisations=tuple(ss.get(W["org"]) or ()),
        # The full data range is "no date filter", so undated rows stay in view.
        date_from=date_from if isinstance(date_from, datetime.date) and date_from > span[0] else None,
        date_to=date_to if isinstance(date_to, datetime.date) and date_to < span[1] else None,
        currency=None if currency == ORIGINAL else currency,
        fx_at=fx_date.isoformat() if isinstance(fx_date, datetime.date) else ANNOUNCEMENT,
        lang=current_language(),
    )
    ss["_view"] = state
    written = {**encode(state), **ss.get("_extra_params", {})}
    if written != params:
        st.query_params.from_dict(written)
    ss["_written_params"] = written
    return state


def draw_controls() -> None:
    """Draw the sidebar controls for the state :func:`sync_state` read.

    Called by app.py after the page has run, so the page's charts reach the browser before the
    sidebar's widgets (time to first chart); a page that stopped early still gets its controls.
    """
    current = st.session_state.get("_served")
    if current is None:
        return
    prepared = current.prepared
    t = translator()
    ss = st.session_state
    first_rate, last_rate = rate_bounds()
    names = prepared.context.names_in(t.lang)
    programmes = prepared.programmes
    currencies = [c for c in MAIN_CURRENCIES if c in supported_currencies() or c == "EUR"]
    currencies += [c for c in supported_currencies() if c not in currencies]
    kinds = _kind_labels(t)
    limits = {"min_value": datetime.date(1990, 1, 1), "max_value": datetime.date(2100, 12, 31), "format": "YYYY-MM-DD"}
    with st.sidebar:
        st.segmented_control(t("filters.language"), list(LANGUAGES), key=W["lang"], format_func=LANGUAGE_NAMES.get)
        st.header(t("filters.header"))
        st.multiselect(
            t("filters.country"),
            list(prepared.package.frame("countries")["id"]),
            key=W["country"],
            format_func=lambda v: names["countries"].get(v, v),
            placeholder=t("filters.all"),
        )
        programme_ids = [
            p for p, level in zip(programmes["id"], programmes["level"], strict=True) if level != "component"
        ]
        st.multiselect(
            t("filters.programme"),
            programme_ids,
            key=W["programme"],
            format_func=lambda v: names["programmes"].get(v, v),
            placeholder=t("filters.all"),
        )
        st.multiselect(
            t("filters.kind"),
            sorted(set(programmes["kind"])),
            key=W["kind"],
            format_func=lambda v: kinds.get(v, v),
            placeholder=t("filters.all"),
        )
        organisations = sorted(
            {o for ids in prepared.awards["recipient_ids"] for o in ids},
            key=lambda o: names["organisations"].get(o, o).lower(),
        )
        st.multiselect(
            t("filters.organisation"),
            organisations,
            key=W["org"],
            format_func=lambda v: names["organisations"].get(v, v),
            placeholder=t("filters.all"),
        )
        st.date_input(t("filters.date_from"), key=W["from"], **limits)
        st.date_input(t("filters.date_to"), key=W["to"], **limits)
        currency = st.selectbox(
            t("filters.currency"),
            [ORIGINAL, *currencies],
            key=W["cur"],
            format_func=lambda v: t("filters.currency.original") if v == ORIGINAL else v,
        )
        # Conversion controls only appear once there is something to convert: disabled widgets
        # render faded text that fails contrast checks, and they would say nothing useful.
        if currency != ORIGINAL:
            fx_mode = st.radio(
                t("filters.fx"), [ANNOUNCEMENT, "fixed"], key=W["fx"], format_func=lambda v: t(f"filters.fx.{v}")
            )
            if fx_mode == "fixed":
                if not isinstance(ss.get(W["fxdate"]), datetime.date):
                    ss[W["fxdate"]] = last_rate  # the newest ECB rate, not "today" beyond the table
                st.date_input(
                    t("filters.fx_date"),
                    key=W["fxdate"],
                    min_value=first_rate,
                    max_value=last_rate,
                    format="YYYY-MM-DD",
                )


def page_view(prepared: Prepared, currency_fallback: str | None = None) -> FilteredView:
    """The view state, then the filtered view for this rerun.

    ``currency_fallback`` is for pages that cannot show original currencies side by side (World):
    they convert to it when the sidebar says "original currencies", and the sentence says so.
    """
    state = sync_state(prepared)
    if currency_fallback and state.currency is None:
        state = state.with_(currency=currency_fallback)
    return apply_view(prepared, state, _kind_labels(translator()))


def header(title_key: str, view: FilteredView, current: Served, intro_key: str | None = None) -> None:
    """Page title, the filter sentence, data freshness, and a banner when the package has errors."""
    t = translator()
    st.title(t(title_key))
    if intro_key:
        st.markdown(t(intro_key))
    ignored = st.session_state.pop("_ignored_params", None)
    if ignored:
        notice("warning", t("url.ignored", params="; ".join(ignored)), ":material/link_off:")
    notice("info", view.sentence(), ":material/filter_alt:")
    as_of = newest_source_date(view.package)
    freshness = t("common.loaded_at", time=current.loaded_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    if as_of:
        freshness += " · " + t("common.data_as_of", date=format_partial_date(as_of, t.lang))
    small(markup.text(freshness))
    if current.problem and current.prepared is not current.latest:
        stale = t("error.stale", problem=current.problem, time=current.loaded_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
        notice("warning", stale, ":material/warning:")
    elif current.problem:
        notice("warning", t("error.invalid_package", problem=current.problem), ":material/warning:")


def start(
    title_key: str,
    intro_key: str | None = None,
    currency_fallback: str | None = None,
) -> tuple[Prepared, FilteredView]:
    """Every page's first line: load the package, draw the sidebar and the header."""
    current = load()
    if current is None:
        st.stop()
    st.session_state["_served"] = current
    prepared = current.prepared
    st.session_state["_page"] = title_key
    view = page_view(prepared, currency_fallback)
    st.session_state["_current_view"] = view
    st.html(PAGE_CSS)
    # The charts this run draws, in order, for the snapshot download (built only when clicked).
    sections: list[Section] = []
    st.session_state["_sections"] = sections
    if presenting():
        present(view.state)
        st.stop()
    header(title_key, view, current, intro_key)
    share_row(prepared, view, title_key, sections)
    return prepared, view


def small(markdown: str) -> None:
    """Small print at full text colour: st.caption's faded grey fails WCAG contrast for links.

    ``markdown`` is ours: any text from a package or a link in it has gone through :mod:`aifunding.markup`.
    """
    st.markdown(f":small[{markdown}]")


def notice(kind: str, message: str, icon: str) -> None:
    """An alert (``info``, ``warning``, ``error``, ``success``) showing ``message`` as plain text.

    Messages quote link parameters, package values and validator output, so the whole message is
    escaped: none of it can become a link, an image, a colour or a table.
    """
    alert = {"info": st.info, "warning": st.warning, "error": st.error, "success": st.success}[kind]
    alert(markup.text(message), icon=icon)


def subheader_text(value: object) -> None:
    """A subheader whose text comes from the data (a programme name), shown as it is."""
    st.subheader(markup.text(value))


# Print: drop the controls and chrome, keep charts whole on a page.
PAGE_CSS = """<style>
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


def presenting() -> bool:
    return st.session_state.get("_extra_params", {}).get("present") == "1"


def _set_presenting(on: bool) -> None:
    extra = dict(st.session_state.get("_extra_params", {}))
    if on:
        extra["present"] = "1"
    else:
        extra.pop("present", None)
        extra.pop("every", None)
    st.session_state["_extra_params"] = extra
    st.session_state["_slide"] = 0
    # Written here too so the URL changes in the same rerun and the next one does not re-decode it.
    params = {**encode(st.session_state["_view"]), **extra}
    st.query_params.from_dict(params)
    st.session_state["_written_params"] = params


PRESENT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 1.5rem 3rem !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.35rem !important; }
</style>"""

# Arrow keys press the slide buttons. Guarded so reruns do not stack listeners.
PRESENT_KEYS = """<script>
if (!window.__aifundingSlideKeys) {
  window.__aifundingSlideKeys = true;
  document.addEventListener("keydown", (event) => {
    if (event.target && ["INPUT", "TEXTAREA"].includes(event.target.tagName)) return;
    const key = {ArrowRight: "slide_next", PageDown: "slide_next", " ": "slide_next",
                 ArrowLeft: "slide_prev", PageUp: "slide_prev", Escape: "present_exit"}[event.key];
    const button = key && document.querySelector(`.st-key-${key} button`);
    if (button) { event.preventDefault(); button.click(); }
  });
}
</script>"""


def _slide_step(step: int) -> None:
    st.session_state["_slide"] = st.session_state.get("_slide", 0) + step
    st.session_state["_slide_shown_at"] = time.monotonic()


def present(state: ViewState) -> None:
    """Presenter mode: one chart per screen, large type, no chrome; keys or a timer advance it."""
    t = translator()
    st.html(PRESENT_CSS)
    st.html(PRESENT_KEYS, unsafe_allow_javascript=True)
    every = st.session_state.get("_extra_params", {}).get("every")
    seconds = int(every) if every and every.isdigit() else None
    if seconds is not None:
        seconds = max(seconds, MIN_SLIDE_SECONDS)  # decoding already bounds it; never faster, whatever the state

    @st.fragment(run_every=seconds)
    def slide() -> None:
        if not presenting():  # the exit button's callback ran: leave the fragment for the whole page
            st.rerun(scope="app")
        # Reloaded on every tick, so a presentation left running shows data that changed on disk.
        current = load()
        if current is None:
            return
        view = apply_view(current.prepared, state, _kind_labels(t))
        slides = [s for s in report_sections(current.prepared, view) if s.figure is not None]
        now = time.monotonic()
        shown_at = st.session_state.setdefault("_slide_shown_at", now)
        if seconds is not None and now - shown_at >= seconds - 0.5:
            _slide_step(1)
        index = st.session_state.get("_slide", 0) % max(len(slides), 1)
        if not slides:
            empty_notice()
            return
        section = slides[index]
        meta = section.figure.layout.meta or {}
        # Readable from the back of a room: bigger type, taller plot, room for the bigger title.
        figure = section.figure
        figure.update_layout(
            font={"size": 16},
            title={"font": {"size": 24}, "pad": {"t": 30}},
            margin={"t": figure.layout.margin.t + 30},
            height=max(figure.layout.height or 0, 640),
        )
        st.plotly_chart(
            section.figure, key=f"slide-{index}", config={"displaylogo": False}, alt=meta.get("alt"), theme=None
        )
        source_footer(current.prepared, meta.get("source_ids", ()), meta.get("caveat_ids", ()))
        left, middle, right, leave = st.columns([1, 2, 1, 1])
        left.button(
            t("present.previous"), key="slide_prev", on_click=_slide_step, args=(-1,), icon=":material/arrow_back:"
        )
        middle.markdown(t("present.position", n=index + 1, total=len(slides)))
        right.button(
            t("present.next"), key="slide_next", on_click=_slide_step, args=(1,), icon=":material/arrow_forward:"
        )
        leave.button(
            t("present.exit"), key="present_exit", on_click=_set_presenting, args=(False,), icon=":material/close:"
        )

    slide()


# Figures and tables built for a view are kept for this many views per package load, so going back
# to a filter combination (or another viewer asking for the same one) costs no rebuild.
MEMO_ENTRIES = 256


def memo(view: FilteredView, name: str, build: Callable[[], T]) -> T:
    """``build()`` for this view state, computed once per package load and then reused.

    Keyed by the full view state and ``name``; the memo lives on the prepared package, so a data
    change (a new load) starts empty. Least recently used entries are dropped beyond MEMO_ENTRIES.
    """
    cache = st.session_state["_served"].prepared.memo
    key = (view.state, name)
    if key in cache:
        cache[key] = value = cache.pop(key)  # most recently used last
        return value
    value = build()
    cache[key] = value
    while len(cache) > MEMO_ENTRIES:
        cache.pop(next(iter(cache)), None)
    return value


def current_link() -> str:
    """The URL of this exact view: the page's address with the state's query parameters."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    url = st.context.url or ""
    parts = urlsplit(url)
    query = urlencode(st.session_state.get("_written_params", {}), safe=",")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def share_row(prepared: Prepared, view: FilteredView, title_key: str, sections: list) -> None:
    """Copy link, snapshot download and presenter mode, in one popover under the page header."""
    t = translator()
    with st.popover(t("share.button"), icon=":material/share:"):
        st.markdown(t("share.link"))
        # Captured now: the download callables run after this script run, outside its context.
        link = current_link()
        st.code(link, language=None, wrap_lines=True)
        name = view_file_name(title_key, view)

        def snapshot() -> bytes:
            return build_snapshot(
                title=t(title_key),
                sentence=view.sentence(),
                sections=list(sections),
                package=prepared.package,
                generated_at=datetime.datetime.now(datetime.UTC),
                link=link,
                lang=view.state.lang,
            ).encode("utf-8")

        st.download_button(
            t("share.snapshot"),
            snapshot,
            file_name=f"{name}.html",
            mime="text/html",
            key="snapshot",
            on_click="ignore",
            icon=":material/download:",
        )
        st.button(
            t("share.present"), key="present_start", icon=":material/slideshow:", on_click=_set_presenting, args=(True,)
        )
        st.markdown(t("share.print"))


def view_file_name(title_key: str, view: FilteredView) -> str:
    """A file name that says which view it holds: page, filters, currency and date made."""
    from aifunding.analysis.urlstate import encode as encode_state

    parts = ["ai-funding", title_key.split(".")[0] if title_key.endswith(".title") else title_key]
    for value in encode_state(view.state).values():
        parts.append(value.replace(",", "+"))
    parts.append(datetime.date.today().isoformat())
    name = "-".join(parts)
    return "".join(ch if ch.isalnum() or ch in "-+_" else "-" for ch in name)[:150]


def empty_notice() -> None:
    notice("info", translator()("common.empty_hint"), ":material/search_off:")


# How many sources a chart names inline before the rest go into "all sources": the best-tier ones
# first, so a reader sees the strongest evidence without a wall of links.
INLINE_SOURCES = 3
TIER_ORDER = {"primary": 0, "press": 1, "secondary": 2, "low": 3}


def source_footer(prepared: Prepared, source_ids: Iterable[str], caveat_ids: Iterable[str]) -> None:
    """Publisher, date, tier and link of the sources behind a chart (best first), then its caveats."""
    t = translator()
    sources, caveats = prepared.sources, prepared.caveats
    known = [sid for sid in source_ids if sid in sources]
    known.sort(key=lambda sid: (TIER_ORDER.get(sources[sid]["tier"], 9), str(sources[sid]["published"] or "")))

    def cite(sid: str) -> str:
        row = sources[sid]
        date = format_partial_date(row["published"], t.lang)
        return f"{markup.link(row['publisher'], row['url'])} ({markup.text(date)}; {t('tier.' + str(row['tier']))})"

    if known:
        more = len(known) - INLINE_SOURCES
        small(
            f"**{t('common.sources')}:** "
            + " · ".join(cite(s) for s in known[:INLINE_SOURCES])
            + (f" · {t('common.more_sources', n=more)}" if more > 0 else "")
        )
    caveat_lines = [
        f"- **{markup.text(caveats[c]['title_en'])}** {markup.text(caveats[c]['text_en'])}"
        for c in caveat_ids
        if c in caveats
    ]
    if len(known) > INLINE_SOURCES or caveat_lines:
        label = t("common.sources_and_caveats", sources=len(known), caveats=len(caveat_lines))
        with st.expander(label):
            if caveat_lines:
                st.markdown(f"**{t('common.caveats')}**\n\n" + "\n".join(caveat_lines))
            st.markdown(f"**{t('common.sources')}**\n\n" + "\n".join(f"- {cite(s)}" for s in known))


def chart(prepared: Prepared, fig: go.Figure, rows: pd.DataFrame, *, key: str) -> None:
    """One chart block: the figure (PNG download named after it), its sources, and its rows.

    ``rows`` is a display table with an ``ID`` column; "Show data" lists exactly the rows the
    figure drew (their ids are in the figure's metadata).
    """
    t = translator()
    meta = fig.layout.meta or {}
    if ID_COLUMN in rows.columns and meta.get("row_ids") is not None:
        drawn = set(meta["row_ids"])
        rows = rows[rows[ID_COLUMN].isin(drawn)]
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": meta.get("filename", key), "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
    st.plotly_chart(fig, key=key, config=config, alt=meta.get("alt"), theme=None)
    st.session_state.get("_sections", []).append(Section(None, fig, rows))
    source_footer(prepared, meta.get("source_ids", ()), meta.get("caveat_ids", ()))
    with st.expander(t("common.show_data")):
        st.dataframe(rows, hide_index=True, key=f"{key}-data")
        download_row(rows, meta.get("filename", key), key=f"{key}-dl", source_ids=meta.get("source_ids", ()))


def download_about(view: FilteredView, link: str, source_ids: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The header block of a download: what view it is, its link, its sources, when it was made."""
    t = Translator(view.state.lang)
    sources = view.package.frame("sources").set_index("id")
    cited = [
        f"{sources.at[s, 'publisher']} ({sources.at[s, 'published'] or t('table.no_date')}) {sources.at[s, 'url']}"
        for s in source_ids
        if s in sources.index
    ]
    return [
        ("title", view.package.title),
        ("view", view.sentence()),
        ("link", link),
        ("sources", "; ".join(cited) if cited else t("table.sources_fallback")),
        ("data_as_of", newest_source_date(view.package) or ""),
        ("generated_at", datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")),
    ]


def download_row(frame: pd.DataFrame, name: str, *, key: str, source_ids: Iterable[str] = ()) -> None:
    """CSV and XLSX of exactly these rows, named after the view, with a header block saying what they are.

    The files are built only when clicked.
    """
    t = translator()
    view = st.session_state["_current_view"]
    file_name = f"{view_file_name(name, view)}"
    source_ids = tuple(source_ids)
    link = current_link()
    _download_buttons(
        (
            t("common.download_csv"),
            lambda: table_csv_bytes(frame, download_about(view, link, source_ids)),
            f"{file_name}.csv",
            f"{key}-csv",
        ),
        (
            t("common.download_xlsx"),
            lambda: table_xlsx_bytes(frame, name, download_about(view, link, source_ids)),
            f"{file_name}.xlsx",
            f"{key}-xlsx",
        ),
    )


MIME_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
}


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


def full_export(prepared: Prepared, view: FilteredView, fmt: str) -> Callable[[], bytes]:
    """A callable building the whole-package export (all three tidy tables) in ``fmt``."""
    return lambda: export_bytes(prepared.package, fmt, view.state.fx)


def currency_column(view: FilteredView) -> str:
    """The currency column that goes with :attr:`FilteredView.value_column`."""
    return "converted_currency" if view.state.currency else "currency"


def highlight_tiles(headline: Headline) -> None:
    """The figures the package leads with: each a tile with its basis, date, sources and a link to its page."""
    if not headline.highlights:
        return
    t = translator()
    st.subheader(t("overview.highlights"))
    params = st.session_state.get("_written_params", {})
    for tile, item in zip(st.columns(len(headline.highlights)), headline.highlights, strict=True):
        with tile.container(border=True):
            st.metric(markup.text(item.date), markup.text(item.figure), help=markup.text(item.basis))
            if item.converted:
                st.caption(markup.text(item.converted))
            st.markdown(markup.text(item.claim))
            shown = list(item.sources[:2]) + ([f"+{len(item.sources) - 2}"] if len(item.sources) > 2 else [])
            st.caption(markup.text(t("overview.highlight.sources", sources="; ".join(shown))))
            st.page_link(
                f"views/{item.page}.py",
                label=t("overview.highlight.open", page=t(f"page.{item.page}")),
                icon=":material/arrow_forward:",
                query_params=params,
            )


def total_tiles(headline: Headline) -> None:
    """The headline totals as their composition by basis, each with what it adds and leaves out one click away."""
    t = translator()
    st.subheader(t("overview.totals"))
    keys = list(headline.totals)
    cols = st.columns([2] * len(keys) + [1, 1])
    for col, key in zip(cols, keys, strict=False):
        total = headline.totals[key]
        # A total of several kinds ("$2.1B + up to about $1.2B + at least $2.5B") wraps rather than being
        # cut short as a metric's single line would be: every part of it stays readable.
        with col.container(border=True):
            st.markdown(f"**{t(f'overview.{key}')}**", help=t(f"overview.{key}.help"))
            st.subheader(markup.text(total_text(total, t.lang)), anchor=False)
            st.caption(markup.text(span_text(total, t.lang)))
    cols[-2].metric(t("overview.programmes"), headline.programmes, border=True)
    cols[-1].metric(t("overview.recipients"), headline.recipients, border=True)
    for key in keys:
        total = headline.totals[key]
        with st.expander(t("overview.explain", name=t(f"overview.{key}")), icon=":material/calculate:"):
            added, left_out = explain_tables(total, t.lang)
            st.markdown(f"**{t('overview.added')}**")
            st.dataframe(added, hide_index=True, key=f"added-{key}")
            st.markdown(f"**{t('overview.left_out')}**")
            st.dataframe(left_out, hide_index=True, key=f"left-out-{key}")


def milestone_columns(frame: pd.DataFrame) -> dict:
    """Column widths for the what-to-watch table: the description wide, the status readable."""
    widths = dict(zip(frame.columns, ["large", "medium", "medium", "small", "medium", "large"], strict=False))
    return {name: st.column_config.TextColumn(name, width=width) for name, width in widths.items()}


def full_download_row(prepared: Prepared, view: FilteredView) -> None:
    """The whole package as tidy tables: XLSX workbook and JSON (built when clicked), named after the view."""
    t = translator()
    unread = sorted(prepared.package.report.unread)
    if unread:
        # A table that could not be read is never handed out as an empty one.
        notice("warning", t("data.all_unread", tables=", ".join(unread)), ":material/block:")
        return
    name = view_file_name("all", view)
    _download_buttons(
        (t("data.all_xlsx"), full_export(prepared, view, "xlsx"), f"{name}.xlsx", "all-xlsx"),
        (t("data.all_json"), full_export(prepared, view, "json"), f"{name}.json", "all-json"),
    )


def quarantine_frame(report, lang: str = "en") -> pd.DataFrame:
    """Quarantined rows: where they were and why, with their raw values (headers in ``lang``)."""
    return pd.DataFrame(
        [
            {
                column("table", lang): q.table,
                column("file", lang): q.file,
                column("line", lang): q.line,
                column("why", lang): "; ".join(q.reasons),
                column("row", lang): ", ".join(f"{k}={v}" for k, v in q.row.items() if v),
            }
            for q in report.quarantined
        ]
    )
