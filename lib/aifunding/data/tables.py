"""The registry of tables in a data package: file, row model, keys.

Everything that walks the package (loading, validation, schema generation, export) reads this
one list, so adding a table is adding one entry here and one model in :mod:`aifunding.data.models`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from aifunding.data import models


@dataclass(frozen=True)
class ForeignKey:
    """Column ``field`` refers to the primary key ``ref_field`` of table ``ref_table``."""

    field: str
    ref_table: str
    ref_field: str = "id"


@dataclass(frozen=True)
class Table:
    name: str
    model: type[BaseModel]
    title: str
    description: str
    primary_key: tuple[str, ...] = ("id",)
    foreign_keys: tuple[ForeignKey, ...] = field(default_factory=tuple)
    # An optional table may be left out of a package's descriptor; it then loads empty.
    optional: bool = False

    @property
    def path(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> list[str]:
        return list(self.model.model_fields)


_LINK_TARGETS = (
    ForeignKey("programme_id", "programmes"),
    ForeignKey("award_id", "awards"),
    ForeignKey("market_share_id", "market_shares"),
    ForeignKey("milestone_id", "milestones"),
)

TABLES: tuple[Table, ...] = (
    Table(
        "countries", models.Country, "Countries and blocs", "One row per country or bloc, with its fiscal-year start."
    ),
    Table("sources", models.Source, "Sources", "One row per cited document, with its reliability tier."),
    Table(
        "organisations",
        models.Organisation,
        "Organisations",
        "One row per company, institute, university or agency.",
        foreign_keys=(ForeignKey("country_id", "countries"),),
    ),
    Table(
        "programmes",
        models.Programme,
        "Programmes",
        "One row per budget frame, programme, round or component.",
        foreign_keys=(ForeignKey("parent_id", "programmes"), ForeignKey("country_id", "countries")),
    ),
    Table(
        "awards",
        models.Award,
        "Awards",
        "One row per award to one project (joint applications are one award).",
        foreign_keys=(ForeignKey("programme_id", "programmes"),),
    ),
    Table(
        "award_recipients",
        models.AwardRecipient,
        "Award recipients",
        "One row per organisation receiving an award; amounts are never split.",
        primary_key=("award_id", "organisation_id"),
        foreign_keys=(ForeignKey("award_id", "awards"), ForeignKey("organisation_id", "organisations")),
    ),
    Table(
        "markets",
        models.Market,
        "Markets",
        "One row per market definition and year.",
        foreign_keys=(ForeignKey("country_id", "countries"),),
    ),
    Table(
        "market_shares",
        models.MarketShare,
        "Market shares",
        "One row per segment share of one market.",
        foreign_keys=(ForeignKey("market_id", "markets"), ForeignKey("organisation_id", "organisations")),
    ),
    Table(
        "milestones",
        models.Milestone,
        "Milestones",
        "One row per dated target or event to watch.",
        foreign_keys=(ForeignKey("programme_id", "programmes"), ForeignKey("award_id", "awards")),
    ),
    Table("caveats", models.Caveat, "Caveats", "One row per conflict or uncertainty between sources."),
    Table(
        "citations",
        models.Citation,
        "Citations",
        "One row per source backing one figure row.",
        primary_key=(),
        foreign_keys=(ForeignKey("source_id", "sources"), *_LINK_TARGETS),
    ),
    Table(
        "caveat_links",
        models.CaveatLink,
        "Caveat links",
        "One row per caveat attached to one row.",
        primary_key=(),
        foreign_keys=(ForeignKey("caveat_id", "caveats"), *_LINK_TARGETS),
    ),
    Table(
        "highlights",
        models.Highlight,
        "Highlights",
        "One row per figure the Overview leads with, in order (optional: a package may leave it out).",
        primary_key=("position",),
        foreign_keys=_LINK_TARGETS[:3],
        optional=True,
    ),
)

TABLES_BY_NAME = {table.name: table for table in TABLES}

# Figure rows must each be cited by at least one source: table name -> link column.
CITED_TABLES = {
    "programmes": "programme_id",
    "awards": "award_id",
    "market_shares": "market_share_id",
    "milestones": "milestone_id",
}
