"""The filter registry: each filter masks the awards and the programmes and reads itself aloud.

Filters follow Datasette's design (see :mod:`aifunding.analysis.view`, which applies them): a small
object per filter yields a mask over the rows and a phrase describing itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.data.dates import partial_bounds
from aifunding.data.frames import isin_texts
from aifunding.data.tree import ProgrammeTree


def date_mask(dates: pd.Series, start: datetime.date | None, end: datetime.date | None) -> pd.Series:
    """Rows whose (partial) date overlaps [start, end]; undated rows fail once a bound is set."""
    if start is None and end is None:
        return pd.Series(True, index=dates.index)

    def keep(value: object) -> bool:
        if not isinstance(value, str):
            return False
        first, last = partial_bounds(value)
        return (start is None or last >= start) and (end is None or first <= end)

    return dates.map(keep).astype(bool)


@dataclass(frozen=True)
class Context:
    """What filters need besides the rows: the programme tree and display names.

    ``names`` are English; ``names_by_lang`` holds other languages, each name falling back to English.
    """

    tree: ProgrammeTree
    names: Mapping[str, Mapping[str, str]]
    programmes_by_org: Mapping[str, set[str]]
    names_by_lang: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # Each language's order of the organisations (the keys of ``programmes_by_org``, by position) by name, worked
    # out when the package is prepared and kept with its views (:meth:`with_organisation_order`).
    organisation_order: Mapping[str, np.ndarray] = field(default_factory=dict)

    def names_in(self, lang: str) -> Mapping[str, Mapping[str, str]]:
        """Display names of countries, programmes and organisations in ``lang`` (English when missing)."""
        return self.names_by_lang.get(lang, self.names)

    def organisations_by_name(self, lang: str) -> list[str]:
        """The organisations that received an award, by their name in ``lang`` (case aside; ties in their order).

        Read off the order kept for ``lang`` when there is one: the sidebar's 100,000 recipients of a million
        awards took 0.16 to 0.21 s to sort on the first page of every restart.
        """
        keys = list(self.programmes_by_org)
        order = self.organisation_order.get(lang)
        if isinstance(order, np.ndarray) and order.shape == (len(keys),):
            return [keys[i] for i in order.tolist()]
        return [keys[i] for i in _order_by_name(keys, self.names_in(lang)["organisations"])]

    def with_organisation_order(self) -> Context:
        """This context with each of its languages' order of the organisations by name worked out."""
        keys = list(self.programmes_by_org)
        order = {
            lang: np.asarray(_order_by_name(keys, names["organisations"]), dtype=np.int64)
            for lang, names in {"en": self.names, **self.names_by_lang}.items()
        }
        return replace(self, organisation_order=order)


def _order_by_name(keys: list[str], names: Mapping[str, str]) -> list[int]:
    """The positions of ``keys`` in order of their names (an id without one by itself), case aside; stable."""
    shown = [names.get(key, key).lower() for key in keys]
    return sorted(range(len(keys)), key=shown.__getitem__)


@dataclass(frozen=True)
class Filter:
    """One filter: which state field it reads, how it masks awards and programmes, how it reads aloud."""

    key: str
    state_field: str
    award_mask: Callable[[pd.DataFrame, tuple[str, ...], Context], pd.Series]
    programme_mask: Callable[[pd.DataFrame, tuple[str, ...], Context], pd.Series]
    phrase_key: str
    names_from: str


def _scope(values: tuple[str, ...], ctx: Context) -> set[str]:
    return ctx.tree.subtrees(values)


def _among(values: pd.Series, wanted: Iterable[str]) -> pd.Series:
    """``values.isin(wanted)`` for many wanted ids (a programme's subtree), in one Arrow pass."""
    return pd.Series(isin_texts(values, wanted), index=values.index)


def _award_has_org(frame: pd.DataFrame, values: tuple[str, ...]) -> pd.Series:
    wanted = set(values)
    return frame[C.RECIPIENT_IDS].map(lambda ids: bool(wanted.intersection(ids))).astype(bool)


def _programme_awarded(frame: pd.DataFrame, values: tuple[str, ...], ctx: Context) -> pd.Series:
    awarding = set().union(*(ctx.programmes_by_org.get(v, set()) for v in values))
    return _among(frame["id"], ctx.tree.with_ancestors(awarding))


FILTERS: tuple[Filter, ...] = (
    Filter(
        "country",
        "countries",
        lambda f, v, ctx: f[C.COUNTRY_ID].isin(v),
        lambda f, v, ctx: f["country_id"].isin(v),
        "sentence.country",
        "countries",
    ),
    Filter(
        "programme",
        "programmes",
        lambda f, v, ctx: _among(f["programme_id"], _scope(v, ctx)),
        lambda f, v, ctx: _among(f["id"], _scope(v, ctx)),
        "sentence.programme",
        "programmes",
    ),
    Filter(
        "kind",
        "kinds",
        lambda f, v, ctx: f[C.KIND].isin(v),
        lambda f, v, ctx: f["kind"].isin(v),
        "sentence.kind",
        "kinds",
    ),
    Filter(
        "organisation",
        "organisations",
        lambda f, v, ctx: _award_has_org(f, v),
        # A programme is shown when it (or a round inside it) made an award to one of them.
        lambda f, v, ctx: _programme_awarded(f, v, ctx),
        "sentence.organisation",
        "organisations",
    ),
)
