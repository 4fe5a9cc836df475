"""The awards in view taken as far as read, against the whole frames they stand for.

The Companies charts read a dozen columns of the awards in view, and the table behind each chart takes
the rows it shows when it shows them (:mod:`aifunding.analysis.view_awards`, ``Chart.rows_of``). The
first way took every column of every award in view and drew everything from that frame: both must give
the same figures, the same tables and the same rows, in original and converted money, empty or not.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.utils
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis import view_awards
from aifunding.analysis.cached_views import prepare_cached
from aifunding.analysis.view import FilteredView, Prepared, ViewState, apply_view, prepare
from aifunding.analysis.view_awards import AMOUNTS, CODED
from aifunding.figures.presentation import unpublished_awards
from aifunding.figures.registry import Chart, Drawn, draw, page_charts
from aifunding.figures.worded import Taken, Worded
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import load_package

from packages import generate

STATES = [
    ViewState(),
    ViewState(countries=("JP",)),
    ViewState(countries=("JP",), lang="ja"),
    ViewState(countries=("GB", "US"), currency="USD"),  # converted at each announcement's rate
    ViewState(kinds=("grant",), currency="EUR", fx_at="2024-04-19", lang="ja"),  # at one date's rate
    ViewState(countries=("XX",)),  # empty
    ViewState(countries=("XX",), currency="USD"),  # empty and converted
]


@pytest.fixture(scope="module")
def packages(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> list[Prepared]:
    """The bundled package, and a generated one with more recipients than a chart draws and many programmes."""
    folder = tmp_path_factory.mktemp("generated") / "package"
    generate(1500, folder, seed=8)
    return [prepared, prepare(load_package(Path(folder)))]


def with_an_organisation(prepared: Prepared, state: ViewState) -> ViewState:
    """``state`` filtered to the first recipient of the package's first award (the organisation filter)."""
    return state.with_(organisations=(prepared.awards[C.RECIPIENT_IDS].iloc[0][0],))


@pytest.mark.parametrize("state", STATES, ids=repr)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_some_columns_or_some_rows_are_that_part_of_the_whole_frame(
    packages: list[Prepared], state: ViewState, data: st.DataObject
) -> None:
    """Columns of every award, rows of every column: the cells, types, order and numbering of the whole frame's."""
    for prepared in packages:
        view = apply_view(prepared, state)
        lazy = view.lazy_awards
        names = data.draw(st.lists(st.sampled_from(lazy.names), min_size=1, max_size=6, unique=True))
        n = len(lazy)
        positions = np.asarray(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=8 if n else 0)), dtype=int)
        columns, rows = lazy.columns(names), lazy.take(positions)
        assert "published_awards" not in view.__dict__ and "awards" not in view.__dict__  # nothing taken whole
        whole = view.awards  # the first way: every column of every award, converted whole
        assert n == len(whole) == view.award_count and lazy.names == list(whole.columns)
        pd.testing.assert_frame_equal(columns, whole[names])
        pd.testing.assert_frame_equal(rows, whole.take(positions).reset_index(drop=True))
        published = [name for name in names if name in view.selection.awards.columns]
        for asked in (published, [*published, *published[:1]]):  # a name twice, too
            expected = whole[asked].take(positions).reset_index(drop=True)
            pd.testing.assert_frame_equal(lazy.at(asked, positions), expected)


def whole_frame(chart: Chart) -> Chart:
    """``chart`` as it was first drawn: from every column of the awards in view, its rows those frames."""
    return replace(chart, select=lambda view: view.awards, rows_of=None)


def figure_json(drawn: Drawn) -> str:
    return json.dumps(drawn.figure.to_dict(), cls=plotly.utils.PlotlyJSONEncoder)


def assert_same_drawn(new: Drawn, old: Drawn) -> None:
    """The same figure JSON, words and rows: each page, the whole table, and the plain rows."""
    words = ("key", "heading", "on_page", "intro", "note")
    assert [getattr(new, name) for name in words] == [getattr(old, name) for name in words]
    assert figure_json(new) == figure_json(old)
    assert_same_rows(new.rows, old.rows)


def assert_same_rows(new: Worded, old: Worded) -> None:
    assert len(new) == len(old)
    for first, count in ((0, 3), (2, 4), (max(len(old) - 2, 0), 5)):
        pd.testing.assert_frame_equal(new.page(first, count), old.page(first, count))
    pd.testing.assert_frame_equal(new.whole(), old.whole())
    pd.testing.assert_frame_equal(new.rows.reset_index(drop=True), old.rows.reset_index(drop=True))


@pytest.mark.parametrize("organisation", [False, True], ids=["", "organisation"])
@pytest.mark.parametrize("state", STATES, ids=repr)
def test_the_companies_charts_from_a_few_columns_are_the_charts_from_whole_frames(
    packages: list[Prepared], state: ViewState, organisation: bool
) -> None:
    for prepared in packages:
        shown = with_an_organisation(prepared, state) if organisation else state
        view, first_way = apply_view(prepared, shown), apply_view(prepared, shown)
        drawn = {chart.key: draw(chart, prepared, view) for chart in page_charts("companies")}
        # Drawn, nothing took every column of the awards in view; the tables take their rows when read.
        assert "published_awards" not in view.__dict__ and "awards" not in view.__dict__
        for chart in page_charts("companies"):
            old = draw(whole_frame(chart), prepared, first_way)
            assert len(drawn[chart.key]) == len(old)
            for new_drawn, old_drawn in zip(drawn[chart.key], old, strict=True):
                assert_same_drawn(new_drawn, old_drawn)
        # The awards with no amount, under the page's charts, from the rows behind the all-recipient chart.
        (old_recipients,) = draw(whole_frame(page_charts("companies")[0]), prepared, first_way)
        assert_same_rows(
            unpublished_awards(drawn["recipients"][0].rows, shown.lang),
            unpublished_awards(old_recipients.rows, shown.lang),
        )


@settings(max_examples=80, deadline=None)
@given(
    picked=st.lists(st.integers(min_value=0, max_value=29), max_size=25),
    keep=st.lists(st.booleans(), min_size=25, max_size=25),
    ids=st.lists(st.integers(min_value=0, max_value=35).map(lambda i: f"a{i}"), max_size=10),
)
def test_taken_rows_give_a_column_and_keep_some_rows_as_the_rows_taken_whole(
    picked: list[int], keep: list[bool], ids: list[str]
) -> None:
    """A column, a mask and the rows a chart drew, read of rows not taken, are those of the rows taken whole."""
    source = pd.DataFrame({"id": pd.array([f"a{i}" for i in range(30)], dtype="str"), "n": range(30)})
    positions = np.asarray(picked, dtype=np.intp)

    def word(part: pd.DataFrame) -> pd.DataFrame:
        return part.assign(label=part["id"] + "!").reset_index(drop=True)

    lazy = Worded(Taken(source, positions), word)
    whole = Worded(source.take(positions).reset_index(drop=True), word)
    pd.testing.assert_series_equal(lazy.column("n"), whole.column("n"))
    mask = pd.Series(keep[: len(positions)])
    assert_same_rows(lazy.where(mask), whole.where(mask))
    assert_same_rows(lazy.with_ids(ids), whole.with_ids(ids))
    assert isinstance(lazy.with_ids(ids)._rows, Taken)  # still not taken
    # A download takes every row, and keeps none of them: a table kept for reruns holds positions, not a copy.
    pd.testing.assert_frame_equal(lazy.whole(), whole.whole())
    assert isinstance(lazy._rows, Taken)


def test_a_view_shares_its_columns_and_its_conversion_between_charts(prepared: Prepared) -> None:
    """The page's charts ask for the same columns: taken (and converted) once per view."""
    view: FilteredView = apply_view(prepared, ViewState(currency="USD"))
    lazy = view.lazy_awards
    names = [C.AMOUNT_CONVERTED, "id"]
    assert lazy.columns(names) is lazy.columns(names)
    assert view.lazy_awards is lazy and lazy.conversion is lazy.conversion


@pytest.mark.parametrize("state", STATES, ids=repr)
def test_coded_columns_are_the_columns_with_their_names_as_categoricals(
    packages: list[Prepared], state: ViewState
) -> None:
    """The same cells (missing ones missing) and order; each name column coded once per package, for every view."""
    for prepared in packages:
        lazy = apply_view(prepared, state).lazy_awards
        names = [name for name in lazy.names if name in CODED or name in ("id", "purpose_en", *AMOUNTS)]
        coded, plain = lazy.coded(names), lazy.columns(names)
        amounts = [name for name in names if name in AMOUNTS]
        assert list(coded.columns) == names + [C.FLOATS.format(name) for name in amounts]
        assert len(coded) == len(plain) and amounts
        for name in amounts:  # each amount's float beside it, NaN where there is none
            expected = [float("nan") if v is None or v != v else float(v) for v in plain[name]]
            np.testing.assert_array_equal(coded[C.FLOATS.format(name)].to_numpy(), np.asarray(expected, dtype=float))
        for name in names:
            is_coded = isinstance(coded[name].dtype, pd.CategoricalDtype)
            assert is_coded == (name in CODED)
            pd.testing.assert_series_equal(coded[name].astype(object), plain[name].astype(object))
        other = apply_view(prepared, state.with_(countries=("JP",))).lazy_awards.coded(names)
        for name in CODED & set(names):
            assert other[name].dtype is coded[name].dtype  # one coding of the whole column, shared
        assert lazy.coded(names) is coded


def test_the_codes_of_a_frame_go_with_it() -> None:
    whole = pd.DataFrame({"currency": pd.array(["JPY", None, "USD", "JPY"], dtype="str")})
    codes, dtype = view_awards._codes(whole, "currency")
    assert codes.tolist() == [0, -1, 1, 0] and list(dtype.categories) == ["JPY", "USD"]
    key = id(whole)
    assert key in view_awards._CODES
    del whole
    gc.collect()
    assert key not in view_awards._CODES


def test_codes_and_floats_are_kept_in_the_cache_entry_and_read_back_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart's first view reads the awards' codes and floats from the package's entry, not working them out."""
    folder = tmp_path / "pkg"
    generate(300, folder, seed=5)
    cache = PackageCache(tmp_path / "cache")
    names = ["project_label", "project_label_ja", "currency", "amount"]
    first = apply_view(prepare_cached(load_package(folder, cache=cache), cache), ViewState()).lazy_awards.coded(names)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    kept = {path.name.rsplit("-", 1)[0] for path in entry.glob("*.pickle")}
    assert {"codes-project_label", "codes-project_label_ja", "codes-currency", "floats-amount"} <= kept

    def refuse(*args: object) -> None:
        raise AssertionError("worked out again")

    monkeypatch.setattr(view_awards, "_coded", refuse)
    monkeypatch.setattr(view_awards, "floats", refuse)
    restarted = prepare_cached(load_package(folder, cache=cache), cache)
    again = apply_view(restarted, ViewState()).lazy_awards.coded(names)
    pd.testing.assert_frame_equal(again, first)
    for name in ("project_label", "project_label_ja", "currency"):
        assert list(again[name].cat.categories) == list(first[name].cat.categories)


def test_recipients_ranks_and_notes_at_announcement_dates_are_kept_and_read_back_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Companies ranking's order of names and the notes of a conversion at announcement dates: not worked out again.

    A conversion at one fixed date is worked out per server, not kept (a reader may ask for any date).
    """
    folder = tmp_path / "pkg"
    generate(300, folder, seed=6)
    cache = PackageCache(tmp_path / "cache")

    def worked_out(prepared: Prepared) -> tuple[list[str], np.ndarray, dict[str, int], dict[str, int]]:
        labels = apply_view(prepared, ViewState()).lazy_awards.coded(["project_label"])["project_label"]
        notes = apply_view(prepared, ViewState(currency="USD")).lazy_awards.notes()
        fixed = apply_view(prepared, ViewState(currency="EUR", fx_at="2024-06")).lazy_awards.notes()
        names = labels.cat.categories
        return list(names), view_awards.name_ranks(names), notes, fixed

    names, ranks, notes, fixed = worked_out(prepare_cached(load_package(folder, cache=cache), cache))
    assert len(names) > 20 and [names[i] for i in np.argsort(ranks)] == sorted(names)
    assert len(notes) >= 2 and fixed
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    kept = {path.name.rsplit("-", 1)[0] for path in entry.glob("*.pickle")}
    assert {"ranks-project_label", "notes-USD"} <= kept and not any(name.startswith("notes-EUR") for name in kept)

    asked: list[str] = []
    monkeypatch.setattr(view_awards, "by_name", lambda names: asked.append("ranks") or np.arange(len(names)))
    real_notes = view_awards.conversion_notes
    monkeypatch.setattr(view_awards, "conversion_notes", lambda *a: asked.append(a[1].currency) or real_notes(*a))
    again = worked_out(prepare_cached(load_package(folder, cache=cache), cache))
    assert asked == ["EUR"]  # only the fixed date's
    assert again[0] == names
    np.testing.assert_array_equal(again[1], ranks)
    assert again[2:] == (notes, fixed)


def test_kept_ranks_that_do_not_place_each_name_once_are_worked_out_again() -> None:
    whole = pd.DataFrame({"project_label": pd.array(["b", "a", None, "c", "a"], dtype="str")})
    wrong = {
        "a place twice": np.array([1, 1, 0], dtype=np.int64),
        "a place past the names": np.array([0, 1, 3], dtype=np.int64),
        "too short": np.array([0, 1], dtype=np.int64),
        "other integers": np.array([0, 1, 2], dtype=np.int32),
        "each place once, not in name order": np.array([0, 1, 2], dtype=np.int64),
    }
    asked: list[str] = []
    for what, value in wrong.items():
        asked.clear()
        frame = whole.copy()

        def keeper(name: str, build: Callable[[], object], value: object = value) -> object:
            asked.append(name)
            return value if name.startswith("ranks") else build()

        view_awards.keep_with(frame, keeper)
        _, dtype = view_awards._codes(frame, "project_label")
        assert view_awards.name_ranks(dtype.categories).tolist() == [1, 0, 2], what  # b, a, c
        assert asked == ["codes-project_label", "ranks-project_label"], what


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=6), min_size=2, max_size=30, unique=True), st.data())
def test_kept_ranks_are_checked_in_the_order_arrow_ranks_names_by(labels: list[str], data: st.DataObject) -> None:
    """The check compares Python texts (code points); the ranks come from Arrow's sort (UTF-8 bytes): one order.

    Kana, kanji, accents and emoji included: the ranks Arrow worked out are taken back as they are, and the
    same ranks with two places swapped are refused.
    """
    whole = pd.DataFrame({"project_label": pd.array(labels, dtype="str")})
    right = view_awards._ranks(view_awards._coded(whole["project_label"])[1].categories)
    i, j = data.draw(st.lists(st.integers(0, len(labels) - 1), min_size=2, max_size=2, unique=True))
    swapped = right.copy()
    swapped[[i, j]] = swapped[[j, i]]
    for value, taken in ((right, True), (swapped, False)):
        frame = whole.copy()
        view_awards.keep_with(frame, lambda name, build, value=value: value if name.startswith("ranks") else build())
        _, dtype = view_awards._codes(frame, "project_label")
        ranks = view_awards.name_ranks(dtype.categories)
        np.testing.assert_array_equal(ranks, right)
        assert (ranks is value) is taken


def test_what_a_keeper_gives_back_is_used_only_when_it_fits_the_frame() -> None:
    whole = pd.DataFrame({"currency": pd.array(["JPY", None, "USD", "JPY"], dtype="str")})
    other = pd.DataFrame({"currency": pd.array(["EUR"], dtype="str")})
    wrong = {
        "too short": view_awards._coded(other["currency"]),
        "a code past the names": (np.array([0, -1, 1, 1], dtype=np.int32), view_awards._coded(other["currency"])[1]),
        "other integers": (np.array([0, -1, 1, 0], dtype=np.int64), view_awards._coded(whole["currency"])[1]),
        "not codes": "codes",
    }
    asked: list[str] = []
    for what, value in wrong.items():
        asked.clear()
        frame = whole.copy()
        view_awards.keep_with(frame, lambda name, build, value=value: asked.append(name) or value)
        codes, dtype = view_awards._codes(frame, "currency")
        assert asked == ["codes-currency"], what
        assert codes.tolist() == [0, -1, 1, 0] and list(dtype.categories) == ["JPY", "USD"], what
