"""Self-contained HTML snapshots: the charts (interactive), their rows, sources and caveats, offline.

One file holds everything it needs: plotly.js is inlined once, no fonts, scripts or images are
fetched, and every piece of data text is escaped. The dashboard's "Download snapshot" writes the
current view with it; ``aifunding report`` writes the whole package for scheduled reports.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from aifunding.analysis.metrics import localized
from aifunding.analysis.view import FilteredView, Prepared, ViewState, apply_view
from aifunding.figures import registry
from aifunding.figures.highlights import build_highlights_figure
from aifunding.figures.plain import figure_dict, figure_meta
from aifunding.figures.presentation import milestones_table, money_columns, unpublished_in_view
from aifunding.figures.report_tables import report_counts
from aifunding.figures.worded import Worded
from aifunding.i18n import Translator
from aifunding.loading.package import Package, newest_source_date
from aifunding.money.formatting import format_partial_date
from aifunding.outputs.cells import plain_numbers
from aifunding.outputs.summary import Headline, headline, span_text, total_text

# Rows of a table a snapshot or report writes out; the Data page and the exports hold the rest.
SNAPSHOT_ROWS = 1000
# Plotly's toolbar in the snapshot: PNG export stays, nothing that needs a server.
SNAPSHOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}

STYLE = """
body { font-family: "Source Sans Pro", "Noto Sans JP", Arial, sans-serif; color: #0e1117; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 2rem; margin-bottom: .25rem; }
.meta, .small { font-size: .9rem; }
.sentence { background: #eaf2fb; padding: .75rem 1rem; border-radius: .5rem; }
section.chart { margin: 2.5rem 0; break-inside: avoid; page-break-inside: avoid; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #d0d4da; padding: .25rem .4rem; text-align: left; vertical-align: top; }
details { margin: .5rem 0; }
a { color: #0b5394; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
@media print { details { display: block; } details > *:not(summary) { display: block; }
               section.chart { page-break-inside: avoid; } }
.cards { display: none; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); margin: .5rem 0; }
.card { border: 1px solid #d0d4da; border-radius: .5rem; padding: .75rem 1rem; }
.card p { margin: .25rem 0; }
.card .figure { font-size: 2rem; font-weight: 700; line-height: 1.2; }
@media screen and (max-width: 900px) { .cards { display: grid; } .wide { display: none; } }
.phone-title { display: none; }
@media screen and (max-width: 640px) {
  /* A phone: a chart is drawn 640 pixels wide and scrolls sideways (at the screen's width plotly cut its values,
     axis titles and legend off at the edge), and its title is text above it that wraps to the screen. */
  .phone-title { display: block; margin-top: .5rem; }
  .phone-title p { margin: 0; }
  .phone-title .chart-title { font-weight: 600; font-size: 1.05rem; }
  .phone-title .chart-subtitle { font-size: .85rem; color: #5f6368; }
  .chart-frame { overflow-x: auto; }
  .chart-frame > div { min-width: 640px; margin-top: calc(-1 * var(--lift, 0px)); }
  .chart-frame .gtitle { display: none; }
}
"""
# Pixels kept of a chart's top margin under its title on a phone: room for plotly's toolbar.
TOOLBAR_ROOM = 40


def title_lift(figure: go.Figure) -> int:
    """Pixels of the room above a chart's plot (where plotly draws its title) to take up on a phone, where the
    title is text above the chart instead (:func:`phone_title_html`): all but the toolbar's."""
    top = (figure_dict(figure)["layout"].get("margin") or {}).get("t") or 0
    return max(int(top) - TOOLBAR_ROOM, 0)


def phone_title_html(meta: Mapping[str, Any]) -> str:
    """A chart's title and subtitle as written (its meta's), as the text a phone shows above it; "" for none.

    On a phone a chart is drawn 640 pixels wide and scrolls sideways, and its own title, drawn inside it, ran
    off the screen's edge with it. The page's or snapshot's stylesheet shows this on a phone only.
    """
    if not meta.get("title"):
        return ""
    words = [f"<p class='chart-title'>{_e(meta['title'])}</p>"]
    words += [f"<p class='chart-subtitle'>{_e(line)}</p>" for line in meta.get("subtitle") or ()]
    return f"<div class='phone-title'>{''.join(words)}</div>"


@dataclass(frozen=True)
class Section:
    """One chart (or a table alone) with the rows behind it."""

    heading: str | None
    figure: go.Figure | None
    rows: pd.DataFrame | Worded | None = None  # a chart's: the rows it drew, worded when written
    key: str | None = None  # the registry chart's key (aifunding.figures.registry), on the section element
    # The highlights as (figure, claim, date and basis), drawn as cards in the figure's stead on a narrow screen:
    # the figure's cards sit side by side at a fixed size, which on a phone printed one over another.
    cards: tuple[tuple[str, str, str], ...] = ()
    slide: bool = True  # a chart of presenter mode's deck (:func:`slides`)


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text))


def _sources_html(package: Package, source_ids: Iterable[str], caveat_ids: Iterable[str], lang: str) -> str:
    t = Translator(lang)
    sources = package.frame("sources").set_index("id")
    caveat_rows = package.frame("caveats")
    titles = dict(zip(caveat_rows["id"], localized(caveat_rows, "title", lang), strict=True))
    texts = dict(zip(caveat_rows["id"], localized(caveat_rows, "text", lang), strict=True))
    items = []
    for sid in source_ids:
        if sid not in sources.index:
            continue
        row = sources.loc[sid]
        date = format_partial_date(row["published"] if isinstance(row["published"], str) else None, lang)
        tier = t(f"tier.{row['tier']}")
        link = f'<a href="{_e(row["url"])}">{_e(row["publisher"])}</a>'
        items.append(f"<li>{t('common.cite', source=link, date=_e(date), tier=_e(tier))}</li>")
    notes = [f"<li><strong>{_e(titles[c])}</strong> {_e(texts[c])}</li>" for c in caveat_ids if c in titles]
    parts = []
    if items:
        parts.append(
            f"<p class='small'><strong>{_e(t('common.sources'))}</strong></p><ul class='small'>{''.join(items)}</ul>"
        )
    if notes:
        summary = _e(t("snapshot.caveats", count=f"{len(notes):,}"))
        parts.append(f"<details open><summary>{summary}</summary><ul class='small'>{''.join(notes)}</ul></details>")
    return "".join(parts)


def build_snapshot(
    *,
    title: str,
    sentence: str,
    sections: Sequence[Section],
    package: Package,
    generated_at: datetime.datetime,
    link: str | None = None,
    lang: str = "en",
    converted: bool = False,
) -> str:
    """The complete HTML document.

    Args:
        title: The page or report title.
        sentence: What is shown, in words (filters and conversion).
        sections: Charts and tables in order.
        package: The package the figures come from (for sources, caveats and "data as of").
        generated_at: When the snapshot was made (shown in it).
        link: The live view's URL, when there is one.
        lang: Language of the words around the figures and of dates.
        converted: Whether the amounts are converted to a chosen currency: its tables' amounts are then to the
            cent, each with its two places, as the page shows them.
    """
    t = Translator(lang)
    made = t(
        "snapshot.made",
        time=generated_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        title=package.title,
        date=format_partial_date(newest_source_date(package), lang),
        # In the page's language: the CLI's English line ("valid: 0 error(s), …") stood in a Japanese sentence.
        summary=t(
            "snapshot.valid" if package.report.valid else "snapshot.invalid",
            counts=report_counts(package.report, lang),
        ),
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='meta'>{_e(made)}</p>",
        f"<p class='sentence'>{_e(sentence)}</p>",
    ]
    if link:
        body.append(f"<p class='meta'>{_e(t('snapshot.live'))} <a href=\"{_e(link)}\">{_e(link)}</a></p>")
    for index, section in enumerate(sections):
        chart_key = f" data-chart='{_e(section.key)}'" if section.key else ""
        parts = [f"<section class='chart' id='section-{index}'{chart_key}>"]
        if section.heading:
            parts.append(f"<h2>{_e(section.heading)}</h2>")
        if section.figure is not None:
            meta = figure_meta(section.figure)
            parts.append(
                f"<details class='small'><summary>{_e(t('snapshot.alt'))}</summary>{_e(meta.get('alt', ''))}</details>"
            )
            config = {
                **SNAPSHOT_CONFIG,
                "toImageButtonOptions": {"format": "png", "filename": meta.get("filename", "chart")},
            }
            figure = section.figure.to_html(
                full_html=False, include_plotlyjs=False, config=config, div_id=f"chart-{index}"
            )
            lift = title_lift(section.figure)
            figure = f"{phone_title_html(meta)}<div class='chart-frame' style='--lift: {lift}px'>{figure}</div>"
            if section.cards:
                cards = "".join(
                    f"<div class='card'><p class='figure'>{_e(figure_text)}</p><p>{_e(claim)}</p>"
                    f"<p class='small'>{_e(note)}</p></div>"
                    for figure_text, claim, note in section.cards
                )
                figure = f"<div class='wide'>{figure}</div><div class='cards'>{cards}</div>"
            parts.append(figure)
            parts.append(_sources_html(package, meta.get("source_ids", ()), meta.get("caveat_ids", ()), lang))
        rows = section.rows
        if rows is not None and len(rows):
            # A file stays readable (and small) whatever the data: the first rows, and a line saying so.
            # Scrolled within its own box when wider than the screen (a phone), never the whole page.
            # Numbers as a reader writes them (12484995.14, 1930000000; 4013690.20 converted), never the
            # scientific notation pandas picks for a column of mixed sizes (1.248500e+07).
            head = rows.head(SNAPSHOT_ROWS)
            cents = money_columns(lang) & set(head.columns) if converted else frozenset()
            written = plain_numbers(head, cents=cents)
            written = written.astype(object).where(written.notna(), "")  # a missing cell is empty, never "None"
            table = written.to_html(index=False, escape=True, na_rep="", border=0)
            table = f"<div class='scroll'>{table}</div>"
            if len(rows) > SNAPSHOT_ROWS:
                capped = t("snapshot.rows_capped", shown=f"{SNAPSHOT_ROWS:,}", total=f"{len(rows):,}")
                table += f"<p class='small'>{_e(capped)}</p>"
            if section.figure is not None:
                summary = t("snapshot.data", count=f"{len(rows):,}")
                parts.append(f"<details><summary>{_e(summary)}</summary>{table}</details>")
            else:
                parts.append(table)
        parts.append("</section>")
        body.append("".join(parts))
    return (
        "<!DOCTYPE html>\n"
        f"<html lang='{_e(lang)}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        # No request may leave the file: nothing but inline scripts, styles and data images.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; "
        'font-src data:">'
        f"<title>{_e(title)}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def headline_sections(figures: Headline, lang: str) -> list[Section]:
    """The Overview's first two sections: the package's highlights (when it has any) and the totals, in words."""
    t = Translator(lang)
    sections = []
    if figures.highlights:
        sections.append(
            Section(
                t("overview.highlights"),
                build_highlights_figure(figures.highlights, title=t("present.highlights"), lang=lang),
                key="highlights",
                cards=tuple(
                    (h.figure, h.claim, " · ".join(filter(None, (h.date, h.basis, h.converted))))
                    for h in figures.highlights
                ),
            )
        )
    totals = pd.DataFrame(
        [
            (t(f"overview.{key}"), total_text(total, lang), span_text(total, lang))
            for key, total in figures.totals.items()
        ],
        columns=[t("overview.row"), t("overview.figure"), t("overview.added")],
    )
    sections.append(Section(t("overview.totals"), None, totals))
    return sections


def report_sections(prepared: Prepared, view: FilteredView) -> list[Section]:
    """The highlights, the totals, then every registered chart of every page in page order, and what to watch."""
    lang = view.state.lang
    t = Translator(lang)
    sections = headline_sections(headline(prepared, view), lang)
    for page in registry.PAGES:
        for chart in page.charts:
            drawn = registry.draw(chart, prepared, view)
            sections += [Section(d.heading, d.figure, d.rows, d.key, slide=chart.on_slides) for d in drawn]
        if page.key == "companies":
            # As the page lists them below its charts: the awards in view that no chart can draw, having no amount.
            unpublished = unpublished_in_view(view, prepared.package, lang)
            if len(unpublished):
                sections.append(Section(t("companies.unpublished"), None, unpublished))  # a table: no chart key
    today = datetime.date.today().isoformat()
    sections.append(
        Section(
            t("overview.watch"),
            None,
            milestones_table(view.milestones, prepared.package, today=today, lang=lang, awards=prepared.awards),
        )
    )
    return sections


def slides(prepared: Prepared, view: FilteredView) -> list[Section]:
    """Presenter mode's deck: the snapshot's figures, one per screen, in the same order, but those of a chart kept
    off the slides (:attr:`~aifunding.figures.registry.Chart.on_slides`)."""
    return [section for section in report_sections(prepared, view) if section.figure is not None and section.slide]


def build_report(prepared: Prepared, state: ViewState, *, generated_at: datetime.datetime | None = None) -> str:
    """The whole-package snapshot for ``state`` (language, currency, conversion, filters)."""
    view = apply_view(prepared, state)
    return build_snapshot(
        title=Translator(state.lang)("overview.title"),
        sentence=view.sentence(),
        sections=report_sections(prepared, view),
        package=prepared.package,
        generated_at=generated_at or datetime.datetime.now(datetime.UTC),
        lang=state.lang,
        converted=view.money.converted,
    )
