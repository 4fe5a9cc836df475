"""Chart builders tested as data: the figure dict's traces, title, subtitle and meta, no browser.

Also the presentation helpers behind the overview: headline figures (each euro or yen counted once)
and the milestones table's overdue flag.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis.conversion import ORIGINAL
from aifunding.analysis.view import Prepared, ViewState, apply_view, prepare
from aifunding.data.vocabulary import Basis
from aifunding.figures import base
from aifunding.figures.base import amount_frame, left_out_note
from aifunding.figures.companies import TICK_LINES, build_recipient_figure
from aifunding.figures.lines import SUBTITLE_WIDTH, TICK_LINE_PX, band_height, display_width, legend_room, wrap
from aifunding.figures.market import build_market_figure
from aifunding.figures.presentation import milestones_table
from aifunding.figures.programmes import build_annualised_figure, build_programme_totals_figure
from aifunding.figures.timeline import build_timeline_figure
from aifunding.figures.world import build_world_figure
from aifunding.loading.package import load_package
from aifunding.money.formatting import basis_label

BASIS_WORDS = {basis_label(b) for b in Basis}
NOTHING = "Nothing matches these filters."


def layout(fig: go.Figure) -> dict:
    return fig.to_plotly_json()["layout"]


def title_text(fig: go.Figure) -> str:
    """The title without the subtitle, its wrapping undone."""
    return layout(fig)["title"]["text"].split("<br><span")[0].replace("<br>", " ")


def subtitle_html(fig: go.Figure) -> str:
    """The subtitle as drawn: its parts, each wrapped, joined by <br>."""
    return layout(fig)["title"]["text"].split("<br><span", 1)[1].split(">", 1)[1].removesuffix("</span>")


def subtitle_text(fig: go.Figure) -> str:
    return subtitle_html(fig).replace("<br>", " ")


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype=object)


def values(trace_values) -> list:
    """Trace coordinates as a plain list, whether plotly keeps them as a list, tuple or array."""
    return [v.item() if hasattr(v, "item") else v for v in trace_values]


# --- amount_frame and left_out_note ----------------------------------------------------------------------

MIXED = [
    {"id": "a", "amount": Decimal("100"), "currency": "USD"},
    {"id": "b", "amount": Decimal("200"), "currency": "USD"},
    {"id": "c", "amount": Decimal("300"), "currency": "JPY"},
    {"id": "d", "amount": None, "currency": None},
    {"id": "e", "amount": Decimal("400"), "currency": "EUR"},
]


@pytest.mark.parametrize(
    ("rows", "drawn"),
    [
        # JPY, the dashboard's home currency, wins even when outnumbered
        (MIXED, ["c"]),
        # without JPY, the most common currency
        ([r for r in MIXED if r["currency"] != "JPY"], ["a", "b"]),
        # nothing with an amount: nothing to draw
        ([MIXED[3]], []),
    ],
)
def test_amount_frame_draws_one_currency(rows: list[dict], drawn: list[str]) -> None:
    awards = frame(rows)
    before = awards.copy()
    result = amount_frame(awards, "amount", "currency")
    assert list(result["id"]) == drawn
    assert result["currency"].nunique() <= 1
    pd.testing.assert_frame_equal(before, awards)


def test_left_out_note_names_the_currencies_not_drawn() -> None:
    awards = frame(MIXED)
    drawn = amount_frame(awards, "amount", "currency")
    assert left_out_note(awards, drawn, "amount", "currency") == (
        "Only JPY figures are drawn; 3 in EUR, USD are not. Show amounts in one currency to convert and compare them."
    )
    only_jpy = frame([MIXED[2], MIXED[3]])
    assert left_out_note(only_jpy, amount_frame(only_jpy, "amount", "currency"), "amount", "currency") is None
    assert left_out_note(frame([MIXED[3]]), frame([MIXED[3]]).iloc[:0], "amount", "currency") is None


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_left_out_note_counts_with_grouped_digits(lang: str) -> None:
    """At a million awards the note read "817239 in CAD, EUR, ...": a count reads 1,200 as every {n} does."""
    awards = frame([MIXED[2], *({"id": f"u{i}", "amount": Decimal(i + 1), "currency": "USD"} for i in range(1200))])
    note = left_out_note(awards, amount_frame(awards, "amount", "currency"), "amount", "currency", lang=lang)
    assert "1,200" in note and "1200" not in note


# --- recipients ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recipient_figure(prepared: Prepared) -> go.Figure:
    """The Companies chart on every bundled award."""
    return build_recipient_figure(prepared.awards)


def test_recipient_title_names_the_top_recipient(recipient_figure: go.Figure) -> None:
    assert title_text(recipient_figure) == (
        "Noetra + National Institute of Advanced Industrial Science and Technology (AIST) (joint) "
        "received the most: up to ¥387.3B across 1 award"
    )


def test_recipient_traces_carry_their_basis(recipient_figure: go.Figure) -> None:
    names = [trace.name for trace in recipient_figure.data]
    assert names
    for name in names:
        programme, _, words = name.rpartition(" · ")
        assert programme and words in BASIS_WORDS, name
    assert "Cloud Program: 2024-04-19 round · up to about" in names


def test_joint_project_is_one_bar_and_amounts_are_all_drawn(recipient_figure: go.Figure, prepared: Prepared) -> None:
    categories = list(layout(recipient_figure)["yaxis"]["categoryarray"])
    assert categories.count("RUTILEA + AI Fukushima (joint)") == 1
    assert not {"RUTILEA", "AI Fukushima", "Highreso", "Highreso Kagawa"} & set(categories)
    assert categories[-1].startswith("Noetra + ")  # largest last: drawn at the top
    drawn = {}
    for trace in recipient_figure.data:
        for label, x in zip(trace.y, trace.x, strict=True):
            drawn[label] = drawn.get(label, 0) + x
    assert set(drawn) == set(categories)
    assert drawn["RUTILEA + AI Fukushima (joint)"] == 2_560_000_000
    assert drawn["Sakura Internet"] == 57_500_000_000
    # An amount inside its segment is level or hidden, never turned on its side to fit a narrow one.
    assert {trace.textangle for trace in recipient_figure.data} == {0}
    jpy = prepared.awards[prepared.awards["currency"] == "JPY"]
    assert sum(drawn.values()) == pytest.approx(float(sum(jpy["amount"].dropna())))


def test_recipient_meta(recipient_figure: go.Figure, prepared: Prepared) -> None:
    meta = layout(recipient_figure)["meta"]
    assert meta["alt"].startswith(title_text(recipient_figure) + ". ")
    # Each total written by kind of basis, as its bar is: one number added a ceiling to money paid ("¥57.5B").
    assert "RUTILEA + AI Fukushima (joint): up to about ¥2.56B" in meta["alt"]
    assert "Sakura Internet: ¥600M + up to about ¥56.9B;" in meta["alt"]
    assert meta["filename"] == "awards-by-recipient"
    with_amount = prepared.awards[prepared.awards["amount"].notna()]
    assert set(meta["row_ids"]) == set(with_amount["id"])
    assert meta["source_ids"] == sorted({s for ids in with_amount[C.SOURCE_IDS] for s in ids})
    assert "caveat-03" in meta["caveat_ids"]


def test_recipient_chart_in_another_currency_says_what_it_left_out() -> None:
    awards = frame(
        [
            {"id": "a", "amount": Decimal("5"), "currency": "JPY", "basis": "exact", C.PROJECT_LABEL: "A",
             C.PROGRAMME_NAME_EN: "P", "announced": "2024", "purpose_en": "x", C.SOURCE_IDS: (), C.CAVEAT_IDS: ()},
            {"id": "b", "amount": Decimal("7"), "currency": "USD", "basis": "exact", C.PROJECT_LABEL: "B",
             C.PROGRAMME_NAME_EN: "P", "announced": "2024", "purpose_en": "y", C.SOURCE_IDS: (), C.CAVEAT_IDS: ()},
        ]
    )  # fmt: skip
    fig = build_recipient_figure(awards)
    assert title_text(fig) == "A received the most: ¥5 across 1 award"
    assert "Only JPY figures are drawn; 1 in USD are not." in subtitle_text(fig)
    assert {label for trace in fig.data for label in trace.y} == {"A"}


def test_long_recipient_names_take_three_lines_in_bands_that_keep_them_apart() -> None:
    """Joint projects of several institutes wrapped to four or five lines ran into their neighbours' names."""
    long = " + ".join(f"Synthetic Company {i:06} (synthetic, not real)" for i in range(3)) + " (joint)"
    # Three that differ at the end only, two in the middle only (cut alike, so written whole), two short ones.
    middle = [long.replace("000001", other) for other in ("000007", "000008")]
    names = [f"{long} {n}" for n in range(3)] + middle + ["KDDI", "A"]
    awards = frame(
        [
            {"id": f"a{n}", "amount": Decimal(100 - n), "currency": "JPY", "basis": "exact", C.PROJECT_LABEL: name,
             C.PROGRAMME_NAME_EN: "P", "announced": "2024", "purpose_en": "x", C.SOURCE_IDS: (), C.CAVEAT_IDS: ()}
            for n, name in enumerate(names)
        ]
    )  # fmt: skip
    yaxis = layout(build_recipient_figure(awards))["yaxis"]
    ticks = dict(zip(yaxis["tickvals"], yaxis["ticktext"], strict=True))
    assert len(set(ticks.values())) == len(names)  # never two bars named alike
    for n in range(3):  # first lines, then "…" and the name's own end
        tick = ticks[f"{long} {n}"].split("<br>")
        assert len(tick) == TICK_LINES and tick[-1].startswith("… ") and tick[-1].endswith(f"(joint) {n}")
    assert all(ticks[name].count("<br>") >= TICK_LINES and "…" not in ticks[name] for name in middle)
    assert ticks["KDDI"] == "KDDI"
    lines = [tick.count("<br>") + 1 for tick in yaxis["ticktext"]]
    assert list(yaxis["categoryarray"]) == list(yaxis["tickvals"])  # the hover and the table keep whole names
    assert set(yaxis["categoryarray"]) == set(names)
    figure = build_recipient_figure(awards)
    spec = layout(figure)
    legend = legend_room(len(figure.data), len({trace.legendgroup for trace in figure.data}))
    plot = spec["height"] - spec["margin"]["t"] - spec["margin"]["b"] - legend
    # Two long neighbours, each centred in its band, meet no nearer than halfway, whatever the legend takes.
    assert plot / len(names) >= TICK_LINE_PX * max(lines)
    assert band_height(["A", "B<br>C"]) == 40  # short names keep the usual 40 px
    assert legend_room(1, 1) == 0 and legend_room(0, 0) == 0  # one entry fits the margin under the axis
    assert legend_room(26, 9) >= 548 - 39 and legend_room(6, 5) >= 140 - 39  # as measured in Chromium


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["Synthetic", "Company", "研究所", "と", "（共同）", "+", "AIST", "x" * 40]), max_size=30),
    st.integers(min_value=8, max_value=40),
    st.integers(min_value=1, max_value=4),
)
def test_wrap_to_at_most_so_many_lines(words: list[str], width: int, max_lines: int) -> None:
    text = " ".join(words)
    whole, cut = wrap(text, width), wrap(text, width, max_lines=max_lines)
    if whole.count("<br>") < max_lines:
        assert cut == whole
        return
    lines = cut.split("<br>")
    assert len(lines) == max_lines
    assert whole.split("<br>")[: max_lines - 1] == lines[:-1]  # the lines kept are the text's own
    assert lines[-1].startswith("…") and text.endswith(lines[-1].removeprefix("…").strip())  # and its end
    assert display_width(lines[-1]) <= width  # the kept lines are wrap's own, whatever their width


def test_wrap_takes_at_least_one_line() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        wrap("a long name " * 10, 10, max_lines=0)


@given(st.lists(st.integers(min_value=1, max_value=5), max_size=12))
def test_band_height_keeps_neighbouring_labels_apart(lines: list[int]) -> None:
    ticks = ["<br>".join("x" * n) for n in lines]
    band = band_height(ticks)
    assert band >= 40
    for a, b in itertools.pairwise(lines):
        assert band >= TICK_LINE_PX * (a + b) / 2


_NAMES = st.text(alphabet="abcdefghij 東京大学", max_size=40)


@given(
    st.lists(st.tuples(st.floats(min_value=1, max_value=1e12), _NAMES), min_size=1, max_size=8),
    st.lists(st.lists(_NAMES, min_size=1, max_size=3), max_size=8),
)
def test_a_bar_s_value_ends_inside_the_narrowest_chart_beside_its_names(
    ends: list[tuple[float, str]], names: list[list[str]]
) -> None:
    """On a 564-pixel chart (a 1,024-pixel screen with the sidebar open) beside names of up to three lines, each
    value written at its bar's end stays within the chart (its right margin included), unless it is too long to
    fit beside a bar of 40% of the plot; the axis always holds every bar."""
    ticks = ["<br>".join(lines) for lines in names]
    top = max(value for value, _ in ends)
    end = base.labelled_range(top, ends, ticks)["range"][1]
    widest = max((display_width(line) for lines in names for line in lines), default=0)
    names_px = widest * base.LABEL_CHAR_PX + base.TICK_GAP_PX if widest else 0
    plot = base.NARROW_CHART_PX - base.MARGIN_L_PX - base.MARGIN_R_PX - names_px
    assert end >= top * base.LABEL_ROOM
    for value, text in ends:
        bar = value / end * plot
        label = display_width(text) * base.LABEL_CHAR_PX + base.LABEL_GAP_PX
        too_long = label - base.MARGIN_R_PX > (1 - base.MIN_BAR_SHARE) * plot
        assert bar + label <= plot + base.MARGIN_R_PX + 1e-6 * plot or too_long


def test_names_beside_the_plot_make_more_room_for_the_values_at_the_bars_ends() -> None:
    # The Companies page's first bar: "up to ¥387.3B" beside names wrapped at 34 columns ran 60 pixels past the edge.
    alone = base.labelled_range(387.3, [(387.3, "up to ¥387.3B")])["range"][1]
    beside = base.labelled_range(387.3, [(387.3, "up to ¥387.3B")], ["Highreso + Highreso Kagawa (joint)"])["range"][1]
    assert beside > alone


# --- market shares ---------------------------------------------------------------------------------------

MARKET = [
    {"id": "aws", "segment_en": "AWS", "share_low": Decimal(40), "share_high": Decimal(50), "basis": "range",
     "rank": 1},
    {"id": "big3", "segment_en": "Big three", "share_low": Decimal(60), "share_high": None, "basis": "more_than",
     "rank": None},
    {"id": "dom", "segment_en": "Domestic", "share_low": Decimal(30), "share_high": Decimal(30), "basis": "about",
     "rank": None},
    {"id": "google", "segment_en": "Google", "share_low": None, "share_high": None, "basis": "rank_only", "rank": 4},
]  # fmt: skip


def market_frame() -> pd.DataFrame:
    shares = frame(MARKET)
    shares["market_en"] = "Cloud, FY2020"
    shares["framing"] = "JFTC estimate"
    shares[C.SOURCE_IDS] = [("src-a",)] * len(shares)
    shares[C.CAVEAT_IDS] = [()] * len(shares)
    return shares


def test_market_ranges_are_bars_from_low_to_high() -> None:
    shares = market_frame()
    before = shares.copy()
    fig = build_market_figure(shares)
    [bars] = [t for t in fig.data if t.type == "bar"]
    by_segment = {y: (b, x) for y, b, x in zip(bars.y, bars.base, bars.x, strict=True)}
    # A range is a bar based at its low, as wide as the range; "more than" is open-ended to 100%.
    assert by_segment == {"AWS": (40.0, 10.0), "Big three": (60.0, 40.0)}
    assert dict(zip(bars.y, bars.marker.pattern.shape, strict=True)) == {"AWS": "", "Big three": "."}
    [points] = [t for t in fig.data if t.type == "scatter"]
    assert dict(zip(points.y, points.x, strict=True)) == {"Domestic": 30.0, "Big three": 60.0}
    assert list(points.text) == ["about 30%", "more than 60%"]
    assert list(layout(fig)["xaxis"]["range"]) == [0, 100]
    pd.testing.assert_frame_equal(before, shares)


def test_market_rank_only_is_named_not_drawn() -> None:
    fig = build_market_figure(market_frame())
    drawn = {y for trace in fig.data for y in trace.y}
    assert "Google" not in drawn
    assert subtitle_text(fig) == "JFTC estimate · Ranked without a share figure: #4 Google"
    assert title_text(fig) == "Cloud, FY2020: Big three more than 60%"
    meta = layout(fig)["meta"]
    assert meta["row_ids"] == ["aws", "big3", "dom", "google"]
    assert meta["source_ids"] == ["src-a"]
    assert meta["filename"] == "market-share-cloud-fy2020"


def test_bundled_market_figures_keep_each_market_apart(prepared: Prepared) -> None:
    for market, shares in prepared.market_shares.groupby("market_id"):
        fig = build_market_figure(shares)
        assert set(layout(fig)["meta"]["row_ids"]) == set(shares["id"]), market
        assert title_text(fig).startswith(shares["market_en"].iloc[0] + ": ")


# --- world -----------------------------------------------------------------------------------------------


def test_world_figure_hatches_targets(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(currency="USD"))
    fig = build_world_figure(view.programmes, money=view.money)
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"Committed or budgeted", "Target or plan (not committed)"}
    assert traces["Committed or budgeted"].marker.pattern.shape == ""
    assert traces["Target or plan (not committed)"].marker.pattern.shape == "/"
    targets = view.programmes[(view.programmes["basis"] == "target") & view.programmes[C.AMOUNT_CONVERTED].notna()]
    target_labels = {f"{c} · {n}" for c, n in zip(targets[C.COUNTRY_NAME_EN], targets["name_en"], strict=True)}
    assert target_labels and set(traces["Target or plan (not committed)"].y) == target_labels
    assert not target_labels & set(traces["Committed or budgeted"].y)
    assert layout(fig)["xaxis"]["title"]["text"] == "USD"
    # The $323.68B ten-year goal is drawn, hatched, but the title names the largest money committed, as the
    # programme totals' does: a target read as the largest figure in the title.
    assert title_text(fig).startswith("Largest committed: Japan's AI and Semiconductor Industrial Base")
    assert title_text(fig).endswith(", at least $65.02B")
    only_plans = build_world_figure(view.programmes[view.programmes["basis"] == "target"], money=view.money)
    assert title_text(only_plans).startswith("Only plans and targets here; the largest is Japan's ")
    assert title_text(only_plans).endswith(": $323.68B (target)")


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            "9 figures could not be converted and are not drawn: "
            "no announcement date, so no announcement-date rate (9).",
        ),
        ("ja", "9件の数値は換算できないため描いていません：発表日がないため発表日のレートを使えない (9)。"),
    ],
)
def test_world_and_programme_charts_say_which_figures_they_could_not_convert(
    prepared: Prepared, lang: str, words: str
) -> None:
    """Nine programmes have no announcement date, so no rate: the EU's €10B among them was missing from the World
    chart with nothing on it to say so (only the sentence above the charts counted them)."""
    view = apply_view(prepared, ViewState(currency="USD", lang=lang))
    unconverted = view.programmes[view.programmes["amount"].notna() & view.programmes[C.AMOUNT_CONVERTED].isna()]
    assert len(unconverted) == 9 and "eu-supercomputing-ai-factories-2021-2027" in set(unconverted["id"])
    fig = build_world_figure(view.programmes, money=view.money, lang=lang)
    assert words in subtitle_text(fig) and words in layout(fig)["meta"]["alt"]
    assert "eu-supercomputing-ai-factories-2021-2027" not in layout(fig)["meta"]["row_ids"]
    # The programme totals' chart, of programmes and rounds, says the same of those it draws from.
    shown = view.programmes[view.programmes["level"].isin(["programme", "round"])]
    totals = build_programme_totals_figure(shown, money=view.money, lang=lang)
    failed = int((shown["amount"].notna() & shown[C.AMOUNT_CONVERTED].isna()).sum())
    assert failed == 7 and (f"{failed}件の数値" if lang == "ja" else f"{failed} figures could not") in subtitle_text(
        totals
    )
    # In original currencies nothing is converted, so nothing is said of it.
    plain = apply_view(prepared, ViewState(lang=lang))
    said = subtitle_text(build_programme_totals_figure(plain.programmes, money=plain.money, lang=lang))
    assert "could not be converted" not in said and "換算できない" not in said


def test_world_figure_draws_the_largest_of_each_panel_and_says_how_many_there_are(
    prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aifunding.figures import programmes

    view = apply_view(prepared, ViewState(currency="USD"))
    whole = build_world_figure(view.programmes, money=view.money)
    drawn = {t.name: list(t.y) for t in whole.data}
    monkeypatch.setattr(programmes, "TOP_PROGRAMMES", 3)
    committed, plans = (len(drawn[name]) for name in ("Committed or budgeted", "Target or plan (not committed)"))
    assert committed > 3 and plans > 3
    # Each panel's part: the six drawn are not the six largest of them all.
    for lang, words in (
        ("en", f"Drawn: the largest 3 of {committed} programmes with money committed, and the largest 3 of {plans}"),
        ("ja", f"確約・予算化済みの事業{committed}件のうち大きい順に3件と、目標・計画{plans}件のうち大きい順に3件"),
    ):
        fig = build_world_figure(view.programmes, money=view.money, lang=lang)
        if lang == "en":
            # The last three of each panel as the whole chart orders them: the largest, smallest first.
            assert {t.name: list(t.y) for t in fig.data} == {name: y[-3:] for name, y in drawn.items()}
        assert words in subtitle_text(fig) and words in layout(fig)["meta"]["alt"]
        assert layout(fig)["meta"]["row_ids"] is None
    assert not {"Drawn", "drawn"} & set(subtitle_text(whole).split()) and layout(whole)["meta"]["row_ids"]
    # Past its cap its "Show data" lists every programme it could draw (each panel's), none it could not: it listed
    # every programme in view, other currencies' and those without an amount too.
    from aifunding.figures import registry

    for chart, currency in ((registry.WORLD, "USD"), (registry.PROGRAMME_TOTALS, "JPY")):
        view = registry.chart_view(chart, prepared, apply_view(prepared, ViewState()))
        [shown] = registry.draw(chart, prepared, view)
        assert layout(shown.figure)["meta"]["row_ids"] is None, chart.key
        rows = chart.select(view)
        drawable = rows[rows[view.money.value_column].notna() & (rows[view.money.currency_column] == currency)]
        assert set(shown.rows.column("id")) == set(drawable["id"]) and len(drawable) < len(rows), chart.key


# --- programmes ------------------------------------------------------------------------------------------

PROGRAMMES = [
    {"id": "r-apr", "name_en": "April round", "amount": Decimal("72500000000"), "currency": "JPY", "basis": "up_to",
     "status": "active", "announced": "2024-04-19", C.N_AWARDS: 5, C.ALLOCATED: Decimal("72530000000"),
     C.ALLOCATED_BY_BASIS: {"up_to_about": Decimal("72530000000")},
     C.ANNUALISED: None},
    {"id": "r-may", "name_en": "May round", "amount": Decimal("42100000000"), "currency": "JPY", "basis": "up_to",
     "status": "active", "announced": "2023-06", C.N_AWARDS: 1, C.ALLOCATED: Decimal("42100000000"),
     C.ALLOCATED_BY_BASIS: {"up_to": Decimal("42100000000")},
     C.ANNUALISED: Decimal("21050000000")},
    {"id": "goal", "name_en": "Ten-year goal", "amount": Decimal("50000000000000"), "currency": "JPY",
     "basis": "target", "status": "planned", "announced": "2016", C.N_AWARDS: 0, C.ALLOCATED: None,
     C.ANNUALISED: Decimal("5000000000000")},
    {"id": "gb", "name_en": "Undated", "amount": Decimal("36000000"), "currency": "GBP", "basis": "exact",
     "status": "active", "announced": None, C.N_AWARDS: 0, C.ALLOCATED: None, C.ANNUALISED: Decimal("36000000")},
]  # fmt: skip


def programme_frame() -> pd.DataFrame:
    programmes = frame(PROGRAMMES)
    programmes[C.COUNTRY_NAME_EN] = ["Japan", "Japan", "Japan", "United Kingdom"]
    programmes[C.SOURCE_IDS] = [("src-a",), ("src-b",), ("src-a",), ("src-c",)]
    programmes[C.CAVEAT_IDS] = [("cv-1",), (), (), ()]
    return programmes


def test_programme_totals_set_declared_beside_allocated() -> None:
    programmes = programme_frame()
    before = programmes.copy()
    fig = build_programme_totals_figure(programmes)
    declared, allocated, goal = fig.data
    assert declared.name == goal.name == "Declared amount (hatched: target or plan)"
    assert allocated.name == "Sum of named awards"
    # Smallest first, so the largest is drawn at the top; the GBP row is not mixed in.
    assert list(declared.y) == ["May round (up to)", "April round (up to)"]
    assert values(declared.x) == [42.1e9, 72.5e9]
    assert values(allocated.x) == [42.1e9, 72.53e9]
    assert list(allocated.text) == ["up to ¥42.1B", "up to about ¥72.53B"]
    # Its hover writes the sum as its label does, basis and all: it read "72,530,000,000 JPY".
    assert [row[0] for row in allocated.customdata] == ["up to ¥42.1B", "up to about ¥72.53B"]
    assert "%{customdata[0]}" in allocated.hovertemplate and "%{x" not in allocated.hovertemplate
    # The ¥50T goal sits in its own panel, hatched, on its own scale, so it cannot flatten the rounds.
    assert (list(goal.y), values(goal.x), goal.marker.pattern.shape) == (
        ["Ten-year goal (target, planned)"],
        [50e12],
        "/",
    )
    assert (goal.xaxis, goal.yaxis, goal.showlegend) == ("x2", "y2", False)
    assert layout(fig)["xaxis"]["range"][1] < 1e12 and layout(fig)["xaxis2"]["range"][1] > 50e12
    # The ¥50T goal is drawn, hatched, but the title names the largest money committed.
    assert title_text(fig) == "Largest committed: April round, up to ¥72.5B"
    only_plans = build_programme_totals_figure(programmes[programmes["basis"] == "target"])
    assert title_text(only_plans) == "Only plans and targets here; the largest is Ten-year goal: ¥50T (target)"
    assert "Only JPY figures are drawn; 1 in GBP are not." in subtitle_text(fig)
    assert layout(fig)["meta"]["row_ids"] == ["r-may", "r-apr", "goal"]
    assert layout(fig)["meta"]["caveat_ids"] == ["cv-1"]
    pd.testing.assert_frame_equal(before, programmes)


def test_programme_totals_say_which_rounds_with_awards_have_no_declared_amount_to_draw() -> None:
    programmes = programme_frame()
    assert "no declared amount" not in subtitle_text(build_programme_totals_figure(programmes))
    undeclared = programmes.iloc[[1]].assign(id="r-2023", name_en="2023 approvals", amount=None, **{C.N_AWARDS: 4})
    with_round = pd.concat([programmes, undeclared], ignore_index=True)
    fig = build_programme_totals_figure(with_round)
    note = "1 programme or round with named awards but no declared amount is not drawn"
    assert note in subtitle_text(fig) and note in layout(fig)["meta"]["alt"]
    # The chart is on Overview, Programmes and Market, in the snapshot and on a slide: it points to the one page
    # with the nesting table, where it said "the nesting table below", which only the Programmes page has.
    assert "the Programmes page's nesting table gives its awards' sum." in " ".join(subtitle_text(fig).split())
    assert "2023 approvals" not in {label for trace in fig.data for label in trace.y}
    # A round with neither an amount nor awards (nothing to add up) is not counted.
    empty = undeclared.assign(id="r-none", **{C.N_AWARDS: 0})
    again = build_programme_totals_figure(pd.concat([with_round, empty], ignore_index=True))
    assert note in subtitle_text(again)
    ja = build_programme_totals_figure(with_round, lang="ja")
    assert "金額が公表されていない1件の事業・公募は描いていません" in subtitle_text(ja)
    assert "「事業別」ページの入れ子の表に" in "".join(subtitle_text(ja).split())


def test_programme_totals_draw_the_largest_of_each_panel_and_say_how_many_there_are() -> None:
    from aifunding.figures.programmes import TOP_PROGRAMMES

    rounds = [
        {**PROGRAMMES[0], "id": f"r-{n}", "name_en": f"Round {n}", "amount": Decimal(1000 + n) * 10**6}
        for n in range(TOP_PROGRAMMES + 15)
    ]
    goals = [
        {**PROGRAMMES[2], "id": f"g-{n}", "name_en": f"Goal {n}", "amount": Decimal(10**12) + n}
        for n in range(TOP_PROGRAMMES + 5)
    ]
    many = frame([*rounds, *goals, PROGRAMMES[3]])
    many[C.SOURCE_IDS] = [("src-a",)] * len(many)
    many[C.CAVEAT_IDS] = [()] * len(many)
    for lang, words in (
        ("en", "Drawn: the largest 30 of 45 programmes and rounds with money committed, and the largest 30 of 35"),
        ("ja", "確約・予算化済みの事業・回45件のうち大きい順に30件と、目標・計画35件のうち大きい順に30件です"),
    ):
        fig = build_programme_totals_figure(many, lang=lang)
        declared, allocated, goal = fig.data
        # The largest of each panel, smallest first: committed rounds 15..44, goals 5..34; nothing added up.
        assert [label.split(" (")[0].split("（")[0] for label in declared.y] == [
            f"Round {n}" for n in range(15, TOP_PROGRAMMES + 15)
        ]
        assert values(declared.x) == [float((1000 + n) * 10**6) for n in range(15, TOP_PROGRAMMES + 15)]
        assert len(allocated.y) == TOP_PROGRAMMES
        assert [label.split(" (")[0].split("（")[0] for label in goal.y] == [f"Goal {n}" for n in range(5, 35)]
        assert words in subtitle_text(fig)
        assert words in layout(fig)["meta"]["alt"]
        # Past the cap the ids are left out: the table behind the chart lists every programme.
        assert layout(fig)["meta"]["row_ids"] is None
        assert "GBP" in subtitle_text(fig)  # what another currency left out is still said
    # Under the cap nothing is said and every id is named.
    assert "programmes and rounds are drawn" not in subtitle_text(build_programme_totals_figure(programme_frame()))


def many_programmes(committed: int, plans: int) -> pd.DataFrame:
    """``committed`` Japanese rounds of about ¥1B and ``plans`` targets of about ¥1T, the largest last."""
    rounds = [
        {**PROGRAMMES[0], "id": f"r-{n}", "name_en": f"Round {n}", "amount": Decimal(1000 + n) * 10**6}
        for n in range(committed)
    ]
    goals = [
        {**PROGRAMMES[2], "id": f"g-{n}", "name_en": f"Goal {n}", "amount": Decimal(10**12) + n} for n in range(plans)
    ]
    many = frame([*rounds, *goals])
    many[C.COUNTRY_NAME_EN] = "Japan"
    many[C.SOURCE_IDS] = [("src-a",)] * len(many)
    many[C.CAVEAT_IDS] = [()] * len(many)
    many[C.FX_RATE] = many[C.FX_RATE_DATE] = None
    return many


SHOW_DATA = {"en": "; “Show data” lists them all", "ja": "。すべては「データを表示」にあります"}
# What each chart says it drew of 40 rounds beside 3, 35 or no targets (one panel: today's sentence), of
# 1 round beside 35 targets, and of 30 rounds beside 3 targets (all drawn: nothing).
PANEL_NOTES = {
    ("programme", "en", 40, 3): "Drawn: the largest 30 of 40 programmes and rounds with money committed, "
    "and all 3 targets and plans",
    ("programme", "en", 40, 35): "Drawn: the largest 30 of 40 programmes and rounds with money committed, "
    "and the largest 30 of 35 targets and plans",
    ("programme", "en", 40, 0): "The largest 30 of 40 programmes and rounds are drawn",
    ("programme", "en", 1, 35): "Drawn: the 1 programme or round with money committed, "
    "and the largest 30 of 35 targets and plans",
    ("programme", "ja", 40, 3): "表示しているのは、確約・予算化済みの事業・回40件のうち大きい順に30件と、"
    "目標・計画の全3件です",
    ("programme", "ja", 40, 35): "表示しているのは、確約・予算化済みの事業・回40件のうち大きい順に30件と、"
    "目標・計画35件のうち大きい順に30件です",
    ("programme", "ja", 40, 0): "事業・回40件のうち大きい順に30件を表示しています",
    ("programme", "ja", 1, 35): "表示しているのは、確約・予算化済みの事業・回の全1件と、"
    "目標・計画35件のうち大きい順に30件です",
    ("world", "en", 40, 3): "Drawn: the largest 30 of 40 programmes with money committed, and all 3 targets and plans",
    ("world", "en", 40, 35): "Drawn: the largest 30 of 40 programmes with money committed, "
    "and the largest 30 of 35 targets and plans",
    ("world", "en", 40, 0): "The largest 30 of 40 programmes are drawn",
    ("world", "en", 1, 35): "Drawn: the 1 programme with money committed, and the largest 30 of 35 targets and plans",
    ("world", "ja", 40, 3): "表示しているのは、確約・予算化済みの事業40件のうち大きい順に30件と、目標・計画の全3件です",
    ("world", "ja", 40, 35): "表示しているのは、確約・予算化済みの事業40件のうち大きい順に30件と、"
    "目標・計画35件のうち大きい順に30件です",
    ("world", "ja", 40, 0): "事業40件のうち大きい順に30件を表示しています",
    ("world", "ja", 1, 35): "表示しているのは、確約・予算化済みの事業の全1件と、目標・計画35件のうち大きい順に30件です",
}


@pytest.mark.parametrize(
    ("chart", "lang", "committed", "plans"),
    [*PANEL_NOTES, *((c, g, 30, 3) for c in ("programme", "world") for g in ("en", "ja"))],
)
def test_capped_programme_charts_say_what_they_drew_of_each_panel(
    chart: str, lang: str, committed: int, plans: int
) -> None:
    from aifunding.figures.programmes import TOP_PROGRAMMES

    many = many_programmes(committed, plans)
    if chart == "world":
        fig = build_world_figure(many, money=ORIGINAL, lang=lang)
    else:
        fig = build_programme_totals_figure(many, lang=lang)
    # Each panel draws its largest, whatever the other holds.
    names = [label.split(" (")[0].split("（")[0].split(" · ")[-1] for trace in fig.data for label in trace.y]
    assert set(names) == {f"Round {n}" for n in range(max(0, committed - TOP_PROGRAMMES), committed)} | {
        f"Goal {n}" for n in range(max(0, plans - TOP_PROGRAMMES), plans)
    }
    note = PANEL_NOTES.get((chart, lang, committed, plans))
    if note is None:  # every row drawn
        assert layout(fig)["meta"]["row_ids"] and not {"Drawn", "drawn"} & set(subtitle_text(fig).split())
        assert "表示しているのは" not in subtitle_text(fig) and "大きい順" not in subtitle_text(fig)
        return
    # The note is one whole part of the subtitle (wrapped as it is) and ends the text alternative.
    sentence = note + SHOW_DATA[lang]
    assert f"<br>{wrap(sentence, SUBTITLE_WIDTH)}<br>" in f"<br>{subtitle_html(fig)}<br>"
    assert layout(fig)["meta"]["alt"].endswith(f". {sentence}")
    assert layout(fig)["meta"]["row_ids"] is None


def test_annualised_figure_draws_the_largest_per_year_and_says_how_many_there_are(
    prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aifunding.figures import programmes, registry

    view = apply_view(prepared, ViewState(currency="USD"))
    whole = build_annualised_figure(view.programmes, money=view.money)
    (bars,) = whole.data
    assert len(bars.y) > 3 and "are drawn" not in subtitle_text(whole) and layout(whole)["meta"]["row_ids"]
    chart_view = registry.chart_view(registry.ANNUALISED, prepared, view)
    rows = registry.ANNUALISED.select(chart_view)  # the page's chart: programmes that are not budget frames
    drawable = layout(build_annualised_figure(rows, money=view.money))["meta"]["row_ids"]
    monkeypatch.setattr(programmes, "TOP_PROGRAMMES", 3)
    fig = build_annualised_figure(view.programmes, money=view.money)
    (capped,) = fig.data
    assert list(capped.y) == list(bars.y[-3:]) and values(capped.x) == values(bars.x[-3:])
    words = f"The 3 largest per year of {len(bars.y)} programmes are drawn"
    assert words in subtitle_text(fig) and words in layout(fig)["meta"]["alt"]
    assert layout(fig)["meta"]["row_ids"] is None
    ja = build_annualised_figure(view.programmes, money=view.money, lang="ja")
    assert f"事業{len(bars.y)}件のうち年あたりの額が大きい順に3件" in subtitle_text(ja)
    # Past its cap its "Show data" lists every programme it could draw: those with a period and an amount in the
    # currency drawn. It listed every programme in view, those without a period too.
    [shown] = registry.draw(registry.ANNUALISED, prepared, chart_view)
    assert layout(shown.figure)["meta"]["row_ids"] is None
    assert set(shown.rows.column("id")) == set(drawable) and 3 < len(drawable) < len(rows)


def test_timeline_spans_partial_dates_and_skips_undated() -> None:
    fig = build_timeline_figure(programme_frame())
    assert title_text(fig) == "3 announcements from 2016 to 19 Apr 2024"
    spans, japan = fig.data
    assert japan.name == "Japan" and japan.mode == "markers"
    assert list(japan.y) == ["Ten-year goal", "May round", "April round"]
    # The period each date stands for, as a line from its first day to the end of its last: a year, a month (a day
    # is its marker alone). Not error bars, which plotly.js never draws on a date axis.
    assert spans.mode == "lines" and not spans.showlegend and spans.name == japan.name
    day = datetime.timedelta(days=1)
    segments = list(zip(spans.x[0::3], spans.x[1::3], spans.y[0::3], strict=True))
    assert [(pd.Timestamp(a).date(), pd.Timestamp(b).date() - day, y) for a, b, y in segments] == [
        (datetime.date(2016, 1, 1), datetime.date(2016, 12, 31), "Ten-year goal"),
        (datetime.date(2023, 6, 1), datetime.date(2023, 6, 30), "May round"),
    ]
    assert list(spans.x[2::3]) == list(spans.y[2::3]) == [None, None]  # a gap between two programmes' lines
    assert "Undated" not in layout(fig)["meta"]["alt"]


def test_timeline_wraps_long_names_and_keeps_japan_s_colour_in_every_view(prepared: Prepared) -> None:
    from aifunding.figures.base import PALETTE

    def colours(state: ViewState) -> dict[str, str]:
        view = apply_view(prepared, state)
        fig = build_timeline_figure(view.programmes)
        return {trace.name: trace.marker.color for trace in fig.data if trace.mode == "markers"}, fig

    every, fig = colours(ViewState())
    some, _ = colours(ViewState(countries=("SG", "JP", "KR")))
    # By the order of first announcement, Singapore took Japan's dark blue at a million awards.
    assert every["Japan"] == some["Japan"] == PALETTE[0]
    assert list(some) == ["Japan", "South Korea", "Singapore"]  # then by id: KR, SG
    # Names wrap as the bar charts' do: unwrapped, they took most of the chart's width from its dates.
    yaxis = layout(fig)["yaxis"]
    assert list(yaxis["tickvals"]) == list(yaxis["categoryarray"])
    assert any("<br>" in text for text in yaxis["ticktext"])
    assert all(len(line) <= 44 and text.count("<br>") <= 1 for text in yaxis["ticktext"] for line in text.split("<br>"))


def test_annualised_figure_labels_years_and_flags_targets() -> None:
    fig = build_annualised_figure(programme_frame())
    [bars] = fig.data
    assert list(bars.y) == ["May round (2 yrs)", "Ten-year goal (10 yrs)"]
    assert values(bars.x) == [21.05e9, 5e12]
    assert list(bars.marker.pattern.shape) == ["", "/"]
    assert title_text(fig) == "Largest per year: Ten-year goal, ¥5T a year (a target, not committed)"
    # A year's share keeps its figure's basis: "up to ¥42.1B" over two years is up to ¥21.05B a year.
    assert list(bars.text) == ["up to ¥21.05B", "¥5T (target)"]
    assert "May round (2 yrs): up to ¥21.05B a year" in layout(fig)["meta"]["alt"]
    committed = build_annualised_figure(programme_frame().query("basis != 'target'"))
    assert title_text(committed) == "Largest per year: May round, up to ¥21.05B a year"


def test_bundled_programme_figures_build(prepared: Prepared) -> None:
    programmes = prepared.programmes[prepared.programmes["level"].isin(["programme", "round"])]
    for builder in (build_programme_totals_figure, build_timeline_figure, build_annualised_figure):
        fig = builder(programmes)
        meta = layout(fig)["meta"]
        assert meta["alt"] and meta["filename"] and meta["row_ids"], builder.__name__
        assert set(meta["row_ids"]) <= set(programmes["id"])


# --- empty frames ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "source"),
    [
        (build_recipient_figure, "awards"),
        (build_programme_totals_figure, "programmes"),
        (build_timeline_figure, "programmes"),
        (build_annualised_figure, "programmes"),
        (build_market_figure, "market_shares"),
    ],
)
def test_empty_frames_give_an_empty_figure(prepared: Prepared, builder, source: str) -> None:
    fig = builder(getattr(prepared, source).iloc[:0])
    # No market share in view says so (4c229fc): its slide has no sidebar, and the view may hold awards.
    said = "No market share figures for the countries in view." if source == "market_shares" else NOTHING
    assert fig.data == ()
    assert title_text(fig).startswith(said)
    assert not layout(fig).get("annotations")  # said once: it was said again in the middle of an empty plot
    assert layout(fig)["meta"]["alt"].startswith(said)


def test_world_figure_without_converted_amounts_is_empty(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(currency="USD", countries=("KR",), organisations=("kddi",)))
    assert title_text(build_world_figure(view.programmes, money=view.money)).startswith(NOTHING)


# --- presentation: committed money -----------------------------------------------------------------------


# --- presentation: milestones ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due_date", "due_fy", "status", "today", "overdue"),
    [
        # a month-precise due date is overdue only once that month is over
        ("2024-12", None, "pending", "2025-01-15", True),
        ("2025-01", None, "pending", "2025-01-15", False),
        # a day: overdue the day after, not on the day
        ("2025-01-15", None, "unconfirmed", "2025-01-15", False),
        ("2025-01-14", None, "unconfirmed", "2025-01-15", True),
        # a Japanese fiscal year N ends on 31 March of N + 1
        (None, 2024, "on_track", "2025-03-31", False),
        (None, 2024, "on_track", "2025-04-01", True),
        # settled milestones are never overdue
        ("2020", None, "met", "2025-01-15", False),
        ("2020", None, "not_met", "2025-01-15", False),
    ],
)
def test_milestones_table_flags_overdue(minimal: Path, due_date, due_fy, status, today, overdue) -> None:
    package = load_package(minimal)
    milestones = frame(
        [
            {"id": "m", "programme_id": None, "award_id": "award-a", "description_en": "Opens", "due_date": due_date,
             "due_fiscal_year": due_fy, "timing": "by", "status": status, "status_as_of": "2024-12-19", "note": None},
        ]
    )  # fmt: skip
    table = milestones_table(milestones, package, today=today)
    [status_cell] = list(table["Status"])
    assert status_cell.endswith("(due date passed)") is overdue, status_cell
    assert table.at[0, "Programme or award"] == "GPU cloud"
    # Looked up in a prepared view's awards instead, the table is the same (the dashboard's way: the
    # package's own awards, a million rows read from disk, are not needed).
    prepared = prepare(package)
    with_view = milestones_table(milestones, package, today=today, awards=prepared.awards)
    pd.testing.assert_frame_equal(with_view, table)


# --- Readable without hovering -----------------------------------------------------------------------


def test_every_recipient_bar_carries_its_total_as_text(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState())
    fig = build_recipient_figure(view.awards)
    totals = {a.y: a.text for a in fig.layout.annotations}
    # SoftBank's two rounds (up to ¥42.1bn and up to about ¥5.3bn) read as one ceiling at the end of its bar.
    assert totals["SoftBank Corp."] == "up to about ¥47.4B"
    assert totals["KDDI"] == "up to about ¥10.24B"
    # Sakura's exact ¥600m staff grant is never folded into its ceilings.
    assert totals["Sakura Internet"] == "¥600M + up to about ¥56.9B"
    # A bar of several awards also writes each award in its segment (hidden where it does not fit);
    # a bar of one award has its value at the end only.
    segments = {(y, text) for trace in fig.data for y, text in zip(trace.y, trace.text, strict=True) if text}
    assert ("SoftBank Corp.", "up to ¥42.1B") in segments and ("SoftBank Corp.", "up to about ¥5.3B") in segments
    assert not any(y == "KDDI" for y, _ in segments)
    assert layout(fig)["uniformtext"] == {"minsize": 10, "mode": "hide"}
    # Text inside a segment reads against its colour: white on blue, black on orange.
    colours = {trace.marker.color: trace.textfont.color for trace in fig.data}
    assert colours["#0072B2"] == "#ffffff" and colours["#E69F00"] == "#000000"
    assert set(totals) == {y for trace in fig.data for y in trace.y}
    # The axis leaves room for the longest bar's label.
    assert fig.layout.xaxis.range[1] > max(a.x for a in fig.layout.annotations)


@pytest.mark.parametrize("builder", [build_programme_totals_figure, build_world_figure, build_annualised_figure])
def test_every_bar_writes_its_value(prepared: Prepared, builder) -> None:
    view = apply_view(prepared, ViewState(currency="USD"))
    fig = builder(view.programmes, money=view.money)
    bars = [t for t in fig.data if t.type == "bar"]
    assert bars
    for trace in bars:
        assert trace.textposition == "outside"
        drawn = [text for text, x in zip(trace.text, trace.x, strict=True) if x == x and x is not None]
        # Every drawn bar's value in the chosen currency, worded with its basis where it has one.
        assert drawn and all("$" in text for text in drawn), drawn


def test_world_draws_targets_on_their_own_scale(prepared: Prepared) -> None:
    # InvestAI's €200bn goal would flatten every committed bar on one axis: plans get their own panel.
    view = apply_view(prepared, ViewState(currency="USD"))
    fig = build_world_figure(view.programmes, money=view.money)
    traces = {t.name: t for t in fig.data}
    committed, plans = traces["Committed or budgeted"], traces["Target or plan (not committed)"]
    assert (committed.xaxis, committed.yaxis) == ("x", "y") and (plans.xaxis, plans.yaxis) == ("x2", "y2")
    assert fig.layout.xaxis.range[1] < max(plans.x)  # the committed axis ends well before the largest plan
    assert fig.layout.xaxis2.range[1] > max(plans.x)
    assert fig.layout.xaxis2.title.text == "USD, targets and plans (own scale)"
    assert fig.layout.yaxis2.domain[1] < fig.layout.yaxis.domain[0]


def test_a_title_naming_the_largest_committed_never_names_a_planned_or_shelved_programme(prepared: Prepared) -> None:
    """In dollars, Canada's Fall Economic Statement 2024 (up to, planned) led: "Largest committed: Fall Economic
    Statement 2024 ... up to $10.74B", its own bar reading "(up to, planned)"; on World, two shelved UK
    commitments sat among the committed with no mark."""
    view = apply_view(prepared, ViewState(currency="USD", fx_at=datetime.date(2026, 10, 30)))
    planned = set(view.programmes.loc[view.programmes["status"] != "active", "name_en"])
    for figure in (
        build_programme_totals_figure(view.programmes, money=view.money),
        build_world_figure(view.programmes, money=view.money),
    ):
        title = figure.layout.title.text.split("<span")[0].replace("<br>", " ")
        assert title.startswith("Largest committed: ")
        assert not [name for name in planned if name in title], title
    world = build_world_figure(view.programmes, money=view.money)
    labels = [label for trace in world.data for label in trace.y]
    assert "United Kingdom · AIRR further £500m commitment (shelved)" in labels
