"""The server of ``make run`` (dashboard/serve.py) loads its package as it starts and says so at ``/ready``.

Served by dashboard/app.py, a package's first viewer waits for its checking and joining, with a spinner
(test_first_opening.py). Served by serve.py, the load begins as the server starts: ``/ready`` answers 503
while it runs and 200 once it is done, and a viewer who comes after never sees the spinner.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_first_opening import AWARDS, SPINNER_WATCH

from aifunding import BUNDLED_DATA

from conftest import OUTPUT
from helpers import drawn_charts, exceptions, wait_for_app
from packages import generate
from serving import ROOT, free_port, start_server, stop_server

SERVE = ROOT / "dashboard" / "serve.py"
READY_TIMEOUT_S = 300


def ready(base: str) -> tuple[int, dict]:
    """``/ready``'s status code and body."""
    try:
        with urllib.request.urlopen(f"{base}/ready", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def answers_until(base: str, state: str) -> list[tuple[int, dict]]:
    """Every ``/ready`` answer until one is in ``state`` (that one last)."""
    answers: list[tuple[int, dict]] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        answers.append(ready(base))
        if answers[-1][1]["state"] == state:
            return answers
        time.sleep(0.1)
    raise AssertionError(f"/ready never said {state!r} in {READY_TIMEOUT_S} s: {answers[-3:]}")


def award_rows(folder: Path) -> int:
    with (folder / "awards.csv").open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served") / "pkg"
    generate(AWARDS, folder, seed=3)
    return folder


def test_the_package_is_loaded_as_the_server_starts_and_the_first_viewer_waits_for_nothing(
    page, large: Path, tmp_path: Path
) -> None:
    env = {"AIFUNDING_DATA": str(large), "AIFUNDING_CACHE": str(tmp_path / "cache")}
    port = free_port()
    process = start_server(SERVE, port, OUTPUT.parent / "serve-server.log", env)
    base = f"http://127.0.0.1:{port}"
    try:
        answers = answers_until(base, "ready")
        *loading, (status, body) = answers
        assert all(code == 503 and answer["state"] == "loading" for code, answer in loading)
        seconds = [answer["seconds"] for _, answer in loading]
        assert seconds == sorted(seconds)  # how long it has been loading, growing
        assert status == 200 and body["errors"] == 0
        assert body["awards"] == award_rows(large) and body["seconds"] > 0
        page.add_init_script(SPINNER_WATCH)
        page.goto(f"{base}/companies", wait_until="domcontentloaded")
        wait_for_app(page)
        assert drawn_charts(page, at_least=1) >= 1
        assert not exceptions(page) and not page.console_errors
        assert page.evaluate("() => window.__spinnerSeen") is False  # loaded before this viewer came
    finally:
        stop_server(process)


def test_a_package_that_cannot_be_read_is_not_ready_until_its_files_are_mended(page, tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    env = {"AIFUNDING_DATA": str(folder), "AIFUNDING_CACHE": str(tmp_path / "cache")}
    port = free_port()
    process = start_server(SERVE, port, OUTPUT.parent / "serve-broken-server.log", env)
    base = f"http://127.0.0.1:{port}"
    try:
        status, body = answers_until(base, "failed")[-1]
        assert status == 503 and "no datapackage.json found" in body["problem"]
        assert str(tmp_path) not in body["problem"]  # no path on this machine
        # The pages say why, as they do without serve.py.
        page.goto(base, wait_until="domcontentloaded")
        page.get_by_text("no datapackage.json found").first.wait_for()
        shutil.copytree(BUNDLED_DATA, folder, dirs_exist_ok=True)
        status, body = answers_until(base, "ready")[-1]
        assert status == 200 and body["awards"] == 24
        page.reload(wait_until="domcontentloaded")
        wait_for_app(page)
        assert drawn_charts(page, at_least=1) >= 1
        assert not exceptions(page)
    finally:
        stop_server(process)


def test_ready_is_served_under_the_base_url_path_as_the_pages_are(page, tmp_path: Path) -> None:
    env = {"AIFUNDING_DATA": str(BUNDLED_DATA), "AIFUNDING_CACHE": str(tmp_path / "cache")}
    port = free_port()
    process = start_server(SERVE, port, OUTPUT.parent / "serve-base-path-server.log", env, base_path="funding/ai")
    base = f"http://127.0.0.1:{port}/funding/ai"
    try:
        status, body = answers_until(base, "ready")[-1]
        assert status == 200 and body["awards"] == 24
        with pytest.raises(urllib.error.HTTPError) as outside:  # not at the root as well: one address, as Streamlit's
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10)
        assert outside.value.code == 404
        page.goto(f"{base}/companies", wait_until="domcontentloaded")
        wait_for_app(page)
        assert drawn_charts(page, at_least=1) >= 1
        assert not exceptions(page)
    finally:
        stop_server(process)
