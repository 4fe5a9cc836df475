"""Every limit of :class:`aifunding.data.limits.Limits` is enforced with a clear problem, and each is configurable."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from aifunding.data.limits import Limits, LimitsError
from aifunding.data.report import ValidationReport
from aifunding.loading import resources
from aifunding.loading.package import PackageReadError, load_package
from aifunding.loading.resources import resource_files

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


def test_files_are_read_two_at_a_time_within_the_package_limit(minimal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two at a time, then taken in order: the first two reads wait for each other (they would wait in vain, and
    # fail, were they one after the other). Past the limit, one by one in order, each let go of once refused.
    started: list[str] = []
    both = threading.Barrier(2, timeout=30)
    real = resources.read_inside

    def reading(root: Path, rel: str, max_bytes: int) -> bytes:
        started.append(rel)
        if len(started) <= 2:
            both.wait()
        return real(root, rel, max_bytes)

    monkeypatch.setattr(resources, "read_inside", reading)
    together = load_package(minimal, Limits())
    assert together.report.valid and len(started) == len(list(minimal.glob("*.csv")))
    started.clear()
    both.reset()
    monkeypatch.setattr(resources, "read_inside", lambda *args: started.append(args[1]) or real(*args))
    alone = load_package(minimal, Limits(package_bytes=1024))
    files = resource_files(json.loads((minimal / "datapackage.json").read_text("utf-8")), ValidationReport())
    assert started == list(files.values())  # one by one, in the descriptor's order
    refused = [p.table for p in alone.report.errors if p.rule == "package-too-large"]
    assert refused and refused == [name for name in files if name in refused]
