"""Tidy export tables (programmes, awards, market shares), written as CSV, XLSX, JSON or Parquet.

One row per programme, per award (recipients joined, joint projects labelled) and per market
share, with the amount basis in words, the sources and caveats spelled out, and, when a currency is
chosen, the converted amount with the rate, its date and method. Text cells that a spreadsheet
would run as a formula are neutralised. The formats themselves are in :mod:`aifunding.outputs.writers`.
"""

from __future__ import annotations

import datetime
import decimal
import errno
import io
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from aifunding import columns as C
from aifunding.analysis.conversion import FxChoice, convert_frame, convert_programmes
from aifunding.analysis.metrics import AWARD_VIEW_COLUMNS, award_view, market_share_view, programme_view
from aifunding.analysis.recipients import recipients_frame
from aifunding.analysis.totals import basis_names, split_columns
from aifunding.analysis.view import Prepared
from aifunding.analysis.view_awards import CONVERSION_INPUTS
from aifunding.data.amounts import AMOUNT_DECIMALS
from aifunding.i18n import Translator
from aifunding.loading.package import Package
from aifunding.money.formatting import basis_label
from aifunding.outputs.about import about_rows
from aifunding.outputs.cells import fit_tables, neutralise_frame
from aifunding.outputs.citations import add_citations, award_citations, lookups_of
from aifunding.outputs.files import replacing
from aifunding.outputs.parquet import write_parquet
from aifunding.outputs.refusals import check_cell_texts, check_sheet_rows
from aifunding.outputs.writers import Rows, write_csv, write_json, write_xlsx

EXPORT_TABLES = ("programmes", "awards", "market_shares")
FORMATS = ("csv", "xlsx", "json", "parquet")
# Formats written as one file per table; the others hold every table in one file.
PER_TABLE_FORMATS = ("csv", "parquet")


def _basis_words(frame: pd.DataFrame, column: str = "basis") -> pd.Series:
    # Each distinct basis worded once, then mapped: a million awards carry a handful of them.
    values = frame[column]
    words = {b: basis_label(b) for b in values.dropna().unique().tolist() if isinstance(b, str)}
    if not words:  # no basis at all: mapping would give a float column of NaN, which "" cannot fill
        return pd.Series("", index=values.index, dtype="str")
    return values.map(words).fillna("").astype("str")


def _round_converted(frame: pd.DataFrame) -> pd.DataFrame:
    """The converted amounts to the cent, half to even (a cell that is not a Decimal becomes None).

    No rows, no change: the column keeps the type the conversion gave it (a Parquet file's schema follows it).
    """
    if not len(frame):
        return frame
    cents = Decimal("0.01")
    # The calling thread's context with the rounding set, passed to each call: a million amounts in a third
    # of a second, rather than a keyword argument and a lambda per cell.
    context = decimal.getcontext().copy()
    context.rounding = ROUND_HALF_EVEN
    quantize = Decimal.quantize
    rounded = [
        quantize(v, cents, None, context) if isinstance(v, Decimal) else None
        for v in frame[C.AMOUNT_CONVERTED].tolist()
    ]
    frame[C.AMOUNT_CONVERTED] = pd.Series(rounded, index=frame.index, dtype=object)
    return frame


PROGRAMME_COLUMNS = [
    "id",
    "parent_id",
    C.PARENT_NAME_EN,
    "level",
    "name_en",
    "name_ja",
    "country_id",
    C.COUNTRY_NAME_EN,
    "funding_body",
    "kind",
    "status",
    "announced",
    "announced_note",
    "amount",
    "currency",
    "basis",
    "basis_words",
    "period_start_fy",
    "period_end_fy",
    "period_years",
    C.ANNUALISED,
    C.N_AWARDS,
    C.N_AWARDS_UNPUBLISHED,
    C.ALLOCATED,  # only when every award it adds has the same kind of basis; else see the columns below
    C.ALLOCATED_BASIS,
    C.ALLOCATED_EXACT,
    C.ALLOCATED_ABOUT,
    C.ALLOCATED_UP_TO,
    C.ALLOCATED_UP_TO_ABOUT,
    C.ALLOCATED_AT_LEAST,
    C.ALLOCATED_CURRENCY,  # a programme with no amount of its own has no currency to read the sum in
    "legal_basis",
    "budget_source",
    "note",
    C.SOURCE_IDS,
    "sources",
    "source_urls",
    C.CAVEAT_IDS,
    "caveats",
]
AWARD_COLUMNS = [
    "id",
    "programme_id",
    C.PROGRAMME_NAME_EN,
    C.ROOT_PROGRAMME_ID,
    C.COUNTRY_ID,
    C.PROJECT_LABEL,
    C.RECIPIENTS_EN,
    C.RECIPIENTS_JA,
    C.JOINT,
    "purpose_en",
    "purpose_ja",
    "announced",
    "announced_note",
    "amount",
    "currency",
    "basis",
    "basis_words",
    "project_cost",
    "project_cost_basis",
    "note",
    C.SOURCE_IDS,
    "sources",
    "source_urls",
    C.CAVEAT_IDS,
    "caveats",
]
# The columns of the award view an export writes as they are (it writes the ids of sources and caveats as text,
# joined from the link tables): a million awards' Japanese labels and root names are not made for nothing.
_FROM_AWARD_VIEW = [
    name for name in AWARD_COLUMNS if name in AWARD_VIEW_COLUMNS and name not in (C.SOURCE_IDS, C.CAVEAT_IDS)
]
MARKET_COLUMNS = [
    "id",
    "market_id",
    "market_en",
    "market_ja",
    "country_id",
    "year_label",
    "year",
    "framing",
    "segment_kind",
    "segment_en",
    "segment_ja",
    "organisation_id",
    "share_low",
    "share_high",
    "basis",
    "rank",
    "note",
    C.SOURCE_IDS,
    "sources",
    "source_urls",
    C.CAVEAT_IDS,
    "caveats",
]
FX_COLUMNS = [C.AMOUNT_CONVERTED, C.CONVERTED_CURRENCY, C.FX_RATE, C.FX_RATE_DATE, C.FX_METHOD, C.FX_NOTE]
# A programme's allocation and per-year amount, converted at the rate its own amount was converted at.
PROGRAMME_FX_COLUMNS = [C.ALLOCATED_CONVERTED, C.ANNUALISED_CONVERTED]
_CLASS_COLUMNS = split_columns(C.ALLOCATED)
# The exact-decimal columns and the decimal places each holds, typed so in Parquet even when empty:
# amounts and shares have at most 4 (AMOUNT_DECIMALS); a rate has 10 significant digits and the
# smallest cross rate of the ECB table (TRL to MTL, 2003) is 2.25e-7, so 18 places hold any of them.
_AMOUNTS = ["amount", "project_cost", C.ANNUALISED, C.ALLOCATED, *_CLASS_COLUMNS.values(), C.AMOUNT_CONVERTED]
DECIMAL_SCALES = {name: AMOUNT_DECIMALS for name in [*_AMOUNTS, *PROGRAMME_FX_COLUMNS, "share_low", "share_high"]}
DECIMAL_SCALES[C.FX_RATE] = 18


def _allocated_by_basis(frame: pd.DataFrame) -> pd.DataFrame:
    """Split each programme's allocation by kind of basis: a ceiling never hides inside an exact sum.

    ``allocated`` keeps a number only when the awards it adds share one kind of basis; otherwise it
    is empty, ``allocated_basis`` says "mixed" and the per-basis columns carry the parts.
    """
    parts = [p if isinstance(p, dict) else {} for p in frame[C.ALLOCATED_BY_BASIS]]
    for kind, column in _CLASS_COLUMNS.items():
        frame[column] = [p.get(kind) for p in parts]
    frame[C.ALLOCATED_BASIS] = basis_names(parts)
    # pandas-stubs' column values leave out Decimal, which an object column holds as well as any value.
    frame[C.ALLOCATED] = [  # type: ignore[assignment]
        v if isinstance(v, Decimal) and len(p) == 1 else None for v, p in zip(frame[C.ALLOCATED], parts, strict=True)
    ]
    return frame


def _views_of(package: Package, prepared: Prepared | None) -> Prepared | None:
    """``prepared`` when it holds the views of ``package`` itself (else the export joins its own)."""
    return prepared if prepared is not None and prepared.package is package else None


def export_programmes(
    package: Package,
    fx: FxChoice | None = None,
    prepared: Prepared | None = None,
    totals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per programme, round, component or frame (from ``prepared``'s views of ``package`` when given; with
    ``totals``, its awards' totals made elsewhere, :func:`~aifunding.analysis.metrics.programme_view`)."""
    views = _views_of(package, prepared)
    view = programme_view(package, totals) if views is None else views.programmes.copy()
    frame = add_citations(view, lookups_of(package))
    frame["basis_words"] = _basis_words(frame)
    frame[C.ALLOCATED] = frame[C.ALLOCATED].map(lambda v: v if isinstance(v, Decimal) else None)
    frame = _allocated_by_basis(frame)
    frame[C.ANNUALISED] = frame[C.ANNUALISED].map(
        lambda v: v.quantize(Decimal(1), rounding=ROUND_HALF_EVEN) if isinstance(v, Decimal) else None
    )
    columns = list(PROGRAMME_COLUMNS)
    if fx is not None:
        frame = _round_converted(convert_programmes(frame, fx))
        columns += FX_COLUMNS + PROGRAMME_FX_COLUMNS
    return frame[columns].reset_index(drop=True)


def export_awards(package: Package, fx: FxChoice | None = None, prepared: Prepared | None = None) -> pd.DataFrame:
    """One row per award, recipients joined; a joint application is one row.

    With ``prepared`` (views of ``package`` a dashboard or a cache holds), the awards are taken from them
    rather than joined again: the columns are the same.

    Made in two threads: the recipients are joined and then the texts of the sources made in one, while the amounts
    are converted, the texts of the caveats made and the programmes' columns joined in the other. Most of each is
    Arrow's and numpy's work, which lets the other thread run: a million awards' table in 2.2 to 2.4 s against 2.8 s.
    """
    lookups = lookups_of(package)
    views = _views_of(package, prepared)
    # The views' awards hold every column; a copy, so the columns added below stay off the shared frame.
    own = package.frame("awards") if views is None else views.awards.copy(deep=False)
    with ThreadPoolExecutor(1, thread_name_prefix="aifunding-export") as pool:
        recipients = None
        if views is None:
            organisations = package.frame("organisations")
            recipients = pool.submit(
                recipients_frame, package.frame("award_recipients"), organisations, columns=_FROM_AWARD_VIEW
            )
        sources = pool.submit(award_citations, package, own["id"], lookups, "citations")
        converted = None if fx is None else _round_converted(convert_frame(own[list(CONVERSION_INPUTS)], fx))
        caveats = award_citations(package, own["id"], lookups, "caveat_links")
        if recipients is None:
            frame = own
        else:
            frame = award_view(package, columns=_FROM_AWARD_VIEW, recipients=recipients.result)
        words = _basis_words(own)  # while the sources are made
        texts = sources.result()
    if texts is None or caveats is None:  # a link without a value (an invalid package's): the tuples of ids, joined
        frame = add_citations(award_view(package) if views is None else own, lookups)
    else:
        for name, column in {**texts, **caveats}.items():
            frame[name] = column
    frame["basis_words"] = words
    columns = list(AWARD_COLUMNS)
    if converted is not None:
        for name in FX_COLUMNS:
            frame[name] = converted[name]
        columns += FX_COLUMNS
    return frame[columns].reset_index(drop=True)


def export_market_shares(
    package: Package, fx: FxChoice | None = None, prepared: Prepared | None = None
) -> pd.DataFrame:
    """One row per market share (shares are percentages, so the currency choice does not apply)."""
    frame = add_citations(market_share_view(package), lookups_of(package))
    return frame[MARKET_COLUMNS].reset_index(drop=True)


EXPORTERS: dict[str, Callable[[Package, FxChoice | None, Prepared | None], pd.DataFrame]] = {
    "programmes": export_programmes,
    "awards": export_awards,
    "market_shares": export_market_shares,
}


def export_tables(
    package: Package,
    fx: FxChoice | None = None,
    tables: tuple[str, ...] = EXPORT_TABLES,
    prepared: Prepared | None = None,
    made: Mapping[str, Rows] | None = None,
) -> dict[str, pd.DataFrame]:
    """The tidy tables, neutralised for spreadsheets (those ``made`` already taken out of it)."""
    table = _maker(package, fx, prepared, made)
    return {name: neutralise_frame(_whole(table(name), "xlsx")) for name in tables}


def write_export(
    package: Package,
    fmt: str,
    out: Path,
    fx: FxChoice | None = None,
    tables: tuple[str, ...] = EXPORT_TABLES,
    generated_at: datetime.datetime | None = None,
    prepared: Prepared | None = None,
    made: Mapping[str, Rows] | None = None,
) -> list[Path]:
    """Write the tidy tables in ``fmt`` to ``out`` and return the files written.

    CSV and Parquet write one file per table into the folder ``out`` (or a single file when one
    table is asked for and ``out`` ends in .csv or .parquet, or is a pipe, a device such as /dev/stdout, or a
    file that exists); XLSX writes one workbook with a sheet
    per table and an "about" sheet; JSON writes one object with an "about" block and an array per
    table. Each table is built when its turn comes and written in chunks of rows, so memory stays
    bounded by the largest table, and each file appears only once complete (written beside it
    first, then renamed). Tables ``made`` already (by ``aifunding export`` while the references and package rules
    ran) are taken out of it as their turn comes.

    Raises:
        TooManyRows: for XLSX, when a table is longer than a sheet (before anything is written).
        ValueError: for an unknown format.
    """
    tables = tuple(dict.fromkeys(tables))
    generated_at = generated_at or datetime.datetime.now(datetime.UTC)
    if fmt in PER_TABLE_FORMATS:
        if len(tables) == 1 and (out.suffix.lower() == f".{fmt}" or (out.exists() and not out.is_dir())):
            paths = {tables[0]: out}
            out.parent.mkdir(parents=True, exist_ok=True)
        else:
            if out.exists() and not out.is_dir():  # mkdir said "File exists", which does not say what to do
                why = f"{out} is not a folder, where {fmt.upper()} writes one file per table: name one --table"
                raise NotADirectoryError(errno.ENOTDIR, why + " to write a single file")
            out.mkdir(parents=True, exist_ok=True)
            paths = {name: out / f"{name}.{fmt}" for name in tables}
        about, table = about_rows(package, fx, generated_at), _maker(package, fx, prepared, made)
        for name, path in paths.items():
            with replacing(path) as handle:
                _write_table(handle, fmt, table(name), about)
        return list(paths.values())
    write = _document_writer(package, fmt, fx, tables, generated_at, prepared, made=made)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as handle:
        write(handle)
    return [out]


def export_bytes(
    package: Package,
    fmt: str,
    fx: FxChoice | None = None,
    tables: tuple[str, ...] = EXPORT_TABLES,
    generated_at: datetime.datetime | None = None,
    prepared: Prepared | None = None,
    *,
    note_long_texts: bool = False,
) -> bytes:
    """The XLSX workbook or JSON document of the tidy tables, as bytes (for a download); the same bytes
    :func:`write_export` writes to a file. CSV and Parquet give the file of one table, so ask for one.

    A text too long for a workbook's cell is refused (:class:`~aifunding.outputs.refusals.IncompleteExport`) unless
    ``note_long_texts``: then its cell says so and the "about" sheet names it
    (:func:`~aifunding.outputs.cells.fit_tables`).
    """
    tables = tuple(dict.fromkeys(tables))
    generated_at = generated_at or datetime.datetime.now(datetime.UTC)
    buffer = io.BytesIO()
    if fmt in PER_TABLE_FORMATS:
        if len(tables) != 1:
            raise ValueError(f"{fmt} holds one table per file: ask for one table, or use write_export for a folder")
        _write_table(buffer, fmt, EXPORTERS[tables[0]](package, fx, prepared), about_rows(package, fx, generated_at))
    else:
        _document_writer(package, fmt, fx, tables, generated_at, prepared, note_long_texts)(buffer)
    return buffer.getvalue()


def _write_table(handle: BinaryIO, fmt: str, frame: Rows, about: list[tuple[str, str]]) -> None:
    if fmt == "csv":
        write_csv(handle, frame)  # a CSV has no room for the about block; Parquet keeps it as metadata
    else:
        frame = _whole(frame, fmt)
        write_parquet(handle, frame, about, DECIMAL_SCALES)


def _document_writer(
    package: Package,
    fmt: str,
    fx: FxChoice | None,
    tables: tuple[str, ...],
    generated_at: datetime.datetime,
    prepared: Prepared | None,
    note_long_texts: bool = False,
    made: Mapping[str, Rows] | None = None,
) -> Callable[[BinaryIO], None]:
    """What writes the one-file formats; XLSX builds and checks its tables first, JSON one at a time later."""
    about = about_rows(package, fx, generated_at)
    if fmt == "xlsx":
        frames = export_tables(package, fx, tables, prepared, made)
        check_sheet_rows(frames)
        if note_long_texts:
            about += fit_tables(frames, Translator("en"))
        else:
            check_cell_texts(frames)
        return lambda handle: write_xlsx(handle, about, frames)
    if fmt == "json":
        table = _maker(package, fx, prepared, made)
        return lambda handle: write_json(handle, dict(about), ((name, table(name)) for name in tables))
    raise ValueError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}")


def _whole(rows: Rows, fmt: str) -> pd.DataFrame:
    """A table's rows as one frame: ``fmt`` needs them whole (a Parquet file's types, a workbook's sheet)."""
    if not isinstance(rows, pd.DataFrame):
        raise ValueError(f"{fmt} is written from a table whole, not in pieces: use csv or json")
    return rows


def _maker(
    package: Package, fx: FxChoice | None, prepared: Prepared | None, made: Mapping[str, Rows] | None = None
) -> Callable[[str], Rows]:
    """Each table by name: taken out of ``made`` when it is there (let go of once written), else made now."""
    kept = dict(made) if made is not None else {}

    def table(name: str) -> Rows:
        frame = kept.pop(name, None)
        return EXPORTERS[name](package, fx, prepared) if frame is None else frame

    return table
