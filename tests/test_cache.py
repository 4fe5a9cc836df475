"""A validated package is kept under the hash of its content and read back exactly, without validating again."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aifunding import BUNDLED_DATA
from aifunding import columns as C
from aifunding.data.limits import Limits, LimitsError
from aifunding.data.tables import TABLES
from aifunding.loading import kept_views, keys, stored_tables
from aifunding.loading import package as package_module
from aifunding.loading.cache import REPORT, PackageCache
from aifunding.loading.package import Package, load_package

from packages import minimal_tables, write_package


def same_package(a: Package, b: Package) -> None:
    """Every frame identical, value by value and type by type (a Decimal keeps its exact digits), and the report."""
    for table in TABLES:
        left, right = a.frame(table.name), b.frame(table.name)
        pd.testing.assert_frame_equal(left, right, check_exact=True)
        for column in left.columns:
            assert [(type(v), str(v)) for v in left[column]] == [(type(v), str(v)) for v in right[column]], column
    assert [p.as_text() for p in a.report.problems] == [p.as_text() for p in b.report.problems]
    assert a.report.summary() == b.report.summary()
    assert a.report.quarantined == b.report.quarantined and a.report.unread == b.report.unread
    assert a.descriptor == b.descriptor and a.path == b.path


def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each validation load_package runs."""
    calls: list[str] = []
    validate = package_module._validate_read

    def counted(*args, **kwargs):
        calls.append(str(args[0]))
        return validate(*args, **kwargs)

    monkeypatch.setattr(package_module, "_validate_read", counted)
    return calls


def test_the_bundled_package_is_validated_once_and_read_back_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = PackageCache(tmp_path / "cache")
    calls = validations(monkeypatch)
    first = load_package(BUNDLED_DATA, cache=cache)
    second = load_package(BUNDLED_DATA, cache=cache)
    assert len(calls) == 1
    same_package(first, second)
    same_package(load_package(BUNDLED_DATA), second)  # and the same as a load without any cache
    assert second.frame("awards")["amount"].map(lambda v: isinstance(v, Decimal) or v is None).all()


def test_a_package_with_problems_comes_back_with_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = minimal_tables()
    tables["awards"].append({**tables["awards"][0], "id": "bad id"})
    tables["awards"].append({**tables["awards"][0], "id": "award-z", "amount": "lots"})
    folder = write_package(tmp_path / "pkg", tables)
    (folder / "milestones.csv").write_bytes(b"\xff\xfe not utf-8")
    cache = PackageCache(tmp_path / "cache")
    calls = validations(monkeypatch)
    first = load_package(folder, cache=cache)
    assert not first.report.valid and first.report.quarantined and first.report.unread
    second = load_package(folder, cache=cache)
    assert len(calls) == 1
    same_package(first, second)


def test_a_change_in_a_file_or_in_the_limits_validates_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_package(tmp_path / "pkg")
    cache = PackageCache(tmp_path / "cache")
    calls = validations(monkeypatch)
    load_package(folder, cache=cache)
    load_package(folder, cache=cache, limits=Limits(cell_chars=5_000))
    assert len(calls) == 2
    awards = folder / "awards.csv"
    awards.write_text(awards.read_text().replace("6000000000", "6000000001"))
    changed = load_package(folder, cache=cache)
    assert len(calls) == 3
    assert Decimal("6000000001") in set(changed.frame("awards")["amount"])
    assert len(list((tmp_path / "cache" / "packages").iterdir())) == 3


@pytest.mark.parametrize("block", [3, 4, 1 << 20])
def test_a_package_s_key_is_of_every_byte_of_every_file_whichever_the_block_it_is_hashed_in(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Files are hashed in blocks by two threads: the key still changes with any byte, file name or missing file."""
    monkeypatch.setattr(keys, "HASH_BLOCK", block)
    files = {"awards": ("awards.csv", b"id,amount\na,1\nb,2\n"), "sources": ("sources.csv", b"id\ns\n")}

    def key(**changed: tuple[str, bytes | None]) -> str:
        return keys.content_key({"name": "p"}, {**files, **changed}, Limits())

    same = key()
    assert key() == same and keys.content_key({"name": "p"}, dict(reversed(files.items())), Limits()) == same
    others = [
        key(awards=("awards.csv", b"id,amount\na,1\nb,3\n")),  # the last byte
        key(awards=("awards.csv", b"Id,amount\na,1\nb,2\n")),  # the first
        key(awards=("awards.csv", b"id,amount\na,1\nb,2\n\n")),  # one more
        key(awards=("awards.csv", b"id,amount\na,1\nb,2")),  # one fewer
        key(awards=("other.csv", files["awards"][1])),
        key(sources=("sources.csv", None)),
        key(sources=("sources.csv", b"")),
        key(awards=("awards.csv", b"id,amount\na,1\nb,2\nid\n"), sources=("sources.csv", b"s\n")),  # bytes moved
        keys.content_key({"name": "q"}, files, Limits()),
        keys.content_key({"name": "p"}, files, Limits(cell_chars=5)),
    ]
    assert len({same, *others}) == len(others) + 1


def test_an_entry_that_cannot_be_read_is_validated_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_package(tmp_path / "pkg")
    cache = PackageCache(tmp_path / "cache")
    first = load_package(folder, cache=cache)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    (entry / "report.pickle").write_bytes(b"not a pickle")
    calls = validations(monkeypatch)
    same_package(first, load_package(folder, cache=cache))
    assert len(calls) == 1
    # An entry is never half written: a folder being written has a temporary name, and a missing
    # table file means no entry, not an empty table.
    shutil.rmtree(entry)
    load_package(folder, cache=cache)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    (entry / "awards.arrow").unlink()
    assert cache.get(entry.name) is None
    # A truncated table file is found when the entry is opened, not when a page first reads the table.
    shutil.rmtree(entry)
    load_package(folder, cache=cache)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    citations = entry / "citations.arrow"
    citations.write_bytes(citations.read_bytes()[:-40])
    assert cache.get(entry.name) is None


def test_a_value_built_late_goes_only_into_a_whole_entry_and_a_folder_left_half_removed_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first view's codes written while another process evicts the entry never leave a folder without tables."""
    folder = write_package(tmp_path / "pkg")
    cache = PackageCache(tmp_path / "cache")
    first = load_package(folder, cache=cache)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    for path in entry.iterdir():  # what an eviction in another process has removed so far
        path.unlink()
    assert cache.derived(entry.name, "codes-x", "0" * 32, lambda: [1, 2]) == [1, 2]
    assert list(entry.iterdir()) == []  # built, not stored into a folder that is no entry
    (entry / "codes-x-old.pickle").write_bytes(b"left over")  # a write that landed as the eviction ran
    calls = validations(monkeypatch)
    same_package(first, load_package(folder, cache=cache))  # no entry: validated again
    assert len(calls) == 1
    assert (entry / REPORT).is_file() and not (entry / "codes-x-old.pickle").exists()  # replaced
    same_package(first, load_package(folder, cache=cache))
    assert len(calls) == 1  # and read back from then on


def test_amounts_keep_their_digits_and_gaps_through_the_stored_tables(tmp_path: Path) -> None:
    """Equal amounts written differently ("2.5", "2.50") stay as written; a missing one stays None."""
    tables = minimal_tables()
    first = tables["awards"][0]
    tables["awards"] += [
        {**first, "id": "award-b", "amount": "2.50"},
        {**first, "id": "award-c", "amount": "2.5"},
        {**first, "id": "award-d", "amount": "", "currency": "", "basis": ""},
    ]
    folder = write_package(tmp_path / "pkg", tables)
    cache = PackageCache(tmp_path / "cache")
    fresh = load_package(folder, cache=cache)
    again = load_package(folder, cache=cache)
    assert isinstance(again.frames, stored_tables.StoredFrames)
    same_package(fresh, again)
    amounts = dict(zip(again.frame("awards")["id"], again.frame("awards")["amount"], strict=True))
    assert (str(amounts["award-b"]), str(amounts["award-c"]), amounts["award-d"]) == ("2.50", "2.5", None)


def test_a_cached_table_is_read_when_first_asked_for_even_after_its_entry_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that found an entry keeps reading its tables after a newer entry evicted it."""
    folder = write_package(tmp_path / "pkg")
    cache = PackageCache(tmp_path / "cache")
    load_package(folder, cache=cache)
    reads: list[str] = []
    read = stored_tables._read_frame
    monkeypatch.setattr(
        stored_tables, "_read_frame", lambda table, source: reads.append(table.name) or read(table, source)
    )
    cached = load_package(folder, cache=cache)
    assert reads == []  # nothing read yet
    assert cached.rows("awards") == len(minimal_tables()["awards"]) and reads == []  # counted from the footer
    assert len(cached.frame("countries")) == len(minimal_tables()["countries"])
    assert reads == ["countries"]
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    shutil.rmtree(entry)  # evicted by another process
    same_package(cached, load_package(folder))
    assert sorted(reads) == sorted(table.name for table in TABLES)  # each table read once, countries included
    cached.frame("awards")
    assert len(reads) == len(TABLES)


def test_the_cache_folder_comes_from_the_environment(tmp_path: Path) -> None:
    assert PackageCache.from_env({"AIFUNDING_CACHE": "off"}) is None
    assert PackageCache.from_env({"AIFUNDING_CACHE": str(tmp_path)}) == PackageCache(tmp_path)
    assert PackageCache.from_env({"XDG_CACHE_HOME": str(tmp_path)}) == PackageCache(tmp_path / "aifunding")
    assert PackageCache.from_env({}).folder == Path.home() / ".cache" / "aifunding"


def test_the_least_recently_used_entries_go_first_past_the_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_package(tmp_path / "pkg")
    cache = PackageCache(tmp_path / "cache", max_entries=2)
    keys = [load_package(folder, cache=cache, limits=Limits(cell_chars=chars)).cache_key for chars in (4_000, 5_000)]
    assert all(cache.get(key) is not None for key in keys)  # the first is now the most recently used
    entries = tmp_path / "cache" / "packages"
    os.utime(entries / keys[1] / "used", (1, 1))  # and the second long unused
    third = load_package(folder, cache=cache, limits=Limits(cell_chars=6_000)).cache_key
    assert sorted(p.name for p in entries.iterdir()) == sorted([keys[0], third])
    calls = validations(monkeypatch)
    load_package(folder, cache=cache, limits=Limits(cell_chars=5_000))  # the evicted one validates again
    assert len(calls) == 1
    # A byte bound below one entry keeps just the entry in use.
    small = PackageCache(tmp_path / "cache", max_bytes=1)
    assert small.evict(keep=third) and [p.name for p in entries.iterdir()] == [third]


def test_files_seen_before_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_package(tmp_path / "pkg")
    cache = PackageCache(tmp_path / "cache")
    reads: list[str] = []
    read_files = package_module.read_files

    def counted(root, files, limits):
        reads.append(str(root))
        return read_files(root, files, limits)

    monkeypatch.setattr(package_module, "read_files", counted)
    first = load_package(folder, cache=cache)
    assert len(reads) == 1
    calls = validations(monkeypatch)
    same_package(first, load_package(folder, cache=cache))
    assert (len(reads), calls) == (1, [])  # found by what stat says of the files: not read, not validated
    # A file written again with its old size and times is read again (its change time moved on) ...
    awards = folder / "awards.csv"
    before = awards.stat()
    awards.write_bytes(awards.read_bytes())
    os.utime(awards, ns=(before.st_atime_ns, before.st_mtime_ns))
    same_package(first, load_package(folder, cache=cache))
    assert (len(reads), calls) == (2, [])  # ... and, its bytes being the same, found by them
    awards.write_text(awards.read_text().replace("6000000000", "6000000001"))
    os.utime(awards, ns=(before.st_atime_ns, before.st_mtime_ns))
    changed = load_package(folder, cache=cache)
    assert (len(reads), len(calls)) == (3, 1)
    assert Decimal("6000000001") in set(changed.frame("awards")["amount"])
    # Notes pointing at an evicted entry go with it.
    index = tmp_path / "cache" / "index"
    assert len(list(index.iterdir())) == 3  # three states of the files, two of them the same content
    PackageCache(tmp_path / "cache", max_entries=1).evict(keep=changed.cache_key)
    assert [note.read_text() for note in index.iterdir()] == [changed.cache_key]


def test_the_cache_bounds_come_from_the_environment(tmp_path: Path) -> None:
    env = {"AIFUNDING_CACHE": str(tmp_path), "AIFUNDING_CACHE_ENTRIES": "3", "AIFUNDING_CACHE_BYTES": "1_000_000"}
    assert PackageCache.from_env(env) == PackageCache(tmp_path, max_entries=3, max_bytes=1_000_000)
    with pytest.raises(LimitsError, match="AIFUNDING_CACHE_ENTRIES='many' is not a whole number"):
        PackageCache.from_env({**env, "AIFUNDING_CACHE_ENTRIES": "many"})


def test_an_unwritable_cache_is_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    package = load_package(write_package(tmp_path / "pkg"), cache=PackageCache(blocker))
    assert package.report.valid


# The bundled package is small: at 1 every text array and dict of its views takes the compact forms.
@pytest.mark.parametrize("compact_from", [kept_views.COMPACT_FROM, 1])
def test_a_prepared_package_is_read_back_rather_than_prepared_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compact_from: int
) -> None:
    monkeypatch.setattr(kept_views, "COMPACT_FROM", compact_from)
    from aifunding.analysis import cached_views
    from aifunding.analysis.cached_views import prepare_cached
    from aifunding.analysis.view import ViewState, apply_view

    cache = PackageCache(tmp_path / "cache")
    prepared = prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    real_prepare = cached_views.prepare
    calls: list[str] = []

    def counted(package: Package) -> cached_views.Prepared:
        calls.append(package.name)
        return real_prepare(package)

    monkeypatch.setattr(cached_views, "prepare", counted)
    again = prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    assert calls == []  # read back: a restart opens it without preparing
    assert again.adding is not None and again.adding._whole is not None
    assert again.adding._whole[2].columns == {}  # the rule's rows are made when a total first reads them
    # The adding rule comes back having read the rows of these very frames: a view's totals read nothing again.
    from aifunding.analysis import adding as adding_module
    from aifunding.outputs.summary import headline

    reads: list[int] = []
    real_read = adding_module.read_rows
    monkeypatch.setattr(adding_module, "read_rows", lambda *args: reads.append(1) or real_read(*args))
    headline(again, apply_view(again, ViewState(countries=("JP",))))
    assert reads == []
    for name in ("awards", "programmes", "market_shares", "milestones"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(prepared, name))
    assert again.date_span == prepared.date_span and again.context.names == prepared.context.names
    assert again.context.names_by_lang == prepared.context.names_by_lang
    assert dict(again.context.programmes_by_org.items()) == prepared.context.programmes_by_org
    assert isinstance(again.context.programmes_by_org, kept_views.SetsByKey) is (compact_from == 1)
    # The rule's rows come back as they were read: every column, value for value and type for type.
    assert again.adding is not None and prepared.adding is not None
    kept_rows, read = again.adding._whole_rows(again.programmes, again.awards), prepared.adding._whole[2]
    assert sorted(kept_rows._stored) == sorted(read.columns)
    for name, column in read.columns.items():
        assert [(type(v), str(v)) for v in kept_rows[name]] == [(type(v), str(v)) for v in column], name
    assert kept_rows.parent_codes.tolist() == read.parent_codes.tolist()
    assert kept_rows.parents.tolist() == read.parents.tolist()
    # What the pages show is what a fresh validation and preparation shows, filtered by organisation too.
    from aifunding.figures import registry

    fresh = real_prepare(load_package(BUNDLED_DATA))
    organisation = sorted(fresh.context.programmes_by_org)[0]
    for state in (ViewState(), ViewState(countries=("JP",), currency="USD"), ViewState(organisations=(organisation,))):
        view, fresh_view = apply_view(again, state), apply_view(fresh, state)
        assert headline(again, view).as_dict() == headline(fresh, fresh_view).as_dict()
        assert view.sentence() == fresh_view.sentence()
        for chart in (chart for page in registry.PAGES for chart in page.charts):
            drawn = [(d.heading, d.figure.to_json() if d.figure else None) for d in registry.draw(chart, again, view)]
            assert drawn == [
                (d.heading, d.figure.to_json() if d.figure else None) for d in registry.draw(chart, fresh, fresh_view)
            ]
    assert again.package.tree is again.context.tree  # one tree, shared
    state = ViewState(countries=("JP",), currency="USD")
    pd.testing.assert_frame_equal(apply_view(again, state).awards, apply_view(prepared, state).awards)
    # Code that prepares differently (another digest) prepares again; no cache prepares every time.
    monkeypatch.setattr(cached_views, "PREPARING_SOURCES", ("analysis/view.py",))
    prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    prepare_cached(load_package(BUNDLED_DATA), None)
    assert calls == ["ai-funding", "ai-funding"]
    # Other ECB rates (a new currency_converter) too: kept conversion notes quote them.
    prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    monkeypatch.setattr(cached_views, "rates_digest", lambda: "0" * 64)
    prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    assert calls == ["ai-funding"] * 3


def test_prepared_views_keep_their_text_beside_the_pickle_and_one_version_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text columns are mapped back from an Arrow file (equal, same types); a missing file means prepare again."""
    from aifunding.analysis import cached_views
    from aifunding.analysis.cached_views import prepare_cached
    from aifunding.analysis.view import prepare
    from aifunding.data.frames import TEXT

    cache = PackageCache(tmp_path / "cache")
    prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    (pickled,) = entry.glob("prepared-*.pickle")
    assert pickled.with_suffix(".arrow").stat().st_size > 0
    again = prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    fresh = prepare(load_package(BUNDLED_DATA))
    for name in ("awards", "programmes", "market_shares", "milestones"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(fresh, name), check_exact=True)
    texts = [column for column in again.awards.columns if again.awards[column].dtype == TEXT]
    assert C.PROJECT_LABEL in texts and len(texts) > 10
    # A pickle whose texts are gone is prepared again, not half read.
    pickled.with_suffix(".arrow").unlink()
    calls: list[str] = []
    real_prepare = cached_views.prepare
    monkeypatch.setattr(cached_views, "prepare", lambda package: calls.append(package.name) or real_prepare(package))
    pd.testing.assert_frame_equal(prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache).awards, fresh.awards)
    assert calls == ["ai-funding"]
    # Views of other code replace these: one version is kept in an entry, not one per change of code.
    monkeypatch.setattr(cached_views, "PREPARING_SOURCES", ("analysis/view.py",))
    prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    assert len(list(entry.glob("prepared-*.pickle"))) == 1 and len(list(entry.glob("prepared-*.arrow"))) == 1
    assert not pickled.exists()


def test_derived_values_keep_names_and_sets_in_compact_forms_and_read_back_equal(tmp_path: Path) -> None:
    """The compact forms beside the pickle come back equal, with the same types, None where it was."""
    import pickle

    from aifunding.data.frames import TEXT

    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    n = 3 * kept_views.COMPACT_FROM
    kinds = np.array([None if i % 7 == 0 else f"kind-{i % 5}" for i in range(n)], dtype=object)
    ids = np.array([f"id-{i}" for i in range(n)], dtype=object)
    names = {f"org-{i}": f"Organisation {i} 株式会社" for i in range(n)}
    sets = {f"org-{i}": {f"programme-{j}" for j in range(i % 4)} for i in range(n)}
    value = {
        # A dict of names, a dict of sets, arrays of tuples of text (alone and in a frame): the compact forms.
        "names": names,
        "tuples": np.fromiter((tuple(["a", "b"][: i % 3]) for i in range(n)), dtype=object, count=n),
        "frame": pd.DataFrame(
            {
                "ids": pd.Series([(f"org-{i % 9}",) if i % 4 else () for i in range(n)], dtype=object),
                "amount": pd.Series([Decimal("2.50") if i % 2 else None for i in range(n)], dtype=object),
                "n": range(n),
            }
        ),
        "by_lang": {"en": names, "ja": names},  # one dict met twice comes back as one
        "holder": (holder := {"en": names, "count": {"n": 1}}),  # a dict of dicts met twice: one too
        "same holder": holder,
        "sets": sets,
        # Left as pickled: arrays, and a dict whose values are not all text.
        "kinds": kinds,
        "ids": ids,
        "mixed": np.array(["a", Decimal("2.50"), None] * n, dtype=object),
        "short": np.array(["x", None], dtype=object),
        "numbered": {f"k{i}": i for i in range(n)},
        "texts": pd.Series([f"t{i}" if i % 3 else None for i in range(n)], dtype=TEXT),
    }
    assert cache.derived(key, "probe", "0" * 64, lambda: value) is value
    again = cache.derived(key, "probe", "0" * 64, lambda: pytest.fail("built again"))
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    (texts,) = entry.glob("probe-*.arrow")
    # Beside the pickle: the text column, keys and values of the names (once), keys and members of the sets,
    # and the frame's column names (pandas keeps them as text too).
    assert pa.ipc.open_file(pa.memory_map(str(texts))).num_record_batches == 1 + 2 + 2 + 1
    shutil.rmtree(entry)  # another process evicts the entry: what was read back stays whole
    for name in ("kinds", "ids", "mixed", "short"):
        assert again[name].dtype == object and again[name].tolist() == value[name].tolist(), name
        assert [type(v) for v in again[name]] == [type(v) for v in value[name]], name
    assert str(again["mixed"][1]) == "2.50"  # a Decimal keeps its digits
    assert again["names"] == names and list(again["names"]) == list(names)  # same order
    assert again["by_lang"]["en"] is again["by_lang"]["ja"] is again["names"]
    assert again["holder"] is again["same holder"] and again["holder"] == {"en": names, "count": {"n": 1}}
    assert again["holder"]["en"] is again["names"]
    assert again["sets"] == sets and all(type(v) is set for v in again["sets"].values())
    assert isinstance(again["sets"], kept_views.SetsByKey) and list(again["sets"]) == list(sets)
    assert "org-3" in again["sets"] and "org-x" not in again["sets"] and again["sets"].get("org-x") is None
    assert again["sets"]["org-0"] == set() and len(again["sets"]) == n
    assert pickle.loads(pickle.dumps(again["sets"])) == sets  # copied elsewhere, a plain dict
    assert again["numbered"] == value["numbered"]
    assert again["tuples"].tolist() == value["tuples"].tolist() and again["tuples"].dtype == object
    assert value["tuples"][1] is not value["tuples"][4] and again["tuples"][1] is again["tuples"][4]  # shared
    pd.testing.assert_frame_equal(again["frame"], value["frame"], check_exact=True)
    assert [str(v) for v in again["frame"]["amount"]] == [str(v) for v in value["frame"]["amount"]]
    pd.testing.assert_series_equal(again["texts"], value["texts"], check_exact=True)


def test_the_pickler_is_not_asked_about_each_text_tuple_or_number_inside_what_it_pickles(tmp_path: Path) -> None:
    """A Python call per object (a persistent id) took half the time of keeping a million awards' views."""
    import io
    import pickle

    n = 20_000
    asked: list[type] = []

    class Counting(kept_views.Pickler):
        def reducer_override(self, obj: object) -> object:
            asked.append(type(obj))
            return super().reducer_override(obj)

    value = {
        "labels": np.array([f"label {i}" if i % 3 else None for i in range(n)], dtype=object),
        "pairs": [(f"org-{i}", i, float(i)) for i in range(n)],
        "frame": pd.DataFrame({"ids": pd.Series([(f"org-{i % 9}",) for i in range(n)], dtype=object)}),
    }
    texts: list[pa.Array] = []
    buffer = io.BytesIO()
    Counting(buffer, texts).dump(value)
    assert len(asked) < 100, sorted({t.__name__ for t in asked})
    kept_views.write_texts(texts, tmp_path / "texts.arrow")
    buffer.seek(0)
    again = kept_views.Unpickler(buffer, tmp_path / "texts.arrow").load()
    assert again["labels"].tolist() == value["labels"].tolist() and again["pairs"] == value["pairs"]
    assert again["frame"]["ids"].tolist() == value["frame"]["ids"].tolist()
    with pytest.raises(pickle.UnpicklingError, match="read only by"):
        pickle.loads(buffer.getvalue())  # a part set aside (the frame's tuples) is made only by its own reader


class _CollectorState:
    """Unpickles as whether Python's cycle collector is running at that moment."""

    def __reduce__(self) -> tuple[object, ...]:
        import gc

        return gc.isenabled, ()


def test_kept_views_are_read_with_the_cycle_collector_paused_and_then_as_it_was(tmp_path: Path) -> None:
    """The collector went through the objects a million awards' views were made of again and again as they were made."""
    import gc
    import io
    import pickle

    buffer = io.BytesIO()
    kept_views.Pickler(buffer, []).dump({"collecting": _CollectorState()})
    kept_views.write_texts([], tmp_path / "texts.arrow")

    def load(data: bytes) -> object:
        return kept_views.Unpickler(io.BytesIO(data), tmp_path / "texts.arrow").load()

    assert gc.isenabled()
    assert load(buffer.getvalue()) == {"collecting": False}
    assert gc.isenabled()
    with pytest.raises((pickle.UnpicklingError, EOFError)):
        load(buffer.getvalue()[:-3])  # a damaged file: the collector runs again all the same
    assert gc.isenabled()
    gc.disable()
    try:
        assert load(buffer.getvalue()) == {"collecting": False}
        assert not gc.isenabled()  # paused by someone else before: left paused
    finally:
        gc.enable()


def test_sets_held_as_codes_are_kept_as_their_codes_unless_a_member_is_not_text(tmp_path: Path) -> None:
    """Each organisation's programmes are a SetsByKey from the start: kept as its codes, it comes back as one; with a
    member that is not text (an invalid package's missing programme id) it is kept, and comes back, as a dict."""
    import io

    n = 2 * kept_views.COMPACT_FROM
    keys = [f"org-{i}" for i in range(n)]
    sizes = np.array([i % 3 for i in range(n)], dtype=np.int64)
    codes = np.array([j % 4 for j in range(int(sizes.sum()))], dtype=np.int64)
    for distinct, compact in (
        (np.array(["p0", "p1", "プログラム", "p3"], dtype=object), True),
        (np.array(["p0", np.nan, "p2", "p3"], dtype=object), False),
    ):
        sets = kept_views.SetsByKey(keys, sizes, codes, distinct)
        texts: list[pa.Array] = []
        buffer = io.BytesIO()
        kept_views.Pickler(buffer, texts).dump({"sets": sets})
        kept_views.write_texts(texts, tmp_path / "texts.arrow")
        again = kept_views.Unpickler(io.BytesIO(buffer.getvalue()), tmp_path / "texts.arrow").load()["sets"]
        assert len(texts) == (2 if compact else 0)  # its keys and members beside the pickle, or nothing
        assert isinstance(again, kept_views.SetsByKey) is compact and list(again) == keys
        # A missing id is NaN, which equals nothing: compared as text.
        assert {k: sorted(map(str, v)) for k, v in again.items()} == {k: sorted(map(str, v)) for k, v in sets.items()}


def test_reading_kept_views_back_leaves_no_garbage_for_the_collector(tmp_path: Path) -> None:
    """The reader's memo held the reader's own ``_make``: reader and memo were a cycle, freed (with all
    the memo held) only by the collector, 54,000 objects for a million awards' views."""
    import gc
    import io

    value = {
        "names": {f"k{i}": f"v{i}" for i in range(2000)},  # parts set aside: the reader's _make is memoised
        "frame": pd.DataFrame({"ids": pd.Series([(f"org-{i % 9}",) for i in range(3000)], dtype=object)}),
        "rows": [[i, str(i)] for i in range(100)],
    }
    texts: list[pa.Array] = []
    buffer = io.BytesIO()
    kept_views.Pickler(buffer, texts).dump(value)
    kept_views.write_texts(texts, tmp_path / "texts.arrow")
    gc.collect()
    gc.disable()
    try:
        again = kept_views.Unpickler(io.BytesIO(buffer.getvalue()), tmp_path / "texts.arrow").load()
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert again["names"] == value["names"] and again["rows"] == value["rows"]
    assert again["frame"]["ids"].tolist() == value["frame"]["ids"].tolist()


def test_a_compact_form_read_wrongly_means_building_again(tmp_path: Path) -> None:
    """A pickle naming a form it cannot read back is no value: it is built anew, not half read."""
    import pickle

    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    cache.derived(key, "probe", "0" * 64, lambda: {"names": {f"k{i}": "v" for i in range(2000)}})
    (pickled,) = cache.entry(key).glob("probe-*.pickle")

    class Odd:
        def __init__(self, reference: tuple[object, ...]) -> None:
            self.reference = reference

        def __reduce__(self) -> tuple[object, ...]:
            return kept_views._made, (self.reference,)

    wrong = {
        "sizes that do not match the members": ("sets", 0, [1, 2], [0], 1),
        "a code past the tuples": ("tuples", np.array([0, 3], dtype=np.int32), [("a",)]),
        "a code below -1": ("tuples", np.array([0, -2], dtype=np.int32), [("a",)]),
        "a text that is not there": ("text", 99),
    }
    for what, reference in wrong.items():
        with pickled.open("wb") as handle:
            pickle.dump(["here", Odd(reference)], handle, protocol=5)
        assert cache.derived(key, "probe", "0" * 64, lambda: "built") == "built", what


def test_a_new_version_of_a_kept_value_replaces_only_its_own_files(tmp_path: Path) -> None:
    """Views of other code replace that name's files only: "notes-EUR" is not "notes-EUR-2024" of another name."""
    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    cache.derived(key, "notes-EUR-2024", "1" * 64, lambda: "longer name")
    cache.derived(key, "notes-EUR", "1" * 64, lambda: "old code")
    cache.derived(key, "notes-EUR", "2" * 64, lambda: "new code")
    kept = sorted(path.name for path in cache.entry(key).glob("notes-*.pickle"))
    assert kept == [f"notes-EUR-2024-{'1' * 32}.pickle", f"notes-EUR-{'2' * 32}.pickle"]
    assert cache.kept(key, "notes-EUR-2024", "1" * 64) == "longer name"


def test_a_write_behind_cache_writes_a_derived_value_in_a_thread_and_a_reader_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's cache: whoever built a value has it at once, its files are written by the writer thread,
    and a reader in the same process waits for them, then reads the value back, rather than building it again."""
    import threading

    from aifunding.loading import cache as cache_module

    cache = PackageCache(tmp_path / "cache", write_behind=True)
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    disk, writers = threading.Event(), []
    write_texts = cache_module.write_texts

    def held(texts: list[pa.Array], path: Path) -> None:
        writers.append(threading.current_thread())
        assert disk.wait(60)
        write_texts(texts, path)

    monkeypatch.setattr(cache_module, "write_texts", held)
    value = {"names": {f"k{i}": f"name {i}" for i in range(2000)}, "n": 1}
    assert cache.derived(key, "probe", "0" * 64, lambda: value) is value  # while its files cannot be written
    assert not list(cache.entry(key).glob("probe-*"))
    threading.Timer(0.2, disk.set).start()
    again = cache.derived(key, "probe", "0" * 64, lambda: pytest.fail("built again"))
    assert again == value and again is not value  # read back from the files, once they were whole
    assert [thread.name.startswith("aifunding-cache-writer") for thread in writers] == [True]
    assert len(list(cache.entry(key).glob("probe-*.pickle"))) == 1 and not list(cache.entry(key).glob(".probe-*"))


def test_a_write_behind_that_fails_leaves_no_file_and_the_value_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aifunding.loading import cache as cache_module

    cache = PackageCache(tmp_path / "cache", write_behind=True)
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None

    def full(texts: list[pa.Array], path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module, "write_texts", full)
    assert cache.derived(key, "probe", "0" * 64, lambda: "first") == "first"
    cache_module.wait_for_writes()
    assert not list(cache.entry(key).glob("*probe-*"))  # neither the files nor what was staged
    assert cache.derived(key, "probe", "0" * 64, lambda: "built again") == "built again"


@pytest.mark.parametrize("compact_from", [kept_views.COMPACT_FROM, 1])
def test_a_prepared_package_read_back_keeps_working_after_its_entry_is_evicted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compact_from: int
) -> None:
    """What is made only when first read (the rule's rows, mapped texts) still reads once the entry is gone."""
    from aifunding.analysis.cached_views import prepare_cached
    from aifunding.analysis.view import ViewState, apply_view, prepare
    from aifunding.outputs.summary import headline

    monkeypatch.setattr(kept_views, "COMPACT_FROM", compact_from)
    cache = PackageCache(tmp_path / "cache")
    prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    again = prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    shutil.rmtree(entry)  # another process evicts it before any total was asked for
    fresh = prepare(load_package(BUNDLED_DATA))
    for state in (ViewState(), ViewState(organisations=(sorted(fresh.context.programmes_by_org)[0],))):
        shown = headline(again, apply_view(again, state)).as_dict()
        assert shown == headline(fresh, apply_view(fresh, state)).as_dict()


def test_a_kept_file_is_written_once_whole_and_replaces_what_older_code_wrote(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path / "cache")
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    written: list[Path] = []

    def write(path: Path) -> None:
        written.append(path)
        assert path.parent.name.startswith(".engine-")  # in a folder of its own, moved into place whole
        path.write_bytes(b"tables")

    assert cache.kept_file("0" * 64, "engine", "1" * 64, write, ".duckdb") is None  # no such entry
    older = cache.kept_file(key, "engine", "1" * 64, write, ".duckdb")
    path = cache.kept_file(key, "engine", "2" * 64, write, ".duckdb")
    assert older is not None and path is not None and len(written) == 2
    assert cache.kept_file(key, "engine", "2" * 64, write, ".duckdb") == path and len(written) == 2
    assert path.read_bytes() == b"tables" and not older.exists()  # the older code's file is gone
    assert not [p for p in cache.entry(key).iterdir() if p.name.startswith(".")]  # no staging left

    def fail(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    assert cache.kept_file(key, "engine", "3" * 64, fail, ".duckdb") is None
    assert not [p for p in cache.entry(key).iterdir() if p.name.startswith(".") or "3333" in p.name]


def test_what_a_writer_that_died_left_is_counted_and_removed_once_stale(tmp_path: Path) -> None:
    """A process killed while writing the engine's database (4 to 5 s at a million awards) left its folder."""
    import os
    import time

    from aifunding.loading import cache as cache_module

    cache = PackageCache(tmp_path / "cache", max_bytes=10_000_000)
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    entry = cache.entry(key)
    left = entry / ".engine-dead"
    left.mkdir()
    (left / "engine.duckdb.wal").write_bytes(b"x" * 20_000_000)
    assert cache.evict() == [key]  # its bytes count: the entry is over the bound (none is kept when all are over)
    key = load_package(BUNDLED_DATA, cache=cache).cache_key
    assert key is not None
    entry = cache.entry(key)
    recent, old = entry / ".engine-recent", entry / ".engine-old"
    for folder in (recent, old):
        folder.mkdir()
        (folder / "engine.duckdb").write_bytes(b"half")
    stale = time.time() - cache_module.STALE_STAGING_S - 60
    os.utime(old, (stale, stale))
    assert cache.kept_file(key, "engine", "4" * 64, lambda path: path.write_bytes(b"whole"), ".duckdb") is not None
    assert recent.is_dir() and not old.exists()  # another process may still be writing the recent one


@pytest.mark.parametrize("compact_from", [kept_views.COMPACT_FROM, 1])
def test_the_organisations_order_by_name_is_kept_with_the_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compact_from: int
) -> None:
    """The sidebar lists them by name in each language: 0.16 to 0.21 s of sorting a million awards' 100,000
    recipients on every restart's first page, now read back."""
    monkeypatch.setattr(kept_views, "COMPACT_FROM", compact_from)
    from aifunding.analysis import filters
    from aifunding.analysis.cached_views import prepare_cached

    cache = PackageCache(tmp_path / "cache")
    prepared = prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache)
    context = prepared.context
    expected = {}
    for lang in ("en", "ja"):
        names = context.names_in(lang)["organisations"]
        expected[lang] = sorted(context.programmes_by_org, key=lambda o, names=names: names.get(o, o).lower())
        assert context.organisations_by_name(lang) == expected[lang]
    assert expected["en"] != expected["ja"]  # Japanese names order otherwise

    def sorting(*args: object) -> list[int]:
        raise AssertionError("sorted again")

    real = filters._order_by_name
    monkeypatch.setattr(filters, "_order_by_name", sorting)
    again = prepare_cached(load_package(BUNDLED_DATA, cache=cache), cache).context
    assert again is not context
    assert {lang: again.organisations_by_name(lang) for lang in ("en", "ja")} == expected
    # An order that does not fit the organisations (another package's) is not used: they are sorted.
    monkeypatch.setattr(filters, "_order_by_name", real)
    short = replace(again, organisation_order={"en": again.organisation_order["en"][:-1]})
    assert short.organisations_by_name("en") == expected["en"]


def test_the_cache_folders_it_makes_are_its_user_s_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading an entry trusts it, so the folders are made mode 0700; the cache's own folder (and one above it that
    did not exist) were made with the default mode, readable by every user, only index/ and packages/ were not."""
    monkeypatch.setenv("AIFUNDING_CACHE", str(tmp_path / "made" / "cache"))
    load_package(BUNDLED_DATA, cache=PackageCache.from_env())
    for folder in (tmp_path / "made", tmp_path / "made" / "cache", *(tmp_path / "made" / "cache").iterdir()):
        if folder.is_dir():
            assert oct(folder.stat().st_mode & 0o777) == oct(0o700), folder
