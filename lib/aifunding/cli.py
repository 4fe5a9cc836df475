"""The ``aifunding`` command: validate a package, export tidy tables or the package workbook, write its template.

Exit codes: 0 success (warnings allowed), 1 the package has errors or the schema drifted,
2 the input cannot be read or the usage is wrong (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from aifunding.analysis.cached_views import kept_views
from aifunding.analysis.conversion import ANNOUNCEMENT, FxChoice
from aifunding.analysis.view import Prepared, ViewState, apply_view, prepare
from aifunding.cli_parser import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SHOWN_PER_RULE, build_parser
from aifunding.data.limits import LimitsError, describe_bytes
from aifunding.data.models import check_partial_date
from aifunding.data.report import ValidationReport
from aifunding.data.schema import DESCRIPTOR_NAME, check_descriptor, render_descriptor
from aifunding.loading.cache import PackageCache
from aifunding.loading.intake import Unpacked, UploadRefused, load_inputs
from aifunding.loading.package import MadeMeanwhile, Meanwhile, Package, PackageReadError
from aifunding.loading.spilling import Bounded, TooLittleMemory, validate_within, validated_within
from aifunding.money.fx import ConversionError, rate_at, supported_currencies
from aifunding.outputs.export import EXPORT_TABLES, EXPORTERS, write_export
from aifunding.outputs.files import replacing
from aifunding.outputs.pieces import PIECE_FORMATS, awards_per_piece, write_export_in_pieces
from aifunding.outputs.refusals import IncompleteExport, check_exportable
from aifunding.store.base import StoreSettingError


class UsageError(Exception):
    """A wrong option value: reported in one line, exit 2."""


def cmd_validate(args: argparse.Namespace) -> int:
    if args.memory is not None:
        return _print_report(args, _validated_within(args.path, args.memory), None)
    with load_inputs(args.path) as loaded:
        return _print_report(args, loaded.package.report, loaded.unpacked)


def _validated_within(paths: list[str], memory: int) -> ValidationReport:
    """The report of one package folder validated within ``memory`` bytes; how it was validated, on stderr."""
    bounded = validate_within(_one_folder(paths), memory)
    _say_how(bounded, memory, "validate")
    return bounded.report


def _one_folder(paths: Sequence[str]) -> str:
    if len(paths) != 1 or not (Path(paths[0]).is_dir() or Path(paths[0]).name == DESCRIPTOR_NAME):
        raise UsageError("--memory takes one package folder (or its datapackage.json), not archives or files")
    return paths[0]


def _say_how(bounded: Bounded, memory: int, command: str) -> None:
    """On standard error: how a package given ``memory`` was validated."""
    if bounded.spilled:
        how = f"validated in pieces within {describe_bytes(memory)}, DuckDB spilling to a temporary folder"
    elif bounded.why:
        how = f"validated in memory, which follows the data: {bounded.why}"
    else:
        how = f"validated in memory: the package fits within {describe_bytes(memory)}"
    print(f"aifunding {command}: {how}", file=sys.stderr)


def _print_report(args: argparse.Namespace, report: ValidationReport, unpacked: Unpacked | None) -> int:
    if args.format == "json":
        result = report.as_dict()
        if unpacked:
            result["upload"] = unpacked.as_dict()
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        for line in unpacked.lines() if unpacked else ():
            print(line)
        for line in problem_lines(report, None if args.all else SHOWN_PER_RULE):
            print(line)
        print(report.summary())
    return EXIT_OK if report.valid else EXIT_INVALID


def problem_lines(report: ValidationReport, per_rule: int | None = SHOWN_PER_RULE) -> Iterator[str]:
    """The report's problems in order, at most ``per_rule`` of each rule (None: all).

    Right after the last one shown of a rule that has more, one line counts the rest.
    """
    totals = {rule: len(problems) for rule, problems in report.by_rule().items()}
    seen: Counter[str] = Counter()
    for problem in report.problems:
        seen[problem.rule] += 1
        if per_rule is not None and seen[problem.rule] > per_rule:
            continue
        yield problem.as_text()
        rest = totals[problem.rule] - seen[problem.rule]
        if per_rule is not None and seen[problem.rule] == per_rule and rest:
            noun = "problem" if rest == 1 else "problems"
            yield f"... and {rest:,} more '{problem.rule}' {noun}; --all lists every one"


def parse_fx(currency: str | None, fx_date: str) -> FxChoice | None:
    """Check the conversion options; a bad currency or date is a usage error."""
    if currency is None:
        if fx_date != ANNOUNCEMENT:
            raise UsageError("--fx-date needs --currency")
        return None
    currency = currency.upper()
    if currency not in supported_currencies():
        raise UsageError(
            f"currency '{currency}' is not in the ECB reference rates; supported: " + ", ".join(supported_currencies())
        )
    if fx_date != ANNOUNCEMENT:
        try:
            check_partial_date(fx_date)
            rate_at("EUR", currency, fx_date)
        except (ValueError, ConversionError) as exc:
            raise UsageError(f"--fx-date {fx_date}: {exc}") from None
    return FxChoice(currency=currency, at=fx_date)


@contextmanager
def _load_for_output(
    paths: Sequence[str], allow_invalid: bool, made: str = "an export", meanwhile: Meanwhile | None = None
) -> Iterator[Package]:
    """The package, or :class:`IncompleteExport` when it has errors (unless allowed) or an unread table.

    What was done to an upload to read it (a file converted to UTF-8, say) is said on stderr first. A
    package folder validated before (by the dashboard or an earlier command) is read back from the cache
    of validated packages (``AIFUNDING_CACHE``; ``off`` validates every time); ``validate`` always
    validates.
    """
    with load_inputs(paths, PackageCache.from_env(), meanwhile) as loaded:
        for line in loaded.unpacked.lines() if loaded.unpacked else ():
            print(line, file=sys.stderr)
        package = loaded.package
        check_exportable(package, allow_invalid, made)
        if not package.report.valid:
            print(f"warning: writing the valid rows only; {package.report.summary()}", file=sys.stderr)
        yield package


@contextmanager
def _views_for_output(paths: Sequence[str], allow_invalid: bool, made: str) -> Iterator[Prepared]:
    """The prepared views of :func:`_load_for_output`'s package: those the cache keeps, else prepared (while its
    references and package rules run, when the package is validated here, unless what was found before refuses it)."""

    def views(package: Package) -> Prepared | None:
        with contextlib.suppress(IncompleteExport):
            check_exportable(package, allow_invalid, made)
            return prepare(package)
        return None

    early = MadeMeanwhile(views)
    with _load_for_output(paths, allow_invalid, made, early) as package:
        yield early.of(package) or kept_views(package, PackageCache.from_env()) or prepare(package)


def _wrote(path: Path) -> None:
    """Say what was written: on standard error when it was a pipe or a device (``-o /dev/stdout``), not in it."""
    print(f"wrote {path}", file=sys.stdout if path.is_file() else sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    if args.package:
        if args.memory is not None:
            raise UsageError("--package writes the package's own tables whole: leave out --memory")
        return _export_package(args)
    fx = parse_fx(args.currency, args.fx_date)
    tables = tuple(dict.fromkeys(args.table)) if args.table else EXPORT_TABLES
    if args.memory is not None:
        return _export_within(args, fx, tables)

    def tables_of(package: Package) -> dict[str, pd.DataFrame] | None:
        # A package validated here has its tables made while its references and package rules run (mostly Arrow's
        # work). Not when what was found before refuses it already.
        with contextlib.suppress(IncompleteExport):
            check_exportable(package, args.allow_invalid)
            return {name: EXPORTERS[name](package, fx, None) for name in tables}
        return None

    early = MadeMeanwhile(tables_of)
    with _load_for_output(args.data, args.allow_invalid, meanwhile=early) as package:
        made = early.of(package) or {}
        # The views a dashboard prepared for this package, when the cache holds them: not joined again
        # (read only for the tables made from them).
        joined = {"awards", "programmes"} & set(tables) - set(made)
        prepared = kept_views(package, PackageCache.from_env()) if joined else None
        for path in write_export(package, args.format, Path(args.output), fx, tables, prepared=prepared, made=made):
            _wrote(path)
    return EXIT_OK


def _export_within(args: argparse.Namespace, fx: FxChoice | None, tables: tuple[str, ...]) -> int:
    """``export --memory``: validated within the memory given, in pieces when the package needs more, and its awards
    then written a piece at a time (:mod:`aifunding.outputs.pieces`)."""
    if args.format not in PIECE_FORMATS:
        raise UsageError(
            f"--memory writes {' or '.join(PIECE_FORMATS)}, a piece of awards at a time ({args.format} is written from "
            "a table whole)"
        )
    with validated_within(_one_folder(args.data), args.memory) as within:
        _say_how(within.bounded, args.memory, "export")
        if within.pieces is None:
            package = within.package
        else:
            pieces = within.pieces
            package = Package(pieces.root, pieces.descriptor, {}, pieces.report)
        assert package is not None
        check_exportable(package, args.allow_invalid)
        if not package.report.valid:
            print(f"warning: writing the valid rows only; {package.report.summary()}", file=sys.stderr)
        out = Path(args.output)
        if within.pieces is None:
            written = write_export(package, args.format, out, fx, tables)
        else:
            per_piece = awards_per_piece(args.memory)
            written = write_export_in_pieces(within.pieces, args.format, out, fx, tables, awards_per_piece=per_piece)
        for path in written:
            _wrote(path)
    return EXIT_OK


def _export_package(args: argparse.Namespace) -> int:
    """``export --package``: the package workbook (:mod:`aifunding.outputs.workbook`)."""
    from aifunding.outputs.workbook import write_package_workbook

    if args.format != "xlsx":
        raise UsageError("--package writes an XLSX workbook: use it with --format xlsx")
    if args.currency or args.table or args.fx_date != ANNOUNCEMENT:
        raise UsageError(
            "--package writes the package's own tables as they are: leave out --table, --currency and --fx-date"
        )
    with _load_for_output(args.data, args.allow_invalid) as package:
        return _write_file(args.output, lambda handle: write_package_workbook(handle, package))


def cmd_template(args: argparse.Namespace) -> int:
    from aifunding.outputs.workbook import write_template

    return _write_file(args.output, write_template)


def _write_file(output: str, write: Callable[[BinaryIO], None]) -> int:
    """Write one file with ``write``; it appears at ``output`` only when complete."""
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as handle:
        write(handle)
    _wrote(out)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from aifunding.outputs.snapshot import build_report

    fx = parse_fx(args.currency, args.fx_date)
    state = ViewState(lang=args.lang, currency=fx.currency if fx else None, fx_at=fx.at if fx else ANNOUNCEMENT)
    out = Path(args.output)
    with _views_for_output(args.data, args.allow_invalid, "the report") as prepared:
        html = build_report(prepared, state)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    _wrote(out)
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from aifunding.outputs.summary import headline

    fx = parse_fx(args.currency, ANNOUNCEMENT)
    state = ViewState(lang=args.lang, currency=fx.currency if fx else None)
    with _views_for_output(args.data, args.allow_invalid, "the summary") as prepared:
        result = headline(prepared, apply_view(prepared, state))
    if args.format == "json":
        print(json.dumps(result.as_dict(args.lang), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(result.as_text(args.lang))
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    from aifunding.analysis.engine import engine_name
    from aifunding.outputs.query import Query, QueryError, about, run_query, write_query

    fx = parse_fx(args.currency, args.fx_date)
    query = Query(
        args.what,
        tuple(code.upper() for code in args.country),
        tuple(args.kind),
        _day(args.date_from, "--from"),
        _day(args.date_to, "--to"),
        fx,
    )
    try:
        query.check()
        engine_used = engine_name(args.engine)
    except (QueryError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    with _load_for_output(args.data, args.allow_invalid, "the query's answer") as package:
        try:
            frame = run_query(package, query, engine_used)
        except QueryError as exc:  # a filter the package has nothing of (--country XX)
            raise UsageError(str(exc)) from None
        about_block = about(package, query, engine_used)
    if args.output is None:
        write_query(sys.stdout.buffer, args.format, frame, about_block, args.what)
        sys.stdout.flush()
        return EXIT_OK
    return _write_file(args.output, lambda handle: write_query(handle, args.format, frame, about_block, args.what))


def _day(text: str | None, option: str) -> datetime.date | None:
    """A whole date given to ``option``, or a usage error that names it."""
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text}: not a date (YYYY-MM-DD)") from None


def cmd_schema(args: argparse.Namespace) -> int:
    if args.check:
        differences = check_descriptor(Path(args.path))
        for line in differences:
            print(line)
        if differences:
            print(f"{args.path} has drifted from the models; regenerate it with `make schema`")
            return EXIT_INVALID
        print(f"{args.path} matches the models")
        return EXIT_OK
    text = render_descriptor()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
        _wrote(Path(args.write))
    else:
        sys.stdout.write(text)
    return EXIT_OK


COMMANDS = {
    "validate": cmd_validate,
    "export": cmd_export,
    "template": cmd_template,
    "report": cmd_report,
    "summary": cmd_summary,
    "query": cmd_query,
    "schema": cmd_schema,
}


def _refused_json(args: argparse.Namespace, message: str) -> None:
    """``validate --format json`` answers an input it could not read in JSON too (it printed nothing on stdout)."""
    if args.command == "validate" and args.format == "json":
        print(json.dumps({"valid": False, "refused": message}, ensure_ascii=False, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except IncompleteExport as exc:
        print(f"aifunding {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (PackageReadError, UsageError, LimitsError, UploadRefused, StoreSettingError, TooLittleMemory) as exc:
        print(f"aifunding {args.command}: {exc}", file=sys.stderr)
        _refused_json(args, str(exc))
        return EXIT_UNREADABLE
    except OSError as exc:
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        print(f"aifunding {args.command}: {message}", file=sys.stderr)
        _refused_json(args, message)
        return EXIT_UNREADABLE
    except Exception as exc:
        print(
            f"aifunding {args.command}: could not finish ({type(exc).__name__}: {str(exc)[:200]}); "
            "please report this with the input that caused it",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
