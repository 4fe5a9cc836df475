"""Live sessions in the store: one suite on the folder backend and on a real PostgreSQL server (tests/pgserver.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aifunding.store.base import StoreSettingError, StoreUnavailable
from aifunding.store.config import open_live
from aifunding.store.live import (
    IDLE_ENV,
    STATE_BYTES,
    FolderLive,
    LiveRefused,
    LiveStore,
    idle_limit,
    is_live_id,
    is_live_key,
    key_hash,
)
from aifunding.store.live_postgres import PostgresLive
from aifunding.store.live_watch import LiveWatcher

from pgserver import PostgresServer

IDLE = timedelta(minutes=30)
VIEW = {"page": "companies", "params": {"country": "JP"}}


class Clock:
    """The stores' clock: a fixed start, moved by hand (tests of idling move it past the limit)."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.moment

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.moment += delta


@dataclass
class Place:
    """Where one test's live sessions live (a new folder or database); each ``open`` is another server on it."""

    make: Callable[..., LiveStore]
    clock: Clock
    unusable: LiveStore  # its folder or database cannot be reached; "secret" is in its address
    kind: str

    def open(self, **options: object) -> LiveStore:
        return self.make(IDLE, self.clock, **options)


@pytest.fixture(params=["folder", pytest.param("postgresql", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "folder":
        (tmp_path / "secret-file").write_text("not a folder")
        return Place(
            lambda idle, now, **options: FolderLive(tmp_path / "live", idle, now, **options),
            Clock(),
            FolderLive(tmp_path / "secret-file" / "live"),
            "folder",
        )
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dsn = server.new_database()
    missing = f"postgresql://postgres:secret@/x?host={tmp_path / 'no-server'}&connect_timeout=2"
    return Place(
        lambda idle, now, **options: PostgresLive(dsn, idle, now, **options),
        Clock(),
        PostgresLive(missing),
        "postgresql",
    )


@pytest.fixture
def live(place: Place) -> LiveStore:
    return place.open()


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> float:
    """Seconds until ``condition()`` held (fails after ``seconds``)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "not within the time allowed"
        time.sleep(0.01)
    return time.monotonic() - start


# --- Beginning, moving, reading -------------------------------------------------------------------------


def test_a_new_session_has_an_unguessable_id_and_a_key_that_is_never_stored(live: LiveStore) -> None:
    live_id, key = live.begin(VIEW)
    other_id, other_key = live.begin(VIEW)
    assert is_live_id(live_id) and is_live_key(key)
    assert live_id != other_id and key != other_key
    record = live.read(live_id)
    assert record is not None
    assert (record.version, record.state, record.ended) == (1, VIEW, False)
    assert record.key_digest == key_hash(key) and key not in repr(record)
    assert record.drives(key) and not record.drives(other_key)


def test_the_key_moves_the_session_and_each_move_is_a_new_version(live: LiveStore) -> None:
    live_id, key = live.begin({})
    assert live.publish(live_id, key, VIEW) == 2
    moved = {"page": "programmes", "params": {"cur": "USD"}, "slide": 3}
    assert live.publish(live_id, key, moved) == 3
    record = live.read(live_id)
    assert record is not None and (record.version, record.state) == (3, moved)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("A" * 32, id="forged"),
        pytest.param("", id="missing"),
        pytest.param("x' OR '1'='1", id="injection"),
        pytest.param(None, id="none"),
    ],
)
def test_anything_but_the_key_cannot_move_or_end_a_session(live: LiveStore, key: str) -> None:
    live_id, _ = live.begin(VIEW)
    with pytest.raises(LiveRefused, match="does not drive"):
        live.publish(live_id, key, {"page": "data"})
    assert live.end(live_id, key) is False
    record = live.read(live_id)
    assert record is not None and (record.version, record.state, record.ended) == (1, VIEW, False)


@pytest.mark.parametrize(
    "live_id", ["", "short", "../../etc/passwd-xxxxxxxx", "a" * 23, "a/b" + "c" * 19, "ä" * 22, "'; DROP TABLE x--ab"]
)
def test_a_malformed_or_unknown_id_finds_nothing(place: Place, live_id: str) -> None:
    live = place.open()
    _, key = live.begin(VIEW)
    assert live.read(live_id) is None
    with pytest.raises(LiveRefused):
        live.publish(live_id, key, VIEW)
    assert live.end(live_id, key) is False
    assert place.unusable.read(live_id) is None  # refused before the folder or database is touched


def test_a_view_must_be_small_json(live: LiveStore) -> None:
    live_id, key = live.begin(VIEW)
    with pytest.raises(ValueError, match=f"at most {STATE_BYTES:,} bytes"):
        live.publish(live_id, key, {"params": {"org": "x" * STATE_BYTES}})
    with pytest.raises(ValueError, match="JSON"):
        live.begin({"page": object()})


def test_another_server_on_the_same_store_sees_the_moves(place: Place) -> None:
    presenter_server, follower_server = place.open(), place.open()
    live_id, key = presenter_server.begin(VIEW)
    presenter_server.publish(live_id, key, {"page": "world"})
    record = follower_server.read(live_id)
    assert record is not None and record.state == {"page": "world"}
    follower_server.publish(live_id, key, {"page": "data"})  # the key drives from any server
    assert presenter_server.read(live_id).state == {"page": "data"}  # type: ignore[union-attr]


def test_concurrent_moves_are_never_lost(place: Place) -> None:
    servers = [place.open() for _ in range(4)]
    live_id, key = servers[0].begin({})
    threads = [
        threading.Thread(target=lambda s=s: [s.publish(live_id, key, {"n": n}) for n in range(10)]) for s in servers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert servers[0].read(live_id).version == 41  # type: ignore[union-attr]


# --- Ending ---------------------------------------------------------------------------------------------


def test_an_ended_session_keeps_its_last_view_and_takes_no_more_moves(live: LiveStore) -> None:
    live_id, key = live.begin(VIEW)
    assert live.end(live_id, key) is True
    record = live.read(live_id)
    assert record is not None and record.ended and record.state == VIEW and record.version == 2
    with pytest.raises(LiveRefused, match="has ended"):
        live.publish(live_id, key, {"page": "data"})
    assert live.end(live_id, key) is True and live.read(live_id).version == 2  # type: ignore[union-attr]


def test_a_session_idle_past_the_limit_is_over(place: Place) -> None:
    live = place.open()
    live_id, key = live.begin(VIEW)
    place.clock.advance(IDLE - timedelta(seconds=1))
    live.publish(live_id, key, {"page": "data"})  # a move restarts the idle time
    place.clock.advance(IDLE - timedelta(seconds=1))
    record = live.read(live_id)
    assert record is not None and not record.over(place.clock(), IDLE)
    place.clock.advance(timedelta(seconds=2))
    assert live.read(live_id).over(place.clock(), IDLE)  # type: ignore[union-attr]
    with pytest.raises(LiveRefused, match="has ended"):
        live.publish(live_id, key, VIEW)


def test_records_long_over_are_removed_when_a_session_begins(place: Place) -> None:
    live = place.open()
    old_id, _ = live.begin(VIEW)
    place.clock.advance(IDLE + timedelta(hours=12))
    live.begin(VIEW)
    assert live.read(old_id) is not None  # still tells a follower who reloads that it ended
    place.clock.advance(timedelta(hours=13))
    live.begin(VIEW)
    assert live.read(old_id) is None


def test_a_store_holds_a_bounded_number_of_live_sessions(place: Place) -> None:
    live = place.open(max_sessions=3)
    keys = [live.begin(VIEW) for _ in range(3)]
    with pytest.raises(LiveRefused, match="as many live sessions as it may"):
        live.begin(VIEW)
    live.end(*keys[0])  # an ended one makes room
    live.begin(VIEW)


def test_an_unusable_store_says_so_without_its_address(place: Place) -> None:
    some_id = "A" * 22
    for action in (
        lambda: place.unusable.begin(VIEW),
        lambda: place.unusable.publish(some_id, "k" * 32, VIEW),
        lambda: place.unusable.read(some_id),
    ):
        with pytest.raises(StoreUnavailable, match="cannot be used") as raised:
            action()
        assert "secret" not in str(raised.value)


def test_the_folder_is_private(tmp_path: Path) -> None:
    live = FolderLive(tmp_path / "live", IDLE)
    live.begin(VIEW)
    assert (tmp_path / "live").stat().st_mode & 0o777 == 0o700
    assert all(p.suffix == ".json" or p.name == "lock" for p in (tmp_path / "live").iterdir())


# --- The watcher: one per server ------------------------------------------------------------------------


def test_the_watcher_sees_a_move_made_on_another_server_within_a_second(place: Place) -> None:
    presenter_server = place.open()
    watcher = LiveWatcher(place.open(), interval=0.25)
    try:
        live_id, key = presenter_server.begin(VIEW)
        assert watcher.record(live_id).version == 1  # type: ignore[union-attr]
        for n in range(2, 6):
            presenter_server.publish(live_id, key, {"page": "world", "n": n})
            waited = wait_until(lambda n=n: watcher.record(live_id).version == n)  # type: ignore[union-attr]
            assert waited < 1.0
        presenter_server.end(live_id, key)
        wait_until(lambda: watcher.record(live_id).ended)  # type: ignore[union-attr]
    finally:
        watcher.stop()


def test_followers_asking_the_watcher_cost_no_reads(place: Place) -> None:
    presenter_server = place.open()
    watcher = LiveWatcher(place.open(), interval=0.25)
    try:
        live_id, key = presenter_server.begin(VIEW)
        watcher.record(live_id)
        time.sleep(0.6)  # the thread's first round reads the new session once
        before = watcher.reads
        for _ in range(1000):  # a thousand followers' ticks
            watcher.record(live_id)
        time.sleep(0.6)
        assert watcher.reads == before
        presenter_server.publish(live_id, key, {"page": "data"})
        wait_until(lambda: watcher.record(live_id).version == 2)  # type: ignore[union-attr]
        time.sleep(0.6)
        assert watcher.reads == before + 1  # one read per move, however many ask
    finally:
        watcher.stop()


@pytest.mark.postgres
def test_postgresql_notifies_the_watcher_without_polling(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.new_database()
    presenter_server = PostgresLive(dsn, IDLE)
    watcher = LiveWatcher(PostgresLive(dsn, IDLE), interval=10.0)  # a poll would take 10 s
    try:
        live_id, key = presenter_server.begin(VIEW)
        watcher.record(live_id)
        time.sleep(0.5)
        presenter_server.publish(live_id, key, {"page": "data"})
        assert wait_until(lambda: watcher.record(live_id).version == 2) < 1.0  # type: ignore[union-attr]
    finally:
        watcher.stop()


def test_the_watcher_forgets_sessions_nobody_asks_about(place: Place) -> None:
    moment = [0.0]
    watcher = LiveWatcher(place.open(), interval=0.05, forget_after=60, clock=lambda: moment[0])
    try:
        live_id, _ = place.open().begin(VIEW)
        watcher.record(live_id)
        assert watcher.watched() == [live_id]
        moment[0] = 61
        wait_until(lambda: watcher.watched() == [])
    finally:
        watcher.stop()


class Wakes:
    """Followers' wake-ups, counted; a follower that is ``gone`` answers False, as a closed page does."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.gone: set[str] = set()
        self._lock = threading.Lock()

    def wake(self, name: str) -> Callable[[], bool]:
        def woken() -> bool:
            with self._lock:
                self.count[name] = self.count.get(name, 0) + 1
            return name not in self.gone

        return woken

    def total(self) -> int:
        with self._lock:
            return sum(self.count.values())


def test_followers_cost_nothing_while_the_presenter_stays_and_are_woken_once_per_move(place: Place) -> None:
    presenter_server = place.open()
    watcher = LiveWatcher(place.open(), interval=0.05)
    wakes = Wakes()
    try:
        live_id, key = presenter_server.begin(VIEW)
        watcher.record(live_id)
        for n in range(100):
            watcher.follow(live_id, f"follower-{n}", wakes.wake(f"follower-{n}"))
        assert watcher.followers(live_id) == 100
        time.sleep(0.5)  # ten of the watcher's rounds
        assert wakes.total() == 0 and watcher.reads <= 2
        presenter_server.publish(live_id, key, {"page": "data"})
        wait_until(lambda: wakes.total() == 100)
        time.sleep(0.5)
        assert wakes.count == {f"follower-{n}": 1 for n in range(100)}
        assert watcher.record(live_id).version == 2  # type: ignore[union-attr]
        # A move this server made itself (refresh) wakes them at once, and only once.
        presenter_server.publish(live_id, key, {"page": "world"})
        watcher.refresh(live_id)
        assert wakes.total() == 200
        time.sleep(0.5)
        assert wakes.total() == 200
    finally:
        watcher.stop()


def test_closed_unfollowed_and_failing_followers_are_dropped_without_stopping_the_others(place: Place) -> None:
    presenter_server = place.open()
    watcher = LiveWatcher(place.open(), interval=0.05)
    wakes = Wakes()
    other_id, _ = presenter_server.begin(VIEW)

    def broken() -> bool:
        raise RuntimeError("a page that cannot be woken")

    try:
        live_id, key = presenter_server.begin(VIEW)
        watcher.record(live_id)
        for name in ("stays", "closes", "leaves", "moves on"):
            watcher.follow(live_id, name, wakes.wake(name))
        watcher.follow(live_id, "broken", broken)
        wakes.gone.add("closes")
        watcher.unfollow("leaves")
        watcher.follow(other_id, "moves on", wakes.wake("moves on"))  # following another session drops the first
        presenter_server.publish(live_id, key, {"page": "data"})
        wait_until(lambda: watcher.followers(live_id) == 1)
        assert wakes.count == {"stays": 1, "closes": 1}
    finally:
        watcher.stop()


def test_followers_are_woken_when_the_session_ends_or_idles_past_the_limit(place: Place) -> None:
    presenter_server = place.open()
    watcher = LiveWatcher(place.open(), interval=0.05)
    wakes = Wakes()
    try:
        ended_id, ended_key = presenter_server.begin(VIEW)
        idle_id, _ = presenter_server.begin(VIEW)
        for live_id in (ended_id, idle_id):
            watcher.record(live_id)
            watcher.follow(live_id, live_id, wakes.wake(live_id))
        time.sleep(0.3)
        presenter_server.end(ended_id, ended_key)
        wait_until(lambda: wakes.count.get(ended_id) == 1)
        assert idle_id not in wakes.count
        place.clock.advance(IDLE + timedelta(seconds=1))
        wait_until(lambda: wakes.count.get(idle_id) == 1)
        time.sleep(0.3)
        assert wakes.count == {ended_id: 1, idle_id: 1}  # once each, not every round after
    finally:
        watcher.stop()


def test_a_follower_exploring_alone_is_woken_only_when_the_session_ends(place: Place) -> None:
    presenter_server = place.open()
    watcher = LiveWatcher(place.open(), interval=0.05)
    wakes = Wakes()
    try:
        live_id, key = presenter_server.begin(VIEW)
        watcher.record(live_id)
        watcher.follow(live_id, "attached", wakes.wake("attached"))
        watcher.follow(live_id, "alone", wakes.wake("alone"), every_move=False)
        time.sleep(0.3)
        for n in range(3):
            presenter_server.publish(live_id, key, {"page": "data", "n": n})
            wait_until(lambda n=n: wakes.count.get("attached") == n + 1)
        assert "alone" not in wakes.count
        presenter_server.end(live_id, key)
        wait_until(lambda: wakes.count.get("alone") == 1)
        assert wakes.count == {"attached": 4, "alone": 1}
    finally:
        watcher.stop()


def test_a_followed_session_is_not_forgotten(place: Place) -> None:
    moment = [0.0]
    watcher = LiveWatcher(place.open(), interval=0.05, forget_after=60, clock=lambda: moment[0])
    try:
        live_id, _ = place.open().begin(VIEW)
        watcher.record(live_id)
        watcher.follow(live_id, "someone", lambda: True)
        moment[0] = 61
        time.sleep(0.3)
        assert watcher.watched() == [live_id]
        watcher.unfollow("someone")
        wait_until(lambda: watcher.watched() == [])
    finally:
        watcher.stop()


# --- Settings -------------------------------------------------------------------------------------------


def test_live_sessions_live_where_the_uploads_do(tmp_path: Path) -> None:
    folder = open_live({"AIFUNDING_STORE": str(tmp_path / "store")})
    assert isinstance(folder, FolderLive) and folder.folder == tmp_path / "store" / "live"
    database = open_live({"AIFUNDING_STORE": "postgresql://u:secret@db/x"})
    assert isinstance(database, PostgresLive)
    with pytest.raises(StoreSettingError, match="use a postgresql:// address") as raised:
        open_live({"AIFUNDING_STORE": "mysql://u:secret@db/x"})
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"), [("", timedelta(minutes=60)), ("5", timedelta(minutes=5)), (" 1_440 ", timedelta(days=1))]
)
def test_the_idle_limit_is_an_hour_unless_set(value: str, expected: timedelta) -> None:
    assert idle_limit({IDLE_ENV: value}) == expected


@pytest.mark.parametrize(("value", "message"), [("soon", "not a whole number"), ("0", "must be at least 1")])
def test_a_bad_idle_limit_names_its_variable(value: str, message: str) -> None:
    with pytest.raises(StoreSettingError, match=f"{IDLE_ENV}.*{message}"):
        open_live({IDLE_ENV: value})
