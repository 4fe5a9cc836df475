"""Tests for aifunding.money.fx: ECB reference rates by day, month and year, and their errors."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aifunding.money import fx
from aifunding.money.fx import (
    ConversionError,
    Converted,
    Rate,
    RateMethod,
    convert,
    rate_at,
    rate_bounds,
    supported_currencies,
)

CURRENCIES = supported_currencies()


def _ten_digits(value: Decimal) -> Decimal:
    """Round as fx documents: 10 significant digits."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 9))


def _published_days(from_currency: str, to_currency: str, start: date, end: date) -> list[date]:
    """Days on which a rate was published, seen through the public API: no fallback happened."""
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [day for day in days if rate_at(from_currency, to_currency, day).rate_date == day.isoformat()]


# ECB rates per EUR as published on those days (https://www.ecb.europa.eu, eurofxref-hist).
USD_20240419, JPY_20240419, GBP_20240419 = Decimal("1.0653"), Decimal("164.68"), Decimal("0.8562")


@pytest.mark.parametrize(
    ("from_currency", "to_currency", "expected"),
    [
        # EUR on one side: the published figure itself, or its inverse
        ("EUR", "USD", USD_20240419),
        ("EUR", "JPY", JPY_20240419),
        ("USD", "EUR", _ten_digits(1 / USD_20240419)),
        # cross rates go through EUR
        ("USD", "JPY", _ten_digits(JPY_20240419 / USD_20240419)),
        ("JPY", "USD", _ten_digits(USD_20240419 / JPY_20240419)),
        ("GBP", "JPY", _ten_digits(JPY_20240419 / GBP_20240419)),
    ],
)
def test_day_rate_is_the_published_ecb_rate(from_currency, to_currency, expected):
    rate = rate_at(from_currency, to_currency, "2024-04-19")
    assert rate == Rate(from_currency, to_currency, expected, "2024-04-19", RateMethod.DAY, observations=1)


@pytest.mark.parametrize(
    ("when", "used"),
    [
        # weekends fall back to Friday
        ("2024-04-20", "2024-04-19"),
        ("2024-04-21", "2024-04-19"),
        # ECB holidays: Good Friday and Easter Monday fall back to Maundy Thursday
        ("2024-03-29", "2024-03-28"),
        ("2024-04-01", "2024-03-28"),
        # Christmas Day and Boxing Day fall back past the weekend before them
        ("2023-12-25", "2023-12-22"),
        ("2023-12-26", "2023-12-22"),
        # a published day is used as is, whatever type names it
        ("2024-04-19", "2024-04-19"),
        (date(2024, 4, 21), "2024-04-19"),
        (datetime(2024, 4, 21, 15, 30), "2024-04-19"),
    ],
)
def test_day_without_a_rate_uses_the_last_published_one(when, used):
    rate = rate_at("USD", "JPY", when)
    assert rate.rate_date == used
    assert rate.rate == rate_at("USD", "JPY", used).rate
    assert (rate.method, rate.observations) == (RateMethod.DAY, 1)


@pytest.mark.parametrize(
    ("currency", "when", "rate_date"),
    [
        # no lookup at all: any code, any date, even no date
        ("JPY", "2024-04-19", "2024-04-19"),
        ("JPY", "2023", "2023"),
        ("EUR", date(2030, 1, 1), "2030-01-01"),
        ("TWD", None, ""),
    ],
)
def test_same_currency_is_rate_one_without_lookup(currency, when, rate_date):
    assert rate_at(currency, currency, when) == Rate(currency, currency, Decimal(1), rate_date, RateMethod.DAY, 0)


def test_month_average_is_the_mean_of_that_months_published_days():
    days = _published_days("USD", "JPY", date(2023, 6, 1), date(2023, 6, 30))
    daily = [rate_at("USD", "JPY", day).rate for day in days]

    rate = rate_at("USD", "JPY", "2023-06")

    # June 2023 had 22 weekdays and no ECB holiday
    assert rate.observations == len(days) == 22
    assert (rate.method, rate.rate_date, rate.through) == (RateMethod.MONTH_AVERAGE, "2023-06", None)
    assert min(daily) < rate.rate < max(daily)
    assert rate.rate == _ten_digits(sum(daily) / len(daily))


def test_year_average_counts_every_published_day():
    days = _published_days("EUR", "USD", date(2018, 1, 1), date(2018, 12, 31))
    daily = [rate_at("EUR", "USD", day).rate for day in days]

    rate = rate_at("EUR", "USD", "2018")

    assert rate.observations == len(days) == 255
    assert (rate.method, rate.rate_date, rate.through) == (RateMethod.YEAR_AVERAGE, "2018", None)
    assert min(daily) < rate.rate < max(daily)


def test_unfinished_year_averages_the_days_published_so_far():
    last = rate_bounds()[1]
    if last >= date(last.year, 12, 31):
        pytest.skip("the shipped table ends on 31 Dec, so no year of it is unfinished")
    days = _published_days("USD", "JPY", date(last.year, 1, 1), last)

    rate = rate_at("USD", "JPY", str(last.year))

    assert rate.observations == len(days)
    assert rate.through == last.isoformat()
    assert rate.describe().endswith(f"in {last.year} (to {last.day} {last:%b} {last.year})")


@pytest.mark.parametrize(
    ("rate", "locale", "expected"),
    [
        # one day
        (
            Rate("USD", "JPY", Decimal("154.6"), "2024-04-19", RateMethod.DAY, 1),
            "en",
            "ECB reference rate of 19 Apr 2024",
        ),
        (Rate("USD", "JPY", Decimal("154.6"), "2024-04-19", RateMethod.DAY, 1), "ja", "2024年4月19日のECB参照レート"),
        # averages say how many days they average
        (
            Rate("USD", "JPY", Decimal("141.3"), "2023-06", RateMethod.MONTH_AVERAGE, 21),
            "en",
            "average of 21 ECB daily rates in Jun 2023",
        ),
        (
            Rate("USD", "JPY", Decimal("141.3"), "2023-06", RateMethod.MONTH_AVERAGE, 21),
            "ja",
            "2023年6月のECB日次レート21件の平均",
        ),
        (
            Rate("USD", "JPY", Decimal("1"), "2023-06", RateMethod.MONTH_AVERAGE, 1),
            "en",
            "average of 1 ECB daily rate in Jun 2023",
        ),
        (
            Rate("EUR", "USD", Decimal("1.18"), "2018", RateMethod.YEAR_AVERAGE, 255),
            "en",
            "average of 255 ECB daily rates in 2018",
        ),
        # an unfinished period says where it stops
        (
            Rate("EUR", "USD", Decimal("1.1"), "2026", RateMethod.YEAR_AVERAGE, 213, through="2026-10-30"),
            "en",
            "average of 213 ECB daily rates in 2026 (to 30 Oct 2026)",
        ),
        (
            Rate("EUR", "USD", Decimal("1.1"), "2026", RateMethod.YEAR_AVERAGE, 213, through="2026-10-30"),
            "ja",
            "2026年のECB日次レート213件の平均（2026年10月30日まで）",
        ),
        # nothing was converted
        (Rate("JPY", "JPY", Decimal(1), "2024", RateMethod.DAY, 0), "en", "same currency, no conversion"),
        (Rate("JPY", "JPY", Decimal(1), "2024", RateMethod.DAY, 0), "ja", "同一通貨のため換算なし"),
    ],
)
def test_describe(rate, locale, expected):
    assert rate.describe(locale) == expected


def test_convert_multiplies_by_the_rate_in_decimal():
    converted = convert(Decimal("469000000"), "USD", "JPY", "2024-04-19")

    assert converted == Converted(
        Decimal("469000000") * converted.rate.rate, "JPY", rate_at("USD", "JPY", "2024-04-19")
    )
    assert isinstance(converted.amount, Decimal)
    # the rate keeps 10 significant digits, so the amount is within 5e-10 of the exact cross rate
    assert converted.amount == pytest.approx(Decimal("469000000") * JPY_20240419 / USD_20240419, rel=Decimal("5e-10"))


def test_supported_currencies_are_the_ecb_table_sorted():
    assert sorted(set(CURRENCIES)) == list(CURRENCIES)
    assert {"EUR", "USD", "JPY", "GBP", "CNY", "KRW", "INR", "CAD", "SGD"} <= set(CURRENCIES)


@pytest.mark.parametrize(
    ("currencies", "expected"),
    [
        # currencies that stopped being quoted have fixed ranges in every release
        (("CNY", "RUB"), (date(2005, 4, 1), date(2022, 3, 1))),
        (("EUR", "CYP"), (date(1999, 1, 4), date(2007, 12, 31))),
        # never quoted together: an empty range
        (("CYP", "BRL"), (date(2008, 1, 2), date(2007, 12, 31))),
    ],
)
def test_rate_bounds_of_currencies(currencies, expected):
    assert rate_bounds(*currencies) == expected


def test_rate_bounds_of_the_whole_table():
    first, last = rate_bounds()
    assert first == date(1999, 1, 4)
    # the release installed for this project ends on 30 Oct 2026; later ones only add days
    assert last >= date(2026, 10, 30)


def test_the_tables_currencies_and_bounds_are_the_converters():
    converter = fx._converter()
    quoted = fx._quoted()
    assert quoted.currencies == converter.currencies
    assert quoted.bounds == {currency: tuple(bounds) for currency, bounds in converter.bounds.items()}
    assert supported_currencies() == tuple(sorted(converter.currencies))


def test_menus_and_bounds_do_not_build_the_converter():
    # the date picker and the currency menu need only what the table quotes (the converter takes half a second)
    fx._converter.cache_clear()
    fx._day_rate.cache_clear()
    try:
        assert rate_bounds() == fx._quoted().bounds["EUR"]
        assert rate_bounds("USD", "CNY")[0] > date(1999, 1, 4)  # CNY was first quoted in 2005
        assert "JPY" in supported_currencies()
        with pytest.raises(fx.ConversionError, match="'XYZ' is not in the ECB reference rates"):
            rate_bounds("XYZ")
        assert fx._converter.cache_info().currsize == 0
        rate_at("USD", "JPY", "2024-04-19")
        assert fx._converter.cache_info().currsize == 1
    finally:
        fx._converter.cache_clear()


def test_converter_is_built_once():
    rate_at("USD", "JPY", "2024-04-19")
    rate_at("GBP", "EUR", "2019")
    assert fx._converter() is fx._converter()
    assert fx._converter.cache_info().misses == 1


@pytest.mark.parametrize(
    ("from_currency", "to_currency", "when", "message"),
    [
        # unknown currencies are named, with what is available
        ("XYZ", "USD", "2024", r"Currency 'XYZ' is not in the ECB reference rates; supported: AUD, BGN, .*, USD, ZAR$"),
        ("USD", "TWD", "2024", r"Currency 'TWD' is not in the ECB reference rates; supported: AUD, "),
        # dates outside the table name its range for the pair
        (
            "USD",
            "JPY",
            "1998-12-31",
            r"for 1998-12-31: the shipped table covers 1999-01-04 to \d{4}-\d\d-\d\d for this pair",
        ),
        ("USD", "JPY", "2099", r"for 2099: the shipped table covers 1999-01-04 to "),
        ("CNY", "RUB", "2023-06", r"covers 2005-04-01 to 2022-03-01 for this pair"),
        # no announcement date
        ("USD", "JPY", None, r"no announcement date, so it cannot be converted at the rate of its announcement date"),
        # not a partial date
        ("USD", "JPY", "2024-02-30", r"Cannot read the date: 2024-02-30 is not a real calendar date"),
        ("USD", "JPY", "19/04/2024", r"Cannot read the date: .*19/04/2024.* YYYY, YYYY-MM or YYYY-MM-DD"),
        ("USD", "JPY", 2024, r"Cannot read the date 2024: give a date or text YYYY, YYYY-MM or YYYY-MM-DD"),
        # a currency not quoted for years inside its range: no stale fallback
        ("ISK", "EUR", "2012-05-07", r"The ECB published no ISK to EUR rate in the 7 days up to 2012-05-07"),
        ("ISK", "EUR", "2012-05", r"The ECB published no ISK to EUR rate in 2012-05$"),
        # currencies whose quotes never overlapped
        ("CYP", "BRL", "2005", r"never quoted CYP and BRL on the same day"),
    ],
)
def test_conversion_errors_say_why(from_currency, to_currency, when, message):
    with pytest.raises(ConversionError, match=message):
        rate_at(from_currency, to_currency, when)


def test_date_after_the_table_names_its_last_day():
    first, last = rate_bounds("USD", "JPY")
    after = last + timedelta(days=1)
    expected = f"for {after.isoformat()}: the shipped table covers {first.isoformat()} to {last.isoformat()}"
    with pytest.raises(ConversionError, match=re.escape(expected)):
        convert(Decimal(1), "USD", "JPY", after)


@st.composite
def pair_and_day(draw):
    """Two different currencies and a day on which the table quotes both."""
    a = draw(st.sampled_from(CURRENCIES))
    b = draw(st.sampled_from(CURRENCIES).filter(lambda code: code != a))
    first, last = rate_bounds(a, b)
    assume(first <= last)
    return a, b, draw(st.dates(min_value=first, max_value=last))


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e13"), places=2)


@settings(max_examples=150, deadline=None)
@given(pair_and_day(), amounts)
def test_round_trip_at_a_day_returns_the_amount(pair, amount):
    a, b, day = pair
    try:
        there = convert(amount, a, b, day)
    except ConversionError as error:
        # ISK was not quoted for nine years inside its range; those days are tested above
        assume("published no" not in str(error))
        raise
    back = convert(there.amount, b, a, day)
    assert back.rate.rate_date == there.rate.rate_date
    assert back.amount == pytest.approx(amount, rel=Decimal("1e-6"))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["USD", "JPY", "GBP", "CHF", "KRW", "BGN"]),
    st.sampled_from(["EUR", "USD", "JPY", "CNY", "INR"]),
    st.sampled_from(["2012", "2019", "2020-03", "2023-06", "2024-11"]),
)
def test_round_trip_over_a_period_is_never_below_one(a, b, period):
    # Averages are arithmetic, so mean(x) * mean(1/x) >= 1 (AM-HM): a round trip over a period
    # gains what the rate varied, and only a constant rate (BGN against EUR) gives exactly 1.
    assume(a != b)
    product = rate_at(a, b, period).rate * rate_at(b, a, period).rate
    assert Decimal("0.999999999") <= product < Decimal("1.01")


@given(
    st.sampled_from([*CURRENCIES, "TWD"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**15), max_value=10**15),
    st.one_of(st.dates(), st.sampled_from(["2024", "2024-04", "2024-04-19"])),
)
def test_same_currency_conversion_is_identity(currency, amount, when):
    converted = convert(amount, currency, currency, when)
    assert (converted.amount, converted.currency, converted.rate.rate) == (amount, currency, Decimal(1))
