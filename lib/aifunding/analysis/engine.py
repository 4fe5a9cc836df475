"""The analytical engine: the package's tables in DuckDB (embedded, the default) or Spark, queried with Ibis.

Each query is written once, as an Ibis expression, and runs unchanged on either engine; what comes back
is a small pandas frame for charts and tables. Amounts are exact decimals (``decimal(38, 4)``: the data
allows at most 18 digits and 4 decimal places), never floats. The programme tree becomes a table of
(programme, ancestor) pairs, so "an award counts toward every programme above it" is a join.

    con = connect()                      # or connect("spark"), or AIFUNDING_ENGINE=spark
    tables = Tables.load(con, package)
    recipient_totals(tables)             # what metrics.totals_by_recipient(award_view(package)) adds up
    programme_allocations(tables)        # metrics.programme_totals' counts and allocations
    recipient_totals(tables, fx=FxChoice("USD"))       # the same, converted as conversion.convert_frame does
    programme_allocations(tables, fx=FxChoice("USD"))  # with conversion.convert_programmes' columns
    market_shares(tables, countries=("JP",))           # metrics.market_share_view, as the Market page orders it

Conversion joins each amount to a small table of rates, one row per (currency, date) the package
uses, made by :func:`aifunding.analysis.conversion.convert_frame` itself (one unit of each currency at
each date), so the rate, its date and fallbacks, and the reason a figure is not converted are the pandas
path's own. Each product is computed exactly, in a decimal type sized from the package's amounts and
rates; programme allocations are rounded to the cent half to even, as ``convert_programmes`` quantizes.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.engine_fx import (
    FX_COLUMNS,
    FX_PROGRAMME_COLUMNS,
    cents_half_even,
    fx_rates,
    times_rate,
    with_rates,
)
from aifunding.analysis.engine_tables import (
    AMOUNT_DTYPE,
    ANCESTOR_ID,
    CLOSURE,
    ENGINE_VARIABLE,
    MAX_DIGITS,
    POSITION,
    Tables,
    arrow_table,
    closure_table,
    connect,
    engine_name,
    package_tables,
    register,
    small_frame,
    spark_session,
    stop_spark,
    stored_table,
)
from aifunding.analysis.recipients import ROLE_ORDER
from aifunding.analysis.totals import KINDS, ROUNDED_CEILING
from aifunding.data.vocabulary import Basis
from aifunding.i18n import translate

# How a joint project's members are joined in each language, as the pandas path labels them.
LABEL_SEPARATORS = {"en": " + ", "ja": "・"}


def project_labels(tables: Tables, lang: str = "en") -> ibis.Table:
    """Each award's project label: recipients lead first (members in file order), "(joint)" when several.

    The same label as :func:`aifunding.analysis.metrics.recipients_by_award`, in English, or in Japanese
    (each organisation's Japanese name, else its English one) as the awards' ``project_label_ja``.
    """
    recipients, organisations = tables["award_recipients"], tables["organisations"]
    ranked = recipients.mutate(role_rank=recipients.role.cases(*ROLE_ORDER.items(), else_=len(ROLE_ORDER)))
    name = organisations.name_en
    if lang != "en":
        own = organisations[f"name_{lang}"]
        name = ibis.ifelse(own.notnull() & (own.length() > 0), own, name)
    named = ranked.left_join(organisations, ranked.organisation_id == organisations.id).select(
        "award_id", "role_rank", ranked[POSITION], name=name.coalesce(ranked.organisation_id)
    )
    grouped = named.group_by("award_id").aggregate(
        # Sorted (role, file position, name) structs rather than an ordered collect, which Spark lacks.
        names=ibis.struct({"rank": named.role_rank, "position": named[POSITION], "name": named["name"]})
        .collect()
        .sort()
        .map(lambda recipient: recipient["name"]),
        n=named.count(),
    )
    joined = grouped.names.join(LABEL_SEPARATORS.get(lang, LABEL_SEPARATORS["en"]))
    label = ibis.ifelse(grouped.n > 1, joined + translate("award.joint", lang), joined)
    return grouped.select("award_id", **{C.PROJECT_LABEL: label})


def awards_with_programme(tables: Tables) -> ibis.Table:
    """Awards with their programme's country and their kind (their own, else their programme's)."""
    awards, programmes = tables["awards"], tables["programmes"]
    joined = awards.left_join(programmes, awards.programme_id == programmes.id)
    return joined.select(
        "id",
        "programme_id",
        "amount",
        "currency",
        "basis",
        "announced",
        **{C.COUNTRY_ID: programmes.country_id, C.KIND: awards.kind.coalesce(programmes.kind)},
    )


def filter_awards(
    tables: Tables,
    countries: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    awards: ibis.Table | None = None,
) -> ibis.Table:
    """Awards of the given countries and kinds (all when empty) announced in [date_from, date_to].

    A partial date ("2024-04") is kept when its span overlaps the range, as the view's date filter does;
    an undated award fails once a bound is set. ``awards``: :func:`awards_with_programme`, or a table with
    its columns and more, already made.
    """
    awards = awards_with_programme(tables) if awards is None else awards
    if countries:
        awards = awards.filter(awards[C.COUNTRY_ID].isin(list(countries)))
    if kinds:
        awards = awards.filter(awards[C.KIND].isin(list(kinds)))
    if date_from is not None:
        # Its last day is on or after date_from: "2024" reads "2024-12-31", "2024-04" reads "2024-04-31"
        # (text order, so a day 31 that April lacks still sorts after every April date and before May's).
        last = awards.announced.concat(ibis.literal("-12-31").substr(awards.announced.length() - 4))
        awards = awards.filter(last >= date_from.isoformat())
    if date_to is not None:
        # Its first day is on or before date_to: "2024" reads "2024-01-01", "2024-04" reads "2024-04-01".
        first = awards.announced.concat(ibis.literal("-01-01").substr(awards.announced.length() - 4))
        awards = awards.filter(first <= date_to.isoformat())
    return awards


def recipient_totals(tables: Tables, awards: ibis.Table | None = None, fx: FxChoice | None = None) -> pd.DataFrame:
    """Per project label and currency: the exact total, the number of awards and of those without an amount.

    ``awards`` is a filtered expression from :func:`filter_awards` (every award when omitted). With ``fx``
    the totals are of the converted amounts, in that one currency, as ``metrics.totals_by_recipient`` adds
    up ``convert_frame``'s columns: an award that could not be converted counts as one without an amount.
    Sorted by total (largest first), then label and currency.
    """
    awards = awards_with_programme(tables) if awards is None else awards
    value, currency = "amount", "currency"
    if fx is not None:
        awards = convert_awards(tables, fx, awards)
        value, currency = C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY
    labels = project_labels(tables)
    rows = awards.left_join(labels, awards.id == labels.award_id)
    scale = rows[value].type().scale or 0
    total_type = dt.Decimal(MAX_DIGITS, scale)
    grouped = rows.group_by([C.PROJECT_LABEL, rows[currency].name(C.CURRENCY)]).aggregate(
        **{
            C.TOTAL: rows[value].sum().cast(total_type).coalesce(ibis.literal(Decimal(0), type=total_type)),
            C.N_AWARDS: rows.count(),
            C.N_AWARDS_UNPUBLISHED: rows[value].isnull().sum(),
        }
    )
    # Converted, every award is in the one currency chosen (one without a rate counts as one without an amount).
    totals = grouped if fx is not None else fold_unpriced(grouped, added=(C.N_AWARDS, C.N_AWARDS_UNPUBLISHED))
    ordered = totals.order_by([ibis.desc(C.TOTAL), ibis.asc(C.PROJECT_LABEL), ibis.asc(C.CURRENCY)])
    return small_frame(ordered.to_pandas(), (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED))


def fold_unpriced(totals: ibis.Table, added: tuple[str, ...]) -> ibis.Table:
    """Rows per recipient and currency with a recipient's awards without an amount in the row of its one currency.

    An award with no published amount names no currency, so grouping by currency gave its recipient a second
    row, without a total, and the row with the total did not count it (the University of Tokyo's ¥4.2B row
    said 1 award of its 2). When the awards with an amount share one currency, those without one are counted
    in its row (the ``added`` counts are added; a row without a currency has no amount to add); with several
    currencies they keep a row of their own, with no currency, as there is no saying which row they belong to.
    Only the few recipients with such a row are joined: a window over every recipient took twice as long.
    """
    label, currency = C.PROJECT_LABEL, C.CURRENCY
    unpriced = totals.filter(totals[currency].isnull())
    priced = totals.filter(totals[currency].notnull())
    candidates = priced.semi_join(unpriced, label)
    single = candidates.group_by(label).having(candidates.count() == 1).aggregate()
    extra = unpriced.semi_join(single, label).select(label, **{f"_extra_{c}": unpriced[c] for c in added})
    joined = priced.left_join(extra, label)
    folded = joined.select(
        *((joined[c] + joined[f"_extra_{c}"].coalesce(0)).name(c) if c in added else joined[c] for c in priced.columns)
    )
    return folded.union(unpriced.anti_join(single, label))


def programme_allocations(tables: Tables, fx: FxChoice | None = None, *, by_basis: bool = False) -> pd.DataFrame:
    """Per programme (descendants included): awards, awards without an amount, and the sum in its currency.

    The currency is the programme's own, or, when it declares none, the one currency its awards with an
    amount share. Awards with an amount in another currency are counted in ``awards_other_currency``.
    With ``by_basis``, the sum of each kind of basis follows (:data:`~aifunding.analysis.totals.KINDS`, named
    ``allocated_<kind>``, None where none) and :data:`~aifunding.analysis.totals.ROUNDED_CEILING`: what
    :func:`~aifunding.analysis.totals.basis_parts` reads, as the export splits an allocation.

    With ``fx``, :data:`FX_PROGRAMME_COLUMNS` follow, as ``conversion.convert_programmes`` adds them: the
    programme's own amount converted (exact) with its rate, and its allocation at that same rate, to the
    cent (half to even), when the allocation is in the programme's own currency.
    """
    awards, programmes, closure = tables["awards"], tables["programmes"], tables[CLOSURE]
    up = closure.join(awards, closure[C.PROGRAMME_ID] == awards.programme_id)
    up = up.select(ANCESTOR_ID, "amount", "currency", "basis")
    published = up.amount.notnull()
    counts = up.group_by(ANCESTOR_ID).aggregate(
        n=up.count(),
        n_published=published.sum(),
        n_currencies=up.currency.nunique(where=published),
        only_currency=up.currency.min(where=published),
    )
    base = programmes.left_join(counts, programmes.id == counts[ANCESTOR_ID])
    currency = programmes.currency.coalesce(ibis.ifelse(base.n_currencies == 1, base.only_currency, ibis.null()))
    base = base.select(
        programmes.id, n=base.n.coalesce(0), n_published=base.n_published.coalesce(0), allocated_currency=currency
    )
    same = up.join(base, (up[ANCESTOR_ID] == base.id) & (up.currency == base.allocated_currency))
    same = same.filter(same.amount.notnull())
    split: dict[str, ibis.Value] = {}
    if by_basis:
        split = {f"{C.ALLOCATED}_{kind}": same.amount.sum(where=same.basis.isin(list(b))) for kind, b in KINDS.items()}
        split[ROUNDED_CEILING] = (same.basis == str(Basis.UP_TO_ABOUT)).any()
    sums = same.group_by(ANCESTOR_ID).aggregate(allocated=same.amount.sum(), n_same=same.count(), **split)
    result = base.left_join(sums, base.id == sums[ANCESTOR_ID]).select(
        **{
            C.PROGRAMME_ID: base.id,
            C.N_AWARDS: base.n,
            C.N_AWARDS_UNPUBLISHED: base.n - base.n_published,
            C.ALLOCATED: sums.allocated.cast(AMOUNT_DTYPE),
            **{
                name: sums[name].coalesce(False) if name == ROUNDED_CEILING else sums[name].cast(AMOUNT_DTYPE)
                for name in split
            },
            C.ALLOCATED_CURRENCY: base.allocated_currency,
            C.AWARDS_OTHER_CURRENCY: base.n_published - sums.n_same.coalesce(0),
        }
    )
    if fx is not None:
        result = _convert_allocations(tables, fx, result)
    frame = result.order_by(C.PROGRAMME_ID).to_pandas()
    return small_frame(frame, (C.N_AWARDS, C.N_AWARDS_UNPUBLISHED, C.AWARDS_OTHER_CURRENCY))


def convert_awards(tables: Tables, fx: FxChoice, awards: ibis.Table | None = None) -> ibis.Table:
    """Awards (every one, or a :func:`filter_awards` expression) with ``convert_frame``'s columns.

    ``amount_converted`` is the exact product of the amount and the rate, unrounded, as in pandas.
    """
    awards = awards_with_programme(tables) if awards is None else awards
    return with_rates(awards, fx_rates(tables, fx))


def _convert_allocations(tables: Tables, fx: FxChoice, allocations: ibis.Table) -> ibis.Table:
    """Programme allocations with each programme's own amount converted and its allocation at that rate."""
    programmes = tables["programmes"].select("id", "amount", "currency", "announced")
    rates = fx_rates(tables, fx)
    converted = with_rates(programmes, rates)
    joined = allocations.join(converted, allocations[C.PROGRAMME_ID] == converted.id)
    same = (joined[C.ALLOCATED_CURRENCY] == joined.currency) & joined[C.FX_RATE].notnull()
    at_rate = cents_half_even(times_rate(joined[C.ALLOCATED], joined[C.FX_RATE], rates.rate_type))
    return joined.select(
        *allocations.columns,
        *FX_COLUMNS,
        **{C.ALLOCATED_CONVERTED: ibis.ifelse(same & joined[C.ALLOCATED].notnull(), at_rate, ibis.null())},
    )


# --- Market -----------------------------------------------------------------------------------------------

MARKET_COLUMNS = ("name_en", "name_ja", "country_id", "year_label", "year", "framing")


def linked_ids(tables: Tables, link_table: str, value_column: str, target_column: str) -> ibis.Table:
    """Per target row: the distinct linked ids in the order they first appear in the file (``ids``).

    What :func:`aifunding.analysis.metrics.market_share_view` collects with ``dict.fromkeys``.
    """
    links = tables[link_table]
    links = links.filter(links[target_column].notnull() & links[value_column].notnull())
    firsts = links.group_by([target_column, value_column]).aggregate(first=links[POSITION].min())
    return firsts.group_by(target_column).aggregate(
        ids=ibis.struct({"position": firsts["first"], "id": firsts[value_column]})
        .collect()
        .sort()
        .map(lambda link: link["id"])
    )


def market_shares(tables: Tables, countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each market share with its market's name, country, year and framing, its sources and caveats.

    The frame ``metrics.market_share_view`` makes, kept to ``countries`` (all when empty) as the view
    keeps it, in the order the Market page draws it: newest year first, then market, then file order.
    """
    shares, markets = tables["market_shares"], tables["markets"]
    joined = shares.left_join(markets, shares.market_id == markets.id)
    own = [column for column in shares.columns if column != POSITION]
    market = {
        "market_en": markets.name_en,
        "market_ja": markets.name_ja,
        **{column: markets[column] for column in MARKET_COLUMNS[2:]},
    }
    frame = joined.select(*(shares[column] for column in own), shares[POSITION], **market)
    if countries:
        frame = frame.filter(frame.country_id.isin(list(countries)))
    for column, link_table, value_column in (
        (C.SOURCE_IDS, "citations", "source_id"),
        (C.CAVEAT_IDS, "caveat_links", "caveat_id"),
    ):
        links = linked_ids(tables, link_table, value_column, "market_share_id")
        frame = frame.left_join(links, frame.id == links.market_share_id).select(*frame.columns, **{column: links.ids})
    ordered = frame.order_by([ibis.desc("year"), ibis.asc("market_id"), ibis.asc(POSITION)]).drop(POSITION)
    result = small_frame(ordered.to_pandas(), ())
    for column, kind in ordered.schema().items():
        if kind.is_integer():  # a rank, a year: whole numbers, not the floats a column with gaps becomes
            result[column] = pd.Series([None if v is None else int(v) for v in result[column]], dtype=object)
    for column in (C.SOURCE_IDS, C.CAVEAT_IDS):
        result[column] = pd.Series([tuple(ids) if ids is not None else () for ids in result[column]], dtype=object)
    return result


__all__ = [
    "ANCESTOR_ID",
    "ENGINE_VARIABLE",
    "FX_COLUMNS",
    "FX_PROGRAMME_COLUMNS",
    "Tables",
    "arrow_table",
    "cents_half_even",
    "closure_table",
    "connect",
    "convert_awards",
    "engine_name",
    "filter_awards",
    "market_shares",
    "package_tables",
    "programme_allocations",
    "recipient_totals",
    "register",
    "spark_session",
    "stop_spark",
    "stored_table",
]
