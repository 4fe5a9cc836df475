"""Uploads in PostgreSQL, so several dashboard servers behind a load balancer share them.

One table, created on first use (:data:`SCHEMA`). Every upload runs in one transaction that first
takes a transaction-level advisory lock, so two servers evicting at once take turns: each sees the
other's uploads, and the quotas hold for the whole deployment. Reading an upload marks it used in
the same statement. Times come from the store's clock, not the database's, so both backends age
uploads alike (and tests can move the clock).

Each operation opens its own connection: uploads and opened links are rare next to page reruns, and a
connection per operation needs no pool and is safe from any thread. Live state shared by the servers
can later sit beside the uploads: another table in :data:`SCHEMA`, with LISTEN/NOTIFY on its own connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from aifunding.store.base import (
    Clock,
    Stored,
    StoreUnavailable,
    Usage,
    checked_meta,
    content_id,
    is_blob_id,
    utc_now,
)
from aifunding.store.quotas import Held, Quotas

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS aifunding_blobs (
        id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
        content bytea NOT NULL,
        size bigint NOT NULL,
        meta jsonb NOT NULL,
        created timestamptz NOT NULL,
        last_used timestamptz NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS aifunding_blobs_last_used ON aifunding_blobs (last_used)",
)
# The advisory lock that serialises changes to the uploads (and creating the table): "aifund" in ASCII,
# a number no other program on the database is likely to pick.
LOCK_KEY = 0x616966756E64
CONNECT_TIMEOUT = 10  # seconds: a database that does not answer is reported, not waited on forever
UNAVAILABLE = "the upload store's database cannot be used"


class PostgresStore:
    """A :class:`~aifunding.store.base.Store` in the database at ``dsn`` (a ``postgresql://`` address).

    Nothing connects until the first operation. ``now`` is the clock (tests move it).
    """

    def __init__(self, dsn: str, quotas: Quotas | None = None, now: Clock = utc_now) -> None:
        self._dsn = dsn
        self.quotas = quotas or Quotas()
        self._now = now
        self._schema_ready = False

    def put(self, content: bytes, meta: Mapping[str, str]) -> str:
        """See :meth:`aifunding.store.base.Store.put`."""
        self.quotas.refuse_oversized(len(content))
        kept_meta = checked_meta(meta)
        blob_id = content_id(content)
        now = self._now()
        with self._transaction() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            rows = connection.execute("SELECT id, size, last_used FROM aifunding_blobs WHERE id <> %s", (blob_id,))
            gone = self.quotas.evictions([Held(*row) for row in rows.fetchall()], len(content), now)
            if gone:
                connection.execute("DELETE FROM aifunding_blobs WHERE id = ANY(%s)", (gone,))
            # The same content again: marked used, and the first meta and date stay.
            touched = connection.execute("UPDATE aifunding_blobs SET last_used = %s WHERE id = %s", (now, blob_id))
            if touched.rowcount == 0:
                connection.execute(
                    "INSERT INTO aifunding_blobs (id, content, size, meta, created, last_used)"
                    " VALUES (%s, %b, %s, %s, %s, %s)",
                    (blob_id, content, len(content), Jsonb(kept_meta), now, now),
                )
        return blob_id

    def get(self, blob_id: str) -> Stored | None:
        """See :meth:`aifunding.store.base.Store.get`."""
        if not is_blob_id(blob_id):
            return None
        now = self._now()
        with self._transaction() as connection:
            # Binary results: the content comes back as its bytes, not as hex text twice its size.
            row = connection.execute(
                "UPDATE aifunding_blobs SET last_used = %s WHERE id = %s AND last_used >= %s"
                " RETURNING content, meta, created",
                (now, blob_id, now - self.quotas.max_age),
                binary=True,
            ).fetchone()
        if row is None:
            return None
        content, meta, created = row
        return Stored(blob_id, content, meta, created, now)

    def delete(self, blob_id: str) -> bool:
        """See :meth:`aifunding.store.base.Store.delete`."""
        if not is_blob_id(blob_id):
            return False
        with self._transaction() as connection:
            removed = connection.execute("DELETE FROM aifunding_blobs WHERE id = %s", (blob_id,)).rowcount
        return removed > 0

    def usage(self) -> Usage:
        """See :meth:`aifunding.store.base.Store.usage`."""
        with self._transaction() as connection:
            row = connection.execute("SELECT count(*), coalesce(sum(size), 0)::bigint FROM aifunding_blobs").fetchone()
        items, size = row if row else (0, 0)
        return Usage(items, size)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """A new connection in one transaction, committed when the block ends without an error, then closed.

        Raises:
            StoreUnavailable: the database cannot be reached or refused a statement (the address, which
                may hold a password, is in no message).
        """
        try:
            with psycopg.connect(self._dsn, connect_timeout=CONNECT_TIMEOUT) as connection:
                if not self._schema_ready:
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                    for statement in SCHEMA:
                        connection.execute(statement)
                    connection.commit()
                    self._schema_ready = True
                yield connection
        except psycopg.Error as error:
            raise StoreUnavailable(UNAVAILABLE) from error
