"""Larger than memory: ``aifunding validate`` in memory and within a memory budget, at a million awards and more.

The issue's stretch: ten million awards validated with memory bounded by DuckDB's spilling, not by the data. For
each size in ``--sizes`` (default 1,000,000; add 10000000 for the stretch: 5 GB of CSV, generated once in about six
minutes and kept with ``--keep``), the package is generated as ``benchmarks/scale.py`` generates it (or reused from
``--keep``), then, each in a fresh process, ``--runs`` times (median):

* the floor: every CSV read with ``pyarrow.csv.read_csv`` (scale.py's child);
* ``aifunding validate --format json`` in memory;
* ``aifunding validate --format json --memory BUDGET`` (``--budget``, default 2GB): in pieces, DuckDB spilling to a
  temporary folder, when in memory the package would take more;
* ``aifunding export --format json --currency USD``, in memory (up to ``--export-in-memory-up-to`` awards) and with
  ``--memory BUDGET`` (its awards written a piece at a time).

Prints seconds, peak RSS (``ru_maxrss`` from ``wait4``), RSS/CSV, the multiple of the floor, how the budgeted run
validated (standard error's line), and whether its report is the in-memory one (the JSON compared whole). The
target, printed and never asserted: the budgeted runs' peaks within the budget at every size.

    python benchmarks/bounded.py [--sizes 1000000 10000000] [--budget 2GB] [--keep DIR] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import MB, Measured, compile_bytecode, prepare_package, run_measured

from aifunding.cli_parser import memory_size

SCALE = Path(__file__).resolve().parent / "scale.py"


def _median(runs: list[Measured], what: str) -> float:
    return statistics.median(getattr(run, what) for run in runs)


def measure(
    size: int, seed: int, folder: Path, budget: str, runs: int, timeout: float, export_in_memory_up_to: int
) -> dict | None:
    package = prepare_package(size, seed, folder, timeout)
    if isinstance(package, str):
        print(f"\n== {size:,} awards: {package}")
        return None
    env = {**os.environ, **package.env, "AIFUNDING_CACHE": "off", "PYTHONHASHSEED": "0"}
    path = str(package.path)
    commands = {
        "floor: pyarrow read": [sys.executable, str(SCALE), "--child", "arrow", path],
        "validate, in memory": [sys.executable, "-m", "aifunding", "validate", "--format", "json", path],
        f"validate --memory {budget}": [
            sys.executable,
            "-m",
            "aifunding",
            "validate",
            "--format",
            "json",
            "--memory",
            budget,
            path,
        ],
    }
    out = folder / f"bounded-export-{size}.json"
    export = [sys.executable, "-m", "aifunding", "export", "--data", path, "--format", "json", "--currency", "USD"]
    if size <= export_in_memory_up_to:
        commands["export json USD, in memory"] = [*export, "-o", str(out)]
    commands[f"export json USD --memory {budget}"] = [*export, "--memory", budget, "-o", str(out)]
    measured = {}
    for name, command in commands.items():
        measured[name] = [run_measured(command, env, timeout) for _ in range(runs)]
        out.unlink(missing_ok=True)
    floor = _median(measured["floor: pyarrow read"], "seconds")
    budgeted = measured[f"validate --memory {budget}"]
    in_memory = measured["validate, in memory"]
    same = all(run.stdout == in_memory[0].stdout for run in budgeted) and in_memory[0].returncode in (0, 1)
    how = (budgeted[0].stderr.strip().splitlines() or ["(nothing said)"])[-1].removeprefix("aifunding validate: ")
    print(f"\n== {size:,} awards: {package.csv_bytes / MB:,.0f} MB of CSV, {package.rows:,} rows")
    if package.env:
        print("   limits raised via the environment: " + " ".join(f"{k}={v}" for k, v in package.env.items()))
    print(f"   {'step':<28}{'seconds':>9}{'peak RSS MB':>13}{'RSS/CSV':>9}{'x floor':>9}")
    figures = {}
    for name, done in measured.items():
        failed = [run for run in done if run.returncode not in (0, 1)]
        if failed:
            tail = (failed[0].stderr.strip().splitlines() or ["(no output)"])[-1][:120]
            print(f"   {name:<28} failed (exit {failed[0].returncode}): {tail}")
            continue
        seconds, peak = _median(done, "seconds"), _median(done, "peak_mb")
        figures[name] = {"seconds": seconds, "peak_mb": peak}
        ratio = "" if name.startswith("floor") else f"{seconds / floor:9.1f}"
        print(f"   {name:<28}{seconds:9.2f}{peak:13.0f}{peak * MB / package.csv_bytes:9.2f}{ratio}")
    peaks = [figures.get(f"{step} --memory {budget}", {}).get("peak_mb") for step in ("validate", "export json USD")]
    within = all(peak is not None and peak * MB <= memory_size(budget) for peak in peaks)
    print(f"   the budgeted run: {how}")
    print(
        f"   its report is the in-memory one: {'yes' if same else 'NO'}; the budgeted peaks within {budget}: "
        f"{'yes' if within else 'no'}"
    )
    return {"awards": size, "csv_bytes": package.csv_bytes, "figures": figures, "same_report": same, "within": within}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000], help="synthetic awards (default 1000000)")
    parser.add_argument("--budget", default="2GB", help="the memory given to validate --memory (default 2GB)")
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per step (median; default 1)")
    parser.add_argument("--keep", type=Path, help="keep the generated packages in this folder and reuse them")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per step (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--export-in-memory-up-to",
        type=int,
        default=1_000_000,
        help="export in memory too, for comparison, up to this many awards (default 1000000: ten million would "
        "take about 20 GB)",
    )
    args = parser.parse_args(argv)
    memory_size(args.budget)  # a budget that is not a size stops here, before anything is generated
    print(
        f"Bounded validation: sizes {', '.join(f'{s:,}' for s in args.sizes)}, budget {args.budget}, "
        f"{args.runs} run(s) per step; {os.cpu_count()} CPU(s). {compile_bytecode()}."
    )
    with tempfile.TemporaryDirectory(prefix="aifunding-bounded-") as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        results = [
            measure(size, args.seed, folder, args.budget, args.runs, args.timeout, args.export_in_memory_up_to)
            for size in args.sizes
        ]
    print(
        "\nTarget (the issue's stretch; printed, never asserted): validation's and the export's peak memory bounded "
        "by the budget (DuckDB's spilling), not by the data."
    )
    if args.json:
        args.json.write_text(json.dumps([r for r in results if r], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
