"""The Data page's table is part of the view's link (``table=``), as every filter is.

A link opens the table it names; a click puts the table in the link (the awards, shown when a link names
none, are left out to keep links short); another page leaves it out of its link; a table the page does
not have is a notice naming it, and the awards are shown.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from aifunding.analysis.urlstate import DATA_TABLES, decode, vocabulary
from aifunding.analysis.view import Prepared

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 120


def _opened(page: str = "data", **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _control(at: AppTest):
    return next(w for w in at.get("button_group") if w.key == "table")


def _link(at: AppTest) -> dict[str, str]:
    return {name: value[-1] if isinstance(value, list) else value for name, value in at.query_params.items()}


def _headings(at: AppTest) -> list[str]:
    return [frame.value.columns[0] for frame in at.dataframe]


@pytest.mark.parametrize("table", DATA_TABLES[1:])
def test_a_link_opens_the_table_it_names(table: str) -> None:
    at = _opened(table=table, country="JP")
    assert _control(at).value == table
    assert _link(at)["table"] == table
    assert _link(at)["country"] == "JP"
    shown = _opened(table=table, country="JP")
    clicked = _opened(country="JP")
    _control(clicked).set_value(table)
    clicked.run()
    # The table a link opens is the one a click shows.
    pd.testing.assert_frame_equal(shown.dataframe[0].value, clicked.dataframe[0].value)


def test_a_click_names_the_table_in_the_link_and_the_awards_leave_it() -> None:
    at = _opened(country="JP")
    assert _control(at).value == "awards"
    assert "table" not in _link(at)
    _control(at).set_value("programmes")
    at.run()
    assert not at.exception, at.exception
    assert _link(at) == {"country": "JP", "table": "programmes"}
    _control(at).set_value("awards")
    at.run()
    assert _link(at) == {"country": "JP"}
    # A second click on the chosen table unselects it: the awards are shown, and chosen.
    _control(at).set_value("market_shares")
    at.run()
    _control(at).set_value(None)
    at.run()
    assert not at.exception, at.exception
    assert _control(at).value == "awards"
    assert _link(at) == {"country": "JP"}


def test_a_changed_link_changes_the_table_shown() -> None:
    """Back and forward in the browser give the page a new link: it is followed, not the last click."""
    at = _opened(table="programmes")
    assert _control(at).value == "programmes"
    at.query_params["table"] = "market_shares"
    at.run()
    assert _control(at).value == "market_shares"
    del at.query_params["table"]
    at.query_params["country"] = "JP"  # (a link of no parameters at all keeps the view, as a page switch does)
    at.run()
    assert _control(at).value == "awards"


def test_another_page_leaves_the_table_out_of_its_link() -> None:
    at = _opened("companies", table="recipients", country="JP")
    assert not at.exception, at.exception
    assert _link(at) == {"country": "JP"}
    assert not at.warning, "a table is no parameter to complain of on another page"


def test_a_table_the_page_does_not_have_is_named_and_the_awards_are_shown() -> None:
    at = _opened(table="grants<script>")
    assert _control(at).value == "awards"
    assert "table" not in _link(at)
    warned = " ".join(str(w.value) for w in at.warning).replace("\\", "")
    assert "table=grants<script>: not a table of the Data page" in warned, warned


def test_decoding_keeps_the_tables_the_page_has(prepared: Prepared) -> None:
    words = vocabulary(prepared)
    for table in DATA_TABLES[1:]:
        decoded = decode({"table": table}, words)
        assert decoded.extra == {"table": table} and not decoded.ignored
    assert decode({"table": "awards"}, words).extra == {}
    assert not decode({"table": "awards"}, words).ignored
    wrong = decode({"table": "x" * 300}, words)
    assert wrong.extra == {} and len(wrong.ignored) == 1 and wrong.ignored[0].startswith("table=")


def test_the_links_tables_are_the_pages_tables_in_its_order() -> None:
    """``DATA_TABLES`` (what a link may name) and the page's own list of tables never drift apart."""
    from aifunding.i18n import Translator

    t = Translator("en")
    assert _control(_opened()).options == [t(f"table.{name}") for name in DATA_TABLES]
