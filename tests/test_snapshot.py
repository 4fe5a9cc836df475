"""The snapshot and report builder: one self-contained HTML file, escaped, with every chart and its sources."""

from __future__ import annotations

import datetime
import re
from io import BytesIO, StringIO

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from aifunding.analysis.view import ViewState, apply_view, prepare
from aifunding.cli import main
from aifunding.figures.companies import build_recipient_figure
from aifunding.outputs.cells import table_csv_bytes, table_xlsx_bytes
from aifunding.outputs.snapshot import Section, build_report, build_snapshot, report_sections

MADE = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def prepared(bundled):
    return prepare(bundled)


@pytest.fixture(scope="module")
def report_html(prepared) -> str:
    return build_report(prepared, ViewState(currency="USD"), generated_at=MADE)


def test_report_has_every_chart_and_inlines_plotly(report_html: str, prepared) -> None:
    view = apply_view(prepared, ViewState(currency="USD"))
    charts = [s for s in report_sections(prepared, view) if s.figure is not None]
    assert report_html.count('class="plotly-graph-div"') == len(charts)
    assert "Plotly" in report_html and "Snapshot made 2026-11-30 12:00:00 UTC" in report_html
    assert "converted to USD at ECB reference rates on each announcement date" in report_html


def test_a_static_file_sends_no_one_to_a_sidebar(prepared) -> None:
    """A chart that draws one currency of several says how to compare them in words a static file can use: the
    snapshot and report have no sidebar (the note named it), the control is named by its label."""
    view = apply_view(prepared, ViewState())  # original currencies: the charts leave other currencies out
    html = build_report(prepared, ViewState(), generated_at=MADE)
    assert any(s.figure is not None for s in report_sections(prepared, view))
    assert "Show amounts in one currency to convert and compare them." in html
    assert "in the sidebar" not in html  # (plotly.js, inlined, has the word in its own code)
    ja = build_report(prepared, ViewState(lang="ja"), generated_at=MADE)
    assert "金額を一つの通貨で表示すると" in ja and "サイドバー" not in ja


@pytest.mark.parametrize(
    ("state", "said"),
    [
        # Korea's view holds no programme of Japan's compute support: the Market page's subsidy chart says that.
        (ViewState(countries=("KR",)), {"market-subsidies": "None of Japan's compute subsidies or public compute"}),
        (
            ViewState(date_from=datetime.date(1990, 1, 1), date_to=datetime.date(1990, 12, 31)),
            {"world": "Nothing matches"},
        ),
        (ViewState(countries=("KR",), lang="ja"), {"market-subsidies": "日本の計算資源への補助や公的計算資源の事業は"}),
    ],
)
def test_a_slide_or_report_with_nothing_to_draw_sends_no_one_to_a_sidebar(prepared, state, said) -> None:
    """A chart with nothing to draw said "… clear a filter in the sidebar" on a slide and in a report, which have
    none (the page's own notice says it); the Market page's subsidy chart said "nothing matches" beside 5 awards."""
    titles = {
        s.key: s.figure.layout.title.text for s in report_sections(prepared, apply_view(prepared, state)) if s.figure
    }
    assert not [key for key, text in titles.items() if "sidebar" in text or "サイドバー" in text], titles
    for key, words in said.items():
        assert titles[key].replace("<br>", " ").startswith(words), titles[key]


def test_the_report_words_the_package_s_validation_in_its_language(prepared) -> None:
    """The line under the title said "検証：valid: 0 error(s), 1 warning(s); …" in a Japanese report."""

    def made(lang: str) -> str:  # the line under the title (plotly.js, inlined, has "error(s)" in its own code)
        page = build_report(prepared, ViewState(lang=lang), generated_at=MADE)
        return page.split("<p class='meta'>", 1)[1].split("</p>", 1)[0]

    assert f"Validation: {prepared.package.report.summary()}." in made("en")  # the CLI's own line, as before
    ja = made("ja")
    assert "検証：有効（エラー0件、警告" in ja and "error(s)" not in ja and "valid" not in ja


@pytest.mark.parametrize("currency", [None, "USD"])
def test_report_tables_write_amounts_as_their_digits(prepared, currency: str | None) -> None:
    # Every table wrote its amounts in pandas' scientific notation, seven digits of them: 1.248500e+07 for
    # 12,484,995.14, 3.873000e+11 for ¥387.3B.
    html = build_report(prepared, ViewState(currency=currency))
    cells = re.findall(r"<td>([^<]*)</td>", html)
    assert cells and not [cell for cell in cells if re.fullmatch(r"-?[0-9.]+e[+-][0-9]+", cell)]
    assert "None" not in cells and "nan" not in cells
    if currency is None:
        assert "387300000000" in cells and "1930000000" in cells
    else:
        # Converted: to the cent, with its two places, as the page and the downloads write them.
        assert "4013690.20" in cells and "0.006689483672" in cells


def test_report_makes_no_network_request(report_html: str) -> None:
    # No external scripts, styles, fonts or images: only anchors may point outside the file.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']https?://", report_html)
    assert "default-src 'none'" in report_html


def test_report_names_sources_and_caveats(report_html: str, bundled) -> None:
    import html

    assert "Reuters (Japanese) via nordot" in report_html
    caveats = bundled.frame("caveats").set_index("conflict_no")
    assert html.escape(caveats.at[3, "title_en"]) in report_html  # the 72.53 vs 72.5 rounding caveat
    assert "What to watch" in report_html


def test_snapshot_escapes_data_text(bundled) -> None:
    awards = apply_view(prepare(bundled), ViewState()).awards
    hostile = pd.DataFrame({"Project": ["<script>alert(1)</script>"], "ID": ["x"]})
    figure = build_recipient_figure(awards)
    page = build_snapshot(
        title="<b>T</b>",
        sentence="a < b & c",
        sections=[Section("<i>h</i>", None, hostile)],
        package=bundled,
        generated_at=MADE,
        link="https://example.org/?a=1&b=<2>",
    )
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>&lt;b&gt;T&lt;/b&gt;</title>" in page and "a &lt; b &amp; c" in page
    assert "<h2>&lt;i&gt;h&lt;/i&gt;</h2>" in page
    assert figure.layout.meta["filename"] == "awards-by-recipient"


def test_cli_report_writes_the_file(tmp_path, capsys) -> None:
    out = tmp_path / "reports" / "weekly.html"
    assert main(["report", "--currency", "EUR", "--fx-date", "2025-01-02", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "converted to EUR at the ECB reference rate of 2 Jan 2025" in text
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--currency", "XYZ"], "currency 'XYZ' is not in the ECB reference rates"),
        (["--fx-date", "2025-01-02"], "--fx-date needs --currency"),
        (["--data", "/nonexistent/package"], "no datapackage.json found"),
    ],
)
def test_cli_report_refuses_bad_input(tmp_path, capsys, args, message) -> None:
    assert main(["report", *args, "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


ABOUT = [
    ("view", "Showing 3 awards"),
    ("link", "http://localhost:8501/companies?org=sakura-internet"),
    ("generated_at", "2026-11-30T12:00:00+00:00"),
]


def test_csv_download_has_a_header_block_and_reads_back() -> None:
    frame = pd.DataFrame({"Project": ["=cmd()", "Sakura Internet"], "Value": [1.5, 2.0]})
    data = table_csv_bytes(frame, ABOUT).decode("utf-8")
    # RFC 4180's line ends throughout, the header block's included.
    assert data.startswith(
        "# view: Showing 3 awards\r\n# link: http://localhost:8501/companies?org=sakura-internet\r\n"
    )
    back = pd.read_csv(StringIO(data), comment="#")
    assert list(back["Project"]) == ["'=cmd()", "Sakura Internet"]  # formula neutralised
    assert list(back["Value"]) == [1.5, 2.0]


def test_csv_download_writes_whole_amounts_as_their_digits() -> None:
    # A display table keeps amounts as floats (a page sorts them); its CSV wrote "1930000000.0".
    frame = pd.DataFrame(
        {"Project": list("abcde"), "Value": [1_930_000_000.0, 12_484_995.14, None, -3.0, 0.1 + 0.2], "Awards": range(5)}
    )
    rows = table_csv_bytes(frame, ABOUT).decode("utf-8").split("\r\n")[len(ABOUT) :]
    assert rows[:6] == [
        "Project,Value,Awards",
        "a,1930000000,0",
        "b,12484995.14,1",
        "c,,2",
        "d,-3,3",
        f"e,{0.1 + 0.2!r},4",  # never rounded: the text reads back as the same number
    ]
    back = pd.read_csv(StringIO(table_csv_bytes(frame, ABOUT).decode("utf-8")), comment="#")
    assert back["Value"].equals(frame["Value"])


@settings(deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=False), st.integers(-(2**53), 2**53).map(float)))
)
def test_csv_download_numbers_read_back_exactly(values: list[float]) -> None:
    frame = pd.DataFrame({"Value": pd.array(values, dtype="float64")})
    back = pd.read_csv(StringIO(table_csv_bytes(frame, ABOUT).decode("utf-8")), comment="#", dtype={"Value": float})
    np.testing.assert_array_equal(back["Value"].to_numpy(), frame["Value"].to_numpy())  # NaN where NaN; no rounding


def test_converted_amounts_keep_their_two_places_in_csv_and_xlsx() -> None:
    frame = pd.DataFrame(
        {"Project": ["=a", "b", "c"], "Value": [4_013_690.2, 12_484_995.14, None], "Rate": [0.5, 1.0, None]}
    )
    rows = table_csv_bytes(frame, ABOUT, cents=["Value"]).decode("utf-8").split("\r\n")[len(ABOUT) :]
    assert rows[:4] == ["Project,Value,Rate", "'=a,4013690.20,0.5", "b,12484995.14,1", "c,,"]
    sheet = load_workbook(BytesIO(table_xlsx_bytes(frame, "awards", ABOUT, cents=["Value"])))["awards"]
    assert [(c.value, c.number_format) for c in sheet["B"][1:3]] == [(4013690.2, "#,##0.00"), (12484995.14, "#,##0.00")]
    assert sheet["C"][1].number_format == "General"  # a rate is not an amount


def test_xlsx_download_has_an_about_sheet() -> None:
    frame = pd.DataFrame({"Project": ["@SUM(A1)"], "Value": [3]})
    book = load_workbook(BytesIO(table_xlsx_bytes(frame, "awards-by-recipient", ABOUT)))
    assert book.sheetnames == ["awards-by-recipient", "about"]
    assert book["awards-by-recipient"]["A2"].value == "'@SUM(A1)"
    assert [row for row in book["about"].iter_rows(min_row=2, values_only=True)][1] == ABOUT[1]


def test_xlsx_download_keeps_a_control_character_as_a_spreadsheet_does() -> None:
    # openpyxl refused the escape character and the "Show data" download failed; it is written as _x001B_.
    from aifunding.loading.workbook import unescape_text

    frame = pd.DataFrame({"Project": ["Alpha\x1b[2J Cloud", "plain"], "Value": [3, 4]})
    book = load_workbook(BytesIO(table_xlsx_bytes(frame, "awards", ABOUT)))
    assert [unescape_text(c.value) for c in book["awards"]["A"][1:]] == ["Alpha\x1b[2J Cloud", "plain"]


@pytest.mark.filterwarnings("error")  # openpyxl cut a longer text short with no more than a UserWarning
@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("en", "[Not shown: {n} characters as a spreadsheet writes them, more than a cell holds (32,767). A CSV or"),
        ("ja", "[表示できません: スプレッドシートの書き方で{n}文字あり、セルに入る32,767文字を超えます。"),
    ],
)
def test_xlsx_download_says_which_texts_are_too_long_for_a_cell_rather_than_cut_them_short(lang, note) -> None:
    texts = ["x" * 32_767, "x" * 32_768, "=" + "x" * 32_766, "\x1b" * 5_000, "plain", None]
    frame = pd.DataFrame({"Note": texts, "Value": range(len(texts))})
    book = load_workbook(BytesIO(table_xlsx_bytes(frame, "awards", ABOUT, lang=lang)))
    cells = [c.value for c in book["awards"]["A"][1:]]
    assert cells[0] == "x" * 32_767 and cells[4:] == ["plain", None]  # what fits is written whole
    # Too long as written: 32,768 characters; 32,767 with the apostrophe that keeps a formula from running; 5,000
    # escapes of seven characters each.
    for cell, written in zip(cells[1:4], ("32,768", "32,768", "35,000"), strict=True):
        assert cell.startswith(note.format(n=written)), cell
    assert [c.value for c in book["awards"]["B"][1:]] == list(range(len(texts)))
    about = dict(book["about"].iter_rows(min_row=2, values_only=True))
    assert ABOUT[0][0] in about
    named = {"en": "row 3, Note; row 4, Note; row 5, Note", "ja": "3行目のNote; 4行目のNote; 5行目のNote"}[lang]
    assert named in about["left out"]
    assert "left out" not in dict(
        load_workbook(BytesIO(table_xlsx_bytes(frame.head(1), "awards", ABOUT)))["about"].iter_rows(values_only=True)
    )


def test_xlsx_download_names_the_first_cells_too_long_and_counts_the_rest() -> None:
    frame = pd.DataFrame({"Purpose": ["y" * 40_000] * 13})
    book = load_workbook(BytesIO(table_xlsx_bytes(frame, "awards", ABOUT)))
    line = dict(book["about"].iter_rows(min_row=2, values_only=True))["left out"]
    assert line.startswith("13 texts are longer than a spreadsheet cell holds (32,767 characters)")
    assert "row 2, Purpose; " in line and "row 11, Purpose; and 3 more." in line and "row 12" not in line


@pytest.mark.parametrize("currency", [None, "USD"])
def test_report_leads_with_the_highlights_and_the_totals_summary_prints(prepared, currency, capsys) -> None:
    import html
    import json

    state = ViewState(currency=currency)
    sections = report_sections(prepared, apply_view(prepared, state))
    assert [s.heading for s in sections[:2]] == ["The news at a glance", "Money committed, added by one rule"]
    assert main(["summary", "--format", "json", *(["--currency", currency] if currency else [])]) == 0
    printed = json.loads(capsys.readouterr().out)
    highlights = sections[0].figure
    drawn = [html.unescape(a.text) for a in highlights.layout.annotations]
    assert all(f"<b>{h['figure']}</b>" in drawn for h in printed["highlights"])
    totals = sections[1].rows
    assert list(totals["Figure"]) == [printed["totals"][k]["text"] for k in ("models", "compute")]
    page = build_report(prepared, state, generated_at=MADE)
    for key in ("models", "compute"):
        assert html.escape(printed["totals"][key]["text"]) in page


def test_a_charts_rows_are_counted_with_grouped_digits(bundled) -> None:
    """ "Data (1,500 rows)", not "Data (1500 rows)": a report of a large view counts as the page does."""
    awards = apply_view(prepare(bundled), ViewState()).awards
    rows = pd.DataFrame({"Project": [f"p{i}" for i in range(1500)], "ID": [str(i) for i in range(1500)]})
    page = build_snapshot(
        title="T",
        sentence="s",
        sections=[Section("h", build_recipient_figure(awards), rows)],
        package=bundled,
        generated_at=MADE,
        link="https://example.org/",
    )
    assert "Data (1,500 rows)" in page and "1500 rows" not in page


def test_report_lists_the_awards_without_an_amount_as_the_companies_page_does(prepared) -> None:
    # The page lists the 12 awards no chart can draw (GENIAC's, Korea's five); the snapshot left them out.
    sections = report_sections(prepared, apply_view(prepared, ViewState(currency="USD")))
    headings = [s.heading for s in sections]
    (listed,) = [s for s in sections if s.heading == "Awards without a published amount"]
    assert listed.heading == "Awards without a published amount" and listed.figure is None
    assert len(listed.rows) == prepared.awards["amount"].isna().sum() == 12
    assert "Zeureka" not in " ".join(listed.rows.whole().astype(str).agg(" ".join, axis=1))  # published, not converted
    html = build_report(prepared, ViewState(currency="USD"), generated_at=MADE)
    assert "Awards without a published amount" in html and "Kotoba" in html
    assert (
        headings.index("Awards without a published amount")
        == max(i for i, s in enumerate(sections) if (s.key or "").startswith("recipient")) + 1
    )  # right after the Companies page's charts
