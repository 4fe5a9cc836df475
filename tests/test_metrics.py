"""Derived figures in aifunding.analysis.metrics: recipients, programme roots and totals, annualised amounts,
totals by recipient, pool shares and currency conversion.

Frame helpers get small hand-written frames and a check that their input was not mutated; the
grouping invariants (totals preserved, joint awards counted once) are hypothesis properties.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifunding import columns as C
from aifunding.analysis import recipients as recipient_lists
from aifunding.analysis.conversion import FxChoice, convert_frame
from aifunding.analysis.metrics import (
    annualise,
    award_view,
    pool_shares,
    programme_roots,
    programme_totals,
    recipients_by_award,
    totals_by_recipient,
)
from aifunding.loading.package import Package, load_package

from packages import minimal_tables, write_package

# The ECB cross rate JPY->USD on 2024-04-19 (1.0653 USD and 164.68 JPY per EUR), to 10 digits.
JPY_USD_20240419 = Decimal("0.006468909400")


def frame(rows: list[dict]) -> pd.DataFrame:
    """A hand-written frame; object dtype keeps Decimals and None exactly as written."""
    return pd.DataFrame(rows, dtype=object)


def none_if_na(value: object) -> object:
    """Missing text cells come back as NaN from pandas' string dtype; compare them as None."""
    return None if pd.isna(value) else value


def assert_unchanged(before: pd.DataFrame, after: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(before, after, check_exact=True)


# --- recipients_by_award ---------------------------------------------------------------------------------


def test_minimal_package_labels_a_joint_award_as_one_project(minimal: Path) -> None:
    result = recipients_by_award(load_package(minimal)).set_index(C.AWARD_ID)
    assert result.loc["award-a", C.PROJECT_LABEL] == "Alpha Cloud"
    assert not result.loc["award-a", C.JOINT]
    assert result.loc["award-bc", C.PROJECT_LABEL] == "Beta Labs + Gamma AI (joint)"
    assert result.loc["award-bc", C.RECIPIENT_IDS] == ("org-b", "org-c")
    assert bool(result.loc["award-bc", C.JOINT])
    # Japanese names fall back to the English name where no Japanese one exists.
    assert result.loc["award-a", C.RECIPIENTS_JA] == "アルファ"
    assert result.loc["award-bc", C.RECIPIENTS_JA] == "Beta Labs・Gamma AI"


def test_lead_comes_first_whatever_the_file_order(tmp_path: Path) -> None:
    tables = minimal_tables()
    # The member is listed before the lead in the file.
    tables["award_recipients"] = [
        {"award_id": "award-a", "organisation_id": "org-a", "role": "sole"},
        {"award_id": "award-bc", "organisation_id": "org-c", "role": "member"},
        {"award_id": "award-bc", "organisation_id": "org-b", "role": "lead"},
    ]
    result = recipients_by_award(load_package(write_package(tmp_path, tables))).set_index(C.AWARD_ID)
    assert result.loc["award-bc", C.RECIPIENT_IDS] == ("org-b", "org-c")
    assert result.loc["award-bc", C.PROJECT_LABEL] == "Beta Labs + Gamma AI (joint)"


def test_bundled_joint_award_reads_as_one_project(bundled: Package) -> None:
    result = recipients_by_award(bundled).set_index(C.AWARD_ID)
    row = result.loc["jp-cloud-2024-04-rutilea-ai-fukushima"]
    assert row[C.PROJECT_LABEL] == "RUTILEA + AI Fukushima (joint)"
    assert row[C.RECIPIENT_IDS] == ("rutilea", "ai-fukushima")
    # One row per award, never one per recipient.
    assert result.index.is_unique
    assert len(result) == len(bundled.frame("awards"))


@pytest.mark.parametrize(
    "columns",
    [
        [],
        [C.PROGRAMME_NAME_EN, C.ROOT_PROGRAMME_ID, C.COUNTRY_ID, C.PROJECT_LABEL, C.RECIPIENTS_EN, C.JOINT],
        [C.KIND, C.ROOT_PROGRAMME_NAME_JA, C.PROJECT_LABEL_JA, C.SOURCE_IDS],
        [C.RECIPIENT_IDS, C.CAVEAT_IDS, C.PROGRAMME_LEVEL, C.RECIPIENTS_JA],
    ],
)
def test_an_award_view_of_some_columns_is_those_of_the_whole_view(bundled: Package, columns: list[str]) -> None:
    """Asking for some of the added columns gives the awards' own and those, each as the whole view has it.

    The kind is an award's own field too: the view fills it from the programme only when asked for it.
    """
    whole = award_view(bundled)
    some = award_view(bundled, columns=columns)
    own = bundled.frame("awards")
    assert list(some.columns) == [name for name in whole.columns if name in own.columns or name in columns]
    made = [name for name in some.columns if name not in own.columns or name in columns]
    pd.testing.assert_frame_equal(some[made], whole[made], check_exact=True)
    kept = [name for name in some.columns if name not in made]
    pd.testing.assert_frame_equal(some[kept], own[kept], check_exact=True)
    assert (C.KIND in columns) == (C.KIND in made)


@pytest.mark.parametrize("columns", [None, [C.RECIPIENTS_JA, C.SOURCE_IDS], [C.KIND, C.PROGRAMME_LEVEL]])
def test_an_award_view_given_its_recipients_is_the_view_that_joins_them(
    bundled: Package, tmp_path: Path, columns: list[str] | None
) -> None:
    """The recipients made elsewhere (another thread, as prepare does) give the view the join gives itself.

    They are asked for after the programmes' columns and links, once, and only when a recipients' column is wanted;
    a package whose awards have no recipients (an invalid one's) gives each award an empty tuple either way.
    """
    tables = minimal_tables()
    tables["award_recipients"] = []
    for package in (bundled, load_package(write_package(tmp_path / "pkg", tables))):
        asked: list[int] = []

        def made(package: Package = package, asked: list[int] = asked) -> pd.DataFrame:
            asked.append(1)
            return recipient_lists.recipients_frame(package.frame("award_recipients"), package.frame("organisations"))

        given = award_view(package, columns=columns, recipients=made)
        pd.testing.assert_frame_equal(given, award_view(package, columns=columns), check_exact=True)
        assert len(asked) == (0 if columns == [C.KIND, C.PROGRAMME_LEVEL] else 1)
    assert columns is not None or set(given[C.RECIPIENT_IDS]) == {()}


def test_columns_are_names_not_one_name(bundled: Package) -> None:
    """One name where a collection belongs would be read letter by letter, and make nothing: refused."""
    with pytest.raises(TypeError, match="not one name"):
        award_view(bundled, columns=C.KIND)
    with pytest.raises(TypeError, match="not one name"):
        recipient_lists.recipients_frame(
            bundled.frame("award_recipients"), bundled.frame("organisations"), columns=C.JOINT
        )


_ids = st.sampled_from(["a", "b", "c", "d", "=x", "日本"])


@settings(deadline=None)
@given(
    rows=st.lists(
        st.tuples(_ids, _ids, st.sampled_from(["lead", "sole", "member", "other", None])), min_size=1, max_size=12
    ),
    organisations=st.lists(
        st.tuples(_ids, st.text(max_size=4), st.one_of(st.none(), st.just(""), st.text(max_size=3))), max_size=6
    ),
    longest=st.sampled_from([1, 64]),  # equal lists of recipients named once or, past the longest, each on its own
    columns=st.sets(st.sampled_from(sorted(recipient_lists.RECIPIENT_COLUMNS))),
)
def test_recipients_as_vectors_are_the_recipients_row_by_row(
    rows: list[tuple], organisations: list[tuple], longest: int, columns: set[str]
) -> None:
    """Arrow's sort-and-join gives the frame the per-row dicts give: order, tuples, names, labels and dtypes."""
    from unittest import mock

    recipients = pd.DataFrame(rows, columns=["award_id", "organisation_id", "role"], dtype="str")
    orgs = pd.DataFrame(organisations, columns=["id", "name_en", "name_ja"], dtype="str")
    with mock.patch.object(recipient_lists, "LONGEST_CODED", longest):
        fast = recipient_lists.recipients_frame(recipients, orgs)
        some = recipient_lists.recipients_frame(recipients, orgs, columns=columns)
    slow = recipient_lists._recipients_by_award_rows(recipients, orgs)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert [type(ids) for ids in fast[C.RECIPIENT_IDS]] == [tuple] * len(fast)
    # Only the columns asked for (the award's id always), each as the whole frame has it.
    kept = [name for name in slow.columns if name == C.AWARD_ID or name in columns]
    pd.testing.assert_frame_equal(some, slow[kept], check_exact=True)


# --- programme_roots -------------------------------------------------------------------------------------


def test_programme_roots_stop_below_a_budget_frame() -> None:
    programmes = frame(
        [
            {"id": "frame", "parent_id": None, "level": "budget_frame"},
            {"id": "prog", "parent_id": "frame", "level": "programme"},
            {"id": "round", "parent_id": "prog", "level": "round"},
            {"id": "part", "parent_id": "round", "level": "component"},
            {"id": "alone", "parent_id": None, "level": "programme"},
        ]
    )
    before = programmes.copy()
    assert programme_roots(programmes) == {
        "frame": "frame",  # a frame with no parent is its own root
        "prog": "prog",  # inside a frame: its own root, not the frame
        "round": "prog",  # a round belongs to its programme
        "part": "prog",  # and so does anything nested deeper
        "alone": "alone",
    }
    assert_unchanged(before, programmes)


def test_programme_roots_terminate_on_a_parent_cycle() -> None:
    programmes = frame(
        [
            {"id": "a", "parent_id": "b", "level": "programme"},
            {"id": "b", "parent_id": "a", "level": "round"},
        ]
    )
    roots = programme_roots(programmes)
    assert set(roots) == {"a", "b"}
    assert set(roots.values()) <= {"a", "b"}


# --- programme_totals ------------------------------------------------------------------------------------

# A programme with two rounds: awards in the programme's currency, in another currency, and one
# without a published amount.
TOTALS_PROGRAMMES = [
    {"id": "prog", "parent_id": None, "currency": "JPY"},
    {"id": "round-1", "parent_id": "prog", "currency": "JPY"},
    {"id": "round-2", "parent_id": "prog", "currency": None},
    {"id": "empty", "parent_id": None, "currency": "JPY"},
]
TOTALS_AWARDS = [
    {"id": "a1", "programme_id": "round-1", "amount": Decimal("100"), "currency": "JPY", "basis": "up_to_about"},
    {"id": "a2", "programme_id": "round-1", "amount": Decimal("5"), "currency": "USD", "basis": "exact"},
    {"id": "a3", "programme_id": "prog", "amount": Decimal("50"), "currency": "JPY", "basis": "exact"},
    {"id": "a4", "programme_id": "round-1", "amount": None, "currency": None, "basis": None},
    {"id": "a5", "programme_id": "round-2", "amount": Decimal("7"), "currency": "JPY", "basis": "about"},
]


@pytest.mark.parametrize(
    ("programme", "expected"),
    [
        # the programme adds its own award and its rounds' (descendants included), in JPY only
        (
            "prog",
            {
                C.N_AWARDS: 5,
                C.N_AWARDS_UNPUBLISHED: 1,
                C.ALLOCATED: Decimal("157"),
                C.ALLOCATED_CURRENCY: "JPY",
                C.AWARDS_OTHER_CURRENCY: 1,
                C.ALLOCATED_BASES: ("about", "exact", "up_to_about"),
            },
        ),
        # a round: the USD award is counted, not added; the unpublished one is counted too
        (
            "round-1",
            {
                C.N_AWARDS: 3,
                C.N_AWARDS_UNPUBLISHED: 1,
                C.ALLOCATED: Decimal("100"),
                C.ALLOCATED_CURRENCY: "JPY",
                C.AWARDS_OTHER_CURRENCY: 1,
                C.ALLOCATED_BASES: ("up_to_about",),
            },
        ),
        # a round without its own currency takes its awards' single currency
        (
            "round-2",
            {
                C.N_AWARDS: 1,
                C.N_AWARDS_UNPUBLISHED: 0,
                C.ALLOCATED: Decimal("7"),
                C.ALLOCATED_CURRENCY: "JPY",
                C.AWARDS_OTHER_CURRENCY: 0,
                C.ALLOCATED_BASES: ("about",),
            },
        ),
        # no awards: nothing allocated, and None rather than a misleading zero
        (
            "empty",
            {
                C.N_AWARDS: 0,
                C.N_AWARDS_UNPUBLISHED: 0,
                C.ALLOCATED: None,
                C.ALLOCATED_CURRENCY: "JPY",
                C.AWARDS_OTHER_CURRENCY: 0,
                C.ALLOCATED_BASES: (),
            },
        ),
    ],
)
def test_programme_totals(programme: str, expected: dict) -> None:
    programmes, awards = frame(TOTALS_PROGRAMMES), frame(TOTALS_AWARDS)
    before = (programmes.copy(), awards.copy())
    row = programme_totals(programmes, awards).set_index(C.PROGRAMME_ID).loc[programme]
    assert {key: row[key] for key in expected} == expected
    assert_unchanged(before[0], programmes)
    assert_unchanged(before[1], awards)


def test_programme_without_currency_never_hides_awards_in_mixed_currencies() -> None:
    # No declared currency and awards in two: nothing can be added, so every award is counted as
    # "in another currency" rather than silently disappearing, and no currency is claimed.
    programmes = frame([{"id": "prog", "parent_id": None, "currency": None}])
    awards = frame(
        [
            {"id": "a1", "programme_id": "prog", "amount": Decimal("100"), "currency": "JPY", "basis": "exact"},
            {"id": "a2", "programme_id": "prog", "amount": Decimal("5"), "currency": "USD", "basis": "exact"},
        ]
    )
    row = programme_totals(programmes, awards).set_index(C.PROGRAMME_ID).loc["prog"]
    assert row[C.ALLOCATED] is None
    assert row[C.ALLOCATED_CURRENCY] is None
    assert row[C.AWARDS_OTHER_CURRENCY] == 2
    assert row[C.N_AWARDS] == 2


def test_bundled_round_allocation_is_the_exact_sum_of_its_five_awards(bundled: Package) -> None:
    totals = programme_totals(bundled.frame("programmes"), bundled.frame("awards")).set_index(C.PROGRAMME_ID)
    april = totals.loc["jp-cloud-2024-04"]
    assert april[C.ALLOCATED] == Decimal("72530000000")
    assert april[C.N_AWARDS] == 5
    # The Cloud Program has no declared amount of its own but adds every round beneath it.
    assert totals.loc["jp-cloud-program", C.N_AWARDS] == 11
    # GENIAC names recipients without amounts: counted, not summed.
    assert totals.loc["jp-geniac", C.N_AWARDS_UNPUBLISHED] == 7
    assert totals.loc["jp-geniac", C.ALLOCATED] is None


# --- annualise -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "period_years", "start_fy", "end_fy", "expected"),
    [
        # a published period length wins over the fiscal-year span
        (Decimal("1000000000000"), 5, 2026, 2026, Decimal("200000000000")),
        (Decimal("10000000000"), 7, None, None, Decimal("10000000000") / 7),
        # otherwise the span of fiscal years, both ends included
        (Decimal("2000000000"), None, 2024, 2028, Decimal("400000000")),
        (Decimal("400000000"), None, 2025, 2025, Decimal("400000000")),
        # missing values as pandas gives them (Int64 NA, NaN) behave like None
        (Decimal("300"), pd.NA, 2024, 2026, Decimal("100")),
        # nothing to divide by, or nothing to divide
        (Decimal("1000"), None, None, None, None),
        (Decimal("1000"), None, 2024, None, None),
        (Decimal("1000"), None, None, 2024, None),
        (None, 5, 2024, 2028, None),
        (float("nan"), 5, None, None, None),
    ],
)
def test_annualise(amount, period_years, start_fy, end_fy, expected) -> None:
    result = annualise(amount, period_years, start_fy, end_fy)
    assert result == expected
    if expected is not None:
        assert isinstance(result, Decimal)


# --- totals_by_recipient ---------------------------------------------------------------------------------

RECIPIENT_AWARDS = [
    {"project_label": "Sakura", "currency": "JPY", "amount": Decimal("0.1"), "basis": "exact", "programme_id": "p1"},
    {"project_label": "Sakura", "currency": "JPY", "amount": Decimal("0.2"), "basis": "about", "programme_id": "p2"},
    {"project_label": "R + A (joint)", "currency": "JPY", "amount": Decimal("2560000000"), "basis": "up_to_about",
     "programme_id": "p1"},
    {"project_label": "Sakura", "currency": "USD", "amount": Decimal("5"), "basis": "exact", "programme_id": "p3"},
    {"project_label": "Elyza", "currency": None, "amount": None, "basis": None, "programme_id": "p4"},
]  # fmt: skip


def test_totals_by_recipient_counts_a_joint_award_once_and_adds_exactly() -> None:
    awards = frame(RECIPIENT_AWARDS)
    before = awards.copy()
    totals = totals_by_recipient(awards)
    by_key = {(row[C.PROJECT_LABEL], none_if_na(row[C.CURRENCY])): row for _, row in totals.iterrows()}
    assert set(by_key) == {("Sakura", "JPY"), ("R + A (joint)", "JPY"), ("Sakura", "USD"), ("Elyza", None)}
    # Exact decimal arithmetic: 0.1 + 0.2 is 0.3, which float addition does not give.
    assert by_key[("Sakura", "JPY")][C.TOTAL] == Decimal("0.3")
    assert by_key[("Sakura", "JPY")][C.BASES] == ("about", "exact")
    assert by_key[("Sakura", "JPY")][C.PROGRAMME_IDS] == ("p1", "p2")
    # The joint project is one recipient holding the whole amount; its members get no share.
    assert by_key[("R + A (joint)", "JPY")][C.TOTAL] == Decimal("2560000000")
    assert by_key[("R + A (joint)", "JPY")][C.N_AWARDS] == 1
    assert not any(label in ("R", "A") for label, _ in by_key)
    # Currencies are never added together.
    assert by_key[("Sakura", "USD")][C.TOTAL] == Decimal("5")
    # An award without a published amount is counted, not summed.
    assert by_key[("Elyza", None)][C.TOTAL] == Decimal(0)
    assert by_key[("Elyza", None)][C.N_AWARDS_UNPUBLISHED] == 1
    # Largest total first.
    assert totals[C.PROJECT_LABEL].iloc[0] == "R + A (joint)"
    assert_unchanged(before, awards)


def test_bundled_totals_keep_joint_projects_whole(prepared) -> None:
    totals = totals_by_recipient(prepared.awards)
    jpy = totals[totals[C.CURRENCY] == "JPY"].set_index(C.PROJECT_LABEL)
    assert jpy.at["RUTILEA + AI Fukushima (joint)", C.TOTAL] == Decimal("2560000000")
    assert jpy.at["Highreso + Highreso Kagawa (joint)", C.TOTAL] == Decimal("7700000000")
    # Sakura Internet across the 2023, 2024-02 and 2024-04 awards: 6.8bn + 0.6bn + 50.1bn.
    assert jpy.at["Sakura Internet", C.TOTAL] == Decimal("57500000000")
    assert jpy.at["Sakura Internet", C.N_AWARDS] == 3
    for member in ("RUTILEA", "AI Fukushima", "Highreso", "Highreso Kagawa"):
        assert member not in jpy.index


# A set of recipients in role order (lead first) and its label, as recipients_by_award builds it.
NAMES = ("Alpha", "Beta", "Gamma", "Delta")
recipient_sets = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e13"), places=2)


def label_of(names: list[str]) -> str:
    return " + ".join(names) + (" (joint)" if len(names) > 1 else "")


@st.composite
def award_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for i in range(draw(st.integers(min_value=0, max_value=12))):
        amount = draw(st.none() | amounts)
        rows.append(
            {
                "id": f"award-{i}",
                "programme_id": draw(st.sampled_from(["p1", "p2", "p3"])),
                C.PROJECT_LABEL: label_of(draw(recipient_sets)),
                "amount": amount,
                "currency": None if amount is None else draw(st.sampled_from(["JPY", "USD"])),
                "basis": None if amount is None else draw(st.sampled_from(["exact", "about", "up_to"])),
            }
        )
    return pd.DataFrame(
        rows, columns=["id", "programme_id", C.PROJECT_LABEL, "amount", "currency", "basis"], dtype=object
    )


@settings(max_examples=60, deadline=None)
@given(award_frames())
def test_grouping_by_recipient_preserves_totals(awards: pd.DataFrame) -> None:
    before = awards.copy()
    totals = totals_by_recipient(awards)
    # Every award is in exactly one row, and every amount in the row of its own currency.
    assert totals[C.N_AWARDS].sum() == len(awards)
    assert totals[C.N_AWARDS_UNPUBLISHED].sum() == awards["amount"].isna().sum()
    assert sum(totals[C.TOTAL], Decimal(0)) == sum(awards["amount"].dropna(), Decimal(0))
    for currency in ("JPY", "USD"):
        mine = awards[awards["currency"] == currency]
        assert sum(totals.loc[totals[C.CURRENCY] == currency, C.TOTAL], Decimal(0)) == sum(mine["amount"], Decimal(0))
    # One row per (recipient, currency): a joint project is never split into its members.
    keys = list(zip(totals[C.PROJECT_LABEL], totals[C.CURRENCY].map(none_if_na), strict=True))
    assert len(keys) == len(set(keys))
    assert set(totals[C.PROJECT_LABEL]) == set(awards[C.PROJECT_LABEL])
    # Largest first.
    floats = [float(t) for t in totals[C.TOTAL]]
    assert floats == sorted(floats, reverse=True)
    assert_unchanged(before, awards)


# --- pool_shares -----------------------------------------------------------------------------------------


def test_pool_shares() -> None:
    programmes = frame(
        [
            {"id": "round", "amount": Decimal("72500000000"), "currency": "JPY", "basis": "up_to"},
            {"id": "no-pool", "amount": None, "currency": None, "basis": None},
        ]
    )
    awards = frame(
        [
            {"id": "kddi", "programme_id": "round", "amount": Decimal("10240000000"), "currency": "JPY"},
            {"id": "usd", "programme_id": "round", "amount": Decimal("5"), "currency": "USD"},
            {"id": "unpublished", "programme_id": "round", "amount": None, "currency": None},
            {"id": "orphan", "programme_id": "no-pool", "amount": Decimal("1"), "currency": "JPY"},
        ]
    )
    before = (programmes.copy(), awards.copy())
    result = pool_shares(awards, programmes).set_index("id")
    assert result.at["kddi", C.POOL_SHARE] == Decimal("10240000000") / Decimal("72500000000")
    assert result.at["kddi", C.POOL] == Decimal("72500000000")
    assert result.at["kddi", C.POOL_BASIS] == "up_to"
    # No share across currencies, without an award amount, or without a pool.
    assert result.at["usd", C.POOL_SHARE] is None
    assert result.at["unpublished", C.POOL_SHARE] is None
    assert result.at["orphan", C.POOL_SHARE] is None
    assert_unchanged(before[0], programmes)
    assert_unchanged(before[1], awards)


# --- convert_frame ---------------------------------------------------------------------------------------

CONVERT_ROWS = [
    {"id": "day", "amount": Decimal("1930000000"), "currency": "JPY", "announced": "2024-04-19"},
    {"id": "month", "amount": Decimal("6800000000"), "currency": "JPY", "announced": "2023-06"},
    {"id": "undated", "amount": Decimal("1100000000"), "currency": "JPY", "announced": None},
    {"id": "unpublished", "amount": None, "currency": None, "announced": "2024-02-02"},
    {"id": "not-ecb", "amount": Decimal("1000"), "currency": "XAF", "announced": "2024-04-19"},
]


def test_convert_frame_at_each_announcement_date() -> None:
    rows = frame(CONVERT_ROWS)
    before = rows.copy()
    result = convert_frame(rows, FxChoice("USD")).set_index("id")
    day = result.loc["day"]
    assert day[C.FX_RATE] == JPY_USD_20240419
    assert day[C.FX_RATE_DATE] == "2024-04-19"
    assert day[C.FX_METHOD] == "day"
    assert day[C.AMOUNT_CONVERTED] == Decimal("1930000000") * JPY_USD_20240419
    assert pd.isna(day[C.FX_NOTE])
    assert (result[C.CONVERTED_CURRENCY] == "USD").all()
    # A month-precise date uses that month's average.
    assert result.at["month", C.FX_METHOD] == "month_average"
    assert result.at["month", C.FX_RATE_DATE] == "2023-06"
    assert isinstance(result.at["month", C.AMOUNT_CONVERTED], Decimal)
    # Rows that cannot be converted keep a missing amount and say why.
    assert result.at["undated", C.AMOUNT_CONVERTED] is None
    assert result.at["undated", C.FX_NOTE] == "no announcement date, so no announcement-date rate"
    assert result.at["unpublished", C.FX_NOTE] == "no published amount"
    assert result.at["not-ecb", C.AMOUNT_CONVERTED] is None
    assert "'XAF' is not in the ECB reference rates" in result.at["not-ecb", C.FX_NOTE]
    assert_unchanged(before, rows)


def test_a_figure_already_in_the_chosen_currency_needs_no_date() -> None:
    """Zeureka's undated ¥1.1B, shown in yen, is ¥1.1B: it was left out as "no announcement date", so choosing
    JPY dropped it from the Companies chart and the Data page, and called it "not converted"."""
    result = convert_frame(frame(CONVERT_ROWS), FxChoice("JPY")).set_index("id")
    undated = result.loc["undated"]
    assert undated[C.AMOUNT_CONVERTED] == Decimal("1100000000") and undated[C.FX_RATE] == Decimal(1)
    assert pd.isna(undated[C.FX_NOTE]) and pd.isna(undated[C.FX_RATE_DATE])
    assert result.at["day", C.AMOUNT_CONVERTED] == Decimal("1930000000")
    assert result.at["unpublished", C.FX_NOTE] == "no published amount"
    # Another currency's undated figure still has no rate.
    usd = frame([{**CONVERT_ROWS[2], "currency": "USD"}])
    note = convert_frame(usd, FxChoice("JPY"))[C.FX_NOTE].iloc[0]
    assert note == "no announcement date, so no announcement-date rate"


def test_convert_frame_at_one_fixed_date_converts_undated_rows_too() -> None:
    rows = frame(CONVERT_ROWS[:3])
    # 2024-04-20 is a Saturday: the rate is the Friday's, and the rate date says so.
    result = convert_frame(rows, FxChoice("USD", "2024-04-20")).set_index("id")
    assert list(result[C.FX_RATE_DATE]) == ["2024-04-19"] * 3
    assert list(result[C.FX_RATE]) == [JPY_USD_20240419] * 3
    assert result.at["undated", C.AMOUNT_CONVERTED] == Decimal("1100000000") * JPY_USD_20240419
    assert result[C.FX_NOTE].isna().all()


def _convert_frame_row_by_row(frame: pd.DataFrame, choice: FxChoice) -> pd.DataFrame:
    """convert_frame as it was written before it grouped rows by (currency, date): the reference."""
    from aifunding.money.fx import ConversionError, rate_at

    def none_if_na(value: object) -> object:
        return None if value is None or pd.isna(value) else value

    result = frame.copy()
    columns: dict[str, list] = {name: [] for name in ("converted", "rate", "date", "method", "note")}
    for amount, currency, when in zip(
        result["amount"].tolist(), result["currency"].tolist(), result["announced"].tolist(), strict=True
    ):
        amount, currency, when = none_if_na(amount), none_if_na(currency), none_if_na(when)
        at = choice.at if choice.fixed else when
        try:
            if amount is None:
                raise ConversionError("no published amount")
            if at is None and currency != choice.currency:  # a figure in the chosen currency needs no rate
                raise ConversionError("no announcement date, so no announcement-date rate")
            rate = rate_at(currency, choice.currency, at)
        except ConversionError as exc:
            for name in ("converted", "rate", "date", "method"):
                columns[name].append(None)
            columns["note"].append(str(exc))
            continue
        columns["converted"].append(Decimal(amount) * rate.rate)
        columns["rate"].append(rate.rate)
        columns["date"].append(rate.rate_date or None)  # no date: none to name
        columns["method"].append(str(rate.method))
        columns["note"].append(None)
    result[C.AMOUNT_CONVERTED] = columns["converted"]
    result[C.CONVERTED_CURRENCY] = choice.currency
    result[C.FX_RATE] = columns["rate"]
    result[C.FX_RATE_DATE] = columns["date"]
    result[C.FX_METHOD] = columns["method"]
    result[C.FX_NOTE] = columns["note"]
    return result


@settings(deadline=None, max_examples=60)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["1930000000", "0.25", "1E+3", "-0", "12.3400"]).map(Decimal)),
            st.sampled_from(["JPY", "USD", "EUR", "XAF", None]),
            st.sampled_from(["2024-04-19", "2024-04-20", "2023-06", "2019", "1990-01-01", "2999", None]),
        ),
        max_size=10,
    ),
    choice=st.sampled_from([FxChoice("USD"), FxChoice("JPY"), FxChoice("USD", "2024-04-20"), FxChoice("GBP", "2019")]),
    text_columns=st.booleans(),
)
def test_convert_frame_by_currency_and_date_is_the_row_by_row_conversion(
    rows: list[tuple], choice: FxChoice, text_columns: bool
) -> None:
    """Rates found once per (currency, date) group give the frame converting each row gave, value and type."""
    rows_frame = pd.DataFrame(rows, columns=["amount", "currency", "announced"], dtype=object)
    if text_columns:  # as a package holds them: Arrow text, amounts as objects
        rows_frame = rows_frame.astype({"currency": "str", "announced": "str"})
    expected = _convert_frame_row_by_row(rows_frame, choice)
    result = convert_frame(rows_frame, choice)
    pd.testing.assert_frame_equal(result, expected, check_exact=True)
    for column in result.columns:
        assert [type(v) for v in result[column]] == [type(v) for v in expected[column]], column


def test_convert_frame_same_currency_is_identity() -> None:
    result = convert_frame(frame(CONVERT_ROWS[:1]), FxChoice("JPY"))
    assert result.at[0, C.AMOUNT_CONVERTED] == Decimal("1930000000")
    assert result.at[0, C.FX_RATE] == Decimal(1)
