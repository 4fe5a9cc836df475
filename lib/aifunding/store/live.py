"""Live sessions: the view a presenter shows, kept where every server of the deployment can read it.

A live session is one small record: an unguessable id (the audience link's ``live=<id>``), the SHA-256
of the presenter's key (the key itself is never stored, and only the key can change the record), a
version that grows with every move, the presenter's view as JSON, when it last moved, and whether it
ended. It lives in the same place as the uploads (:mod:`aifunding.store.config`): a folder on one
server (:class:`FolderLive`, here), PostgreSQL when several servers share one
(:mod:`aifunding.store.live_postgres`). Servers learn of moves through a :class:`ChangeFeed` (a poll
of one small file per session, or LISTEN/NOTIFY), read by one watcher thread per server process
(:mod:`aifunding.store.live_watch`), never by each viewer.

A session ends when its presenter ends it, or after ``AIFUNDING_LIVE_IDLE_MINUTES`` without a move.
Everything here trusts no caller: ids and keys come from links and are checked before any file or
row is touched.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aifunding.data.limits import whole_setting
from aifunding.store.base import Clock, StoreError, StoreSettingError, StoreUnavailable, utc_now

# token_urlsafe(16) and token_urlsafe(24): 128 bits for the id anyone in the room may see, 192 for the key.
ID_BYTES = 16
KEY_BYTES = 24
LIVE_ID = re.compile(r"[A-Za-z0-9_-]{22}")
LIVE_KEY = re.compile(r"[A-Za-z0-9_-]{32}")
# A view is a page, a few link parameters, a slide and a chart: far below this. The bound keeps a
# hostile presenter from making every server hold (and every follower decode) a large record.
STATE_BYTES = 16 * 1024
IDLE_ENV = "AIFUNDING_LIVE_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 60
# Sessions held at once; beyond it a new one is refused until old ones end or expire (each is a file or a row).
MAX_SESSIONS = 1000
# An ended or expired session's record stays this long past its expiry, so a follower who reloads is told it ended.
KEEP_ENDED = timedelta(days=1)


class LiveRefused(StoreError):
    """A move the store will not make: a key that does not drive the session, or a session that is over."""


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def is_live_id(text: object) -> bool:
    """Whether ``text`` can be a live session's id at all; checked before any backend looks for it."""
    return isinstance(text, str) and LIVE_ID.fullmatch(text) is not None


def is_live_key(text: object) -> bool:
    return isinstance(text, str) and LIVE_KEY.fullmatch(text) is not None


def key_hash(key: str) -> str:
    """What the store keeps of a key: its SHA-256 (the key is random, so no slow hash is needed)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def idle_limit(environ: Mapping[str, str] | None = None) -> timedelta:
    """How long a session lasts without a move: ``AIFUNDING_LIVE_IDLE_MINUTES`` (default 60).

    Raises:
        StoreSettingError: the variable is not a whole number of at least 1.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(IDLE_ENV, "").strip()
    minutes = whole_setting(IDLE_ENV, text, StoreSettingError) if text else DEFAULT_IDLE_MINUTES
    return timedelta(minutes=minutes)


def checked_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` as a plain dict, once it is known to be small JSON.

    Raises:
        ValueError: it is not JSON, or it is longer than :data:`STATE_BYTES`.
    """
    try:
        text = json.dumps(dict(state), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ValueError("a live view is JSON") from error
    if len(text.encode()) > STATE_BYTES:
        raise ValueError(f"a live view is at most {STATE_BYTES:,} bytes of JSON")
    return json.loads(text)


@dataclass(frozen=True)
class LiveRecord:
    """One live session as a server sees it. ``key_digest`` never leaves the server."""

    live_id: str
    key_digest: str
    version: int
    state: dict[str, Any]
    updated: datetime
    ended: bool

    def drives(self, key: object) -> bool:
        """Whether ``key`` is this session's key (compared in constant time)."""
        return is_live_key(key) and hmac.compare_digest(key_hash(str(key)), self.key_digest)

    def over(self, now: datetime, idle: timedelta) -> bool:
        """Ended by its presenter, or idle for longer than ``idle``."""
        return self.ended or self.updated < now - idle


class ChangeFeed(Protocol):
    """How one server learns which live sessions moved; used by one watcher thread only."""

    def wait(self, watched: Collection[str], timeout: float) -> set[str]:
        """Block for up to ``timeout`` seconds; the ids of ``watched`` that may have changed since the last call.

        An id it has not been asked about before is always returned, so its first state is read.
        """
        ...

    def read(self, live_id: str) -> LiveRecord | None:
        """The session's record, as :meth:`LiveStore.read` (on the feed's own connection, where it has one)."""
        ...

    def close(self) -> None: ...


class LiveStore(Protocol):
    """Live sessions: begun with a new id and key, moved only by the key, ended by it or by idling."""

    idle: timedelta
    now: Clock  # the store's clock (tests move it)

    def begin(self, state: Mapping[str, Any]) -> tuple[str, str]:
        """A new session showing ``state``: its id and its key (returned once; the store keeps its hash).

        Raises:
            LiveRefused: the store already holds :data:`MAX_SESSIONS` sessions that are not over.
            StoreUnavailable: the folder or database cannot be used.
        """
        ...

    def publish(self, live_id: str, key: str, state: Mapping[str, Any]) -> int:
        """Show ``state`` to the session's followers; returns the new version.

        Raises:
            LiveRefused: the id is unknown, the key does not drive it, or the session is over.
        """
        ...

    def end(self, live_id: str, key: str) -> bool:
        """End the session (its followers keep the last view); False when the key does not drive it."""
        ...

    def read(self, live_id: str) -> LiveRecord | None:
        """The session's record, over or not; None when the id is malformed or unknown."""
        ...

    def feed(self) -> ChangeFeed:
        """A new change feed, for one watcher thread."""
        ...


UNAVAILABLE = "the live sessions' folder cannot be used"
REFUSED_KEY = "this key does not drive the live session"
REFUSED_OVER = "the live session has ended"
REFUSED_FULL = "this server holds as many live sessions as it may; try again when some have ended"


class FolderLive:
    """Live sessions as files in ``folder`` (mode 0700), one ``<id>.json`` each, written whole by rename.

    Writers take turns through a file lock (``lock``), so a move is never lost between two processes;
    readers need no lock, as a rename replaces a record at once. ``now`` is the clock (tests move it).
    """

    def __init__(
        self, folder: Path, idle: timedelta | None = None, now: Clock = utc_now, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self.folder = folder
        self.idle = idle if idle is not None else idle_limit()
        self.now = now
        self.max_sessions = max_sessions

    def begin(self, state: Mapping[str, Any]) -> tuple[str, str]:
        """See :meth:`LiveStore.begin`."""
        kept = checked_state(state)
        live_id, key = new_id(), new_key()
        now = self.now()
        try:
            with self._locked():
                self._make_room(now)
                self._write(LiveRecord(live_id, key_hash(key), 1, kept, now, False))
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return live_id, key

    def publish(self, live_id: str, key: str, state: Mapping[str, Any]) -> int:
        """See :meth:`LiveStore.publish`."""
        kept = checked_state(state)
        now = self.now()
        try:
            with self._locked():
                record = self._driven(live_id, key, now)
                self._write(LiveRecord(live_id, record.key_digest, record.version + 1, kept, now, False))
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return record.version + 1

    def end(self, live_id: str, key: str) -> bool:
        """See :meth:`LiveStore.end`."""
        try:
            with self._locked():
                record = self.read(live_id)
                if record is None or not record.drives(key):
                    return False
                if not record.ended:
                    ended = LiveRecord(live_id, record.key_digest, record.version + 1, record.state, self.now(), True)
                    self._write(ended)
                return True
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error

    def read(self, live_id: str) -> LiveRecord | None:
        """See :meth:`LiveStore.read`."""
        if not is_live_id(live_id):
            return None
        try:
            text = self._path(live_id).read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return _record(live_id, json.loads(text))

    def feed(self) -> ChangeFeed:
        """See :meth:`LiveStore.feed`: a poll of each watched session's file, by what ``stat`` says of it."""
        return _FolderFeed(self)

    def _driven(self, live_id: str, key: str, now: datetime) -> LiveRecord:
        record = self.read(live_id)
        if record is None or not record.drives(key):
            raise LiveRefused(REFUSED_KEY)
        if record.over(now, self.idle):
            raise LiveRefused(REFUSED_OVER)
        return record

    def _path(self, live_id: str) -> Path:
        return self.folder / f"{live_id}.json"

    def _write(self, record: LiveRecord) -> None:
        body = {
            "key": record.key_digest,
            "version": record.version,
            "state": record.state,
            "updated": record.updated.isoformat(),
            "ended": record.ended,
        }
        descriptor, staged = tempfile.mkstemp(prefix=".write-", dir=self.folder)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(body, handle, ensure_ascii=False)
            os.replace(staged, self._path(record.live_id))
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise

    def _make_room(self, now: datetime) -> None:
        """Remove records long over; refuse a new session when too many are still live (under the lock)."""
        live = 0
        with os.scandir(self.folder) as entries:
            for entry in entries:
                name = entry.name.removesuffix(".json")
                if not entry.name.endswith(".json") or not is_live_id(name):
                    continue
                try:
                    record = self.read(name)
                except (OSError, ValueError, KeyError):
                    record = None
                if record is None or record.updated < now - self.idle - KEEP_ENDED:
                    Path(entry.path).unlink(missing_ok=True)
                elif not record.over(now, self.idle):
                    live += 1
        if live >= self.max_sessions:
            raise LiveRefused(REFUSED_FULL)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def _record(live_id: str, body: Mapping[str, Any]) -> LiveRecord:
    return LiveRecord(
        live_id,
        str(body["key"]),
        int(body["version"]),
        dict(body["state"]),
        datetime.fromisoformat(body["updated"]),
        bool(body["ended"]),
    )


class _FolderFeed:
    """Each call stats the file of every watched session (a few microseconds each) after ``timeout``."""

    def __init__(self, store: FolderLive) -> None:
        self._store = store
        self._seen: dict[str, tuple[int, int, int] | None] = {}
        self._stop = threading.Event()

    def wait(self, watched: Collection[str], timeout: float) -> set[str]:
        self._stop.wait(timeout)
        changed = set()
        signatures = {}
        for live_id in watched:
            try:
                info = os.stat(self._store._path(live_id))
                signature: tuple[int, int, int] | None = (info.st_ino, info.st_mtime_ns, info.st_size)
            except OSError:
                signature = None
            if live_id not in self._seen or self._seen[live_id] != signature:
                changed.add(live_id)
            signatures[live_id] = signature
        self._seen = signatures  # ids no longer watched are forgotten
        return changed

    def read(self, live_id: str) -> LiveRecord | None:
        return self._store.read(live_id)

    def close(self) -> None:
        self._stop.set()
