"""Companies: subsidy amounts by recipient and by project, joint projects never split."""

import streamlit as st

from aifunding.figures.presentation import unpublished_awards

from ui.blocks import page_charts, paged_table
from ui.page import end_page, start
from ui.state import translator
from ui.text import empty_notice

prepared, view = start("companies")
t = translator()
if view.award_count == 0:
    empty_notice()
    end_page()
drawn = page_charts(prepared, view, "companies")

# The rows behind the all-recipient chart: every award in view, worded.
rows = drawn["recipients"][0].rows
unpublished = unpublished_awards(rows, view.money, view.state.lang)
if len(unpublished):
    st.subheader(t("companies.unpublished"))
    paged_table(unpublished, key="unpublished", download="awards-without-amount")
