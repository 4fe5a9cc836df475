"""Chart text in lines: widths in columns, wrapping in English and Japanese, and the room lines take.

Plotly never wraps a title or a tick label by itself: these break them into lines joined by <br>, a
Japanese character taking two columns and never breaking where Japanese typesetting forbids it; and say
how tall a bar's band and a legend need to be for their lines.
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache

import budoux

TITLE_WIDTH = 84  # characters per title line (about 9 px each at 1280 px); plotly titles never wrap by themselves
# Subtitles are set smaller (13 pixels, about 6.7 a column), so more fit on a line: at 125 they ran 20 to 33 pixels
# past the edge of an 820-pixel chart (a 1,280-pixel screen with the sidebar open).
SUBTITLE_WIDTH = 112


# Japanese line-breaking rules (kinsoku): closing punctuation never starts a line, an opening
# bracket never ends one, and a figure keeps its units (1兆円, 2026年7月, 72%).
NO_LINE_START = frozenset("、。，．・：；？！）」』】〕〉》ー〜％%")
NO_LINE_END = frozenset("（「『【〔〈《")
NUMBER_UNITS = frozenset("万億兆京円件年月日度位")


def display_width(text: str) -> int:
    """Width in columns: East Asian wide and full-width characters take two."""
    if text.isascii():  # most names and labels: one column a character, without a lookup per character
        return len(text)
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


def wrap(text: str, width: int = TITLE_WIDTH, max_lines: int | None = None) -> str:
    """Break a long title into lines joined by <br>, so it is never cut off at the chart's edge.

    ``width`` is in columns, a Japanese character taking two. English breaks at spaces. Japanese
    has no spaces between words, so it may also break between two characters, except where
    :func:`_glued` forbids it. With ``max_lines``, a text that needs more keeps its first lines and ends
    with "…" and its own ending (:func:`_cut`): names that differ only at the end stay apart.
    """
    if max_lines is not None and max_lines < 1:
        raise ValueError(f"max_lines must be at least 1, not {max_lines}")
    if display_width(text) <= width:
        return text
    lines = _lines(text, width)
    if max_lines is not None and len(lines) > max_lines:
        lines = _cut(text, lines, width, max_lines)
    return "<br>".join(lines)


@cache
def _phrases() -> budoux.Parser:
    """BudouX's Japanese model: where a phrase ends, so a line never breaks inside a word (「確<br>定」)."""
    return budoux.load_default_japanese_parser()


# The same names and titles are broken on every rerun: each text's phrases are found once (37 µs a title).
@lru_cache(maxsize=8192)
def _phrase_starts(text: str) -> frozenset[int]:
    """Where each of ``text``'s phrases starts (BudouX's), as positions in it."""
    starts, at = set(), 0
    for phrase in _phrases().parse(text):
        starts.add(at)
        at += len(phrase)
    return frozenset(starts)


def _tokens(text: str, phrases: bool) -> list[str]:
    """``text``'s unbreakable pieces and its spaces: characters :func:`_glued` together, and with ``phrases``
    none broken inside a BudouX phrase either."""
    starts = _phrase_starts(text) if phrases else frozenset()
    tokens: list[str] = []
    for found in re.finditer(r"\s+|\S", text):
        piece = found.group()
        if (
            tokens
            and not piece.isspace()
            and not tokens[-1].isspace()
            and ((phrases and found.start() not in starts) or _glued(tokens[-1][-1], piece))
        ):
            tokens[-1] += piece
        else:
            tokens.append(piece)
    return tokens


def _lines(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` columns (a longer word alone on its line, cut).

    Japanese breaks between phrases; a phrase longer than a line breaks between its characters.
    """
    if display_width(text) == len(text):
        return textwrap.wrap(text, width)
    tokens = [
        piece
        for token in _tokens(text, phrases=True)
        for piece in (_tokens(token, phrases=False) if display_width(token) > width else [token])
    ]
    lines, line = [], ""
    for token in tokens:
        if line and not token.isspace() and display_width(line + token) > width:
            lines.append(line.rstrip())
            line = ""
        if line or not token.isspace():
            line += token
    lines.append(line.rstrip())
    return lines


def _cut(text: str, lines: list[str], width: int, max_lines: int) -> list[str]:
    """The first ``max_lines - 1`` of ``lines``, then "…" and as much of the text's end as fits one line.

    A joint project of four institutes reads "A + B + … + D (joint)": its first and last members, and the
    "(joint)" that says what it is. The end starts at a word where it can, after the lines kept.
    """
    kept, after = lines[: max_lines - 1], 0
    for line in kept:  # where the kept lines end in the text
        after = text.find(line, after) + len(line)
    rest, room = text[after:].strip(), width - 2  # "… " takes two columns
    ending = ""
    for char in reversed(rest):
        if display_width(char + ending) > room:
            break
        ending = char + ending
    if len(ending) < len(rest) and " " in ending and not rest[len(rest) - len(ending) - 1].isspace():
        ending = ending.split(" ", 1)[1]  # not half a word
    return [*kept, f"… {ending.strip()}" if ending.strip() else "…"]


# Plotly sets a tick label's lines 1.3 font sizes apart (13 px text).
TICK_LINE_PX = 13 * 1.3


def band_height(ticks: Sequence[str], least: int = 40) -> int:
    """Pixels per category of a bar chart whose tick labels are ``ticks`` (lines joined by <br>).

    Each label is centred in a band of the same height, so two long neighbours meet halfway: the band is
    as tall as the longer half of any two neighbours together, and never less than ``least``.
    """
    heights = [TICK_LINE_PX * (tick.count("<br>") + 1) for tick in ticks]
    neighbours = max(((a + b) / 2 for a, b in itertools.pairwise(heights)), default=0.0)
    return max(least, math.ceil(neighbours + 4))  # 4 px between them


def legend_room(entries: int, groups: int) -> int:
    """Pixels to add to a plotting area so that a legend of ``entries`` in ``groups`` leaves it its height.

    The legend hangs at the figure's bottom and pushes the plot up by its own height: measured in Chromium,
    a recipients chart's 20 to 26 entries in 9 programmes took 409 to 548 px, and 5 or 6 entries in 4 or 5
    programmes 110 or 140 px, where :func:`base_layout` leaves 100 px of margin with the axis title. Twenty
    pixels an entry and ten a group is never less than those (a wider page may fit more per row: the bars
    then get more room, never less).
    """
    return max(0, 20 * entries + 10 * groups - 39) if entries else 0
