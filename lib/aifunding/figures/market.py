"""The cloud market chart: one market definition and year per panel, shares as the sources state them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from aifunding import columns as C
from aifunding.analysis.metrics import localized
from aifunding.figures.base import PALETTE, Draft, base_layout, empty_figure, ids_in
from aifunding.i18n import Translator
from aifunding.money.formatting import (
    format_share,
)


def build_market_figure(shares: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """One market (one definition, one year): each segment's share drawn as a range.

    A point figure is a dot; a range is a bar from low to high; "more than" is an open bar from
    its floor with an arrow. Segments with only a rank are listed in the subtitle, not drawn.
    """
    t = Translator(lang)
    market = localized(shares, "market", lang).iloc[0] if len(shares) else ""
    drawn = shares[shares["basis"] != "rank_only"]
    if drawn.empty:
        # No share of any market in view: said as such, not "Nothing matches these filters ... in the sidebar"
        # when the view holds awards (Korea's) and the figure sits on a slide, which has no sidebar.
        return empty_figure(t("chart.market.none" if shares.empty else "chart.empty"), filename="market-share")
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
        source_ids=ids_in(shares, C.SOURCE_IDS),
        row_ids=shares["id"],
        caveat_ids=ids_in(shares, C.CAVEAT_IDS),
        height=max(120, 50 * len(drawn)),
    )


# --- World -----------------------------------------------------------------------------------------------
