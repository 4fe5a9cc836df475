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


def recipient_groups(prepared: Prepared, state: ViewState) -> list[RecipientGroup]:
    """The view's awards grouped by recipient (in the view's language) and currency, each group added up
    row by row; each currency's recipients together (none last), largest first (every amount), then by name."""
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
    ranked = []
    for (label, money), group in frame.groupby(["label", "currency"], sort=False, dropna=False):
        values = [None if pd.isna(v) else v for v in group["value"]]
        money = None if pd.isna(money) else money
        parts = split_by_basis(zip(values, group["basis"], strict=True))
        added = sum((v for v in values if v is not None), Decimal(0))
        row = RecipientGroup(label, money, parts, len(group), sum(v is None for v in values))
        ranked.append(((money is None, money or "", -added, label), row))
    return [row for _, row in sorted(ranked, key=lambda pair: pair[0])]
