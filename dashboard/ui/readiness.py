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


class Readiness:
    """``loading`` until the served package is validated (or read back from the cache) and its views are
    prepared; ``ready`` once a viewer's first page needs no load; ``failed`` when it could not be loaded.

    A failed load is tried again, in a new thread, when ``/ready`` is asked after the package's files
    changed (``signature`` is theirs: names, times and sizes), as a viewer's next page would try again.
    """

    def __init__(self, start: Callable[[Readiness], None], signature: Callable[[], object]) -> None:
        self._start, self._signature = start, signature
        self._lock = threading.Lock()
        self.state = LOADING
        self._began = time.monotonic()
        self._fields: dict[str, Any] = {}
        self._tried: object = None

    def begin(self) -> None:
        """Start a load in a thread of its own (the server's start-up)."""
        with self._lock:
            self._loading()
        self._run()

    def _loading(self) -> None:
        self.state, self._began, self._fields = LOADING, time.monotonic(), {}

    def _run(self) -> None:
        threading.Thread(target=self._load, name="aifunding-warm-up", daemon=True).start()

    def _load(self) -> None:
        try:
            self._start(self)
        except Exception:
            log.exception("the server's start-up load stopped on an error")
        finally:
            if self.state == LOADING:  # it raised: never "loading" forever
                try:
                    tried = self._signature()
                except Exception:
                    tried = None
                self.finish(FAILED, tried, problem=UNEXPECTED)

    def finish(self, state: str, tried: object, **fields: Any) -> None:
        """The load of the files whose signature is ``tried`` is over: ``state`` is READY or FAILED, ``fields``
        what ``/ready`` says of it."""
        with self._lock:
            self.state, self._tried = state, tried
            self._fields = {"seconds": round(time.monotonic() - self._began, 3), **fields}

    def answer(self) -> tuple[int, dict[str, Any]]:
        """``/ready``'s status code (200 only when ready) and body; a failed load whose files changed is begun again
        (once, however many ask at the same time)."""
        again = False
        with self._lock:
            if self.state == FAILED and self._signature() != self._tried:
                self._loading()
                again = True
            if self.state == LOADING:
                body = {"state": LOADING, "seconds": round(time.monotonic() - self._began, 3)}
            else:
                body = {"state": self.state, **self._fields}
        if again:
            self._run()
        return (200 if body["state"] == READY else 503), body
