"""Every hostile package's workbook reads back as the same valid rows: no text lost, changed or turned into a formula.

The package workbook (:mod:`aifunding.outputs.workbook`) of each case of the corpus is read back
(:mod:`aifunding.loading.workbook`) and validated again: the rows that were valid come back the same,
whatever their text holds (markup, formulas, control characters, amounts at the edge of the range).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from aifunding.loading.package import PackageReadError, load_package
from aifunding.loading.workbook import workbook_tables
from aifunding.outputs.workbook import write_package_workbook

from corpus import CASES, build
from packages import write_texts


@pytest.mark.parametrize("name", CASES)
def test_the_workbook_of_every_case_reads_back_as_its_valid_rows(name: str, tmp_path: Path) -> None:
    try:
        package = load_package(build(name, tmp_path / "in"))
    except PackageReadError:
        return  # no descriptor to speak of: nothing is loaded, so there is no workbook to write
    buffer = io.BytesIO()
    write_package_workbook(buffer, package)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert not [
        f"{s.title}!{c.coordinate}" for s in book.worksheets for row in s.iter_rows() for c in row if c.data_type == "f"
    ]
    reloaded = load_package(write_texts(tmp_path / "again", workbook_tables(buffer.getvalue(), "case.xlsx")))
    for table, frame in package.frames.items():
        if table not in package.report.unread:
            pd.testing.assert_frame_equal(reloaded.frames[table], frame, obj=table)
