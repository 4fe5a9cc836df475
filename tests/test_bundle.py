"""An upload's normalised content, and an upload that extends the served package (clashes reported)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile
from pathlib import Path

from aifunding import BUNDLED_DATA
from aifunding.data.report import Severity
from aifunding.loading.bundle import Clash, extend_package, pack, package_files
from aifunding.loading.package import Package, load_package


def test_the_same_files_always_pack_to_the_same_bytes(tmp_path: Path) -> None:
    first = pack(BUNDLED_DATA)
    copy = tmp_path / "copy"
    shutil.copytree(BUNDLED_DATA, copy)
    (copy / "notes.txt").write_text("not part of the package")
    for path in copy.iterdir():
        os.utime(path, (1_700_000_000, 1_700_000_000))
    assert pack(copy) == first
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert names == sorted(p.name for p in package_files(BUNDLED_DATA))
    assert "datapackage.json" in names and "notes.txt" not in names
    (copy / "awards.csv").write_bytes((copy / "awards.csv").read_bytes() + b"\n")
    assert pack(copy) != first  # any change to a file is another package


def _rows(name: str) -> list[dict[str, str]]:
    with (BUNDLED_DATA / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(folder: Path, name: str, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = header or list(_rows(name)[0])
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)


def _upload(folder: Path, award_id: str = "jp-upload-award", currency: str = "JPY") -> None:
    """One new programme with one award to a served organisation, citing a served source."""
    programme = next(r for r in _rows("programmes") if r["level"] == "programme" and r["country_id"] == "JP")
    programme = {**programme, "id": "jp-upload-programme", "parent_id": "", "name_en": "Uploaded programme"}
    award = {**_rows("awards")[0], "id": award_id, "programme_id": programme["id"], "currency": currency}
    recipient = {**_rows("award_recipients")[0], "award_id": award_id}
    source = _rows("sources")[0]["id"]
    citation = {c: "" for c in _rows("citations")[0]}
    _write(folder, "programmes", [programme])
    _write(folder, "awards", [award])
    _write(folder, "award_recipients", [recipient])
    _write(
        folder,
        "citations",
        [
            {**citation, "programme_id": programme["id"], "source_id": source},
            {**citation, "award_id": award_id, "source_id": source},
        ],
    )


def _frame_ids(package: Package, table: str) -> list[str]:
    return package.frame(table)["id"].tolist()


def test_an_upload_extends_the_served_package(tmp_path: Path, bundled: Package) -> None:
    _upload(tmp_path / "upload")
    extension = extend_package(BUNDLED_DATA, tmp_path / "upload", tmp_path / "merged", "Bundled + my rows")
    assert extension.clashes == []
    assert extension.added == {"programmes": 1, "awards": 1, "award_recipients": 1, "citations": 2}
    merged = load_package(tmp_path / "merged")
    assert merged.report.valid, [p.as_text() for p in merged.report.problems]
    assert merged.descriptor["title"] == "Bundled + my rows"
    assert _frame_ids(merged, "awards") == [*_frame_ids(bundled, "awards"), "jp-upload-award"]
    assert _frame_ids(merged, "countries") == _frame_ids(bundled, "countries")


def test_an_uploaded_row_never_writes_over_a_served_one(tmp_path: Path, bundled: Package) -> None:
    served_award = _rows("awards")[0]
    _upload(tmp_path / "upload", award_id=served_award["id"])
    extension = extend_package(BUNDLED_DATA, tmp_path / "upload", tmp_path / "merged", "title")
    recipient = _rows("award_recipients")[0]
    assert extension.clashes == [
        Clash("awards", "awards.csv", 2, served_award["id"]),
        Clash("award_recipients", "award_recipients.csv", 2, f"{served_award['id']}/{recipient['organisation_id']}"),
    ]
    problem = extension.clashes[0].problem()
    # At the upload's own line, in the upload's file: "awards.csv:2" alone would be the served file's row 2.
    assert problem.severity == Severity.ERROR and problem.location() == "awards.csv (upload):2: id"
    assert extension.clashes[0].problem(lambda name: f"book.xlsx › {name[:-4]}").file == "book.xlsx › awards"
    assert "already has awards" in problem.message and "left out, not written over it" in problem.message
    merged = load_package(tmp_path / "merged")
    row = merged.frame("awards").set_index("id").loc[served_award["id"]]
    assert str(row["purpose_en"]) == served_award["purpose_en"]  # the served row, untouched
    assert len(merged.frame("awards")) == len(bundled.frame("awards"))


def test_a_problem_in_an_added_row_points_at_the_uploads_own_line(tmp_path: Path) -> None:
    _upload(tmp_path / "upload", currency="XXX")
    extension = extend_package(BUNDLED_DATA, tmp_path / "upload", tmp_path / "merged", "title")
    merged = load_package(tmp_path / "merged")
    problems = [p for p in merged.report.problems if p.field == "currency" and p.table == "awards"]
    assert problems, [p.as_text() for p in merged.report.problems]
    located = extension.located(problems[0])
    assert (located.file, located.line) == ("awards.csv (upload)", 2)
    served_problem = problems[0].__class__(**{**problems[0].__dict__, "line": 2})
    assert extension.located(served_problem) == served_problem  # a served row's problem keeps its place


def test_columns_are_matched_by_name_whatever_their_order(tmp_path: Path) -> None:
    _upload(tmp_path / "upload")
    awards = _rows("awards")[:0]
    path = tmp_path / "upload" / "awards.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        awards = list(csv.DictReader(handle))
    header = list(reversed(list(awards[0])))
    _write(tmp_path / "upload", "awards", awards, header)
    extend_package(BUNDLED_DATA, tmp_path / "upload", tmp_path / "merged", "title")
    merged = load_package(tmp_path / "merged")
    assert merged.report.valid
    assert merged.frame("awards").set_index("id").loc["jp-upload-award", "currency"] == "JPY"


def test_a_carriage_return_in_an_uploaded_cell_stays_in_its_cell(tmp_path: Path) -> None:
    """A quoted lone "\\r" in an upload is written quoted into the merged package (written bare, the loader took it
    for a line end: the award split in two rows and neither was valid)."""
    _upload(tmp_path / "upload")
    path = tmp_path / "upload" / "awards.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        awards = list(csv.DictReader(handle))
    awards[0]["purpose_en"] = "GPU\rcloud"
    _write(tmp_path / "upload", "awards", awards)
    extend_package(BUNDLED_DATA, tmp_path / "upload", tmp_path / "merged", "title")
    merged = load_package(tmp_path / "merged")
    assert merged.report.valid, [p.as_text() for p in merged.report.problems]
    assert merged.frame("awards").set_index("id").loc["jp-upload-award", "purpose_en"] == "GPU\rcloud"
