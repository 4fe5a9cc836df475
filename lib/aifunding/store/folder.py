"""Uploads in a folder on this machine: the default store, embedded, with nothing to start.

The folder (created with mode 0700: uploads are other people's data) holds::

    blobs/<id>/content     the bytes; the file's modification time is when the upload was last used
    blobs/<id>/meta.json   {"created": "<ISO time>", "meta": {...}}
    staging/               uploads being written, and removed ones being deleted
    lock                   taken exclusively while uploads come and go, shared while one is read

Several processes and threads may share the folder. An upload is written to ``staging/`` (and synced to
disk) outside the lock, then renamed into ``blobs/`` under it, so a reader sees a whole upload or none
and a link never shows half a file after a crash. Eviction runs under the exclusive lock, so two
processes never evict from one inventory at once. The lock is :func:`fcntl.flock`, which belongs to an
open file rather than a process, so each operation opens the lock file itself and threads exclude each
other too. It is dependable on a local disk only: several servers share uploads through PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

BLOBS = "blobs"
STAGING = "staging"
LOCK = "lock"
CONTENT = "content"
META = "meta.json"
# A staging folder untouched this long was left by a process that stopped mid-write; the next upload removes it.
STALE_STAGING = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNAVAILABLE = "the upload store's folder cannot be used"


class FolderStore:
    """A :class:`~aifunding.store.base.Store` in ``folder``; ``now`` is the clock (tests move it)."""

    def __init__(self, folder: Path, quotas: Quotas | None = None, now: Clock = utc_now) -> None:
        self.folder = folder
        self.quotas = quotas or Quotas()
        self._now = now

    def put(self, content: bytes, meta: Mapping[str, str]) -> str:
        """See :meth:`aifunding.store.base.Store.put`."""
        self.quotas.refuse_oversized(len(content))
        kept_meta = checked_meta(meta)
        blob_id = content_id(content)
        now = self._now()
        record = json.dumps({"created": now.isoformat(), "meta": kept_meta}, ensure_ascii=False).encode()
        try:
            for folder in (self.folder, self.folder / BLOBS, self.folder / STAGING):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            staged = Path(tempfile.mkdtemp(prefix="put-", dir=self.folder / STAGING))
            try:
                _write(staged / META, record)
                _write(staged / CONTENT, content)
                with self._locked(fcntl.LOCK_EX):
                    self._remove_stale_staging()
                    held = [item for item in self._held() if item.blob_id != blob_id]
                    for gone in self.quotas.evictions(held, len(content), now):
                        self._remove(gone)
                    entry = self._entry(blob_id)
                    if entry.is_dir():  # the same content again: the first meta and date stay
                        _touch(entry / CONTENT, now)
                    else:
                        _touch(staged / CONTENT, now)
                        os.rename(staged, entry)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return blob_id

    def get(self, blob_id: str) -> Stored | None:
        """See :meth:`aifunding.store.base.Store.get`."""
        if not is_blob_id(blob_id):
            return None
        now = self._now()
        entry = self._entry(blob_id)
        try:
            with self._locked(fcntl.LOCK_SH):
                if _from_ns(os.stat(entry / CONTENT).st_mtime_ns) < now - self.quotas.max_age:
                    return None  # too old: the next upload evicts it
                record = json.loads((entry / META).read_text("utf-8"))
                content = (entry / CONTENT).read_bytes()
                _touch(entry / CONTENT, now)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return Stored(blob_id, content, record["meta"], datetime.fromisoformat(record["created"]), now)

    def delete(self, blob_id: str) -> bool:
        """See :meth:`aifunding.store.base.Store.delete`."""
        if not is_blob_id(blob_id):
            return False
        try:
            with self._locked(fcntl.LOCK_EX):
                if not self._entry(blob_id).is_dir():
                    return False
                self._remove(blob_id)
                return True
        except FileNotFoundError:  # no folder yet
            return False
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error

    def usage(self) -> Usage:
        """See :meth:`aifunding.store.base.Store.usage`."""
        try:
            with self._locked(fcntl.LOCK_SH):
                held = self._held()
        except FileNotFoundError:  # no folder yet
            return Usage(0, 0)
        except OSError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        return Usage(len(held), sum(item.size for item in held))

    def _entry(self, blob_id: str) -> Path:
        return self.folder / BLOBS / blob_id

    @contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        """The folder's lock, held until the block ends (FileNotFoundError when the folder does not exist)."""
        descriptor = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, operation)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def _held(self) -> list[Held]:
        """Every upload in the folder, for eviction and usage (never shown: nothing lists ids)."""
        held = []
        with os.scandir(self.folder / BLOBS) as entries:
            for entry in entries:
                if not is_blob_id(entry.name):
                    continue
                try:
                    info = os.stat(Path(entry.path) / CONTENT)
                except FileNotFoundError:  # damaged by hand: evicted first
                    held.append(Held(entry.name, 0, EPOCH))
                    continue
                held.append(Held(entry.name, info.st_size, _from_ns(info.st_mtime_ns)))
        return held

    def _remove(self, blob_id: str) -> None:
        """Take an upload out of ``blobs/`` in one rename, then delete its files (under the exclusive lock)."""
        doomed = Path(tempfile.mkdtemp(prefix="gone-", dir=self.folder / STAGING))
        os.rename(self._entry(blob_id), doomed / blob_id)
        shutil.rmtree(doomed, ignore_errors=True)

    def _remove_stale_staging(self) -> None:
        oldest = time.time() - STALE_STAGING.total_seconds()
        with os.scandir(self.folder / STAGING) as entries:
            for entry in entries:
                try:
                    stale = entry.stat(follow_symlinks=False).st_mtime < oldest
                except FileNotFoundError:  # a writer removed its own staging folder meanwhile
                    continue
                if stale:
                    shutil.rmtree(entry.path, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    """Write a new file and sync it, so what is renamed into place is on disk."""
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _touch(path: Path, when: datetime) -> None:
    """Mark an upload used at ``when`` (the store's clock, not the file system's)."""
    nanoseconds = (when - EPOCH) // timedelta(microseconds=1) * 1000
    os.utime(path, ns=(nanoseconds, nanoseconds))


def _from_ns(nanoseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=nanoseconds // 1000)
