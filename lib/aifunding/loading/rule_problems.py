"""What each package rule says: one function per problem, which both validators call.

The per-row rules (:mod:`aifunding.loading.rules`) and the columnar ones
(:mod:`aifunding.loading.columnar_rules`) find the same rows in different ways; building each
problem here makes it read the same whichever found it. A function takes the row's location and
plain values (a string where the per-row rules hold an enum member: the two compare and print
alike); one that returns None has decided there is nothing to report, so the columnar rules may
ask it about more rows than need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from babel.numbers import list_currencies

from aifunding.data.parsing import clip
from aifunding.data.references import RowLocation, row_problem
from aifunding.data.report import Problem, Severity
from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.data.text_keys import PARTICLES
from aifunding.data.vocabulary import ROUNDED_BASES, Basis, CaveatKind, Role

# Shares of segments inside one market cannot add to more than the whole market.
MAX_SEGMENT_TOTAL = Decimal(100)
# The dated columns that must not be later than today: (table, column).
DATED_COLUMNS = (("programmes", "announced"), ("awards", "announced"), ("sources", "published"))
# The English text columns of each table that has any (name_en, purpose_en, ...): they should read in English.
ENGLISH_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: columns for table in TABLES if (columns := tuple(c for c in table.columns if c.endswith("_en")))
}
# The name columns that two organisations or two programmes are compared by, in this order.
NAME_COLUMNS = ("name_en", "name_ja")


def half_unit(amount: Decimal) -> Decimal:
    """Half of the last significant digit's place value: the rounding error of a published figure.

    ``1930000000`` (published as 19.3億) is exact to 10,000,000, so it may be off by 5,000,000.
    """
    exponent = amount.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N' or 'F': NaN or infinity, which no validated amount is
        raise ValueError(f"{amount} is not a finite amount")
    return Decimal(5) * Decimal(10) ** (exponent - 1)


def ceiling_currency_problem(row: RowLocation, programme_id: str, currency: str | None) -> Problem:
    return row_problem(
        Severity.WARNING,
        "ceiling-currency",
        "programmes",
        row,
        "currency",
        currency,
        f"some awards under '{programme_id}' are in another currency, so they were not checked against its amount",
    )


def over_ceiling_problem(
    row: RowLocation,
    programme_id: str,
    amount: Decimal,
    currency: str | None,
    basis: str | None,
    awards: int,
    total: Decimal,
    rounded: Iterable[Decimal],
) -> Problem:
    """``awards`` in the programme's currency add to ``total``, over its ``amount``; ``rounded``: those 'about'.

    A warning when rounding of the 'about' figures (``rounded``, and the ceiling's own) can explain
    the excess, an error when it cannot.
    """
    tolerance = sum((half_unit(value) for value in rounded), Decimal(0))
    if basis in ROUNDED_BASES:
        tolerance += half_unit(amount)
    excess = total - amount
    words = "up to " if basis in (Basis.UP_TO, Basis.UP_TO_ABOUT) else ""
    base = (
        f"the {awards} awards under '{programme_id}' add up to {total:,} {currency}, more than its "
        f"{words}{amount:,} {currency} by {excess:,}"
    )
    if excess <= tolerance:
        return row_problem(
            Severity.WARNING,
            "ceiling-rounding",
            "programmes",
            row,
            "amount",
            amount,
            f"{base}; this is within the {tolerance:,} that rounding of 'about' figures allows, "
            "so it is most likely rounding",
        )
    return row_problem(
        Severity.ERROR,
        "ceiling",
        "programmes",
        row,
        "amount",
        amount,
        f"{base}, which is more than rounding of 'about' figures can explain ({tolerance:,}); "
        "check the award amounts and the programme ceiling",
    )


def known_currencies() -> tuple[frozenset[str], frozenset[str]]:
    """The ISO 4217 codes, and those the ECB reference rates can convert."""
    from aifunding.money.fx import supported_currencies

    return frozenset(list_currencies()), frozenset(supported_currencies()) | {"EUR"}


def currency_problem(
    table: str, row: RowLocation, code: str | None, iso: frozenset[str], convertible: frozenset[str]
) -> Problem | None:
    if code is None:
        return None
    if code not in iso:
        return row_problem(
            Severity.ERROR,
            "currency",
            table,
            row,
            "currency",
            code,
            f"'{code}' is not an ISO 4217 currency code (for example JPY, USD, EUR)",
        )
    if code not in convertible:
        return row_problem(
            Severity.WARNING,
            "currency-not-convertible",
            table,
            row,
            "currency",
            code,
            f"'{code}' is not in the ECB reference rates, so this amount cannot be converted to another currency",
        )
    return None


def later_than_today(value: str, today: str) -> bool:
    """Whether a partial date (YYYY, YYYY-MM, YYYY-MM-DD) is later than ``today`` at the precision it has.

    2026 is not later than 2026-03-01, nor is 2026-03; 2026-04 is.
    """
    return value[: len(today)] > today[: len(value)]


def future_date_problem(table: str, row: RowLocation, column: str, value: str, today: str) -> Problem:
    return row_problem(
        Severity.ERROR,
        "future-date",
        table,
        row,
        column,
        value,
        f"{value} is in the future; an announcement or publication date must not be later than today ({today})",
    )


def share_total_problem(row: RowLocation, market: str, total: Decimal) -> Problem:
    """``row``: the market's last share, where the total is known."""
    return row_problem(
        Severity.ERROR,
        "share-total",
        "market_shares",
        row,
        "share_low",
        total,
        f"the segment shares of market '{market}' add up to at least {total}%, more than 100%; "
        "segments of one market must not overlap",
    )


def uncited_problem(table: str, row: RowLocation, figure_id: str, column: str) -> Problem:
    return row_problem(
        Severity.ERROR,
        "uncited",
        table,
        row,
        "id",
        figure_id,
        f"'{figure_id}' is not cited by any source; add a row to citations.csv with source_id and "
        f"{column} = {figure_id}",
    )


def rules_not_checked_problem(codes: list[str], whys: list[str], table: str, file: str) -> Problem:
    """The one warning that the package rules ``codes`` were not run, because of ``whys`` (``table``: the first's).

    Each of them reports a row it does not find (an uncited figure, an award without recipients, an
    unattached caveat), so run on a table not all of whose rows are loaded it would report what is
    only not loaded: one warning says so, not a false error per row.
    """
    names = " and ".join(filter(None, (", ".join(f"'{code}'" for code in codes[:-1]), f"'{codes[-1]}'")))
    one = len(codes) == 1
    rules, they = (f"rule {names} was", "it looks") if one else (f"rules {names} were", "they look")
    return Problem(
        Severity.WARNING,
        "rule-not-checked",
        table,
        file,
        None,
        None,
        None,
        f"the package {rules} not checked, because {'; '.join(whys)}: {they} for rows of "
        f"{'that table' if len(whys) == 1 else 'those tables'}, and would report one that was only not loaded "
        "as missing",
    )


def recipients_problem(
    award_row: RowLocation, award_id: str, first: RowLocation | None, roles: list[str]
) -> Problem | None:
    """The problem with an award's recipients (``first``: the first one's row; ``roles``: theirs, in order)."""
    if first is None:
        return row_problem(
            Severity.ERROR,
            "no-recipient",
            "awards",
            award_row,
            "id",
            award_id,
            f"award '{award_id}' has no recipient in award_recipients.csv",
        )
    if len(roles) == 1 and roles[0] != Role.SOLE:
        return row_problem(
            Severity.ERROR,
            "recipient-role",
            "award_recipients",
            first,
            "role",
            roles[0],
            "an award with one recipient must give it the role 'sole'",
        )
    if len(roles) > 1 and (roles.count(Role.LEAD) != 1 or Role.SOLE in roles):
        return row_problem(
            Severity.ERROR,
            "recipient-role",
            "award_recipients",
            first,
            "role",
            ", ".join(roles),
            f"joint award '{award_id}' needs exactly one 'lead' and the other recipients as 'member'",
        )
    return None


def award_currency_problem(row: RowLocation, currency: str | None, expected: str | None) -> Problem | None:
    """The problem with an award in ``currency`` whose programme is in ``expected``, if there is one."""
    if not (currency and expected and currency != expected):
        return None
    return row_problem(
        Severity.WARNING,
        "award-currency",
        "awards",
        row,
        "currency",
        currency,
        f"the award is in {currency} but its programme is in {expected}",
    )


def vendor_organisation_problem(row: RowLocation) -> Problem:
    return row_problem(
        Severity.WARNING,
        "vendor-organisation",
        "market_shares",
        row,
        "organisation_id",
        None,
        "a vendor segment should name the vendor in organisation_id",
    )


def unattached_caveat_problem(row: RowLocation, caveat_id: str) -> Problem:
    return row_problem(
        Severity.WARNING,
        "caveat-unattached",
        "caveats",
        row,
        "id",
        caveat_id,
        f"caveat '{caveat_id}' is not attached to any row in caveat_links.csv, so no chart shows it",
    )


def period_nesting_problem(
    row: RowLocation, parent: str, period: tuple[int, int], parent_period: tuple[int, int]
) -> Problem | None:
    """The problem with a programme whose fiscal years ``period`` are not inside its parent's, if they are not."""
    (start, end), (parent_start, parent_end) = period, parent_period
    if not (start < parent_start or end > parent_end):
        return None
    return row_problem(
        Severity.ERROR,
        "period-nesting",
        "programmes",
        row,
        "parent_id",
        parent,
        f"FY{start}-FY{end} does not fit inside its parent '{parent}' (FY{parent_start}-FY{parent_end}): "
        "a longer plan cannot sit inside a shorter budget line; place it beside the line, not in it",
    )


def overlap_pair_problem(row: RowLocation, caveat_id: str, kind: str, linked: int) -> Problem | None:
    """The problem with a caveat of ``kind`` attached to ``linked`` programme or award rows, if there is one."""
    if not (kind == CaveatKind.OVERLAP and linked < 2):
        return None
    return row_problem(
        Severity.ERROR,
        "overlap-pair",
        "caveats",
        row,
        "kind",
        kind,
        f"an overlap caveat must be attached to at least two programme or award rows; "
        f"'{caveat_id}' is attached to {linked}",
    )


def english_text_problem(table: str, row: RowLocation, column: str, value: str) -> Problem:
    """The warning for an English text column whose ``value`` holds no Latin letter (Japanese only, say)."""
    partner = f"{column.removesuffix('_en')}_ja"
    japanese = f" and the Japanese in {partner}" if partner in TABLES_BY_NAME[table].columns else ""
    return row_problem(
        Severity.WARNING,
        "english-text",
        table,
        row,
        column,
        clip(value),
        f"{column} is the English text but holds no Latin letter; write it in English here (a romanised name "
        f"will do){japanese}",
    )


# Per table whose rows are compared by name: the rule, the row's noun, what it shares, and what to do.
_NAMESAKES = {
    "organisations": (
        "organisation-name",
        "organisation",
        "name",
        "compared without regard to width, case and spacing; if they are one body, give it one id, so that its "
        "awards add up under one name",
    ),
    "programmes": (
        "programme-title",
        "programme",
        "title",
        f"once width, case, spaces, middle dots and the particles {', '.join(PARTICLES)} are set aside; if they "
        "are one programme, give it one id",
    ),
}


def namesake_problem(
    table: str, row: RowLocation, row_id: str, column: str, text: str, first_id: str, first_line: int
) -> Problem:
    """The warning for an organisation or programme named as an earlier one (``first_id``, on ``first_line``)."""
    rule, noun, shared, advice = _NAMESAKES[table]
    return row_problem(
        Severity.WARNING,
        rule,
        table,
        row,
        column,
        clip(text),
        f"{noun} '{row_id}' has the {shared} of {noun} '{first_id}' (line {first_line}), {advice}",
    )
