"""Package-level validation rules, run after every row has passed its model.

Reference rules (unique keys, foreign keys) quarantine the rows they reject, cascading: an award
whose programme was quarantined is quarantined too, so no loaded row points at nothing. The
package rules in :data:`PACKAGE_RULES` look across tables and report without removing rows,
because the rows themselves are well-formed: it is their combination that needs a person's eye.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import list_currencies

from aifunding.limits import Limits
from aifunding.models import CEILING_BASES, ROUNDED_BASES, Basis, Role
from aifunding.package import LoadedRow, clip_row
from aifunding.report import Problem, QuarantinedRow, Severity, ValidationReport
from aifunding.tables import CITED_TABLES, TABLES, TABLES_BY_NAME
from aifunding.tree import ProgrammeTree

Rows = dict[str, list[LoadedRow]]

# Shares of segments inside one market cannot add to more than the whole market.
MAX_SEGMENT_TOTAL = Decimal(100)


def _problem(
    severity: Severity, rule: str, table: str, row: LoadedRow | None, column: str | None, value: object, message: str
) -> Problem:
    return Problem(
        severity,
        rule,
        table,
        row.file if row else TABLES_BY_NAME[table].path,
        row.line if row else None,
        column,
        None if value is None else str(value),
        message,
    )


def _key(row: LoadedRow, columns: Iterable[str]) -> tuple:
    return tuple(getattr(row.model, c) for c in columns)


# How a table's row is named in a follow-on message ("award 'x' was quarantined: ...").
ROW_NOUNS = {
    "countries": "country",
    "sources": "source",
    "organisations": "organisation",
    "programmes": "programme",
    "awards": "award",
    "markets": "market",
    "market_shares": "market share",
    "milestones": "milestone",
    "caveats": "caveat",
}


def run_reference_rules(rows: Rows, report: ValidationReport, limits: Limits | None = None) -> None:
    """Quarantine duplicate keys and rows whose references do not resolve, cascading, in one pass.

    Tables are visited in registry order, which puts every referenced table before the tables
    that refer to it; the programmes' own parent links are resolved as a tree (cycles and nesting
    deeper than ``limits.nesting`` are quarantined). A row that refers to a quarantined row says
    which one and why, so a follow-on problem always names its cause.
    """
    limits = limits or Limits()
    for table in TABLES:
        if not table.primary_key:
            continue
        first_line: dict[tuple, int] = {}
        kept = []
        for row in rows[table.name]:
            key = _key(row, table.primary_key)
            if key in first_line:
                shown = ", ".join(str(k) for k in key)
                message = (
                    f"{' + '.join(table.primary_key)} '{shown}' is already used on line {first_line[key]}; "
                    "each row needs its own"
                )
                _quarantine(report, table.name, row, table.primary_key[-1], shown, message, "duplicate-key")
            else:
                first_line[key] = row.line
                kept.append(row)
        rows[table.name] = kept

    causes = _quarantine_causes(report)
    valid: dict[str, set[str]] = {}
    for table in TABLES:
        kept = []
        for row in rows[table.name]:
            broken = next(
                (
                    fk
                    for fk in table.foreign_keys
                    if fk.ref_table != table.name
                    and getattr(row.model, fk.field) is not None
                    and getattr(row.model, fk.field) not in valid[fk.ref_table]
                ),
                None,
            )
            if broken is None:
                kept.append(row)
                continue
            value = getattr(row.model, broken.field)
            message = _dangling_message(broken.ref_table, value, causes)
            root = _root_cause(broken.ref_table, value, causes)
            _quarantine(report, table.name, row, broken.field, value, message, "foreign-key", causes, root)
        if table.name == "programmes":
            kept = _resolve_programme_tree(kept, report, limits, causes)
        rows[table.name] = kept
        if table.primary_key == ("id",):
            valid[table.name] = {row.model.id for row in kept}


def _quarantine_causes(report: ValidationReport) -> dict[str, dict[str, str]]:
    """Table -> id -> why the row with that id was quarantined, with its file and line."""
    causes: dict[str, dict[str, str]] = defaultdict(dict)
    for q in report.quarantined:
        rid = q.row.get("id")
        if rid and q.reasons:
            causes[q.table].setdefault(rid, f"{q.reasons[0]}, {q.file}:{q.line}")
    return causes


def _dangling_message(ref_table: str, value: object, causes: dict[str, dict[str, str]]) -> str:
    cause = causes.get(ref_table, {}).get(str(value))
    if cause is not None:
        return f"{ROW_NOUNS.get(ref_table, ref_table)} '{value}' was quarantined: {cause}"
    return f"refers to {ref_table} id '{value}', which does not exist in {TABLES_BY_NAME[ref_table].path}"


def _root_cause(ref_table: str, value: object, causes: dict[str, dict[str, str]]) -> str | None:
    """The first cause in a chain of quarantines, so a long chain never nests its messages."""
    return causes.get(ref_table, {}).get(str(value))


def _resolve_programme_tree(
    programmes: list[LoadedRow], report: ValidationReport, limits: Limits, causes: dict[str, dict[str, str]]
) -> list[LoadedRow]:
    """Keep the programmes that sit in a tree at most ``limits.nesting`` deep; quarantine the rest.

    Each programme is visited once: a walk up from an unresolved programme stops at the first one
    already resolved, and everything on the walk is resolved from there.
    """
    by_id = {row.model.id: row for row in programmes}
    depth: dict[str, int] = {}  # resolved and kept: levels from the top (1 = no parent)
    bad: set[str] = set()  # resolved and quarantined
    for start in by_id:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current in by_id and current not in depth and current not in bad:
            if current in on_path:  # a cycle: every programme on it is inside itself
                for pid in path[path.index(current) :]:
                    row = by_id[pid]
                    message = f"programme '{pid}' is inside itself through its parents; parents must form a tree"
                    _quarantine(
                        report, "programmes", row, "parent_id", row.model.parent_id, message, "parent-cycle", causes
                    )
                    bad.add(pid)
                path = path[: path.index(current)]
                break
            path.append(current)
            on_path.add(current)
            current = by_id[current].model.parent_id
        # ``current`` is now None (top reached), unknown, resolved, or quarantined; settle ``path`` from it.
        base: int | None = 0 if current is None else depth.get(current)
        if current is not None and current not in by_id and path:  # the top of the walk names no programme
            row = by_id[path[-1]]
            message = _dangling_message("programmes", current, causes)
            _quarantine(report, "programmes", row, "parent_id", current, message, "foreign-key", causes)
            bad.add(path.pop())
        for pid in reversed(path):
            row = by_id[pid]
            parent = row.model.parent_id
            if base is None or parent in bad:
                message = _dangling_message("programmes", parent, causes)
                root = _root_cause("programmes", parent, causes)
                _quarantine(report, "programmes", row, "parent_id", parent, message, "foreign-key", causes, root)
                bad.add(pid)
                base = None
            elif base + 1 > limits.nesting:
                message = (
                    f"programme '{pid}' sits {base + 1} levels deep; at most {limits.nesting} levels of nesting "
                    "are allowed (frame, programme, round, component is 4)"
                )
                _quarantine(report, "programmes", row, "parent_id", parent, message, "nesting", causes)
                bad.add(pid)
                base = None
            else:
                base += 1
                depth[pid] = base
    return [row for row in programmes if row.model.id in depth]


def _quarantine(
    report: ValidationReport,
    table: str,
    row: LoadedRow,
    column: str,
    value: object,
    message: str,
    rule: str,
    causes: dict[str, dict[str, str]] | None = None,
    root: str | None = None,
) -> None:
    """Quarantine ``row``; remember why under its id (``root``: the first cause of a cascade) for follow-ons."""
    report.problems.append(_problem(Severity.ERROR, rule, table, row, column, value, message))
    report.quarantined.append(QuarantinedRow(table, row.file, row.line, clip_row(row.raw), (f"{column}: {message}",)))
    rid = getattr(row.model, "id", None)
    if causes is not None and isinstance(rid, str):
        causes[table].setdefault(rid, root or f"{column}: {message}, {row.file}:{row.line}")


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
    digits = amount.normalize().as_tuple()
    return Decimal(5) * Decimal(10) ** (digits.exponent - 1)


def programme_tree(rows: Rows) -> ProgrammeTree:
    """The tree of the loaded programmes."""
    return ProgrammeTree.from_pairs((row.model.id, row.model.parent_id) for row in rows["programmes"])


def check_awards_within_ceiling(rows: Rows) -> Iterator[Problem]:
    """Awards inside a programme must not add to more than its amount (rounding of 'about' allowed)."""
    tree = programme_tree(rows)
    # Each award counts towards its programme and every programme above it (nesting is bounded).
    awards_within: dict[str, list[LoadedRow]] = defaultdict(list)
    for award in rows["awards"]:
        if award.model.amount is not None:
            for pid in tree.ancestors(award.model.programme_id):
                awards_within[pid].append(award)
    for row in rows["programmes"]:
        p = row.model
        if p.amount is None or p.basis not in CEILING_BASES:
            continue
        awards = awards_within.get(p.id, [])
        same = [a for a in awards if a.model.currency == p.currency]
        if len(same) != len(awards):
            yield _problem(
                Severity.WARNING,
                "ceiling-currency",
                "programmes",
                row,
                "currency",
                p.currency,
                f"some awards under '{p.id}' are in another currency, so they were not checked against its amount",
            )
        total = sum((a.model.amount for a in same), Decimal(0))
        if total <= p.amount:
            continue
        tolerance = sum((half_unit(a.model.amount) for a in same if a.model.basis in ROUNDED_BASES), Decimal(0))
        if p.basis in ROUNDED_BASES:
            tolerance += half_unit(p.amount)
        excess = total - p.amount
        words = "up to " if p.basis in (Basis.UP_TO, Basis.UP_TO_ABOUT) else ""
        base = (
            f"the {len(same)} awards under '{p.id}' add up to {total:,} {p.currency}, more than its "
            f"{words}{p.amount:,} {p.currency} by {excess:,}"
        )
        if excess <= tolerance:
            yield _problem(
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
            yield _problem(
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
    from aifunding.fx import supported_currencies

    iso = set(list_currencies())
    convertible = set(supported_currencies()) | {"EUR"}
    for table in ("programmes", "awards"):
        for row in rows[table]:
            code = row.model.currency
            if code is None:
                continue
            if code not in iso:
                yield _problem(
                    Severity.ERROR,
                    "currency",
                    table,
                    row,
                    "currency",
                    code,
                    f"'{code}' is not an ISO 4217 currency code (for example JPY, USD, EUR)",
                )
            elif code not in convertible:
                yield _problem(
                    Severity.WARNING,
                    "currency-not-convertible",
                    table,
                    row,
                    "currency",
                    code,
                    f"'{code}' is not in the ECB reference rates, so this amount cannot be converted to "
                    "another currency",
                )


def check_dates_not_in_future(rows: Rows) -> Iterator[Problem]:
    """An announcement or publication cannot be later than today."""
    today = datetime.date.today().isoformat()
    for table, column in (("programmes", "announced"), ("awards", "announced"), ("sources", "published")):
        for row in rows[table]:
            value = getattr(row.model, column)
            if value is not None and value[: len(today)] > today[: len(value)]:
                yield _problem(
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
    by_market: dict[str, list[LoadedRow]] = defaultdict(list)
    for row in rows["market_shares"]:
        by_market[row.model.market_id].append(row)
    for market, shares in by_market.items():
        total = sum((r.model.share_low for r in shares if r.model.share_low is not None), Decimal(0))
        if total > MAX_SEGMENT_TOTAL:
            yield _problem(
                Severity.ERROR,
                "share-total",
                "market_shares",
                shares[-1],
                "share_low",
                total,
                f"the segment shares of market '{market}' add up to at least {total}%, more than 100%; "
                "segments of one market must not overlap",
            )


def check_cited(rows: Rows) -> Iterator[Problem]:
    """Every figure row (programme, award, market share, milestone) cites at least one source."""
    cited: dict[str, set[str]] = defaultdict(set)
    for citation in rows["citations"]:
        column, target = citation.model.target
        cited[column].add(target)
    for table, column in CITED_TABLES.items():
        for row in rows[table]:
            if row.model.id not in cited[column]:
                yield _problem(
                    Severity.ERROR,
                    "uncited",
                    table,
                    row,
                    "id",
                    row.model.id,
                    f"'{row.model.id}' is not cited by any source; add a row to citations.csv with "
                    f"source_id and {column} = {row.model.id}",
                )


def check_recipients(rows: Rows) -> Iterator[Problem]:
    """Each award has recipients; a joint award has exactly one lead and members, a single one is sole."""
    by_award: dict[str, list[LoadedRow]] = defaultdict(list)
    for row in rows["award_recipients"]:
        by_award[row.model.award_id].append(row)
    for award in rows["awards"]:
        recipients = by_award.get(award.model.id, [])
        roles = [r.model.role for r in recipients]
        if not recipients:
            yield _problem(
                Severity.ERROR,
                "no-recipient",
                "awards",
                award,
                "id",
                award.model.id,
                f"award '{award.model.id}' has no recipient in award_recipients.csv",
            )
        elif len(recipients) == 1 and roles[0] != Role.SOLE:
            yield _problem(
                Severity.ERROR,
                "recipient-role",
                "award_recipients",
                recipients[0],
                "role",
                roles[0],
                "an award with one recipient must give it the role 'sole'",
            )
        elif len(recipients) > 1 and (roles.count(Role.LEAD) != 1 or Role.SOLE in roles):
            yield _problem(
                Severity.ERROR,
                "recipient-role",
                "award_recipients",
                recipients[0],
                "role",
                ", ".join(roles),
                f"joint award '{award.model.id}' needs exactly one 'lead' and the other recipients as 'member'",
            )


def check_award_currency(rows: Rows) -> Iterator[Problem]:
    """An award is normally in its programme's currency; say so when it is not."""
    currency = {r.model.id: r.model.currency for r in rows["programmes"]}
    for award in rows["awards"]:
        expected = currency.get(award.model.programme_id)
        if award.model.currency and expected and award.model.currency != expected:
            yield _problem(
                Severity.WARNING,
                "award-currency",
                "awards",
                award,
                "currency",
                award.model.currency,
                f"the award is in {award.model.currency} but its programme is in {expected}",
            )


def check_vendor_segments(rows: Rows) -> Iterator[Problem]:
    """A share for one vendor should link the vendor's organisation row."""
    for row in rows["market_shares"]:
        if row.model.segment_kind == "vendor" and row.model.organisation_id is None:
            yield _problem(
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
    attached = {r.model.caveat_id for r in rows["caveat_links"]}
    for row in rows["caveats"]:
        if row.model.id not in attached:
            yield _problem(
                Severity.WARNING,
                "caveat-unattached",
                "caveats",
                row,
                "id",
                row.model.id,
                f"caveat '{row.model.id}' is not attached to any row in caveat_links.csv, so no chart shows it",
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
)


def run_package_rules(rows: Rows, report: ValidationReport) -> None:
    for rule in PACKAGE_RULES:
        report.problems.extend(rule.check(rows))
