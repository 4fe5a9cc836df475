"""The one adding rule: small hand-made packages, one rule each, and the bundled headline figures."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from aifunding.analysis import cached_views
from aifunding.analysis.adding import SCOPES, AddingRule, Scope
from aifunding.analysis.cached_views import prepare_cached
from aifunding.analysis.view import Prepared, ViewState, apply_view, prepare
from aifunding.cli import main
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import load_package
from aifunding.outputs.summary import headline, span_text, total_text

from packages import generate, minimal_tables, write_package

COMPUTE = SCOPES["compute"]
PROGRAMME_COLUMNS = ["id", "parent_id", "level", "name_en", "name_ja", "kind", "amount", "currency", "basis"]
PROGRAMME_COLUMNS += ["announced", "status"]


def programme(pid: str, amount: str | None = "1000", *, parent: str | None = None, **fields: str | None) -> dict:
    row = {
        "id": pid,
        "parent_id": parent,
        "level": "programme" if parent is None else "round",
        "name_en": pid.title(),
        "name_ja": None,
        "kind": "compute_subsidy",
        "amount": Decimal(amount) if amount else None,
        "currency": "JPY" if amount else None,
        "basis": "exact" if amount else None,
        "announced": "2024-04-19",
        "status": "active",
    }
    row.update(fields)
    return row


def award(aid: str, programme_id: str, amount: str | None = "100", **fields: str | None) -> dict:
    row = {
        "id": aid,
        "programme_id": programme_id,
        "kind": None,
        "amount": Decimal(amount) if amount else None,
        "currency": "JPY" if amount else None,
        "basis": "exact" if amount else None,
        "announced": "2024-04-19",
    }
    row.update(fields)
    return row


def add(programmes: list[dict], awards: list[dict] = (), *, overlaps=(), unconfirmed=(), scope: Scope = COMPUTE, **kw):
    """The rule's total over hand-made rows; ``overlaps`` are groups of row ids that may be the same money."""
    caveats, links = [], []
    for n, group in enumerate(overlaps):
        caveats.append({"id": f"overlap-{n}", "kind": "overlap", "title_en": "same money?"})
        links += [
            {
                "programme_id": r if r.startswith("p") else None,
                "award_id": None if r.startswith("p") else r,
                "caveat_id": f"overlap-{n}",
            }
            for r in group
        ]
    for n, row_id in enumerate(unconfirmed):
        caveats.append({"id": f"unconfirmed-{n}", "kind": "unconfirmed", "title_en": "only low sources"})
        links.append({"programme_id": row_id, "award_id": None, "caveat_id": f"unconfirmed-{n}"})
    programme_frame = pd.DataFrame(programmes, columns=PROGRAMME_COLUMNS)
    award_frame = pd.DataFrame(list(awards), columns=list(award("x", "y")))
    rule = AddingRule(
        programme_frame,
        pd.DataFrame(caveats, columns=["id", "kind", "title_en"]),
        pd.DataFrame(links, columns=["programme_id", "award_id", "caveat_id"]),
    )
    return rule.total(scope, programme_frame, award_frame, **kw)


def reasons(total) -> dict[str, str]:
    return {entry.id: entry.reason for entry in total.excluded}


def test_shelved_cancelled_and_superseded_never_count_nor_anything_inside_them() -> None:
    total = add(
        [
            programme("p-live", "300"),
            programme("p-shelved", "800", status="shelved"),
            programme("p-cancelled", "500", status="cancelled"),
            programme("p-old", "200", status="superseded"),
            programme("p-inner", "100", parent="p-shelved"),
        ]
    )
    assert total.by_basis == {"exact": Decimal(300)}
    assert reasons(total) == {
        "p-shelved": "status",
        "p-cancelled": "status",
        "p-old": "status",
        "p-inner": "status_inside",
    }
    assert "shelved" in next(e for e in total.excluded if e.id == "p-inner").reason_text()


def test_a_figure_and_any_figure_inside_it_never_both_count() -> None:
    total = add(
        [programme("p-outer", "300"), programme("p-round", "225", parent="p-outer")],
        [award("a-1", "p-round", "100"), award("a-2", "p-round", None)],
    )
    assert total.value == Decimal(300)
    assert [e.id for e in total.included] == ["p-outer"]
    assert reasons(total) == {"p-round": "inside", "a-1": "inside", "a-2": "inside"}


def test_a_reason_names_the_other_row_in_the_reader_s_language() -> None:
    total = add([programme("p-outer", "300", name_ja="外側の事業"), programme("p-round", "225", parent="p-outer")])
    entry = total.excluded[0]
    assert entry.reason_text("ja") == "合計に含めた外側の事業の内数"
    assert entry.reason_text("en") == "inside P-Outer, which is counted"


def test_awards_count_where_no_programme_above_them_has_a_figure() -> None:
    total = add(
        [programme("p-approvals", None)], [award("a-1", "p-approvals", "68"), award("a-2", "p-approvals", "53")]
    )
    assert total.value == Decimal(121)
    assert reasons(total) == {"p-approvals": "no_amount"}


def test_money_that_may_be_the_same_is_counted_once_and_the_total_says_so() -> None:
    total = add(
        [programme("p-plan", "2000"), programme("p-airr", "1000", parent="p-plan"), programme("p-roadmap", "1000")],
        overlaps=[("p-airr", "p-roadmap")],
    )
    assert total.value == Decimal(2000)
    assert reasons(total) == {"p-airr": "inside", "p-roadmap": "overlap_inside"}
    assert [e.id for e in total.counted_once] == ["p-roadmap"]
    assert "counted within P-Plan: counted once" in reasons_text(total, "p-roadmap")
    direct = add([programme("p-big", "387"), programme("p-small", "14")], overlaps=[("p-big", "p-small")])
    assert direct.value == Decimal(387)
    assert [e.id for e in direct.counted_once] == ["p-small"]
    assert "1 counted once" in span_text(direct)


def test_an_overlap_tying_many_rows_keeps_only_the_largest() -> None:
    rows = [programme(f"p-{n:04d}", str(1000 + n)) for n in range(600)]
    total = add(rows, overlaps=[tuple(r["id"] for r in rows)])
    assert [e.id for e in total.included] == ["p-0599"]
    assert total.value == Decimal(1599)
    assert len(total.counted_once) == 599
    assert {e.detail["other"] for e in total.counted_once} == {"P-0599"}


def test_a_totals_counts_are_its_entries_counted(prepared: Prepared) -> None:
    """``Total.counts`` (what tiles read, with no entry made) agrees with the entries it stands for."""
    total = add(
        [programme("p-plan", "2000"), programme("p-airr", "1000", parent="p-plan"), programme("p-roadmap", "1000")],
        [award("a-1", "p-plan", None), award("a-2", "p-roadmap", "5")],
        overlaps=[("p-airr", "p-roadmap")],
    )
    assert total.counts == (len(total.included), len(total.excluded), len(total.counted_once)) == (1, 4, 1)
    rule = AddingRule.for_package(prepared.package)
    for state in (ViewState(), ViewState(countries=("JP",)), ViewState(currency="USD")):
        view = apply_view(prepared, state)
        money = view.money
        for key, scoped in rule.totals(
            SCOPES, view.programmes, view.awards, value_column=money.value_column, currency_column=money.currency_column
        ).items():
            expected = (len(scoped.included), len(scoped.excluded), len(scoped.counted_once))
            assert scoped.counts == expected, (state, key)


def _entries(total) -> list[tuple]:
    return [tuple(vars(entry).values()) for entry in total.included + total.excluded]


VIEW_STATES = (
    ViewState(),
    ViewState(countries=("JP",)),
    ViewState(countries=("GB", "US")),
    ViewState(currency="USD"),
    ViewState(countries=("JP",), currency="EUR", lang="ja"),
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    from aifunding.analysis.view import prepare

    folder = tmp_path_factory.mktemp("adding") / "package"
    generate(3000, folder, seed=4)
    return prepare(load_package(folder))


@pytest.mark.parametrize("which", ["bundled", "generated"])
def test_a_view_read_through_its_selection_adds_exactly_what_its_frames_add(
    which: str, prepared: Prepared, generated: Prepared
) -> None:
    """The rule reads a package's rows once and picks each view's out of them: the same sums, entries and words."""
    package = prepared if which == "bundled" else generated
    rule = AddingRule.for_package(package.package)
    for state in VIEW_STATES:
        view = apply_view(package, state)
        money = view.money
        kw = {"value_column": money.value_column, "currency_column": money.currency_column, "currency": money.currency}
        picked = rule.totals(SCOPES, view.programmes, view.awards, within=view.selection, **kw)
        read = AddingRule.for_package(package.package).totals(SCOPES, view.programmes, view.awards, **kw)
        for key in SCOPES:
            assert picked[key].by_basis == read[key].by_basis, (state, key)
            assert (picked[key].announced, picked[key].undated) == (read[key].announced, read[key].undated)
            assert _entries(picked[key]) == _entries(read[key]), (state, key)
            assert [e.reason_text("ja") for e in picked[key].excluded] == [
                e.reason_text("ja") for e in read[key].excluded
            ]
        assert sum(len(t.included) + len(t.excluded) for t in picked.values()) > 0, state


def test_a_selection_that_does_not_fit_the_frames_is_not_used(prepared: Prepared) -> None:
    """Frames that are not the rows a selection picks (another filter's) are read as they are."""
    rule = AddingRule.for_package(prepared.package)
    wide = apply_view(prepared, ViewState())
    narrow = apply_view(prepared, ViewState(countries=("JP",)))
    total = rule.totals(SCOPES, narrow.programmes, narrow.awards, within=wide.selection)
    expected = rule.totals(SCOPES, narrow.programmes, narrow.awards)
    assert [_entries(total[k]) for k in SCOPES] == [_entries(expected[k]) for k in SCOPES]


def reasons_text(total, row_id: str) -> str:
    return next(e for e in total.excluded if e.id == row_id).reason_text()


def test_a_total_never_mixes_bases_into_one_number() -> None:
    total = add(
        [
            programme("p-exact", "387"),
            programme("p-up", "72", basis="up_to"),
            programme("p-up-about", "13", basis="up_to_about"),
            programme("p-floor", "110", basis="at_least"),
            programme("p-about", "5", basis="about"),
        ]
    )
    assert total.value is None
    assert total.by_basis == {
        "exact": Decimal(387),
        "about": Decimal(5),
        "up_to_about": Decimal(85),  # ceilings add to a ceiling, "about" when any part was rounded
        "at_least": Decimal(110),
    }
    assert total_text(total) == "¥387 + about ¥5 + up to about ¥85 + at least ¥110"
    assert total.as_dict()["by_basis"] == {"exact": "387", "about": "5", "up_to_about": "85", "at_least": "110"}
    assert add([programme("p-a", "72", basis="up_to"), programme("p-b", "42", basis="up_to")]).by_basis == {
        "up_to": Decimal(114)
    }
    assert "value" not in total.as_dict()


def test_plans_budget_lines_and_unconfirmed_figures_are_shown_not_added() -> None:
    total = add(
        [
            programme("p-frame", "10000", level="budget_frame", kind="compute_subsidy"),
            programme("p-line", "116", parent="p-frame", level="component"),
            programme("p-target", "1000", basis="target"),
            programme("p-fugaku", "110", basis="at_least", kind="public_compute"),
            programme("p-round", "72", basis="up_to"),
        ],
        unconfirmed=["p-fugaku"],
    )
    assert total.by_basis == {"up_to": Decimal(72)}
    assert reasons(total) == {"p-frame": "budget", "p-line": "budget", "p-target": "plan", "p-fugaku": "unconfirmed"}
    assert "only low sources" in reasons_text(total, "p-fugaku")


def test_scope_quantum_computing_and_staff_grants_leave_the_compute_total() -> None:
    total = add(
        [programme("p-cloud", None), programme("p-staff", None, parent="p-cloud", kind="staff_grant")],
        [
            award("a-gpu", "p-cloud", "68"),
            award("a-quantum", "p-cloud", "42", kind="quantum_compute"),
            award("a-staff", "p-staff", "6"),
        ],
    )
    assert total.value == Decimal(68)
    assert reasons(total)["a-quantum"] == "scope" and reasons(total)["a-staff"] == "scope"
    assert reasons_text(total, "a-quantum") == "not counted here: Quantum computing"
    assert reasons_text(total, "a-quantum") != ""
    # A models total does not even consider compute rows.
    assert add([programme("p-cloud", "5")], scope=SCOPES["models"]).excluded == ()


def test_other_currencies_are_left_out_by_name_until_converted() -> None:
    rows = [programme("p-jp", "100"), programme("p-uk", "300", currency="GBP")]
    total = add(rows)
    assert total.currency == "JPY" and total.value == Decimal(100)
    assert reasons_text(total, "p-uk") == "in GBP, not JPY: choose a display currency to convert and add it"
    converted = [
        {**rows[0], "amount_converted": Decimal(1), "converted_currency": "USD", "fx_note": None},
        {**rows[1], "amount_converted": Decimal(4), "converted_currency": "USD", "fx_note": None},
    ]
    frame = pd.DataFrame(converted)
    rule = AddingRule(
        frame,
        pd.DataFrame(columns=["id", "kind", "title_en"]),
        pd.DataFrame(columns=["programme_id", "award_id", "caveat_id"]),
    )
    usd = rule.total(
        COMPUTE,
        frame,
        pd.DataFrame(),
        value_column="amount_converted",
        currency_column="converted_currency",
        currency="USD",
    )
    assert usd.currency == "USD" and usd.value == Decimal(5)
    no_rate = frame.assign(amount_converted=[Decimal(1), None], fx_note=[None, "no rate before 1999"])
    left = rule.total(
        COMPUTE,
        no_rate,
        pd.DataFrame(),
        value_column="amount_converted",
        currency_column="converted_currency",
        currency="USD",
    )
    assert reasons_text(left, "p-uk") == "not converted: no rate before 1999"


def test_a_total_states_the_dates_it_spans_and_its_undated_rows() -> None:
    total = add(
        [
            programme("p-2023", "5", announced="2023-06"),
            programme("p-2026", "387", announced="2026-06-30"),
            programme("p-undated", "1", announced=None),
        ]
    )
    assert total.announced == ("2023-06", "2026-06-30")
    assert total.undated == 1
    assert span_text(total) == "3 figures added, announced Jun 2023 to 30 Jun 2026, 1 undated, 0 left out"
    assert total.as_dict()["announced"] == {"first": "2023-06", "last": "2026-06-30", "undated": 1}


# --- The bundled package -----------------------------------------------------------------------


def test_bundled_headline_totals_follow_the_rule(prepared: Prepared) -> None:
    figures = headline(prepared, apply_view(prepared, ViewState()))
    models, compute = figures.totals["models"], figures.totals["compute"]
    # ¥387.3bn FY2026 line + GENIAC's first ¥8.4bn; the unconfirmed ~¥1bn and the ¥1tn plan stay out.
    assert total_text(models) == "¥395.7B"
    assert {e.id: e.reason for e in models.excluded}["jp-physical-ai-fm"] == "plan"
    assert {e.id: e.reason for e in models.excluded}["jp-geniac-later-cycle"] == "unconfirmed"
    # Both 2024 rounds and the 2023 GPU approvals, all ceilings; not the quantum cloud, the staff
    # grant, ABCI 1.0 (scope disputed), FugakuNEXT (only low sources) or the budget allocation.
    assert total_text(compute) == "up to about ¥127.8B"
    left = {e.id: e.reason for e in compute.excluded}
    assert left["jp-cloud-2023-04-utokyo"] == "scope"
    assert left["jp-cloud-2024-02-sakura-govcloud-grant"] == "scope"
    assert left["jp-abci-1"] == "unconfirmed" and left["jp-fugakunext"] == "unconfirmed"
    assert left["jp-fy2023-supp-cloud"] == "budget"


def test_bundled_uk_compute_counts_nothing_shelved_and_the_same_billion_once(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(countries=("GB",)))
    compute = headline(prepared, view).totals["compute"]
    assert compute.currency == "GBP"
    assert total_text(compute) == "£336M + at least £2B"
    left = {e.id: e.reason for e in compute.excluded}
    assert left["gb-edinburgh-exascale-shelved"] == "status" and left["gb-airr-500m-shelved"] == "status"
    assert left["gb-compute-roadmap-2025"] == "overlap_inside"


def test_an_organisation_filter_adds_that_organisation_s_awards_not_the_rounds_they_are_in(prepared: Prepared) -> None:
    # Sakura chosen: the total was "up to about ¥79.3B", the 2024 round's whole ¥72.5B ceiling (five recipients)
    # and the 2023 award, with Sakura's own ¥50.1B left out as inside that round. Its awards are up to about ¥56.9B.
    view = apply_view(prepared, ViewState(organisations=("sakura-internet",)))
    compute = headline(prepared, view).totals["compute"]
    assert total_text(compute) == "up to about ¥56.9B"
    assert {e.id for e in compute.included} == {"jp-cloud-2024-04-sakura", "jp-cloud-2023-06-sakura"}
    left = {e.id: e for e in compute.excluded}
    assert left["jp-cloud-2024-04"].reason == "filtered"
    assert "holds awards to organisations the filter leaves out" in left["jp-cloud-2024-04"].reason_text("en")
    assert left["jp-cloud-2024-04"].reason_text("ja") != left["jp-cloud-2024-04"].reason_text("en")
    assert left["jp-cloud-2024-02-sakura-govcloud-grant"].reason == "scope"  # other reasons still come first
    # Without an organisation the rounds' declared amounts count, as before.
    assert total_text(headline(prepared, apply_view(prepared, ViewState())).totals["compute"]) == "up to about ¥127.8B"


def test_bundled_highlights_lead_with_the_news(prepared: Prepared) -> None:
    items = headline(prepared, apply_view(prepared, ViewState())).highlights
    assert [(h.row_id, h.figure) for h in items] == [
        ("jp-physical-ai-fm-fy2026", "¥387.3B"),
        ("jp-cloud-2024-04", "up to ¥72.5B"),
        ("share-meti-2024-domestic", "about 30%"),
    ]
    assert items[0].date.startswith("FY2026")  # a budget line is labelled by its fiscal year
    assert items[0].page == "programmes" and items[1].page == "companies" and items[2].page == "market"
    assert all(h.sources for h in items)
    ja = headline(prepared, apply_view(prepared, ViewState(lang="ja"))).highlights
    assert [h.figure for h in ja] == ["3,873億円", "最大725億円", "約30%"]
    assert ja[0].date.startswith("2026年度")


def test_highlights_cite_each_rows_sources_as_its_citations_list_them_without_reading_the_citations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted server's Overview finds a highlight's sources in the views, not in a million citations on disk."""
    from aifunding.outputs.summary import TIER_ORDER, highlights

    folder = tmp_path / "pkg"
    generate(500, folder, seed=8)
    cache = PackageCache(tmp_path / "cache")
    fresh = prepare(load_package(folder))
    citations, sources = fresh.package.frame("citations"), fresh.package.frame("sources")
    tier = dict(zip(sources["id"], sources["tier"], strict=True))
    expected = []
    for item in highlights(fresh, "en"):
        column = {"programmes": "programme_id", "awards": "award_id", "market_shares": "market_share_id"}[item.table]
        cited = dict.fromkeys(citations.loc[citations[column] == item.row_id, "source_id"])
        expected.append(tuple(sorted(cited, key=lambda sid: TIER_ORDER.index(tier[sid]))))
    assert len(expected) == 3 and all(expected) and len({len(ids) for ids in expected}) > 1
    prepare_cached(load_package(folder, cache=cache), cache)
    restarted = prepare_cached(load_package(folder, cache=cache), cache)
    read = restarted.package.frames.__getitem__
    monkeypatch.setattr(
        type(restarted.package.frames),
        "__getitem__",
        lambda frames, name: pytest.fail("read the citations") if name == "citations" else read(name),
    )
    assert [item.source_ids for item in highlights(restarted, "en")] == expected


# --- aifunding summary -------------------------------------------------------------------------


def test_summary_json_has_value_or_by_basis_included_and_excluded_with_reasons(capsys) -> None:
    assert main(["summary", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    models, compute = data["totals"]["models"], data["totals"]["compute"]
    assert models["value"] == "395700000000" and models["currency"] == "JPY"
    assert set(models["included"]) == {"jp-physical-ai-fm-fy2026", "jp-geniac-cycle-1"}
    assert compute["value"] == "127800000000" and compute["basis"] == "up_to_about"
    assert {
        "id": "jp-cloud-2023-04-utokyo",
        "reason": "not counted here: Quantum computing",
        "rule": "scope",
    } in compute["excluded"]
    assert [h["figure"] for h in data["highlights"]] == ["¥387.3B", "up to ¥72.5B", "about 30%"]


def test_summary_converts_everything_with_currency(capsys) -> None:
    assert main(["summary", "--format", "json", "--currency", "usd"]) == 0
    data = json.loads(capsys.readouterr().out)
    compute = data["totals"]["compute"]
    assert data["currency"] == "USD" and compute["currency"] == "USD"
    assert set(compute["by_basis"]) == {"exact", "up_to_about", "at_least"}
    assert not any(e["rule"] == "currency" for e in compute["excluded"])
    # The highlights keep their published figure and say what it is in the display currency.
    first = data["highlights"][0]
    assert first["figure"] == "¥387.3B" and first["converted"].startswith("≈ $2.")
    assert first["converted"].endswith("(rate of 30 Jun 2026)")
    assert data["highlights"][2]["converted"] is None  # a share has no currency


def test_summary_text_lists_what_each_total_adds(capsys) -> None:
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "To AI models: ¥395.7B" in out
    assert "  + jp-physical-ai-fm-fy2026  ¥387.3B" in out
    assert "  - jp-abci-1  unconfirmed figure" in out
    assert main(["summary", "--currency", "XYZ"]) == 2


def test_summary_of_a_package_without_highlights(tmp_path: Path, capsys) -> None:
    tables = minimal_tables()
    tables.pop("highlights", None)
    folder = write_package(tmp_path / "pkg", tables)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] != "highlights"]
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    package = load_package(folder)
    assert package.report.valid and "highlights" not in package.report.unread
    assert main(["summary", "--data", str(folder), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["highlights"] == []
    # The round's published ceiling counts; its awards are inside it.
    assert data["totals"]["compute"]["value"] == "10000000000"
    assert {e["id"]: e["rule"] for e in data["totals"]["compute"]["excluded"]} == {
        "award-a": "inside",
        "award-bc": "inside",
    }


@pytest.mark.parametrize("kind", ["overlap"])
def test_an_overlap_caveat_needs_two_rows(tmp_path: Path, kind: str) -> None:
    tables = minimal_tables()
    tables["caveats"] = [{"id": "cav-1", "kind": kind, "title_en": "same money?", "text_en": "maybe"}]
    tables["caveat_links"] = [{"programme_id": "round-1", "caveat_id": "cav-1"}]
    report = load_package(write_package(tmp_path / "pkg", tables)).report
    assert [p.rule for p in report.errors] == ["overlap-pair"]
    assert "at least two" in report.errors[0].message


def test_a_longer_plan_cannot_sit_inside_a_one_year_line(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["programmes"].append(
        {
            **tables["programmes"][0],
            "id": "plan-5y",
            "parent_id": "round-1",
            "level": "component",
            "period_start_fy": "2024",
            "period_end_fy": "2030",
        }
    )
    report = load_package(write_package(tmp_path / "pkg", tables)).report
    problem = next(p for p in report.errors if p.rule == "period-nesting")
    assert problem.file == "programmes.csv" and problem.field == "parent_id"
    assert "FY2024-FY2030 does not fit inside" in problem.message


def test_a_highlight_names_exactly_one_row_and_a_free_position(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["highlights"] = [
        {"position": "1", "programme_id": "round-1", "claim_en": "The round", "page": "programmes"},
        {
            "position": "2",
            "programme_id": "round-1",
            "award_id": "award-a",
            "claim_en": "Two rows",
            "page": "companies",
        },
        {"position": "1", "market_share_id": "share-dom", "claim_en": "Same place", "page": "market"},
        {"position": "3", "award_id": "no-such-award", "claim_en": "Nothing", "page": "companies"},
    ]
    package = load_package(write_package(tmp_path / "pkg", tables))
    problems = {(p.line, p.field): p.message for p in package.report.errors if p.table == "highlights"}
    assert "name exactly one row" in problems[(3, "award_id")]  # the column filled past the one allowed
    assert any(line == 4 for line, _ in problems)  # position 1 twice
    assert any(line == 5 and field == "award_id" for line, field in problems)
    assert list(package.frame("highlights")["position"]) == [1]


def test_the_rules_rows_pickle_in_stored_form_and_are_made_again_when_read() -> None:
    """Text columns go as codes of their distinct texts, other columns as they are; read back equal."""
    import pickle

    import numpy as np

    from aifunding.analysis.rule_rows import Rows, StoredColumn

    text = np.array(["a", None, "b", "a"], dtype=object)
    money = np.array([Decimal("2.50"), None, Decimal("2.5"), Decimal("1")], dtype=object)
    rows = Rows({"kind": text, "value": money}, np.array([0, -1, 0, 0]), np.array(["p"], dtype=object), print)
    assert StoredColumn.of(text).codes is not None and StoredColumn.of(money).codes is None
    back = pickle.loads(pickle.dumps(rows))
    assert back.columns == {} and sorted(back._stored) == ["kind", "value"]  # nothing made yet
    assert back["kind"].tolist() == ["a", None, "b", "a"] and back["kind"].dtype == object
    assert [str(v) for v in back["value"]] == ["2.50", "None", "2.5", "1"]
    assert back.isin("kind", {"a"}).tolist() == [True, False, False, True]
    assert pickle.loads(pickle.dumps(back))["kind"].tolist() == text.tolist()  # made or not, pickles again


def test_a_derived_column_is_made_once_per_package_and_taken_for_each_view() -> None:
    """Masks of kinds, levels and statuses: made from the whole rows once, a view's rows take theirs."""
    import pickle

    import numpy as np

    from aifunding.analysis.rule_rows import Rows

    kinds = np.array(["grant", "loan", None, "grant", "loan"], dtype=object)
    whole = Rows({"kind": kinds}, np.array([0, -1, 0, 0, -1]), np.array(["p"], dtype=object), print)
    made: list[int] = []

    def grants(rows: Rows) -> np.ndarray:
        made.append(len(rows["kind"]))
        return rows["kind"] == "grant"

    picked = whole.take(np.array([4, 0, 3]))
    assert picked.derived("grants", grants).tolist() == [False, True, True]
    assert whole.take(np.array([2, 3])).derived("grants", grants).tolist() == [False, True]
    assert picked.with_money({"value": np.array([None] * 3, dtype=object)}).derived("grants", grants).tolist() == [
        False,
        True,
        True,
    ]
    assert made == [5]  # once, on the whole rows
    # Rows kept by a version without derived columns make theirs when asked.
    state = whole.__getstate__()
    del state["_derived"]
    old = Rows.__new__(Rows)
    old.__setstate__(state)
    assert old.derived("grants", grants).tolist() == [True, False, False, True, False]
    assert pickle.loads(pickle.dumps(old)).derived("grants", grants).tolist() == [True, False, False, True, False]


def test_which_rows_have_a_value_is_kept_and_follows_a_views_own_money() -> None:
    """``present``: worked out once on the whole rows and taken, except for money a view converted itself."""
    from decimal import Decimal

    import numpy as np

    from aifunding.analysis.rule_rows import Rows

    values = np.array([Decimal(1), None, Decimal(3), None, Decimal("NaN")], dtype=object)
    whole = Rows(
        {"value": values, "currency": np.array(["JPY", None, "USD", "EUR", "JPY"], dtype=object)},
        np.full(5, -1),
        np.array([], dtype=object),
        print,
    )
    picked = whole.take(np.array([4, 0, 1]))
    assert picked.present("value").tolist() == [False, True, False]  # Decimal NaN is no value, as pd.notna reads it
    assert picked.isin("currency", {"JPY"}).tolist() == [True, True, False]
    assert ("value", None) in whole._masks  # worked out on the whole rows, once
    converted = picked.with_money(
        {
            "value": np.array([None, Decimal(2), Decimal(5)], dtype=object),
            "currency": np.array([None, "USD", "USD"], dtype=object),
        }
    )
    assert converted.present("value").tolist() == [False, True, True]  # its own amounts, not the whole's
    assert converted.isin("currency", {"USD"}).tolist() == [False, True, True]
    assert picked.present("value").tolist() == [False, True, False]  # the view it came from keeps its own
    assert len(converted) == 3 and len(whole) == 5


def test_a_prepared_package_keeps_the_masks_its_totals_read_for_a_restart(tmp_path: Path) -> None:
    """Preparing adds the headline totals once, so the masks of the whole rows go into the cache with the rule."""
    folder = tmp_path / "pkg"
    generate(400, folder, seed=6)
    cache = PackageCache(tmp_path / "cache")
    prepare_cached(load_package(folder, cache=cache), cache)
    with pytest.MonkeyPatch.context() as refusing:  # read back, not prepared again
        refusing.setattr(cached_views, "prepare", lambda package: pytest.fail("prepared again"))
        restarted = prepare_cached(load_package(folder, cache=cache), cache)
    assert restarted.adding is not None and restarted.adding._whole is not None
    whole = restarted.adding._whole[2]
    kinds = {frozenset(scope.kinds) for scope in SCOPES.values()}
    assert {wanted for name, wanted in whole._masks if name == "kind"} >= kinds  # read back, not worked out
    assert any(name.startswith("above:") for name in whole._derived)
    fresh = prepare(load_package(folder))
    for state in (ViewState(), ViewState(countries=("JP",)), ViewState(currency="USD", lang="ja")):
        kept, made = headline(restarted, apply_view(restarted, state)), headline(fresh, apply_view(fresh, state))
        assert {key: total_text(t) for key, t in kept.totals.items()} == {
            key: total_text(t) for key, t in made.totals.items()
        }
