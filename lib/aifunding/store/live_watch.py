"""One thread per server process that keeps the latest record of every live session someone here follows.

Viewers ask :meth:`LiveWatcher.record` (a dictionary lookup, no I/O once a session is known); the thread
alone talks to the store, through the store's :class:`~aifunding.store.live.ChangeFeed`: every
``interval`` it polls one small file per watched session (folder store), or it wakes on PostgreSQL's
NOTIFY and reads the rows named. So a presenter's move costs each server one read, whatever the number
of followers.

Followers do not poll: each follower's page registers a wake-up (:meth:`LiveWatcher.follow`), and the
watcher calls the wake-ups of a session when a newer record arrives or the session passes its idle
limit. A follower costs nothing while the presenter stays put, and one wake-up per move. A session
nobody asked about for ``forget_after`` seconds, and nobody follows, is dropped.
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
# A follower's wake-up, called from the watcher's thread: asks the follower's page to look again, and says
# False when the follower is gone (its wake-up is then dropped).
Wake = Callable[[], bool]
Woken = list[tuple[str, Wake]]  # (follower's name, wake-up)


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
        # live id -> follower's name -> (wake-up, whether to wake it on every move or only when the session ends)
        self._followers: dict[str, dict[str, tuple[Wake, bool]]] = {}
        self._over: dict[str, bool] = {}  # live id -> whether its followers were last woken to an over session
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
            woken = self._store_newer(live_id, record)
        self._wake(live_id, woken)
        return record

    def follow(self, live_id: str, name: str, wake: Wake, every_move: bool = True) -> None:
        """Call ``wake`` when ``live_id`` moves or ends, until :meth:`unfollow` (one wake-up per ``name``).

        ``name`` is the follower's own (a Streamlit session's id); following another session drops the first.
        Without ``every_move`` (a follower exploring on their own), ``wake`` is called only when the session
        ends or passes its idle limit.
        """
        with self._lock:
            for followers in self._followers.values():
                followers.pop(name, None)
            self._followers.setdefault(live_id, {})[name] = (wake, every_move)

    def unfollow(self, name: str) -> None:
        with self._lock:
            for followers in self._followers.values():
                followers.pop(name, None)

    def followers(self, live_id: str) -> int:
        """How many followers on this server wait for ``live_id``'s moves."""
        with self._lock:
            return len(self._followers.get(live_id, {}))

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

    def _store_newer(self, live_id: str, record: LiveRecord | None) -> Woken:
        """Keep ``record`` unless a newer version is already known (the thread and a refresh may race).

        Returns the wake-ups of the session's followers when the record is newer than the one they saw.
        """
        known = self._records.get(live_id)
        if record is None or known is None or record.version >= known.version:
            self._records[live_id] = record
        newer = known is not None and record is not None and record.version > known.version
        if not newer and (known is not None) == (record is not None):
            return []
        # The followers woken now see whether it is over: the idle round need not wake them for it again.
        over = record is None or record.over(self.store.now(), self.store.idle)
        ended = over != self._over.get(live_id, False)
        self._over[live_id] = over
        followers = self._followers.get(live_id, {})
        return [(name, wake) for name, (wake, every_move) in followers.items() if every_move or ended]

    def _wake(self, live_id: str, woken: Woken) -> None:
        """Call each wake-up outside the lock; drop those whose follower is gone."""
        gone = [name for name, wake in woken if not _woke(wake)]
        if gone:
            with self._lock:
                followers = self._followers.get(live_id, {})
                for name in gone:
                    followers.pop(name, None)

    def _wake_past_idle(self) -> None:
        """Wake the followers of each session that passed its idle limit (or came back) since the last round."""
        now = self.store.now()
        due: list[tuple[str, Woken]] = []
        with self._lock:
            for live_id, followers in self._followers.items():
                record = self._records.get(live_id)
                over = record is None or record.over(now, self.store.idle)
                if followers and self._over.get(live_id, over) != over:
                    due.append((live_id, [(name, wake) for name, (wake, _) in followers.items()]))
                self._over[live_id] = over
        for live_id, woken in due:
            self._wake(live_id, woken)

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
                    woken: Woken = []
                    with self._lock:
                        self.reads += 1
                        if live_id in self._records:
                            woken = self._store_newer(live_id, record)
                    self._wake(live_id, woken)
                self._wake_past_idle()
            except Exception:  # the thread must outlive a bad moment of the store
                log.exception("the live sessions' watcher failed a round; trying again")
                self._stopped.wait(self.interval)
        feed.close()

    def _forget_unasked(self) -> list[str]:
        cutoff = self._clock() - self.forget_after
        with self._lock:
            for live_id in [i for i, asked in self._asked.items() if asked < cutoff]:
                if self._followers.get(live_id):
                    continue
                self._asked.pop(live_id, None)
                self._records.pop(live_id, None)
                self._followers.pop(live_id, None)
                self._over.pop(live_id, None)
            return list(self._records)


def _woke(wake: Wake) -> bool:
    try:
        return wake()
    except Exception:  # one follower's failure must not stop the others' wake-ups
        log.exception("a live follower could not be woken")
        return False
