"""Programmes: totals, declared versus allocated, the announcement timeline, annualised amounts, nesting."""

import streamlit as st

from aifunding.charts import build_annualised_figure, build_programme_totals_figure, build_timeline_figure
from aifunding.presentation import nesting_table, programmes_table

import components as ui

prepared, view = ui.start("programmes.title")
t = ui.translator()
if view.programmes.empty:
    ui.empty_notice()
    st.stop()

currency_column = ui.currency_column(view)
options = {"value_column": view.value_column, "currency_column": currency_column, "lang": view.state.lang}
rows = programmes_table(view.programmes, prepared.package, **options)

# Budget frames and their budget lines hold money for far more than AI programmes; they are shown in
# the nesting table below, not drawn against the programmes they contain.
funding = view.programmes[view.programmes["kind"] != "budget_frame"]
ui.chart(prepared, build_programme_totals_figure(funding, **options), rows, key="programme-totals")
ui.chart(prepared, build_timeline_figure(view.programmes, **options), rows, key="timeline")
ui.chart(prepared, build_annualised_figure(funding, **options), rows, key="annualised")

st.subheader(t("programmes.nesting"))
st.dataframe(nesting_table(view.programmes, view.awards, **options), hide_index=True, key="nesting")
