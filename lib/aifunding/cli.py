"""The ``aifunding`` command: validate a package, export tidy tables or the package workbook, write its template.

Exit codes: 0 success (warnings allowed), 1 the package has errors or the schema drifted,
2 the input cannot be read or the usage is wrong (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from aifunding import BUNDLED_DATA
from aifunding.analysis.cached_views import kept_views
from aifunding.analysis.conversion import ANNOUNCEMENT, FxChoice
from aifunding.data.limits import LimitsError
from aifunding.data.models import check_partial_date
from aifunding.data.report import ValidationReport
from aifunding.data.schema import DESCRIPTOR_NAME, check_descriptor, render_descriptor
from aifunding.i18n import LANGUAGES
from aifunding.loading.cache import PackageCache
from aifunding.loading.intake import UploadRefused, load_inputs
from aifunding.loading.package import Package, PackageReadError
from aifunding.money.fx import ConversionError, rate_at, supported_currencies
from aifunding.outputs.export import EXPORT_TABLES, FORMATS, IncompleteExport, check_exportable, write_export
from aifunding.outputs.files import replacing
from aifunding.store.base import StoreSettingError

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2

# The text report of ``validate`` shows this many problems of each rule, then counts the rest.
SHOWN_PER_RULE = 5


ALLOW_INVALID_HELP = (
    "write the valid rows of a package that has errors (the output says which rows were left out); "
    "a table whose file could not be read is never written"
)


INPUT_HELP = (
    "a package folder or its datapackage.json, a .zip of a package, an .xlsx workbook (one sheet per table), "
    "or CSV files named after their tables"
)
DATA_OPTION: dict[str, Any] = {
    "nargs": "+",
    "default": [str(BUNDLED_DATA)],
    "metavar": "PATH",
    "help": f"{INPUT_HELP} (default: the bundled data/)",
}


class UsageError(Exception):
    """A wrong option value: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as argparse does, but without the usage dump
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aifunding", description="Validated, source-cited government AI funding data.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser("validate", help="check a data package and list every problem")
    validate.add_argument(
        "path", nargs="*", default=[str(BUNDLED_DATA)], help=f"{INPUT_HELP} (default: the bundled data/)"
    )
    validate.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    validate.add_argument(
        "--all",
        action="store_true",
        help=f"list every problem (by default the text report shows the first {SHOWN_PER_RULE} of each rule "
        "and counts the rest; JSON always holds every one)",
    )

    export = commands.add_parser(
        "export",
        help="write tidy tables of programmes, awards and market shares (or, with --package, the package workbook)",
    )
    export.add_argument("--data", **DATA_OPTION)
    export.add_argument("--currency", help="convert amounts to this ISO 4217 currency (ECB reference rates)")
    export.add_argument(
        "--fx-date",
        default=ANNOUNCEMENT,
        help="'announcement' (rate on each announcement date, the default) or one date YYYY-MM-DD",
    )
    export.add_argument(
        "--format",
        choices=FORMATS,
        required=True,
        help="output format; xlsx refuses a table longer than a sheet (1,048,575 rows): use csv or parquet",
    )
    export.add_argument(
        "--table",
        choices=EXPORT_TABLES,
        action="extend",
        nargs="+",
        help="export only these tables (repeatable); default: all three",
    )
    export.add_argument(
        "-o",
        "--output",
        required=True,
        help="output: a folder for csv and parquet (or a .csv or .parquet file with one --table), "
        "a file for xlsx and json",
    )
    export.add_argument("--allow-invalid", action="store_true", help=ALLOW_INVALID_HELP)
    export.add_argument(
        "--package",
        action="store_true",
        help="with --format xlsx: write the package's own tables instead, one sheet each, as a workbook that "
        "reads back exactly (edit it and upload it again)",
    )

    template = commands.add_parser(
        "template", help="write an empty package workbook: every table's sheet and header, notes and dropdowns"
    )
    template.add_argument("-o", "--output", required=True, help="the .xlsx file to write")

    report = commands.add_parser("report", help="write a self-contained HTML snapshot of the whole package")
    report.add_argument("--data", **DATA_OPTION)
    report.add_argument("--lang", choices=LANGUAGES, default="en", help="language of dates and labels")
    report.add_argument("--currency", help="convert amounts to this ISO 4217 currency (ECB reference rates)")
    report.add_argument(
        "--fx-date",
        default=ANNOUNCEMENT,
        help="'announcement' (rate on each announcement date, the default) or one date YYYY-MM-DD",
    )
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument("--allow-invalid", action="store_true", help=ALLOW_INVALID_HELP)

    summary = commands.add_parser(
        "summary", help="print the headline figures the Overview shows: highlights and totals, with what each adds"
    )
    summary.add_argument("--data", **DATA_OPTION)
    summary.add_argument(
        "--currency", help="add every figure converted to this ISO 4217 currency (announcement-date ECB rates)"
    )
    summary.add_argument("--lang", choices=LANGUAGES, default="en", help="language of figures and reasons")
    summary.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    summary.add_argument("--allow-invalid", action="store_true", help=ALLOW_INVALID_HELP)

    query = commands.add_parser(
        "query",
        help="totals per recipient, programme allocations or market shares, as queries on DuckDB or Spark",
    )
    query.add_argument(
        "what",
        choices=("recipients", "programmes", "markets"),
        help="recipients: each recipient's total of the awards kept; programmes: each programme's allocation "
        "(every award under it); markets: the market shares",
    )
    query.add_argument("--data", **DATA_OPTION)
    query.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        help="where the queries run (default: AIFUNDING_ENGINE, else duckdb, embedded); spark needs PySpark "
        "and Java, and runs in local mode unless AIFUNDING_SPARK_MASTER names a cluster",
    )
    query.add_argument(
        "--country", action="extend", nargs="+", default=[], metavar="CC", help="keep these countries (repeatable)"
    )
    query.add_argument("--kind", action="extend", nargs="+", default=[], help="keep these kinds of support")
    query.add_argument("--from", dest="date_from", help="keep awards announced on or after YYYY-MM-DD")
    query.add_argument("--to", dest="date_to", help="keep awards announced on or before YYYY-MM-DD")
    query.add_argument("--currency", help="convert amounts to this ISO 4217 currency (ECB reference rates)")
    query.add_argument(
        "--fx-date",
        default=ANNOUNCEMENT,
        help="'announcement' (rate on each announcement date, the default) or one date YYYY-MM-DD",
    )
    query.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
    query.add_argument("-o", "--output", help="the file to write (default: standard output)")
    query.add_argument("--allow-invalid", action="store_true", help=ALLOW_INVALID_HELP)

    schema = commands.add_parser("schema", help="print the datapackage.json generated from the models")
    schema.add_argument("--check", action="store_true", help="fail if the committed datapackage.json has drifted")
    schema.add_argument("--write", metavar="PATH", help="write the descriptor to PATH instead of printing it")
    schema.add_argument(
        "--path",
        default=str(BUNDLED_DATA / DESCRIPTOR_NAME),
        help="descriptor to check (default: the bundled data/datapackage.json)",
    )
    return parser


def cmd_validate(args: argparse.Namespace) -> int:
    with load_inputs(args.path) as loaded:
        report = loaded.package.report
        if args.format == "json":
            result = report.as_dict()
            if loaded.unpacked:
                result["upload"] = loaded.unpacked.as_dict()
            print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        else:
            for line in loaded.unpacked.lines() if loaded.unpacked else ():
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
def _load_for_output(paths: Sequence[str], allow_invalid: bool, made: str = "an export") -> Iterator[Package]:
    """The package, or :class:`IncompleteExport` when it has errors (unless allowed) or an unread table.

    What was done to an upload to read it (a file converted to UTF-8, say) is said on stderr first. A
    package folder validated before (by the dashboard or an earlier command) is read back from the cache
    of validated packages (``AIFUNDING_CACHE``; ``off`` validates every time); ``validate`` always
    validates.
    """
    with load_inputs(paths, PackageCache.from_env()) as loaded:
        for line in loaded.unpacked.lines() if loaded.unpacked else ():
            print(line, file=sys.stderr)
        package = loaded.package
        check_exportable(package, allow_invalid, made)
        if not package.report.valid:
            print(f"warning: writing the valid rows only; {package.report.summary()}", file=sys.stderr)
        yield package


def _wrote(path: Path) -> None:
    """Say what was written: on standard error when it was a pipe or a device (``-o /dev/stdout``), not in it."""
    print(f"wrote {path}", file=sys.stdout if path.is_file() else sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    if args.package:
        return _export_package(args)
    fx = parse_fx(args.currency, args.fx_date)
    tables = tuple(dict.fromkeys(args.table)) if args.table else EXPORT_TABLES
    with _load_for_output(args.data, args.allow_invalid) as package:
        # The views a dashboard prepared for this package, when the cache holds them: not joined again
        # (read only for the tables made from them).
        joined = {"awards", "programmes"} & set(tables)
        prepared = kept_views(package, PackageCache.from_env()) if joined else None
        for path in write_export(package, args.format, Path(args.output), fx, tables, prepared=prepared):
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
    from aifunding.analysis.view import ViewState, prepare
    from aifunding.outputs.snapshot import build_report

    fx = parse_fx(args.currency, args.fx_date)
    state = ViewState(lang=args.lang, currency=fx.currency if fx else None, fx_at=fx.at if fx else ANNOUNCEMENT)
    out = Path(args.output)
    with _load_for_output(args.data, args.allow_invalid, "the report") as package:
        html = build_report(kept_views(package, PackageCache.from_env()) or prepare(package), state)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    _wrote(out)
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from aifunding.analysis.view import ViewState, apply_view, prepare
    from aifunding.outputs.summary import headline

    fx = parse_fx(args.currency, ANNOUNCEMENT)
    with _load_for_output(args.data, args.allow_invalid, "the summary") as package:
        prepared = kept_views(package, PackageCache.from_env()) or prepare(package)
    state = ViewState(lang=args.lang, currency=fx.currency if fx else None)
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
    except (PackageReadError, UsageError, LimitsError, UploadRefused, StoreSettingError) as exc:
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
