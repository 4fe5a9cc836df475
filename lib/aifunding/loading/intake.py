"""Taking in an analyst's own data: a zipped package, an XLSX workbook or CSV files, unpacked into a package folder.

Data comes as (a) a ZIP of a data package (``datapackage.json`` and its CSV files, at the root of the
ZIP or together in one folder inside it), (b) an XLSX workbook with one sheet per table, or (c) CSV
files named after their tables, with or without a ``datapackage.json``. :func:`unpack` turns any of
them into a package folder that :func:`~aifunding.loading.package.load_package` validates like any
other: one UTF-8 CSV per table given, named after its table, and the descriptor given or, when there is
none, the one the models generate. A table that was not given is left out rather than written empty:
the report then says it is missing and counts the rows that refer to it, and an export never passes it
off as a table with no rows.

Uploads are untrusted. Each is refused with one :class:`UploadRefused` naming it, the entry inside it
and why, before anything is written (ZIPs are checked by :mod:`aifunding.loading.archive`). Files are
written only under names taken from the table registry, inside ``dest``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from aifunding.data.limits import describe_bytes
from aifunding.data.report import ValidationReport
from aifunding.data.schema import DESCRIPTOR_NAME, build_descriptor
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.loading.archive import (
    PACKAGE_BYTES_VARIABLE,
    ZIP_MAGIC,
    IntakeLimits,
    UploadRefused,
    entry_parts,
    open_zip,
    read_entry,
    shown,
)
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import Meanwhile, Package, PackageReadError, load_package
from aifunding.loading.upload_files import OLD_OFFICE, UploadFile, as_utf8, base_name, content_of
from aifunding.loading.workbook import WorkbookRefused, workbook_tables

__all__ = ["IntakeLimits", "Loaded", "Unpacked", "Upload", "UploadRefused", "load_inputs", "read_uploads", "unpack"]

Kind = Literal["zip", "workbook", "csv"]
KIND_WORDS: dict[Kind, str] = {
    "zip": "a zipped data package",
    "workbook": "an XLSX workbook, one sheet per table: a problem names its sheet, and its line is the sheet's row",
    "csv": "CSV files",
}
ACCEPTED = "upload a ZIP of a data package, an XLSX workbook, or CSV files named after their tables"
# What each accepted file name ends with; :func:`_kind` checks that the content agrees.
SUFFIX_KINDS: dict[str, Kind] = {".zip": "zip", ".xlsx": "workbook", ".csv": "csv"}
_WITHOUT_MACROS = "save it as an Excel Workbook (.xlsx) without macros"
_MACROS = f"a macro-enabled workbook is never opened; {_WITHOUT_MACROS}"
# Spreadsheets refused by their name, each with what to do instead.
REFUSED_SUFFIXES = {
    ".xlsm": _MACROS,
    ".xltm": _MACROS,
    ".xlam": _MACROS,
    ".xls": "the old Excel format (.xls) is not read; save it as an Excel Workbook (.xlsx)",
    ".xlsb": "binary workbooks (.xlsb) are not read; save it as an Excel Workbook (.xlsx)",
}
# Archives inside a ZIP are never opened: each would be another round of bombs and traversals.
NESTED_SUFFIXES = (".zip", ".xlsx", ".xlsm", ".xls", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")
# What macOS adds to a ZIP it makes: metadata, never data, so it is skipped (with a note).
MACOS_EXTRAS = ("__MACOSX", ".DS_Store")
# Excel keeps a workbook's macros in this part, whatever the file is called.
MACRO_PART = "vbaproject.bin"
_KNOWN_FILES = ", ".join(table.path for table in TABLES)


@dataclass(frozen=True)
class Upload:
    """One uploaded file as a browser's file picker or the command line gives it: its name and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Unpacked:
    """An upload unpacked into a package folder: where, what kind of input it was, and what was done to it."""

    folder: Path
    kind: Kind
    source: str  # the uploaded files' names (never a folder on this machine)
    notes: tuple[str, ...] = ()  # e.g. "awards.csv was Shift-JIS; converted to UTF-8"

    def lines(self) -> list[str]:
        """What a report says first about the upload: its name and kind, then each note."""
        return [f"upload: {self.source} ({KIND_WORDS[self.kind]})", *(f"upload: {note}" for note in self.notes)]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "notes": list(self.notes)}

    def where(self, file: str | None) -> str | None:
        """Where a table's file of this upload came from, as its uploader knows it.

        A workbook's ``awards.csv`` is its sheet ``awards`` (row N of the sheet is line N of the
        file): ``book.xlsx › awards``. Files of other uploads keep their names.
        """
        table = file.removesuffix(".csv") if file else None
        if self.kind == "workbook" and table in TABLES_BY_NAME:
            return f"{self.source} › {table}"
        return file

    def locate(self, report: ValidationReport) -> ValidationReport:
        """``report`` with every problem and quarantined row placed where :meth:`where` says, and the files its
        messages name too ("a row of awards.csv that was quarantined ('x', awards.csv:5)" names the sheet)."""
        if self.kind != "workbook":
            return report
        return replace(
            report,
            problems=[replace(p, file=self.where(p.file), message=self._named(p.message)) for p in report.problems],
            quarantined=[
                replace(q, file=self.where(q.file) or q.file, reasons=tuple(map(self._named, q.reasons)))
                for q in report.quarantined
            ],
        )

    def _named(self, message: str) -> str:
        """``message`` with each table's file named as :meth:`where` names it (``awards.csv:5``: the sheet's row 5)."""
        return _TABLE_FILE.sub(
            lambda m: f"{self.where(m[0].split(':')[0])}{m[2] or ''}" if m[1] in TABLES_BY_NAME else m[0], message
        )


# A table's file as a message names it, with its line when it gives one: "awards.csv:5".
_TABLE_FILE = re.compile(r"\b([a-z_]+)\.csv\b(:\d+)?")


@dataclass
class _Gathered:
    """What an upload holds, checked and decoded, before anything is written."""

    tables: dict[str, bytes]  # table name -> its CSV as UTF-8
    descriptor: bytes | None = None  # the datapackage.json given, if one was
    notes: list[str] = field(default_factory=list)


def unpack(uploads: Sequence[Upload], dest: Path, limits: IntakeLimits | None = None) -> Unpacked:
    """Check ``uploads`` and write them as a package folder inside ``dest``.

    ``uploads`` is one ZIP, one XLSX workbook, or CSV files named after their tables (with or without
    a ``datapackage.json``). Each CSV is decoded (UTF-8 with or without a byte-order mark, UTF-16 with
    one, or Shift-JIS, converted and noted) and written as ``<table>.csv``; the descriptor is the one
    given or, without one, the models' own named after the upload.

    Returns:
        The new folder (a fresh one inside ``dest``), the kind of input and the notes on what was done.

    Raises:
        UploadRefused: the upload is empty, too large, of a kind not taken in, or hostile; nothing
            has been written.
    """
    limits = limits or IntakeLimits.from_env()
    if not uploads:
        raise UploadRefused("", f"nothing was uploaded; {ACCEPTED}")
    _refuse_oversized([upload.name for upload in uploads], [len(upload.data) for upload in uploads], limits)
    kinds = [_kind(upload) for upload in uploads]
    kind: Kind = "csv"
    if kinds in (["zip"], ["workbook"]):
        kind = kinds[0]
        gathered = _from_zip(uploads[0], limits) if kind == "zip" else _from_workbook(uploads[0], limits)
    elif set(kinds) != {"csv"}:
        raise UploadRefused(_names(uploads), f"give one ZIP, one workbook, or CSV files, not a mix; {ACCEPTED}")
    else:
        gathered = _gather([UploadFile(upload.name, None, upload.data) for upload in uploads])
    source = shown(_names(uploads), 200)
    descriptor = gathered.descriptor
    if descriptor is None:
        descriptor = render_uploaded_descriptor(source, gathered.tables)
        gathered.notes.append(f"no {DESCRIPTOR_NAME} was given; the one the models generate was used")
        missing = [table.path for table in TABLES if table.name not in gathered.tables and not table.optional]
        if missing:
            gathered.notes.append(f"tables not given (the report lists each as missing): {', '.join(missing)}")
    folder = _write(dest, gathered.tables, descriptor)
    return Unpacked(folder, kind, source, tuple(gathered.notes))


def _refuse_oversized(names: Sequence[str], sizes: Sequence[int], limits: IntakeLimits) -> None:
    """Refuse an empty file, a file over the upload limit, or files over it together."""
    for name, size in zip(names, sizes, strict=True):
        if not size:
            raise UploadRefused(name, "the file is empty")
        limits.refuse_oversized(name, size)
    if len(names) > 1:
        limits.refuse_oversized(_names(names), sum(sizes), f"the {len(names)} files together are")


def _names(uploads: Sequence[Upload] | Sequence[str], listed: int = 3) -> str:
    """The uploaded files' names, the first ``listed`` of them and how many more, without any folder."""
    names = [base_name(item if isinstance(item, str) else item.name) for item in uploads]
    more = len(names) - listed
    return ", ".join(names) if more <= 1 else f"{', '.join(names[:listed])} and {more:,} more"


def _suffix(name: str) -> str:
    stem, dot, suffix = base_name(name).rpartition(".")
    return f".{suffix.lower()}" if dot and stem else ""


def _kind(upload: Upload) -> Kind:
    """What the upload is, by its name; a ZIP or workbook must also start like one (CSV text is checked later)."""
    suffix = _suffix(upload.name)
    if suffix in REFUSED_SUFFIXES:
        raise UploadRefused(upload.name, REFUSED_SUFFIXES[suffix])
    kind = "csv" if base_name(upload.name) == DESCRIPTOR_NAME else SUFFIX_KINDS.get(suffix)
    if kind is None:
        what = f"a {suffix} file" if suffix else "a file whose name has no extension"
        raise UploadRefused(upload.name, f"{what} is not taken in; {ACCEPTED}")
    if kind != "csv" and not upload.data.startswith(ZIP_MAGIC):
        found = content_of(upload.data)
        if kind == "workbook" and found == OLD_OFFICE:
            raise UploadRefused(
                upload.name,
                "the workbook is password-protected, or an old .xls renamed; save it as an Excel Workbook "
                "(.xlsx) without a password",
            )
        said = "an XLSX workbook" if kind == "workbook" else "a ZIP archive"
        raise UploadRefused(upload.name, f"its name says {said}, but it is {found or 'not one'}")
    return kind


def _from_zip(upload: Upload, limits: IntakeLimits) -> _Gathered:
    """The files of a zipped package: all in one folder, macOS metadata skipped, nothing nested."""
    archive = open_zip(upload.data, upload.name, limits)
    chosen, folders, skipped = [], set(), False
    for info in archive.infolist():
        parts = entry_parts(info.orig_filename, upload.name)
        if not parts or info.orig_filename.endswith("/"):  # a folder of its own
            continue
        if parts[0] in MACOS_EXTRAS or parts[-1] in MACOS_EXTRAS:
            skipped = True
            continue
        if parts[-1].lower().endswith(NESTED_SUFFIXES):
            raise UploadRefused(
                upload.name,
                "an archive inside the ZIP is never opened; put the package's files in the ZIP itself",
                info.orig_filename,
            )
        folders.add("/".join(parts[:-1]))
        chosen.append(info)
    if not chosen:
        raise UploadRefused(upload.name, "the ZIP holds no files")
    if len(folders) > 1:
        where = ", ".join(f"'{folder}/'" if folder else "the top level" for folder in sorted(folders))
        raise UploadRefused(
            upload.name, f"its files are in more than one folder ({where}); put the package's files in one folder"
        )
    gathered = _gather(
        [UploadFile(upload.name, info.orig_filename, read_entry(archive, info, upload.name)) for info in chosen]
    )
    folder = folders.pop()
    if folder:
        gathered.notes.insert(0, f"its files were read from the folder '{shown(folder)}/' inside it")
    if skipped:
        gathered.notes.append("the macOS metadata in the ZIP (__MACOSX/, .DS_Store) was skipped")
    return gathered


def _from_workbook(upload: Upload, limits: IntakeLimits) -> _Gathered:
    """The tables of a workbook (one sheet per table), read by :mod:`aifunding.loading.workbook` once it is safe."""
    archive = open_zip(upload.data, upload.name, limits)
    macros = [name for name in archive.namelist() if base_name(name).lower() == MACRO_PART]
    if macros:
        raise UploadRefused(upload.name, f"the workbook holds macros ({shown(macros[0])}); {_WITHOUT_MACROS}")
    try:
        sheets: dict[str, str] = workbook_tables(upload.data, upload.name)
    except WorkbookRefused as exc:
        raise UploadRefused(upload.name, str(exc).removeprefix(f"{upload.name}: ")) from None
    tables: dict[str, bytes] = {}
    for sheet, text in sheets.items():
        if sheet not in TABLES_BY_NAME:
            raise UploadRefused(upload.name, f"the sheet '{shown(sheet)}' is not a table of the package")
        tables[sheet] = text.encode("utf-8")
    total = sum(len(data) for data in tables.values())
    if total > limits.unpacked_bytes:
        raise UploadRefused(
            upload.name,
            f"its sheets come to {describe_bytes(total)} of CSV; a package may be at most "
            f"{describe_bytes(limits.unpacked_bytes)} ({PACKAGE_BYTES_VARIABLE})",
        )
    return _Gathered(tables)


def _gather(files: Sequence[UploadFile]) -> _Gathered:
    """Each file as the table it is named after (or the descriptor), decoded to UTF-8; one file per table."""
    gathered, first = _Gathered({}), dict[str, UploadFile]()
    for file in files:
        target = _target(file)
        if target in first:
            what = DESCRIPTOR_NAME if target == DESCRIPTOR_NAME else f"the '{target}' table"
            raise file.refuse(f"{what} is given twice (first as '{first[target].label}'); give it once")
        first[target] = file
        found = content_of(file.data)
        if found:
            said = "JSON" if target == DESCRIPTOR_NAME else "CSV text"
            raise file.refuse(f"its name says {said}, but it is {found}")
        data, note = as_utf8(file)
        if note:
            gathered.notes.append(note)
        if target == DESCRIPTOR_NAME:
            gathered.descriptor = data
        else:
            gathered.tables[target] = data
    return gathered


def _target(file: UploadFile) -> str:
    """The table a file is named after, or the descriptor's name; any other name is refused."""
    name = file.name
    if name == DESCRIPTOR_NAME:
        return name
    stem = name[: -len(".csv")].lower()
    if _suffix(name) == ".csv" and stem in TABLES_BY_NAME:
        return stem
    raise file.refuse(f"it is not named after a table of the package; the files are {_KNOWN_FILES}")


def uploaded_descriptor(source: str, tables: Iterable[str]) -> dict[str, Any]:
    """The descriptor the models generate, named after the upload, for a package given without one.

    It lists every table but the optional ones not given. The bundled package's licence, sources and
    version say nothing about someone else's data, so they are left out.
    """
    given = set(tables)
    descriptor = {
        key: value for key, value in build_descriptor().items() if key not in ("licenses", "sources", "version")
    }
    slug = re.sub(r"[^a-z0-9._-]+", "-", source.lower()).strip("-._")
    descriptor["name"] = f"upload-{slug}"[:80].rstrip("-._") if slug else "upload"
    descriptor["title"] = f"Uploaded package: {source}"
    descriptor["description"] = "Data uploaded to aifunding; its table schemas are generated from the models."
    descriptor["resources"] = [
        resource
        for resource in descriptor["resources"]
        if resource["name"] in given or not TABLES_BY_NAME[resource["name"]].optional
    ]
    return descriptor


def render_uploaded_descriptor(source: str, tables: Iterable[str]) -> bytes:
    return (json.dumps(uploaded_descriptor(source, tables), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write(dest: Path, tables: Mapping[str, bytes], descriptor: bytes) -> Path:
    """A new folder inside ``dest`` holding the descriptor and each table as ``<table>.csv``."""
    dest.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="package-", dir=dest))
    files = {DESCRIPTOR_NAME: descriptor, **{TABLES_BY_NAME[name].path: data for name, data in tables.items()}}
    for name, data in files.items():
        path = folder / name
        # O_EXCL never writes through a name that exists already (a link planted there); O_NOFOLLOW likewise.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
            handle.write(data)
        if not path.resolve().is_relative_to(dest.resolve()):
            path.unlink()
            raise RuntimeError(f"{path} was written outside {dest}; the upload was not taken in")
    return folder


def read_uploads(paths: Sequence[str | Path], limits: IntakeLimits | None = None) -> list[Upload]:
    """The files named on a command line as uploads, read only once their sizes are known to be within the limit.

    The operator names them, so a path may be a link (as a package folder may be); it must end at a file.

    Raises:
        UploadRefused: a path is not a regular file, a file is empty, or the files are over the limit.
        OSError: a file cannot be read.
    """
    limits = limits or IntakeLimits.from_env()
    sizes = []
    for path in paths:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise UploadRefused(
                str(path), "it is not a file; give a package folder on its own, or the files of an upload"
            )
        sizes.append(info.st_size)
    _refuse_oversized([str(path) for path in paths], sizes, limits)
    uploads = []
    for path in paths:
        with open(path, "rb") as handle:
            uploads.append(Upload(str(path), handle.read(limits.upload_bytes + 1)))
    return uploads


@dataclass(frozen=True)
class Loaded:
    """A package as the command line names it, and the upload it came from (None for a package folder)."""

    package: Package
    unpacked: Unpacked | None


@contextmanager
def load_inputs(
    paths: Sequence[str], cache: PackageCache | None = None, meanwhile: Meanwhile | None = None
) -> Iterator[Loaded]:
    """Load what a command line names: a package folder or its ``datapackage.json`` as ever, or uploads.

    Uploads (a ZIP, a workbook, CSV files) are unpacked into a temporary folder that lives as long as
    the ``with`` block, and validated from there. A package folder is read back from ``cache`` when its
    files were validated before (by the dashboard, or an earlier command), else validated and kept there. A
    package validated here is handed to ``meanwhile`` while its references are resolved or its package rules run
    (:data:`~aifunding.loading.package.Meanwhile`).

    Raises:
        UploadRefused: an upload is refused.
        PackageReadError: the package has no usable descriptor.
    """
    if _names_a_folder(paths):
        yield Loaded(load_package(paths[0], cache=cache, meanwhile=meanwhile), None)
        return
    limits = IntakeLimits.from_env()
    with tempfile.TemporaryDirectory(prefix="aifunding-upload-") as temporary:
        unpacked = unpack(read_uploads(paths, limits), Path(temporary), limits)
        try:
            package = load_package(unpacked.folder, meanwhile=meanwhile)
        except PackageReadError as unreadable:  # named after the upload, never the temporary folder, as the Data page
            named = f"{', '.join(Path(path).name for path in paths)}: {unreadable.public}"
            raise PackageReadError(named, named) from unreadable
        package.report = unpacked.locate(package.report)
        yield Loaded(package, unpacked)


def _names_a_folder(paths: Sequence[str]) -> bool:
    """Whether the paths are one package folder (or its descriptor, or a path that is neither but names no file)."""
    if len(paths) != 1:
        return False
    path = Path(paths[0])
    if path.is_dir() or path.name == DESCRIPTOR_NAME:
        return True
    upload_suffixes = (*SUFFIX_KINDS, *REFUSED_SUFFIXES)
    return not path.exists() and _suffix(path.name) not in upload_suffixes
