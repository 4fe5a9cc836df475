"""Package rules over column-held rows: :mod:`aifunding.loading.rules` without an object per row.

:func:`run_package_rules_columnar` reports what :func:`run_package_rules` reports for the same rows,
in the same order: rule by rule in the order of :data:`PACKAGE_RULES`, each in row order. Each rule
finds the rows that may need a problem with whole-column operations (Arrow hash lookups, group
counts), then asks the function in :mod:`aifunding.loading.rule_problems` that the per-row rule asks,
which words the problem and, where it can return None, has the last word on whether there is one.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from aifunding.data.column_sets import (
    at,
    group_sums,
    index_in,
    isin,
    key_codes,
    objects,
    present,
    repeats,
    string_set,
    strings,
)
from aifunding.data.columnar_references import Resolved
from aifunding.data.models import Citation
from aifunding.data.report import Problem, ValidationReport
from aifunding.data.rowset import RowSet
from aifunding.data.tables import CITED_TABLES
from aifunding.data.vocabulary import CaveatKind, Role, SegmentKind
from aifunding.loading.columnar_ceiling import check_awards_within_ceiling
from aifunding.loading.columnar_text_rules import check_english_text, check_organisation_names, check_programme_titles
from aifunding.loading.rule_problems import (
    DATED_COLUMNS,
    MAX_SEGMENT_TOTAL,
    award_currency_problem,
    currency_problem,
    future_date_problem,
    known_currencies,
    later_than_today,
    overlap_pair_problem,
    period_nesting_problem,
    recipients_problem,
    share_total_problem,
    unattached_caveat_problem,
    uncited_problem,
    vendor_organisation_problem,
)
from aifunding.loading.rules import rules_to_run

RowSets = dict[str, RowSet]

RULE_THREADS = 2


def run_package_rules_columnar(
    rows: RowSets, report: ValidationReport, files: Mapping[str, str] | None = None, resolved: Resolved | None = None
) -> None:
    """Add the problems of every package rule, as :func:`run_package_rules` adds them for the same rows.

    It leaves out the rules that run_package_rules leaves out, with the same warning (:func:`rules_to_run`). The
    rules that follow references (each recipient's award, each citation's figure) read where they point from
    ``resolved``, as :func:`run_reference_rules_columnar` returned it for these rows, rather than look them up again.
    """
    resolved = resolved or Resolved()
    checks = [COLUMNAR_CHECKS[rule.code] for rule in rules_to_run(report, files or {})]

    context = decimal.getcontext()  # the caller's precision and rounding: a thread starts with the default

    def problems(check: Callable[..., Iterator[Problem]]) -> list[Problem]:
        with decimal.localcontext(context):
            return list(check(rows, resolved) if check in FOLLOWING else check(rows))

    # A rule only reads the rows: two run at once (most of their time is Arrow's and numpy's, which let the other
    # run; at a million awards the ceilings take 0.2 s, the rest 0.3 s), their problems added in the rules' order.
    with ThreadPoolExecutor(RULE_THREADS, thread_name_prefix="aifunding-rule") as pool:
        for found in pool.map(problems, checks):
            report.problems.extend(found)


def _flagged(mask: np.ndarray | pd.Series) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def _numpy_bool(truth: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow comparison as a numpy mask: null (a missing value compared) is False."""
    return np.asarray(pc.fill_null(truth, False).to_numpy(zero_copy_only=False), dtype=bool)


def _equals(column: pd.Series, value: str) -> np.ndarray:
    """True where ``column`` holds ``value``; False where it holds another or nothing."""
    return _numpy_bool(pc.equal(strings(column), value))


def check_currencies(rows: RowSets) -> Iterator[Problem]:
    """Currencies must be ISO 4217 codes; ones outside the ECB table cannot be converted."""
    iso, convertible = known_currencies()
    fine = pa.array(sorted(iso & convertible), type=pa.large_string())
    for table in ("programmes", "awards"):
        column = rows[table].values["currency"]
        flagged = _flagged(present(column) & ~isin(column, fine))
        for position, code in zip(flagged, objects(column.iloc[flagged]), strict=True):
            problem = currency_problem(table, at(rows[table], position), code, iso, convertible)
            if problem is not None:
                yield problem


def check_dates_not_in_future(rows: RowSets) -> Iterator[Problem]:
    """An announcement or publication cannot be later than today."""
    today = datetime.date.today().isoformat()
    for table, column in DATED_COLUMNS:
        dates = strings(rows[table].values[column])
        # A date later than today at its own precision sorts after today as text (the converse fails for
        # a shorter date, 2026 against 2025-06-01, which later_than_today settles).
        flagged = _flagged(_numpy_bool(pc.greater(dates, today)))
        for position, value in zip(flagged, pc.take(dates, flagged).to_pylist(), strict=True):
            if later_than_today(value, today):
                yield future_date_problem(table, at(rows[table], position), column, value, today)


def check_segment_totals(rows: RowSets) -> Iterator[Problem]:
    """The lower bounds of segment shares in one market cannot add to more than 100%."""
    shares = rows["market_shares"]
    codes = key_codes(shares.values, ("market_id",))  # markets numbered in the order of their first share
    markets = objects(shares.values["market_id"].iloc[np.flatnonzero(~repeats(codes))])
    lasts = np.full(len(markets), -1, dtype=np.int64)
    np.maximum.at(lasts, codes, np.arange(len(codes)))  # each market's last share, where the total is known
    lows = shares.values["share_low"].to_numpy(dtype=object)
    given = ~pd.isna(lows)
    totals = group_sums(lows[given], codes[given], len(markets))
    for market, last, total in zip(markets, lasts.tolist(), totals.tolist(), strict=True):
        if total > MAX_SEGMENT_TOTAL:
            yield share_total_problem(at(shares, last), market, total)


def check_cited(rows: RowSets, resolved: Resolved) -> Iterator[Problem]:
    """Every figure row (programme, award, market share, milestone) cites at least one source."""
    citations = rows["citations"].values
    targets: dict[str, np.ndarray] = {}  # per target column, the citations whose target it is
    targeted = np.zeros(len(citations), dtype=bool)  # a citation's target is its first column that names a row
    for column in Citation.target_fields:
        given = present(citations[column])
        targets[column] = given & ~targeted
        targeted |= given
    for table, column in CITED_TABLES.items():
        ids = rows[table].values["id"]
        pointing = resolved.positions(rows, "citations", column, table)
        if pointing is None:
            cited = isin(ids, string_set(pc.filter(strings(citations[column]), targets[column])))
        else:  # each figure row's id is its own (the references left no two rows one key)
            cited = np.zeros(len(ids), dtype=bool)
            cited[pointing[targets[column] & (pointing >= 0)]] = True
        flagged = _flagged(~cited)
        for position, figure in zip(flagged, objects(ids.iloc[flagged]), strict=True):
            yield uncited_problem(table, at(rows[table], position), figure, column)


def check_recipients(rows: RowSets, resolved: Resolved) -> Iterator[Problem]:
    """Each award has recipients; a joint award has exactly one lead and members, a single one is sole."""
    recipients, awards = rows["award_recipients"], rows["awards"]
    ids = strings(awards.values["id"])
    # Each recipient counts for the first award with its award_id: per award row, how many, how many lead or sole.
    award = resolved.positions(rows, "award_recipients", "award_id", "awards")
    if award is None:
        award = index_in(recipients.values["award_id"], ids)
    counted = award >= 0
    roles = recipients.values["role"]

    def per_award(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(award[counted], None if weights is None else weights[counted], minlength=len(ids))

    sizes, leads, soles = (
        per_award(None),
        per_award(_equals(roles, Role.LEAD.value)),
        per_award(_equals(roles, Role.SOLE.value)),
    )
    # The per-row rule looks recipients up by id: an award whose id an earlier one has shares that one's.
    # (Every id is found, if only as itself: an award always has one.)
    source = np.arange(len(ids))
    none = np.flatnonzero(sizes == 0)
    source[none] = index_in(pc.take(ids, none), ids)
    sizes, leads, soles = sizes[source], leads[source], soles[source]
    faulty = (sizes == 0) | ((sizes == 1) & (soles == 0)) | ((sizes > 1) & ((leads != 1) | (soles > 0)))
    flagged = _flagged(faulty)
    if not len(flagged):
        return
    # The recipients of the flagged awards, each award's in row order.
    chosen = np.flatnonzero(counted & np.isin(award, source[flagged]))
    named: dict[int, list[int]] = {}
    for position, of in zip(chosen.tolist(), award[chosen].tolist(), strict=True):
        named.setdefault(of, []).append(position)
    for position, award_id in zip(flagged, objects(awards.values["id"].iloc[flagged]), strict=True):
        mine = named.get(int(source[position]), [])
        first = at(recipients, mine[0]) if mine else None
        problem = recipients_problem(at(awards, position), award_id, first, objects(roles.iloc[mine]))
        if problem is not None:
            yield problem


def check_award_currency(rows: RowSets) -> Iterator[Problem]:
    """An award is normally in its programme's currency; say so when it is not."""
    programmes, awards = rows["programmes"].values, rows["awards"].values
    # Each programme id's currency: the last row's, as a dict built row by row keeps it.
    last = programmes.drop_duplicates("id", keep="last")
    where = index_in(awards["programme_id"], strings(last["id"]))
    expected = pc.take(strings(last["currency"]), pa.array(where, mask=where < 0))
    currencies = strings(awards["currency"])
    flagged = _flagged(_numpy_bool(pc.not_equal(currencies, expected)))
    for position, currency, other in zip(
        flagged, pc.take(currencies, flagged).to_pylist(), pc.take(expected, flagged).to_pylist(), strict=True
    ):
        problem = award_currency_problem(at(rows["awards"], position), currency, other)
        if problem is not None:
            yield problem


def check_vendor_segments(rows: RowSets) -> Iterator[Problem]:
    """A share for one vendor should link the vendor's organisation row."""
    shares = rows["market_shares"]
    vendor = _equals(shares.values["segment_kind"], SegmentKind.VENDOR.value)
    for position in _flagged(vendor & ~present(shares.values["organisation_id"])):
        yield vendor_organisation_problem(at(shares, position))


def check_caveats_attached(rows: RowSets) -> Iterator[Problem]:
    """A caveat that concerns no row is never shown to anyone."""
    caveats = rows["caveats"]
    ids = caveats.values["id"]
    flagged = _flagged(~isin(ids, string_set(rows["caveat_links"].values["caveat_id"])))
    for position, caveat in zip(flagged, objects(ids.iloc[flagged]), strict=True):
        yield unattached_caveat_problem(at(caveats, position), caveat)


def check_periods_nested(rows: RowSets) -> Iterator[Problem]:
    """A programme's fiscal years lie inside its parent's: a five-year plan never sits in a one-year line."""
    programmes = rows["programmes"]
    ids, parents, starts, ends = (
        objects(programmes.values[c]) for c in ("id", "parent_id", "period_start_fy", "period_end_fy")
    )
    periods = {
        pid: (start, end)
        for pid, start, end in zip(ids, starts, ends, strict=True)
        if start is not None and end is not None
    }
    for position, (pid, parent) in enumerate(zip(ids, parents, strict=True)):
        if pid not in periods or parent is None or parent not in periods:
            continue
        problem = period_nesting_problem(at(programmes, position), parent, periods[pid], periods[parent])
        if problem is not None:
            yield problem


def check_overlaps_pair(rows: RowSets) -> Iterator[Problem]:
    """An overlap caveat ties at least two amounts together, or it counts nothing once."""
    links = rows["caveat_links"].values
    counted = present(links["programme_id"]) | present(links["award_id"])
    linked = links["caveat_id"][counted].value_counts()
    caveats = rows["caveats"]
    flagged = _flagged(_equals(caveats.values["kind"], CaveatKind.OVERLAP.value))
    kinds = objects(caveats.values["kind"].iloc[flagged])
    for position, caveat, kind in zip(flagged, objects(caveats.values["id"].iloc[flagged]), kinds, strict=True):
        problem = overlap_pair_problem(at(caveats, position), caveat, kind, int(linked.get(caveat, 0)))
        if problem is not None:
            yield problem


# Each package rule's columnar check, by the code of the rule in PACKAGE_RULES it reproduces.
# The checks that follow references, called with where they point as well (:class:`Resolved`).
FOLLOWING: frozenset[Callable[..., Iterator[Problem]]] = frozenset({check_cited, check_recipients})
COLUMNAR_CHECKS: dict[str, Callable[..., Iterator[Problem]]] = {
    "ceiling": check_awards_within_ceiling,
    "currency": check_currencies,
    "future-date": check_dates_not_in_future,
    "share-total": check_segment_totals,
    "uncited": check_cited,
    "recipients": check_recipients,
    "award-currency": check_award_currency,
    "vendor-organisation": check_vendor_segments,
    "caveat-unattached": check_caveats_attached,
    "period-nesting": check_periods_nested,
    "overlap-pair": check_overlaps_pair,
    "english-text": check_english_text,
    "organisation-name": check_organisation_names,
    "programme-title": check_programme_titles,
}
