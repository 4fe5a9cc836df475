"""What the dashboard used to work out for itself, now in ``aifunding`` and tested without Streamlit.

The programme tree (built once per load), the money choice carried by a view and the conversion
step that produces converted allocations, the URL vocabulary, the date span and "the full range is
no filter", file names, download headers, the quarantine table, kind labels and source order.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aifunding.analysis.memo as memo_module
import aifunding.analysis.view as view_module
from aifunding import columns as C
from aifunding.analysis.adding import SCOPES
from aifunding.analysis.conversion import ORIGINAL, FxChoice, Money, convert_programmes
from aifunding.analysis.memo import MEMO_ENTRIES, remembered
from aifunding.analysis.urlstate import decode, encode, view_file_name, vocabulary
from aifunding.analysis.view import (
    Prepared,
    ViewState,
    announcement_span,
    apply_view,
    date_filter,
    prepare,
)
from aifunding.data.dates import partial_bounds
from aifunding.data.tree import ProgrammeTree
from aifunding.figures.presentation import (
    awards_table,
    best_sources_first,
    column,
    kind_labels,
    programmes_table,
)
from aifunding.figures.programmes import build_programme_totals_figure
from aifunding.figures.report_tables import quarantine_table
from aifunding.loading.package import Package, load_package
from aifunding.money.fx import rate_bounds
from aifunding.outputs.about import view_about_rows

from packages import minimal_tables, write_package

D = datetime.date

# frame > programme > round > component, and a second programme beside it.
TREE = ProgrammeTree.from_pairs(
    [("frame", None), ("prog", "frame"), ("round", "prog"), ("part", "round"), ("other", None), ("late", "prog")],
    [("frame", "budget_frame"), ("prog", "programme"), ("round", "round"), ("part", "component"),
     ("other", "programme"), ("late", "round")],
)  # fmt: skip


# --- the programme tree --------------------------------------------------------------------------------


def test_root_stops_below_a_budget_frame() -> None:
    assert TREE.root("part") == TREE.root("round") == TREE.root("prog") == "prog"
    assert TREE.root("frame") == "frame" and TREE.root("other") == "other"
    assert TREE.root("unknown") == "unknown"


def test_depth_and_ancestors() -> None:
    assert [TREE.depth(p) for p in ("frame", "prog", "round", "part")] == [0, 1, 2, 3]
    assert TREE.ancestors("part") == ["part", "round", "prog", "frame"]
    assert TREE.subtree("prog") == {"prog", "round", "part", "late"}


def test_ordered_is_an_outline_of_the_ids_given() -> None:
    announced = {"frame": "2024", "prog": "2024-02", "round": "2024-04", "late": "2024-03", "part": "", "other": "2023"}
    outline = TREE.ordered(["part", "late", "round", "prog", "frame", "other"], key=announced.get)
    assert outline == [("other", 0), ("frame", 0), ("prog", 1), ("late", 2), ("round", 2), ("part", 3)]
    # A row whose parent is filtered out starts its own branch; siblings with equal keys keep their order.
    assert TREE.ordered(["part", "late", "round"], key=lambda _: "") == [("late", 0), ("round", 0), ("part", 1)]


def _waiting_for(event: threading.Event, seen: list[bool], name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``view.<name>`` run only once ``event`` is set (or two seconds pass), ``seen`` saying whether it was."""
    original = getattr(view_module, name)

    def waiting(*args: object) -> object:
        seen.append(event.wait(timeout=2))
        return original(*args)

    monkeypatch.setattr(view_module, name, waiting)


def _setting(event: threading.Event, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``view.<name>`` sets ``event`` as it begins."""
    original = getattr(view_module, name)

    def setting(*args: object) -> object:
        event.set()
        return original(*args)

    monkeypatch.setattr(view_module, name, setting)


@pytest.mark.parametrize(
    ("waits", "for_"),
    [("recipients_frame", "programme_view"), ("programmes_by_recipient", "_rule_with_rows")],
)
def test_prepare_joins_two_things_at_once(
    bundled: Package, prepared: Prepared, monkeypatch: pytest.MonkeyPatch, waits: str, for_: str
) -> None:
    """The awards' recipients are joined while the programmes are, the adding rule reads its rows while the
    organisations' programmes are listed: one waits for the other to begin, and the views are the same."""
    began, seen = threading.Event(), []
    _waiting_for(began, seen, waits, monkeypatch)
    _setting(began, for_, monkeypatch)
    again = prepare(bundled)
    assert seen == [True]
    pd.testing.assert_frame_equal(again.awards, prepared.awards, check_exact=True)
    pd.testing.assert_frame_equal(again.programmes, prepared.programmes, check_exact=True)
    assert again.context.programmes_by_org == prepared.context.programmes_by_org
    assert again.adding is not None and prepared.adding is not None
    assert again.adding.totals(SCOPES, again.programmes, again.awards) == prepared.adding.totals(
        SCOPES, prepared.programmes, prepared.awards
    )


def test_a_join_that_fails_in_the_other_thread_fails_prepare(bundled: Package, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: object) -> None:
        raise RuntimeError("the recipients could not be joined")

    monkeypatch.setattr(view_module, "recipients_frame", failing)
    with pytest.raises(RuntimeError, match="could not be joined"):
        prepare(bundled)


def test_the_package_builds_its_tree_once(prepared: Prepared) -> None:
    package = prepared.package
    assert package.tree is package.tree
    assert prepared.context.tree is package.tree
    assert prepared.adding is not None and prepared.adding.tree is package.tree
    for pid, root in zip(prepared.programmes["id"], prepared.programmes[C.ROOT_PROGRAMME_ID], strict=True):
        assert root == package.tree.root(pid)


# --- the money choice ----------------------------------------------------------------------------------


def test_money_names_the_columns_a_view_shows() -> None:
    assert (ORIGINAL.value_column, ORIGINAL.currency_column, ORIGINAL.allocated_column) == (
        "amount",
        "currency",
        C.ALLOCATED,
    )
    usd = Money(FxChoice("USD", "2024-04-19"))
    assert usd.converted and usd.currency == "USD"
    assert (usd.value_column, usd.currency_column, usd.allocated_column) == (
        C.AMOUNT_CONVERTED,
        C.CONVERTED_CURRENCY,
        C.ALLOCATED_CONVERTED,
    )


def test_a_view_carries_one_money_choice(prepared: Prepared) -> None:
    assert apply_view(prepared, ViewState()).money == ORIGINAL
    view = apply_view(prepared, ViewState(currency="EUR", fx_at="2024-04-19"))
    assert view.money == Money(FxChoice("EUR", "2024-04-19"))
    assert view.value_column == view.money.value_column == C.AMOUNT_CONVERTED


def test_conversion_converts_allocations_at_the_programmes_own_rate(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(currency="USD"))
    rows = view.programmes.set_index("id")
    round_2024 = rows.loc["jp-cloud-2024-04"]
    rate = Decimal(str(round_2024[C.FX_RATE]))
    assert round_2024[C.ALLOCATED_CONVERTED] == (round_2024[C.ALLOCATED] * rate).quantize(Decimal("0.01"))
    # The chart draws that column: its "allocated" marker is in dollars, never yen.
    figure = build_programme_totals_figure(view.programmes, money=view.money)
    allocated = next(trace for trace in figure.data if trace.legendgroup == "allocated")
    drawn = dict(zip(allocated.y, allocated.x, strict=True))
    assert any(x == pytest.approx(float(round_2024[C.ALLOCATED_CONVERTED])) for x in drawn.values())
    assert max(x for x in drawn.values() if x == x) < 10**12  # dollars: yen would be past ¥10^12


@pytest.mark.parametrize("currency", [None, "USD", "EUR"])
def test_display_tables_show_converted_amounts_to_the_cent_and_published_ones_as_published(
    prepared: Prepared, currency: str | None
) -> None:
    """The awards' and programmes' "Value": a converted amount half to even at the cent (as exports write it)."""
    view = apply_view(prepared, ViewState(currency=currency))
    for rows, table in (
        (view.awards, awards_table(view.awards, prepared.package, money=view.money)),
        (view.programmes, programmes_table(view.programmes, prepared.package, money=view.money)),
    ):
        amounts = rows[view.value_column].tolist()
        expected = [
            None
            if not isinstance(v, Decimal)
            else float(v.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) if currency else v)
            for v in amounts
        ]
        shown = [None if pd.isna(v) else v for v in table[column("value")]]
        assert shown == expected
        if currency:  # a product of amount and rate has digits past the cent to lose
            assert any(isinstance(v, Decimal) and v != v.quantize(Decimal("0.01")) for v in amounts)


def test_an_amount_published_but_not_converted_is_not_called_unpublished(prepared: Prepared) -> None:
    # Zeureka's "up to about ¥1.1B" has no date to take a rate at; in dollars it was "amount not published".
    view = apply_view(prepared, ViewState(currency="USD"))
    table = awards_table(view.awards, prepared.package, money=view.money).set_index(column("id"))
    assert table.at["jp-cloud-2023-zeureka", column("amount")] == "not converted"
    assert "¥1.1B" in table.at["jp-cloud-2023-zeureka", column("published_amount")]
    unpublished = view.awards["amount"].isna()
    assert (table[column("amount")].to_numpy()[unpublished.to_numpy()] == "amount not published").all()
    assert unpublished.sum() > 0
    ja = awards_table(view.awards, prepared.package, money=view.money, lang="ja").set_index(column("id", "ja"))
    assert ja.at["jp-cloud-2023-zeureka", column("amount", "ja")] == "換算できず"


def test_an_allocation_in_another_currency_is_not_scaled() -> None:
    frame = pd.DataFrame(
        {
            "id": ["p"],
            "amount": [Decimal(100)],
            "currency": ["JPY"],
            "announced": ["2024-04-19"],
            C.ALLOCATED: [Decimal(50)],
            C.ALLOCATED_CURRENCY: ["USD"],
            C.ANNUALISED: [Decimal(20)],
        }
    )
    row = convert_programmes(frame, FxChoice("EUR")).iloc[0]
    assert row[C.ALLOCATED_CONVERTED] is None
    assert isinstance(row[C.ANNUALISED_CONVERTED], Decimal) and row[C.ANNUALISED_CONVERTED] > 0


# --- URL vocabulary, dates, file names ----------------------------------------------------------------


def test_vocabulary_holds_the_packages_ids_and_the_rate_tables_dates(prepared: Prepared) -> None:
    vocab = vocabulary(prepared)
    assert "JP" in vocab.countries and "jp-cloud-2024-04" in vocab.programmes
    assert "sakura-internet" in vocab.organisations and "compute_subsidy" in vocab.kinds
    assert {"USD", "EUR", "JPY"} <= vocab.currencies
    assert (vocab.first_rate_date, vocab.last_rate_date) == rate_bounds()
    state = ViewState(countries=("JP",), organisations=("sakura-internet",), currency="USD")
    assert decode(encode(state), vocab).state == state


def test_date_span_covers_every_announcement(prepared: Prepared) -> None:
    first, last = prepared.date_span
    dates = [
        d for d in pd.concat([prepared.programmes["announced"], prepared.awards["announced"]]) if isinstance(d, str)
    ]
    assert first == min(partial_bounds(d)[0] for d in dates)
    assert last == max(partial_bounds(d)[1] for d in dates)
    assert announcement_span(pd.Series(["2024", None]), pd.Series(["2023-05"])) == (D(2023, 5, 1), D(2024, 12, 31))
    assert announcement_span(pd.Series([None]))[0] == D(1990, 1, 1)


def test_the_full_range_is_no_date_filter() -> None:
    span = (D(2016, 1, 1), D(2026, 7, 31))
    assert date_filter(D(2016, 1, 1), D(2026, 7, 31), span) == (None, None)
    assert date_filter(D(2015, 1, 1), D(2030, 1, 1), span) == (None, None)
    assert date_filter(D(2024, 1, 1), D(2026, 7, 31), span) == (D(2024, 1, 1), None)
    assert date_filter(None, D(2025, 1, 1), span) == (None, D(2025, 1, 1))
    assert date_filter("2024-01-01", None, span) == (None, None)


def test_file_names_say_which_view_they_hold() -> None:
    state = ViewState(countries=("JP", "FR"), currency="USD", lang="ja")
    name = view_file_name("companies.title", state, today=D(2026, 12, 1))
    assert name == "ai-funding-companies-ja-USD-JP+FR-2026-12-01"
    assert view_file_name("awards", ViewState(), today=D(2026, 12, 1)) == "ai-funding-awards-2026-12-01"
    uploaded = view_file_name("awards", ViewState(), today=D(2026, 12, 1), package="upload-tokyo-grants")
    assert uploaded == "upload-tokyo-grants-awards-2026-12-01"  # an uploaded package's downloads carry its name
    hostile = view_file_name("../x/<script>", ViewState(), today=D(2026, 12, 1), package="../../etc")
    assert set(hostile) <= set("abcdefghijklmnopqrstuvwxyz0123456789-+_") and len(hostile) <= 150


# --- download headers, quarantine, labels, sources -----------------------------------------------------


def test_download_header_names_view_link_and_sources(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(countries=("JP",)))
    made = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
    about = dict(view_about_rows(view, "http://x/companies?country=JP", ["src-meti-2024-04-12", "nope"], made))
    assert about["view"] == view.sentence() and about["link"] == "http://x/companies?country=JP"
    assert "METI" in about["sources"] and "nope" not in about["sources"]
    assert about["generated_at"] == "2026-12-01T09:00:00+00:00"
    # A source with no date says so, as the table's sources column does (its missing cell was written "nan").
    undated = dict(view_about_rows(view, "", ["src-aicon-national-ai-model"], made))["sources"]
    assert undated.startswith("aicon.network (n.d.) https://") and "nan" not in undated
    assert dict(view_about_rows(view, "", [], made))["sources"] == "see the sources column and sources.csv"
    # A table with no sources column (the nesting table, a validation report) is not pointed to one.
    none = dict(view_about_rows(view, "", [], made, sources_column=False))["sources"]
    assert none == "no source is named row by row in this table; every source is on the Sources & method page"


def test_quarantine_table_lists_where_and_why(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"].append({**tables["awards"][0], "id": "bad id"})
    package = load_package(write_package(tmp_path / "pkg", tables))
    table = quarantine_table(package.report)
    assert list(table.columns) == ["Table", "File", "Line", "Why", "Row"]
    assert len(table) == len(package.report.quarantined) >= 1
    assert table.iloc[0]["File"] == "awards.csv" and "id=bad id" in table.iloc[0]["Row"]
    assert quarantine_table(package.report, "ja").columns[0] != "Table"


def test_kind_labels_word_every_kind() -> None:
    en, ja = kind_labels("en"), kind_labels("ja")
    assert set(en) == set(ja) and "compute_subsidy" in en
    assert all(en[k] and ja[k] and en[k] != k for k in en)


def test_best_sources_first() -> None:
    sources = {
        "a": {"tier": "low", "published": "2020"},
        "b": {"tier": "primary", "published": "2024-05"},
        "c": {"tier": "primary", "published": "2024-04"},
        "d": {"tier": "press", "published": None},
    }
    assert best_sources_first(sources, ["a", "b", "missing", "c", "d", "b"]) == ["c", "b", "d", "a"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_an_empty_quarantine_is_an_empty_table(prepared: Prepared, lang: str) -> None:
    table = quarantine_table(prepared.package.report, lang)
    assert table.empty and len(table.columns) == 5


def test_worded_rows_word_only_what_is_shown() -> None:
    from aifunding.figures.worded import Worded

    worded_sizes: list[int] = []

    def word(part: pd.DataFrame) -> pd.DataFrame:
        worded_sizes.append(len(part))
        return pd.DataFrame({"Label": [f"#{i}" for i in part["id"]]})

    rows = Worded(pd.DataFrame({"id": [str(i) for i in range(5000)], "amount": range(5000)}), word)
    assert len(rows) == 5000 and worded_sizes == []  # nothing worded until something is shown
    assert list(rows.page(1000, 3)["Label"]) == ["#1000", "#1001", "#1002"] and worded_sizes == [3]
    drawn = rows.with_ids(["7", "4999"])
    assert len(drawn) == 2 and list(drawn.whole()["Label"]) == ["#7", "#4999"]
    small = rows.where(rows.rows["amount"] < 2).then(lambda table: table.assign(Label=table["Label"] + "!"))
    assert list(small.whole()["Label"]) == ["#0!", "#1!"]
    assert worded_sizes == [3, 2, 2]
    assert Worded.of(pd.DataFrame({"A": [1, 2]})).head(1).to_dict("list") == {"A": [1]}


AWKWARD_DATES = ["2024-04-20", "2024-12-25", "2023-06", "2019", "1998-01-05", "2090-01-01", None, "2024-04-19"]


@pytest.mark.parametrize(
    "choice",
    [
        FxChoice("USD"),
        FxChoice("EUR"),
        FxChoice("JPY", "2023-06"),
        FxChoice("USD", "2024-04-20"),
        FxChoice("GBP", "1998"),
    ],
    ids=str,
)
def test_notes_without_conversion_are_the_notes_conversion_writes(prepared: Prepared, choice: FxChoice) -> None:
    """What a view says could not be converted is found per currency and date, and is what converting says."""
    from aifunding.analysis.conversion import conversion_notes, convert_frame

    awards = prepared.awards.copy()
    # Dates the ECB table cannot answer, or answers by a fallback, and currencies it does not quote.
    awards["announced"] = pd.array([AWKWARD_DATES[i % len(AWKWARD_DATES)] for i in range(len(awards))], dtype="str")
    awards.loc[awards.index[::7], "currency"] = "XYZ"
    for frame in (awards, prepared.awards, awards.iloc[0:0]):
        expected = [None if pd.isna(note) else note for note in convert_frame(frame, choice)[C.FX_NOTE]]
        assert conversion_notes(frame, choice).tolist() == expected
    view = apply_view(prepared, ViewState(currency=choice.currency, fx_at=choice.at or "announcement"))
    said = view.unconverted()
    view.awards  # noqa: B018 (converting them now: the same counts, read from the converted rows)
    assert view.unconverted() == said
    # A view counts its awards' notes from codes made once per package and choice: the same notes, counts
    # and order (first met) as its converted awards carry, whatever rows it keeps, in whatever order.
    from aifunding.analysis.adding import Selection
    from aifunding.analysis.view_awards import ViewAwards

    every = np.arange(len(awards))
    for rows in (None, every[::3], every[::-2], every[:0]):
        picked = awards if rows is None else awards.take(rows)
        notes = convert_frame(picked, choice)[C.FX_NOTE]
        expected = {str(k): int(v) for k, v in notes.value_counts(sort=False).items()}
        selection = Selection(awards=awards, programmes=prepared.programmes, award_rows=rows)
        assert list(ViewAwards(selection, choice).notes().items()) == list(expected.items())
    awkward = dataclasses.replace(prepared, awards=awards, memo={})
    for countries in ((), ("JP",), ("US", "GB")):
        state = ViewState(countries=countries, currency=choice.currency, fx_at=choice.at or "announcement")
        counted = apply_view(awkward, state).unconverted()
        converted = apply_view(awkward, state)
        converted.awards  # noqa: B018
        assert list(counted.items()) == list(converted.unconverted().items())
        assert counted or countries  # the whole package has notes to count


def test_a_views_recipients_are_counted_from_numbers_as_from_its_awards(prepared: Prepared, tmp_path: Path) -> None:
    from aifunding.analysis.view import prepare, recipient_count

    from packages import generate

    generate(1500, tmp_path / "package", seed=6)
    for package in (prepared, prepare(load_package(tmp_path / "package"))):
        for state in (
            ViewState(),
            ViewState(countries=("JP",)),
            ViewState(countries=("GB", "US")),
            ViewState(countries=("XX",)),
        ):
            view = apply_view(package, state)
            expected = len({org for ids in view.awards[C.RECIPIENT_IDS] for org in ids})
            assert recipient_count(package, view) == expected, state
            if not state.countries:
                assert expected > 0  # the whole package has recipients: the count is not trivially 0


def test_remembered_builds_once_per_key_and_forgets_the_least_recently_used(prepared: Prepared) -> None:
    prepared.memo.clear()
    builds: list[int] = []

    def build(n: int) -> int:
        builds.append(n)
        return n * 10

    assert remembered(prepared, ("k", 0), lambda: build(0)) == 0
    assert remembered(prepared, ("k", 0), lambda: build(0)) == 0
    assert builds == [0]
    for n in range(1, MEMO_ENTRIES):
        remembered(prepared, ("k", n), lambda n=n: build(n))
    remembered(prepared, ("k", 0), lambda: build(0))  # used again: now the most recent
    remembered(prepared, ("k", MEMO_ENTRIES), lambda: build(MEMO_ENTRIES))
    assert len(prepared.memo) == MEMO_ENTRIES
    assert ("k", 0) in prepared.memo and ("k", 1) not in prepared.memo  # 1 was the least recently used
    assert builds == list(range(MEMO_ENTRIES + 1))
    prepared.memo.clear()


def test_remembered_is_shared_by_sessions_reading_and_filling_it_at_once(prepared: Prepared) -> None:
    # Live followers' pages run in threads of their own, all asking for the same few views.
    prepared.memo.clear()
    failures: list[BaseException] = []

    def session(seed: int) -> None:
        try:
            for n in range(2000):
                key = ("view", (seed * 7 + n) % (MEMO_ENTRIES + 40))
                assert remembered(prepared, key, lambda key=key: key[1]) == key[1]
        except BaseException as error:  # a thread cannot fail the test itself: it is reported below
            failures.append(error)

    threads = [threading.Thread(target=session, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(prepared.memo) <= MEMO_ENTRIES
    prepared.memo.clear()


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (up to a minute) for ``condition``, which another thread makes true."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


class Sessions:
    """Threads standing in for sessions, and the events they wait on, all set and joined when the test ends.

    A test that fails midway (an ``_until`` that never happens) would otherwise leave its sessions waiting,
    holding their builds and waits in the memo for a minute, and every memo test after it would fail too.
    """

    def __init__(self) -> None:
        self.events: list[threading.Event] = []
        self.threads: list[threading.Thread] = []

    def event(self) -> threading.Event:
        self.events.append(threading.Event())
        return self.events[-1]

    def start(self, *targets: Callable[[], None]) -> tuple[list[threading.Thread], list[BaseException]]:
        """``targets`` started, each in a thread of its own, and the list their failures are put in."""
        failures: list[BaseException] = []

        def run(target: Callable[[], None]) -> None:
            try:
                target()
            except BaseException as error:  # a thread cannot fail the test itself: it is reported by the caller
                failures.append(error)

        threads = [threading.Thread(target=run, args=(target,), daemon=True) for target in targets]
        for thread in threads:
            thread.start()
        self.threads += threads
        return threads, failures

    def end(self) -> None:
        for event in self.events:
            event.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.fixture
def sessions() -> Iterator[Sessions]:
    made = Sessions()
    yield made
    made.end()


def _joined(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a session never got its value (a deadlock)"


def test_sessions_asking_for_a_view_being_built_wait_for_that_build(prepared: Prepared, sessions: Sessions) -> None:
    # A presenter's link opened by many viewers at once: one build of its view, every session given it.
    prepared.memo.clear()
    release, builds, got = sessions.event(), [], []

    def build() -> object:
        builds.append(threading.get_ident())
        release.wait(60)
        return object()

    def session() -> None:
        got.append(remembered(prepared, ("shared", "link"), build))

    first, failures = sessions.start(session)
    _until(lambda: len(builds) == 1, "the first session building")
    others, more_failures = sessions.start(*[session] * 4)
    _until(lambda: len(memo_module._WAITING) == 4, "four sessions waiting for that build")
    release.set()
    _joined(first + others)
    assert failures == more_failures == []
    assert len(builds) == 1 and len(got) == 5 and all(value is got[0] for value in got)
    assert prepared.memo[("shared", "link")] is got[0]
    assert memo_module._BUILDS == {} and memo_module._WAITING == {}
    prepared.memo.clear()


def test_a_build_that_failed_is_made_again_by_each_session_that_waited_for_it_at_once(
    prepared: Prepared, sessions: Sessions
) -> None:
    # One after another, a build that always fails would reach the last of N sessions after N failures.
    prepared.memo.clear()
    release, builds, got = sessions.event(), [], []

    def build() -> str:
        builds.append(threading.get_ident())
        if len(builds) == 1:
            release.wait(60)
            raise RuntimeError("the first build fails")
        _until(lambda: len(builds) == 4, "the three sessions that waited building at the same time")
        return "built again"

    first, failures = sessions.start(lambda: remembered(prepared, "flaky", build))
    _until(lambda: len(builds) == 1, "the first session building")
    waiting, waiting_failures = sessions.start(*[lambda: got.append(remembered(prepared, "flaky", build))] * 3)
    _until(lambda: len(memo_module._WAITING) == 3, "three sessions waiting")
    release.set()
    _joined(first + waiting)
    assert [str(error) for error in failures] == ["the first build fails"] and waiting_failures == []
    assert got == ["built again"] * 3 and len(set(builds)) == 4
    assert prepared.memo["flaky"] == "built again"
    assert memo_module._BUILDS == {} and memo_module._WAITING == {}
    prepared.memo.clear()


def test_a_wait_that_would_close_a_cycle_builds_instead(prepared: Prepared, sessions: Sessions) -> None:
    # Session A builds "a" and needs "b"; session B builds "b" and needs "a". Waiting for each other would
    # hang both pages for ever: B, finding A waiting for it, builds "a" itself.
    prepared.memo.clear()
    building_b, built = sessions.event(), []

    def build_a() -> str:
        built.append("a")
        building_b.wait(60)
        return "a+" + remembered(prepared, "b", build_b)

    def build_b() -> str:
        built.append("b")
        building_b.set()
        _until(lambda: len(memo_module._WAITING) == 1, "session A waiting for b")
        return "b+" + remembered(prepared, "a", lambda: "a built by B")

    a_got: list[str] = []
    session_a, failures = sessions.start(lambda: a_got.append(remembered(prepared, "a", build_a)))
    _until(lambda: built == ["a"], "session A building a")
    session_b, b_failures = sessions.start(lambda: remembered(prepared, "b", build_b))
    _joined(session_a + session_b)
    assert failures == b_failures == []
    assert a_got == ["a+b+a built by B"]
    assert prepared.memo["a"] == "a+b+a built by B"  # the outer build, stored last, is what the memo keeps
    assert memo_module._BUILDS == {} and memo_module._WAITING == {}
    prepared.memo.clear()


@pytest.mark.parametrize(
    "state",
    [
        ViewState(),
        ViewState(countries=("JP",)),
        ViewState(countries=("GB", "US"), currency="USD"),
        ViewState(kinds=("grant",), date_from=D(2020, 1, 1), currency="EUR", fx_at="2024-04-19"),
        ViewState(countries=("XX",)),
    ],
    ids=repr,
)
def test_a_views_awards_are_taken_only_when_read_and_are_the_awards_the_filters_keep(
    prepared: Prepared, tmp_path: Path, state: ViewState
) -> None:
    """The sentence, the headline and the notes read the view without taking its awards; taken, they are the same."""
    from aifunding.analysis.adding import SCOPES
    from aifunding.analysis.view import prepare
    from aifunding.outputs.summary import adding_rule, headline

    from packages import generate

    generate(1500, tmp_path / "package", seed=8)
    for package in (prepared, prepare(load_package(tmp_path / "package"))):
        view = apply_view(package, state)
        sentence, notes, totals = view.sentence(), view.unconverted(), headline(package, view).totals
        columns = view.award_columns(["id", "amount"])
        if state.currency is None:
            assert "published_awards" not in view.__dict__  # nothing above took the awards' columns
        # The old way: every column of the kept rows taken at once, read by each step.
        expected = package.awards.take(view.selection.award_rows).reset_index(drop=True)
        if state.countries == ("JP",):  # and the rows the country filter keeps, found without the view
            assert expected["id"].tolist() == package.awards.loc[package.awards[C.COUNTRY_ID] == "JP", "id"].tolist()
        pd.testing.assert_frame_equal(view.published_awards, expected)
        pd.testing.assert_frame_equal(columns, expected[["id", "amount"]])
        assert view.award_count == len(expected) and view.empty == (expected.empty and view.programmes.empty)
        assert (view.sentence(), view.unconverted()) == (sentence, notes)
        money = view.money
        whole = adding_rule(package).totals(
            SCOPES,
            view.programmes,
            view.awards,
            value_column=money.value_column,
            currency_column=money.currency_column,
            currency=money.currency,
            within=view.selection,
        )
        assert whole == totals and [t.counts for t in whole.values()] == [t.counts for t in totals.values()]


@settings(max_examples=60, deadline=None)
@given(
    picked=st.lists(st.integers(min_value=0, max_value=49), max_size=40),
    first=st.integers(min_value=0, max_value=45),
    count=st.integers(min_value=0, max_value=12),
)
def test_taken_rows_page_as_the_rows_taken_whole(picked: list[int], first: int, count: int) -> None:
    """A page of rows taken as far as read is the page of the rows taken whole: rows, numbering, types."""
    from aifunding.figures.worded import Taken, Worded

    source = pd.DataFrame({"id": pd.array([f"a{i}" for i in range(50)], dtype="str"), "n": range(50)})
    positions = np.asarray(picked, dtype=np.intp)

    def word(part: pd.DataFrame) -> pd.DataFrame:
        return part.assign(label=part["id"] + "!")

    lazy = Worded(Taken(source, positions), word)
    whole = Worded(source.take(positions).reset_index(drop=True), word)
    assert len(lazy) == len(whole)
    pd.testing.assert_frame_equal(lazy.page(first, count), whole.page(first, count))
    pd.testing.assert_frame_equal(
        lazy.then(lambda t: t[["label"]]).head(count), whole.then(lambda t: t[["label"]]).head(count)
    )
    pd.testing.assert_frame_equal(lazy.whole(), whole.whole())
    pd.testing.assert_frame_equal(lazy.rows, whole.rows)


@pytest.mark.parametrize(
    "state",
    [
        ViewState(),
        ViewState(countries=("JP",)),
        ViewState(countries=("GB",), currency="USD"),
        ViewState(countries=("XX",)),
    ],
    ids=repr,
)
def test_a_views_awards_worded_a_page_at_a_time_are_the_awards_table(prepared: Prepared, state: ViewState) -> None:
    """The Data page's awards: each page (and the download) is what wording the view's awards whole gives."""
    from aifunding.figures.presentation import awards_table
    from aifunding.figures.worded import Worded, view_awards

    view = apply_view(prepared, state)

    def word(rows: pd.DataFrame) -> pd.DataFrame:
        return awards_table(rows, prepared.package, money=view.money, lang="en")

    lazy = view_awards(view, word)
    if state.currency is None:
        assert "published_awards" not in view.__dict__ and len(lazy) == view.award_count
    whole = Worded(view.awards, word)
    for first, count in ((0, 5), (3, 4), (len(whole) - 2, 5)):
        pd.testing.assert_frame_equal(lazy.page(max(first, 0), count), whole.page(max(first, 0), count))
    pd.testing.assert_frame_equal(lazy.whole(), whole.whole())


@pytest.mark.parametrize("choice", [FxChoice("USD"), FxChoice("EUR", "2023-06"), FxChoice("JPY", "1998")], ids=str)
def test_remembered_rates_are_the_rates_looked_up_afresh(choice: FxChoice) -> None:
    """A rate or a reason remembered for a (currency, date) is what looking it up again gives."""
    from aifunding.analysis.conversion import rate_or_note

    asked = [(c, d) for c in ("JPY", "USD", "GBP", "XYZ", None) for d in (*AWKWARD_DATES, "2024-04-19", None)]
    first = [rate_or_note(c, d, choice) for c, d in asked]
    assert (
        [rate_or_note(c, d, choice) for c, d in asked]
        == first
        == [rate_or_note.__wrapped__(c, d, choice) for c, d in asked]
    )
    assert any(isinstance(r, str) for r in first) and any(not isinstance(r, str) for r in first)


@pytest.mark.parametrize(
    "state",
    [ViewState(), ViewState(countries=("JP",), lang="ja"), ViewState(countries=("GB",), currency="USD")],
    ids=repr,
)
def test_the_headline_highlights_remembered_across_filters_are_found_afresh(
    prepared: Prepared, state: ViewState
) -> None:
    from aifunding.outputs.summary import headline, highlights

    prepared.memo.clear()
    other = apply_view(prepared, state.with_(countries=("US",)))  # another filter fills the memo first
    assert headline(prepared, other).highlights == highlights(prepared, state.lang, fx=state.fx)
    view = apply_view(prepared, state)
    assert headline(prepared, view).highlights == highlights(prepared, state.lang, fx=state.fx)
    assert headline(prepared, view).highlights  # the bundled package has highlights to compare


@pytest.mark.parametrize(
    "name",
    [
        "Short",
        "A programme name long enough to wrap over two lines or more (target, planned)",
        "生成AI基盤モデル開発支援プログラム（第2期）：目標",
    ],
)
def test_a_remembered_axis_label_is_the_label_wrapped_afresh(name: str) -> None:
    from aifunding.figures.base import AXIS_LABEL_WIDTH
    from aifunding.figures.lines import wrap
    from aifunding.figures.programmes import _wrapped_label

    assert _wrapped_label(name) == _wrapped_label(name) == wrap(name, AXIS_LABEL_WIDTH)


def test_a_frame_keeps_the_notes_of_its_latest_money_choices_only(prepared: Prepared) -> None:
    """Notes are kept per money choice, the latest few: a server asked for many fixed dates stays bounded."""
    from aifunding.analysis.view_awards import _CODES, KEPT_NOTES, _note_codes

    awards = prepared.awards.copy()
    choices = [FxChoice("USD", f"2024-01-{day:02d}") for day in range(1, KEPT_NOTES + 4)]
    for choice in choices:
        codes, _ = _note_codes(awards, choice)
        assert len(codes) == len(awards)
    kept = [key[1] for key in _CODES[id(awards)] if isinstance(key, tuple)]
    assert kept == choices[-KEPT_NOTES:]


_org_ids = st.sampled_from(["org-a", "org-b", "org-c", "日本"])


@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["p1", "p2", "p3"]), st.none()),
            st.lists(_org_ids, max_size=3, unique=True).map(tuple),
        ),
        max_size=10,
    )
)
def test_programmes_by_recipient_are_those_a_loop_over_the_awards_gathers(rows: list[tuple]) -> None:
    from aifunding.analysis.recipients import programmes_by_recipient

    awards = pd.DataFrame(
        {
            "programme_id": pd.Series([programme for programme, _ in rows], dtype="str"),
            C.RECIPIENT_IDS: pd.Series([recipients for _, recipients in rows], dtype=object),
        }
    )
    expected: dict[str, set] = {}
    for programme_id, recipients in zip(awards["programme_id"], awards[C.RECIPIENT_IDS], strict=True):
        for org in recipients:
            expected.setdefault(org, set()).add(programme_id)
    got = programmes_by_recipient(awards)
    assert list(got) == list(expected)  # recipients in order of first appearance
    # A missing programme id is NaN, which equals nothing: compared as text.
    assert {k: sorted(map(str, v)) for k, v in got.items()} == {k: sorted(map(str, v)) for k, v in expected.items()}


def test_a_market_s_share_bounds_are_numbers_even_when_none_has_one(prepared: Prepared) -> None:
    # The 2024 press market has no upper bound at all: its column was one of None, which a page shows as "None".
    from aifunding.figures.presentation import shares_table

    for market, rows in prepared.market_shares.groupby("market_id"):
        table = shares_table(rows, prepared.package)
        assert table["Low %"].dtype == table["High %"].dtype == np.float64, market
    press = shares_table(
        prepared.market_shares[prepared.market_shares["market_id"] == "jp-cloud-press-2024"], prepared.package
    )
    assert press["High %"].isna().all() and press["Low %"].notna().any()
