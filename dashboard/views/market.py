"""Cloud market: each market definition and year in its own panel, subsidy rounds beside them."""

from ui.blocks import page_charts
from ui.page import end_page, start
from ui.text import empty_notice

prepared, view = start("market")
if view.market_shares.empty:
    empty_notice()
    end_page()
page_charts(prepared, view, "market")
