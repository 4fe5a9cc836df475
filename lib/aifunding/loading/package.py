"""Loading and validating a data package: one validator for the CLI, the dashboard and uploads.

A package is a folder with ``datapackage.json`` and one CSV per table (see :mod:`aifunding.data.tables`).
Loading never raises on bad content: each row is checked against its pydantic model, then keys and
package-wide rules run (:mod:`aifunding.loading.rules`). Rows that fail are quarantined and reported with
file, line, field and value; valid rows still load. Only an unreadable package (no descriptor, a
descriptor that is not JSON) raises :class:`PackageReadError`. Files are read through
:mod:`aifunding.data.reading` (regular files inside the package only) within :class:`Limits`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd

from aifunding.data.columnar import parse_table_columnar
from aifunding.data.columnar_references import run_reference_rules_columnar
from aifunding.data.frames import frame_from_models, typed_frame
from aifunding.data.limits import Limits, describe_bytes
from aifunding.data.parsing import LoadedRow, decode_csv_bytes, parse_table, utf8_csv_bytes
from aifunding.data.reading import (
    PackageReadError,  # noqa: F401  (re-exported: callers catch it from here)
    UnsafeFile,
    clean_descriptor,
    package_root,
    read_descriptor,
    read_inside,
    unlisted_files,
)
from aifunding.data.references import run_reference_rules
from aifunding.data.report import Problem, Severity, ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.schema import DESCRIPTOR_NAME
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table
from aifunding.data.tree import ProgrammeTree
from aifunding.loading.cache import PackageCache, content_key, stat_key
from aifunding.loading.collector import collector_paused
from aifunding.loading.columnar_rules import run_package_rules_columnar
from aifunding.loading.resources import resource_files, short
from aifunding.loading.rules import run_package_rules

# A table's CSV: text, or (read from a file, for the columnar parser) its UTF-8 bytes.
Text = str | bytes


@dataclass
class Package:
    """A loaded package: valid rows as frames, the descriptor, and the validation report."""

    path: Path
    descriptor: dict[str, Any]
    # By table; read from the cache, a table is read when first asked for (a Mapping, not always a dict).
    frames: Mapping[str, pd.DataFrame]
    report: ValidationReport
    # The cache entry holding it (:mod:`aifunding.loading.cache`), when it was loaded through a cache.
    cache_key: str | None = None

    @property
    def name(self) -> str:
        """The package's own name (its descriptor's ``name``), never a path on this machine."""
        name = self.descriptor.get("name")
        return name if isinstance(name, str) and name else "package"

    @property
    def title(self) -> str:
        title = self.descriptor.get("title")
        return title if isinstance(title, str) and title else self.name

    def frame(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    def rows(self, name: str) -> int:
        """How many valid rows table ``name`` has (without reading a table still in the cache)."""
        counted = getattr(self.frames, "rows", None)
        return int(counted(name)) if callable(counted) else len(self.frames[name])

    @cached_property
    def tree(self) -> ProgrammeTree:
        """The programme tree of the valid rows, built once per load and shared by every view of it."""
        return ProgrammeTree.from_frame(self.frames["programmes"])


# What is done with a package validated by :func:`load_package` while its package rules run, its rows final and its
# report still filling: the dashboard joins its views there. The rules are mostly Arrow's work, which lets the
# joins run beside them: a million awards' first page about a second sooner.
Meanwhile = Callable[[Package], object]


def load_package(
    path: str | Path,
    limits: Limits | None = None,
    cache: PackageCache | None = None,
    *,
    by_row: bool = False,
    meanwhile: Meanwhile | None = None,
) -> Package:
    """Load and validate the data package at ``path`` (a folder or its datapackage.json).

    With a ``cache``, a package whose files, limits and validating code were seen before is read
    back from it instead of being validated again (:mod:`aifunding.loading.cache`). A package validated here
    is handed to ``meanwhile`` once its rows are final, while the package rules still run (:data:`Meanwhile`).

    Only regular files inside the package folder are read, each within ``limits`` (by default
    :meth:`Limits.from_env`); anything else is one problem naming the table and why.

    Returns:
        The package with every valid row loaded and the report of everything else.

    Raises:
        PackageReadError: when there is no usable descriptor.
    """
    limits = limits or Limits.from_env()
    root = package_root(path)
    descriptor, issues = clean_descriptor(read_descriptor(root, limits))
    report = ValidationReport()
    for issue in issues:
        report.problems.append(
            Problem(
                Severity.WARNING,
                "descriptor-field",
                None,
                DESCRIPTOR_NAME,
                None,
                issue.field,
                issue.value,
                issue.message,
            )
        )
    files = resource_files(descriptor, report)
    for name in unlisted_files(root, files.values()):
        message = f"{name} is in the package folder but no resource of {DESCRIPTOR_NAME} names it, so it was not read"
        report.problems.append(Problem(Severity.WARNING, "unlisted-file", None, name, None, None, None, message))
    if cache is None:
        return _validate_read(root, descriptor, _read_files(root, files, limits), report, limits, by_row, meanwhile)
    # Files whose size, times and inode are those of files seen before are not read again: a restart on
    # a million awards would otherwise read and hash half a gigabyte only to find its entry.
    files_key = stat_key(root, descriptor, files, limits, [problem.as_text() for problem in report.problems])
    known = cache.known(files_key)
    cached = cache.get(known) if known else None
    if known and cached is not None:
        return Package(path=root, descriptor=descriptor, frames=cached.frames, report=cached.report, cache_key=known)
    reads = _read_files(root, files, limits)
    # What was said before validation (a descriptor warning, a refused file) is part of the answer too.
    said = [problem.as_text() for problem in report.problems]
    said += [f"{name}: {read.failure}" for name, read in reads.items() if read.failure]
    key = content_key(descriptor, {name: (read.shown, read.data) for name, read in reads.items()}, limits, said)
    cached = cache.get(key)
    if cached is not None:
        cache.remember(files_key, key)
        return Package(path=root, descriptor=descriptor, frames=cached.frames, report=cached.report, cache_key=key)
    package = _validate_read(root, descriptor, reads, report, limits, by_row, meanwhile)
    cache.put(key, package.frames, package.report)
    cache.remember(files_key, key)
    package.cache_key = key
    return package


def _validate_read(
    root: Path,
    descriptor: dict[str, Any],
    reads: dict[str, _Read],
    report: ValidationReport,
    limits: Limits,
    by_row: bool,
    meanwhile: Meanwhile | None = None,
) -> Package:
    """Validate the files read, letting go of each file's bytes once decoded and of its text once parsed.

    A million-award package is half a gigabyte of bytes and as much again (or more) of text: holding
    both, for every table, until the end doubled what validation needs. By column, files are never
    decoded (pyarrow reads the bytes), and each one's bytes are let go of once parsed.
    """
    texts = _texts(reads, report, decode=by_row)
    reads.clear()
    with collector_paused():
        if by_row:
            return _validate_with(BY_ROW, root, descriptor, texts, report, limits, meanwhile)
        return _validate_with(BY_COLUMN, root, descriptor, texts, report, limits, meanwhile)


def validate_texts(
    root: Path,
    descriptor: dict[str, Any],
    texts: dict[str, tuple[str, str | None]],
    report: ValidationReport | None = None,
    limits: Limits | None = None,
    *,
    by_row: bool = False,
) -> Package:
    """Validate tables given as text: ``{table: (file name, CSV text or None if unreadable)}``.

    This is the entry point shared by files on disk and uploads held in memory. A table given as
    None (or not given) is recorded as unread, so outputs can refuse to pass it off as empty. The rows
    of other tables that refer to an unread one cannot be checked: they are not loaded, and each
    referring table gets one problem that counts them (``unread-reference``; ``report.unchecked``),
    so the report says what was left out without a line per row.

    Validation runs by column (pyarrow and set operations, a pydantic object only for a row a check
    flagged); ``by_row=True`` runs the per-row reference path, which gives the same package and report.
    """
    report, limits = report or ValidationReport(), limits or Limits.from_env()
    with collector_paused():
        if by_row:
            return _validate_with(BY_ROW, root, descriptor, dict(texts), report, limits)
        return _validate_with(BY_COLUMN, root, descriptor, dict(texts), report, limits)


def _table_texts(
    texts: dict[str, tuple[str, Text | None]], report: ValidationReport
) -> tuple[dict[str, str], dict[str, Text]]:
    """Each table's file name, and the text of each table that has one; a table without text is recorded as unread.

    Each entry is taken out of ``texts``, so that the caller can let go of a table's text once it is parsed.
    """
    files: dict[str, str] = {}
    readable: dict[str, Text] = {}
    for table in TABLES:
        given = table.name in texts
        files[table.name], text = texts.pop(table.name, (table.path, None))
        if text is None and table.optional and not given:
            text = ",".join(table.columns) + "\n"  # left out of the package: an empty table, not an unread one
        if text is None:
            report.unread.add(table.name)
        else:
            readable[table.name] = text
    return files, readable


Rows = TypeVar("Rows", RowSet, list[LoadedRow])


@dataclass(frozen=True)
class _Way(Generic[Rows]):
    """How validation holds a table's rows and runs each step: by column (RowSet) or by row (LoadedRow lists)."""

    parse: Callable[[Table, str, Text, ValidationReport, Limits], Rows]
    empty: Callable[[Table, str], Rows]
    references: Callable[[dict[str, Rows], ValidationReport, Limits, dict[str, str]], None]
    rules: Callable[[dict[str, Rows], ValidationReport, dict[str, str]], None]
    frame: Callable[[Table, Rows], pd.DataFrame]
    parsers: int  # tables parsed at once


# By column (:mod:`aifunding.data.columnar`): the default. By row, a pydantic model per row: the
# reference the columnar way is tested against; both give the same package and report.
BY_COLUMN: _Way[RowSet] = _Way(
    parse_table_columnar,
    RowSet.empty,
    run_reference_rules_columnar,
    run_package_rules_columnar,
    lambda table, rows: typed_frame(table, rows.values),
    min(2, os.cpu_count() or 1),
)
BY_ROW: _Way[list[LoadedRow]] = _Way(
    lambda table, file, text, report, limits: parse_table(
        table, file, text if isinstance(text, str) else text.decode("utf-8"), report, limits
    ),
    lambda table, file: [],
    run_reference_rules,
    run_package_rules,
    frame_from_models,
    1,  # pydantic models, in Python throughout: one at a time
)


def _validate_with(
    way: _Way[Rows],
    root: Path,
    descriptor: dict[str, Any],
    texts: dict[str, tuple[str, Text | None]],
    report: ValidationReport,
    limits: Limits,
    meanwhile: Meanwhile | None = None,
) -> Package:
    tables: dict[str, Rows] = {}
    files, readable = _table_texts(texts, report)
    parsed = _parse_tables(way, files, readable, limits)
    for table in TABLES:
        tables[table.name], own = parsed[table.name]
        report.add_parsed(table.name, own, len(tables[table.name]))
    way.references(tables, report, limits, files)
    # The rows are final: the package rules read them and add problems to the report, nothing more.
    for name, kept in tables.items():
        report.rows_loaded[name] = len(kept)
    frames = {table.name: way.frame(table, tables[table.name]) for table in TABLES}
    package = Package(path=root, descriptor=descriptor, frames=frames, report=report)
    if meanwhile is None:
        way.rules(tables, report, files)
        return package
    with ThreadPoolExecutor(1, thread_name_prefix="aifunding-rules") as pool:
        rules = pool.submit(way.rules, tables, report, files)
        meanwhile(package)  # should it fail, the rules are waited for (as the pool closes) before it is raised
    rules.result()
    return package


def _parse_tables(
    way: _Way[Rows], files: dict[str, str], readable: dict[str, Text], limits: Limits
) -> dict[str, tuple[Rows, ValidationReport]]:
    """Each table parsed with a report of its own (merged in table order by the caller), the largest first.

    By column, two tables are parsed at once: most of a table's time is pyarrow's and numpy's, which let
    other threads run, so the other tables of a million awards (two fifths of the time) are parsed while
    the awards are.
    """

    def parse(name: str) -> tuple[Rows, ValidationReport]:
        own = ValidationReport()
        # Taken out of ``readable`` in the call itself, a text is held by the parser alone, which lets go of
        # it once read (by column, as soon as its cells are: a million awards are 360 MB of bytes).
        return way.parse(TABLES_BY_NAME[name], files[name], readable.pop(name), own, limits), own

    largest_first = sorted(readable, key=lambda name: -len(readable[name]))
    with ThreadPoolExecutor(way.parsers, thread_name_prefix="aifunding-parse") as pool:
        futures = {name: pool.submit(parse, name) for name in largest_first}
        done = {name: future.result() for name, future in futures.items()}
    return {t.name: done.get(t.name) or (way.empty(t, files[t.name]), ValidationReport()) for t in TABLES}


@dataclass(frozen=True)
class _Read:
    """One table's file as read: its bytes, or why it was refused (rule, message)."""

    shown: str
    data: bytes | None
    failure: tuple[str, str] | None = None


def _read_files(root: Path, files: dict[str, str], limits: Limits) -> dict[str, _Read]:
    """Each table's file as bytes, read through :func:`read_inside`; a refused file says why, never raises.

    Bytes, not text: a package found in the cache is keyed by its bytes and never decoded.
    """
    reads: dict[str, _Read] = {}
    total = 0
    for name, rel in files.items():
        shown = short(rel)
        budget = min(limits.file_bytes, limits.package_bytes - total)
        try:
            data = read_inside(root, rel, limits.file_bytes)
        except UnsafeFile as exc:
            reads[name] = _Read(shown, None, (exc.rule, f"the file for the '{name}' table {exc}"))
            continue
        if len(data) > budget:
            message = (
                f"the package's files add up to more than the {describe_bytes(limits.package_bytes)} limit, "
                f"so the '{name}' table was not read"
            )
            reads[name] = _Read(shown, None, ("package-too-large", message))
            continue
        total += len(data)
        reads[name] = _Read(shown, data)
    return reads


def _texts(reads: dict[str, _Read], report: ValidationReport, *, decode: bool) -> dict[str, tuple[str, Text | None]]:
    """Each table's file as text (``decode``) or its UTF-8 bytes, in file order.

    A refused file or one that is not UTF-8 is a problem and None.
    """
    texts: dict[str, tuple[str, Text | None]] = {}
    for name, read in reads.items():
        if read.failure is not None or read.data is None:
            rule, message = read.failure or ("unsafe-file", f"the file for the '{name}' table could not be read")
            report.problems.append(Problem(Severity.ERROR, rule, name, read.shown, None, None, None, message))
            texts[name] = (read.shown, None)
        else:
            check = decode_csv_bytes if decode else utf8_csv_bytes
            texts[name] = (read.shown, check(name, read.shown, read.data, report))
    return texts


def package_signature(path: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime_ns, size) of the descriptor and every CSV in the package folder.

    Cheap (a few ``stat`` calls), so a dashboard can check it on every rerun and reload the
    package only when a file changed.
    """
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    entries = []
    for file in sorted([folder / DESCRIPTOR_NAME, *folder.glob("*.csv")]):
        try:
            stat = file.lstat()  # never follows a link: the package's files are read only as regular files
        except OSError:
            continue
        entries.append((file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def newest_source_date(package: Package) -> str | None:
    """The newest publication date among the package's sources: the data is "as of" this date."""
    dates = [d for d in package.frame("sources")["published"] if isinstance(d, str)]
    return max(dates) if dates else None
