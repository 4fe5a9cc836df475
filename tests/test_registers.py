"""Real registers, reshaped into the package: what they are full of is taken in as it is, or named clearly.

A prefectural subsidy register has thousands of approvals, blank cells where a column has a default,
bodies that are not companies, general subsidies, Japanese where English is asked for, and the same
recipient or programme under two ids. Each case is validated by row and by column
(:func:`test_columnar_package.same`), which must agree.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_columnar_package import same
from test_references import fold

from aifunding.analysis.adding import SCOPES
from aifunding.analysis.view import ViewState, apply_view, prepare
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.data.text_keys import has_latin_letter, latin_letters, name_keys, title_keys
from aifunding.data.vocabulary import BOOLEAN_TEXT, OrganisationKind, SupportKind
from aifunding.figures.presentation import column, kind_labels
from aifunding.figures.registry import PAGES, draw
from aifunding.i18n import CATALOG, LANGUAGES, translate
from aifunding.loading import columnar_text_rules, text_rules
from aifunding.loading.package import Package
from aifunding.loading.rule_problems import NAME_COLUMNS
from aifunding.outputs.summary import headline

from packages import minimal_tables, write_package, write_texts

Tables = dict[str, list[dict[str, str]]]


def validated(folder: Path) -> Package:
    """``folder`` validated both ways (which agree), as the column path loads it."""
    package = same(folder)
    assert package is not None
    return package


# --- 1. A blank cell where the model has a default takes the default ---------------------------------------

# Every field whose model gives it a default other than "nothing": (table, column, the default as a frame holds it).
DEFAULTED = [
    (table.name, name, info.default.value if hasattr(info.default, "value") else info.default)
    for table in TABLES
    for name, info in table.model.model_fields.items()
    if not info.is_required() and info.default is not None
]


def test_the_defaulted_fields_are_the_ones_the_readme_names() -> None:
    assert [(table, column) for table, column, _ in DEFAULTED] == [
        ("programmes", "status"),
        ("market_shares", "rank_inferred"),
        ("caveats", "kind"),
    ]


def _without_column(rows: list[dict[str, str]], name: str, column: str) -> str:
    """The CSV text of ``rows`` of table ``name`` with ``column`` left out of the header and every row."""
    columns = [c for c in TABLES_BY_NAME[name].columns if c != column]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
    return out.getvalue()


# What a blank cell may hold: nothing, spaces, an ideographic space (as Japanese spreadsheets type), a tab.
BLANKS = ["", "   ", "\u3000", "\t", " \u3000 "]


@pytest.mark.parametrize(("table", "column", "default"), DEFAULTED)
@pytest.mark.parametrize("blank", BLANKS)
def test_a_blank_cell_takes_the_default(tmp_path: Path, table: str, column: str, default: Any, blank: str) -> None:
    tables = minimal_tables()
    tables[table][0][column] = blank
    package = validated(write_package(tmp_path, tables))
    assert package.report.problems == []
    assert package.frame(table)[column].iloc[0] == default


@pytest.mark.parametrize(("table", "column", "default"), DEFAULTED)
def test_a_column_left_out_takes_the_default_with_a_warning(
    tmp_path: Path, table: str, column: str, default: Any
) -> None:
    tables = minimal_tables()
    folder = write_package(tmp_path, tables)
    write_texts(folder, {table: _without_column(tables[table], table, column)})
    package = validated(folder)
    assert [(p.severity, p.rule, p.field) for p in package.report.problems] == [("warning", "missing-column", column)]
    assert (
        package.report.problems[0].message == f"the optional column '{column}' is missing, so it is empty in every row"
    )
    assert set(package.frame(table)[column]) == {default}


def test_a_blank_default_is_the_default_not_a_guess_from_other_rows(tmp_path: Path) -> None:
    # A shelved programme beside one with a blank status: the blank one is active, not shelved.
    tables = minimal_tables()
    tables["programmes"].append(
        {**tables["programmes"][0], "id": "round-2", "name_en": "Round two", "status": "shelved"}
    )
    tables["citations"].append({"source_id": "src-a", "programme_id": "round-2"})
    tables["programmes"][0]["status"] = " "
    tables["market_shares"][1]["rank_inferred"] = BOOLEAN_TEXT[False]
    package = validated(write_package(tmp_path, tables))
    assert package.report.problems == []
    assert package.frame("programmes").set_index("id")["status"].to_dict() == {
        "round-1": "active",
        "round-2": "shelved",
    }


# --- A register reshaped into the package --------------------------------------------------------------------

# The bodies a prefectural register is full of, one recipient of each kind, named as the register names them.
RECIPIENTS = [
    ("org-sakura", "Sakura Medical Corporation", "医療法人さくら会", "medical_corporation"),
    ("org-midori", "Midori NPO", "特定非営利活動法人みどり", "npo"),
    ("org-aozora", "Aozora Social Welfare Corporation", "社会福祉法人あおぞら会", "social_welfare_corporation"),
    ("org-hikari", "Hikari Agricultural Cooperative", "光農業協同組合", "cooperative"),
    ("org-chiiki", "Regional Development Association", "一般社団法人地域振興協会", "incorporated_association"),
    ("org-bunka", "Culture Promotion Foundation", "公益財団法人文化振興財団", "incorporated_foundation"),
    ("org-kaisha", "Example Works Co., Ltd.", "株式会社例示製作所", "company"),
]


def register_tables() -> Tables:
    """A small register of a prefecture's general subsidies, reshaped into the package: clean, every table given.

    One programme (its status left blank, as registers have no such column), and one award to each
    recipient of :data:`RECIPIENTS`, each cited.
    """
    awards = [
        {
            "id": f"award-{n}",
            "programme_id": "pref-digital",
            "purpose_en": f"Digitalisation of {name}",
            "purpose_ja": f"{name_ja}のデジタル化",
            "amount": str(1_000_000 * (n + 1)),
            "currency": "JPY",
            "basis": "exact",
            "announced": "2024-06-28",
        }
        for n, (_, name, name_ja, _) in enumerate(RECIPIENTS)
    ]
    return {
        "countries": [{"id": "JP", "name_en": "Japan", "name_ja": "日本", "fiscal_year_start_month": "4"}],
        "sources": [
            {
                "id": "src-register",
                "publisher": "Example Prefecture",
                "url": "https://example.org/register.csv",
                "published": "2024-07",
                "tier": "primary",
                "language": "ja",
                "confirms": "every approval of the fiscal year",
            }
        ],
        "organisations": [
            {"id": oid, "name_en": name, "name_ja": name_ja, "kind": kind, "country_id": "JP"}
            for oid, name, name_ja, kind in RECIPIENTS
        ],
        "programmes": [
            {
                "id": "pref-digital",
                "level": "programme",
                "name_en": "SME digitalisation subsidy",
                "name_ja": "中小企業デジタル化支援補助金",
                "country_id": "JP",
                "funding_body": "Example Prefecture",
                "kind": "general_subsidy",
                "announced": "2024-04-01",
                "period_start_fy": "2024",
                "period_end_fy": "2024",
                "status": "",
            }
        ],
        "awards": awards,
        "award_recipients": [
            {"award_id": award["id"], "organisation_id": oid, "role": "sole"}
            for award, (oid, *_) in zip(awards, RECIPIENTS, strict=True)
        ],
        "citations": [
            {"source_id": "src-register", "programme_id": "pref-digital"},
            *({"source_id": "src-register", "award_id": award["id"]} for award in awards),
        ],
    }


def test_a_clean_register_validates_without_a_word(tmp_path: Path) -> None:
    package = validated(write_package(tmp_path, register_tables()))
    assert package.report.problems == [] and package.report.quarantined == []
    assert package.frame("programmes")["status"].tolist() == ["active"]
    assert package.frame("organisations")["kind"].tolist() == [kind for *_, kind in RECIPIENTS]


# --- 2 and 3. Organisation kinds for the bodies registers are full of, and a kind for general subsidies ---------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_organisation_kind_and_support_kind_is_labelled(lang: str) -> None:
    labels = [CATALOG[lang].get(f"organisation_kind.{kind}") for kind in OrganisationKind]
    labels += [CATALOG[lang].get(f"kind.{kind}") for kind in SupportKind]
    assert all(labels) and len(set(labels)) == len(labels)


@pytest.mark.parametrize(
    ("key", "en", "ja"),
    [
        ("organisation_kind.medical_corporation", "Medical corporation", "医療法人"),
        ("organisation_kind.incorporated_association", "Incorporated association", "社団法人"),
        ("organisation_kind.incorporated_foundation", "Incorporated foundation", "財団法人"),
        ("organisation_kind.npo", "Non-profit organisation (NPO)", "NPO法人"),
        ("organisation_kind.social_welfare_corporation", "Social welfare corporation", "社会福祉法人"),
        ("organisation_kind.cooperative", "Cooperative", "協同組合"),
        ("kind.general_subsidy", "General subsidy", "一般補助金"),
    ],
)
def test_the_new_kinds_read_in_both_languages(key: str, en: str, ja: str) -> None:
    assert (translate(key, "en"), translate(key, "ja")) == (en, ja)


def test_general_subsidies_are_in_neither_headline_total_and_every_chart_draws_them(tmp_path: Path) -> None:
    prepared = prepare(validated(write_package(tmp_path, register_tables())))
    view = apply_view(prepared, ViewState(kinds=("general_subsidy",)), kind_labels("en"))
    assert len(view.awards) == len(RECIPIENTS)
    assert "General subsidy" in view.sentence()
    totals = headline(prepared, view).totals
    # Not compute, not models: neither total so much as considers a general subsidy.
    assert {key: (total.value, total.included, total.excluded) for key, total in totals.items()} == {
        key: (None, (), ()) for key in SCOPES
    }
    drawn = {item.key: item for page in PAGES for chart in page.charts for item in draw(chart, prepared, view)}
    # Each chart draws, or says why it cannot: an empty chart's title, which is its text alternative too.
    for item in drawn.values():
        meta = item.figure.layout.meta
        assert item.figure.data or (meta["title"] and meta["title"] == meta["alt"]), item.key
    # Each recipient is a bar, and the programme is on the programmes' charts with its kind in words.
    assert len(drawn["recipients"].rows) == len(RECIPIENTS) and drawn["recipients"].figure.data
    programmes = drawn["timeline"].rows
    assert programmes.rows["id"].tolist() == ["pref-digital"]
    assert programmes.page(0, 1)[column("kind")].tolist() == ["General subsidy"]


def test_a_general_subsidy_paid_from_a_compute_programme_is_left_out_for_its_scope(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["awards"][1]["kind"] = "general_subsidy"
    prepared = prepare(validated(write_package(tmp_path, tables)))
    total = headline(prepared, apply_view(prepared, ViewState())).totals["compute"]
    assert {entry.id: entry.reason for entry in total.excluded}["award-bc"] == "scope"
    assert "award-bc" not in {entry.id for entry in total.included}


# --- 5. Zero and negative amounts: one stated rule, one error on the row ---------------------------------------

NET_RULE = (
    "must be more than zero; record a reduction or repayment by lowering the amount it reduces to the net figure, "
    "and say so in the note"
)


# What follows the refused row: the rows that refer to it, one problem per table and column that refers to it.
FOLLOW_ONS = {
    "awards": [
        ("award_recipients", 4, "award_id", fold(1, "award_recipients", "awards", "award-2", "awards.csv:4")),
        ("citations", 5, "award_id", fold(1, "citations", "awards", "award-2", "awards.csv:4")),
    ],
    "programmes": [
        ("awards", 2, "programme_id", fold(7, "awards", "programmes", "pref-digital", "programmes.csv:2")),
        ("award_recipients", 2, "award_id", fold(7, "award_recipients", "awards", "award-0", "awards.csv:2")),
        ("citations", 2, "programme_id", fold(1, "citations", "programmes", "pref-digital", "programmes.csv:2")),
        ("citations", 3, "award_id", fold(7, "citations", "awards", "award-0", "awards.csv:2")),
    ],
}


@pytest.mark.parametrize("amount", ["-5", "0", "-0", "0.00", "-1500000"])
@pytest.mark.parametrize(("table", "index"), [("awards", 2), ("programmes", 0)])
def test_a_zero_or_negative_amount_is_one_error_that_states_the_rule(
    tmp_path: Path, amount: str, table: str, index: int
) -> None:
    tables = register_tables()
    tables["programmes"][0].update(amount="100000000", currency="JPY", basis="up_to")  # its budget
    tables[table][index]["amount"] = amount
    report = validated(write_package(tmp_path, tables)).report
    line = index + 2
    on_row = [p for p in report.problems if (p.table, p.line) == (table, line)]
    assert [(p.severity, p.rule, p.field, p.value, p.message) for p in on_row] == [
        ("error", "row:greater_than", "amount", amount, NET_RULE)
    ]
    # Whatever else is said counts the rows that refer to the refused one, one problem per referring column ...
    follow_ons = [(p.severity, p.rule, p.value) for p in report.problems if p not in on_row]
    assert follow_ons == [("warning", "quarantined-reference", None)] * len(FOLLOW_ONS[table])
    assert [(p.table, p.line, p.field, p.message) for p in report.problems if p not in on_row] == FOLLOW_ONS[table]
    # ... and each of those rows is still listed, naming the refused one as the cause.
    cause = f"was quarantined: amount: {NET_RULE}, {table}.csv:{line}"
    assert report.quarantined[0].reasons == (f"amount: {NET_RULE}",)
    assert all(cause in q.reasons[0] for q in report.quarantined[1:])
    assert len(report.quarantined) == {"awards": 3, "programmes": 1 + 7 + 7 + 8}[table]


def test_a_negative_project_cost_says_to_leave_it_empty(tmp_path: Path) -> None:
    tables = register_tables()
    tables["awards"][0].update(project_cost="-5", project_cost_basis="exact")
    report = validated(write_package(tmp_path, tables)).report
    [problem] = [p for p in report.problems if p.table == "awards"]
    assert (problem.field, problem.message) == (
        "project_cost",
        "must be more than zero; leave it empty when no cost is published",
    )


# --- 4. Warnings: English columns without English, one body or programme under two ids -----------------------


def test_a_latin_letter_is_the_same_to_both_validators_over_every_code_point() -> None:
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    by_row = [has_latin_letter(c) for c in characters]
    assert latin_letters(characters).tolist() == by_row
    assert sum(by_row) > 1000 and has_latin_letter("Ｓｏｆｔ") and not has_latin_letter("医療法人さくら会 ２０２４")


@pytest.mark.parametrize(
    ("values", "names", "titles"),
    [
        # Width and case set aside: full-width letters, half-width katakana, an ideographic space.
        (["Ａｌｐｈａ　Cloud", "alpha  cloud "], ["alpha cloud", "alpha cloud"], ["alphacloud", "alphacloud"]),
        (["ｱﾙﾌｧ･ｸﾗｳﾄﾞ", "アルファ・クラウド"], ["アルファ・クラウド"] * 2, ["アルファクラウド"] * 2),
        # A title drops its particles and spaces; a name keeps them.
        (["計算資源の補助", "計算資源 補助"], ["計算資源の補助", "計算資源 補助"], ["計算資源補助"] * 2),
        (["AI と ロボット", "AIやロボット"], ["ai と ロボット", "aiやロボット"], ["aiロボット"] * 2),
        # Nothing left is no key: a missing value, spaces, a title of particles only.
        ([None, "\u3000 ", "の・が"], [None, None, "の・が"], [None, None, None]),
    ],
)
def test_name_and_title_keys(values: list[str | None], names: list[str | None], titles: list[str | None]) -> None:
    assert name_keys(values).to_pylist() == names
    assert title_keys(values).to_pylist() == titles


# Scopes and keys drawn from small pools, so that rows share keys within and across columns and scopes.
KEYS = st.lists(
    st.tuples(st.sampled_from(["JP", "GB", ""]), *[st.sampled_from([None, "a", "b", "c"])] * 2), max_size=12
)


@given(KEYS)
def test_both_validators_find_the_same_earlier_namesakes(rows: list[tuple[str, str | None, str | None]]) -> None:
    scopes = [scope for scope, *_ in rows]
    keys = {column: [row[i + 1] for row in rows] for i, column in enumerate(NAME_COLUMNS)}
    expected = list(text_rules.earlier_namesakes(scopes, keys))
    hits, which, before = columnar_text_rules.earlier_namesakes(
        pa.array(scopes, pa.large_string()), [pa.array(k, pa.large_string()) for k in keys.values()]
    )
    found = [(p, NAME_COLUMNS[w], b) for p, w, b in zip(hits.tolist(), which.tolist(), before.tolist(), strict=True)]
    assert found == expected


def register_as_filed(tables: Tables) -> None:
    """What the reshaping of a real register files: Japanese in English columns, one body twice, one title twice."""
    organisations, programmes, awards = tables["organisations"], tables["programmes"], tables["awards"]
    # Only a Japanese name: the register has no other, so it went into name_en too.
    organisations[0]["name_en"] = organisations[0]["name_ja"]
    # The same NPO again under another id, its name typed in full-width letters with an ideographic space.
    organisations.append({**organisations[1], "id": "org-midori-2", "name_en": "Ｍｉｄｏｒｉ　ＮＰＯ", "name_ja": ""})
    # The same programme again, its title with a particle more: 中小企業のデジタル化支援補助金.
    programmes.append(
        {
            **programmes[0],
            "id": "pref-digital-2",
            "name_en": "中小企業のデジタル化支援補助金",
            "name_ja": "",
            "status": "",
        }
    )
    tables["citations"].append({"source_id": "src-register", "programme_id": "pref-digital-2"})
    # Purposes in Japanese only, and an award reduced by a repayment filed as a negative amount.
    awards[3]["purpose_en"] = awards[3]["purpose_ja"]
    awards[4]["amount"] = "-250000"


def test_a_register_as_filed_gets_a_warning_for_each_gap_and_one_error_for_the_repayment(tmp_path: Path) -> None:
    tables = register_tables()
    register_as_filed(tables)
    package = validated(write_package(tmp_path, tables))
    problems = [(p.severity, p.rule, p.table, p.line, p.field, p.value, p.message) for p in package.report.problems]
    assert problems == [
        ("error", "row:greater_than", "awards", 6, "amount", "-250000", NET_RULE),
        (
            "warning",
            "quarantined-reference",
            "award_recipients",
            6,
            "award_id",
            None,
            fold(1, "award_recipients", "awards", "award-4", "awards.csv:6"),
        ),
        (
            "warning",
            "quarantined-reference",
            "citations",
            7,
            "award_id",
            None,
            fold(1, "citations", "awards", "award-4", "awards.csv:6"),
        ),
        (
            "warning",
            "english-text",
            "organisations",
            2,
            "name_en",
            "医療法人さくら会",
            "name_en is the English text but holds no Latin letter; write it in English here (a romanised name "
            "will do) and the Japanese in name_ja",
        ),
        (
            "warning",
            "english-text",
            "programmes",
            3,
            "name_en",
            "中小企業のデジタル化支援補助金",
            "name_en is the English text but holds no Latin letter; write it in English here (a romanised name "
            "will do) and the Japanese in name_ja",
        ),
        (
            "warning",
            "english-text",
            "awards",
            5,
            "purpose_en",
            "光農業協同組合のデジタル化",
            "purpose_en is the English text but holds no Latin letter; write it in English here (a romanised "
            "name will do) and the Japanese in purpose_ja",
        ),
        (
            "warning",
            "organisation-name",
            "organisations",
            9,
            "name_en",
            "Ｍｉｄｏｒｉ　ＮＰＯ",
            "organisation 'org-midori-2' has the name of organisation 'org-midori' (line 3), compared without "
            "regard to width, case and spacing; if they are one body, give it one id, so that its awards add up "
            "under one name",
        ),
        (
            "warning",
            "programme-title",
            "programmes",
            3,
            "name_en",
            "中小企業のデジタル化支援補助金",
            "programme 'pref-digital-2' has the title of programme 'pref-digital' (line 2), once width, case, "
            "spaces, middle dots and the particles の, が, を, に, へ, と, で, や are set aside; if they are one "
            "programme, give it one id",
        ),
    ]
    # The repayment's recipient and citation are still listed, each with its reason.
    cause = (f"award_id: award 'award-4' was quarantined: amount: {NET_RULE}, awards.csv:6",)
    assert [(q.table, q.line, q.reasons) for q in package.report.quarantined] == [
        ("awards", 6, (f"amount: {NET_RULE}",)),
        ("award_recipients", 6, cause),
        ("citations", 7, cause),
    ]
    # The blank statuses took their default; the warned rows load.
    assert package.frame("programmes")["status"].tolist() == ["active", "active"]
    assert len(package.frame("organisations")) == len(RECIPIENTS) + 1


def test_one_body_named_in_two_countries_is_two_bodies(tmp_path: Path) -> None:
    tables = register_tables()
    tables["countries"].append({"id": "GB", "name_en": "United Kingdom", "fiscal_year_start_month": "4"})
    tables["organisations"].append({**tables["organisations"][6], "id": "org-kaisha-uk", "country_id": "GB"})
    assert validated(write_package(tmp_path, tables)).report.problems == []


def test_rounds_of_the_same_name_in_two_programmes_are_two_rounds(tmp_path: Path) -> None:
    tables = register_tables()
    programme = tables["programmes"][0]
    tables["programmes"] += [
        {**programme, "id": "pref-energy", "name_en": "Energy saving subsidy", "name_ja": "省エネ補助金"},
        {**programme, "id": "digital-1", "parent_id": "pref-digital", "level": "round", "name_en": "Round 1"},
        {**programme, "id": "energy-1", "parent_id": "pref-energy", "level": "round", "name_en": "Round 1"},
        {**programme, "id": "energy-2", "parent_id": "pref-energy", "level": "round", "name_en": "Round １"},
    ]
    for row in tables["programmes"][1:]:
        row["name_ja"] = "" if row["level"] == "round" else row["name_ja"]
        tables["citations"].append({"source_id": "src-register", "programme_id": row["id"]})
    report = validated(write_package(tmp_path, tables)).report
    assert [(p.rule, p.line, p.value) for p in report.problems] == [("programme-title", 6, "Round １")]
    assert "programme 'energy-2' has the title of programme 'energy-1' (line 5)" in report.problems[0].message


def test_a_long_japanese_text_is_echoed_cut_to_200_characters(tmp_path: Path) -> None:
    tables = register_tables()
    tables["awards"][0]["purpose_en"] = "補助" * 5000  # 10,000 characters, the most a cell may hold
    tables["organisations"].append({**tables["organisations"][2], "id": "org-aozora-2", "name_en": "x" * 9000})
    tables["organisations"][2]["name_en"] = "X" * 9000
    problems = validated(write_package(tmp_path, tables)).report.problems
    assert [(p.rule, len(p.value or "")) for p in problems] == [("english-text", 200), ("organisation-name", 200)]
    assert problems[0].value == "補助" * 99 + "補…"
