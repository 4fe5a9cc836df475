"""One translation function for every user-visible string.

Pages, components and chart builders never hold English text: they call :func:`translate` (or a
:class:`Translator` bound to a language) with a message key. A missing Japanese string falls back
to English, so a language can be filled in gradually without touching any page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"
# Each language named in itself, for the language switch.
LANGUAGE_NAMES = {"en": "English", "ja": "日本語"}

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        # App and navigation
        "app.title": "AI Funding Dashboard",
        "page.overview": "Overview",
        "page.companies": "Companies",
        "page.programmes": "Programmes",
        "page.market": "Cloud market",
        "page.world": "World",
        "page.data": "Data",
        "page.sources": "Sources & method",
        # Sidebar controls
        "filters.header": "Filters",
        "filters.language": "Language",
        "filters.country": "Country or bloc",
        "filters.programme": "Programme",
        "filters.kind": "Kind of support",
        "filters.organisation": "Organisation",
        "filters.date_from": "Announced from",
        "filters.date_to": "Announced to",
        "filters.currency": "Show amounts in",
        "filters.currency.original": "Original currencies",
        "filters.fx": "Conversion rate",
        "filters.fx.announcement": "ECB rate on each announcement date",
        "filters.fx.fixed": "ECB rate on one date",
        "filters.fx_date": "Rate date",
        "filters.reset": "Reset filters",
        "filters.all": "All",
        # Filter sentence
        "sentence.showing": "Showing {awards} in {programmes}",
        "sentence.awards": "{n} award|{n} awards",
        "sentence.programmes": "{n} programme|{n} programmes",
        "sentence.country": "in {values}",
        "sentence.programme": "under {values}",
        "sentence.kind": "for {values}",
        "sentence.organisation": "to {values}",
        "sentence.dates": "announced {range}",
        "sentence.dates.between": "between {start} and {end}",
        "sentence.dates.from": "from {start}",
        "sentence.dates.to": "up to {end}",
        "sentence.undated": "{n} undated row(s) are left out by the date filter",
        "sentence.original": "amounts in their original currencies",
        "sentence.converted.announcement": "amounts converted to {currency} at ECB reference rates on each "
        "announcement date (monthly or yearly averages where only the month or year is known)",
        "sentence.converted.fixed": "amounts converted to {currency} at the ECB reference rate of {date}",
        "sentence.not_converted": "{n} figure(s) could not be converted: {reasons}",
        "sentence.none": "Nothing matches these filters.",
        # Common
        "common.empty": "Nothing matches these filters. Widen the date range or clear a filter in the sidebar.",
        "common.empty_hint": "Widen the date range or clear a filter in the sidebar to see figures again.",
        "common.show_data": "Show data",
        "common.source": "Source",
        "common.sources": "Sources",
        "common.caveats": "Caveats",
        "common.more_sources": "{n} more below",
        "common.sources_and_caveats": "All {sources} sources and {caveats} caveats",
        "common.no_amount": "amount not published",
        "common.download_csv": "Download CSV",
        "common.download_xlsx": "Download XLSX",
        "common.download_shown": "What is shown",
        "common.download_all": "Everything",
        "common.loaded_at": "Data loaded {time}",
        "common.data_as_of": "newest source dated {date}",
        "common.mixed_bases": "Totals add figures of different kinds ({bases}); each bar says which.",
        "common.chart_alt": "Chart: {title}",
        # Bases
        "basis.exact": "exact",
        "basis.about": "about",
        "basis.up_to": "up to",
        "basis.up_to_about": "up to about",
        "basis.at_least": "at least",
        "basis.target": "target",
        "basis.none": "no figure",
        # Kinds
        "kind.model_development": "Model development",
        "kind.compute_subsidy": "Compute subsidy",
        "kind.public_compute": "Public compute",
        "kind.compute_investment": "Compute investment",
        "kind.data_collection": "Data collection",
        "kind.financing": "Loans and equity",
        "kind.budget_frame": "Budget frame",
        "kind.broad_strategy": "National strategy",
        # Levels
        "level.budget_frame": "Budget frame",
        "level.programme": "Programme",
        "level.round": "Round",
        "level.component": "Component",
        # Milestone status
        "status.met": "Met",
        "status.on_track": "On track",
        "status.pending": "Pending",
        "status.unconfirmed": "Not confirmed",
        "status.not_met": "Not met",
        "timing.on": "on",
        "timing.by": "by",
        "timing.by_end": "by end of",
        "timing.as_early_as": "as early as",
        "timing.around": "around",
        "timing.from": "from",
        "timing.yearly_from": "yearly from",
        # Overview
        "overview.title": "Government funding for AI models and compute",
        "overview.intro": "Japan's subsidies for AI foundation models and GPU clouds, in the context of its cloud "
        "market and other countries' programmes. Every figure carries its basis and sources.",
        "overview.models": "To AI models",
        "overview.models.help": "Money committed to AI models: foundation-model development "
        "(model_development programmes and awards); "
        "plans and targets are not counted.",
        "overview.compute": "To compute",
        "overview.compute.help": "Money committed to compute: compute subsidies and public compute in the filtered "
        "programmes; plans and targets are not counted.",
        "overview.programmes": "Programmes",
        "overview.recipients": "Recipients",
        "overview.largest": "Top recipient's share",
        "overview.largest.help": "Share of the largest recipient (joint projects counted as one) in all awards with "
        "a published amount in the filtered view, in one currency.",
        "overview.watch": "What to watch",
        "overview.watch.due": "Due",
        "overview.watch.status": "Status",
        "overview.watch.what": "What",
        "overview.watch.as_of": "Status as of",
        "overview.watch.overdue": "due date passed",
        # Companies
        "companies.title": "Subsidies by company and project",
        "companies.intro": "Each bar is one recipient; a joint application is one project labelled with all its "
        "members and never split. Segments are awards, coloured by programme round.",
        "companies.projects": "Awards by project",
        "companies.chart_subtitle": "One bar per recipient (a joint project is one bar); each segment is one award, "
        "coloured by round, with its basis in the legend",
        "companies.unpublished": "Awards without a published amount",
        # Programmes
        "programmes.title": "Programme totals",
        "programmes.declared_vs_allocated": "Declared amount and allocation to named awards",
        "programmes.timeline": "Announcements over time",
        "programmes.annualised": "Amount per year over each programme's period",
        "programmes.nesting": "How rounds nest in programmes and budget frames",
        # Market
        "market.title": "Cloud market share in Japan",
        "market.intro": "Each panel is one market definition and year as its source measured it. Figures from "
        "different panels measure different things and are not comparable.",
        "market.context": "Subsidy rounds for context",
        "market.context.intro": "Japan's compute subsidies and public compute, which the government presents as its "
        "answer to a cloud market where domestic providers hold about 30%.",
        "market.rank_only": "Ranked without a share figure: {names}",
        # World
        "world.title": "Programmes across countries and blocs",
        "world.intro": "Every country's and bloc's programmes on one axis, converted to one currency (US dollars "
        "unless you choose another in the sidebar). Hatched bars are targets or plans, not money committed.",
        # Data
        "data.title": "Data and validation",
        "data.table": "Rows behind the charts",
        "data.which": "Table",
        "data.report": "Validation report",
        "data.valid": "The loaded package is valid: {summary}.",
        "data.invalid": "The loaded package has errors: {summary}.",
        "data.quarantined": "Quarantined rows (not loaded)",
        "data.no_problems": "No problems found.",
        "data.downloads": "Downloads",
        "data.all_xlsx": "All tables (XLSX)",
        "data.all_json": "All tables (JSON)",
        # Sources
        "sources.title": "Sources and method",
        "sources.list": "Sources",
        "sources.caveats": "Caveats: where sources disagree",
        "sources.method": "Method",
        "sources.licence": "Licence",
        # Sharing and presenting
        "share.button": "Share",
        "share.link": "Link to exactly this view (filters, currency and page):",
        "share.snapshot": "Download snapshot (HTML, works offline)",
        "share.present": "Present",
        "share.print": "To print or save as PDF, use the browser's Print command: the controls are left out.",
        "present.previous": "Previous",
        "present.next": "Next",
        "present.exit": "Exit presentation",
        "present.position": "Slide {n} of {total} · arrow keys move, Esc leaves",
        # Links
        "url.ignored": "Some settings in the link could not be used and were reset to their defaults: {params}.",
        # Errors
        "error.load": "The data package could not be loaded",
        "error.invalid_package": "The data package has errors, so only its valid rows are shown; the rest are listed "
        "on the Data page. {problem}",
        "error.stale": "The data files changed but no longer validate, so you are seeing the last valid data "
        "(loaded {time}). Problem: {problem}. The Data page lists every problem and quarantined row.",
    },
    "ja": {
        "app.title": "AI資金ダッシュボード",
        "page.overview": "概要",
        "page.companies": "企業別",
        "page.programmes": "事業別",
        "page.market": "クラウド市場",
        "page.world": "世界",
        "page.data": "データ",
        "page.sources": "出典と方法",
        "basis.exact": "確定",
        "basis.about": "約",
        "basis.up_to": "最大",
        "basis.up_to_about": "最大約",
        "basis.at_least": "以上",
        "basis.target": "目標",
    },
}


def _plural(text: str, n: int | None) -> str:
    """Pick ``one|many`` by ``n``; text without a bar is returned as it is."""
    if "|" not in text or n is None:
        return text
    one, many = text.split("|", 1)
    return one if n == 1 else many


def translate(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: object) -> str:
    """The text for ``key`` in ``lang`` (English when missing), with ``{name}`` fields filled.

    A key that exists in no language is a programming error, so it raises ``KeyError`` rather
    than showing the key to a user.
    """
    catalog: Mapping[str, str] = CATALOG.get(lang, CATALOG[DEFAULT_LANGUAGE])
    text = catalog.get(key) or CATALOG[DEFAULT_LANGUAGE][key]
    n = values.get("n")
    text = _plural(text, n if isinstance(n, int) else None)
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Translator:
    """:func:`translate` bound to one language: ``t = Translator("ja"); t("page.overview")``."""

    lang: str = DEFAULT_LANGUAGE

    def __call__(self, key: str, /, **values: object) -> str:
        return translate(key, self.lang, **values)
