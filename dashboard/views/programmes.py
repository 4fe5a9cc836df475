"""Programmes: totals, declared versus allocated, the announcement timeline, annualised amounts, nesting."""

import streamlit as st

from aifunding.figures.nesting import nesting_rows

from ui.blocks import page_charts, paged_table
from ui.loading import memo
from ui.page import end_page, start
from ui.state import translator
from ui.text import empty_notice

prepared, view = start("programmes")
t = translator()
if view.programmes.empty:
    empty_notice()
    end_page()
page_charts(prepared, view, "programmes")

st.header(t("programmes.nesting"))
nesting = memo(view, "nesting", lambda: nesting_rows(view.programmes, view.package.tree, money=view.money, lang=t.lang))
paged_table(nesting, key="nesting", download="programme-nesting", snapshot=t("programmes.nesting"))
