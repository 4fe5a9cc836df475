"""Bring your own data in a real browser: upload a ZIP on the Data page, share its link, open it elsewhere."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import psycopg
import pytest

from conftest import OUTPUT
from helpers import drawn_charts, exceptions, open_page, screenshot, wait_for_app
from serving import ROOT, free_port, port_of, start_server, stop_server

RENAMED = "Sakura Uploaded Holdings"


def renamed_package(folder: Path) -> bytes:
    """The bundled package, retitled and with Sakura Internet renamed, zipped inside a folder."""
    shutil.copytree(ROOT / "data", folder)
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["title"] = "Uploaded in a browser test"
    (folder / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    with (folder / "organisations.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["id"] == "sakura-internet":
            row["name_en"] = RENAMED
    text = io.StringIO()
    writer = csv.DictWriter(text, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / "organisations.csv").write_text(text.getvalue(), encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"my-data/{path.name}")
    return buffer.getvalue()


def alerts(page, kind: str) -> list[str]:
    return page.locator(f"[data-testid='stAlertContent{kind}']").all_inner_texts()


def upload_and_share(page, base: str, package: bytes) -> str:
    """Upload ``package`` on ``base``'s Data page, check it, use it, and return the link the share menu gives."""
    open_page(page, base, "data")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": "my-data.zip", "mimeType": "application/zip", "buffer": package}]
    )
    wait_for_app(page)
    page.get_by_role("button", name="Check the upload").click()
    page.wait_for_function("() => document.body.innerText.includes('The upload is valid')", timeout=60_000)
    wait_for_app(page)
    screenshot(page, OUTPUT, "data-upload-checked")
    page.get_by_role("button", name="Use this data and get its link").click()
    page.wait_for_function("() => location.search.includes('data=')", timeout=60_000)
    wait_for_app(page)
    assert any("Showing uploaded data: Uploaded in a browser test" in text for text in alerts(page, "Info"))
    # The link, as the share menu gives it to be copied.
    page.get_by_role("button", name="Share").click()
    link = page.locator("[data-testid='stPopoverBody'] [data-testid='stCode'] code").inner_text().strip()
    assert "data=" in link and link.startswith(base)
    return link


def companies_labels(page, link: str) -> str:
    """The text of the Companies charts at ``link`` (opened on that page)."""
    page.goto(link.replace("/data?", "/companies?"), wait_until="domcontentloaded")
    wait_for_app(page)
    drawn_charts(page, 1)
    assert exceptions(page) == []
    return " ".join(page.locator("[data-testid='stPlotlyChart'] svg").all_text_contents())


def test_an_upload_is_checked_shared_by_link_and_seen_in_another_browser(browser, server, tmp_path: Path) -> None:
    uploader_context, colleague_context = browser.new_context(), browser.new_context()
    try:
        link = upload_and_share(uploader_context.new_page(), server, renamed_package(tmp_path / "p"))
        # The uploader moves on through the menu, which drops the address's parameters: the page shows the upload
        # still (it showed the dashboard's own figures, with no banner, under the upload's link).
        uploader = uploader_context.pages[0]
        uploader.keyboard.press("Escape")  # the share menu
        uploader.locator("[data-testid='stSidebarNav'] a", has_text="Companies").click()
        uploader.wait_for_function(
            "() => location.pathname.endsWith('/companies') && location.search.includes('data=')"
        )
        wait_for_app(uploader)
        drawn_charts(uploader, 1)
        assert any("Uploaded in a browser test" in text for text in alerts(uploader, "Info"))
        assert RENAMED in " ".join(uploader.locator("[data-testid='stPlotlyChart'] svg").all_text_contents())
        colleague = colleague_context.new_page()
        assert RENAMED in companies_labels(colleague, link)
        assert any("Uploaded in a browser test" in text for text in alerts(colleague, "Info"))
        screenshot(colleague, OUTPUT, "companies-uploaded-link")
        # One click back to the dashboard's own data.
        colleague.get_by_role("button", name="Back to the dashboard's own data").click()
        colleague.wait_for_function("() => !location.search.includes('data=')", timeout=30_000)
        wait_for_app(colleague)
        drawn_charts(colleague, 1)
        labels = " ".join(colleague.locator("[data-testid='stPlotlyChart'] svg").all_text_contents())
        assert RENAMED not in labels and "Sakura Internet" in labels
    finally:
        uploader_context.close()
        colleague_context.close()


@pytest.mark.postgres
def test_servers_sharing_one_postgresql_store_open_each_others_links(browser, postgres_server, tmp_path: Path) -> None:
    """Two dashboard servers, as behind a load balancer: an upload on one opens from the other's address."""
    env = {"AIFUNDING_STORE": postgres_server.new_database()}
    temp = [tmp_path / f"temp-{n}" for n in (1, 2)]  # each server's temp folder, where it unpacks uploads
    servers = []
    for n, folder in enumerate(temp, start=1):
        folder.mkdir()
        log = OUTPUT.parent / f"server-pg-{n}.log"
        servers.append(start_server(ROOT / "dashboard" / "app.py", free_port(), log, {**env, "TMPDIR": str(folder)}))
    first, second = (f"http://127.0.0.1:{port_of(process)}" for process in servers)
    uploader_context, colleague_context = browser.new_context(), browser.new_context()
    try:
        link = upload_and_share(uploader_context.new_page(), first, renamed_package(tmp_path / "p"))
        on_second = link.replace(first, second, 1)
        assert RENAMED in companies_labels(colleague_context.new_page(), on_second)
        with psycopg.connect(env["AIFUNDING_STORE"]) as connection:  # kept in the database, not a folder
            assert connection.execute("SELECT count(*) FROM aifunding_blobs").fetchone() == (1,)
        # The upload was unpacked on the first server, the link's package on the second ...
        assert all(len(list(folder.glob("aifunding-uploads-*/*"))) == 1 for folder in temp)
    finally:
        uploader_context.close()
        colleague_context.close()
        for process in servers:
            stop_server(process)
    # ... and neither leaves people's data in its temp folder once stopped.
    assert [list(folder.iterdir()) for folder in temp] == [[], []]


def test_an_upload_s_report_downloads_under_its_own_name_and_title(page, server, tmp_path: Path) -> None:
    """The upload's validation report is the upload's: its file and header name it, not the data shown beside it."""
    folder = tmp_path / "p"
    renamed_package(folder)
    awards = (folder / "awards.csv").read_text(encoding="utf-8")
    (folder / "awards.csv").write_text(awards.replace(",2024-04-19,", ",2024-04-31,", 1), encoding="utf-8")
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["name"] = "my-grants"
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    open_page(page, server, "data")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": "broken.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()}]
    )
    wait_for_app(page)
    page.get_by_role("button", name="Check the upload").click()
    page.wait_for_function("() => document.body.innerText.includes('The upload has errors')", timeout=60_000)
    wait_for_app(page)
    with page.expect_download() as download_info:
        page.locator(".st-key-upload-problems-dl-csv button").click()
    download = download_info.value
    assert download.suggested_filename.startswith("my-grants-upload-validation-report-"), download.suggested_filename
    path = tmp_path / "report.csv"
    download.save_as(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    # It was headed with the served package's title and view ("Government funding for AI…", "Showing 24 awards").
    assert header["title"] == "Uploaded in a browser test"
    assert header["view"] == "The check of the upload broken.zip, not shared yet: it has no link until it is"
    assert "link" not in header
    assert any("2024-04-31" in line for line in lines if not line.startswith("#"))
