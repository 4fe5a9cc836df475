"""A throwaway PostgreSQL server for the tests: a real one, from Debian's binaries, never a mock.

The session fixture ``postgres_server`` makes a cluster with initdb in a new temporary folder and starts
it with pg_ctl. It listens only on a unix socket in that folder (``listen_addresses=''``): no TCP port is
opened, so nothing clashes with another server or another test run, and only the folder's owner can
connect. Authentication is ``trust`` and fsync is off: the cluster holds nothing worth protecting and
lives for one run. When the run ends the server is stopped and the folder removed. Each test takes its
own empty database from :meth:`PostgresServer.new_database`.

PostgreSQL refuses to run as root, and CI runs as root: then the folder is given to an unprivileged
system user, ``aifunding-pg`` (created with useradd when missing; ``nobody`` when it cannot be, though
``nobody`` should own no files), and initdb and pg_ctl run as that user through ``runuser``. Without
PostgreSQL's binaries the tests that need the server skip, and fail under CI=true (tests/needs.py).
Registered in tests/conftest.py (``pytest_plugins``), so any test module can ask for the fixture.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from needs import require

# Debian installs each major version's programs here; the newest one installed is used.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVER_USER = "aifunding-pg"
SUPERUSER = "postgres"
# Only names the socket file (.s.PGSQL.5432) inside the private folder: no TCP port is opened.
PORT = 5432
# Settings for a disposable cluster: nothing on TCP, and speed over crash safety.
SETTINGS = ("listen_addresses=''", "fsync=off", "synchronous_commit=off", "full_page_writes=off")
WHAT = "the PostgreSQL tests"


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server, reached through the unix socket in ``folder``."""

    folder: Path

    def dsn(self, database: str = SUPERUSER) -> str:
        """A ``postgresql://`` address of ``database``, as AIFUNDING_STORE takes it."""
        return f"postgresql://{SUPERUSER}@/{database}?host={quote(str(self.folder), safe='')}&port={PORT}"

    def new_database(self) -> str:
        """A new empty database (one per test keeps tests apart), as its address."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)


def find_binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's newest ``/usr/lib/postgresql/<major>/bin``, else from PATH."""
    majors = sorted(
        (folder for folder in DEBIAN_BINARIES.glob("*/bin") if folder.parent.name.isdigit()),
        key=lambda folder: int(folder.parent.name),
    )
    for folder in reversed(majors):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent  # pg_ctl starts the postgres beside it
    return None


def _server_user() -> str:
    """An unprivileged user to own the cluster when we are root: ``aifunding-pg``, made if need be."""
    for attempt in range(2):
        try:
            return pwd.getpwnam(SERVER_USER).pw_name
        except KeyError:
            if attempt or shutil.which("useradd") is None:
                break
            # A concurrent run may create it first; the lookup after decides.
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", SERVER_USER],
                capture_output=True,
                check=False,
            )  # fmt: skip
    return "nobody"


def _run(command: Sequence[str | Path], folder: Path, log: Path | None = None) -> None:
    """Run one step of setting up or stopping the server; on failure, fail with its output (and log)."""
    result = subprocess.run(
        [str(part) for part in command], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        logged = log.read_text(errors="replace")[-4000:] if log and log.is_file() else ""
        pytest.fail(f"{' '.join(map(str, command))} failed:\n{result.stdout}{result.stderr}{logged}")


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A new cluster, started, and removed when the block ends."""
    binaries = find_binaries()
    require(binaries is not None, "PostgreSQL is not installed (apt-get install postgresql)", WHAT)
    assert binaries is not None
    as_owner: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="aifunding-pg-"))
    try:
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            runuser = shutil.which("runuser")
            require(runuser is not None, "running PostgreSQL as root needs runuser (util-linux)", WHAT)
            assert runuser is not None
            owner = pwd.getpwnam(_server_user())
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            as_owner = [runuser, "-u", owner.pw_name, "--"]
        data, log = folder / "data", folder / "server.log"
        _run([*as_owner, binaries / "initdb", "-D", data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
              "--locale=C", "--no-sync"], folder)  # fmt: skip
        options = " ".join([f"-p {PORT}", f"-k {shlex.quote(str(folder))}", *(f"-c {s}" for s in SETTINGS)])
        _run([*as_owner, binaries / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"],
             folder, log)  # fmt: skip
        try:
            yield PostgresServer(folder)
        finally:
            _run([*as_owner, binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], folder, log)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (making a cluster takes seconds)."""
    with running_server() as server:
        yield server
