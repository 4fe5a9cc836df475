"""Derived figures: tidy views of the package, totals, shares, annualised amounts, conversions.

Every function here is pure: it takes frames (or a :class:`~aifunding.loading.package.Package`) and returns
new frames, never mutating its input. Amounts stay :class:`~decimal.Decimal` until a chart needs
floats, so totals are exact. Joint awards are one project: their amount is never split between
the recipients, and every grouping counts it once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import split_by_basis
from aifunding.analysis.allocation import TOTALS_COLUMNS, allocation_rows
from aifunding.analysis.recipients import RECIPIENT_COLUMNS, column_names, recipients_by_award, recipients_frame
from aifunding.analysis.sequences import linked_lists
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import PLAN_BASES, Basis
from aifunding.i18n import DEFAULT_LANGUAGE
from aifunding.loading.package import Package


def _none_if_na(value: Any) -> Any:
    return None if value is None or (not isinstance(value, (str, Decimal, tuple, list)) and pd.isna(value)) else value


def decimal_sum(values: Iterable[Any]) -> Decimal:
    """Exact sum of the non-missing amounts in ``values``."""
    return sum((Decimal(v) for v in values if _none_if_na(v) is not None), Decimal(0))


def links_by_row(package: Package, link_table: str, value_column: str, target_column: str) -> dict[str, tuple]:
    """Row id -> tuple of linked ids (sources of a citation table, caveats of caveat_links)."""
    links = package.frame(link_table)
    linked: dict[str, dict[Any, None]] = {}
    for target, value in zip(links[target_column].tolist(), links[value_column].tolist(), strict=True):
        if isinstance(target, str):
            linked.setdefault(target, {})[value] = None
    return {target: tuple(values) for target, values in linked.items()}


def linked_ids(package: Package, link_table: str, value_column: str, target_column: str, ids: pd.Series) -> pd.Series:
    """Each of ``ids``' linked values as a tuple (``()`` for none): :func:`links_by_row`'s, in ``ids``' order.

    One tuple per distinct list (:func:`~aifunding.analysis.sequences.linked_lists`), shared by every row that
    has it: a million awards citing a few hundred sources hold a few hundred tuples, made without a loop
    over the rows. Row by row when a link table is not text throughout (an invalid package's).
    """
    links = package.frame(link_table)
    linked = linked_lists(links[target_column], links[value_column])
    if linked is None:
        by_row = links_by_row(package, link_table, value_column, target_column)
        return pd.Series([by_row.get(i, ()) for i in ids.tolist()], index=ids.index, dtype=object)
    tuples = np.empty(len(linked.offsets), dtype=object)  # the last: a row with no links
    bounds = linked.offsets.tolist()
    for code, (start, end) in enumerate(zip(bounds, [*bounds[1:], bounds[-1]], strict=True)):
        tuples[code] = tuple(linked.values[linked.picked[start:end]].tolist())
    return pd.Series(tuples[linked.list_of(ids)], index=ids.index, dtype=object)


def programme_roots(programmes: pd.DataFrame, tree: ProgrammeTree | None = None) -> dict[str, str]:
    """Each programme's root: the top of its chain of parents.

    Rounds belong to their programme; a programme sitting inside a budget frame is its own root,
    so a chart coloured by root programme is not one colour for everything in a frame.
    """
    tree = tree or ProgrammeTree.from_frame(programmes)
    return {pid: tree.root(pid) for pid in programmes["id"]}


# The columns award_view adds to the awards' own, in their order.
AWARD_VIEW_COLUMNS = (
    C.PROGRAMME_NAME_EN,
    C.PROGRAMME_NAME_JA,
    C.PROGRAMME_LEVEL,
    C.ROOT_PROGRAMME_ID,
    C.ROOT_PROGRAMME_NAME_EN,
    C.ROOT_PROGRAMME_NAME_JA,
    C.COUNTRY_ID,
    C.KIND,
    C.RECIPIENT_IDS,
    C.RECIPIENTS_EN,
    C.RECIPIENTS_JA,
    C.JOINT,
    C.PROJECT_LABEL,
    C.PROJECT_LABEL_JA,
    C.SOURCE_IDS,
    C.CAVEAT_IDS,
)


def award_view(
    package: Package,
    *,
    columns: Collection[str] | None = None,
    recipients: Callable[[], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per award, ready to chart or export.

    Columns: the award's own fields, its programme (name, level, root programme, country, kind),
    recipients and project label, the ids of its recipients, sources and caveats. With ``columns``, only
    those of :data:`AWARD_VIEW_COLUMNS` are added: an export writes a few, and joins the texts of its
    sources and caveats from the tables itself, without a tuple per award.

    ``recipients`` gives the package's :func:`recipients_frame` (of every column) when it is made elsewhere: it
    is asked for once the programmes' columns and the links are added, so another thread can make it meanwhile.
    """
    wanted = frozenset(AWARD_VIEW_COLUMNS if columns is None else column_names(columns))
    awards = package.frame("awards")
    programmes = package.frame("programmes").set_index("id")
    roots = programme_roots(package.frame("programmes"), package.tree)
    frame = awards.copy()
    pid = frame["programme_id"]
    # One lookup of every award's programme and recipients (a column each from it), not one map per column.
    # Only the columns read below are taken: every column taken is a million-row copy.
    of_programme = {
        C.PROGRAMME_NAME_EN: "name_en",
        C.PROGRAMME_NAME_JA: "name_ja",
        C.PROGRAMME_LEVEL: "level",
        C.COUNTRY_ID: "country_id",
        C.KIND: "kind",
    }
    # A million awards name a few thousand programmes: each is looked up once and its rows spread by code.
    codes, each = pd.factorize(pid, use_na_sentinel=False)
    each = pd.Index(each, dtype=pid.dtype)
    programme = programmes[[field for name, field in of_programme.items() if name in wanted]].reindex(each).take(codes)
    each_root = pd.Series(each, dtype=pid.dtype).map(roots)
    root_ids = each_root.take(codes).set_axis(frame.index)
    of_root = {C.ROOT_PROGRAMME_NAME_EN: "name_en", C.ROOT_PROGRAMME_NAME_JA: "name_ja"}
    root_fields = [field for name, field in of_root.items() if name in wanted]
    root = programmes[root_fields].reindex(pd.Index(each_root)).take(codes) if root_fields else None
    linked: pd.DataFrame | None = None

    def added(name: str) -> pd.Series | None:
        if name == C.KIND:
            # What the award pays for: its own kind where it has one (quantum computing paid from a compute
            # programme), otherwise its programme's.
            own_kind = frame["kind"] if "kind" in frame else pd.Series(None, index=frame.index, dtype=object)
            return own_kind.where(own_kind.notna(), programme["kind"].set_axis(frame.index))
        if name in of_programme:
            return programme[of_programme[name]].set_axis(frame.index)
        if name in of_root and root is not None:
            return root[of_root[name]].set_axis(frame.index)
        if name == C.ROOT_PROGRAMME_ID:
            return root_ids
        if name == C.RECIPIENT_IDS:
            # An award without recipients (an invalid package's) has no ids: an empty tuple, set where missing only.
            ids = linked[name].to_numpy(dtype=object, copy=True) if linked is not None else np.full(len(frame), None)
            for row in np.flatnonzero(pd.isna(ids)).tolist():
                ids[row] = ()
            return pd.Series(ids, index=frame.index, dtype=object)
        if name == C.SOURCE_IDS:
            return linked_ids(package, "citations", "source_id", "award_id", frame["id"])
        if name == C.CAVEAT_IDS:
            return linked_ids(package, "caveat_links", "caveat_id", "award_id", frame["id"])
        return linked[name].set_axis(frame.index) if linked is not None else None

    # The recipients' columns last: they may be made in another thread while the others are added.
    of_recipients = [name for name in AWARD_VIEW_COLUMNS if name in wanted and name in RECIPIENT_COLUMNS]
    columns_added = {name: added(name) for name in AWARD_VIEW_COLUMNS if name in wanted and name not in of_recipients}
    if of_recipients:
        if recipients is None:
            made = recipients_frame(package.frame("award_recipients"), package.frame("organisations"), columns=wanted)
        else:
            made = recipients()
        linked = made.set_index(C.AWARD_ID).reindex(frame["id"]) if len(made) else None
        columns_added.update({name: added(name) for name in of_recipients})
    for name in AWARD_VIEW_COLUMNS:
        if name in wanted:
            frame[name] = columns_added[name]
    return frame


def programme_view(package: Package, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per programme, round, component or frame, with its allocation to named awards.

    Adds: country and parent names (English and Japanese), root programme, the sum of the awards made under it (its own
    and its descendants', in its currency), how many awards have no published amount, the bases of
    those awards, the annualised amount, and the ids of its sources and caveats. ``totals``: its
    :func:`programme_totals`, made elsewhere (of awards in groups,
    :func:`~aifunding.analysis.allocation.programme_totals_of_groups`).
    """
    programmes = package.frame("programmes")
    countries = package.frame("countries").set_index("id")
    names = programmes.set_index("id")["name_en"]
    names_ja = programmes.set_index("id")["name_ja"]
    if totals is None:
        totals = programme_totals(programmes, package.frame("awards"), package.tree)
    frame = programmes.merge(totals, left_on="id", right_on=C.PROGRAMME_ID, how="left").drop(columns=C.PROGRAMME_ID)
    frame[C.COUNTRY_NAME_EN] = frame["country_id"].map(countries["name_en"])
    frame[C.COUNTRY_NAME_JA] = frame["country_id"].map(countries["name_ja"])
    frame[C.PARENT_NAME_EN] = frame["parent_id"].map(names)
    frame[C.PARENT_NAME_JA] = frame["parent_id"].map(names_ja)
    frame[C.ROOT_PROGRAMME_ID] = frame["id"].map(programme_roots(programmes, package.tree))
    # A plan is not spread over its years: a ¥1tn five-year plan is not "¥200bn a year" when its first
    # year's budget line says ¥387.3bn. Only committed figures get a per-year amount.
    frame[C.ANNUALISED] = pd.Series(
        index=frame.index,
        dtype=object,
        data=[
            None if basis in PLAN_BASES else annualise(amount, years, start, end)
            for amount, years, start, end, basis in zip(
                frame["amount"],
                frame["period_years"],
                frame["period_start_fy"],
                frame["period_end_fy"],
                frame["basis"],
                strict=True,
            )
        ],
    )
    frame[C.IS_PLAN] = frame["basis"].isin([b.value for b in PLAN_BASES])
    frame[C.SOURCE_IDS] = linked_ids(package, "citations", "source_id", "programme_id", frame["id"])
    frame[C.CAVEAT_IDS] = linked_ids(package, "caveat_links", "caveat_id", "programme_id", frame["id"])
    return frame


def programme_totals(programmes: pd.DataFrame, awards: pd.DataFrame, tree: ProgrammeTree | None = None) -> pd.DataFrame:
    """Declared amount versus the sum of named awards, per programme (descendants included).

    Only awards in the programme's own currency (or, when it declares none, the one currency its
    awards share) are added; the others are counted in ``awards_other_currency`` so nothing
    disappears from view.
    """
    tree = tree or ProgrammeTree.from_frame(programmes)
    rows = allocation_rows(programmes, awards, tree)  # as vectors, when they give the same rows
    return pd.DataFrame(_totals_by_award(programmes, awards, tree) if rows is None else rows, columns=TOTALS_COLUMNS)


def _totals_by_award(programmes: pd.DataFrame, awards: pd.DataFrame, tree: ProgrammeTree) -> list[dict[str, Any]]:
    """:func:`programme_totals`' rows gathered award by award: the reference the vectors are tested against."""
    # Awards by programme, read once: (amount or None, currency, basis).
    by_programme: dict[str, list[tuple[Any, Any, Any]]] = {}
    for pid, amount, award_currency, basis in zip(
        *(awards[c].tolist() for c in ("programme_id", "amount", "currency", "basis")), strict=True
    ):
        by_programme.setdefault(pid, []).append((_none_if_na(amount), award_currency, basis))
    rows = []
    for pid, currency in zip(programmes["id"], programmes["currency"], strict=True):
        mine = [award for member in tree.subtree(pid) for award in by_programme.get(member, ())]
        with_amount = [award for award in mine if award[0] is not None]
        currency = _none_if_na(currency)
        currencies = {award[1] for award in with_amount}
        if currency is None and len(currencies) == 1:
            # No declared currency: the awards' own one, when they share it.
            currency = next(iter(currencies))
        same = [award for award in with_amount if currency is not None and award[1] == currency]
        rows.append(
            {
                C.PROGRAMME_ID: pid,
                C.N_AWARDS: len(mine),
                C.N_AWARDS_UNPUBLISHED: len(mine) - len(with_amount),
                C.ALLOCATED: decimal_sum(award[0] for award in same) if same else None,
                C.ALLOCATED_CURRENCY: currency,
                C.AWARDS_OTHER_CURRENCY: len(with_amount) - len(same),
                C.ALLOCATED_BASES: tuple(sorted({award[2] for award in same})),
                C.ALLOCATED_BY_BASIS: split_by_basis((award[0], award[2]) for award in same),
            }
        )
    return rows


def annualise(amount: Any, period_years: Any, start_fy: Any, end_fy: Any) -> Decimal | None:
    """Amount per year over the programme's period (published length first, else the FY span)."""
    amount = _none_if_na(amount)
    if amount is None:
        return None
    years = _none_if_na(period_years)
    if years is None and _none_if_na(start_fy) is not None and _none_if_na(end_fy) is not None:
        years = int(end_fy) - int(start_fy) + 1
    if not years:
        return None
    return Decimal(amount) / Decimal(int(years))


def one_currency_each(labels: pd.Series, currencies: pd.Series) -> pd.Series:
    """Each award's currency, an award without one taking the one currency its recipient's other awards share.

    An award with no published amount names no currency; when its recipient's awards with an amount are all in
    one currency it is counted in that currency's row, else it keeps a row of its own, with no currency.
    """
    named = currencies.notna()
    seen = pd.DataFrame({"label": labels[named], "currency": currencies[named]}).drop_duplicates()
    single = seen.drop_duplicates("label", keep=False).set_index("label")["currency"]
    return currencies.where(named, labels.map(single))


def totals_by_recipient(
    awards: pd.DataFrame,
    amount_column: str = "amount",
    currency_column: str = "currency",
) -> pd.DataFrame:
    """Total per recipient (a joint project is its own recipient, never split), per currency.

    Returns one row per (project label, currency) with the exact total, the number of awards and
    of awards without a published amount, the distinct bases, and the programmes they came from.
    Awards without an amount are counted, not summed, in the row of the one currency their recipient's
    other awards share (:func:`one_currency_each`).
    """
    rows = []
    keyed = awards.assign(**{currency_column: one_currency_each(awards[C.PROJECT_LABEL], awards[currency_column])})
    for (label, currency), group in keyed.groupby([C.PROJECT_LABEL, currency_column], sort=False, dropna=False):
        amounts = group[amount_column].map(_none_if_na)
        rows.append(
            {
                C.PROJECT_LABEL: label,
                C.CURRENCY: _none_if_na(currency),
                C.TOTAL: decimal_sum(amounts),
                C.N_AWARDS: len(group),
                C.N_AWARDS_UNPUBLISHED: int(amounts.isna().sum()),
                C.BASES: tuple(sorted({b for b in group["basis"] if _none_if_na(b) is not None})),
                C.PROGRAMME_IDS: tuple(dict.fromkeys(group["programme_id"])),
            }
        )
    result = pd.DataFrame(
        rows,
        columns=[C.PROJECT_LABEL, C.CURRENCY, C.TOTAL, C.N_AWARDS, C.N_AWARDS_UNPUBLISHED, C.BASES, C.PROGRAMME_IDS],
    )
    return result.sort_values(C.TOTAL, ascending=False, key=lambda s: s.map(float), kind="stable").reset_index(
        drop=True
    )


def pool_shares(awards: pd.DataFrame, programmes: pd.DataFrame) -> pd.DataFrame:
    """Each award's share of its programme's declared pool (None when the pool or award has no amount)."""
    pools = programmes.set_index("id")
    frame = awards.copy()
    pool = frame["programme_id"].map(pools["amount"])
    pool_currency = frame["programme_id"].map(pools["currency"])
    frame[C.POOL] = pool
    frame[C.POOL_BASIS] = frame["programme_id"].map(pools["basis"])
    frame[C.POOL_SHARE] = pd.Series(
        index=frame.index,
        dtype=object,
        data=[
            (Decimal(a) / Decimal(p)) if _none_if_na(a) is not None and _none_if_na(p) is not None and c == pc else None
            for a, p, c, pc in zip(frame["amount"], pool, frame["currency"], pool_currency, strict=True)
        ],
    )
    return frame


def mixed_bases(bases: Iterable[str]) -> bool:
    """True when a total adds figures of different kinds (say, exact and up-to)."""
    return len({b for b in bases if b}) > 1


def as_texts(text: pd.Series, english: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A name column and its English fallback, as the texts they stand for when either is coded as a categorical.

    Two categoricals of different names cannot fill one from the other; their texts can.
    """
    if isinstance(text.dtype, pd.CategoricalDtype) or isinstance(english.dtype, pd.CategoricalDtype):
        return text.astype(object), english.astype(object)
    return text, english


def localized(frame: pd.DataFrame, column: str, lang: str) -> pd.Series:
    """A name or text column in ``lang``, falling back to English cell by cell.

    ``column`` is the stem: ``localized(frame, "name", "ja")`` reads ``name_ja`` and fills its gaps
    from ``name_en``. Derived English labels without a suffix (``project_label``) are the English
    column themselves. A frame without the ``lang`` column is English throughout.
    """
    english = frame[f"{column}_en"] if f"{column}_en" in frame else frame[column]
    other = f"{column}_{lang}"
    if lang == DEFAULT_LANGUAGE or other not in frame:
        return english
    text, english = as_texts(frame[other], english)
    return text.where(text.map(lambda v: isinstance(v, str) and bool(v.strip())).astype(bool), english)


def market_share_view(package: Package) -> pd.DataFrame:
    """One row per market share, with its market's definition, year and framing."""
    shares = package.frame("market_shares")
    markets = package.frame("markets").set_index("id")
    frame = shares.copy()
    frame["market_en"] = frame["market_id"].map(markets["name_en"])
    frame["market_ja"] = frame["market_id"].map(markets["name_ja"])
    frame["country_id"] = frame["market_id"].map(markets["country_id"])
    frame["year_label"] = frame["market_id"].map(markets["year_label"])
    frame["year"] = frame["market_id"].map(markets["year"])
    frame["framing"] = frame["market_id"].map(markets["framing"])
    sources = package.frame("citations")
    caveats = package.frame("caveat_links")
    frame[C.SOURCE_IDS] = frame["id"].map(
        lambda i: tuple(dict.fromkeys(sources.loc[sources["market_share_id"] == i, "source_id"]))
    )
    frame[C.CAVEAT_IDS] = frame["id"].map(
        lambda i: tuple(dict.fromkeys(caveats.loc[caveats["market_share_id"] == i, "caveat_id"]))
    )
    return frame


__all__ = [
    "Basis",
    "annualise",
    "award_view",
    "decimal_sum",
    "one_currency_each",
    "pool_shares",
    "programme_totals",
    "programme_view",
    "recipients_by_award",
    "totals_by_recipient",
]
