"""The warehouse on a real PostgreSQL server (tests/pg.py starts one per session): URLs and RECOVERYPBR_DB, the errors
a user meets (each through the command line, naming the fix, never a traceback), loads, and writers taking turns."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import DIRTY
from pg import PASSWORD, PgServer
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.errors import WarehouseError
from recoverypbr.warehouse.connection import DEFAULT_DB, describe_db, open_warehouse, resolve_db
from recoverypbr.warehouse.migrations import SCHEMA_VERSION

runner = CliRunner()
CLI = [sys.executable, "-m", "recoverypbr"]


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.output


def _refused(code: int, output: str, *words: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    flat = " ".join(output.split())
    for word in words:
        assert word in flat, flat


def _counts(url: str) -> dict[str, int]:
    with open_warehouse(url, read_only=True) as wh:
        return {t: int(wh.execute(f"SELECT count(*) FROM {t}")[0][0])
                for t in ("clients", "episodes", "top", "loads", "load_files", "quarantine")}


def test_a_url_survives_the_path_option_and_the_environment_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://me@db.example:5433/pbr"
    assert resolve_db(Path(url)) == url  # typer's Path folds `//` into `/`
    monkeypatch.delenv("RECOVERYPBR_DB", raising=False)
    assert resolve_db(DEFAULT_DB) == DEFAULT_DB
    monkeypatch.setenv("RECOVERYPBR_DB", url)
    assert resolve_db(DEFAULT_DB) == url
    assert resolve_db(Path("other.duckdb")) == Path("other.duckdb")  # --db given: it wins
    assert describe_db("postgresql://me:secret@h:1/d") == "postgresql://me:***@h:1/d"


def test_load_into_postgresql_matches_duckdb(pg_db: Callable[[], str], tmp_path: Path) -> None:
    """The same extract loads to the same rows and the same quarantine on both engines, with the password given by
    PGPASSWORD and the URL by RECOVERYPBR_DB (no --db)."""
    url = pg_db()
    no_password = url.replace(f":{PASSWORD}@", "@")
    code, output = _cli("load", str(DIRTY), env={"RECOVERYPBR_DB": no_password, "PGPASSWORD": PASSWORD})
    assert code == 0, output
    duck = tmp_path / "w.duckdb"
    code, output = _cli("load", str(DIRTY), "--db", str(duck))
    assert code == 0, output
    assert _counts(url) == _counts(str(duck))
    with open_warehouse(url, read_only=True) as pg, open_warehouse(duck, read_only=True) as dk:
        for table in ("clients", "episodes", "quarantine"):
            order = "table_name, row_number, column_name, reason" if table == "quarantine" else "1, 2"
            columns = "table_name, row_number, column_name, value, rule, reason" if table == "quarantine" else "*"
            a = pg.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
            b = dk.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
            assert a == b, table
    code, output = _cli("loads", "--db", url)
    assert code == 0 and "Loads" in output  # a long clone path is cut short in the table, so ask the table itself
    with open_warehouse(url, read_only=True) as pg:
        assert "dirty" in pg.execute("SELECT source FROM loads")[0][0]


def test_an_unreachable_server_is_named_with_the_fix(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, output = _cli("loads", "--db", f"postgresql://someone@127.0.0.1:{port}/pbr")
    _refused(code, output, f"cannot reach the PostgreSQL server at 127.0.0.1:{port}",
             "check that the server is running")


def test_a_wrong_password_is_named_with_the_fix(pg_server: PgServer) -> None:
    url = pg_server.url().replace(PASSWORD, "wrong")
    code, output = _cli("loads", "--db", url)
    _refused(code, output, "password authentication failed", "PGPASSWORD", "~/.pgpass")
    assert "wrong" not in output  # the password is never shown
    code, output = _cli("loads", "--db", pg_server.url(password=False),
                        env={"PGPASSWORD": "", "PGPASSFILE": "/nowhere"})
    _refused(code, output, "password authentication failed", "PGPASSWORD")


def test_a_missing_database_is_named_with_the_fix(pg_server: PgServer) -> None:
    code, output = _cli("load", str(DIRTY), "--db", pg_server.url("no_such_db"))
    _refused(code, output, 'there is no database "no_such_db"', "createdb", "CREATE DATABASE")


def test_a_database_at_a_newer_schema_version_is_refused(pg_db: Callable[[], str]) -> None:
    url = pg_db()
    with open_warehouse(url) as wh:
        wh.execute("INSERT INTO schema_version VALUES (?, ?, now())", [SCHEMA_VERSION + 5, "from the future"])
    for args in (["loads"], ["load", str(DIRTY)]):
        code, output = _cli(*args, "--db", url)
        _refused(code, output, f"schema version {SCHEMA_VERSION + 5}, newer than this program's", "upgrade recoverypbr")
    with pytest.raises(WarehouseError, match="newer"):
        open_warehouse(url)


def test_the_schema_on_postgresql_is_every_migration(pg_db: Callable[[], str]) -> None:
    with open_warehouse(pg_db()) as wh:
        versions = [r[0] for r in wh.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        kinds = dict(wh.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'audit_sample_lines'"))
    assert kinds["inclusion_probability"] == "double precision"
    assert kinds["amount_pence"] == "bigint"


HOLDER = """
import sys, time
from recoverypbr.warehouse.connection import open_warehouse
wh = open_warehouse(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()  # until the test says
wh.execute("INSERT INTO loads VALUES (99, 'holder', now(), now(), 0, 0, 0, 'test')")
wh.close()
"""


def _holder(url: str) -> subprocess.Popen[str]:
    """Another writing process, holding the writers' lock until a line on its stdin, then writing one `loads` row."""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=os.environ.copy())
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    child.stdout.close()
    return child


def _someone_waits(url: str, timeout: float = 120) -> bool:
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as con:
        while time.monotonic() < deadline:
            row = con.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()
            if row and row[0]:
                return True
            time.sleep(0.2)
    return False


def test_a_load_waits_for_another_writer_then_loads(pg_db: Callable[[], str]) -> None:
    url = pg_db()
    holder = _holder(url)
    load = subprocess.Popen([*CLI, "load", str(DIRTY), "--db", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert _someone_waits(url)
    assert _counts(url)["loads"] == 0  # nothing of the load is visible while it waits
    holder.communicate("go\n", timeout=60)
    out, err = load.communicate(timeout=300)
    assert holder.returncode == 0
    assert load.returncode == 0, out + err
    assert "waiting for another recoverypbr command on this database" in err
    with open_warehouse(url, read_only=True) as wh:
        # The holder wrote load 99 before the load started: the load's id comes after it, read under the lock.
        assert [r[0] for r in wh.execute("SELECT load_id FROM loads ORDER BY load_id")] == [99, 100]


def test_a_writer_gives_up_after_the_lock_timeout_with_a_clear_error(pg_db: Callable[[], str]) -> None:
    url = pg_db()
    before = _counts(url)
    holder = _holder(url)
    try:
        done = subprocess.run([*CLI, "load", str(DIRTY), "--db", url], capture_output=True, text=True,
                              env={**os.environ, "RECOVERYPBR_LOCK_TIMEOUT": "1", "COLUMNS": "200"})
    finally:
        holder.kill()
        holder.communicate()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "another recoverypbr command has been writing" in " ".join(done.stdout.split())
    assert _counts(url) == before


def test_users_and_the_audit_chain_on_postgresql(pg_db: Callable[[], str]) -> None:
    """The web app's tables on PostgreSQL: a user, and an audit log whose writer catches a stale chain (a broken key,
    engine-neutral) inside an open transaction without losing it."""
    from datetime import datetime

    from recoverypbr.web import audit
    from recoverypbr.web.users import add_user, authenticate

    url = pg_db()
    at = datetime(2026, 1, 1, 9, 0)
    with open_warehouse(url, lock=False) as wh, open_warehouse(url, lock=False) as other:
        add_user(wh, "cora", "commissioner", None, "a long enough passphrase 1", at)
        assert authenticate(wh, "cora", "a long enough passphrase 1") is not None
        chain = audit.Chain()
        chain.append(wh, at, "cora", "commissioner", "sign_in")
        audit.append(other, at, "cli", "commissioner", "users_add", "pat")  # behind the chain's back
        with wh.transaction():
            seq = chain.append(wh, at, "cora", "commissioner", "approve", "S1")
        assert seq == 3
        assert audit.verify_chain(wh).broken_at is None


def test_text_that_looks_like_a_null_is_read_back_as_text(pg_db: Callable[[], str]) -> None:
    # Reads come back through COPY ... CSV: only an unquoted empty field is NULL. An id or reason that reads "NA",
    # "null", "NaN" or "n/a" is text, and an empty string stays empty.
    import ibis

    values = ["NA", "null", "NaN", "n/a", "N/A", "", None]
    with open_warehouse(pg_db()) as wh:
        wh.execute("CREATE TEMP TABLE _texts (n INTEGER, t VARCHAR)")
        for n, text in enumerate(values):
            wh.execute("INSERT INTO _texts VALUES (?, ?)", [n, text])
        t = wh.table("_texts")
        got = wh.to_arrow(t.order_by("n").select("t", blank=ibis.literal(None, "int64")))
    assert got.column("t").to_pylist() == values
    assert got.column("blank").to_pylist() == [None] * len(values)


def test_postgresqls_bit_string_digest_is_the_portable_one(pg_db: Callable[[], str]) -> None:
    # PostgreSQL reads the MD5's hex parts as bit strings (fingerprint.bit_string_digest); the reference reads them
    # digit by digit on DuckDB: over thousands of rows (every hex digit in every place), and over no rows, the same
    # sums. And data_sha256 takes that path on PostgreSQL.
    import ibis

    from recoverypbr.payments.fingerprint import bit_string_digest, table_digest
    from recoverypbr.warehouse.connection import Warehouse

    reference = Warehouse(":memory:")
    with open_warehouse(pg_db()) as wh:
        wh.execute("CREATE TABLE _digest (n INTEGER, x VARCHAR, units DOUBLE PRECISION)")
        wh.execute("INSERT INTO _digest SELECT g, 'row ' || g, g / 16.0 FROM generate_series(0, 4999) AS g")
        for rows in (5000, 0):
            t = wh.table("_digest").filter(ibis._.n < rows)
            expected = reference.to_arrow(table_digest(ibis.memtable(
                {"n": list(range(rows)), "x": [f"row {i}" for i in range(rows)],
                 "units": [i / 16 for i in range(rows)]}, schema={"n": "int32", "x": "string", "units": "float64"})
            )).to_pylist()[0]
            assert bit_string_digest(wh, t) == expected
            assert bit_string_digest(wh, t) == wh.to_arrow(table_digest(t)).to_pylist()[0]
    reference.close()
    assert expected["rows"] == 0

    import datetime as dt

    from recoverypbr.payments import fingerprint

    used: list[str] = []

    def counted(wh: object, table: object) -> dict[str, object]:
        used.append("bits")
        return bit_string_digest(wh, table)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch, open_warehouse(pg_db()) as wh:
        patch.setattr(fingerprint, "bit_string_digest", counted)
        fingerprint.data_sha256(wh, dt.date(2013, 3, 31))
    assert used


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_a_query_running_on_another_connection_is_interrupted(engine: str, pg_db: Callable[[], str],
                                                              tmp_path: Path) -> None:
    # What stops the data digest when pricing fails (`PendingFingerprint.cancel`): the statement running on the
    # other connection, in another thread, ends at once with an error there.
    import threading

    target = pg_db() if engine == "postgresql" else str(tmp_path / "w.duckdb")
    slow = ("SELECT pg_sleep(30)" if engine == "postgresql"
            else "SELECT count(*) FROM range(100000000000) a")
    with open_warehouse(target) as wh:
        other = wh.cursor()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                other.execute_native(slow)
            except BaseException as exc:  # what the interrupt raises in this thread
                failed.append(exc)

        thread = threading.Thread(target=run)
        started = time.monotonic()
        thread.start()
        time.sleep(1.0)
        other.interrupt()
        thread.join(timeout=20)
        assert not thread.is_alive() and time.monotonic() - started < 15
        assert failed
        other.close()
