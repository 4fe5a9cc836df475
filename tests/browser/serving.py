"""Starting and stopping a real ``streamlit run`` server, and the Chromium to drive it.

Shared by the browser tests (tests/browser/conftest.py) and the benchmarks (benchmarks/), so both
start the dashboard the same way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AIFUNDING_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    app: Path, port: int, log: Path, env: dict[str, str] | None = None, base_path: str = ""
) -> subprocess.Popen:
    """``streamlit run`` headless on ``port`` (under ``base_path``, its ``server.baseUrlPath``, when given), output
    to ``log``; returns once it answers its health check."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        *(("--server.baseUrlPath", base_path) if base_path else ()),
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:  # a file, not a pipe: an unread pipe would stall a chatty server
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=handle, stderr=subprocess.STDOUT
        )
    health = f"http://127.0.0.1:{port}{'/' + base_path.strip('/') if base_path else ''}/_stcore/health"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{app.name}: streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(health, timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"{app.name}: no health check answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def port_of(process: subprocess.Popen) -> str:
    """The port a server from :func:`start_server` listens on."""
    return process.args[process.args.index("--server.port") + 1]
