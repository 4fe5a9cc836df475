"""Every page in a real browser: loads, draws its charts, no exception box, no console error, accessible."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest

from aifunding.i18n import Translator

from conftest import OUTPUT, PAGES
from helpers import drawn_charts, exceptions, open_page, run_axe, screenshot, wait_for_app

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


def test_every_page_s_headings_go_down_one_level_at_a_time(page, server, axe_source) -> None:
    # Sections were h3 straight under the page's h1 (axe's heading-order, on six pages), and the Overview's two
    # totals were headings of their own ("¥395.7B" in a screen reader's outline).
    for name in PAGES:
        open_page(page, server, path(name))
        drawn_charts(page, MIN_CHARTS[name])
        page.add_script_tag(content=axe_source)
        result = page.evaluate("async () => await axe.run(document, {runOnly: ['heading-order']})")
        assert result["violations"] == [], (name, [n["target"] for v in result["violations"] for n in v["nodes"]])
        headings = page.locator("[data-testid='stMain'] h1, [data-testid='stMain'] h2, [data-testid='stMain'] h3")
        levels = [int(tag[1]) for tag in headings.evaluate_all("els => els.map(e => e.tagName.toLowerCase())")]
        assert levels and levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels)), name
    assert not page.locator("[data-testid='stMain'] h2, [data-testid='stMain'] h3").filter(has_text="¥395.7B").count()


def test_the_document_s_language_is_the_page_s(page, server) -> None:
    # A screen reader picks its voice by <html lang>: Streamlit writes "en" whatever language the page is in.
    for name, query, lang in (("companies", "lang=ja", "ja"), ("data", "lang=ja&present=1", "ja"), ("", "", "en")):
        open_page(page, server, name, query)
        page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang, timeout=30_000)
    open_page(page, server, "sources", "lang=ja")
    page.wait_for_function("() => document.documentElement.lang === 'ja'", timeout=30_000)
    page.locator(".st-key-w_lang button", has_text="English").click()  # the language switch
    wait_for_app(page)
    page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=30_000)


def test_each_page_names_itself_in_the_browser_s_title(page, server) -> None:
    # Every page's tab (and what a screen reader announces on opening it) read "AI Funding Dashboard".
    for name, query, title in (
        ("", "", "Overview · AI Funding Dashboard"),
        ("companies", "", "Companies · AI Funding Dashboard"),
        ("data", "lang=ja", "データ · AI資金ダッシュボード"),
    ):
        open_page(page, server, name, query)
        page.wait_for_function("title => document.title === title", arg=title, timeout=30_000)


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
    # The filters stay in the sidebar, so the one that emptied the view can be cleared (drawn after the page).
    page.locator("[data-testid='stSidebar'] [data-testid='stDateInput']").last.wait_for()
    sidebar = page.inner_text("[data-testid='stSidebar']")
    assert "Country" in sidebar and "Kind of support" in sidebar, sidebar


@pytest.mark.parametrize("name", PAGES)
def test_every_page_answers_at_its_own_name(page, server, name) -> None:
    # /overview too, not only the root: a shared link naming any page opens it, marked in the menu.
    open_page(page, server, name, "cur=USD")
    assert exceptions(page) == []
    assert page.locator("[data-testid='stMain'] h1").first.inner_text() == TITLES[name]
    active = page.locator("[data-testid='stSidebarNav'] a[aria-current='page']")
    assert active.count() == 1 and active.get_attribute("href").rstrip("/").endswith(f"/{name}")
    assert "converted to USD" in page.inner_text("[data-testid='stMain']")


# --- The news first, and figures readable without a mouse ----------------------------------------


def svg_texts(page) -> list[str]:
    """Every text a chart draws (bar values, annotations, titles), as a reader sees it."""
    return [t or "" for t in page.locator("[data-testid='stPlotlyChart'] svg text").all_text_contents()]


def test_overview_leads_with_the_highlights_above_any_chart(page, server) -> None:
    open_page(page, server, "overview")
    drawn_charts(page, 1)
    main = page.locator("[data-testid='stMain']")
    text = main.inner_text()
    for figure in ("¥387.3B", "up to ¥72.5B", "about 30%"):
        assert figure in text
    first_tile = page.locator("[data-testid='stMetricValue']").first
    assert first_tile.inner_text() == "¥387.3B"
    chart_top = page.locator("[data-testid='stPlotlyChart']").first.bounding_box()["y"]
    assert first_tile.bounding_box()["y"] < chart_top
    # The totals say what they are made of, in the number itself.
    assert "¥395.7B" in text and "up to about ¥127.8B" in text
    screenshot(page, OUTPUT / "1440", "overview-highlights")
    # Each highlight links to the page that shows it in full.
    page.get_by_role("link", name="Open Programmes").click()
    page.wait_for_function("() => location.pathname.endsWith('/programmes')")
    wait_for_app(page)
    assert page.locator("[data-testid='stMain'] h1").first.inner_text() == TITLES["programmes"]


def test_a_total_lists_what_it_added_and_left_out_in_one_click(page, server) -> None:
    open_page(page, server, "overview")
    expander = page.locator("[data-testid='stExpander']").filter(has_text="To AI compute")
    frames = expander.locator("[data-testid='stDataFrame']")
    # Closed: no table shows until asked for (Streamlit may already hold them, hidden, in the page).
    assert not any(frames.nth(i).is_visible() for i in range(frames.count()))
    expander.locator("summary").click()
    frames.nth(1).wait_for(state="visible")
    assert frames.count() == 2
    assert expander.get_by_text("Left out", exact=True).is_visible()
    screenshot(page, OUTPUT / "1440", "overview-explained")


def test_every_bar_carries_its_value_as_text(page, server) -> None:
    open_page(page, server, "companies")
    drawn_charts(page, 1)
    texts = svg_texts(page)
    # SoftBank's two ceilings as one ceiling; Sakura's exact grant never folded into its ceilings.
    assert "up to about ¥47.4B" in texts
    assert "¥600M + up to about ¥56.9B" in texts
    open_page(page, server, "programmes")
    drawn_charts(page, 3)
    assert "up to ¥72.5B" in svg_texts(page)


def test_presenter_mode_opens_on_the_highlights(page, server) -> None:
    open_page(page, server, "overview", "present=1")
    drawn_charts(page, 1)
    texts = svg_texts(page)
    assert "At a glance" in texts
    assert {"¥387.3B", "up to ¥72.5B", "about 30%"} <= set(texts)
    screenshot(page, OUTPUT / "present", "highlights")


def test_each_presenter_slide_has_a_heading_for_screen_readers(page, server) -> None:
    """Presenter mode hides the page's title and sections: each slide is an h1 of its own, read, never seen."""
    open_page(page, server, "overview", "present=1")
    drawn_charts(page, 1)
    headings = page.locator("h1")
    assert headings.count() == 1
    first = headings.first.inner_text()
    assert re.fullmatch(r"Presentation, 1/\d+: At a glance.*", first), first
    # Its element is one clipped pixel, out of the flow: it takes no room on the slide.
    box = page.locator("[data-testid='stElementContainer']:has(h1)").bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1
    page.locator(".st-key-slide_next button").click()
    page.get_by_text("Slide 2 of").wait_for()
    second = page.locator("h1").first.inner_text()
    assert second.startswith("Presentation, 2/") and second != first


def test_space_presses_the_focused_slide_button_not_next(page, server) -> None:
    """Space on a focused button is that button's: on "Previous" it moved to the next slide."""
    open_page(page, server, "overview", "present=1")
    drawn_charts(page, 1)
    page.locator(".st-key-slide_next button").click()
    page.get_by_text("Slide 2 of").wait_for()
    page.locator(".st-key-slide_prev button").focus()
    page.keyboard.press(" ")
    page.get_by_text("Slide 1 of").wait_for()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")  # nothing focused: Space is Next
    page.keyboard.press(" ")
    page.get_by_text("Slide 2 of").wait_for()


def _slides(browser, server, width: int, height: int = 900) -> Iterator[tuple[object, int]]:
    """Presenter mode on a screen ``width`` by ``height`` pixels: each slide in turn, drawn, and its number."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        open_page(page, server, "", "present=1")
        drawn_charts(page, 1)
        total = int(page.get_by_text("Slide 1 of").inner_text().split(" of ")[1].split(" ")[0])
        for n in range(1, total + 1):
            page.get_by_text(f"Slide {n} of {total}").wait_for()
            drawn_charts(page, 1)
            yield page, n
            page.locator(".st-key-slide_next button").click()
        assert exceptions(page) == []
    finally:
        context.close()


def test_every_presenter_slide_fits_one_screen(browser, server) -> None:
    # One chart per screen: the timeline's slide ran 1,396 pixels down a 900-pixel screen, the slide's buttons and
    # the chart's date axis below it; a slide now shows the rows at the top of a long chart and says so.
    notes = 0
    for page, n in _slides(browser, server, 1440):
        bottom = page.locator(".st-key-slide_next button").evaluate("b => b.getBoundingClientRect().bottom")
        height = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
        assert bottom <= 900 and height <= 902, (n, bottom, height)
        notes += page.get_by_text("This slide shows the first").count()
    assert notes >= 3  # the long charts say how many rows they show


def test_a_presenter_on_a_1024_by_768_projector_sees_the_slide_s_buttons_and_its_chart_whole(browser, server) -> None:
    # Under the slide, the buttons were below the fold of a 768-pixel-tall screen: reached only by scrolling.
    for page, n in _slides(browser, server, 1024, 768):
        for key in ("slide_prev", "slide_next", "present_exit"):
            box = page.locator(f".st-key-{key} button").bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 768, (n, key, box)
        chart = page.locator("[data-testid='stPlotlyChart']").first.bounding_box()
        assert chart["y"] + chart["height"] <= 768, (n, chart)


@pytest.mark.parametrize("width", [760, 1024])
def test_a_slide_s_title_ticks_and_buttons_stay_whole_on_a_narrower_screen(browser, server, width: int) -> None:
    # At 1,024 pixels (a projector's) a slide's title, broken for a page's smaller type, ran past the chart's right
    # edge ("... Google) more" for "... more than 60%"), a market's "100%" tick was hidden past it, and "Exit
    # presentation" was cut off in its column.
    hundreds = 0
    for page, n in _slides(browser, server, width):
        chart = page.locator("[data-testid='stPlotlyChart']").first
        edges = chart.evaluate(
            """chart => {
                const right = chart.querySelector('.main-svg').getBoundingClientRect().right;
                const texts = [...chart.querySelectorAll('.gtitle, .xtick text')]
                    .filter(t => getComputedStyle(t).display !== 'none' && t.getBBox().width > 0);
                return {right, over: texts.filter(t => t.getBoundingClientRect().right > right + 1)
                    .map(t => t.textContent),
                    hundred: texts.filter(t => t.textContent === '100%').length};
            }"""
        )
        assert edges["over"] == [], (n, edges)
        hundreds += edges["hundred"]
        for key in ("slide_prev", "slide_next", "present_exit"):
            label = page.locator(f".st-key-{key} button p").first
            assert label.evaluate("p => p.scrollWidth <= p.clientWidth + 1"), (n, key, label.inner_text())
    assert hundreds >= 4  # every market slide keeps its "100%", as the page does


def _overlapping(boxes: list[dict]) -> list[tuple[int, int]]:
    """The pairs of ``boxes`` (bounding boxes) that cover one another."""
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes)
        if i < j
        and a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    ]


@pytest.mark.parametrize("width", [390, 1440])
def test_a_chart_on_a_phone_is_drawn_whole_and_scrolls_sideways(browser, server, width: int) -> None:
    # At 390 pixels plotly drew the Companies chart 358 wide and cut its bars' values, axis title and legend off
    # at the screen's edge, out of reach: it is drawn 640 wide, and its frame scrolls. A wide screen is unchanged.
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        open_page(page, server, "companies")
        drawn_charts(page, 1)
        chart = page.locator("[data-testid='stPlotlyChart']").first
        svg_width, frame_width, scroll_width = chart.evaluate(
            """chart => {
                const frame = chart.closest("[data-testid='stElementContainer']");
                return [chart.querySelector(".main-svg").getBoundingClientRect().width, frame.clientWidth,
                        frame.scrollWidth];
            }"""
        )
        # The chart's title: inside it on a wide screen; on a phone, text above it that wraps to the screen (inside
        # the chart it scrolled off the screen's edge with the chart), the room above the plot taken up.
        title = page.locator(".phone-title .chart-title").first
        drawn_title = chart.locator(".gtitle")
        if width < 640:
            assert svg_width >= 640 and frame_width < 400 and scroll_width >= 640
            assert title.is_visible() and not drawn_title.is_visible()
            # The same words (the chart's own lines join without a space in its text content).
            assert title.inner_text().replace(" ", "") == drawn_title.text_content().split("One bar")[0].replace(
                " ", ""
            )
            box = title.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] > 40  # wrapped, whole
            gap = chart.bounding_box()["y"] - (box["y"] + box["height"])
            assert gap < 120, gap  # not the 150 pixels of the hidden title's room
            screenshot(page, OUTPUT / "390", "companies")
        else:
            assert svg_width == frame_width == scroll_width  # the chart fits its column, as before
            assert drawn_title.is_visible() and not title.is_visible()
        assert exceptions(page) == []
    finally:
        context.close()


@pytest.mark.parametrize(("width", "as_text"), [(1024, True), (1280, False)])
def test_a_chart_s_title_is_never_cut_off_at_its_edge(browser, server, width: int, as_text: bool) -> None:
    # With the sidebar open on a 1,024-pixel screen a chart is 564 pixels wide, and plotly cut its title off up to
    # 289 pixels past its edge; at 1,280 (820 wide) subtitles ran 20 to 33 pixels past. A column narrower than 800
    # pixels shows the title as text above the chart, which wraps; a wider one draws it, broken to fit.
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        for name in ("overview", "programmes", "market", "companies", "world"):
            open_page(page, server, name)
            count = drawn_charts(page, 1)
            page.wait_for_timeout(1500)  # the page's later charts too
            count = drawn_charts(page, count)
            found = page.evaluate(
                """() => [...document.querySelectorAll("[data-testid='stPlotlyChart']")].map(chart => {
                    const right = chart.getBoundingClientRect().right;
                    const drawn = chart.querySelector('.gtitle');
                    const shown = drawn && getComputedStyle(drawn).display !== 'none';
                    const text = chart.closest("[data-testid='stVerticalBlock']").querySelector('.phone-title');
                    const box = text && text.getBoundingClientRect();
                    return {shown, over: shown ? drawn.getBoundingClientRect().right - right : 0,
                            text: !!(box && box.height > 0), textOver: box && box.height ? box.right - right : 0};
                })"""
            )
            assert found, name
            for n, chart in enumerate(found):
                assert chart["over"] <= 1 and chart["textOver"] <= 1, (name, n, chart)
                assert chart["shown"] != as_text and chart["text"] == as_text, (name, n, chart)
        assert exceptions(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("query", ["", "cur=USD"])
def test_no_text_of_a_chart_runs_past_its_edge_on_the_narrowest_chart(browser, server, query: str) -> None:
    # With the sidebar open on a 1,024-pixel screen a chart is 564 pixels wide: the value at the end of the
    # Companies page's longest bar read "up to ¥387.3E", its room reckoned for a plot 560 pixels wide where the
    # names beside it leave about 300.
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    try:
        for name in ("companies", "programmes", "world"):
            open_page(page, server, name, query)
            count = drawn_charts(page, 1)
            page.wait_for_timeout(1500)  # the page's later charts too
            drawn_charts(page, count)
            past = page.evaluate(
                """() => [...document.querySelectorAll("[data-testid='stPlotlyChart']")].flatMap((chart, n) => {
                    const right = chart.getBoundingClientRect().right;
                    return [...chart.querySelectorAll('.main-svg text')]
                        .filter(text => text.textContent && text.getBoundingClientRect().width > 0)
                        .map(text => [n, text.textContent, text.getBoundingClientRect().right - right])
                        .filter(([, , over]) => over > 1);
                })"""
            )
            assert past == [], (name, past)
        assert exceptions(page) == []
    finally:
        context.close()


def test_a_presenter_s_chart_on_a_phone_keeps_its_title_in_sight(browser, server) -> None:
    # A follower's phone: the slide's chart is drawn 640 pixels wide and scrolls, its title text above it.
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        open_page(page, server, "", "present=1")
        page.locator(".st-key-slide_next button").click()
        drawn_charts(page, 1)
        title = page.locator(".phone-title .chart-title").first
        title.wait_for()
        box = title.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and "¥387.3B" in title.inner_text()
        assert not page.locator("[data-testid='stPlotlyChart'] .gtitle").first.is_visible()
        assert exceptions(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 760, 1024])
def test_presenter_highlights_never_print_over_one_another(browser, server, width: int) -> None:
    # At 390 pixels (a phone following a live presenter) the three figures printed over each other, and at
    # 1,024 the outer two were drawn towards the middle, over the next one: a phone gets stacked cards instead.
    # From 640 to 899 pixels the cards stood side by side and cut their figures off ("up to ¥7…").
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        open_page(page, server, "", "present=1")
        cards = page.locator(".st-key-slide-cards [data-testid='stMetricValue']")
        chart = page.locator(".st-key-slide-highlights [data-testid='stPlotlyChart']")
        if width < 900:
            cards.first.wait_for()
            assert [cards.nth(i).inner_text() for i in range(cards.count())] == ["¥387.3B", "up to ¥72.5B", "about 30%"]
            assert not chart.is_visible()
            boxes = [cards.nth(i).bounding_box() for i in range(cards.count())]
            assert all(cards.nth(i).evaluate("e => e.scrollWidth <= e.clientWidth + 1") for i in range(3))
            assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]  # one under another
        else:
            drawn_charts(page, 1)
            assert not cards.first.is_visible()
            figures = (
                chart.locator("g.annotation", has_text="¥387.3B")
                .or_(chart.locator("g.annotation", has_text="up to ¥72.5B"))
                .or_(chart.locator("g.annotation", has_text="about 30%"))
            )
            assert figures.count() == 3
            boxes = [figures.nth(i).bounding_box() for i in range(3)]
        assert _overlapping(boxes) == [], boxes
        assert exceptions(page) == []
        screenshot(page, OUTPUT / "present", f"highlights-{width}")
    finally:
        context.close()
