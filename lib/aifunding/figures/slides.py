"""Presenter mode's slides: a chart fitted to one screen, with its first rows shown when it has more than fit.

A page's ranked chart grows a row per bar (thirty recipients and the others, a timeline of 36 announcements), so
on a slide, in bigger type, it ran past the bottom of the screen with the slide's buttons below it. A slide is
:data:`SLIDE_HEIGHT` pixels tall; when a chart has more rows than fit at :data:`SLIDE_ROW_PX` each, the slide
shows those drawn at the top (the largest, or the latest) and says how many of how many it shows. The page's
chart, the snapshot and "Show data" keep them all.
"""

from __future__ import annotations

import re
from typing import Any

import plotly.graph_objects as go

from aifunding.figures.base import title_markup
from aifunding.figures.lines import wrap

# A slide's chart, with the note, sources and buttons under it, within a full screen 900 pixels tall.
SLIDE_HEIGHT = 580
# A row of bars at a slide's 16-pixel type, its name on up to two lines.
SLIDE_ROW_PX = 46
# A line of a wrapped name at a slide's 16-pixel type.
SLIDE_LINE_PX = 18
# A slide's names are wrapped this wide (a page's at 34 columns): at most two lines each, so more rows fit.
SLIDE_LABEL_WIDTH = 48
# Between the upper and lower panels of a chart of two (money committed; targets and plans): the upper one's axis.
PANEL_GAP_PX = 90
# A slide's title is set at 24 pixels (a page's at 18), about 12.4 pixels a column: broken at a page's 84 columns
# it ran 1,040 pixels wide and was cut off at the right edge of a 1,024-pixel screen. 52 columns fit a slide from
# 760 pixels wide (below 640 the title is text above the chart); the subtitle keeps its 13 pixels.
SLIDE_FONT_PX, SLIDE_TITLE_PX = 16, 24
# Half the widest tick label ("100%") at 16 pixels and a little more: a page's 20 pixels fit it at 13.
SLIDE_RIGHT_PX = 36
SLIDE_TITLE_WIDTH = 52
SLIDE_SUBTITLE_WIDTH = 90
# Above the plot: the toolbar and the title's first line, then each further line of the title and the subtitle.
SLIDE_TITLE_ROOM_PX, SLIDE_TITLE_LINE_PX, SLIDE_SUBTITLE_LINE_PX = 94, 30, 26


def slide_type(figure: go.Figure) -> None:
    """Set ``figure`` (changed in place) in a slide's bigger type, readable from the back of a room: its text at
    :data:`SLIDE_FONT_PX`, its title at :data:`SLIDE_TITLE_PX` broken to fit the slide, with the room above the
    plot its lines take (the title and subtitle as written are its meta's), and room at the right for the last
    tick's label (plotly hid a market's "100%", which ran past the chart's edge in the bigger type)."""
    figure.update_layout(font={"size": SLIDE_FONT_PX}, margin={"r": max(figure.layout.margin.r or 0, SLIDE_RIGHT_PX)})
    meta = figure.layout.meta or {}
    if not meta.get("title"):
        return
    text, breaks, lines = title_markup(
        meta["title"], meta.get("subtitle") or [], SLIDE_TITLE_WIDTH, SLIDE_SUBTITLE_WIDTH
    )
    figure.update_layout(
        title={"text": text, "font": {"size": SLIDE_TITLE_PX}, "pad": {"t": 30}},
        margin={"t": SLIDE_TITLE_ROOM_PX + SLIDE_TITLE_LINE_PX * breaks + SLIDE_SUBTITLE_LINE_PX * lines},
    )


def _categories(figure: go.Figure, axis: str) -> list[Any]:
    """The categories of a y axis in their order from the bottom (its category array, else the traces' values)."""
    if axis in figure.layout and figure.layout[axis].categoryarray is not None:
        return list(figure.layout[axis].categoryarray)
    name = "y" if axis == "yaxis" else "y" + axis.removeprefix("yaxis")
    seen: dict[Any, None] = {}
    for trace in figure.data:
        values = getattr(trace, "y", None)
        if (getattr(trace, "yaxis", None) or "y") == name and values is not None:
            seen.update((v, None) for v in values if isinstance(v, str))
    return list(seen)


def _rewrapped(figure: go.Figure, axes: tuple[str, ...]) -> None:
    """Wrap each axis's names at :data:`SLIDE_LABEL_WIDTH`, two lines at most (a slide's label column is wider)."""
    for axis in axes:
        if axis in figure.layout and figure.layout[axis].ticktext is not None:
            texts = [
                wrap(_unwrapped(str(text)), SLIDE_LABEL_WIDTH, max_lines=2) for text in figure.layout[axis].ticktext
            ]
            figure.layout[axis].ticktext = texts


def _unwrapped(text: str) -> str:
    """A name as it was before :func:`~aifunding.figures.lines.wrap` broke it: English at a space, Japanese anywhere."""
    return re.sub(r"(?<=[\x00-\x7f])<br>(?=[\x00-\x7f])", " ", text).replace("<br>", "")


def _row_px(figure: go.Figure, axes: tuple[str, ...]) -> int:
    """A row's height on a slide: :data:`SLIDE_ROW_PX`, or more for a name wrapped on three lines or more."""
    lines = [
        str(text).count("<br>") + 1
        for axis in axes
        if axis in figure.layout and figure.layout[axis].ticktext is not None
        for text in figure.layout[axis].ticktext
    ]
    return max(SLIDE_ROW_PX, SLIDE_LINE_PX * max(lines, default=1) + 8)


def fit_slide(figure: go.Figure, height: int = SLIDE_HEIGHT) -> tuple[int, int] | None:
    """Make ``figure`` (changed in place) ``height`` pixels tall (:data:`SLIDE_HEIGHT`; less under a live session's
    banner), showing only the rows drawn at the top of each panel when all of them would not fit; (rows shown, rows
    in all) then, else None."""
    margin = figure.layout.margin
    plot = height - (margin.t or 0) - (margin.b or 0)
    figure.update_layout(height=height)
    split = "yaxis2" in figure.layout and figure.layout["yaxis2"].domain is not None  # two panels, one above the other
    upper, lower = _categories(figure, "yaxis"), _categories(figure, "yaxis2") if split else []
    total = len(upper) + len(lower)
    axes = ("yaxis", "yaxis2") if split else ("yaxis",)
    _rewrapped(figure, axes)
    row_px = _row_px(figure, axes)
    room = max(1, (plot - (PANEL_GAP_PX if lower else 0)) // row_px)
    if not upper or total <= room:
        return None
    # The lower panel (plans) keeps a quarter of the rows at most, and one at least; the upper takes the rest.
    shown_lower = min(len(lower), max(1, room // 4)) if lower else 0
    shown_upper = min(len(upper), room - shown_lower)
    figure.update_layout(yaxis={"range": [len(upper) - shown_upper - 0.5, len(upper) - 0.5]})
    if lower:
        lower_px = shown_lower * row_px
        figure.update_layout(
            yaxis={"domain": [(lower_px + PANEL_GAP_PX) / plot, 1]},
            yaxis2={"domain": [0, lower_px / plot], "range": [len(lower) - shown_lower - 0.5, len(lower) - 0.5]},
        )
    return shown_upper + shown_lower, total
