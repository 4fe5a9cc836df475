"""Waiting for Streamlit pages to settle, and checking what they drew."""

from __future__ import annotations

from pathlib import Path

SETTLE_TIMEOUT_MS = 45_000


def wait_for_app(page) -> None:
    """Wait until the script has finished running and nothing is left in a stale state."""
    page.wait_for_selector("[data-testid='stApp']", timeout=SETTLE_TIMEOUT_MS)
    page.wait_for_function(
        """() => {
            const app = document.querySelector("[data-testid='stApp']");
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector("[data-stale='true']");
        }""",
        timeout=SETTLE_TIMEOUT_MS,
    )
    page.wait_for_timeout(300)


def open_page(page, base: str, path: str = "", query: str = "") -> None:
    page.goto(f"{base}/{path}{('?' + query) if query else ''}", wait_until="domcontentloaded")
    wait_for_app(page)


def drawn_charts(page, at_least: int = 0) -> int:
    """How many plotly charts have drawn their SVG, after waiting for ``at_least`` of them."""
    if at_least:
        page.wait_for_function(
            "n => Array.from(document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\"))"
            "  .filter(plot => plot.querySelector('.main-svg')).length >= n",
            arg=at_least,
            timeout=SETTLE_TIMEOUT_MS,
        )
    return page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").count()


def exceptions(page) -> list[str]:
    return page.locator("[data-testid='stException']").all_inner_texts()


def run_axe(page, axe_source: str) -> list[dict]:
    """Serious and critical axe-core violations on the current page."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page, folder: Path, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the window is grown to fit it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll(\"[data-testid='stMain'], "
        "[data-testid='stSidebarContent']\")).map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height + 40, size["height"]), 12000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
