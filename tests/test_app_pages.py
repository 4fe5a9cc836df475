"""Every page under AppTest, offline, on the bundled data: widgets found by key, figures checked, one must-not each.

AppTest runs the real entrypoint (``dashboard/app.py`` and its ``st.navigation``) without a browser.
Plotly charts have no typed AppTest element, so they are read from their JSON spec
(``at.get("plotly_chart")[i].proto.spec``). ``st.dataframe`` without selection carries no element id,
so a table is found by its columns rather than by its ``key=``.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from aifunding import BUNDLED_DATA
from aifunding.i18n import Translator
from aifunding.loading.package import Package

from packages import shown
from reading import reading_table

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
DATA_ENV = "AIFUNDING_DATA"
# Cold start (imports, first package load) takes a few seconds on 2 cores; later runs well under one.
TIMEOUT = 60
EN = Translator("en")


# ---------------------------------------------------------------------------------------------
# Helpers: open a page, read its charts and tables.


def open_page(page: str = "overview", *, loads: bool = True, **query: str) -> AppTest:
    """A fresh session opened at ``page`` (a file in dashboard/views/) with ``query`` as its URL parameters.

    Switching before the first run opens the page directly, as a link to ``/companies?...`` does: AppTest
    hashes the file name, which matches ``st.Page``'s hash of the ``url_path`` because every page's
    url_path is its file name. ``loads=False`` is for a package that cannot be loaded: no page is drawn.
    """
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in query.items():
        at.query_params[name] = value
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    at.run()
    if loads:
        assert [title.value for title in at.title][:1] == [EN(f"{page}.title")], "opened the wrong page"
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Every plotly chart on the page as its parsed figure spec, by the chart's ``key=``."""
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def numbers(array: list | dict) -> list[float]:
    """A plotly data array as numbers: plain lists, or plotly 6's base64 typed arrays ({dtype, bdata})."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])).tolist()
    return [float("nan") if v is None else float(v) for v in array]


def title(spec: dict) -> str:
    return spec["layout"]["title"]["text"]


def trace(spec: dict, name: str) -> dict:
    """The trace called ``name``; one drawn in two panels (committed money, plans) is joined into one."""
    matches = [t for t in spec["data"] if t.get("name") == name]
    assert matches, [t.get("name") for t in spec["data"]]
    if len(matches) == 1:
        return matches[0]
    joined = {key: [] for key in ("y", "x", "customdata")}
    for match in matches:
        joined["y"] += list(match.get("y", []))
        joined["x"] += numbers(match.get("x", []))
        joined["customdata"] += list(match.get("customdata", []))
    return {**matches[0], **joined}


def categories(spec: dict) -> set[str]:
    """Every y category a figure draws, from its traces and from its fixed axis order."""
    found = {y for t in spec["data"] if isinstance(t.get("y"), list) for y in t["y"]}
    return found | set(spec["layout"].get("yaxis", {}).get("categoryarray", []))


def table_element(at: AppTest, *columns: str):
    """The one dataframe on the page, outside the charts' "Show data" expanders, holding all of ``columns``."""
    behind_charts = {id(d.proto) for expander in at.expander for d in expander.dataframe}
    shown = [d for d in at.dataframe if id(d.proto) not in behind_charts]
    matches = [d for d in shown if set(columns) <= set(d.value.columns)]
    assert len(matches) == 1, [list(d.value.columns) for d in shown]
    return matches[0]


def table(at: AppTest, *columns: str) -> pd.DataFrame:
    return table_element(at, *columns).value


def texts(elements) -> list[str]:
    """What each element shows: its markdown with the backslash escapes of data text resolved."""
    return [shown(e.value) for e in elements]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def bundled_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve the bundled package unless a test points AIFUNDING_DATA elsewhere.

    The loader is an ``st.cache_resource`` keyed by folder and file times, shared by every AppTest in the
    process; each test's package is a new tmp_path folder, so no test sees another's cached load.
    """
    monkeypatch.delenv(DATA_ENV, raising=False)


@pytest.fixture
def broken_package(tmp_path: Path) -> Path:
    """A copy of the bundled package in which two awards have impossible amounts ("lots", "-5")."""
    folder = tmp_path / "broken"
    shutil.copytree(BUNDLED_DATA, folder)
    path = folder / "awards.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    bad = {"jp-cloud-2024-04-gmo": "lots", "jp-cloud-2024-04-kddi": "-5"}
    for row in rows:
        row["amount"] = bad.get(row["id"], row["amount"])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder


# ---------------------------------------------------------------------------------------------
# Overview


HEADLINE_TILES = ["Programmes", "Recipients"]


def test_overview_shows_the_headline_tiles_and_no_error() -> None:
    at = open_page("overview")
    assert not at.exception
    # The three highlights (labelled by their date) lead, then the totals.
    assert [m.label for m in at.metric][3:] == HEADLINE_TILES
    assert all(m.value not in ("", "—") for m in at.metric)
    assert "overview-totals" in charts(at)
    assert not at.error


@pytest.mark.parametrize("currency", [None, "USD", "GBP"])
def test_overview_shows_exactly_what_summary_prints(currency: str | None, capsys: pytest.CaptureFixture) -> None:
    from aifunding.cli import main

    at = open_page("overview", **({"cur": currency} if currency else {}))
    assert not at.exception and not at.error
    assert main(["summary", "--format", "json", *(["--currency", currency] if currency else [])]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = [h["figure"] for h in printed["highlights"]] + [
        f"{printed['programmes']:,}",
        f"{printed['recipients']:,}",
    ]
    assert [shown(str(m.value)) for m in at.metric] == expected
    assert expected[:3] == ["¥387.3B", "up to ¥72.5B", "about 30%"]
    # Each total is written whole (it may have several parts), under the section's heading: a figure, not a
    # heading of its own (a screen reader's outline listed "¥395.7B" among the sections).
    headings = [shown(h.value) for h in at.header]
    assert "Money committed, added by one rule" in headings and not at.subheader
    figures = [shown(md.value) for md in at.markdown]
    start = figures.index(f"**{EN('overview.models')}**")
    assert [printed["totals"][k]["text"] for k in ("models", "compute")] == [
        figures[start + 1],
        figures[figures.index(f"**{EN('overview.compute')}**") + 1],
    ]
    # One click under each total: the rows it added and every row it left out, with the reason.
    # Closed, an explanation is not built at all; the reader opens both.
    assert not at.dataframe  # what to watch is a table to read (tests/test_caps.py), not a grid
    for key in ("models", "compute"):
        at.session_state[f"explain-{key}"] = True
    at.run()
    # (AppTest does not keep a dataframe's key: the four explanation tables come first, in order.)
    tables = [frame.value for frame in at.dataframe][:4]
    for index, key in enumerate(("models", "compute")):
        added, left_out = tables[2 * index], tables[2 * index + 1]
        assert list(added["ID"]) == printed["totals"][key]["included"]
        assert [{"id": i, "reason": r} for i, r in zip(left_out["ID"], left_out["Why"], strict=True)] == [
            {"id": e["id"], "reason": e["reason"]} for e in printed["totals"][key]["excluded"]
        ]
    # Every table on the page downloads whole: the explanations (paged past 1,000 rows) and what to watch.
    downloads = {b.key for b in at.download_button}
    for table_key in ("added-models", "left-out-models", "added-compute", "left-out-compute", "milestones"):
        assert {f"{table_key}-dl-csv", f"{table_key}-dl-xlsx"} <= downloads


def test_overview_country_filter_names_the_country() -> None:
    at = open_page("overview")
    at.multiselect(key="w_country").set_value(["JP"]).run()
    assert not at.exception
    (sentence,) = texts(at.info)
    assert "in Japan" in sentence
    assert at.query_params == {"country": "JP"}
    assert not at.error


# ---------------------------------------------------------------------------------------------
# Companies


def test_companies_draw_a_joint_project_as_one_bar() -> None:
    at = open_page("companies")
    assert not at.exception
    figure = charts(at)["recipients"]
    bars = categories(figure)
    assert "RUTILEA + AI Fukushima (joint)" in bars
    # A member of a joint project never gets a bar of its own.
    assert "AI Fukushima" not in bars
    assert "RUTILEA" not in bars


@pytest.mark.parametrize("currency", [None, "USD"])
@pytest.mark.parametrize("country", [None, "JP", "KR"])
def test_companies_list_every_award_in_view_without_an_amount(
    bundled: Package, country: str | None, currency: str | None
) -> None:
    """Awards no chart can draw are listed under the charts: each one in view, not only those a chart drew.

    In another currency too, where an award published with no date to take a rate at is not converted:
    it has an amount, so it is not listed; the sentence above the charts counts it among the figures
    that could not be converted.
    """
    awards, programmes = bundled.frame("awards"), bundled.frame("programmes")
    countries = awards["programme_id"].map(dict(zip(programmes["id"], programmes["country_id"], strict=True)))
    expected = awards[awards["amount"].isna() & ((countries == country) if country else True)]
    assert len(expected) > 0
    query = {name: value for name, value in {"country": country, "cur": currency}.items() if value}
    at = open_page("companies", **query)
    assert at.query_params == query
    assert not at.exception
    assert EN("companies.unpublished") in [shown(h.value) for h in at.header]
    listed = table(at, "Project", "Programme", "Announced", "Purpose", "Sources")
    assert sorted(listed["Purpose"]) == sorted(expected["purpose_en"])
    if currency and country != "KR":  # Japan's Zeureka award: published, no date, so not converted
        assert any("could not be converted: no announcement date" in text for text in texts(at.info))


def test_companies_chart_of_awards_without_amounts_says_so_not_that_nothing_matches() -> None:
    at = open_page("companies", country="KR")  # South Korea's five awards have no published amount
    assert not at.exception
    figure = charts(at)["recipients"]
    assert title(figure) == "None of the 5 awards in view has an amount to chart."
    assert not figure["layout"].get("annotations")  # said once (it was said again inside an empty plot)
    assert len(table(at, "Project", "Programme", "Announced", "Purpose", "Sources")) == 5


def test_companies_organisation_filter_is_described() -> None:
    at = open_page("companies")
    at.multiselect(key="w_org").set_value(["sakura-internet"]).run()
    assert not at.exception
    (sentence,) = texts(at.info)
    assert sentence.startswith("Showing 3 awards in 1 programme to Sakura Internet")
    bars = {b for spec in charts(at).values() for b in categories(spec)}
    assert bars == {"Sakura Internet"}, bars  # no other recipient is drawn


def test_companies_empty_filter_says_so_instead_of_failing() -> None:
    at = open_page("companies")
    at.multiselect(key="w_country").set_value(["FR"])
    at.multiselect(key="w_kind").set_value(["compute_subsidy"]).run()
    assert not at.exception
    assert any("Nothing matches these filters" in text for text in texts(at.info))
    assert not at.get("plotly_chart")
    assert not at.error
    # The sidebar stays, so the reader can clear the filter that emptied the view and see the charts again.
    at.multiselect(key="w_country").set_value([]).run()
    assert not at.exception
    assert "recipients" in charts(at)


NOTHING = {"from": "1990-01-01", "to": "1990-12-31"}


@pytest.mark.parametrize(
    ("page", "query"),
    [(page, NOTHING) for page in ("overview", "companies", "programmes", "world")] + [("market", {"country": "FR"})],
)
def test_a_page_with_nothing_to_show_keeps_its_filters(page: str, query: dict[str, str]) -> None:
    at = open_page(page, **query)
    assert not at.exception
    # France has programmes but no market shares: the Market page says that (4c229fc), the others how to widen.
    said = "No market share figures for the countries in view" if page == "market" else "Widen the date range"
    assert any(said in text for text in texts(at.info))
    keys = {widget.key for widget in at.sidebar.children.values() if getattr(widget, "key", None)}
    assert {"w_country", "w_kind", "w_from", "w_to", "w_cur"} <= keys, keys


# ---------------------------------------------------------------------------------------------
# Programmes

APRIL_ROUND = "Cloud Program: 2024-04-19 round"


def test_programmes_show_the_april_round_ceiling_and_its_five_awards() -> None:
    at = open_page("programmes")
    assert not at.exception

    # The chart: the declared ceiling in the hover, five named awards, and their sum as the second bar.
    totals = charts(at)["programme-totals"]
    declared = trace(totals, "Declared amount (hatched: target or plan)")
    row = next(i for i, label in enumerate(declared["y"]) if label.startswith(APRIL_ROUND))
    ceiling, _announced, named = declared["customdata"][row]
    assert (ceiling, named) == ("up to ¥72.5B", 5)
    allocated = trace(totals, "Sum of named awards")
    assert allocated["y"][row] == declared["y"][row]
    assert numbers(allocated["x"])[row] == pytest.approx(72.53e9)

    # The nesting table says the same in words, and downloads whole (it is paged past 1,000 rows).
    assert {"nesting-dl-csv", "nesting-dl-xlsx"} <= {b.key for b in at.download_button}
    nesting = table(at, "Programme", "Level", "Amount", "Named awards", "Sum of named awards")
    april = nesting[nesting["Programme"].str.contains(APRIL_ROUND, regex=False)]
    assert len(april) == 1
    # The five awards are "up to about" figures, so their sum is one too, never exact money.
    assert april.iloc[0][["Amount", "Named awards", "Sum of named awards"]].tolist() == [
        "up to ¥72.5B",
        5,
        "up to about ¥72.53B",
    ]


def test_programmes_totals_chart_leaves_out_budget_frames(bundled: Package) -> None:
    at = open_page("programmes")
    assert not at.exception
    programmes = bundled.frame("programmes")
    frames = programmes[programmes["kind"] == "budget_frame"]
    nesting = table(at, "Programme", "Level", "ID")
    # Budget frames are in view (the nesting table lists them), so leaving them out is a choice.
    assert set(frames["id"]) <= set(nesting["ID"])
    totals = charts(at)["programme-totals"]
    assert not set(frames["id"]) & set(totals["layout"]["meta"]["row_ids"])
    drawn = categories(totals)
    assert drawn
    assert not [name for name in frames["name_en"] if any(label.startswith(f"{name} (") for label in drawn)]


# ---------------------------------------------------------------------------------------------
# Cloud market


def test_market_draws_one_panel_per_market_and_never_mixes_two(bundled: Package) -> None:
    at = open_page("market")
    assert not at.exception
    drawn = charts(at)
    panels = {key: spec for key, spec in drawn.items() if key != "market-subsidies"}
    assert "market-subsidies" in drawn  # the context chart
    assert len(panels) == 6

    markets = bundled.frame("markets").set_index("id")["name_en"]
    market_of_share = bundled.frame("market_shares").set_index("id")["market_id"]
    for key, spec in panels.items():
        shown = {market_of_share[row] for row in spec["layout"]["meta"]["row_ids"]}
        assert len(shown) == 1, (key, shown)
        (market,) = shown
        assert key == f"market-{market}"
        assert title(spec).startswith(markets[market])
        others = [name for mid, name in markets.items() if mid != market and name in title(spec)]
        assert others == [], (key, others)


# ---------------------------------------------------------------------------------------------
# World


def test_world_converts_to_usd_by_default_and_hatches_targets() -> None:
    at = open_page("world")
    assert not at.exception
    (sentence,) = texts(at.info)
    assert "converted to USD" in sentence
    assert "original currencies" not in sentence
    figure = charts(at)["world"]
    target = trace(figure, "Target or plan (not committed)")
    assert target["marker"]["pattern"]["shape"] == "/"
    assert "European Union · InvestAI" in target["y"]
    # Committed money is never drawn hatched.
    assert trace(figure, "Committed or budgeted")["marker"]["pattern"]["shape"] == ""


def test_world_says_beside_the_currency_menu_which_currency_it_shows() -> None:
    # The menu reads "Original currencies" while World shows USD: a line under it says so (it said nothing).
    at = open_page("world")
    assert at.selectbox(key="w_cur").value == "original"
    said = [text for text in texts(at.sidebar.markdown) if "shows every amount in USD" in text]
    assert len(said) == 1, texts(at.sidebar.markdown)
    at.selectbox(key="w_cur").set_value("EUR").run()
    assert not [text for text in texts(at.sidebar.markdown) if "shows every amount in" in text]
    overview = open_page("overview")
    assert not [text for text in texts(overview.sidebar.markdown) if "shows every amount in" in text]


def test_world_converts_to_the_chosen_currency() -> None:
    at = open_page("world")
    at.selectbox(key="w_cur").set_value("EUR").run()
    assert not at.exception
    (sentence,) = texts(at.info)
    assert "converted to EUR" in sentence
    assert "USD" not in sentence
    assert at.radio(key="w_fx").value == "announcement"  # the rate control appears once a currency is chosen
    assert at.query_params == {"cur": "EUR"}


# ---------------------------------------------------------------------------------------------
# Data


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_table_s_missing_values_read_as_a_dash_not_none(lang: str) -> None:
    """Streamlit writes a grey "None" in a cell with no value: the awards with no published amount read so."""
    at = open_page("data", loads=lang == "en", lang=lang)
    assert not at.exception
    tables = list(at.dataframe)
    assert tables and any(d.value.isna().any().any() for d in tables)  # cells with no value are shown
    assert {d.proto.placeholder for d in tables} == {"—"}


def test_data_page_reports_a_valid_package_with_one_warning() -> None:
    at = open_page("data")
    assert not at.exception
    (verdict,) = texts(at.success)
    assert verdict.startswith("The loaded package is valid")
    problems = table(at, "Severity", "Table", "Message")
    assert len(problems) == 1
    (warning,) = problems.to_dict("records")
    assert (warning["Severity"], warning["Table"]) == ("warning", "programmes")
    assert "jp-cloud-2024-04" in warning["Message"]
    assert {"shown-csv", "shown-xlsx", "all-xlsx", "all-json"} <= {b.key for b in at.download_button}
    # The validation report downloads whole, as CSV and XLSX, beside its table.
    assert {"problems-dl-csv", "problems-dl-xlsx"} <= {b.key for b in at.download_button}
    assert not at.error
    assert not [d for d in at.dataframe if "Why" in d.value.columns]  # nothing quarantined


# ---------------------------------------------------------------------------------------------
# Sources & method


def test_sources_page_lists_sources_with_links_and_every_caveat() -> None:
    at = open_page("sources")
    assert not at.exception
    element = table_element(at, "Publisher", "Link")
    sources = element.value
    assert len(sources) >= 100
    assert json.loads(element.proto.columns)["Link"]["type_config"]["type"] == "link"  # clickable, not text
    assert sources["Link"].str.match(r"https?://").all()
    caveats = reading_table(at, EN("sources.caveats"))  # sentences, each whole in its cell
    assert caveats[0] == ["No.", "Kind", "Caveat", "Detail", "Attached to"]
    # The 28 numbered conflicts of the research notes, two overlaps between figures and two figures
    # that rest on low-reliability sources only.
    assert len(caveats) == 1 + 32
    assert not [d for d in at.dataframe if "Detail" in d.value.columns]
    assert not at.error
    assert {"sources-dl-csv", "sources-dl-xlsx", "caveats-dl-csv", "caveats-dl-xlsx"} <= {
        b.key for b in at.download_button
    }


# ---------------------------------------------------------------------------------------------
# The view in the URL


def test_url_opens_the_page_with_the_country_filter_set() -> None:
    at = open_page("companies", country="JP")
    assert not at.exception
    assert at.multiselect(key="w_country").value == ["JP"]
    (sentence,) = texts(at.info)
    assert "in Japan" in sentence
    assert at.query_params == {"country": "JP"}
    assert not at.warning


def test_filters_survive_a_page_switch() -> None:
    at = open_page("overview", country="JP")
    at.switch_page("views/companies.py").run()
    assert at.multiselect(key="w_country").value == ["JP"]
    assert at.query_params == {"country": "JP"}


@pytest.mark.parametrize(
    ("param", "value", "widget", "default"),
    [
        # An id that is not in the data, and a currency that is not in the ECB rates.
        ("country", "NOPE", "multiselect:w_country", []),
        ("cur", "XYZ", "selectbox:w_cur", "original"),
    ],
)
def test_hostile_url_parameter_falls_back_with_a_notice(param: str, value: str, widget: str, default: object) -> None:
    at = open_page("overview", **{param: value})
    assert not at.exception
    (notice,) = texts(at.warning)
    assert f"{param}={value}" in notice
    kind, key = widget.split(":")
    assert getattr(at, kind)(key=key).value == default
    assert param not in at.query_params  # the URL is rewritten without the bad value
    assert not at.error


# ---------------------------------------------------------------------------------------------
# Another data package through AIFUNDING_DATA


def test_broken_package_renders_its_valid_rows_with_a_banner(monkeypatch, broken_package: Path) -> None:
    monkeypatch.setenv(DATA_ENV, str(broken_package))
    at = open_page("companies")
    assert not at.exception
    assert any(text.startswith("The data package has errors") for text in texts(at.warning))
    bars = categories(charts(at)["recipients"])
    assert "Sakura Internet" in bars  # valid rows still load
    assert "GMO Internet Group" not in bars  # a quarantined award is never drawn

    at.switch_page("views/data.py").run()
    assert not at.exception
    assert any("The loaded package has errors" in text for text in texts(at.error))
    quarantined = table(at, "Table", "File", "Line", "Why")
    awards = quarantined[quarantined["File"] == "awards.csv"]
    assert sorted(awards["Line"]) == [2, 5]
    assert awards["Why"].str.contains("amount").all()
    assert {"problems-dl-csv", "quarantined-dl-csv", "quarantined-dl-xlsx"} <= {b.key for b in at.download_button}


def test_folder_without_a_descriptor_says_it_could_not_be_loaded(monkeypatch, tmp_path: Path) -> None:
    folder = tmp_path / "no-descriptor"
    folder.mkdir()
    shutil.copy(BUNDLED_DATA / "awards.csv", folder)
    monkeypatch.setenv(DATA_ENV, str(folder))
    at = open_page("overview", loads=False)
    assert not at.exception
    (message,) = texts(at.error)
    assert "could not be loaded" in message
    assert "datapackage.json" in message
    assert not at.get("plotly_chart")
    assert not at.multiselect  # no sidebar without data


def test_counts_of_sources_and_caveats_read_as_english_does() -> None:
    # The Cloud market's footers read "All 1 sources and 1 caveats" and "All 2 sources and 1 caveats".
    labels = [expander.label for expander in open_page("market").expander]
    footers = [label for label in labels if label.startswith("All ")]
    assert footers and "All 1 source and 1 caveat" in footers and "All 2 sources and 1 caveat" in footers
    assert not [label for label in footers if "1 sources" in label or "1 caveats" in label]
    ja = [expander.label for expander in open_page("market", loads=False, lang="ja").expander]
    assert "出典1件と注意事項1件（すべて）" in ja


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_footer_without_caveats_counts_only_its_sources(lang: str) -> None:
    # The highlights slide cites 13 sources and no caveat: its footer read "All 13 sources and 0 caveats".
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["present"], at.query_params["lang"] = "1", lang
    at.run()
    assert not at.exception, at.exception
    labels = [expander.label for expander in at.expander]
    assert ("All 13 sources" if lang == "en" else "出典13件（すべて）") in labels, labels
    assert not [label for label in labels if "0 caveats" in label or "注意事項0件" in label]


@pytest.mark.parametrize(
    ("lang", "label", "cite"),
    [("en", "**Sources:**", r"\) \(date not published; press\)"), ("ja", "**出典：**", r"\)（日付不明、報道）")],
)
def test_a_chart_s_sources_read_in_the_page_s_punctuation(lang: str, label: str, cite: str) -> None:
    # Japanese read 「出典: …(2024年4月19日; 報道)」: English punctuation in a Japanese sentence.
    at = open_page("companies", loads=False, lang=lang)
    assert not at.exception
    footers = [text for text in texts(at.markdown) if text.startswith(f":small[{label}")]
    assert footers and any(re.search(cite, text) for text in footers), footers[:1]


def test_a_chart_whose_programmes_have_no_period_says_so_not_that_nothing_matches() -> None:
    # Sakura's two 2024 rounds are in view and drawn by the other charts; neither publishes a period.
    at = open_page("programmes", country="JP", org="sakura-internet", **{"from": "2024-01-01"})
    assert not at.exception
    (sentence,) = texts(at.info)
    assert sentence.startswith("Showing 2 awards in 2 programmes")
    # What each chart says: its title and any notes in it (an empty chart says why, as its title).
    said = {
        key: [title(spec), *(a["text"] for a in spec["layout"].get("annotations", []))]
        for key, spec in charts(at).items()
    }
    assert ["None of the 2 programmes in view has an amount with a period to draw per year."] in said.values()
    assert not [key for key, texts_ in said.items() if any("Nothing matches" in text for text in texts_)]


@pytest.mark.parametrize("page", ["programmes", "overview"])
def test_programmes_drawn_whole_under_an_organisation_filter_say_so(page: str) -> None:
    # With Sakura chosen, the programme totals chart drew the 2024 round's whole ¥72.5B and all its named awards
    # beside "Showing 3 awards", and said nothing; the Overview's totals add Sakura's awards alone.
    said = "With organisations chosen, each programme is drawn whole"
    at = open_page(page, org="sakura-internet")
    assert not at.exception
    assert len([text for text in texts(at.markdown) if said in text]) == 1
    assert not [text for text in texts(open_page(page).markdown) if said in text]


@pytest.mark.parametrize(
    ("page", "tables"),
    [
        ("overview", ["overview.totals", "overview.watch"]),
        ("companies", ["companies.unpublished"]),
        ("programmes", ["programmes.nesting"]),
        ("data", ["table.awards", "data.report"]),
        ("sources", ["sources.list", "sources.caveats"]),
    ],
)
def test_a_page_s_snapshot_holds_its_tables_as_well_as_its_charts(
    bundled: Package, page: str, tables: list[str]
) -> None:
    """Share → Download snapshot held the page's charts alone: no tiles, no "what to watch", no awards without an
    amount (which the README promised), no Data table, no sources."""
    import datetime

    from aifunding.outputs.snapshot import build_snapshot

    at = open_page(page)
    sections = at.session_state["_sections"]
    headings = [section.heading for section in sections if section.figure is None]
    assert headings == [EN(key) for key in tables]
    if page == "overview":  # the tiles first, as on the page and in the report
        assert sections[0].key == "highlights" and sections[1].heading == EN("overview.totals")
    html = build_snapshot(
        title=EN(f"{page}.title"),
        sentence="",
        sections=sections,
        package=bundled,
        generated_at=datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC),
    )
    text = html.replace("&amp;", "&").replace("&#x27;", "'")
    for section in sections:
        if section.figure is None:  # a table: its heading and its first cell
            assert section.heading in text and str(section.rows.head(1).iloc[0, 0]) in text, section.heading


def test_a_country_without_market_shares_says_so_not_that_nothing_matches() -> None:
    """Korea has awards and programmes but no market shares: the Market page and its slide said "Nothing matches
    these filters. Widen the date range or clear a filter in the sidebar", beside a sentence counting 5 awards."""
    from aifunding.figures.market import build_market_figure

    at = open_page("market", country="KR")
    assert not at.exception
    said = " ".join(texts(at.info))
    assert "No market share figures for the countries in view" in said and "sidebar" not in said
    assert not at.get("plotly_chart")
    # The same words on the slide (presenter mode draws the figure, and has no sidebar).
    figure = build_market_figure(pd.DataFrame(columns=["basis", "market_en", "market_ja"]), lang="en")
    words = figure.layout.title.text
    assert "No market share figures for the countries in view" in words and "sidebar" not in words
