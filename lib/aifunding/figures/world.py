"""The World chart: every country's programmes on one axis in one currency, plans in their own panel."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.conversion import Money
from aifunding.analysis.metrics import localized
from aifunding.data.vocabulary import PLAN_BASES, ProgrammeStatus
from aifunding.figures.base import (
    PALETTE,
    PLAN_PATTERN,
    Draft,
    amount_frame,
    base_layout,
    committed_money,
    empty_figure,
    has_plan_panel,
    ids_in,
    left_out_note,
    money_label,
    money_labels,
    subtitle,
    value_labels,
)
from aifunding.figures.programmes import largest_of_each_panel, plan_panels
from aifunding.i18n import Translator
from aifunding.money.formatting import (
    format_partial_date,
)


def build_world_figure(
    programmes: pd.DataFrame,
    *,
    money: Money,
    lang: str = "en",
) -> go.Figure:
    """Programmes of every country on one axis in one currency; targets and plans hatched and labelled."""
    value_column, currency_column = money.value_column, money.currency_column
    t = Translator(lang)
    rows = amount_frame(programmes, value_column, currency_column)
    if rows.empty:
        return empty_figure(t("chart.empty"), filename="world-programmes")
    currency = rows[currency_column].iloc[0]
    rows = rows.assign(
        _value=rows[value_column].map(float),
        _name=localized(rows, "name", lang),
        _country=localized(rows, "country_name", lang),
    ).sort_values("_value")
    # The largest of each panel are drawn, as on the programme totals chart; "Show data" lists them all.
    rows, capped = largest_of_each_panel(rows, t, "world")
    # A programme that is not active or completed says so, as on the Programmes page: "… (planned)", "… (shelved)".
    statuses = rows["status"] if "status" in rows else pd.Series(None, index=rows.index, dtype=object)
    labels = [
        f"{c} · {n}"
        if s in (None, ProgrammeStatus.ACTIVE, ProgrammeStatus.COMPLETED) or not isinstance(s, str)
        else f"{c} · {n} ({t(f'programme_status.{s}')})"
        for c, n, s in zip(rows["_country"], rows["_name"], statuses, strict=True)
    ]
    fig = Draft()
    is_plan = rows["basis"].isin([b.value for b in PLAN_BASES])
    # Targets and plans get their own panel below, on their own scale: one €200bn goal drawn on the
    # committed money's axis would flatten every other bar to a sliver.
    split = has_plan_panel(is_plan)
    panels = {False: ("x", "y"), True: ("x2", "y2") if split else ("x", "y")}
    for i, (plan, name) in enumerate(((False, t("chart.world.committed")), (True, t("chart.world.planned")))):
        mask = is_plan == plan
        sub = rows[mask]
        if sub.empty:
            continue
        fig.add_bar(
            y=[lab for lab, m in zip(labels, mask, strict=True) if m],
            x=sub["_value"],
            xaxis=panels[plan][0],
            yaxis=panels[plan][1],
            orientation="h",
            name=name,
            marker={"color": PALETTE[i], "pattern": {"shape": PLAN_PATTERN if plan else ""}},
            **value_labels(money_labels(sub, value_column, currency_column, lang)),
            customdata=list(
                zip(
                    money_labels(sub, value_column, currency_column, lang),
                    money_labels(sub, "amount", "currency", lang),
                    [format_partial_date(d if isinstance(d, str) else None, lang) for d in sub["announced"]],
                    [
                        # The rate's date in the page's language, as the date before it ("(2025-08-04)" followed
                        # "2025年8月4日"); a figure in the chosen currency with no date has none to give.
                        (f"{r} ({format_partial_date(d, lang)})" if isinstance(d, str) and d else str(r))
                        if isinstance(r, (Decimal, float))
                        else ""
                        for r, d in zip(sub[C.FX_RATE], sub[C.FX_RATE_DATE], strict=True)
                    ],
                    strict=True,
                )
            ),
            hovertemplate="<b>%{y}</b><br>%{customdata[0]}<br>"
            + t("chart.hover.published", amount="%{customdata[1]}", date="%{customdata[2]}")
            + "<br>"
            + t("chart.hover.rate", rate="%{customdata[3]}")
            + "<extra></extra>",
        )
    # The title names the largest money committed: a plan or target is drawn (hatched) but never leads, nor does a
    # programme planned or shelved (its label says so).
    committed = rows[committed_money(rows)]
    top = committed.iloc[-1] if len(committed) else rows.iloc[-1]
    title = t(
        "chart.world.title" if len(committed) else "chart.world.title_plan",
        country=top["_country"],
        name=top["_name"],
        amount=money_label(top[value_column], currency, top["basis"], lang),
    )
    fig.update_layout(barmode="overlay")
    plot_height = plan_panels(
        fig,
        labels,
        is_plan,
        rows["_value"],
        currency=currency,
        lang=lang,
        texts=money_labels(rows, value_column, currency_column, lang),  # written at the bars' ends: room for them
    )
    alt = f"{title}. " + "; ".join(
        f"{label}: {money_label(v, currency, b, lang)}"
        for label, v, b in zip(labels, rows[value_column], rows["basis"], strict=True)
    )
    left_out = left_out_note(programmes, rows, value_column, currency_column, lang=lang)
    return base_layout(
        fig,
        title=title,
        subtitle=subtitle(t("world.title"), capped, left_out),
        alt=alt + "".join(f". {note}" for note in (capped, left_out) if note),
        filename=f"world-programmes-{currency}",
        source_ids=ids_in(rows, C.SOURCE_IDS),
        row_ids=rows["id"] if capped is None else None,
        amount_rows=True,  # past its cap, "Show data" lists every programme it could draw, no other currency's
        caveat_ids=ids_in(rows, C.CAVEAT_IDS),
        height=plot_height,
    )


# --- Highlights ------------------------------------------------------------------------------------
