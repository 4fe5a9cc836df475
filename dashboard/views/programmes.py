"""Programmes: totals, declared versus allocated, the announcement timeline, annualised amounts, nesting."""

import streamlit as st

from aifunding.figures.charts import build_annualised_figure, build_programme_totals_figure, build_timeline_figure
from aifunding.figures.presentation import nesting_table, programmes_table

import components as ui

prepared, view = ui.start("programmes.title")
t = ui.translator()
if view.programmes.empty:
    ui.empty_notice()
    st.stop()

currency_column = ui.currency_column(view)
options = {"value_column": view.value_column, "currency_column": currency_column, "lang": view.state.lang}
rows = ui.memo(view, "programme-rows", lambda: programmes_table(view.programmes, prepared.package, **options))

# Budget frames and their budget lines hold money for far more than AI programmes; they are shown in
# the nesting table below, not drawn against the programmes they contain.
funding = view.programmes[view.programmes["kind"] != "budget_frame"]
totals = ui.memo(view, "programme-totals", lambda: build_programme_totals_figure(funding, **options))
timeline = ui.memo(view, "timeline", lambda: build_timeline_figure(view.programmes, **options))
annualised = ui.memo(view, "annualised", lambda: build_annualised_figure(funding, **options))
ui.chart(prepared, totals, rows, key="programme-totals")
ui.chart(prepared, timeline, rows, key="timeline")
ui.chart(prepared, annualised, rows, key="annualised")

st.subheader(t("programmes.nesting"))
nesting = ui.memo(view, "nesting", lambda: nesting_table(view.programmes, view.awards, **options))
st.dataframe(nesting, hide_index=True, key="nesting")
