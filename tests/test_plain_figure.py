"""The fast figure path (aifunding.figures.plain) against plotly's validated one: the same JSON, always.

Each figure's JSON as the dashboard sends it (``plotly.io.to_json(figure, validate=False)``, what
``st.plotly_chart`` writes) is compared as a string, so values, types and key order all count: for
every registry chart on the bundled package across languages, currencies and filters, and for
random specs of the properties the builders use.
"""

from __future__ import annotations

import copy
import math
import pickle
import sys
import threading

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plotly.validator_cache import ValidatorCache

from aifunding.analysis.view import Prepared, ViewState, apply_view
from aifunding.figures import registry
from aifunding.figures.base import empty_figure
from aifunding.figures.plain import Figure, _plain_array, figure_meta, plain_figure


def plotly_json(spec: dict) -> str:
    """What the figure's JSON was before the fast path: plotly validating every property."""
    return pio.to_json(go.Figure(copy.deepcopy(spec)), validate=False)


def fast_json(spec: dict) -> str:
    return pio.to_json(Figure(spec), validate=False)


def outcome(make_json: object, spec: dict) -> tuple[str, str]:
    """("json", the JSON) or (the error's type, its message): an invalid spec must fail alike both ways."""
    try:
        return "json", make_json(spec)  # type: ignore[operator]
    except (ValueError, TypeError) as error:
        return type(error).__name__, str(error)


# Both languages, original and converted currencies, all countries, one, several and none of the data's.
VIEWS = [
    ViewState(lang="en"),
    ViewState(lang="ja"),
    ViewState(lang="en", currency="USD"),
    ViewState(lang="ja", currency="JPY", countries=("JP",)),
    ViewState(lang="en", countries=("FR", "GB")),
    ViewState(lang="ja", currency="USD", countries=("JP", "US")),
    ViewState(lang="en", countries=("XX",)),
]


@pytest.mark.parametrize("state", VIEWS, ids=lambda s: f"{s.lang}-{s.currency}-{'+'.join(s.countries) or 'all'}")
def test_every_registry_figure_is_plotlys(prepared: Prepared, state: ViewState) -> None:
    view = apply_view(prepared, state)
    drawn = [d for page in registry.PAGES for chart in page.charts for d in registry.draw(chart, prepared, view)]
    assert drawn
    for d in drawn:
        assert isinstance(d.figure, Figure), d.key
        spec = d.figure.__dict__["_spec"]
        assert fast_json(spec) == plotly_json(spec), d.key
        assert figure_meta(d.figure) == go.Figure(copy.deepcopy(spec)).layout.meta, d.key


def test_empty_figure_is_plotlys() -> None:
    spec = empty_figure("Nothing <b>here</b>", filename="x").__dict__["_spec"]
    assert fast_json(spec) == plotly_json(spec)


# Random specs of what the builders write: bar and scatter traces, their arrays (lists with gaps,
# numpy arrays, tuples in customdata), nested markers and fonts, titles as text or objects,
# annotations, a second axis and meta.
texts = st.text(alphabet="ab <>&日本¥%.,", max_size=8)
numbers = st.one_of(st.integers(-(10**15), 10**15), st.floats(allow_nan=False, allow_infinity=False, width=64))
# numpy scalars and booleans too: plotly makes them Python's, which the plain-list path must leave to it.
cells = st.one_of(texts, numbers, st.none(), st.booleans(), numbers.map(np.float64), st.integers(-9, 9).map(np.int64))
arrays = st.one_of(
    st.lists(cells, max_size=6),
    st.lists(numbers, max_size=6).map(lambda xs: np.array(xs, dtype=float)),
    st.lists(st.integers(0, 10**6), max_size=6).map(lambda xs: np.array(xs, dtype=np.int64)),
)
colours = st.sampled_from(["#0072B2", "#E69F00", "white", "rgba(0,0,0,0.5)", "#8a8f98"])
fonts = st.fixed_dictionaries({}, optional={"size": st.integers(1, 30), "color": colours, "family": texts})
titles = st.one_of(st.none(), texts, st.fixed_dictionaries({"text": texts}, optional={"font": fonts}))


def trace(kind: str) -> st.SearchStrategy[dict]:
    common = {
        "x": arrays,
        "y": arrays,
        "name": st.one_of(texts, st.none()),
        "text": st.one_of(arrays, texts),
        "customdata": st.one_of(
            st.lists(st.tuples(texts, texts), max_size=4),
            st.lists(st.one_of(st.tuples(texts, cells), st.lists(cells, max_size=3), cells), max_size=4),
        ),
        "hovertemplate": texts,
        "showlegend": st.booleans(),
        "legendgroup": texts,
        "marker": st.fixed_dictionaries(
            {}, optional={"color": colours, "pattern": st.fixed_dictionaries({"shape": st.sampled_from(["", "/"])})}
        ),
        "textfont": fonts,
    }
    if kind == "bar":
        common |= {
            "orientation": st.sampled_from(["h", "v"]),
            "textposition": st.sampled_from(["inside", "outside", "auto"]),
            "insidetextanchor": st.sampled_from(["middle", "start"]),
            "cliponaxis": st.booleans(),
            "xaxis": st.sampled_from(["x", "x2"]),
        }
    else:
        common |= {"mode": st.sampled_from(["markers", "lines+markers", "text"])}
    return st.fixed_dictionaries({"type": st.just(kind)}, optional=common)


axes = st.fixed_dictionaries(
    {},
    optional={
        "title": titles,
        "range": st.lists(numbers, min_size=2, max_size=2),
        "visible": st.booleans(),
        "categoryorder": st.just("array"),
        "categoryarray": st.lists(texts, max_size=4),
        "tickvals": st.lists(numbers, max_size=4),
        "ticktext": st.lists(texts, max_size=4),
        "automargin": st.booleans(),
        "domain": st.just([0.0, 0.5]),
        "gridcolor": colours,
    },
)
layouts = st.fixed_dictionaries(
    {},
    optional={
        "title": titles,
        "xaxis": axes,
        "xaxis2": axes,
        "yaxis": axes,
        "barmode": st.sampled_from(["stack", "group"]),
        "height": st.integers(10, 2000),
        "showlegend": st.booleans(),
        "legend": st.fixed_dictionaries({}, optional={"title": st.none(), "orientation": st.just("h")}),
        "margin": st.fixed_dictionaries({}, optional={"l": st.integers(0, 99), "t": st.integers(0, 300)}),
        "annotations": st.lists(
            st.fixed_dictionaries(
                {"text": texts}, optional={"x": numbers, "y": cells, "showarrow": st.booleans(), "font": fonts}
            ),
            max_size=3,
        ),
        "uniformtext": st.fixed_dictionaries({"minsize": st.integers(1, 20), "mode": st.just("hide")}),
        "meta": st.fixed_dictionaries({"alt": texts, "row_ids": st.one_of(st.none(), st.lists(texts, max_size=3))}),
        "colorway": st.lists(colours, min_size=1, max_size=3),
    },
)
specs = st.fixed_dictionaries(
    {"data": st.lists(st.one_of(trace("bar"), trace("scatter")), max_size=3), "layout": layouts}
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_random_specs_are_plotlys(spec: dict) -> None:
    before = pickle.dumps(spec)
    assert outcome(fast_json, spec) == outcome(plotly_json, spec)
    assert pickle.dumps(spec) == before  # the spec is never changed


def test_unsupported_specs_go_through_plotly() -> None:
    # A trace type the fast path does not know, and a plotly object inside: plotly's own result.
    for spec in (
        {"data": [{"type": "pie", "values": [1, 2]}]},
        {"data": [go.Bar(x=[1])], "layout": {"title": "t"}},
        {"data": [], "layout": go.Layout(height=300)},
    ):
        assert pio.to_json(plain_figure(spec)) == pio.to_json(go.Figure(spec).to_dict())


def test_invalid_specs_fail_as_plotly_does() -> None:
    with pytest.raises(ValueError, match=r"Invalid property specified for object of type plotly\.graph_objs\.Bar"):
        Figure({"data": [{"type": "bar", "colour": "red"}]})
    with pytest.raises(ValueError, match="Invalid value of type"):
        Figure({"data": [{"type": "bar", "orientation": "sideways"}]})


def test_figure_is_a_plotly_figure_when_used_as_one() -> None:
    spec = {"data": [{"type": "bar", "x": [1, 2], "y": ["a", "b"]}], "layout": {"title": "T", "meta": {"alt": "A"}}}
    fig = Figure(spec)
    assert figure_meta(fig) == {"alt": "A"}
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text == "T"
    assert fig.data[0].y == ("a", "b")
    fig.update_layout(height=300)
    assert fig.to_dict()["layout"]["height"] == 300
    assert figure_meta(fig) == {"alt": "A"}
    again = pickle.loads(pickle.dumps(Figure(spec)))
    plotlys = pickle.loads(pickle.dumps(go.Figure(spec)))
    assert pio.to_json(again, validate=False) == pio.to_json(plotlys, validate=False)
    assert go.Figure(Figure(spec)).to_dict() == go.Figure(spec).to_dict()


def test_to_dict_hands_out_a_copy() -> None:
    fig = Figure({"data": [{"type": "bar", "x": [1, 2]}], "layout": {"meta": {"row_ids": ["a"]}}})
    first = fig.to_dict()
    first["data"][0]["x"].append(3)
    first["layout"]["meta"]["row_ids"].append("b")
    first["layout"]["template"]["layout"]["font"] = None
    assert fig.to_dict() == Figure(fig.__dict__["_spec"]).to_dict()
    assert figure_meta(fig) == {"row_ids": ["a"]}


def test_a_figure_sent_to_streamlit_is_its_own_dict_written_as_plotly_writes_it() -> None:
    """``sent()`` hands Streamlit the figure's own dict (no copy of it, nor of the template, at each rerun);
    the JSON Streamlit writes of it is plotly's, and writing it leaves the figure as it was."""
    spec = {"data": [{"type": "bar", "x": [1, 2], "y": ["a", "b"]}], "layout": {"title": "T", "meta": {"alt": "A"}}}
    fig = Figure(spec)
    sent = fig.sent()
    assert sent.to_dict() is sent.to_dict() is fig.__dict__["_plain"]
    assert fig.to_dict() is not fig.__dict__["_plain"]  # the figure itself still hands out copies
    before = copy.deepcopy(fig.__dict__["_plain"])
    assert pio.to_json(sent, validate=False) == pio.to_json(go.Figure(copy.deepcopy(spec)), validate=False)
    assert fig.__dict__["_plain"] == before and figure_meta(sent) == {"alt": "A"}
    fig.update_layout(height=300)  # made into plotly's objects: sent as itself, with its change
    assert fig.sent() is fig and fig.sent().to_dict()["layout"]["height"] == 300


def test_a_value_checked_before_is_taken_as_plotly_takes_it_again() -> None:
    """Scalars and small objects of them are checked by plotly once per validator: the same value of another type
    (12, then 12.0; True, then 1) is checked on its own, and nothing made for one figure is another's."""
    for size in (12, 12.0, 12, 12.0):
        spec = {"data": [{"type": "bar", "x": [1], "textfont": {"size": size}}], "layout": {"font": {"size": size}}}
        assert fast_json(spec) == plotly_json(spec)
    # 0.0 and -0.0 are equal but plotly keeps each sign: alone and inside a small object.
    for zero in (0.0, -0.0, 0.0, -0.0):
        spec = {"data": [{"type": "bar", "x": [1], "offset": zero}], "layout": {"annotations": [{"x": zero}]}}
        assert fast_json(spec) == plotly_json(spec)
        assert math.copysign(1.0, plain_figure(spec)["data"][0]["offset"]) == math.copysign(1.0, zero)
        marker = {"data": [{"type": "bar", "x": [1], "marker": {"opacity": zero, "color": "#fff"}}]}
        assert math.copysign(1.0, plain_figure(marker)["data"][0]["marker"]["opacity"]) == math.copysign(1.0, zero)
    for visible in (True, 1, "legendonly", True):
        assert outcome(fast_json, {"data": [{"type": "bar", "visible": visible}]}) == outcome(
            plotly_json, {"data": [{"type": "bar", "visible": visible}]}
        )
    # A colour scale named by a scalar is a list plotly makes for each figure: changing one changes no other.
    spec = {"data": [{"type": "bar", "marker": {"colorscale": "Viridis", "color": [1, 2]}}]}
    first, second = plain_figure(spec), plain_figure(spec)
    first["data"][0]["marker"]["colorscale"].clear()
    assert second["data"][0]["marker"]["colorscale"] == plain_figure(spec)["data"][0]["marker"]["colorscale"] != []
    font = {"data": [{"type": "bar", "textfont": {"size": 11, "color": "#fff"}}]}
    first, second = plain_figure(font), plain_figure(font)
    first["data"][0]["textfont"]["size"] = 99
    assert second["data"][0]["textfont"] == {"size": 11, "color": "#fff"}
    assert fast_json(font) == plotly_json(font)


def test_a_figure_shared_by_sessions_is_made_once_when_several_threads_use_it_at_once() -> None:
    """A figure is shared by every session showing its view: a presenter and a follower on the same slide
    copy it at the same moment while something else makes it into plotly's objects; each gets the whole
    figure, never an error (the first thread makes it; the others wait for it or copy its plain dict)."""
    spec = {
        "data": [{"type": "bar", "x": list(range(2000)), "y": [f"r{i}" for i in range(2000)]}],
        "layout": {"title": "T", "meta": {"alt": "A"}},
    }
    expected = go.Figure(spec).to_dict()

    def copy_it(shared: Figure, start: threading.Barrier, copies: list, errors: list) -> None:
        start.wait()
        try:
            copies.append(go.Figure(shared.to_dict()).to_dict())  # as presenter mode copies a shared slide
        except Exception as error:  # any error is the failure this test looks for
            errors.append(error)

    def make_it(shared: Figure, start: threading.Barrier, titles: list, errors: list) -> None:
        start.wait()
        try:
            titles.append(shared.layout.title.text)  # made into plotly's figure while the others copy it
        except Exception as error:
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, so one reads the figure while another makes it
    try:
        for _ in range(10):
            shared, start, copies, titles, errors = Figure(spec), threading.Barrier(6), [], [], []
            threads = [threading.Thread(target=copy_it, args=(shared, start, copies, errors)) for _ in range(4)]
            threads += [threading.Thread(target=make_it, args=(shared, start, titles, errors)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert copies == [expected] * 4 and titles == ["T", "T"]
            assert shared.to_dict() == expected and figure_meta(shared) == {"alt": "A"}
    finally:
        sys.setswitchinterval(interval)


def typed(value: object) -> object:
    """A value with the type of every item kept beside it, so 1 and 1.0, a tuple and a list, differ."""
    if isinstance(value, list | tuple):
        return (type(value), [typed(item) for item in value])
    return (type(value), value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(arrays, st.lists(st.one_of(st.tuples(texts, cells), st.lists(cells, max_size=3), cells), max_size=5)))
def test_a_plain_list_is_what_plotlys_data_array_validator_makes_of_it(value: object) -> None:
    validator = ValidatorCache.get_validator("bar", "customdata")
    plain = _plain_array(value)
    if plain is not None:
        assert typed(plain) == typed(validator.validate_coerce(value))
    plain_scalars = (str, float, int, bool, type(None))
    if isinstance(value, list) and (
        all(type(item) in plain_scalars for item in value)
        or all(type(item) is tuple and all(type(inner) in plain_scalars for inner in item) for item in value)
    ):
        assert plain is not None  # the builders' lists: x, y, text and customdata of tuples
