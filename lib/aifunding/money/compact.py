"""Compact money figures from Babel's CLDR patterns: $72.5B in English, 725億円 in Japanese.

English compact figures reuse Babel's text for every amount that reads the same (a million awards
hold about as many distinct amounts, and Babel takes some 75 µs to write each); Japanese figures
group their digits and write a remainder unit (1兆2,390億円), which Babel's own compact format does not.
:mod:`aifunding.money.formatting` writes every other figure and calls these.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

from babel import Locale
from babel.numbers import format_compact_currency, format_decimal, get_currency_name, get_currency_symbol

BABEL_LOCALES = {"en": "en_US", "ja": "ja_JP"}

# Compact figures keep at most two decimals (72.5B, 10.24B, 102.4億): published AI budgets are
# round to two or three significant digits, and a third decimal would only show conversion noise.
MAX_FRACTION_DIGITS = 2
_CENT = Decimal("0.01")

# CLDR's en_US writes CA$ and SGD; the dashboard follows the financial press (C$2B, S$1B), which
# is shorter in a KPI tile and still unambiguous next to US$-less "$".
_SYMBOL_OVERRIDES: dict[str, dict[str, str]] = {"en": {"CAD": "C$", "SGD": "S$"}}

# Japanese amounts are written number + currency word (725億円, 4.69億ドル), not with CLDR's
# symbol (￥725億). The word is Babel's Japanese display name with its inner space removed
# (CLDR writes カナダ ドル; Japanese prose writes カナダドル), except where an amount takes a
# shorter word than the name of the currency: 円 rather than 日本円, ドル rather than 米ドル.
_JA_CURRENCY_WORDS = {"JPY": "円", "USD": "ドル"}

# From 兆 up, Japanese writes the remainder in the next unit down (1兆2,390億円) rather than a
# decimal (1.239兆円); below it, a decimal of the unit is usual (102.4億円, 19.3億円).
_JA_COMPOUND_FROM = 10**12


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def apply_symbol_override(text: str, currency: str, locale: str) -> str:
    symbol = _SYMBOL_OVERRIDES.get(locale, {}).get(currency)
    if symbol is None:
        return text
    return text.replace(get_currency_symbol(currency, locale=BABEL_LOCALES[locale]), symbol, 1)


def compact_en(value: Decimal, currency: str) -> str:
    # Below 1,000 no compact pattern applies and Babel then prints every decimal it is given.
    if abs(value) < 1000:
        value = round_cents(value)
    magnitude, shown = _compact_step(value)
    key = (currency, magnitude, shown, shown.is_signed())  # -0.00 is written "-$0", and equals 0.00
    text = _COMPACT_EN.get(key)
    if text is None:
        text = _compact_en_from_template(magnitude, shown, currency)
        if text is None:
            text = format_compact_currency(
                value, currency, locale=BABEL_LOCALES["en"], fraction_digits=MAX_FRACTION_DIGITS
            )
            text = apply_symbol_override(text, currency, "en")
        if len(_COMPACT_EN) >= _COMPACT_EN_SIZE:
            _COMPACT_EN.clear()
        _COMPACT_EN[key] = text
    return text


# A table of a million awards holds about as many distinct amounts, and Babel takes some 75 µs to
# write each. A compact figure shows only the unit and the amount in it rounded to two decimals,
# so every amount with the same unit and rounded figure reads the same: Babel writes the first, and
# the rest reuse its text (bounded; emptied when full).
_COMPACT_EN: dict[tuple[str, int, Decimal, bool], str] = {}
_COMPACT_EN_SIZE = 200_000


_PROBE = Decimal(2)  # the figure Babel writes a unit's text around; 1 is left to Babel (its plural form)


def _compact_en_from_template(magnitude: int, shown: Decimal, currency: str) -> str | None:
    """What Babel writes for a figure shown as ``shown`` in the unit of ``magnitude``, without asking it again.

    Babel writes the same text around the digits (symbol, sign, unit) for every figure of a unit and
    sign; the digits are the figure's integer part ungrouped (every en pattern is ¤0K to ¤000T) and at
    most two decimals without trailing zeros. None when Babel must write it: below 1,000 (no unit),
    the figure 1, and a figure that rounding carries into the next unit (999.995K is written $1M).
    """
    frame = _compact_en_frame(magnitude, currency, shown.is_signed()) if magnitude else None
    size = abs(shown)
    if frame is None or size == 1 or size >= frame[2]:
        return None
    return frame[0] + format(size.normalize(), "f") + frame[1]


@cache
def _compact_en_frame(magnitude: int, currency: str, negative: bool) -> tuple[str, str, int] | None:
    """Babel's text before and after the digits (this unit, currency, sign), and the unit's first too-large figure."""
    divisors = dict(_compact_divisors())
    probe = _PROBE * divisors[magnitude] * (-1 if negative else 1)
    text = format_compact_currency(probe, currency, locale=BABEL_LOCALES["en"], fraction_digits=MAX_FRACTION_DIGITS)
    before, digit, after = apply_symbol_override(text, currency, "en").partition(str(_PROBE))
    larger = [m for m in divisors if m > magnitude]
    limit = min(larger) // divisors[magnitude] if larger else 1000
    # A symbol holding the probe's digit would make the split ambiguous: Babel writes those.
    return (before, after, limit) if digit and str(_PROBE) not in before + after else None


@cache
def _compact_divisors() -> tuple[tuple[int, int], ...]:
    """(magnitude, divisor) of en's compact currency patterns, largest first: (10^9, 10^9) writes 72.5B.

    The magnitude a figure reaches picks its pattern; the pattern's zeros say how far it is divided
    (¤00K divides 10,000 by 1,000), as CLDR's compact-number algorithm has it.
    """
    patterns = Locale.parse(BABEL_LOCALES["en"]).compact_currency_formats["short"]["other"]
    steps = []
    for magnitude, pattern in patterns.items():
        zeros = pattern.pattern.count("0")
        steps.append((int(magnitude), int(magnitude) // 10 ** (zeros - 1) if zeros else 1))
    return tuple(sorted(steps, reverse=True))


def _compact_step(value: Decimal) -> tuple[int, Decimal]:
    """The unit a compact figure is written in and the figure rounded as it is shown: what decides its text."""
    size = abs(value)
    for magnitude, divisor in _compact_divisors():
        if size >= magnitude:
            return magnitude, round(value / divisor, MAX_FRACTION_DIGITS)
    return 0, value


@cache
def _ja_units() -> tuple[tuple[int, str], ...]:
    """Japanese number units from CLDR's compact patterns, ascending: 1, 万, 億, 兆, 京.

    Babel's ``format_compact_decimal`` itself is not used for Japanese: it neither groups digits
    (it writes 3873億, not 3,873億) nor writes a remainder unit (1.24兆, not 1兆2,390億).
    """
    patterns = Locale.parse(BABEL_LOCALES["ja"]).compact_decimal_formats["short"]["other"]
    units = [(1, "")]
    for magnitude, pattern in sorted(patterns.items(), key=lambda item: int(item[0])):
        # A pattern '0億' belongs to the unit itself; '00億' and '000億' are its tens and hundreds.
        if pattern.pattern.count("0") == 1 and pattern.suffix[0]:
            units.append((int(magnitude), pattern.suffix[0]))
    return tuple(units)


def ja_number(value: Decimal) -> str:
    """A non-negative number in Japanese units: 725億, 3,873億, 1兆2,390億, 5,000万, 102.4億."""
    units = _ja_units()
    index = max(i for i, (size, _) in enumerate(units) if value >= size or i == 0)
    # Rounding can carry a figure into the next unit: 9,999.999万 is 1億, not 10,000万.
    while index + 1 < len(units) and round_cents(value / units[index][0]) >= units[index + 1][0] // units[index][0]:
        index += 1
    size, word = units[index]
    if size >= _JA_COMPOUND_FROM:
        # Keep two decimals of the next unit down, then write whole units plus the remainder.
        step = Decimal(units[index - 1][0]) * _CENT
        rounded = (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step
        whole, rest = divmod(rounded, size)
        text = format_decimal(whole, format="#,##0", locale=BABEL_LOCALES["ja"]) + word
        return text + (ja_number(rest) if rest else "")
    return format_decimal(round_cents(value / size), format="#,##0.##", locale=BABEL_LOCALES["ja"]) + word


def compact_ja(value: Decimal, currency: str) -> str:
    if currency in _JA_CURRENCY_WORDS:
        unit = _JA_CURRENCY_WORDS[currency]
    else:
        unit = get_currency_name(currency, locale=BABEL_LOCALES["ja"]).replace(" ", "")
    sign = "-" if value < 0 else ""
    return sign + ja_number(abs(value)) + unit
