"""The dashboard's server: ``streamlit run dashboard/serve.py`` (``make run``) serves dashboard/app.py and loads its
data package as it starts, not when the first viewer arrives.

The load runs in a thread of its own (:func:`ui.loading.warm_up`), so the server answers from its first
second. ``/ready`` says how far it has got: 503 and ``{"state": "loading", "seconds": ...}`` until the
package is loaded, then 200 and ``{"state": "ready", ...}``; 503 and ``{"state": "failed", "problem": ...}``
when it cannot be loaded (tried again once its files change, or a minute later); a package whose files changed
is loaded again while the server stays ready (``"reloading": true``). A load balancer's readiness check pointed at it
sends viewers only to servers that can answer them at once. It is served under ``server.baseUrlPath`` as Streamlit's
own routes are (``/dashboard/ready`` with ``--server.baseUrlPath dashboard``). ``streamlit run dashboard/app.py``
serves the same pages and loads the package for the first viewer instead.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from streamlit import config
from streamlit.url_util import make_url_path

from ui.readiness import Attempt, Readiness


def _load(attempt: Attempt) -> None:
    from ui.loading import warm_up  # the library and pandas: imported in the load's thread, not before serving

    warm_up(attempt)


def _signature() -> object:
    from aifunding.loading.package import package_signature

    from ui.loading import data_path

    return package_signature(data_path())


READINESS = Readiness(_load, _signature)


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    READINESS.begin()
    yield


async def _ready(_request: Request) -> JSONResponse:
    status, body = READINESS.answer()
    return JSONResponse(body, status_code=status)


def ready_path() -> str:
    """Where ``/ready`` is served: under ``server.baseUrlPath``, as the pages and ``/_stcore/health`` are.

    Read as the app is made: ``streamlit run`` has applied its flags, config.toml and the environment by then.
    """
    return make_url_path(config.get_option("server.baseUrlPath") or "", "/ready")


app = st.App(Path(__file__).with_name("app.py"), lifespan=_lifespan, routes=[Route(ready_path(), _ready)])
