"""How much the store keeps, and which uploads go when a new one needs room.

Uploads are kept for links, not forever: each quota bounds the disk or database a server gives them,
and each is set by an environment variable. A new upload makes room by evicting the least recently
*used* uploads (a link opened yesterday outlives one uploaded yesterday and never opened), and any
upload unused for longer than the age limit goes at the next upload. Both backends decide with
:meth:`Quotas.evictions`, so they evict the same uploads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from aifunding.data.limits import GB, MB, describe_bytes, whole_setting
from aifunding.store.base import StoreSettingError, UploadTooLarge

# The variable that sets each quota.
VARIABLES = {
    "upload_bytes": "AIFUNDING_UPLOAD_BYTES",
    "total_bytes": "AIFUNDING_STORE_BYTES",
    "items": "AIFUNDING_STORE_ITEMS",
    "days": "AIFUNDING_STORE_DAYS",
}


class Held(NamedTuple):
    """One upload as eviction sees it: its id, its size in bytes and when it was last used."""

    blob_id: str
    size: int
    last_used: datetime


@dataclass(frozen=True)
class Quotas:
    """What the store keeps at most; the defaults suit one server with a few GB to spare."""

    upload_bytes: int = 200 * MB  # one upload: a package of 100,000 awards is 40 to 50 MB of CSV
    total_bytes: int = 5 * GB  # every upload together
    items: int = 500  # uploads kept
    days: int = 90  # days an upload is kept after it was last used

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Quotas:
        """The defaults, with any of the ``VARIABLES`` applied.

        Raises:
            StoreSettingError: a variable is not a whole number of at least 1; the message names it.
        """
        environ = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for item in fields(cls):
            name = VARIABLES[item.name]
            text = environ.get(name, "").strip()
            if not text:
                continue
            changes[item.name] = whole_setting(name, text, StoreSettingError)
        return replace(cls(), **changes)

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.days)

    def refuse_oversized(self, size: int) -> None:
        """Raise when an upload of ``size`` bytes may not be kept, however much is evicted.

        Raises:
            UploadTooLarge: over the per-upload quota, or over the total quota on its own.
        """
        refusals = (
            (self.upload_bytes, "upload_bytes", "accepts uploads of at most {}"),
            (self.total_bytes, "total_bytes", "keeps at most {} of uploads in all"),
        )
        for limit, field, rule in refusals:
            if size > limit:
                raise UploadTooLarge(
                    f"The upload is {describe_bytes(size)}; this server {rule.format(describe_bytes(limit))} "
                    f"({VARIABLES[field]})."
                )

    def evictions(self, held: Sequence[Held], size: int, now: datetime) -> list[str]:
        """The ids to remove so that one more upload of ``size`` bytes fits every quota.

        ``held`` is every other upload in the store (a repeated upload is left out: it stays, as the
        most recently used). First every upload unused for longer than the age limit, then the least
        recently used until the count and the bytes fit; equal times go in id order, so two servers
        agree.
        """
        cutoff = now - self.max_age
        gone = [item.blob_id for item in held if item.last_used < cutoff]
        kept = sorted((item for item in held if item.last_used >= cutoff), key=_least_recent_first)
        count, total = len(kept), sum(item.size for item in kept)
        for item in kept:
            if count + 1 <= self.items and total + size <= self.total_bytes:
                break
            gone.append(item.blob_id)
            count, total = count - 1, total - item.size
        return gone


def _least_recent_first(item: Held) -> tuple[datetime, str]:
    return item.last_used, item.blob_id
