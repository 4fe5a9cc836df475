"""Companies: subsidy amounts by recipient and by project, joint projects never split."""

import streamlit as st

from aifunding.figures.presentation import unpublished_in_view

from ui.blocks import page_charts, paged_table
from ui.loading import memo
from ui.page import end_page, start
from ui.state import translator
from ui.text import empty_notice

prepared, view = start("companies")
t = translator()
if view.award_count == 0:
    empty_notice()
    end_page()
page_charts(prepared, view, "companies")

# The awards in view that no chart can draw, having no amount: found among every award in view (the
# charts' rows hold only what they drew), worded a page at a time, and kept with the view's charts so a
# rerun of the same view words none of its page again.
unpublished = memo(view, "unpublished", lambda: unpublished_in_view(view, prepared.package, view.state.lang))
if len(unpublished):
    st.header(t("companies.unpublished"))
    paged_table(unpublished, key="unpublished", download="awards-without-amount", snapshot=t("companies.unpublished"))
