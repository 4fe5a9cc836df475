"""One file of an upload, judged by its content: what its first bytes say it is, and its text as UTF-8.

A name says what a file claims to be; its bytes say what it is. A ZIP, a PDF or an image named
``awards.csv`` is refused by its first bytes. Text is taken as the spreadsheets people use write it:
UTF-8 (with or without a byte-order mark), UTF-16 with its byte-order mark, or Shift-JIS (as Excel
saves CSV on a Japanese Windows) when it does not read as Latin-1 text, the last two converted to UTF-8
and noted; anything else is refused with the offset and line of the first byte that is not UTF-8.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import re
from dataclasses import dataclass
from itertools import islice

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
# Most Latin-1 and Windows-1252 text decodes as Shift-JIS too, into nonsense inside its words: an accented
# capital (bytes 0xC0-0xDF) is a half-width katakana ("CRﾉDIT"); a small accented letter (0xE0-0xFF), or a
# Windows-1252 curly quote, dash or small letter (0x85, 0x91-0x97, 0x9A-0x9F), starts a two-byte character
# that swallows the letter after it ("Cr馘it" for Crédit, "Japan痴" for Japan's). A file that is Japanese by
# what it holds (see _japanese) is taken whole. In any other, a non-ASCII character next to a Latin letter is
# looked at: Japanese text puts kana, full-width forms or common kanji there.
_BY_A_LETTER = re.compile("(?<=[A-Za-z])[^\x00-\x7f]|[^\x00-\x7f](?=[A-Za-z])")
_HALF_WIDTH_KATAKANA = re.compile("[\uff61-\uff9f]")
_LATIN_LETTER_BYTES = range(0xE0, 0x100)  # a small accented letter; in Shift-JIS rare kanji and vendor symbols
_WINDOWS_1252_BYTES = frozenset([0x85, *range(0x91, 0x98), 0x9A, 0x9C, 0x9E, 0x9F])  # … ' ' " " • – — š œ ž Ÿ
_SMALL_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


@functools.cache
def _two_byte_forms() -> dict[str, tuple[bytes, ...]]:
    """Each character Shift-JIS (cp932) reads from two bytes, with every pair of bytes it reads as it.

    Made when an upload first asks (11,000 decodings, 80 ms that every command and server start paid).
    """
    forms: dict[str, list[bytes]] = {}
    for lead in (*range(0x81, 0xA0), *range(0xE0, 0xFD)):
        for second in range(0x40, 0xFD):
            with contextlib.suppress(UnicodeDecodeError):
                forms.setdefault(bytes([lead, second]).decode("cp932"), []).append(bytes([lead, second]))
    return {character: tuple(pairs) for character, pairs in forms.items()}


def _decoded(leads: list[int], seconds: range = range(0x40, 0xFD)) -> frozenset[str]:
    """The characters Shift-JIS (cp932) reads from a first byte of ``leads`` and a second of ``seconds``."""
    return frozenset(
        character
        for character, pairs in _two_byte_forms().items()
        if any(pair[0] in leads and pair[1] in seconds for pair in pairs)
    )


# What only Japanese Shift-JIS bytes give. The characters whose first byte is 0x81 (、。「」・ー（）, the
# full-width space): 0x81 is no character in Windows-1252 and a control in Latin-1, so Latin text never holds
# it. Left out are the few that other bytes give too (￢ ∵ ≒ ∫ ...; ￢ is also 0xFA54, "úT"). And kana: a hiragana is
# 0x82 then 0x9F-0xF1, in Windows-1252 "‚" before Ÿ, a no-break space or a sign or letter up to ñ; a full-width
# katakana 0x83 then 0x40-0x96, "ƒ" before @, a letter or a curly quote. One such pair can be Latin text (‚Äpfel'
# in German quotes, closed by a straight one), two practically never; a single kana is not enough.
@functools.cache
def _japanese_punctuation() -> frozenset[str]:
    one_byte = frozenset(bytes([byte]).decode("cp932", "ignore") for byte in range(0x100))
    return _decoded([0x81]) - _decoded([*range(0x82, 0xA0), *range(0xE0, 0xFD)]) - one_byte


@functools.cache
def _kana_characters() -> frozenset[str]:
    return _decoded([0x82], range(0x9F, 0xF2)) | _decoded([0x83], range(0x40, 0x97))


@functools.cache
def _kana() -> re.Pattern[str]:
    return re.compile(f"[{''.join(sorted(_kana_characters()))}]")


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
    would in a folder. UTF-16 needs its byte-order mark; anything else must decode strictly as Shift-JIS,
    and not read as Latin-1 or Windows-1252 text (see :func:`_in_a_latin_word`).

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
    """``data`` decoded as Shift-JIS, or None when it is not, or reads as Latin-1 text decoded as Shift-JIS."""
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        return None
    if _NOT_SHIFT_JIS.search(text):
        return None
    if _japanese(text) or not any(_in_a_latin_word(text, found) for found in _BY_A_LETTER.finditer(text)):
        return text
    return None


def _japanese(text: str) -> bool:
    """Whether ``text``, read as Shift-JIS, is Japanese by what it holds: Japanese punctuation, or two kana.

    Latin-1 and Windows-1252 bytes never give the one and practically never the other, so such a file is
    Japanese wherever a character of it sits ("Python用", "NTTﾃﾞｰﾀ" beside "さくらインターネット").
    """
    if not _japanese_punctuation().isdisjoint(text):
        return True
    return next(islice(_kana().finditer(text), 1, None), None) is not None


def _in_a_latin_word(text: str, found: re.Match[str]) -> bool:
    """Whether the character ``found`` (next to a Latin letter) is what Latin-1 or Windows-1252 bytes become.

    That is a half-width katakana; a two-byte character whose first byte is a small accented letter and
    whose second is a letter too; or one whose first byte is a Windows-1252 curly quote, dash or letter and
    whose second is an ASCII letter, next to a small letter (as in "Japan's"). It is asked only of a file with
    no Japanese punctuation and fewer than two kana (see :func:`_japanese`). The Japanese it refuses there, never
    misreads, is kanji among Latin words: a rare kanji inside a Latin word, a half-width katakana next to a
    Latin letter ("NTTﾃﾞｰﾀ"), or a common kanji right after a small letter ("Python用", "iPhone用").
    """
    character = found.group()
    if _HALF_WIDTH_KATAKANA.fullmatch(character):
        return True
    neighbours = text[found.start() - 1 : found.start()] + text[found.end() : found.end() + 1]
    # Every pair of bytes that reads as it: 倞 is 0xED5B and 0xFA77 (Latin-1 "úw"), but encodes as the first only.
    return any(_latin_pair(pair, neighbours) for pair in _two_byte_forms().get(character, ()))


def _latin_pair(encoded: bytes, neighbours: str) -> bool:
    """Whether the two bytes ``encoded``, between ``neighbours``, are Latin-1 or Windows-1252 letters read as one."""
    ascii_letter = chr(encoded[1]).isascii() and chr(encoded[1]).isalpha()
    if encoded[0] in _LATIN_LETTER_BYTES:
        return ascii_letter or encoded[1] >= 0xC0  # "créé": its two accents one character
    if not ascii_letter:
        return False
    return encoded[0] in _WINDOWS_1252_BYTES and not _SMALL_LETTERS.isdisjoint(neighbours)


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
