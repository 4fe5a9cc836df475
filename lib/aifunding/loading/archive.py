"""Opening an uploaded ZIP without trusting it: every entry checked before a byte of it is unpacked.

A ZIP's headers are written by whoever made it, so every bound is held twice: on what the central
directory declares (how many entries, how large unpacked, how tightly compressed) before anything is
unpacked, and on the bytes actually unpacked, counted as they come. Entry names are checked as
untrusted text (no ``..``, no absolute path, no drive letter, no backslash), and links, devices,
encrypted entries and unknown compression are refused. Nothing here writes a file: entries come back
as bytes, and the caller writes them under names it builds itself (:mod:`aifunding.loading.intake`).
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from aifunding.data.limits import MB, Limits, describe_bytes
from aifunding.store.quotas import VARIABLES, Quotas

# How a ZIP archive starts: a file's local header, or the end record of an archive with no files.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Every entry of the central directory starts with this; zipfile refuses one that does not.
_CENTRAL_ENTRY = b"PK\x01\x02"
_CHUNK = 1 * MB
# The compression methods zipfile unpacks (zstd and the rest raise NotImplementedError).
_READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Bit 0 of an entry's flags: encrypted with a password (bit 6: "strong" encryption as well).
_ENCRYPTED = 0x1 | 0x40
PACKAGE_BYTES_VARIABLE = "AIFUNDING_LIMIT_PACKAGE_BYTES"


class UploadRefused(ValueError):
    """An upload that is not taken in: one message naming the upload, the entry inside it, and why.

    ``upload``, ``entry`` and ``why`` are kept apart for a page that shows them separately.
    """

    def __init__(self, upload: str, why: str, entry: str | None = None) -> None:
        self.upload, self.entry, self.why = shown(upload), None if entry is None else shown(entry), why
        where = self.upload if self.entry is None else f"{self.upload}, entry '{self.entry}'"
        super().__init__(f"{where}: {why}" if where else why)


def shown(name: str, limit: int = 80) -> str:
    """A name from an upload as it may be printed: control characters as '?', cut to ``limit`` characters."""
    text = _CONTROL.sub("?", name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class IntakeLimits:
    """What one upload may hold, on top of the validator's own :class:`Limits`.

    The byte limit is the store's per-upload quota (``AIFUNDING_UPLOAD_BYTES``), so an upload taken in
    here is one the store will keep; the unpacked total is the validator's package limit, so unpacking
    never makes more than a package may be. The entry count and ratio are far above any real package
    (ours is 14 files compressed about 6:1) and far below what a zip bomb needs.
    """

    upload_bytes: int = Quotas.upload_bytes  # everything uploaded at once, as sent
    unpacked_bytes: int = Limits.package_bytes  # a ZIP's entries together, unpacked
    entries: int = 100  # entries in one ZIP (a package is at most 14 files; a workbook about 40 parts)
    ratio: int = 200  # unpacked size over compressed size, for an entry over ``ratio_from`` bytes
    ratio_from: int = 1 * MB  # a small entry may compress as tightly as it likes: it cannot hurt

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IntakeLimits:
        """The defaults, with the store's ``AIFUNDING_UPLOAD_BYTES`` and the validator's package limit applied.

        Raises:
            StoreSettingError, LimitsError: a variable is not a positive whole number.
        """
        environ = os.environ if environ is None else environ
        return cls(
            upload_bytes=Quotas.from_env(environ).upload_bytes,
            unpacked_bytes=Limits.from_env(environ).package_bytes,
        )

    def refuse_oversized(self, upload: str, size: int, what: str = "the file is") -> None:
        """Raise when ``size`` bytes uploaded at once are over the limit."""
        if size > self.upload_bytes:
            raise UploadRefused(
                upload,
                f"{what} {describe_bytes(size)}; an upload may be at most {describe_bytes(self.upload_bytes)} "
                f"({VARIABLES['upload_bytes']})",
            )


def open_zip(data: bytes, upload: str, limits: IntakeLimits) -> zipfile.ZipFile:
    """The archive in ``data``, once every entry of its central directory has passed :func:`check_entry`.

    Raises:
        UploadRefused: too many entries, an entry refused, or unpacked sizes over the limits.
    """
    # zipfile builds an object per central-directory entry before anything can be counted; each one it
    # accepts starts with the entry signature, so counting signatures first bounds that work.
    found = data.count(_CENTRAL_ENTRY)
    if found > limits.entries:
        raise UploadRefused(upload, f"it holds {found:,} entries; a ZIP may hold at most {limits.entries:,}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise UploadRefused(upload, f"it is not a ZIP archive that can be read ({shown(str(exc))})") from None
    declared = 0
    for info in archive.infolist():
        check_entry(info, upload, limits)
        declared += info.file_size
    if declared > limits.unpacked_bytes:
        raise UploadRefused(
            upload,
            f"its entries unpack to {describe_bytes(declared)}; a package may be at most "
            f"{describe_bytes(limits.unpacked_bytes)} ({PACKAGE_BYTES_VARIABLE})",
        )
    return archive


def check_entry(info: zipfile.ZipInfo, upload: str, limits: IntakeLimits) -> None:
    """Refuse an entry whose name leaves the archive, or that is a link, encrypted, or a likely bomb."""
    name = info.orig_filename  # zipfile cuts ``filename`` at a NUL; the original keeps it
    entry_parts(name, upload)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise UploadRefused(
            upload, "it is a symbolic link; links are never followed, put the file itself in the ZIP", name
        )
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UploadRefused(upload, "it is not a regular file (a device, FIFO or socket)", name)
    if info.flag_bits & _ENCRYPTED:
        raise UploadRefused(upload, "it is encrypted; upload the ZIP without a password", name)
    if info.compress_type not in _READABLE:
        raise UploadRefused(upload, "it is compressed with a method this reader does not support", name)
    if info.file_size > limits.ratio_from and info.file_size > limits.ratio * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise UploadRefused(
            upload,
            f"it unpacks {ratio:,} times larger than it is compressed (at most {limits.ratio}:1 for an entry "
            f"over {describe_bytes(limits.ratio_from)}); refused as a possible zip bomb",
            name,
        )


def entry_parts(name: str, upload: str) -> tuple[str, ...]:
    """The folders and file name of an entry, or :class:`UploadRefused` when its name could leave the archive."""
    if not name:
        raise UploadRefused(upload, "it has no name", name)
    if _CONTROL.search(name):
        raise UploadRefused(upload, "its name holds a control character (a NUL, a line break)", name)
    if _DRIVE.match(name):
        raise UploadRefused(upload, "its path names a Windows drive; entries must be relative paths in the ZIP", name)
    if "\\" in name:
        raise UploadRefused(upload, "its path holds a backslash; entries must use '/' between folders", name)
    if name.startswith("/"):
        raise UploadRefused(upload, "its path is absolute; entries must be relative paths in the ZIP", name)
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UploadRefused(upload, "its path climbs out of the ZIP ('..'); nothing was unpacked", name)
    return parts


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, upload: str) -> bytes:
    """The entry's bytes, counted as they are unpacked and refused past the size its header declares.

    zipfile itself stops at the declared size and checks the CRC; counting here is the second lock,
    and with the declared total already within the limit it bounds the archive's total as well.
    """
    chunks, count = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                count += len(chunk)
                if count > info.file_size:
                    raise UploadRefused(
                        upload,
                        f"it unpacks to more than the {info.file_size:,} bytes its header declares; "
                        "refused as a possible zip bomb",
                        info.orig_filename,
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise UploadRefused(
            upload,
            f"its content does not match its header ({shown(str(exc))}); the ZIP is damaged or made to mislead",
            info.orig_filename,
        ) from None
    return b"".join(chunks)
