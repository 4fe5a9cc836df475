"""The cache's writer thread: files a write-behind cache has written while whoever asked goes on.

One thread for every cache of the process, so files are written one at a time, in the order they were handed
over (a package's tables before the views prepared from them). Python waits for them as it exits.

A page's run holds what it asks to be written until it is drawn (:func:`writes_held`): a first viewer of a
million awards waited for their tables and prepared views to be turned into files (3 to 4 s of pickling and
Arrow) while that work held Python's lock; held, it is done once the page is out, while the viewer reads it.
A reader in the same process waits for a file being written rather than working its value out again, but not
for one another run still holds, which it works out as another process would: two runs each waiting for the
other's files would wait for ever.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

# Each file asked for and not yet written or failed, by its path: what will write it, one future per asking (two
# runs may each hold a write of the same file, a package's tables validated by both).
_WRITING: dict[Path, list[Future[None]]] = {}
# The writes each holding thread has not handed over yet (see writes_held), and the futures among _WRITING's.
_HELD = threading.local()
_HELD_FUTURES: set[Future[None]] = set()
_LOCK = threading.Lock()
_WRITER: list[ThreadPoolExecutor] = []


def _finish_at_exit() -> None:
    """Wait for every write handed over, before Python stops its thread pools (a run still holding its own is not).

    A write uses thread pools of its own (pyarrow's ``from_pandas``), which refuse work once Python's exit has
    begun; a write handed over just before exit (a command, a benchmark's last page) then failed. Registered with
    ``threading``'s exit hooks, which run before ``concurrent.futures`` shuts its pools, as ``atexit`` does not.
    """
    wait_for_writes()


# Called in reverse order of registration: this one, registered after concurrent.futures' own, runs before it.
getattr(threading, "_register_atexit", atexit.register)(_finish_at_exit)


def write_behind(path: Path, write: Callable[[], None]) -> None:
    """Have the writer thread ``write()`` the file ``path``: now, or when this thread's held writes are handed over.

    :func:`wait_for_writes` waits for it. A write that fails is logged (nobody waits to be told): the value is
    worked out again next time.
    """
    future: Future[None] = Future()
    held: list[tuple[Path, Callable[[], None], Future[None]]] | None = getattr(_HELD, "writes", None)
    with _LOCK:
        _WRITING.setdefault(path, []).append(future)
        if held is not None:
            _HELD_FUTURES.add(future)

    def done(finished: Future[None]) -> None:
        with _LOCK:
            futures = _WRITING.get(path, [])
            if finished in futures:
                futures.remove(finished)
            if not futures:
                _WRITING.pop(path, None)

    future.add_done_callback(done)
    if held is None:
        _submit(path, write, future)
    else:
        held.append((path, write, future))


@contextlib.contextmanager
def writes_held() -> Iterator[None]:
    """Hold the files this thread asks to be written behind until the block ends, then hand them to the writer.

    Nested blocks hand over at the outermost's end. Asked to wait for a file it holds (:func:`wait_for_writes`),
    the thread hands over what it held up to that file's write, in order, and goes on holding the rest: a page that
    needs a package's tables on disk (the analytical engine's file is kept only in a whole entry) waits for them,
    not for its prepared views to be pickled too.
    """
    if getattr(_HELD, "writes", None) is not None:
        yield
        return
    _HELD.writes = []
    try:
        yield
    finally:
        _hand_over()


def wait_for_writes(path: Path | None = None) -> None:
    """Until the files handed to the writer thread (only ``path``, when given) are written, or have failed.

    When this thread holds ``path``, what it holds up to that file's write is handed over first (without ``path``,
    all it holds); another thread's held files are not waited for.
    """
    held = getattr(_HELD, "writes", None)
    if held:
        asked = [i for i, (file, _, _) in enumerate(held) if path is None or file == path]
        if asked:
            _hand_over(until=asked[-1] + 1)
    with _LOCK:
        files = list(_WRITING) if path is None else [path]
        pending = [f for file in files for f in _WRITING.get(file, ()) if f not in _HELD_FUTURES]
    for future in pending:
        with contextlib.suppress(Exception):
            future.result()


def pending_write(path: Path) -> Future[None] | None:
    """The last write of ``path`` asked for and not yet done (held by a run, or handed over), or None."""
    with _LOCK:
        futures = _WRITING.get(path)
        return futures[-1] if futures else None


def _hand_over(until: int | None = None) -> None:
    """Hand this thread's held writes (the first ``until`` of them; all, ending its hold) to the writer, in order."""
    held: list[tuple[Path, Callable[[], None], Future[None]]] = _HELD.writes
    if until is None:
        _HELD.writes = None
    else:
        held, _HELD.writes = held[:until], held[until:]
    for path, write, future in held:
        _submit(path, write, future)


def _submit(path: Path, write: Callable[[], None], future: Future[None]) -> None:
    with _LOCK:
        _HELD_FUTURES.discard(future)
        if not _WRITER:
            _WRITER.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="aifunding-cache-writer"))
        writer = _WRITER[0]
    try:
        writer.submit(_run, path, write, future)
    except RuntimeError as exc:  # the process is exiting: not written, said as a failed write is (not raised to a page)
        _failed(path, future, exc)


def _run(path: Path, write: Callable[[], None], future: Future[None]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        write()
    except BaseException as exc:
        _failed(path, future, exc)
    else:
        future.set_result(None)


def _failed(path: Path, future: Future[None], exc: BaseException) -> None:
    """Log the failed write of ``path``, then end ``future`` with ``exc``: whoever waits for it finds it logged."""
    log.warning("a derived value was not kept in the cache (%s): %s", path.name, exc)
    future.set_exception(exc)
