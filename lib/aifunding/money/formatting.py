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
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date, format_skeleton
from babel.numbers import (
    format_compact_decimal,
    format_currency,
    format_decimal,
)
from babel.numbers import format_percent as babel_format_percent

from aifunding.data.models import check_partial_date
from aifunding.data.vocabulary import Basis, ShareBasis
from aifunding.i18n import translate
from aifunding.money.compact import (
    BABEL_LOCALES,
    MAX_FRACTION_DIGITS,
    apply_symbol_override,
    compact_en,
    compact_ja,
    ja_number,
)

LOCALES = tuple(BABEL_LOCALES)


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
    text = compact_ja(value, currency) if locale == "ja" else compact_en(value, currency)
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
        return ("-" if number < 0 else "") + ja_number(abs(number))
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
    return apply_symbol_override(text, currency, locale)


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


def _share_percent(value: Decimal, babel_locale: str) -> str:
    return babel_format_percent(value / 100, format="#,##0.##%", locale=babel_locale)
