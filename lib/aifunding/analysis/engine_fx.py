"""Conversion in the analytical engine: each amount joined to a small table of rates, multiplied exactly.

The rates table has one row per (currency, date) the package's amounts use, made by the pandas path's
own :func:`~aifunding.analysis.conversion.convert_frame` (one unit of each currency at each date), so
the rate, its date and fallbacks, and the reason a figure is not converted are the same on every path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from aifunding import columns as C
from aifunding.analysis.conversion import CENTS, NO_AMOUNT_NOTE, FxChoice, convert_frame
from aifunding.analysis.engine_tables import AMOUNT_DTYPE, MAX_DIGITS, Tables, register
from aifunding.data.amounts import AMOUNT_DECIMALS

# The columns conversion.convert_frame adds, in its order; a programme also gets its converted allocation.
FX_COLUMNS = [C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY, C.FX_RATE, C.FX_RATE_DATE, C.FX_METHOD, C.FX_NOTE]
FX_PROGRAMME_COLUMNS = [*FX_COLUMNS, C.ALLOCATED_CONVERTED]
# The rates table's keys: a figure's currency and date, "" where it has none (so a missing one still joins).
RATE_CURRENCY = "fx_currency_key"
RATE_DATE = "fx_date_key"


@dataclass(frozen=True)
class Rates:
    """The rates one money choice needs, registered in an engine; ``rate_type`` holds each one exactly."""

    choice: FxChoice
    table: ibis.Table
    rate_type: dt.Decimal


def rate_type(rates: list[Decimal]) -> dt.Decimal:
    """``decimal(38, s)``, s the most decimal places of any rate (at least the amounts' 4).

    The amounts' ``decimal(38, 4)`` times this is ``decimal(38, 4 + s)`` on both engines (Spark without
    precision loss, see :data:`SPARK_CONFIG`): every digit of the product kept, or an overflow error when
    it would need more than 38, never a rounded result.
    """
    places = (max(0, -int(r.normalize().as_tuple().exponent)) for r in rates)
    return dt.Decimal(MAX_DIGITS, max([AMOUNT_DECIMALS, *places]))  # (no rate at all: the amounts' 4)


def fx_rates(tables: Tables, choice: FxChoice) -> Rates:
    """The rate for every (currency, date) of an award or programme with an amount, as the pandas path picks it.

    The rates are ``convert_frame``'s for one unit of each currency at each date (the day's ECB rate or the
    last one before it, a month or year average for a partial date, the reason when there is none), so
    both paths make the same choice. With a fixed date the date plays no part and each currency is one row.
    Made once per money choice and package, registered in its engine: a few thousand rows at most.
    """
    if choice in tables.rates:
        return tables.rates[choice]
    found = []
    for table in (tables["awards"], tables["programmes"]):
        with_amount = table.filter(table.amount.notnull())
        when = ibis.null(str) if choice.fixed else with_amount.announced
        found.append(with_amount.select(currency=with_amount.currency, announced=when).distinct().to_pandas())
    pairs = pd.concat(found, ignore_index=True).astype(object)
    pairs = pairs.where(pairs.notna(), None).drop_duplicates(ignore_index=True)
    units = convert_frame(pairs.assign(amount=Decimal(1)), choice)
    rates = [_none_if_missing(r) for r in units[C.FX_RATE]]
    kind = rate_type([r for r in rates if r is not None])

    def text(column: pd.Series) -> pa.Array:
        return pa.array([None if _none_if_missing(v) is None else str(v) for v in column], type=pa.string())

    arrow = pa.table(
        {
            RATE_CURRENCY: pa.array([c or "" for c in pairs["currency"]], type=pa.string()),
            RATE_DATE: pa.array([d or "" for d in pairs["announced"]], type=pa.string()),
            C.FX_RATE: pa.array(rates, type=pa.decimal128(kind.precision, kind.scale)),
            C.FX_RATE_DATE: text(units[C.FX_RATE_DATE]),
            C.FX_METHOD: text(units[C.FX_METHOD]),
            C.FX_NOTE: text(units[C.FX_NOTE]),
        }
    )
    name = f"aifunding_{uuid.uuid4().hex[:12]}_fx_rates"
    tables.rates[choice] = Rates(choice, register(tables.con, name, arrow), kind)
    return tables.rates[choice]


def _none_if_missing(value: Any) -> Any:
    return None if value is None or (not isinstance(value, (str, Decimal)) and pd.isna(value)) else value


def times_rate(value: ibis.Value, rate: ibis.Value, kind: dt.Decimal) -> ibis.Value:
    """``value`` (a ``decimal(38, 4)`` amount) times a rate of type ``kind``, exactly (see :func:`rate_type`)."""
    return (value.cast(AMOUNT_DTYPE) * rate.cast(kind)).cast(dt.Decimal(MAX_DIGITS, AMOUNT_DECIMALS + kind.scale))


def cents_half_even(value: ibis.Value) -> ibis.Value:
    """``value`` to the cent, a half cent to the even cent (``Decimal.quantize`` with ROUND_HALF_EVEN).

    Written with remainders rather than ``round``, which rounds half away from zero on both engines.
    """
    cent = ibis.literal(CENTS, type=dt.Decimal(3, 2))
    half = ibis.literal(CENTS / 2, type=dt.Decimal(4, 3))
    rest = value % cent  # the sign of value on DuckDB and on Spark
    down = value - rest  # toward zero, to the cent
    odd = (down % ibis.literal(2 * CENTS, type=dt.Decimal(3, 2))) != 0
    away = (rest.abs() > half) | ((rest.abs() == half) & odd)
    step = ibis.ifelse(value < 0, ibis.literal(-CENTS, type=dt.Decimal(3, 2)), cent)
    return ibis.ifelse(away, down + step, down).cast(dt.Decimal(MAX_DIGITS, 2))


def with_rates(figures: ibis.Table, rates: Rates) -> ibis.Table:
    """``figures`` with convert_frame's columns, from a join to the rates table."""
    table = rates.table
    match = figures.currency.coalesce("") == table[RATE_CURRENCY]
    if not rates.choice.fixed:
        match &= figures.announced.coalesce("") == table[RATE_DATE]
    joined = figures.left_join(table, match)
    has = joined.amount.notnull()
    rate = ibis.ifelse(has, joined[C.FX_RATE], ibis.null(rates.rate_type))
    converted = times_rate(joined.amount, rate, rates.rate_type)
    return joined.select(
        *figures.columns,
        **{
            C.AMOUNT_CONVERTED: converted,
            C.CONVERTED_CURRENCY: ibis.literal(rates.choice.currency, type="string"),
            C.FX_RATE: rate,
            C.FX_RATE_DATE: ibis.ifelse(has, joined[C.FX_RATE_DATE], ibis.null(str)),
            C.FX_METHOD: ibis.ifelse(has, joined[C.FX_METHOD], ibis.null(str)),
            C.FX_NOTE: ibis.ifelse(has, joined[C.FX_NOTE], ibis.literal(NO_AMOUNT_NOTE)),
        },
    )
