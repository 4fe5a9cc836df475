"""Validator messages a non-programmer understands: pydantic's errors reworded to say what is allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_FIELD_HINTS = {
    "id": "use lowercase letters, digits and hyphens, starting with a letter or digit (for example kddi-2024-04)",
    "currency": "use a three-letter ISO 4217 code in capitals, such as JPY or USD",
    "country_id": "use a two-letter country code in capitals (JP, GB) or EU",
    "url": "use a full web address starting with http:// or https://",
    "language": "use a two-letter ISO 639-1 code in lowercase, such as en or ja",
}

# The one rule for zero and negative money, said where a register's reduction or repayment is refused:
# a row is money awarded, so a reduction is folded into the figure it reduces.
_MORE_THAN_ZERO = {
    "amount": "must be more than zero; record a reduction or repayment by lowering the amount it reduces "
    "to the net figure, and say so in the note",
    "project_cost": "must be more than zero; leave it empty when no cost is published",
}


def friendly_message(err: Any, column: str | None) -> str:
    """Turn a pydantic error into a sentence that says what is allowed."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing" or (value is None and kind.endswith("_type")):
        return "is required but empty"
    if kind == "enum":
        return f"'{value}' is not allowed; use one of: {ctx.get('expected', '')}"
    if kind in ("decimal_parsing", "decimal_type", "float_parsing"):
        return f"'{value}' is not a number; write amounts as plain digits with no separators or symbols (72500000000)"
    if kind == "plain_decimal":
        example = "30 or 12.5" if column and column.startswith("share_") else "72500000000"
        return (
            f"'{value}' is not written as plain digits; write numbers with the digits 0-9 and at most one decimal "
            f"point: no underscores, exponent (1e9), sign or full-width digits ({example})"
        )
    if kind in ("int_parsing", "int_from_float"):
        return f"'{value}' is not a whole number"
    if kind == "plain_whole":
        return (
            f"'{value}' is not a whole number written as plain digits; write the digits 0-9 only: "
            "no underscores, sign, decimal point or full-width digits (2024)"
        )
    if kind == "greater_than":
        if column in _MORE_THAN_ZERO:
            return _MORE_THAN_ZERO[column]
        return f"must be greater than {ctx.get('gt')}"
    if kind == "less_than":
        limit = ctx.get("lt")
        shown = f"{limit:,}" if isinstance(limit, int | Decimal) else str(limit)
        return f"{value} is too large: it must be below {shown}"
    if kind == "finite_number":
        return f"'{value}' is not a finite number; write the amount as plain digits"
    if kind == "greater_than_equal":
        return f"{value} is too small: it must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{value} is too large: it must be at most {ctx.get('le')}"
    if kind == "string_pattern_mismatch":
        if column and (column.endswith("_id") or column == "id"):
            return f"'{value}' is not a valid identifier; {_FIELD_HINTS['id']}"
        if column in _FIELD_HINTS:
            return f"'{value}' is not valid; {_FIELD_HINTS[column]}"
        if column and ("date" in column or column in ("announced", "published", "status_as_of")):
            return f"'{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD (for example 2024-04-19)"
        return f"'{value}' does not match the pattern {ctx.get('pattern')}"
    if kind in ("string_too_short",):
        return "must not be empty"
    if kind in ("string_too_long",):
        return f"is too long (at most {ctx.get('max_length')} characters)"
    message = str(err.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")
