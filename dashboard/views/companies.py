"""Companies: subsidy amounts by recipient and by project, joint projects never split."""

import components as ui
import streamlit as st
from aifunding.charts import build_recipient_figure
from aifunding.presentation import awards_table

prepared, view = ui.start("companies.title")
if view.awards.empty:
    ui.empty_notice()
    st.stop()

currency_column = ui.currency_column(view)
figure = build_recipient_figure(
    view.awards, value_column=view.value_column, currency_column=currency_column, lang=view.state.lang
)
rows = awards_table(
    view.awards, prepared.package, value_column=view.value_column, currency_column=currency_column, lang=view.state.lang
)
ui.chart(prepared, figure, rows, key="recipients")

unpublished = rows[rows["Value"].isna()]
if len(unpublished):
    st.subheader(ui.translator()("companies.unpublished"))
    st.dataframe(unpublished.drop(columns=["Value"]), hide_index=True, key="unpublished")
