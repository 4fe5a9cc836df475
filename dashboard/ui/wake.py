"""Waking a viewer's page from another thread: how a live session's follower learns the presenter moved.

A follower's page does not poll. Each run of it hands the live watcher a wake-up made here
(:func:`ui.live.begin`); when the presenter moves, the watcher's thread calls it, and the wake-up asks
Streamlit, on the server's event loop, to run the follower's page again. That run takes the presenter's
view (:func:`ui.live.begin`), so a move costs each follower one page run and an idle follower nothing.

Streamlit has no public call for a rerun started by the server. This uses the runtime's own parts, as
Streamlit's rerun-on-save does (:meth:`AppSession.request_rerun` with the session's latest address and
page): no widget state is sent, so the session's widgets keep their values and no button is pressed
again. Outside a served app (Streamlit's AppTest) there is no runtime, and no wake-up.
"""

from __future__ import annotations

from collections.abc import Callable

from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.runtime import Runtime
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.scriptrunner import get_script_run_ctx


def session_id() -> str | None:
    """This run's Streamlit session, or None outside a served app."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None and Runtime.exists() else None


def page_waker() -> Callable[[], bool] | None:
    """A callable, safe from any thread, that runs this session's page again; None outside a served app.

    It returns False once the session has closed.
    """
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime = Runtime.instance()
    loop = runtime._get_async_objs().eventloop  # the server's event loop (no public accessor)
    session_id = ctx.session_id
    # The address and page of this run, for a wake-up before the session's first run has ended.
    first = ClientState(query_string=ctx.query_string, page_script_hash=ctx.page_script_hash)

    def wake() -> bool:
        session = runtime.get_app_session(session_id)
        if session is None:
            return False
        try:
            loop.call_soon_threadsafe(_rerun, session, first)
        except RuntimeError:  # the server is stopping
            return False
        return True

    return wake


def _rerun(session: AppSession, first: ClientState) -> None:
    """On the event loop: run the session's page again, at its latest address."""
    latest = session._client_state  # the address and page of its latest run
    if not latest.page_script_hash:
        latest = first
    state = ClientState(query_string=latest.query_string, page_script_hash=latest.page_script_hash)
    if latest.HasField("context_info"):
        state.context_info.CopyFrom(latest.context_info)
    session.request_rerun(state)
