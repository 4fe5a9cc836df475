"""Each recipient's totals in a view, added up row by row from the pandas view: what the engine's query must give."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import pandas as pd

from aifunding import columns as C
from aifunding.analysis.distinct import localized_by_value
from aifunding.analysis.totals import split_by_basis
from aifunding.analysis.view import Prepared, ViewState, apply_view


class RecipientGroup(NamedTuple):
    label: str
    currency: str | None
    parts: dict[str, Decimal]  # as split_by_basis gives them
    awards: int
    unpublished: int


def recipient_currencies(labels: pd.Series, currencies: pd.Series) -> list[object]:
    """Each award's currency; an award without an amount names none, and counts in its recipient's one currency
    when the recipient's awards with an amount are all in one, else in a row of its own (no currency)."""
    seen: dict[str, set[str]] = {}
    for label, money in zip(labels, currencies, strict=True):
        if not pd.isna(money):
            seen.setdefault(label, set()).add(money)
    return [
        next(iter(seen[label])) if pd.isna(money) and len(seen.get(label, ())) == 1 else money
        for label, money in zip(labels, currencies, strict=True)
    ]


def recipient_groups(prepared: Prepared, state: ViewState) -> list[RecipientGroup]:
    """The view's awards grouped by recipient (in the view's language) and currency (an award without an amount
    in its recipient's one currency), each group added up row by row; each currency's recipients together
    (none last), largest first (every amount), then by name."""
    view = apply_view(prepared, state)
    awards = view.awards
    value, currency = view.money.value_column, view.money.currency_column
    frame = pd.DataFrame(
        {
            "label": localized_by_value(awards, C.PROJECT_LABEL, state.lang),
            "currency": awards[currency],
            "value": awards[value],
            "basis": awards["basis"],
        }
    )
    frame["currency"] = recipient_currencies(frame["label"], frame["currency"])
    ranked = []
    for (label, money), group in frame.groupby(["label", "currency"], sort=False, dropna=False):
        values = [None if pd.isna(v) else v for v in group["value"]]
        money = None if pd.isna(money) else money
        parts = split_by_basis(zip(values, group["basis"], strict=True))
        added = sum((v for v in values if v is not None), Decimal(0))
        row = RecipientGroup(label, money, parts, len(group), sum(v is None for v in values))
        ranked.append(((money is None, money or "", -added, label), row))
    return [row for _, row in sorted(ranked, key=lambda pair: pair[0])]
