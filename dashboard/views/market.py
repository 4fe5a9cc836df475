"""Cloud market: each market definition and year in its own panel, subsidy rounds beside them."""

from ui.blocks import page_charts
from ui.page import end_page, start
from ui.state import translator
from ui.text import empty_notice, notice

prepared, view = start("market")
if view.market_shares.empty:
    if view.awards.empty and view.programmes.empty:
        empty_notice()
    else:  # the view holds money (Korea's awards), only no market of its countries
        notice("info", translator()("chart.market.none"), ":material/search_off:")
    end_page()
page_charts(prepared, view, "market")
