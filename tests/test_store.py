"""The upload store: one suite, run on the folder backend and on a real PostgreSQL server (tests/pgserver.py)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aifunding.data.limits import GB, MB
from aifunding.store.base import Store, StoreSettingError, StoreUnavailable, UploadTooLarge, Usage
from aifunding.store.config import open_store
from aifunding.store.folder import STAGING, FolderStore
from aifunding.store.postgres import PostgresStore
from aifunding.store.quotas import Held, Quotas

from pgserver import PostgresServer

DAY = timedelta(days=1)
NO_META: dict[str, str] = {}


class Clock:
    """The stores' clock: a fixed start, one second later at every reading, so each operation has its own time."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.moment += timedelta(seconds=1)
            return self.moment

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.moment += delta


@dataclass
class Place:
    """Where one test's uploads live (a new folder or a new database); each ``open`` is another server on it."""

    make: Callable[[Quotas, Clock], Store]
    clock: Clock
    unusable: Store  # a store whose folder or database cannot be reached; "secret" is in its address

    def open(self, quotas: Quotas | None = None) -> Store:
        return self.make(quotas or Quotas(), self.clock)


@pytest.fixture(params=["folder", pytest.param("postgresql", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """The same suite on both backends; PostgreSQL's server starts only when its tests run."""
    if request.param == "folder":
        (tmp_path / "secret-file").write_text("not a folder")
        return Place(
            lambda quotas, now: FolderStore(tmp_path / "uploads", quotas, now),
            Clock(),
            FolderStore(tmp_path / "secret-file" / "uploads"),
        )
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dsn = server.new_database()
    missing = f"postgresql://postgres:secret@/x?host={tmp_path / 'no-server'}&connect_timeout=2"
    return Place(lambda quotas, now: PostgresStore(dsn, quotas, now), Clock(), PostgresStore(missing))


@pytest.fixture
def store(place: Place) -> Store:
    """A store with the default quotas on a new place."""
    return place.open()


def blob(n: int, size: int = 100) -> bytes:
    """Content ``n`` of exactly ``size`` bytes, different for each ``n``."""
    return f"{n}:".encode().ljust(size, b".")


def held(store: Store, *blob_ids: str) -> list[bool]:
    """Whether each upload can still be read (reading marks it used)."""
    return [store.get(blob_id) is not None for blob_id in blob_ids]


# --- Keeping and giving back --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"id,amount\njp-1,72500000000\n", id="csv"),
        pytest.param(b"", id="empty"),  # nothing at all is still content
        pytest.param(bytes(range(256)) * 4, id="every-byte"),  # NUL included
        pytest.param("経済産業省".encode(), id="utf-8"),
    ],
)
def test_an_upload_comes_back_as_it_went_in(store: Store, content: bytes) -> None:
    meta = {"name": "補助金.csv", "kind": "csv"}
    blob_id = store.put(content, meta)
    assert blob_id == hashlib.sha256(content).hexdigest()
    got = store.get(blob_id)
    assert got is not None
    assert (got.blob_id, got.content, got.meta) == (blob_id, content, meta)
    assert got.created < got.last_used
    assert store.usage() == Usage(1, len(content))


def test_the_same_content_gets_the_same_id_and_keeps_its_first_meta(store: Store) -> None:
    first = store.put(blob(1), {"name": "first.csv"})
    again = store.put(blob(1), {"name": "second.csv"})
    assert again == first
    got = store.get(first)
    assert got is not None and got.meta == {"name": "first.csv"}
    assert store.usage() == Usage(1, 100)


@pytest.mark.parametrize(
    ("meta", "error", "message"),
    [
        ({"name": 1}, TypeError, "maps text to text"),
        ({"note": "x" * 70_000}, ValueError, "at most 65,536 bytes of JSON"),
    ],
)
def test_meta_must_be_a_little_text(store: Store, meta: dict[str, str], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        store.put(blob(1), meta)
    assert store.usage() == Usage(0, 0)


def test_an_unknown_id_finds_nothing(store: Store) -> None:
    unknown = hashlib.sha256(b"never uploaded").hexdigest()
    assert store.usage() == Usage(0, 0)
    assert store.get(unknown) is None
    assert store.delete(unknown) is False
    store.put(blob(1), NO_META)
    assert store.get(unknown) is None


MALFORMED = [
    "",
    "0" * 63,  # one short
    "0" * 65,  # one long
    "A" * 64,  # ids are lower-case
    "g" * 64,  # not hex
    "0" * 64 + "\n",
    "../" + "0" * 61,
    "0" * 32 + "/" + "0" * 31,
    "' OR '1'='1" + "0" * 53,
]


@pytest.mark.parametrize("blob_id", MALFORMED)
def test_a_malformed_id_is_refused_before_the_folder_or_database_is_touched(place: Place, blob_id: str) -> None:
    # The unusable store raises on any real lookup, so a None here means nothing was looked up.
    assert place.unusable.get(blob_id) is None
    assert place.unusable.delete(blob_id) is False
    store = place.open()
    store.put(blob(1), NO_META)
    assert store.get(blob_id) is None
    assert store.delete(blob_id) is False
    assert store.usage() == Usage(1, 100)


def test_a_deleted_upload_is_gone(store: Store) -> None:
    kept, gone = store.put(blob(1), NO_META), store.put(blob(2), NO_META)
    assert store.delete(gone) is True
    assert store.get(gone) is None
    assert store.delete(gone) is False
    assert held(store, kept) == [True]
    assert store.usage() == Usage(1, 100)
    assert store.put(blob(2), NO_META) == gone  # and can be uploaded again


def test_nothing_lists_the_uploads(store: Store) -> None:
    public = {name for name in dir(store) if not name.startswith("_") and callable(getattr(store, name))}
    assert public == {"put", "get", "delete", "usage"}


def test_an_unusable_store_says_so_without_its_address(place: Place) -> None:
    some_id = hashlib.sha256(b"x").hexdigest()
    for action in (
        lambda: place.unusable.put(b"x", NO_META),
        lambda: place.unusable.get(some_id),
        lambda: place.unusable.delete(some_id),
        place.unusable.usage,
    ):
        with pytest.raises(StoreUnavailable, match="cannot be used") as raised:
            action()
        assert "secret" not in str(raised.value)


# --- Quotas ---------------------------------------------------------------------------------------------


def test_an_upload_over_the_per_upload_quota_is_refused_by_name(place: Place) -> None:
    store = place.open(Quotas(upload_bytes=100, total_bytes=1000))
    kept = store.put(blob(1, size=100), NO_META)  # at the limit is allowed
    with pytest.raises(
        UploadTooLarge, match=r"101 bytes; this server accepts uploads of at most 100 bytes \(AIFUNDING_UPLOAD_BYTES\)"
    ):
        store.put(blob(2, size=101), NO_META)
    assert held(store, kept) == [True]
    assert store.usage() == Usage(1, 100)


def test_an_upload_over_the_total_quota_is_refused_without_evicting(place: Place) -> None:
    store = place.open(Quotas(upload_bytes=1000, total_bytes=150))
    kept = store.put(blob(1), NO_META)
    with pytest.raises(
        UploadTooLarge, match=r"151 bytes; .* keeps at most 150 bytes of uploads in all \(AIFUNDING_STORE_BYTES\)"
    ):
        store.put(blob(2, size=151), NO_META)
    assert held(store, kept) == [True]


def test_the_least_recently_used_goes_when_the_count_is_full(place: Place) -> None:
    store = place.open(Quotas(items=2))
    older, newer = store.put(blob(1), NO_META), store.put(blob(2), NO_META)
    assert store.get(older) is not None  # used after `newer` was uploaded: `newer` is now the least recent
    third = store.put(blob(3), NO_META)
    assert held(store, older, newer, third) == [True, False, True]
    assert store.usage() == Usage(2, 200)


def test_uploading_the_same_content_again_counts_as_a_use(place: Place) -> None:
    store = place.open(Quotas(items=2))
    first, second = store.put(blob(1), NO_META), store.put(blob(2), NO_META)
    store.put(blob(1), NO_META)
    third = store.put(blob(3), NO_META)
    assert held(store, first, second, third) == [True, False, True]


def test_the_least_recently_used_go_until_the_bytes_fit(place: Place) -> None:
    store = place.open(Quotas(total_bytes=250))
    a, b = store.put(blob(1), NO_META), store.put(blob(2), NO_META)
    store.get(a)
    c = store.put(blob(3), NO_META)  # 300 bytes would not fit: b, the least recently used, goes
    assert held(store, a, b, c) == [True, False, True]
    big = store.put(blob(4, size=200), NO_META)  # needs both of the others' room
    assert held(store, a, c, big) == [False, False, True]
    assert store.usage() == Usage(1, 200)


def test_uploads_unused_past_the_age_limit_go_at_the_next_upload(place: Place) -> None:
    store = place.open(Quotas(days=90))
    stale, used = store.put(blob(1), NO_META), store.put(blob(2), NO_META)
    place.clock.advance(60 * DAY)
    assert store.get(used) is not None
    place.clock.advance(31 * DAY)  # `stale` unused for 91 days, `used` for 31
    assert store.get(stale) is None  # too old to read, though still held
    assert store.usage().items == 2
    new = store.put(blob(3), NO_META)
    assert store.usage() == Usage(2, 200)
    assert held(store, used, new) == [True, True]


# --- Several servers and threads ---------------------------------------------------------------------


def test_two_servers_on_one_store_see_each_others_uploads(place: Place) -> None:
    one, two = place.open(Quotas(items=2)), place.open(Quotas(items=2))
    a = one.put(blob(1), NO_META)
    got = two.get(a)
    assert got is not None and got.content == blob(1)
    b = two.put(blob(2), NO_META)
    c = one.put(blob(3), NO_META)  # `one` evicts from both servers' uploads: a was used least recently
    assert held(two, a, b, c) == [False, True, True]
    assert two.delete(c) is True
    assert one.get(c) is None


def test_concurrent_uploads_keep_the_quotas(place: Place) -> None:
    servers = [place.open(Quotas(items=5)), place.open(Quotas(items=5))]
    contents = [blob(n, size=100 + n) for n in range(12)] * 2  # every content twice, at once

    def upload(n: int) -> str:
        return servers[n % 2].put(contents[n], {"n": str(n)})

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(upload, range(len(contents))))
    assert ids == [hashlib.sha256(content).hexdigest() for content in contents]
    readable = {blob_id: got for blob_id in set(ids) if (got := servers[0].get(blob_id)) is not None}
    assert len(readable) == 5
    assert all(hashlib.sha256(got.content).hexdigest() == blob_id for blob_id, got in readable.items())
    assert servers[1].usage() == Usage(5, sum(len(got.content) for got in readable.values()))


# --- The folder backend ------------------------------------------------------------------------------


def test_the_folder_is_private_and_keeps_no_leftovers(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "uploads", Quotas(items=1))
    for n in range(3):
        store.put(blob(n), NO_META)
    store.delete(store.put(blob(9), NO_META))
    assert (tmp_path / "uploads").stat().st_mode & 0o777 == 0o700
    assert list((tmp_path / "uploads" / STAGING).iterdir()) == []


def test_staging_left_by_a_stopped_writer_is_removed(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "uploads")
    store.put(blob(1), NO_META)
    stale, fresh = tmp_path / "uploads" / STAGING / "put-stale", tmp_path / "uploads" / STAGING / "put-fresh"
    stale.mkdir()
    fresh.mkdir()
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    store.put(blob(2), NO_META)
    assert (stale.exists(), fresh.exists()) == (False, True)


def test_stray_files_are_ignored_and_a_damaged_upload_goes_first(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "uploads", Quotas(items=2))
    kept = store.put(blob(1), NO_META)
    blobs = tmp_path / "uploads" / "blobs"
    (blobs / "README").write_text("not an upload")
    damaged = hashlib.sha256(b"damaged").hexdigest()
    (blobs / damaged).mkdir()  # an upload whose content file was deleted by hand
    assert store.usage() == Usage(2, 100)
    new = store.put(blob(2), NO_META)
    assert (blobs / "README").exists() and not (blobs / damaged).exists()
    assert held(store, kept, new) == [True, True]


# --- Choosing the store and its quotas from the environment ----------------------------------------


def test_the_quotas_default_to_the_stated_sizes() -> None:
    assert Quotas.from_env({}) == Quotas(upload_bytes=200 * MB, total_bytes=5 * GB, items=500, days=90)


def test_each_quota_has_its_variable() -> None:
    environ = {
        "AIFUNDING_UPLOAD_BYTES": "1_000",
        "AIFUNDING_STORE_BYTES": "50000",
        "AIFUNDING_STORE_ITEMS": " 20 ",
        "AIFUNDING_STORE_DAYS": "7",
    }
    assert Quotas.from_env(environ) == Quotas(upload_bytes=1000, total_bytes=50000, items=20, days=7)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AIFUNDING_UPLOAD_BYTES", "200MB", r"AIFUNDING_UPLOAD_BYTES='200MB' is not a whole number"),
        ("AIFUNDING_STORE_BYTES", "1.5", r"AIFUNDING_STORE_BYTES='1.5' is not a whole number"),
        ("AIFUNDING_STORE_ITEMS", "0", r"AIFUNDING_STORE_ITEMS=0 must be at least 1"),
        ("AIFUNDING_STORE_DAYS", "-3", r"AIFUNDING_STORE_DAYS=-3 must be at least 1"),
    ],
)
def test_a_bad_quota_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(StoreSettingError, match=message):
        open_store({variable: value, "AIFUNDING_STORE": "/srv/uploads"})


def test_the_default_store_is_a_folder_under_the_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store({"XDG_DATA_HOME": str(tmp_path)})
    assert isinstance(store, FolderStore) and store.folder == tmp_path / "aifunding" / "uploads"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    store = open_store({})
    assert isinstance(store, FolderStore)
    assert store.folder == tmp_path / "home" / ".local" / "share" / "aifunding" / "uploads"
    assert not (tmp_path / "aifunding").exists()  # nothing is made until the store is used


def test_the_store_variable_names_a_folder_or_a_database(tmp_path: Path) -> None:
    folder = open_store({"AIFUNDING_STORE": str(tmp_path / "shared"), "AIFUNDING_STORE_ITEMS": "3"})
    assert isinstance(folder, FolderStore) and folder.folder == tmp_path / "shared" and folder.quotas.items == 3
    # No server answers at this address: nothing connects until the store is used.
    database = open_store({"AIFUNDING_STORE": "postgresql://dashboard:secret@db.invalid/aifunding"})
    assert isinstance(database, PostgresStore)
    assert isinstance(open_store({"AIFUNDING_STORE": "postgres://db.invalid/aifunding"}), PostgresStore)


def test_another_kind_of_address_is_refused_without_echoing_it() -> None:
    with pytest.raises(StoreSettingError, match=r"AIFUNDING_STORE names a mysql:// address") as raised:
        open_store({"AIFUNDING_STORE": "mysql://dashboard:hunter2@db/aifunding"})
    assert "hunter2" not in str(raised.value)


# --- Which uploads eviction picks (both backends use this) ------------------------------------------

START = datetime(2026, 1, 1, tzinfo=UTC)
held_uploads = st.lists(
    st.builds(
        Held,
        st.text("0123456789abcdef", min_size=64, max_size=64),
        st.integers(0, 300),
        st.integers(0, 200).map(lambda days: START + timedelta(days=days)),
    ),
    max_size=20,
    unique_by=lambda item: item.blob_id,
)


@given(held_uploads, st.integers(1, 10), st.integers(300, 3000), st.integers(0, 300), st.integers(1, 150))
def test_eviction_makes_just_enough_room_from_the_least_recently_used(
    uploads: list[Held], items: int, total_bytes: int, size: int, days: int
) -> None:
    quotas = Quotas(upload_bytes=total_bytes, total_bytes=total_bytes, items=items, days=days)
    now = START + timedelta(days=200)
    gone = set(quotas.evictions(uploads, size, now))
    kept = [item for item in uploads if item.blob_id not in gone]
    fresh = [item for item in uploads if item.last_used >= now - quotas.max_age]
    assert len(kept) + 1 <= items and sum(item.size for item in kept) + size <= total_bytes
    assert all(item.last_used >= now - quotas.max_age for item in kept)
    # What went for room was used no later than anything kept, and one upload fewer evicted would not fit.
    for_room = sorted((item for item in fresh if item.blob_id in gone), key=lambda item: (item.last_used, item.blob_id))
    assert all((item.last_used, item.blob_id) < (k.last_used, k.blob_id) for item in for_room for k in kept)
    if for_room:
        spared = [*kept, for_room[-1]]
        assert len(spared) + 1 > items or sum(item.size for item in spared) + size > total_bytes
