"""Live sessions in PostgreSQL, beside the uploads, so followers on every server of a deployment follow.

One table (:data:`SCHEMA`), created on first use under the uploads' advisory lock. A move updates the
session's row and, in the same transaction, sends ``NOTIFY aifunding_live, '<id>'``; each server's one
watcher thread LISTENs on one connection of its own (:class:`_NotifyFeed`) and reads the rows it was
told of on that connection. So a move costs one statement per server, whatever the number of
followers, and no viewer ever polls the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from aifunding.store.base import Clock, StoreUnavailable, utc_now
from aifunding.store.live import (
    KEEP_ENDED,
    MAX_SESSIONS,
    REFUSED_FULL,
    REFUSED_KEY,
    REFUSED_OVER,
    ChangeFeed,
    LiveRecord,
    LiveRefused,
    checked_state,
    idle_limit,
    is_live_id,
    key_hash,
    new_id,
    new_key,
)
from aifunding.store.postgres import CONNECT_TIMEOUT, LOCK_KEY

log = logging.getLogger("aifunding.store")
CHANNEL = "aifunding_live"
SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS aifunding_live (
        id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{22}$'),
        key_hash text NOT NULL,
        version bigint NOT NULL,
        state jsonb NOT NULL,
        updated timestamptz NOT NULL,
        ended boolean NOT NULL
    )
    """,
)
COLUMNS = "id, key_hash, version, state, updated, ended"
UNAVAILABLE = "the live sessions' database cannot be used"
# After the listening connection fails, wait this long before connecting again (a database restarting).
RECONNECT_SECONDS = 1.0


class PostgresLive:
    """A :class:`~aifunding.store.live.LiveStore` in the database at ``dsn``; nothing connects until first use."""

    def __init__(
        self, dsn: str, idle: timedelta | None = None, now: Clock = utc_now, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self._dsn = dsn
        self.idle = idle if idle is not None else idle_limit()
        self.now = now
        self.max_sessions = max_sessions
        self._schema_ready = False

    def begin(self, state: Mapping[str, Any]) -> tuple[str, str]:
        """See :meth:`aifunding.store.live.LiveStore.begin`."""
        kept = checked_state(state)
        live_id, key = new_id(), new_key()
        now = self.now()
        with self._transaction() as connection:
            connection.execute("DELETE FROM aifunding_live WHERE updated < %s", (now - self.idle - KEEP_ENDED,))
            row = connection.execute(
                "SELECT count(*) FROM aifunding_live WHERE NOT ended AND updated >= %s", (now - self.idle,)
            ).fetchone()
            if row is not None and row[0] >= self.max_sessions:
                raise LiveRefused(REFUSED_FULL)
            connection.execute(
                f"INSERT INTO aifunding_live ({COLUMNS}) VALUES (%s, %s, 1, %s, %s, false)",
                (live_id, key_hash(key), Jsonb(kept), now),
            )
        return live_id, key

    def publish(self, live_id: str, key: str, state: Mapping[str, Any]) -> int:
        """See :meth:`aifunding.store.live.LiveStore.publish`."""
        kept = checked_state(state)
        now = self.now()
        with self._transaction() as connection:
            record = self._locked_record(connection, live_id)
            if record is None or not record.drives(key):
                raise LiveRefused(REFUSED_KEY)
            if record.over(now, self.idle):
                raise LiveRefused(REFUSED_OVER)
            connection.execute(
                "UPDATE aifunding_live SET version = version + 1, state = %s, updated = %s WHERE id = %s",
                (Jsonb(kept), now, live_id),
            )
            connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, live_id))  # delivered at commit
        return record.version + 1

    def end(self, live_id: str, key: str) -> bool:
        """See :meth:`aifunding.store.live.LiveStore.end`."""
        with self._transaction() as connection:
            record = self._locked_record(connection, live_id)
            if record is None or not record.drives(key):
                return False
            if not record.ended:
                connection.execute(
                    "UPDATE aifunding_live SET version = version + 1, updated = %s, ended = true WHERE id = %s",
                    (self.now(), live_id),
                )
                connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, live_id))
        return True

    def read(self, live_id: str) -> LiveRecord | None:
        """See :meth:`aifunding.store.live.LiveStore.read`."""
        if not is_live_id(live_id):
            return None
        with self._transaction() as connection:
            return read_row(connection, live_id)

    def feed(self) -> ChangeFeed:
        """See :meth:`aifunding.store.live.LiveStore.feed`: LISTEN on a connection of the feed's own."""
        return _NotifyFeed(self)

    def _locked_record(self, connection: psycopg.Connection[TupleRow], live_id: str) -> LiveRecord | None:
        if not is_live_id(live_id):
            return None
        row = connection.execute(f"SELECT {COLUMNS} FROM aifunding_live WHERE id = %s FOR UPDATE", (live_id,))
        found = row.fetchone()
        return LiveRecord(*found) if found else None

    def connect(self) -> psycopg.Connection[TupleRow]:
        """A new connection with the table in place (the caller closes it).

        Raises:
            StoreUnavailable: the database cannot be reached (the address, which may hold a password, is in no
                message).
        """
        try:
            connection = psycopg.connect(self._dsn, connect_timeout=CONNECT_TIMEOUT)
            if not self._schema_ready:
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                for statement in SCHEMA:
                    connection.execute(statement)
                connection.commit()
                self._schema_ready = True
        except psycopg.Error as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """A new connection in one transaction, committed when the block ends without an error, then closed."""
        connection = self.connect()
        try:
            with connection:
                yield connection
        except psycopg.Error as error:
            raise StoreUnavailable(UNAVAILABLE) from error


def read_row(connection: psycopg.Connection[TupleRow], live_id: str) -> LiveRecord | None:
    found = connection.execute(f"SELECT {COLUMNS} FROM aifunding_live WHERE id = %s", (live_id,)).fetchone()
    return LiveRecord(*found) if found else None


class _NotifyFeed:
    """One listening connection: ``wait`` returns the watched ids notified meanwhile (all of them after a reconnect)."""

    def __init__(self, store: PostgresLive) -> None:
        self._store = store
        self._connection: psycopg.Connection[TupleRow] | None = None
        self._known: set[str] = set()
        self._stop = threading.Event()

    def wait(self, watched: Collection[str], timeout: float) -> set[str]:
        changed = {live_id for live_id in watched if live_id not in self._known}
        self._known = set(watched)
        try:
            if self._connection is None or self._connection.closed:
                self._connection = self._store.connect()
                self._connection.autocommit = True
                self._connection.execute(f"LISTEN {CHANNEL}")
                return set(watched)  # moves made while nobody listened are read again
            if changed:
                timeout = 0  # a new id is read at once, not after the wait
            for notify in self._connection.notifies(timeout=timeout, stop_after=1):
                changed.add(notify.payload)
            # Whatever else arrived meanwhile, without waiting again.
            for notify in self._connection.notifies(timeout=0):
                changed.add(notify.payload)
        except (psycopg.Error, StoreUnavailable):
            log.warning("the live sessions' change feed lost its database connection; connecting again")
            self.close_connection()
            self._stop.wait(RECONNECT_SECONDS)
            return set()
        return changed & set(watched)

    def read(self, live_id: str) -> LiveRecord | None:
        """The record, read on the listening connection (no new connection per move)."""
        if self._connection is None or self._connection.closed or not is_live_id(live_id):
            return self._store.read(live_id)
        return read_row(self._connection, live_id)

    def close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def close(self) -> None:
        self._stop.set()
        self.close_connection()
