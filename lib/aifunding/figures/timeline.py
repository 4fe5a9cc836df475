"""The announcement timeline: one marker per programme or round, coloured by country, the latest announcements.

A month- or year-precise date is drawn at the middle of its period with a line over it: never more precise.
"""

from __future__ import annotations

import datetime

import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.conversion import ORIGINAL, Money
from aifunding.analysis.metrics import localized
from aifunding.data.dates import partial_bounds
from aifunding.figures.base import PALETTE, Draft, base_layout, empty_figure, ids_in, money_labels, subtitle
from aifunding.figures.lines import wrap
from aifunding.i18n import Translator
from aifunding.money.formatting import format_partial_date


def _midpoint(value: str) -> datetime.date:
    first, last = partial_bounds(value)
    return first + (last - first) / 2


# Announcements the timeline draws at most: the latest ones (a row each stays readable).
TIMELINE_ROWS = 60
# Its names wrap at this width, on two lines at most (a row grows with its lines, and the timeline has many rows).
TIMELINE_LABEL_WIDTH = 44


def build_timeline_figure(programmes: pd.DataFrame, *, money: Money = ORIGINAL, lang: str = "en") -> go.Figure:
    """Announcements over time: one marker per programme or round, grouped by country.

    A month- or year-precise date is drawn at the middle of its period with a line over it: never more precise."""
    value_column, currency_column = money.value_column, money.currency_column
    t = Translator(lang)
    rows = programmes[programmes["announced"].map(lambda v: isinstance(v, str)).astype(bool)]
    if rows.empty:
        return empty_figure(t("chart.empty"), filename="announcement-timeline")
    rows = rows.assign(
        _mid=rows["announced"].map(_midpoint),
        _name=localized(rows, "name", lang),
        _country=localized(rows, "country_name", lang),
    ).sort_values("_mid")
    total = len(rows)
    # A register of thousands of rounds draws its latest announcements, one readable row each; the
    # subtitle says so, and the Data page lists them all.
    rows = rows.iloc[-TIMELINE_ROWS:]
    fig = Draft()
    # Colours go to countries in a fixed order, the home country's first and the others by id, not in the order each
    # was first announced in view: Japan was dark blue in one view and light blue in another.
    by = "country_id" if "country_id" in rows.columns else "_country"
    ids = sorted(rows.groupby("_country", sort=False)[by].first().items(), key=lambda c: _country_rank(c[1]))
    for i, (country, _) in enumerate(ids):
        group = rows[rows["_country"] == country]
        colour = PALETTE[i % len(PALETTE)]
        # A month or year as a line over its days under its marker (plotly.js draws no error bars on a date axis).
        span_x: list[datetime.date | None] = []
        span_y: list[str | None] = []
        for (first, last), name in zip(group["announced"].map(partial_bounds), group["_name"], strict=True):
            if last > first:
                span_x += [first, last + datetime.timedelta(days=1), None]
                span_y += [name, name, None]
        if span_x:
            fig.add_scatter(
                x=span_x,
                y=span_y,
                mode="lines",
                line={"color": colour, "width": 3},
                opacity=0.45,
                name=str(country),
                showlegend=False,  # no legend group: a horizontal legend of groups stops wrapping and cuts entries
                hoverinfo="skip",
            )
        fig.add_scatter(
            x=group["_mid"],
            y=group["_name"],
            mode="markers",
            name=str(country),
            marker={"size": 11, "color": colour, "symbol": "circle"},
            customdata=list(
                zip(
                    [format_partial_date(v, lang) for v in group["announced"]],
                    money_labels(group, value_column, currency_column, lang),
                    strict=True,
                )
            ),
            hovertemplate="<b>%{y}</b><br>"
            + t("chart.hover.announced", date="%{customdata[0]}")
            + "<br>%{customdata[1]}<extra></extra>",
        )
    first, last = rows.iloc[0], rows.iloc[-1]
    title = t(
        "chart.timeline.title",
        n=len(rows),
        start=format_partial_date(first["announced"], lang),
        end=format_partial_date(last["announced"], lang),
    )
    # Long names wrap, as on the bar charts: unwrapped, they took most of the chart's width from its dates.
    names = list(rows["_name"])
    ticks = [wrap(str(name), TIMELINE_LABEL_WIDTH, max_lines=2) for name in names]
    lines = max((tick.count("<br>") for tick in ticks), default=0) + 1
    fig.update_layout(
        yaxis={"title": None, "categoryorder": "array", "categoryarray": names, "tickvals": names, "ticktext": ticks},
        xaxis={"title": None, "type": "date"},
    )
    alt = f"{title}. " + "; ".join(
        f"{n}: {format_partial_date(d, lang)}" for n, d in zip(rows["_name"], rows["announced"], strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=subtitle(
            t("programmes.timeline"),
            t("chart.timeline.capped", shown=len(rows), total=f"{total:,}") if total > len(rows) else None,
        ),
        alt=alt,
        filename="announcement-timeline",
        source_ids=ids_in(rows, C.SOURCE_IDS),
        row_ids=rows["id"],
        caveat_ids=ids_in(rows, C.CAVEAT_IDS),
        height=max(200, max(26, 15 * lines + 6) * len(rows)),
    )


# The dashboard's own country: its colour is the first of the palette on any chart coloured by country.
HOME_COUNTRY = "JP"


def _country_rank(country_id: object) -> tuple[bool, str]:
    return (country_id != HOME_COUNTRY, str(country_id))
