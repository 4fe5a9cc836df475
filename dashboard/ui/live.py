"""Live presenting: the audience follows the presenter's page, filters, slide and spotlighted chart.

The presenter starts a session from the share menu; their address gains ``live=<id>&key=<secret>``
and the menu gives the audience link (``live=<id>``) and its QR code. Every rerun of the presenter's
session publishes their view (:class:`aifunding.analysis.live.LiveView`) to the store when it changed.
One watcher thread per server (:class:`aifunding.store.live_watch.LiveWatcher`) keeps the latest
record of each followed session in memory. Each run of a follower's page hands the watcher a wake-up
(:mod:`ui.wake`); when the presenter moves, the watcher wakes the page, and its next run takes the
presenter's view as a newly opened link, in the follower's own language. While the presenter stays
put, a follower costs the server nothing. A follower who changes anything is
detached (the presenter's next moves leave them alone) until they choose to follow again.

Session state ``_live`` holds this session's :class:`Role`.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from aifunding.analysis.live import LiveView
from aifunding.analysis.urlstate import encode
from aifunding.figures.registry import PAGES_BY_KEY
from aifunding.outputs.qr import qr_svg
from aifunding.store.base import StoreError
from aifunding.store.config import open_live
from aifunding.store.live import LiveRecord, LiveRefused, is_live_id, is_live_key
from aifunding.store.live_watch import LiveWatcher

from ui.state import current_language, translator, write_params
from ui.text import notice, small
from ui.wake import page_waker, session_id

log = logging.getLogger("aifunding.dashboard")
LIVE, KEY = "live", "key"
SPOTLIGHT_CSS = """<style>
.st-key-{key} {{ outline: 5px solid #E69F00; outline-offset: 8px; border-radius: 6px; }}
</style>"""
# Scrolls the spotlighted chart into view once it is drawn (it may come after this script in the page).
SPOTLIGHT_SCROLL = """<script>
(() => {{
  const find = (tries) => {{
    const chart = document.querySelector(".st-key-{key}");
    if (chart) {{ chart.scrollIntoView({{behavior: "smooth", block: "center"}}); }}
    else if (tries < 50) {{ setTimeout(() => find(tries + 1), 200); }}
  }};
  find(0); /* {version} */
}})();
</script>"""


@st.cache_resource(show_spinner=False)
def watcher() -> LiveWatcher:
    """This server process's one watcher of the live sessions its viewers follow."""
    return LiveWatcher(open_live())


@dataclass
class Role:
    """This session's part in a live session: the presenter (holding its key) or a follower."""

    live_id: str
    key: str | None = None  # the presenter's key; None for a follower
    attached: bool = True  # a follower who has not changed anything since the presenter's last move
    seen: int | None = None  # the version a follower last took
    expected: LiveView | None = None  # a follower's own view right after taking the presenter's
    applying: bool = False  # a follower's page is taking the presenter's view on this rerun
    published: LiveView | None = None  # what a presenter last published
    spotlight: str | None = None  # the chart the presenter points at (the presenter's choice, or as followed)
    scroll: int | None = None  # a follower's page scrolls to the spotlight once, on the rerun that took it
    over: bool = False  # ended by the presenter, or idle past the limit

    @property
    def presenting(self) -> bool:
        return self.key is not None


def role() -> Role | None:
    return st.session_state.get("_live")


def presenting_live() -> bool:
    current = role()
    return current is not None and current.presenting and not current.over


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if isinstance(value, str) else None


def _record(live_id: str) -> LiveRecord | None:
    """The session as this server's watcher knows it; None (and the server's log) when the store is down."""
    try:
        return watcher().record(live_id)
    except StoreError:
        log.exception("the live session %s could not be read", live_id[:6])
        st.session_state["_live_notice"] = "live.unavailable"
        return None


def _is_over(record: LiveRecord) -> bool:
    store = watcher().store
    return record.over(store.now(), store.idle)


def begin(page_key: str) -> None:
    """Before the page loads: join the session the address names, and take the presenter's newest move.

    A follower whose page differs from the presenter's is switched to it here (the rerun starts again there).
    """
    ss = st.session_state
    if len(st.query_params):
        live_id, key = _param(LIVE), _param(KEY)
    else:  # the menu switched pages, and the address is written again later in this rerun (ui.state)
        extra = ss.get("_extra_params", {})
        live_id, key = extra.get(LIVE), extra.get(KEY)
    ss["_live_page"] = page_key
    if not is_live_id(live_id):
        if ss.pop("_live", None) is not None:
            _unfollow()
        return
    assert live_id is not None
    current = role()
    if current is None or current.live_id != live_id or (key is not None and current.key != key):
        current = ss["_live"] = _join(live_id, key)
    record = _record(live_id)
    current.over = record is None or _is_over(record)
    if current.presenting:
        _unfollow()
        return
    if current.attached and record is not None and record.version != current.seen:
        _take(current, record, page_key)
    if not current.over:
        _follow(current)
        # A move that came between reading the record and handing over the wake-up woke nobody: take it now.
        later = _record(live_id)
        if current.attached and later is not None and later.version != current.seen:
            st.rerun()


def _join(live_id: str, key: str | None) -> Role:
    """A new part in the session: presenter when ``key`` drives it, otherwise a follower (a wrong key is dropped)."""
    record = _record(live_id)
    if key is not None:
        if record is not None and is_live_key(key) and record.drives(key) and not _is_over(record):
            return Role(live_id, key)
        st.query_params.pop(KEY, None)
        st.session_state.get("_extra_params", {}).pop(KEY, None)
        st.session_state["_live_notice"] = "live.key_refused"
    return Role(live_id)


def _take(current: Role, record: LiveRecord, page_key: str) -> None:
    """Show the presenter's view of ``record`` in this follower's language."""
    current.seen = record.version
    view = LiveView.from_state(record.state, PAGES_BY_KEY)
    if view is None:  # the presenter's first view is on its way
        return
    current.applying = True
    current.spotlight = view.spotlight
    current.scroll = record.version if view.spotlight else None
    st.session_state["_slide"] = view.slide or 0
    st.session_state["_slide_shown_at"] = time.monotonic()
    params = view.follower_params(current_language(), current.live_id)
    if view.page != page_key:
        pages = st.session_state.get("_navigation", {})
        st.switch_page(pages.get(view.page) or f"views/{view.page}.py", query_params=params)
    st.query_params.from_dict(params)


def moved() -> bool:
    """After the view of this rerun is known: publish a presenter's move, or notice a follower's own.

    Called by every page (:func:`ui.page.start`) and by presenter mode's slide. True when a follower has
    just detached, so a fragment reruns the whole page to say so.
    """
    ss = st.session_state
    current = role()
    if current is None:
        return False
    presenting_slides = ss.get("_extra_params", {}).get("present") == "1"
    own = LiveView.of(
        ss.get("_live_page", ""), ss.get("_written_params", {}), ss.get("_slide", 0) if presenting_slides else None
    )
    if current.presenting:
        if current.published is not None and current.published.page != own.page:
            current.spotlight = None  # the chart pointed at is on the page left
        _publish(current, LiveView(own.page, own.params, own.slide, current.spotlight))
        return False
    if not current.attached:
        return False
    if current.applying or current.expected is None:
        current.expected, current.applying = own, False
        return False
    if own != current.expected:
        current.attached = False
        _follow(current)  # from now on woken only if the session ends
        return True
    return False


def _publish(current: Role, view: LiveView) -> None:
    if view == current.published or current.over:
        return
    assert current.key is not None
    try:
        watcher().store.publish(current.live_id, current.key, view.state())
    except LiveRefused:
        current.over = True
        return
    except StoreError:
        log.exception("the live session %s could not be moved", current.live_id[:6])
        st.session_state["_live_notice"] = "live.unavailable"
        return
    current.published = view
    try:
        watcher().refresh(current.live_id)  # this server's followers need not wait for the watcher's round
    except StoreError:
        log.exception("the live session %s could not be read back", current.live_id[:6])


def _audience_link(live_id: str) -> str:
    parts = urlsplit(st.context.url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode({LIVE: live_id}), ""))


# --- The presenter's controls (callbacks run before the next rerun) --------------------------------------


def start_live() -> None:
    """Begin a live session showing this view: the address gains ``live`` and ``key`` (share menu)."""
    ss = st.session_state
    try:
        live_id, key = watcher().store.begin({})
    except (LiveRefused, StoreError) as error:
        log.warning("a live session could not begin: %s", error)
        ss["_live_notice"] = "live.refused" if isinstance(error, LiveRefused) else "live.unavailable"
        return
    ss["_live"] = Role(live_id, key)
    extra = ss.setdefault("_extra_params", {})
    extra.update({LIVE: live_id, KEY: key})
    write_params({**encode(ss["_view"]), **extra})


def end_live(restart: bool = False) -> None:
    """End the session (followers keep the last view); with ``restart``, begin a new one with a new key."""
    ss = st.session_state
    current = role()
    if current is not None and current.key is not None:
        try:
            watcher().store.end(current.live_id, current.key)
            watcher().refresh(current.live_id)
        except StoreError:
            log.exception("the live session %s could not be ended", current.live_id[:6])
    ss.pop("_live", None)
    extra = ss.setdefault("_extra_params", {})
    extra.pop(LIVE, None)
    extra.pop(KEY, None)
    write_params({**encode(ss["_view"]), **extra})
    if restart:
        start_live()
    else:
        ss["_live_notice"] = "live.ended_by_you"


def follow_again() -> None:
    """A detached follower takes the presenter's view now, and every move after it."""
    current = role()
    if current is not None:
        current.attached, current.seen, current.expected = True, None, None


def leave_live() -> None:
    """Stop following (an ended session's note goes with it); the view stays."""
    ss = st.session_state
    ss.pop("_live", None)
    _unfollow()
    extra = ss.setdefault("_extra_params", {})
    extra.pop(LIVE, None)
    write_params({**encode(ss["_view"]), **extra})


def spotlight(chart_key: str) -> None:
    """Point the audience at a chart (again: stop pointing)."""
    current = role()
    if current is not None and current.presenting:
        current.spotlight = None if current.spotlight == chart_key else chart_key


# --- What the page shows --------------------------------------------------------------------------------


def banner() -> None:
    """The presenter's or the follower's line at the top of every page, and the spotlight's outline."""
    t = translator()
    message = st.session_state.pop("_live_notice", None)
    if message:
        notice("warning" if message != "live.ended_by_you" else "info", t(message), ":material/cast:")
    current = role()
    if current is None:
        return
    record = _record(current.live_id)
    if current.presenting:
        _presenter_banner(current)
    else:
        _follower_banner(current, record)
    _spotlight_marks(current)


def _presenter_banner(current: Role) -> None:
    t = translator()
    if current.over:
        notice("warning", t("live.presenter_over"), ":material/cast:")
        st.button(
            t("live.start_again"), key="live_restart_over", on_click=end_live, args=(True,), icon=":material/cast:"
        )
        return
    with st.container(border=True, key="live_banner"):
        text, end = st.columns([5, 1], vertical_alignment="center")
        text.markdown(f":material/cast: **{t('live.presenting')}** {t('live.audience_opens')}")
        text.code(_audience_link(current.live_id), language=None, wrap_lines=True)
        end.button(t("live.end"), key="live_end", on_click=end_live, icon=":material/stop_circle:")


def _follower_banner(current: Role, record: LiveRecord | None) -> None:
    t = translator()
    if record is None:
        notice("warning", t("live.unknown"), ":material/cast:")
        st.button(t("live.leave"), key="live_leave", on_click=leave_live, icon=":material/close:")
        return
    if current.over:
        # A follower exploring on their own is looking at their own view, not the presenter's last.
        notice("info", t("live.ended" if current.attached else "live.ended_detached"), ":material/cast:")
        st.button(t("live.leave"), key="live_leave", on_click=leave_live, icon=":material/close:")
        return
    if current.attached:
        notice("info", t("live.following"), ":material/cast_connected:")
    else:
        notice("warning", t("live.detached"), ":material/explore:")
        st.button(t("live.follow_again"), key="live_follow", on_click=follow_again, icon=":material/cast_connected:")


def _follow(current: Role) -> None:
    """Have the watcher wake this page when the presenter moves or the session ends (the next run takes it)."""
    wake, follower = page_waker(), session_id()
    if wake is not None and follower is not None:
        # A follower exploring on their own is woken only when the session ends, not by every move.
        watcher().follow(current.live_id, follower, wake, every_move=current.attached)


def _unfollow() -> None:
    """This session no longer follows a live session here (it left, or it presents)."""
    follower = session_id()
    if follower is not None:
        watcher().unfollow(follower)


def _spotlight_marks(current: Role) -> None:
    if not current.spotlight or current.over or not (current.presenting or current.attached):
        return
    key = re.sub(r"[^A-Za-z0-9_-]", "-", current.spotlight)
    st.html(SPOTLIGHT_CSS.format(key=key))
    if current.scroll is not None:
        st.html(SPOTLIGHT_SCROLL.format(key=key, version=current.scroll), unsafe_allow_javascript=True)
        current.scroll = None


def spotlight_button(chart_key: str) -> None:
    """Under a chart, while presenting live: point the audience at it (or stop)."""
    current = role()
    if current is None or not current.presenting or current.over:
        return
    t = translator()
    on = current.spotlight == chart_key
    st.button(
        t("live.spotlight_off" if on else "live.spotlight"),
        key=f"{chart_key}-spot",
        on_click=spotlight,
        args=(chart_key,),
        icon=":material/highlight:",
        type="primary" if on else "secondary",
    )


def share_controls() -> None:
    """The share menu's "Present live": start; or, while live, the audience link, its QR code, end and new key."""
    t = translator()
    current = role()
    if current is None or not current.presenting or current.over:
        st.button(t("live.start"), key="live_start", on_click=start_live, icon=":material/cast:")
        return
    link = _audience_link(current.live_id)
    st.markdown(f"**{t('live.audience_link')}**")
    st.code(link, language=None, wrap_lines=True)
    label = t("live.qr_alt", link=link)
    st.image(qr_svg(link, label), alt=label)
    small(t("live.audience_needs"))
    end, again = st.columns(2)
    end.button(t("live.end"), key="live_end_menu", on_click=end_live, icon=":material/stop_circle:")
    again.button(t("live.new_key"), key="live_new_key", on_click=end_live, args=(True,), icon=":material/key:")
