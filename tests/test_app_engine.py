"""The Data page's recipients' totals under AppTest: a query on the analytical engine, as the view keeps its awards.

The table is the engine's (DuckDB here), compared with the pandas view's awards added up by recipient row
by row; it follows the view's filters, money and language, pages on the server past a thousand rows, and
an engine that cannot run is a message on the page, not a traceback.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from aifunding.analysis.totals import CLASS_ORDER
from aifunding.analysis.view import Prepared, ViewState, prepare
from aifunding.figures.presentation import column, count_columns, sum_column
from aifunding.i18n import Translator
from aifunding.loading.package import load_package
from aifunding.money.formatting import format_composition

from packages import generate
from recipient_reference import recipient_groups

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 120


def _recipients(page: AppTest) -> AppTest:
    """``page`` with the recipients' totals chosen as the Data page's table."""
    next(w for w in page.get("button_group") if w.key == "table").set_value("recipients")
    page.run()
    assert not page.exception, page.exception
    return page


def _data_page(lang: str = "en", **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in {**query, "lang": lang}.items():
        at.query_params[name] = value
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception, at.exception
    return _recipients(at)


def _table(at: AppTest, lang: str = "en") -> pd.DataFrame:
    tables = [frame.value for frame in at.dataframe if column("total_by_basis", lang) in frame.value.columns]
    assert len(tables) == 1
    return tables[0]


def _expected(prepared: Prepared, state: ViewState) -> list[tuple]:
    """(recipient, total by basis, awards) of the pandas view, added up row by row, in the table's order."""
    return [
        (group.label, format_composition(group.parts, group.currency, locale=state.lang), group.awards)
        for group in recipient_groups(prepared, state)
    ]


def _shown(table: pd.DataFrame, lang: str) -> list[tuple]:
    names = [column(key, lang) for key in ("project", "total_by_basis", "awards")]
    return [tuple(row) for row in table[names].itertuples(index=False)]


@pytest.mark.parametrize(
    ("lang", "query", "state"),
    [
        ("en", {"country": "JP"}, ViewState(countries=("JP",))),
        ("ja", {}, ViewState(lang="ja")),
        ("en", {"cur": "USD", "fx": "2024-04-20"}, ViewState(currency="USD", fx_at="2024-04-20")),
    ],
)
def test_the_table_adds_up_the_awards_the_view_keeps(prepared: Prepared, lang: str, query: dict, state: ViewState):
    at = _data_page(lang, **query)
    table = _table(at, lang)
    assert _shown(table, lang) == _expected(prepared, state)
    t = Translator(lang)
    # In one currency every recipient is ranked together: the note asked to "choose a currency" under USD's table.
    if state.currency:
        note = t("data.recipients_note_converted", engine="DuckDB", currency=state.currency)
    else:
        note = t("data.recipients_note", engine="DuckDB")
    assert any(note in m.value.replace("\\", "") for m in at.markdown)


def test_a_total_of_grants_and_ceilings_is_never_one_number(prepared: Prepared) -> None:
    table = _table(_data_page(country="JP"))
    sakura = table[table[column("project")] == "Sakura Internet"].iloc[0]
    assert sakura[column("total_by_basis")] == "¥600M + up to about ¥56.9B"
    assert sakura["Sum, exact"] == 600_000_000 and sakura["Sum, up to about"] == 56_900_000_000


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated package of 4,000 awards: more than a page of recipients."""
    folder = tmp_path_factory.mktemp("register") / "package"
    generate(4000, folder, seed=8)
    return folder


def test_a_register_of_thousands_of_recipients_pages_on_the_server(
    register: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFUNDING_DATA", str(register))
    expected = _expected(prepare(load_package(register)), ViewState())
    assert len(expected) > 1000
    at = _data_page()
    assert _shown(_table(at), "en") == expected[:1000]
    at.number_input(key="rows-page").set_value(2).run()
    assert _shown(_table(at), "en") == expected[1000:2000]


def test_a_later_page_the_engine_cannot_give_is_said_on_the_page(
    register: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page comes with the totals; page 2 is another query, and its failure is a message too."""
    from aifunding.analysis.engine_view import ViewEngine

    monkeypatch.setenv("AIFUNDING_DATA", str(register))
    real = ViewEngine.recipients_page

    def failing(self: ViewEngine, state: ViewState, first: int, count: int) -> tuple[pd.DataFrame, int]:
        if first > 0:
            raise RuntimeError("the engine went away")
        return real(self, state, first, count)

    monkeypatch.setattr(ViewEngine, "recipients_page", failing)
    # A view no other test kept (the engine's pages are kept with the view, shared by every session).
    at = _data_page(cur="EUR")
    assert len(_table(at)) == 1000
    at.number_input(key="rows-page").set_value(2).run()
    assert not at.exception, at.exception
    assert any("DuckDB" in e.value for e in at.error) and _table(at).empty


def test_an_engine_that_cannot_run_is_said_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFUNDING_ENGINE", "nosuchengine")
    at = _data_page()
    assert any("nosuchengine" in e.value for e in at.error)
    assert not [frame for frame in at.dataframe if column("total_by_basis") in frame.value.columns]
    # The rest of the page is drawn: the validation report is still there.
    assert any(Translator("en")("data.report") in h.value for h in at.header)


def test_sums_in_a_chosen_currency_are_to_the_cent_and_read_with_their_digits_grouped(prepared: Prepared) -> None:
    """A converted sum is shown (and downloaded) to the cent, half to even, as the exports write amounts.

    Before, the exact product of amounts and rates came through as ``4013690.2032``, cut off in its column.
    """
    state = ViewState(countries=("JP",), currency="USD")
    at = _data_page(country="JP", cur="USD")
    table = _table(at).set_index(column("project"))
    sums = {kind: sum_column(kind) for kind in CLASS_ORDER if sum_column(kind) in table.columns}
    checked, groups = 0, recipient_groups(prepared, state)
    for group in groups:
        row = table.loc[group.label]
        for kind, header in sums.items():
            exact = group.parts.get(kind)
            if exact is None:
                assert pd.isna(row[header])
                continue
            assert row[header] == float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))
            checked += 1
    assert checked == sum(len(group.parts) for group in groups) > 5  # every sum has its column
    # Some sum had digits past the cent to lose: the rounding is not vacuous.
    assert any(part != part.quantize(Decimal("0.01")) for group in groups for part in group.parts.values())
    shown = next(frame for frame in at.dataframe if column("total_by_basis") in frame.value.columns)
    config = json.loads(shown.proto.columns)
    counts = {column("awards"), column("without_converted")}  # in dollars: no amount published, or none converted
    assert {name for name, spec in config.items() if spec.get("type_config", {}).get("format") == "localized"} == set(
        sums.values()
    ) | counts
    assert all("step" not in config[name].get("type_config", {}) for name in counts)  # whole numbers
    # To the cent, each with its two places (4,013,690.20): a step of a cent fixes them.
    assert all(config[name].get("type_config", {}).get("step") == 0.01 for name in sums.values())


def test_only_columns_of_numbers_are_read_as_amounts() -> None:
    """The awards' values get grouped digits; the validation report's "Value" (a cell's text) stays text."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["cur"] = "USD"
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception, at.exception
    formats = {}
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns)
        formats[tuple(frame.value.columns)] = {
            name for name, spec in config.items() if spec.get("type_config", {}).get("format") == "localized"
        }
    awards = next(columns for columns in formats if column("amount") in columns)
    report = next(columns for columns in formats if "Message" in columns)
    assert formats[awards] == {column("value")}
    assert column("value") in report and formats[report] == set()


def test_counts_of_awards_read_with_grouped_digits_in_both_languages() -> None:
    """A programme's named awards and a recipient's awards are grouped (12,408); other whole numbers are not."""
    for lang in ("en", "ja"):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.query_params["lang"] = lang
        at.switch_page("views/data.py")
        at.run()
        for table, header in (("programmes", column("named_awards", lang)), ("recipients", column("awards", lang))):
            next(w for w in at.get("button_group") if w.key == "table").set_value(table)
            at.run()
            assert not at.exception, at.exception
            shown = next(frame for frame in at.dataframe if header in frame.value.columns)
            config = json.loads(shown.proto.columns)
            grouped = {
                name for name, spec in config.items() if spec.get("type_config", {}).get("format") == "localized"
            }
            assert header in grouped, (lang, table)
            whole = [name for name in shown.value.columns if pd.api.types.is_integer_dtype(shown.value[name])]
            assert set(whole) - grouped == set(whole) - set(count_columns(lang)), (lang, table)


def test_published_amounts_keep_their_own_places() -> None:
    """Original currencies: no step, so ¥600,000,000 is not written ¥600,000,000.00."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page("views/data.py")
    at.run()
    awards = next(frame for frame in at.dataframe if column("amount") in frame.value.columns)
    spec = json.loads(awards.proto.columns)[column("value")]
    assert spec["type_config"]["format"] == "localized" and "step" not in spec["type_config"]


def test_the_engine_tables_are_kept_with_the_package_for_a_restart(
    register: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart attaches them (a tenth of a second at a million awards) rather than loading and joining (2.8 s)."""
    from aifunding.analysis.engine_view import ENGINE_SUFFIX
    from aifunding.loading.cache import PackageCache

    monkeypatch.setenv("AIFUNDING_DATA", str(register))
    at = _data_page()
    assert len(_table(at)) == 1000
    cache = PackageCache.from_env()
    assert cache is not None
    key = load_package(register, cache=cache).cache_key
    assert key is not None
    assert [path.suffix for path in cache.entry(key).glob("engine-*")] == [ENGINE_SUFFIX]
