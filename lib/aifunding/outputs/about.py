"""What a file says about itself: the about block of an export, the header block of a dashboard download.

Key-value lines (title, licence, conversion, validation, the view in words, its link, its sources, when it
was made), neutralised for spreadsheets and never naming a path on this machine.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from aifunding.analysis.conversion import FxChoice
from aifunding.analysis.view import FilteredView
from aifunding.i18n import Translator
from aifunding.loading.package import Package, newest_source_date
from aifunding.outputs.cells import neutralise

# How many of a table's quarantined rows ``left_out`` names by their line; the rest are counted.
LEFT_OUT_LINES = 5


def left_out_words(package: Package) -> str:
    """Which rows of which tables an export of a package with errors leaves out, in words: how many, and the lines
    of the first few ("awards: 2 of 24 rows quarantined (awards.csv lines 5, 9)"), as the validation report names
    each."""
    report = package.report
    left_out = report.left_out()
    if not left_out:
        return "none"
    lines: dict[str, list[int]] = {}
    files: dict[str, str] = {}
    for row in report.quarantined:
        lines.setdefault(row.table, []).append(row.line)
        files.setdefault(row.table, row.file)
    parts = []
    for name, n in left_out.items():
        words = f"{name}: {n:,} of {report.rows_read[name]:,} rows quarantined"
        at = sorted(lines.get(name, ()))
        if at:
            named = ", ".join(f"{line:,}" for line in at[:LEFT_OUT_LINES])
            more = f" and {len(at) - LEFT_OUT_LINES:,} more" if len(at) > LEFT_OUT_LINES else ""
            words += f" ({files[name]} line{'s' if len(at) > 1 else ''} {named}{more})"
        parts.append(words)
    return "; ".join(parts)


def about_rows(package: Package, fx: FxChoice | None, generated_at: datetime.datetime) -> list[tuple[str, str]]:
    """Key-value lines that say what an export holds and how it was made (never a path on this machine)."""
    licences = ", ".join(str(lic.get("name") or lic.get("title")) for lic in package.descriptor.get("licenses", []))
    conversion = (
        "no conversion: amounts in their original currencies"
        if fx is None
        else f"converted to {fx.currency} at ECB reference rates "
        + ("on each announcement date (month or year averages for partial dates)" if not fx.fixed else f"of {fx.at}")
    )
    rows = [
        ("title", package.title),
        ("package", package.name),
        ("licence", licences),
        ("generated_at", generated_at.isoformat(timespec="seconds")),
        ("conversion", conversion),
        ("validation", package.report.summary()),
        ("left_out", left_out_words(package)),
    ]
    return [(key, neutralise(value)) for key, value in rows]


def view_about_rows(
    view: FilteredView,
    link: str,
    source_ids: Iterable[str] = (),
    generated_at: datetime.datetime | None = None,
    *,
    sources_column: bool = True,
) -> list[tuple[str, str]]:
    """The header block of a download from the dashboard: the view in words, its link, its sources, when.

    With no ``source_ids``, the sources line points to the table's sources column, or (``sources_column``
    False: a nesting table, a validation report) says it has none and where every source is.
    """
    t = Translator(view.state.lang)
    sources = view.package.frame("sources").set_index("id")

    def dated(published: object) -> str:
        # A source with no date has a missing cell (NaN, which is true and would be written "nan"), not "".
        return published if isinstance(published, str) and published else t("table.no_date")

    cited = [
        f"{sources.at[s, 'publisher']!s} ({dated(sources.at[s, 'published'])}) {sources.at[s, 'url']!s}"
        for s in source_ids
        if s in sources.index
    ]
    made = generated_at or datetime.datetime.now(datetime.UTC)
    return [
        ("title", view.package.title),
        ("view", view.sentence()),
        ("link", link),
        ("sources", "; ".join(cited) or t("table.sources_fallback" if sources_column else "table.sources_none")),
        ("data_as_of", newest_source_date(view.package) or ""),
        ("generated_at", made.isoformat(timespec="seconds")),
    ]


def upload_about_rows(
    package: Package, upload_name: str, lang: str, generated_at: datetime.datetime | None = None
) -> list[tuple[str, str]]:
    """The header block of a download of an upload's check (its report, its quarantined rows): the upload's title,
    what it is, and when; never the view shown beside it, whose package the upload is not (nor part of, until it
    is accepted)."""
    made = generated_at or datetime.datetime.now(datetime.UTC)
    return [
        ("title", package.title),
        ("view", Translator(lang)("upload.report_about", name=upload_name)),
        ("data_as_of", newest_source_date(package) or ""),
        ("generated_at", made.isoformat(timespec="seconds")),
    ]
