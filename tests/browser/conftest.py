"""Browser fixtures: a real `streamlit run` server and Debian's Chromium driven by Playwright.

In CI (CI=true) a missing browser is a failure, not a skip: the suite must prove the pages draw.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from needs import require
from serving import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, port_of, start_server, stop_server

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "test-output" / "screenshots"
BASE_PATH_PROBES = ("/_stcore/health", "/_stcore/host-config")
PAGES = ("overview", "companies", "programmes", "market", "world", "data", "sources")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """Base URL of a dashboard served on the bundled data, as `make run` serves it (dashboard/serve.py)."""
    process = start_server(ROOT / "dashboard" / "serve.py", free_port(), OUTPUT.parent / "server.log")
    yield f"http://127.0.0.1:{port_of(process)}"
    stop_server(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
        f"Chromium not found at {CHROMIUM}; install Debian's chromium package",
        "browser tests",
    )
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh desktop-sized page that records console errors in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.console_errors = []

    def record(msg) -> None:
        # On a page path such as /companies, Streamlit's frontend first probes
        # /companies/_stcore/health and /companies/_stcore/host-config to discover its base URL; the
        # 404s of that probe are expected and are not errors of this app.
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not url.endswith(BASE_PATH_PROBES):
            page.console_errors.append(f"{msg.text} ({url})" if url else msg.text)

    page.on("console", record)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    require(AXE.exists(), f"{AXE} is missing; `make test` runs `npm ci` for it", "browser tests")
    return AXE.read_text(encoding="utf-8")
