"""The money choice and the conversion step: which amounts a view shows, and converting frames to them.

A view shows amounts either in their original currencies or converted to one currency at ECB
reference rates (on each announcement date, or on one fixed date). :class:`Money` carries that
choice to every chart and table, which read the columns it names and never guess from a column
name; :func:`convert_programmes` produces a programme's converted allocation and per-year amount
in the same step as its converted amount, at the same rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.sequences import sorted_distinct
from aifunding.money.fx import ConversionError, Rate, rate_at

# Why a row was not converted, when the reason is this module's own rather than the fx module's.
NO_AMOUNT_NOTE = "no published amount"
NO_DATE_NOTE = "no announcement date, so no announcement-date rate"
ANNOUNCEMENT = "announcement"
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class FxChoice:
    """Which rate converts a figure: at each announcement date, or at one fixed date."""

    currency: str
    at: str = ANNOUNCEMENT  # "announcement" or a partial date YYYY[-MM[-DD]]

    @property
    def fixed(self) -> bool:
        return self.at != ANNOUNCEMENT


@dataclass(frozen=True)
class Money:
    """The amounts a view shows: original currencies (``fx`` None) or converted by ``fx``."""

    fx: FxChoice | None = None

    @property
    def converted(self) -> bool:
        return self.fx is not None

    @property
    def currency(self) -> str | None:
        """The one display currency, or None for original currencies."""
        return self.fx.currency if self.fx else None

    @property
    def value_column(self) -> str:
        """The amount column to draw: converted when a currency is chosen."""
        return C.AMOUNT_CONVERTED if self.fx else "amount"

    @property
    def currency_column(self) -> str:
        """The currency of :attr:`value_column`."""
        return C.CONVERTED_CURRENCY if self.fx else "currency"

    @property
    def allocated_column(self) -> str:
        """A programme's sum of awards in the same money as :attr:`value_column`."""
        return C.ALLOCATED_CONVERTED if self.fx else C.ALLOCATED


ORIGINAL = Money()


def convert_frame(
    frame: pd.DataFrame,
    choice: FxChoice,
    *,
    amount_column: str = "amount",
    currency_column: str = "currency",
    date_column: str = "announced",
) -> pd.DataFrame:
    """Add converted amounts with the rate, its date and method used for each row.

    Rows that cannot be converted (no amount, no announcement date, a currency outside the ECB
    table, a date outside it) keep a missing converted amount and say why in ``fx_note``.
    """
    result = frame.copy()
    present, group, looked = _rates_by_group(
        result, choice, amount_column=amount_column, currency_column=currency_column, date_column=date_column
    )
    # Each group's rate, its date, method and note are spread to the rows as vectors; only the
    # multiplications are done a row at a time (a million awards carry a few thousand groups).
    found = np.array([not isinstance(rate, str) for rate in looked], dtype=bool)
    # One row per group (rate, its date, method, note), and a last one for the rows without an amount. An undated
    # figure already in the chosen currency has rate 1 and no date ("" from rate_at).
    by_group = np.empty((len(looked) + 1, 4), dtype=object)
    by_group[:] = [
        *(
            (None, None, None, rate)
            if isinstance(rate, str)
            else (rate.rate, rate.rate_date or None, str(rate.method), None)
            for rate in looked
        ),
        (None, None, None, NO_AMOUNT_NOTE),
    ]
    rows = np.full(len(result), len(looked), dtype=np.intp)
    rows[present] = group
    rates = by_group[rows, 0]
    converted = np.full(len(result), None, dtype=object)
    taken = present[found[group]]  # the rows with an amount and a rate
    converted[taken] = [
        (amount if type(amount) is Decimal else Decimal(amount)) * rate
        for amount, rate in zip(
            result[amount_column].to_numpy(dtype=object)[taken].tolist(), rates[taken].tolist(), strict=True
        )
    ]
    result[C.AMOUNT_CONVERTED] = converted.tolist()
    result[C.CONVERTED_CURRENCY] = choice.currency
    result[C.FX_RATE] = rates.tolist()
    # The text columns as pandas makes them of the rows' values (text; objects when every one is missing),
    # made of each group's value once: a million awards' dates and notes are not a million Python strings.
    # Types are inferred from the values the rows take: every group is some row's (each is a pair found among
    # them), the last entry only when a row has no amount.
    used = by_group if len(present) < len(result) else by_group[:-1]
    for name, column in ((C.FX_RATE_DATE, 1), (C.FX_METHOD, 2), (C.FX_NOTE, 3)):
        values = pd.Series(used[:, column].tolist())
        result[name] = values.take(rows).set_axis(result.index) if len(result) else []
    return result


# Every view converting its rows asks for the same few thousand (currency, date) rates again: each answer,
# a rate or why there is none, is remembered (rates are frozen; the ECB table ships with the code).
@lru_cache(maxsize=65536)
def rate_or_note(currency: Any, at: Any, choice: FxChoice) -> Rate | str:
    """The rate converting ``currency`` on ``at`` (a date, partial or whole) to the chosen one, or why there is none."""
    try:
        # A figure already in the chosen currency needs no rate, so no date: an undated yen figure shown in yen
        # was left out as "no announcement date" (rate_at gives such a figure rate 1 whatever its date).
        if at is None and currency != choice.currency:
            raise ConversionError(NO_DATE_NOTE)
        return rate_at(currency, choice.currency, at)
    except ConversionError as exc:
        return str(exc)


def conversion_notes(frame: pd.DataFrame, choice: FxChoice) -> pd.Series:
    """Each row's ``fx_note`` as :func:`convert_frame` writes it, without converting any amount.

    The same groups and rate lookups as the conversion, spread to the rows by their group: a million
    awards' notes in a fraction of the time converting them takes.
    """
    present, group, looked = _rates_by_group(frame, choice)
    by_group = np.array([note if isinstance(note, str) else None for note in looked], dtype=object)
    notes = np.full(len(frame), NO_AMOUNT_NOTE, dtype=object)
    notes[present] = by_group[group]
    return pd.Series(notes, index=frame.index, dtype=object)


def _rates_by_group(
    frame: pd.DataFrame,
    choice: FxChoice,
    *,
    amount_column: str = "amount",
    currency_column: str = "currency",
    date_column: str = "announced",
) -> tuple[np.ndarray, np.ndarray, list[Rate | str]]:
    """The rows with an amount, each one's (currency, date) group, and each group's rate or why there is none.

    A rate is looked up once per currency and date: a million awards carry a few thousand of them. The
    rows are grouped as vectors; only the caller's multiplications are done a row at a time.
    """
    present = np.flatnonzero(~frame[amount_column].isna().to_numpy())  # rows with no amount have no rate to find
    currency_codes, currencies = _codes(frame[currency_column])
    if choice.fixed:
        date_codes, dates = np.zeros(len(frame), dtype=np.int64), [choice.at]
    else:
        date_codes, dates = _codes(frame[date_column])
    width = len(dates) + 1
    pairs, group = sorted_distinct(currency_codes[present] * width + date_codes[present])
    looked = [rate_or_note(currencies[pair // width], dates[pair % width], choice) for pair in pairs.tolist()]
    return present, group, looked


def _codes(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Each cell's code among the column's distinct values (as a dict's keys tell them apart); the last, None."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = [*uniques.tolist(), None]  # a missing cell's code, -1, reads the None at the end
    return np.where(codes < 0, len(values) - 1, codes).astype(np.int64), values


def _at_rate(values: pd.Series, rates: pd.Series, same_currency: pd.Series) -> list[Decimal | None]:
    """Each value times its row's rate, to the cent; empty where there is no rate or the currency differs."""
    return [
        (v * Decimal(str(r))).quantize(CENTS, rounding=ROUND_HALF_EVEN)
        if isinstance(v, Decimal) and ok and r is not None and not pd.isna(r)
        else None
        for v, r, ok in zip(values, rates, same_currency, strict=True)
    ]


def convert_programmes(frame: pd.DataFrame, choice: FxChoice) -> pd.DataFrame:
    """Programmes converted as :func:`convert_frame` does, with their sums at each row's own rate.

    A programme's allocation (the sum of its awards) and its per-year amount are converted at the
    rate its own amount was, so a bar and its "allocated" marker share one rate; an allocation in
    another currency than the programme's amount stays empty rather than being scaled wrongly.
    """
    result = convert_frame(frame, choice)
    rates = result[C.FX_RATE]
    if C.ALLOCATED in result.columns:
        same = (
            result[C.ALLOCATED_CURRENCY] == result["currency"]
            if C.ALLOCATED_CURRENCY in result.columns
            else pd.Series(True, index=result.index)
        )
        # pandas-stubs' column values leave out Decimal (see convert_frame).
        result[C.ALLOCATED_CONVERTED] = _at_rate(result[C.ALLOCATED], rates, same)  # type: ignore[assignment]
    if C.ANNUALISED in result.columns:
        annualised = _at_rate(result[C.ANNUALISED], rates, pd.Series(True, index=result.index))
        result[C.ANNUALISED_CONVERTED] = annualised  # type: ignore[assignment]
    return result
