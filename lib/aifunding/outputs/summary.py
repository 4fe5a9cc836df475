"""The headline figures: the package's highlights and the totals the Overview leads with.

The Overview, the snapshot, presenter mode and ``aifunding summary`` all read :func:`headline`, so
what a stakeholder sees on the page is exactly what the command prints. Totals come from the one
adding rule (:mod:`aifunding.analysis.adding`); highlights are the rows the package's ``highlights`` table
names, in its order, each with its basis, date and sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral
from typing import Any

import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import SCOPES, AddingRule, Total
from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.memo import remembered
from aifunding.analysis.view import FilteredView, Prepared, recipient_count
from aifunding.data.frames import rows_where
from aifunding.data.vocabulary import Level
from aifunding.i18n import Translator
from aifunding.money.formatting import (
    format_composition,
    format_fiscal_period,
    format_money,
    format_partial_date,
    format_share,
)
from aifunding.money.fx import ConversionError, convert

TIER_ORDER = ("primary", "press", "secondary", "low")


def total_text(total: Total, lang: str = "en") -> str:
    """The total as its composition by basis ("¥387.3B + up to ¥72.5B"), or "—" when it adds nothing."""
    return format_composition(total.by_basis, total.currency, locale=lang) or "—"


def span_text(total: Total, lang: str = "en") -> str:
    """What the total adds, in words: how many figures, announced when, how many counted once."""
    t = Translator(lang)
    first, last = total.announced
    included, excluded, counted_once = total.counts
    parts = [t("summary.figures", n=included)]
    if first:
        dates = format_partial_date(first, lang)
        if last != first:
            dates = t("summary.range", first=dates, last=format_partial_date(last, lang))
        parts.append(t("summary.announced", dates=dates))
    if total.undated:
        parts.append(t("summary.undated", n=total.undated))
    if counted_once:
        parts.append(t("summary.counted_once", n=counted_once))
    parts.append(t("summary.left_out", n=excluded))
    return t("sentence.list").join(parts)


@dataclass(frozen=True)
class Highlight:
    """One figure the package leads with, ready to show as a tile."""

    position: int
    table: str
    row_id: str
    figure: str
    claim: str
    date: str
    basis: str
    sources: tuple[str, ...]
    source_ids: tuple[str, ...]
    page: str
    # The figure in the view's display currency, with the rate's date ("≈ $2.38B at 30 Jun 2026 rate").
    converted: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "table": self.table,
            "id": self.row_id,
            "figure": self.figure,
            "claim": self.claim,
            "date": self.date,
            "basis": self.basis,
            "sources": list(self.sources),
            "page": self.page,
            "converted": self.converted or None,
        }


@dataclass(frozen=True)
class Headline:
    """Everything the Overview's first screen shows, for one view."""

    currency: str | None
    totals: dict[str, Total]
    programmes: int
    recipients: int
    highlights: tuple[Highlight, ...]

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "currency": self.currency,
            "highlights": [h.as_dict() for h in self.highlights],
            "totals": {
                key: {**total.as_dict(lang), "text": total_text(total, lang)} for key, total in self.totals.items()
            },
            "programmes": self.programmes,
            "recipients": self.recipients,
        }

    def as_text(self, lang: str = "en") -> str:
        t = Translator(lang)
        lines = []
        for h in self.highlights:
            figure = f"{h.figure} {h.converted}" if h.converted else h.figure
            lines.append(f"{figure}  {h.claim} ({h.date}; {h.basis}; {t('summary.sources')}: {'; '.join(h.sources)})")
        if lines:
            lines.append("")
        for key, total in self.totals.items():
            lines.append(f"{t(f'overview.{key}')}: {total_text(total, lang)}  ({span_text(total, lang)})")
            for entry in total.included:
                lines.append(f"  + {entry.id}  {_entry_money(entry, lang)}")
            for entry in total.excluded:
                lines.append(f"  - {entry.id}  {entry.reason_text(lang)}")
        lines.append(f"{t('overview.programmes')}: {self.programmes}")
        lines.append(f"{t('overview.recipients')}: {self.recipients}")
        return "\n".join(lines) + "\n"


def _entry_money(entry: Any, lang: str) -> str:
    if entry.amount is None or entry.currency is None:
        return ""
    return format_money(entry.amount, entry.currency, locale=lang, basis=entry.basis)


def adding_rule(prepared: Prepared) -> AddingRule:
    """The package's adding rule (built by :func:`~aifunding.analysis.view.prepare`)."""
    return prepared.adding or AddingRule.for_package(prepared.package)


def headline(prepared: Prepared, view: FilteredView) -> Headline:
    """The highlights and the headline totals for ``view`` (its filters, language and currency)."""
    rule = adding_rule(prepared)
    money = view.money
    currency = money.currency
    # The rule reads each row through ``within`` from the whole frames: the view's award columns are read
    # only for converted amounts, so a view in published amounts never takes them out of the prepared awards.
    awards = view.awards if money.converted else view.award_columns(["id"])
    totals = rule.totals(
        SCOPES,
        view.programmes,
        awards,
        value_column=money.value_column,
        currency_column=money.currency_column,
        currency=currency,
        within=view.selection,
        # A programme's declared amount holds every recipient's money: for some organisations, their awards.
        awards_only=bool(view.state.organisations),
    )
    programmes = int(view.programmes.loc[view.programmes["level"] == Level.PROGRAMME, "id"].nunique())
    recipients = recipient_count(prepared, view)
    return Headline(
        currency or next((t.currency for t in totals.values() if t.currency), None),
        totals,
        programmes,
        recipients,
        kept_highlights(prepared, view.state.lang, view.state.fx),
    )


def kept_highlights(prepared: Prepared, lang: str, fx: FxChoice | None) -> tuple[Highlight, ...]:
    """:func:`highlights`, the same for every filter: found once per language and currency, not on each new
    filter's first visit, and shared by the headline and presenter mode's cards."""
    return remembered(prepared, ("highlights", lang, fx), lambda: highlights(prepared, lang, fx=fx))


def highlights(prepared: Prepared, lang: str = "en", fx: FxChoice | None = None) -> tuple[Highlight, ...]:
    """The package's highlights in order, each resolved to its row's figure, date and sources.

    With ``fx`` a money figure also reads in the display currency, at the rate the charts use; the
    published figure stays the headline.
    """
    package = prepared.package
    rows = package.frame("highlights").sort_values("position", kind="stable")
    if rows.empty:
        return ()
    t = Translator(lang)
    # Only the rows the highlights name, found in one vector pass each, with the sources the views already
    # list for each row (as its citations name them, in order): a package can hold a million awards and as
    # many citations, which a restarted server would otherwise read from disk for the Overview's few tiles.
    programmes = rows_where(prepared.programmes, {"id": rows["programme_id"].dropna().unique()}).set_index("id")
    awards = rows_where(prepared.awards, {"id": rows["award_id"].dropna().unique()}).set_index("id")
    shares = rows_where(prepared.market_shares, {"id": rows["market_share_id"].dropna().unique()}).set_index("id")
    sources = package.frame("sources")
    publishers = dict(zip(sources["id"], sources["publisher"], strict=True))
    # The strongest sources first: a tile has room for two.
    tier_rank = {sid: TIER_ORDER.index(tier) for sid, tier in zip(sources["id"], sources["tier"], strict=True)}
    result: list[Highlight] = []
    for row in rows.itertuples(index=False):
        claim = row.claim_ja if lang == "ja" and isinstance(row.claim_ja, str) else str(row.claim_en)
        converted = ""
        if isinstance(row.programme_id, str):
            table, row_id, record = "programmes", row.programme_id, _record(programmes, row.programme_id)
            figure, date, basis = _money_figure(record, lang), _programme_date(record, lang), _basis_word(record, t)
            converted = _converted(record, fx, lang)
        elif isinstance(row.award_id, str):
            table, row_id, record = "awards", row.award_id, _record(awards, row.award_id)
            converted = _converted(record, fx, lang)
            figure, date, basis = (
                _money_figure(record, lang),
                format_partial_date(_text(record["announced"]), lang),
                _basis_word(record, t),
            )
        else:
            # A highlight names exactly one row: neither a programme nor an award, so a market share.
            table, row_id = "market_shares", str(row.market_share_id)
            record = _record(shares, row_id)
            figure = format_share(_number(record["share_low"]), _number(record["share_high"]), record["basis"], lang)
            date, basis = str(record["year_label"]), t(f"share_basis.{record['basis']}")
        cited = record[C.SOURCE_IDS]
        source_ids = tuple(sorted(cited, key=lambda sid: tier_rank.get(sid, len(TIER_ORDER))))
        position = row.position
        if not isinstance(position, Integral):  # a required whole-number column (a numpy integer here)
            raise TypeError(f"highlight position {position!r} is not a whole number")
        result.append(
            Highlight(
                int(position),
                table,
                row_id,
                figure,
                claim,
                date,
                basis,
                tuple(publishers.get(s, s) for s in source_ids),
                source_ids,
                str(row.page),
                converted,
            )
        )
    return tuple(result)


def _record(frame: pd.DataFrame, row_id: str) -> pd.Series:
    """The row of ``frame`` (indexed by id) with id ``row_id``; validation keeps ids unique."""
    record = frame.loc[row_id]
    if not isinstance(record, pd.Series):
        raise ValueError(f"more than one row has the id '{row_id}'")
    return record


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> Decimal | None:
    if value is None or pd.isna(value):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _money_figure(record: pd.Series, lang: str) -> str:
    amount, currency = record["amount"], record["currency"]
    if _number(amount) is None or not isinstance(currency, str):
        return Translator(lang)("common.no_amount")
    return format_money(Decimal(amount), currency, locale=lang, basis=_text(record["basis"]))


def _converted(record: pd.Series, fx: FxChoice | None, lang: str) -> str:
    """ "≈ $2.38B (rate of 30 Jun 2026)", or "" when no currency is chosen or no rate applies."""
    amount, currency = _number(record["amount"]), _text(record["currency"])
    if fx is None or amount is None or currency is None or currency == fx.currency:
        return ""
    at = fx.at if fx.fixed else _text(record["announced"])
    if at is None:
        return ""
    try:
        result = convert(amount, currency, fx.currency, at)
    except ConversionError:
        return ""
    figure = format_money(result.amount, fx.currency, locale=lang, basis=_text(record["basis"]))
    return Translator(lang)("summary.converted", amount=figure, date=format_partial_date(result.rate.rate_date, lang))


def _basis_word(record: pd.Series, t: Translator) -> str:
    basis = _text(record["basis"])
    return t(f"basis.{basis}") if basis else t("basis.none")


def _programme_date(record: pd.Series, lang: str) -> str:
    """The announcement date, with the fiscal years the figure covers when the data gives them."""
    announced = format_partial_date(_text(record["announced"]), lang)
    start, end = _number(record.get("period_start_fy")), _number(record.get("period_end_fy"))
    if start is not None and end is not None:
        return f"{format_fiscal_period(int(start), int(end), lang)} · {announced}"
    return announced


__all__ = ["Headline", "Highlight", "headline", "highlights", "span_text", "total_text"]
