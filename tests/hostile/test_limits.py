"""Every limit of :class:`aifunding.data.limits.Limits` is enforced with a clear problem, and each is configurable."""

from __future__ import annotations

from pathlib import Path

import pytest

from aifunding.data.limits import Limits, LimitsError
from aifunding.loading.package import PackageReadError, load_package

from packages import minimal_tables, write_package


def rules(folder: Path, limits: Limits) -> dict[str, str]:
    return {p.rule: p.message for p in load_package(folder, limits).report.errors}


@pytest.mark.parametrize(
    ("limits", "rule", "message"),
    [
        (Limits(rows=1), "too-many-rows", "the file has more than 1 rows, the limit for one table"),
        (Limits(columns=5), "too-many-columns", "more than the limit of 5"),
        (Limits(cell_chars=5), "cell-too-long", "more than the limit of 5"),
        (Limits(file_bytes=200), "file-too-large", "is larger than the 200 bytes limit and was not read"),
        (Limits(package_bytes=1024), "package-too-large", "the package's files add up to more than the 1 KB limit"),
    ],
)
def test_each_limit_is_a_problem_with_its_figure(minimal: Path, limits: Limits, rule: str, message: str) -> None:
    found = rules(minimal, limits)
    assert rule in found and message in found[rule]


def test_nesting_deeper_than_the_limit_is_quarantined(tmp_path: Path) -> None:
    tables = minimal_tables()
    programme = tables["programmes"][0]
    tables["programmes"] = [
        {**programme, "id": "frame", "level": "budget_frame", "amount": "", "currency": "", "basis": ""},
        {**programme, "parent_id": "frame"},
    ]
    tables["citations"].append({"source_id": "src-a", "programme_id": "frame"})
    folder = write_package(tmp_path, tables)
    assert load_package(folder, Limits(nesting=2)).report.valid
    report = load_package(folder, Limits(nesting=1)).report
    [nesting] = [p for p in report.errors if p.rule == "nesting"]
    assert nesting.message.startswith("programme 'round-1' sits 2 levels deep; at most 1 levels")
    # Its awards follow it into quarantine, each naming the cause, and are counted in one problem.
    reasons = [q.reasons for q in report.quarantined if q.table == "awards"]
    assert reasons == [("programme_id: programme 'round-1' was quarantined: parent_id: programme 'round-1' sits 2 "
                        "levels deep; at most 1 levels of nesting are allowed (frame, programme, round, component is "
                        "4), programmes.csv:3",)] * 2  # fmt: skip
    [awards] = [p for p in report.warnings if p.table == "awards"]
    assert awards.rule == "quarantined-reference" and awards.message.startswith(
        "2 rows of awards.csv refer to rows of programmes.csv that were quarantined "
        "(first: 'round-1', programmes.csv:3)"
    )


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (Limits(descriptor_bytes=100), "datapackage.json is larger than the 100 bytes limit"),
        (Limits(descriptor_depth=2), "datapackage.json is nested too deeply (at most 2 levels)"),
    ],
)
def test_descriptor_limits_make_the_package_unreadable(minimal: Path, limits: Limits, message: str) -> None:
    with pytest.raises(PackageReadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_package(minimal, limits)


def test_limits_come_from_the_environment() -> None:
    limits = Limits.from_env({"AIFUNDING_LIMIT_ROWS": "5_000", "AIFUNDING_LIMIT_FILE_BYTES": " 2048 "})
    assert limits.rows == 5000 and limits.file_bytes == 2048 and limits.columns == Limits().columns
    with pytest.raises(LimitsError, match="AIFUNDING_LIMIT_NESTING=0 must be at least 1"):
        Limits.from_env({"AIFUNDING_LIMIT_NESTING": "0"})
