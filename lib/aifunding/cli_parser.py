"""The ``aifunding`` command's options: what each command takes, as ``aifunding <command> --help`` shows it."""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from aifunding import BUNDLED_DATA
from aifunding.analysis.conversion import ANNOUNCEMENT
from aifunding.data.schema import DESCRIPTOR_NAME
from aifunding.i18n import LANGUAGES
from aifunding.outputs.export import EXPORT_TABLES, FORMATS

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as argparse does, but without the usage dump
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", re.IGNORECASE)


def memory_size(text: str) -> int:
    """A size of memory as people write it: ``2GB``, ``1.5GB``, ``500MB``, ``64KB`` (1024s), or bytes."""
    match = _SIZE.fullmatch(text)
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()]) if match else 0
    if size < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size of memory (2GB, 500MB, 64KB or bytes)")
    return size


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aifunding", description="Validated, source-cited government AI funding data.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser("validate", help="check a data package and list every problem")
    validate.add_argument(
        "path", nargs="*", default=[str(BUNDLED_DATA)], help=f"{INPUT_HELP} (default: the bundled data/)"
    )
    validate.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    validate.add_argument(
        "--memory",
        type=memory_size,
        metavar="SIZE",
        help="validate within about SIZE of memory (2GB, 500MB): a package that needs more in memory (about three "
        "times its CSV) is read a piece at a time and checked by DuckDB, which spills to a temporary folder",
    )
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
        "--memory",
        type=memory_size,
        metavar="SIZE",
        help="export within about SIZE of memory (2GB): a package that needs more is validated in pieces (as "
        "validate --memory) and its awards written a piece at a time; csv and json only",
    )
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
