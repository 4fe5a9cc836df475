"""The chart registry is the one list of charts: every registered chart is on its page, in the deck and in the snapshot.

Pages, presenter mode and the HTML report all iterate ``aifunding.figures.registry.PAGES``; these tests
open each page under AppTest, build the deck and the report, and compare the chart keys with what the
registry draws for the same view. The last test adds a chart to the registry and finds it in all three.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aifunding.analysis.view import FilteredView, Prepared, ViewState, apply_view
from aifunding.figures import registry
from aifunding.figures.registry import PAGES, Chart, draw
from aifunding.figures.timeline import build_timeline_figure
from aifunding.i18n import Translator
from aifunding.outputs.snapshot import build_report, slides

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 60
EN = Translator("en")


def registered_keys(prepared: Prepared, view: FilteredView, pages=PAGES) -> list[str]:
    """The widget keys of every figure the registry draws for ``view``, page by page, in order."""
    return [drawn.key for page in pages for chart in page.charts for drawn in draw(chart, prepared, view)]


def page_chart_keys(page: str, **query: str) -> list[str]:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in query.items():
        at.query_params[name] = value
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, at.exception
    assert [title.value for title in at.title][:1] == [EN(f"{page}.title")]
    return [chart.key for chart in at.get("plotly_chart")]


def report_keys(html: str) -> list[str]:
    return re.findall(r"<section class='chart' id='section-\d+' data-chart='([^']+)'>", html)


def test_keys_are_unique_and_every_page_has_its_script() -> None:
    keys = [chart.key for page in PAGES for chart in page.charts]
    assert len(keys) == len(set(keys)), keys
    scripts = {path.stem for path in (ROOT / "dashboard" / "views").glob("*.py")}
    assert {page.key for page in PAGES} == scripts


def test_world_converts_where_the_view_does_not() -> None:
    assert registry.PAGES_BY_KEY["world"].currency_fallback == "USD"
    assert all(page.currency_fallback is None for page in PAGES if page.key != "world")


@pytest.mark.parametrize("page", [page for page in PAGES if page.charts], ids=lambda page: page.key)
def test_every_registered_chart_is_on_its_page(prepared: Prepared, page: registry.Page) -> None:
    view = apply_view(prepared, ViewState(currency=page.currency_fallback))
    expected = registered_keys(prepared, view, [page])
    assert expected, f"the registry draws nothing for {page.key}"
    assert page_chart_keys(page.key) == expected


def test_every_registered_chart_is_in_the_snapshot_and_the_deck(prepared: Prepared) -> None:
    for state in (ViewState(), ViewState(currency="EUR", countries=("JP",)), ViewState(lang="ja")):
        view = apply_view(prepared, state)
        expected = registered_keys(prepared, view)
        html = build_report(prepared, state, generated_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC))
        assert report_keys(html) == ["highlights", *expected]
        # The deck leaves out the Overview's programme totals: the Programmes page's chart draws them and more.
        deck = [key for key in expected if key != "overview-totals"]
        assert [section.key for section in slides(prepared, view)] == ["highlights", *deck]
        assert "overview-totals" in expected and "programme-totals" in deck


def test_presenter_mode_counts_the_whole_deck(prepared: Prepared) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception, at.exception
    total = len(slides(prepared, apply_view(prepared, ViewState())))
    assert any(f"Slide 1 of {total} " in md.value for md in at.markdown)


def test_presenter_mode_names_what_its_link_gave_that_it_could_not_use() -> None:
    # The slides were drawn without the page's header, and with it the notice: the values were dropped unsaid.
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in {"present": "1", "every": "abc", "country": "ZZ"}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    warned = " ".join(str(w.value) for w in at.warning).replace("\\", "")  # Markdown's escapes
    assert "every=abc: seconds per slide must be a whole number" in warned and "country=ZZ" in warned, warned
    assert any("Slide 1 of" in md.value for md in at.markdown)


def test_a_new_registry_entry_is_on_its_page_in_the_deck_and_in_the_snapshot(
    prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Adding a chart is one entry: nothing else in the dashboard, the deck or the report changes.
    extra = Chart(
        "world-timeline",
        lambda view: view.programmes,
        lambda rows, money, lang: build_timeline_figure(rows, money=money, lang=lang),
        registry.TIMELINE.table,
        heading="programmes.timeline",
    )
    world = registry.PAGES_BY_KEY["world"]
    grown = replace(world, charts=(*world.charts, extra))
    monkeypatch.setattr(registry, "PAGES", tuple(grown if page is world else page for page in PAGES))
    monkeypatch.setitem(registry.PAGES_BY_KEY, "world", grown)
    assert page_chart_keys("world") == ["world", "world-timeline"]
    view = apply_view(prepared, ViewState())
    assert "world-timeline" in [section.key for section in slides(prepared, view)]
    assert "world-timeline" in report_keys(build_report(prepared, ViewState()))


@pytest.fixture(scope="module")
def generated_prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    from aifunding.analysis.view import prepare
    from aifunding.loading.package import load_package

    from packages import generate

    folder = tmp_path_factory.mktemp("generated") / "package"
    generate(3000, folder, seed=11)  # past the recipient chart's cap: its others bar too
    return prepare(load_package(folder))


@pytest.mark.parametrize("package", ["bundled", "generated"])
@pytest.mark.parametrize(
    "state",
    [ViewState(), ViewState(countries=("JP",)), ViewState(lang="ja"), ViewState(currency="USD", lang="ja")],
    ids=["all", "japan", "ja", "usd-ja"],
)
def test_recipient_charts_take_the_purposes_they_draw_from_the_view(
    request: pytest.FixtureRequest, package: str, state: ViewState
) -> None:
    """The Companies charts' rows leave the awards' purposes out (one text per award in view); each figure
    takes those of the awards it draws from the view, and is the figure of every column of those rows."""
    from aifunding.figures.companies import build_recipient_figure
    from aifunding.figures.presentation import kind_labels

    prepared = request.getfixturevalue("prepared" if package == "bundled" else "generated_prepared")
    view = apply_view(prepared, state, kind_labels(state.lang))
    rows = registry.RECIPIENTS.select(view)
    assert not [name for name in rows.columns if name.startswith("purpose")]
    every = view.lazy_awards.columns(view.lazy_awards.names)
    [main] = draw(registry.RECIPIENTS, prepared, view)
    expected = build_recipient_figure(every, money=view.money, lang=state.lang).to_dict()
    assert main.figure.to_dict() == expected
    if state.currency and package == "bundled":  # Zeureka's award has no date, so no rate: the chart says so
        said = "1件の数値は換算できないため描いていません：発表日がないため発表日のレートを使えない (1)。"
        assert said in main.figure.layout.meta["subtitle"]
    hover = [item[3] for trace in expected["data"] for item in trace.get("customdata") or () if len(item) == 4]
    assert any(isinstance(purpose, str) and purpose for purpose in hover), "the purposes are in the hover"
    families = draw(registry.RECIPIENT_FAMILIES, prepared, view)
    parts = registry.RECIPIENT_FAMILIES.split(rows, view)[: registry.MAX_FAMILIES]
    assert len(families) == len(parts) > 0
    for drawn, (_, _, part) in zip(families, parts, strict=True):
        whole_rows = every.loc[part.index]
        assert drawn.figure.to_dict() == build_recipient_figure(whole_rows, money=view.money, lang=state.lang).to_dict()


def test_a_programme_chart_is_drawn_once_for_the_views_that_give_it_the_same_awards(
    generated_prepared: Prepared,
) -> None:
    """A programme's chart depends on its awards in view (and the money, the language) alone: another view that
    gives the programme the same awards shows the same figure, not one drawn again; one that changes them does not."""
    from aifunding.figures.companies import build_recipient_figure
    from aifunding.figures.presentation import kind_labels

    prepared = generated_prepared

    def families(state: ViewState) -> dict[str, tuple[object, dict]]:
        view = apply_view(prepared, state, kind_labels(state.lang))
        every = view.lazy_awards.columns(view.lazy_awards.names)
        parts = registry.RECIPIENT_FAMILIES.split(registry.RECIPIENT_FAMILIES.select(view), view)
        drawn = draw(registry.RECIPIENT_FAMILIES, prepared, view)
        out = {}
        for shown, (root, _, part) in zip(drawn, parts[: registry.MAX_FAMILIES], strict=True):
            fresh = build_recipient_figure(every.loc[part.index], money=view.money, lang=state.lang).to_dict()
            assert shown.figure.to_dict() == fresh, root  # shared or not, each is its own awards' figure
            out[root] = (shown.figure, set(every["id"].loc[part.index]))
        return out

    japan = families(ViewState(countries=("JP",)))
    wider = families(ViewState(countries=("JP", "GB", "US")))
    shared = [root for root in japan if root in wider]
    assert shared, "a Japanese programme is among the wider view's largest"
    for root in shared:
        assert japan[root][1] == wider[root][1]
        assert wider[root][0] is japan[root][0], root
    # Another language, another currency, or fewer of the programme's awards: drawn for that view.
    for state in (
        ViewState(countries=("JP",), lang="ja"),
        ViewState(countries=("JP",), currency="USD"),
        ViewState(countries=("JP",), date_from=datetime.date(2025, 1, 1)),
    ):
        other = families(state)
        for root in set(other) & set(japan):
            if state.date_from is not None and other[root][1] == japan[root][1]:
                continue  # every award of this programme is dated after the cut: the same awards
            assert other[root][0] is not japan[root][0], (state, root)


def test_each_part_of_a_split_chart_downloads_under_a_name_of_its_own(prepared: Prepared) -> None:
    # Every programme's chart of recipients was saved as awards-by-recipient-…, as the chart of them all is.
    view = apply_view(prepared, ViewState())
    [whole] = registry.draw(registry.RECIPIENTS, prepared, view)
    parts = registry.draw(registry.RECIPIENT_FAMILIES, prepared, view)
    assert whole.name is None and whole.figure.layout.meta["filename"] == "awards-by-recipient"
    assert parts and all(part.name == f"awards-by-recipient-{part.key.removeprefix('recipients-')}" for part in parts)
