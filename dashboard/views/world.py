"""World: every country's programmes in one chosen currency, plans visibly apart from committed money.

Programmes in eight currencies can only share an axis once converted: the page converts to USD
unless the sidebar names another currency (the registry's currency fallback).
"""

from ui.blocks import page_charts
from ui.page import end_page, start
from ui.text import empty_notice

prepared, view = start("world")
if view.programmes.empty:
    empty_notice()
    end_page()
page_charts(prepared, view, "world")
