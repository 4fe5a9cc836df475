"""The view state of a rerun, kept in step with the URL and with the sidebar's widgets.

The URL is the source of truth when it changed since this session last wrote it (a shared link was
opened, or the address was edited); otherwise the controls are. Either way the URL is rewritten
from the resulting state, so it always reproduces the view, across page switches too.
"""

from __future__ import annotations

import dataclasses
import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from aifunding.analysis.conversion import ANNOUNCEMENT
from aifunding.analysis.memo import remembered
from aifunding.analysis.urlstate import decode, encode, vocabulary
from aifunding.analysis.view import FilteredView, Prepared, ViewState, apply_view, date_filter
from aifunding.figures.presentation import kind_labels
from aifunding.i18n import LANGUAGES, Translator
from aifunding.money.fx import rate_bounds

ORIGINAL = "original"  # the currency menu's "original currencies"
FIXED = "fixed"  # the conversion menu's "ECB rate on one date"
# Link parameters that belong to one page (by its key), left out of the link on every other page.
PAGE_PARAMS = {"table": "data", "page": "data"}

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


def current_language() -> str:
    """The language chosen in the sidebar, else asked for by the link, else English."""
    lang = st.session_state.get(W["lang"]) or st.query_params.get("lang") or "en"
    return lang if lang in LANGUAGES else "en"


def translator() -> Translator:
    return Translator(current_language())


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
    ss[W["fx"]] = ANNOUNCEMENT if state.fx_at == ANNOUNCEMENT else FIXED
    ss[W["fxdate"]] = datetime.date.fromisoformat(state.fx_at) if state.fx_at != ANNOUNCEMENT else last_rate


def _query_params() -> dict[str, str | list[str]]:
    """The link's parameters; one given more than once is a list, so decoding can say so."""
    params: dict[str, str | list[str]] = {}
    for name in st.query_params:
        values = st.query_params.get_all(name)
        params[name] = values if len(values) > 1 else (values[0] if values else "")
    return params


def drop_param(name: str) -> None:
    """Take the view's own parameter ``name`` out of the link, now (one the page found it could not use)."""
    ss = st.session_state
    ss.get("_extra_params", {}).pop(name, None)
    if name in st.query_params:
        del st.query_params[name]
    ss["_written_params"] = {key: value for key, value in ss.get("_written_params", {}).items() if key != name}


def write_params(params: dict[str, str]) -> None:
    """Put ``params`` in the address bar and remember them as this session's own."""
    st.query_params.from_dict(params)
    st.session_state["_written_params"] = params


def _bare_address() -> bool:
    """Whether an address without parameters is the default view: only on the page this session last wrote, and
    one it has shown without any (the browser's Back to the page as first opened)."""
    ss = st.session_state
    page_key = ss.get("_page_key")
    return ss.get("_params_page") == page_key and page_key in ss.get("_bare_pages", ())


def kept_param(name: str) -> str | None:
    """The link's parameter ``name``; when the address has none at all (Streamlit's menu drops them as it switches
    pages) and keeps this session's view (:func:`sync_state`), the view's own, which it writes back."""
    value = st.query_params.get(name)
    if value is None and not st.query_params and "_view" in st.session_state and not _bare_address():
        value = st.session_state.get("_extra_params", {}).get(name)
    return value if isinstance(value, str) else None


def sync_state(prepared: Prepared) -> ViewState:
    """The view state of this rerun, with the URL and the controls' session state kept in step.

    The controls themselves are drawn later (:func:`ui.sidebar.draw_controls`); their values are read
    here from session state, which Streamlit fills with the browser's widget values before each rerun.
    """
    ss = st.session_state
    span = prepared.date_span
    _, last_rate = rate_bounds()
    params = _query_params()
    # Streamlit's menu drops the address's parameters as it switches pages (the browser may keep a step of history
    # without them): none there keeps the view. An address without parameters is the default view only on the page
    # this session last wrote, and one it has shown without any: the browser's Back to the page as first opened.
    if params != ss.get("_written_params") and (params or "_view" not in ss or _bare_address()):
        decoded = decode(params, vocabulary(prepared))
        ss["_view"] = decoded.state
        ss["_ignored_params"] = decoded.notes
        ss["_extra_params"] = decoded.extra
        _put_state_in_widgets(decoded.state, span, last_rate)
    elif W["cur"] not in ss or ss.get("_widgets_page") != ss.get("_page"):
        # Widgets belong to the page that drew them: on another page (or after Streamlit dropped
        # their state) they start from the view the previous page left, not from empty.
        _put_state_in_widgets(ss["_view"], span, last_rate)
    ss["_widgets_page"] = ss.get("_page")
    # A page's own parameter (the Data page's table) stays in the link only on that page.
    extra = ss.get("_extra_params", {})
    for name in [name for name, page in PAGE_PARAMS.items() if name in extra and page != ss.get("_page_key")]:
        extra.pop(name)

    currency = ss.get(W["cur"]) or ORIGINAL
    fx_mode = ss.get(W["fx"], ANNOUNCEMENT) if currency != ORIGINAL else ANNOUNCEMENT
    fx_date = ss.get(W["fxdate"]) if fx_mode == FIXED else None
    date_from, date_to = date_filter(ss.get(W["from"]), ss.get(W["to"]), span)
    state = ViewState(
        countries=tuple(ss.get(W["country"]) or ()),
        programmes=tuple(ss.get(W["programme"]) or ()),
        kinds=tuple(ss.get(W["kind"]) or ()),
        organisations=tuple(ss.get(W["org"]) or ()),
        date_from=date_from,
        date_to=date_to,
        currency=None if currency == ORIGINAL else currency,
        fx_at=fx_date.isoformat() if isinstance(fx_date, datetime.date) else ANNOUNCEMENT,
        lang=current_language(),
    )
    before = ss.get("_view")
    if before is not None and dataclasses.replace(before, lang=state.lang) != state:
        extra.pop("page", None)  # another view (a filter changed): its table starts at its first page
    ss["_view"] = state
    written = {**encode(state), **ss.get("_extra_params", {})}
    if written != params:
        st.query_params.from_dict(written)
    # Together: a run stopped before this point (a click starts another) leaves the page switch still to be seen.
    page_key = ss.get("_page_key")
    ss["_written_params"], ss["_params_page"] = written, page_key
    if not written:
        ss["_bare_pages"] = {*ss.get("_bare_pages", ()), page_key}
    return state


def page_view(prepared: Prepared, currency_fallback: str | None = None) -> FilteredView:
    """The view state, then the filtered view for this rerun.

    ``currency_fallback`` is for pages that cannot show original currencies side by side (World):
    they convert to it when the sidebar says "original currencies", and the sentence says so.
    """
    state = sync_state(prepared)
    if currency_fallback and state.currency is None:
        state = state.with_(currency=currency_fallback)
    return view_of(prepared, state)


def view_of(prepared: Prepared, state: ViewState) -> FilteredView:
    """The filtered view of ``state``, made once per state and shared: a live audience's pages all show the
    presenter's view, and a server's start-up works out the view a new viewer gets (ui.warm)."""
    return remembered(prepared, (state, "view"), lambda: apply_view(prepared, state, kind_labels(state.lang)))


# Never in a link handed on: the live session this viewer follows or drives, and the presenter's key.
NOT_SHARED = ("live", "key")


def current_link() -> str:
    """The URL of this exact view: the page's address with the state's query parameters (no live session)."""
    parts = urlsplit(st.context.url or "")
    params = {k: v for k, v in st.session_state.get("_written_params", {}).items() if k not in NOT_SHARED}
    query = urlencode(params, safe=",")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
