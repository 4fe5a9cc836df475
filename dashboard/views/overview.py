"""Overview: the news at a glance (the package's highlights), the honest totals, and what to watch."""

import datetime

import streamlit as st

from aifunding.figures.charts import build_programme_totals_figure
from aifunding.figures.presentation import milestones_table, programmes_table
from aifunding.outputs.summary import headline

import components as ui

prepared, view = ui.start("overview.title", "overview.intro")
t = ui.translator()
figures = ui.memo(view, "headline", lambda: headline(prepared, view))
# The highlights are the package's own choice, so they lead even when the filters leave no rows.
ui.highlight_tiles(figures)
if view.empty:
    ui.empty_notice()
    st.stop()
ui.total_tiles(figures)

top_level = view.programmes[view.programmes["level"].isin(["programme", "round"])]
options = {"value_column": view.value_column, "currency_column": ui.currency_column(view), "lang": view.state.lang}
figure = ui.memo(view, "overview-totals", lambda: build_programme_totals_figure(top_level, **options))
rows = ui.memo(view, "overview-rows", lambda: programmes_table(top_level, prepared.package, **options))
ui.chart(prepared, figure, rows, key="overview-totals")

st.subheader(t("overview.watch"))
today = datetime.date.today().isoformat()
watch = ui.memo(
    view,
    f"watch-{today}",
    lambda: milestones_table(view.milestones, prepared.package, today=today, lang=view.state.lang),
)
if watch.empty:
    ui.empty_notice()
else:
    st.dataframe(watch, hide_index=True, key="milestones", column_config=ui.milestone_columns(watch))
