"""What every chart shares: layout, palette, text that wraps and stays text, money labels, the empty figure.

Builders (one module per page subject beside this one) take the rows they draw, already filtered
and, when asked, converted, and return a ``go.Figure`` whose title states the finding, whose hover
and legend carry the amount basis, and whose ``layout.meta`` holds a text alternative (``alt``), a PNG
file name (``filename``) and the ids of the sources and caveats behind it. Builders never call
streamlit; styling goes through :func:`base_layout` and the colour-blind-safe :data:`PALETTE`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar, overload

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.adding import HOME_CURRENCY
from aifunding.analysis.distinct import has_amount
from aifunding.analysis.view import fx_reasons
from aifunding.data.vocabulary import NOT_COMMITTED_STATUSES, PLAN_BASES, ProgrammeStatus
from aifunding.figures.lines import SUBTITLE_WIDTH, TITLE_WIDTH, display_width, wrap
from aifunding.figures.plain import Figure
from aifunding.figures.safe_text import LAYOUT_TEXT_KEYS, TRACE_TEXT_KEYS, text_safe
from aifunding.i18n import DEFAULT_LANGUAGE, Translator
from aifunding.money.formatting import (
    format_compact_number,
    format_money,
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
# Where one colour stands for a programme, a texture over it tells an award's basis apart (solid: exact).
BASIS_PATTERNS = {"exact": "", "about": ".", "up_to": "|", "up_to_about": "+", "at_least": "-", "target": PLAN_PATTERN}
# Noto Sans JP is the web font's name, Noto Sans CJK JP the one Linux distributions install.
FONT_FAMILY = "Source Sans Pro, Noto Sans JP, Noto Sans CJK JP, Arial, sans-serif"
TEXT_COLOUR = "#262730"
MUTED_COLOUR = "#5f6368"


def slug(text: str) -> str:
    """A file-name-safe slug: "Up to ¥72.5B" -> "up-to-72-5b"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "chart"


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


# A category's name on a bar chart's axis wraps at this many columns (a Japanese character takes two).
AXIS_LABEL_WIDTH = 34

# For room made from the labels themselves: the narrowest chart the dashboard draws (a 1,024-pixel screen with
# the sidebar open leaves the page's column 564 pixels), the layout's side margins (base_layout) and a label
# character's width, a Japanese one counting twice (display columns).
NARROW_CHART_PX = 564
MARGIN_L_PX, MARGIN_R_PX = 10, 20
LABEL_CHAR_PX = 7
# Between a bar's end and the value written there (the annotations' xshift), and between a name and the plot.
LABEL_GAP_PX, TICK_GAP_PX = 4, 10
# However long its value's text, a bar keeps this share of the plot.
MIN_BAR_SHARE = 0.4


def labelled_range(top: float, labels: Iterable[tuple[float, str]] = (), names: Iterable[str] = ()) -> dict[str, Any]:
    """An amount axis from 0 with room after each bar for the value written at its end.

    ``labels`` (bar value, text) make room for long texts ("¥600M + up to about ¥56.9B") on the narrowest
    chart, whose plot is what its width leaves beside the category axis's ``names`` (tick texts, lines joined
    by ``<br>``: the widest line counts): a value may end in the right margin, never past it. The axis is never
    shorter than ``top`` times :data:`LABEL_ROOM`.
    """
    if top <= 0:
        return {}
    widest = max((display_width(line) for name in names for line in str(name).split("<br>")), default=0)
    plot_px = NARROW_CHART_PX - MARGIN_L_PX - MARGIN_R_PX - (widest * LABEL_CHAR_PX + TICK_GAP_PX if widest else 0)
    end = top * LABEL_ROOM
    for value, text in labels:
        past_plot = display_width(text) * LABEL_CHAR_PX + LABEL_GAP_PX - MARGIN_R_PX  # what must fit in the plot
        share = min(1 - MIN_BAR_SHARE, max(0.0, past_plot / max(plot_px, 1)))
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
    rerun; :func:`base_layout` turns the draft into a figure in one construction, a
    :class:`~aifunding.figures.plain.Figure` that builds plotly's object tree only when read as one.
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


def title_markup(
    title: str, subtitle: Sequence[str], width: int = TITLE_WIDTH, subtitle_width: int = SUBTITLE_WIDTH
) -> tuple[str, int, int]:
    """A chart's title broken into lines ``width`` columns wide, its subtitle's parts under it in smaller grey
    type; and the title's line breaks and the subtitle's lines, which the room above the plot is made for."""
    title = wrap(title, width)
    lines = [wrap(part, subtitle_width) for part in subtitle]
    below = "<br>".join(lines)
    text = f"{title}<br><span style='font-size:13px;color:{MUTED_COLOUR}'>{below}</span>" if below else title
    return text, title.count("<br>"), below.count("<br>") + 1 if below else 0


def base_layout(
    fig: Draft,
    *,
    title: str,
    subtitle: str | None = None,
    alt: str,
    filename: str,
    source_ids: Iterable[str] = (),
    caveat_ids: Iterable[str] = (),
    row_ids: Iterable[str] | None = (),
    height: int | None = None,
    amount_rows: bool | str = False,
    bottom: int = 100,
) -> go.Figure:
    """Apply the shared look and attach the metadata every chart carries.

    ``row_ids`` None is every row of the table behind the chart; with ``amount_rows``, every row of it with an
    amount in the currency drawn (:func:`amount_positions`): a capped chart's drawn rows, too many to name. When
    ``amount_rows`` names a column, only the rows with a number in it could be drawn (:func:`drawable_positions`).
    """
    # As written, before the lines are broken for the chart's width: a page shows them above the chart on a phone.
    words = {"title": title, "subtitle": subtitle.split("<br>") if subtitle else []}
    title_text, title_breaks, subtitle_lines = title_markup(title, words["subtitle"])
    top = 64 + 26 * (subtitle_lines + title_breaks)  # ``bottom``: under the plot, for its axis title and legend
    layout: dict[str, Any] = {
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
            **words,
            "alt": alt,
            "filename": slug(filename),
            "source_ids": sorted(set(source_ids)),
            "caveat_ids": sorted(set(caveat_ids)),
            # None: every row of the table behind the chart (a chart past its cap leaves the ids out).
            "row_ids": None if row_ids is None else [str(i) for i in dict.fromkeys(row_ids)],
            **({"amount_rows": amount_rows} if amount_rows and row_ids is None else {}),
        },
    }
    if height:
        # ``height`` is the plotting area; the margins for titles and legend come on top of it.
        layout["height"] = height + top + bottom
    # The shared look wins over a builder's own settings where both set something, as it always has.
    merged = _merge(fig.layout, layout)
    data = [text_safe(trace, TRACE_TEXT_KEYS) for trace in fig.data]
    # Checked by plotly's validators without building its object tree until something asks for it.
    return Figure({"data": data, "layout": text_safe(merged, LAYOUT_TEXT_KEYS)})


def ids_in(frame: pd.DataFrame, column: str) -> set[str]:
    return {i for ids in frame.get(column, pd.Series(dtype=object)) for i in (ids or ())}


def as_float(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


def money_label(value: Any, currency: Any, basis: Any, lang: str) -> str:
    """The amount with its basis in words, or the "not published" wording."""
    if value is None or not isinstance(currency, str) or (isinstance(value, float) and pd.isna(value)):
        return Translator(lang)("common.no_amount")
    return format_money(Decimal(value), currency, locale=lang, basis=basis if isinstance(basis, str) else None)


def money_labels(
    frame: pd.DataFrame, value_column: str, currency_column: str, lang: str, *, published: str | None = None
) -> list[str]:
    """:func:`money_label` for every row of ``frame`` (its ``basis`` column gives each figure's wording).

    With ``published`` (the column of the amounts as published, when ``value_column`` holds converted ones), a
    row published but not converted reads "not converted", never "amount not published".
    """
    labels = [
        money_label(v, c, b, lang)
        for v, c, b in zip(frame[value_column], frame[currency_column], frame["basis"], strict=True)
    ]
    if published is None:
        return labels
    missing, there = frame[value_column].isna().to_numpy(), frame[published].notna().to_numpy()
    if (missing & there).any():
        words = Translator(lang)("common.not_converted")
        labels = [words if gone and known else label for label, gone, known in zip(labels, missing, there, strict=True)]
    return labels


T = TypeVar("T")


class Groups(Sequence[T], Generic[T]):
    """A ranked list of groups whose rows are made only when a group is read.

    A split chart ranks every group (the page says how many it left out) but draws only the first
    few; taking each group's rows out of a million awards for the rest would cost seconds.
    """

    def __init__(self, keys: list[tuple[Any, Any]], make: Callable[[Any, Any], T]) -> None:
        self._keys = keys
        self._make = make

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._make(*key) for key in self._keys[index]]
        return self._make(*self._keys[index])

    def map(self, change: Callable[[T], Any]) -> Groups[Any]:
        """The same groups, each changed by ``change`` when it is read."""
        return Groups(self._keys, lambda *key: change(self._make(*key)))


def amount_positions(frame: pd.DataFrame, value_column: str, currency_column: str) -> np.ndarray:
    """The positions of :func:`amount_frame`'s rows in ``frame``, read from two columns."""
    has_value, currencies = has_amount(frame, value_column), frame[currency_column]
    if isinstance(currencies.dtype, pd.CategoricalDtype) and HOME_CURRENCY in currencies.cat.categories:
        # Coded currencies (a view's awards): the home currency's code, when an amount is in it, found by integers.
        home = currencies.cat.categories.get_loc(HOME_CURRENCY)
        codes = currencies.cat.codes.to_numpy()
        in_home = has_value & (codes == home)
        if in_home.any():
            return np.flatnonzero(in_home)
    counts = currencies[has_value].value_counts().loc[lambda n: n > 0]  # a categorical counts unused names too
    if counts.empty:
        return np.array([], dtype=np.intp)
    main = HOME_CURRENCY if HOME_CURRENCY in counts.index else counts.index[0]
    return np.flatnonzero(has_value & (currencies == main).to_numpy(dtype=bool, na_value=False))


def drawable_positions(frame: pd.DataFrame, value_column: str, currency_column: str, needs: bool | str) -> np.ndarray:
    """The positions of the rows of ``frame`` a chart of ``value_column`` draws: those with an amount in the
    currency drawn (:func:`amount_positions`) and, when ``needs`` names a column, a number in it as well."""
    if needs is True:
        return amount_positions(frame, value_column, currency_column)
    candidates = np.flatnonzero(has_number(frame[needs]))
    return candidates[amount_positions(frame.take(candidates), value_column, currency_column)]


def has_number(values: pd.Series) -> np.ndarray:
    """Which cells of ``values`` hold a number (:func:`as_float` is not None)."""
    return np.fromiter((as_float(v) is not None for v in values), dtype=bool, count=len(values))


def amount_frame(frame: pd.DataFrame, value_column: str, currency_column: str) -> pd.DataFrame:
    """Rows with an amount in ``value_column``, all in one currency.

    Charts never add or compare amounts in different currencies: the home currency (JPY, this
    dashboard's focus) is drawn when present, otherwise the most common one. :func:`left_out_note`
    tells the reader what this left out. The choice reads two columns; the rows are taken once.
    """
    return frame.take(amount_positions(frame, value_column, currency_column))


def left_out_note(
    frame: pd.DataFrame, drawn: pd.DataFrame, value_column: str, currency_column: str, *, lang: str = "en"
) -> str | None:
    """What a one-currency chart could not draw: figures in other currencies, and figures that could not be
    converted (a programme with no announcement date has no rate), each with why."""
    if drawn.empty:
        return None
    t = Translator(lang)
    notes = []
    currency = drawn[currency_column].iloc[0]
    others = has_amount(frame, value_column) & (frame[currency_column] != currency).to_numpy(dtype=bool, na_value=True)
    if others.any():
        notes.append(
            t(
                "chart.left_out",
                currency=currency,
                count=f"{int(others.sum()):,}",  # 817,239 in either language, as the {n} of any message
                currencies=t("sentence.values").join(sorted(frame.loc[others, currency_column].unique().tolist())),
            )
        )
    if value_column != "amount" and C.FX_NOTE in frame:
        failed = has_amount(frame, "amount") & ~has_amount(frame, value_column)
        if failed.any():
            reasons = frame.loc[failed, C.FX_NOTE].value_counts(sort=False, dropna=False)
            notes.append(t("chart.not_converted", n=int(failed.sum()), reasons=fx_reasons(reasons.to_dict(), lang)))
    return " ".join(notes) or None


def committed_money(rows: pd.DataFrame) -> pd.Series:
    """Which rows are money committed, as a chart's title may name it: not a target or plan by basis, and not a
    programme planned, shelved, cancelled or superseded (the title named a "(up to, planned)" statement)."""
    not_committed = {ProgrammeStatus.PLANNED.value, *(s.value for s in NOT_COMMITTED_STATUSES)}
    status = rows["status"] if "status" in rows else pd.Series(None, index=rows.index, dtype=object)
    return ~rows["basis"].isin([b.value for b in PLAN_BASES]) & ~status.isin(not_committed)


def has_plan_panel(is_plan: pd.Series) -> bool:
    """True when targets and plans get a panel of their own (there is committed money beside them)."""
    return bool(is_plan.any() and (~is_plan).any())


def panels_note(t: Translator, chart: str, is_plan: pd.Series, keep: np.ndarray) -> str | None:
    """What a chart that draws the largest of each panel (``keep``) says it drew; None when it drew every row.

    With one panel, the largest of how many; with two, each panel's part, since the largest 30 committed
    drawn beside 3 targets are not the largest 33 (``chart``: "programme" or "world", whose words differ).
    """
    if keep.all():
        return None
    if not has_plan_panel(is_plan):
        return t(f"chart.{chart}.capped", shown=int(keep.sum()), total=f"{len(keep):,}")
    plan = is_plan.to_numpy(dtype=bool)

    def drawn(panel: np.ndarray, prefix: str, what: str) -> str:
        n, shown = int(panel.sum()), int((panel & keep).sum())
        if shown < n:
            return t(f"{prefix}.capped_{what}", shown=shown, total=f"{n:,}")
        return t(f"{prefix}.all_{what}", n=n)

    committed, plans = drawn(~plan, f"chart.{chart}", "committed"), drawn(plan, "chart.panels", "plans")
    return t("chart.panels.capped", committed=committed, plans=plans)


def subtitle(*parts: str | None) -> str:
    return "<br>".join(p for p in parts if p)


def empty_figure(message: str, *, filename: str) -> go.Figure:
    """A figure that says why there is nothing to draw, once, as its title, with no plot under it.

    It said it twice: as the title and again in the middle of an empty plot 100 pixels tall (with the room under a
    plot for an axis title and a legend it has none of: 200 pixels of white under the title).
    """
    fig = Draft()
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, title=message, alt=message, filename=filename, height=1, bottom=0)


# --- Companies -------------------------------------------------------------------------------------------
