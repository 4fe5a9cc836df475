"""Every page in a real browser: loads, draws its charts, no exception box, no console error, accessible."""

from __future__ import annotations

import pytest

from aifunding.i18n import Translator

from conftest import OUTPUT, PAGES
from helpers import drawn_charts, exceptions, open_page, run_axe, screenshot

TITLES = {name: Translator("en")(f"{name}.title") for name in PAGES}

# Pages that must draw at least this many charts on the bundled data with no filter.
MIN_CHARTS = {"overview": 1, "companies": 1, "programmes": 3, "market": 6, "world": 1, "data": 0, "sources": 0}


def path(name: str) -> str:
    """URL path of a page: the default page (Overview) lives at the root."""
    return "" if name == "overview" else name


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_and_draws(page, server, axe_source, name) -> None:
    open_page(page, server, path(name))
    assert exceptions(page) == []
    assert drawn_charts(page, MIN_CHARTS[name]) >= MIN_CHARTS[name]
    violations = run_axe(page, axe_source)
    assert violations == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    assert page.console_errors == []
    screenshot(page, OUTPUT / "1440", name)


@pytest.mark.parametrize("name", PAGES)
def test_page_at_laptop_width(browser, server, name) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        open_page(page, server, path(name))
        drawn_charts(page, MIN_CHARTS[name])
        assert exceptions(page) == []
        screenshot(page, OUTPUT / "1280", name)
    finally:
        context.close()


def test_world_page_in_one_currency_draws(page, server) -> None:
    open_page(page, server, "world", "cur=EUR")
    assert exceptions(page) == []
    assert drawn_charts(page, 1) == 1
    assert "converted to EUR" in page.inner_text("[data-testid='stMain']")
    screenshot(page, OUTPUT / "1440", "world-eur")


def test_empty_filter_shows_a_message_not_an_error(page, server) -> None:
    open_page(page, server, "companies", "country=FR&kind=compute_subsidy")
    assert exceptions(page) == []
    assert "Nothing matches these filters" in page.inner_text("[data-testid='stMain']")


@pytest.mark.parametrize("name", PAGES)
def test_every_page_answers_at_its_own_name(page, server, name) -> None:
    # /overview too, not only the root: a shared link naming any page opens it, marked in the menu.
    open_page(page, server, name, "cur=USD")
    assert exceptions(page) == []
    assert page.locator("[data-testid='stMain'] h1").first.inner_text() == TITLES[name]
    active = page.locator("[data-testid='stSidebarNav'] a[aria-current='page']")
    assert active.count() == 1 and active.get_attribute("href").rstrip("/").endswith(f"/{name}")
    assert "converted to USD" in page.inner_text("[data-testid='stMain']")
