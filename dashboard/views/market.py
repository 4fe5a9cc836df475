"""Cloud market: each market definition and year in its own panel, subsidy rounds beside them."""

import streamlit as st

from aifunding.figures.charts import build_market_figure, build_programme_totals_figure
from aifunding.figures.presentation import programmes_table, shares_table

import components as ui

prepared, view = ui.start("market.title", "market.intro")
t = ui.translator()
if view.market_shares.empty:
    ui.empty_notice()
    st.stop()

shares = view.market_shares.sort_values(["year", "market_id"], ascending=[False, True])
rows = ui.memo(view, "share-rows", lambda: shares_table(shares, prepared.package, lang=view.state.lang))
# Never one axis for two market definitions: each market and year is its own panel.
for market_id, panel in shares.groupby("market_id", sort=False):
    panel_figure = ui.memo(
        view, f"market-{market_id}", lambda panel=panel: build_market_figure(panel, lang=view.state.lang)
    )
    ui.chart(prepared, panel_figure, rows, key=f"market-{market_id}")

st.subheader(t("market.context"))
st.markdown(t("market.context.intro"))
subsidies = view.programmes[
    view.programmes["kind"].isin(["compute_subsidy", "public_compute"]) & (view.programmes["country_id"] == "JP")
]
options = {"value_column": view.value_column, "currency_column": ui.currency_column(view), "lang": view.state.lang}
context = ui.memo(view, "market-subsidies", lambda: build_programme_totals_figure(subsidies, **options))
context_rows = ui.memo(view, "market-subsidy-rows", lambda: programmes_table(subsidies, prepared.package, **options))
ui.chart(prepared, context, context_rows, key="market-subsidies")
