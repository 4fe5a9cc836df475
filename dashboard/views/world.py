"""World: every country's programmes in one chosen currency, plans visibly apart from committed money."""

import components as ui
import streamlit as st
from aifunding.charts import build_world_figure
from aifunding.presentation import programmes_table

prepared, view = ui.start("world.title")
t = ui.translator()
if view.programmes.empty:
    ui.empty_notice()
    st.stop()

if view.state.currency is None:
    st.warning(t("world.needs_currency"), icon=":material/currency_exchange:")
    st.stop()

shown = view.programmes[view.programmes["level"].isin(["programme", "budget_frame"])]
options = {"value_column": view.value_column, "currency_column": ui.currency_column(view), "lang": view.state.lang}
ui.chart(
    prepared, build_world_figure(shown, **options), programmes_table(shown, prepared.package, **options), key="world"
)
