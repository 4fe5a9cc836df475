"""AI Funding Dashboard: the page list, from the chart registry. Each page lives in views/ and reads top to bottom."""

import streamlit as st

from aifunding.figures.registry import PAGES
from aifunding.i18n import LANGUAGES, Translator
from aifunding.loading.writer import writes_held

from ui.page import PageEnd
from ui.sidebar import draw_controls

# The sidebar's language switch, or the link's ``lang`` on the first load of a session.
_lang = st.session_state.get("w_lang") or st.query_params.get("lang") or "en"
t = Translator(_lang if _lang in LANGUAGES else "en")
st.set_page_config(page_title=t("app.title"), page_icon="💴", layout="wide")

overview = PAGES[0]
menu = [st.Page(f"views/{p.key}.py", title=t(f"page.{p.key}"), icon=p.icon, url_path=p.key) for p in PAGES]
# A live session's follower is switched to the presenter's page by its key (ui.live).
st.session_state["_navigation"] = {p.key: entry for p, entry in zip(PAGES, menu, strict=True)}
page = st.navigation(
    [
        # Streamlit serves the default page at the root and no longer answers its url_path, so the root
        # is a hidden copy of the Overview and the menu's Overview lives at /overview: a link naming
        # any page works, and the menu marks the page a shared link opens.
        st.Page(
            f"views/{overview.key}.py",
            title=t(f"page.{overview.key}"),
            icon=overview.icon,
            url_path="home",
            default=True,
            visibility="hidden",
        ),
        *menu,
    ]
)
# Each page's own name first in the browser's tab and a screen reader's announcement (WCAG 2.4.2): every page
# was "AI Funding Dashboard".
st.set_page_config(page_title=f"{page.title} · {t('app.title')}")
# What the run asks the cache to keep (a new package's tables and prepared views) is written once the page is out:
# turning a million awards into files held Python's lock for 3 to 4 s of the first viewer's wait.
with writes_held():
    try:
        page.run()
    except PageEnd:
        pass  # a page with nothing to show ended early; its sidebar is still drawn
    finally:
        # The sidebar controls are drawn after the page, so its charts reach the browser first.
        draw_controls()
