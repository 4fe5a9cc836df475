"""The amount range every step honours, checked by reading a Decimal's digits, and amounts in plain text.

An amount of ``1e10000000`` must be refused before anything computes with it: normalising or
formatting it overflows the decimal context, so the checks here compare and count digits only (no context arithmetic).
"""

from __future__ import annotations

from decimal import Decimal

# The range every step (formatting in both languages, conversion, every export, every chart) honours:
# the largest real figure is about ¥50 trillion (5 x 10^13), far inside it.
AMOUNT_LIMIT = Decimal(10) ** 18
AMOUNT_DIGITS = 18
AMOUNT_DECIMALS = 4


def check_precision(value: Decimal) -> Decimal:
    """At most 18 significant digits and 4 decimal places (read off the digits: no context arithmetic)."""
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError("must be a finite number")
    trailing = _trailing_zeros(digits)
    decimals = max(0, -(exponent + trailing))
    significant = len(digits) - trailing - _leading_zeros(digits)
    if decimals > AMOUNT_DECIMALS:
        raise ValueError(f"has {decimals} decimal places; at most {AMOUNT_DECIMALS} are allowed")
    if significant > AMOUNT_DIGITS:
        raise ValueError(f"has {significant} significant digits; at most {AMOUNT_DIGITS} are allowed")
    return value


def _trailing_zeros(digits: tuple[int, ...]) -> int:
    count = 0
    for digit in reversed(digits):
        if digit:
            break
        count += 1
    return count


def _leading_zeros(digits: tuple[int, ...]) -> int:
    count = 0
    for digit in digits:
        if digit:
            break
        count += 1
    return count


def decimal_text(value: Decimal) -> str:
    """``value`` in plain notation, without an exponent or trailing zeros after the point."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
