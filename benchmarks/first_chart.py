"""Time to first chart: the dashboard against a bare Streamlit page holding one plotly chart.

Serves both with ``streamlit run`` on free ports, loads them alternately in headless Chromium (a fresh
browser context per load, so no cache or session carries over) and measures, on the page's own
clock, the time from navigation start to the first drawn plotly chart
(``[data-testid='stPlotlyChart'] .js-plotly-plot .main-svg``). Prints the median of each and the
ratio dashboard / bare. Target: ratio <= 1.25.

    python benchmarks/first_chart.py [--runs 7] [--path companies]

Exits 0 whatever the timings; non-zero only when a server or the browser cannot be run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The server and browser set-up is the browser tests' own, so both measure the same dashboard.
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from serving import CHROMIUM, CHROMIUM_ARGS, free_port, start_server, stop_server  # noqa: E402

CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot .main-svg"
TARGET_RATIO = 1.25
TIMEOUT_S = 60

# The baseline: what any Streamlit page with one plotly chart costs. A horizontal bar chart of the
# size of the dashboard's, from numbers written in, with no data loading and no sidebar.
BARE_APP = """
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Bare plotly page", layout="wide")
st.title("One plotly chart")
recipients = ["Sakura Internet", "KDDI", "Highreso", "RUTILEA + AI Fukushima (joint)", "GMO Internet Group"]
amounts = [50.1, 10.24, 7.7, 2.56, 1.93]
figure = go.Figure(go.Bar(x=amounts, y=recipients, orientation="h", name="2024-04-19 round"))
figure.update_layout(title="Sakura Internet received the most", xaxis_title="JPY billion", height=420)
st.plotly_chart(figure)
"""

# Records, on the page's clock (performance.now() counts from navigation start), when the first
# chart's SVG enters the DOM: no polling delay from the test driver is added to the figure.
WATCH_FIRST_CHART = """
(() => {
  const selector = __SELECTOR__;
  const mark = () => {
    if (window.__firstChartMs === undefined && document.querySelector(selector)) {
      window.__firstChartMs = performance.now();
      return true;
    }
    return false;
  };
  const start = () => {
    if (mark()) return;
    const observer = new MutationObserver(() => { if (mark()) observer.disconnect(); });
    observer.observe(document.documentElement, {childList: true, subtree: true});
  };
  if (document.documentElement) start(); else document.addEventListener("readystatechange", start, {once: true});
})();
""".replace("__SELECTOR__", json.dumps(CHART))


def first_chart_ms(browser, url: str) -> float:
    """Milliseconds from navigation start to the first drawn plotly chart, in a fresh context."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        context.add_init_script(WATCH_FIRST_CHART)
        page = context.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_function("() => window.__firstChartMs !== undefined", timeout=TIMEOUT_S * 1000)
        return float(page.evaluate("() => window.__firstChartMs"))
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed loads of each page (default 7)")
    parser.add_argument("--path", default="", help="dashboard page to load, e.g. companies (default: the overview)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        bare_app = Path(folder) / "bare.py"
        bare_app.write_text(BARE_APP, encoding="utf-8")
        servers = []
        try:
            servers.append(start_server(ROOT / "dashboard" / "app.py", free_port(), Path(folder) / "dashboard.log"))
            servers.append(start_server(bare_app, free_port(), Path(folder) / "bare.log"))
            urls = {
                name: f"http://127.0.0.1:{process.args[process.args.index('--server.port') + 1]}/{path}"
                for name, process, path in zip(("dashboard", "bare"), servers, (args.path, ""), strict=True)
            }
            times: dict[str, list[float]] = {name: [] for name in urls}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    # One untimed load each: the first session imports modules and loads the package,
                    # which a server does once, not per viewer.
                    for url in urls.values():
                        first_chart_ms(browser, url)
                    for _ in range(args.runs):
                        for name, url in urls.items():  # alternate, so drift hits both alike
                            times[name].append(first_chart_ms(browser, url))
                finally:
                    browser.close()
        finally:
            for process in servers:
                stop_server(process)

    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["dashboard"] / medians["bare"]
    print(f"Time to first chart, median of {args.runs} loads each (fresh browser context per load):")
    for name, url in urls.items():
        spread = ", ".join(f"{v:.0f}" for v in times[name])
        print(f"  {name:<9} {medians[name]:7.0f} ms   ({url}; runs: {spread})")
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"  ratio dashboard / bare: {ratio:.2f} ({verdict} the target <= {TARGET_RATIO})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
