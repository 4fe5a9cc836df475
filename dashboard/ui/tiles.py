"""The Overview's tiles: the package's highlights, and the headline totals with what they add and leave out."""

from __future__ import annotations

import streamlit as st

from aifunding import markup
from aifunding.figures.presentation import explain_tables
from aifunding.outputs.summary import Headline, span_text, total_text

from ui.blocks import paged_table
from ui.state import translator

HIGHLIGHT_SOURCES = 2  # sources named on a highlight tile; the rest are counted


def highlight_tiles(headline: Headline) -> None:
    """The figures the package leads with: each a tile with its basis, date, sources and a link to its page."""
    if not headline.highlights:
        return
    t = translator()
    st.header(t("overview.highlights"))
    params = st.session_state.get("_written_params", {})
    for tile, item in zip(st.columns(len(headline.highlights)), headline.highlights, strict=True):
        with tile.container(border=True):
            st.metric(markup.text(item.date), markup.text(item.figure), help=markup.text(item.basis))
            if item.converted:
                st.caption(markup.text(item.converted))
            st.markdown(markup.text(item.claim))
            shown = list(item.sources[:HIGHLIGHT_SOURCES])
            if len(item.sources) > HIGHLIGHT_SOURCES:
                shown.append(f"+{len(item.sources) - HIGHLIGHT_SOURCES}")
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
    st.header(t("overview.totals"))
    keys = list(headline.totals)
    # The two counts share one column, one above the other: side by side, each had a sixth of the row and a
    # million awards' 100,005 recipients read "100,…".
    cols = st.columns([2] * len(keys) + [1.5])
    for col, key in zip(cols, keys, strict=False):
        total = headline.totals[key]
        # A total of several kinds ("$2.1B + up to about $1.2B + at least $2.5B") wraps rather than being
        # cut short as a metric's single line would be: every part of it stays readable.
        with col.container(border=True):
            st.markdown(f"**{t(f'overview.{key}')}**", help=t(f"overview.{key}.help"))
            with st.container(key=f"total-figure-{key}"):  # a figure, sized as a heading but not one
                st.markdown(markup.text(total_text(total, t.lang)))
            st.caption(markup.text(span_text(total, t.lang)))
    cols[-1].metric(t("overview.programmes"), f"{headline.programmes:,}", border=True)
    cols[-1].metric(t("overview.recipients"), f"{headline.recipients:,}", border=True)
    for key in keys:
        total = headline.totals[key]
        # Built only while open: a total over a large view considers tens of thousands of rows.
        explain = st.expander(
            t("overview.explain", name=t(f"overview.{key}")),
            icon=":material/calculate:",
            key=f"explain-{key}",
            on_change="rerun",
        )
        if not explain.open:
            continue
        with explain:
            added, left_out = explain_tables(total, t.lang)
            st.markdown(f"**{t('overview.added')}**")
            paged_table(added, key=f"added-{key}", download=f"total-{key}-added")
            st.markdown(f"**{t('overview.left_out')}**")
            paged_table(left_out, key=f"left-out-{key}", download=f"total-{key}-left-out")
