"""Companies: subsidy amounts by recipient and by project, joint projects never split."""

import streamlit as st

from aifunding.figures.presentation import awards_table, unpublished_awards

from ui.blocks import page_charts
from ui.loading import memo
from ui.page import start
from ui.state import translator
from ui.text import empty_notice

prepared, view = start("companies")
t = translator()
if view.awards.empty:
    empty_notice()
    st.stop()
page_charts(prepared, view, "companies")

rows = memo(view, "award-rows", lambda: awards_table(view.awards, prepared.package, money=view.money, lang=t.lang))
unpublished = unpublished_awards(rows, view.state.lang)
if len(unpublished):
    st.subheader(t("companies.unpublished"))
    st.dataframe(unpublished, hide_index=True, key="unpublished")
