"""Text on the page: every message that quotes data, a link or validator output is escaped first."""

from __future__ import annotations

import streamlit as st

from aifunding import markup

from ui.state import translator


def small(markdown: str) -> None:
    """Small print at full text colour: st.caption's faded grey fails WCAG contrast for links.

    ``markdown`` is ours: any text from a package or a link in it has gone through :mod:`aifunding.markup`.
    """
    st.markdown(f":small[{markdown}]")


def notice(kind: str, message: str, icon: str) -> None:
    """An alert (``info``, ``warning``, ``error``, ``success``) showing ``message`` as plain text.

    Messages quote link parameters, package values and validator output, so the whole message is
    escaped: none of it can become a link, an image, a colour or a table.
    """
    alert = {"info": st.info, "warning": st.warning, "error": st.error, "success": st.success}[kind]
    alert(markup.text(message), icon=icon)


def heading_text(value: object) -> None:
    """A section's heading (the level under the page title) whose text comes from the data (a programme name),
    shown as it is."""
    st.header(markup.text(value))


def empty_notice() -> None:
    notice("info", translator()("common.empty_hint"), ":material/search_off:")
