"""Sharing and presenting in a real browser: the URL is the view, presenter mode, snapshots, live data."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from conftest import OUTPUT
from helpers import drawn_charts, exceptions, open_page, screenshot, wait_for_app
from serving import ROOT, free_port, port_of, start_server, stop_server

FULL_VIEW = (
    "cur=USD&fx=2025-01-02&country=JP&programme=jp-cloud-program&org=sakura-internet"
    "&kind=compute_subsidy&from=2023-01-01&to=2024-12-31"
)


def sentence(page) -> str:
    return page.locator("[data-testid='stAlertContentInfo']").first.inner_text()


def chart_titles(page) -> list[str]:
    # SVG text has no innerText; textContent is what a reader sees.
    return [text or "" for text in page.locator("[data-testid='stPlotlyChart'] .gtitle").all_text_contents()]


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_url_with_every_parameter_reproduces_the_view(browser, server) -> None:
    first, second = browser.new_context(), browser.new_context()
    try:
        views = []
        for context in (first, second):
            page = context.new_page()
            open_page(page, server, "companies", FULL_VIEW)
            drawn_charts(page, 1)
            views.append((sentence(page), chart_titles(page), query(page)))
        (text, titles, params), (text_2, titles_2, params_2) = views
        assert "to Sakura Internet" in text and "in Japan" in text and "under Cloud Program" in text
        assert "converted to USD at the ECB reference rate of 2 Jan 2025" in text
        assert "between 1 Jan 2023 and 31 Dec 2024" in text
        assert params == parse_qs(FULL_VIEW)
        # Someone else opening the same link sees exactly the same figures.
        assert (text, titles) == (text_2, titles_2) and params_2 == params
        assert any("Sakura Internet" in title for title in titles)
    finally:
        first.close()
        second.close()


def test_changing_a_control_updates_the_url_across_pages(page, server) -> None:
    open_page(page, server, "companies")
    page.locator(".st-key-w_country input").click()
    page.keyboard.type("Japan")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_app(page)
    page.wait_for_function("() => location.search.includes('country=JP')")
    assert "in Japan" in sentence(page)
    page.locator("[data-testid='stSidebarNav'] a", has_text="Programmes").click()
    wait_for_app(page)
    page.wait_for_function("() => location.pathname.endsWith('/programmes') && location.search.includes('country=JP')")
    assert "in Japan" in sentence(page)


def test_back_and_forward_go_through_a_page_s_views_one_press_each(page, server) -> None:
    """Each filter change is a step of the browser's history, the page as first opened (no parameters) too: Back
    to it showed the last view again. A page switch keeps the view, and Back from it never shows another view."""

    def choose(country: str) -> None:
        page.locator(".st-key-w_country input").click()
        page.keyboard.type(country)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        wait_for_app(page)

    def settled(path: str, search: str) -> str:
        page.wait_for_function(
            "([path, search]) => location.pathname.endsWith(path) && location.search === search", arg=[path, search]
        )
        wait_for_app(page)
        return sentence(page)

    open_page(page, server, "companies")
    everything = sentence(page)
    assert "Showing 24 awards in 21 programmes" in everything
    choose("Japan")
    assert "in Japan" in settled("/companies", "?country=JP")
    choose("South Korea")
    assert "in Japan, South Korea" in settled("/companies", "?country=JP%2CKR")
    page.locator("[data-testid='stSidebarNav'] a", has_text="Programmes").click()
    assert "in Japan, South Korea" in settled("/programmes", "?country=JP%2CKR")
    # Streamlit's menu may leave a step without the parameters before the one with them: Back to it shows the
    # same view (and puts them back), and one more press leaves the page.
    page.go_back()
    page.wait_for_timeout(500)
    wait_for_app(page)
    if urlsplit(page.url).path.endswith("/programmes"):
        assert "in Japan, South Korea" in settled("/programmes", "?country=JP%2CKR")
        page.go_back()
    assert "in Japan, South Korea" in settled("/companies", "?country=JP%2CKR")
    page.go_back()
    japan = settled("/companies", "?country=JP")
    assert "in Japan" in japan and "South Korea" not in japan
    page.go_back()
    assert settled("/companies", "") == everything
    page.go_forward()
    assert settled("/companies", "?country=JP") == japan


def test_hostile_url_falls_back_with_a_notice(page, server) -> None:
    hostile = "country=NOPE,JP&from=2024-13-45&cur=XYZ&fx=yesterday&org=" + "x" * 5000 + "&evil=%3Cscript%3E"
    open_page(page, server, "companies", hostile)
    assert exceptions(page) == []
    notice = page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
    for name in ("country=NOPE", "from=2024-13-45", "cur=XYZ", "fx=yesterday", "org:", "evil"):
        assert name in notice
    assert "in Japan" in sentence(page)  # the valid part of the parameter still applies
    assert "amounts in their original currencies" in sentence(page)
    # No script in the page's body but the one setting the document's language (ui.page), and no <script> text.
    scripts = page.evaluate("() => Array.from(document.body.querySelectorAll('script')).map(s => s.textContent)")
    assert scripts == ['document.documentElement.lang = "en";'], scripts
    body = page.content().split("</head>")[1].replace("&lt;script&gt;", "")
    assert body.count("<script>") == len(scripts)


def test_presenter_mode_hides_the_sidebar_and_advances_on_a_key(page, server) -> None:
    open_page(page, server, "", "present=1")
    drawn_charts(page, 1)
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    position = page.get_by_text("Slide 1 of")
    assert position.is_visible()
    first_title = chart_titles(page)[0]
    screenshot(page, OUTPUT / "present", "slide-1")
    page.keyboard.press("ArrowRight")
    page.get_by_text("Slide 2 of").wait_for()
    wait_for_app(page)
    assert chart_titles(page)[0] != first_title
    page.locator(".st-key-present_exit button").click()
    page.wait_for_function("() => !location.search.includes('present')")
    wait_for_app(page)
    page.locator("[data-testid='stSidebar']").wait_for(state="visible")


def test_snapshot_opens_offline_and_draws_every_chart(browser, page, server, tmp_path: Path) -> None:
    open_page(page, server, "programmes")
    charts_on_page = drawn_charts(page, 3)
    page.locator("[data-testid='stPopover'] button").first.click()
    with page.expect_download() as download_info:
        page.get_by_text("Download snapshot").click()
    download = download_info.value
    assert download.suggested_filename.startswith("ai-funding-programmes-") and download.suggested_filename.endswith(
        ".html"
    )
    path = tmp_path / "snapshot.html"
    download.save_as(path)

    offline = browser.new_context(offline=True)
    requests: list[str] = []

    def block(route) -> None:
        requests.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    offline.route("**/*", block)
    try:
        snapshot = offline.new_page()
        errors: list[str] = []
        snapshot.on("pageerror", lambda exc: errors.append(str(exc)))
        snapshot.goto(path.as_uri())
        snapshot.wait_for_function(
            "n => Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".filter(p => p.querySelector('.main-svg')).length >= n",
            arg=charts_on_page,
        )
        assert snapshot.locator(".js-plotly-plot").count() == charts_on_page
        assert [r for r in requests if not r.startswith("file:")] == []
        assert errors == []
        text = snapshot.inner_text("body")
        assert "Showing 24 awards" in text, text[:500]
        assert "Snapshot made" in text and "Live view:" in text
    finally:
        offline.close()


def test_a_report_fits_a_phone_its_highlights_as_cards_its_charts_and_tables_scrolled_in_their_box(
    browser, tmp_path: Path
) -> None:
    """At a phone's width nothing runs past the screen: the highlights figure (its cards side by side at a fixed
    size printed one over another there) gives way to cards that stack, a chart is drawn 640 pixels wide in a
    frame that scrolls (at the screen's width its values were cut off) under its title as text, and a wide table
    scrolls in its own box. A desktop's width shows the figure, not the cards, and the charts as before."""
    from aifunding.analysis.view import ViewState, prepare
    from aifunding.loading.package import load_package
    from aifunding.outputs.snapshot import build_report

    prepared = prepare(load_package(ROOT / "data"))
    path = tmp_path / "report.html"
    path.write_text(build_report(prepared, ViewState()), encoding="utf-8")
    highlights = len(prepared.package.frame("highlights"))
    for width, phone in ((390, True), (1440, False)):
        report = browser.new_page(viewport={"width": width, "height": 844})
        try:
            report.goto(path.as_uri())
            report.wait_for_function("() => document.querySelector('.js-plotly-plot .main-svg') !== null")
            assert report.evaluate("document.documentElement.scrollWidth") <= width
            cards = report.locator("section[data-chart='highlights'] .card")
            assert cards.count() == highlights
            assert report.locator("section[data-chart='highlights'] .cards").is_visible() is phone
            assert report.locator("section[data-chart='highlights'] .wide").is_visible() is not phone
            if not phone:  # the charts as before: their own titles, nothing above them
                assert not report.locator(".phone-title").first.is_visible()
                assert report.locator(".chart-frame .gtitle").nth(1).is_visible()
            if phone:
                first = cards.first.inner_text()
                assert "¥387.3B" in first and "METI" in first, first
                tops = [card.bounding_box()["y"] for card in cards.all()]
                assert tops == sorted(tops) and len(set(tops)) == len(tops)  # stacked, one under another
                # A chart is drawn 640 pixels wide in a frame that scrolls, its title text above it that fits.
                frame = report.locator(".chart-frame").nth(1)
                assert frame.evaluate("box => box.clientWidth < 400 && box.scrollWidth >= 640")
                title = report.locator(".phone-title .chart-title").nth(1)
                assert title.is_visible() and not frame.locator(".gtitle").is_visible()
                box = title.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width
                # What to watch, shown open, is wider than a phone: its table scrolls inside its box.
                assert report.evaluate(
                    "() => Array.from(document.querySelectorAll('.scroll'))"
                    ".some(box => box.checkVisibility() && box.scrollWidth > box.clientWidth)"
                )
        finally:
            report.close()


@pytest.fixture
def live_server(tmp_path: Path):
    """A dashboard serving a copy of the bundled package that the test may edit."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    process = start_server(
        ROOT / "dashboard" / "app.py", free_port(), tmp_path / "server.log", env={"AIFUNDING_DATA": str(data)}
    )
    yield f"http://127.0.0.1:{port_of(process)}", data
    stop_server(process)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_edited_data_file_changes_the_figure_and_a_broken_edit_keeps_the_last_valid(page, live_server) -> None:
    base, data = live_server
    open_page(page, base, "companies", "org=gmo-internet-group")
    drawn_charts(page, 1)
    assert "¥1.93B" in chart_titles(page)[0]

    _replace(data / "awards.csv", ",1930000000,", ",1900000000,")
    page.reload()
    wait_for_app(page)
    drawn_charts(page, 1)
    # Shown at once when it opens within 1.5 s; else the page says newer files are being checked, and shows
    # them by itself once they are (a busy machine can take that long even for the bundled package).
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stPlotlyChart'] .gtitle\")]"
        ".some(t => t.textContent.includes('¥1.9B'))",
        timeout=30_000,
    )
    assert "¥1.9B" in chart_titles(page)[0]

    _replace(data / "awards.csv", ",1900000000,", ",lots,")
    page.reload()
    wait_for_app(page)
    drawn_charts(page, 1)
    banner = page.locator("[data-testid='stAlertContentWarning']").first.inner_text()
    assert "no longer validate" in banner and "awards.csv" in banner and "amount" in banner
    assert "¥1.9B" in chart_titles(page)[0]  # viewers keep the last valid figures
    open_page(page, base, "data")
    assert "lots" in page.inner_text("[data-testid='stMain']")  # the quarantined row is listed


def test_presenter_timer_advances_by_itself(page, server) -> None:
    open_page(page, server, "", "present=1&every=5")
    drawn_charts(page, 1)
    page.get_by_text("Slide 1 of").wait_for()
    # The fragment reruns every 5 seconds (the minimum) and moves to the next slide on its own.
    page.get_by_text("Slide 2 of").wait_for(timeout=20_000)
    assert exceptions(page) == []


def test_print_stylesheet_drops_the_controls_and_keeps_charts(page, server) -> None:
    open_page(page, server, "companies")
    drawn_charts(page, 1)
    # st.html renders its content a moment after the script has finished: wait for the print rules.
    page.wait_for_function(
        "() => [...document.querySelectorAll('style')].some(s => s.textContent.includes('@media print'))",
        timeout=10_000,
    )
    page.emulate_media(media="print")
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    assert not page.locator("[data-testid='stPopover']").first.is_visible()
    assert page.locator("[data-testid='stPlotlyChart']").first.is_visible()
    breaks = page.evaluate(
        "() => getComputedStyle(document.querySelector(\"[data-testid='stPlotlyChart']\")).breakInside"
    )
    assert breaks == "avoid"


def test_a_table_download_says_what_it_holds_and_where_its_sources_are(page, server, tmp_path: Path) -> None:
    # The nesting table names no source row by row: its header block says so rather than pointing to a
    # sources column it does not have; a chart's rows do have one.
    open_page(page, server, "programmes")
    with page.expect_download() as download_info:
        page.locator(".st-key-nesting-dl-csv button").click()
    path = tmp_path / "nesting.csv"
    download_info.value.save_as(path)
    header = dict(
        line[2:].split(": ", 1) for line in path.read_text(encoding="utf-8-sig").splitlines() if line.startswith("# ")
    )
    assert (
        header["sources"] == "no source is named row by row in this table; every source is on the Sources & method page"
    )
    assert header["view"].startswith("Showing 24 awards")


def test_converted_amounts_download_with_their_two_places(page, server, tmp_path: Path) -> None:
    # "to the cent, each with its two places, on the page and in its CSV/XLSX": the CSV wrote 4013690.2 and the
    # XLSX showed it as General.
    from openpyxl import load_workbook

    open_page(page, server, "data", "cur=USD&country=JP")
    files = {}
    for kind in ("csv", "xlsx"):
        with page.expect_download() as download_info:
            page.locator(f".st-key-shown-{kind} button").click()
        files[kind] = tmp_path / f"awards.{kind}"
        download_info.value.save_as(files[kind])
    rows = [line for line in files["csv"].read_text(encoding="utf-8-sig").splitlines() if not line.startswith("#")]
    sakura = next(row for row in rows if "jp-cloud-2024-02-sakura-govcloud" in row)
    assert ",4013690.20," in sakura, sakura
    sheet = load_workbook(files["xlsx"]).worksheets[0]
    value = [cell.value for cell in sheet[1]].index("Value") + 1
    cells = [row[0] for row in sheet.iter_rows(min_row=2, min_col=value, max_col=value)]
    assert cells and all(cell.number_format == "#,##0.00" for cell in cells)
    assert 4013690.2 in [cell.value for cell in cells]


def test_a_programme_s_chart_of_recipients_downloads_under_its_own_name_and_title(page, server, tmp_path: Path) -> None:
    # The chart of every recipient and each programme's were both saved as ai-funding-awards-by-recipient-….csv,
    # and nothing in either file said which chart it was.
    open_page(page, server, "companies")
    drawn_charts(page, 2)
    headers = {}
    for key in ("recipients", "recipients-jp-cloud-program"):
        page.locator(f".st-key-{key}-show summary").click()
        # Opening "Show data" reruns the page, which builds the rows and their buttons: a click while that run
        # is still going can be lost as the elements are replaced (seen on a loaded machine).
        button = page.locator(f".st-key-{key}-dl-csv button")
        button.wait_for(state="visible")
        wait_for_app(page)
        with page.expect_download() as download_info:
            button.click()
        download = download_info.value
        path = tmp_path / f"{key}.csv"
        download.save_as(path)
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        headers[download.suggested_filename] = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    names = sorted(headers)
    assert names[0].startswith("ai-funding-awards-by-recipient-2") and names[1].startswith(
        "ai-funding-awards-by-recipient-jp-cloud-program-"
    ), names
    titles = [header["chart"] for header in headers.values()]
    assert any(title.startswith("Noetra") for title in titles) and any(title.startswith("Sakura") for title in titles)


def test_the_recipients_totals_are_shown_and_downloaded_whole(page, server, tmp_path: Path) -> None:
    # The Data page's table of every recipient in view, added up by the analytical engine (DuckDB):
    # chosen with one click, read in the page, downloaded with the view in its header block.
    open_page(page, server, "data", "country=JP")
    page.locator("[data-testid='stButtonGroup'] button", has_text="Recipients' totals").click()
    wait_for_app(page)
    page.get_by_text("added up by the analytical engine (DuckDB)").wait_for()
    # The grid draws on a canvas: it is seen here, and read through its download.
    page.locator("[data-testid='stDataFrame']").first.wait_for(state="visible")
    with page.expect_download() as download_info:
        page.locator(".st-key-shown-csv button").click()
    path = tmp_path / "recipients.csv"
    download_info.value.save_as(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert header["view"].startswith("Showing 19 awards")
    rows = [line for line in lines if line and not line.startswith("#")]
    assert rows[0].startswith("Project,Total, kept apart by basis") or rows[0].startswith('Project,"Total, kept apart')
    sakura = next(row for row in rows if row.startswith("Sakura Internet,"))
    assert "¥600M + up to about ¥56.9B" in sakura
    assert not exceptions(page) and not page.console_errors
    # The table is part of the view: in the address, in the file's link, and a new reader's link opens it.
    page.wait_for_function("() => location.search.includes('table=recipients')", timeout=20_000)
    assert "table=recipients" in header["link"] and "country=JP" in header["link"]
    reader = page.context.new_page()
    reader.goto(header["link"], wait_until="domcontentloaded")
    wait_for_app(reader)
    reader.get_by_text("added up by the analytical engine (DuckDB)").wait_for()
    tables = reader.locator("[data-testid='stButtonGroup'] button")
    expect(tables.filter(has_text="Recipients' totals")).to_have_attribute("aria-checked", "true")
    expect(tables.filter(has_text="Awards")).to_have_attribute("aria-checked", "false")
    assert not exceptions(reader)


def test_the_whole_package_as_xlsx_says_which_text_is_too_long_for_a_cell(browser, tmp_path: Path) -> None:
    # A note of 5,000 control characters is 35,000 characters in a sheet, more than a cell holds: the export refused
    # it, and all the button said was Streamlit's "Failed to generate file for download". The cell says so instead.
    import csv

    from openpyxl import load_workbook

    folder = tmp_path / "pkg"
    shutil.copytree(ROOT / "data", folder)
    awards = folder / "awards.csv"
    with awards.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["note"] = "\x1b" * 5_000
    with awards.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    env = {"AIFUNDING_DATA": str(folder), "AIFUNDING_CACHE": str(tmp_path / "cache")}
    process = start_server(ROOT / "dashboard" / "app.py", free_port(), OUTPUT.parent / "long-text-server.log", env)
    context = browser.new_context()
    try:
        page = context.new_page()
        open_page(page, f"http://127.0.0.1:{port_of(process)}", "data")
        with page.expect_download(timeout=60_000) as download_info:
            page.locator(".st-key-all-xlsx button").click()
        path = tmp_path / "all.xlsx"
        download_info.value.save_as(path)
        book = load_workbook(path, read_only=True)
        header, *awards_rows = [list(row) for row in book["awards"].iter_rows(values_only=True)]
        note = awards_rows[[row[0] for row in awards_rows].index(rows[0]["id"])][header.index("note")]
        assert note.startswith("[Not shown: 35,000 characters as a spreadsheet writes them")
        about = dict(book["about"].iter_rows(min_row=2, values_only=True))
        assert about["left out"].startswith("1 text is longer than a spreadsheet cell holds (32,767 characters)")
        assert "awards.note" in about["left out"]
        assert len(awards_rows) == len(rows)
        assert not exceptions(page)
    finally:
        context.close()
        stop_server(process)
