"""A real PostgreSQL server for the tests: initdb and postgres in a temporary folder, on 127.0.0.1 and a free port.

One server per pytest session (so one per xdist worker), stopped at the end. It listens on TCP only (its unix socket
stays in its own folder), runs with fsync off, and asks for a password (scram-sha-256), so a wrong password is a
real refusal. PostgreSQL refuses to run as root: as root, the folder belongs to `nobody` and the server runs as it.

Each test gets its own database, copied from a template that already holds the migrated schema (`PgServer.fresh`).
Where the PostgreSQL binaries are missing the tests skip, except in CI (`CI=true`), where they fail.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "recoverypbr"
PASSWORD = "not-a-secret-test-password"
TEMPLATE = "recoverypbr_template"


def pg_bin() -> Path | None:
    """The folder holding initdb and postgres: $PG_BIN, else the newest /usr/lib/postgresql/N/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_missing() -> str | None:
    folder = pg_bin()
    if folder is None or not (folder / "initdb").exists() or not (folder / "postgres").exists():
        return "the PostgreSQL server binaries (initdb, postgres) are not installed: apt-get install postgresql"
    return None


def needs_postgres() -> None:
    """Skip (fail in CI) where no PostgreSQL server can be started."""
    missing = postgres_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: CI runs the warehouse on a real PostgreSQL server; .ci/run installs it")
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server; `url()` for a database on it, `fresh()` for a new database with the schema."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, dbname: str = "postgres", *, password: bool = True, user: str = USER) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{user}{secret}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True)

    def fresh(self, prefix: str = "t") -> str:
        """The URL of a new database holding the current schema and nothing else."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.connect() as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return self.url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.connect() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(20)
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_server_user() -> tuple[dict[str, int], int | None]:
    """Popen arguments that run a child as `nobody` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}, None
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}, nobody.pw_uid  # type: ignore[dict-item]


def start_server() -> PgServer:
    """initdb a cluster in a new temporary folder and start it; the template database gets the schema."""
    binaries = pg_bin()
    assert binaries is not None
    folder = Path(tempfile.mkdtemp(prefix="recoverypbr-pg-"))
    who, uid = _as_server_user()
    data = folder / "data"
    pwfile = folder / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if uid is not None:
        os.chown(folder, uid, -1)
        os.chown(pwfile, uid, -1)
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}
    subprocess.run(
        [str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={pwfile}",
         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        check=True, capture_output=True, env=env, **who,  # type: ignore[arg-type]
    )
    for attempt in range(5):
        port = _free_port()
        with open(folder / "server.log", "wb") as log:
            process = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                 "-k", str(folder), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=60", "-c", "shared_buffers=64MB"],
                stdout=log, stderr=subprocess.STDOUT, env=env, **who,  # type: ignore[arg-type]
            )
        server = PgServer(folder, port, process)
        if _wait_ready(server):
            break
        process.kill()
        process.wait()
        if attempt == 4:
            raise RuntimeError(f"PostgreSQL did not start: {(folder / 'server.log').read_text()[-2000:]}")
    _make_template(server)
    return server


def _wait_ready(server: PgServer, timeout: float = 30) -> bool:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        with contextlib.suppress(psycopg.OperationalError):
            server.connect().close()
            return True
        time.sleep(0.1)
    return False


def _make_template(server: PgServer) -> None:
    from recoverypbr.warehouse.connection import open_warehouse

    with server.connect() as con:
        con.execute(f'CREATE DATABASE "{TEMPLATE}"')
    with open_warehouse(server.url(TEMPLATE)):
        pass
    with server.connect() as con:
        con.execute(f"ALTER DATABASE \"{TEMPLATE}\" WITH IS_TEMPLATE true")
