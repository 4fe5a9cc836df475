"""A live session's view in the link and in the store: ``live`` and ``key`` decoded, the view followers take."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from aifunding.analysis.live import SHARED_PARAMS, LiveView
from aifunding.analysis.urlstate import Vocabulary, decode, vocabulary
from aifunding.analysis.view import Prepared, ViewState
from aifunding.outputs.qr import qr_svg
from aifunding.store.live import new_id, new_key

PAGES = ("overview", "companies", "data")
LIVE_ID = new_id()
KEY = new_key()


@pytest.fixture(scope="module")
def words(prepared: Prepared) -> Vocabulary:
    return vocabulary(prepared)


# --- live and key in the link ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "extra"),
    [
        ({"live": LIVE_ID}, {"live": LIVE_ID}),  # the audience link
        ({"live": LIVE_ID, "key": KEY}, {"live": LIVE_ID, "key": KEY}),  # the presenter's address
        ({"live": LIVE_ID, "present": "1"}, {"live": LIVE_ID, "present": "1"}),
    ],
)
def test_a_live_session_in_the_link_is_kept_for_the_live_module(words: Vocabulary, params: dict, extra: dict) -> None:
    decoded = decode(params, words)
    assert decoded.extra == extra and decoded.ignored == [] and decoded.state == ViewState()


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"live": "short"}, "live=short: not the id of a live session"),
        ({"live": "<script>x</script>" + "a" * 5}, "live=<script>x</script>aaaaa: not the id"),
        ({"live": LIVE_ID + "x"}, "live="),
        ({"key": KEY}, "key: a presenter's key needs the live session it drives"),
        ({"live": LIVE_ID, "key": KEY[:-1] + "!"}, "key: not a presenter's key"),
        ({"live": LIVE_ID, "key": "x" * 5000}, "key: the value is longer than 2000 characters"),
    ],
)
def test_a_malformed_live_or_key_is_ignored_with_the_usual_notice(words: Vocabulary, params: dict, notice: str) -> None:
    decoded = decode(params, words)
    assert "key" not in decoded.extra
    assert any(line.startswith(notice) for line in decoded.ignored), decoded.ignored
    # A key, even a mistyped one, is most of a secret: no notice repeats it.
    assert not any(KEY[:20] in line for line in decoded.ignored)


# --- What followers take --------------------------------------------------------------------------------


def test_followers_take_the_view_but_not_the_language_the_timer_or_the_key() -> None:
    params = {"lang": "ja", "country": "JP", "cur": "USD", "present": "1", "every": "20", "live": LIVE_ID, "key": KEY}
    view = LiveView.of("companies", params, slide=3, spotlight="companies-by-recipient")
    assert view.params == {"country": "JP", "cur": "USD", "present": "1"}
    assert set(SHARED_PARAMS) >= set(view.params) and not {"lang", "every", "live", "key"} & set(SHARED_PARAMS)
    assert view.follower_params("ja", LIVE_ID) == {
        "country": "JP",
        "cur": "USD",
        "present": "1",
        "lang": "ja",
        "live": LIVE_ID,
    }
    assert view.follower_params("en", LIVE_ID) == {"country": "JP", "cur": "USD", "present": "1", "live": LIVE_ID}
    assert params["key"] == KEY  # the input is not changed


def test_a_view_round_trips_through_the_store() -> None:
    view = LiveView.of("data", {"data": "a" * 64, "org": "sakura-internet"}, slide=None, spotlight="data-table")
    assert LiveView.from_state(view.state(), PAGES) == view
    assert view.without_spotlight() == LiveView.of("data", {"data": "a" * 64, "org": "sakura-internet"})


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        # no page, or one this dashboard does not have: nothing to follow
        ({}, None),
        ({"page": "../../etc"}, None),
        ({"page": ["overview"]}, None),
        # parts that could not be a view are dropped; the rest is followed
        ({"page": "overview", "params": {"key": KEY, "lang": "fr", "country": "JP"}},
         LiveView("overview", {"country": "JP"})),
        ({"page": "overview", "params": {"country": ["JP"], "cur": 5}}, LiveView("overview", {})),
        ({"page": "overview", "params": "country=JP"}, LiveView("overview", {})),
        ({"page": "overview", "params": {"org": "x" * 5000}}, LiveView("overview", {})),
        ({"page": "overview", "slide": -10**9}, LiveView("overview")),
        ({"page": "overview", "slide": -1}, LiveView("overview", slide=-1)),  # back past the first: the last
        ({"page": "overview", "slide": True}, LiveView("overview")),
        ({"page": "overview", "slide": 10**9}, LiveView("overview")),
        ({"page": "overview", "slide": "2"}, LiveView("overview")),
        ({"page": "overview", "slide": 2}, LiveView("overview", slide=2)),
        ({"page": "overview", "spotlight": "x'); alert(1);//"}, LiveView("overview")),
        ({"page": "overview", "spotlight": "a" * 121}, LiveView("overview")),
        ({"page": "overview", "spotlight": "programme-jp-cloud-program"},
         LiveView("overview", spotlight="programme-jp-cloud-program")),
    ],
)  # fmt: skip
def test_a_stored_view_is_not_trusted(state: dict, expected: LiveView | None) -> None:
    assert LiveView.from_state(state, PAGES) == expected


def test_a_followed_view_decodes_like_any_link(words: Vocabulary) -> None:
    hostile = LiveView.from_state({"page": "overview", "params": {"country": "NOPE,JP", "cur": "XYZ"}}, PAGES)
    assert hostile is not None
    decoded = decode(hostile.follower_params("ja", LIVE_ID), words)
    assert decoded.state == ViewState(countries=("JP",), lang="ja")
    assert decoded.extra == {"live": LIVE_ID}
    assert any(line.startswith("country=NOPE") for line in decoded.ignored)


# --- The QR code for the room ---------------------------------------------------------------------------


def test_the_qr_code_is_svg_with_a_text_alternative() -> None:
    label = 'Audience link <b>"live"</b> & more'
    svg = qr_svg(f"http://127.0.0.1:8501/?live={LIVE_ID}", label)
    element = ET.fromstring(svg)  # well-formed: the label is escaped
    assert element.tag == "svg" and element.get("role") == "img" and element.get("aria-label") == label
    assert element.find("title").text == label  # type: ignore[union-attr]
    assert "<b>" not in svg
