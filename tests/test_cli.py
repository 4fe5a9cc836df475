"""The `aifunding` command: report formats, exit codes, one-line errors, and the exports it writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from aifunding.cli import main
from aifunding.money.fx import supported_currencies

from packages import minimal_tables, write_package

# "file:line: field: severity: message", the line and the field left out when not known.
PROBLEM_LINE = re.compile(r"^[\w.-]+\.(csv|json)(:\d+)?(: \w+)?: (error|warning): \S.*$")
SUMMARY_LINE = re.compile(r"^(valid|INVALID): [\d,]+ error\(s\), [\d,]+ warning\(s\); [\d,]+ of [\d,]+ rows loaded")
PROBLEM_KEYS = {"table", "file", "line", "field", "value", "severity", "message"}
FORMULA = '=HYPERLINK("http://x")'


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one in-process run (argparse's own exits included)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The minimal package with one award amount that is not a number (awards.csv line 2)."""
    tables = minimal_tables()
    tables["awards"][0]["amount"] = "lots"
    return write_package(tmp_path / "broken", tables)


@pytest.fixture
def formula_package(tmp_path: Path) -> Path:
    """The minimal package with an award purpose a spreadsheet would run as a formula."""
    tables = minimal_tables()
    tables["awards"][0]["purpose_en"] = FORMULA
    return write_package(tmp_path / "formula", tables)


# --- validate --------------------------------------------------------------------------------------------


def test_validate_bundled_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate"], capsys)
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert SUMMARY_LINE.match(lines[-1]) and lines[-1].startswith("valid: 0 error(s), 1 warning(s)")
    assert lines[:-1], "the rounding warning is listed"
    for line in lines[:-1]:
        assert PROBLEM_LINE.match(line), line
    assert lines[0].startswith("programmes.csv:12: amount: warning: the 5 awards under 'jp-cloud-2024-04'")


def test_validate_broken_package_text_report(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", str(broken)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].startswith("INVALID: ")
    assert SUMMARY_LINE.match(lines[-1])
    for line in lines[:-1]:
        assert PROBLEM_LINE.match(line), line
    assert "awards.csv:2: amount: error: 'lots' is not a number" in out


def test_validate_json_report(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", str(broken), "--format", "json"], capsys)
    assert code == 1
    report = json.loads(out)
    assert {"valid", "errors", "warnings", "stats"} <= set(report)
    assert report["valid"] is False
    for problem in report["errors"] + report["warnings"]:
        assert set(problem) >= PROBLEM_KEYS
    first = report["errors"][0]
    assert {k: first[k] for k in PROBLEM_KEYS - {"message"}} == {
        "table": "awards",
        "file": "awards.csv",
        "line": 2,
        "field": "amount",
        "value": "lots",
        "severity": "error",
    }
    assert first["message"].startswith("'lots' is not a number")
    assert report["stats"]["errors"] == len(report["errors"])
    assert {p["severity"] for p in report["warnings"]} <= {"warning"}


def test_validate_bundled_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", "--format", "json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["valid"] is True
    assert report["errors"] == []
    assert [w["table"] for w in report["warnings"]] == ["programmes"]


@pytest.mark.parametrize("name", ["data.zip", "missing-folder"])
def test_validate_json_answers_an_unreadable_input_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # A ZIP that is not one, and a path that is not there: stdout held nothing, and a JSON reader failed on it.
    if name.endswith(".zip"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 not a zip")
    code, out, err = run(["validate", "--format", "json", str(tmp_path / name)], capsys)
    assert code == 2
    answer = json.loads(out)
    assert answer["valid"] is False
    assert answer["refused"] and f"aifunding validate: {answer['refused']}" == err.strip()
    # The text report says it on stderr only, as before.
    code, out, _ = run(["validate", str(tmp_path / name)], capsys)
    assert code == 2 and out == ""


@pytest.fixture
def fifty_bad_amounts(tmp_path: Path) -> Path:
    """The minimal package with 50 more awards whose amount is not a number (awards.csv lines 4 to 53)."""
    tables = minimal_tables()
    award = tables["awards"][0]
    tables["awards"] += [{**award, "id": f"bad-{i}", "amount": "lots"} for i in range(50)]
    return write_package(tmp_path / "fifty", tables)


def test_validate_shows_five_problems_of_a_rule_and_counts_the_rest(
    fifty_bad_amounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["validate", str(fifty_bad_amounts)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines[:5]] == [f"awards.csv:{n}" for n in range(4, 9)]
    assert all(PROBLEM_LINE.match(line) and "'lots' is not a number" in line for line in lines[:5])
    assert lines[5] == "... and 45 more 'row:decimal_parsing' problems; --all lists every one"
    assert len(lines) == 7 and lines[6].startswith("INVALID: 50 error(s), 0 warning(s)")


def test_validate_all_lists_every_problem(fifty_bad_amounts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", str(fifty_bad_amounts), "--all"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 51 and "more" not in out
    assert [line.split(": ")[0] for line in lines[:-1]] == [f"awards.csv:{n}" for n in range(4, 54)]
    assert all(PROBLEM_LINE.match(line) for line in lines[:-1])
    # JSON always holds every problem, with or without --all.
    for extra in ([], ["--all"]):
        _, out, _ = run(["validate", str(fifty_bad_amounts), "--format", "json", *extra], capsys)
        assert len(json.loads(out)["errors"]) == 50


def test_validate_counts_rows_that_refer_to_an_unread_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = minimal_tables()
    award = tables["awards"][0]
    for i in range(20):
        tables["awards"].append({**award, "id": f"award-{i}"})
        tables["award_recipients"].append({"award_id": f"award-{i}", "organisation_id": "org-a", "role": "sole"})
    folder = write_package(tmp_path / "pkg", tables)
    (folder / "awards.csv").unlink()
    code, out, _ = run(["validate", str(folder)], capsys)
    assert code == 1
    assert (
        "award_recipients.csv: award_id: error: 23 rows of award_recipients.csv refer to awards.csv, "
        "which was not read, so they could not be checked against it and were not loaded" in out
    )
    assert "does not exist" not in out and len(out.splitlines()) <= 8
    assert out.splitlines()[-1].endswith(", 28 not checked (they refer to a table that was not read)")
    _, out, _ = run(["validate", str(folder), "--format", "json"], capsys)
    report = json.loads(out)
    assert report["unread_tables"] == ["awards"]
    assert report["unchecked_rows"] == {"award_recipients": 23, "milestones": 1, "citations": 3, "caveat_links": 1}
    assert report["stats"]["rows_unchecked"] == 28
    assert [p["table"] for p in report["errors"] if p["rule"] == "unread-reference"] == list(report["unchecked_rows"])


def _folder_without_descriptor(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def _descriptor_not_json(tmp_path: Path) -> Path:
    write_package(tmp_path / "pkg")
    (tmp_path / "pkg" / "datapackage.json").write_text("{not json", encoding="utf-8")
    return tmp_path / "pkg"


def _zip_descriptor_not_json(tmp_path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(tmp_path / "pkg.zip", "w") as archive:
        archive.writestr("datapackage.json", '{\n  "name": "x"\n  "resources": []\n}\n')
    return tmp_path / "pkg.zip"


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        # the input cannot be read
        (lambda tmp: ["validate", str(tmp / "missing")], r"^aifunding validate: no datapackage\.json found at "),
        (lambda tmp: ["validate", str(_folder_without_descriptor(tmp))], r"no datapackage\.json found at .*empty"),
        (lambda tmp: ["validate", str(_descriptor_not_json(tmp))], r"datapackage\.json is not valid JSON \(line 1"),
        # named after the ZIP, as the Data page names it (it said "datapackage.json" alone)
        (lambda tmp: ["validate", str(_zip_descriptor_not_json(tmp))],
         r"^aifunding validate: pkg\.zip: datapackage\.json is not valid JSON \(line 3, column 3: Expecting ','"),
        # wrong usage
        (lambda tmp: ["validate", "--format", "xml"], r"invalid choice: 'xml'"),
        (lambda tmp: ["frobnicate"], r"invalid choice: 'frobnicate'"),
        (lambda tmp: ["export", "--format", "csv", "-o", str(tmp / "x"), "--fx-date", "2024-04-19"],
         r"--fx-date needs --currency"),
        (lambda tmp: ["export", "--format", "csv", "-o", str(tmp / "x"), "--currency", "USD", "--fx-date", "1990-01"],
         r"--fx-date 1990-01: No ECB reference rate"),
    ],
)  # fmt: skip
def test_unreadable_input_and_bad_usage_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args, message: str
) -> None:
    code, out, err = run(make_args(tmp_path), capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_python_m_and_console_script_agree(broken: Path) -> None:
    script = shutil.which("aifunding")
    assert script is not None, "the console script is installed with the package"
    by_module = subprocess.run(
        [sys.executable, "-m", "aifunding", "validate", str(broken)], capture_output=True, text=True, timeout=60
    )
    by_script = subprocess.run([script, "validate", str(broken)], capture_output=True, text=True, timeout=60)
    assert by_module.returncode == by_script.returncode == 1
    assert by_module.stdout == by_script.stdout
    assert "awards.csv:2: amount: error:" in by_module.stdout
    assert by_module.stderr == by_script.stderr == ""


def test_python_m_reports_unreadable_input_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aifunding", "validate", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("aifunding validate: no datapackage.json found at")


# --- export ----------------------------------------------------------------------------------------------


def test_export_csv_writes_three_files_into_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run(["export", "--format", "csv", "-o", str(out)], capsys)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["awards.csv", "market_shares.csv", "programmes.csv"]
    assert stdout.count("wrote ") == 3
    awards = pd.read_csv(out / "awards.csv", dtype=str)
    assert len(awards) == 24
    joint = awards.set_index("id").loc["jp-cloud-2024-04-rutilea-ai-fukushima"]
    assert joint["project_label"] == "RUTILEA + AI Fukushima (joint)"
    assert joint["amount"] == "2560000000"
    assert joint["basis_words"] == "up to about"


def test_export_one_table_to_a_csv_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.csv"
    code, _, _ = run(["export", "--format", "csv", "--table", "awards", "-o", str(target)], capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]
    frame = pd.read_csv(target, dtype=str)
    assert "project_label" in frame.columns
    assert "share_low" not in frame.columns


def test_export_xlsx_has_a_sheet_per_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "funding.xlsx"
    assert run(["export", "--format", "xlsx", "-o", str(target)], capsys)[0] == 0
    workbook = openpyxl.load_workbook(target, read_only=True)
    assert workbook.sheetnames == ["about", "programmes", "awards", "market_shares"]
    awards = pd.read_excel(target, sheet_name="awards", dtype=str)
    assert awards.set_index("id").at["jp-cloud-2024-04-kddi", "amount"] == "10240000000"


def test_export_json_has_about_and_one_array_per_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "funding.json"
    assert run(["export", "--format", "json", "-o", str(target)], capsys)[0] == 0
    payload = json.loads(target.read_text(encoding="utf-8"))
    assert list(payload) == ["about", "programmes", "awards", "market_shares"]
    assert payload["about"]["conversion"] == "no conversion: amounts in their original currencies"
    kddi = next(a for a in payload["awards"] if a["id"] == "jp-cloud-2024-04-kddi")
    assert kddi["amount"] == "10240000000"  # an exact decimal string, as every amount in the JSON export


def test_export_with_currency_adds_rate_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "awards.csv"
    argv = ["export", "--format", "csv", "--table", "awards", "--currency", "usd", "--fx-date", "2024-04-19"]
    assert run([*argv, "-o", str(target)], capsys)[0] == 0
    awards = pd.read_csv(target, dtype=str).set_index("id")
    assert {"amount_converted", "fx_rate", "fx_rate_date", "fx_method", "converted_currency"} <= set(awards.columns)
    kddi = awards.loc["jp-cloud-2024-04-kddi"]
    assert kddi["converted_currency"] == "USD"
    assert kddi["fx_rate_date"] == "2024-04-19"
    assert Decimal(kddi["fx_rate"]) == Decimal("0.006468909400")
    # 10,240,000,000 JPY at 0.0064689094 is 66,241,632.256 USD, rounded to cents.
    assert kddi["amount_converted"] == "66241632.26"
    # One fixed date: every converted figure uses it, the undated ones included.
    assert set(awards["fx_rate_date"].dropna()) == {"2024-04-19"}
    assert awards.at["jp-cloud-2023-zeureka", "amount_converted"] == "7115800.34"


def test_export_unknown_currency_lists_the_supported_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["export", "--format", "csv", "--currency", "XYZ", "-o", str(tmp_path / "x")], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "currency 'XYZ' is not in the ECB reference rates" in err
    assert "supported: " + ", ".join(supported_currencies()) in err
    assert not (tmp_path / "x").exists()


def test_export_neutralises_formulas_in_csv(
    formula_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "awards.csv"
    argv = ["export", "--data", str(formula_package), "--format", "csv", "--table", "awards", "-o", str(target)]
    assert run(argv, capsys)[0] == 0
    awards = pd.read_csv(target, dtype=str).set_index("id")
    assert awards.at["award-a", "purpose_en"] == "'" + FORMULA
    # Ordinary text is left alone.
    assert awards.at["award-bc", "purpose_en"] == "Joint data centre"


def test_export_neutralises_formulas_in_xlsx(
    formula_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "funding.xlsx"
    assert run(["export", "--data", str(formula_package), "--format", "xlsx", "-o", str(target)], capsys)[0] == 0
    sheet = openpyxl.load_workbook(target)["awards"]
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("purpose_en") + 1)
    assert sheet.cell(row=2, column=header.index("id") + 1).value == "award-a"
    assert cell.value == "'" + FORMULA
    assert cell.data_type == "s"  # stored as text, not as a formula ("f")


def test_output_commands_read_a_package_validated_before_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """export, report, summary and query validate a folder once; validate always does; ``off`` never keeps."""
    from aifunding.loading import package as package_module

    folder = write_package(tmp_path / "pkg")
    validated: list[str] = []
    real = package_module._validate_read

    def counted(*args: object, **kwargs: object) -> object:
        validated.append("once")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(package_module, "_validate_read", counted)
    monkeypatch.setenv("AIFUNDING_CACHE", str(tmp_path / "cache"))

    def exported(name: str) -> list[str]:
        out = tmp_path / name
        assert run(["export", "--data", str(folder), "--format", "json", "-o", str(out)], capsys)[0] == 0
        return [line for line in out.read_text(encoding="utf-8").splitlines() if "generated_at" not in line]

    first = exported("first.json")
    assert validated == ["once"]
    assert exported("second.json") == first  # read back from the cache: the same file
    assert run(["summary", "--data", str(folder)], capsys)[0] == 0
    assert run(["query", "recipients", "--data", str(folder)], capsys)[0] == 0
    assert run(["report", "--data", str(folder), "-o", str(tmp_path / "r.html")], capsys)[0] == 0
    assert validated == ["once"]
    assert run(["validate", str(folder)], capsys)[0] == 0  # its job is to validate
    assert validated == ["once", "once"]
    monkeypatch.setenv("AIFUNDING_CACHE", "off")
    assert exported("third.json") == first
    assert validated == ["once", "once", "once"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_an_export_into_a_pipe_is_the_table_alone(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-o /dev/stdout`` (a pipe, a device): CSV and Parquet wrote nothing ("File exists"), and the line saying what
    was written went into the stream with the table."""
    import os
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    code, out, err = run(["export", "--format", fmt, "--table", "market_shares", "-o", str(pipe)], capsys)
    if not received and code != 0:  # nothing was written: let the reader go rather than wait for a writer
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(30)
    assert code == 0, err
    assert out == "" and err.strip().endswith(f"wrote {pipe}")
    data = received[0]
    if fmt == "csv":
        assert data.startswith(b"id,market_id,") and b"wrote" not in data
    elif fmt == "parquet":
        import io

        import pyarrow.parquet as pq

        assert pq.read_table(io.BytesIO(data)).num_rows > 0
    else:
        assert json.loads(data)["market_shares"]


def test_an_export_of_several_tables_into_a_file_says_to_name_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "out"
    existing.write_text("kept", encoding="utf-8")
    code, _, err = run(["export", "--format", "csv", "-o", str(existing)], capsys)
    assert code != 0 and "File exists" not in err
    assert f"{existing} is not a folder, where CSV writes one file per table: name one --table" in err
    assert existing.read_text(encoding="utf-8") == "kept"
    # One table into the file that exists: written there, whole.
    code, out, err = run(["export", "--format", "csv", "--table", "market_shares", "-o", str(existing)], capsys)
    assert code == 0, err
    assert out == f"wrote {existing}\n" and existing.read_text(encoding="utf-8").startswith("id,market_id,")
