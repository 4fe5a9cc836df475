"""A server loads its package as it starts (dashboard/serve.py): ``ui.loading.warm_up`` and ``/ready``'s answers.

The first viewer must find the package loaded, or wait for the load under way, and never cause a second one.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from test_app_pages import open_page

from aifunding import BUNDLED_DATA
from aifunding.figures.presentation import column

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))

from ui.readiness import FAILED, LOADING, READY, Attempt, Readiness


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """The packages prepared from here on, in a process whose cache of loaded packages is empty."""
    import ui.loading as loading

    loading._prepared.clear()
    loading._last_valid.clear()
    loading._shown.clear()
    loading._openings.clear()
    monkeypatch.setenv("AIFUNDING_CACHE", str(tmp_path / "cache"))
    prepared: list[str] = []
    prepare = loading.prepare_cached

    def counted(package, cache, *early):  # type: ignore[no-untyped-def]
        prepared.append(str(package.path))
        return prepare(package, cache, *early)

    monkeypatch.setattr(loading, "prepare_cached", counted)
    yield prepared
    loading._prepared.clear()


def _signature(folder: Path):  # type: ignore[no-untyped-def]
    from aifunding.loading.package import package_signature

    return lambda: package_signature(folder)


def _warmed(data: Path, monkeypatch: pytest.MonkeyPatch) -> Readiness:
    from ui.loading import warm_up

    monkeypatch.setenv("AIFUNDING_DATA", str(data))
    readiness = Readiness(warm_up, _signature(data))
    readiness.begin()
    assert readiness.wait(120)
    return readiness


def test_a_viewer_after_the_warm_up_finds_the_package_loaded(loads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    readiness = _warmed(BUNDLED_DATA, monkeypatch)
    status, body = readiness.answer()
    assert (status, body["state"], body["awards"], body["errors"]) == (200, READY, 24, 0)
    assert body["seconds"] >= 0 and "reloading" not in body
    assert len(loads) == 1
    at = open_page("companies")
    assert not at.exception and at.get("plotly_chart")
    assert len(loads) == 1  # the page took the warm-up's load
    assert readiness.answer()[1] == body  # the same files: nothing begun again


def _held(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the next preparations wait: (one has started, let them go)."""
    import ui.loading as loading

    started, release = threading.Event(), threading.Event()
    counted = loading.prepare_cached

    def held(package, cache, *early):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(60)
        return counted(package, cache, *early)

    monkeypatch.setattr(loading, "prepare_cached", held)
    return started, release


def test_a_viewer_during_the_warm_up_waits_for_it_rather_than_loading_again(
    loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.loading as loading

    monkeypatch.setenv("AIFUNDING_DATA", str(BUNDLED_DATA))
    started, release = _held(monkeypatch)
    readiness = Readiness(loading.warm_up, _signature(BUNDLED_DATA))
    readiness.begin()
    assert started.wait(30)
    assert readiness.answer()[0] == 503 and readiness.answer()[1]["state"] == LOADING
    # The load is let go only once the viewer's page has asked for the package (its page thread reads the
    # files' signature just before), so the page is waiting for the load, not finding it done.
    signature = loading.package_signature

    def viewer_asks(path):  # type: ignore[no-untyped-def]
        if threading.current_thread().name != "aifunding-warm-up":
            threading.Timer(0.3, release.set).start()
        return signature(path)

    monkeypatch.setattr(loading, "package_signature", viewer_asks)
    at = open_page("overview")
    assert release.is_set()
    assert not at.exception and at.get("plotly_chart")
    assert len(loads) == 1
    assert readiness.wait(60) and readiness.answer()[0] == 200


def test_a_package_that_cannot_be_read_fails_and_is_tried_again_once_its_files_change(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ui.loading import warm_up

    folder = tmp_path / "package"
    folder.mkdir()
    monkeypatch.setenv("AIFUNDING_DATA", str(folder))
    readiness = Readiness(warm_up, _signature(folder))
    readiness.begin()
    assert readiness.wait(30)
    status, body = readiness.answer()
    assert (status, body["state"]) == (503, FAILED)
    assert "no datapackage.json found" in body["problem"] and str(tmp_path) not in body["problem"]  # no path shown
    assert readiness.answer()[1]["state"] == FAILED  # unchanged files, just failed: not tried again
    shutil.copytree(BUNDLED_DATA, folder, dirs_exist_ok=True)
    assert readiness.answer()[1]["state"] == LOADING  # changed: begun again
    assert readiness.wait(60)
    status, body = readiness.answer()
    assert (status, body["state"], body["awards"]) == (200, READY, 24)
    assert loads == [str(folder)]


def test_a_failed_load_is_tried_again_a_while_later_with_the_same_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error that passes (a full disk, a file being copied) must not keep the server out of rotation for good."""
    import ui.readiness as readiness_module

    tries: list[int] = []

    def flaky(attempt: Attempt) -> None:
        tries.append(1)
        attempt.finish(FAILED if len(tries) == 1 else READY, ("files",), problem="disk full")

    readiness = Readiness(flaky, lambda: ("files",))
    readiness.begin()
    assert readiness.wait(10)
    assert readiness.answer()[1]["state"] == FAILED and len(tries) == 1  # too soon
    monkeypatch.setattr(readiness_module, "RETRY_S", 0.0)
    readiness.answer()
    assert readiness.wait(10)
    assert readiness.answer()[0] == 200 and len(tries) == 2


def test_changed_files_are_loaded_again_while_the_server_stays_ready(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    readiness = _warmed(folder, monkeypatch)
    assert readiness.answer()[1]["errors"] == 0
    started, release = _held(monkeypatch)
    awards = folder / "awards.csv"
    lines = awards.read_text(encoding="utf-8").splitlines(keepends=True)
    awards.write_text("".join([*lines, lines[1]]), encoding="utf-8")  # the first award twice: a duplicate id
    status, body = readiness.answer()
    assert (status, body["state"], body["reloading"], body["errors"]) == (200, READY, True, 0)  # the old package's
    assert started.wait(30)
    release.set()
    assert readiness.wait(60)
    status, body = readiness.answer()
    assert (status, body["state"]) == (200, READY) and "reloading" not in body
    assert body["errors"] >= 1 and body["awards"] == 24  # the new files, their second copy of an award refused
    assert len(loads) == 2


def test_a_reload_that_fails_leaves_the_server_ready_and_says_why(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    readiness = _warmed(folder, monkeypatch)
    (folder / "datapackage.json").write_text("{not json", encoding="utf-8")
    assert readiness.answer()[1]["reloading"] is True
    assert readiness.wait(60)
    status, body = readiness.answer()
    assert (status, body["state"], body["awards"]) == (200, READY, 24)  # viewers keep the package loaded before
    assert body["problem"] and "reloading" not in body


def test_a_package_with_errors_is_ready_and_says_how_many(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    awards = folder / "awards.csv"
    lines = awards.read_text(encoding="utf-8").splitlines(keepends=True)
    awards.write_text("".join([*lines, lines[1]]), encoding="utf-8")  # the first award twice: a duplicate id
    status, body = _warmed(folder, monkeypatch).answer()
    assert (status, body["state"]) == (200, READY)
    assert body["errors"] >= 1


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("page", ["overview", "companies", "programmes", "market", "world"])  # the pages with charts
def test_a_new_viewer_s_first_page_after_the_warm_up_draws_nothing_again(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, page: str, lang: str
) -> None:
    """Each page's first view (no filters) was worked out as the server started, under the names the page
    remembers it by: its charts are not drawn again, nor the Overview's headline totals worked out."""
    import aifunding.outputs.summary as summary

    import ui.blocks as blocks

    _warmed(BUNDLED_DATA, monkeypatch)
    drawn: list[str] = []
    draw, headline = blocks.draw, summary.headline
    monkeypatch.setattr(blocks, "draw", lambda chart, *args: drawn.append(chart.key) or draw(chart, *args))
    monkeypatch.setattr(summary, "headline", lambda *args: drawn.append("headline") or headline(*args))
    at = open_page(page, loads=lang == "en", lang=lang)
    assert not at.exception
    assert drawn == []
    # A view nobody had asked for is worked out as before.
    at.multiselect(key="w_country").set_value(["JP"]).run()
    assert not at.exception and drawn


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_recipients_totals_after_the_warm_up_ask_the_engine_nothing_again(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    import aifunding.analysis.engine_view as engine_view

    _warmed(BUNDLED_DATA, monkeypatch)
    made: list[str] = []
    for name in ("ViewEngine", "RecipientTotals"):
        real = getattr(engine_view, name)
        monkeypatch.setattr(engine_view, name, lambda *args, real=real, name=name: made.append(name) or real(*args))
    at = open_page("data", loads=lang == "en", lang=lang)
    next(w for w in at.get("button_group") if w.key == "table").set_value("recipients")
    at.run()
    assert not at.exception
    # In English the engine and the totals were made at the start; the Japanese labels are left to who asks.
    assert made == ([] if lang == "en" else ["RecipientTotals"])
    assert any(column("total_by_basis", lang) in frame.value.columns for frame in at.dataframe)
    made.clear()
    at.multiselect(key="w_country").set_value(["JP"]).run()  # another view: added up then
    assert not at.exception and made == ["RecipientTotals"]


def test_a_spark_server_starts_no_spark_session_before_the_table_is_asked_for(
    loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import aifunding.analysis.engine_view as engine_view

    monkeypatch.setenv("AIFUNDING_ENGINE", "spark")
    made: list[str] = []
    monkeypatch.setattr(engine_view, "ViewEngine", lambda *args: made.append("engine"))
    readiness = _warmed(BUNDLED_DATA, monkeypatch)
    assert readiness.state == READY and made == []


def test_a_load_that_raises_is_failed_not_loading_forever() -> None:
    def broken(attempt: Attempt) -> None:
        raise RuntimeError("a bug")

    readiness = Readiness(broken, lambda: ("files",))
    readiness.begin()
    assert readiness.wait(10)
    status, body = readiness.answer()
    assert (status, body["state"]) == (503, FAILED)
    assert "log" in body["problem"] and "a bug" not in body["problem"]
    assert readiness.answer()[1]["state"] == FAILED  # the same files: not begun again


def test_a_failed_load_is_begun_again_once_however_many_ask() -> None:
    runs: list[int] = []
    release = threading.Event()

    def load(attempt: Attempt) -> None:
        runs.append(1)
        if len(runs) == 1:
            attempt.finish(FAILED, ("old",), problem="unreadable")
        else:
            release.wait(10)
            attempt.finish(READY, ("new",))

    readiness = Readiness(load, lambda: ("new",))
    readiness.begin()
    assert readiness.wait(10)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(readiness.answer())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(body["state"] for _, body in answers) == [LOADING] * 8
    release.set()
    assert readiness.wait(10)
    assert readiness.answer()[0] == 200 and len(runs) == 2


def test_a_load_overtaken_by_a_later_one_says_nothing() -> None:
    """A load that ends after a later one has begun (its files changed meanwhile) leaves the later one's state."""
    first_done, later_started, later_release = threading.Event(), threading.Event(), threading.Event()
    attempts: list[Attempt] = []
    files = ["old"]

    def load(attempt: Attempt) -> None:
        attempts.append(attempt)
        if len(attempts) == 1:
            assert first_done.wait(10)
            raise RuntimeError("the first load's end, overtaken")  # reported failed by the thread, but too late
        later_started.set()
        assert later_release.wait(10)
        attempt.finish(READY, tuple(files))

    readiness = Readiness(load, lambda: tuple(files))
    readiness.begin()
    with readiness._lock:  # the files change and a second load begins while the first is still running
        readiness._running = False
    files[0] = "new"
    readiness.answer()
    assert later_started.wait(10)
    first_done.set()
    time.sleep(0.2)  # the first thread ends (as failed) now
    assert readiness.answer()[1]["state"] == LOADING
    later_release.set()
    assert readiness.wait(10)
    assert readiness.answer()[0] == 200


def test_the_dashboard_keeps_what_it_prepared_by_the_cache_s_writer_thread(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first viewer of a package waits for its preparation, not for the disk: the prepared views are written
    behind (3 s of a million awards' first run), and are in the cache once written."""
    from aifunding.loading.cache import wait_for_writes

    import ui.loading as loading

    caches = []
    prepare = loading.prepare_cached

    def recorded(package, cache, *early):  # type: ignore[no-untyped-def]
        caches.append(cache)
        return prepare(package, cache, *early)

    monkeypatch.setattr(loading, "prepare_cached", recorded)
    loading._prepared(str(BUNDLED_DATA), ("first",))
    assert [cache.write_behind for cache in caches] == [True]
    wait_for_writes()
    assert len(list((tmp_path / "cache" / "packages").glob("*/prepared-*.pickle"))) == 1


def test_a_package_validated_for_a_viewer_is_prepared_beside_its_rules_and_read_back_after_a_restart(
    loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aifunding.loading.cache import wait_for_writes

    import ui.loading as loading

    handed: list[tuple] = []
    prepare = loading.prepare_cached

    def recorded(package, cache, *early):  # type: ignore[no-untyped-def]
        handed.append(early)
        return prepare(package, cache, *early)

    monkeypatch.setattr(loading, "prepare_cached", recorded)
    first, _ = loading._prepared(str(BUNDLED_DATA), ("first",))
    [(early,)] = handed
    assert early is not None and early.package is first.package  # prepared as it was validated
    wait_for_writes()
    loading._prepared.clear()  # a restart: the package and its views are read back from the cache
    loading._prepared(str(BUNDLED_DATA), ("restart",))
    assert handed[1] == (None,)


def _companies_title(at) -> str:  # type: ignore[no-untyped-def]
    from test_app_pages import charts, title

    return title(charts(at)["recipients"])


def _infos(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [element.value for element in at.info]


def _served_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundled package, served (``AIFUNDING_DATA``), for a test to change."""
    folder = tmp_path / "package"
    shutil.copytree(BUNDLED_DATA, folder)
    monkeypatch.setenv("AIFUNDING_DATA", str(folder))
    return folder


def _gmo_lowered(folder: Path) -> None:
    """GMO's award from ¥1.93B to ¥1.9B: a change the Companies chart of GMO shows in its title."""
    awards = folder / "awards.csv"
    awards.write_text(awards.read_text(encoding="utf-8").replace(",1930000000,", ",1900000000,", 1), encoding="utf-8")


def test_changed_files_that_take_a_while_to_open_are_opened_behind_the_data_shown(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A million awards take about 25 s to open: each viewer's next page waited for it, under a spinner. Viewers
    keep what they saw, told why, and one load of the new files is made for them all."""
    import ui.loading as loading

    folder = _served_copy(tmp_path, monkeypatch)
    viewers = [open_page("companies", org="gmo-internet-group") for _ in range(2)]
    assert all("¥1.93B" in _companies_title(at) for at in viewers)
    assert len(loads) == 1 and not any("Newer data files" in text for text in _infos(viewers[0]))
    monkeypatch.setattr(loading, "BEHIND_AFTER_S", 0.2)
    started, release = _held(monkeypatch)
    _gmo_lowered(folder)
    for at in viewers:
        at.run()  # not held up by the load (it waits for ``release``)
        assert not at.exception
        assert "¥1.93B" in _companies_title(at)  # the data shown before
        [checking] = [text for text in _infos(at) if "Newer data files are being checked" in text]
        assert "the figures shown are those of the data loaded at" in checking
    assert started.wait(30) and not release.is_set()
    [opening] = loading._openings.values()
    # Waited for once, until 0.2 s after the opening began: a rerun after that (a filter changed) waits no more.
    waits: list[float] = []
    wait = opening.finished.wait
    monkeypatch.setattr(opening.finished, "wait", lambda timeout=None: waits.append(timeout) or wait(timeout))
    viewers[0].multiselect(key="w_country").set_value(["JP"]).run()
    assert "¥1.93B" in _companies_title(viewers[0]) and waits == [0.0]
    viewers[0].multiselect(key="w_country").set_value([]).run()
    release.set()
    assert opening.finished.wait(60) and opening.error is None
    for at in viewers:
        at.run()
        assert "¥1.9B" in _companies_title(at) and "¥1.93B" not in _companies_title(at)
        assert not any("Newer data files" in text for text in _infos(at))
    assert len(loads) == 2  # one load of the new files for both viewers


def test_changed_files_that_open_quickly_are_shown_at_once(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = _served_copy(tmp_path, monkeypatch)
    at = open_page("companies", org="gmo-internet-group")
    _gmo_lowered(folder)
    at.run()  # the bundled package opens well within BEHIND_AFTER_S: the rerun waits for it
    assert "¥1.9B" in _companies_title(at) and not any("Newer data files" in text for text in _infos(at))
    assert len(loads) == 2


def test_changed_files_that_cannot_be_opened_behind_leave_the_data_shown_and_are_not_tried_at_every_rerun(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ui.loading as loading

    folder = _served_copy(tmp_path, monkeypatch)
    at = open_page("companies", org="gmo-internet-group")
    tried: list[str] = []
    real = loading.load_package
    monkeypatch.setattr(loading, "load_package", lambda path, **kw: tried.append(path) or real(path, **kw))
    (folder / "datapackage.json").write_text("{not json", encoding="utf-8")
    for _ in range(3):
        at.run()
        assert not at.exception and "¥1.93B" in _companies_title(at)
        [stale] = [w.value for w in at.warning if "no longer validate" in w.value]
        assert "datapackage" in stale and "Expecting property name" in stale
    assert len(tried) == 1  # opened once: the same files are not opened again at each rerun
    shutil.copy(BUNDLED_DATA / "datapackage.json", folder / "datapackage.json")
    at.run()
    assert not at.warning and "¥1.93B" in _companies_title(at) and len(tried) == 2


def test_the_recipients_totals_are_added_up_beside_the_charts_and_waited_for(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """DuckDB adds the totals up in a thread of its own while the charts are drawn; the start waits for both."""
    from aifunding.analysis.view import prepare
    from aifunding.loading.package import load_package

    import ui.warm as warm

    prepared = prepare(load_package(BUNDLED_DATA))
    charts_begun, where, finished = threading.Event(), [], []
    draw = warm.draw

    def drawing(*args):  # type: ignore[no-untyped-def]
        charts_begun.set()
        return draw(*args)

    def totals(prepared, view):  # type: ignore[no-untyped-def]
        where.append(threading.get_ident())
        assert charts_begun.wait(30)  # the charts are drawn meanwhile, not after
        time.sleep(0.2)
        finished.append(True)

    monkeypatch.setattr(warm, "draw", drawing)
    monkeypatch.setattr(warm, "default_totals", totals)
    warm.default_views(prepared)
    assert where and where[0] != threading.get_ident() and finished == [True]

    def broken(prepared, view):  # type: ignore[no-untyped-def]
        raise RuntimeError("engine down")

    monkeypatch.setattr(warm, "default_totals", broken)
    with caplog.at_level("ERROR", logger="aifunding.dashboard"):
        warm.default_views(prepare(load_package(BUNDLED_DATA)))
    assert "recipients' totals could not be added up" in caplog.text


def test_a_first_viewer_s_run_writes_the_new_package_to_the_cache_once_its_page_is_drawn(
    loads: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a start-up load, the first viewer waits for the validation and the preparation, not for turning
    them into files (3 to 4 s of a million awards' first page): the tables and the prepared views are handed to
    the cache's writer after the page and its sidebar are drawn, then written."""
    import aifunding.loading.writer as writer

    import ui.sidebar as sidebar

    events: list[str] = []
    submit, draw_controls = writer._submit, sidebar.draw_controls
    monkeypatch.setattr(writer, "_submit", lambda *args: events.append("handed over") or submit(*args))
    monkeypatch.setattr(sidebar, "draw_controls", lambda: events.append("page drawn") or draw_controls())
    at = open_page("overview")
    assert not at.exception and loads == [str(BUNDLED_DATA)]
    # The tables, then the prepared views (and whatever else the page kept), all once the page is drawn.
    assert events[0] == "page drawn" and events[1:] and set(events[1:]) == {"handed over"}, events
    writer.wait_for_writes()
    (entry,) = (tmp_path / "cache" / "packages").iterdir()
    assert (entry / "report.pickle").is_file() and len(list(entry.glob("prepared-*.pickle"))) == 1
