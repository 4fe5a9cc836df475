"""The cache's writer thread: what a page's run holds is written once the page is out, in order, and never waited
for by another run; what is handed over just before the process exits is still written."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aifunding import BUNDLED_DATA
from aifunding.loading.cache import REPORT, PackageCache
from aifunding.loading.package import load_package
from aifunding.loading.writer import wait_for_writes, write_behind, writes_held


def _recorder(written: list[str], name: str):  # type: ignore[no-untyped-def]
    return lambda: written.append(name)


def test_writes_held_by_a_block_are_written_when_it_ends_in_the_order_asked(tmp_path: Path) -> None:
    written: list[str] = []
    with writes_held():
        write_behind(tmp_path / "a", _recorder(written, "a"))
        write_behind(tmp_path / "b", _recorder(written, "b"))
        with writes_held():  # a block inside another hands over nothing at its end
            write_behind(tmp_path / "c", _recorder(written, "c"))
        wait_for_writes(tmp_path / "elsewhere")  # a file it does not hold: nothing handed over
        assert written == []
    wait_for_writes()
    assert written == ["a", "b", "c"]


def test_without_a_block_a_write_is_handed_over_at_once(tmp_path: Path) -> None:
    started, release, written = threading.Event(), threading.Event(), []

    def slow() -> None:
        started.set()
        assert release.wait(30)
        written.append("slow")

    write_behind(tmp_path / "slow", slow)
    assert started.wait(30)  # begun by the writer thread while this one goes on
    release.set()
    wait_for_writes(tmp_path / "slow")
    assert written == ["slow"]


def test_waiting_for_a_file_it_holds_hands_over_what_the_thread_holds_and_it_goes_on_holding(tmp_path: Path) -> None:
    written: list[str] = []
    with writes_held():
        write_behind(tmp_path / "a", _recorder(written, "a"))
        write_behind(tmp_path / "b", _recorder(written, "b"))
        wait_for_writes(tmp_path / "b")  # the tables before the views kept from them: both, in order
        assert written == ["a", "b"]
        write_behind(tmp_path / "c", _recorder(written, "c"))
        wait_for_writes(tmp_path / "a")  # written already: c stays held
        assert written == ["a", "b"]
    wait_for_writes()
    assert written == ["a", "b", "c"]


def test_waiting_for_a_file_hands_over_only_what_was_held_up_to_it(tmp_path: Path) -> None:
    """A page that needs its package's tables on disk (the engine's file) waits for them, not for its prepared
    views to be pickled as well: those stay held until the page is drawn."""
    written: list[str] = []
    with writes_held():
        write_behind(tmp_path / "tables", _recorder(written, "tables"))
        write_behind(tmp_path / "views", _recorder(written, "views"))
        wait_for_writes(tmp_path / "tables")
        assert written == ["tables"]
        wait_for_writes()  # and still held
        assert written == ["tables", "views"]


def test_two_runs_holding_a_write_of_the_same_file_each_wait_for_their_own(tmp_path: Path) -> None:
    written: list[str] = []
    other_holds, other_may_end = threading.Event(), threading.Event()

    def other_run() -> None:
        with writes_held():
            write_behind(tmp_path / "report", _recorder(written, "other"))
            other_holds.set()
            assert other_may_end.wait(30)

    other = threading.Thread(target=other_run)

    def mine() -> None:
        time.sleep(0.3)  # written well after the wait below began, if it does not wait
        written.append("mine")

    with writes_held():
        write_behind(tmp_path / "report", mine)
        other.start()  # asks for the same file after this run did
        assert other_holds.wait(30)
        wait_for_writes(tmp_path / "report")  # its own write, not the other's, which that run still holds
        assert written == ["mine"]
    other_may_end.set()
    other.join(30)
    wait_for_writes()
    assert written == ["mine", "other"]


def test_another_thread_does_not_wait_for_a_file_a_run_still_holds(tmp_path: Path) -> None:
    """Two runs each waiting for the other's held files would wait for ever: the other works the value out."""
    written: list[str] = []
    with writes_held():
        write_behind(tmp_path / "a", _recorder(written, "a"))
        waiter = threading.Thread(target=wait_for_writes, args=(tmp_path / "a",))
        waiter.start()
        waiter.join(30)
        assert not waiter.is_alive() and written == []
    wait_for_writes()
    assert written == ["a"]


def test_a_write_that_fails_is_logged_and_waited_for_without_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def full() -> None:
        raise OSError(28, "No space left on device")

    with caplog.at_level(logging.WARNING, logger="aifunding.loading.writer"):
        write_behind(tmp_path / "value.pickle", full)
        wait_for_writes(tmp_path / "value.pickle")
    assert "value.pickle" in caplog.text and "No space left on device" in caplog.text


def test_a_write_handed_over_as_the_process_exits_is_still_written(tmp_path: Path) -> None:
    """A write uses thread pools of its own (pyarrow's from_pandas on a long frame), which Python shuts at exit."""
    out = tmp_path / "written"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "import pandas as pd, pyarrow as pa\n"
        "from aifunding.loading.writer import write_behind\n"
        "def write():\n"
        "    time.sleep(0.3)  # still writing when the main thread ends\n"
        "    texts = [str(i) for i in range(20000)]  # text: converted in pyarrow's pool, as whole numbers are not\n"
        "    table = pa.Table.from_pandas(pd.DataFrame({'a': texts, 'b': texts}, dtype=object))\n"
        "    Path(sys.argv[1]).write_text(str(table.num_rows))\n"
        "write_behind(Path(sys.argv[1]), write)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "20000", done.stderr


def test_a_write_behind_cache_holds_a_new_entry_until_the_block_ends_and_its_own_thread_reads_it(
    tmp_path: Path,
) -> None:
    cache = PackageCache(tmp_path / "cache", write_behind=True)
    with writes_held():
        key = load_package(BUNDLED_DATA, cache=cache).cache_key
        assert key is not None and not (cache.entry(key) / REPORT).exists()
        elsewhere: list[object] = []
        reader = threading.Thread(target=lambda: elsewhere.append(cache.get(key)))
        reader.start()
        reader.join(60)
        assert elsewhere == [None]  # another run finds no entry yet, as another process would
        kept = cache.derived(key, "probe", "0" * 64, lambda: {"n": 1})
        assert kept == {"n": 1} and not list(cache.entry(key).glob("probe-*"))
        assert cache.get(key) is not None  # this thread waits for its own entry
    wait_for_writes()
    assert cache.kept(key, "probe", "0" * 64) == {"n": 1}


def test_a_value_kept_while_another_run_holds_its_entry_s_tables_is_kept_once_they_are_written(
    tmp_path: Path,
) -> None:
    """A second session, given the package the first one's run is still loading, keeps a value (a first view's codes)
    whose write is handed over before the first run's tables: it waits for them rather than being dropped."""
    cache = PackageCache(tmp_path / "cache", write_behind=True)
    loaded, other_done = threading.Event(), threading.Event()
    keys: list[str | None] = []

    def first_run() -> None:
        with writes_held():
            keys.append(load_package(BUNDLED_DATA, cache=cache).cache_key)
            loaded.set()
            assert other_done.wait(30)  # its page is still being drawn while the other session's run ends

    first = threading.Thread(target=first_run)
    first.start()
    assert loaded.wait(60)
    key = keys[0]
    assert key is not None
    with writes_held():  # the other session's run
        assert cache.derived(key, "codes", "0" * 64, lambda: {"codes": [1, 2]}) == {"codes": [1, 2]}
    wait_for_writes(cache.entry(key) / f"codes-{'0' * 32}.pickle")  # tried, before the tables are written
    other_done.set()
    first.join(60)
    wait_for_writes()
    assert (cache.entry(key) / REPORT).is_file()
    assert cache.kept(key, "codes", "0" * 64) == {"codes": [1, 2]}


class _Grows:
    """Adds a key to ``into`` the first ``times`` it is pickled: another thread filling a cache inside a kept value."""

    def __init__(self, into: dict, times: int) -> None:
        self.into, self.times = into, times

    def __reduce__(self):  # type: ignore[no-untyped-def]
        if self.times:
            self.times -= 1
            self.into[f"filled {self.times}"] = self.times
        return (int, (7,))


def test_a_value_changed_while_it_is_pickled_is_pickled_again(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    value: dict = {"n": 1}
    value["grows"] = _Grows(value, times=1)
    cache.derived(key, "probe", "0" * 64, lambda: value)
    assert cache.kept(key, "probe", "0" * 64) == {"n": 1, "grows": 7, "filled 0": 0}


def test_a_value_that_keeps_changing_while_pickled_is_not_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    value: dict = {"n": 1}
    value["grows"] = _Grows(value, times=10)
    with caplog.at_level(logging.WARNING, logger="aifunding.loading.cache"):
        assert cache.derived(key, "probe", "0" * 64, lambda: value) is value
    assert cache.kept(key, "probe", "0" * 64) is None and not list(cache.entry(key).glob("*probe-*"))
    assert "probe" in caplog.text and "changed" in caplog.text


def test_a_write_handed_over_once_the_writer_is_shut_is_logged_not_raised_to_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A page whose run ends while the server exits hands its held writes to a writer that takes no more work."""
    from concurrent.futures import ThreadPoolExecutor

    from aifunding.loading import writer

    closed = ThreadPoolExecutor(1)
    closed.shutdown()
    monkeypatch.setattr(writer, "_WRITER", [closed])
    written: list[str] = []
    with caplog.at_level(logging.WARNING, logger="aifunding.loading.writer"), writes_held():
        write_behind(tmp_path / "late.pickle", _recorder(written, "late"))
    wait_for_writes(tmp_path / "late.pickle")
    assert written == [] and "late.pickle" in caplog.text


def test_a_value_too_deep_to_pickle_is_not_pickled_again(tmp_path: Path) -> None:
    """Only a value changed while pickled is tried again: one too deep fails the same way every time."""
    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    tries: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        from aifunding.loading import kept_views

        dump = kept_views.Pickler.dump
        patch.setattr(kept_views.Pickler, "dump", lambda self, value: tries.append(1) or dump(self, value))
        with pytest.raises(RecursionError):
            cache.derived(key, "deep", "0" * 64, lambda: deep)
    assert tries == [1]
