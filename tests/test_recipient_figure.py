"""The recipient chart against the pandas way it was first written: the same bars, totals and segments.

The builder takes a dozen columns of the rows it draws, compares labels with the few recipients kept
(not the thousands added up), counts segments from the awards it draws and localizes each distinct
name once; the reference here groups, masks and counts whole frames as the first version did.
"""

from __future__ import annotations

import base64
from collections import Counter
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis.metrics import localized
from aifunding.analysis.totals import split_by_basis
from aifunding.analysis.view_awards import CODED
from aifunding.figures import companies, ranking
from aifunding.figures.base import amount_frame, labelled_range
from aifunding.figures.lines import wrap
from aifunding.i18n import Translator
from aifunding.money.formatting import format_composition, format_partial_date

# Few kept recipients, so that small frames have "others" often.
TOP = 3

AWARD = st.tuples(
    # Enough names that the others added up are often longer than every bar drawn (the bar is cut).
    st.sampled_from(
        [
            *("Sakura", "KDDI", "GMO", "Highreso", "Kyoto U + RIKEN", "Others (2 recipients)"),
            *("ABEJA", "Preferred Networks", "SoftBank", "Rutilea", "Ubitus", "Internet Initiative Japan"),
        ]
    ),
    st.sampled_from(["さくら", "", " ", None]),  # a blank Japanese name falls back to English
    st.one_of(st.none(), st.integers(1, 6).map(lambda n: Decimal(n * 250))),
    st.sampled_from(["JPY", "JPY", "USD"]),  # yen drawn whenever there is any
    st.sampled_from(["exact", "up_to", "up_to_about", "about"]),
    st.sampled_from(["Cloud round", "GENIAC"]),
    st.sampled_from(["GPUs", "研究", None]),
)
AWARDS = st.lists(AWARD, min_size=1, max_size=30)
# Many small awards beside a few: the others added up are often longer than every bar drawn.
CROWDED = st.lists(AWARD, min_size=25, max_size=60)


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Awards as the filtered view holds them, with columns the chart never reads among them."""
    column = list(zip(*rows, strict=True))
    index = pd.RangeIndex(len(rows)) * 2  # not numbered from 0: the chart must not read by label

    def objects(values: list | tuple) -> pd.Series:
        return pd.Series(list(values), index=index, dtype=object)

    return pd.DataFrame(
        {
            "id": [f"a-{n}" for n in range(len(rows))],
            C.PROJECT_LABEL: pd.array(column[0], dtype="str"),
            C.PROJECT_LABEL_JA: pd.array(column[1], dtype="str"),
            "amount": objects(column[2]),
            "currency": pd.array(column[3], dtype="str"),
            "basis": pd.array(column[4], dtype="str"),
            "programme_name_en": pd.array(column[5], dtype="str"),
            "programme_name_ja": pd.array([None] * len(rows), dtype="str"),
            "purpose_en": pd.array(column[6], dtype="str"),
            "purpose_ja": pd.array(column[6][::-1], dtype="str"),
            "announced": pd.array(["2024-04-19"] * len(rows), dtype="str"),
            "note": pd.array(["unread"] * len(rows), dtype="str"),
            C.SOURCE_IDS: objects([("s-1",)] * len(rows)),
            C.CAVEAT_IDS: objects([()] * len(rows)),
        },
        index=index,
    )


def reference(awards: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, pd.Series, str | None]:
    """Rows (with ``_label``, ``_value``), ordered totals and the others' label, as the first version made them."""
    rows = amount_frame(awards, "amount", "currency")
    rows = rows.assign(_value=rows["amount"].map(float), _label=localized(rows, C.PROJECT_LABEL, lang))
    totals = rows.groupby("_label")["_value"].sum().sort_values()
    others_label = None
    if len(totals) > TOP:
        others = totals.index[: len(totals) - TOP]
        others_label = Translator(lang)("chart.recipient.others", n=len(others))
        rows = rows.assign(_label=rows["_label"].where(~rows["_label"].isin(set(others)), others_label))
        totals = rows.groupby("_label")["_value"].sum().sort_values()
        totals = pd.concat([totals[[others_label]], totals.drop(others_label)])
    return rows, totals, others_label


def composition(drawn: pd.DataFrame, label: str, lang: str) -> str:
    """A bar's total by kind of basis, as written at its end."""
    rows = drawn[drawn["_label"] == label]
    sums = split_by_basis(zip(rows["amount"], rows["basis"], strict=True))
    return format_composition(
        {k: v.quantize(Decimal(1)) for k, v in sums.items()}, rows["currency"].iloc[0], locale=lang
    )


def numbers(value: Any) -> list[float]:
    """A trace's numbers, whether plotly wrote them as a list or as a typed array."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


@settings(max_examples=200, deadline=None)
@given(AWARDS, st.sampled_from(["en", "ja"]))
def test_the_chart_draws_what_the_pandas_way_adds_up(rows: list[tuple], lang: str) -> None:
    check_against_the_pandas_way(rows, lang)


@settings(max_examples=100, deadline=None)
@given(st.one_of(AWARDS, CROWDED), st.sampled_from(["en", "ja"]), st.integers(1, 4))
def test_a_bar_of_many_awards_adds_up_each_rounds_awards(rows: list[tuple], lang: str, per_bar: int) -> None:
    check_against_the_pandas_way(rows, lang, per_bar=per_bar)


@settings(max_examples=100, deadline=None)
@given(CROWDED, st.sampled_from(["en", "ja"]))
def test_a_crowded_chart_draws_what_the_pandas_way_adds_up(rows: list[tuple], lang: str) -> None:
    check_against_the_pandas_way(rows, lang)


def check_against_the_pandas_way(rows: list[tuple], lang: str, per_bar: int = 10**6) -> None:
    """The figure's bars, totals at their ends, segments and title against :func:`reference`.

    A bar of more than ``per_bar`` awards draws one segment per round and basis, its awards added up.
    """
    awards = frame(rows)
    before = awards.copy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(companies, "TOP_RECIPIENTS", TOP)
        patch.setattr(companies, "SEGMENTS_PER_BAR", per_bar)
        figure = companies.build_recipient_figure(awards, lang=lang).to_dict()
    pd.testing.assert_frame_equal(awards, before)
    drawn, totals, others_label = reference(awards, lang)
    if drawn.empty:
        assert figure["layout"]["yaxis"].get("categoryarray") is None
        return
    assert list(figure["layout"]["yaxis"]["categoryarray"]) == list(totals.index)
    # Each bar's total at its end: the same floats, added in the same order. An others bar longer than
    # every recipient drawn is cut at the axis end instead, which then fits the drawn ones, and says so.
    kept = totals.drop(others_label) if others_label is not None else totals
    axis_end = figure["layout"]["xaxis"]["range"][1]
    cut = others_label is not None and axis_end < totals[others_label]
    event("others bar cut" if cut else "every bar whole")
    if cut:
        # Cut only when the drawn ones, with room for their totals, end well before it.
        assert kept.max() < totals[others_label]
        assert (
            axis_end
            == labelled_range(
                kept.max(),
                ((v, composition(drawn, k, lang)) for k, v in kept.items()),
                names=figure["layout"]["yaxis"]["ticktext"],  # the names beside the plot narrow it
            )["range"][1]
        )
    else:
        assert axis_end >= totals.max()
    ends = [(label, axis_end if cut and label == others_label else total) for label, total in totals.items()]
    assert [(a["y"], a["x"]) for a in figure["layout"]["annotations"]] == ends
    if cut:
        (note,) = [a["text"] for a in figure["layout"]["annotations"] if a["y"] == others_label]

        # Wrapped on lines of 40 columns (English breaks at a space, Japanese anywhere): compared without the breaks.
        def joined(text: str) -> str:
            return "".join(text.replace("<br>", " ").split())

        assert joined(note).endswith(joined(Translator(lang)("chart.recipient.others_cut", amount=""))), note
    bars = [trace for trace in figure["data"] if trace["name"] != others_label]
    if others_label is not None:
        (others,) = [trace for trace in figure["data"] if trace["name"] == others_label]
        assert numbers(others["x"]) == [float(drawn.loc[drawn["_label"] == others_label, "_value"].sum())]
    # One segment per award of a recipient kept, with its purpose; its amount written inside when the bar has
    # several. A bar of more than per_bar awards adds up each round's (and basis') awards into one segment,
    # without a purpose, its hover saying how many; a round with one award keeps it as it is.
    segments = drawn[drawn["_label"] != others_label].assign(_purpose=lambda f: localized(f, "purpose", lang))
    counts = drawn["_label"].value_counts()
    expected: Counter = Counter()
    t, day = Translator(lang), format_partial_date("2024-04-19", lang)  # every award of frame() is dated so
    for (label, _, _), group in segments.groupby(["_label", "programme_name_en", "basis"], sort=False, dropna=False):
        if counts[label] > per_bar and len(group) > 1:
            when = t("chart.recipient.awards_on", n=len(group), date=day)
            expected[(label, sum(group["_value"].tolist()), "?", when)] += 1
        else:
            purposes = (p if isinstance(p, str) else "?" for p in group["_purpose"])
            expected.update((label, v, p, day) for v, p in zip(group["_value"], purposes, strict=True))
    got = Counter(
        (y, x, purpose if isinstance(purpose, str) else "?", when)
        for trace in bars
        for y, x, (_, _, when, purpose) in zip(trace["y"], numbers(trace["x"]), trace["customdata"], strict=True)
    )
    assert got == expected
    event("segments added up" if any(key[3] != day for key in expected) else "one segment per award")
    # A chart with a bar past the threshold says so, under its title and on its axis.
    crowded = bool((counts[counts.index != others_label] > per_bar).any())
    words = Translator(lang)("chart.recipient.grouped", n=per_bar)
    assert (words in figure["layout"]["title"]["text"]) == crowded
    axis = "chart.recipient.axis_grouped" if crowded else "chart.recipient.axis"
    assert figure["layout"]["xaxis"]["title"]["text"] == Translator(lang)(axis, currency=drawn["currency"].iloc[0])
    for trace in bars:
        for y, text in zip(trace["y"], trace["text"], strict=True):
            assert bool(text) == (counts[y] > 1)
    # The title names the largest recipient, its total by kind of basis and how many awards it had.
    top = drawn[drawn["_label"] == totals.index[-1]]
    sums = split_by_basis(zip(top["amount"], top["basis"], strict=True))
    amount = format_composition(
        {k: v.quantize(Decimal(1)) for k, v in sums.items()}, top["currency"].iloc[0], locale=lang
    )
    title = Translator(lang)("chart.recipient.title", name=totals.index[-1], amount=amount, n=len(top))
    assert figure["layout"]["title"]["text"].split("<br><span")[0] == wrap(title)  # long titles wrap


def test_each_round_and_basis_has_its_own_colour_while_the_palette_holds_them() -> None:
    rows = [
        ("Sakura", None, Decimal(500), "JPY", "exact", "Cloud round", "GPUs"),
        ("KDDI", None, Decimal(250), "JPY", "up_to", "Cloud round", "GPUs"),
        ("GMO", None, Decimal(750), "JPY", "about", "GENIAC", None),
        ("ABEJA", None, Decimal(250), "JPY", "up_to_about", "Cloud round", None),
    ]
    figure = companies.build_recipient_figure(frame(rows)).to_dict()
    colours = [trace["marker"]["color"] for trace in figure["data"]]
    assert len(colours) == 4 and len(set(colours)) == 4
    assert all("pattern" not in trace["marker"] for trace in figure["data"])


def test_past_the_palette_a_programme_keeps_one_colour_and_its_bases_a_texture_each() -> None:
    bases = ["exact", "about", "up_to", "up_to_about"]
    rows = [
        (name, None, Decimal(250 * (n + 1)), "JPY", basis, programme, None)
        for n, (name, programme, basis) in enumerate(
            (f"Recipient {n}", programme, basis)
            for n, (programme, basis) in enumerate((p, b) for p in ("Cloud round", "GENIAC", "ABCI") for b in bases)
        )
    ]
    figure = companies.build_recipient_figure(frame(rows)).to_dict()
    assert len(figure["data"]) == 12  # three programmes, four bases each: past the palette's eight colours
    colours: dict[str, set[str]] = {}
    for trace in figure["data"]:
        colours.setdefault(trace["legendgroup"], set()).add(trace["marker"]["color"])
    assert {group: len(found) for group, found in colours.items()} == {"Cloud round": 1, "GENIAC": 1, "ABCI": 1}
    assert len({found.pop() for found in colours.values()}) == 3
    # The basis is the texture over the programme's colour: solid for an exact figure.
    patterns = {trace["name"].split(" · ")[1]: trace["marker"]["pattern"]["shape"] for trace in figure["data"]}
    assert patterns == {"exact": "", "about": ".", "up to": "|", "up to about": "+"}


def coded(awards: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    """``awards`` with its names as categoricals, as the awards in view give them (``ViewAwards.coded``).

    The categories come in a drawn order, with names no row holds among them: a chart that ordered
    or counted by category rather than by name would differ from the plain frame's.
    """
    out = awards.copy()
    for name in sorted(CODED & set(awards.columns)):
        present = [v for v in pd.unique(awards[name].astype(object)) if isinstance(v, str)]
        extra = data.draw(st.lists(st.sampled_from(["Zeta", "Aardvark", "未使用", "JPY"]), unique=True))
        categories = data.draw(st.permutations([*present, *(e for e in extra if e not in present)]))
        out[name] = pd.Categorical(awards[name].astype(object), categories=pd.Index(categories, dtype=object))
    return out


@settings(max_examples=100, deadline=None)
@given(st.one_of(AWARDS, CROWDED), st.sampled_from(["en", "ja"]), st.data())
def test_names_coded_as_categoricals_draw_the_chart_their_texts_draw(
    rows: list[tuple], lang: str, data: st.DataObject
) -> None:
    awards = frame(rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(companies, "TOP_RECIPIENTS", TOP)
        plain = companies.build_recipient_figure(awards, lang=lang).to_dict()
        from_codes = companies.build_recipient_figure(coded(awards, data), lang=lang).to_dict()
    assert from_codes == plain


# Whole amounts (most currencies'), some large enough that their sum passes 2**53, cents, and a missing one.
summed_values = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(float),
    st.integers(min_value=2**50, max_value=2**53).map(float),
    st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda v: round(v, 2)),
    st.just(float("nan")),
    st.sampled_from([-0.0, -1.0, -(2.0**52)]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=5), summed_values), max_size=60), st.booleans())
# Where adding one after another differs from pandas' compensated sum: past 2**53, tenths, a missing value.
@example([(0, 2.0**53), (0, 1.0), (0, 1.0)], True)
@example([(1, 2.0**52 + 1), (1, 2.0**52 + 1), (1, 1.0)], True)
@example([(2, 0.1)] * 10, False)
@example([(0, 1.0), (0, float("nan")), (0, 2.0)], False)
@example([(0, 3.0), (5, 4.0)], True)
@example([(1, -0.0), (2, 5.0)], True)
def test_group_sums_are_pandas_groupby_sums_bit_for_bit(rows: list, whole_only: bool) -> None:
    """The chart ranks recipients by these sums: whichever way they are added, they are pandas' own floats."""
    if whole_only:
        rows = [(key, value) for key, value in rows if value == value and value == int(value)]
    keys = np.array([key for key, _ in rows], dtype=np.intp)
    values = np.array([value for _, value in rows], dtype=float)
    expected = pd.Series(values).groupby(keys).sum()
    # Keys among 6 names, or among far more names than rows (a programme's chart of a package's names).
    for groups in (6, 1000):
        present, sums = ranking.group_sums(values, keys, groups)
        assert present.tolist() == expected.index.tolist()
        assert [v.hex() for v in sums.tolist()] == [v.hex() for v in expected.to_numpy(dtype=float).tolist()]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_present_names_in_rank_order_are_their_ranks_sorted(names: int, data: st.DataObject) -> None:
    """Read off marked ranks (many present) or sorted (few), the order is the ranks' argsort either way."""
    ranks = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation(names)
    share = data.draw(st.sampled_from([0.001, 0.05, 0.5, 1.0]))
    present = np.flatnonzero(np.random.default_rng(names).random(names) < share)
    assert ranking._by_rank(ranks, present).tolist() == np.argsort(ranks[present], kind="stable").tolist()
