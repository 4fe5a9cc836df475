"""The view model: the view state, the filtered view every page draws from, and the prepared package.

Filters (:mod:`aifunding.analysis.filters`) follow Datasette's design: each yields both a mask over the
rows and a phrase describing itself, and the page shows the phrases as one sentence above the
charts. Filters compose with AND; an empty selection means "no filter".
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from aifunding import columns as C
from aifunding.analysis.adding import SCOPES, AddingRule, Selection
from aifunding.analysis.conversion import (
    ANNOUNCEMENT,
    NO_AMOUNT_NOTE,
    NO_DATE_NOTE,
    FxChoice,
    Money,
    convert_frame,
    convert_programmes,
)
from aifunding.analysis.filters import FILTERS, Context, date_mask
from aifunding.analysis.memo import remembered
from aifunding.analysis.metrics import award_view, localized, market_share_view, programme_view
from aifunding.analysis.recipients import RecipientLinks, programmes_by_recipient, recipients_frame
from aifunding.analysis.view_awards import ViewAwards
from aifunding.data.dates import partial_bounds
from aifunding.data.frames import found_in, isin_texts, rows_named
from aifunding.data.vocabulary import Level
from aifunding.i18n import Translator, translate
from aifunding.loading.package import Package
from aifunding.money.formatting import format_partial_date


@dataclass(frozen=True)
class ViewState:
    """Everything that decides what a page shows. Empty tuples mean "all"."""

    countries: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    currency: str | None = None
    fx_at: str = ANNOUNCEMENT
    lang: str = "en"

    @property
    def fx(self) -> FxChoice | None:
        return None if self.currency is None else FxChoice(self.currency, self.fx_at)

    def with_(self, **changes: Any) -> ViewState:
        return replace(self, **changes)


# The conversion notes metrics writes itself, by message key; the fx module's messages stay English.
_FX_NOTE_KEYS = {NO_DATE_NOTE: "fx_note.no_date", NO_AMOUNT_NOTE: "fx_note.no_amount"}


def fx_note_words(note: object, lang: str) -> object:
    """Why a figure was not converted, in ``lang`` where the reason is a known one; gaps stay gaps."""
    key = _FX_NOTE_KEYS.get(note) if isinstance(note, str) else None
    return translate(key, lang) if key else note


def fx_reasons(counts: Mapping[Any, int], lang: str) -> str:
    """Why figures were not converted, each reason in ``lang`` with how many ("no announcement date, so no
    announcement-date rate (9)"), its count grouped as every count is (1,200)."""
    return "; ".join(f"{fx_note_words(reason, lang)} ({n:,})" for reason, n in counts.items())


@dataclass
class FilteredView:
    """The rows one page draws from, after the filters and the currency choice."""

    package: Package
    state: ViewState
    programmes: pd.DataFrame
    market_shares: pd.DataFrame
    milestones: pd.DataFrame
    # Which rows of the prepared frames are in view: what is read of every row is read once per package,
    # and the awards' own columns are taken out of the prepared awards only when first read.
    selection: Selection
    undated_excluded: int = 0
    phrases: list[str] = field(default_factory=list)

    @property
    def award_count(self) -> int:
        """How many awards are in view, without taking them out of the prepared awards."""
        rows = self.selection.award_rows
        return len(self.selection.awards) if rows is None else len(rows)

    @property
    def empty(self) -> bool:
        return self.award_count == 0 and self.programmes.empty

    def award_columns(self, columns: Sequence[str]) -> pd.DataFrame:
        """Only ``columns`` of the awards in view (in their published amounts), numbered from 0."""
        if "published_awards" in self.__dict__:
            return self.published_awards[list(columns)]
        frame, rows = self.selection.awards[list(columns)], self.selection.award_rows
        return (frame if rows is None else frame.take(rows)).reset_index(drop=True)

    @cached_property
    def published_awards(self) -> pd.DataFrame:
        """The awards in view in their published amounts; :attr:`awards` converts them when first read.

        Taken when first read: a page that shows no award (Overview, World) never copies the columns
        of the hundreds of thousands of awards a filter keeps.
        """
        return self.award_columns(list(self.selection.awards.columns))

    @cached_property
    def awards(self) -> pd.DataFrame:
        """The awards in view, converted when a currency is chosen.

        Converted when first read: a chart of programmes in another currency (the World page's)
        never converts a million awards it does not draw.
        """
        if self.state.fx is None:
            return self.published_awards
        return convert_frame(self.published_awards, self.state.fx)

    @cached_property
    def lazy_awards(self) -> ViewAwards:
        """The awards in view (converted when a currency is chosen), taken as far as read: a chart's columns, a page."""
        return ViewAwards(self.selection, self.state.fx)

    @cached_property
    def money(self) -> Money:
        """The amounts this view shows (original or converted), for every chart and table built from it."""
        return Money(self.state.fx)

    @property
    def value_column(self) -> str:
        """The amount column charts should read: converted when a currency is chosen."""
        return self.money.value_column

    def sentence(self) -> str:
        """The filters and the conversion in words, as shown above the charts."""
        t = Translator(self.state.lang)
        if self.empty:
            return t("sentence.none")
        awards = t("sentence.awards", n=self.award_count)
        n_programmes = self.programme_count()
        text = t("sentence.showing", awards=awards, programmes=t("sentence.programmes", n=int(n_programmes)))
        if self.phrases:
            text += t("sentence.filters", phrases=t("sentence.list").join(self.phrases))
        # Punctuation between the parts is the language's: "; " and ". " in English, "。" in Japanese.
        text += t("sentence.clause") + self.conversion_phrase()
        failed = self.unconverted()
        if failed:
            text += t("sentence.next") + t(
                "sentence.not_converted",
                n=sum(failed.values()),
                reasons=fx_reasons(failed, t.lang),
            )
        if self.undated_excluded:
            text += t("sentence.next") + t("sentence.undated", n=self.undated_excluded)
        return text + t("sentence.end")

    def programme_count(self) -> int:
        """Programmes in view: programme rows, plus rounds shown without their programme."""
        shown = self.programmes
        orphan_rounds = (shown["level"] == Level.ROUND) & ~isin_texts(shown["parent_id"], shown["id"].tolist())
        return int(((shown["level"] == Level.PROGRAMME) | orphan_rounds).sum())

    def conversion_phrase(self) -> str:
        t = Translator(self.state.lang)
        if self.state.currency is None:
            return t("sentence.original")
        if self.state.fx_at == ANNOUNCEMENT:
            return t("sentence.converted.announcement", currency=self.state.currency)
        return t(
            "sentence.converted.fixed",
            currency=self.state.currency,
            date=format_partial_date(self.state.fx_at, self.state.lang),
        )

    def unconverted(self) -> dict[str, int]:
        """Why figures with an amount could not be converted, and how many."""
        fx = self.state.fx
        if self.state.currency is None or fx is None:
            return {}
        programme_notes = self.programmes.get(C.FX_NOTE, pd.Series(dtype=object))
        if "awards" in self.__dict__:  # converted already: their notes are the same
            notes = pd.concat([self.__dict__["awards"].get(C.FX_NOTE, pd.Series(dtype=object)), programme_notes])
            notes = notes[notes.notna() & (notes != NO_AMOUNT_NOTE)]
            return {str(k): int(v) for k, v in notes.value_counts().items()}
        # The awards' notes counted without converting them, then the programmes', in the order first met,
        # most first (ties in that order), as value_counts orders the notes of both.
        counts = self.lazy_awards.notes()
        for note, n in programme_notes.value_counts(sort=False).items():
            counts[str(note)] = counts.get(str(note), 0) + int(n)
        counts.pop(NO_AMOUNT_NOTE, None)
        ordered = pd.Series(counts, dtype=np.int64).sort_values(ascending=False)
        return {str(k): int(v) for k, v in ordered.items()}


@dataclass(frozen=True)
class Prepared:
    """Per-package frames computed once and reused by every rerun and session."""

    package: Package
    awards: pd.DataFrame
    programmes: pd.DataFrame
    market_shares: pd.DataFrame
    milestones: pd.DataFrame
    context: Context
    # Source and caveat rows by id, for the footers every chart draws (looked up, not re-indexed).
    sources: dict[str, dict] = field(default_factory=dict)
    caveats: dict[str, dict] = field(default_factory=dict)
    # The adding rule every total uses, read from the package once.
    adding: AddingRule | None = None
    # First and last day any announcement can mean: the date controls' range, where "no filter" is.
    date_span: tuple[datetime.date, datetime.date] = (datetime.date(1990, 1, 1), datetime.date(2100, 12, 31))
    # The awards' recipients as numbers, so a view counts its recipients without a loop over its awards.
    recipients: RecipientLinks | None = None
    # Derived artefacts (views, figures, tables) the dashboard keeps per view state: see aifunding.analysis.memo.
    memo: dict = field(default_factory=dict, compare=False, repr=False)


def prepare(package: Package) -> Prepared:
    """Join the tables once; filtering then only masks these frames.

    Two joins at a time: most of their time is Arrow's and numpy's, which let another thread run. The awards'
    recipients are joined in a thread while the programmes are, and the adding rule reads the rows there while
    the names and links are made (a million awards' views in four fifths of the time on two cores).
    """
    tree = package.tree  # built once, before the threads share it
    with ThreadPoolExecutor(1, thread_name_prefix="aifunding-prepare") as pool:
        recipients = pool.submit(recipients_frame, package.frame("award_recipients"), package.frame("organisations"))
        programmes = programme_view(package)
        awards = award_view(package, recipients=recipients.result)
        adding = pool.submit(_rule_with_rows, package, programmes, awards)
        links = RecipientLinks.of(awards[C.RECIPIENT_IDS])
        countries, organisations = package.frame("countries"), package.frame("organisations")
        named = {"countries": countries, "programmes": programmes, "organisations": organisations}
        # Each column made a list at once (Arrow's), not read a cell at a time: 100,000 organisations' names in a
        # tenth of a second, a third of the time.
        names = {
            kind: dict(zip(frame["id"].tolist(), frame["name_en"].tolist(), strict=True))
            for kind, frame in named.items()
        }
        names_ja = {
            kind: dict(zip(frame["id"].tolist(), localized(frame, "name", "ja").tolist(), strict=True))
            for kind, frame in named.items()
        }
        context = Context(tree, names, programmes_by_recipient(awards, links), {"en": names, "ja": names_ja})
        return Prepared(
            package,
            awards,
            programmes,
            market_share_view(package),
            package.frame("milestones"),
            context.with_organisation_order(),
            sources=_rows_by_id(package.frame("sources")),
            caveats=_rows_by_id(package.frame("caveats")),
            adding=adding.result(),
            recipients=links,
            date_span=announcement_span(programmes["announced"], awards["announced"]),
        )


def _rule_with_rows(package: Package, programmes: pd.DataFrame, awards: pd.DataFrame) -> AddingRule:
    """The package's adding rule, having read the rows of these frames once (seconds at a million awards).

    The headline totals of every row are added once too: the masks they read of the whole rows (kinds,
    statuses and levels above each row) are then kept with the rule, and a restart's first total reads
    them back rather than working them out (a second at a million awards).
    """
    rule = AddingRule.for_package(package)
    rule.read_whole(programmes, awards)
    rule.totals(SCOPES, programmes, awards, within=Selection(programmes, awards))
    return rule


def recipient_count(prepared: Prepared, view: FilteredView) -> int:
    """How many organisations receive the view's awards (a joint project's members each count)."""
    selection = view.selection
    if prepared.recipients is not None and selection is not None and selection.awards is prepared.awards:
        return prepared.recipients.count(selection.award_rows, len(prepared.awards))
    return len({org for ids in view.published_awards[C.RECIPIENT_IDS] for org in ids})


def announcement_span(*dates: pd.Series) -> tuple[datetime.date, datetime.date]:
    """First and last day any of these partial dates can mean (1990 to today when there are none)."""
    # Each distinct date once: a million awards carry a few thousand dates.
    known = {d for column in dates for d in column.dropna().unique().tolist() if isinstance(d, str)}
    if not known:
        return datetime.date(1990, 1, 1), datetime.date.today()
    return min(partial_bounds(d)[0] for d in known), max(partial_bounds(d)[1] for d in known)


def date_filter(
    date_from: object, date_to: object, span: tuple[datetime.date, datetime.date]
) -> tuple[datetime.date | None, datetime.date | None]:
    """The date filter the controls ask for: the package's full range means no filter, so undated rows stay."""
    start = date_from if isinstance(date_from, datetime.date) and date_from > span[0] else None
    end = date_to if isinstance(date_to, datetime.date) and date_to < span[1] else None
    return start, end


def _rows_by_id(frame: pd.DataFrame) -> dict[str, dict]:
    """Each row as a plain dict (missing cells None), by its id."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return {row["id"]: row for row in records}


def apply_view(prepared: Prepared, state: ViewState, kind_labels: Mapping[str, str] | None = None) -> FilteredView:
    """Filter the prepared frames by ``state`` and convert amounts if a currency is chosen."""
    t = Translator(state.lang)
    awards, programmes = prepared.awards, prepared.programmes
    award_keep = pd.Series(True, index=awards.index)
    programme_keep = pd.Series(True, index=programmes.index)
    phrases = []
    for flt in FILTERS:
        values: Sequence[str] = getattr(state, flt.state_field)
        if not values:
            continue
        values = tuple(values)
        award_keep &= flt.award_mask(awards, values, prepared.context)
        programme_keep &= flt.programme_mask(programmes, values, prepared.context)
        if flt.names_from == "kinds":
            names = kind_labels or {}
        else:
            names = prepared.context.names_in(state.lang)[flt.names_from]
        phrases.append(t(flt.phrase_key, values=t("sentence.values").join(names.get(v, v) for v in values)))

    undated = 0
    if state.date_from or state.date_to:
        award_dates = date_mask(awards["announced"], state.date_from, state.date_to)
        programme_dates = date_mask(programmes["announced"], state.date_from, state.date_to)
        undated = int(
            (award_keep & awards["announced"].isna()).sum() + (programme_keep & programmes["announced"].isna()).sum()
        )
        award_keep &= award_dates
        programme_keep &= programme_dates
        phrases.append(t("sentence.dates", range=_date_range_words(state, t)))

    award_rows = np.flatnonzero(award_keep.to_numpy(dtype=bool))
    programme_rows = np.flatnonzero(programme_keep.to_numpy(dtype=bool))
    shown_programmes = programmes.take(programme_rows)
    if state.fx is not None:
        shown_programmes = convert_programmes(shown_programmes, state.fx)
    shares = prepared.market_shares
    if state.countries:
        shares = shares[shares["country_id"].isin(state.countries)]
    milestones = prepared.milestones
    # The awards milestones name are found among the prepared awards once per package; a view keeps those of
    # them it shows, rather than taking every award id in view to look a few up.
    named_rows, named_ids = remembered(
        prepared, "milestone-award-rows", lambda: rows_named(awards["id"], prepared.milestones["award_id"])
    )
    shown_ids = set(named_ids[award_keep.to_numpy(dtype=bool)[named_rows]].tolist())
    milestones = milestones[
        found_in(milestones["programme_id"], shown_programmes["id"])
        | pd.Series(isin_texts(milestones["award_id"], shown_ids), index=milestones.index)
    ]
    return FilteredView(
        prepared.package,
        state,
        shown_programmes.reset_index(drop=True),
        shares.reset_index(drop=True),
        milestones.reset_index(drop=True),
        Selection(awards=awards, programmes=programmes, programme_rows=programme_rows, award_rows=award_rows),
        undated,
        phrases,
    )


def _date_range_words(state: ViewState, t: Translator) -> str:
    start = format_partial_date(state.date_from.isoformat(), state.lang) if state.date_from else None
    end = format_partial_date(state.date_to.isoformat(), state.lang) if state.date_to else None
    if start and end:
        return t("sentence.dates.between", start=start, end=end)
    return t("sentence.dates.from", start=start) if start else t("sentence.dates.to", end=end)
