"""What the package's texts are, read by whole columns: whether a text holds a Latin letter, and the keys
that tell when two names or two titles are one.

A register reshaped into the package brings Japanese where English is asked for, and the same body or
programme under two ids, spelled with full-width letters in one row and half-width in the next, or
with a particle more. The package rules that say so (:mod:`aifunding.loading.text_rules` and its
columnar twin) read these. The keys are Arrow compute functions, called by both validators (the
per-row rules on the list of their rows' values): Python's ``unicodedata`` and Arrow's utf8proc
follow different Unicode versions and normalise a few hundred code points differently, so one
definition is what keeps the two validators' reports the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from aifunding.data.column_sets import strings
from aifunding.data.grid import whole

Texts: TypeAlias = "Sequence[str | None] | pd.Series | pa.Array | pa.ChunkedArray"

# A Latin letter, as Python's re and Arrow's RE2 both read this class (a test holds them to it over every
# code point): ASCII, Latin-1, Latin Extended-A and -B, IPA, phonetic extensions, Latin Extended
# Additional, -C, -D and -E, and the full-width letters Japanese text is typed with.
LATIN_LETTER = (
    "[A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02af\u1d00-\u1d25\u1e00-\u1eff"
    "\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab5a\uff21-\uff3a\uff41-\uff5a]"
)
_LATIN = re.compile(LATIN_LETTER)

# The Japanese particles a title may carry or drop and stay the same title (の in 計算資源の補助), and the
# middle dots that part words (・, and · as some fonts type it).
PARTICLES = "のがをにへとでや"
MIDDLE_DOTS = "・·"
# White space in RE2: ASCII's, every Unicode separator (the ideographic space among them), and NEL.
_SPACE = r"[\s\p{Z}\x{85}]"


def has_latin_letter(text: str) -> bool:
    """Whether ``text`` holds a Latin letter (a row's value, as the per-row rules read it)."""
    return _LATIN.search(text) is not None


def latin_letters(column: Texts) -> np.ndarray:
    """Per value of ``column``, whether it holds a Latin letter (False where missing)."""
    found = pc.match_substring_regex(text_array(column), LATIN_LETTER)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def name_keys(values: Texts) -> pa.Array:
    """Per value, the name as two names are compared: width and letter case set aside, white space as one space.

    That is NFKC (full-width letters and digits become ASCII, half-width katakana full-width, an
    ideographic space a space), lower case, each run of white space one space, and none at either end;
    null where the value is missing or nothing is left.
    """
    text = pc.utf8_lower(pc.utf8_normalize(text_array(values), form="NFKC"))
    return _blank_as_null(pc.utf8_trim(pc.replace_substring_regex(text, _SPACE + "+", " "), " "))


def title_keys(values: Texts) -> pa.Array:
    """Per value, the title as two titles are compared: its :func:`name_keys` less particles, middle dots, spaces."""
    removed = f"[{PARTICLES}{MIDDLE_DOTS}]|{_SPACE}"
    return _blank_as_null(pc.replace_substring_regex(name_keys(values), removed, ""))


def text_array(values: Texts) -> pa.Array:
    """``values`` as one Arrow array of strings (not chunked), missing values as nulls."""
    if isinstance(values, pd.Series | pa.Array | pa.ChunkedArray):
        array = strings(values)
    else:
        array = pa.array(list(values), type=pa.large_string())
    return whole(array) if isinstance(array, pa.ChunkedArray) else array


def _blank_as_null(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.binary_length(text), 0), pa.scalar(None, text.type), text)
