"""Real registers, reshaped into the package: what they are full of is taken in as it is, or named clearly.

A prefectural subsidy register has thousands of approvals, blank cells where a column has a default,
bodies that are not companies, general subsidies, Japanese where English is asked for, and the same
recipient or programme under two ids. Each case is validated by row and by column
(:func:`test_columnar_package.same`), which must agree.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from test_columnar_package import same

from aifunding.data.tables import TABLES, TABLES_BY_NAME
from aifunding.data.vocabulary import BOOLEAN_TEXT
from aifunding.loading.package import Package

from packages import minimal_tables, write_package, write_texts

Tables = dict[str, list[dict[str, str]]]


def validated(folder: Path) -> Package:
    """``folder`` validated both ways (which agree), as the column path loads it."""
    package = same(folder)
    assert package is not None
    return package


# --- 1. A blank cell where the model has a default takes the default ---------------------------------------

# Every field whose model gives it a default other than "nothing": (table, column, the default as a frame holds it).
DEFAULTED = [
    (table.name, name, info.default.value if hasattr(info.default, "value") else info.default)
    for table in TABLES
    for name, info in table.model.model_fields.items()
    if not info.is_required() and info.default is not None
]


def test_the_defaulted_fields_are_the_ones_the_readme_names() -> None:
    assert [(table, column) for table, column, _ in DEFAULTED] == [
        ("programmes", "status"),
        ("market_shares", "rank_inferred"),
        ("caveats", "kind"),
    ]


def _without_column(rows: list[dict[str, str]], name: str, column: str) -> str:
    """The CSV text of ``rows`` of table ``name`` with ``column`` left out of the header and every row."""
    columns = [c for c in TABLES_BY_NAME[name].columns if c != column]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
    return out.getvalue()


# What a blank cell may hold: nothing, spaces, an ideographic space (as Japanese spreadsheets type), a tab.
BLANKS = ["", "   ", "\u3000", "\t", " \u3000 "]


@pytest.mark.parametrize(("table", "column", "default"), DEFAULTED)
@pytest.mark.parametrize("blank", BLANKS)
def test_a_blank_cell_takes_the_default(tmp_path: Path, table: str, column: str, default: Any, blank: str) -> None:
    tables = minimal_tables()
    tables[table][0][column] = blank
    package = validated(write_package(tmp_path, tables))
    assert package.report.problems == []
    assert package.frame(table)[column].iloc[0] == default


@pytest.mark.parametrize(("table", "column", "default"), DEFAULTED)
def test_a_column_left_out_takes_the_default_with_a_warning(
    tmp_path: Path, table: str, column: str, default: Any
) -> None:
    tables = minimal_tables()
    folder = write_package(tmp_path, tables)
    write_texts(folder, {table: _without_column(tables[table], table, column)})
    package = validated(folder)
    assert [(p.severity, p.rule, p.field) for p in package.report.problems] == [("warning", "missing-column", column)]
    assert (
        package.report.problems[0].message == f"the optional column '{column}' is missing, so it is empty in every row"
    )
    assert set(package.frame(table)[column]) == {default}


def test_a_blank_default_is_the_default_not_a_guess_from_other_rows(tmp_path: Path) -> None:
    # A shelved programme beside one with a blank status: the blank one is active, not shelved.
    tables = minimal_tables()
    tables["programmes"].append({**tables["programmes"][0], "id": "round-2", "status": "shelved"})
    tables["citations"].append({"source_id": "src-a", "programme_id": "round-2"})
    tables["programmes"][0]["status"] = " "
    tables["market_shares"][1]["rank_inferred"] = BOOLEAN_TEXT[False]
    package = validated(write_package(tmp_path, tables))
    assert package.report.problems == []
    assert package.frame("programmes").set_index("id")["status"].to_dict() == {
        "round-1": "active",
        "round-2": "shelved",
    }
