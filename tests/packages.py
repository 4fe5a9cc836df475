"""Build small data packages on disk for tests: a valid minimal one, then break it on purpose."""

from __future__ import annotations

import copy
import csv
import importlib.util
import re
import sys
from pathlib import Path

from aifunding.data.schema import render_descriptor
from aifunding.data.tables import TABLES, TABLES_BY_NAME

# A tiny but complete package: one round with a sole and a joint award, one market, one milestone.
MINIMAL: dict[str, list[dict[str, str]]] = {
    "countries": [{"id": "JP", "name_en": "Japan", "name_ja": "日本", "fiscal_year_start_month": "4"}],
    "sources": [
        {
            "id": "src-a",
            "publisher": "Example Press",
            "url": "https://example.org/a",
            "published": "2024-04-19",
            "tier": "press",
            "language": "en",
            "confirms": "the round and both awards",
        },
    ],
    "organisations": [
        {"id": "org-a", "name_en": "Alpha Cloud", "name_ja": "アルファ", "kind": "company", "country_id": "JP"},
        {"id": "org-b", "name_en": "Beta Labs", "kind": "company", "country_id": "JP"},
        {"id": "org-c", "name_en": "Gamma AI", "kind": "company", "country_id": "JP"},
    ],
    "programmes": [
        {
            "id": "round-1",
            "level": "round",
            "name_en": "Round one",
            "country_id": "JP",
            "funding_body": "METI",
            "kind": "compute_subsidy",
            "announced": "2024-04-19",
            "amount": "10000000000",
            "currency": "JPY",
            "basis": "up_to",
            "period_start_fy": "2024",
            "period_end_fy": "2025",
            "status": "active",
        },
    ],
    "awards": [
        {
            "id": "award-a",
            "programme_id": "round-1",
            "purpose_en": "GPU cloud",
            "amount": "6000000000",
            "currency": "JPY",
            "basis": "up_to_about",
            "announced": "2024-04-19",
        },
        {
            "id": "award-bc",
            "programme_id": "round-1",
            "purpose_en": "Joint data centre",
            "amount": "2560000000",
            "currency": "JPY",
            "basis": "up_to_about",
            "announced": "2024-04-19",
        },
    ],
    "award_recipients": [
        {"award_id": "award-a", "organisation_id": "org-a", "role": "sole"},
        {"award_id": "award-bc", "organisation_id": "org-b", "role": "lead"},
        {"award_id": "award-bc", "organisation_id": "org-c", "role": "member"},
    ],
    "markets": [
        {
            "id": "market-1",
            "name_en": "Cloud services",
            "country_id": "JP",
            "year_label": "2024",
            "year": "2024",
            "framing": "ministry framing",
        },
    ],
    "market_shares": [
        {
            "id": "share-dom",
            "market_id": "market-1",
            "segment_kind": "domestic",
            "segment_en": "Domestic",
            "share_low": "30",
            "share_high": "30",
            "basis": "about",
        },
        {
            "id": "share-for",
            "market_id": "market-1",
            "segment_kind": "foreign",
            "segment_en": "Foreign",
            "share_low": "70",
            "share_high": "70",
            "basis": "about",
        },
    ],
    "milestones": [
        {
            "id": "ms-1",
            "award_id": "award-a",
            "description_en": "Data centre opens",
            "due_date": "2024-12",
            "timing": "on",
            "status": "met",
            "status_as_of": "2024-12-19",
        },
    ],
    "caveats": [{"id": "cv-1", "conflict_no": "1", "title_en": "Rounding", "text_en": "Figures are rounded."}],
    "citations": [
        {"source_id": "src-a", "programme_id": "round-1"},
        {"source_id": "src-a", "award_id": "award-a"},
        {"source_id": "src-a", "award_id": "award-bc"},
        {"source_id": "src-a", "market_share_id": "share-dom"},
        {"source_id": "src-a", "market_share_id": "share-for"},
        {"source_id": "src-a", "milestone_id": "ms-1"},
    ],
    "caveat_links": [{"caveat_id": "cv-1", "award_id": "award-a"}],
}


def minimal_tables() -> dict[str, list[dict[str, str]]]:
    """A fresh deep copy of :data:`MINIMAL`, safe to mutate."""
    return copy.deepcopy(MINIMAL)


# Awards under round-1 (ceiling 999999) and its component part-1 whose sums round at 6 digits of precision: added award
# by award they stay at 999999, added as the round's sum and the component's they reach 1.00000E+6 (over the ceiling).
ROUNDING_AMOUNTS = {"award-a": ("round-1", "999999"), "award-b": ("part-1", "0.4"), "award-bc": ("part-1", "0.4")}


def rounding_ceiling_tables() -> dict[str, list[dict[str, str]]]:
    """The minimal package with round-1's ceiling and awards those of :data:`ROUNDING_AMOUNTS`."""
    tables = minimal_tables()
    tables["programmes"][0]["amount"] = "999999"
    tables["programmes"].append({**tables["programmes"][0], "id": "part-1", "parent_id": "round-1", "amount": "1"})
    tables["awards"] = [
        {**tables["awards"][0], "id": aid, "programme_id": pid, "amount": amount, "basis": "exact"}
        for aid, (pid, amount) in ROUNDING_AMOUNTS.items()
    ]
    return tables


def crowded_tables(recipients: int, rounds: int) -> dict[str, list[dict[str, str]]]:
    """The minimal package plus ``recipients`` sole recipients, one award each spread over ``rounds`` rounds.

    Every award is cited and larger than the one before, so rankings are fixed: the pages' caps (top
    recipients and "others", per-programme charts, paged tables, a search for a long filter) show.
    """
    tables = minimal_tables()
    tables["programmes"][0]["amount"] = "10000000000000"
    for r in range(rounds):
        tables["programmes"].append({**tables["programmes"][0], "id": f"round-x{r}", "name_en": f"Round x{r}"})
        tables["citations"].append({"source_id": "src-a", "programme_id": f"round-x{r}"})
    for n in range(recipients):
        tables["organisations"].append(
            {"id": f"firm-{n:04d}", "name_en": f"Firm {n:04d}", "kind": "company", "country_id": "JP"}
        )
        tables["awards"].append(
            {
                "id": f"grant-{n:04d}",
                "programme_id": f"round-x{n % rounds}",
                "purpose_en": "GPU cloud",
                "amount": str(1_000_000 * (n + 1)),
                "currency": "JPY",
                "basis": "exact",
                "announced": "2024-04-19",
            }
        )
        tables["award_recipients"].append(
            {"award_id": f"grant-{n:04d}", "organisation_id": f"firm-{n:04d}", "role": "sole"}
        )
        tables["citations"].append({"source_id": "src-a", "award_id": f"grant-{n:04d}"})
    return tables


def write_table(folder: Path, name: str, rows: list[dict[str, str]]) -> Path:
    """Write one table as CSV with the model's columns in order (missing cells empty)."""
    path = folder / TABLES_BY_NAME[name].path
    columns = TABLES_BY_NAME[name].columns
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def write_package(folder: Path, tables: dict[str, list[dict[str, str]]] | None = None) -> Path:
    """Write a complete package (descriptor plus every table) into ``folder`` and return it."""
    tables = minimal_tables() if tables is None else tables
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "datapackage.json").write_text(render_descriptor(), encoding="utf-8")
    for table in TABLES:
        write_table(folder, table.name, tables.get(table.name, []))
    return folder


def write_texts(folder: Path, tables: dict[str, str]) -> Path:
    """Write a package of the CSV texts ``tables`` (table name -> text, byte for byte) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "datapackage.json").write_text(render_descriptor(), encoding="utf-8")
    for name, text in tables.items():
        (folder / TABLES_BY_NAME[name].path).write_text(text, encoding="utf-8", newline="")
    return folder


def line_of(folder: Path, name: str, needle: str) -> int:
    """1-based line number of the first line of a table's file containing ``needle``."""
    lines = (folder / TABLES_BY_NAME[name].path).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, start=1) if needle in text)


def shown(markdown: str) -> str:
    """Markdown source as a reader sees it: escaped punctuation (``\\[``) shows as itself (``[``), and the
    invisible word joiners that keep bare addresses from becoming links are not seen."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


# benchmarks/generate.py, imported as a module: a valid synthetic package of any size, the same for a seed.
GENERATOR = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"


def _generator():
    spec = importlib.util.spec_from_file_location("benchmark_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


generate = _generator().generate


def assert_same_report(report, expected) -> None:
    """Two validation reports say the same: problems (in order), quarantined rows, rows read and loaded, tables not
    read or read in part, rows left unchecked."""
    assert report.problems == expected.problems
    assert report.quarantined == expected.quarantined
    assert report.rows_read == expected.rows_read
    assert report.rows_loaded == expected.rows_loaded
    assert report.unread == expected.unread
    assert report.partly_read == expected.partly_read
    assert report.unchecked == expected.unchecked
