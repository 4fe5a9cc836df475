"""One thread per server process that keeps the latest record of every live session someone here follows.

Viewers ask :meth:`LiveWatcher.record` (a dictionary lookup, no I/O once a session is known), as often as
they like; the thread alone talks to the store, through the store's :class:`~aifunding.store.live.ChangeFeed`:
every ``interval`` it polls one small file per watched session (folder store), or it wakes on
PostgreSQL's NOTIFY and reads the rows named. So a presenter's move costs each server one read,
whatever the number of followers. A session nobody asked about for ``forget_after`` seconds is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from aifunding.store.live import ChangeFeed, LiveRecord, LiveStore

log = logging.getLogger("aifunding.store")
# How often the folder feed looks at the files; PostgreSQL's feed wakes on a notification at once.
INTERVAL_SECONDS = 0.25
FORGET_AFTER_SECONDS = 60.0


class LiveWatcher:
    """The latest known record of each live session followed on this server (thread-safe)."""

    def __init__(
        self,
        store: LiveStore,
        interval: float = INTERVAL_SECONDS,
        forget_after: float = FORGET_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.interval = interval
        self.forget_after = forget_after
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, LiveRecord | None] = {}
        self._asked: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._feed: ChangeFeed | None = None
        self.reads = 0  # records read from the store, for tests and the benchmark

    def record(self, live_id: str) -> LiveRecord | None:
        """The latest record of ``live_id`` this server knows, read once from the store when it is new here.

        Raises:
            StoreUnavailable: the store cannot be read (only when the session is new on this server).
        """
        with self._lock:
            self._asked[live_id] = self._clock()
            if live_id in self._records:
                return self._records[live_id]
        record = self.store.read(live_id)
        with self._lock:
            self.reads += 1
            self._records.setdefault(live_id, record)
            self._ensure_thread()
            return self._records[live_id]

    def refresh(self, live_id: str) -> LiveRecord | None:
        """Read ``live_id`` again now (after this server moved it, so its own viewers need not wait)."""
        record = self.store.read(live_id)
        with self._lock:
            self.reads += 1
            self._asked[live_id] = self._clock()
            self._store_newer(live_id, record)
        return record

    def watched(self) -> list[str]:
        with self._lock:
            return list(self._records)

    def stop(self) -> None:
        self._stopped.set()
        feed = self._feed
        if feed is not None:
            feed.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _store_newer(self, live_id: str, record: LiveRecord | None) -> None:
        """Keep ``record`` unless a newer version is already known (the thread and a refresh may race)."""
        known = self._records.get(live_id)
        if record is None or known is None or record.version >= known.version:
            self._records[live_id] = record

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(target=self._run, name="aifunding-live-watcher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self._feed = feed = self.store.feed()
        while not self._stopped.is_set():
            try:
                watched = self._forget_unasked()
                changed = feed.wait(watched, self.interval)
                for live_id in changed:
                    record = feed.read(live_id)
                    with self._lock:
                        self.reads += 1
                        if live_id in self._records:
                            self._store_newer(live_id, record)
            except Exception:  # the thread must outlive a bad moment of the store
                log.exception("the live sessions' watcher failed a round; trying again")
                self._stopped.wait(self.interval)
        feed.close()

    def _forget_unasked(self) -> list[str]:
        cutoff = self._clock() - self.forget_after
        with self._lock:
            for live_id in [i for i, asked in self._asked.items() if asked < cutoff]:
                self._asked.pop(live_id, None)
                self._records.pop(live_id, None)
            return list(self._records)
