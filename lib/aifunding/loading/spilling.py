"""Validating a package larger than memory: each table read a piece at a time, the checks across rows run by DuckDB.

Validation in memory (:func:`~aifunding.loading.package.load_package`) holds every table's rows at once, about twice
the CSV: ten million awards took 10 GB. Here memory is bounded by a piece of a file and DuckDB's limit instead:

- each table is read in pieces of about ``piece_bytes`` of whole records (cut where the quotes are closed), each
  piece parsed by column as a whole file is (:func:`~aifunding.data.columnar.parse_chunk_columnar`: the same
  problems, each row at its line in the file), its rows written to a Parquet file and let go of;
- the package rules that read one row at a time (currencies, future dates, English text, an award's currency) run
  on each piece as it is parsed;
- DuckDB, within its memory limit and spilling to a temporary folder, checks the keys and references over the
  Parquet files, and finds, for each rule that reads across the rows of a table read in pieces (the ceilings, the
  recipients, the citations, the organisations' names), the rows that may need a problem; the rule's own check
  then runs on those rows alone, with every row their problems depend on, and words them.

The report is the one validation in memory gives, in the same order. What this path leaves to validation in memory
(which memory then follows, as before; :attr:`Bounded.why` says why): a package with a quarantined row, a table not
read, a repeated key or a reference that does not resolve (one row's problem then depends on others' in ways only the
whole tables settle), a file the columns cannot read, a table over a limit, and a rule that would read a table read
in pieces that it has no narrowing for here.
"""

from __future__ import annotations

import contextvars
import decimal
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from aifunding.data.columnar import parse_chunk_columnar
from aifunding.data.columnar_references import Resolved
from aifunding.data.grid import is_utf8
from aifunding.data.limits import MB, Limits, describe_bytes
from aifunding.data.models import Citation
from aifunding.data.parsing import utf8_csv_bytes
from aifunding.data.reading import UnsafeFile, open_inside
from aifunding.data.report import Problem, ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.tables import CITED_TABLES, TABLES, TABLES_BY_NAME, Table
from aifunding.data.text_keys import name_keys
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import CEILING_BASES, Role
from aifunding.loading.columnar_rules import COLUMNAR_CHECKS, FOLLOWING
from aifunding.loading.columnar_text_rules import name_scopes, scoped_keys
from aifunding.loading.package import Package, load_package, open_package, programmes_kept
from aifunding.loading.resources import short
from aifunding.loading.rule_problems import DATED_COLUMNS, ENGLISH_COLUMNS, NAME_COLUMNS
from aifunding.loading.rules import rules_to_run
from aifunding.loading.spill_files import pieces, rowset, sizes, stored, stored_schema

# A piece of a file parsed at once: a million awards' 376 MB in a dozen pieces, each parsed in a fifth of a second.
PIECE_BYTES = 32 * MB
# Validation in memory holds about this many bytes per byte of CSV at its peak (2.0 to 2.6 measured at a million and
# ten million awards): a package within the memory given, so counted, is validated in memory, which is faster.
IN_MEMORY_FACTOR = 3
# DuckDB may hold this share of the memory given before it spills to disk; the pieces and small tables take the rest.
DUCKDB_SHARE = 4
# With less, DuckDB ran out of memory checking a million awards' references (it spills only what it can set aside).
DUCKDB_LEAST = 512 * MB
# Tables parsed at once (the largest first), as in memory: most of a piece's time is Arrow's and numpy's.
PARSERS = min(2, os.cpu_count() or 1)

# The tables that grow with the awards, read in pieces; every other table (the programmes' tree among them: a hundred
# thousand rounds are 30 MB) is read whole and held, as the rules that read it take it whole.
PIECED_TABLES = ("organisations", "awards", "award_recipients", "citations")

# The tables each package rule's columnar check reads (tests/test_spilling.py checks each reads no other).
RULE_TABLES: dict[str, tuple[str, ...]] = {
    "ceiling": ("programmes", "awards"),
    "currency": ("programmes", "awards"),
    "future-date": tuple(dict.fromkeys(table for table, _ in DATED_COLUMNS)),
    "share-total": ("market_shares",),
    "uncited": ("citations", *CITED_TABLES),
    "recipients": ("awards", "award_recipients"),
    "award-currency": ("programmes", "awards"),
    "vendor-organisation": ("market_shares",),
    "caveat-unattached": ("caveats", "caveat_links"),
    "period-nesting": ("programmes",),
    "overlap-pair": ("caveats", "caveat_links"),
    "english-text": tuple(ENGLISH_COLUMNS),
    "organisation-name": ("organisations",),
    "programme-title": ("programmes",),
}
# The rules whose problem for a row depends on that row alone: each runs on every piece as it is parsed, table by table
# in the order the rule takes them.
ROW_RULES: dict[str, tuple[str, ...]] = {
    "currency": ("programmes", "awards"),
    "future-date": RULE_TABLES["future-date"],
    "english-text": RULE_TABLES["english-text"],
}


@dataclass(frozen=True)
class Bounded:
    """A package's validation report, and how it was validated: in pieces (``spilled``) or in memory, and why."""

    report: ValidationReport
    spilled: bool
    why: str | None = None  # why it was validated in memory (None: it fits, or it was validated in pieces)


class TooLittleMemory(Exception):
    """The memory given is too little for DuckDB's checks, even spilling: the message says how much it had."""


class _InMemory(Exception):
    """This package is validated in memory; the message says why."""


def validate_within(
    path: str | Path,
    memory: int,
    limits: Limits | None = None,
    *,
    piece_bytes: int = PIECE_BYTES,
    spill_folder: str | Path | None = None,
) -> Bounded:
    """Validate the package at ``path`` within about ``memory`` bytes: in pieces, spilling to disk, when in memory it
    would take more (:data:`IN_MEMORY_FACTOR` times its CSV); otherwise, or when the pieces cannot settle it, in memory.

    The spill goes to a temporary folder in ``spill_folder`` (by default the system's, ``TMPDIR``), removed after.

    Raises:
        PackageReadError: when there is no usable descriptor.
        TooLittleMemory: when DuckDB runs out of the memory it was given.
    """
    with validated_within(path, memory, limits, piece_bytes=piece_bytes, spill_folder=spill_folder) as within:
        return within.bounded


@dataclass(frozen=True)
class Within:
    """A package validated within a memory budget: how, and (validated in pieces) its rows, until the context ends."""

    bounded: Bounded
    pieces: Pieces | None  # None: validated in memory
    package: Package | None = None  # validated in memory: the package, its rows in frames


@contextmanager
def validated_within(
    path: str | Path,
    memory: int,
    limits: Limits | None = None,
    *,
    piece_bytes: int = PIECE_BYTES,
    spill_folder: str | Path | None = None,
) -> Iterator[Within]:
    """:func:`validate_within`, its rows in pieces kept (their Parquet files and DuckDB over them) while the context
    lasts, for what is made of them (:mod:`aifunding.outputs.pieces`)."""
    limits = limits or Limits.from_env()
    root, descriptor, files, report = open_package(path, limits)
    csv_bytes = sizes(root, files.values())
    if csv_bytes is not None and IN_MEMORY_FACTOR * csv_bytes <= memory:
        package = load_package(path, limits)
        yield Within(Bounded(package.report, spilled=False), None, package)
        return
    with tempfile.TemporaryDirectory(prefix="aifunding-spill-", dir=spill_folder) as folder:
        pieces = Pieces(root, descriptor, files, report, limits, Path(folder), memory, piece_bytes)
        try:
            with pieces.validated():
                yield Within(Bounded(report, spilled=True), pieces)
                return
        except _InMemory as reason:
            why = str(reason)
    package = load_package(path, limits)
    yield Within(Bounded(package.report, spilled=False, why=why), None, package)


class Pieces:
    """One package validated in pieces: its tables parsed and spilled, then checked across rows by DuckDB."""

    def __init__(
        self,
        root: Path,
        descriptor: dict[str, Any],
        files: dict[str, str],
        report: ValidationReport,
        limits: Limits,
        folder: Path,
        memory: int,
        piece_bytes: int,
    ) -> None:
        self.root, self.descriptor, self.files, self.report, self.limits = root, descriptor, files, report, limits
        self.folder, self.piece_bytes = folder, piece_bytes
        self.shown = {table.name: short(files[table.name]) if table.name in files else table.path for table in TABLES}
        self.held: dict[str, RowSet] = {}  # the tables read in one piece, held whole
        self.names: pq.ParquetWriter | None = None  # the organisations' names as the rule compares them
        self.counts: dict[str, int] = {}
        self.row_problems: dict[tuple[str, str], list[Problem]] = defaultdict(list)  # by rule and table
        self.empty = {table.name: RowSet.empty(table, self.shown[table.name]) for table in TABLES}
        self.stopped = False  # another table needs memory: the pieces still being read are let be
        self.why: _InMemory | None = None
        self.duckdb_bytes = max(memory // DUCKDB_SHARE, DUCKDB_LEAST)

    @contextmanager
    def validated(self) -> Iterator[None]:
        """Validate the package (its report filled in), then keep DuckDB open over its rows while the context lasts."""
        self._parse_all()
        with duckdb.connect(config=self._duckdb_settings()) as con, self._duckdb_memory():
            for table in TABLES:
                path = str(self.folder / f"{table.name}.parquet").replace("'", "''")
                con.execute(f"CREATE VIEW \"{table.name}\" AS SELECT * FROM read_parquet('{path}')")
            self._check_references(con)
            for table in TABLES:
                self.report.rows_loaded[table.name] = self.counts[table.name]
            self._run_rules(con)
            self.con = con
            yield

    def _parse_all(self) -> None:
        for table in TABLES:
            if table.name not in self.files and not table.optional:
                raise _InMemory(f"the {table.name} table has no file to read")
        total = sizes(self.root, self.files.values())
        if total is None or total > self.limits.package_bytes:
            raise _InMemory("the package's files add up to more than its limit, or one cannot be found")
        # The largest first, beside the others; a piece read after another table was found to need memory is not.
        largest_first = sorted(TABLES, key=lambda table: -(sizes(self.root, [self.files.get(table.name, "")]) or 0))
        try:
            with ThreadPoolExecutor(PARSERS, thread_name_prefix="aifunding-pieces") as pool:
                running = {
                    table.name: pool.submit(contextvars.copy_context().run, self._parse, table)
                    for table in largest_first
                }
                parsed = {name: future.result() for name, future in running.items()}
        except _InMemory as stopped:
            raise self.why or stopped from None
        finally:
            if self.names is not None:
                self.names.close()
        for table in TABLES:
            self.report.add_parsed(table.name, parsed[table.name], self.counts[table.name])

    @contextmanager
    def _duckdb_memory(self) -> Iterator[None]:
        try:
            yield
        except duckdb.OutOfMemoryException as error:
            raise TooLittleMemory(
                f"DuckDB needed more than its {describe_bytes(self.duckdb_bytes)} (a quarter of the memory given, "
                f"{describe_bytes(DUCKDB_LEAST)} at least) to check the package across its rows; give it more memory"
            ) from error

    def _duckdb_settings(self) -> dict[str, str | bool | int | float | list[str]]:
        return {
            "memory_limit": f"{self.duckdb_bytes // MB}MB",
            "temp_directory": str(self.folder / "duckdb"),
            "threads": min(2, os.cpu_count() or 1),
            "preserve_insertion_order": False,
        }

    # Parsing, a piece at a time.

    def _pieces(self, table: Table) -> Iterator[tuple[bytes, int]]:
        rel = self.files.get(table.name)
        if rel is None:  # an optional table left out of the package: an empty table
            yield (",".join(table.columns) + "\n").encode(), 1
            return
        try:
            handle = open_inside(self.root, rel, self.limits.file_bytes)
        except UnsafeFile as refused:
            raise _InMemory(f"the file for the {table.name} table {refused}") from None
        with handle:
            yield from pieces(handle, self.piece_bytes if table.name in PIECED_TABLES else self.limits.file_bytes + 1)

    def _parse(self, table: Table) -> ValidationReport:
        """Parse ``table`` a piece at a time, spilling its rows; the report of what parsing it found."""
        try:
            return self._parse_pieces(table)
        except BaseException as error:
            if not self.stopped and isinstance(error, _InMemory):
                self.why = error  # the first reason found, whichever table is waited for first
            self.stopped = True  # the package is validated in memory: the other tables' pieces are not read
            raise

    def _parse_pieces(self, table: Table) -> ValidationReport:
        own, file = ValidationReport(), self.shown[table.name]
        schema = stored_schema(table)
        header, count, last, index = b"", 0, None, -1
        # Not compressed: written once and read by DuckDB a few times, on the machine's own disk.
        with pq.ParquetWriter(self.folder / f"{table.name}.parquet", schema, compression="none") as writer:
            for index, (data, line) in enumerate(self._pieces(table)):
                if self.stopped:
                    raise _InMemory("another table is validated in memory")
                found = ValidationReport()
                if index == 0:
                    text = utf8_csv_bytes(table.name, file, data, found)
                    if text is None:
                        raise _InMemory(f"{file} is not UTF-8")
                    end = text.find(b"\n")
                    header = text[: end + 1] if end >= 0 else text
                    rows = parse_chunk_columnar(table, file, text, found, self.limits, 2)
                else:
                    if not is_utf8(data):
                        raise _InMemory(f"{file} is not UTF-8")
                    rows = parse_chunk_columnar(table, file, header + data, found, self.limits, line)
                    # What the header said, the first piece reported.
                    found.problems = [problem for problem in found.problems if (problem.line or 0) > 1]
                if rows is None:
                    raise _InMemory(f"{file} has a header (or a model) that only the per-row parser reads")
                if found.quarantined or found.unread or found.partly_read:
                    raise _InMemory(f"a row of {file} was quarantined")
                own.problems += found.problems
                self._row_rules(table, rows)
                writer.write_table(stored(table, rows, count, schema))
                if table.name == "organisations":
                    self._spill_name_keys(rows, count)
                count += len(rows)
                if count > self.limits.rows:
                    raise _InMemory(f"{file} has more rows than the limit")
                last = rows if index == 0 else None
        if index < 0:
            raise _InMemory(f"{file} is empty")
        if last is not None:
            self.held[table.name] = last
        self.counts[table.name] = count
        return own

    def _spill_name_keys(self, rows: RowSet, start: int) -> None:
        """Each organisation's names as :func:`check_organisation_names` compares them: keyed within its country."""
        values = rows.values
        keys = scoped_keys(name_scopes(values, "country_id"), [name_keys(values[column]) for column in NAME_COLUMNS])
        stored = pa.table({"_row": pa.array(range(start, start + len(rows)), pa.int64()), "k0": keys[0], "k1": keys[1]})
        if self.names is None:
            self.names = pq.ParquetWriter(self.folder / "organisation_names.parquet", stored.schema)
        self.names.write_table(stored.cast(self.names.schema))

    def _only(self, **tables: RowSet) -> dict[str, RowSet]:
        """Every table empty but those given."""
        return {**self.empty, **tables}

    def _row_rules(self, table: Table, rows: RowSet) -> None:
        """The problems the row-by-row rules find in these rows of ``table``."""
        for code, tables in ROW_RULES.items():
            if table.name not in tables:
                continue
            self.row_problems[code, table.name] += list(COLUMNAR_CHECKS[code](self._only(**{table.name: rows})))

    def _held(self, name: str, why: str) -> RowSet:
        rows = self.held.get(name)
        if rows is None:
            raise _InMemory(f"the {why} rule reads the {name} table whole, which was read in pieces")
        return rows

    # Across rows, by DuckDB.

    def _check_references(self, con: duckdb.DuckDBPyConnection) -> None:
        """Nothing for the references to say: no repeated key, each reference found, the programmes a tree."""
        for table in TABLES:
            if table.primary_key:
                key = ", ".join(f'"{column}"' for column in table.primary_key)
                query = f'SELECT count(*) FROM (SELECT 1 FROM "{table.name}" GROUP BY {key} HAVING count(*) > 1)'
                if _count(con, query):
                    raise _InMemory(f"rows of the {table.name} table share a key")
            for reference in table.foreign_keys:
                if reference.ref_table == table.name:
                    continue  # a programme's parent: the tree, below
                field, target = reference.field, reference.ref_table
                query = (
                    f'SELECT count(*) FROM "{table.name}" t WHERE t."{field}" IS NOT NULL '
                    f'AND NOT EXISTS (SELECT 1 FROM "{target}" r WHERE r.id = t."{field}")'
                )
                if _count(con, query):
                    raise _InMemory(f"a {field} of the {table.name} table names no row of {target}")
        if not programmes_kept(self._held("programmes", "references").values, self.limits):
            raise _InMemory("the programmes are not one tree within the nesting limit")

    def _run_rules(self, con: duckdb.DuckDBPyConnection) -> None:
        for rule in rules_to_run(self.report, self.files):
            code = rule.code
            if code in ROW_RULES:
                found = [problem for table in ROW_RULES[code] for problem in self.row_problems[code, table]]
            elif all(name in self.held for name in RULE_TABLES[code]):
                found = _run(code, {**self.empty, **self.held})
            elif code in NARROWED:
                found = NARROWED[code](self, con)
            else:
                missing = next(name for name in RULE_TABLES[code] if name not in self.held)
                raise _InMemory(f"the {code} rule reads the {missing} table whole, which was read in pieces")
            self.report.problems += found

    def table(self, name: str, where: str = "TRUE") -> pd.DataFrame:
        """Table ``name``'s rows that ``where`` (SQL over its columns) chooses, in order, as the package's frame.

        Only while the package is :meth:`validated` (DuckDB is open over its rows)."""
        return self._rows(self.con, name, where).values

    def _rows(self, con: duckdb.DuckDBPyConnection, name: str, where: str, params: list | None = None) -> RowSet:
        """The rows of table ``name`` that ``where`` (SQL over its columns) chooses, in order."""
        stored = con.sql(f'SELECT * FROM "{name}" t WHERE {where} ORDER BY _row', params=params).to_arrow_table()
        return rowset(TABLES_BY_NAME[name], self.shown[name], stored)

    def _uncited(self, con: duckdb.DuckDBPyConnection) -> list[Problem]:
        """The figure rows no citation targets (a citation's target is the first of its target columns it fills)."""
        found: list[Problem] = []
        for name, column in CITED_TABLES.items():
            before = Citation.target_fields[: Citation.target_fields.index(column)]
            targeting = " AND ".join([f'c."{column}" = t.id', *(f'c."{other}" IS NULL' for other in before)])
            uncited = self._rows(con, name, f"NOT EXISTS (SELECT 1 FROM citations c WHERE {targeting})")
            found += _run("uncited", self._only(**{name: uncited}))
        return found

    def _recipients(self, con: duckdb.DuckDBPyConnection) -> list[Problem]:
        """The awards with no recipient, or with recipients whose roles do not fit (one lead of a joint award)."""
        faulty = """id IN (
            SELECT a.id FROM awards a LEFT JOIN (
                SELECT award_id, count(*) AS n, count(*) FILTER (WHERE role = $lead) AS leads,
                    count(*) FILTER (WHERE role = $sole) AS soles
                FROM award_recipients GROUP BY award_id
            ) r ON r.award_id = a.id
            WHERE r.n IS NULL OR (r.n = 1 AND r.soles = 0) OR (r.n > 1 AND (r.leads <> 1 OR r.soles > 0)))"""
        roles = {"lead": Role.LEAD.value, "sole": Role.SOLE.value}
        awards = self._rows(con, "awards", faulty, roles)  # type: ignore[arg-type]
        recipients = self._rows(con, "award_recipients", f"award_id IN (SELECT id FROM awards WHERE {faulty})", roles)  # type: ignore[arg-type]
        return _run("recipients", self._only(awards=awards, award_recipients=recipients))

    def _ceiling(self, con: duckdb.DuckDBPyConnection) -> list[Problem]:
        """The programmes whose awards may add up to more than their ceiling, or come in another currency: the rule
        runs on every award beneath them (a programme not over keeps under with fewer awards: amounts are positive)."""
        programmes = self._held("programmes", "ceiling")
        values = programmes.values
        ids = values["id"].tolist()
        tree = ProgrammeTree.from_pairs(zip(ids, values["parent_id"].tolist(), strict=True))
        groups = con.execute(
            "SELECT programme_id, currency, count(*), sum(CAST(amount AS DECIMAL(38, 4))) "
            "FROM awards WHERE amount IS NOT NULL GROUP BY programme_id, currency"
        ).fetchall()
        counts: dict[str, int] = defaultdict(int)
        same: dict[tuple[str, str | None], int] = defaultdict(int)
        sums: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        with decimal.localcontext(prec=80):  # exact: what an amount can add up to holds far fewer digits
            for pid, currency, count, total in groups:
                for above in tree.ancestors(pid):
                    counts[above] += count
                    same[above, currency] += count
                    sums[above, currency] += total
        over = set()
        ceilings = zip(ids, values["amount"], values["currency"], values["basis"], strict=True)
        for pid, amount, currency, basis in ceilings:
            if amount is None or basis not in CEILING_BASES:
                continue
            currency = currency if isinstance(currency, str) else None
            total = sums.get((pid, currency), Decimal(0))
            mixed = same.get((pid, currency), 0) != counts.get(pid, 0)
            # A sum of more digits than the rule's own sums keep may round there: the rule decides.
            if mixed or total > amount or len(total.as_tuple().digits) > 27:
                over.add(pid)
        beneath = [pid for pid in ids if over.intersection(tree.ancestors(pid))]
        awards = self._rows(con, "awards", "programme_id IN (SELECT unnest($ids))", {"ids": beneath})  # type: ignore[arg-type]
        return _run("ceiling", self._only(programmes=programmes, awards=awards))

    def _award_currencies(self, con: duckdb.DuckDBPyConnection) -> list[Problem]:
        """The awards in a currency other than their programme's."""
        programmes = self._held("programmes", "award-currency")
        other = (
            "id IN (SELECT a.id FROM awards a JOIN programmes p ON p.id = a.programme_id "
            "WHERE a.currency <> p.currency)"
        )
        return _run("award-currency", self._only(programmes=programmes, awards=self._rows(con, "awards", other)))

    def _organisation_names(self, con: duckdb.DuckDBPyConnection) -> list[Problem]:
        """The organisations named as another of their country: every one that shares a name's key with another (the
        rule names the earliest of those for each, which is among them)."""
        if self.names is None:
            raise _InMemory("the organisations' names were not kept")
        path = str(self.folder / "organisation_names.parquet").replace("'", "''")
        shared = f"""_row IN (
            WITH k AS (
                SELECT _row, k0 AS k FROM read_parquet('{path}') WHERE k0 IS NOT NULL
                UNION ALL SELECT _row, k1 FROM read_parquet('{path}') WHERE k1 IS NOT NULL
            )
            SELECT _row FROM k WHERE k IN (SELECT k FROM k GROUP BY k HAVING count(DISTINCT _row) > 1))"""
        return _run("organisation-name", self._only(organisations=self._rows(con, "organisations", shared)))


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(query).fetchone()
    return int(row[0]) if row else 0


def _run(code: str, rows: dict[str, RowSet]) -> list[Problem]:
    check = COLUMNAR_CHECKS[code]
    return list(check(rows, Resolved()) if check in FOLLOWING else check(rows))


# The rules that read across the rows of a table read in pieces, each with the query that narrows it to the rows
# that may need a problem.
NARROWED: dict[str, Callable[[Pieces, duckdb.DuckDBPyConnection], list[Problem]]] = {
    "uncited": Pieces._uncited,
    "recipients": Pieces._recipients,
    "ceiling": Pieces._ceiling,
    "award-currency": Pieces._award_currencies,
    "organisation-name": Pieces._organisation_names,
}
