"""One file of an upload, judged by its content: what its first bytes say it is, and its text as UTF-8.

A name says what a file claims to be; its bytes say what it is. A ZIP, a PDF or an image named
``awards.csv`` is refused by its first bytes. Text is taken as the spreadsheets people use write it:
UTF-8 (with or without a byte-order mark), UTF-16 with its byte-order mark, or Shift-JIS (as Excel
saves CSV on a Japanese Windows), the last two converted to UTF-8 and noted; anything else is refused
with the offset and line of the first byte that cannot be read.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from aifunding.loading.archive import ZIP_MAGIC, UploadRefused, shown

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and every password-protected workbook
OLD_OFFICE = "an old-style Office file or a password-protected workbook"
# Content that is never CSV text or JSON, by its first bytes: what a mislabelled file most often is.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    *((magic, "a ZIP archive") for magic in ZIP_MAGIC),
    (OLE, OLD_OFFICE),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
)
# Python's cp932 maps a few bytes that no Shift-JIS text holds to C1 controls or private-use characters.
_NOT_SHIFT_JIS = re.compile("[\x80-\x9f\ue000-\uf8ff]")


def base_name(name: str) -> str:
    """A file name without any folder before it (a browser or a ZIP may use either kind of slash)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def content_of(data: bytes) -> str | None:
    """What ``data`` is, in words, when its first bytes say it is something other than text."""
    return next((what for magic, what in SIGNATURES if data.startswith(magic)), None)


@dataclass(frozen=True)
class UploadFile:
    """One file of an upload: an uploaded file itself (``entry`` None) or an entry of an uploaded ZIP."""

    upload: str
    entry: str | None
    data: bytes

    @property
    def name(self) -> str:
        """The file's own name, without the folders before it."""
        return base_name(self.entry if self.entry is not None else self.upload)

    @property
    def label(self) -> str:
        """The file as the person who uploaded it knows it, fit to print: its path in the ZIP, or its name."""
        return shown(self.entry if self.entry is not None else self.name)

    def refuse(self, why: str) -> UploadRefused:
        return UploadRefused(self.upload, why, self.entry)


def as_utf8(file: UploadFile) -> tuple[bytes, str | None]:
    """The file as UTF-8 and, when it had to be converted, a note saying from what.

    UTF-8 (with or without a byte-order mark) is kept byte for byte, so the validator reports it as it
    would in a folder. UTF-16 needs its byte-order mark; anything else must decode strictly as Shift-JIS.

    Raises:
        UploadRefused: the bytes are none of these, or hold a NUL (binary data, or UTF-16 without its mark).
    """
    data = file.data
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _undecodable(file, exc.start, "it starts like UTF-16 text but is not") from None
        if "\x00" in text:
            raise _nul(file, 2 + len(text[: text.index("\x00")].encode("utf-16-le")))
        return text.encode("utf-8"), f"{file.label} was UTF-16; converted to UTF-8"
    if b"\x00" in data:
        raise _nul(file, data.index(b"\x00"))
    try:
        data.decode("utf-8")
        return data, None
    except UnicodeDecodeError as exc:
        shift_jis = _shift_jis(data)
        if shift_jis is None:
            raise _undecodable(file, exc.start, "it is neither UTF-8 nor Shift-JIS text") from None
    return shift_jis.encode("utf-8"), f"{file.label} was Shift-JIS; converted to UTF-8"


def _shift_jis(data: bytes) -> str | None:
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        return None
    return None if _NOT_SHIFT_JIS.search(text) else text


def _where(data: bytes, offset: int) -> str:
    line = data[:offset].count(b"\n") + 1
    return f"offset {offset:,} (line {line:,})"


def _undecodable(file: UploadFile, offset: int, what: str) -> UploadRefused:
    return file.refuse(
        f"{what}: the byte 0x{file.data[offset]:02x} at {_where(file.data, offset)} cannot be read; "
        "save it as UTF-8 and upload it again"
    )


def _nul(file: UploadFile, offset: int) -> UploadRefused:
    return file.refuse(
        f"it holds a NUL byte at {_where(file.data, offset)}: binary data, or UTF-16 without a byte-order mark; "
        "save it as UTF-8 CSV"
    )
