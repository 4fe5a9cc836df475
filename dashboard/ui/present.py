"""Presenter mode: one chart per screen, large type, no chrome; arrow keys or a timer advance it.

The deck is :func:`aifunding.outputs.snapshot.slides`: the snapshot's figures, from the chart registry.
"""

from __future__ import annotations

import html
import time

import plotly.graph_objects as go
import streamlit as st

from aifunding import markup
from aifunding.analysis.memo import remembered
from aifunding.analysis.urlstate import MIN_SLIDE_SECONDS, encode
from aifunding.analysis.view import Prepared, ViewState, apply_view
from aifunding.figures.presentation import kind_labels
from aifunding.figures.slides import SLIDE_HEIGHT, fit_slide, slide_type
from aifunding.outputs.snapshot import Section, slides, title_lift
from aifunding.outputs.summary import kept_highlights

from ui import live
from ui.blocks import phone_title, source_footer
from ui.loading import load
from ui.state import translator, write_params
from ui.text import empty_notice, small

PRESENT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 1.5rem 3rem !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.35rem !important; }
/* A button's label a little smaller than the text, so "Exit presentation" fits its column at 1,024 pixels. */
[data-testid="stMain"] button p { font-size: 1.1rem !important; }
.st-key-slide-cards { display: none; }
/* Read by a screen reader, never seen, taking no room: the chart shows its title. */
[data-testid="stElementContainer"]:has(.slide-heading) {
  position: absolute !important; width: 1px !important; min-width: 0 !important; height: 1px !important;
  overflow: hidden;
  clip-path: inset(50%); white-space: nowrap;
}
@media (max-width: 900px) {
  [data-testid="stMainBlockContainer"] { padding: 1rem !important; }
  .st-key-slide-cards { display: flex; }
  /* One card under another (Streamlit stacks columns only below 640 pixels: the figures were cut off beside). */
  .st-key-slide-cards [data-testid="stHorizontalBlock"] { flex-direction: column !important; }
  .st-key-slide-cards [data-testid="stColumn"] { width: 100% !important; flex: 1 1 auto !important; }
  .st-key-slide-cards [data-testid="stMetricValue"] * { font-size: 2.5rem !important; font-weight: 700; }
  .st-key-slide-highlights { display: none; }
}
</style>"""

# Arrow keys press the slide buttons; Space too, unless it is pressing what has the focus (a button, a link, the
# sources' expander), which it then leaves to do that: it moved to the next slide from "Previous" and "Exit
# presentation". Guarded so reruns do not stack listeners.
PRESENT_KEYS = """<script>
if (!window.__aifundingSlideKeys) {
  window.__aifundingSlideKeys = true;
  document.addEventListener("keydown", (event) => {
    if (event.target && ["INPUT", "TEXTAREA"].includes(event.target.tagName)) return;
    if (event.key === " " && event.target && event.target.closest
        && event.target.closest("button, a, summary, [role='button']")) return;
    const key = {ArrowRight: "slide_next", PageDown: "slide_next", " ": "slide_next",
                 ArrowLeft: "slide_prev", PageUp: "slide_prev", Escape: "present_exit"}[event.key];
    const button = key && document.querySelector(`.st-key-${key} button`);
    if (button) { event.preventDefault(); button.click(); }
  });
}
</script>"""


def presenting() -> bool:
    return st.session_state.get("_extra_params", {}).get("present") == "1"


def set_presenting(on: bool) -> None:
    """Start or leave presenter mode; the address says so in the same rerun."""
    extra = dict(st.session_state.get("_extra_params", {}))
    if on:
        extra["present"] = "1"
    else:
        extra.pop("present", None)
        extra.pop("every", None)
    st.session_state["_extra_params"] = extra
    st.session_state["_slide"] = 0
    # Written here too so the next rerun does not re-decode the address as a newly opened link.
    write_params({**encode(st.session_state["_view"]), **extra})


# What a live session's banner takes above a slide (the presenter's holds the audience link): the slide's chart is
# that much shorter, so its buttons stay on a 900-pixel screen (they were 130 pixels below it, a follower's 60).
LIVE_BANNER_PX = {"presenter": 150, "follower": 70}


def _live_banner_px() -> int:
    current = live.role()
    if current is None or current.over:
        return 0
    return LIVE_BANNER_PX["presenter" if current.presenting else "follower"]


def _slide_step(step: int) -> None:
    st.session_state["_slide"] = st.session_state.get("_slide", 0) + step
    st.session_state["_slide_shown_at"] = time.monotonic()


def _seconds_per_slide() -> int | None:
    every = st.session_state.get("_extra_params", {}).get("every")
    if not (every and every.isdigit()):
        return None
    return max(int(every), MIN_SLIDE_SECONDS)  # decoding already bounds it; never faster, whatever the state


def _deck(prepared: Prepared, state: ViewState, lang: str) -> list[Section]:
    """The slides of ``state``, built once per view and package load (a live audience shares one deck)."""
    return remembered(
        prepared, (state, f"deck-{lang}"), lambda: slides(prepared, apply_view(prepared, state, kind_labels(lang)))
    )


def _highlight_cards(prepared: Prepared, state: ViewState) -> None:
    """The highlights slide for a narrow screen (a phone following a live presenter), shown in its stead there.

    The slide's figures sit side by side at a fixed size, which below about 900 pixels printed one over another;
    these cards are columns, which a narrow screen stacks. The stylesheet shows one or the other by the width.
    """
    t = translator()
    with st.container(key="slide-cards"):
        st.header(t("present.highlights"), anchor=False)
        items = kept_highlights(prepared, state.lang, state.fx)  # those the deck's headline keeps
        for column, item in zip(st.columns(len(items)), items, strict=True):
            with column.container(border=True):
                st.metric(markup.text(item.date), markup.text(item.figure))
                st.markdown(markup.text(item.claim))
                small(markup.text(" · ".join(filter(None, (item.basis, item.converted)))))


def _slide_controls(index: int, total: int) -> None:
    """Previous, where the deck is, next, and the way out (the arrow keys, Page Up and Down, turn slides too)."""
    t = translator()
    left, middle, right, leave = st.columns([1, 3, 1, 1.6], vertical_alignment="center")
    left.button(t("present.previous"), key="slide_prev", on_click=_slide_step, args=(-1,), icon=":material/arrow_back:")
    middle.markdown(t("present.position", n=index + 1, total=total))
    right.button(t("present.next"), key="slide_next", on_click=_slide_step, args=(1,), icon=":material/arrow_forward:")
    leave.button(t("present.exit"), key="present_exit", on_click=set_presenting, args=(False,), icon=":material/close:")


def present(state: ViewState) -> None:
    """Draw presenter mode for ``state`` (the page's own controls are not drawn)."""
    t = translator()
    st.html(PRESENT_CSS)
    st.html(PRESENT_KEYS, unsafe_allow_javascript=True)
    seconds = _seconds_per_slide()

    @st.fragment(run_every=seconds)
    def slide() -> None:
        if not presenting():  # the exit button's callback ran: leave the fragment for the whole page
            st.rerun(scope="app")
        # Reloaded on every tick, so a presentation left running shows data that changed on disk.
        current = load()
        if current is None:
            return
        if live.moved():  # a live presenter's slide reaches followers before this deck is built
            st.rerun(scope="app")
        deck = _deck(current.prepared, state, t.lang)
        now = time.monotonic()
        shown_at = st.session_state.setdefault("_slide_shown_at", now)
        if seconds is not None and now - shown_at >= seconds - 0.5:
            _slide_step(1)
        if not deck:
            empty_notice()
            return
        if live.moved():  # a follower turned a slide themselves
            st.rerun(scope="app")
        index = st.session_state.get("_slide", 0) % len(deck)
        # A copy, made from its plain dict: the deck is shared by every viewer of this view (a live session's
        # followers too), and making the shared figure into plotly's objects from two threads at once races.
        figure = go.Figure(deck[index].figure.to_dict())
        meta = figure.layout.meta or {}
        # Readable from the back of a room: bigger type, the title broken for it, one screen tall.
        slide_type(figure)
        fitted = fit_slide(figure, SLIDE_HEIGHT - _live_banner_px())
        # Above the slide: under it, a 1,024 by 768 projector showed the buttons only once scrolled to.
        _slide_controls(index, len(deck))
        with st.container(key=f"slide-{deck[index].key}"):
            # The slide's h1, for a screen reader's list of headings: the page's title and sections are not drawn.
            heading = t("present.heading", n=index + 1, total=len(deck), title=meta.get("title") or "")
            st.html(f"<h1 class='slide-heading'>{html.escape(heading)}</h1>")
            phone_title(meta, f"slide-{index}", title_lift(figure))  # its title above it on a phone, as on a page
            st.plotly_chart(
                figure, key=f"slide-{index}", config={"displaylogo": False}, alt=meta.get("alt"), theme=None
            )
        if fitted is not None:
            small(t("present.fitted", shown=fitted[0], total=fitted[1]))
        if deck[index].key == "highlights":
            _highlight_cards(current.prepared, state)
        source_footer(current.prepared, meta.get("source_ids", ()), meta.get("caveat_ids", ()))

    slide()
