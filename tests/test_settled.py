"""The dashboard sets a loaded package aside from Python's cycle collector (``ui.loading.settled``).

A full collection went through every object of a million-award package and the server around it
(80 to 150 ms, paid by whichever filter change set it off). What a load leaves alive is frozen;
a package it replaces must still be freed, cycles included, once nothing refers to it.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))

from ui.loading import settled


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


def test_what_a_load_leaves_alive_is_set_aside_and_what_it_makes_after_is_not() -> None:
    package = settled(Package)
    assert gc.get_freeze_count() > 0
    assert not tracked(package) and not tracked(package.rows)
    later = Package()
    assert tracked(later)


def test_a_replaced_package_is_collected_once_the_next_one_is_loaded() -> None:
    first = settled(Package)
    gone = weakref.ref(first)
    del first  # dropped while frozen: its cycle keeps it until the collector sees it again
    gc.collect()
    assert gone() is not None
    second = settled(Package)
    assert gone() is None  # the next load handed it back and collected it
    assert not tracked(second)


def test_a_failed_load_leaves_nothing_frozen() -> None:
    settled(Package)

    def broken() -> Package:
        raise ValueError("not a package")

    with pytest.raises(ValueError):
        settled(broken)
    assert gc.get_freeze_count() == 0
