"""Derived figures: tidy views of the package, totals, shares, annualised amounts, conversions.

Every function here is pure: it takes frames (or a :class:`~aifunding.loading.package.Package`) and returns
new frames, never mutating its input. Amounts stay :class:`~decimal.Decimal` until a chart needs
floats, so totals are exact. Joint awards are one project: their amount is never split between
the recipients, and every grouping counts it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import split_by_basis
from aifunding.analysis.allocation import TOTALS_COLUMNS, allocation_rows
from aifunding.analysis.sequences import LONGEST_CODED, gathered, list_codes
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import PLAN_BASES, Basis, Role
from aifunding.i18n import DEFAULT_LANGUAGE, translate
from aifunding.loading.package import Package


def _none_if_na(value: Any) -> Any:
    return None if value is None or (not isinstance(value, (str, Decimal, tuple, list)) and pd.isna(value)) else value


def decimal_sum(values: Iterable[Any]) -> Decimal:
    """Exact sum of the non-missing amounts in ``values``."""
    return sum((Decimal(v) for v in values if _none_if_na(v) is not None), Decimal(0))


# A joint application's lead comes first, then its members; a sole recipient stands alone.
ROLE_ORDER = {Role.LEAD.value: 0, Role.SOLE.value: 0, Role.MEMBER.value: 1}


def recipients_by_award(package: Package) -> pd.DataFrame:
    """One row per award: its recipients in role order (lead first) and the project label.

    A joint application reads "RUTILEA + AI Fukushima (joint)", so charts show it as one project; in
    Japanese "RUTILEA・AI Fukushima（共同）", with each name in Japanese where the data has one.
    """
    return recipients_frame(package.frame("award_recipients"), package.frame("organisations"))


def _recipient_names(organisations: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    # Lists, not the columns themselves: iterating a pyarrow-backed column yields one scalar at a time.
    ids = organisations["id"].tolist()
    name_en = {i: str(n) for i, n in zip(ids, organisations["name_en"].tolist(), strict=True)}
    name_ja = {
        i: (ja if isinstance(ja, str) and ja else name_en[i])
        for i, ja in zip(ids, organisations["name_ja"].tolist(), strict=True)
    }
    return name_en, name_ja


def _arrow_text(column: pd.Series) -> Any:
    """A text column as one Arrow string array (missing cells null)."""
    import pyarrow as pa  # type: ignore[import-untyped]

    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        values = pa.array(column).cast(pa.string())  # the column's own Arrow array, not a Python object per cell
    else:
        values = pa.array(column.astype(object), type=pa.string(), from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def recipients_frame(recipients: pd.DataFrame, organisations: pd.DataFrame, *, ids: bool = True) -> pd.DataFrame:
    """:func:`recipients_by_award` from the two tables, as vectors: awards in order of first appearance.

    Each award's rows are ordered by (award, role, row) in one sort; each distinct list of recipients
    (:func:`~aifunding.analysis.sequences.list_codes`) is named, joined and labelled once in Arrow and spread to
    its awards; only the tuples of ids are Python objects (left out, with their column, when ``ids`` is False).
    Rows without an award or organisation id (an invalid package's) take the row-by-row path,
    :func:`_recipients_by_award_rows`, which this equals.
    """
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    award_ids, org_ids = recipients["award_id"], recipients["organisation_id"]
    if not len(recipients) or award_ids.isna().any() or org_ids.isna().any():
        frame = _recipients_by_award_rows(recipients, organisations)
        return frame if ids else frame.drop(columns=C.RECIPIENT_IDS)
    name_en, name_ja = _recipient_names(organisations)
    encoded = pc.dictionary_encode(_arrow_text(award_ids))  # awards in order of first appearance, as a dict's keys
    awards, codes = encoded.dictionary, encoded.indices.to_numpy()
    roles = pc.index_in(_arrow_text(recipients["role"]), value_set=pa.array(list(ROLE_ORDER), type=pa.string()))
    rank = np.asarray([*ROLE_ORDER.values(), len(ROLE_ORDER)])[pc.fill_null(roles, len(ROLE_ORDER)).to_numpy()]
    order = np.lexsort((np.arange(len(codes)), rank, codes))  # by award, then role; ties keep the file's order
    counts = np.bincount(codes, minlength=len(awards))
    org_codes, org_values = pd.factorize(org_ids, sort=False)
    members = org_codes[order]  # each award's organisations, lead first, as codes
    # Each distinct list of recipients is named and labelled once, then spread to its awards (one column each).
    if len(counts) and counts.max() > LONGEST_CODED:
        lists = distinct = np.arange(len(counts), dtype=np.intp)
    else:
        lists, distinct = list_codes(members, counts)
    picked, list_offsets = gathered(members, counts, distinct)
    offsets = pa.array(list_offsets.astype(np.int32))
    orgs = pa.array(org_values.tolist(), type=pa.string())  # each organisation once
    position = pc.index_in(orgs, value_set=pa.array(list(name_en), type=pa.string()))
    spread = pa.array(lists)

    def names(lookup: dict[str, str], separator: str) -> pa.Array:
        each = pc.coalesce(pa.array(list(lookup.values()), type=pa.string()).take(position), orgs)  # unknown: the id
        return pc.binary_join(pa.ListArray.from_arrays(offsets, each.take(pa.array(picked))), separator)

    en, ja = names(name_en, " + "), names(name_ja, "・")
    mask = pa.array(counts[distinct] > 1)
    label_en = pc.if_else(mask, pc.binary_join_element_wise(en, translate("award.joint", "en"), ""), en)
    label_ja = pc.if_else(mask, pc.binary_join_element_wise(ja, translate("award.joint", "ja"), ""), ja)
    joint = counts > 1

    def text(values: Any, by_list: bool = True) -> pd.Series:
        # Large strings, as pandas keeps text: each award's column is made once, in that type.
        values = values.cast(pa.large_string())
        return pd.Series(pd.array(values.take(spread) if by_list else values, dtype="str"))

    columns = {C.AWARD_ID: text(awards, by_list=False)}
    if ids:
        org_list = org_values.tolist()
        member_list = members.tolist()
        starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
        tuples = [(org_list[member_list[start]],) for start in starts[:-1]]  # one id each; the joint ones below
        for award in np.flatnonzero(joint).tolist():
            tuples[award] = tuple(org_list[code] for code in member_list[starts[award] : starts[award + 1]])
        columns[C.RECIPIENT_IDS] = pd.Series(tuples, dtype=object)
    return pd.DataFrame(
        {
            **columns,
            C.RECIPIENTS_EN: text(en),
            C.RECIPIENTS_JA: text(ja),
            C.JOINT: pd.Series(joint, dtype=bool),
            C.PROJECT_LABEL: text(label_en),
            C.PROJECT_LABEL_JA: text(label_ja),
        }
    )


def _recipients_by_award_rows(recipients: pd.DataFrame, organisations: pd.DataFrame) -> pd.DataFrame:
    """:func:`recipients_frame` a row at a time (Python dicts): the reference it is tested against."""
    name_en, name_ja = _recipient_names(organisations)
    # One pass over the rows, in file order; each award's recipients lead first (a stable sort keeps
    # the members in their own order). Plain dicts: a million rows cost a second, not a groupby each.
    members: dict[str, list[tuple[int, str]]] = {}
    # Lists, not the columns themselves: iterating a pyarrow-backed column yields one scalar at a time.
    for award_id, org_id, role in zip(
        recipients["award_id"].tolist(),
        recipients["organisation_id"].tolist(),
        recipients["role"].tolist(),
        strict=True,
    ):
        members.setdefault(award_id, []).append((ROLE_ORDER.get(role, len(ROLE_ORDER)), org_id))
    joint_en, joint_ja = translate("award.joint", "en"), translate("award.joint", "ja")
    # Column by column (a list each), not a dict per row: a frame is made from lists far faster.
    columns: dict[str, list[Any]] = {name: [] for name in RECIPIENT_COLUMNS}
    for award_id, pairs in members.items():
        ids = (pairs[0][1],) if len(pairs) == 1 else tuple(org for _, org in sorted(pairs, key=lambda pair: pair[0]))
        en = " + ".join([name_en.get(i, i) for i in ids])
        ja = "・".join([name_ja.get(i, i) for i in ids])
        joint = len(ids) > 1
        columns[C.AWARD_ID].append(award_id)
        columns[C.RECIPIENT_IDS].append(ids)
        columns[C.RECIPIENTS_EN].append(en)
        columns[C.RECIPIENTS_JA].append(ja)
        columns[C.JOINT].append(joint)
        columns[C.PROJECT_LABEL].append(en + joint_en if joint else en)
        columns[C.PROJECT_LABEL_JA].append(ja + joint_ja if joint else ja)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})
    texts = (C.AWARD_ID, C.RECIPIENTS_EN, C.RECIPIENTS_JA, C.PROJECT_LABEL, C.PROJECT_LABEL_JA)
    return frame.astype({**dict.fromkeys(texts, "str"), C.JOINT: bool})


RECIPIENT_COLUMNS = (
    *(C.AWARD_ID, C.RECIPIENT_IDS, C.RECIPIENTS_EN, C.RECIPIENTS_JA),
    *(C.JOINT, C.PROJECT_LABEL, C.PROJECT_LABEL_JA),
)


def links_by_row(package: Package, link_table: str, value_column: str, target_column: str) -> dict[str, tuple]:
    """Row id -> tuple of linked ids (sources of a citation table, caveats of caveat_links)."""
    links = package.frame(link_table)
    linked: dict[str, dict[Any, None]] = {}
    for target, value in zip(links[target_column].tolist(), links[value_column].tolist(), strict=True):
        if isinstance(target, str):
            linked.setdefault(target, {})[value] = None
    return {target: tuple(values) for target, values in linked.items()}


def programme_roots(programmes: pd.DataFrame, tree: ProgrammeTree | None = None) -> dict[str, str]:
    """Each programme's root: the top of its chain of parents.

    Rounds belong to their programme; a programme sitting inside a budget frame is its own root,
    so a chart coloured by root programme is not one colour for everything in a frame.
    """
    tree = tree or ProgrammeTree.from_frame(programmes)
    return {pid: tree.root(pid) for pid in programmes["id"]}


def award_view(package: Package, *, links: bool = True) -> pd.DataFrame:
    """One row per award, ready to chart or export.

    Columns: the award's own fields, its programme (name, level, root programme, country, kind),
    recipients and project label, the ids of its recipients, sources and caveats (unless ``links`` is
    False: an export joins their texts from the tables itself, without a tuple per award).
    """
    awards = package.frame("awards")
    programmes = package.frame("programmes").set_index("id")
    roots = programme_roots(package.frame("programmes"), package.tree)
    recipients = recipients_frame(
        package.frame("award_recipients"), package.frame("organisations"), ids=links
    ).set_index(C.AWARD_ID)
    frame = awards.copy()
    pid = frame["programme_id"]
    # One lookup of every award's programme and recipients (a column each from it), not one map per column.
    # Only the columns read below are taken: every column taken is a million-row copy.
    programme = programmes[["name_en", "name_ja", "level", "country_id", "kind"]].reindex(pid)
    root_ids = pid.map(roots)
    root = programmes[["name_en", "name_ja"]].reindex(root_ids)

    def aligned(column: pd.Series) -> pd.Series:
        return column.set_axis(frame.index)

    frame[C.PROGRAMME_NAME_EN] = aligned(programme["name_en"])
    frame[C.PROGRAMME_NAME_JA] = aligned(programme["name_ja"])
    frame[C.PROGRAMME_LEVEL] = aligned(programme["level"])
    frame[C.ROOT_PROGRAMME_ID] = root_ids
    frame[C.ROOT_PROGRAMME_NAME_EN] = aligned(root["name_en"])
    frame[C.ROOT_PROGRAMME_NAME_JA] = aligned(root["name_ja"])
    frame[C.COUNTRY_ID] = aligned(programme["country_id"])
    # What the award pays for: its own kind where it has one (quantum computing paid from a compute
    # programme), otherwise its programme's.
    own_kind = frame["kind"] if "kind" in frame else pd.Series(None, index=frame.index, dtype=object)
    frame[C.KIND] = own_kind.where(own_kind.notna(), aligned(programme["kind"]))
    linked = recipients.reindex(frame["id"]) if len(recipients) else None
    for column in (C.RECIPIENT_IDS, C.RECIPIENTS_EN, C.RECIPIENTS_JA, C.JOINT, C.PROJECT_LABEL, C.PROJECT_LABEL_JA):
        if links or column != C.RECIPIENT_IDS:
            frame[column] = aligned(linked[column]) if linked is not None else None
    if not links:
        return frame
    # An award without recipients (an invalid package's) has no ids: an empty tuple, set where missing only.
    recipient_ids = frame[C.RECIPIENT_IDS].to_numpy(dtype=object, copy=True)
    for row in np.flatnonzero(pd.isna(recipient_ids)).tolist():
        recipient_ids[row] = ()
    frame[C.RECIPIENT_IDS] = pd.Series(recipient_ids, index=frame.index, dtype=object)
    sources = links_by_row(package, "citations", "source_id", "award_id")
    caveats = links_by_row(package, "caveat_links", "caveat_id", "award_id")
    ids = frame["id"].tolist()
    frame[C.SOURCE_IDS] = pd.Series([sources.get(i, ()) for i in ids], index=frame.index, dtype=object)
    frame[C.CAVEAT_IDS] = pd.Series([caveats.get(i, ()) for i in ids], index=frame.index, dtype=object)
    return frame


def programme_view(package: Package) -> pd.DataFrame:
    """One row per programme, round, component or frame, with its allocation to named awards.

    Adds: country and parent names (English and Japanese), root programme, the sum of the awards made under it (its own
    and its descendants', in its currency), how many awards have no published amount, the bases of
    those awards, the annualised amount, and the ids of its sources and caveats.
    """
    programmes = package.frame("programmes")
    countries = package.frame("countries").set_index("id")
    names = programmes.set_index("id")["name_en"]
    names_ja = programmes.set_index("id")["name_ja"]
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
    sources = links_by_row(package, "citations", "source_id", "programme_id")
    caveats = links_by_row(package, "caveat_links", "caveat_id", "programme_id")
    frame[C.SOURCE_IDS] = frame["id"].map(lambda i: sources.get(i, ()))
    frame[C.CAVEAT_IDS] = frame["id"].map(lambda i: caveats.get(i, ()))
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


def totals_by_recipient(
    awards: pd.DataFrame,
    amount_column: str = "amount",
    currency_column: str = "currency",
) -> pd.DataFrame:
    """Total per recipient (a joint project is its own recipient, never split), per currency.

    Returns one row per (project label, currency) with the exact total, the number of awards and
    of awards without a published amount, the distinct bases, and the programmes they came from.
    Awards without an amount are counted, not summed.
    """
    rows = []
    for (label, currency), group in awards.groupby([C.PROJECT_LABEL, currency_column], sort=False, dropna=False):
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
    text = frame[other]
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
    "pool_shares",
    "programme_totals",
    "programme_view",
    "recipients_by_award",
    "totals_by_recipient",
]
