"""The columnar keys, references and package rules against the per-row ones, on packages hypothesis builds.

The packages are small and made to break every rule: references to rows that are missing, repeated,
quarantined while parsing or in a table that was not read; parents in chains and cycles; sums over
ceilings; missing citations and recipients; currencies that differ. The comparison is the one of
``test_columnar_rules``.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from test_columnar_rules import Parsed, assert_same, assert_same_package_rules, parsed_texts, rules_of, texts_of

from aifunding.data.limits import Limits
from aifunding.data.references import run_reference_rules
from aifunding.loading.rules import run_package_rules

# Ids come from small pools with one that names no row, so references dangle and parents form chains and
# cycles by chance; now and then a table repeats a row's key, and a few cells fail their row model, so
# their rows are quarantined while parsing and whatever refers to them follows. Most rows survive, so
# the package rules have rows to look at.

PROGRAMMES = [f"p-{i}" for i in range(4)]
ROOT = PROGRAMMES[0]  # a programme in every package, which most awards and many programmes are under
AWARDS = [f"a-{i}" for i in range(6)]
ORGANISATIONS = ["o-0", "o-1", "o-2"]
SOURCES = ["s-0", "s-1"]
MARKETS = ["m-0", "m-1"]
SHARES = ["ms-0", "ms-1", "ms-2"]
MILESTONES = ["ml-0", "ml-1"]
CAVEATS = ["c-0", "c-1", "c-2"]
GONE = "gone"  # an id no row has


def ids(pool: list[str]) -> st.SearchStrategy[str]:
    """An id of the pool, or (one time in three times the pool's size, and one) an id no row has."""
    return st.sampled_from([*pool, *pool, *pool, GONE])


COUNTRY = st.sampled_from(["JP"] * 6 + ["GB", "ZZ"])

# Names and titles that are one but for width, case, spacing or a particle, others, and Japanese in English
# columns: the text rules' warnings.
NAMES = {
    "organisations": st.fixed_dictionaries(
        {
            "name_en": st.sampled_from(
                ["Organisation", "ＯＲＧＡＮＩＳＡＴＩＯＮ", "organisation ", "組織", "Other body"]
            ),
            "name_ja": st.sampled_from(["", "", "組織", "ほかの団体"]),
        }
    ),
    "programmes": st.fixed_dictionaries(
        {
            "name_en": st.sampled_from(["Programme", "Programme", "計算資源の補助", "Another programme"]),
            "name_ja": st.sampled_from(["", "計算資源補助", "ＡＩ・計算資源", "AI 計算資源"]),
        }
    ),
}


THIS_YEAR = str(date.today().year)
DATES = st.sampled_from(["", "2024", "2024-04-19", "2099-01-01", THIS_YEAR, f"{THIS_YEAR}-12-31"])
CURRENCIES = st.sampled_from(["JPY"] * 6 + ["USD", "XYZ", "NGN"])  # mostly one; XYZ is no ISO code, NGN has no rate


@st.composite
def money(draw: st.DrawFn, amounts: list[str], bases: list[str]) -> dict[str, str]:
    """An amount with its currency and basis, or none of them; "-5" fails the row model."""
    amount = draw(st.sampled_from(["", *amounts, *amounts, "-5"]))
    if not amount:
        return {}
    return {"amount": amount, "currency": draw(CURRENCIES), "basis": draw(st.sampled_from(bases))}


@st.composite
def programme(draw: st.DrawFn, root: bool = False) -> dict[str, str]:
    """A programme: the root (mostly at the top), or another (mostly beneath the root)."""
    own = ROOT if root else draw(st.sampled_from(PROGRAMMES[1:]))
    parents = ["", "", "", "", *PROGRAMMES[1:]] if root else ["", ROOT, ROOT, ROOT, *PROGRAMMES, GONE]
    start, end = draw(st.sampled_from([("", ""), ("2020", "2030"), ("2024", "2025"), ("2018", "2040")]))
    return {
        "id": own,
        "parent_id": draw(st.sampled_from([up for up in parents if up != own])),
        "level": "programme",
        **draw(NAMES["programmes"]),
        "country_id": draw(COUNTRY),
        "funding_body": "METI",
        "kind": "compute_subsidy",
        "announced": draw(DATES),
        "period_start_fy": start,
        "period_end_fy": end,
        **draw(
            money(["1000", "1000", "5000", "250.5", "99999999999999.9999"], ["exact", "about", "up_to", "up_to_about"])
        ),
    }


@st.composite
def award(draw: st.DrawFn) -> dict[str, str]:
    return {
        "id": draw(st.sampled_from(AWARDS)),
        "programme_id": draw(st.sampled_from([ROOT, ROOT, ROOT, *PROGRAMMES, GONE])),
        "purpose_en": draw(st.sampled_from(["Purpose", "Purpose", "目的"])),
        "announced": draw(DATES),
        **draw(
            money(["600", "600", "600", "100", "2500", "0.25"], ["exact", "about", "about", "up_to_about", "at_least"])
        ),
    }


@st.composite
def link(draw: st.DrawFn, targets: dict[str, list[str]]) -> dict[str, str]:
    """A row of ``targets``, named in its column; now and then two rows (the row model refuses that)."""
    columns = {draw(st.sampled_from(sorted(targets)))}
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        columns.add(draw(st.sampled_from(sorted(targets))))
    return {column: draw(ids(targets[column])) for column in sorted(columns)}


TARGETS = {"programme_id": PROGRAMMES, "award_id": AWARDS, "market_share_id": SHARES, "milestone_id": MILESTONES}


@st.composite
def rows(
    draw: st.DrawFn,
    most: int,
    *parts: st.SearchStrategy[dict[str, str]],
    key: tuple[str, ...] = (),
    least: int = 0,
    **cells: st.SearchStrategy[str] | str,
) -> list[dict[str, str]]:
    """Up to ``most`` rows made of ``cells`` (a string is that cell in every row) and the cells ``parts`` draw.

    Each row has a ``key`` of its own, but now and then one more row takes an earlier one's.
    """
    fixed = st.fixed_dictionaries({k: v if isinstance(v, st.SearchStrategy) else st.just(v) for k, v in cells.items()})
    row = st.tuples(fixed, *parts).map(lambda drawn: {k: v for part in drawn for k, v in part.items()})
    unique = None if not key else (lambda r: tuple(r.get(c) for c in key))
    drawn = draw(st.lists(row, min_size=least, max_size=most, unique_by=unique))
    if key and drawn and draw(st.integers(min_value=0, max_value=3)) == 0:
        earlier = draw(st.sampled_from(drawn))
        drawn.append({**draw(row), **{c: earlier[c] for c in key}})
    return drawn


TABLE_ROWS: dict[str, st.SearchStrategy[list[dict[str, str]]]] = {
    "countries": st.sampled_from([["JP"], ["JP", "GB"], ["GB", "JP"], ["JP", "JP"]]).map(
        lambda codes: [{"id": code, "name_en": code, "fiscal_year_start_month": "4"} for code in codes]
    ),
    "sources": rows(
        2,
        key=("id",),
        least=1,
        id=st.sampled_from(SOURCES),
        publisher="P",
        url="https://x.org",
        tier="press",
        language="en",
        confirms="it",
    ),
    "organisations": rows(
        3,
        NAMES["organisations"],
        key=("id",),
        least=1,
        id=st.sampled_from(ORGANISATIONS),
        kind=st.sampled_from(["company", "university", "npo"]),
        country_id=COUNTRY,
    ),
    "programmes": st.tuples(programme(root=True), rows(3, programme(), key=("id",))).map(
        lambda drawn: [drawn[0], *drawn[1]]
    ),
    "awards": rows(6, award(), key=("id",), least=2),
    "award_recipients": rows(
        10,
        key=("award_id", "organisation_id"),
        least=2,
        award_id=ids(AWARDS),
        organisation_id=ids(ORGANISATIONS),
        role=st.sampled_from(["sole", "sole", "lead", "member"]),
    ),
    "markets": rows(
        2,
        key=("id",),
        least=1,
        id=st.sampled_from(MARKETS),
        name_en="M",
        country_id="JP",
        year_label="2024",
        year="2024",
        framing="f",
    ),
    "market_shares": rows(
        3,
        st.sampled_from(["30", "45.5", "80"]).map(lambda low: {"share_low": low, "share_high": low}),
        key=("id",),
        least=2,
        id=st.sampled_from(SHARES),
        market_id=ids(MARKETS),
        segment_kind=st.sampled_from(["domestic", "vendor"]),
        segment_en="Segment",
        organisation_id=st.sampled_from(["", *ORGANISATIONS]),
        basis="exact",
    ),
    "milestones": rows(
        2,
        link({"programme_id": PROGRAMMES, "award_id": AWARDS}),
        key=("id",),
        id=st.sampled_from(MILESTONES),
        description_en="Due",
        due_date="2025",
        timing="by",
        status="pending",
        status_as_of="2024-01-01",
    ),
    "caveats": rows(
        3,
        key=("id",),
        id=st.sampled_from(CAVEATS),
        kind=st.sampled_from(["conflict", "overlap", "overlap", "unconfirmed"]),
        title_en="Caveat",
        text_en="Caveat",
    ),
    "citations": rows(12, link(TARGETS), least=3, source_id=ids(SOURCES)),
    "caveat_links": rows(5, link(TARGETS), caveat_id=ids(CAVEATS)),
    "highlights": rows(
        2,
        link({k: TARGETS[k] for k in ("programme_id", "award_id", "market_share_id")}),
        key=("position",),
        position=st.sampled_from(["1", "2", "3"]),
        claim_en="Claim",
        page="overview",
    ),
}


@st.composite
def packages(draw: st.DrawFn) -> Parsed:
    """A package parsed by the loader, with now and then a table unread, highlights left out, files renamed."""
    drawn = {name: draw(table_rows) for name, table_rows in TABLE_ROWS.items()}
    if draw(st.booleans()):
        del drawn["highlights"]  # left out of the package: loaded empty, not unread
    unread = draw(st.sets(st.sampled_from(sorted(drawn)), max_size=2)) if draw(st.booleans()) else set()
    folder = draw(st.sampled_from(["", "data/"]))
    texts = texts_of(drawn, frozenset(unread), lambda name: f"{folder}{name}.csv")
    return parsed_texts(texts, Limits(nesting=draw(st.integers(min_value=1, max_value=4))))


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(packages())
def test_any_package(parsed: Parsed) -> None:
    assert_same(parsed)


@FUZZ
@given(packages())
def test_any_package_with_the_package_rules_alone(parsed: Parsed) -> None:
    assert_same_package_rules(parsed)


# Each rule the packages above must be able to break, so that agreeing on them means something.
BROKEN_RULES = [
    "duplicate-key", "foreign-key", "quarantined-reference", "parent-cycle", "nesting", "unread-reference", "ceiling",
    "ceiling-rounding", "ceiling-currency", "currency", "currency-not-convertible", "future-date", "share-total",
    "uncited", "no-recipient", "recipient-role", "award-currency", "vendor-organisation", "caveat-unattached",
    "period-nesting", "overlap-pair", "english-text", "organisation-name", "programme-title",
]  # fmt: skip


@pytest.mark.parametrize("rule", BROKEN_RULES)
def test_the_packages_break_each_rule(rule: str) -> None:
    def breaks(parsed: Parsed) -> bool:
        expected_rows, report = dict(parsed.rows), copy.deepcopy(parsed.report)
        run_reference_rules(expected_rows, report, parsed.limits, parsed.files)
        run_package_rules(expected_rows, report)
        return rule in rules_of(report)

    # Found is enough: shrinking the package found would run both validators thousands of times.
    find(
        packages(),
        breaks,
        settings=settings(max_examples=500, database=None, phases=[Phase.generate], derandomize=True),
    )
