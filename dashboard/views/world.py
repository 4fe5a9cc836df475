"""World: every country's programmes in one chosen currency, plans visibly apart from committed money."""

import streamlit as st

from aifunding.figures.charts import build_world_figure
from aifunding.figures.presentation import programmes_table

import components as ui

# Programmes in eight currencies can only share an axis once converted: USD unless the sidebar
# names another currency.
prepared, view = ui.start("world.title", "world.intro", currency_fallback="USD")
if view.programmes.empty:
    ui.empty_notice()
    st.stop()

shown = view.programmes[view.programmes["level"].isin(["programme", "budget_frame"])]
options = {"value_column": view.value_column, "currency_column": ui.currency_column(view), "lang": view.state.lang}
figure = ui.memo(view, "world", lambda: build_world_figure(shown, **options))
rows = ui.memo(view, "world-rows", lambda: programmes_table(shown, prepared.package, **options))
ui.chart(prepared, figure, rows, key="world")
