"""The sidebar: language, filters and currency, drawn for the state :func:`ui.state.sync_state` read."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import streamlit as st

from aifunding import markup
from aifunding.analysis.conversion import ANNOUNCEMENT
from aifunding.analysis.memo import remembered
from aifunding.analysis.view import Prepared
from aifunding.data.vocabulary import Level
from aifunding.figures.presentation import kind_labels
from aifunding.i18n import LANGUAGE_NAMES, LANGUAGES
from aifunding.money.fx import rate_bounds, supported_currencies

from ui.state import FIXED, ORIGINAL, W, translator
from ui.text import small

# Choices a filter's list offers at most; a longer one gets a search box that narrows it.
MAX_OPTIONS = 1000
# The currencies offered first in the currency menu; every other ECB currency follows.
MAIN_CURRENCIES = ("JPY", "USD", "EUR", "GBP", "CAD", "INR", "KRW", "SGD")
DATE_LIMITS = {"min_value": datetime.date(1990, 1, 1), "max_value": datetime.date(2100, 12, 31), "format": "YYYY-MM-DD"}


def currency_menu() -> list[str]:
    """The main currencies first, then every other currency the ECB table converts."""
    supported = supported_currencies()
    currencies = [c for c in MAIN_CURRENCIES if c in supported or c == "EUR"]
    return currencies + [c for c in supported if c not in currencies]


def draw_controls() -> None:
    """Draw the sidebar controls.

    Called by app.py after the page has run, so the page's charts reach the browser before the
    sidebar's widgets (time to first chart); a page that stopped early still gets its controls.
    """
    current = st.session_state.get("_served")
    if current is None:
        return
    prepared = current.prepared
    t = translator()
    names = prepared.context.names_in(t.lang)
    countries, chosen_programmes, programme_kinds = _options(prepared)
    kinds = kind_labels(t.lang)
    with st.sidebar:
        st.segmented_control(t("filters.language"), list(LANGUAGES), key=W["lang"], format_func=LANGUAGE_NAMES.get)
        st.header(t("filters.header"))
        st.multiselect(
            t("filters.country"),
            countries,
            key=W["country"],
            format_func=lambda v: names["countries"].get(v, v),
            placeholder=t("filters.all"),
        )
        _choose(
            t("filters.programme"),
            chosen_programmes,
            W["programme"],
            names["programmes"],
        )
        st.multiselect(
            t("filters.kind"),
            programme_kinds,
            key=W["kind"],
            format_func=lambda v: kinds.get(v, v),
            placeholder=t("filters.all"),
        )
        _choose(t("filters.organisation"), _organisations(prepared, t.lang), W["org"], names["organisations"])
        st.date_input(t("filters.date_from"), key=W["from"], **DATE_LIMITS)
        st.date_input(t("filters.date_to"), key=W["to"], **DATE_LIMITS)
        currency = st.selectbox(
            t("filters.currency"),
            [ORIGINAL, *currency_menu()],
            key=W["cur"],
            format_func=lambda v: t("filters.currency.original") if v == ORIGINAL else v,
        )
        shown = st.session_state.get("_current_view")
        if currency == ORIGINAL and shown is not None and shown.state.currency:
            # A page that cannot show original currencies side by side (World) converts; say so beside the menu.
            small(t("filters.currency.page", currency=shown.state.currency))
        # Conversion controls only appear once there is something to convert: disabled widgets
        # render faded text that fails contrast checks, and they would say nothing useful.
        if currency != ORIGINAL:
            _conversion_controls()


def _options(prepared: Prepared) -> tuple[list[str], list[str], list[str]]:
    """The countries, the programmes that can be chosen (not components) and their kinds: once per package load.

    Going through a million awards' 11,000 programmes, cell by cell, took 15 to 20 ms of every rerun.
    """

    def gathered() -> tuple[list[str], list[str], list[str]]:
        programmes = prepared.programmes
        return (
            list(prepared.package.frame("countries")["id"]),
            list(programmes.loc[programmes["level"] != Level.COMPONENT.value, "id"]),
            sorted(set(programmes["kind"])),
        )

    return remembered(prepared, "sidebar-options", gathered)


def _organisations(prepared: Prepared, lang: str) -> list[str]:
    """The organisations that received an award, by name in ``lang``: listed once per package load.

    A register of 100,000 recipients took a second to gather and sort on every rerun of every page; their
    order is worked out when the package is prepared and kept with its views.
    """
    return remembered(prepared, ("sidebar-organisations", lang), lambda: prepared.context.organisations_by_name(lang))


def _choose(label: str, options: list[str], key: str, names: Mapping[str, str]) -> None:
    """A multiselect of ``options``; past :data:`MAX_OPTIONS` a search box narrows what the list offers.

    A register of 20,000 recipients would send every name to every browser on every rerun; the list
    holds what matches the search (and what is already chosen), at most MAX_OPTIONS names.
    """
    t = translator()
    chosen = list(st.session_state.get(key) or [])
    cut = False  # the list offers only the first MAX_OPTIONS matches
    if len(options) > MAX_OPTIONS:
        # Named after its filter: the organisations' and the programmes' boxes both read "Find in ... choices".
        search = t("filters.find", filter=label, n=f"{len(options):,}")
        query = st.text_input(search, key=f"{key}_find").strip().lower()
        matches = [o for o in options if query in names.get(o, o).lower() or query in o] if query else options
        if cut := len(matches) > MAX_OPTIONS:
            small(markup.text(t("filters.find.more", shown=f"{MAX_OPTIONS:,}", matches=f"{len(matches):,}")))
        options = list(dict.fromkeys([*chosen, *matches[:MAX_OPTIONS]]))
    # "Select all" of a list cut short would choose the first thousand of 11,036 matches, which no reader asked for.
    more = {"select_all": False} if cut else {}
    st.multiselect(label, options, key=key, format_func=lambda v: names.get(v, v), placeholder=t("filters.all"), **more)


def _conversion_controls() -> None:
    t = translator()
    first_rate, last_rate = rate_bounds()
    fx_mode = st.radio(t("filters.fx"), [ANNOUNCEMENT, FIXED], key=W["fx"], format_func=lambda v: t(f"filters.fx.{v}"))
    if fx_mode == FIXED:
        if not isinstance(st.session_state.get(W["fxdate"]), datetime.date):
            st.session_state[W["fxdate"]] = last_rate  # the newest ECB rate, not "today" beyond the table
        st.date_input(
            t("filters.fx_date"), key=W["fxdate"], min_value=first_rate, max_value=last_rate, format="YYYY-MM-DD"
        )
