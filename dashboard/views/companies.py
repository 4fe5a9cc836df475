"""Companies: subsidy amounts by recipient and by project, joint projects never split."""

import streamlit as st

from aifunding.analysis.metrics import localized
from aifunding.figures.charts import build_recipient_figure
from aifunding.figures.presentation import awards_table, programme_families, unpublished_awards

import components as ui

prepared, view = ui.start("companies.title", "companies.intro")
t = ui.translator()
if view.awards.empty:
    ui.empty_notice()
    st.stop()

options = {"value_column": view.value_column, "currency_column": ui.currency_column(view), "lang": view.state.lang}
rows = ui.memo(view, "award-rows", lambda: awards_table(view.awards, prepared.package, **options))
figure = ui.memo(view, "recipients", lambda: build_recipient_figure(view.awards, **options))
ui.chart(prepared, figure, rows, key="recipients")

# One chart per programme with several funded recipients: the all-programme chart is dominated by
# the largest award, and each programme's own pool is what its recipients compete for.
families = ui.memo(
    view,
    "families",
    lambda: [
        (root_id, family, build_recipient_figure(family, **options))
        for root_id, family in programme_families(view.awards, **options)
    ],
)
for root_id, family, family_figure in families:
    ui.subheader_text(localized(family, "root_programme_name", view.state.lang).iloc[0])
    ui.chart(prepared, family_figure, rows, key=f"recipients-{root_id}")

unpublished = unpublished_awards(rows, view.state.lang)
if len(unpublished):
    st.subheader(t("companies.unpublished"))
    st.dataframe(unpublished, hide_index=True, key="unpublished")
