"""Validated packages kept on disk under the hash of their content, so a package is validated once.

A restart, a second session or a second server process that opens the same files (same bytes, same
limits, same validating code) reads the valid rows back from Arrow files and the report from its
record instead of validating again: at a million awards that is seconds instead of minutes.

The key is a SHA-256 of everything validation depends on (:mod:`aifunding.loading.keys`): the descriptor,
each table's file name and text as read, the limits, and the source of the modules that validate (so a
changed rule never reuses an old answer). An entry is written to a temporary folder and renamed into place, so a reader
sees a whole entry or none, and two processes writing the same one at once both succeed.

A table is read from its entry when it is first asked for, from a file opened when the entry was
found (so an entry removed later by a newer one is still readable by whoever opened it): a server
that has a package's prepared views rarely needs its million citations, and does not wait for them.

Frames are stored exactly: Decimal columns as their text (an Arrow decimal would re-scale "2.5"
and "6000000000" to one scale), whole numbers as nullable integers, booleans as booleans, the rest
as text. Each table is one Arrow file (the IPC format, compressed with zstd: about the size of Parquet),
in one record batch: a million awards read back in a quarter of a second, where decoding Parquet and
joining its row groups took two to three.
The cache is bounded: past ``AIFUNDING_CACHE_ENTRIES`` entries (default 8) or ``AIFUNDING_CACHE_BYTES``
(default 20 GB) the least recently used entries are removed when a new one is stored (a million awards
with their prepared views take about 1 GB; a new version of the validating code makes new entries).

The report is kept with :mod:`pickle`, which runs code when read: the cache folder must be writable
only by the server's user (it is created with mode 0700); set ``AIFUNDING_CACHE=off`` to keep none.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import pickle
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.limits import GB, LimitsError, whole_setting
from aifunding.data.report import ValidationReport
from aifunding.data.tables import TABLES
from aifunding.loading.kept_views import Pickler, Unpickler, write_texts
from aifunding.loading.stored_tables import TABLE_SUFFIX, StoredFrames, private_folder, write_frame
from aifunding.loading.writer import pending_write, wait_for_writes, write_behind

T = TypeVar("T")
log = logging.getLogger(__name__)
CACHE_ENV = "AIFUNDING_CACHE"
OFF = ("off", "0", "no", "false")


@dataclass(frozen=True)
class Cached:
    """What a cache entry holds: the valid rows by table and the report of the validation that made them."""

    frames: Mapping[str, pd.DataFrame]
    report: ValidationReport


ENTRIES_ENV = "AIFUNDING_CACHE_ENTRIES"
BYTES_ENV = "AIFUNDING_CACHE_BYTES"
DEFAULT_ENTRIES = 8
DEFAULT_BYTES = 20 * GB
# Touched on every use of an entry: its time orders the entries for eviction.
USED = "used"
# An entry's report, written last: a folder without it is no entry (another process may be removing it).
REPORT = "report.pickle"
# How many times a value changed by another thread while pickled is pickled before it is not kept.
_PICKLE_ATTEMPTS = 3
# What :meth:`PackageCache.kept` gives when nothing is kept (None may be a kept value).
_MISSING = object()


@dataclass(frozen=True)
class PackageCache:
    """A folder of validated packages, one entry (a folder) per content key, the least recently used going first."""

    folder: Path
    max_entries: int = DEFAULT_ENTRIES
    max_bytes: int = DEFAULT_BYTES
    # Derived values' files written by a thread of their own, so whoever built a value need not wait for them.
    write_behind: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, write_behind: bool = False) -> PackageCache | None:
        """``$AIFUNDING_CACHE`` (a folder, or ``off``), else ``$XDG_CACHE_HOME/aifunding`` or ``~/.cache/aifunding``."""
        env = os.environ if environ is None else environ
        setting = env.get(CACHE_ENV, "").strip()
        if setting.lower() in OFF:
            return None
        bounds = {
            "max_entries": whole_setting(ENTRIES_ENV, env[ENTRIES_ENV], LimitsError) if env.get(ENTRIES_ENV) else None,
            "max_bytes": whole_setting(BYTES_ENV, env[BYTES_ENV], LimitsError) if env.get(BYTES_ENV) else None,
        }
        given: dict[str, Any] = {name: value for name, value in bounds.items() if value is not None}
        given["write_behind"] = write_behind
        if setting:
            return cls(Path(setting), **given)
        base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "aifunding", **given)

    def entry(self, key: str) -> Path:
        return self.folder / "packages" / key

    def get(self, key: str) -> Cached | None:
        """The entry for ``key``, or None when there is none (or it cannot be read: then it is validated anew)."""
        entry = self.entry(key)
        wait_for_writes(entry / REPORT)  # an entry this process is writing is read once it is whole
        if not (entry / REPORT).is_file():
            return None
        try:
            with (entry / REPORT).open("rb") as handle:
                report = pickle.load(handle)
            frames = StoredFrames(entry)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError, KeyError):
            return None
        if not isinstance(report, ValidationReport):
            return None
        _mark_used(entry)
        return Cached(frames, report)

    def known(self, files_key: str | None) -> str | None:
        """The content key last found for the files :func:`stat_key` describes, if any."""
        if files_key is None:
            return None
        try:
            key = (self.folder / "index" / files_key).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return key if re.fullmatch(r"[0-9a-f]{64}", key) else None

    def remember(self, files_key: str | None, key: str) -> None:
        """Note that the files :func:`stat_key` describes have the content key ``key`` (no error if it cannot)."""
        if files_key is None:
            return
        index = self.folder / "index"
        try:
            private_folder(index)
            staging = Path(tempfile.mkstemp(prefix=".", dir=index)[1])
            try:
                staging.write_text(key, encoding="ascii")
                os.replace(staging, index / files_key)
            finally:
                staging.unlink(missing_ok=True)
        except OSError:
            return

    def derived(self, key: str, name: str, digest: str, build: Callable[[], T]) -> T | Any:
        """What ``build()`` makes from the package of entry ``key``, kept in the entry under ``name``.

        ``digest`` names the code that builds it (:func:`source_digest`): changed code builds anew.
        Read back from the entry when it is there (the caller checks what it gets); otherwise built,
        and stored when the entry exists. As with the report, the file is a pickle; its text and other
        large parts are kept beside it as Arrow (:mod:`aifunding.loading.kept_views`). With ``write_behind``
        the value is pickled and its files written by the cache's writer thread (:mod:`aifunding.loading.writer`).
        """
        path = self.entry(key) / f"{name}-{digest[:32]}.pickle"
        value = self.kept(key, name, digest, default=_MISSING)
        if value is not _MISSING:
            return value
        value = build()
        keep = functools.partial(self._keep, key, name, path, value)
        write_behind(path, keep) if self.write_behind else keep()
        return value

    def _keep(self, key: str, name: str, path: Path, value: Any) -> None:
        """Pickle ``value`` and write it into entry ``key``, unless the entry is not whole (then nothing is kept).

        Only into a whole entry: a value built late (a first view's codes) must not make a folder that another
        process is evicting outlive it as a folder without its tables. Behind, the entry is looked at once the
        writes handed over before are done; when its tables are still to be written (held by another run, which
        may hand them over after this), the value is kept once they are. A value another thread changes while it
        is pickled (a cache inside it filling) is pickled again; what it holds then is as true of the package.
        """
        report = self.entry(key) / REPORT
        if not report.is_file():
            tables = pending_write(report)
            if tables is not None:  # another run holds (or writes) the entry's tables: kept once they are written
                again = functools.partial(write_behind, path, functools.partial(self._keep, key, name, path, value))
                tables.add_done_callback(lambda _: again())
            return
        for _ in range(_PICKLE_ATTEMPTS):
            texts: list[pa.Array] = []
            pickled = io.BytesIO()
            try:
                Pickler(pickled, texts).dump(value)
            except RecursionError:
                raise  # too deep to pickle, however often it is tried
            except RuntimeError as exc:  # "dictionary changed size during iteration"
                changed = exc
                continue
            self._store(key, name, path, pickled.getbuffer(), texts)  # the buffer, not a copy
            return
        log.warning("%s was not kept in the cache: it changed while it was pickled (%s)", name, changed)

    def _store(self, key: str, name: str, path: Path, pickled: memoryview, texts: list[pa.Array]) -> None:
        """Write a derived value's pickle and the texts set aside beside it into entry ``key``, whole or not at all."""
        entry, texts_path = path.parent, path.with_suffix(".arrow")
        try:
            staging = Path(tempfile.mkstemp(prefix=f".{name}-", dir=entry)[1])
            texts_staging = Path(tempfile.mkstemp(prefix=f".{name}-", dir=entry)[1])
            try:
                staging.write_bytes(pickled)
                write_texts(texts, texts_staging)
                os.replace(texts_staging, texts_path)  # the texts first: a pickle never names missing ones
                os.replace(staging, path)
            finally:
                staging.unlink(missing_ok=True)
                texts_staging.unlink(missing_ok=True)
            _remove_older(entry, name, path, (".pickle", ".arrow"))
            self.evict(keep=key)
        except OSError:
            pass  # not stored: built again next time

    def kept_file(self, key: str, name: str, digest: str, write: Callable[[Path], None], suffix: str) -> Path | None:
        """A file kept in entry ``key`` under ``name`` for the code of ``digest``; ``write(path)`` writes it if missing.

        For a value kept as a file of its own (the analytical engine's database), opened where it lies rather
        than read back into memory. ``write`` writes a new file at the path it is given, in a folder of its own
        inside the entry, and the file is moved into place whole, so a reader never finds half a file. None
        when there is no such entry or the file cannot be written: the caller then makes what it needs itself.
        """
        entry = self.entry(key)
        path = entry / f"{name}-{digest[:32]}{suffix}"
        if path.is_file():
            return path
        wait_for_writes(entry / REPORT)
        if not (entry / REPORT).is_file():  # only into a whole entry, as derived() keeps its values
            return None
        try:
            _remove_stale_staging(entry, name)
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=entry))
            try:
                write(staging / path.name)
                os.replace(staging / path.name, path)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            _remove_older(entry, name, path, (suffix,))
            self.evict(keep=key)
        except OSError:
            return None
        return path

    def kept(self, key: str, name: str, digest: str, default: Any = None) -> Any:
        """What :meth:`derived` kept under ``name`` for the code of ``digest``, or ``default``: never built here.

        A command that can use a value the dashboard made (a prepared package's views) but would not make
        it for itself asks for it this way.
        """
        path = self.entry(key) / f"{name}-{digest[:32]}.pickle"
        wait_for_writes(path)  # a file this process is writing is read once it is whole
        try:
            with path.open("rb") as handle:
                return Unpickler(handle, path.with_suffix(".arrow")).load()
        except (OSError, ValueError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, pa.ArrowException):
            return default
        except (IndexError, KeyError, TypeError):  # a damaged file read as the wrong parts: built anew
            return default

    def put(self, key: str, frames: Mapping[str, pd.DataFrame], report: ValidationReport) -> None:
        """Store an entry (nothing happens when it exists); a failure to write is not an error, only no entry.

        A folder without a report (what an eviction interrupted left) is replaced. With ``write_behind``, the
        writer thread writes it (a million awards' tables took 0.9 s of a first page).
        """
        if self.write_behind:
            write_behind(self.entry(key) / REPORT, functools.partial(self._put, key, frames, report))
        else:
            self._put(key, frames, report)

    def _put(self, key: str, frames: Mapping[str, pd.DataFrame], report: ValidationReport) -> None:
        entry = self.entry(key)
        if (entry / REPORT).is_file():
            return
        try:
            private_folder(entry.parent)
            staging = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=entry.parent))
            try:
                for table in TABLES:
                    write_frame(table, frames[table.name], staging / f"{table.name}{TABLE_SUFFIX}")
                with (staging / REPORT).open("wb") as handle:
                    pickle.dump(report, handle, protocol=pickle.HIGHEST_PROTOCOL)
                (staging / USED).touch()
                if entry.exists():  # no report: what is left of an entry being removed
                    shutil.rmtree(entry, ignore_errors=True)
                os.rename(staging, entry)
            except OSError:
                if (entry / REPORT).is_file():  # another process wrote the same entry first
                    return
                raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self.evict(keep=key)
        except OSError:
            return

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove the least recently used entries until the cache is within its bounds; never ``keep``.

        Returns the keys removed. A reader of an entry removed under it fails to read it and validates
        anew, as for any entry that cannot be read.
        """
        packages = self.folder / "packages"
        entries = []
        for entry in packages.iterdir() if packages.is_dir() else ():
            if entry.name.startswith(".") or not entry.is_dir():
                continue  # an entry being written
            size = _bytes_in(entry)
            entries.append((_last_used(entry), entry.name, size))
        entries.sort(reverse=True)  # the most recently used first
        removed, count, total = [], 0, 0
        for _, name, size in entries:
            count, total = count + 1, total + size
            if name != keep and (count > self.max_entries or total > self.max_bytes):
                shutil.rmtree(packages / name, ignore_errors=True)
                removed.append(name)
                count, total = count - 1, total - size
        index = self.folder / "index"
        for note in index.iterdir() if removed and index.is_dir() else ():
            with contextlib.suppress(OSError):
                if note.read_text(encoding="ascii").strip() in removed:
                    note.unlink()
        return removed


def _remove_older(entry: Path, name: str, kept: Path, suffixes: tuple[str, ...]) -> None:
    """What older code kept in ``entry`` under ``name`` (its files ending in one of ``suffixes``), of no more use
    now that ``kept`` is there; a reader that has one open or mapped keeps it until it lets go."""
    for old in entry.glob(f"{name}-*"):  # only this name's: "notes-USD-..." is not "notes-USD-2024-..."
        if old.suffix in suffixes and old.stem.rsplit("-", 1)[0] == name and old.stem != kept.stem:
            old.unlink(missing_ok=True)


# A folder a writer of a kept file left this long ago was left by a process that died while writing.
STALE_STAGING_S = 3600


def _remove_stale_staging(entry: Path, name: str) -> None:
    """Remove what writers of ``name`` that died while writing left in ``entry`` (a half-written database, say)."""
    now = time.time()
    for left in entry.glob(f".{name}-*"):
        with contextlib.suppress(OSError):
            if left.is_dir() and now - left.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(left, ignore_errors=True)


def _bytes_in(entry: Path) -> int:
    """The bytes of every file in ``entry``, in its folders too (a kept file being written); one gone meanwhile is 0."""
    total = 0
    for folder, _, names in os.walk(entry):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
    return total


def _mark_used(entry: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only cache still serves; its order is only less exact
        (entry / USED).touch()


def _last_used(entry: Path) -> float:
    try:
        return (entry / USED).stat().st_mtime
    except OSError:
        return entry.stat().st_mtime
