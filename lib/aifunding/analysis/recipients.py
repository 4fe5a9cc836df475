"""Who received each award: its recipients' ids and names in role order, and the project label.

A joint application is one award with several recipients, its lead first; its label joins their names
("Highreso + Highreso Kagawa (joint)"). Each distinct list of recipients is named and labelled once
(:func:`~aifunding.analysis.sequences.list_codes`); :func:`_recipients_by_award_rows` is the row-by-row
reference the tests compare it with.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.sequences import LONGEST_CODED, gathered, list_codes
from aifunding.data.vocabulary import Role
from aifunding.i18n import translate
from aifunding.loading.kept_views import SetsByKey
from aifunding.loading.package import Package

# A joint application's lead comes first, then its members; a sole recipient stands alone.
ROLE_ORDER = {Role.LEAD.value: 0, Role.SOLE.value: 0, Role.MEMBER.value: 1}
# The columns of a recipients frame, in their order.
RECIPIENT_COLUMNS = (
    *(C.AWARD_ID, C.RECIPIENT_IDS, C.RECIPIENTS_EN, C.RECIPIENTS_JA),
    *(C.JOINT, C.PROJECT_LABEL, C.PROJECT_LABEL_JA),
)


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


def recipients_frame(
    recipients: pd.DataFrame, organisations: pd.DataFrame, *, columns: Collection[str] | None = None
) -> pd.DataFrame:
    """:func:`recipients_by_award` from the two tables, as vectors: awards in order of first appearance.

    Each award's rows are ordered by (award, role, row) in one sort; each distinct list of recipients
    (:func:`~aifunding.analysis.sequences.list_codes`) is named, joined and labelled once in Arrow and spread to
    its awards; only the tuples of ids are Python objects. With ``columns``, only those of :data:`RECIPIENT_COLUMNS`
    are made (the award's id always is): an export writes neither the ids nor the Japanese label. Rows without an
    award or organisation id (an invalid package's) take the row-by-row path, :func:`_recipients_by_award_rows`,
    which this equals.
    """
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    wanted = frozenset(RECIPIENT_COLUMNS if columns is None else column_names(columns))
    award_ids, org_ids = recipients["award_id"], recipients["organisation_id"]
    if not len(recipients) or award_ids.isna().any() or org_ids.isna().any():
        frame = _recipients_by_award_rows(recipients, organisations)
        return frame[[name for name in frame.columns if name == C.AWARD_ID or name in wanted]]
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

    joint = counts > 1
    mask = pa.array(counts[distinct] > 1)

    def text(values: Any, by_list: bool = True) -> pd.Series:
        # Large strings, as pandas keeps text: each award's column is made once, in that type.
        values = values.cast(pa.large_string())
        return pd.Series(pd.array(values.take(spread) if by_list else values, dtype="str"))

    def labelled(joined: pa.Array, lang: str) -> pa.Array:
        return pc.if_else(mask, pc.binary_join_element_wise(joined, translate("award.joint", lang), ""), joined)

    # Each column's recipe, made only when asked for; the joined names once for both their columns.
    en, ja = functools.cache(lambda: names(name_en, " + ")), functools.cache(lambda: names(name_ja, "・"))
    made: dict[str, Callable[[], pd.Series]] = {
        C.AWARD_ID: lambda: text(awards, by_list=False),
        C.RECIPIENT_IDS: lambda: _id_tuples(org_values, picked, list_offsets, lists),
        C.RECIPIENTS_EN: lambda: text(en()),
        C.RECIPIENTS_JA: lambda: text(ja()),
        C.JOINT: lambda: pd.Series(joint, dtype=bool),
        C.PROJECT_LABEL: lambda: text(labelled(en(), "en")),
        C.PROJECT_LABEL_JA: lambda: text(labelled(ja(), "ja")),
    }
    return pd.DataFrame({name: make() for name, make in made.items() if name == C.AWARD_ID or name in wanted})


def column_names(columns: Collection[str]) -> Collection[str]:
    """``columns``, refused when it is one name (whose letters would each be taken for a column)."""
    if isinstance(columns, str):
        raise TypeError(f"columns is a collection of column names, not one name ({columns!r})")
    return columns


def _id_tuples(orgs: Any, picked: np.ndarray, offsets: np.ndarray, lists: np.ndarray) -> pd.Series:
    """Each award's tuple of recipient ids, lead first: one tuple per distinct list (its members' codes ``picked``
    from ``offsets[k]`` to ``offsets[k + 1]``), shared by every award with that list (``lists``: each award's)."""
    ids = np.asarray(orgs, dtype=object)[picked].tolist()
    bounds = np.asarray(offsets).tolist()
    each = np.fromiter(
        (tuple(ids[start:end]) for start, end in itertools.pairwise(bounds)),
        dtype=object,
        count=len(bounds) - 1,
    )
    return pd.Series(each[lists], dtype=object)


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


@dataclass(frozen=True)
class RecipientLinks:
    """Every award's recipients as numbers: one (award row, organisation code) pair per link, in award order."""

    award_rows: np.ndarray
    organisations: np.ndarray
    ids: np.ndarray  # each organisation code's id, in order of first appearance

    @classmethod
    def of(cls, recipient_ids: pd.Series) -> RecipientLinks:
        """From the awards' ``recipient_ids`` (a tuple of organisation ids per award)."""
        cells = recipient_ids.tolist()
        lengths = np.fromiter(map(len, cells), dtype=np.intp, count=len(cells))
        flat = np.fromiter(itertools.chain.from_iterable(cells), dtype=object, count=int(lengths.sum()))
        codes, ids = pd.factorize(flat, use_na_sentinel=False)
        rows = np.repeat(np.arange(len(cells)), lengths)
        return cls(rows, np.asarray(codes, dtype=np.intp), np.asarray(ids, dtype=object))

    def count(self, rows: np.ndarray | None, n_awards: int) -> int:
        """How many organisations receive the awards at ``rows`` (None: every award)."""
        picked = self.organisations
        if rows is not None:
            kept = np.zeros(n_awards, dtype=bool)
            kept[rows] = True
            picked = picked[kept[self.award_rows]]
        return int(np.count_nonzero(np.bincount(picked))) if len(picked) else 0


def programmes_by_recipient(awards: pd.DataFrame, links: RecipientLinks | None = None) -> Mapping[str, set[str]]:
    """Each recipient's programmes, in order of first appearance, as a loop over the awards' recipients adds them.

    From (recipient, programme) codes made unique in one sort: a set per recipient, not a step per link. ``links``
    are the awards' (:meth:`RecipientLinks.of`), when they are at hand.
    """
    links = RecipientLinks.of(awards[C.RECIPIENT_IDS]) if links is None else links
    if not len(links.organisations):
        return {}
    programmes, programme_ids = pd.factorize(awards["programme_id"], use_na_sentinel=False)
    # Sorted and deduplicated by hand: numpy 2.4's np.unique hashes, a hundred times slower here (1.7 s).
    pairs = np.sort(links.organisations.astype(np.int64) * len(programme_ids) + programmes[links.award_rows])
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    sizes = np.bincount(pairs // len(programme_ids), minlength=len(links.ids))
    # Each set made when asked for: a page asks for the few a filter names, of a hundred thousand recipients.
    return SetsByKey(links.ids.tolist(), sizes, pairs % len(programme_ids), np.asarray(programme_ids, dtype=object))
