"""The highlights figure: the package's lead figures as cards, for presenter mode and the snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from aifunding.figures.base import MUTED_COLOUR, TEXT_COLOUR, Draft, base_layout, empty_figure
from aifunding.figures.lines import wrap
from aifunding.figures.safe_text import chart_text
from aifunding.i18n import Translator


def build_highlights_figure(highlights: Sequence[Any], *, title: str, lang: str = "en") -> go.Figure:
    """The package's highlights as large figures side by side, each with its claim, date and basis.

    The first slide of presenter mode and the first section of a snapshot: the news before any chart.
    """
    if not highlights:
        return empty_figure(Translator(lang)("chart.empty"), filename="highlights")
    fig = Draft()
    width = 1 / len(highlights)
    for index, item in enumerate(highlights):
        x = width * (index + 0.5)
        claim = "<br>".join(wrap(chart_text(item.claim), 34).split("<br>")[:4])
        # In a display currency the figure also reads converted, at its rate's date, as the Overview's tile does (the
        # slide and the snapshot showed the yen alone beside charts in dollars).
        converted = getattr(item, "converted", "")
        for text, y, size, colour in (
            (f"<b>{chart_text(item.figure)}</b>", 0.78, 40, TEXT_COLOUR),
            *(((chart_text(converted), 0.6, 17, MUTED_COLOUR),) if converted else ()),
            (claim, 0.4 if converted else 0.42, 15, TEXT_COLOUR),
            (chart_text(f"{item.date} · {item.basis}"), 0.06, 13, MUTED_COLOUR),
        ):
            # Centred on its card: plotly's "auto" anchors a text left of a third and right of two thirds, which
            # drew the outer cards towards the middle, over the next one's figure.
            fig.add_annotation(
                text=text,
                x=x,
                y=y,
                xref="paper",
                yref="paper",
                xanchor="center",
                showarrow=False,
                font={"size": size, "color": colour},
            )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    alt = "; ".join(
        f"{h.figure}{f' ({c})' if (c := getattr(h, 'converted', '')) else ''}: {h.claim} ({h.date}, {h.basis})"
        for h in highlights
    )
    return base_layout(
        fig,
        title=title,
        alt=alt,
        filename="highlights",
        source_ids=[s for h in highlights for s in h.source_ids],
        row_ids=[h.row_id for h in highlights],
        height=380,
    )
