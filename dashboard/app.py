"""AI Funding Dashboard: the page list. Each page lives in views/ and reads top to bottom."""

import streamlit as st

from aifunding.i18n import LANGUAGES, Translator

import components as ui

# The sidebar's language switch, or the link's ``lang`` on the first load of a session.
_lang = st.session_state.get("w_lang") or st.query_params.get("lang") or "en"
t = Translator(_lang if _lang in LANGUAGES else "en")
st.set_page_config(page_title=t("app.title"), page_icon="💴", layout="wide")

page = st.navigation(
    [
        # Streamlit serves the default page at the root and no longer answers its url_path, so the root
        # is a hidden copy of the Overview and the menu's Overview lives at /overview: a link naming
        # any page works, and the menu marks the page a shared link opens.
        st.Page(
            "views/overview.py",
            title=t("page.overview"),
            icon=":material/dashboard:",
            url_path="home",
            default=True,
            visibility="hidden",
        ),
        st.Page("views/overview.py", title=t("page.overview"), icon=":material/dashboard:", url_path="overview"),
        st.Page("views/companies.py", title=t("page.companies"), icon=":material/apartment:", url_path="companies"),
        st.Page(
            "views/programmes.py", title=t("page.programmes"), icon=":material/account_tree:", url_path="programmes"
        ),
        st.Page("views/market.py", title=t("page.market"), icon=":material/cloud:", url_path="market"),
        st.Page("views/world.py", title=t("page.world"), icon=":material/public:", url_path="world"),
        st.Page("views/data.py", title=t("page.data"), icon=":material/table:", url_path="data"),
        st.Page("views/sources.py", title=t("page.sources"), icon=":material/menu_book:", url_path="sources"),
    ]
)
try:
    page.run()
finally:
    # The sidebar controls are drawn after the page, so its charts reach the browser first.
    ui.draw_controls()
