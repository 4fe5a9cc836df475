"""Package-level validation rules, run after every row has passed its model and its references.

The package rules in :data:`PACKAGE_RULES` look across tables and report without removing rows,
because the rows themselves are well-formed: it is their combination that needs a person's eye.
(Keys and references, which do remove rows, are :mod:`aifunding.data.references`.)
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import list_currencies

from aifunding.data.models import Award, AwardRecipient, Caveat, CaveatLink, Citation, MarketShare, Milestone, Programme
from aifunding.data.parsing import LoadedRow, typed_rows
from aifunding.data.references import row_problem
from aifunding.data.report import Problem, Severity, ValidationReport
from aifunding.data.tables import CITED_TABLES
from aifunding.data.tree import ProgrammeTree
from aifunding.data.vocabulary import CEILING_BASES, ROUNDED_BASES, Basis, CaveatKind, Role

Rows = dict[str, list[LoadedRow]]

# Shares of segments inside one market cannot add to more than the whole market.
MAX_SEGMENT_TOTAL = Decimal(100)


@dataclass(frozen=True)
class Rule:
    """One package rule: a code, what it checks (for the docs), and the check itself."""

    code: str
    description: str
    check: Callable[[Rows], Iterator[Problem]]


def half_unit(amount: Decimal) -> Decimal:
    """Half of the last significant digit's place value: the rounding error of a published figure.

    ``1930000000`` (published as 19.3億) is exact to 10,000,000, so it may be off by 5,000,000.
    """
    exponent = amount.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N' or 'F': NaN or infinity, which no validated amount is
        raise ValueError(f"{amount} is not a finite amount")
    return Decimal(5) * Decimal(10) ** (exponent - 1)


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
            yield row_problem(
                Severity.WARNING,
                "ceiling-currency",
                "programmes",
                row,
                "currency",
                p.currency,
                f"some awards under '{p.id}' are in another currency, so they were not checked against its amount",
            )
        total = sum((amount for _, amount in same), Decimal(0))
        if total <= p.amount:
            continue
        tolerance = sum((half_unit(amount) for a, amount in same if a.basis in ROUNDED_BASES), Decimal(0))
        if p.basis in ROUNDED_BASES:
            tolerance += half_unit(p.amount)
        excess = total - p.amount
        words = "up to " if p.basis in (Basis.UP_TO, Basis.UP_TO_ABOUT) else ""
        base = (
            f"the {len(same)} awards under '{p.id}' add up to {total:,} {p.currency}, more than its "
            f"{words}{p.amount:,} {p.currency} by {excess:,}"
        )
        if excess <= tolerance:
            yield row_problem(
                Severity.WARNING,
                "ceiling-rounding",
                "programmes",
                row,
                "amount",
                p.amount,
                f"{base}; this is within the {tolerance:,} that rounding of 'about' figures allows, "
                "so it is most likely rounding",
            )
        else:
            yield row_problem(
                Severity.ERROR,
                "ceiling",
                "programmes",
                row,
                "amount",
                p.amount,
                f"{base}, which is more than rounding of 'about' figures can explain ({tolerance:,}); "
                "check the award amounts and the programme ceiling",
            )


def check_currencies(rows: Rows) -> Iterator[Problem]:
    """Currencies must be ISO 4217 codes; ones outside the ECB table cannot be converted."""
    from aifunding.money.fx import supported_currencies

    iso = set(list_currencies())
    convertible = set(supported_currencies()) | {"EUR"}
    currencies = [("programmes", row, p.currency) for row, p in typed_rows(rows["programmes"], Programme)]
    currencies += [("awards", row, a.currency) for row, a in typed_rows(rows["awards"], Award)]
    for table, row, code in currencies:
        if code is None:
            continue
        if code not in iso:
            yield row_problem(
                Severity.ERROR,
                "currency",
                table,
                row,
                "currency",
                code,
                f"'{code}' is not an ISO 4217 currency code (for example JPY, USD, EUR)",
            )
        elif code not in convertible:
            yield row_problem(
                Severity.WARNING,
                "currency-not-convertible",
                table,
                row,
                "currency",
                code,
                f"'{code}' is not in the ECB reference rates, so this amount cannot be converted to another currency",
            )


def check_dates_not_in_future(rows: Rows) -> Iterator[Problem]:
    """An announcement or publication cannot be later than today."""
    today = datetime.date.today().isoformat()
    for table, column in (("programmes", "announced"), ("awards", "announced"), ("sources", "published")):
        for row in rows[table]:
            value = getattr(row.model, column)
            if value is not None and value[: len(today)] > today[: len(value)]:
                yield row_problem(
                    Severity.ERROR,
                    "future-date",
                    table,
                    row,
                    column,
                    value,
                    f"{value} is in the future; an announcement or publication date must not be "
                    f"later than today ({today})",
                )


def check_segment_totals(rows: Rows) -> Iterator[Problem]:
    """The lower bounds of segment shares in one market cannot add to more than 100%."""
    by_market: dict[str, list[tuple[LoadedRow, MarketShare]]] = defaultdict(list)
    for row, share in typed_rows(rows["market_shares"], MarketShare):
        by_market[share.market_id].append((row, share))
    for market, shares in by_market.items():
        total = sum((s.share_low for _, s in shares if s.share_low is not None), Decimal(0))
        if total > MAX_SEGMENT_TOTAL:
            yield row_problem(
                Severity.ERROR,
                "share-total",
                "market_shares",
                shares[-1][0],
                "share_low",
                total,
                f"the segment shares of market '{market}' add up to at least {total}%, more than 100%; "
                "segments of one market must not overlap",
            )


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
                yield row_problem(
                    Severity.ERROR,
                    "uncited",
                    table,
                    row,
                    "id",
                    figure.id,
                    f"'{figure.id}' is not cited by any source; add a row to citations.csv with "
                    f"source_id and {column} = {figure.id}",
                )


def check_recipients(rows: Rows) -> Iterator[Problem]:
    """Each award has recipients; a joint award has exactly one lead and members, a single one is sole."""
    by_award: dict[str, list[tuple[LoadedRow, AwardRecipient]]] = defaultdict(list)
    for row, recipient in typed_rows(rows["award_recipients"], AwardRecipient):
        by_award[recipient.award_id].append((row, recipient))
    for award_row, award in typed_rows(rows["awards"], Award):
        recipients = by_award.get(award.id, [])
        roles = [r.role for _, r in recipients]
        if not recipients:
            yield row_problem(
                Severity.ERROR,
                "no-recipient",
                "awards",
                award_row,
                "id",
                award.id,
                f"award '{award.id}' has no recipient in award_recipients.csv",
            )
        elif len(recipients) == 1 and roles[0] != Role.SOLE:
            yield row_problem(
                Severity.ERROR,
                "recipient-role",
                "award_recipients",
                recipients[0][0],
                "role",
                roles[0],
                "an award with one recipient must give it the role 'sole'",
            )
        elif len(recipients) > 1 and (roles.count(Role.LEAD) != 1 or Role.SOLE in roles):
            yield row_problem(
                Severity.ERROR,
                "recipient-role",
                "award_recipients",
                recipients[0][0],
                "role",
                ", ".join(roles),
                f"joint award '{award.id}' needs exactly one 'lead' and the other recipients as 'member'",
            )


def check_award_currency(rows: Rows) -> Iterator[Problem]:
    """An award is normally in its programme's currency; say so when it is not."""
    currency = {p.id: p.currency for _, p in typed_rows(rows["programmes"], Programme)}
    for row, award in typed_rows(rows["awards"], Award):
        expected = currency.get(award.programme_id)
        if award.currency and expected and award.currency != expected:
            yield row_problem(
                Severity.WARNING,
                "award-currency",
                "awards",
                row,
                "currency",
                award.currency,
                f"the award is in {award.currency} but its programme is in {expected}",
            )


def check_vendor_segments(rows: Rows) -> Iterator[Problem]:
    """A share for one vendor should link the vendor's organisation row."""
    for row, share in typed_rows(rows["market_shares"], MarketShare):
        if share.segment_kind == "vendor" and share.organisation_id is None:
            yield row_problem(
                Severity.WARNING,
                "vendor-organisation",
                "market_shares",
                row,
                "organisation_id",
                None,
                "a vendor segment should name the vendor in organisation_id",
            )


def check_caveats_attached(rows: Rows) -> Iterator[Problem]:
    """A caveat that concerns no row is never shown to anyone."""
    attached = {link.caveat_id for _, link in typed_rows(rows["caveat_links"], CaveatLink)}
    for row, caveat in typed_rows(rows["caveats"], Caveat):
        if caveat.id not in attached:
            yield row_problem(
                Severity.WARNING,
                "caveat-unattached",
                "caveats",
                row,
                "id",
                caveat.id,
                f"caveat '{caveat.id}' is not attached to any row in caveat_links.csv, so no chart shows it",
            )


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
        (start, end), (parent_start, parent_end) = periods[p.id], periods[parent]
        if start < parent_start or end > parent_end:
            yield row_problem(
                Severity.ERROR,
                "period-nesting",
                "programmes",
                row,
                "parent_id",
                parent,
                f"FY{start}-FY{end} does not fit inside its parent '{parent}' (FY{parent_start}-FY{parent_end}): "
                "a longer plan cannot sit inside a shorter budget line; place it beside the line, not in it",
            )


def check_overlaps_pair(rows: Rows) -> Iterator[Problem]:
    """An overlap caveat ties at least two amounts together, or it counts nothing once."""
    linked: dict[str, int] = defaultdict(int)
    for _, link in typed_rows(rows["caveat_links"], CaveatLink):
        if link.programme_id is not None or link.award_id is not None:
            linked[link.caveat_id] += 1
    for row, caveat in typed_rows(rows["caveats"], Caveat):
        if caveat.kind == CaveatKind.OVERLAP and linked[caveat.id] < 2:
            yield row_problem(
                Severity.ERROR,
                "overlap-pair",
                "caveats",
                row,
                "kind",
                caveat.kind,
                f"an overlap caveat must be attached to at least two programme or award rows; "
                f"'{caveat.id}' is attached to {linked[caveat.id]}",
            )


PACKAGE_RULES: tuple[Rule, ...] = (
    Rule(
        "ceiling",
        "Awards inside a programme add to no more than its amount (rounding of 'about' figures gives a warning).",
        check_awards_within_ceiling,
    ),
    Rule("currency", "Currencies are ISO 4217; ones outside the ECB table are flagged.", check_currencies),
    Rule("future-date", "Announcement and publication dates are not in the future.", check_dates_not_in_future),
    Rule("share-total", "Segment shares of one market add to at most 100%.", check_segment_totals),
    Rule("uncited", "Every figure row cites a source.", check_cited),
    Rule("recipients", "Every award has recipients with consistent roles.", check_recipients),
    Rule("award-currency", "Awards are in their programme's currency.", check_award_currency),
    Rule("vendor-organisation", "Vendor shares name their organisation.", check_vendor_segments),
    Rule("caveat-unattached", "Every caveat is attached to a row.", check_caveats_attached),
    Rule("period-nesting", "A programme's fiscal years lie inside its parent's.", check_periods_nested),
    Rule("overlap-pair", "An overlap caveat ties at least two programme or award rows.", check_overlaps_pair),
)


def run_package_rules(rows: Rows, report: ValidationReport) -> None:
    for rule in PACKAGE_RULES:
        report.problems.extend(rule.check(rows))
