"""Uploads taken in (aifunding.loading.intake): hostile ones refused with one message and nothing written, good ones
unpacked into a package folder that loads exactly as the folder they came from.

Every hostile ZIP is built here with zipfile, from real bytes; nothing is mocked.
"""

from __future__ import annotations

import io
import json
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import run

from aifunding import BUNDLED_DATA
from aifunding.data.limits import MB
from aifunding.data.schema import DESCRIPTOR_NAME
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.loading import upload_files
from aifunding.loading.intake import IntakeLimits, Upload, UploadRefused, read_uploads, unpack
from aifunding.loading.package import Package, load_package

CSV_FILES = sorted(path.name for path in BUNDLED_DATA.glob("*.csv"))
KNOWN = ", ".join(table.path for table in TABLES)
ACCEPTED = "upload a ZIP of a data package, an XLSX workbook, or CSV files named after their tables"
AWARDS = (",".join(TABLES_BY_NAME["awards"].columns) + "\n").encode()  # a header-only awards.csv
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NOT_SHIFT_JIS = "it is neither UTF-8 nor Shift-JIS text"
SAVE_AS_UTF8 = "cannot be read; save it as UTF-8 and upload it again"
WITHOUT_MACROS = "save it as an Excel Workbook (.xlsx) without macros"


def zipped(entries: Mapping[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]], method: int = 8) -> bytes:
    """A ZIP of ``entries`` (name or ZipInfo -> bytes), deflated unless ``method`` says otherwise."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items() if isinstance(entries, Mapping) else entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    """A ZipInfo with Unix ``mode`` bits (a link, a FIFO)."""
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def patched(data: bytes, local: int, central: int, change: Callable[[int], int], fmt: str = "<I") -> bytes:
    """``data``, a ZIP of one entry, with the field ``local`` bytes into its local header and ``central`` bytes
    into its central-directory header changed: headers as a hostile tool writes them."""
    out = bytearray(data)
    for signature, at in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        start = out.index(signature) + at
        struct.pack_into(fmt, out, start, change(struct.unpack_from(fmt, out, start)[0]))
    return bytes(out)


def encrypted(data: bytes) -> bytes:
    """The entry flagged as encrypted (bit 0 of its flags), which zipfile never writes itself."""
    return patched(data, 6, 8, lambda flags: flags | 0x1, "<H")


def bundled_files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(BUNDLED_DATA.iterdir()) if path.is_file()}


def bundled_zip(folder: str = "") -> bytes:
    return zipped({folder + name: data for name, data in bundled_files().items()})


def evil(entries: Mapping[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]], method: int = 8) -> list[Upload]:
    return [Upload("evil.zip", zipped(entries, method))]


def inside(root: Path, dest: Path) -> None:
    """Everything under ``root`` (the test's folder) is ``dest`` or inside it."""
    for path in root.rglob("*"):
        assert path == dest or dest in path.parents, f"{path} was written outside {dest}"


def assert_same_package(loaded: Package, expected: Package) -> None:
    assert loaded.report.as_dict() == expected.report.as_dict()
    assert loaded.frames.keys() == expected.frames.keys()
    for name, frame in expected.frames.items():
        pd.testing.assert_frame_equal(loaded.frames[name], frame, obj=name)


# --- refused: one message naming the upload (and the entry) and why, and nothing written ---------------------------

REFUSALS: list[tuple[str, Callable[[], list[Upload]], IntakeLimits | None, str]] = [
    # entry names that would leave the ZIP
    ("zip-slip", lambda: evil({"../x.csv": AWARDS}), None,
     "evil.zip, entry '../x.csv': its path climbs out of the ZIP ('..'); nothing was unpacked"),
    ("zip-slip-deep", lambda: evil({"pkg/../../x.csv": AWARDS}), None,
     "evil.zip, entry 'pkg/../../x.csv': its path climbs out of the ZIP ('..'); nothing was unpacked"),
    ("absolute", lambda: evil({"/etc/x.csv": AWARDS}), None,
     "evil.zip, entry '/etc/x.csv': its path is absolute; entries must be relative paths in the ZIP"),
    ("drive", lambda: evil({"C:\\x.csv": AWARDS}), None,
     "evil.zip, entry 'C:\\x.csv': its path names a Windows drive; entries must be relative paths in the ZIP"),
    ("drive-slash", lambda: evil({"c:/x.csv": AWARDS}), None,
     "evil.zip, entry 'c:/x.csv': its path names a Windows drive; entries must be relative paths in the ZIP"),
    ("backslash", lambda: evil({"pkg\\..\\x.csv": AWARDS}), None,
     "evil.zip, entry 'pkg\\..\\x.csv': its path holds a backslash; entries must use '/' between folders"),
    ("control", lambda: evil({"awards\n.csv": AWARDS}), None,
     "evil.zip, entry 'awards?.csv': its name holds a control character (a NUL, a line break)"),
    # entries that are not plain files
    ("symlink", lambda: evil([(entry("awards.csv", 0o120777), b"/etc/passwd")]), None,
     "evil.zip, entry 'awards.csv': it is a symbolic link; links are never followed, put the file itself in the ZIP"),
    ("fifo", lambda: evil([(entry("awards.csv", 0o010644), b"")]), None,
     "evil.zip, entry 'awards.csv': it is not a regular file (a device, FIFO or socket)"),
    ("encrypted", lambda: [Upload("evil.zip", encrypted(zipped({"awards.csv": AWARDS})))], None,
     "evil.zip, entry 'awards.csv': it is encrypted; upload the ZIP without a password"),
    ("nested-zip", lambda: evil({"pkg/awards.csv": AWARDS, "pkg/inner.zip": zipped({"awards.csv": AWARDS})}), None,
     "evil.zip, entry 'pkg/inner.zip': an archive inside the ZIP is never opened; put the package's files in the ZIP "
     "itself"),
    ("nested-zip-named-csv", lambda: evil({"awards.csv": zipped({"awards.csv": AWARDS})}), None,
     "evil.zip, entry 'awards.csv': its name says CSV text, but it is a ZIP archive"),
    # sizes
    ("1,000-entries", lambda: evil({f"{i}.csv": b"" for i in range(1000)}), None,
     "evil.zip: it holds 1,000 entries; a ZIP may hold at most 100"),
    ("unpacked-total", lambda: evil({"awards.csv": b"a" * 6 * MB, "programmes.csv": b"b" * 6 * MB}, 0),
     IntakeLimits(unpacked_bytes=10 * MB),
     "evil.zip: its entries unpack to 12 MB; a package may be at most 10 MB (AIFUNDING_LIMIT_PACKAGE_BYTES)"),
    ("nothing", lambda: [], None, f"nothing was uploaded; {ACCEPTED}"),
    ("empty", lambda: [Upload("awards.csv", b"")], None, "awards.csv: the file is empty"),
    ("empty-zip-file", lambda: [Upload("data.zip", b"")], None, "data.zip: the file is empty"),
    ("over-the-limit", lambda: [Upload("awards.csv", b"x" * 1001)], IntakeLimits(upload_bytes=1000),
     "awards.csv: the file is 1,001 bytes; an upload may be at most 1,000 bytes (AIFUNDING_UPLOAD_BYTES)"),
    ("over-together", lambda: [Upload("awards.csv", b"a" * 600), Upload("programmes.csv", b"p" * 600)],
     IntakeLimits(upload_bytes=1000),
     "awards.csv, programmes.csv: the 2 files together are 1,200 bytes; an upload may be at most 1,000 bytes "
     "(AIFUNDING_UPLOAD_BYTES)"),
    ("mix", lambda: [Upload("data.zip", bundled_zip()), Upload("awards.csv", AWARDS)], None,
     f"data.zip, awards.csv: give one ZIP, one workbook, or CSV files, not a mix; {ACCEPTED}"),
    # kinds of file, by name and by content
    ("xlsm", lambda: [Upload("book.xlsm", zipped({"xl/workbook.xml": b"<workbook/>"}))], None,
     f"book.xlsm: a macro-enabled workbook is never opened; {WITHOUT_MACROS}"),
    ("macros-in-xlsx", lambda: [Upload("book.xlsx", zipped({"xl/workbook.xml": b"<w/>", "xl/vbaProject.bin": b"v"}))],
     None, f"book.xlsx: the workbook holds macros (xl/vbaProject.bin); {WITHOUT_MACROS}"),
    ("xls", lambda: [Upload("book.xls", OLE + bytes(504))], None,
     "book.xls: the old Excel format (.xls) is not read; save it as an Excel Workbook (.xlsx)"),
    ("password-xlsx", lambda: [Upload("book.xlsx", OLE + bytes(504))], None,
     "book.xlsx: the workbook is password-protected, or an old .xls renamed; save it as an Excel Workbook (.xlsx) "
     "without a password"),
    ("unknown-type", lambda: [Upload("notes.txt", b"hello")], None,
     f"notes.txt: a .txt file is not taken in; {ACCEPTED}"),
    ("no-extension", lambda: [Upload("awards", AWARDS)], None,
     f"awards: a file whose name has no extension is not taken in; {ACCEPTED}"),
    ("zip-named-csv", lambda: [Upload("awards.csv", bundled_zip())], None,
     "awards.csv: its name says CSV text, but it is a ZIP archive"),
    ("pdf-named-zip", lambda: [Upload("data.zip", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")], None,
     "data.zip: its name says a ZIP archive, but it is a PDF document"),
    ("text-named-zip", lambda: [Upload("data.zip", AWARDS)], None,
     "data.zip: its name says a ZIP archive, but it is not one"),
    ("broken-zip", lambda: [Upload("data.zip", b"PK\x03\x04 and then nothing a ZIP holds")], None,
     "data.zip: it is not a ZIP archive that can be read (File is not a zip file)"),
    ("png-descriptor", lambda: [Upload(DESCRIPTOR_NAME, b"\x89PNG\r\n\x1a\n" + bytes(8))], None,
     "datapackage.json: its name says JSON, but it is a PNG image"),
    # names that are not tables, and tables given twice
    ("unknown-table", lambda: [Upload("notes.csv", AWARDS)], None,
     f"notes.csv: it is not named after a table of the package; the files are {KNOWN}"),
    ("browser-copy", lambda: [Upload("awards (1).csv", AWARDS)], None,
     f"awards (1).csv: it is not named after a table of the package; the files are {KNOWN}"),
    ("unknown-in-zip", lambda: evil({"pkg/awards.csv": AWARDS, "pkg/README.md": b"# hello"}), None,
     f"evil.zip, entry 'pkg/README.md': it is not named after a table of the package; the files are {KNOWN}"),
    ("duplicate", lambda: [Upload("awards.csv", AWARDS), Upload("Awards.csv", AWARDS)], None,
     "Awards.csv: the 'awards' table is given twice (first as 'awards.csv'); give it once"),
    ("duplicate-in-zip", lambda: evil([("awards.csv", AWARDS), ("awards.csv", AWARDS)]), None,
     "evil.zip, entry 'awards.csv': the 'awards' table is given twice (first as 'awards.csv'); give it once"),
    ("duplicate-descriptor", lambda: [Upload(DESCRIPTOR_NAME, b"{}"), Upload(f"copy/{DESCRIPTOR_NAME}", b"{}")], None,
     "copy/datapackage.json: datapackage.json is given twice (first as 'datapackage.json'); give it once"),
    ("two-folders", lambda: evil({"a/awards.csv": AWARDS, "b/programmes.csv": AWARDS}), None,
     "evil.zip: its files are in more than one folder ('a/', 'b/'); put the package's files in one folder"),
    ("root-and-folder", lambda: evil({"awards.csv": AWARDS, "b/programmes.csv": AWARDS}), None,
     "evil.zip: its files are in more than one folder (the top level, 'b/'); put the package's files in one folder"),
    ("no-files", lambda: evil({"pkg/": b""}), None, "evil.zip: the ZIP holds no files"),
    # text that cannot be read
    ("latin-1", lambda: [Upload("awards.csv", b"id,purpose_en\nx,caf\xe9,\n")], None,
     f"awards.csv: {NOT_SHIFT_JIS}: the byte 0xe9 at offset 19 (line 2) {SAVE_AS_UTF8}"),
    # Latin-1 and Windows-1252 text that also decodes as Shift-JIS, into nonsense inside its words
    ("latin-1-as-kanji", lambda: [Upload("organisations.csv", b"id,name_en\nca,Cr\xe9dit Agricole\n")], None,
     f"organisations.csv: {NOT_SHIFT_JIS}: the byte 0xe9 at offset 16 (line 2) {SAVE_AS_UTF8}"),
    ("latin-1-as-half-width", lambda: [Upload("organisations.csv", "id,name_en\nca,CRÉDIT\n".encode("latin-1"))],
     None, f"organisations.csv: {NOT_SHIFT_JIS}: the byte 0xc9 at offset 16 (line 2) {SAVE_AS_UTF8}"),
    ("latin-1-first-letter", lambda: [Upload("awards.csv", "id\nSão\n".encode("latin-1"))], None,
     f"awards.csv: {NOT_SHIFT_JIS}: the byte 0xe3 at offset 4 (line 2) {SAVE_AS_UTF8}"),
    ("latin-1-two-accents", lambda: [Upload("awards.csv", "id\ncréé,\n".encode("latin-1"))], None,
     f"awards.csv: {NOT_SHIFT_JIS}: the byte 0xe9 at offset 5 (line 2) {SAVE_AS_UTF8}"),
    ("windows-1252-apostrophe", lambda: [Upload("awards.csv", "id\nJapan’s\n".encode("cp1252"))], None,
     f"awards.csv: {NOT_SHIFT_JIS}: the byte 0x92 at offset 8 (line 2) {SAVE_AS_UTF8}"),
    # Shift-JIS with no Japanese punctuation and fewer than two kana is read character by character as before
    ("shift-jis-kanji-by-latin", lambda: [Upload("organisations.csv", "id,name_ja\nx,Python用\n".encode("cp932"))],
     None, f"organisations.csv: {NOT_SHIFT_JIS}: the byte 0x97 at offset 19 (line 2) {SAVE_AS_UTF8}"),
    ("shift-jis-one-kana", lambda: [Upload("organisations.csv", "id,name_ja\nx,iPhone用の計算\n".encode("cp932"))],
     None, f"organisations.csv: {NOT_SHIFT_JIS}: the byte 0x97 at offset 19 (line 2) {SAVE_AS_UTF8}"),
    ("private-use-cp932", lambda: [Upload("awards.csv", b"id\n\xf0\x40\n")], None,
     f"awards.csv: {NOT_SHIFT_JIS}: the byte 0xf0 at offset 3 (line 2) {SAVE_AS_UTF8}"),
    ("utf-16-without-bom", lambda: [Upload("awards.csv", "id\nx\n".encode("utf-16-le"))], None,
     "awards.csv: it holds a NUL byte at offset 1 (line 1): binary data, or UTF-16 without a byte-order mark; "
     "save it as UTF-8 CSV"),
    ("broken-utf-16", lambda: [Upload("awards.csv", b"\xff\xfei\x00d\x00\n\x00\x00\xdcx\x00")], None,
     f"awards.csv: it starts like UTF-16 text but is not: the byte 0x00 at offset 8 (line 2) {SAVE_AS_UTF8}"),
    ("undecodable-in-zip", lambda: evil({"pkg/awards.csv": b"id\n\xff\xff\n"}), None,
     f"evil.zip, entry 'pkg/awards.csv': {NOT_SHIFT_JIS}: the byte 0xff at offset 3 (line 2) {SAVE_AS_UTF8}"),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile's, when the test writes one entry twice
@pytest.mark.parametrize(
    ("uploads", "limits", "message"), [case[1:] for case in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_a_hostile_upload_is_refused_with_one_message_and_nothing_written(
    tmp_path: Path, uploads: Callable[[], list[Upload]], limits: IntakeLimits | None, message: str
) -> None:
    with pytest.raises(UploadRefused, match=f"^{re.escape(message)}$"):
        unpack(uploads(), tmp_path / "dest", limits)
    assert list(tmp_path.rglob("*")) == []


def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    data = zipped({"awards.csv": bytes(50 * MB)})
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("awards.csv")
    ratio = info.file_size // info.compress_size
    assert ratio > 200
    with pytest.raises(UploadRefused) as refused:
        unpack([Upload("bomb.zip", data)], tmp_path / "dest")
    assert str(refused.value) == (
        f"bomb.zip, entry 'awards.csv': it unpacks {ratio:,} times larger than it is compressed (at most 200:1 for "
        "an entry over 1 MB); refused as a possible zip bomb"
    )
    assert list(tmp_path.rglob("*")) == []


def _understating(size: int, crc: int | None = None) -> bytes:
    """A ZIP of 2 MB in awards.csv whose headers say it is ``size`` bytes (and has checksum ``crc``, if given)."""
    data = patched(zipped({"awards.csv": b"a" * 2 * MB}), 22, 24, lambda _: size)
    return data if crc is None else patched(data, 14, 16, lambda _: crc)


def test_a_header_that_understates_the_size_is_caught_by_the_checksum(tmp_path: Path) -> None:
    with pytest.raises(UploadRefused) as refused:
        unpack([Upload("lying.zip", _understating(1000))], tmp_path / "dest")
    assert str(refused.value) == (
        "lying.zip, entry 'awards.csv': its content does not match its header (Bad CRC-32 for file 'awards.csv'); "
        "the ZIP is damaged or made to mislead"
    )
    assert list(tmp_path.rglob("*")) == []


def test_no_more_bytes_are_unpacked_than_a_header_declares(tmp_path: Path) -> None:
    # A header that understates the size and carries the checksum of the shorter content: what comes out is
    # the declared 1,000 bytes, never the 2 MB behind them.
    unpacked = unpack([Upload("lying.zip", _understating(1000, zlib.crc32(b"a" * 1000)))], tmp_path / "dest")
    assert (unpacked.folder / "awards.csv").read_bytes() == b"a" * 1000


def test_a_folder_named_on_the_command_line_with_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "awards.csv").write_bytes(AWARDS)
    with pytest.raises(UploadRefused, match=r"data: it is not a file; give a package folder on its own, or the files"):
        read_uploads([BUNDLED_DATA, tmp_path / "awards.csv"])


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "awards.csv"
    path.write_bytes(AWARDS + b"x" * 2000)
    with pytest.raises(UploadRefused, match=r"awards\.csv: the file is 2,\d+ bytes; an upload may be at most 2,000"):
        read_uploads([path], IntakeLimits(upload_bytes=2000))


def test_the_limits_follow_the_store_and_the_validator() -> None:
    limits = IntakeLimits.from_env({"AIFUNDING_UPLOAD_BYTES": "5000", "AIFUNDING_LIMIT_PACKAGE_BYTES": "7000"})
    assert (limits.upload_bytes, limits.unpacked_bytes) == (5000, 7000)
    assert IntakeLimits.from_env({}) == IntakeLimits()
    assert IntakeLimits().upload_bytes == 200 * MB and IntakeLimits().unpacked_bytes == 1024 * MB


# --- taken in: the same package as the folder it came from -----------------------------------------------------------


@pytest.mark.parametrize("folder", ["", "ai-funding/"], ids=["at-the-root", "in-a-folder"])
def test_the_bundled_package_zipped_loads_as_the_folder_does(bundled: Package, tmp_path: Path, folder: str) -> None:
    dest = tmp_path / "dest"
    unpacked = unpack([Upload("bundled.zip", bundled_zip(folder))], dest)
    assert unpacked.kind == "zip" and unpacked.source == "bundled.zip"
    assert unpacked.notes == (("its files were read from the folder 'ai-funding/' inside it",) if folder else ())
    assert sorted(path.name for path in unpacked.folder.iterdir()) == sorted(bundled_files())
    assert_same_package(load_package(unpacked.folder), bundled)
    inside(tmp_path, dest)


def test_the_bundled_csv_files_with_their_descriptor_load_as_the_folder_does(bundled: Package, tmp_path: Path) -> None:
    unpacked = unpack([Upload(name, data) for name, data in bundled_files().items()], tmp_path / "dest")
    assert (unpacked.kind, unpacked.notes) == ("csv", ())
    assert (unpacked.folder / DESCRIPTOR_NAME).read_bytes() == (BUNDLED_DATA / DESCRIPTOR_NAME).read_bytes()
    assert_same_package(load_package(unpacked.folder), bundled)


def test_csv_files_alone_get_the_descriptor_the_models_generate(bundled: Package, tmp_path: Path) -> None:
    files = bundled_files()
    uploads = [Upload(name, files[name]) for name in CSV_FILES]
    unpacked = unpack(uploads, tmp_path / "dest")
    assert unpacked.notes == ("no datapackage.json was given; the one the models generate was used",)
    loaded = load_package(unpacked.folder)
    assert_same_package(loaded, bundled)
    descriptor = json.loads((unpacked.folder / DESCRIPTOR_NAME).read_text(encoding="utf-8"))
    assert loaded.title == "Uploaded package: award_recipients.csv, awards.csv, caveat_links.csv and 10 more"
    assert loaded.name == "upload-award_recipients.csv-awards.csv-caveat_links.csv-and-10-more"
    assert "licenses" not in descriptor and "sources" not in descriptor, "the bundled licence is not claimed"
    bundled_resources = json.loads(files[DESCRIPTOR_NAME])["resources"]
    assert descriptor["resources"] == bundled_resources


def test_tables_not_given_are_reported_missing_not_passed_off_as_empty(tmp_path: Path) -> None:
    unpacked = unpack([Upload("awards.csv", bundled_files()["awards.csv"])], tmp_path / "dest")
    missing = [table.path for table in TABLES if table.name != "awards" and not table.optional]
    assert unpacked.notes[1] == f"tables not given (the report lists each as missing): {', '.join(missing)}"
    assert sorted(path.name for path in unpacked.folder.iterdir()) == ["awards.csv", DESCRIPTOR_NAME]
    report = load_package(unpacked.folder).report
    assert report.unread == {path.removesuffix(".csv") for path in missing}
    assert {problem.file for problem in report.problems if problem.rule == "missing-file"} == set(missing)
    assert report.unchecked == {"awards": 24}, "the awards are counted, not listed one by one"


def test_shift_jis_is_converted_and_noted(bundled: Package, tmp_path: Path) -> None:
    files = bundled_files()
    files["organisations.csv"] = files["organisations.csv"].decode("utf-8").encode("cp932")
    unpacked = unpack([Upload(name, data) for name, data in files.items()], tmp_path / "dest")
    assert unpacked.notes == ("organisations.csv was Shift-JIS; converted to UTF-8",)
    loaded = load_package(unpacked.folder)
    assert_same_package(loaded, bundled)
    assert loaded.frames["organisations"]["name_ja"].dropna().str.contains("[ぁ-んァ-ン一-龥]").any()


def test_every_bundled_table_shift_jis_can_hold_is_converted(bundled: Package, tmp_path: Path) -> None:
    # Japanese beside Latin letters ("AIに関わる", "GPUクラウド") is Shift-JIS; tables holding a character
    # cp932 lacks (the yen sign ¥, ≥) stay UTF-8.
    files, converted = bundled_files(), []
    for name, data in files.items():
        text = data.decode("utf-8")
        if name.endswith(".csv") and not text.isascii() and all(ch.encode("cp932", "ignore") for ch in text):
            files[name] = text.encode("cp932")
            converted.append(name)
    assert {"organisations.csv", "markets.csv", "market_shares.csv"} <= set(converted)
    unpacked = unpack([Upload(name, data) for name, data in files.items()], tmp_path / "dest")
    assert sorted(unpacked.notes) == [f"{name} was Shift-JIS; converted to UTF-8" for name in sorted(converted)]
    assert_same_package(load_package(unpacked.folder), bundled)


# Japanese text as it sits beside Latin letters, which the check for Latin-1 words must let through.
JAPANESE_BY_LATIN = ["生成AI用GPU", "AIアプリ", "国産AI", "tsuzumiの開発", "Sarashina開発", "ＮＴＴデータ", "ｿﾌﾄﾊﾞﾝｸ"]
LATIN_1_ACCENTS = "".join(chr(code) for code in range(0xC0, 0x100) if chr(code) not in "×÷")


@pytest.mark.parametrize("text", JAPANESE_BY_LATIN)
def test_japanese_beside_latin_letters_is_shift_jis(text: str, tmp_path: Path) -> None:
    unpacked = unpack([Upload("organisations.csv", f"id,name_ja\nx,{text}\n".encode("cp932"))], tmp_path / "d")
    assert unpacked.notes[0] == "organisations.csv was Shift-JIS; converted to UTF-8"
    assert (unpacked.folder / "organisations.csv").read_text(encoding="utf-8") == f"id,name_ja\nx,{text}\n"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4), st.sampled_from(LATIN_1_ACCENTS))
        .map("".join)
        .flatmap(lambda start: st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4).map(start.__add__)),
        min_size=1,
        max_size=4,
    )
)
def test_a_latin_1_word_with_an_accent_inside_is_never_read_as_shift_jis(words: list[str]) -> None:
    # A letter, an accented letter, a letter: however the bytes pair up, the text is refused, never garbled.
    data = ("id,name_en\n" + "".join(f"x{n},{word}\n" for n, word in enumerate(words))).encode("latin-1")
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(UploadRefused, match=NOT_SHIFT_JIS):
        unpack([Upload("organisations.csv", data)], Path(tmp) / "d")


def test_every_latin_1_accent_before_every_ascii_letter_is_refused_however_its_bytes_read() -> None:
    # "úw" is 0xFA77, which cp932 reads as 倞 but writes as 0xED5B: the check must know every pair of bytes a
    # character is read from, or such words pass as Japanese (the property above found "aúw" now and then).
    passed = []
    for accent in LATIN_1_ACCENTS:
        for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
            data = f"id,name_en\nx,a{accent}{letter}\n".encode("latin-1")
            try:
                upload_files.as_utf8(upload_files.UploadFile("organisations.csv", None, data))
            except UploadRefused:
                continue
            passed.append(f"a{accent}{letter}")
    assert passed == []


# Japanese the check for Latin-1 words refuses ("Python用", "iPhone用", "NTTﾃﾞｰﾀ"), in files that are Japanese by
# what they hold: Japanese punctuation (、（）ー), or two kana anywhere in the file.
JAPANESE_FILES = {
    "kana-elsewhere": "x,Python用の計算資源\ny,さくらインターネット\n",
    "katakana": "x,iPhone用アプリ\n",
    "two-hiragana": "x,Python用の計算資源を提供\n",
    "punctuation": "x,NTTﾃﾞｰﾀ、東京\n",
    "brackets": "x,NTTﾃﾞｰﾀ（東京都）\n",
    "long-vowel-mark": "x,GPUサーバー,iPhone用\n",
    "full-width-space": "x,NTTﾃﾞｰﾀ\u3000東京\n",
    "all-of-them": "x,Python用の計算資源\ny,iPhone用アプリ\nz,NTTﾃﾞｰﾀ、さくらインターネット\n",
}


@pytest.mark.parametrize("rows", JAPANESE_FILES.values(), ids=JAPANESE_FILES)
def test_a_japanese_file_is_shift_jis_wherever_its_latin_letters_sit(rows: str, tmp_path: Path) -> None:
    text = f"id,name_ja\n{rows}"
    unpacked = unpack([Upload("organisations.csv", text.encode("cp932"))], tmp_path / "d")
    assert unpacked.notes[0] == "organisations.csv was Shift-JIS; converted to UTF-8"
    assert (unpacked.folder / "organisations.csv").read_text(encoding="utf-8") == text


def test_japanese_is_told_by_bytes_latin_text_never_holds() -> None:
    # Every punctuation character is one whose first byte is 0x81, which no Latin-1 or Windows-1252 text
    # holds, and none that other bytes give too: Latin-1 "úT" is the ￢ 0x81CA gives.
    punctuation = upload_files._japanese_punctuation()
    assert all(character.encode("cp932")[0] == 0x81 for character in punctuation)
    assert set("、。，．・：「」『』（）ー\u3000") <= punctuation
    assert "úT".encode("latin-1").decode("cp932") == "￢" and not punctuation & set("￢∵≒≡∫√⊥∠∩∪")
    kana = [*range(0x3041, 0x3094), *range(0x30A1, 0x30F7)]  # ぁ..ん, ァ..ヶ
    assert set(map(chr, kana)) == upload_files._kana_characters()


# Latin-1 and Windows-1252 text in French, German, Spanish and Portuguese, with curly quotes, dashes, accented
# capitals, a German low quote and a florin sign. Some do not decode as Shift-JIS at all, some decode into
# private-use characters; the rest hold no Japanese punctuation and fewer than two kana ("‚Ära'" holds one, て),
# so the file is read character by character, and its "Crédit" refused: held as Japanese, it would be taken whole.
LATIN_TEXTS = [
    "Crédit Agricole", "Société Générale", "L’Oréal", "ÉLECTRICITÉ DE FRANCE", "Caisse des Dépôts – Bpifrance",
    "l’«intelligence artificielle»", "Müller & Söhne", "Bäckerei", "Größe", "Die ‚Ära' der Crédit-Bank",
    "‚Äpfel' für Café", "ƒ 5 für Café", "ƒ5,- à Zürich", "Telefónica", "Compañía", "¿Qué? — Año",
    "Investigación", "São Paulo", "Itaú Unibanco", "Ação", "Petrobrás", "Caixa Econômica", "Japan’s “AI” plan",
    "2024–2025 — Crédit",
]  # fmt: skip


def encoded(text: str, encoding: str) -> bytes | None:
    """``text`` in ``encoding``, or None when the encoding cannot hold it (Latin-1 has no curly quotes)."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return None


LATIN_FILES = [
    pytest.param(data, id=f"{encoding}:{text}")
    for text in LATIN_TEXTS
    for encoding in ("latin-1", "cp1252")
    if (data := encoded(f"id,name_en\nx,{text}\ny,Crédit\n", encoding)) is not None
]


@pytest.mark.parametrize("data", LATIN_FILES)
def test_latin_text_is_never_read_as_shift_jis(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(UploadRefused, match=NOT_SHIFT_JIS):
        unpack([Upload("organisations.csv", data)], tmp_path / "d")
    assert list(tmp_path.rglob("*")) == []


def test_utf16_is_converted_and_a_utf8_byte_order_mark_kept(tmp_path: Path) -> None:
    files = bundled_files()
    files["awards.csv"] = files["awards.csv"].decode("utf-8").encode("utf-16")
    files["countries.csv"] = b"\xef\xbb\xbf" + files["countries.csv"]
    unpacked = unpack([Upload(f"pkg/{name}", data) for name, data in files.items()], tmp_path / "dest")
    assert unpacked.notes == ("awards.csv was UTF-16; converted to UTF-8",)
    assert (unpacked.folder / "awards.csv").read_bytes() == (BUNDLED_DATA / "awards.csv").read_bytes()
    report = load_package(unpacked.folder).report
    # As for a folder: the validator notes the byte-order mark, and nothing else is wrong.
    assert [(p.rule, p.file) for p in report.warnings if p.rule == "bom"] == [("bom", "countries.csv")]
    assert report.valid


def test_macos_metadata_in_a_zip_is_skipped_and_noted(bundled: Package, tmp_path: Path) -> None:
    extras = {"__MACOSX/pkg/._awards.csv": b"\x00\x05\x16\x07", "pkg/.DS_Store": b"\x00\x00\x00\x01Bud1"}
    data = zipped({**{f"pkg/{name}": body for name, body in bundled_files().items()}, **extras})
    unpacked = unpack([Upload("mac.zip", data)], tmp_path / "dest")
    assert unpacked.notes[-1] == "the macOS metadata in the ZIP (__MACOSX/, .DS_Store) was skipped"
    assert_same_package(load_package(unpacked.folder), bundled)


# Fragments of entry names that have let archives write outside their folder somewhere.
FRAGMENTS = st.sampled_from(
    ["..", ".", "", "pkg", "awards.csv", DESCRIPTOR_NAME, "C:", "c:", "~", "\\", "..\\awards.csv", "%2e%2e", "\u2025",
     "ａwards.csv", "\x00", "\n", "/", "con", "awards.csv/..", " ", "..."]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(FRAGMENTS | st.text(max_size=6), min_size=1, max_size=5).map("/".join))
def test_any_entry_name_is_refused_or_lands_inside_dest(name: str) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        dest = root / "dest"
        try:
            unpacked = unpack(evil([(zipfile.ZipInfo(name), AWARDS)]), dest)  # as a str, zipfile refuses ''
        except UploadRefused as refused:
            assert str(refused).startswith("evil.zip")
            assert list(root.rglob("*")) == []
            return
        inside(root, dest)
        # The entry is awards.csv (beside the generated descriptor) or the descriptor itself: named from the registry.
        assert {path.name for path in unpacked.folder.iterdir()} in ({"awards.csv", DESCRIPTOR_NAME}, {DESCRIPTOR_NAME})


def test_a_workbook_is_read_by_the_workbook_reader(bundled: Package, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for path in sorted(BUNDLED_DATA.glob("*.csv")):
        sheet = book.create_sheet(path.stem)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([value if value != "" else None for value in row])
    book.save(tmp_path / "bundled.xlsx")
    unpacked = unpack([Upload("bundled.xlsx", (tmp_path / "bundled.xlsx").read_bytes())], tmp_path / "dest")
    assert unpacked.kind == "workbook"
    assert_same_package(load_package(unpacked.folder), bundled)


# --- the command line ------------------------------------------------------------------------------------------------


def test_validate_a_zip_says_so_then_reports_as_for_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder_out, _ = run(["validate", str(BUNDLED_DATA)], capsys)
    (tmp_path / "x.zip").write_bytes(bundled_zip("ai-funding/"))
    code, out, err = run(["validate", str(tmp_path / "x.zip")], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[:2] == [
        "upload: x.zip (a zipped data package)",
        "upload: its files were read from the folder 'ai-funding/' inside it",
    ]
    assert out.splitlines()[2:] == folder_out.splitlines()
    code, out, _ = run(["validate", str(tmp_path / "x.zip"), "--format", "json"], capsys)
    assert json.loads(out)["upload"] == {
        "source": "x.zip",
        "kind": "zip",
        "notes": ["its files were read from the folder 'ai-funding/' inside it"],
    }


def test_validate_csv_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("awards.csv", "programmes.csv"):
        (tmp_path / name).write_bytes((BUNDLED_DATA / name).read_bytes())
    code, out, err = run(["validate", str(tmp_path / "awards.csv"), str(tmp_path / "programmes.csv")], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[:2] == [
        "upload: awards.csv, programmes.csv (CSV files)",
        "upload: no datapackage.json was given; the one the models generate was used",
    ]
    assert "countries.csv: error: the file for the 'countries' table is missing from the package folder" in lines
    assert lines[-1].startswith("INVALID: ")


def test_validate_a_workbook_says_how_its_problems_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The note said "the report names each sheet as <sheet>.csv"; the report names the book and sheet."""
    book = tmp_path / "book.xlsx"
    assert run(["export", "--format", "xlsx", "--package", "-o", str(book)], capsys)[0] == 0
    code, out, err = run(["validate", str(book)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "upload: book.xlsx (an XLSX workbook, one sheet per table: a problem names its sheet, and its line is the "
        "sheet's row)"
    )
    assert ".csv" not in out.splitlines()[0]


def test_export_reads_a_zip_as_it_reads_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.zip").write_bytes(bundled_zip())
    exported = []
    for data in (str(BUNDLED_DATA), str(tmp_path / "x.zip")):
        code, _, err = run(["export", "--data", data, "--format", "json", "-o", str(tmp_path / "out.json")], capsys)
        assert code == 0
        exported.append(json.loads((tmp_path / "out.json").read_text(encoding="utf-8")))
        del exported[-1]["about"]["generated_at"]
    assert err == "upload: x.zip (a zipped data package)\n", "what was uploaded is said on stderr"
    assert exported[1] == exported[0]


@pytest.mark.parametrize("command", ["validate", "export", "report", "summary"])
def test_a_refused_upload_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (tmp_path / "evil.zip").write_bytes(zipped({"../x.csv": AWARDS}))
    args = {
        "validate": ["validate", str(tmp_path / "evil.zip")],
        "export": ["export", "--data", str(tmp_path / "evil.zip"), "--format", "csv", "-o", str(tmp_path / "out")],
        "report": ["report", "--data", str(tmp_path / "evil.zip"), "-o", str(tmp_path / "r.html")],
        "summary": ["summary", "--data", str(tmp_path / "evil.zip")],
    }[command]
    code, out, err = run(args, capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"aifunding {command}: {tmp_path / 'evil.zip'}, entry '../x.csv': its path climbs out of the ZIP ('..'); "
        "nothing was unpacked\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["evil.zip"]


def test_a_workbooks_problems_name_its_sheet_and_row(
    bundled: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import load_workbook

    from aifunding.outputs.workbook import write_package_workbook

    buffer = io.BytesIO()
    write_package_workbook(buffer, bundled)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    sheet = book["awards"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=5, column=header.index("currency") + 1).value = "YENS"
    book.save(tmp_path / "book.xlsx")
    code, out, _ = run(["validate", str(tmp_path / "book.xlsx")], capsys)
    assert code == 1
    assert "\nbook.xlsx › awards:5: currency: error:" in out, out
    assert not [line for line in out.splitlines() if line.startswith(("awards.csv", "citations.csv"))]
