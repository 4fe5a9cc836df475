"""Shared fixtures: the bundled package (loaded once) and small packages written per test."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from aifunding import BUNDLED_DATA
from aifunding.analysis.engine_tables import spark_session, stop_spark
from aifunding.analysis.view import Prepared, prepare
from aifunding.loading.package import Package, load_package

from needs import require
from packages import write_package

# Property tests explore new examples on every run here; under CI (CI=true, as .ci/run sets) they draw
# the same examples each time, so a submission lands on what it was checked with, not on luck. A
# failure prints the blob that replays it (@reproduce_failure). No example has a deadline: a deadline is
# a timed assertion, and this machine is shared and noisy (an example took 256 ms against 200 under load).
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")

# The throwaway PostgreSQL server (tests/pgserver.py): its fixture, for any test module that asks.
pytest_plugins = ("pgserver",)

# The dashboard keeps validated packages in a cache folder (aifunding.loading.cache): the tests use
# their own, new for each run, never the user's ~/.cache. Servers the browser tests start inherit it.
_OWN_CACHE = None if "AIFUNDING_CACHE" in os.environ else tempfile.mkdtemp(prefix="aifunding-test-cache-")
if _OWN_CACHE:
    os.environ["AIFUNDING_CACHE"] = _OWN_CACHE
# Uploads kept by the dashboard's store (aifunding.store) go to a folder of this run, never the user's.
_OWN_STORE = None if "AIFUNDING_STORE" in os.environ else tempfile.mkdtemp(prefix="aifunding-test-store-")
if _OWN_STORE:
    os.environ["AIFUNDING_STORE"] = _OWN_STORE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the cache and store folders this run made (folders given by the caller are left alone)."""
    for folder in (_OWN_CACHE, _OWN_STORE):
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def bundled() -> Package:
    """The bundled data package, loaded and validated once per test session."""
    return load_package(BUNDLED_DATA)


@pytest.fixture(scope="session")
def prepared(bundled: Package) -> Prepared:
    """The bundled package joined once by ``view.prepare``, as every page starts from (read-only)."""
    return prepare(bundled)


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    """A folder holding the minimal valid package from tests/packages.py."""
    return write_package(tmp_path / "pkg")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (starting one costs seconds): the engines' tests share it."""
    require(
        shutil.which("java") is not None,
        "no Java runtime for PySpark (apt-get install default-jre-headless)",
        "the Spark tests",
    )
    require(
        importlib.util.find_spec("pyspark") is not None,
        "PySpark is not installed (pip install '.[spark]')",
        "the Spark tests",
    )
    yield spark_session()
    stop_spark()
