"""The closed vocabularies of the data package: every enumerated column's values, and the sets the rules use.

The row models (:mod:`aifunding.data.models`) type their columns with these; the schema, the
validator, the adding rule and the charts read the same values from here.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """How far a source can be trusted (see funding-facts.md, "Reliability tags")."""

    PRIMARY = "primary"
    PRESS = "press"
    SECONDARY = "secondary"
    LOW = "low"


class Via(StrEnum):
    """How the source was seen when it was not read at its original publisher."""

    MIRROR = "mirror"
    REPRODUCTION = "reproduction"
    REPOST = "repost"
    REPRINT = "reprint"
    SUMMARY = "summary"
    CACHE = "cache"
    CONVERTED_COPY = "converted_copy"


class Basis(StrEnum):
    """What kind of figure an amount is. Totals that mix bases must say so."""

    EXACT = "exact"
    ABOUT = "about"
    UP_TO = "up_to"
    UP_TO_ABOUT = "up_to_about"
    AT_LEAST = "at_least"
    TARGET = "target"


# Bases whose published figure is rounded, so sums of them carry a rounding tolerance.
ROUNDED_BASES = frozenset({Basis.ABOUT, Basis.UP_TO_ABOUT})
# Bases that are a ceiling: awards beneath them may add up to less, never more.
CEILING_BASES = frozenset({Basis.UP_TO, Basis.UP_TO_ABOUT, Basis.EXACT, Basis.ABOUT})
# Bases that are plans or mobilisation goals rather than money committed.
PLAN_BASES = frozenset({Basis.TARGET})


class Level(StrEnum):
    """Where a programme row sits: budget frames hold programmes, programmes hold rounds."""

    BUDGET_FRAME = "budget_frame"
    PROGRAMME = "programme"
    ROUND = "round"
    COMPONENT = "component"


class SupportKind(StrEnum):
    """What the money pays for."""

    MODEL_DEVELOPMENT = "model_development"
    COMPUTE_SUBSIDY = "compute_subsidy"
    PUBLIC_COMPUTE = "public_compute"
    COMPUTE_INVESTMENT = "compute_investment"
    DATA_COLLECTION = "data_collection"
    FINANCING = "financing"
    BUDGET_FRAME = "budget_frame"
    BROAD_STRATEGY = "broad_strategy"
    # Not AI compute, though paid from compute programmes: kept apart so no compute total adds them.
    QUANTUM_COMPUTE = "quantum_compute"
    STAFF_GRANT = "staff_grant"
    # A subsidy for any purpose, as a prefecture's or ministry's register lists them: in no AI total.
    GENERAL_SUBSIDY = "general_subsidy"


class ProgrammeStatus(StrEnum):
    ACTIVE = "active"
    PLANNED = "planned"
    COMPLETED = "completed"
    SHELVED = "shelved"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


# Statuses whose money is no longer committed: shown, marked, never added to a committed total.
NOT_COMMITTED_STATUSES = frozenset({ProgrammeStatus.SHELVED, ProgrammeStatus.CANCELLED, ProgrammeStatus.SUPERSEDED})


class OrganisationKind(StrEnum):
    """What kind of body an organisation is, by its legal form where registers give one."""

    COMPANY = "company"
    RESEARCH_INSTITUTE = "research_institute"
    UNIVERSITY = "university"
    GOVERNMENT = "government"
    CONSORTIUM = "consortium"
    # The non-company bodies subsidy registers are full of (Japanese legal forms in brackets).
    MEDICAL_CORPORATION = "medical_corporation"  # 医療法人
    INCORPORATED_ASSOCIATION = "incorporated_association"  # 一般社団法人, 公益社団法人
    INCORPORATED_FOUNDATION = "incorporated_foundation"  # 一般財団法人, 公益財団法人
    NPO = "npo"  # 特定非営利活動法人 (NPO法人)
    SOCIAL_WELFARE_CORPORATION = "social_welfare_corporation"  # 社会福祉法人
    COOPERATIVE = "cooperative"  # 協同組合 (agricultural, fishery, business cooperatives)


class Role(StrEnum):
    """A recipient's part in an award. A joint application has one lead and members."""

    SOLE = "sole"
    LEAD = "lead"
    MEMBER = "member"


class SegmentKind(StrEnum):
    DOMESTIC = "domestic"
    FOREIGN = "foreign"
    VENDOR = "vendor"
    VENDOR_GROUP = "vendor_group"


class ShareBasis(StrEnum):
    EXACT = "exact"
    ABOUT = "about"
    RANGE = "range"
    MORE_THAN = "more_than"
    RANK_ONLY = "rank_only"


class Timing(StrEnum):
    """How a milestone's due date is meant."""

    ON = "on"
    BY = "by"
    BY_END = "by_end"
    AS_EARLY_AS = "as_early_as"
    AROUND = "around"
    FROM = "from"
    YEARLY_FROM = "yearly_from"


class MilestoneStatus(StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    PENDING = "pending"
    UNCONFIRMED = "unconfirmed"
    NOT_MET = "not_met"


class CaveatKind(StrEnum):
    """What a caveat says about the rows it is attached to."""

    CONFLICT = "conflict"  # sources disagree on a detail; the figure stands
    OVERLAP = "overlap"  # the attached figures may be the same money: a total counts them once
    UNCONFIRMED = "unconfirmed"  # the figure is unconfirmed or its scope disputed: shown, never added


class Page(StrEnum):
    """A dashboard page a highlight links to, by its address."""

    OVERVIEW = "overview"
    COMPANIES = "companies"
    PROGRAMMES = "programmes"
    MARKET = "market"
    WORLD = "world"
    SOURCES = "sources"
    DATA = "data"


# How the package's CSV files spell a flag (``rank_inferred``); an empty cell takes the column's default.
BOOLEAN_TEXT = {False: "false", True: "true"}
