"""Overview: the news at a glance (the package's highlights), the honest totals, and what to watch."""

import datetime

import streamlit as st

from aifunding.figures.presentation import milestones_table
from aifunding.outputs.snapshot import headline_sections
from aifunding.outputs.summary import headline

from ui.blocks import HEADLINE, page_charts, reading_table, snapshot_sections
from ui.loading import memo
from ui.page import end_page, start
from ui.state import translator
from ui.text import empty_notice
from ui.tiles import highlight_tiles, total_tiles

prepared, view = start("overview")
t = translator()
figures = memo(view, HEADLINE, lambda: headline(prepared, view))
# The highlights are the package's own choice, so they lead even when the filters leave no rows.
highlight_tiles(figures)
if view.empty:
    empty_notice()
    end_page()
total_tiles(figures)
snapshot_sections(*headline_sections(figures, view.state.lang))  # the tiles, as the report draws them
page_charts(prepared, view, "overview")

st.header(t("overview.watch"))
today = datetime.date.today().isoformat()
watch = memo(
    view,
    f"watch-{today}",
    lambda: milestones_table(
        view.milestones, prepared.package, today=today, lang=view.state.lang, awards=prepared.awards
    ),
)
if watch.empty:
    empty_notice()
else:
    reading_table(watch, key="milestones", label=t("overview.watch"), download="what-to-watch")
