"""The package this rerun serves, and the memo of what was built from it.

Caching lives here and only here: thin ``st.cache_resource`` wrappers around ``aifunding``
loaders, keyed by the package folder and the modification times of its files, so a changed file
is picked up on the next rerun and nothing is parsed twice.
"""

from __future__ import annotations

import datetime
import gc
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import streamlit as st

from aifunding import BUNDLED_DATA, markup
from aifunding.analysis.cached_views import prepare_cached
from aifunding.analysis.memo import remembered
from aifunding.analysis.view import FilteredView, Prepared, prepare
from aifunding.data.report import ValidationReport
from aifunding.i18n import Translator
from aifunding.loading.cache import PackageCache
from aifunding.loading.collector import collector_paused
from aifunding.loading.package import MadeMeanwhile, PackageReadError, load_package, package_signature
from aifunding.store.base import StoreError

from ui.own_data import Linked, UploadGone, linked_id, linked_package, open_link
from ui.readiness import FAILED, READY, Attempt
from ui.state import translator
from ui.text import notice

T = TypeVar("T")
log = logging.getLogger("aifunding.dashboard")
DATA_ENV = "AIFUNDING_DATA"
# Figures and tables built for a view are kept for this many views per package load, so going back
# to a filter combination (or another viewer asking for the same one) costs no rebuild.


def data_path() -> Path:
    """The package to serve: $AIFUNDING_DATA, or the bundled data/ folder."""
    return Path(os.environ.get(DATA_ENV) or BUNDLED_DATA)


@st.cache_resource(show_spinner=False, max_entries=4)
def _prepared(path: str, signature: tuple) -> tuple[Prepared, datetime.datetime]:
    # ``signature`` only keys the cache: a changed file gives a new key and a fresh load.
    # Validated once per content: a restart or another server process reads the cache instead. What is worked
    # out from the package is kept there by a thread of its own: the first viewer waits for the work, not the disk.
    cache = PackageCache.from_env(write_behind=True)
    with collector_paused():  # until a process's first package is set aside (_set_aside_first)
        # A package validated here is prepared while its references are resolved and its package rules run (mostly
        # Arrow's work, beside the joins).
        made = MadeMeanwhile(prepare)
        package = load_package(path, cache=cache, meanwhile=made)
        prepared = prepare_cached(package, cache, made.of(package))
        _set_aside_first(prepared)
    return prepared, datetime.datetime.now(datetime.UTC)


# The package last set aside from the cycle collector (see settle); weak, so it is not kept alive here.
_settled: list[weakref.ref[Prepared]] = []
_SETTLING = threading.Lock()
# Set when a load fails: the next settling collects everything, that load's cycles included.
_failed_since_settled = threading.Event()


def settle(prepared: Prepared) -> None:
    """Set every object alive now (``prepared`` just loaded, the modules, Streamlit's own) aside from Python's
    cycle collector, once per package: it otherwise goes through all of them again every few reruns.

    A million awards' package and the server around it made each full collection take 80 to 150 ms, paid
    by whichever filter change set it off. Set aside, objects are still freed when nothing refers to them;
    only cycles among them wait. Called once the caches have let go of the packages this one replaces, so
    what the last call set aside is handed back, those packages' cycles are collected, and the rest is set
    aside again. A load that fails sets nothing aside and hands nothing back.

    The process's first package is set aside as it is made (:func:`_set_aside_first`), before the collector is
    back on, and this call finds it settled. Otherwise a first package gets no full collection unless a load
    failed before it: what could be garbage then is the loading's own cycles, and a million awards' load left 45
    objects in them, while the full pass took 0.1 to 0.3 s of the first page (it goes through every tuple made
    since, to untrack it). Only the young generations are collected; anything older is set aside with the rest
    and collected when a package replaces this one (a server whose package never changes keeps those few
    objects). A failed load's cycles may be a whole package's, so the settling after one goes through everything.
    """
    with _SETTLING:
        if _settled and _settled[0]() is prepared:
            return
        everything = bool(_settled) or _failed_since_settled.is_set()
        gc.unfreeze()
        if everything:
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()
        _settled[:] = [weakref.ref(prepared)]
        _failed_since_settled.clear()


def _set_aside_first(prepared: Prepared) -> None:
    """Set the process's first package aside from the collector as soon as it is made, while the collector is paused.

    Once back on, the collector's first pass went through every object the load had just made (a million
    awards' views read back from the cache: 0.07 to 0.2 s of the first page) only to find them alive; set
    aside first (an O(1) move), they are never gone through. What the load leaves is alive: the kept views'
    reader leaves no garbage, and a validation's own cycles are a few dozen objects, set aside with the rest
    until a package replaces this one. A package that replaces another, or the first after a failed load,
    is left to :func:`settle`, which collects everything first.
    """
    with _SETTLING:
        if _settled or _failed_since_settled.is_set():
            return
        gc.freeze()
        _settled[:] = [weakref.ref(prepared)]


def warm_up(attempt: Attempt) -> None:
    """Load the served package before any viewer asks for it: dashboard/serve.py calls this as the server starts.

    The very call a page makes (:func:`_prepared`, with the same arguments), so a viewer who arrives while it
    runs waits for this load (Streamlit's cache lets one caller work out a value and the others wait for it), and
    one who arrives after finds it done: the first page costs no validation, preparation or reading back. The
    modules the pages use are imported first, and each page's first view (no filters) is worked out after the
    load (:func:`ui.warm.default_views`), so a new viewer's first page is drawn from what is remembered.
    ``attempt`` records how it ended, for the ``/ready`` route (:class:`ui.readiness.Readiness`); a package that
    cannot be loaded is logged as a page would log it, and its pages say why when asked.
    """
    import aifunding.figures.registry  # noqa: F401  (the pages' modules, imported before the first page)

    import ui.blocks
    import ui.sidebar  # noqa: F401

    path = data_path()
    signature = package_signature(path)
    try:
        prepared, _ = _prepared(str(path), signature)
    except Exception as exc:
        attempt.finish(FAILED, signature, problem=_failure(exc, Translator("en"), " as the server started"))
        return
    from ui.warm import default_views

    default_views(prepared)  # what each page shows a new viewer, remembered as the pages remember it
    report = prepared.package.report
    attempt.finish(READY, signature, awards=len(prepared.awards), errors=len(report.errors))
    log.info("the data package is loaded (%d awards, %d errors): ready", len(prepared.awards), len(report.errors))


def _opened(path: Path, signature: tuple | None = None) -> tuple[Prepared, datetime.datetime]:
    """:func:`_prepared` of the package at ``path``, saying what is happening while a first opening takes time.

    A million awards take about 17 s to check and join the first time (a blank page until then);
    the spinner, with its running time, shows only when the call takes over half a second, so a
    package already loaded shows nothing.
    """
    with st.spinner(translator()("loading.package"), show_time=True):
        return _prepared(str(path), package_signature(path) if signature is None else signature)


# A changed package that takes longer than this to open is opened behind the data shown: viewers keep what they
# saw, told that newer files are being checked, rather than each page waiting for the load (about 17 s at a million
# awards). A quicker one is shown as soon as it is open, as before.
BEHIND_AFTER_S = 1.5


@dataclass
class Opening:
    """Files of a package being opened by a thread of their own while viewers keep the data shown before."""

    signature: tuple
    started: datetime.datetime
    finished: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None
    began: float = field(default_factory=time.monotonic)

    def awaited(self) -> bool:
        """Whether it is done, having waited for it until :data:`BEHIND_AFTER_S` after it began (not at every rerun
        meanwhile: a viewer who changes a filter then is answered from the data shown at once)."""
        return self.finished.wait(max(0.0, BEHIND_AFTER_S - (time.monotonic() - self.began)))


# Per package path: the signature of the files last shown and what was shown, and the opening of newer files.
_shown: dict[str, tuple[tuple, Served]] = {}
_openings: dict[str, Opening] = {}
_OPENINGS_LOCK = threading.Lock()


def _opening(path: Path, signature: tuple) -> Opening:
    """The opening of ``path``'s files of ``signature`` behind the data shown, begun now unless it was begun before.

    One at a time per package: while files changed again during an opening, that opening is returned (and the
    newest files are opened after it). One that failed is not begun again until the files change.
    """
    with _OPENINGS_LOCK:
        opening = _openings.get(str(path))
        if opening is not None and (opening.signature == signature or not opening.finished.is_set()):
            return opening
        opening = _openings[str(path)] = Opening(signature, datetime.datetime.now(datetime.UTC))
    threading.Thread(target=_open_behind, args=(path, opening), name="aifunding-reopen", daemon=True).start()
    return opening


def _open_behind(path: Path, opening: Opening) -> None:
    try:
        _prepared(str(path), opening.signature)  # kept by Streamlit's cache: the next rerun finds it there
    except Exception as exc:
        opening.error = exc
        _failure(exc, Translator("en"), " behind the data shown")  # logged once, here; worded for each viewer
    finally:
        opening.finished.set()


@dataclass(frozen=True)
class Served:
    """What this rerun shows: the package viewers see, and the newest load when it failed validation."""

    prepared: Prepared
    loaded_at: datetime.datetime
    latest: Prepared | None = None  # the newest load, kept when it had errors so the Data page can list them
    problem: str | None = None  # why viewers are not seeing the newest files
    linked: Linked | None = None  # the uploaded package a link named, when that is what is shown
    checking: Opening | None = None  # newer files being opened behind what is shown


@st.cache_resource(show_spinner=False)
def _last_valid() -> dict[str, tuple[Prepared, datetime.datetime]]:
    """Per package path, the newest load that passed validation (shared by every session)."""
    return {}


def _first_errors(report: ValidationReport, limit: int = 2) -> str:
    shown = "; ".join(p.as_text() for p in report.errors[:limit])
    more = len(report.errors) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def _failure(exc: Exception, t: Callable[[str], str], when: str = "") -> str:
    """What viewers are told of a load that raised ``exc`` (called while handling it): one line that names no path
    on this machine; the server log keeps the traceback. The next package's settling collects everything."""
    _failed_since_settled.set()
    if isinstance(exc, PackageReadError):
        log.warning("the data package could not be read%s: %s", when, exc)
    else:
        log.exception("the data package could not be loaded%s", when)
    return _worded(exc, t)


def _worded(exc: Exception, t: Callable[[str], str]) -> str:
    return exc.public if isinstance(exc, PackageReadError) else t("error.unexpected")


def load() -> Served | None:
    """The package to show on this rerun, or None after showing why nothing can be shown.

    A changed file is picked up on the next rerun: opened by a thread of its own (:func:`_opening`), waited for
    until :data:`BEHIND_AFTER_S` after the opening began, and meanwhile the data shown before is shown again,
    saying so (:attr:`Served.checking`). If the changed package no longer validates, viewers keep the last
    valid version and a banner names the problem; a package that never validated is shown with its valid
    rows and the same banner.
    """
    blob_id = linked_id()
    if blob_id is not None:
        return _load_linked(blob_id)
    path = data_path()
    key = str(path)
    store = _last_valid()
    signature = package_signature(path)
    shown = _shown.get(key)
    if shown is not None and shown[0] != signature:  # changed files: opened behind what was shown if slow
        opening = _opening(path, signature)
        if opening.signature != signature or not opening.awaited():
            return replace(shown[1], checking=opening)
        if opening.error is not None:
            problem = _worded(opening.error, translator())
            return Served(*store[key], problem=problem) if key in store else replace(shown[1], problem=problem)
    try:
        prepared, loaded_at = _opened(path, signature)
    except Exception as exc:
        problem = _failure(exc, translator())
        if key in store:
            return Served(*store[key], problem=problem)
        st.error(f"**{translator()('error.load')}**: {markup.text(problem)}", icon=":material/error:")
        return None
    if prepared.package.report.valid:
        store[key] = (prepared, loaded_at)
        served = Served(prepared, loaded_at)
    else:
        problem = _first_errors(prepared.package.report)
        latest = Served(prepared, loaded_at, latest=prepared, problem=problem)
        served = Served(*store[key], latest=prepared, problem=problem) if key in store else latest
    _shown[key] = (signature, served)
    settle(prepared)  # the caches above hold this package now, and no longer the ones it replaced
    return served


@st.fragment(run_every=2)
def reload_when_opened(opening: Opening) -> None:
    """Every two seconds, until ``opening`` is done: then the page runs again and shows the newer data."""
    if opening.finished.is_set():
        st.rerun(scope="app")


def _load_linked(blob_id: str) -> Served | None:
    """The uploaded package ``blob_id``, or None after saying the link's data is gone and offering the served data."""
    t = translator()
    gone = "upload.gone"
    linked: Linked | None
    try:
        linked = linked_package(blob_id)
    except UploadGone:
        linked = None
    except StoreError:
        # The store cannot be reached now (a database down): the upload may well be there, so say so.
        log.exception("the store could not be read for the uploaded package %s", blob_id[:12])
        linked, gone = None, "upload.unavailable"
    except Exception:
        # Stored bytes that no longer unpack or load: the log keeps why.
        log.exception("the uploaded package %s could not be opened", blob_id[:12])
        linked = None
    if linked is None:
        notice("warning", t(gone), ":material/link_off:")
        st.button(t("upload.back"), key="upload_gone_back", on_click=open_link, args=(None,), icon=":material/undo:")
        return None
    prepared, loaded_at = _opened(linked.folder)
    if prepared.package.report.valid:
        return Served(prepared, loaded_at, linked=linked)
    return Served(prepared, loaded_at, latest=prepared, problem=_first_errors(prepared.package.report), linked=linked)


def served() -> Served:
    """The :class:`Served` of the current rerun (set by :func:`ui.page.start`)."""
    return st.session_state["_served"]


def memo(view: FilteredView, name: str, build: Callable[[], T]) -> T:
    """``build()`` for this view state, computed once per package load and then reused (every session shares it)."""
    return remembered(served().prepared, (view.state, name), build)
