"""Row models of the data package: the single source of truth for every table.

Each pydantic model below describes one row of one CSV file. The Table Schemas in
``data/datapackage.json`` are generated from these models (see :mod:`aifunding.data.schema`), and the
validator checks every row against them before the package-level rules run.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from aifunding.data.amounts import AMOUNT_LIMIT, check_precision
from aifunding.data.vocabulary import (
    Basis,
    CaveatKind,
    Level,
    MilestoneStatus,
    OrganisationKind,
    Page,
    ProgrammeStatus,
    Role,
    SegmentKind,
    ShareBasis,
    SupportKind,
    Tier,
    Timing,
    Via,
)

PARTIAL_DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"

# A rank or a numbered entry is a count of things: bounded, so a 30-digit "rank" is refused by name
# instead of overflowing the 64-bit whole numbers every table holds them in.
MAX_COUNT = 1_000_000

# Dates before this are not plausible for anything this dashboard tracks (AI programmes and their
# sources); a year like 0202 or 2204 is a typo the validator should catch.
EARLIEST_PLAUSIBLE_YEAR = 1990
LATEST_PLAUSIBLE_YEAR = 2100


def check_partial_date(value: str) -> str:
    """Accept YYYY, YYYY-MM or YYYY-MM-DD naming a real calendar day, month or year."""
    if not re.fullmatch(PARTIAL_DATE_PATTERN, value):
        raise ValueError(f"'{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD (for example 2024-04-19)")
    parts = [int(p) for p in value.split("-")]
    year = parts[0]
    if not EARLIEST_PLAUSIBLE_YEAR <= year <= LATEST_PLAUSIBLE_YEAR:
        raise ValueError(
            f"year {year} is implausible: it must be between {EARLIEST_PLAUSIBLE_YEAR} and {LATEST_PLAUSIBLE_YEAR}"
        )
    try:
        date(year, parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise ValueError(f"{value} is not a real calendar date") from None
    return value


class FieldError(ValueError):
    """A row's problem found across its fields, naming the field the report points at (pydantic gives it none)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# A number is written in the digits 0-9 with at most one decimal point: Python's Decimal and int also read
# 1_000, 1e9, +5, full-width １０ or Arabic-Indic ١٠ (and int 5.0), each a number the cell does not plainly say.
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
PLAIN_WHOLE = re.compile(r"[0-9]+")


def _plainly_written(pattern: re.Pattern[str], kind: str) -> WrapValidator:
    """A validator that refuses a text ``pattern`` does not match, after the value's own checks passed.

    Its own checks first, so a cell that is no number or out of range keeps that problem ("1e400 is too
    large"); only a value they accept is refused for how it is written (error type ``kind``).
    """

    def check(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        validated = handler(value)
        if isinstance(value, str) and not pattern.fullmatch(value.strip()):
            raise PydanticCustomError(kind, "'{value}' is not written in plain digits", {"value": value})
        return validated

    return WrapValidator(check)


PartialDate = Annotated[
    str,
    AfterValidator(check_partial_date),
    Field(pattern=PARTIAL_DATE_PATTERN, json_schema_extra={"partial_date": True}),
]
Identifier = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=80)]
Currency = Annotated[str, Field(pattern=CURRENCY_PATTERN)]
Amount = Annotated[
    Decimal,
    Field(gt=0, lt=AMOUNT_LIMIT),
    AfterValidator(check_precision),
    _plainly_written(PLAIN_DECIMAL, "plain_decimal"),
]
WholeNumber = Annotated[int, _plainly_written(PLAIN_WHOLE, "plain_whole")]
FiscalYear = Annotated[WholeNumber, Field(ge=EARLIEST_PLAUSIBLE_YEAR, le=LATEST_PLAUSIBLE_YEAR)]
Percent = Annotated[
    Decimal, Field(ge=0, le=100), AfterValidator(check_precision), _plainly_written(PLAIN_DECIMAL, "plain_decimal")
]


class Row(BaseModel):
    """Base for every row: unknown columns are refused, rows are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Country(Row):
    """One country or bloc, with the month its fiscal year starts."""

    id: Annotated[
        str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, or EU for the European Union")
    ]
    name_en: str = Field(min_length=1, description="English name")
    name_ja: str | None = Field(None, description="Japanese name")
    fiscal_year_start_month: WholeNumber = Field(
        ge=1,
        le=12,
        description="Month (1-12) in which the government fiscal year starts; "
        "FY labels use the calendar year in which it starts",
    )


class Source(Row):
    """One cited document, as it was seen."""

    id: Identifier = Field(description="Short stable identifier")
    publisher: str = Field(min_length=1, description="Who published it, and the outlet seen if it was a copy")
    url: str = Field(pattern=r"^https?://\S+$", description="Address where the document was read")
    published: PartialDate | None = Field(
        None, description="Publication date (YYYY, YYYY-MM or YYYY-MM-DD); empty when the page showed none"
    )
    date_note: str | None = Field(None, description="What is known about the date when the page did not show one")
    tier: Tier = Field(description="Reliability tier: primary, press, secondary or low")
    via: Via | None = Field(None, description="How the text was seen when not at the original publisher")
    language: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 language of the page")
    confirms: str = Field(min_length=1, description="What the source confirms, in brief")


class Organisation(Row):
    """One recipient or body: a company, institute, university or agency."""

    id: Identifier = Field(description="Short stable identifier")
    name_en: str = Field(min_length=1, description="English name")
    name_ja: str | None = Field(None, description="Japanese name where the sources give one")
    kind: OrganisationKind = Field(description="Kind of organisation")
    country_id: str = Field(pattern=r"^[A-Z]{2}$", description="Country code of the organisation")
    note: str | None = Field(None, description="Anything a reader should know")


class Programme(Row):
    """One funding programme, a round inside one, or a budget frame that holds programmes."""

    id: Identifier = Field(description="Short stable identifier")
    parent_id: Identifier | None = Field(None, description="Programme or frame this one sits inside")
    level: Level = Field(description="budget_frame, programme, round or component")
    name_en: str = Field(min_length=1, description="English name")
    name_ja: str | None = Field(None, description="Japanese name where the sources give one")
    country_id: str = Field(pattern=COUNTRY_PATTERN, description="Country or bloc")
    funding_body: str = Field(min_length=1, description="Ministry or body that funds it")
    kind: SupportKind = Field(description="Kind of support")
    announced: PartialDate | None = Field(None, description="Announcement date; empty when no source gives one")
    announced_note: str | None = Field(None, description="Detail on the announcement date")
    amount: Amount | None = Field(
        None, description="Amount in whole currency units, exact as published; empty when no figure was published"
    )
    currency: Currency | None = Field(None, description="ISO 4217 currency of the amount")
    basis: Basis | None = Field(None, description="exact, about, up_to, up_to_about, at_least or target")
    period_start_fy: FiscalYear | None = Field(None, description="First fiscal year covered")
    period_end_fy: FiscalYear | None = Field(None, description="Last fiscal year covered")
    period_years: WholeNumber | None = Field(
        None, ge=1, le=50, description="Length of the period in years, as published"
    )
    legal_basis: str | None = Field(None, description="Law or decision it rests on")
    budget_source: str | None = Field(None, description="Budget the money comes from")
    status: ProgrammeStatus = Field(
        ProgrammeStatus.ACTIVE,
        description="active, planned, completed, shelved, cancelled or superseded; "
        "the last three are never added to committed money",
    )
    note: str | None = Field(None, description="Anything a reader should know")

    @model_validator(mode="after")
    def _amount_fields_together(self) -> Programme:
        check_amount_fields(self.amount, self.currency, self.basis)
        if self.period_start_fy and self.period_end_fy and self.period_end_fy < self.period_start_fy:
            raise FieldError("period_end_fy", "period_end_fy must not be before period_start_fy")
        if self.parent_id is not None and self.parent_id == self.id:
            raise FieldError("parent_id", "parent_id must name another programme, not the row itself")
        return self


class Award(Row):
    """One award to one project. A joint application is one award with several recipients."""

    id: Identifier = Field(description="Short stable identifier")
    programme_id: Identifier = Field(description="Programme or round that made the award")
    purpose_en: str = Field(min_length=1, description="What the project does, in English")
    purpose_ja: str | None = Field(None, description="What the project does, in Japanese")
    kind: SupportKind | None = Field(
        None, description="What the award pays for, when it differs from its programme's kind (quantum_compute)"
    )
    amount: Amount | None = Field(
        None, description="Award in whole currency units, exact as published; empty when not published"
    )
    currency: Currency | None = Field(None, description="ISO 4217 currency of the amount")
    basis: Basis | None = Field(None, description="exact, about, up_to, up_to_about, at_least or target")
    announced: PartialDate | None = Field(None, description="Announcement date; empty when no source gives one")
    announced_note: str | None = Field(None, description="Detail on the announcement date")
    project_cost: Amount | None = Field(None, description="Total project cost where published, same currency")
    project_cost_basis: Basis | None = Field(None, description="Basis of the project cost")
    note: str | None = Field(None, description="Anything a reader should know")

    @model_validator(mode="after")
    def _amount_fields_together(self) -> Award:
        check_amount_fields(self.amount, self.currency, self.basis)
        if (self.project_cost is None) != (self.project_cost_basis is None):
            raise FieldError("project_cost", "project_cost and project_cost_basis must be given together")
        if self.project_cost is not None and self.currency is None:
            raise FieldError("project_cost", "a project_cost needs the award's currency")
        return self


class AwardRecipient(Row):
    """One organisation receiving (part of) one award. The award's amount is never split."""

    award_id: Identifier = Field(description="Award")
    organisation_id: Identifier = Field(description="Recipient organisation")
    role: Role = Field(description="sole, lead or member")


class Market(Row):
    """One market definition in one year: shares are only comparable inside one market."""

    id: Identifier = Field(description="Short stable identifier")
    name_en: str = Field(min_length=1, description="Market as defined by its source, in English")
    name_ja: str | None = Field(None, description="Market as defined by its source, in Japanese")
    country_id: str = Field(pattern=COUNTRY_PATTERN, description="Country")
    year_label: str = Field(min_length=4, description="Year as the source states it (2024, FY2020)")
    year: FiscalYear = Field(description="Calendar or fiscal year, for ordering")
    framing: str = Field(min_length=1, description="Who measured it and how")


class MarketShare(Row):
    """One segment's share of one market. A point figure has low equal to high."""

    id: Identifier = Field(description="Short stable identifier")
    market_id: Identifier = Field(description="Market")
    segment_kind: SegmentKind = Field(description="domestic, foreign, vendor or vendor_group")
    segment_en: str = Field(min_length=1, description="Segment label in English")
    segment_ja: str | None = Field(None, description="Segment label in Japanese")
    organisation_id: Identifier | None = Field(None, description="Vendor, when the segment is one organisation")
    share_low: Percent | None = Field(None, description="Lower bound of the share in percent")
    share_high: Percent | None = Field(None, description="Upper bound of the share in percent; empty when open-ended")
    basis: ShareBasis = Field(description="exact, about, range, more_than or rank_only")
    rank: WholeNumber | None = Field(
        None, ge=1, le=MAX_COUNT, description="Rank in the market where the source gives one"
    )
    rank_inferred: bool = Field(
        False, description="true when the rank is inferred (say, from share ranges) rather than stated by the source"
    )
    note: str | None = Field(None, description="Anything a reader should know")

    @model_validator(mode="after")
    def _share_consistent(self) -> MarketShare:
        low, high = self.share_low, self.share_high
        if self.rank_inferred and self.rank is None:
            raise FieldError("rank", "rank_inferred marks a rank: give the rank too")
        if self.basis == ShareBasis.RANK_ONLY:
            if low is not None or high is not None or self.rank is None:
                raise FieldError(
                    "rank" if self.rank is None else "share_low", "a rank_only row has a rank and no share figures"
                )
            return self
        if low is None:
            raise FieldError("share_low", "share_low is required unless the basis is rank_only")
        if self.basis == ShareBasis.MORE_THAN:
            if high is not None:
                raise FieldError("share_high", "a more_than share is open-ended: leave share_high empty")
        elif high is None:
            raise FieldError("share_high", "share_high is required (equal to share_low for a point figure)")
        elif low > high:
            raise FieldError("share_high", f"share_low ({low}) must not exceed share_high ({high})")
        elif self.basis == ShareBasis.RANGE and low == high:
            raise FieldError(
                "share_high", "a range share needs share_low below share_high; use exact or about for a point"
            )
        elif self.basis in (ShareBasis.EXACT, ShareBasis.ABOUT) and low != high:
            raise FieldError(
                "share_high", "a point share (exact or about) has share_low equal to share_high; use range otherwise"
            )
        return self


class Milestone(Row):
    """One dated target or event to watch, with a status a source backs."""

    id: Identifier = Field(description="Short stable identifier")
    programme_id: Identifier | None = Field(None, description="Programme it belongs to")
    award_id: Identifier | None = Field(None, description="Award it belongs to")
    description_en: str = Field(min_length=1, description="What is due, in English")
    description_ja: str | None = Field(None, description="What is due, in Japanese")
    due_date: PartialDate | None = Field(None, description="Due or event date (YYYY, YYYY-MM or YYYY-MM-DD)")
    due_fiscal_year: FiscalYear | None = Field(
        None, description="Due fiscal year, when the target is set by fiscal year"
    )
    timing: Timing = Field(description="on, by, by_end, as_early_as, around, from or yearly_from")
    status: MilestoneStatus = Field(description="met, on_track, pending, unconfirmed or not_met")
    status_as_of: PartialDate = Field(description="Date of the newest source behind the status")
    note: str | None = Field(None, description="Anything a reader should know")

    @model_validator(mode="after")
    def _one_due(self) -> Milestone:
        if (self.due_date is None) == (self.due_fiscal_year is None):
            raise FieldError(
                "due_date" if self.due_fiscal_year is None else "due_fiscal_year",
                "give exactly one of due_date and due_fiscal_year",
            )
        if self.programme_id is None and self.award_id is None:
            raise FieldError(
                "programme_id", "a milestone belongs to a programme or an award: give programme_id or award_id"
            )
        return self


class Caveat(Row):
    """One conflict or uncertainty between sources, shown next to the rows it concerns."""

    id: Identifier = Field(description="Short stable identifier")
    kind: CaveatKind = Field(
        CaveatKind.CONFLICT,
        description="conflict; overlap (the attached figures may be the same money: counted once); "
        "or unconfirmed (the attached figures are shown but never added to a total)",
    )
    conflict_no: WholeNumber | None = Field(
        None, ge=1, le=MAX_COUNT, description="Number of the entry in the research notes' conflicts list"
    )
    title_en: str = Field(min_length=1, description="One-line summary")
    text_en: str = Field(min_length=1, description="The caveat in full")


_TARGET_FIELDS = ("programme_id", "award_id", "market_share_id", "milestone_id")


class _OneTarget(Row):
    """A row that points at exactly one other row, through one of its ``target_fields`` columns."""

    target_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _exactly_one_target(self) -> _OneTarget:
        given = [name for name in self.target_fields if getattr(self, name) is not None]
        if len(given) != 1:
            # The report points at the first column filled past the one allowed, or at the first to fill.
            raise FieldError(
                given[1] if given else self.target_fields[0],
                f"name exactly one row: fill one of {', '.join(self.target_fields)} (found {len(given)})",
            )
        return self

    @property
    def target(self) -> tuple[str, str]:
        """The (column, id) of the row this one points at."""
        for name in self.target_fields:
            value = getattr(self, name)
            if value is not None:
                return name, value
        raise AssertionError("a validated row always has a target")


class _Link(_OneTarget):
    target_fields = _TARGET_FIELDS

    programme_id: Identifier | None = Field(None, description="Programme row concerned")
    award_id: Identifier | None = Field(None, description="Award row concerned")
    market_share_id: Identifier | None = Field(None, description="Market-share row concerned")
    milestone_id: Identifier | None = Field(None, description="Milestone row concerned")


class Citation(_Link):
    """One source backing one figure row (programme, award, market share or milestone)."""

    source_id: Identifier = Field(description="Source")
    supports: str | None = Field(None, description="What this source confirms about the row")


class CaveatLink(_Link):
    """Attaches one caveat to one row it concerns."""

    caveat_id: Identifier = Field(description="Caveat")


_HIGHLIGHT_TARGETS = ("programme_id", "award_id", "market_share_id")


class Highlight(_OneTarget):
    """One figure the Overview leads with, in order, with its claim in a sentence."""

    target_fields = _HIGHLIGHT_TARGETS

    position: WholeNumber = Field(ge=1, le=12, description="Order on the first screen, 1 first")
    programme_id: Identifier | None = Field(None, description="Programme row whose figure is shown")
    award_id: Identifier | None = Field(None, description="Award row whose figure is shown")
    market_share_id: Identifier | None = Field(None, description="Market-share row whose figure is shown")
    claim_en: str = Field(min_length=1, max_length=200, description="The figure's claim in one line, in English")
    claim_ja: str | None = Field(None, max_length=200, description="The claim in Japanese")
    page: Page = Field(description="The page that shows the figure in full")


def check_amount_fields(amount: Decimal | None, currency: str | None, basis: Basis | None) -> None:
    """An amount needs its currency and basis; no amount means neither is given."""
    if amount is not None and (currency is None or basis is None):
        raise FieldError("currency" if currency is None else "basis", "an amount needs both a currency and a basis")
    if amount is None and basis is not None:
        raise FieldError("basis", "a basis was given without an amount")
