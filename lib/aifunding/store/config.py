"""Which store a server uses, from its environment: a folder by default, PostgreSQL when one is named.

``AIFUNDING_STORE`` is a ``postgresql://`` (or ``postgres://``) address, shared by every server of a
deployment, or a folder; unset, it is ``$XDG_DATA_HOME/aifunding/uploads``, else
``~/.local/share/aifunding/uploads``. Uploads are data, not a cache that may be thrown away, so they
live under the data home, not beside the package cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from aifunding.store.base import Clock, Store, StoreSettingError, utc_now
from aifunding.store.folder import FolderStore
from aifunding.store.live import FolderLive, LiveStore, idle_limit
from aifunding.store.quotas import Quotas

STORE_ENV = "AIFUNDING_STORE"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_folder(environ: Mapping[str, str]) -> Path:
    """Where uploads live when ``AIFUNDING_STORE`` is unset."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aifunding" / "uploads"


def open_store(environ: Mapping[str, str] | None = None, now: Clock = utc_now) -> Store:
    """The store ``environ`` (default: this process's environment) asks for, with its quotas.

    Nothing is created or connected to until the store is first used.

    Raises:
        StoreSettingError: ``AIFUNDING_STORE`` names a scheme other than PostgreSQL's, or a quota
            variable is not a positive whole number.
    """
    environ = os.environ if environ is None else environ
    quotas = Quotas.from_env(environ)
    setting = environ.get(STORE_ENV, "").strip()
    if setting.lower().startswith(POSTGRES_SCHEMES):
        # Imported here: a server on the folder store never loads psycopg and libpq.
        from aifunding.store.postgres import PostgresStore

        return PostgresStore(setting, quotas, now)
    if "://" in setting:
        scheme = setting.partition("://")[0][:20]  # never the rest: it may hold a password
        raise StoreSettingError(f"{STORE_ENV} names a {scheme}:// address; use a postgresql:// address or a folder")
    folder = Path(setting).expanduser() if setting else default_folder(environ)
    return FolderStore(folder, quotas, now)


def open_live(environ: Mapping[str, str] | None = None, now: Clock = utc_now) -> LiveStore:
    """The live sessions of the store ``environ`` asks for: in its database, or a ``live`` folder beside the uploads.

    Raises:
        StoreSettingError: as :func:`open_store`, or ``AIFUNDING_LIVE_IDLE_MINUTES`` is not a whole number of at
            least 1.
    """
    environ = os.environ if environ is None else environ
    idle = idle_limit(environ)
    setting = environ.get(STORE_ENV, "").strip()
    if setting.lower().startswith(POSTGRES_SCHEMES):
        from aifunding.store.live_postgres import PostgresLive

        return PostgresLive(setting, idle, now)
    if "://" in setting:
        scheme = setting.partition("://")[0][:20]
        raise StoreSettingError(f"{STORE_ENV} names a {scheme}:// address; use a postgresql:// address or a folder")
    folder = Path(setting).expanduser() if setting else default_folder(environ)
    return FolderLive(folder / "live", idle, now)
