"""Overview: headline figures, programme totals, and what to watch."""

import datetime

import streamlit as st

from aifunding.charts import build_programme_totals_figure
from aifunding.presentation import headline_figures, milestones_table, programmes_table

import components as ui

prepared, view = ui.start("overview.title", "overview.intro")
t = ui.translator()
if view.empty:
    ui.empty_notice()
    st.stop()

currency_column = ui.currency_column(view)
figures = headline_figures(
    view.awards, view.programmes, value_column=view.value_column, currency_column=currency_column
)
ui.headline_tiles(figures)

top_level = view.programmes[view.programmes["level"].isin(["programme", "round"])]
figure = build_programme_totals_figure(
    top_level, value_column=view.value_column, currency_column=currency_column, lang=view.state.lang
)
rows = programmes_table(
    top_level, prepared.package, value_column=view.value_column, currency_column=currency_column, lang=view.state.lang
)
ui.chart(prepared, figure, rows, key="overview-totals")

st.subheader(t("overview.watch"))
watch = milestones_table(
    view.milestones, prepared.package, today=datetime.date.today().isoformat(), lang=view.state.lang
)
if watch.empty:
    ui.empty_notice()
else:
    st.dataframe(watch, hide_index=True, key="milestones", column_config=ui.milestone_columns(watch))
