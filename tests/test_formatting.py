"""Tests for aifunding.money.formatting: amounts, bases, dates, fiscal years and shares in en and ja."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aifunding.data.vocabulary import Basis, ShareBasis
from aifunding.money.formatting import (
    LOCALES,
    basis_label,
    format_amount_full,
    format_fiscal_period,
    format_fiscal_year,
    format_money,
    format_partial_date,
    format_percent,
    format_share,
)
from aifunding.money.fx import supported_currencies


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # yen, at the precision published: one or two decimals, never trailing zeros
        (72_500_000_000, "JPY", "¥72.5B"),
        (387_300_000_000, "JPY", "¥387.3B"),
        (10_240_000_000, "JPY", "¥10.24B"),
        (1_930_000_000, "JPY", "¥1.93B"),
        (600_000_000, "JPY", "¥600M"),
        (Decimal("1E12"), "JPY", "¥1T"),
        # other currencies take CLDR's symbol
        (469_000_000, "USD", "$469M"),
        (200_000_000_000, "EUR", "€200B"),
        (300_000_000, "GBP", "£300M"),
        (103_720_000_000, "INR", "₹103.72B"),
        (1_460_000_000_000, "KRW", "₩1.46T"),
        # house symbols where CLDR writes CA$ and SGD
        (2_000_000_000, "CAD", "C$2B"),
        (1_000_000_000, "SGD", "S$1B"),
        # float and Decimal inputs read the same
        (72.5e9, "JPY", "¥72.5B"),
        (Decimal("72500000000.00"), "JPY", "¥72.5B"),
        # more than two decimals are rounded; small amounts too
        (1_239_000_000_000, "JPY", "¥1.24T"),
        (Decimal("12.345"), "USD", "$12.34"),
        (500, "USD", "$500"),
    ],
)
def test_format_money_english(amount, currency, expected):
    assert format_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # yen in 億 with grouped digits and at most two decimals
        (72_500_000_000, "JPY", "725億円"),
        (387_300_000_000, "JPY", "3,873億円"),
        (10_240_000_000, "JPY", "102.4億円"),
        (1_930_000_000, "JPY", "19.3億円"),
        (600_000_000, "JPY", "6億円"),
        # from 兆 up, the remainder in the next unit down
        (1_000_000_000_000, "JPY", "1兆円"),
        (1_239_000_000_000, "JPY", "1兆2,390億円"),
        (10_000_000_000_000, "JPY", "10兆円"),
        (1_000_050_000_000, "JPY", "1兆5,000万円"),
        # below 1億, in 万; below 1万, plain
        (50_000_000, "JPY", "5,000万円"),
        (1_234_500, "JPY", "123.45万円"),
        (9_800, "JPY", "9,800円"),
        # rounding carries into the next unit
        (99_999_999, "JPY", "1億円"),
        (999_999_999_999, "JPY", "1兆円"),
        # other currencies: the Japanese name as a word
        (469_000_000, "USD", "4.69億ドル"),
        (200_000_000_000, "EUR", "2,000億ユーロ"),
        (2_000_000_000, "CAD", "20億カナダドル"),
        (1_460_000_000_000, "KRW", "1兆4,600億韓国ウォン"),
        (103_720_000_000, "INR", "1,037.2億インドルピー"),
    ],
)
def test_format_money_japanese(amount, currency, expected):
    assert format_money(amount, currency, locale="ja") == expected


@pytest.mark.parametrize(
    ("amount", "basis", "locale", "expected"),
    [
        # English: words before the figure, target after it
        (72_500_000_000, Basis.UP_TO, "en", "up to ¥72.5B"),
        (4_200_000_000, Basis.ABOUT, "en", "about ¥4.2B"),
        (50_100_000_000, Basis.UP_TO_ABOUT, "en", "up to about ¥50.1B"),
        (10_000_000_000_000, Basis.AT_LEAST, "en", "at least ¥10T"),
        (200_000_000_000, Basis.TARGET, "en", "¥200B (target)"),
        (72_500_000_000, Basis.EXACT, "en", "¥72.5B"),
        # Japanese
        (72_500_000_000, Basis.UP_TO, "ja", "最大725億円"),
        (4_200_000_000, Basis.ABOUT, "ja", "約42億円"),
        (50_100_000_000, Basis.UP_TO_ABOUT, "ja", "最大約501億円"),
        (10_000_000_000_000, Basis.AT_LEAST, "ja", "10兆円以上"),
        (200_000_000_000, Basis.TARGET, "ja", "2,000億円（目標）"),
        (72_500_000_000, Basis.EXACT, "ja", "725億円"),
        # the basis may be given as its stored value
        (72_500_000_000, "up_to", "en", "up to ¥72.5B"),
    ],
)
def test_format_money_with_basis(amount, basis, locale, expected):
    assert format_money(amount, "JPY", locale=locale, basis=basis) == expected


def test_format_money_target_in_another_currency():
    assert format_money(200_000_000_000, "EUR", locale="ja", basis=Basis.TARGET) == "2,000億ユーロ（目標）"
    assert format_money(200_000_000_000, "EUR", basis=Basis.TARGET) == "€200B (target)"


@pytest.mark.parametrize(
    ("basis", "en", "ja"),
    [
        (Basis.UP_TO, "up to", "最大"),
        (Basis.ABOUT, "about", "約"),
        (Basis.UP_TO_ABOUT, "up to about", "最大約"),
        (Basis.AT_LEAST, "at least", "以上"),
        (Basis.TARGET, "target", "目標"),
        (Basis.EXACT, "exact", "確定"),
    ],
)
def test_basis_label(basis, en, ja):
    assert (basis_label(basis), basis_label(basis, "ja")) == (en, ja)


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        # Babel's standard currency format, every digit shown
        (72_500_000_000, "JPY", "en", "¥72,500,000,000"),
        (72_500_000_000, "JPY", "ja", "￥72,500,000,000"),
        (469_000_000, "USD", "en", "$469,000,000.00"),
        (Decimal("1234.5"), "EUR", "en", "€1,234.50"),
        # house symbol in full too
        (2_000_000_000, "CAD", "en", "C$2,000,000,000.00"),
    ],
)
def test_format_amount_full(amount, currency, locale, expected):
    assert format_amount_full(amount, currency, locale) == expected


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [
        # each precision as published
        ("2024-04-19", "en", "19 Apr 2024"),
        ("2023-06", "en", "Jun 2023"),
        ("2023", "en", "2023"),
        ("2024-04-19", "ja", "2024年4月19日"),
        ("2023-06", "ja", "2023年6月"),
        ("2023", "ja", "2023年"),
        # no date
        (None, "en", "date not published"),
        (None, "ja", "日付不明"),
    ],
)
def test_format_partial_date(value, locale, expected):
    assert format_partial_date(value, locale) == expected


@pytest.mark.parametrize(
    ("start", "end", "locale", "expected"),
    [
        # a span of years
        (2026, 2030, "en", "FY2026–FY2030"),
        (2026, 2030, "ja", "2026〜2030年度"),
        # one year
        (2026, 2026, "en", "FY2026"),
        (2026, 2026, "ja", "2026年度"),
    ],
)
def test_format_fiscal_period(start, end, locale, expected):
    assert format_fiscal_period(start, end, locale) == expected


@pytest.mark.parametrize(("locale", "expected"), [("en", "FY2026"), ("ja", "2026年度")])
def test_format_fiscal_year(locale, expected):
    assert format_fiscal_year(2026, locale) == expected


@pytest.mark.parametrize(
    ("low", "high", "basis", "en", "ja"),
    [
        # point figures
        (72, 72, ShareBasis.EXACT, "72%", "72%"),
        (Decimal("72.5"), Decimal("72.5"), ShareBasis.EXACT, "72.5%", "72.5%"),
        (30, 30, ShareBasis.ABOUT, "about 30%", "約30%"),
        # ranges and open ends
        (40, 50, ShareBasis.RANGE, "40–50%", "40〜50%"),
        (60, None, ShareBasis.MORE_THAN, "more than 60%", "60%超"),
        # a rank without a figure shows nothing
        (None, None, ShareBasis.RANK_ONLY, "", ""),
        # the basis may be given as its stored value
        (40, 50, "range", "40–50%", "40〜50%"),
    ],
)
def test_format_share(low, high, basis, en, ja):
    assert (format_share(low, high, basis), format_share(low, high, basis, locale="ja")) == (en, ja)


@pytest.mark.parametrize(
    ("value", "locale", "digits", "expected"),
    [
        # a ratio, with a fixed number of decimals
        (0.125, "en", 1, "12.5%"),
        (Decimal("0.12"), "en", 1, "12.0%"),
        (Decimal("0.1234"), "en", 2, "12.34%"),
        (Decimal("0.125"), "en", 0, "12%"),
        (12.5, "en", 1, "1,250.0%"),
        (0.125, "ja", 1, "12.5%"),
    ],
)
def test_format_percent(value, locale, digits, expected):
    assert format_percent(value, locale, digits) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # unknown locale, in every function that takes one
        (lambda: format_money(1, "JPY", locale="fr"), r"Unknown locale 'fr'; use one of: en, ja"),
        (lambda: format_partial_date("2024", "en_US"), r"Unknown locale 'en_US'; use one of: en, ja"),
        (lambda: basis_label(Basis.ABOUT, "de"), r"Unknown locale 'de'"),
        # not a number
        (lambda: format_money(float("nan"), "JPY"), r"An amount must be a finite number, got nan"),
        (lambda: format_money(Decimal("Infinity"), "JPY"), r"An amount must be a finite number, got Infinity"),
        # unknown basis
        (lambda: format_money(1, "JPY", basis="roughly"), r"'roughly' is not a valid Basis"),
        # a period that runs backwards
        (
            lambda: format_fiscal_period(2030, 2026),
            r"A fiscal period cannot end \(FY2026\) before it starts \(FY2030\)",
        ),
        # a share missing the bound its basis needs
        (
            lambda: format_share(40, None, ShareBasis.RANGE),
            r"A share with basis 'range' needs share_low and share_high; got low=40, high=None",
        ),
        (
            lambda: format_share(None, None, ShareBasis.ABOUT),
            r"A share with basis 'about' needs share_low; got low=None",
        ),
        # not a partial date
        (lambda: format_partial_date("19 Apr 2024"), r"YYYY, YYYY-MM or YYYY-MM-DD"),
        (lambda: format_percent(0.5, digits=-1), r"digits must be 0 or more, got -1"),
    ],
)
def test_errors_say_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


_EN_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
_JA_UNITS = {"兆": 10**12, "億": 10**8, "万": 10**4}


def _read_en(text: str) -> Decimal:
    """Read back '¥72.5B' as 72,500,000,000."""
    number, suffix = re.fullmatch(r"¥([\d,.]+)([KMBT]?)", text).groups()
    return Decimal(number.replace(",", "")) * _EN_SUFFIXES[suffix]


def _read_ja(text: str) -> Decimal:
    """Read back '1兆2,390億円' as 1,239,000,000,000."""
    total = Decimal(0)
    for number, unit in re.findall(r"([\d,.]+)(兆|億|万|円)", text):
        total += Decimal(number.replace(",", "")) * _JA_UNITS.get(unit, 1)
    return total


yen = st.decimals(min_value=1, max_value=Decimal("1e15"), places=0)


@given(yen)
def test_english_yen_reads_back_within_rounding(amount):
    # two decimals of the shown unit: within half of 0.01 of a figure of at least 1 unit
    assert _read_en(format_money(amount, "JPY")) == pytest.approx(amount, rel=Decimal("0.005"))


@given(yen)
def test_japanese_yen_reads_back_within_rounding(amount):
    text = format_money(amount, "JPY", locale="ja")
    assert re.fullmatch(r"([\d,.]+[兆億万])*[\d,.]*円", text)
    assert _read_ja(text) == pytest.approx(amount, rel=Decimal("0.005"))


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e18"), allow_nan=False, allow_infinity=False)
    | st.integers(min_value=1, max_value=10**18)
    | st.floats(min_value=0.01, max_value=1e18),
    st.sampled_from(supported_currencies()),
    st.sampled_from(LOCALES),
    st.none() | st.sampled_from(Basis),
)
def test_format_money_never_fails_for_positive_amounts(amount, currency, locale, basis):
    text = format_money(amount, currency, locale=locale, basis=basis)
    assert re.search(r"\d", text)
    assert not text.startswith("-")


# Amounts across every compact unit, near the edges where rounding carries into the next unit
# (999,995 is $1M), negative and tiny ones included.
_amounts = st.one_of(
    st.decimals(min_value=-(10**17), max_value=10**17, allow_nan=False, allow_infinity=False, places=4),
    st.builds(
        lambda power, back: Decimal(10) ** power - Decimal(back),
        st.integers(min_value=3, max_value=16),
        st.sampled_from(["0.001", "0.005", "0.5", "1", "5", "50", "500"]),
    ),
)


@given(amount=_amounts, currency=st.sampled_from(["USD", "JPY", "EUR", "GBP", "KRW"]))
def test_compact_english_reuses_text_only_for_figures_babel_writes_the_same(amount: Decimal, currency: str) -> None:
    """Figures that round alike share one text; each is exactly what Babel writes for it alone.

    Each example writes a cluster of nearby figures (a few per thousand apart, and a hair apart), so
    a text reused for a figure that Babel writes differently would show.
    """
    from babel.numbers import format_compact_currency

    for step in (*range(-30, 31, 3), 0):
        for nudge in (Decimal(0), Decimal("0.0001"), Decimal("-0.0049")):
            figure = amount * (1 + Decimal(step) / 1000) + nudge
            shown = figure.quantize(Decimal("0.01")) if abs(figure) < 1000 else figure
            expected = format_compact_currency(shown, currency, locale="en_US", fraction_digits=2)
            assert format_money(figure, currency, locale="en") == expected, figure


@given(
    amount=_amounts,
    currency=st.sampled_from(["USD", "JPY", "EUR", "GBP", "KRW", "CAD", "SGD", "INR", "CNY"]),
)
def test_compact_english_template_writes_what_babel_writes(amount: Decimal, currency: str) -> None:
    """The fast path writes a figure's digits into Babel's own text for its unit, or leaves it to Babel.

    Compared with Babel itself figure by figure (no reused text), currencies with the house's own
    symbols (C$, S$) included.
    """
    from babel.numbers import format_compact_currency

    from aifunding.money.compact import _compact_en_from_template, _compact_step, apply_symbol_override

    for step in (*range(-30, 31, 3), 0):
        figure = amount * (1 + Decimal(step) / 1000)
        if abs(figure) < 1000:
            figure = figure.quantize(Decimal("0.01"))
        magnitude, shown = _compact_step(figure)
        fast = _compact_en_from_template(magnitude, shown, currency)
        babel = format_compact_currency(figure, currency, locale="en_US", fraction_digits=2)
        assert fast is None or fast == apply_symbol_override(babel, currency, "en"), figure


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # Written from the unit's template: decimals kept to two, trailing zeros dropped, sign before the symbol.
        (Decimal("72530000000"), "JPY", "¥72.53B"),
        (Decimal("-1500"), "CAD", "-C$1.5K"),
        (Decimal("200000000000"), "SGD", "S$200B"),
        # Left to Babel: no unit below 1,000, the figure 1, a figure carried into the next unit.
        (Decimal("999.5"), "USD", None),
        (Decimal("1000000"), "USD", None),
        (Decimal("999999"), "USD", None),
    ],
)
def test_compact_english_template_cases(amount: Decimal, currency: str, expected: str | None) -> None:
    from aifunding.money.compact import _compact_en_from_template, _compact_step

    assert _compact_en_from_template(*_compact_step(amount), currency) == expected
