"""What the dashboard builds once per prepared package (views, figures, tables) and shares across sessions.

Every session's script thread reads and fills the one memo a prepared package carries
(:attr:`aifunding.analysis.view.Prepared.memo`): a value is built once per key, by the first session that
asks, while the others asking at the same time wait for that build.

A wait that would close a cycle of builds is seen and built through instead; a lock is not seen. So no build
may be asked for while a lock that another build could need is held: in particular not from a
``functools.cached_property`` getter, whose lock (Python 3.11) is one for every instance of its class. No getter
asks for one today.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar


class HasMemo(Protocol):
    """A prepared package: what :func:`remembered` reads of it."""

    @property
    def memo(self) -> dict[Any, Any]: ...


T = TypeVar("T")
# How many built artefacts a prepared package keeps (least recently used dropped first).
MEMO_ENTRIES = 256
# Every session's script thread reads and writes the memos: a lock around each look-up and store, and around
# the builds under way (_BUILDS) and who waits for which (_WAITING).
_MEMO_LOCK = threading.Lock()


@dataclass
class _Build:
    """A value being built for one memo key by one thread (``owner``); other threads asking for it wait."""

    owner: int
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    built: bool = False


# The builds under way, by the memo's id and key (each removed when its build returns or raises).
_BUILDS: dict[tuple[int, Hashable], _Build] = {}
# The build each waiting thread waits for, by thread: a wait that would come back to its own thread is not made.
_WAITING: dict[int, _Build] = {}


def remembered(prepared: HasMemo, key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` for ``key``, computed once per prepared package and then shared by every session.

    The memo lives on the prepared package, so a data change (a new load) starts empty. Sessions asking
    for a key another is building wait for that build rather than making their own: the dozens of viewers
    of a presenter's shared link, opened at once, build its view and charts once, not once each. When
    that build fails, each session that waited makes its own at once (so a failing build fails them all
    in the time of one, not one after another); a wait that would end in a cycle (this thread holding
    what the builder waits for) builds here instead. What is stored is never changed.
    """
    memo, me = prepared.memo, threading.get_ident()
    ours: _Build | None = None  # the build this thread makes for the others, if it makes one
    with _MEMO_LOCK:
        if key in memo:
            memo[key] = value = memo.pop(key)  # most recently used last
            return value
        under_way = _BUILDS.get((id(memo), key))
        if under_way is None:
            ours = _BUILDS[(id(memo), key)] = _Build(me)
        elif _waits_for(under_way, me):
            under_way = None  # a cycle: built here, as the others build theirs
        else:
            _WAITING[me] = under_way
    if under_way is not None:
        try:
            under_way.done.wait()
        finally:
            with _MEMO_LOCK:
                _WAITING.pop(me, None)
        if under_way.built:
            return under_way.value
    try:
        value = build()
        with _MEMO_LOCK:
            memo[key] = value
            while len(memo) > MEMO_ENTRIES:
                memo.pop(next(iter(memo)))
            if ours is not None:
                ours.value, ours.built = value, True
    finally:
        if ours is not None:
            with _MEMO_LOCK:
                del _BUILDS[(id(memo), key)]
            ours.done.set()
    return value


def _waits_for(build: _Build, thread: int) -> bool:
    """Whether ``build``'s owner is, through the builds each owner waits for, waiting for ``thread``."""
    seen: set[int] = set()
    owner = build.owner
    while owner not in seen:
        if owner == thread:
            return True
        seen.add(owner)
        waited = _WAITING.get(owner)
        if waited is None:
            return False
        owner = waited.owner
    return False
