"""Sources & method: every source with its tier and link, every caveat, how figures are made, the licence."""

import streamlit as st

from aifunding import markup
from aifunding.analysis.memo import remembered
from aifunding.figures.presentation import caveats_table, column, method_markdown, sources_table

from ui.blocks import paged_table, reading_table
from ui.page import start
from ui.state import translator

prepared, view = start("sources")
t = translator()
link = column("link", t.lang)
# Neither table depends on the filters: each is made once per package load and language, not on every rerun.
sources = remembered(prepared, ("sources-table", t.lang), lambda: sources_table(prepared.package, t.lang))
caveats = remembered(prepared, ("caveats-table", t.lang), lambda: caveats_table(prepared.package, t.lang))

st.header(t("sources.list"))
paged_table(
    sources,
    key="sources",
    download="sources",
    column_config={link: st.column_config.LinkColumn(link)},
    snapshot=t("sources.list"),
)

st.header(t("sources.caveats"))
reading_table(caveats, key="caveats", label=t("sources.caveats"), download="caveats")

st.header(t("sources.method"))
st.markdown(method_markdown(t.lang))

st.header(t("sources.licence"))
for licence in prepared.package.descriptor.get("licenses", []):
    st.markdown(markup.link(licence.get("title") or licence.get("name") or "", licence.get("path")))
