"""Server-side rerun time of a filter change, against a bare one-chart page rerun the same way.

Runs the dashboard under ``streamlit.testing.v1.AppTest`` on the Companies page, warms it up, then
gives the country filter (``w_country``; ``--filter org`` for organisations) a new combination each
time and times each ``at.run()``:
the whole script, sidebar to last chart, as the server runs it after a click (no browser, no network).
The dashboard keeps the figures and tables it built for a view, so each combination is timed twice:
on its first visit (everything built) and when it is chosen again (reused); the target applies to
the first visit.
The same is done in this process for a bare script holding one multiselect and one plotly chart,
which is what any Streamlit rerun of a chart costs; and, for context, for the pure library step
(``aifunding.analysis.view.apply_view``) on the prepared bundled package. Prints medians in ms and the ratio
dashboard / bare. Target: a filter rerun under 50 ms.

    python benchmarks/filter_rerun.py [--runs 30] [--page companies]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
TARGET_MS = 50.0
WARMUP = 3
# The states the filter flips between: Japan only, then everything.
STATES: tuple[list[str], list[str]] = (["JP"], [])

# The baseline: one multiselect driving one plotly bar chart of a size like the dashboard's.
BARE_APP = """
import plotly.graph_objects as go
import streamlit as st

awards = [  # (recipient, country, amount in billions)
    ("Sakura Internet", "JP", 50.1),
    ("KDDI", "JP", 10.24),
    ("Highreso", "JP", 7.7),
    ("RUTILEA + AI Fukushima (joint)", "JP", 2.56),
    ("GMO Internet Group", "JP", 1.93),
    ("Isambard-AI", "GB", 0.225),
    ("Jean Zay", "FR", 0.04),
]
chosen = st.sidebar.multiselect("Country", ["JP", "FR", "GB"], key="w_country")
shown = [(name, amount) for name, country, amount in awards if not chosen or country in chosen]
figure = go.Figure(go.Bar(x=[a for _, a in shown], y=[n for n, _ in shown], orientation="h"))
figure.update_layout(title="Sakura Internet received the most", xaxis_title="JPY billion", height=420)
st.plotly_chart(figure)
"""


def rerun_ms(at: AppTest, values: list[str], key: str = "w_country") -> float:
    """Set a multiselect and time the rerun, in ms. Setting the value is the driver's work: only run() is timed."""
    at.multiselect(key=key).set_value(values)
    start = time.perf_counter()
    at.run()
    elapsed = (time.perf_counter() - start) * 1000
    if at.exception:
        raise RuntimeError(f"the script failed: {at.exception[0].value}")
    return elapsed


# Filters the benchmark can vary: widget key -> (table, id column) the values come from.
FILTERS = {"country": ("w_country", "countries", "id"), "org": ("w_org", "award_recipients", "organisation_id")}


def distinct_states(filter_name: str, runs: int) -> list[list[str]]:
    """``runs`` distinct values of one filter, from the bundled data.

    Countries always include Japan (Japan plus each combination of the others), so every rerun draws
    the full Japanese charts rather than an empty page; organisations are taken alone, then in pairs.
    """
    import itertools

    from aifunding import BUNDLED_DATA
    from aifunding.loading.package import load_package

    _, table, column = FILTERS[filter_name]
    ids = sorted(load_package(BUNDLED_DATA).frame(table)[column].unique())
    if filter_name == "country":
        others = [i for i in ids if i != "JP"]
        combos = [["JP", *c] for k in range(len(others) + 1) for c in itertools.combinations(others, k)]
    else:
        combos = [[i] for i in ids] + [list(pair) for pair in itertools.combinations(ids, 2)]
    return combos[:runs]


def visit_reruns(at: AppTest, key: str, states: list[list[str]]) -> tuple[list[float], list[float]]:
    """Time each state's first visit, then every state again: (first visits, revisits), in ms."""

    def run(values: list[str]) -> float:
        return rerun_ms(at, values, key)

    for _ in range(WARMUP):
        run([])
    first = [run(values) for values in states]
    again = [run(values) for values in states]
    return first, again


def filter_reruns(apps: dict[str, AppTest], runs: int) -> dict[str, list[list[float]]]:
    """Flip w_country in every app in turn (so drift hits all alike); per app, the times of each state."""
    times = {name: [[] for _ in STATES] for name in apps}
    for flip in range(WARMUP + runs):
        state = flip % len(STATES)
        for name, at in apps.items():
            elapsed = rerun_ms(at, STATES[state])
            if flip >= WARMUP:
                times[name][state].append(elapsed)
    return times


def dashboard_app(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    if page != "overview":
        at.switch_page(f"views/{page}.py")  # opens the page directly: each url_path is its file name
    return at.run()


def bare_app() -> AppTest:
    return AppTest.from_string(BARE_APP, default_timeout=60).run()


def library_step(runs: int) -> list[float]:
    """apply_view alone on the prepared bundled package, flipping the same filter, in ms (first WARMUP untimed)."""
    from aifunding import BUNDLED_DATA
    from aifunding.analysis.view import ViewState, apply_view, prepare
    from aifunding.loading.package import load_package

    prepared = prepare(load_package(BUNDLED_DATA))
    states = [ViewState(countries=tuple(countries)) for countries in STATES]
    times = []
    for flip in range(WARMUP + runs):
        start = time.perf_counter()
        apply_view(prepared, states[flip % 2])
        if flip >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed reruns of each (default 30)")
    parser.add_argument("--page", default="companies", help="dashboard page (file in dashboard/views/)")
    parser.add_argument(
        "--filter",
        choices=sorted(FILTERS),
        default="country",
        help="the filter given a new value on every rerun (default country)",
    )
    args = parser.parse_args(argv)
    # Building an AppTest outside a script run logs "missing ScriptRunContext", which says nothing here.
    # A filter, because Streamlit resets its loggers' levels when it loads its config.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )

    dashboard, bare = f"dashboard ({args.page}), first visit", "bare page (1 multiselect + 1 chart)"
    revisit = f"dashboard ({args.page}), revisit"
    states = distinct_states(args.filter, args.runs)
    first, again = visit_reruns(dashboard_app(args.page), FILTERS[args.filter][0], states)
    results = {dashboard: first, revisit: again}
    results[bare] = [t for state in filter_reruns({bare: bare_app()}, args.runs)[bare] for t in state]
    results["library only (apply_view)"] = library_step(args.runs)
    medians = {name: statistics.median(times) for name, times in results.items()}

    print(
        f"Filter change, median of {args.runs} reruns each (dashboard: a new {args.filter} filter every time, "
        f"{len(states)} distinct):"
    )
    for name, median in medians.items():
        times = results[name]
        print(f"  {name:<38} {median:8.1f} ms   (min {min(times):.1f}, max {max(times):.1f})")
    print(f"  ratio dashboard first visit / bare: {medians[dashboard] / medians[bare]:.1f}")
    print(f"  ratio dashboard revisit / bare: {medians[revisit] / medians[bare]:.1f}")
    verdict = "meets" if medians[dashboard] < TARGET_MS else "misses"
    print(f"  dashboard rerun (first visit) {verdict} the target < {TARGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
