"""Loading and validating a data package: one validator for the CLI, the dashboard and uploads.

A package is a folder with ``datapackage.json`` and one CSV per table (see :mod:`aifunding.data.tables`).
Loading never raises on bad content: each row is checked against its pydantic model, then keys and
package-wide rules run (:mod:`aifunding.loading.rules`). Rows that fail are quarantined and reported with
file, line, field and value; valid rows still load. Only an unreadable package (no descriptor, a
descriptor that is not JSON) raises :class:`PackageReadError`. Files are read through
:mod:`aifunding.data.reading` (regular files inside the package only) within :class:`Limits`.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from aifunding.data.columnar import parse_table_columnar
from aifunding.data.columnar_references import run_reference_rules_columnar
from aifunding.data.frames import frame_from_models, typed_frame
from aifunding.data.limits import Limits
from aifunding.data.parsing import LoadedRow, parse_table
from aifunding.data.reading import (
    PackageReadError,  # noqa: F401  (re-exported: callers catch it from here)
    clean_descriptor,
    package_root,
    read_descriptor,
    unlisted_files,
)
from aifunding.data.references import run_reference_rules
from aifunding.data.report import Problem, Severity, ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.schema import DESCRIPTOR_NAME
from aifunding.data.tables import TABLES, TABLES_BY_NAME, Table
from aifunding.data.tree import ProgrammeTree
from aifunding.loading.cache import PackageCache
from aifunding.loading.collector import collector_paused
from aifunding.loading.columnar_rules import run_package_rules_columnar
from aifunding.loading.keys import content_key, stat_key
from aifunding.loading.resources import Read, Text, file_texts, read_files, resource_files
from aifunding.loading.rules import run_package_rules


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


# What is done with a package validated by :func:`load_package` while its references are resolved and its package
# rules run, its report still filling: the dashboard joins its views there. Both are mostly Arrow's work, which lets
# the joins run beside them (a million awards' first page a second sooner for each).
#
# A package is handed over as soon as its tables are parsed when nothing found so far says a row will be left out:
# no error, and programmes the references will keep (distinct ids, each parent one of them, a tree no deeper than the
# limit). Its rows are then unchecked: a link may name no row, a key may repeat. Should the references leave a row
# out, what was made of it is dropped (a failure too: rows that break what the joins rely on) and the package with
# its final rows, another object, is handed over again: that is the package load_package returns (:class:`MadeMeanwhile`
# takes what was made of it). Otherwise a package is handed over once, its rows final.
Meanwhile = Callable[[Package], object]

Made = TypeVar("Made")


class MadeMeanwhile(Generic[Made]):
    """A :data:`Meanwhile` that keeps what ``make`` made of the package it was last handed (None: nothing made).

    What was made of a package handed over before is let go of as the next is handed over, and :meth:`of` gives
    only what was made of the package asked about: the one load_package returned.
    """

    def __init__(self, make: Callable[[Package], Made | None]) -> None:
        self._make = make
        self._made: tuple[Package, Made] | None = None

    def __call__(self, package: Package) -> None:
        self._made = None
        made = self._make(package)
        self._made = None if made is None else (package, made)

    def of(self, package: Package) -> Made | None:
        return self._made[1] if self._made is not None and self._made[0] is package else None


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
    is handed to ``meanwhile`` while its references are resolved, or once its rows are final, while the package
    rules still run; once or twice (:data:`Meanwhile`).

    Only regular files inside the package folder are read, each within ``limits`` (by default
    :meth:`Limits.from_env`); anything else is one problem naming the table and why.

    Returns:
        The package with every valid row loaded and the report of everything else.

    Raises:
        PackageReadError: when there is no usable descriptor.
    """
    limits = limits or Limits.from_env()
    root, descriptor, files, report = open_package(path, limits)
    if cache is None:
        return _validate_read(root, descriptor, read_files(root, files, limits), report, limits, by_row, meanwhile)
    # Files whose size, times and inode are those of files seen before are not read again: a restart on
    # a million awards would otherwise read and hash half a gigabyte only to find its entry.
    files_key = stat_key(root, descriptor, files, limits, [problem.as_text() for problem in report.problems])
    known = cache.known(files_key)
    cached = cache.get(known) if known else None
    if known and cached is not None:
        return Package(path=root, descriptor=descriptor, frames=cached.frames, report=cached.report, cache_key=known)
    reads = read_files(root, files, limits)
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


def open_package(path: str | Path, limits: Limits) -> tuple[Path, dict[str, Any], dict[str, str], ValidationReport]:
    """A package's folder, its descriptor cleaned, each table's file, and the report of what was found so far (the
    descriptor's fields, its resources, files no resource names).

    Raises:
        PackageReadError: when there is no usable descriptor.
    """
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
    return root, descriptor, files, report


def _validate_read(
    root: Path,
    descriptor: dict[str, Any],
    reads: dict[str, Read],
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
    texts = file_texts(reads, report, decode=by_row)
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
    # The references return where they point, which the rules are handed (by column, they read some of it).
    references: Callable[[dict[str, Rows], ValidationReport, Limits, dict[str, str]], Any]
    rules: Callable[[dict[str, Rows], ValidationReport, dict[str, str], Any], None]
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
    lambda rows, report, files, resolved: run_package_rules(rows, report, files),
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
    early = _package(way, root, descriptor, tables, report) if meanwhile is not None and report.valid else None
    if meanwhile is not None and early is not None and programmes_kept(early.frame("programmes"), limits):
        with ThreadPoolExecutor(1, thread_name_prefix="aifunding-rules") as pool:
            # In the caller's context (its decimal precision, which the ceilings' sums keep): a thread has its own.
            checked = pool.submit(
                contextvars.copy_context().run, _references_then_rules, way, tables, report, limits, files
            )
            try:
                meanwhile(early)
            except Exception:
                if checked.result()[0]:  # its rows were final: the failure is the load's (after the thread's own)
                    raise
        final, resolved = checked.result()
        if final:
            return early
    else:
        resolved = way.references(tables, report, limits, files)
    # The rows are final: the package rules read them and add problems to the report, nothing more.
    package = _package(way, root, descriptor, tables, report, early.frames if early is not None else None)
    del early  # its frames of tables that lost rows, and what was made of it, are let go of
    if meanwhile is None:
        way.rules(tables, report, files, resolved)
        return package
    with ThreadPoolExecutor(1, thread_name_prefix="aifunding-rules") as pool:
        rules = pool.submit(contextvars.copy_context().run, way.rules, tables, report, files, resolved)
        meanwhile(package)  # should it fail, the rules are waited for (as the pool closes) before it is raised
    rules.result()
    return package


def _package(
    way: _Way[Rows],
    root: Path,
    descriptor: dict[str, Any],
    tables: dict[str, Rows],
    report: ValidationReport,
    made: Mapping[str, pd.DataFrame] | None = None,
) -> Package:
    """The package of these rows (their counts recorded in the report as loaded).

    A table's frame ``made`` before the references is taken when they left it every row (they only leave rows out).
    """
    for name, kept in tables.items():
        report.rows_loaded[name] = len(kept)
    frames = {
        table.name: made[table.name]
        if made is not None and len(made[table.name]) == len(tables[table.name])
        else way.frame(table, tables[table.name])
        for table in TABLES
    }
    return Package(path=root, descriptor=descriptor, frames=frames, report=report)


def programmes_kept(programmes: pd.DataFrame, limits: Limits) -> bool:
    """Whether the references will keep every programme: distinct ids, each parent one of them, and no programme
    more than ``limits.nesting`` levels down (a cycle never reaches the top). Read, never reported: the references
    say what is wrong. Checked before the joins run on unchecked rows, whose programme chains they walk."""
    ids = pd.Index(programmes["id"])
    if not ids.is_unique:
        return False
    parents = programmes["parent_id"]
    up = ids.get_indexer(parents)  # -1: no parent, or one that is not a programme
    if (parents.notna().to_numpy() & (up < 0)).any():
        return False
    above = up  # each programme's ancestor one level up, then two...: -1 once the top is passed
    for _ in range(limits.nesting - 1):
        above = np.where(above >= 0, up[np.maximum(above, 0)], -1)
    return not (above >= 0).any()


def _references_then_rules(
    way: _Way[Rows], tables: dict[str, Rows], report: ValidationReport, limits: Limits, files: dict[str, str]
) -> tuple[bool, Any]:
    """Resolve the references, then run the package rules unless the references left a row out (False then); and
    where the references point.

    The references only ever leave rows out, so tables as long as before hold the same rows.
    """
    before = {name: len(rows) for name, rows in tables.items()}
    resolved = way.references(tables, report, limits, files)
    if any(len(rows) != before[name] for name, rows in tables.items()):
        return False, resolved
    way.rules(tables, report, files, resolved)
    return True, resolved


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
