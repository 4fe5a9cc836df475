"""The row models' cross-field validators as column predicates: which rows could fail each one.

A model validator (``@model_validator(mode="after")`` in :mod:`aifunding.data.models`) reads several
fields of one row, so it cannot be checked per distinct value. Each has a predicate here that marks
every row it could refuse, written from the validator's conditions; a marked row is then validated
by the model itself, which words the problem. Marking too many rows costs time and nothing else;
missing one would load a row the model refuses, so a validator with no predicate here (a new one,
or a renamed one) makes the table fall back to the per-row reader.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel

from aifunding.data import models
from aifunding.data.distinct import Column
from aifunding.data.vocabulary import ShareBasis


class Cells:
    """The checked cells of one table's rows, by field: what a predicate reads."""

    def __init__(self, columns: Mapping[str, Column], rows: int) -> None:
        self.columns = columns
        self.rows = rows

    def given(self, name: str) -> np.ndarray:
        """Per row, whether ``name`` holds a value (a failed cell holds none; its row is refused anyway)."""
        return self.columns[name].present_rows()

    def where(self, name: str, test: Callable[[Any], bool]) -> np.ndarray:
        return self.columns[name].where(test)

    def compare(self, left: str, op: Callable[[Any, Any], bool], right: str) -> np.ndarray:
        """Per row, whether both fields hold a value and ``op(left, right)`` holds."""
        both = self.given(left) & self.given(right)
        a, b = (self.columns[name].values[self.columns[name].codes[both]] for name in (left, right))
        hits = np.zeros(len(both), dtype=bool)
        hits[both] = np.fromiter(map(op, a, b), dtype=bool, count=len(a))
        return hits


Predicate = Callable[[Cells, type[BaseModel]], np.ndarray]


def _amount_fields(cells: Cells) -> np.ndarray:
    """:func:`~aifunding.data.models.check_amount_fields`: an amount needs currency and basis, a basis an amount."""
    amount, currency, basis = cells.given("amount"), cells.given("currency"), cells.given("basis")
    return (amount & ~(currency & basis)) | (~amount & basis)


def _programme(cells: Cells, model: type[BaseModel]) -> np.ndarray:
    return (
        _amount_fields(cells)
        | cells.compare("period_end_fy", operator.lt, "period_start_fy")
        | cells.compare("parent_id", operator.eq, "id")
    )


def _award(cells: Cells, model: type[BaseModel]) -> np.ndarray:
    cost, cost_basis = cells.given("project_cost"), cells.given("project_cost_basis")
    return _amount_fields(cells) | (cost != cost_basis) | (cost & ~cells.given("currency"))


def _market_share(cells: Cells, model: type[BaseModel]) -> np.ndarray:
    low, high, rank = cells.given("share_low"), cells.given("share_high"), cells.given("rank")

    def basis(*allowed: ShareBasis) -> np.ndarray:
        return cells.where("basis", lambda value: value in allowed)

    rank_only, more_than = basis(ShareBasis.RANK_ONLY), basis(ShareBasis.MORE_THAN)
    figures = ~rank_only
    return (
        (cells.where("rank_inferred", bool) & ~rank)
        | (rank_only & (low | high | ~rank))
        | (figures & ~low)
        | (figures & more_than & high)
        | (figures & ~more_than & ~high)
        | (figures & ~more_than & cells.compare("share_low", operator.gt, "share_high"))
        | (figures & basis(ShareBasis.RANGE) & cells.compare("share_low", operator.eq, "share_high"))
        | (figures & basis(ShareBasis.EXACT, ShareBasis.ABOUT) & cells.compare("share_low", operator.ne, "share_high"))
    )


def _milestone(cells: Cells, model: type[BaseModel]) -> np.ndarray:
    return (cells.given("due_date") == cells.given("due_fiscal_year")) | ~(
        cells.given("programme_id") | cells.given("award_id")
    )


def _one_target(cells: Cells, model: type[BaseModel]) -> np.ndarray:
    given = np.zeros(cells.rows, dtype=np.int64)
    for name in getattr(model, "target_fields", ()):  # a ClassVar of each subclass of _OneTarget
        given += cells.given(name)
    return given != 1


# Validator (its qualified name in aifunding.data.models) -> the predicate of the rows it could refuse.
PREDICATES: dict[str, Predicate] = {
    "Programme._amount_fields_together": _programme,
    "Award._amount_fields_together": _award,
    "MarketShare._share_consistent": _market_share,
    "Milestone._one_due": _milestone,
    "_OneTarget._exactly_one_target": _one_target,
}


def predicates_for(model: type[BaseModel]) -> list[Predicate] | None:
    """The predicate of each model validator of ``model``; None when one of them has none here."""
    found = []
    for decorator in model.__pydantic_decorators__.model_validators.values():
        function = decorator.func
        predicate = PREDICATES.get(function.__qualname__) if function.__module__ == models.__name__ else None
        if predicate is None:
            return None
        found.append(predicate)
    return found
