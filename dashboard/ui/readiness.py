"""How far a server's start-up load of its package has got: what ``/ready`` answers (dashboard/serve.py).

Kept free of the dashboard's heavy imports (pandas, the library), so the server answers ``/ready`` from
its first second; the load itself is :func:`ui.loading.warm_up`, in a thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("aifunding.dashboard")
LOADING, READY, FAILED = "loading", "ready", "failed"
# What /ready says of a load that stopped on an error nobody foresaw (no path, no message: the log has them).
UNEXPECTED = "the package could not be loaded; the server's log says why"
# Seconds after a failed load before /ready tries again with the same files (an error that passes, such as a
# disk that was full, should not keep a server out of a load balancer's rotation for good).
RETRY_S = 60.0


class Attempt:
    """One load: what it ends with, unless a later load has begun since (then it is forgotten)."""

    def __init__(self, readiness: Readiness, number: int) -> None:
        self._readiness, self._number = readiness, number
        self.finished = False

    def finish(self, state: str, tried: object, **fields: Any) -> None:
        """The load of the files whose signature is ``tried`` is over: ``state`` is READY or FAILED, ``fields``
        what ``/ready`` says of it."""
        self.finished = True
        self._readiness._finish(self._number, state, tried, fields)


class Readiness:
    """``loading`` until the served package is validated (or read back from the cache) and its views are
    prepared; ``ready`` once a viewer's first page needs no load; ``failed`` when it could not be loaded.

    ``/ready`` looks again at the package's files (``signature``: names, times and sizes) each time it is
    asked: a failed load is begun again when they changed or :data:`RETRY_S` after it failed, and a
    loaded package whose files changed is loaded again while the server stays ready (``"reloading": true``
    meanwhile; a reload that fails leaves viewers the package loaded before, and says why).
    """

    def __init__(self, start: Callable[[Attempt], None], signature: Callable[[], object]) -> None:
        self._start, self._signature = start, signature
        self._lock = threading.Lock()
        self.state = LOADING
        self._fields: dict[str, Any] = {}
        self._number = 0  # the latest load's
        self._running = False
        self._reloading = False
        self._began = self._ended = time.monotonic()
        self._tried: object = None
        self._idle = threading.Event()  # set while no load runs
        self._idle.set()

    def begin(self) -> None:
        """Start a load in a thread of its own (the server's start-up)."""
        with self._lock:
            number = self._next()
        self._run(number)

    def _next(self) -> int:
        """A new load's number, its state set (under the lock): loading, or reloading when ready."""
        self._number += 1
        self._running, self._began = True, time.monotonic()
        self._idle.clear()
        if self.state == READY:
            self._reloading = True
        else:
            self.state, self._fields = LOADING, {}
        return self._number

    def _run(self, number: int) -> None:
        threading.Thread(target=self._load, args=(number,), name="aifunding-warm-up", daemon=True).start()

    def _load(self, number: int) -> None:
        attempt = Attempt(self, number)
        try:
            self._start(attempt)
        except Exception:
            log.exception("the server's start-up load stopped on an error")
        finally:
            if not attempt.finished:  # it raised: never "loading" for ever
                try:
                    tried = self._signature()
                except Exception:
                    tried = None
                attempt.finish(FAILED, tried, problem=UNEXPECTED)

    def _finish(self, number: int, state: str, tried: object, fields: dict[str, Any]) -> None:
        with self._lock:
            if number != self._number:  # a later load has begun: its end is the one that counts
                return
            seconds = round(time.monotonic() - self._began, 3)
            self._running, self._reloading, self._tried, self._ended = False, False, tried, time.monotonic()
            if state == FAILED and self.state == READY:
                # A reload that failed: viewers are shown the package loaded before, with the problem.
                self._fields = {**self._fields, "problem": fields.get("problem")}
            else:
                self.state, self._fields = state, {"seconds": seconds, **fields}
            self._idle.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no load runs (False if ``timeout`` seconds passed first)."""
        return self._idle.wait(timeout)

    def answer(self) -> tuple[int, dict[str, Any]]:
        """``/ready``'s status code (200 only when ready) and body; a load is begun again when the files changed,
        or a while after one failed (once, however many ask at the same time)."""
        again = None
        with self._lock:
            if not self._running:
                changed = self._signature() != self._tried
                due = self.state == FAILED and time.monotonic() - self._ended >= RETRY_S
                if changed or due:
                    again = self._next()
            if self.state == LOADING:
                body: dict[str, Any] = {"state": LOADING, "seconds": round(time.monotonic() - self._began, 3)}
            else:
                body = {"state": self.state, **self._fields}
                if self._reloading:
                    body["reloading"] = True
        if again is not None:
            self._run(again)
        return (200 if body["state"] == READY else 503), body
