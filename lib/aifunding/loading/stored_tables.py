"""How a cache entry stores a package's tables: one compressed Arrow file per table, read when first asked for.

:class:`~aifunding.loading.cache.PackageCache` writes an entry's tables with :func:`write_frame` and gives
them back as :class:`StoredFrames`: each table a frame as validation builds it, or (for the analytical
engine) some of its columns as stored, without a frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding.data.frames import TEXT, field_types, frame_from_records, typed_frame
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table

# A table's file in an entry, and where its footer says how many rows it has.
TABLE_SUFFIX = ".arrow"
_ROWS_KEY = b"aifunding.rows"
_TABLE_WRITING = pa.ipc.IpcWriteOptions(compression="zstd")


def write_frame(table: Table, frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as table ``table``'s file: amounts as their text (exact), the row count in the footer."""
    stored = frame.copy()
    for name, kind in field_types(table).items():
        if kind is Decimal:
            stored[name] = pd.array([None if v is None else str(v) for v in stored[name]], dtype="str")
    # One record batch: read back, each column is one Arrow buffer (see frames.one_chunk).
    arrow = pa.Table.from_pandas(stored, preserve_index=False).combine_chunks()
    schema = arrow.schema.with_metadata({**(arrow.schema.metadata or {}), _ROWS_KEY: str(len(stored)).encode()})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema, options=_TABLE_WRITING) as writer:
        writer.write_table(arrow.replace_schema_metadata(schema.metadata))


def _stored_rows(reader: Any) -> int:
    """How many rows a table's file holds, from its footer (no batch is read)."""
    try:
        return int((reader.schema.metadata or {})[_ROWS_KEY])
    except (KeyError, ValueError) as error:
        raise ValueError("a cached table does not say how many rows it has") from error


# Text columns come back as the package's text type, on the Arrow buffers just read (no copy).
_AS_TEXT = {pa.large_string(): TEXT, pa.string(): TEXT}.get


def _read_frame(table: Table, source: Path | Any) -> pd.DataFrame:
    """The frame as :func:`~aifunding.data.frames.frame_from_records` builds it (tests compare them)."""
    handle = pa.OSFile(str(source)) if isinstance(source, Path) else source
    stored = pa.ipc.open_file(handle).read_all().to_pandas(types_mapper=_AS_TEXT)
    for name, kind in field_types(table).items():
        if kind is Decimal:
            # Each distinct text made a Decimal once: a million amounts hold a few thousand figures.
            codes, distinct = pd.factorize(stored[name])
            decimals = np.empty(len(distinct) + 1, dtype=object)  # its last item stays None, for code -1
            decimals[:-1] = [Decimal(v) for v in distinct.tolist()]
            stored[name] = pd.Series(decimals[codes], index=stored.index, dtype=object)
    return frame_from_records(table, []) if stored.empty else typed_frame(table, stored[list(table.columns)])


class StoredFrames(Mapping[str, pd.DataFrame]):
    """A cache entry's frames by table, each read from its Arrow file the first time it is asked for.

    The files are opened (and their footers read, which finds a truncated file) when the entry is
    found and stay open until :meth:`close`: reading a table later, as a frame or as Arrow columns
    (:meth:`arrow`), needs neither its path nor the entry still being there.
    """

    def __init__(self, entry: Path) -> None:
        self._files: dict[str, Any] = {}
        self._rows: dict[str, int] = {}
        try:
            for table in TABLES:
                handle = pa.OSFile(str(entry / f"{table.name}{TABLE_SUFFIX}"))
                self._files[table.name] = handle
                # The footer: an unreadable file fails here, not at first use; it also says how many rows.
                self._rows[table.name] = _stored_rows(pa.ipc.open_file(handle))
        except BaseException:
            self.close()
            raise
        self._frames: dict[str, pd.DataFrame] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> pd.DataFrame:
        frame = self._frames.get(name)
        if frame is not None:
            return frame
        table = TABLES_BY_NAME.get(name)
        if table is None:
            raise KeyError(name)
        with self._lock:  # sessions on several threads read a table once between them
            if name not in self._frames:
                handle = self._files[name]
                handle.seek(0)
                self._frames[name] = _read_frame(table, handle)
            return self._frames[name]

    def arrow(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Table ``name`` as stored (amounts as their text), only ``columns`` when named: no frame is made.

        The analytical engine takes its tables from here: a million awards' columns in a fifth of a second,
        against four seconds through their frames (a Decimal made of each amount, then taken apart again).
        """
        table = TABLES_BY_NAME.get(name)
        if table is None:
            raise KeyError(name)
        names = list(table.columns if columns is None else columns)
        with self._lock:
            handle = self._files[name]
            schema = pa.ipc.open_file(handle).schema
            positions = [schema.get_field_index(column) for column in names]
            if -1 in positions:
                raise KeyError(f"{name} has no column {names[positions.index(-1)]!r}")
            options = pa.ipc.IpcReadOptions(included_fields=sorted(set(positions)))
            return pa.ipc.open_file(handle, options=options).read_all().select(names)

    def rows(self, name: str) -> int:
        """How many rows table ``name`` has, without reading it."""
        return self._rows[name]

    def __iter__(self) -> Iterator[str]:
        return iter(table.name for table in TABLES)

    def __len__(self) -> int:
        return len(TABLES)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self.items()),)  # a copy elsewhere holds the frames themselves


def private_folder(folder: Path) -> None:
    """``folder``, and each folder made on the way to it, with mode 0700: ``mkdir(parents=True)`` gives the parents it
    makes the default mode (the cache's own folder was readable by every user). Folders that exist are left as they are.
    """
    for made in reversed([folder, *folder.parents]):
        if not made.exists():
            made.mkdir(exist_ok=True, mode=0o700)
