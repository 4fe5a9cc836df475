"""Pure chart builders: frames in, plotly figures out.

Every builder takes the rows it draws (already filtered and, when asked, converted) and returns a
``go.Figure`` whose title states the finding, whose hover and legend carry the amount basis, and
whose ``layout.meta`` holds a text alternative (``alt``), a PNG file name (``filename``) and the
ids of the sources and caveats behind it. Builders never call streamlit; styling goes through
:func:`base_layout` and the colour-blind-safe :data:`PALETTE`.
"""

from __future__ import annotations

import datetime
import math
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.adding import HOME_CURRENCY, split_by_basis
from aifunding.analysis.metrics import localized
from aifunding.data.dates import partial_bounds
from aifunding.data.models import PLAN_BASES
from aifunding.i18n import DEFAULT_LANGUAGE, Translator
from aifunding.money.formatting import (
    basis_label,
    format_compact_number,
    format_composition,
    format_money,
    format_partial_date,
    format_share,
)

# Okabe-Ito: distinguishable with every common colour-vision deficiency, and in greyscale by
# lightness. Yellow is last because it is weakest against a white background.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (#RRGGBB), by WCAG relative luminance."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(background[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05: pick the larger.
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#000000"


PLAN_PATTERN = "/"  # hatched bars mark targets and plans, so they never read as committed money
# Noto Sans JP is the web font's name, Noto Sans CJK JP the one Linux distributions install.
FONT_FAMILY = "Source Sans Pro, Noto Sans JP, Noto Sans CJK JP, Arial, sans-serif"
TEXT_COLOUR = "#262730"
MUTED_COLOUR = "#5f6368"


def slug(text: str) -> str:
    """A file-name-safe slug: "Up to ¥72.5B" -> "up-to-72-5b"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "chart"


TITLE_WIDTH = 95  # characters per title line; plotly titles never wrap by themselves
SUBTITLE_WIDTH = 125  # subtitles are set smaller, so more fit on a line


# Japanese line-breaking rules (kinsoku): closing punctuation never starts a line, an opening
# bracket never ends one, and a figure keeps its units (1兆円, 2026年7月, 72%).
NO_LINE_START = frozenset("、。，．・：；？！）」』】〕〉》ー〜％%")
NO_LINE_END = frozenset("（「『【〔〈《")
NUMBER_UNITS = frozenset("万億兆京円件年月日度位")


def display_width(text: str) -> int:
    """Width in columns: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _glued(before: str, char: str) -> bool:
    """Whether no line may break between ``before`` and ``char``."""
    in_figure = before.isdigit() or before in NUMBER_UNITS
    return (
        (display_width(before) == 1 and display_width(char) == 1)  # a word of narrow characters
        or char in NO_LINE_START
        or before in NO_LINE_END
        or (in_figure and (char.isdigit() or char in NUMBER_UNITS))
    )


def wrap(text: str, width: int = TITLE_WIDTH) -> str:
    """Break a long title into lines joined by <br>, so it is never cut off at the chart's edge.

    ``width`` is in columns, a Japanese character taking two. English breaks at spaces. Japanese
    has no spaces between words, so it may also break between two characters, except where
    :func:`_glued` forbids it.
    """
    if display_width(text) == len(text):
        return "<br>".join(textwrap.wrap(text, width)) if len(text) > width else text
    if display_width(text) <= width:
        return text
    tokens: list[str] = []
    for piece in re.findall(r"\s+|\S", text):
        if tokens and not piece.isspace() and not tokens[-1].isspace() and _glued(tokens[-1][-1], piece):
            tokens[-1] += piece
        else:
            tokens.append(piece)
    lines, line = [], ""
    for token in tokens:
        if line and not token.isspace() and display_width(line + token) > width:
            lines.append(line.rstrip())
            line = ""
        if line or not token.isspace():
            line += token
    lines.append(line.rstrip())
    return "<br>".join(lines)


def value_axis(top: float, lang: str) -> dict[str, Any]:
    """Ticks for an amount axis in the language's own number units, up to ``top``.

    Plotly's SI suffixes (k, M, B, T) are English, so other languages get explicit ticks at round
    values, written as their amounts are (1,000億, 2兆); English keeps plotly's own.
    """
    if lang == DEFAULT_LANGUAGE or not top > 0:
        return {}
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [i * step for i in range(int(top // step) + 1)]
    return {"tickvals": ticks, "ticktext": [format_compact_number(Decimal(repr(v)), lang) for v in ticks]}


# Room to the right of the longest bar for its value, as a share of the axis.
LABEL_ROOM = 1.28


def value_labels(texts: Iterable[str]) -> dict[str, Any]:
    """Bar settings that write each bar's value at its end, so no figure needs a hover to be read."""
    return {"text": list(texts), "textposition": "outside", "cliponaxis": False, "textfont": {"size": 12}}


# For room made from the labels themselves: a narrow plot's width in pixels, and a label character's.
NARROW_PLOT_PX = 560
LABEL_CHAR_PX = 7


def labelled_range(top: float, labels: Iterable[tuple[float, str]] = ()) -> dict[str, Any]:
    """An amount axis from 0 with room after each bar for the value written at its end.

    ``labels`` (bar value, text) make room for long texts ("¥600M + up to about ¥56.9B") on a
    narrow plot; the axis is never shorter than ``top`` times :data:`LABEL_ROOM`.
    """
    if top <= 0:
        return {}
    end = top * LABEL_ROOM
    for value, text in labels:
        share = min(0.6, len(text) * LABEL_CHAR_PX / NARROW_PLOT_PX)
        end = max(end, value / (1 - share))
    return {"range": [0, end]}


def _merge(into: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into ``into`` (nested dicts merge, anything else replaces)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


class Draft:
    """A figure being built: traces and layout kept as plain dicts, validated once at the end.

    It answers the few ``go.Figure`` calls the builders use (``add_bar``, ``add_scatter``,
    ``add_annotation``, ``update_layout``, ``update_xaxes``, ``update_yaxes``). Building a
    ``go.Figure`` step by step re-validates it at every call, which made up most of a filter
    rerun; :func:`base_layout` turns the draft into a figure in one construction.
    """

    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []
        self.layout: dict[str, Any] = {}

    def add_bar(self, **trace: Any) -> Draft:
        self.data.append({"type": "bar", **trace})
        return self

    def add_scatter(self, **trace: Any) -> Draft:
        self.data.append({"type": "scatter", **trace})
        return self

    def add_annotation(self, **annotation: Any) -> Draft:
        self.layout.setdefault("annotations", []).append(annotation)
        return self

    def update_layout(self, layout: dict[str, Any] | None = None, **changes: Any) -> Draft:
        _merge(self.layout, {**(layout or {}), **changes})
        return self

    def update_xaxes(self, **changes: Any) -> Draft:
        return self.update_layout(xaxis=changes)

    def update_yaxes(self, **changes: Any) -> Draft:
        return self.update_layout(yaxis=changes)


def base_layout(
    fig: Draft,
    *,
    title: str,
    subtitle: str | None = None,
    alt: str,
    filename: str,
    source_ids: Iterable[str] = (),
    caveat_ids: Iterable[str] = (),
    row_ids: Iterable[str] = (),
    height: int | None = None,
) -> go.Figure:
    """Apply the shared look and attach the metadata every chart carries."""
    title = wrap(title)
    subtitle = "<br>".join(wrap(part, SUBTITLE_WIDTH) for part in subtitle.split("<br>")) if subtitle else subtitle
    subtitle_lines = (subtitle.count("<br>") + 1 if subtitle else 0) + title.count("<br>")
    title_text = (
        title if not subtitle else f"{title}<br><span style='font-size:13px;color:{MUTED_COLOUR}'>{subtitle}</span>"
    )
    top, bottom = 64 + 26 * subtitle_lines, 100
    layout = {
        # Hung from the top edge: plotly centres a title in the top margin by its first line, so a
        # title of several lines would otherwise run down into the plot.
        "title": {
            "text": title_text,
            "x": 0,
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 16},
            "font": {"size": 18, "color": TEXT_COLOUR},
        },
        "font": {"family": FONT_FAMILY, "size": 13, "color": TEXT_COLOUR},
        "colorway": list(PALETTE),
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        # Room for the title and each subtitle line above; the legend sits at the very bottom of the
        # figure (container coordinates), under the axis title, whatever the plot's height.
        "margin": {"l": 10, "r": 20, "t": top, "b": bottom},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 0.01, "yref": "container", "x": 0, "title": None},
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        "xaxis": {"gridcolor": "#e6e6e6", "zerolinecolor": "#bdbdbd", "automargin": True},
        "yaxis": {"gridcolor": "#e6e6e6", "automargin": True},
        "meta": {
            "alt": alt,
            "filename": slug(filename),
            "source_ids": sorted(set(source_ids)),
            "caveat_ids": sorted(set(caveat_ids)),
            "row_ids": [str(i) for i in dict.fromkeys(row_ids)],
        },
    }
    if height:
        # ``height`` is the plotting area; the margins for titles and legend come on top of it.
        layout["height"] = height + top + bottom
    # The shared look wins over a builder's own settings where both set something, as it always has.
    merged = _merge(fig.layout, layout)
    data = [_text_safe(trace, TRACE_TEXT_KEYS) for trace in fig.data]
    return go.Figure({"data": data, "layout": _text_safe(merged, LAYOUT_TEXT_KEYS)})


# Plotly reads a few HTML tags in every text it draws (titles, ticks, legends, hover, annotations),
# links among them. Builders use <br>, <b>, <extra> and one muted <span>; every other "<" comes from
# data (names, purposes) and is turned into "&lt;", which plotly shows as "<", so a name holding
# <a href=...> or <img> is drawn as the text it is.
_OWN_TAG = re.compile(r"<(?!(?:br|/?b|/?extra|/span)>|span style='font-size:13px;color:#[0-9a-fA-F]{6}'>)")
TRACE_TEXT_KEYS = frozenset({"name", "x", "y", "text", "hovertext", "customdata", "labels", "legendgrouptitle"})
LAYOUT_TEXT_KEYS = frozenset({"title", "text", "annotations", "xaxis", "yaxis", "categoryarray", "ticktext"})


def chart_text(text: str) -> str:
    """``text`` with every "<" that is not one of the builders' own tags shown as itself."""
    return _OWN_TAG.sub("&lt;", text)


def _text_safe(value: Any, keys: frozenset[str], inside: bool = False) -> Any:
    """``value`` with :func:`chart_text` applied to every string under one of ``keys``."""
    if isinstance(value, str):
        return chart_text(value) if inside else value
    if isinstance(value, dict):
        return {k: _text_safe(v, keys, inside or k in keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_text_safe(v, keys, inside) for v in value]
    dtype = getattr(value, "dtype", None)
    if inside and dtype is not None and dtype.kind in "OUS":  # text in an array; numeric arrays stay typed
        return _text_safe(value.tolist(), keys, inside)
    return value


def _ids(frame: pd.DataFrame, column: str) -> set[str]:
    return {i for ids in frame.get(column, pd.Series(dtype=object)) for i in (ids or ())}


def _float(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


def money_label(value: Any, currency: Any, basis: Any, lang: str) -> str:
    """The amount with its basis in words, or the "not published" wording."""
    if value is None or not isinstance(currency, str) or (isinstance(value, float) and pd.isna(value)):
        return Translator(lang)("common.no_amount")
    return format_money(Decimal(value), currency, locale=lang, basis=basis if isinstance(basis, str) else None)


def money_labels(frame: pd.DataFrame, value_column: str, currency_column: str, lang: str) -> list[str]:
    """:func:`money_label` for every row of ``frame`` (its ``basis`` column gives each figure's wording)."""
    return [
        money_label(v, c, b, lang)
        for v, c, b in zip(frame[value_column], frame[currency_column], frame["basis"], strict=True)
    ]


def amount_frame(frame: pd.DataFrame, value_column: str, currency_column: str) -> pd.DataFrame:
    """Rows with an amount in ``value_column``, all in one currency.

    Charts never add or compare amounts in different currencies: the home currency (JPY, this
    dashboard's focus) is drawn when present, otherwise the most common one. :func:`left_out_note`
    tells the reader what this left out.
    """
    with_value = frame[frame[value_column].map(lambda v: _float(v) is not None).astype(bool)]
    if with_value.empty:
        return with_value
    counts = with_value[currency_column].value_counts()
    main = HOME_CURRENCY if HOME_CURRENCY in counts.index else counts.index[0]
    return with_value[with_value[currency_column] == main]


def left_out_note(
    frame: pd.DataFrame, drawn: pd.DataFrame, value_column: str, currency_column: str, *, lang: str = "en"
) -> str | None:
    """A sentence naming figures in other currencies that a one-currency chart could not draw."""
    with_value = frame[frame[value_column].map(lambda v: _float(v) is not None).astype(bool)]
    if drawn.empty:
        return None
    others = with_value[with_value[currency_column] != drawn[currency_column].iloc[0]]
    if others.empty:
        return None
    t = Translator(lang)
    return t(
        "chart.left_out",
        currency=drawn[currency_column].iloc[0],
        count=len(others),
        currencies=t("sentence.values").join(sorted(set(others[currency_column]))),
    )


def _subtitle(*parts: str | None) -> str:
    return "<br>".join(p for p in parts if p)


def empty_figure(message: str, *, filename: str) -> go.Figure:
    """A blank figure that says why there is nothing to draw."""
    fig = Draft()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 15, "color": MUTED_COLOUR},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, title=message, alt=message, filename=filename, height=100)


# --- Companies -------------------------------------------------------------------------------------------


def build_recipient_figure(
    awards: pd.DataFrame, *, value_column: str = "amount", currency_column: str = "currency", lang: str = "en"
) -> go.Figure:
    """Stacked bars, one per recipient (a joint project is one recipient), one segment per award.

    Segments are coloured by the round or programme that made the award, and the legend entry
    names the basis ("2024-04-19 round · up to about").
    """
    t = Translator(lang)
    rows = amount_frame(awards, value_column, currency_column)
    if rows.empty:
        return empty_figure(t("common.empty"), filename="awards-by-recipient")
    currency = rows[currency_column].iloc[0]
    rows = rows.assign(
        _value=rows[value_column].map(float),
        _label=localized(rows, C.PROJECT_LABEL, lang),
        _programme=localized(rows, "programme_name", lang),
        _purpose=localized(rows, "purpose", lang),
    )
    totals = rows.groupby("_label")["_value"].sum().sort_values()
    order = list(totals.index)
    fig = Draft()
    # Plain records from here: a handful of awards is faster grouped in Python than through pandas.
    columns = ["_label", "_value", "_programme", "_purpose", value_column, "basis", "announced"]
    records = rows[columns].to_dict("records")
    traces: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        traces.setdefault((record["_programme"], record["basis"]), []).append(record)
    segments = rows["_label"].value_counts()
    for index, ((programme, basis), group) in enumerate(traces.items()):
        colour = PALETTE[index % len(PALETTE)]
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
            marker={"color": colour},
            textfont={"size": 11, "color": text_colour_on(colour)},
            customdata=[
                (
                    programme,
                    money_label(r[value_column], currency, basis, lang),
                    format_partial_date(r["announced"] if isinstance(r["announced"], str) else None, lang),
                    r["_purpose"],
                )
                for r in group
            ],
            hovertemplate="<b>%{y}</b><br>%{customdata[1]}<br>%{customdata[0]}, %{customdata[2]}"
            "<br>%{customdata[3]}<extra></extra>",
        )
    top = order[-1]
    top_rows = rows[rows["_label"] == top]
    # A total is written by kind of basis ("¥0.6B + up to about ¥56.9B"): a ceiling never reads as money paid.
    composition = {
        label: format_composition(
            {
                k: v.quantize(Decimal(1))
                for k, v in split_by_basis(zip(group[value_column], group["basis"], strict=True)).items()
            },
            currency,
            locale=lang,
        )
        for label, group in rows.groupby("_label", sort=False)
    }
    top_total = composition[top]
    title = t("chart.recipient.title", name=top, amount=top_total, n=len(top_rows))
    # Each recipient's total at the end of its bar, worded with its basis when the bar has one.
    for label, total in totals.items():
        fig.add_annotation(
            x=total,
            y=label,
            text=composition[label],
            showarrow=False,
            xanchor="left",
            xshift=4,
            font={"size": 12},
        )
    fig.update_layout(
        barmode="stack",
        uniformtext={"minsize": 10, "mode": "hide"},
        yaxis={"categoryorder": "array", "categoryarray": order, "title": None},
        xaxis={
            "title": t("chart.recipient.axis", currency=currency),
            **value_axis(float(totals.max()), lang),
            **labelled_range(float(totals.max()), ((float(v), composition[k]) for k, v in totals.items())),
        },
    )
    alt = f"{title}. " + "; ".join(
        f"{label}: {format_money(Decimal(str(v)).quantize(Decimal(1)), currency, locale=lang)}"
        for label, v in totals.sort_values(ascending=False).items()
    )
    return base_layout(
        fig,
        title=title,
        subtitle=_subtitle(
            t("companies.chart_subtitle"), left_out_note(awards, rows, value_column, currency_column, lang=lang)
        ),
        alt=alt,
        filename="awards-by-recipient",
        source_ids=_ids(rows, C.SOURCE_IDS),
        row_ids=rows["id"],
        caveat_ids=_ids(rows, C.CAVEAT_IDS),
        height=max(160, 40 * len(order)),
    )


# --- Programmes ------------------------------------------------------------------------------------------


def build_programme_totals_figure(
    programmes: pd.DataFrame, *, value_column: str = "amount", currency_column: str = "currency", lang: str = "en"
) -> go.Figure:
    """Declared amount per programme beside the sum of its named awards; targets hatched."""
    t = Translator(lang)
    rows = amount_frame(programmes, value_column, currency_column)
    if rows.empty:
        return empty_figure(t("common.empty"), filename="programme-totals")
    currency = rows[currency_column].iloc[0]
    rows = rows.assign(_value=rows[value_column].map(float), _name=localized(rows, "name", lang)).sort_values("_value")
    # A programme that is not active says so beside its basis: "Ten-year goal (target, planned)".
    labels = [
        t("chart.programme.label", name=name, basis=basis_label(b, lang))
        if s == "active"
        else t("chart.programme.label_status", name=name, basis=basis_label(b, lang), status=t(f"programme_status.{s}"))
        for name, b, s in zip(rows["_name"], rows["basis"], rows["status"], strict=True)
    ]
    is_plan = rows["basis"].isin([b.value for b in PLAN_BASES])
    allocated = rows[C.ALLOCATED].map(_float) if not _converted(value_column) else _allocated_converted(rows)
    declared_labels = money_labels(rows, value_column, currency_column, lang)
    # The awards' sum written by kind of basis ("up to about ¥72.53B"), never as exact money.
    allocated_labels = [
        "" if pd.isna(v) else format_composition(_scaled_parts(parts, v), currency, locale=lang)
        for v, parts in zip(allocated, rows.get(C.ALLOCATED_BY_BASIS, pd.Series(None, index=rows.index)), strict=True)
    ]
    dates = [format_partial_date(d if isinstance(d, str) else None, lang) for d in rows["announced"]]
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
            customdata=[(declared_labels[i], dates[i], rows[C.N_AWARDS].iloc[i]) for i in pick],
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
                hovertemplate="<b>%{y}</b><br>"
                + t("chart.hover.named_sum", amount="%{x:,.0f} " + str(currency))
                + "<extra></extra>",
                **axes,
                **legend,
            )
    # The title names the largest money committed: a plan or target is drawn (hatched) but never leads.
    committed = rows[~rows["basis"].isin([b.value for b in PLAN_BASES])]
    largest = committed.iloc[-1] if len(committed) else rows.iloc[-1]
    title = t(
        "chart.programme.title" if len(committed) else "chart.programme.title_plan",
        name=largest["_name"],
        amount=money_label(largest[value_column], currency, largest["basis"], lang),
    )
    fig.update_layout(barmode="group")
    widest = pd.concat([rows["_value"], allocated.astype(float)], axis=1).max(axis=1)
    plot_height = plan_panels(fig, labels, is_plan, widest, currency=currency, lang=lang, row_px=44)
    alt = f"{title}. " + "; ".join(
        f"{label}: {money_label(v, currency, None, lang)}" for label, v in zip(labels, rows[value_column], strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=_subtitle(
            t("programmes.declared_vs_allocated"),
            left_out_note(programmes, rows, value_column, currency_column, lang=lang),
        ),
        alt=alt,
        filename="programme-totals",
        source_ids=_ids(rows, C.SOURCE_IDS),
        row_ids=rows["id"],
        caveat_ids=_ids(rows, C.CAVEAT_IDS),
        height=max(160, plot_height),
    )


def has_plan_panel(is_plan: pd.Series) -> bool:
    """True when targets and plans get a panel of their own (there is committed money beside them)."""
    return bool(is_plan.any() and (~is_plan).any())


def plan_panels(
    fig: Draft,
    labels: Sequence[str],
    is_plan: pd.Series,
    values: pd.Series,
    *,
    currency: Any,
    lang: str,
    row_px: int = 30,
) -> int:
    """Committed money above, targets and plans below on their own scale; returns the plot's height.

    One €200bn goal on the committed money's axis would flatten every other bar to a sliver, so plans
    get the second axes (``x2``/``y2``) with an axis title that says the scale is their own. Traces
    choose their panel with ``xaxis``/``yaxis``; rows keep their height in both panels.
    """
    t = Translator(lang)
    split = has_plan_panel(is_plan)
    committed_top = float(values[~is_plan].max() if split else values.max())
    fig.update_layout(
        yaxis={"title": None, "categoryorder": "array", "categoryarray": list(labels)},
        xaxis={"title": str(currency), **value_axis(committed_top, lang), **labelled_range(committed_top)},
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
        },
        xaxis={"anchor": "y"},
        yaxis2={
            "domain": [0, plan_rows / plot_height],
            "title": None,
            "categoryorder": "array",
            "categoryarray": [lab for lab, p in zip(labels, is_plan, strict=True) if p],
            "gridcolor": "#e6e6e6",
            "automargin": True,
        },
        xaxis2={
            "title": t("chart.world.plan_axis", currency=currency),
            "anchor": "y2",
            "gridcolor": "#e6e6e6",
            "automargin": True,
            **value_axis(plan_top, lang),
            **labelled_range(plan_top),
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


def _converted(value_column: str) -> bool:
    return value_column == C.AMOUNT_CONVERTED


def _allocated_converted(rows: pd.DataFrame) -> pd.Series:
    """Allocation in the display currency, scaled by the programme's own conversion rate."""
    return pd.Series(
        [
            float(a) * float(r) if a is not None and not pd.isna(a) and r is not None and not pd.isna(r) else None
            for a, r in zip(rows[C.ALLOCATED], rows[C.FX_RATE], strict=True)
        ],
        index=rows.index,
    )


def _midpoint(value: str) -> datetime.date:
    first, last = partial_bounds(value)
    return first + (last - first) / 2


def build_timeline_figure(
    programmes: pd.DataFrame, *, value_column: str = "amount", currency_column: str = "currency", lang: str = "en"
) -> go.Figure:
    """Announcements over time: one marker per programme or round, grouped by country.

    A month- or year-precise date is drawn at the middle of its period with a bar spanning it,
    so it never looks more precise than it was published.
    """
    t = Translator(lang)
    rows = programmes[programmes["announced"].map(lambda v: isinstance(v, str)).astype(bool)]
    if rows.empty:
        return empty_figure(t("common.empty"), filename="announcement-timeline")
    rows = rows.assign(
        _mid=rows["announced"].map(_midpoint),
        _name=localized(rows, "name", lang),
        _country=localized(rows, "country_name", lang),
    ).sort_values("_mid")
    fig = Draft()
    for i, (country, group) in enumerate(rows.groupby("_country", sort=False)):
        spans = group["announced"].map(partial_bounds)
        half_width_ms = [((last - first).days + 1) * 86_400_000 / 2 for first, last in spans]
        fig.add_scatter(
            x=group["_mid"],
            y=group["_name"],
            mode="markers",
            name=str(country),
            marker={"size": 11, "color": PALETTE[i % len(PALETTE)], "symbol": "circle"},
            error_x={"type": "data", "array": half_width_ms, "visible": True, "thickness": 1.5, "width": 0},
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
    fig.update_layout(
        yaxis={"title": None, "categoryorder": "array", "categoryarray": list(rows["_name"])},
        xaxis={"title": None, "type": "date"},
    )
    alt = f"{title}. " + "; ".join(
        f"{n}: {format_partial_date(d, lang)}" for n, d in zip(rows["_name"], rows["announced"], strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=t("programmes.timeline"),
        alt=alt,
        filename="announcement-timeline",
        source_ids=_ids(rows, C.SOURCE_IDS),
        row_ids=rows["id"],
        caveat_ids=_ids(rows, C.CAVEAT_IDS),
        height=max(200, 26 * len(rows)),
    )


def build_annualised_figure(
    programmes: pd.DataFrame, *, value_column: str = "amount", currency_column: str = "currency", lang: str = "en"
) -> go.Figure:
    """Amount per year over each programme's published period (targets hatched)."""
    t = Translator(lang)
    with_period = programmes[programmes[C.ANNUALISED].map(lambda v: _float(v) is not None).astype(bool)]
    rows = amount_frame(with_period, value_column, currency_column)
    if rows.empty:
        return empty_figure(t("common.empty"), filename="annualised")
    currency = rows[currency_column].iloc[0]
    years = rows.apply(lambda r: Decimal(r["amount"]) / Decimal(r[C.ANNUALISED]), axis=1)
    per_year = [float(v) / float(y) for v, y in zip(rows[value_column], years, strict=True)]
    rows = rows.assign(
        _per_year=per_year, _years=[int(y) for y in years], _name=localized(rows, "name", lang)
    ).sort_values("_per_year")
    is_plan = rows["basis"].isin([b.value for b in PLAN_BASES])
    labels = [t("chart.annualised.label", name=n, n=int(y)) for n, y in zip(rows["_name"], rows["_years"], strict=True)]
    fig = Draft()
    fig.add_bar(
        y=labels,
        x=rows["_per_year"],
        orientation="h",
        name=t("chart.annualised.trace"),
        marker={"color": PALETTE[2], "pattern": {"shape": [PLAN_PATTERN if p else "" for p in is_plan]}},
        **value_labels(format_money(Decimal(str(round(v))), currency, locale=lang) for v in rows["_per_year"]),
        customdata=list(
            zip(
                money_labels(rows, value_column, currency_column, lang),
                [format_money(Decimal(str(round(v))), currency, locale=lang) for v in rows["_per_year"]],
                strict=True,
            )
        ),
        hovertemplate="<b>%{y}</b><br>"
        + t("chart.hover.per_year", amount="%{customdata[1]}")
        + "<br>"
        + t("chart.hover.of_total", amount="%{customdata[0]}")
        + "<extra></extra>",
    )
    top = rows.iloc[-1]
    title = t(
        "chart.annualised.title_target" if top["basis"] in {b.value for b in PLAN_BASES} else "chart.annualised.title",
        name=top["_name"],
        amount=format_money(Decimal(str(round(top["_per_year"]))), currency, locale=lang),
    )

    fig.update_layout(
        yaxis={"title": None},
        xaxis={
            "title": t("chart.annualised.axis", currency=currency),
            **value_axis(rows["_per_year"].max(), lang),
            **labelled_range(rows["_per_year"].max()),
        },
    )
    alt = f"{title}. " + "; ".join(
        f"{label}: {t('chart.hover.per_year', amount=format_money(Decimal(str(round(v))), currency, locale=lang))}"
        for label, v in zip(labels, rows["_per_year"], strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=_subtitle(
            t("programmes.annualised"), left_out_note(with_period, rows, value_column, currency_column, lang=lang)
        ),
        alt=alt,
        filename="annualised",
        source_ids=_ids(rows, C.SOURCE_IDS),
        row_ids=rows["id"],
        caveat_ids=_ids(rows, C.CAVEAT_IDS),
        height=max(160, 44 * len(rows)),
    )


# --- Cloud market ----------------------------------------------------------------------------------------


def build_market_figure(shares: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """One market (one definition, one year): each segment's share drawn as a range.

    A point figure is a dot; a range is a bar from low to high; "more than" is an open bar from
    its floor with an arrow. Segments with only a rank are listed in the subtitle, not drawn.
    """
    t = Translator(lang)
    market = localized(shares, "market", lang).iloc[0] if len(shares) else ""
    drawn = shares[shares["basis"] != "rank_only"]
    if drawn.empty:
        return empty_figure(t("common.empty"), filename="market-share")
    drawn = drawn.assign(_low=drawn["share_low"].map(float), _segment=localized(drawn, "segment", lang))
    drawn = drawn.sort_values("_low")
    labels = list(drawn["_segment"])
    words = [
        format_share(lo, hi, b, lang)
        for lo, hi, b in zip(drawn["share_low"], drawn["share_high"], drawn["basis"], strict=True)
    ]
    fig = Draft()
    ranges = drawn["basis"].isin(["range", "more_than"])
    if ranges.any():
        sub = drawn[ranges]
        highs = [float(h) if h is not None and not pd.isna(h) else 100.0 for h in sub["share_high"]]
        fig.add_bar(
            y=sub["_segment"],
            x=[h - lo for h, lo in zip(highs, sub["_low"], strict=True)],
            base=sub["_low"],
            orientation="h",
            name=t("chart.market.range"),
            text=[w if b == "range" else "" for w, r, b in zip(words, ranges, drawn["basis"], strict=True) if r],
            textposition="outside",
            cliponaxis=False,
            marker={"color": PALETTE[4], "pattern": {"shape": ["." if b == "more_than" else "" for b in sub["basis"]]}},
            customdata=[w for w, r in zip(words, ranges, strict=True) if r],
            hovertemplate="<b>%{y}</b><br>%{customdata}<extra></extra>",
        )
    points = ~drawn["basis"].isin(["range"])
    if points.any():
        sub = drawn[points]
        fig.add_scatter(
            y=sub["_segment"],
            x=sub["_low"],
            mode="markers+text",
            name=t("chart.market.figure"),
            marker={
                "size": 14,
                "color": PALETTE[0],
                "symbol": ["triangle-right" if b == "more_than" else "circle" for b in sub["basis"]],
            },
            text=[w for w, p in zip(words, points, strict=True) if p],
            textposition="middle right",
            hovertemplate="<b>%{y}</b><br>%{text}<extra></extra>",
        )
    fig.update_xaxes(range=[0, 100], ticksuffix="%", title=t("chart.market.axis"))
    fig.update_yaxes(title=None, categoryorder="array", categoryarray=labels)
    ranked = shares[shares["basis"] == "rank_only"].sort_values("rank")
    subtitle = str(shares["framing"].iloc[0])
    if len(ranked):
        segments = localized(ranked, "segment", lang)
        subtitle += " · " + t(
            "market.rank_only",
            names=t("sentence.list").join(
                t("chart.market.rank", rank=int(r), name=s) for r, s in zip(ranked["rank"], segments, strict=True)
            ),
        )
    top = drawn.iloc[-1]
    share = format_share(top["share_low"], top["share_high"], top["basis"], lang)
    title = t("chart.market.title", market=market, segment=top["_segment"], share=share)
    alt = f"{title}. " + "; ".join(f"{s}: {w}" for s, w in zip(labels, words, strict=True))
    return base_layout(
        fig,
        title=title,
        subtitle=subtitle,
        alt=alt,
        # Named in English in every language: a Japanese name would slug to nothing.
        filename=f"market-share-{shares['market_en'].iloc[0]}",
        source_ids=_ids(shares, C.SOURCE_IDS),
        row_ids=shares["id"],
        caveat_ids=_ids(shares, C.CAVEAT_IDS),
        height=max(120, 50 * len(drawn)),
    )


# --- World -----------------------------------------------------------------------------------------------


def build_world_figure(
    programmes: pd.DataFrame,
    *,
    value_column: str = C.AMOUNT_CONVERTED,
    currency_column: str = C.CONVERTED_CURRENCY,
    lang: str = "en",
) -> go.Figure:
    """Programmes of every country on one axis in one currency; targets and plans hatched and labelled."""
    t = Translator(lang)
    rows = amount_frame(programmes, value_column, currency_column)
    if rows.empty:
        return empty_figure(t("common.empty"), filename="world-programmes")
    currency = rows[currency_column].iloc[0]
    rows = rows.assign(
        _value=rows[value_column].map(float),
        _name=localized(rows, "name", lang),
        _country=localized(rows, "country_name", lang),
    ).sort_values("_value")
    labels = [f"{c} · {n}" for c, n in zip(rows["_country"], rows["_name"], strict=True)]
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
                        f"{r} ({d})" if isinstance(r, (Decimal, float)) else ""
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
    top = rows.iloc[-1]
    title = t(
        "chart.world.title",
        country=top["_country"],
        name=top["_name"],
        amount=money_label(top[value_column], currency, top["basis"], lang),
    )
    fig.update_layout(barmode="overlay")
    plot_height = plan_panels(fig, labels, is_plan, rows["_value"], currency=currency, lang=lang)
    alt = f"{title}. " + "; ".join(
        f"{label}: {money_label(v, currency, b, lang)}"
        for label, v, b in zip(labels, rows[value_column], rows["basis"], strict=True)
    )
    return base_layout(
        fig,
        title=title,
        subtitle=t("world.title"),
        alt=alt,
        filename=f"world-programmes-{currency}",
        source_ids=_ids(rows, C.SOURCE_IDS),
        row_ids=rows["id"],
        caveat_ids=_ids(rows, C.CAVEAT_IDS),
        height=plot_height,
    )


# --- Highlights ------------------------------------------------------------------------------------


def build_highlights_figure(highlights: Sequence[Any], *, title: str, lang: str = "en") -> go.Figure:
    """The package's highlights as large figures side by side, each with its claim, date and basis.

    The first slide of presenter mode and the first section of a snapshot: the news before any chart.
    """
    if not highlights:
        return empty_figure(Translator(lang)("common.empty"), filename="highlights")
    fig = Draft()
    width = 1 / len(highlights)
    for index, item in enumerate(highlights):
        x = width * (index + 0.5)
        claim = "<br>".join(wrap(chart_text(item.claim), 34).split("<br>")[:4])
        for text, y, size, colour in (
            (f"<b>{chart_text(item.figure)}</b>", 0.78, 40, TEXT_COLOUR),
            (claim, 0.42, 15, TEXT_COLOUR),
            (chart_text(f"{item.date} · {item.basis}"), 0.06, 13, MUTED_COLOUR),
        ):
            fig.add_annotation(
                text=text, x=x, y=y, xref="paper", yref="paper", showarrow=False, font={"size": size, "color": colour}
            )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    alt = "; ".join(f"{h.figure}: {h.claim} ({h.date}, {h.basis})" for h in highlights)
    return base_layout(
        fig,
        title=title,
        alt=alt,
        filename="highlights",
        source_ids=[s for h in highlights for s in h.source_ids],
        row_ids=[h.row_id for h in highlights],
        height=380,
    )
