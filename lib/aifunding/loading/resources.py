"""The tables a package's descriptor names: each one's file, what is wrong with the resources it lists, and the files
as read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aifunding.data.limits import Limits, describe_bytes
from aifunding.data.parsing import decode_csv_bytes, utf8_csv_bytes
from aifunding.data.reading import UnsafeFile, check_relative_path, read_inside
from aifunding.data.report import Problem, Severity, ValidationReport
from aifunding.data.schema import DESCRIPTOR_NAME
from aifunding.data.tables import TABLES, TABLES_BY_NAME


def _descriptor_problem(rule: str, table: str | None, field: str, value: str | None, message: str) -> Problem:
    return Problem(Severity.ERROR, rule, table, DESCRIPTOR_NAME, None, field, value, message)


def resource_files(descriptor: dict[str, Any], report: ValidationReport) -> dict[str, str]:
    """Table name -> the relative path its resource names, for every table whose path is usable."""
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        report.problems.append(
            _descriptor_problem(
                "descriptor",
                None,
                "resources",
                None,
                "the descriptor has no 'resources' list; it must list one resource per table",
            )
        )
        resources = []
    by_name = {r["name"]: r for r in resources}
    files: dict[str, str] = {}
    for table in TABLES:
        resource = by_name.get(table.name)
        if resource is None and table.optional:
            continue
        if resource is None:
            report.problems.append(
                _descriptor_problem(
                    "missing-table",
                    table.name,
                    "resources",
                    table.name,
                    f"the descriptor does not list the '{table.name}' table; expected a resource named "
                    f"'{table.name}' with path '{table.path}'",
                )
            )
            continue
        rel = resource.get("path")
        try:
            check_relative_path(rel)
        except UnsafeFile as exc:
            report.problems.append(
                _descriptor_problem(
                    "resource-path", table.name, "path", short(rel), f"the '{table.name}' resource {exc}"
                )
            )
            continue
        files[table.name] = rel
    for name in sorted(by_name.keys() - TABLES_BY_NAME.keys()):
        report.problems.append(
            Problem(
                Severity.WARNING,
                "unknown-table",
                short(name),
                DESCRIPTOR_NAME,
                None,
                "resources",
                short(name),
                f"resource '{short(name)}' is not a known table and was not loaded; known tables: "
                + ", ".join(TABLES_BY_NAME),
            )
        )
    return files


def short(value: object, limit: int = 80) -> str:
    """``value`` as text, cut to ``limit`` characters (its last an ellipsis) to be quoted in a problem."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A table's CSV: text, or (read from a file, for the columnar parser) its UTF-8 bytes.
Text = str | bytes


@dataclass(frozen=True)
class Read:
    """One table's file as read: its bytes, or why it was refused (rule, message)."""

    shown: str
    data: bytes | None
    failure: tuple[str, str] | None = None


# Files read at once: copying a file's pages into memory is the kernel's work, which lets another thread run.
READ_THREADS = 2


def read_files(root: Path, files: dict[str, str], limits: Limits) -> dict[str, Read]:
    """Each table's file as bytes, read through :func:`read_inside`; a refused file says why, never raises.

    Bytes, not text: a package found in the cache is keyed by its bytes and never decoded. Files whose sizes add
    up to the package's limit are read two at a time (a million awards' 540 MB in 0.18 s against 0.25 s), then taken
    in order, as if read one by one; otherwise one by one, so that no more than the limit is held at once.
    """
    if not _sizes_within(root, files.values(), limits.package_bytes):
        return _in_order(files, lambda name: read_inside(root, files[name], limits.file_bytes), limits)
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="aifunding-read") as pool:
        reading = {name: pool.submit(read_inside, root, rel, limits.file_bytes) for name, rel in files.items()}
        return _in_order(files, lambda name: reading.pop(name).result(), limits)


def _sizes_within(root: Path, names: Iterable[str], limit: int) -> bool:
    """Whether the files ``names`` (beneath ``root``) exist and add up to at most ``limit`` bytes, as they stand."""
    total = 0
    for name in names:
        try:
            total += (root / name).stat().st_size
        except (OSError, ValueError):  # missing, unreadable, or a name no file can have: read one by one
            return False
    return total <= limit


def _in_order(files: dict[str, str], read: Callable[[str], bytes], limits: Limits) -> dict[str, Read]:
    """Each file as ``read`` gives it, in order: refused where reading failed or the package's files add up to too
    much (a file over the limit is let go of as soon as it is read)."""
    reads: dict[str, Read] = {}
    total = 0
    for name, rel in files.items():
        shown = short(rel)
        budget = min(limits.file_bytes, limits.package_bytes - total)
        try:
            data = read(name)
        except UnsafeFile as exc:
            reads[name] = Read(shown, None, (exc.rule, f"the file for the '{name}' table {exc}"))
            continue
        if len(data) > budget:
            message = (
                f"the package's files add up to more than the {describe_bytes(limits.package_bytes)} limit, "
                f"so the '{name}' table was not read"
            )
            reads[name] = Read(shown, None, ("package-too-large", message))
            continue
        total += len(data)
        reads[name] = Read(shown, data)
    return reads


def file_texts(reads: dict[str, Read], report: ValidationReport, *, decode: bool) -> dict[str, tuple[str, Text | None]]:
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
