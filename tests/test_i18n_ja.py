"""The Japanese build: chart titles, legends and axes, display tables, names and the filter sentence in Japanese.

English output is covered by the other suites; these tests check that lang="ja" reaches every text and that
the columns code reads (ID) stay the same.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import pytest

from aifunding import columns as C
from aifunding.analysis.metrics import localized, recipients_by_award
from aifunding.analysis.view import Prepared, ViewState, apply_view
from aifunding.data.report import ValidationReport
from aifunding.figures.base import amount_frame, left_out_note, value_axis
from aifunding.figures.companies import build_recipient_figure
from aifunding.figures.lines import display_width, wrap
from aifunding.figures.market import build_market_figure
from aifunding.figures.nesting import nesting_table
from aifunding.figures.presentation import (
    ID_COLUMN,
    awards_table,
    caveats_table,
    column,
    method_markdown,
    milestones_table,
    programmes_table,
    shares_table,
    sources_table,
    unpublished_awards,
)
from aifunding.figures.programmes import build_annualised_figure, build_programme_totals_figure
from aifunding.figures.report_tables import report_counts, report_table
from aifunding.figures.timeline import build_timeline_figure
from aifunding.figures.worded import Worded
from aifunding.figures.world import build_world_figure
from aifunding.loading.package import Package, load_package
from aifunding.money.formatting import format_compact_number
from aifunding.outputs.snapshot import build_report
from aifunding.outputs.summary import headline, total_text


def title_text(fig: go.Figure) -> str:
    """The title without the subtitle, its wrapping undone: English lines broke at a space, Japanese anywhere."""
    lines = fig.layout.title.text.split("<br><span")[0].split("<br>")
    text = lines[0]
    for line in lines[1:]:
        text += ("" if display_width(text[-1] + line[0]) > 2 else " ") + line
    return text


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype=object)


# --- localized ---------------------------------------------------------------------------------------------

NAMES = frame(
    [
        {"name_en": "Japan", "name_ja": "日本"},
        {"name_en": "Canada", "name_ja": None},  # no Japanese name
        {"name_en": "France", "name_ja": "  "},  # a blank cell is no name either
    ]
)


@pytest.mark.parametrize(
    ("names", "column_stem", "lang", "expected"),
    [
        # Japanese where the data has it, English otherwise
        (NAMES, "name", "ja", ["日本", "Canada", "France"]),
        # English never reads the Japanese column
        (NAMES, "name", "en", ["Japan", "Canada", "France"]),
        # no Japanese column at all
        (NAMES[["name_en"]], "name", "ja", ["Japan", "Canada", "France"]),
        # a derived English label has no _en suffix
        (frame([{"project_label": "A + B (joint)", "project_label_ja": "A・B（共同）"}]), "project_label", "ja",
         ["A・B（共同）"]),
    ],
)  # fmt: skip
def test_localized(names: pd.DataFrame, column_stem: str, lang: str, expected: list[str]) -> None:
    before = names.copy()
    assert list(localized(names, column_stem, lang)) == expected
    pd.testing.assert_frame_equal(before, names)


def test_joint_project_label_in_japanese(minimal) -> None:
    result = recipients_by_award(load_package(minimal)).set_index(C.AWARD_ID)
    assert result.loc["award-a", C.PROJECT_LABEL_JA] == "アルファ"
    assert result.loc["award-bc", C.PROJECT_LABEL_JA] == "Beta Labs・Gamma AI（共同）"


# --- axis ticks and title wrapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "en", "ja"),
    [
        (0, "0", "0"),
        (100_000_000_000, "100B", "1,000億"),
        (2_500_000_000_000, "2.5T", "2兆5,000億"),
        (150_000_000, "150M", "1.5億"),
        (-20_000, "-20K", "-2万"),
    ],
)
def test_format_compact_number(value: int, en: str, ja: str) -> None:
    assert (format_compact_number(value), format_compact_number(value, "ja")) == (en, ja)


def test_value_axis_writes_japanese_units_and_leaves_english_to_plotly() -> None:
    assert value_axis(387.3e9, "en") == {}
    assert value_axis(0, "ja") == {}
    axis = value_axis(387.3e9, "ja")
    assert axis["tickvals"] == [0, 1e11, 2e11, 3e11]
    assert axis["ticktext"] == ["0", "1,000億", "2,000億", "3,000億"]
    assert value_axis(1e12, "ja")["ticktext"][-1] == "1兆"


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        # English wraps at spaces, as textwrap does
        ("Ten-year goal is the largest: ¥50T (target)", 20, "Ten-year goal is the<br>largest: ¥50T<br>(target)"),
        # short text is left alone
        ("受給額が最も多いのは", 20, "受給額が最も多いのは"),
        # a Japanese character is two columns wide; English names inside stay whole
        ("受給額が最も多いのはSakura Internet：575億円", 24, "受給額が最も多いのは<br>Sakura Internet：575億円"),
        # closing punctuation never starts a line, an opening bracket never ends one (BudouX reads 一二|三四五。|六七)
        ("一二三四五。六七", 10, "一二<br>三四五。<br>六七"),
        # a line breaks between phrases, never inside a word: 「確<br>定」, 「フ<br>レーム」, 「できま<br>す。」 before
        ("National AI Strategy, phase 3（確定）", 34, "National AI Strategy, phase 3<br>（確定）"),
        ("日本 · AI・半導体産業基盤強化フレーム", 34, "日本 · AI・半導体<br>産業基盤強化フレーム"),
        ("通貨で表示すると、換算して比較できます。", 36, "通貨で表示すると、換算して<br>比較できます。"),
        # a phrase longer than a line breaks between its characters, by the same rules
        ("産業基盤強化フレーム", 8, "産業基盤<br>強化フ<br>レーム"),  # ー never starts a line
        ("一二三（四五六", 8, "一二三<br>（四五六"),
        # a figure keeps its unit
        ("一二三四：1兆円", 10, "一二三四：<br>1兆円"),
    ],
)
def test_wrap(text: str, width: int, expected: str) -> None:
    assert wrap(text, width) == expected
    assert all(display_width(line) <= width + 2 for line in wrap(text, width).split("<br>"))


# --- charts ------------------------------------------------------------------------------------------------


def test_recipient_figure_in_japanese(prepared: Prepared) -> None:
    fig = build_recipient_figure(prepared.awards, lang="ja")
    assert title_text(fig) == "受給額が最も多いのはNoetra・産業技術総合研究所（共同）：最大3,873億円（1件）"
    categories = list(fig.layout.yaxis.categoryarray)
    assert "RUTILEA・AI Fukushima（共同）" in categories
    assert "RUTILEA + AI Fukushima (joint)" not in categories
    assert fig.layout.xaxis.title.text == "JPY（区分は1件の採択）"
    assert list(fig.layout.xaxis.ticktext) == ["0", "1,000億", "2,000億", "3,000億"]
    assert "Cloud Program: 2024-04-19 round · 最大約" in [trace.name for trace in fig.data]
    # Amounts in hover are Japanese; purposes are Japanese where the data has them.
    [sakura] = [t for t in fig.data if t.name == "Cloud Program: 2024-04-19 round · 最大約"]
    cells = {label: data for label, data in zip(sakura.y, sakura.customdata, strict=True)}
    assert cells["Sakura Internet"][1] == "最大約501億円"
    assert cells["Sakura Internet"][3] == "AIに関わる計算資源としてのGPUクラウドサービスの提供"
    # The same rows are drawn whatever the language.
    assert fig.layout.meta["row_ids"] == build_recipient_figure(prepared.awards).layout.meta["row_ids"]


def test_recipient_title_words_a_single_basis_in_japanese_order() -> None:
    awards = frame(
        [
            {"id": "a", "amount": Decimal("1000000000000"), "currency": "JPY", "basis": "at_least",
             C.PROJECT_LABEL: "A", C.PROGRAMME_NAME_EN: "P", "announced": "2024", "purpose_en": "x",
             C.SOURCE_IDS: (), C.CAVEAT_IDS: ()},
        ]
    )  # fmt: skip
    assert title_text(build_recipient_figure(awards, lang="ja")) == "受給額が最も多いのはA：1兆円以上（1件）"
    assert title_text(build_recipient_figure(awards)) == "A received the most: at least ¥1T across 1 award"


PROGRAMMES = [
    {"id": "r-apr", "name_en": "April round", "name_ja": "4月公募", "amount": Decimal("72500000000"),
     "currency": "JPY", "basis": "up_to", "status": "active", "announced": "2024-04-19", C.N_AWARDS: 5,
     C.ALLOCATED: Decimal("72530000000"), C.ANNUALISED: None},
    {"id": "goal", "name_en": "Ten-year goal", "name_ja": None, "amount": Decimal("50000000000000"),
     "currency": "JPY", "basis": "target", "status": "planned", "announced": "2016", C.N_AWARDS: 0,
     C.ALLOCATED: None, C.ANNUALISED: Decimal("5000000000000")},
    {"id": "gb", "name_en": "Undated", "name_ja": None, "amount": Decimal("36000000"), "currency": "GBP",
     "basis": "exact", "status": "active", "announced": None, C.N_AWARDS: 0, C.ALLOCATED: None,
     C.ANNUALISED: Decimal("36000000")},
]  # fmt: skip


def programme_frame() -> pd.DataFrame:
    programmes = frame(PROGRAMMES)
    programmes[C.COUNTRY_NAME_EN] = ["Japan", "Japan", "United Kingdom"]
    programmes[C.COUNTRY_NAME_JA] = ["日本", "日本", "英国"]
    programmes[C.SOURCE_IDS] = [("src-a",), ("src-a",), ("src-c",)]
    programmes[C.CAVEAT_IDS] = [(), (), ()]
    return programmes


def test_programme_totals_in_japanese() -> None:
    fig = build_programme_totals_figure(programme_frame(), lang="ja")
    assert title_text(fig) == "確約された金額で最大：4月公募（最大725億円）"
    declared, allocated, goal = fig.data
    assert (declared.name, allocated.name, goal.name) == (
        "公表額（斜線：目標・計画）",
        "個別採択の合計",
        "公表額（斜線：目標・計画）",
    )
    assert (list(declared.y), list(goal.y)) == (["4月公募（最大）"], ["Ten-year goal（目標・計画中）"])
    assert goal.xaxis == "x2" and fig.layout.xaxis2.title.text == "JPY（目標・計画、別の目盛り）"
    assert "公表額：%{customdata[0]}" in declared.hovertemplate
    assert "Declared" not in declared.hovertemplate
    assert fig.layout.meta["subtitle"][-1].endswith(  # as written, before it is broken into lines
        "GBP建ての1件は描いていません。金額を一つの通貨で表示すると、換算して比較できます。"
    )
    assert fig.layout.title.text.endswith("</span>")


def test_timeline_in_japanese() -> None:
    fig = build_timeline_figure(programme_frame(), lang="ja")
    assert title_text(fig) == "2016年〜2024年4月19日に2件の発表"
    _spans, japan = fig.data  # the periods, then the dates
    assert japan.name == "日本"
    assert list(japan.y) == ["Ten-year goal", "4月公募"]
    assert japan.hovertemplate.startswith("<b>%{y}</b><br>発表：%{customdata[0]}")


def test_annualised_in_japanese() -> None:
    fig = build_annualised_figure(programme_frame(), lang="ja")
    assert title_text(fig) == "年間額が最も大きいのはTen-year goal：年間5兆円（目標で、確約ではない）"
    [bars] = fig.data
    assert list(bars.y) == ["Ten-year goal（10年）"]
    assert bars.name == "年間額（斜線：目標・計画）"
    assert fig.layout.xaxis.title.text == "JPY／年"


def test_left_out_note_in_japanese() -> None:
    programmes = programme_frame()
    drawn = amount_frame(programmes, "amount", "currency")
    assert left_out_note(programmes, drawn, "amount", "currency", lang="ja") == (
        "JPY建ての数値だけを描いています。GBP建ての1件は描いていません。金額を一つの通貨で表示すると、換算して比較できます。"
    )


def test_market_figure_in_japanese(prepared: Prepared) -> None:
    shares = prepared.market_shares
    meti = build_market_figure(shares[shares["market_id"] == "jp-cloud-meti-2024"], lang="ja")
    # The market's Japanese name; segments without one stay English.
    assert title_text(meti) == "基盤クラウドサービス：Foreign firms 約70%"
    assert meti.layout.xaxis.title.text == "出典の定義による市場シェア"
    assert meti.layout.meta["filename"] == "market-share-japan-cloud-services-meti-framing-2024"
    jftc = build_market_figure(shares[shares["market_id"] == "jp-iaas-paas-jftc-fy2020"], lang="ja")
    assert "シェアの数値がなく順位のみ：4位 Google、5位 Salesforce" in jftc.layout.title.text
    assert [trace.name for trace in jftc.data] == ["公表された幅"]
    press = build_market_figure(shares[shares["market_id"] == "jp-cloud-press-2024"], lang="ja")
    assert "公表値（「超」は下限）" in [trace.name for trace in press.data]


def test_world_figure_in_japanese(prepared: Prepared) -> None:
    view = apply_view(prepared, ViewState(currency="USD", lang="ja"))
    fig = build_world_figure(view.programmes, money=view.money, lang="ja")
    assert {trace.name for trace in fig.data} == {"確約・予算化済み", "目標・計画（確約ではない）"}
    # The largest money committed leads the title, as in English; the ten-year target is drawn, never named there.
    assert title_text(fig) == "確約された金額で最大：日本のAI・半導体産業基盤強化フレーム（650.16億ドル以上）"
    only_plans = build_world_figure(view.programmes[view.programmes["basis"] == "target"], money=view.money, lang="ja")
    assert title_text(only_plans).startswith("計画・目標のみ。最大は日本の")
    assert title_text(only_plans).endswith("億ドル（目標）")
    labels = {label for trace in fig.data for label in trace.y}
    assert "欧州連合 · InvestAI" in labels
    assert "公表額：%{customdata[1]}、%{customdata[2]}<br>レート：%{customdata[3]}" in fig.data[0].hovertemplate
    # The rate's date reads as the announcement's does, 「2025年8月4日」, where it read "(2025-08-04)".
    rates = [row[3] for trace in fig.data for row in trace.customdata]
    assert "0.0007226905460 (2025年8月4日)" in rates and not any("-0" in rate for rate in rates)


@pytest.mark.parametrize(
    "builder", [build_recipient_figure, build_programme_totals_figure, build_timeline_figure, build_annualised_figure]
)
def test_empty_figures_say_so_in_japanese(prepared: Prepared, builder) -> None:
    source = prepared.awards if builder is build_recipient_figure else prepared.programmes
    assert title_text(builder(source.iloc[:0], lang="ja")).startswith("条件に一致するデータはありません。")


# --- display tables ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ja_tables(prepared: Prepared) -> dict[str, pd.DataFrame]:
    """Every display table built in Japanese from the bundled package, with amounts converted to USD."""
    view = apply_view(prepared, ViewState(currency="USD", lang="ja"))
    options = {"money": view.money, "lang": "ja"}
    package = prepared.package
    return {
        "awards": awards_table(view.awards, package, **options),
        "programmes": programmes_table(view.programmes, package, **options),
        "nesting": nesting_table(view.programmes, package.tree, **options),
        "shares": shares_table(prepared.market_shares, package, lang="ja"),
        "milestones": milestones_table(prepared.milestones, package, today="2026-11-30", lang="ja"),
        "sources": sources_table(package, "ja"),
        "caveats": caveats_table(package, "ja"),
        "report": report_table(package.report, "ja"),
    }


def test_awards_table_headers_in_japanese(ja_tables: dict[str, pd.DataFrame]) -> None:
    table = ja_tables["awards"]
    assert list(table.columns) == [
        "支援先", "事業", "金額", "数値", "通貨", "性質", "発表日", "目的", "出典", "ID",
        "公表額", "レート", "レートの日付", "換算できない理由",
    ]  # fmt: skip
    sakura = table[table[ID_COLUMN] == "jp-cloud-2024-04-sakura"].iloc[0]
    assert (sakura["公表額"], sakura["発表日"], sakura["性質"]) == ("最大約501億円", "2024年4月19日", "最大約")
    assert "RUTILEA・AI Fukushima（共同）" in set(table["支援先"])
    assert "発表日がないため発表日のレートを使えない" in set(table["換算できない理由"])


@pytest.mark.parametrize("name", ["awards", "programmes", "nesting", "shares", "milestones", "sources", "caveats"])
def test_japanese_tables_have_no_english_headers(ja_tables: dict[str, pd.DataFrame], name: str) -> None:
    headers = [h for h in ja_tables[name].columns if h != ID_COLUMN]
    assert headers and all(not h.isascii() for h in headers), headers
    assert len(set(ja_tables[name].columns)) == len(ja_tables[name].columns)  # no two keys share a header


def test_report_table_headers_in_japanese(ja_tables: dict[str, pd.DataFrame]) -> None:
    assert list(ja_tables["report"].columns) == ["重大度", "テーブル", "ファイル", "行", "項目", "値", "内容"]
    assert set(ja_tables["report"]["重大度"]) == {"警告"}  # was "warning", in English


def test_report_counts(bundled: Package) -> None:
    report = bundled.report
    assert report_counts(report) == report.counts()
    stats = report.stats()
    assert report_counts(report, "ja") == (
        f"エラー0件、警告{stats['warnings']}件。{stats['tables']}テーブルの{stats['rows_read']}行のうち"
        f"{stats['rows_loaded']}行を読み込み、0行を隔離"
    )


def test_report_counts_group_their_digits() -> None:
    """A million awards' report read "3522095行のうち3522095行": counts are grouped in both languages and the CLI."""
    report = ValidationReport(
        rows_read={"awards": 1_000_024, "citations": 2_522_071}, rows_loaded={"awards": 1_000_024}
    )
    report.unchecked["citations"] = 2_522_071
    assert report.counts() == (
        "0 error(s), 0 warning(s); 1,000,024 of 3,522,095 rows loaded from 2 tables, 0 quarantined, "
        "2,522,071 not checked (they refer to a table that was not read)"
    )
    assert report_counts(report, "ja") == (
        "エラー0件、警告0件。2テーブルの3,522,095行のうち1,000,024行を読み込み、0行を隔離、"
        "読み込めなかった表を参照する2,522,071行は未検査"
    )
    assert report_counts(report, "en") == report.counts()  # the page says what the command line says


@pytest.mark.parametrize(
    ("unread", "partly_read", "english", "japanese"),
    [
        ({"awards"}, set(), "they refer to a table that was not read", "読み込めなかった表を参照する7行は未検査"),
        (
            set(),
            {"awards"},
            "they may refer to rows that were not read: a quote left open took them into one cell",
            "読み込めなかった行（閉じられていない引用符で一つのセルに取り込まれた行）を参照しうる7行は未検査",
        ),
        (
            {"organisations"},
            {"awards"},
            "they refer to a table that was not read, or may refer to rows that were not read",
            "読み込めなかった表、または読み込めなかった行を参照しうる7行は未検査",
        ),
    ],
)
def test_rows_not_checked_are_said_to_refer_to_what_was_not_read(
    unread: set[str], partly_read: set[str], english: str, japanese: str
) -> None:
    """A table a quote left open kept from being read whole was read: its referrers are not said to refer to a
    table that was not read."""
    report = ValidationReport(rows_read={"citations": 7}, unread=unread, partly_read=partly_read)
    report.unchecked["citations"] = 7
    assert report.counts().endswith(f", 7 not checked ({english})")
    assert report_counts(report, "en") == report.counts()
    assert report_counts(report, "ja").endswith(f"、{japanese}")


def test_japanese_cells(ja_tables: dict[str, pd.DataFrame]) -> None:
    programmes = ja_tables["programmes"]
    assert set(programmes["状況"]) <= {"実施中", "計画中", "終了", "見送り"}
    assert "日本" in set(programmes["国・地域"])
    assert "4位" in set(ja_tables["shares"]["シェア"])
    assert set(ja_tables["sources"]["信頼度"]) == {"一次資料", "報道", "二次資料", "低信頼"}
    due = set(ja_tables["milestones"]["期限"])
    assert {"早ければ2026年度", "2027年度から毎年"} <= due


def test_id_column_is_the_same_in_every_language(prepared: Prepared) -> None:
    options: dict = {}
    en = awards_table(prepared.awards, prepared.package, **options)
    ja = awards_table(prepared.awards, prepared.package, **options, lang="ja")
    assert column("id", "ja") == column("id") == ID_COLUMN == "ID"
    assert list(en[ID_COLUMN]) == list(ja[ID_COLUMN])
    # The page's table of awards without an amount, worded in either language.
    rows = {
        lang: Worded(prepared.awards, lambda part, lang=lang: awards_table(part, prepared.package, lang=lang))
        for lang in ("en", "ja")
    }
    ja_missing = unpublished_awards(rows["ja"], lang="ja")
    en_missing = unpublished_awards(rows["en"])
    assert list(ja_missing.whole().columns) == ["支援先", "事業", "発表日", "目的", "出典"]
    assert list(en_missing.whole().columns) == ["Project", "Programme", "Announced", "Purpose", "Sources"]
    assert len(ja_missing) == len(en_missing) == len(ja_missing.whole()) == int(en["Value"].isna().sum()) > 0


def test_method_in_japanese() -> None:
    text = method_markdown("ja")
    assert text.startswith("- **金額は公表どおり。**")
    assert "ECB" in text and "為替換算" in text
    assert method_markdown().startswith("- **Amounts are exact as published.**")


def test_headline_totals_and_reasons_in_japanese(prepared: Prepared) -> None:
    figures = headline(prepared, apply_view(prepared, ViewState(lang="ja")))
    compute = figures.totals["compute"]
    assert total_text(compute, "ja") == "最大約1,278億円"
    reasons = {e.id: e.reason_text("ja") for e in compute.excluded}
    assert reasons["jp-cloud-2023-04-utokyo"] == "この合計の対象外：量子コンピューティング"
    assert reasons["jp-fy2023-supp-cloud"].startswith("予算枠・予算項目")
    # A row without a Japanese name is named in English inside the Japanese sentence.
    assert reasons["jp-cloud-2024-04-kddi"] == "合計に含めたCloud Program: 2024-04-19 roundの内数"


# --- the filter sentence, names and the snapshot -----------------------------------------------------------


def test_sentence_in_japanese(prepared: Prepared) -> None:
    state = ViewState(lang="ja", countries=("JP", "CA"), date_from=datetime.date(2024, 1, 1))
    sentence = apply_view(prepared, state).sentence()
    assert sentence.startswith("7事業・採択12件を表示（国・地域：日本・カナダ、2024年1月1日以降に発表）。")
    assert "金額は元の通貨のまま" in sentence
    assert sentence.endswith("除外しています。")
    english = apply_view(prepared, state.with_(lang="en")).sentence()
    assert english.startswith("Showing 12 awards in 7 programmes in Japan, Canada, announced from 1 Jan 2024; ")


def test_filter_names_in_japanese(prepared: Prepared) -> None:
    assert prepared.context.names_in("ja")["countries"]["JP"] == "日本"
    assert prepared.context.names_in("ja")["organisations"]["aist"] == "産業技術総合研究所"
    # An organisation without a Japanese name keeps its English one.
    assert prepared.context.names_in("ja")["organisations"]["noetra"] == "Noetra"
    assert prepared.context.names_in("en")["countries"]["JP"] == "Japan"


def test_snapshot_in_japanese(prepared: Prepared, bundled: Package) -> None:
    made = datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC)
    html = build_report(prepared, ViewState(lang="ja"), generated_at=made)
    assert "<html lang='ja'>" in html
    assert "<title>AIモデルと計算資源への政府資金</title>" in html
    assert "に" + bundled.title + "から作成したスナップショット" in html
    assert "<h2>事業別の合計</h2>" in html and "<h2>今後の注目点</h2>" in html
    assert "Snapshot made" not in html and "Text description" not in html
