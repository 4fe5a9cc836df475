"""The view state: filters (masks and the sentence above the charts) and its encoding in the URL."""

from __future__ import annotations

import datetime
import re
from dataclasses import FrozenInstanceError

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.urlstate import Vocabulary, decode, encode, worded
from aifunding.analysis.urlstate import vocabulary as package_vocabulary
from aifunding.analysis.view import FILTERS, Prepared, ViewState, apply_view, date_mask, fx_reasons
from aifunding.data.dates import partial_bounds
from aifunding.i18n import LANGUAGES, translate

D = datetime.date
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["id"])


@pytest.fixture(scope="module")
def vocabulary(prepared: Prepared) -> Vocabulary:
    """What a URL may name in the bundled package: the dashboard's own vocabulary."""
    return package_vocabulary(prepared)


# --- partial dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        # a day is itself
        ("2024-04-19", D(2024, 4, 19), D(2024, 4, 19)),
        # a month runs from its first to its last day, leap years included
        ("2023-06", D(2023, 6, 1), D(2023, 6, 30)),
        ("2024-02", D(2024, 2, 1), D(2024, 2, 29)),
        ("2023-02", D(2023, 2, 1), D(2023, 2, 28)),
        ("2023-12", D(2023, 12, 1), D(2023, 12, 31)),
        # a year is the calendar year
        ("2016", D(2016, 1, 1), D(2016, 12, 31)),
    ],
)
def test_partial_bounds(value: str, first: datetime.date, last: datetime.date) -> None:
    assert partial_bounds(value) == (first, last)


DATES = pd.Series(["2024-04-19", "2023-06", "2016", None], index=[10, 20, 30, 40], dtype=object)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # no bound: every row, undated ones included
        (None, None, [True, True, True, True]),
        # a month overlaps a range that touches only its last or first day
        (D(2023, 6, 30), None, [True, True, False, False]),
        (D(2023, 7, 1), None, [True, False, False, False]),
        (None, D(2023, 6, 1), [False, True, True, False]),
        (None, D(2023, 5, 31), [False, False, True, False]),
        # a year overlaps a single day inside it
        (D(2016, 12, 31), D(2016, 12, 31), [False, False, True, False]),
        # a day is kept only inside the range, ends included
        (D(2024, 4, 19), D(2024, 4, 19), [True, False, False, False]),
        (D(2024, 4, 20), None, [False, False, False, False]),
    ],
)
def test_date_mask_keeps_rows_whose_period_overlaps(start, end, expected) -> None:
    before = DATES.copy()
    mask = date_mask(DATES, start, end)
    assert list(mask) == expected
    assert list(mask.index) == list(DATES.index)
    pd.testing.assert_series_equal(before, DATES)


# --- ViewState -------------------------------------------------------------------------------------------


def test_view_state_is_frozen_and_with_returns_a_copy() -> None:
    state = ViewState()
    changed = state.with_(countries=("JP",), currency="USD")
    assert state == ViewState()
    assert changed.countries == ("JP",)
    with pytest.raises(FrozenInstanceError):
        state.countries = ("JP",)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("state", "fx"),
    [
        # original currencies: no conversion
        (ViewState(), None),
        # a currency: converted at each announcement date, or at one fixed date
        (ViewState(currency="USD"), FxChoice("USD")),
        (ViewState(currency="USD", fx_at="2024-04-19"), FxChoice("USD", "2024-04-19")),
    ],
)
def test_view_state_fx(state: ViewState, fx: FxChoice | None) -> None:
    assert state.fx == fx


# --- apply_view and the sentence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "sentence"),
    [
        # one organisation: its awards across rounds, counted under their one programme
        (
            ViewState(organisations=("sakura-internet",)),
            "Showing 3 awards in 1 programme to Sakura Internet; amounts in their original currencies.",
        ),
        # one country and one kind
        (
            ViewState(countries=("KR",), kinds=("model_development",)),
            "Showing 5 awards in 1 programme in South Korea, for model_development; "
            "amounts in their original currencies.",
        ),
        # a fixed conversion date is named
        (
            ViewState(organisations=("kddi",), currency="USD", fx_at="2024-04-19"),
            "Showing 1 award in 1 programme to KDDI; amounts converted to USD at the ECB reference rate of "
            "19 Apr 2024.",
        ),
        # nothing left
        (ViewState(countries=("KR",), organisations=("kddi",)), "Nothing matches these filters."),
    ],
)
def test_sentence(prepared: Prepared, state: ViewState, sentence: str) -> None:
    assert apply_view(prepared, state).sentence() == sentence


def test_sentence_names_kinds_by_their_labels(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(kinds=("compute_subsidy",)), {"compute_subsidy": "Compute subsidies"})
    assert "for Compute subsidies;" in view.sentence()


def test_organisation_filter_finds_every_sakura_award(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(organisations=("sakura-internet",)))
    assert ids(view.awards) == {
        "jp-cloud-2023-06-sakura",
        "jp-cloud-2024-02-sakura-govcloud-grant",
        "jp-cloud-2024-04-sakura",
    }
    # The programme and the rounds that awarded Sakura, not the ones that did not.
    assert {"jp-cloud-program", "jp-cloud-2023-approvals", "jp-cloud-2024-04"} <= ids(view.programmes)
    assert "jp-cloud-2024-05" not in ids(view.programmes)


def test_programme_filter_includes_rounds_beneath_it(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(programmes=("jp-cloud-program",)))
    assert len(view.awards) == 11
    assert set(view.awards["programme_id"]) == {
        "jp-cloud-2023-approvals",
        "jp-cloud-2024-02-sakura-govcloud",
        "jp-cloud-2024-04",
        "jp-cloud-2024-05",
    }


def test_date_filter_counts_undated_rows_it_leaves_out(prepared: Prepared) -> None:
    undated = prepared.programmes[(prepared.programmes["country_id"] == "GB") & prepared.programmes["announced"].isna()]
    assert len(undated) == 3  # the two shelved commitments and the Dawn expansion
    view = apply_view(prepared, ViewState(countries=("GB",), date_from=D(2023, 1, 1)))
    assert view.undated_excluded == 3
    assert ids(undated).isdisjoint(ids(view.programmes))
    assert view.sentence().endswith(
        "announced from 1 Jan 2023; amounts in their original currencies. "
        "3 undated rows are left out by the date filter."
    )


def test_date_filter_on_everything_counts_every_undated_row(prepared: Prepared) -> None:
    expected = int(prepared.awards["announced"].isna().sum() + prepared.programmes["announced"].isna().sum())
    view = apply_view(prepared, ViewState(date_to=D(2100, 1, 1)))
    assert view.undated_excluded == expected > 0
    # Without a date filter undated rows are shown and nothing is said about them.
    everything = apply_view(prepared, ViewState())
    assert everything.undated_excluded == 0
    assert "undated" not in everything.sentence()


def test_currency_view_converts_and_names_what_it_could_not(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(currency="USD"))
    assert view.value_column == C.AMOUNT_CONVERTED
    kddi = view.awards.set_index("id").loc["jp-cloud-2024-04-kddi"]
    assert kddi[C.FX_RATE_DATE] == "2024-04-19"
    assert "could not be converted: no announcement date, so no announcement-date rate" in view.sentence()


def test_the_reasons_a_figure_was_not_converted_count_with_grouped_digits() -> None:
    # The sentence above the charts and a chart's note word them alike; at a million awards "(817239)".
    from aifunding.analysis.conversion import NO_DATE_NOTE

    assert fx_reasons({NO_DATE_NOTE: 1200, "no published amount": 3}, "en") == (
        "no announcement date, so no announcement-date rate (1,200); no published amount (3)"
    )
    assert fx_reasons({NO_DATE_NOTE: 1200}, "ja").endswith("(1,200)")


def test_apply_view_does_not_touch_the_prepared_frames(prepared: Prepared) -> None:
    before = {name: getattr(prepared, name).copy() for name in ("awards", "programmes", "market_shares")}
    apply_view(prepared, ViewState(countries=("JP",), currency="USD", date_from=D(2024, 1, 1)))
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, getattr(prepared, name))


# A filter returns a subset -------------------------------------------------------------------------------

LIST_FIELDS = [flt.state_field for flt in FILTERS]


def vocabulary_lists(prepared: Prepared) -> dict[str, list[str]]:
    return {
        "countries": sorted(prepared.package.frame("countries")["id"]),
        "programmes": sorted(prepared.programmes["id"]),
        "kinds": sorted(set(prepared.programmes["kind"])),
        "organisations": sorted({o for recipients in prepared.awards[C.RECIPIENT_IDS] for o in recipients}),
    }


def draw_filters(data: st.DataObject, prepared: Prepared) -> dict[str, object]:
    """Random filter values from the bundled vocabulary; an empty tuple means "no filter"."""
    vocab = vocabulary_lists(prepared)
    changes: dict[str, object] = {
        field: tuple(data.draw(st.lists(st.sampled_from(vocab[field]), max_size=3, unique=True), label=field))
        for field in LIST_FIELDS
    }
    dates = st.none() | st.dates(D(2015, 1, 1), D(2027, 12, 31))
    changes["date_from"], changes["date_to"] = data.draw(dates, label="from"), data.draw(dates, label="to")
    return changes


@SETTINGS
@given(data=st.data())
def test_a_filter_returns_a_subset(prepared: Prepared, data: st.DataObject) -> None:
    everything = apply_view(prepared, ViewState())
    state = ViewState(**draw_filters(data, prepared))
    view = apply_view(prepared, state)
    for name in ("awards", "programmes", "market_shares", "milestones"):
        assert ids(getattr(view, name)) <= ids(getattr(everything, name)), name
    # Every award shown passes every filter that is set.
    awards = view.awards
    if state.countries:
        assert set(awards[C.COUNTRY_ID]) <= set(state.countries)
    if state.kinds:
        assert set(awards[C.KIND]) <= set(state.kinds)
    if state.organisations:
        assert all(set(r) & set(state.organisations) for r in awards[C.RECIPIENT_IDS])
    if state.date_from or state.date_to:
        assert date_mask(awards["announced"], state.date_from, state.date_to).all()


@SETTINGS
@given(data=st.data())
def test_a_view_shows_the_milestones_of_its_programmes_and_awards(prepared: Prepared, data: st.DataObject) -> None:
    view = apply_view(prepared, ViewState(**draw_filters(data, prepared)))
    programmes, awards = ids(view.programmes), ids(view.awards)
    milestones = prepared.milestones
    expected = {
        milestone
        for milestone, programme, award in zip(
            milestones["id"], milestones["programme_id"], milestones["award_id"], strict=True
        )
        if programme in programmes or award in awards
    }
    assert ids(view.milestones) == expected


@SETTINGS
@given(data=st.data())
def test_adding_a_filter_never_adds_rows(prepared: Prepared, data: st.DataObject) -> None:
    # The same state with and without one of its filters.
    changes = draw_filters(data, prepared)
    added = data.draw(st.sampled_from(sorted(changes)), label="added")
    narrower = ViewState(**changes)
    wider = narrower.with_(**{added: () if added in LIST_FIELDS else None})
    narrow_view, wide_view = apply_view(prepared, narrower), apply_view(prepared, wider)
    for name in ("awards", "programmes", "milestones"):
        assert ids(getattr(narrow_view, name)) <= ids(getattr(wide_view, name)), (added, name)


# --- urlstate --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "params"),
    [
        # the default view is a bare link
        (ViewState(), {}),
        # only what differs from the default is written
        (ViewState(lang="ja"), {"lang": "ja"}),
        (ViewState(countries=("JP", "KR"), organisations=("kddi",)), {"country": "JP,KR", "org": "kddi"}),
        (ViewState(date_from=D(2024, 4, 1), date_to=D(2024, 4, 30)), {"from": "2024-04-01", "to": "2024-04-30"}),
        # a rate date is only written with a currency
        (ViewState(currency="USD", fx_at="2024-04-19"), {"cur": "USD", "fx": "2024-04-19"}),
        (ViewState(currency="USD"), {"cur": "USD"}),
        (ViewState(fx_at="2024-04-19"), {}),
    ],
)
def test_encode(state: ViewState, params: dict[str, str]) -> None:
    assert encode(state) == params


@st.composite
def url_states(draw: st.DrawFn, vocabulary: Vocabulary) -> ViewState:
    """A view state a page can be in, drawn from the bundled vocabulary."""

    def some(values) -> tuple[str, ...]:
        return tuple(draw(st.lists(st.sampled_from(sorted(values)), max_size=4, unique=True)))

    dates = sorted(draw(st.lists(st.dates(D(1990, 1, 1), D(2100, 12, 31)), min_size=2, max_size=2)))
    date_from, date_to = (d if draw(st.booleans()) else None for d in dates)
    currency = draw(st.none() | st.sampled_from(sorted(vocabulary.currencies)))
    fx_at = "announcement"
    if currency and draw(st.booleans()):
        fx_at = draw(st.dates(vocabulary.first_rate_date, vocabulary.last_rate_date)).isoformat()
    return ViewState(
        countries=some(vocabulary.countries),
        programmes=some(vocabulary.programmes),
        kinds=some(vocabulary.kinds),
        organisations=some(vocabulary.organisations),
        date_from=date_from,
        date_to=date_to,
        currency=currency,
        fx_at=fx_at,
        lang=draw(st.sampled_from(LANGUAGES)),
    )


@SETTINGS
@given(data=st.data())
def test_url_round_trip(vocabulary: Vocabulary, data: st.DataObject) -> None:
    state = data.draw(url_states(vocabulary))
    decoded = decode(encode(state), vocabulary)
    assert decoded.state == state
    assert decoded.ignored == []


LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("params", "state", "notice"),
    [
        # ids that are not in the loaded data; known ones beside them are kept
        ({"country": "XX"}, ViewState(), "country=XX: not in the loaded data"),
        ({"org": "nobody,sakura-internet"}, ViewState(organisations=("sakura-internet",)), "org=nobody: "),
        ({"programme": "<script>alert(1)</script>"}, ViewState(), "programme=<script>alert(1)</script>: not in"),
        ({"kind": ",".join(f"k{i}" for i in range(300))}, ViewState(), "kind: more than 200 values"),
        # dates that are malformed, partial, implausible or in the wrong order
        ({"from": "2024-13-01"}, ViewState(), "from=2024-13-01: write a date YYYY-MM-DD"),
        ({"to": "yesterday"}, ViewState(), "to=yesterday: write a date"),
        ({"from": "2024-04"}, ViewState(), "from=2024-04: write a date"),
        ({"from": "1900-01-01"}, ViewState(), "from=1900-01-01: write a date YYYY-MM-DD between 1990 and 2100"),
        ({"to": "2024-04-19\x00"}, ViewState(), "to=2024-04-19\x00: write a date"),
        ({"from": "2025-01-01", "to": "2024-01-01"}, ViewState(), "from/to: the start is after the end"),
        # values far longer than any real link
        ({"country": LONG}, ViewState(), "country: the value is longer than 2000 characters"),
        ({"lang": LONG}, ViewState(), "lang: the value is longer than 2000 characters"),
        # parameters this dashboard does not have
        ({"utm_source": "mail"}, ViewState(), "utm_source: not a parameter of this dashboard"),
        ({LONG: "1"}, ViewState(), "x" * 40 + ": not a parameter of this dashboard"),
        # languages and currencies it cannot show
        ({"lang": "fr"}, ViewState(), "lang=fr: use one of en, ja"),
        ({"cur": "XYZ"}, ViewState(), "cur=XYZ: not a currency in the ECB reference rates"),
        # rate dates outside the ECB table, malformed, or without a currency
        ({"cur": "USD", "fx": "1990-01-01"}, ViewState(currency="USD"), "fx=1990-01-01: ECB rates run from 1999-01-04"),
        ({"cur": "USD", "fx": "2099-01-01"}, ViewState(currency="USD"), "fx=2099-01-01: ECB rates run from"),
        ({"cur": "USD", "fx": "soon"}, ViewState(currency="USD"), "fx=soon: write 'announcement' or a date"),
        ({"fx": "2024-04-19"}, ViewState(), "fx=2024-04-19: a rate date needs a currency (cur)"),
    ],
)  # fmt: skip
def test_hostile_parameters_fall_back_with_a_notice(
    vocabulary: Vocabulary, params: dict[str, str], state: ViewState, notice: str
) -> None:
    decoded = decode(params, vocabulary)
    assert decoded.state == state
    assert any(line.startswith(notice) for line in decoded.ignored), decoded.ignored
    assert all(len(line) < 300 for line in decoded.ignored), "a notice never echoes a huge value"


# One link with every kind of value the dashboard cannot use (each parameter's value once).
EVERY_BAD_VALUE = [
    {"cur": ["USD", "EUR"], "lang": "fr", "country": LONG, "kind": ",".join(f"k{i}" for i in range(300))},
    {"cur": "XYZ", "fx": "soon", "org": "nobody", "from": "2024-13-01", "present": "yes", "every": "4"},
    {"cur": "USD", "fx": "1990-01-01", "from": "2025-01-01", "to": "2024-01-01", "data": "x", "live": "x"},
    {"fx": "2024-04-19", "key": "x", "table": "nope", "utm_source": "mail"},
    {"live": "a" * 22, "key": "x"},
]


def test_every_note_reads_in_japanese_with_its_values(vocabulary: Vocabulary) -> None:
    """Each reason a link's value was not used has its Japanese words, with the same values as the English."""
    notes = [note for params in EVERY_BAD_VALUE for note in decode(params, vocabulary).notes]
    assert len({key for key, _values in notes}) == 19, sorted({key for key, _values in notes})
    for (key, values), english, japanese in zip(notes, worded(notes, "en"), worded(notes, "ja"), strict=True):
        assert english == translate(key, "en", **values) and japanese == translate(key, "ja", **values)
        assert japanese != english and re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), key
        assert not re.search(r"\b(write|use|not|needs|given|more than)\b", japanese), japanese
        for value in values.values():
            assert str(value) in english and str(value) in japanese, (key, value)


@pytest.mark.parametrize(
    ("params", "state"),
    [
        # repeated parameters (?country=JP&country=KR) arrive as lists
        ({"country": ["JP", "KR"]}, ViewState(countries=("JP", "KR"))),
        # an empty list is no value at all
        ({"country": []}, ViewState()),
        ({"cur": [], "from": []}, ViewState()),
        # lower-case currency codes are accepted
        ({"cur": "usd"}, ViewState(currency="USD")),
    ],
)
def test_list_and_case_variants_decode(vocabulary: Vocabulary, params: dict, state: ViewState) -> None:
    decoded = decode(params, vocabulary)
    assert decoded.state == state
    assert decoded.ignored == []


def test_presenter_parameters_are_passed_through(vocabulary: Vocabulary) -> None:
    decoded = decode({"present": "1", "every": "30", "lang": "ja"}, vocabulary)
    assert decoded.extra == {"present": "1", "every": "30"}
    assert decoded.state == ViewState(lang="ja")
    assert decoded.ignored == []


def test_a_link_to_uploaded_data_carries_its_id_and_nothing_else(vocabulary: Vocabulary) -> None:
    blob = "0123456789abcdef" * 4
    assert decode({"data": blob, "country": "JP"}, vocabulary).extra == {"data": blob}
    for bad in ("../../etc/passwd", blob.upper(), blob[:-1], blob + "0", "<script>"):
        decoded = decode({"data": bad}, vocabulary)
        assert decoded.extra == {}
        assert decoded.ignored == [f"data={bad[:40]}: not the id of uploaded data (a link to it holds 64 hex digits)"]


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(["lang", "cur", "fx", "country", "programme", "org", "kind", "from", "to", "data", "zzz"]),
        st.text(max_size=60) | st.lists(st.text(max_size=20), max_size=3),
        max_size=6,
    )
)
def test_decode_never_raises(vocabulary: Vocabulary, params: dict) -> None:
    decoded = decode(params, vocabulary)
    assert isinstance(decoded.state, ViewState)
    # Whatever was honoured is in the vocabulary.
    assert set(decoded.state.countries) <= set(vocabulary.countries)
    assert decoded.state.currency is None or decoded.state.currency in vocabulary.currencies


@pytest.mark.parametrize(
    ("every", "kept"),
    [("5", True), ("3600", True), ("20", True), ("4", False), ("3601", False), ("2147484", False), ("٥", False)],
)
def test_presenter_timer_is_bounded(vocabulary: Vocabulary, every: str, kept: bool) -> None:
    decoded = decode({"present": "1", "every": every}, vocabulary)
    assert ("every" in decoded.extra) is kept
    if not kept:
        assert decoded.ignored == [f"every={every}: seconds per slide must be a whole number from 5 to 3600"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_presenter_timer_without_presenter_mode_is_named(vocabulary: Vocabulary, lang: str) -> None:
    # It stayed in the link, doing nothing and saying nothing (fx without cur, key without live are named).
    decoded = decode({"every": "20", "lang": lang}, vocabulary)
    assert "every" not in decoded.extra
    assert worded(decoded.notes, lang) == [
        "every=20: seconds per slide apply to presenter mode (present=1)"
        if lang == "en"
        else "every=20：スライドごとの秒数はプレゼン表示（present=1）でのみ使えます"
    ]


def test_a_component_in_a_link_is_named_not_kept(prepared: Prepared) -> None:
    # ca-ai-compute-challenge is a component of Canada's AI Compute Access Fund: the page said "0 awards in 0
    # programmes under AI Compute Challenge" and charted it, the sidebar read "All", and a filter change dropped it.
    decoded = decode({"programme": "ca-ai-compute-challenge,jp-cloud-program"}, package_vocabulary(prepared))
    assert decoded.state.programmes == ("jp-cloud-program",)
    assert decoded.ignored == [
        "programme=ca-ai-compute-challenge: a component of a programme, which the programme filter does not offer; "
        "choose its programme"
    ]


@pytest.mark.parametrize(
    ("page", "kept"),
    [
        *(("2", "2"), ("02", "2"), ("10000000", "10000000"), ("1", None)),
        *(("0", False), ("-3", False), ("two", False), ("10000001", False), ("٣", False), ("2.5", False)),
    ],
)
def test_the_data_table_s_page_is_a_whole_number_from_1(vocabulary: Vocabulary, page: str, kept: str | None) -> None:
    decoded = decode({"table": "programmes", "page": page}, vocabulary)
    assert decoded.extra.get("page") == (kept or None)  # the first page is no parameter
    if kept is False:
        assert decoded.ignored == [f"page={page}: not a page of the Data page's table (a whole number from 1)"]
    else:
        assert decoded.ignored == []


def test_a_single_valued_parameter_given_twice_is_named(vocabulary: Vocabulary) -> None:
    decoded = decode({"cur": ["USD", "EUR"], "country": ["JP", "KR"]}, vocabulary)
    assert decoded.state.currency == "EUR" and decoded.state.countries == ("JP", "KR")
    assert decoded.ignored == ["cur: given 2 times; only the last one (EUR) was used"]
