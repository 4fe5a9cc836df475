"""Presenter mode's slides fit one screen: a chart of more rows than fit shows those at its top, and says so."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from aifunding.analysis.view import Prepared, ViewState, apply_view
from aifunding.figures.lines import display_width
from aifunding.figures.slides import PANEL_GAP_PX, SLIDE_HEIGHT, SLIDE_ROW_PX, SLIDE_TITLE_WIDTH, fit_slide, slide_type
from aifunding.outputs.snapshot import slides


def _slide(figure: go.Figure) -> go.Figure:
    """The deck's figure as presenter mode draws it (ui.present): bigger type, room for the bigger title."""
    slide = go.Figure(figure.to_dict())
    slide.update_layout(font={"size": 16}, margin={"t": slide.layout.margin.t + 30})
    return slide


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_slide_is_one_screen_tall_and_shows_the_top_of_a_long_chart(prepared: Prepared, lang: str) -> None:
    deck = {
        section.key: _slide(section.figure) for section in slides(prepared, apply_view(prepared, ViewState(lang=lang)))
    }
    fitted = {key: fit_slide(figure) for key, figure in deck.items()}
    # No slide repeats another: the Overview's programme totals and the Programmes page's were two slides of one title.
    titles = [figure.layout.meta["title"] for figure in deck.values()]
    assert len(set(titles)) == len(titles), titles
    # The timeline's 36 announcements ran 1,126 pixels down on the page's chart, the World chart's 1,270.
    assert all(figure.layout.height == SLIDE_HEIGHT for figure in deck.values())
    assert {"timeline", "recipients", "programme-totals", "world"} <= {k for k, v in fitted.items() if v}
    assert fitted["highlights"] is None and fitted["market-subsidies"] is None  # short: drawn whole
    timeline = deck["timeline"]
    shown, total = fitted["timeline"]
    assert total == len(timeline.layout.yaxis.categoryarray) == 36 and 5 <= shown < total
    # The newest, drawn at the top: the last categories.
    assert list(timeline.layout.yaxis.range) == [total - shown - 0.5, total - 0.5]
    plot = SLIDE_HEIGHT - timeline.layout.margin.t - timeline.layout.margin.b
    assert shown * SLIDE_ROW_PX <= plot
    recipients = deck["recipients"]
    top = recipients.layout.yaxis.categoryarray[-1]
    assert top.startswith("Noetra")  # the largest stays on the slide
    low, high = recipients.layout.yaxis.range
    assert high == len(recipients.layout.yaxis.categoryarray) - 0.5 and low > -0.5
    # A name wraps on two lines at most on a slide (three at the page's width), so more rows fit.
    assert all(text.count("<br>") <= 1 for text in recipients.layout.yaxis.ticktext)
    # Two panels: the plans' below the committed money's, each showing its top rows, none overlapping.
    totals = deck["programme-totals"]
    upper, lower = totals.layout.yaxis.domain, totals.layout.yaxis2.domain
    assert lower[0] == 0 and lower[1] < upper[0] and upper[1] == 1
    gap = (upper[0] - lower[1]) * (SLIDE_HEIGHT - totals.layout.margin.t - totals.layout.margin.b)
    assert gap == pytest.approx(PANEL_GAP_PX)
    assert totals.layout.yaxis2.range[1] == len(totals.layout.yaxis2.categoryarray) - 0.5


def test_the_highlights_slide_reads_in_the_display_currency_too(bundled) -> None:
    """In dollars the Overview's tile adds "≈ $2.38B (rate of 30 Jun 2026)"; the slide (and the snapshot's
    highlights, cards included) showed the yen alone, beside charts in dollars."""
    from aifunding.analysis.view import ViewState, apply_view, prepare
    from aifunding.outputs.snapshot import slides

    prepared = prepare(bundled)
    first = slides(prepared, apply_view(prepared, ViewState(currency="USD", countries=("JP",))))[0]
    assert first.key == "highlights"
    texts = [annotation.text for annotation in first.figure.layout.annotations]
    assert "≈ $2.38B (rate of 30 Jun 2026)" in texts and "<b>¥387.3B</b>" in texts
    assert "≈ $2.38B (rate of 30 Jun 2026)" in first.figure.layout.meta["alt"]
    assert first.cards[0][2] == "FY2026 · 30 Jun 2026 · exact · ≈ $2.38B (rate of 30 Jun 2026)"
    original = slides(prepared, apply_view(prepared, ViewState(countries=("JP",))))[0]
    assert not [a.text for a in original.figure.layout.annotations if a.text.startswith("≈")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_slide_s_title_is_broken_for_its_bigger_type(prepared: Prepared, lang: str) -> None:
    """Broken at a page's 84 columns, a 24-pixel title ran past a 1,024-pixel screen's edge; the room above the
    plot grows with its lines, and the right margin holds a market's "100%" tick."""
    for section in slides(prepared, apply_view(prepared, ViewState(lang=lang))):
        figure = go.Figure(section.figure.to_dict())
        meta = figure.layout.meta
        slide_type(figure)
        title, _, below = figure.layout.title.text.partition("<br><span")
        assert all(display_width(line) <= SLIDE_TITLE_WIDTH for line in title.split("<br>")), title
        assert title.replace("<br>", "").replace(" ", "") == meta["title"].replace(" ", "")
        breaks, lines = title.count("<br>"), below.count("<br>") + 1 if below else 0
        assert figure.layout.margin.t == 94 + 30 * breaks + 26 * lines
        assert figure.layout.margin.r >= 36 and figure.layout.font.size == 16 and figure.layout.title.font.size == 24
