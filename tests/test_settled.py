"""The dashboard sets a loaded package aside from Python's cycle collector (``ui.loading.settle``).

A full collection went through every object of a million-award package and the server around it
(80 to 150 ms, paid by whichever filter change set it off). What is alive once a package is loaded is
frozen; a package it replaces must still be freed, cycles included, as soon as the caches let go of it.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_app_pages import open_page

from aifunding import BUNDLED_DATA
from aifunding.analysis.memo import remembered

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))

from ui.loading import settle


class Package:
    """Stands for a loaded package: it refers to itself, as the dashboard's memo of views does."""

    def __init__(self) -> None:
        self.me = self
        self.rows = [[i] for i in range(1000)]


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # other tests' objects go back to the collector


def tracked(obj: object) -> bool:
    """Whether the collector goes through ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def test_what_is_alive_at_a_load_is_set_aside_and_what_is_made_after_is_not() -> None:
    package = Package()
    settle(package)  # type: ignore[arg-type]
    assert gc.get_freeze_count() > 0
    assert not tracked(package) and not tracked(package.rows)
    later = Package()
    assert tracked(later)
    settle(package)  # type: ignore[arg-type]  # the same package on the next rerun: nothing more is frozen
    assert tracked(later)


def test_a_replaced_package_is_collected_when_the_next_one_is_settled() -> None:
    first = Package()
    settle(first)  # type: ignore[arg-type]
    gone = weakref.ref(first)
    del first  # dropped while frozen: its cycle keeps it until the collector sees it again
    gc.collect()
    assert gone() is not None
    second = Package()
    settle(second)  # type: ignore[arg-type]
    assert gone() is None  # handed back to the collector and collected
    assert not tracked(second)


def test_a_package_pushed_out_by_reloads_is_freed_by_the_reload_that_pushes_it_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The dashboard keeps the last four loads of a package: the fourth change of its files (the fifth load) pushes
    the first out, and that load's settling frees it, cycles and all, not the load after."""
    data = shutil.copytree(BUNDLED_DATA, tmp_path / "data")
    monkeypatch.setenv("AIFUNDING_DATA", str(data))
    at = open_page("overview")
    loading = sys.modules["ui.loading"]
    prepared = loading._settled[0]()
    assert prepared is not None and not tracked(prepared)
    # A page's memo may refer back to its package (a table's closure over the page's globals): a cycle,
    # which only the collector frees. Made sure of here, so refcounting alone cannot free it.
    remembered(prepared, ("test", "cycle"), lambda held=prepared: [held])
    first = weakref.ref(prepared)
    del prepared
    descriptor = data / "datapackage.json"
    for change in range(1, 5):
        stat = descriptor.stat()
        os.utime(descriptor, ns=(stat.st_atime_ns, stat.st_mtime_ns + change * 1_000_000_000))
        at.run()
        assert not at.exception
        assert loading._settled[0]() is not first()  # each change is a new load, settled
    assert first() is None


def _new_process(monkeypatch: pytest.MonkeyPatch, failed: threading.Event | None = None) -> list[int]:
    """The loading state of a new process (no package settled, no load failed unless ``failed`` is set), and the
    generations ``gc.collect`` is asked to collect from then on."""
    loading = sys.modules["ui.loading"]
    monkeypatch.setattr(loading, "_settled", [])
    monkeypatch.setattr(loading, "_failed_since_settled", failed or threading.Event())
    generations: list[int] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda generation=2: generations.append(generation) or collect(generation))
    return generations


def test_the_first_package_is_settled_without_a_full_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full pass took 0.1 to 0.3 s of a million awards' first page (every tuple made by the load); the
    old generation's garbage of the first load waits, frozen, for the next package's settling."""
    collect = gc.collect
    generations = _new_process(monkeypatch)
    old_garbage = Package()
    gone = weakref.ref(old_garbage)
    collect()  # alive at this pass, so now in the old generation
    del old_garbage
    first = Package()
    settle(first)  # type: ignore[arg-type]
    assert generations == [1]
    assert gone() is not None and not tracked(first)
    settle(Package())  # type: ignore[arg-type]  # a package replacing it: everything is gone through again
    assert generations == [1, 2]
    assert gone() is None


def test_the_first_package_opened_is_set_aside_before_the_collector_is_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once back on, the collector's first pass went through every object the load had just made (0.07 to 0.2 s
    of a million awards' first page) only to find them alive."""
    from aifunding.loading.package import package_signature

    loading = sys.modules["ui.loading"]
    generations = _new_process(monkeypatch)
    collecting: list[bool] = []
    set_aside = loading._set_aside_first
    monkeypatch.setattr(loading, "_set_aside_first", lambda p: collecting.append(gc.isenabled()) or set_aside(p))
    loading._prepared.clear()
    try:
        prepared, _ = loading._prepared(str(BUNDLED_DATA), package_signature(BUNDLED_DATA))
        assert collecting == [False] and gc.isenabled()
        assert loading._settled[0]() is prepared and not tracked(prepared) and not tracked(prepared.awards)
        settle(prepared)  # what load() then does: already settled, nothing more
        assert generations == []
    finally:
        loading._prepared.clear()


@pytest.mark.parametrize("before", ["a package settled", "a failed load"])
def test_a_package_after_another_or_after_a_failed_load_is_left_to_settle(
    monkeypatch: pytest.MonkeyPatch, before: str
) -> None:
    """Those are set aside only after a full collection: settle() makes it once the caches let go of the old one."""
    loading = sys.modules["ui.loading"]
    old = Package()
    failed = threading.Event()
    monkeypatch.setattr(loading, "_settled", [weakref.ref(old)] if before == "a package settled" else [])
    monkeypatch.setattr(loading, "_failed_since_settled", failed)
    if before == "a failed load":
        failed.set()
    package = Package()
    frozen = gc.get_freeze_count()
    loading._set_aside_first(package)
    assert tracked(package) and gc.get_freeze_count() == frozen
    assert (loading._settled[0]() is old) if before == "a package settled" else not loading._settled


def test_after_a_failed_load_the_first_package_gets_a_full_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed load's cycles may be a whole package's: they are not set aside for the server's life."""
    failed = threading.Event()
    generations = _new_process(monkeypatch, failed)
    failed.set()  # what load() does when opening the package raises
    settle(Package())  # type: ignore[arg-type]
    assert generations == [2] and not failed.is_set()


def test_a_load_that_fails_is_remembered_for_the_next_settling(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loading = sys.modules["ui.loading"]
    failed = threading.Event()
    monkeypatch.setattr(loading, "_failed_since_settled", failed)
    monkeypatch.setenv("AIFUNDING_DATA", str(tmp_path / "missing"))
    at = open_page("overview", loads=False)
    assert at.error and failed.is_set()
