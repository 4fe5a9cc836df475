"""Export files: written whole (never half a file at the path), flushed to disk and out of the cache as they grow."""

from __future__ import annotations

import datetime
import errno
import io
import itertools
import os
import re
import zipfile
from pathlib import Path

import pytest

from aifunding.analysis.cached_views import kept_views, prepare_cached
from aifunding.analysis.conversion import FxChoice, convert_frame
from aifunding.analysis.metrics import award_view
from aifunding.loading.cache import PackageCache
from aifunding.loading.package import Package, load_package
from aifunding.outputs import export, files
from aifunding.outputs.cells import records
from aifunding.outputs.citations import add_citations, lookups_of
from aifunding.outputs.export import EXPORT_TABLES, FORMATS, PER_TABLE_FORMATS, export_bytes, write_export
from aifunding.outputs.files import FlushingFile, replacing

from packages import generate


def test_a_file_is_flushed_each_time_its_flush_bytes_are_written(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with replacing(target, flush_bytes=10) as handle:
        for piece in (b"abcd", b"efghij", b"k", b"lmnopqrstuvwxyz"):
            handle.write(piece)
            handle.flush()  # past the buffer: each piece is one write of the file
        raw = handle.raw  # type: ignore[attr-defined]
        assert isinstance(raw, FlushingFile)
        assert not target.exists()  # only the file beside it, until complete
    assert target.read_bytes() == b"abcdefghijklmnopqrstuvwxyz"
    # 4 + 6 reach 10 (one flush), 1 + 15 reach 10 again (a second); the bytes after it stay unflushed.
    assert raw.flushes == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_small_file_is_never_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(fd: int) -> None:
        raise AssertionError("a file smaller than FLUSH_BYTES waits for no disk")

    monkeypatch.setattr(os, "fdatasync", refuse)
    with replacing(tmp_path / "small.json") as handle:
        handle.write(b"x" * 1000)
    assert (tmp_path / "small.json").read_bytes() == b"x" * 1000


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP])
def test_a_file_system_that_cannot_flush_is_written_through_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    calls: list[int] = []

    def cannot(fd: int) -> None:
        calls.append(fd)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fdatasync", cannot)
    with replacing(tmp_path / "out.bin", flush_bytes=4) as handle:
        for _ in range(5):
            handle.write(b"12345")
    assert (tmp_path / "out.bin").read_bytes() == b"12345" * 5
    assert len(calls) == 1  # asked once, then left to its cache


def test_a_disk_error_met_while_flushing_fails_the_export_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    target = tmp_path / "out.bin"
    with pytest.raises(OSError, match="Input/output error"), replacing(target, flush_bytes=4) as handle:
        handle.write(b"12345")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_an_export_flushed_every_few_bytes_is_the_same_file(
    bundled: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The JSON writer's thread and openpyxl's zip (which seeks back) write the same bytes through a flushing file."""
    made = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    expected = export_bytes(bundled, fmt, generated_at=made)
    flushes: list[int] = []
    flush = FlushingFile._flush_to_disk

    def counted(self: FlushingFile) -> None:
        flushes.append(self.tell())
        flush(self)

    monkeypatch.setattr(FlushingFile, "_flush_to_disk", counted)
    original = files.replacing  # write_export's files, flushed every 4 KB
    monkeypatch.setattr("aifunding.outputs.export.replacing", lambda path: original(path, flush_bytes=4096))
    [path] = write_export(bundled, fmt, tmp_path / f"all.{fmt}", generated_at=made)
    assert contents(path.read_bytes(), fmt) == contents(expected, fmt)
    assert len(flushes) >= 2 and flushes == sorted(flushes)


def contents(data: bytes, fmt: str) -> object:
    """A file's bytes; a workbook's entry by entry, without the times openpyxl stamps on it when it is written
    (each ZIP entry's header, and the created and modified times in docProps/core.xml, to the second)."""
    if fmt != "xlsx":
        return data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (info.filename, re.sub(rb">\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<", b">(written)<", archive.read(info)))
            for info in archive.infolist()
        ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_from_the_views_a_dashboard_prepared_is_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The views read back from the cache give an export the awards and programmes it would join itself."""
    made = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    folder = tmp_path / "pkg"
    generate(600, folder, seed=9)
    cache = PackageCache(tmp_path / "cache")
    assert kept_views(load_package(folder, cache=cache), cache) is None  # nothing prepared yet: never prepares
    prepare_cached(load_package(folder, cache=cache), cache)
    package = load_package(folder, cache=cache)
    prepared = kept_views(package, cache)
    assert prepared is not None and prepared.package is package
    groups = [(name,) for name in EXPORT_TABLES] if fmt in PER_TABLE_FORMATS else [EXPORT_TABLES]
    for fx, tables in itertools.product((None, FxChoice("USD")), groups):
        expected = export_bytes(package, fmt, fx, tables, made)
        with monkeypatch.context() as joining:  # from the views, nothing is joined again
            for name in ("award_view", "programme_view"):
                joining.setattr(export, name, lambda *args, **kwargs: pytest.fail("joined again"))
            found = export_bytes(package, fmt, fx, tables, made, prepared=prepared)
        assert contents(found, fmt) == contents(expected, fmt), (fx, tables)
    # An award link without a value (an invalid package's) takes the tuples' path, from the views too.
    monkeypatch.setattr(export, "award_citations", lambda *args: None)
    tables = ("awards",)
    assert contents(export_bytes(package, fmt, None, tables, made, prepared=prepared), fmt) == contents(
        export_bytes(package, fmt, None, tables, made), fmt
    )


@pytest.mark.parametrize("fx", [None, FxChoice("USD")])
@pytest.mark.parametrize("which", ["bundled", "generated"])
def test_the_awards_made_beside_each_other_are_those_made_one_after_another(
    bundled: Package, tmp_path: Path, fx: FxChoice | None, which: str
) -> None:
    """The recipients and the sources made in a thread while the conversion, the caveats and the programmes' columns
    are made in the other: the table of the award view with its tuples of ids joined, then converted whole."""
    if which == "bundled":
        package = bundled
    else:
        generate(600, tmp_path / "pkg", seed=5)
        package = load_package(tmp_path / "pkg")
    frame = add_citations(award_view(package), lookups_of(package))
    frame["basis_words"] = export._basis_words(frame)
    columns = list(export.AWARD_COLUMNS)
    if fx is not None:
        frame = export._round_converted(convert_frame(frame[columns], fx))
        columns += export.FX_COLUMNS
    made = export.export_awards(package, fx)
    assert list(made.columns) == columns
    assert records(made) == records(frame[columns].reset_index(drop=True))


def test_the_export_command_reads_the_views_only_for_the_tables_made_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aifunding import cli

    folder = tmp_path / "pkg"
    generate(50, folder, seed=2)
    monkeypatch.setenv("AIFUNDING_CACHE", str(tmp_path / "cache"))
    asked: list[str] = []
    monkeypatch.setattr(cli, "kept_views", lambda package, cache: asked.append(package.name))
    for table, reads in (("market_shares", False), ("awards", True), ("programmes", True)):
        asked.clear()
        out = tmp_path / f"{table}.csv"
        assert cli.main(["export", "--data", str(folder), "--format", "csv", "--table", table, "-o", str(out)]) == 0
        assert out.stat().st_size > 0 and bool(asked) is reads, table
    capsys.readouterr()
