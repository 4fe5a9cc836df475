"""Programme families (the Companies page's per-programme charts), ranked by column, against the per-group rule."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis.conversion import ORIGINAL
from aifunding.figures.base import amount_frame
from aifunding.figures.presentation import programme_families


def families_by_group(awards: pd.DataFrame, min_recipients: int) -> list[tuple[str, pd.DataFrame]]:
    """The rule as a loop over programmes: each one's funded rows by :func:`amount_frame`, the largest first."""
    found = []
    for root, group in awards.groupby(C.ROOT_PROGRAMME_ID, sort=False):
        funded = amount_frame(group, "amount", "currency")
        if funded[C.PROJECT_LABEL].nunique() >= min_recipients:
            found.append((str(root), group, float(sum(funded["amount"].map(float)))))
    found.sort(key=lambda item: -item[2])
    return [(root, group) for root, group, _ in found]


ROWS = st.lists(
    st.tuples(
        st.sampled_from(["p-a", "p-b", "p-c", "p-d", None]),
        st.sampled_from(["JPY", "USD", "EUR", None]),
        st.one_of(st.none(), st.integers(1, 5).map(lambda n: Decimal(n * 100))),
        st.sampled_from(["Sakura", "KDDI", "GMO", "Highreso"]),
    ),
    max_size=40,
)


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"a-{n}" for n in range(len(rows))],
            C.ROOT_PROGRAMME_ID: pd.array([r[0] for r in rows], dtype="str"),
            "currency": pd.array([r[1] for r in rows], dtype="str"),
            "amount": pd.Series([r[2] for r in rows], dtype=object),
            C.PROJECT_LABEL: pd.array([r[3] for r in rows], dtype="str"),
        }
    )


@settings(max_examples=300, deadline=None)
@given(ROWS, st.integers(1, 3))
def test_families_ranked_by_column_are_the_families_of_each_programme(rows: list[tuple], min_recipients: int) -> None:
    """Same programmes, same order (ties in order of appearance), same rows: home currency first, then the commonest."""
    awards = frame(rows)
    expected = families_by_group(awards, min_recipients)
    found = programme_families(awards, money=ORIGINAL, min_recipients=min_recipients)
    assert len(found) == len(expected)
    assert [root for root, _ in found[:]] == [root for root, _ in expected]
    for (_, got), (_, want) in zip(found[:], expected, strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_a_programme_with_one_home_currency_award_draws_in_yen_though_dollars_are_commoner() -> None:
    awards = frame(
        [
            *[
                ("p-a", "USD", Decimal(5), "Sakura"),
                ("p-a", "USD", Decimal(5), "KDDI"),
                ("p-a", "JPY", Decimal(900), "GMO"),
            ],
            *[
                ("p-a", "JPY", Decimal(100), "KDDI"),
                ("p-b", "EUR", Decimal(1), "GMO"),
                ("p-b", "EUR", Decimal(1), "KDDI"),
            ],
        ]
    )
    found = programme_families(awards)
    # p-a adds 1,000 yen (its dollars are left out), p-b two euros: p-a first.
    assert [root for root, _ in found[:]] == ["p-a", "p-b"]
    assert found[0][1]["id"].tolist() == ["a-0", "a-1", "a-2", "a-3"]


@settings(max_examples=200, deadline=None)
@given(ROWS, st.integers(1, 3), st.data())
def test_families_of_names_coded_as_categoricals_are_those_of_their_texts(
    rows: list[tuple], min_recipients: int, data: st.DataObject
) -> None:
    """The awards in view give names as categoricals (``ViewAwards.coded``), their categories in any order."""
    awards = frame(rows)
    coded = awards.copy()
    for name in (C.ROOT_PROGRAMME_ID, "currency", C.PROJECT_LABEL):
        present = [v for v in pd.unique(awards[name].astype(object)) if isinstance(v, str)]
        unused = [v for v in ("JPY", "p-z", "Zeta") if v not in present]
        categories = data.draw(st.permutations([*present, *data.draw(st.lists(st.sampled_from(unused), unique=True))]))
        coded[name] = pd.Categorical(awards[name].astype(object), categories=pd.Index(categories, dtype=object))
    plain = programme_families(awards, money=ORIGINAL, min_recipients=min_recipients)
    found = programme_families(coded, money=ORIGINAL, min_recipients=min_recipients)
    assert [root for root, _ in found[:]] == [root for root, _ in plain[:]]
    for (_, got), (_, want) in zip(found[:], plain[:], strict=True):
        pd.testing.assert_frame_equal(got.astype(object), want.astype(object))
