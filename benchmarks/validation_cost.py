"""Validation time and peak memory per MB of input, so the memory multiple is visible.

Builds synthetic packages of increasing size (``--sizes``, in MB of CSV; default 1, 4 and 16) in a
temporary folder: the bundled package copied, then awards.csv, award_recipients.csv, citations.csv
and programmes.csv grown with new rows whose every text field says "synthetic". The synthetic rows
are kept valid: each award sits in a synthetic round (one per hundred awards) of a synthetic
programme that publishes no amount, so no ceiling applies; each award has one 'sole' recipient (an
existing organisation) and one citation (an existing source), and each synthetic programme row is
cited too. Nothing is written to data/. Each package is checked once with ``report.valid``; an
invalid one is reported (and the exit status is 1), since it would not measure a valid load.

For each size, each of these runs in a fresh Python process (``--runs`` times, alternately, so
drift hits all alike), so its peak resident memory is its own:

* validate: ``load_package(path)`` with limits raised above the package's size, so defaults or
  ``AIFUNDING_LIMIT_*`` variables cannot refuse a file;
* floor: the same CSV files read as bytes, decoded and parsed with the csv module into lists of
  rows, all held at once: what any Python reader of every cell costs;
* arrow (when pyarrow is importable): ``pyarrow.csv.read_csv`` of each file, for context.

Each child first imports what it needs (the validating one also loads the bundled package once,
which pays for lazy imports and the currency table), then takes its resident memory as the baseline
and resets the peak (``/proc/self/clear_refs``; where that cannot be done, the peak so far is the
baseline). The memory figure is the peak after the work minus that baseline: the cost of the input,
not of the interpreter. Prints medians, the ratio validate / floor in time, and the memory multiple
(MB of peak RSS increase per MB of CSV) for the validator and the floor.

    python benchmarks/validation_cost.py [--sizes 1 4 16] [--runs 3] [--quick]

Exits 0 whatever the figures; non-zero only when a child process fails or a synthetic package is
not valid.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
MB = 1024 * 1024
DEFAULT_SIZES = (1.0, 4.0, 16.0)
QUICK_SIZE = 1.0
AWARDS_PER_ROUND = 100
SYNTHETIC_PROGRAMME = "synthetic-programme"
# A padding note of about the length of the real ones (awards.csv averages ~400 bytes a row).
NOTE = (
    "Synthetic award written by benchmarks/validation_cost.py to measure validation cost; not real "
    "funding. Its text is padded to the length of a typical note in the bundled package, so the row "
    "mix per MB resembles real data."
)


# --- building the synthetic package ---------------------------------------------------------------


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def _first_id(path: Path, column: str = "id") -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.DictReader(handle))[column]


def _row(header: list[str], **values: str) -> str:
    unknown = set(values) - set(header)
    if unknown:  # a column was renamed in the package: fail loudly rather than write a wrong row
        raise KeyError(f"columns not in the header: {sorted(unknown)}")
    return _csv_line([values.get(column, "") for column in header])


class SyntheticRows:
    """The lines to append to each file for award number ``n`` (and its round when one starts)."""

    FILES = ("programmes", "awards", "award_recipients", "citations")

    def __init__(self, folder: Path) -> None:
        self.headers = {name: _header(folder / f"{name}.csv") for name in self.FILES}
        # Existing rows the synthetic ones point at: an organisation, a source, a country.
        self.organisation = _first_id(folder / "organisations.csv")
        self.source = _first_id(folder / "sources.csv")
        self.country = _first_id(folder / "countries.csv")

    def programme(self, programme_id: str, parent: str, level: str, number: int | None) -> dict[str, str]:
        h = self.headers
        name = f"Synthetic round {number}" if number is not None else "Synthetic programme"
        return {
            "programmes": _row(
                h["programmes"],
                id=programme_id,
                parent_id=parent,
                level=level,
                name_en=f"{name} (validation-cost benchmark; not real funding)",
                country_id=self.country,
                funding_body="Synthetic funding body",
                kind="compute_subsidy",
                announced="2024-04-19",
                status="active",
                note="Synthetic row; it publishes no amount, so no ceiling applies to the awards beneath it.",
            ),
            "citations": _row(
                h["citations"], programme_id=programme_id, source_id=self.source, supports="synthetic citation"
            ),
        }

    def award(self, n: int) -> dict[str, str]:
        h = self.headers
        award_id = f"synthetic-award-{n:07d}"
        starts_round = n % AWARDS_PER_ROUND == 0
        lines = (
            self.programme(self.round_id(n), SYNTHETIC_PROGRAMME, "round", n // AWARDS_PER_ROUND + 1)
            if starts_round
            else {}
        )
        lines["awards"] = _row(
            h["awards"],
            id=award_id,
            programme_id=self.round_id(n),
            purpose_en=f"Synthetic project {n} for the validation-cost benchmark",
            amount=str(1_000_000 + n),
            currency="JPY",
            basis="exact",
            announced="2024-04-19",
            note=NOTE,
        )
        lines["award_recipients"] = _row(
            h["award_recipients"], award_id=award_id, organisation_id=self.organisation, role="sole"
        )
        lines["citations"] = lines.get("citations", "") + _row(
            h["citations"], award_id=award_id, source_id=self.source, supports="synthetic citation"
        )
        return lines

    @staticmethod
    def round_id(n: int) -> str:
        return f"synthetic-round-{n // AWARDS_PER_ROUND + 1:05d}"


def csv_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def data_rows(folder: Path) -> int:
    """Data rows in every CSV of the package (records, not lines: a quoted note may span lines)."""
    total = 0
    for path in csv_files(folder):
        with path.open(encoding="utf-8", newline="") as handle:
            total += sum(1 for values in csv.reader(handle) if any(v.strip() for v in values)) - 1
    return total


def build_package(folder: Path, target_mb: float) -> tuple[int, int]:
    """Copy the bundled package to ``folder`` and grow it to about ``target_mb`` MB of CSV.

    Returns (CSV bytes, data rows) of the result.
    """
    shutil.copytree(DATA, folder)
    synthetic = SyntheticRows(folder)
    chunks: dict[str, list[str]] = {name: [] for name in SyntheticRows.FILES}

    def add(lines: dict[str, str]) -> int:
        for name, text in lines.items():
            chunks[name].append(text)
        return sum(len(text.encode("utf-8")) for text in lines.values())

    size = sum(path.stat().st_size for path in csv_files(folder))
    size += add(synthetic.programme(SYNTHETIC_PROGRAMME, "", "programme", None))
    n = 0
    while size < target_mb * MB:
        size += add(synthetic.award(n))
        n += 1
    for name, lines in chunks.items():
        with (folder / f"{name}.csv").open("a", encoding="utf-8", newline="") as handle:
            handle.writelines(lines)
    size = sum(path.stat().st_size for path in csv_files(folder))
    return size, data_rows(folder)


# --- the measured child processes -----------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _peak_kb() -> int:
    hwm = _status_kb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def _start_clean() -> tuple[int, str]:
    """The baseline in kB, after a collection, with the peak reset to it where the kernel allows."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return _peak_kb(), "peak so far"
    rss = _status_kb("VmRSS")
    return (rss, "reset peak") if rss is not None else (_peak_kb(), "peak so far")


def _limits_for(csv_bytes: int):
    """Limits far above this package, so only the content is measured; None if the library has none."""
    try:
        from dataclasses import replace

        from aifunding.data.limits import Limits
    except ImportError:
        return None
    base = Limits()
    return replace(
        base,
        package_bytes=max(base.package_bytes, 4 * csv_bytes),
        file_bytes=max(base.file_bytes, 4 * csv_bytes),
        rows=max(base.rows, csv_bytes // 10),
    )


def child(kind: str, folder: Path) -> dict:
    """Run one measurement in this (fresh) process; the result as a dict."""
    if kind == "validate":
        import inspect

        from aifunding.loading.package import load_package

        limits = _limits_for(sum(path.stat().st_size for path in csv_files(folder)))
        accepts = limits is not None and "limits" in inspect.signature(load_package).parameters
        kwargs = {"limits": limits} if accepts else {}

        def work(package: Path):
            return load_package(package, **kwargs)

    elif kind == "floor":

        def work(package: Path):
            return [
                list(csv.reader(io.StringIO(p.read_bytes().decode("utf-8"), newline=""))) for p in csv_files(package)
            ]

    elif kind == "arrow":
        import pyarrow.csv

        def work(package: Path):
            return [pyarrow.csv.read_csv(p) for p in csv_files(package)]

    else:
        raise ValueError(kind)
    # Warm-up on the bundled package: lazy imports, the currency table, first calls, Arrow's pools.
    work(DATA)
    baseline_kb, method = _start_clean()
    start = time.perf_counter()
    held = work(folder)
    seconds = time.perf_counter() - start
    peak_kb = _peak_kb()
    result = {"seconds": seconds, "baseline_kb": baseline_kb, "peak_kb": peak_kb, "method": method}
    if kind == "validate":
        report = held.report
        result["valid"] = report.valid
        result["summary"] = report.summary()
        result["errors"] = [f"{p.rule} {p.file}:{p.line} {p.message}"[:200] for p in report.errors[:5]]
    return result


def run_child(kind: str, folder: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the {kind} child failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the driver -----------------------------------------------------------------------------------


def have_pyarrow() -> bool:
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="package sizes in MB of CSV (default: 1 4 16)",
    )
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement and size (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"one run of one {QUICK_SIZE:g} MB package")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    sizes, runs = ([QUICK_SIZE], 1) if args.quick else (args.sizes, args.runs)
    kinds = ["validate", "floor"] + (["arrow"] if have_pyarrow() else [])

    results = []
    invalid = []
    with tempfile.TemporaryDirectory(prefix="aifunding-validation-cost-") as temp:
        for target in sizes:
            folder = Path(temp) / f"package-{target:g}mb"
            csv_bytes, rows = build_package(folder, target)
            samples: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for _ in range(runs):
                for kind in kinds:  # alternate, so drift hits all alike
                    samples[kind].append(run_child(kind, folder))
            check = samples["validate"][0]
            if not check["valid"]:
                invalid.append((target, check))
            results.append((csv_bytes, rows, samples))
            shutil.rmtree(folder)

    def median(kind_samples: list[dict], key: str) -> float:
        return statistics.median(s[key] for s in kind_samples)

    def increase_mb(kind_samples: list[dict]) -> float:
        return statistics.median((s["peak_kb"] - s["baseline_kb"]) / 1024 for s in kind_samples)

    first = results[0][2]["validate"][0]
    print(
        f"Validation cost, median of {runs} fresh process(es) per figure; memory is the peak RSS increase over "
        f"the child's baseline after imports ({first['method']}; validating child's baseline "
        f"{first['baseline_kb'] / 1024:.0f} MB):"
    )
    columns = ["size MB", "rows", "validate s", "floor s", "ratio", "validate +RSS MB", "validate MB/MB", "floor MB/MB"]
    if "arrow" in kinds:
        columns += ["arrow s", "arrow MB/MB"]
    widths = [max(len(c), 8) for c in columns]
    print("  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for csv_bytes, rows, samples in results:
        size = csv_bytes / MB
        validate_s, floor_s = median(samples["validate"], "seconds"), median(samples["floor"], "seconds")
        validate_mb, floor_mb = increase_mb(samples["validate"]), increase_mb(samples["floor"])
        cells = [
            f"{size:.2f}",
            f"{rows:,}",
            f"{validate_s:.3f}",
            f"{floor_s:.3f}",
            f"{validate_s / floor_s:.1f}",
            f"{validate_mb:.0f}",
            f"{validate_mb / size:.1f}",
            f"{floor_mb / size:.1f}",
        ]
        if "arrow" in kinds:
            cells += [f"{median(samples['arrow'], 'seconds'):.3f}", f"{increase_mb(samples['arrow']) / size:.1f}"]
        marker = "" if samples["validate"][0]["valid"] else "   <- NOT VALID"
        print("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + marker)
    print(
        "  ratio = validate s / floor s. MB/MB = MB of peak RSS increase per MB of CSV (the memory multiple); "
        "floor = csv module into lists"
        + ("; arrow = pyarrow.csv.read_csv" if "arrow" in kinds else " (pyarrow not installed)")
        + "."
    )
    if not invalid:
        print(f"  every synthetic package was valid ({results[-1][2]['validate'][0]['summary']} at the largest)")
        return 0
    for target, check in invalid:
        print(f"  the {target:g} MB synthetic package is NOT valid ({check['summary']});")
        print("  its figures measure a load with errors, not a valid one. First errors:")
        for error in check["errors"]:
            print(f"    {error}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
