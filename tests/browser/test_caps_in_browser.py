"""The pages' caps as a reader meets them in Chromium, on a package of 1,200 recipients in ten rounds.

The largest recipients and one bar for the rest, eight per-programme charts and a count of the others,
a table paged on the server, and a filter of thousands of names that is a search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from aifunding.figures.companies import TOP_RECIPIENTS
from aifunding.figures.registry import MAX_FAMILIES

from conftest import OUTPUT
from helpers import drawn_charts, exceptions, open_page, wait_for_app
from packages import crowded_tables, write_package
from serving import ROOT, free_port, start_server, stop_server

RECIPIENTS, ROUNDS = 1200, 10
PAGE_SPECS_BYTES = 2_000_000


@pytest.fixture(scope="module")
def crowded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = write_package(tmp_path_factory.mktemp("crowded") / "pkg", crowded_tables(RECIPIENTS, ROUNDS))
    env = {"AIFUNDING_DATA": str(folder), "AIFUNDING_CACHE": str(tmp_path_factory.mktemp("cache"))}
    port = free_port()
    process = start_server(ROOT / "dashboard" / "app.py", port, OUTPUT.parent / "crowded-server.log", env)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


def _plots(page) -> list[dict]:
    """Each drawn chart's data and layout, as the browser holds them."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot"))
            .map(plot => ({data: plot.data, layout: plot.layout}))"""
    )


def test_companies_draws_the_largest_recipients_one_bar_for_the_rest_and_eight_programmes(
    page, crowded_server: str
) -> None:
    open_page(page, crowded_server, "companies")
    assert drawn_charts(page, at_least=1 + MAX_FAMILIES) == 1 + MAX_FAMILIES
    plots = _plots(page)
    labels = plots[0]["layout"]["yaxis"]["categoryarray"]
    others = f"Others ({RECIPIENTS + 2 - TOP_RECIPIENTS:,} recipients)"
    assert len(labels) == TOP_RECIPIENTS + 1 and labels[0] == others
    # The bar of everyone else is drawn, named on its axis, like any other.
    first = page.locator("[data-testid='stPlotlyChart']").first
    assert others in first.locator(".ytick text").all_text_contents()
    assert page.get_by_text("3 more programmes have several funded recipients").count() == 1
    assert sum(len(json.dumps(plot)) for plot in plots) < PAGE_SPECS_BYTES
    assert not exceptions(page) and not page.console_errors


def test_a_long_table_is_paged_on_the_server(page, crowded_server: str) -> None:
    open_page(page, crowded_server, "companies")
    drawn_charts(page, at_least=1)
    page.locator(".st-key-recipients-show summary").click()
    # The rerun the click asks for may not have begun when the page is first seen settled: wait for what it draws.
    page.get_by_text(f"Rows 1–1,000 of {RECIPIENTS + 2:,}").wait_for()
    wait_for_app(page)
    assert page.get_by_text(f"Rows 1–1,000 of {RECIPIENTS + 2:,}").count() == 1
    number = page.locator(".st-key-recipients-data-page input")
    number.fill("2")
    number.press("Enter")
    page.get_by_text(f"Rows 1,001–{RECIPIENTS + 2:,} of {RECIPIENTS + 2:,}").wait_for()
    wait_for_app(page)
    assert page.get_by_text(f"Rows 1,001–{RECIPIENTS + 2:,} of {RECIPIENTS + 2:,}").count() == 1
    assert not exceptions(page)


def test_a_filter_of_thousands_of_names_is_a_search(page, crowded_server: str) -> None:
    open_page(page, crowded_server, "companies")
    page.wait_for_selector(".st-key-w_org_find input")  # the sidebar's controls may draw after the page settles
    search = page.locator(".st-key-w_org_find input")
    search.fill("firm 119")
    search.press("Enter")
    wait_for_app(page)
    page.locator(".st-key-w_org input").click()
    page.wait_for_selector("[role='option']")
    options = page.locator("[role='option']").all_inner_texts()
    # Streamlit's own "Select all" heads the list; the names are the ten the search matched.
    assert [o for o in options if o != "Select all"] == [f"Firm 119{n}" for n in range(10)]
    page.locator("[role='option']", has_text="Firm 1195").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.search.includes('org=firm-1195')")
    wait_for_app(page)
    assert not exceptions(page)
