"""Display tables: the exact rows behind a chart, with amounts worded and sources named.

Pages show these under "Show data" and offer them as downloads; they keep the raw amount next to the worded one,
so a table sorts by value while it reads like the chart. Headers, names and worded cells are in the view's
language; the ``ID`` column is the same in every language because code reads it (:data:`ID_COLUMN`, :func:`column`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import HOME_CURRENCY, Total
from aifunding.analysis.conversion import CENTS, ORIGINAL, Money
from aifunding.analysis.distinct import floats, has_amount
from aifunding.analysis.metrics import localized
from aifunding.analysis.totals import CLASS_ORDER, basis_parts
from aifunding.analysis.view import FilteredView, fx_note_words
from aifunding.data.frames import rows_where
from aifunding.data.vocabulary import SupportKind, Tier
from aifunding.figures.base import Groups, money_label, money_labels
from aifunding.figures.worded import Worded, view_awards
from aifunding.i18n import Translator, translate
from aifunding.loading.package import Package
from aifunding.money.formatting import (
    basis_label,
    format_composition,
    format_fiscal_year,
    format_partial_date,
    format_share,
)

# The row id column of every display table, never translated: components.chart and the snapshot
# keep only the rows a chart drew by reading it.
ID_COLUMN = "ID"


def column(key: str, lang: str = "en") -> str:
    """The header of a display-table column in ``lang``: ``column("value", "ja")`` is "数値".

    Code that reads a display table names its columns through this, never by their English text.
    """
    return ID_COLUMN if key == "id" else translate(f"column.{key}", lang)


def _headed(cells: Mapping[str, Any], lang: str) -> pd.DataFrame:
    """A display table from ``{column key: values}``, headed in ``lang``."""
    return pd.DataFrame({column(key, lang): values for key, values in cells.items()})


def _text_ids(ids: Iterable[str], lookup: Mapping[str, str]) -> str:
    return "; ".join(lookup.get(i, i) for i in (ids or ()))


def _worded(values: pd.Series, prefix: str, t: Translator) -> pd.Series:
    """Vocabulary values in words ("planned" -> t("programme_status.planned")); gaps stay gaps."""
    return values.map(lambda v: t(f"{prefix}.{v}") if isinstance(v, str) else v)


def source_names(package: Package, lang: str = "en") -> dict[str, str]:
    """Source id -> "Publisher (date)" for compact table cells."""
    sources = package.frame("sources")
    no_date = translate("table.no_date", lang)
    return {
        sid: f"{pub} ({date if isinstance(date, str) else no_date})"
        for sid, pub, date in zip(sources["id"], sources["publisher"], sources["published"], strict=True)
    }


def _parts(programmes: pd.DataFrame) -> pd.Series:
    """Each programme's allocation by kind of basis (empty where the frame does not carry it)."""
    if C.ALLOCATED_BY_BASIS in programmes:
        return programmes[C.ALLOCATED_BY_BASIS]
    return pd.Series([None] * len(programmes), index=programmes.index, dtype=object)


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


def _amounts(values: Iterable[Any], converted: bool) -> list[float | None]:
    """A display table's amounts as numbers; converted ones to the cent, half to even, as the exports write them.

    A converted amount is the exact product of the published one and a rate of up to a dozen places: its
    digits past the cent (``12484995.142``) say nothing about the money. Published amounts stay as published.
    """
    if not converted:
        return [_number(v) for v in values]
    return [
        _number(v.quantize(CENTS, rounding=ROUND_HALF_EVEN) if isinstance(v, Decimal) and v.is_finite() else v)
        for v in values
    ]


def sum_column(kind: str, lang: str = "en") -> str:
    """The header of a recipients' totals column of one kind of basis's exact sum ("Sum, up to about")."""
    return translate("column.sum_of", lang, basis=basis_label(kind, lang))


def money_columns(lang: str = "en") -> frozenset[str]:
    """The headers of the display tables' columns of amounts as numbers, in ``lang``: a page groups their digits."""
    return frozenset({column("value", lang), *(sum_column(kind, lang) for kind in CLASS_ORDER)})


def count_columns(lang: str = "en") -> frozenset[str]:
    """The headers of the display tables' columns of counts, in ``lang``: a page groups their digits (12,408
    awards); not every whole number is a count (a fiscal year, 2024, keeps its plain digits)."""
    return frozenset(column(key, lang) for key in ("awards", "without_amount", "without_converted", "named_awards"))


def awards_table(awards: pd.DataFrame, package: Package, *, money: Money = ORIGINAL, lang: str = "en") -> pd.DataFrame:
    """One row per award as a reader wants it: project, programme, worded amount, date, sources."""
    value_column, currency_column = money.value_column, money.currency_column
    published = "amount" if money.converted else None
    names = source_names(package, lang)
    cells = {
        "project": localized(awards, C.PROJECT_LABEL, lang),
        "programme": localized(awards, "programme_name", lang),
        "amount": money_labels(awards, value_column, currency_column, lang, published=published),
        "value": _amounts(awards[value_column], money.converted),
        "currency": awards[currency_column],
        "basis": awards["basis"].map(lambda b: basis_label(b, lang) if isinstance(b, str) else ""),
        "announced": awards["announced"].map(lambda d: format_partial_date(d if isinstance(d, str) else None, lang)),
        "purpose": localized(awards, "purpose", lang),
        "sources": awards[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
        "id": awards["id"],
    }
    if money.converted:
        cells["published_amount"] = money_labels(awards, "amount", "currency", lang)
        cells["rate"] = awards[C.FX_RATE].map(_number)
        cells["rate_date"] = awards[C.FX_RATE_DATE]
        cells["not_converted"] = awards[C.FX_NOTE].map(lambda note: fx_note_words(note, lang))
    return _headed(cells, lang).reset_index(drop=True)


def recipient_totals_table(totals: pd.DataFrame, lang: str = "en", *, converted: bool = False) -> pd.DataFrame:
    """One row per recipient and currency: its total kept apart by basis, each kind's exact sum, its awards.

    ``totals`` are :func:`aifunding.analysis.engine_view.recipient_totals_by_basis` rows. A kind of basis
    gets its own column of exact sums only when some row has one; sums of ``converted`` amounts are to the cent.
    """
    parts = [basis_parts(row) for row in totals.to_dict(orient="records")]
    cells: dict[str, Any] = {
        "project": totals[C.PROJECT_LABEL],
        "total_by_basis": [
            format_composition(p, c, locale=lang) for p, c in zip(parts, totals[C.CURRENCY], strict=True)
        ],
        "currency": totals[C.CURRENCY],
        "awards": totals[C.N_AWARDS],
        "without_converted" if converted else "without_amount": totals[C.N_AWARDS_UNPUBLISHED],
    }
    table = _headed(cells, lang)
    for kind in CLASS_ORDER:
        sums = _amounts((p.get(kind) for p in parts), converted)
        if any(v is not None for v in sums):
            table[sum_column(kind, lang)] = sums
    return table


def unpublished_awards(rows: Worded, lang: str = "en") -> Worded:
    """The awards of ``rows`` (worded by :func:`awards_table` in ``lang``) whose amount was never published: asked
    of the published amount whatever the currency shown (one published but not converted has an amount)."""
    shown = [column(key, lang) for key in ("project", "programme", "announced", "purpose", "sources")]
    return rows.where(rows.column("amount").isna()).then(lambda table: table[shown])


def unpublished_in_view(view: FilteredView, package: Package, lang: str = "en") -> Worded:
    """:func:`unpublished_awards` of every award in ``view``, not only those a chart drew (Companies, the snapshot)."""
    worded = view_awards(view, lambda rows: awards_table(rows, package, money=view.money, lang=lang))
    return unpublished_awards(worded, lang)


def programmes_table(
    programmes: pd.DataFrame, package: Package, *, money: Money = ORIGINAL, lang: str = "en"
) -> pd.DataFrame:
    """One row per programme, round, component or frame, with declared and allocated amounts."""
    value_column, currency_column = money.value_column, money.currency_column
    published = "amount" if money.converted else None
    t = Translator(lang)
    names = source_names(package, lang)
    cells = {
        "programme": localized(programmes, "name", lang),
        "level": _worded(programmes["level"], "level", t),
        "inside": localized(programmes, "parent_name", lang),
        "country": localized(programmes, "country_name", lang),
        "kind": _worded(programmes["kind"], "kind", t),
        "amount": money_labels(programmes, value_column, currency_column, lang, published=published),
        "value": _amounts(programmes[value_column], money.converted),
        "currency": programmes[currency_column],
        "basis": programmes["basis"].map(lambda b: basis_label(b, lang) if isinstance(b, str) else ""),
        "announced": programmes["announced"].map(
            lambda d: format_partial_date(d if isinstance(d, str) else None, lang)
        ),
        "named_awards": programmes[C.N_AWARDS],
        "allocated": [
            format_composition(p, c, locale=lang) if isinstance(p, dict) and isinstance(c, str) else ""
            for p, c in zip(_parts(programmes), programmes[C.ALLOCATED_CURRENCY], strict=True)
        ],
        "per_year": [
            money_label(a, c, None, lang) if a is not None and not pd.isna(a) else ""
            for a, c in zip(programmes[C.ANNUALISED], programmes["currency"], strict=True)
        ],
        "status": _worded(programmes["status"], "programme_status", t),
        "sources": programmes[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
        "id": programmes["id"],
    }
    return _headed(cells, lang).reset_index(drop=True)


def shares_table(shares: pd.DataFrame, package: Package, *, lang: str = "en") -> pd.DataFrame:
    """One row per market share, worded by its basis, with its market and framing."""
    t = Translator(lang)
    names = source_names(package, lang)
    cells = {
        "market": localized(shares, "market", lang),
        "year": shares["year_label"],
        "segment": localized(shares, "segment", lang),
        "share": [
            format_share(lo, hi, b, lang) if b != "rank_only" else t("table.rank", rank=int(r))
            for lo, hi, b, r in zip(
                shares["share_low"], shares["share_high"], shares["basis"], shares["rank"], strict=True
            )
        ],
        "low": shares["share_low"].map(_number).astype("float64"),
        "high": shares["share_high"].map(_number).astype("float64"),
        "framing": shares["framing"],
        "sources": shares[C.SOURCE_IDS].map(lambda ids: _text_ids(ids, names)),
        "id": shares["id"],
    }
    return _headed(cells, lang).reset_index(drop=True)


def _named_rows(rows: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The rows of ``rows`` whose id is among ``ids`` (a few), found in one vector pass."""
    return rows_where(rows, {"id": ids.dropna().unique()})


def milestones_table(
    milestones: pd.DataFrame,
    package: Package,
    *,
    today: str,
    lang: str = "en",
    awards: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """What to watch: due date in words, status, and whether the due date has passed unconfirmed.

    ``awards``: frame to look the named awards up in (with ``id`` and ``purpose_*``), such as a
    prepared view's, already in memory; by default the package's table, which a cached package
    reads from disk (a million awards) the first time it is asked for.
    """
    t = Translator(lang)
    # Only the rows the milestones name are looked up: a package can hold a million awards.
    programme_rows = _named_rows(package.frame("programmes"), milestones["programme_id"])
    award_rows = _named_rows(package.frame("awards") if awards is None else awards, milestones["award_id"])
    programmes = dict(zip(programme_rows["id"], localized(programme_rows, "name", lang), strict=True))
    purposes = dict(zip(award_rows["id"], localized(award_rows, "purpose", lang), strict=True))

    def due(row: pd.Series) -> str:
        if isinstance(row["due_date"], str):
            when = format_partial_date(row["due_date"], lang)
        else:
            when = format_fiscal_year(int(row["due_fiscal_year"]), lang)
        return t(f"timing.{row['timing']}", date=when)

    def passed(row: pd.Series) -> bool:
        if row["status"] in ("met", "not_met"):
            return False
        if isinstance(row["due_date"], str):
            return row["due_date"] < today[: len(row["due_date"])]
        # A Japanese fiscal year N ends on 31 March of N + 1.
        return f"{int(row['due_fiscal_year']) + 1}-03-31" < today

    frame = milestones.copy()
    late = frame.apply(passed, axis=1) if len(frame) else pd.Series(dtype=bool)
    return pd.DataFrame(
        {
            t("overview.watch.what"): localized(frame, "description", lang),
            t("overview.watch.due"): frame.apply(due, axis=1) if len(frame) else [],
            t("overview.watch.status"): [
                t("overview.watch.status_overdue", status=t(f"status.{s}"), overdue=t("overview.watch.overdue"))
                if is_late
                else t(f"status.{s}")
                for s, is_late in zip(frame["status"], late, strict=True)
            ],
            t("overview.watch.as_of"): frame["status_as_of"].map(lambda d: format_partial_date(d, lang)),
            column("programme_or_award", lang): [
                programmes.get(p, "") if isinstance(p, str) else purposes.get(a, "")
                for p, a in zip(frame["programme_id"], frame["award_id"], strict=True)
            ],
            column("note", lang): frame["note"],
        }
    ).reset_index(drop=True)


def explain_tables(total: Total, lang: str = "en") -> tuple[Worded, Worded]:
    """What a total added and what it left out, each row with its figure (and, if left out, why).

    A total over a large view considers tens of thousands of rows: each table words the page shown.
    """
    t = Translator(lang)

    def name(entry: Any) -> str:
        return entry.name_ja if lang == "ja" and entry.name_ja else entry.name_en

    def figure(entry: Any) -> str:
        return money_label(entry.amount, entry.currency, entry.basis, lang)

    keys = (t("overview.row"), t("overview.figure"), ID_COLUMN)

    def added(part: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame([(name(e), figure(e), e.id) for e in part["entry"]], columns=list(keys))

    def left_out(part: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            [(name(e), figure(e), e.reason_text(lang), e.id) for e in part["entry"]],
            columns=[keys[0], keys[1], t("overview.reason"), ID_COLUMN],
        )

    return Worded(_entries(total.included), added), Worded(_entries(total.excluded), left_out)


def _entries(entries: tuple[Any, ...]) -> pd.DataFrame:
    """Entries of a total as a one-column frame (the column holds the Entry objects themselves)."""
    column = pd.Series(list(entries), dtype=object)
    return pd.DataFrame({"entry": column})


def kind_labels(lang: str = "en") -> dict[str, str]:
    """Every kind of support in words, by its code."""
    t = Translator(lang)
    return {kind.value: t(f"kind.{kind.value}") for kind in SupportKind}


TIER_RANK = {tier.value: rank for rank, tier in enumerate(Tier)}


def best_sources_first(sources: Mapping[str, Mapping[str, Any]], source_ids: Iterable[str]) -> list[str]:
    """The known ones of ``source_ids``, strongest tier first, then oldest first (the announcement before echoes)."""
    known = [sid for sid in dict.fromkeys(source_ids) if sid in sources]
    return sorted(
        known,
        key=lambda sid: (TIER_RANK.get(sources[sid]["tier"], len(TIER_RANK)), str(sources[sid]["published"] or "")),
    )


def sources_table(package: Package, lang: str = "en") -> pd.DataFrame:
    """Every source: publisher, date, tier, how it was seen, what it confirms, link."""
    t = Translator(lang)
    sources = package.frame("sources")
    citations = package.frame("citations")
    cited = citations["source_id"].value_counts()
    cells = {
        "publisher": sources["publisher"],
        "published": sources["published"].map(lambda d: format_partial_date(d if isinstance(d, str) else None, lang)),
        "tier": _worded(sources["tier"], "tier", t),
        "link": sources["url"],
        "via": _worded(sources["via"], "via", t),
        "confirms": sources["confirms"],
        "cited_by": sources["id"].map(lambda i: int(cited.get(i, 0))),
        "id": sources["id"],
    }
    return _headed(cells, lang)


def caveats_table(package: Package, lang: str = "en") -> pd.DataFrame:
    """Every caveat with the rows it is attached to."""
    caveats = package.frame("caveats")
    links = package.frame("caveat_links")
    attached = {
        cid: ", ".join(
            str(v)
            for v in group[["programme_id", "award_id", "market_share_id", "milestone_id"]].bfill(axis=1).iloc[:, 0]
        )
        for cid, group in links.groupby("caveat_id")
    }
    cells = {
        "no": caveats["conflict_no"],
        # Overlap and unconfirmed caveats change what totals add: the reader sees which ones do.
        "kind": _worded(caveats["kind"], "caveat_kind", Translator(lang)),
        "caveat": localized(caveats, "title", lang),
        "detail": localized(caveats, "text", lang),
        "attached_to": caveats["id"].map(lambda c: attached.get(c, "")),
    }
    return _headed(cells, lang)


def method_markdown(lang: str = "en") -> str:
    """How figures are made, for the Sources & method page (English for a language without a text).

    The text is the catalogue message ``method.body``: markdown, one list item a line.
    """
    return translate("method.body", lang).strip()


def programme_families(
    awards: pd.DataFrame, *, money: Money = ORIGINAL, min_recipients: int = 2
) -> Groups[tuple[str, pd.DataFrame]]:
    """Awards grouped by root programme, for programmes that funded several recipients with amounts.

    Returns (root programme id, its awards) pairs, largest programme first; a programme with a
    single funded recipient is left out because one bar compares nothing. "Funded" reads as
    :func:`~aifunding.figures.base.amount_frame` does for each programme: awards with an amount in
    its main currency (the home currency when it has any, else its most common one).

    The programmes are ranked from four columns at once; a programme's rows are taken from ``awards`` only
    when its pair is read (a million awards hold about a thousand programmes, and the Companies page draws eight).
    """
    value_column, currency_column = money.value_column, money.currency_column
    roots, root_ids = pd.factorize(awards[C.ROOT_PROGRAMME_ID])  # first appearance order; -1: no root
    currencies, currency_ids = pd.factorize(awards[currency_column])
    funded = has_amount(awards, value_column) & (roots >= 0) & (currencies >= 0)
    # Each programme's main currency, chosen from its funded rows' currencies as value_counts orders them.
    pairs = pd.DataFrame({"root": roots[funded], "currency": currencies[funded]})
    counted = pairs.groupby(["root", "currency"], sort=False).size()
    home = currency_ids.tolist().index(HOME_CURRENCY) if HOME_CURRENCY in currency_ids else -2
    main = np.full(len(root_ids) + 1, -3)  # -3 never matches a currency code
    best: dict[int, int] = {}
    for (root, currency), n in zip(counted.index.tolist(), counted.tolist(), strict=True):
        if main[root] == home:
            continue
        if currency == home or n > best.get(root, 0):
            main[root], best[root] = currency, n
    drawn = funded & (currencies == main[roots])
    label = awards[C.PROJECT_LABEL]
    # Recipients as codes (-1: none): a package's own when its names come coded, else coded here.
    labels = label.cat.codes.to_numpy() if isinstance(label.dtype, pd.CategoricalDtype) else pd.factorize(label)[0]
    # Each programme's distinct recipients among its drawn awards, counted from (programme, recipient) pairs.
    named, width = drawn & (labels >= 0), int(labels.max(initial=0)) + 1
    pairs = roots[named].astype(np.int64) * width + labels[named]
    recipients = np.bincount(pd.unique(pairs) // width, minlength=len(root_ids))
    values = floats(awards, value_column)[drawn]
    # Added in row order, one programme at a time, as a loop over its amounts would add them.
    sums = np.bincount(roots[drawn], weights=values, minlength=len(root_ids))
    families = np.flatnonzero((recipients > 0) & (recipients >= min_recipients)).tolist()
    families.sort(key=lambda root: (-sums[root], root))  # largest first; ties in order of appearance
    small = len(root_ids) < 2**16 - 1  # then sorted in 16 bits, where numpy's stable sort is a radix sort
    order = np.argsort((roots + 1).astype(np.uint16) if small else roots, kind="stable")
    starts = np.searchsorted(roots[order], np.arange(len(root_ids) + 1))
    return Groups(
        [(str(root_ids[root]), order[starts[root] : starts[root + 1]]) for root in families],
        lambda root, rows: (root, awards.take(rows)),
    )
