"""Text a chart draws shown as text: plotly reads a few HTML tags in titles, ticks, legends, hover and annotations."""

from __future__ import annotations

import itertools
import re
from typing import Any

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


def text_safe(value: Any, keys: frozenset[str], inside: bool = False) -> Any:
    """``value`` with :func:`chart_text` applied to every string under one of ``keys``."""
    if isinstance(value, str):
        return chart_text(value) if inside else value
    if isinstance(value, dict):
        return {k: text_safe(v, keys, inside or k in keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        plain = _plain_text_list(value, inside)
        return plain if plain is not None else [text_safe(v, keys, inside) for v in value]
    dtype = getattr(value, "dtype", None)
    if inside and dtype is not None and dtype.kind in "OUS":  # text in an array; numeric arrays stay typed
        return text_safe(value.tolist(), keys, inside)
    return value


# Values a trace's arrays hold that :func:`text_safe` leaves as they are, outside text (or with no "<" in it).
_SCALARS = frozenset({str, float, int, bool, type(None)})


def _plain_text_list(value: list[Any] | tuple[Any, ...], inside: bool) -> list[Any] | None:
    """:func:`text_safe` of a list of scalars, or of tuples of them, in a few C loops; None for any other list.

    A trace's x, y, text and customdata hold thousands of them: each one's own call was a tenth of a chart.
    """
    kinds = set(map(type, value))
    if kinds <= _SCALARS:
        nested, items = False, value
    elif kinds <= {list, tuple}:
        items = list(itertools.chain.from_iterable(value))
        if not set(map(type, items)) <= _SCALARS:
            return None
        nested = True
    else:
        return None
    if inside and "<" in "".join([item for item in items if type(item) is str]):
        return None  # some text shows a "<": item by item
    return [list(item) for item in value] if nested else list(value)
