"""Package-level validation rules, run after every row has passed its model and its references.

The package rules in :data:`PACKAGE_RULES` look across tables and report without removing rows,
because the rows themselves are well-formed: it is their combination that needs a person's eye.
(Keys and references, which do remove rows, are :mod:`aifunding.data.references`.) Each problem is
worded in :mod:`aifunding.loading.rule_problems`, which the columnar rules share. A rule that looks for
rows of a table not all of whose rows are there (:func:`rules_to_run`) is not run, and one warning says so.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from aifunding.data.models import Award, AwardRecipient, Caveat, CaveatLink, Citation, MarketShare, Milestone, Programme
from aifunding.data.parsing import LoadedRow, typed_rows
from aifunding.data.report import Problem, ValidationReport
from aifunding.data.tables import CITED_TABLES, TABLES, TABLES_BY_NAME
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import CEILING_BASES, ROUNDED_BASES
from aifunding.loading.rule_problems import (
    DATED_COLUMNS,
    MAX_SEGMENT_TOTAL,
    award_currency_problem,
    ceiling_currency_problem,
    currency_problem,
    future_date_problem,
    half_unit,  # noqa: F401  (re-exported: its tests import it from here)
    known_currencies,
    later_than_today,
    over_ceiling_problem,
    overlap_pair_problem,
    period_nesting_problem,
    recipients_problem,
    rules_not_checked_problem,
    share_total_problem,
    unattached_caveat_problem,
    uncited_problem,
    vendor_organisation_problem,
)
from aifunding.loading.text_rules import check_english_text, check_organisation_names, check_programme_titles

Rows = dict[str, list[LoadedRow]]


@dataclass(frozen=True)
class Rule:
    """One package rule: a code, what it checks (for the docs), the check itself, and the tables it looks in."""

    code: str
    description: str
    check: Callable[[Rows], Iterator[Problem]]
    # The tables it looks in for a row, reporting another table's row when it finds none there (an uncited
    # figure, an award without recipients): it runs only when none of their rows was left unread or
    # unchecked (:func:`rules_to_run`). Other rules report only what they find.
    needs: tuple[str, ...] = ()


def programme_tree(rows: Rows) -> ProgrammeTree:
    """The tree of the loaded programmes."""
    return ProgrammeTree.from_pairs((p.id, p.parent_id) for _, p in typed_rows(rows["programmes"], Programme))


def check_awards_within_ceiling(rows: Rows) -> Iterator[Problem]:
    """Awards inside a programme must not add to more than its amount (rounding of 'about' allowed)."""
    tree = programme_tree(rows)
    # Each award counts towards its programme and every programme above it (nesting is bounded).
    # Each award is kept with its amount, which is never None here.
    awards_within: dict[str, list[tuple[Award, Decimal]]] = defaultdict(list)
    for _, award in typed_rows(rows["awards"], Award):
        if award.amount is not None:
            for pid in tree.ancestors(award.programme_id):
                awards_within[pid].append((award, award.amount))
    for row, p in typed_rows(rows["programmes"], Programme):
        if p.amount is None or p.basis not in CEILING_BASES:
            continue
        awards = awards_within.get(p.id, [])
        same = [(a, amount) for a, amount in awards if a.currency == p.currency]
        if len(same) != len(awards):
            yield ceiling_currency_problem(row, p.id, p.currency)
        total = sum((amount for _, amount in same), Decimal(0))
        if total > p.amount:
            rounded = (amount for a, amount in same if a.basis in ROUNDED_BASES)
            yield over_ceiling_problem(row, p.id, p.amount, p.currency, p.basis, len(same), total, rounded)


def check_currencies(rows: Rows) -> Iterator[Problem]:
    """Currencies must be ISO 4217 codes; ones outside the ECB table cannot be converted."""
    iso, convertible = known_currencies()
    currencies = [("programmes", row, p.currency) for row, p in typed_rows(rows["programmes"], Programme)]
    currencies += [("awards", row, a.currency) for row, a in typed_rows(rows["awards"], Award)]
    for table, row, code in currencies:
        problem = currency_problem(table, row, code, iso, convertible)
        if problem is not None:
            yield problem


def check_dates_not_in_future(rows: Rows) -> Iterator[Problem]:
    """An announcement or publication cannot be later than today."""
    today = datetime.date.today().isoformat()
    for table, column in DATED_COLUMNS:
        for row in rows[table]:
            value = getattr(row.model, column)
            if value is not None and later_than_today(value, today):
                yield future_date_problem(table, row, column, value, today)


def check_segment_totals(rows: Rows) -> Iterator[Problem]:
    """The lower bounds of segment shares in one market cannot add to more than 100%."""
    by_market: dict[str, list[tuple[LoadedRow, MarketShare]]] = defaultdict(list)
    for row, share in typed_rows(rows["market_shares"], MarketShare):
        by_market[share.market_id].append((row, share))
    for market, shares in by_market.items():
        total = sum((s.share_low for _, s in shares if s.share_low is not None), Decimal(0))
        if total > MAX_SEGMENT_TOTAL:
            yield share_total_problem(shares[-1][0], market, total)


# The row model of each table in CITED_TABLES.
CITED_MODELS: dict[str, type[Programme | Award | MarketShare | Milestone]] = {
    "programmes": Programme,
    "awards": Award,
    "market_shares": MarketShare,
    "milestones": Milestone,
}


def check_cited(rows: Rows) -> Iterator[Problem]:
    """Every figure row (programme, award, market share, milestone) cites at least one source."""
    cited: dict[str, set[str]] = defaultdict(set)
    for _, citation in typed_rows(rows["citations"], Citation):
        column, target = citation.target
        cited[column].add(target)
    for table, column in CITED_TABLES.items():
        for row, figure in typed_rows(rows[table], CITED_MODELS[table]):
            if figure.id not in cited[column]:
                yield uncited_problem(table, row, figure.id, column)


def check_recipients(rows: Rows) -> Iterator[Problem]:
    """Each award has recipients; a joint award has exactly one lead and members, a single one is sole."""
    by_award: dict[str, list[tuple[LoadedRow, AwardRecipient]]] = defaultdict(list)
    for row, recipient in typed_rows(rows["award_recipients"], AwardRecipient):
        by_award[recipient.award_id].append((row, recipient))
    for award_row, award in typed_rows(rows["awards"], Award):
        recipients = by_award.get(award.id, [])
        first = recipients[0][0] if recipients else None
        problem = recipients_problem(award_row, award.id, first, [r.role for _, r in recipients])
        if problem is not None:
            yield problem


def check_award_currency(rows: Rows) -> Iterator[Problem]:
    """An award is normally in its programme's currency; say so when it is not."""
    currency = {p.id: p.currency for _, p in typed_rows(rows["programmes"], Programme)}
    for row, award in typed_rows(rows["awards"], Award):
        problem = award_currency_problem(row, award.currency, currency.get(award.programme_id))
        if problem is not None:
            yield problem


def check_vendor_segments(rows: Rows) -> Iterator[Problem]:
    """A share for one vendor should link the vendor's organisation row."""
    for row, share in typed_rows(rows["market_shares"], MarketShare):
        if share.segment_kind == "vendor" and share.organisation_id is None:
            yield vendor_organisation_problem(row)


def check_caveats_attached(rows: Rows) -> Iterator[Problem]:
    """A caveat that concerns no row is never shown to anyone."""
    attached = {link.caveat_id for _, link in typed_rows(rows["caveat_links"], CaveatLink)}
    for row, caveat in typed_rows(rows["caveats"], Caveat):
        if caveat.id not in attached:
            yield unattached_caveat_problem(row, caveat.id)


def check_periods_nested(rows: Rows) -> Iterator[Problem]:
    """A programme's fiscal years lie inside its parent's: a five-year plan never sits in a one-year line."""
    programmes = list(typed_rows(rows["programmes"], Programme))
    periods = {
        p.id: (p.period_start_fy, p.period_end_fy)
        for _, p in programmes
        if p.period_start_fy is not None and p.period_end_fy is not None
    }
    for row, p in programmes:
        parent = p.parent_id
        if p.id not in periods or parent is None or parent not in periods:
            continue
        problem = period_nesting_problem(row, parent, periods[p.id], periods[parent])
        if problem is not None:
            yield problem


def check_overlaps_pair(rows: Rows) -> Iterator[Problem]:
    """An overlap caveat ties at least two amounts together, or it counts nothing once."""
    linked: dict[str, int] = defaultdict(int)
    for _, link in typed_rows(rows["caveat_links"], CaveatLink):
        if link.programme_id is not None or link.award_id is not None:
            linked[link.caveat_id] += 1
    for row, caveat in typed_rows(rows["caveats"], Caveat):
        problem = overlap_pair_problem(row, caveat.id, caveat.kind, linked[caveat.id])
        if problem is not None:
            yield problem


PACKAGE_RULES: tuple[Rule, ...] = (
    Rule(
        "ceiling",
        "Awards inside a programme add to no more than its amount (rounding of 'about' figures gives a warning).",
        check_awards_within_ceiling,
    ),
    Rule("currency", "Currencies are ISO 4217; ones outside the ECB table are flagged.", check_currencies),
    Rule("future-date", "Announcement and publication dates are not in the future.", check_dates_not_in_future),
    Rule("share-total", "Segment shares of one market add to at most 100%.", check_segment_totals),
    Rule("uncited", "Every figure row cites a source.", check_cited, ("citations",)),
    Rule("recipients", "Every award has recipients with consistent roles.", check_recipients, ("award_recipients",)),
    Rule("award-currency", "Awards are in their programme's currency.", check_award_currency),
    Rule("vendor-organisation", "Vendor shares name their organisation.", check_vendor_segments),
    Rule("caveat-unattached", "Every caveat is attached to a row.", check_caveats_attached, ("caveat_links",)),
    Rule("period-nesting", "A programme's fiscal years lie inside its parent's.", check_periods_nested),
    Rule(
        "overlap-pair",
        "An overlap caveat ties at least two programme or award rows.",
        check_overlaps_pair,
        ("caveat_links",),
    ),
    Rule("english-text", "English text columns hold Latin letters (a warning per cell).", check_english_text),
    Rule(
        "organisation-name",
        "No two organisations of one country share a name (a warning naming the first).",
        check_organisation_names,
    ),
    Rule(
        "programme-title",
        "No two programmes beside each other share a title but for width, particles or spacing (a warning).",
        check_programme_titles,
    ),
)


def run_package_rules(rows: Rows, report: ValidationReport, files: Mapping[str, str] | None = None) -> None:
    for rule in rules_to_run(report, files or {}):
        report.problems.extend(rule.check(rows))


def rules_to_run(report: ValidationReport, files: Mapping[str, str]) -> list[Rule]:
    """The package rules whose tables are whole; one warning names the others, which are not run, and why.

    A table is not whole when it was not read (:attr:`ValidationReport.unread`), or when rows of it were
    not checked because they refer to one that was not (:attr:`ValidationReport.unchecked`).
    """
    whys = _not_whole(report, files)
    skipped = [rule for rule in PACKAGE_RULES if any(name in whys for name in rule.needs)]
    if skipped:
        tables = [table.name for table in TABLES if any(table.name in rule.needs for rule in skipped)]
        first = next(name for name in tables if name in whys)
        problem = rules_not_checked_problem(
            [rule.code for rule in skipped], [whys[name] for name in tables if name in whys], first, _file(files, first)
        )
        report.problems.append(problem)
    return [rule for rule in PACKAGE_RULES if rule not in skipped]


def _not_whole(report: ValidationReport, files: Mapping[str, str]) -> dict[str, str]:
    """Each table not all of whose rows are loaded for a reason other than their own, and why, in words."""
    whys: dict[str, str] = {}
    for table in TABLES:
        file, unchecked = _file(files, table.name), report.unchecked.get(table.name, 0)
        if table.name in report.unread:
            whys[table.name] = f"{file} was not read"
        elif table.name in report.partly_read:
            whys[table.name] = f"{file} was not read to the end"
        elif unchecked:
            rows = f"{unchecked:,} row of {file} refers" if unchecked == 1 else f"{unchecked:,} rows of {file} refer"
            whys[table.name] = f"{rows} to a table that was not read"
    return whys


def _file(files: Mapping[str, str], name: str) -> str:
    return files.get(name) or TABLES_BY_NAME[name].path
