"""Every number, amount, date and basis as the dashboard writes it, in English and Japanese.

Pages, charts and exports never format figures themselves: they call these functions, so a
figure reads the same in a KPI tile, a hover label and a table. Formatting goes through Babel
(CLDR data) for symbols, digit grouping, compact units, month names and percent signs; the few
places where the house style departs from CLDR are named constants below, each with its reason.
The words around a figure ("up to", "about", "date not published", "FY") are messages in the
gettext catalogues, read through :func:`aifunding.i18n.translate`.

Locales are ``"en"`` (Babel ``en_US``) and ``"ja"`` (Babel ``ja_JP``). Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    get_currency_name,
    get_currency_symbol,
)
from babel.numbers import format_percent as babel_format_percent

from aifunding.data.models import check_partial_date
from aifunding.data.vocabulary import Basis, ShareBasis
from aifunding.i18n import translate

BABEL_LOCALES = {"en": "en_US", "ja": "ja_JP"}
LOCALES = tuple(BABEL_LOCALES)

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


# An amount's basis is written around it with the message amount.<basis> ("up to {amount}", "最大{amount}"),
# a share's with share_figure.<basis> ("about {low}"); the basis alone reads as basis.<basis>. An exact
# figure is written alone, and a share known only by its rank is not written at all.

# Partial dates use CLDR skeletons, so month names and the 年月日 order come from Babel.
_DATE_SKELETONS = {"day": "yMMMd", "month": "yMMM", "year": "y"}
# en_US's yMMMd is "Apr 19, 2024"; the dashboard writes day-month-year ("19 Apr 2024") so that
# English and Japanese tables sort visually the same way and no reader mistakes the order.
_DATE_PATTERN_OVERRIDES = {("en", "day"): "d MMM y"}


def basis_label(basis: Basis | str, locale: str = "en") -> str:
    """The words for an amount basis alone, for a legend or a table column.

    Args:
        basis: A :class:`~aifunding.data.models.Basis` or its value.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        "up to", "about", "up to about", "at least", "target" or "exact"; in Japanese 最大, 約,
        最大約, 以上, 目標 or 確定.
    """
    return translate(f"basis.{Basis(basis).value}", _check_locale(locale))


# Formatting is pure and the same few hundred figures recur on every rerun: remembering the text
# saves Babel's pattern work (most of a table's build time). Arguments are hashable values.
@lru_cache(maxsize=8192)
def format_money(
    amount: Decimal | int | float, currency: str, *, locale: str = "en", basis: Basis | str | None = None
) -> str:
    """A compact amount for tiles, labels and tables, with its basis in words.

    English uses CLDR compact notation (¥72.5B, $469M, ₩1.46T). Japanese uses 万, 億 and 兆 with
    digit grouping and the currency as a word (725億円, 3,873億円, 1兆2,390億円, 4.69億ドル).
    At most two decimals are shown and trailing zeros are dropped (2B, not 2.00B).

    Args:
        amount: The amount in whole currency units. Values up to about 10^20 are supported.
        currency: ISO 4217 code.
        locale: ``"en"`` or ``"ja"``.
        basis: When given, the basis is written around the figure ("up to ¥72.5B",
            "最大725億円", "¥200B (target)"); ``exact`` adds nothing.

    Returns:
        The formatted amount.

    Raises:
        ValueError: The amount is not a finite number, or the locale is unknown.
    """
    locale = _check_locale(locale)
    value = _to_decimal(amount)
    text = _compact_ja(value, currency) if locale == "ja" else _compact_en(value, currency)
    if basis is None:
        return text
    basis = Basis(basis)
    if basis is Basis.EXACT:
        return text
    return translate(f"amount.{basis.value}", locale, amount=text)


def format_composition(parts: Mapping[str, Decimal], currency: str | None, *, locale: str = "en") -> str:
    """A sum kept apart by kind of basis: "¥395.7B + up to ¥127.8B"; "" when there is nothing.

    Args:
        parts: kind of basis (exact, about, up_to, up_to_about, at_least) -> amount, in writing order, as
            :func:`aifunding.analysis.adding.split_by_basis` returns them.
        currency: ISO 4217 code of every part.
        locale: ``"en"`` or ``"ja"``.
    """
    if not parts or currency is None:
        return ""
    return " + ".join(
        format_money(value, currency, locale=locale, basis=None if kind == "exact" else kind)
        for kind, value in parts.items()
    )


def format_compact_number(value: Decimal | int | float, locale: str = "en") -> str:
    """A bare compact number, without currency, for axis ticks: "100B", "2.5T"; 1,000億, 2兆5,000億.

    Args:
        value: The number.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        The number in the locale's units, with at most two decimals.
    """
    locale = _check_locale(locale)
    number = _to_decimal(value)
    if locale == "ja":
        return ("-" if number < 0 else "") + _ja_number(abs(number))
    return format_compact_decimal(number, locale=BABEL_LOCALES[locale], fraction_digits=MAX_FRACTION_DIGITS)


def format_amount_full(amount: Decimal | int | float, currency: str, locale: str = "en") -> str:
    """The amount written out in full with Babel's currency format, for detail views and tooltips.

    Args:
        amount: The amount.
        currency: ISO 4217 code.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        For example "¥72,500,000,000" (en), "￥72,500,000,000" (ja), "$469,000,000.00" (en).
    """
    locale = _check_locale(locale)
    text = format_currency(_to_decimal(amount), currency, locale=BABEL_LOCALES[locale])
    return _apply_symbol_override(text, currency, locale)


@lru_cache(maxsize=4096)
def format_partial_date(value: str | None, locale: str = "en") -> str:
    """A partial date at the precision it was published.

    Args:
        value: ``"YYYY-MM-DD"``, ``"YYYY-MM"``, ``"YYYY"`` or ``None`` when no date was published.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        "19 Apr 2024", "Jun 2023", "2023" or "date not published"; in Japanese "2024年4月19日",
        "2023年6月", "2023年" or "日付不明".

    Raises:
        ValueError: The value is not a partial date.
    """
    locale = _check_locale(locale)
    if value is None:
        return translate("date.not_published", locale)
    parts = [int(part) for part in check_partial_date(value).split("-")]
    precision = ("year", "month", "day")[len(parts) - 1]
    day = date(parts[0], *(parts[1:] + [1] * (3 - len(parts))))
    pattern = _DATE_PATTERN_OVERRIDES.get((locale, precision))
    if pattern is not None:
        return format_date(day, pattern, locale=BABEL_LOCALES[locale])
    return format_skeleton(_DATE_SKELETONS[precision], day, locale=BABEL_LOCALES[locale])


def format_fiscal_year(fy: int, locale: str = "en") -> str:
    """A fiscal year label: "FY2026" or "2026年度".

    Args:
        fy: The fiscal year, named by the calendar year in which it starts.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        The label, the year written without digit grouping.
    """
    return translate("date.fiscal_year", _check_locale(locale), year=fy)


def format_fiscal_period(start: int, end: int, locale: str = "en") -> str:
    """A span of fiscal years: "FY2026–FY2030" or "2026〜2030年度"; one year when equal.

    Args:
        start: First fiscal year.
        end: Last fiscal year, not before ``start``.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        The label.

    Raises:
        ValueError: ``end`` is before ``start``.
    """
    locale = _check_locale(locale)
    if end < start:
        raise ValueError(f"A fiscal period cannot end (FY{end}) before it starts (FY{start})")
    if start == end:
        return format_fiscal_year(start, locale)
    return translate("date.fiscal_period", locale, start=start, end=end)


def format_share(
    low: Decimal | int | float | None,
    high: Decimal | int | float | None,
    basis: ShareBasis | str,
    locale: str = "en",
) -> str:
    """A market share in percent, worded by its basis.

    Args:
        low: Lower bound in percent (0-100); the figure itself for a point share.
        high: Upper bound in percent; needed for a range, ignored otherwise.
        basis: exact "72%", about "about 30%", range "40–50%", more_than "more than 60%",
            rank_only "" (the source gives a rank and no share). Japanese: 72%, 約30%, 40〜50%,
            60%超.
        locale: ``"en"`` or ``"ja"``.

    Returns:
        The share, or an empty string for ``rank_only``.

    Raises:
        ValueError: A bound the basis needs is missing.
    """
    locale = _check_locale(locale)
    basis = ShareBasis(basis)
    if basis is ShareBasis.RANK_ONLY:
        return ""
    if low is None or (basis is ShareBasis.RANGE and high is None):
        needed = "share_low and share_high" if basis is ShareBasis.RANGE else "share_low"
        raise ValueError(f"A share with basis {basis.value!r} needs {needed}; got low={low}, high={high}")
    babel_locale = BABEL_LOCALES[locale]
    low_value = _to_decimal(low)
    fields = {
        "low": _share_percent(low_value, babel_locale),
        "low_number": format_decimal(low_value, format="#,##0.##", locale=babel_locale),
        "high": "" if high is None else _share_percent(_to_decimal(high), babel_locale),
    }
    if basis is ShareBasis.EXACT:
        return fields["low"]
    return translate(f"share_figure.{basis.value}", locale, **fields)


def format_percent(value: Decimal | int | float, locale: str = "en", digits: int = 1) -> str:
    """A ratio as a percentage with a fixed number of decimals: 0.125 -> "12.5%".

    Unlike :func:`format_share`, which takes percent points as stored in the data, this takes a
    ratio, as Babel's ``format_percent`` does, because it is meant for computed fractions.

    Args:
        value: The ratio (1 is 100%).
        locale: ``"en"`` or ``"ja"``.
        digits: Decimals to show, always shown (12.0%) so a column of figures lines up.

    Returns:
        The percentage.

    Raises:
        ValueError: ``digits`` is negative.
    """
    locale = _check_locale(locale)
    if digits < 0:
        raise ValueError(f"digits must be 0 or more, got {digits}")
    # en_US and ja_JP share CLDR's percent pattern #,##0%; only the decimals vary.
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return babel_format_percent(_to_decimal(value), format=pattern, locale=BABEL_LOCALES[locale])


def _check_locale(locale: str) -> str:
    if locale not in BABEL_LOCALES:
        raise ValueError(f"Unknown locale {locale!r}; use one of: {', '.join(LOCALES)}")
    return locale


def _to_decimal(value: Decimal | int | float) -> Decimal:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"An amount must be a finite number, got {value}")
        # repr gives the shortest decimal that reads back as the same float: 0.1, not 0.1000000000000000055.
        return Decimal(repr(value))
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"An amount must be a finite number, got {value}")
    return result


def _round_cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _apply_symbol_override(text: str, currency: str, locale: str) -> str:
    symbol = _SYMBOL_OVERRIDES.get(locale, {}).get(currency)
    if symbol is None:
        return text
    return text.replace(get_currency_symbol(currency, locale=BABEL_LOCALES[locale]), symbol, 1)


def _compact_en(value: Decimal, currency: str) -> str:
    # Below 1,000 no compact pattern applies and Babel then prints every decimal it is given.
    if abs(value) < 1000:
        value = _round_cents(value)
    magnitude, shown = _compact_step(value)
    key = (currency, magnitude, shown, shown.is_signed())  # -0.00 is written "-$0", and equals 0.00
    text = _COMPACT_EN.get(key)
    if text is None:
        text = _compact_en_from_template(magnitude, shown, currency)
        if text is None:
            text = format_compact_currency(
                value, currency, locale=BABEL_LOCALES["en"], fraction_digits=MAX_FRACTION_DIGITS
            )
            text = _apply_symbol_override(text, currency, "en")
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
    before, digit, after = _apply_symbol_override(text, currency, "en").partition(str(_PROBE))
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


def _ja_number(value: Decimal) -> str:
    """A non-negative number in Japanese units: 725億, 3,873億, 1兆2,390億, 5,000万, 102.4億."""
    units = _ja_units()
    index = max(i for i, (size, _) in enumerate(units) if value >= size or i == 0)
    # Rounding can carry a figure into the next unit: 9,999.999万 is 1億, not 10,000万.
    while index + 1 < len(units) and _round_cents(value / units[index][0]) >= units[index + 1][0] // units[index][0]:
        index += 1
    size, word = units[index]
    if size >= _JA_COMPOUND_FROM:
        # Keep two decimals of the next unit down, then write whole units plus the remainder.
        step = Decimal(units[index - 1][0]) * _CENT
        rounded = (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step
        whole, rest = divmod(rounded, size)
        text = format_decimal(whole, format="#,##0", locale=BABEL_LOCALES["ja"]) + word
        return text + (_ja_number(rest) if rest else "")
    return format_decimal(_round_cents(value / size), format="#,##0.##", locale=BABEL_LOCALES["ja"]) + word


def _compact_ja(value: Decimal, currency: str) -> str:
    if currency in _JA_CURRENCY_WORDS:
        unit = _JA_CURRENCY_WORDS[currency]
    else:
        unit = get_currency_name(currency, locale=BABEL_LOCALES["ja"]).replace(" ", "")
    sign = "-" if value < 0 else ""
    return sign + _ja_number(abs(value)) + unit


def _share_percent(value: Decimal, babel_locale: str) -> str:
    return babel_format_percent(value / 100, format="#,##0.##%", locale=babel_locale)
