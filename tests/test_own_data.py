"""Bring your own data under AppTest: upload on the Data page, check, accept, and open the link in a new session.

The store is the folder one (``AIFUNDING_STORE``, a folder of this test run: see conftest.py); the
PostgreSQL backend passes the same store tests in ``test_store.py``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_app_pages import open_page, texts

from aifunding import BUNDLED_DATA
from aifunding.i18n import Translator
from aifunding.loading.bundle import pack
from aifunding.loading.package import Package
from aifunding.outputs.workbook import write_package_workbook

EN = Translator("en")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def served_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIFUNDING_DATA", raising=False)
    monkeypatch.delenv("AIFUNDING_UPLOADS", raising=False)


def zipped(folder: Path, inside: str = "") -> bytes:
    """The package folder as a zip, at its root or inside ``inside``/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, f"{inside}/{path.name}" if inside else path.name)
    return buffer.getvalue()


def uploaded(at: AppTest, files: list[tuple[str, bytes, str]], mode: str = "alone") -> AppTest:
    """``files`` put in the Data page's uploader, the mode chosen, and the upload checked."""
    at.get("file_uploader")[0].set_value(files)
    at.run()
    at.radio(key="upload_mode").set_value(mode).run()
    at.button(key="upload_check").click().run()
    assert not at.exception, at.exception
    return at


def notices(at: AppTest) -> list[str]:
    return texts([*at.info, *at.success, *at.warning, *at.error])


def test_an_uploaded_package_is_checked_accepted_and_opened_by_its_link(tmp_path: Path, bundled: Package) -> None:
    at = uploaded(open_page("data"), [("my-package.zip", zipped(BUNDLED_DATA, "ai-funding"), "application/zip")])
    assert any(n.startswith("The upload is valid") for n in notices(at)), notices(at)
    at.button(key="upload_accept").click().run()
    blob_id = at.query_params["data"][0] if isinstance(at.query_params["data"], list) else at.query_params["data"]
    assert blob_id == hashlib.sha256(pack(BUNDLED_DATA)).hexdigest()
    assert any(n.startswith("Showing uploaded data:") for n in notices(at)), notices(at)
    # A colleague opens the link in a session of their own and sees the same data and the same banner.
    colleague = open_page("overview", data=blob_id)
    banner = next(n for n in notices(colleague) if n.startswith("Showing uploaded data:"))
    assert bundled.descriptor["title"] in banner and "my-package.zip" in banner
    assert not colleague.exception
    # One click back to the dashboard's own data.
    colleague.button(key="upload_back").click().run()
    assert "data" not in colleague.query_params
    assert not any(n.startswith("Showing uploaded data:") for n in notices(colleague))


def test_a_page_switch_keeps_the_uploaded_data() -> None:
    """Streamlit's menu drops the address's parameters as it switches pages: the view keeps its filters, and the
    uploaded data it shows with them (the page showed the served package's figures under the upload's link)."""
    at = uploaded(open_page("data"), [("my-package.zip", zipped(BUNDLED_DATA), "application/zip")])
    at.button(key="upload_accept").click().run()
    at.multiselect(key="w_country").set_value(["JP"]).run()
    blob_id = at.query_params["data"]
    for page in ("companies", "programmes"):
        for name in list(at.query_params):
            del at.query_params[name]
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
        assert [title.value for title in at.title][:1] == [EN(f"{page}.title")]
        assert any(n.startswith("Showing uploaded data:") for n in notices(at)), (page, notices(at))
        assert at.query_params["data"] == blob_id and at.query_params["country"] == "JP", page
    # Back to the served data, then a page switch: it stays the served data.
    at.button(key="upload_back").click().run()
    for name in list(at.query_params):
        del at.query_params[name]
    at.switch_page("views/overview.py").run()
    assert "data" not in at.query_params and at.query_params["country"] == "JP"
    assert not any(n.startswith("Showing uploaded data:") for n in notices(at)), notices(at)


def test_a_link_whose_data_is_gone_says_so_and_offers_the_served_data() -> None:
    at = open_page("overview", loads=False, data="f" * 64)
    assert any("no longer kept" in n for n in notices(at)), notices(at)
    assert not at.get("plotly_chart")  # nothing shown that could be mistaken for the linked figures
    at.button(key="upload_gone_back").click().run()
    assert [title.value for title in at.title][:1] == [EN("overview.title")]


def test_a_malformed_data_id_is_ignored_with_a_notice() -> None:
    at = open_page("overview", data="../../etc/passwd")
    assert any("data=../../etc/passwd: not the id of uploaded data" in n for n in notices(at)), notices(at)


def _csv(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _bundled_rows(name: str) -> list[dict[str, str]]:
    with (BUNDLED_DATA / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_files_extend_the_served_data_and_clashes_are_reported(bundled: Package) -> None:
    served_award = _bundled_rows("awards")[0]
    new_award = {**served_award, "id": "jp-upload-award"}
    recipient = {**_bundled_rows("award_recipients")[0], "award_id": new_award["id"]}
    citation = {c: "" for c in _bundled_rows("citations")[0]}
    citation.update(award_id=new_award["id"], source_id=_bundled_rows("sources")[0]["id"])
    files = [
        ("awards.csv", _csv([new_award, served_award]), "text/csv"),
        ("award_recipients.csv", _csv([recipient]), "text/csv"),
        ("citations.csv", _csv([citation]), "text/csv"),
    ]
    at = uploaded(open_page("data"), files, mode="extend")
    assert any("has errors" in n for n in notices(at)), notices(at)
    # The data page's own report comes first; the upload's is the one holding the clash.
    reports = [d.value for d in at.dataframe if "Message" in d.value.columns]
    clash = next(r for r in reports if (r["Message"].str.contains("already has awards")).any())
    row = clash[clash["Message"].str.contains("already has awards")].iloc[0]
    # The upload's own file and line: "awards.csv" alone named the served file, whose line 3 is another award.
    assert (row["File"], int(row["Line"]), row["Value"]) == ("awards.csv (upload)", 3, served_award["id"])
    at.button(key="upload_accept").click().run()
    assert "data" in at.query_params
    # The served awards and the one added (the clashing row left out, the served one kept).
    n_awards = len(bundled.frame("awards")) + 1
    assert any(n.startswith(f"Showing {n_awards} awards") for n in notices(at)), notices(at)


def _zip(*entries: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_deflated(*entries: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _encrypted_zip() -> bytes:
    """An entry flagged as encrypted (bit 0 of its flags, in both headers), which zipfile never writes itself."""
    data = bytearray(_zip(("awards.csv", b"id\n")))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature) + offset
        data[at] |= 0x1
    return bytes(data)


def _workbook_with_formula() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "countries"
    sheet.append(["id", "name_en"])
    sheet.append(["JP", '=HYPERLINK("http://example.invalid", "Japan")'])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _link_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("awards.csv")
    info.external_attr = 0o120777 << 16  # a symbolic link
    return info


HOSTILE = {
    "climbs out": (("evil.zip", _zip(("../../escape.csv", b"id\n1\n"))), "its path climbs out of the ZIP"),
    "absolute": (("evil.zip", _zip(("/etc/awards.csv", b"id\n"))), "its path is absolute"),
    "link": (("evil.zip", _zip((_link_entry(), b"/etc/passwd"))), "it is a symbolic link"),
    "nested": (("evil.zip", _zip(("inner.zip", _zip(("awards.csv", b"id\n"))))), "an archive inside the ZIP"),
    "empty": (("awards.csv", b""), "the file is empty"),
    "not a zip": (("data.zip", b"%PDF-1.7 not a zip"), "its name says a ZIP archive"),
    "unknown table": (("notes.csv", b"a,b\n1,2\n"), "it is not named after a table of the package"),
    "undecodable": (("awards.csv", b"id,name\n1,caf\xe9 \xff\xfe\n"), "neither UTF-8 nor Shift-JIS"),
    "windows path": (("evil.zip", _zip(("C:\\awards.csv", b"id\n"))), "names a Windows drive"),
    "encrypted": (("evil.zip", _encrypted_zip()), "it is encrypted"),
    "many entries": (("evil.zip", _zip(*((f"f{n}.csv", b"") for n in range(101)))), "a ZIP may hold at most 100"),
    "zip bomb": (("bomb.zip", _zip_deflated(("awards.csv", b"0" * (20 * 1024 * 1024)))), "possible zip bomb"),
    "macro workbook": (("book.xlsm", _zip(("xl/workbook.xml", b"<workbook/>"))), "a macro-enabled workbook"),
    "formula": (("book.xlsx", _workbook_with_formula()), "holds a formula"),
    # A descriptor that cannot be read: the page stopped with Streamlit's "This app has encountered an error".
    "descriptor not json": (
        ("pkg.zip", _zip(("datapackage.json", b'{\n  "name": "x"\n  "resources": []\n}\n'))),
        "pkg.zip: datapackage.json is not valid JSON (line 3, column 3: Expecting ',' delimiter)",
    ),
    "descriptor not an object": (("pkg.zip", _zip(("datapackage.json", b"[]"))), "must hold a JSON object"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_upload_is_refused_with_one_message_and_nothing_is_kept(case: str) -> None:
    (name, data), why = HOSTILE[case]
    at = uploaded(open_page("data"), [(name, data, "application/octet-stream")])
    refused = [n for n in notices(at) if n.startswith("The upload was refused")]
    assert len(refused) == 1 and why in refused[0], notices(at)
    assert all(b.key != "upload_accept" for b in at.button)
    assert "data" not in at.query_params


def test_an_upload_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFUNDING_UPLOAD_BYTES", "1000")
    at = uploaded(open_page("data"), [("awards.csv", b"id\n" + b"x\n" * 600, "text/csv")])
    refused = [n for n in notices(at) if n.startswith("The upload was refused")]
    assert refused == [
        "The upload was refused: awards.csv: the file is 1,203 bytes; an upload may be at most "
        "1,000 bytes (AIFUNDING_UPLOAD_BYTES)"
    ], notices(at)


def test_a_utf16_csv_is_converted_and_said_so() -> None:
    rows = _bundled_rows("organisations")[:1]
    at = uploaded(
        open_page("data"), [("organisations.csv", _csv(rows).decode().encode("utf-16"), "text/csv")], mode="extend"
    )
    assert any("organisations.csv was UTF-16; converted to UTF-8" in text for text in texts(at.markdown))


def test_a_shift_jis_csv_is_converted_and_said_so() -> None:
    rows = _bundled_rows("organisations")[:1]
    rows[0]["name_ja"] = "さくらインターネット株式会社"
    at = uploaded(
        open_page("data"), [("organisations.csv", _csv(rows).decode().encode("cp932"), "text/csv")], mode="extend"
    )
    assert any("organisations.csv was Shift-JIS; converted to UTF-8" in text for text in texts(at.markdown))


def test_uploads_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFUNDING_UPLOADS", "off")
    at = open_page("data")
    assert not at.get("file_uploader")
    assert any("Uploading is switched off" in m.value for m in at.markdown)


def test_the_template_and_the_workbook_of_the_data_shown_download_and_the_workbook_uploads_back(
    bundled: Package,
) -> None:
    at = open_page("data")
    template = at.get("download_button")
    keys = [button.proto.id for button in template]
    assert any("upload_template" in key for key in keys) and any("upload_workbook" in key for key in keys)
    buffer = io.BytesIO()
    write_package_workbook(buffer, bundled)
    at = uploaded(at, [("ai-funding-workbook.xlsx", buffer.getvalue(), XLSX_MIME)])
    assert any(n.startswith("The upload is valid") for n in notices(at)), notices(at)
    at.button(key="upload_accept").click().run()
    blob = at.query_params["data"]
    colleague = open_page("overview", data=blob if isinstance(blob, str) else blob[0])
    assert not colleague.exception
    assert any(n.startswith("Showing uploaded data:") for n in notices(colleague))


def test_what_a_check_wrote_is_removed_once_it_is_done_with() -> None:
    at = uploaded(open_page("data"), [("first.zip", zipped(BUNDLED_DATA), "application/zip")])
    first = at.session_state["_upload"].workspace
    assert first.is_dir()
    at.button(key="upload_check").click().run()  # checked again: the first check's files go
    second = at.session_state["_upload"].workspace
    assert second != first and second.is_dir() and not first.exists()
    at.button(key="upload_accept").click().run()  # kept in the store: the check's files go too
    assert not second.exists() and "data" in at.query_params
    refused = uploaded(open_page("data"), [("evil.zip", _zip(("../x.csv", b"id\n")), "application/zip")])
    assert refused.session_state["_upload"].workspace is not None
    assert not refused.session_state["_upload"].workspace.exists()


def test_a_link_while_the_store_cannot_be_reached_says_so_and_not_that_the_data_is_gone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A PostgreSQL store whose server is not there: the upload may exist, the page must not say it was removed.
    monkeypatch.setenv("AIFUNDING_STORE", f"postgresql://nobody@/none?host={tmp_path}&connect_timeout=2")
    st.cache_resource.clear()  # the next run opens the store anew
    try:
        at = open_page("overview", loads=False, data="e" * 64)
        assert any("cannot be reached right now" in n for n in notices(at)), notices(at)
        assert not any("no longer kept" in n for n in notices(at))
    finally:
        st.cache_resource.clear()


def test_a_workbooks_report_names_its_sheets_and_rows(bundled: Package) -> None:
    from openpyxl import load_workbook

    buffer = io.BytesIO()
    write_package_workbook(buffer, bundled)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    header = [cell.value for cell in book["awards"][1]]
    book["awards"].cell(row=5, column=header.index("currency") + 1).value = "YENS"
    edited = io.BytesIO()
    book.save(edited)
    at = uploaded(open_page("data"), [("edited.xlsx", edited.getvalue(), XLSX_MIME)])
    report = next(d.value for d in at.dataframe if "Message" in d.value.columns and (d.value["Value"] == "YENS").any())
    row = report[report["Value"] == "YENS"].iloc[0]
    assert (row["File"], int(row["Line"]), row["Field"]) == ("edited.xlsx › awards", 5, "currency")
    # Its messages name sheets as the File column does: "a row of awards.csv that was quarantined (…, awards.csv:5)"
    # named files the uploader never had.
    assert not report["Message"].str.contains(".csv", regex=False).any(), report["Message"].tolist()
    referring = report[report["File"] == "edited.xlsx › award_recipients"].iloc[0]
    assert "refers to a row of edited.xlsx › awards that was quarantined" in referring["Message"]
    assert "edited.xlsx › awards:5)" in referring["Message"]


def test_a_link_opens_again_once_its_data_is_uploaded_again() -> None:
    blob_id = hashlib.sha256(pack(BUNDLED_DATA)).hexdigest()
    store_folder = Path(os.environ["AIFUNDING_STORE"])
    for entry in store_folder.rglob(f"*{blob_id}*"):  # removed from the store, as a quota would
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    gone = open_page("overview", loads=False, data=blob_id)
    assert any("no longer kept" in n for n in notices(gone)), notices(gone)
    # The same data uploaded again has the same id: the link opens, on this server too.
    at = uploaded(open_page("data"), [("again.zip", zipped(BUNDLED_DATA), "application/zip")])
    at.button(key="upload_accept").click().run()
    assert at.query_params["data"] in (blob_id, [blob_id])
    again = open_page("overview", data=blob_id)
    assert any(n.startswith("Showing uploaded data:") for n in notices(again)), notices(again)


def test_no_workbook_is_offered_when_a_table_is_longer_than_a_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted from the cache's footers, not by reading every table: the bundled awards are "too long" here."""
    at = open_page("data")
    own_data = sys.modules["ui.own_data"]  # imported by the page's first run
    monkeypatch.setattr(own_data, "XLSX_MAX_ROWS", 50)
    at.run()
    assert not any("upload_workbook" in button.proto.id for button in at.get("download_button"))
    assert any("longer than a sheet holds" in text for text in texts(at.markdown))
