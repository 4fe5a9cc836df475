"""Waking a viewer's page from another thread: how a live session's follower learns the presenter moved.

A follower's page does not poll. Its fragment (:func:`ui.live.begin`) hands the live watcher a wake-up made
here; when the presenter moves, the watcher's thread calls it, and the wake-up asks Streamlit, on the
server's event loop, to run that fragment again in the follower's session, as the browser does for a
fragment with ``run_every``. The fragment then takes the presenter's view and reruns the page.

Streamlit has no public call for a rerun started by the server. This uses the runtime's own parts, as
Streamlit's rerun-on-save does (:meth:`AppSession.request_rerun` with the session's latest address and
page): the session's widget states are left as they are (no widget state is sent, so no button is
pressed again), and when the fragment is gone (a full run that did not reach it yet), the whole page runs.
Outside a served app (Streamlit's AppTest) there is no runtime, and no wake-up.
"""

from __future__ import annotations

from collections.abc import Callable

from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.runtime import Runtime
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState


def session_id() -> str | None:
    """This run's Streamlit session, or None outside a served app."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None and Runtime.exists() else None


def fragment_waker() -> Callable[[], bool] | None:
    """Inside a fragment: a callable, safe from any thread, that runs this fragment again in this session.

    It returns False once the session has closed. None outside a served app.
    """
    ctx = get_script_run_ctx()
    fragment_id = ThreadState.get().fragment_id  # the fragment running now
    if ctx is None or not Runtime.exists() or fragment_id is None:
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
            loop.call_soon_threadsafe(_rerun, session, fragment_id, first)
        except RuntimeError:  # the server is stopping
            return False
        return True

    return wake


def _rerun(session: AppSession, fragment_id: str, first: ClientState) -> None:
    """On the event loop: run ``fragment_id`` again (or the page, when the fragment is gone)."""
    latest = session._client_state  # the address and page of its latest run
    if not latest.page_script_hash:
        latest = first
    state = ClientState(query_string=latest.query_string, page_script_hash=latest.page_script_hash)
    if latest.HasField("context_info"):
        state.context_info.CopyFrom(latest.context_info)
    if session.has_fragment(fragment_id):
        state.fragment_id = fragment_id
        state.is_auto_rerun = True
    session.request_rerun(state)
