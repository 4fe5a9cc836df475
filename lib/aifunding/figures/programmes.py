"""Programme charts: declared totals beside what was allocated, and amounts per year (the timeline: :mod:`.timeline`).

Targets and plans never share an axis with committed money: they get their own panel (:func:`plan_panels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.conversion import ORIGINAL, Money
from aifunding.analysis.metrics import localized
from aifunding.data.vocabulary import PLAN_BASES, ProgrammeStatus
from aifunding.figures.base import (
    AXIS_LABEL_WIDTH,
    PALETTE,
    PLAN_PATTERN,
    Draft,
    amount_frame,
    as_float,
    base_layout,
    committed_money,
    empty_figure,
    has_number,
    has_plan_panel,
    ids_in,
    labelled_range,
    left_out_note,
    money_label,
    money_labels,
    panels_note,
    subtitle,
    value_axis,
    value_labels,
)
from aifunding.figures.lines import display_width, wrap
from aifunding.i18n import Translator
from aifunding.money.formatting import (
    basis_label,
    format_composition,
    format_money,
    format_partial_date,
)

# Programmes drawn in each panel (committed money; targets and plans): a register of a thousand
# programmes and rounds draws the largest of each and says how many there are. Amounts of programmes
# and their rounds overlap, so the rest are never added up into one bar; "Show data" lists them all.
TOP_PROGRAMMES = 30


def largest_of_each_panel(rows: pd.DataFrame, t: Translator, chart: str) -> tuple[pd.DataFrame, str | None]:
    """``rows`` (ordered by value) cut to the last :data:`TOP_PROGRAMMES` of each panel, in the same order, and
    the subtitle's note on what is drawn (:func:`~aifunding.figures.base.panels_note`)."""
    is_plan = rows["basis"].isin([b.value for b in PLAN_BASES])
    plan, keep = is_plan.to_numpy(dtype=bool), np.zeros(len(rows), dtype=bool)
    for panel in (plan, ~plan):
        keep[np.flatnonzero(panel)[-TOP_PROGRAMMES:]] = True
    return rows[keep], panels_note(t, chart, is_plan, keep)


def build_programme_totals_figure(
    programmes: pd.DataFrame, *, money: Money = ORIGINAL, lang: str = "en", none: str | None = None
) -> go.Figure:
    """Declared amount per programme beside the sum of its named awards; targets hatched.

    ``none`` is what to say when no programme is in view, for a chart of some programmes only (the Market page's,
    Japan's compute support), whose view may hold others: "nothing matches these filters" beside a view of Korea's.
    """
    value_column, currency_column = money.value_column, money.currency_column
    t = Translator(lang)
    rows = amount_frame(programmes, value_column, currency_column)
    if rows.empty:
        empty = t("chart.programmes.none", n=len(programmes)) if len(programmes) else none or t("chart.empty")
        return empty_figure(empty, filename="programme-totals")
    currency = rows[currency_column].iloc[0]
    rows = rows.assign(_value=rows[value_column].map(float), _name=localized(rows, "name", lang)).sort_values("_value")
    rows, capped = largest_of_each_panel(rows, t, "programme")
    # A programme that is not active says so beside its basis: "Ten-year goal (target, planned)".
    labels = [
        t("chart.programme.label", name=name, basis=basis_label(b, lang))
        if s == ProgrammeStatus.ACTIVE
        else t("chart.programme.label_status", name=name, basis=basis_label(b, lang), status=t(f"programme_status.{s}"))
        for name, b, s in zip(rows["_name"], rows["basis"], rows["status"], strict=True)
    ]
    is_plan = rows["basis"].isin([b.value for b in PLAN_BASES])
    allocated = rows[money.allocated_column].map(as_float)
    declared_labels = money_labels(rows, value_column, currency_column, lang)
    # The awards' sum written by kind of basis ("up to about ¥72.53B"), never as exact money.
    allocated_labels = [
        "" if pd.isna(v) else format_composition(_scaled_parts(parts, v), currency, locale=lang)
        for v, parts in zip(allocated, rows.get(C.ALLOCATED_BY_BASIS, pd.Series(None, index=rows.index)), strict=True)
    ]
    dates = [format_partial_date(d if isinstance(d, str) else None, lang) for d in rows["announced"]]
    n_awards = rows[C.N_AWARDS].tolist()  # read once, not a column look-up per bar
    fig = Draft()
    # Targets and plans in their own panel on their own scale (see plan_panels); one legend for both.
    split = has_plan_panel(is_plan)
    for plan in (False, True):
        mask = (is_plan == plan).to_numpy()
        if not mask.any():
            continue
        axes = {"xaxis": "x2", "yaxis": "y2"} if plan and split else {}
        legend = {"showlegend": not (plan and split)}
        pick = [i for i, m in enumerate(mask) if m]
        fig.add_bar(
            y=[labels[i] for i in pick],
            x=rows["_value"][mask],
            orientation="h",
            name=t("chart.programme.declared"),
            legendgroup="declared",
            marker={"color": PALETTE[0], "pattern": {"shape": PLAN_PATTERN if plan else ""}},
            **value_labels(declared_labels[i] for i in pick),
            customdata=[(declared_labels[i], dates[i], n_awards[i]) for i in pick],
            hovertemplate="<b>%{y}</b><br>"
            + "<br>".join(
                (
                    t("chart.hover.declared", amount="%{customdata[0]}"),
                    t("chart.hover.announced", date="%{customdata[1]}"),
                    t("chart.hover.named_awards", count="%{customdata[2]}"),
                )
            )
            + "<extra></extra>",
            **axes,
            **legend,
        )
        if allocated[mask].notna().any():
            fig.add_bar(
                y=[labels[i] for i in pick],
                x=allocated[mask],
                orientation="h",
                name=t("chart.programme.allocated"),
                legendgroup="allocated",
                marker={"color": PALETTE[1]},
                **value_labels(allocated_labels[i] for i in pick),
                # The sum as its bar's label writes it, by kind of basis ("up to about ¥72.53B"), where the hover
                # read "72,530,000,000 JPY" and lost the basis.
                customdata=[(allocated_labels[i],) for i in pick],
                hovertemplate="<b>%{y}</b><br>"
                + t("chart.hover.named_sum", amount="%{customdata[0]}")
                + "<extra></extra>",
                **axes,
                **legend,
            )
    # The title names the largest money committed: a plan or target is drawn (hatched) but never leads, nor does a
    # programme planned or shelved (its bar says so).
    committed = rows[committed_money(rows)]
    largest = committed.iloc[-1] if len(committed) else rows.iloc[-1]
    title = t(
        "chart.programme.title" if len(committed) else "chart.programme.title_plan",
        name=largest["_name"],
        amount=money_label(largest[value_column], currency, largest["basis"], lang),
    )
    fig.update_layout(barmode="group")
    widest = pd.concat([rows["_value"], allocated.astype(float)], axis=1).max(axis=1)
    # Room at each bar's end for the longer of its two values (declared; the awards' sum).
    ends = [max(d, a, key=display_width) for d, a in zip(declared_labels, allocated_labels, strict=True)]
    plot_height = plan_panels(fig, labels, is_plan, widest, currency=currency, lang=lang, row_px=44, texts=ends)
    unstated = int((programmes["amount"].isna() & (programmes[C.N_AWARDS] > 0)).sum())
    undeclared = t("chart.programme.undeclared", n=unstated) if unstated else None
    alt = f"{title}. " + "; ".join(
        f"{label}: {money_label(v, currency, None, lang)}" for label, v in zip(labels, rows[value_column], strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=subtitle(
            t("programmes.declared_vs_allocated"),
            capped,
            left_out_note(programmes, rows, value_column, currency_column, lang=lang),
            undeclared,
        ),
        alt=alt + "".join(f". {note}" for note in (capped, undeclared) if note),
        filename="programme-totals",
        source_ids=ids_in(rows, C.SOURCE_IDS),
        # Past the cap the ids are left out: "all rows" is what the table behind the chart shows.
        row_ids=rows["id"] if capped is None else None,
        amount_rows=True,  # past its cap, "Show data" lists every programme it could draw, no other currency's
        caveat_ids=ids_in(rows, C.CAVEAT_IDS),
        height=max(160, plot_height),
    )


@lru_cache(maxsize=65536)
def _wrapped_label(name: str) -> str:
    """An axis label wrapped to :data:`AXIS_LABEL_WIDTH` (the same names recur in every filter's charts)."""
    return wrap(name, AXIS_LABEL_WIDTH)


def plan_panels(
    fig: Draft,
    labels: Sequence[str],
    is_plan: pd.Series,
    values: pd.Series,
    *,
    currency: Any,
    lang: str,
    row_px: int = 30,
    texts: Sequence[str] = (),
) -> int:
    """Committed money above, targets and plans below on their own scale; returns the plot's height.

    One €200bn goal on the committed money's axis would flatten every other bar to a sliver, so plans
    get the second axes (``x2``/``y2``) with an axis title that says the scale is their own. Traces
    choose their panel with ``xaxis``/``yaxis``; rows keep their height in both panels. ``texts``, one per
    row, are the values written at the bars' ends: each axis leaves room for them.
    """
    t = Translator(lang)
    split = has_plan_panel(is_plan)
    committed_top = float(values[~is_plan].max() if split else values.max())
    ends = list(zip(values.astype(float), texts, strict=True)) if texts else []

    # Long names wrap, so they never squeeze the bars and the values at their ends off the plot.
    wrapped = {name: _wrapped_label(str(name)) for name in labels}

    def room(plans: bool) -> tuple[list[tuple[float, str]], list[str]]:
        """A panel's bars' ends with their texts, and the names beside the plot (both panels': one left edge)."""
        return [end for end, p in zip(ends, is_plan, strict=False) if not split or p == plans], list(wrapped.values())

    def ticks(names: Sequence[str]) -> dict[str, Any]:
        return {"tickvals": list(names), "ticktext": [wrapped[name] for name in names]}

    # Rows tall enough for the most lines a wrapped name takes.
    lines = max((text.count("<br>") for text in wrapped.values()), default=0) + 1
    row_px = max(row_px, 15 * lines + 14)
    fig.update_layout(
        yaxis={"title": None, "categoryorder": "array", "categoryarray": list(labels), **ticks(labels)},
        xaxis={
            "title": str(currency),
            **value_axis(committed_top, lang),
            **labelled_range(committed_top, *room(False)),
        },
    )
    if not split:
        return max(200, row_px * len(labels))
    # The gap holds the upper panel's axis and title.
    committed_rows, plan_rows, gap = row_px * int((~is_plan).sum()), row_px * int(is_plan.sum()) + 20, 90
    plot_height = committed_rows + gap + plan_rows
    plan_top = float(values[is_plan].max())
    fig.update_layout(
        yaxis={
            "domain": [(plan_rows + gap) / plot_height, 1],
            "categoryarray": [lab for lab, p in zip(labels, is_plan, strict=True) if not p],
            **ticks([lab for lab, p in zip(labels, is_plan, strict=True) if not p]),
        },
        xaxis={"anchor": "y"},
        yaxis2={
            "domain": [0, plan_rows / plot_height],
            "title": None,
            "categoryorder": "array",
            "categoryarray": [lab for lab, p in zip(labels, is_plan, strict=True) if p],
            **ticks([lab for lab, p in zip(labels, is_plan, strict=True) if p]),
            "gridcolor": "#e6e6e6",
            "automargin": True,
        },
        xaxis2={
            "title": t("chart.world.plan_axis", currency=currency),
            "anchor": "y2",
            "gridcolor": "#e6e6e6",
            "automargin": True,
            **value_axis(plan_top, lang),
            **labelled_range(plan_top, *room(True)),
        },
    )
    return plot_height


def _scaled_parts(parts: Any, shown: float) -> dict[str, Decimal]:
    """A programme's allocation by basis, scaled to the amount drawn (converted, when a currency is chosen).

    Without its parts (a frame built by hand) the sum is written as a plain number, as before.
    """
    if not isinstance(parts, dict) or not parts:
        return {"exact": Decimal(str(shown)).quantize(Decimal(1))}
    whole = sum(parts.values(), Decimal(0))
    factor = Decimal(str(shown)) / whole if whole else Decimal(1)
    return {kind: (value * factor).quantize(Decimal(1)) for kind, value in parts.items()}


def build_annualised_figure(programmes: pd.DataFrame, *, money: Money = ORIGINAL, lang: str = "en") -> go.Figure:
    """Amount per year over each programme's published period (targets hatched)."""
    value_column, currency_column = money.value_column, money.currency_column
    t = Translator(lang)
    with_period = programmes[has_number(programmes[C.ANNUALISED])]
    rows = amount_frame(with_period, value_column, currency_column)
    if rows.empty:
        empty = t("chart.annualised.none", n=len(programmes)) if len(programmes) else t("chart.empty")
        return empty_figure(empty, filename="annualised")
    currency = rows[currency_column].iloc[0]
    years = [
        Decimal(amount) / Decimal(yearly) for amount, yearly in zip(rows["amount"], rows[C.ANNUALISED], strict=True)
    ]
    per_year = [float(v) / float(y) for v, y in zip(rows[value_column], years, strict=True)]
    rows = rows.assign(
        _per_year=per_year, _years=[int(y) for y in years], _name=localized(rows, "name", lang)
    ).sort_values("_per_year")
    # The largest per year are drawn (one panel: targets are hatched in it); "Show data" lists them all.
    total = len(rows)
    rows = rows.iloc[-TOP_PROGRAMMES:]
    capped = t("chart.annualised.capped", shown=len(rows), total=f"{total:,}") if len(rows) < total else None
    is_plan = rows["basis"].isin([b.value for b in PLAN_BASES])
    labels = [t("chart.annualised.label", name=n, n=int(y)) for n, y in zip(rows["_name"], rows["_years"], strict=True)]
    # A year's share keeps its figure's basis: a ceiling spread over its years is a ceiling a year ("up to ¥995B").
    bases = [b if isinstance(b, str) else None for b in rows["basis"]]
    per_year_labels = [
        format_money(Decimal(str(round(v))), currency, locale=lang, basis=b)
        for v, b in zip(rows["_per_year"], bases, strict=True)
    ]
    fig = Draft()
    fig.add_bar(
        y=labels,
        x=rows["_per_year"],
        orientation="h",
        name=t("chart.annualised.trace"),
        marker={"color": PALETTE[2], "pattern": {"shape": [PLAN_PATTERN if p else "" for p in is_plan]}},
        **value_labels(per_year_labels),
        customdata=list(zip(money_labels(rows, value_column, currency_column, lang), per_year_labels, strict=True)),
        hovertemplate="<b>%{y}</b><br>"
        + t("chart.hover.per_year", amount="%{customdata[1]}")
        + "<br>"
        + t("chart.hover.of_total", amount="%{customdata[0]}")
        + "<extra></extra>",
    )
    top = rows.iloc[-1]
    target = top["basis"] in {b.value for b in PLAN_BASES}  # its title says so in words
    title = t(
        "chart.annualised.title_target" if target else "chart.annualised.title",
        name=top["_name"],
        amount=format_money(
            Decimal(str(round(top["_per_year"]))), currency, locale=lang, basis=None if target else bases[-1]
        ),
    )

    fig.update_layout(
        yaxis={"title": None},
        xaxis={
            "title": t("chart.annualised.axis", currency=currency),
            **value_axis(rows["_per_year"].max(), lang),
            **labelled_range(rows["_per_year"].max(), zip(rows["_per_year"], per_year_labels, strict=True), labels),
        },
    )
    alt = f"{title}. " + "; ".join(
        f"{label}: {t('chart.hover.per_year', amount=amount)}"
        for label, amount in zip(labels, per_year_labels, strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=subtitle(
            t("programmes.annualised"),
            capped,
            left_out_note(with_period, rows, value_column, currency_column, lang=lang),
        ),
        alt=alt + (f". {capped}" if capped else ""),
        filename="annualised",
        source_ids=ids_in(rows, C.SOURCE_IDS),
        row_ids=rows["id"] if capped is None else None,
        amount_rows=C.ANNUALISED,  # past its cap, "Show data" lists every programme with a period it could draw
        caveat_ids=ids_in(rows, C.CAVEAT_IDS),
        height=max(160, 44 * len(rows)),
    )


# --- Cloud market ----------------------------------------------------------------------------------------
