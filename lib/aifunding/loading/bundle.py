"""An uploaded package's normalised content, and an upload that extends the served package.

An accepted upload is kept under the hash of its *normalised* content (:func:`pack`): the package
folder's descriptor and table files, zipped in name order with fixed dates and modes, so the same
data always makes the same bytes and so the same link, whatever zip tool, spreadsheet or file
names it arrived with.

An upload can stand alone or *extend* the served package (:func:`extend_package`): one country's
programmes and awards that cite the served package's countries and sources. Its rows are added
after the served rows of each table; a row whose key the served package already holds is never
written over: it is left out and reported as a clash, with the upload's file and line.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from aifunding.data.report import Problem, Severity
from aifunding.data.tables import TABLES, Table

DESCRIPTOR = "datapackage.json"
# Every entry of a normalised package carries this date (the earliest a zip can hold) and mode.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16


def package_files(root: Path) -> list[Path]:
    """The descriptor and the table files of the package folder ``root``, in name order (nothing else)."""
    names = {DESCRIPTOR, *(table.path for table in TABLES)}
    return sorted((root / name for name in names if (root / name).is_file()), key=lambda p: p.name)


def pack(root: Path) -> bytes:
    """The normalised content of the package folder ``root``: a zip that depends only on its files' bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in package_files(root):
            info = zipfile.ZipInfo(path.name, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@dataclass(frozen=True)
class Clash:
    """An uploaded row whose key the served package already holds: left out, never written over it."""

    table: str
    file: str
    line: int
    key: str

    def problem(self, named: Callable[[str], str | None] | None = None) -> Problem:
        """The clash as a report's problem, at the upload's own file and line: named by ``named`` (a workbook's
        sheet), else ``awards.csv (upload)``, as :meth:`Extension.located` names the rows it added (a bare
        ``awards.csv`` is the served file, whose line 3 is another row)."""
        return Problem(
            Severity.ERROR,
            "upload-clash",
            self.table,
            (named(self.file) if named else None) or f"{self.file} (upload)",
            self.line,
            "/".join(_key_columns(self.table)),
            self.key,
            f"the served data already has {self.table} {self.key!r}; this row was left out, not written over it "
            "(give it an id of its own, or upload it on its own instead of extending)",
        )


@dataclass
class Extension:
    """What extending did: rows added per table, the clashes left out, and where added rows came from."""

    added: dict[str, int] = field(default_factory=dict)
    clashes: list[Clash] = field(default_factory=list)
    # Per table file: the line an added row starts on in the merged file -> its line in the upload.
    origins: dict[str, dict[int, int]] = field(default_factory=dict)

    def located(self, problem: Problem, named: Callable[[str], str | None] | None = None) -> Problem:
        """``problem`` pointing at the upload's own file and line when it is about a row the upload added.

        The file is named by ``named`` (a workbook's sheet, say), else ``awards.csv (upload)``.
        """
        lines = self.origins.get(problem.file or "")
        if not lines or problem.line not in lines or problem.file is None:
            return problem
        file = named(problem.file) if named else f"{problem.file} (upload)"
        return replace(problem, file=file, line=lines[problem.line])


def _key_columns(table_name: str) -> tuple[str, ...]:
    return next(table.primary_key for table in TABLES if table.name == table_name)


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each record of a UTF-8 CSV file, the header included."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        start = 1
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1


def extend_package(base: Path, upload: Path, dest: Path, title: str) -> Extension:
    """Write into ``dest`` the package ``base`` with the rows of the package ``upload`` added.

    The descriptor is ``base``'s, titled ``title``. Columns are matched by name; a column only the
    upload has is kept (the validator then names it). Rows whose key ``base`` holds, or that an earlier
    uploaded row already used, are left out and listed in :attr:`Extension.clashes`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    descriptor = json.loads((base / DESCRIPTOR).read_text(encoding="utf-8"))
    descriptor["title"] = title
    (dest / DESCRIPTOR).write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    extension = Extension()
    for table in TABLES:
        served, uploaded = base / table.path, upload / table.path
        if not served.is_file():
            if uploaded.is_file():
                (dest / table.path).write_bytes(uploaded.read_bytes())
            continue
        if not uploaded.is_file():
            (dest / table.path).write_bytes(served.read_bytes())
            continue
        _merge_table(table, served, uploaded, dest / table.path, extension)
    return extension


def _merge_table(table: Table, served: Path, uploaded: Path, out: Path, extension: Extension) -> None:
    base_rows = _records(served)
    _, header = next(base_rows, (1, []))
    upload_rows = _records(uploaded)
    _, upload_header = next(upload_rows, (1, []))
    columns = header + [name for name in upload_header if name not in header]
    key_columns = table.primary_key

    def key(cells: list[str], names: list[str]) -> tuple[str, ...]:
        values = dict(zip(names, cells, strict=False))
        return tuple(values.get(name, "") for name in key_columns)

    chunks: list[str] = []
    lines = 0  # lines written so far

    def write(cells: list[str]) -> None:
        nonlocal lines
        one = io.StringIO()
        # A lone "\r" is a line end to the loader; the csv module quotes it only when it is in the line end.
        if any("\r" in cell for cell in cells):
            csv.writer(one, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(cells)
        else:
            csv.writer(one, lineterminator="\n").writerow(cells)
        chunks.append(one.getvalue())
        lines += chunks[-1].count("\n")

    write(columns)
    seen: set[tuple[str, ...]] = set()
    for _, cells in base_rows:
        seen.add(key(cells, header))
        write(cells + [""] * (len(columns) - len(cells)))
    origins: dict[int, int] = {}
    added = 0
    for line, cells in upload_rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line adds nothing, as in the served file
        row_key = key(cells, upload_header)
        if row_key and all(row_key) and row_key in seen:
            extension.clashes.append(Clash(table.name, uploaded.name, line, "/".join(row_key)))
            continue
        seen.add(row_key)
        values = dict(zip(upload_header, cells, strict=False))
        origins[lines + 1] = line
        # Cells beyond the upload's header stay, so the validator still says the row has too many.
        write([values.get(name, "") for name in columns] + cells[len(upload_header) :])
        added += 1
    out.write_text("".join(chunks), encoding="utf-8")
    extension.added[table.name] = added
    extension.origins[table.path] = origins
