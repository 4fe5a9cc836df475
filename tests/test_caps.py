"""Pages stay small whatever the data: ranked charts draw the top recipients and add the rest up in one
bar, per-programme charts are capped, long tables are paged on the server, and a filter with more
choices than a list can offer gets a search box. Checked under AppTest on a package of 1,200 recipients.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aifunding.analysis.view import ViewState, apply_view, prepare
from aifunding.data.dates import partial_bounds
from aifunding.figures.companies import OTHERS_NOTE_WIDTH, TOP_RECIPIENTS, build_recipient_figure
from aifunding.figures.lines import display_width
from aifunding.figures.registry import MAX_FAMILIES
from aifunding.loading.package import load_package

from packages import crowded_tables, minimal_tables, write_package
from reading import reading_table

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
RECIPIENTS = 1200
ROUNDS = 10  # each with 120 recipients: 11 programmes with several funded recipients, round one included
MAX_SPEC_BYTES = 1_000_000


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal package plus 1,200 sole recipients, one award each in ten rounds, all valid and cited."""
    folder = write_package(tmp_path_factory.mktemp("crowded") / "pkg", crowded_tables(RECIPIENTS, ROUNDS))
    assert load_package(folder).report.valid
    return folder


def open_page(page: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AIFUNDING_DATA", str(folder))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_recipient_chart_draws_the_largest_and_adds_up_the_rest(crowded: Path) -> None:
    view = apply_view(prepare(load_package(crowded)), ViewState())
    figure = build_recipient_figure(view.awards)
    labels = list(figure.layout.yaxis.categoryarray)
    assert len(labels) == TOP_RECIPIENTS + 1
    others = labels[0]
    assert others == f"Others ({RECIPIENTS + 2 - TOP_RECIPIENTS:,} recipients)"  # the minimal package's two join them
    assert labels[-1] == "Alpha Cloud" and "Firm 1199" in labels  # the largest first, from the top
    title = figure.layout.title.text.replace("<br>", " ")
    assert "The 30 largest of 1,202 recipients are drawn; the other 1,172 are added up in one bar" in title
    # The one bar holds every other award's money: the chart's total is the package's.
    drawn = sum(x for trace in figure.data for x in trace.x)
    assert drawn == pytest.approx(float(sum(view.awards["amount"].map(float))))
    assert figure.layout.meta["row_ids"] is None  # every row is behind it; the ids stay out of the spec
    assert len(figure.to_json()) < MAX_SPEC_BYTES


def test_show_data_under_the_capped_recipient_chart_lists_the_awards_it_drew_and_no_others(
    tmp_path: Path,
) -> None:
    """Past its cap the chart names no row ids (too many for its spec): "Show data" listed every award in view,
    the other currencies' too (1,000,024 rows under a chart of 182,785 yen awards at a million)."""
    from aifunding.figures import registry

    tables = crowded_tables(RECIPIENTS, ROUNDS)
    tables["awards"][-1]["currency"] = "USD"  # a warning (its round is in yen), drawn in no yen chart
    tables["awards"][-2].update(amount="", basis="")  # no published amount: nothing to draw
    package = load_package(write_package(tmp_path / "pkg", tables))
    assert package.report.valid, package.report.summary()
    prepared = prepare(package)
    view = apply_view(prepared, ViewState())
    [drawn] = registry.draw(registry.RECIPIENTS, prepared, view)
    assert drawn.figure.layout.meta["row_ids"] is None and drawn.figure.layout.meta["amount_rows"] is True
    listed = set(drawn.rows.column("id"))
    awards = view.awards
    in_yen = awards[(awards["currency"] == "JPY") & awards["amount"].notna()]
    assert listed == set(in_yen["id"]) and len(drawn.rows) == len(in_yen) == len(awards) - 2
    assert tables["awards"][-1]["id"] not in listed and tables["awards"][-2]["id"] not in listed


def _others(figure) -> tuple[float, float, dict]:
    """The others bar's length, the axis end, and the annotation written on the others row."""
    label = figure.layout.yaxis.categoryarray[0]  # the others bar sits at the bottom
    bar = next(trace for trace in figure.data if trace.y[0] == label and trace.name == label)
    note = next(a for a in figure.layout.annotations if a.y == label)
    return bar.x[0], figure.layout.xaxis.range[1], note


def test_an_others_bar_longer_than_every_recipient_drawn_is_cut_at_the_axis_end(crowded: Path) -> None:
    """The axis fits the recipients drawn, so their bars stay readable; the others' total is written on its bar."""
    awards = apply_view(prepare(load_package(crowded)), ViewState()).awards
    figure = build_recipient_figure(awards)
    others, end, note = _others(figure)
    drawn = [a.x for a in figure.layout.annotations if a is not note]
    assert others == pytest.approx(687_378_000_000) and max(drawn) == 6_000_000_000  # Alpha Cloud, the largest
    assert max(drawn) < end < others  # the others bar runs past the axis; every drawn bar and its total fit
    assert (note.x, note.xanchor) == (end, "right")
    assert note.text == "¥687.38B (bar cut at the axis end)"
    ja = _others(build_recipient_figure(awards, lang="ja"))[2]
    assert ja.text.replace("<br>", "") == "6,873.78億円（棒は軸の端で切っています）"
    # Written leftwards from the axis end, a long total ran over the bar's name on a phone: it wraps.
    mixed = awards.copy()
    mixed["basis"] = ["about", "up_to_about", "up_to", "exact"] * (len(mixed) // 4) + ["exact"] * (len(mixed) % 4)
    for lang in ("en", "ja"):
        note = _others(build_recipient_figure(mixed, lang=lang))[2]
        assert note.text.count("<br>") >= 1 and " + " in note.text.replace("<br>", " ")
        assert all(display_width(line) <= OTHERS_NOTE_WIDTH for line in note.text.split("<br>")), note.text
    # An others bar no longer than the largest drawn is drawn whole, its total at its end as any bar's.
    grown = awards.copy()
    grown.loc[grown["project_label"] == "Alpha Cloud", "amount"] = Decimal("1000000000000")
    others, end, note = _others(build_recipient_figure(grown))
    assert others < 1e12 < end and (note.x, note.xanchor, note.text) == (others, "left", "¥687.38B")


def test_companies_sends_small_charts_and_pages_its_rows(crowded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page("companies", crowded, monkeypatch)
    specs = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert specs and all(len(spec) < MAX_SPEC_BYTES for spec in specs)
    assert len(json.loads(specs[0])["layout"]["yaxis"]["categoryarray"]) == TOP_RECIPIENTS + 1
    # "Show data" is built only when opened.
    assert not at.dataframe and "recipients-data-page" not in at.session_state
    at.session_state["recipients-show"] = True  # the reader opens it
    at.run()
    # Behind the chart: the first 1,000 of 1,202 rows, and a page number for the rest.
    page = at.number_input(key="recipients-data-page")
    assert page.value == 1 and page.max == 2 and page.label == "Page (1 to 2)"
    assert len(at.dataframe[0].value) == 1000
    page.set_value(2).run()
    assert len(at.dataframe[0].value) == 202
    assert any("Rows 1,001–1,202 of 1,202" in md.value.replace("\\", "") for md in at.markdown)


def test_a_filter_of_thousands_of_names_is_a_search(crowded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page("companies", crowded, monkeypatch)
    organisations = at.sidebar.multiselect(key="w_org")
    assert len(organisations.options) == 1000
    # No "Select all" of a list cut short: it chose the first 1,000 of 1,203, which nobody asked for.
    assert organisations.proto.select_all == 0
    # The box says which filter it searches (both read "Find in ... choices").
    assert at.sidebar.text_input(key="w_org_find").label == "Organisation: search 1,203 choices"
    at.sidebar.text_input(key="w_org_find").set_value("firm 119").run()
    options = at.sidebar.multiselect(key="w_org").options
    assert options == [f"Firm 119{n}" for n in range(10)]
    assert at.sidebar.multiselect(key="w_org").proto.select_all != 0  # every match is offered: all may be chosen
    at.sidebar.multiselect(key="w_org").set_value(["firm-1195"]).run()
    assert not at.exception
    # The choice stays offered (and chosen) when the search changes.
    at.sidebar.text_input(key="w_org_find").set_value("alpha").run()
    assert at.sidebar.multiselect(key="w_org").value == ["firm-1195"]
    assert "Firm 1195" in at.sidebar.multiselect(key="w_org").options


def test_companies_charts_the_largest_programmes_and_counts_the_rest(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page("companies", crowded, monkeypatch)
    keys = [chart.key for chart in at.get("plotly_chart")]
    assert keys[0] == "recipients" and len(keys) == 1 + MAX_FAMILIES
    assert keys[1:] == [f"recipients-round-x{r}" for r in (9, 8, 7, 6, 5, 4, 3, 2)]  # the largest pools first
    assert any("3 more programmes have several funded recipients" in md.value for md in at.markdown)


def test_what_to_watch_is_a_table_to_read_paged_on_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What to watch was a grid that cut each milestone at its column's edge ("Subsidised GPU systems offered to
    generative-AI developers and ot") and hid the columns past the page's width. It is a table of text: every
    milestone whole, as written (markup included, as text), a missing note a dash, a page of 100 at a time, and
    downloads that hold them all."""
    tables = minimal_tables()
    for n in range(150):
        tables["milestones"].append(
            {
                "id": f"ms-x{n:03d}",
                "award_id": "award-a",
                "description_en": f'Step {n:03d}: <b>bold</b> & "quoted" <script>alert(1)</script>',
                "due_date": "2030-01",
                "timing": "by",
                "status": "pending",
                "status_as_of": "2024-12-19",
                "note": "" if n % 2 else "A note long enough to wrap onto a second line of its cell. " * 3,
            }
        )
        tables["citations"].append({"source_id": "src-a", "milestone_id": f"ms-x{n:03d}"})
    at = open_page("overview", write_package(tmp_path / "pkg", tables), monkeypatch)
    assert not at.dataframe
    page = at.number_input(key="milestones-page")
    assert page.value == 1 and page.max == 2 and page.label == "Page (1 to 2)"
    first = reading_table(at, "What to watch")
    assert first[0] == ["What", "Due", "Status", "Status as of", "Programme or award", "Note"]
    assert len(first) == 1 + sys.modules["ui.blocks"].READING_ROWS == 101
    page.set_value(2).run()
    assert not at.exception
    second = reading_table(at, "What to watch")
    assert second[0] == first[0] and len(second) == 1 + 151 - 100
    rows = first[1:] + second[1:]
    written = {f'Step {n:03d}: <b>bold</b> & "quoted" <script>alert(1)</script>' for n in range(150)}
    assert {row[0] for row in rows} == written | {"Data centre opens"}
    notes = {row[0]: row[5] for row in rows}
    assert notes['Step 001: <b>bold</b> & "quoted" <script>alert(1)</script>'] == "—"
    assert notes['Step 000: <b>bold</b> & "quoted" <script>alert(1)</script>'].startswith("A note long enough")
    assert {"milestones-dl-csv", "milestones-dl-xlsx"} <= {button.key for button in at.download_button}


def test_a_table_longer_than_a_sheet_is_not_offered_as_xlsx(crowded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page("data", crowded, monkeypatch)
    assert "All tables (XLSX)" in [b.proto.label for b in at.get("download_button")]
    blocks = sys.modules["ui.blocks"]  # the dashboard's module, loaded by the run above
    monkeypatch.setattr(blocks, "XLSX_MAX_ROWS", 1000)
    at.run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "All tables (XLSX)" not in labels and "All tables (JSON)" in labels
    assert any("awards hold more rows than a spreadsheet sheet (999)" in i.value.replace("\\", "") for i in at.info)


def test_the_report_follows_the_same_caps(crowded: Path) -> None:
    from aifunding.outputs.snapshot import SNAPSHOT_ROWS, build_report

    prepared = prepare(load_package(crowded))
    html = build_report(prepared, ViewState())
    assert "The first 1,000 of 1,202 rows; the Data page and the exports hold every row." in html
    assert html.count("<tr>") < 12 * SNAPSHOT_ROWS  # no table writes all its rows
    assert f"Others ({RECIPIENTS + 2 - TOP_RECIPIENTS:,} recipients)" in html
    assert len(html) < 12_000_000


def test_a_chart_of_many_programmes_keeps_one_colour_each_for_the_largest(crowded: Path) -> None:
    view = apply_view(prepare(load_package(crowded)), ViewState())
    figure = build_recipient_figure(view.awards)
    names = [trace.name for trace in figure.data if trace.showlegend is not False]
    # Eleven programmes (ten rounds and round one) award money: seven keep their colour, the rest share one.
    assert len({name.split(" · ")[0] for name in names}) == 8
    assert any(name.startswith("Other programmes · ") for name in names)
    # A programme keeps one colour across the bases of its awards, and no two programmes share one.
    colours: dict[str, set[str]] = {}
    for trace in figure.data:
        if trace.showlegend is not False:
            colours.setdefault(trace.name.split(" · ")[0], set()).add(trace.marker.color)
    assert all(len(found) == 1 for found in colours.values()), colours
    assert len({found.pop() for found in colours.values()}) == len(colours)
    assert sum(x for trace in figure.data for x in trace.x) == pytest.approx(
        float(sum(view.awards["amount"].map(float)))
    )


def test_the_timeline_draws_the_latest_announcements_and_says_how_many_there_are(tmp_path: Path) -> None:
    from aifunding.figures.timeline import TIMELINE_ROWS, build_timeline_figure

    from packages import generate

    generate(8000, tmp_path / "package", seed=2)
    view = apply_view(prepare(load_package(tmp_path / "package")), ViewState())
    dated = view.programmes[view.programmes["announced"].notna()]
    assert len(dated) > TIMELINE_ROWS
    figure = build_timeline_figure(view.programmes)
    drawn = figure.layout.meta["row_ids"]
    assert len(drawn) == len(figure.layout.yaxis.categoryarray) == TIMELINE_ROWS
    latest = dated.assign(_last=dated["announced"].map(lambda d: max(partial_bounds(d))))["_last"]
    assert min(latest[dated["id"].isin(drawn)]) >= sorted(latest)[-TIMELINE_ROWS - 1]  # the latest ones
    assert f"The latest {TIMELINE_ROWS} of {len(dated):,} announcements are drawn" in figure.layout.title.text
    assert len(figure.to_json()) < MAX_SPEC_BYTES


def test_the_nesting_table_words_each_page_as_the_whole_table_words_it(tmp_path: Path) -> None:
    """The Programmes page words the nesting table a page at a time: each page is that slice of the whole."""
    from aifunding.figures.nesting import nesting_rows, nesting_table

    from packages import generate

    generate(3000, tmp_path / "package", seed=5)
    prepared = prepare(load_package(tmp_path / "package"))
    for state in (ViewState(), ViewState(lang="ja", currency="USD"), ViewState(countries=("JP",))):
        view = apply_view(prepared, state)
        options = {"money": view.money, "lang": state.lang}
        rows = nesting_rows(view.programmes, view.package.tree, **options)
        whole = nesting_table(view.programmes, view.package.tree, **options)
        assert len(rows) == len(whole) == len(view.programmes) > 30
        for first, count in ((0, 10), (17, 25), (len(whole) - 3, 10)):
            page = rows.page(first, count)
            assert page.reset_index(drop=True).equals(whole.iloc[first : first + count].reset_index(drop=True))
        assert rows.shown(17, 25) is rows.shown(17, 25)  # a page shown again is not worded again


def _data_page(folder: Path, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("AIFUNDING_DATA", str(folder))
    at = AppTest.from_file(str(APP), default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _shown_rows(at: AppTest) -> str:
    """The line under the Data table saying which rows it shows ("Rows 1,001–1,202 of 1,202. …")."""
    lines = [md.value.replace("\\", "").removeprefix(":small[") for md in at.markdown]
    return next(line for line in lines if line.startswith("Rows "))


def test_the_data_table_s_page_is_in_the_link(crowded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link to page 2 of the awards opens page 2 (it opened page 1), and a page chosen is written in the link."""
    at = _data_page(crowded, monkeypatch, page="2")
    assert at.number_input(key="rows-page").value == 2 and _shown_rows(at).startswith("Rows 1,001–")
    assert at.query_params["page"] == "2" and not at.warning
    at.number_input(key="rows-page").set_value(1).run()
    assert "page" not in at.query_params and _shown_rows(at).startswith("Rows 1–1,000")
    at.number_input(key="rows-page").set_value(2).run()
    assert at.query_params["page"] == "2"
    # Another table, or another view, opens at its first page.
    at.multiselect(key="w_kind").set_value(["compute_subsidy"]).run()
    assert not at.exception, at.exception
    assert "page" not in at.query_params
    assert at.number_input(key="rows-page").value == 1


def test_a_link_s_page_past_the_table_s_end_is_named_and_the_first_is_shown(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _data_page(crowded, monkeypatch, page="9", table="programmes")
    warned = " ".join(str(w.value) for w in at.warning).replace("\\", "")
    assert "page=9: this table has 1 page; its first is shown" in warned, warned
    assert "page" not in at.query_params and at.query_params["table"] == "programmes"
    bad = _data_page(crowded, monkeypatch, page="two")
    warned = " ".join(str(w.value) for w in bad.warning).replace("\\", "")
    assert "page=two: not a page of the Data page's table" in warned, warned
    # Another page leaves it out of its link, unsaid, as it does table=.
    monkeypatch.setenv("AIFUNDING_DATA", str(crowded))
    companies = AppTest.from_file(str(APP), default_timeout=60)
    companies.query_params["page"] = "2"
    companies.switch_page("views/companies.py")
    companies.run()
    assert "page" not in companies.query_params and not companies.warning
