"""The Companies chart: subsidy amounts by recipient, one segment per award, joint projects never split."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.conversion import ORIGINAL, Money
from aifunding.analysis.distinct import floats, ids_in_column, localized_by_value
from aifunding.analysis.metrics import localized
from aifunding.analysis.totals import split_by_basis_groups
from aifunding.analysis.view_awards import ViewAwards
from aifunding.figures.base import (
    AXIS_LABEL_WIDTH,
    BASIS_PATTERNS,
    PALETTE,
    Draft,
    amount_positions,
    base_layout,
    empty_figure,
    labelled_range,
    left_out_note,
    money_label,
    subtitle,
    text_colour_on,
    value_axis,
)
from aifunding.figures.lines import band_height, legend_room, wrap
from aifunding.figures.ranking import label_codes, ranked_sums
from aifunding.i18n import Translator
from aifunding.money.formatting import (
    basis_label,
    format_composition,
    format_partial_date,
)

# Recipients drawn as bars of their own; the rest are added up in one bar.
TOP_RECIPIENTS = 30
# Columns past those a recipient chart reads that it takes along rather than leaving out (see _read_columns).
SPARE_COLUMNS = 6
# Lines a recipient's name takes on the axis at most.
TICK_LINES = 3
# A bar of more awards than this draws one segment per round and basis, its awards added up: a hundred
# slivers of one bar cannot be read (nor hovered), and the round's colour is what tells them apart.
SEGMENTS_PER_BAR = 12
OTHERS_COLOUR = "#8a8f98"
# Columns a cut others bar's total is wrapped at: the plot of a chart drawn 640 pixels wide (a phone) holds them.
OTHERS_NOTE_WIDTH = 40


def _add_others_bar(fig: Draft, total: float, label: str, currency: str) -> None:
    """One grey bar adding up every recipient beyond the largest: their total, never a single award."""
    fig.add_bar(
        y=[label],
        x=[total],
        orientation="h",
        name=label,
        marker={"color": OTHERS_COLOUR},
        hovertemplate="<b>%{y}</b><br>%{x:,.0f} " + str(currency) + "<extra></extra>",
        showlegend=False,
    )


def _added_up(group: list[dict[str, Any]], crowded: set[str], value_column: str) -> list[dict[str, Any]]:
    """``group`` (one round and basis) with the awards of each ``crowded`` recipient added up into one segment.

    A recipient with a single award in the round keeps it as it is; an added-up segment keeps how many
    awards it holds and their dates, and has no purpose of its own. Segments stay in first-award order.
    """
    out: list[dict[str, Any]] = []
    first: dict[str, int] = {}  # where each crowded recipient's segment is
    held: dict[str, list[dict[str, Any]]] = {}
    for record in group:
        label = record["_label"]
        if label in crowded:
            if label in first:
                held[label].append(record)
                continue
            first[label], held[label] = len(out), [record]
        out.append(record)
    for label, records in held.items():
        if len(records) > 1:
            dates = sorted(r["announced"] for r in records if isinstance(r["announced"], str))
            out[first[label]] = {
                **records[0],
                "_value": sum(r["_value"] for r in records),
                value_column: sum((r[value_column] for r in records), Decimal(0)),
                "_purpose": None,
                "_awards": len(records),
                "_dates": (dates[0], dates[-1]) if dates else None,
            }
    return out


def _when(record: dict[str, Any], lang: str) -> str:
    """A segment's date in its hover: the award's, or how many awards an added-up segment holds and when."""
    if "_awards" not in record:
        return format_partial_date(record["announced"] if isinstance(record["announced"], str) else None, lang)
    t, dates = Translator(lang), record["_dates"]
    if dates is None:
        return t("chart.recipient.awards_undated", n=record["_awards"])
    first, last = (format_partial_date(d, lang) for d in dates)
    if first == last:
        return t("chart.recipient.awards_on", n=record["_awards"], date=first)
    return t("chart.recipient.awards_span", n=record["_awards"], first=first, last=last)


def _stems(stem: str, lang: str) -> tuple[str, ...]:
    return (stem, f"{stem}_en", f"{stem}_{lang}")


def recipient_columns(money: Money, lang: str, *, purposes: bool = True) -> set[str]:
    """The columns :func:`build_recipient_figure` reads (those of them a frame has), in ``lang``.

    Without ``purposes``, the awards' purposes are left out: the figure takes them from the awards in view
    for the awards it draws.
    """
    wanted = {money.value_column, money.currency_column, "id", "basis", "announced", C.SOURCE_IDS, C.CAVEAT_IDS}
    wanted.add(C.FLOATS.format(money.value_column))
    if money.converted:  # what could not be converted, and why, as the chart says under its title
        wanted.update(("amount", C.FX_NOTE))
    for stem in (C.PROJECT_LABEL, "programme_name", *(("purpose",) if purposes else ())):
        wanted.update(_stems(stem, lang))
    return wanted


def _purposes(drawn: pd.DataFrame, whole: ViewAwards | None, lang: str) -> pd.Series:
    """The drawn awards' purposes in ``lang``: their own column, or taken from ``whole`` by their row numbers."""
    if whole is None or any(name in drawn.columns for name in _stems("purpose", lang)):
        return localized(drawn, "purpose", lang)
    names = [name for name in whole.names if name in _stems("purpose", lang)]
    return localized(whole.at(names, drawn.index.to_numpy()), "purpose", lang)


def _read_columns(awards: pd.DataFrame, money: Money, lang: str) -> pd.DataFrame:
    """``awards`` with only the columns the chart reads: the rows it keeps are taken of a dozen columns, not all.

    A frame of a few more columns than those (a view's coded awards, which name the programme they belong to)
    is read as it is: taking a few columns more of the rows drawn costs less than a frame of the others.
    """
    wanted = recipient_columns(money, lang)
    read = [column for column in awards.columns if column in wanted]
    return awards if len(awards.columns) - len(read) <= SPARE_COLUMNS else awards[read]


def build_recipient_figure(
    awards: pd.DataFrame, *, money: Money = ORIGINAL, lang: str = "en", whole: ViewAwards | None = None
) -> go.Figure:
    """Stacked bars, one per recipient (a joint project is one recipient), one segment per award.

    Segments are coloured by the round or programme that made the award, and the legend entry
    names the basis ("2024-04-19 round · up to about"). ``awards`` may leave the purposes out when its rows
    are numbered by their place in ``whole``, the awards in view: the purposes of the awards drawn (a few
    hundred) are taken from there, not those of every award in view.
    """
    value_column, currency_column = money.value_column, money.currency_column
    t = Translator(lang)
    read = _read_columns(awards, money, lang)
    # The awards drawn (or added up) are ranked from a few columns read at their positions, as arrays:
    # the rows are taken, every column, only for the awards drawn as segments, never for the thousands
    # added up.
    positions = amount_positions(read, value_column, currency_column)
    if not len(positions):
        # Awards in view with no amount (none published, or none converted) are not "nothing matches": say so.
        empty = t("chart.recipient.no_amounts", n=len(awards)) if len(awards) else t("chart.empty")
        return empty_figure(empty, filename="awards-by-recipient")
    currency = read[currency_column].iloc[positions[0]]
    amounts = read[value_column].to_numpy(dtype=object)[positions]
    values = pd.Series(floats(read, value_column)[positions])
    labels = localized_by_value(read, C.PROJECT_LABEL, lang)
    # Each recipient once, as a code: ranked, compared and grouped as integers, named at the end.
    every_code, names, ranks = label_codes(labels)
    codes = every_code[positions]
    totals, ranked = ranked_sums(values, codes, names, ranks)
    all_recipients = len(totals)
    # A register of thousands of recipients draws its largest ones and adds the rest up in one bar, so
    # the chart stays readable and small whatever the data; the subtitle says how many are in it.
    others_label = None
    keys, segment = codes, np.ones(len(positions), dtype=bool)
    if all_recipients > TOP_RECIPIENTS:
        others_label = t("chart.recipient.others", n=all_recipients - TOP_RECIPIENTS)
        # Compared with the few recipients kept, not the thousands added up: the kept ones are codes 0..,
        # everyone else (no name, and a recipient named as they are, as grouping by name would) the last.
        top = slice(all_recipients - TOP_RECIPIENTS, None)
        largest = [
            (name, key) for name, key in zip(totals.index[top], ranked[top], strict=True) if name != others_label
        ]
        # Each award's bar: its recipient's place among the largest, or the others' bar (looked up among the few
        # codes kept, not through a table of every name the package holds).
        largest_codes = np.array([key for _, key in largest], dtype=codes.dtype)
        keys = np.full(len(codes), len(largest))
        if len(largest_codes):
            by_code = np.argsort(largest_codes)
            found = by_code[np.minimum(np.searchsorted(largest_codes, codes, sorter=by_code), len(largest) - 1)]
            keys = np.where(largest_codes[found] == codes, found, keys)
        names = pd.Index([*(name for name, _ in largest), others_label], dtype=object)
        segment = keys < len(largest)
        totals, _ = ranked_sums(values, keys, names)
        # The bar of everyone else sits at the bottom, below the largest recipients, whatever its length.
        others = totals.index == others_label  # a mask, not drop(): a label lookup per call cost more than the bars
        totals = totals.iloc[np.argsort(~others, kind="stable")]
    order = list(totals.index)
    fig = Draft()
    # Plain records from here, only of the awards drawn as segments (the others are one bar, drawn
    # from their sum): a handful of awards is faster grouped in Python than through pandas.
    drawn = read.take(positions[segment])
    drawn_records: list[dict[str, Any]] = [
        dict(zip(("_label", "_value", "_programme", "_purpose", value_column, "basis", "announced"), r, strict=True))
        for r in zip(
            labels.take(positions[segment]).tolist(),
            values[segment].tolist(),
            localized(drawn, "programme_name", lang).tolist(),
            _purposes(drawn, whole, lang).tolist(),
            drawn[value_column].tolist(),
            drawn["basis"].tolist(),
            drawn["announced"].tolist(),
            strict=True,
        )
    ]
    # One colour per programme, as many as the palette holds: past that the smallest programmes share
    # one legend entry (a register of hundreds of rounds would otherwise draw hundreds of traces).
    by_programme: dict[str, float] = {}
    for record in drawn_records:
        by_programme[record["_programme"]] = by_programme.get(record["_programme"], 0.0) + record["_value"]
    if len(by_programme) > len(PALETTE):
        kept = set(sorted(by_programme, key=lambda name: -by_programme[name])[: len(PALETTE) - 1])
        other_programmes = t("chart.recipient.other_programmes")
        drawn_records = [r if r["_programme"] in kept else {**r, "_programme": other_programmes} for r in drawn_records]
    traces: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in drawn_records:
        traces.setdefault((record["_programme"], record["basis"]), []).append(record)
    # Awards per recipient drawn: every award of a recipient is a segment, or none is.
    segments = Counter(record["_label"] for record in drawn_records)
    # Each round and basis its own colour while the palette holds them all. Past that, one colour per
    # programme (at most as many as the palette holds are drawn, so none shares one) with the basis as a
    # texture over it: the palette never repeats, and the legend names both.
    textured = len(traces) > len(PALETTE)
    colours: dict[Any, str] = {}
    for programme, basis in traces:
        colours.setdefault(programme if textured else (programme, basis), PALETTE[len(colours) % len(PALETTE)])
    crowded = {label for label, n in segments.items() if n > SEGMENTS_PER_BAR}
    for (programme, basis), group in traces.items():
        colour = colours[programme] if textured else colours[(programme, basis)]
        pattern = {"shape": BASIS_PATTERNS.get(basis, ""), "fillmode": "overlay"} if textured else None
        group = _added_up(group, crowded, value_column) if crowded else group
        fig.add_bar(
            y=[r["_label"] for r in group],
            x=[r["_value"] for r in group],
            orientation="h",
            name=f"{programme} · {basis_label(basis, lang)}",
            legendgroup=programme,
            # A bar of several awards writes each one inside its segment where it fits (the total
            # stands at the bar's end); a segment too narrow for its text stays plain.
            text=[
                money_label(r[value_column], currency, basis, lang) if segments[r["_label"]] > 1 else "" for r in group
            ],
            textposition="inside",
            insidetextanchor="middle",
            textangle=0,  # level or not at all: plotly turned a long amount on its side to fit a narrow segment
            marker={"color": colour, "pattern": pattern} if pattern else {"color": colour},
            textfont={"size": 11, "color": text_colour_on(colour)},
            customdata=[
                (
                    programme,
                    money_label(r[value_column], currency, basis, lang),
                    _when(r, lang),
                    r["_purpose"],
                )
                for r in group
            ],
            hovertemplate="<b>%{y}</b><br>%{customdata[1]}<br>%{customdata[0]}, %{customdata[2]}"
            "<br>%{customdata[3]}<extra></extra>",
        )
    if others_label is not None:
        _add_others_bar(fig, float(values[~segment].sum()), others_label, currency)
    top = order[-1]
    # A total is written by kind of basis ("¥0.6B + up to about ¥56.9B"): a ceiling never reads as money paid.
    basis_codes, bases = pd.factorize(read["basis"])
    named = keys >= 0  # a row with no name (code -1) is in no group
    composition = {
        names[key]: format_composition({k: v.quantize(Decimal(1)) for k, v in sums.items()}, currency, locale=lang)
        for key, sums in split_by_basis_groups(
            keys[named],
            amounts[named],
            # Coded as the bases found (code -1: none); plain texts, as a categorical's own categories may be more.
            pd.Categorical.from_codes(basis_codes[positions[named]], categories=pd.Index(list(bases), dtype=object)),
            floats=values.to_numpy()[named],
        ).items()
    }
    top_total = composition[top]
    title = t("chart.recipient.title", name=top, amount=top_total, n=segments[top])

    # At most three lines (a joint project of four institutes keeps its start, then "…" and its own end; its
    # bar's hover and the table name them all), in bands tall enough that two long neighbours never meet.
    ticks = [wrap(str(label), AXIS_LABEL_WIDTH, max_lines=TICK_LINES) for label in order]
    # Two names cut alike (same start, same end) would be two bars named the same: those are written whole.
    alike = {tick for tick, n in Counter(ticks).items() if n > 1}
    ticks = [
        wrap(str(label), AXIS_LABEL_WIDTH) if tick in alike else tick for label, tick in zip(order, ticks, strict=True)
    ]

    # The others bar adds up thousands of recipients and can be far longer than any drawn one: the axis
    # then fits the recipients drawn (each bar readable), the others bar is cut at its end, and its
    # total is written there, saying so.
    # Cut only when the bar passes the end of an axis fitted to the drawn ones (room for their totals
    # included); otherwise the axis fits every bar, as before. The names beside the plot narrow it (ticks).
    def axis_for(bars: pd.Series) -> dict[str, Any]:
        ends = ((float(v), composition[str(k)]) for k, v in bars.items())
        return labelled_range(float(bars.max()), ends, names=ticks)

    on_axis = totals[totals.index != others_label] if others_label is not None else totals
    x_range = axis_for(on_axis)
    cut = others_label is not None and bool(x_range) and float(totals[others_label]) > x_range["range"][1]
    if not cut:
        on_axis = totals
        x_range = axis_for(on_axis)
    # Each recipient's total at the end of its bar, worded with its basis when the bar has one.
    for label, total in totals.items():
        if cut and label == others_label:
            fig.add_annotation(
                x=x_range["range"][1],
                y=label,
                # Wrapped: written leftwards from the axis end, one long line ran over the bar's name on a phone.
                text=wrap(t("chart.recipient.others_cut", amount=composition[str(label)]), OTHERS_NOTE_WIDTH),
                showarrow=False,
                xanchor="right",
                xshift=-4,
                font={"size": 12, "color": text_colour_on(OTHERS_COLOUR)},
            )
            continue
        fig.add_annotation(
            x=total,
            y=label,
            text=composition[str(label)],
            showarrow=False,
            xanchor="left",
            xshift=4,
            font={"size": 12},
        )
    fig.update_layout(
        barmode="stack",
        uniformtext={"minsize": 10, "mode": "hide"},
        # Long names (a joint project of three institutes) wrap, so they never squeeze the bars and
        # the totals written at their ends off the plot.
        yaxis={
            "categoryorder": "array",
            "categoryarray": order,
            "title": None,
            "tickvals": order,
            "ticktext": ticks,
        },
        xaxis={
            "title": t("chart.recipient.axis_grouped" if crowded else "chart.recipient.axis", currency=currency),
            **value_axis(float(on_axis.max()), lang),
            **x_range,
        },
    )
    # Each total by kind of basis, as its bar writes it: one number would add a ceiling to money paid.
    alt = f"{title}. " + "; ".join(
        f"{label}: {composition[str(label)]}"
        for label in totals.sort_values(ascending=False).index
        if label != others_label
    )
    capped = None
    if others_label is not None:
        rest = all_recipients - TOP_RECIPIENTS
        capped = t("chart.recipient.capped", shown=TOP_RECIPIENTS, total=f"{all_recipients:,}", rest=f"{rest:,}")
        alt += f". {capped}: {others_label}, {composition[others_label]}"
    return base_layout(
        fig,
        title=title,
        subtitle=subtitle(
            t("companies.chart_subtitle"),
            capped,
            t("chart.recipient.grouped", n=SEGMENTS_PER_BAR) if crowded else None,
            left_out_note(awards, drawn, value_column, currency_column, lang=lang),
        ),
        alt=alt,
        filename="awards-by-recipient",
        source_ids=ids_in_column(read, C.SOURCE_IDS, positions),
        # Every row is drawn (the others inside their one bar); past the cap the ids are left out of
        # the figure, whose spec must stay small, and "all rows" is what the table behind it shows.
        # Past its cap, "Show data" lists every award drawn (the others bar's too), not the other currencies' too.
        row_ids=read["id"].take(positions) if others_label is None else None,
        amount_rows=True,
        caveat_ids=ids_in_column(read, C.CAVEAT_IDS, positions),
        height=max(160, band_height(ticks) * len(order)) + legend_room(len(traces), len({p for p, _ in traces})),
    )


# --- Programmes ------------------------------------------------------------------------------------------
