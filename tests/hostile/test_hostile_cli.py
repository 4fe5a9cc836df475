"""Every hostile package through every command: one clear answer, never a traceback, a leak or a runaway.

``validate``, ``export`` in every format (with and without conversion; the package workbook too)
and ``report`` run on each case of the corpus. Whatever the case, the command returns 0, 1
(problems in the data) or 2 (unreadable input), says why in one line when it refuses, and nothing
it prints or writes holds a byte of a file outside the package or the path of the folder it read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aifunding.cli import main
from aifunding.data.tables import TABLES

from corpus import CASES, build

# Text that only the files behind the links hold: none of it may appear in any output.
LEAKS = ("root:x:0", "PATH=", "SECRET")
FILE_LIMIT_CASE = {"awards-over-the-file-limit": {"AIFUNDING_LIMIT_FILE_BYTES": "2000"}}

COMMANDS = {
    "validate": lambda folder, out: ["validate", str(folder), "--format", "json"],
    "export-csv": lambda folder, out: ["export", "--data", str(folder), "--format", "csv", "-o", str(out / "csv")],
    "export-xlsx": lambda folder, out: ["export", "--data", str(folder), "--format", "xlsx", "-o", str(out / "x.xlsx")],
    "export-package": lambda folder, out: [
        "export", "--data", str(folder), "--format", "xlsx", "--package", "--allow-invalid", "-o", str(out / "p.xlsx"),
    ],
    "export-json-usd": lambda folder, out: [
        "export", "--data", str(folder), "--format", "json", "--currency", "USD", "-o", str(out / "x.json"),
    ],
    "report-ja": lambda folder, out: ["report", "--data", str(folder), "--lang", "ja", "-o", str(out / "r.html")],
}  # fmt: skip


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def written_text(out: Path) -> str:
    """Everything the command wrote, as text (XLSX as its XML parts)."""
    import zipfile

    parts = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                parts += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", CASES)
def test_every_case_gets_a_clear_answer(
    name: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in FILE_LIMIT_CASE.get(name, {}).items():
        monkeypatch.setenv(key, value)
    folder = build(name, tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, stderr = run(COMMANDS[command](folder, out), capsys)
    assert code in (0, 1, 2)
    assert "Traceback" not in stderr
    if code:
        # A refusal is one line on stderr that names the command.
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert (lines and lines[-1].startswith(("aifunding ", "warning: "))) or command == "validate", stderr
    everything = stdout + stderr + written_text(out)
    for leak in LEAKS:
        assert leak not in everything, f"{leak!r} from outside the package reached the output"
    if command != "validate":
        # Outputs carry the package's name and title, never the folder they were read from.
        assert str(tmp_path) not in written_text(out)


# --- What each class of case must answer ------------------------------------------------------------


def validate_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code, out, _ = run(["validate", str(folder), "--format", "json"], capsys)
    return code, json.loads(out)


@pytest.mark.parametrize(
    ("name", "table", "why"),
    [
        ("symlink-to-etc-passwd", "caveats", "symbolic link"),
        ("symlink-to-proc-environ", "sources", "symbolic link"),
        ("symlinked-folder", "caveats", "symbolic link ('sub')"),
        ("resource-is-a-folder", "caveats", "is a folder, not a regular file"),
        ("resource-is-a-fifo", "caveats", "is a FIFO (named pipe), not a regular file"),
        ("resource-is-a-device", "caveats", "symbolic link ('dev')"),
    ],
)
def test_only_regular_files_inside_the_package_are_read(
    name: str, table: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = validate_json(build(name, tmp_path), capsys)
    assert code == 1
    [problem] = [p for p in report["errors"] if p["rule"] == "unsafe-file"]
    assert problem["table"] == table and why in problem["message"]
    assert f"the file for the '{table}' table" in problem["message"]
    assert not [q for q in report["quarantined"] if q["table"] == table], "nothing of the file may be echoed"
    assert table in report["unread_tables"]


def test_a_linked_descriptor_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["validate", str(build("descriptor-is-a-symlink", tmp_path))], capsys)
    assert code == 2 and "datapackage.json goes through a symbolic link" in err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("descriptor-nested-100000", "datapackage.json is nested too deeply (at most 32 levels)"),
        ("descriptor-not-an-object", "datapackage.json must hold a JSON object"),
    ],
)
def test_unusable_descriptors_exit_2_in_one_line(
    name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build(name, tmp_path / "in")
    for command in ("validate", "export", "report"):
        args = [command, str(folder)] if command == "validate" else [command, "--data", str(folder), "-o", "x.html"]
        if command == "export":
            args += ["--format", "json"]
        code, _, err = run(args, capsys)
        assert code == 2 and err == f"aifunding {command}: {message}\n"


def test_descriptor_fields_of_the_wrong_type_are_set_aside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build("licenses-is-a-number", tmp_path / "in")
    code, report = validate_json(folder, capsys)
    assert code == 0
    fields = {p["field"]: p["message"] for p in report["warnings"] if p["rule"] == "descriptor-field"}
    assert fields["licenses"] == "'licenses' must be a list; it was ignored"
    assert fields["title"] == "'title' must be text; it was ignored"
    # The appended bad resource comes after one resource per table.
    assert "whose 'name' is text" in fields[f"resources[{len(TABLES)}]"]
    assert run(["export", "--data", str(folder), "--format", "json", "-o", str(tmp_path / "x.json")], capsys)[0] == 0
    about = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))["about"]
    # No usable title: the package's own name stands in, never a path.
    assert about["licence"] == "" and about["title"] == about["package"] == "ai-funding"


def test_a_resource_named_by_a_list_is_reported_not_crashed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = validate_json(build("resource-name-is-a-list", tmp_path), capsys)
    assert code == 1
    assert any(p["field"] == "resources[0]" for p in report["warnings"])
    assert any(p["rule"] == "missing-table" and p["table"] == "countries" for p in report["errors"])


@pytest.mark.parametrize("name", ["random-bytes-programmes", "shift-jis-programmes", "awards-table-missing"])
def test_a_table_that_could_not_be_read_is_never_exported_as_empty(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build(name, tmp_path / "in")
    for extra in ([], ["--allow-invalid"]):
        target = tmp_path / "x.json"
        code, _, err = run(["export", "--data", str(folder), "--format", "json", "-o", str(target), *extra], capsys)
        assert code == 1 and "could not be read, so an export would show them as empty" in err
        assert not target.exists()
        code, _, err = run(["report", "--data", str(folder), "-o", str(tmp_path / "r.html"), *extra], capsys)
        assert code == 1 and "could not be read, so the report would show them as empty" in err  # not "an export"
        code, _, err = run(["summary", "--data", str(folder), *extra], capsys)
        assert code == 1 and "could not be read, so the summary would show them as empty" in err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("amount-1e400", "1e400 is too large: it must be below 1,000,000,000,000,000,000"),
        ("amount-1e10000000", "1e10000000 is too large: it must be below 1,000,000,000,000,000,000"),
        ("amount-40-digits", "is too large: it must be below 1,000,000,000,000,000,000"),
        ("amount-tiny-fraction", "has 999999 decimal places; at most 4 are allowed"),
        ("amount-nan", "'NaN' is not a finite number"),
    ],
)
def test_amounts_outside_the_range_are_refused_where_they_are(
    name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = validate_json(build(name, tmp_path), capsys)
    assert code == 1
    [problem] = [p for p in report["errors"] if p["table"] == "programmes" and p["field"] == "amount"]
    assert (problem["file"], problem["line"]) == ("programmes.csv", 2)
    assert message in problem["message"]


def test_the_largest_amounts_pass_through_every_output_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build("amount-largest-allowed", tmp_path / "in")
    assert validate_json(folder, capsys)[0] == 0
    target = tmp_path / "x.json"
    args = ["export", "--data", str(folder), "--format", "json", "--currency", "USD", "-o", str(target)]
    assert run(args, capsys)[0] == 0
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert payload["programmes"][0]["amount"] == "999999999999999999"
    assert payload["awards"][0]["amount"] == "99999999999999.9999"
    assert payload["programmes"][0]["amount_converted"] and payload["programmes"][0]["fx_note"] is None
    assert run(["report", "--data", str(folder), "--currency", "KRW", "-o", str(tmp_path / "r.html")], capsys)[0] == 0


def test_a_follow_on_is_counted_once_and_each_row_names_its_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = validate_json(build("quarantined-award-cascades", tmp_path), capsys)
    assert code == 1
    assert [p["table"] for p in report["errors"]] == ["awards"]  # one error: the bad row's own
    [follow_on] = [p for p in report["warnings"] if p["table"] == "award_recipients"]
    assert (follow_on["rule"], follow_on["file"], follow_on["line"], follow_on["field"], follow_on["value"]) == (
        "quarantined-reference",
        "award_recipients.csv",
        2,
        "award_id",
        None,
    )
    assert follow_on["message"] == (
        "1 row of award_recipients.csv refers to a row of awards.csv that was quarantined ('award-a', "
        "awards.csv:2), so it was quarantined too; it is listed with its reason among the quarantined rows"
    )
    cause = (
        "award 'award-a' was quarantined: amount: must be more than zero; record a reduction or repayment by "
        "lowering the amount it reduces to the net figure, and say so in the note, awards.csv:2"
    )
    # The JSON lists each row left out, with its reason: the recipient, and the citation of the award.
    [recipient] = [q for q in report["quarantined"] if q["table"] == "award_recipients"]
    assert recipient["reasons"] == [f"award_id: {cause}"] and recipient["row"]["award_id"] == "award-a"
    citation = next(q for q in report["quarantined"] if q["table"] == "citations")
    assert cause in citation["reasons"][0]
    assert [p["rule"] for p in report["errors"]] == ["row:greater_than"]
    # The five folds, and the caveat whose only link was left out with the award (a package rule sees it unattached).
    assert [p["rule"] for p in report["warnings"]] == ["quarantined-reference"] * 5 + ["caveat-unattached"]


def test_export_of_a_package_with_errors_needs_allow_invalid_and_says_what_it_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build("quarantined-award-cascades", tmp_path / "in")
    target = tmp_path / "x.json"
    code, _, err = run(["export", "--data", str(folder), "--format", "json", "-o", str(target)], capsys)
    assert code == 1 and "--allow-invalid" in err and not target.exists()
    args = ["export", "--data", str(folder), "--format", "json", "-o", str(target), "--allow-invalid"]
    code, _, err = run(args, capsys)
    assert code == 0 and err.startswith("warning: writing the valid rows only")
    about = json.loads(target.read_text(encoding="utf-8"))["about"]
    # Which rows, by their lines, as the README says (it counted them alone).
    assert about["left_out"] == (
        "awards: 1 of 2 rows quarantined (awards.csv line 2); "
        "award_recipients: 1 of 3 rows quarantined (award_recipients.csv line 2); "
        "milestones: 1 of 1 rows quarantined (milestones.csv line 2); "
        "citations: 2 of 6 rows quarantined (citations.csv lines 3, 7); "
        "caveat_links: 1 of 1 rows quarantined (caveat_links.csv line 2)"
    )
    assert about["package"] == "ai-funding"


@pytest.mark.parametrize(
    ("name", "rule", "message"),
    [
        ("header-20000-columns", "too-many-columns", "the header has 20,000 columns, more than the limit of 100"),
        ("huge-cell", "cell-too-long", "a value has 200,000 characters, more than the limit of 10,000"),
        ("parent-chain-10000", "nesting", "programme 'p16' sits 17 levels deep; at most 16 levels"),
        ("parent-cycle-1000", "parent-cycle", "is inside itself through its parents"),
    ],
)
def test_small_inputs_with_large_costs_are_bounded(
    name: str, rule: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = validate_json(build(name, tmp_path), capsys)
    assert code == 1
    matching = [p for p in report["errors"] if p["rule"] == rule]
    assert matching and message in matching[0]["message"]
    # No value is echoed at more than 200 characters, however long it was.
    assert all(len(p["value"] or "") <= 200 for p in report["errors"])
    assert all(len(v or "") <= 200 for q in report["quarantined"] for v in q["row"].values())


def test_a_chain_too_deep_cascades_with_the_first_cause_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report = validate_json(build("parent-chain-10000", tmp_path), capsys)
    # Ten thousand programmes too deep are one nesting problem and one count, not a problem each ...
    problems = report["errors"] + report["warnings"]
    programmes = sorted((p for p in problems if p["table"] == "programmes"), key=lambda p: p["line"])
    assert [(p["rule"], p["line"]) for p in programmes] == [("nesting", 18), ("quarantined-reference", 19)]
    assert programmes[1]["message"].startswith(
        "9,984 rows of programmes.csv refer to rows of programmes.csv that were quarantined (first: 'p16', "
        "programmes.csv:18)"
    )
    # ... and each is listed, naming its parent and the one root cause, so reasons stay short down the chain.
    [deep] = [q for q in report["quarantined"] if q["row"].get("id") == "p5000"]
    assert deep["reasons"][0].startswith(
        "parent_id: programme 'p4999' was quarantined: parent_id: programme 'p16' sits 17 levels"
    )
    assert sum(q["table"] == "programmes" for q in report["quarantined"]) == 1 + 9_984
    assert max(len(q["reasons"][0]) for q in report["quarantined"]) < 400
    assert len(report["errors"]) < 10


def test_a_file_over_the_limit_is_refused_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFUNDING_LIMIT_FILE_BYTES", "2000")
    code, report = validate_json(build("awards-over-the-file-limit", tmp_path), capsys)
    assert code == 1
    [problem] = [p for p in report["errors"] if p["rule"] == "file-too-large"]
    assert (
        problem["table"] == "awards" and "is larger than the 2,000 bytes limit and was not read" in problem["message"]
    )


def test_a_bad_limit_setting_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFUNDING_LIMIT_ROWS", "lots")
    code, _, err = run(["validate"], capsys)
    assert code == 2 and err == "aifunding validate: AIFUNDING_LIMIT_ROWS='lots' is not a whole number\n"


def test_left_out_names_the_first_lines_of_a_table_and_counts_the_rest() -> None:
    from types import SimpleNamespace

    from aifunding.data.report import QuarantinedRow, ValidationReport
    from aifunding.outputs.about import LEFT_OUT_LINES, left_out_words

    report = ValidationReport()
    report.rows_read["awards"] = 2_000
    report.rows_loaded["awards"] = 2_000 - 1_200
    report.quarantined.extend(
        QuarantinedRow("awards", "awards.csv", line, {}, ("bad",)) for line in range(1_201, 1, -1)
    )
    words = left_out_words(SimpleNamespace(report=report))  # type: ignore[arg-type]
    more = 1_200 - LEFT_OUT_LINES  # named in the file's order, whatever the report's
    assert words == f"awards: 1,200 of 2,000 rows quarantined (awards.csv lines 2, 3, 4, 5, 6 and {more:,} more)"
