"""Cloud market: each market definition and year in its own panel, subsidy rounds beside them."""

import streamlit as st

from ui.blocks import page_charts
from ui.page import start
from ui.text import empty_notice

prepared, view = start("market")
if view.market_shares.empty:
    empty_notice()
    st.stop()
page_charts(prepared, view, "market")
