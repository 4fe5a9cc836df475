"""What every store does, whatever keeps the bytes: the interface, its records, its errors and its ids.

An upload is kept under the SHA-256 of its content (the caller normalises the content first, so the same
data always gets the same id), and a link names it by that id alone. The id is the only way in: it is
unguessable without the content, and no store lists what it holds, so an upload is seen only by those
given its link. Ids come from links, which are untrusted, so every backend checks one with
:func:`is_blob_id` before it touches a file or the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

# A SHA-256 in lower-case hex, as :func:`content_id` writes it; nothing else names an upload.
BLOB_ID = re.compile(r"[0-9a-f]{64}")
# What describes an upload (its file name, its kind) is small; a bound keeps a caller's slip from filling the store.
META_BYTES = 64 * 1024

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, with its time zone (the stores compare times across servers)."""
    return datetime.now(UTC)


class StoreError(Exception):
    """Something the store cannot do; its message can be shown to the person who asked."""


class UploadTooLarge(StoreError):
    """An upload bigger than the store keeps: the message names the limit and the variable that sets it."""


class StoreUnavailable(StoreError):
    """The folder or the database cannot be used now; the cause is chained for the server's log, not shown."""


class StoreSettingError(StoreError, ValueError):
    """An environment variable of the store holds something it cannot use; the message names the variable."""


@dataclass(frozen=True)
class Stored:
    """One upload as the store gives it back."""

    blob_id: str
    content: bytes
    meta: dict[str, str]
    created: datetime
    last_used: datetime


@dataclass(frozen=True)
class Usage:
    """How much the store holds now: uploads and their bytes (past their age until the next upload evicts them)."""

    items: int
    size: int


class Store(Protocol):
    """Uploads by content hash, within quotas; several stores on one folder or database see the same uploads.

    There is deliberately no way to list ids: a link is the only way to an upload.
    """

    def put(self, content: bytes, meta: Mapping[str, str]) -> str:
        """Keep ``content`` and return its id, evicting the least recently used uploads to make room.

        The same content again returns the same id, marks it used and keeps the first ``meta``, so an
        existing link never changes what it shows.

        Raises:
            UploadTooLarge: the content is over the per-upload or the total quota; nothing was changed.
            StoreUnavailable: the folder or database cannot be used.
        """
        ...

    def get(self, blob_id: str) -> Stored | None:
        """The upload and its meta, marked used; None when the id is malformed, unknown, removed or too old."""
        ...

    def delete(self, blob_id: str) -> bool:
        """Remove an upload; False when there was none (or the id is malformed)."""
        ...

    def usage(self) -> Usage:
        """How many uploads and bytes the store holds."""
        ...


def content_id(content: bytes) -> str:
    """The id of ``content``: its SHA-256 in lower-case hex."""
    return hashlib.sha256(content).hexdigest()


def is_blob_id(text: str) -> bool:
    """Whether ``text`` can be an id at all; checked before any backend looks for it."""
    return isinstance(text, str) and BLOB_ID.fullmatch(text) is not None


def checked_meta(meta: Mapping[str, str]) -> dict[str, str]:
    """``meta`` as a plain dict, once it is known to be small text.

    Raises:
        TypeError: a key or value is not text.
        ValueError: as JSON it is longer than ``META_BYTES``.
    """
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in meta.items()):
        raise TypeError("an upload's meta maps text to text")
    if len(json.dumps(dict(meta), ensure_ascii=False).encode()) > META_BYTES:
        raise ValueError(f"an upload's meta is at most {META_BYTES:,} bytes of JSON")
    return dict(meta)
