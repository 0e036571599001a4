"""SIGKILL during a load into PostgreSQL, and during a `pay` on it: nothing is left half-written, and the command
re-runs cleanly.

Load: a synthetic area of a couple of thousand clients (as bench/kill_pay.py makes one) is loaded once to completion
into one database (the after-state); then, into another, `recoverypbr load` is started in a child process and killed
with SIGKILL after several random delays. After each kill every table's row count (and the `loads` rows) equal the
empty before-state or the full after-state; the killed command's advisory lock and connection are gone with it, so
the final load runs cleanly and leaves exactly the after-state.

Pay: `recoverypbr pay` on the loaded database is killed at random points while it prices (each priced period is
stored in its own transaction), stores and writes. After each kill every stored priced period holds exactly its
line count, the statement folder verifies (`recoverypbr verify`: a whole set or none), and a last `pay` runs to
completion; its statements are byte for byte those of a `pay` made with nothing stored.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from recoverypbr.data.schema import TABLES
from recoverypbr.warehouse.connection import open_warehouse

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "recoverypbr"]
TRIES = 4


def _state(url: str) -> dict[str, object]:
    tables = [t.name for t in TABLES] + ["loads", "load_files", "quarantine"]
    with open_warehouse(url, read_only=True) as wh:
        state: dict[str, object] = {t: int(wh.execute(f'SELECT count(*) FROM "{t}"')[0][0]) for t in tables}
        state["loads_rows"] = wh.execute("SELECT load_id, source, rows_read, rows_changed FROM loads ORDER BY load_id")
        state["temporary"] = int(wh.execute("SELECT count(*) FROM pg_class WHERE relpersistence = 't'")[0][0])
    return state


@pytest.mark.slow
def test_a_killed_postgresql_load_leaves_all_or_nothing(pg_db: Callable[[], str], tmp_path: Path) -> None:
    area = tmp_path / "area"
    subprocess.run([*CLI, "synth", "--contract", str(ROOT / "contracts" / "marlshire.yaml"), "--clients", "1500",
                    "--seed", "7", "--out", str(area)], check=True, capture_output=True)
    reference, url = pg_db(), pg_db()
    before = _state(url)
    started = time.monotonic()
    subprocess.run([*CLI, "load", str(area), "--db", reference], check=True, capture_output=True)
    took = time.monotonic() - started
    after = _state(reference)
    assert after["episodes"] and after["loads_rows"]

    draw = random.Random(20261127)
    outcomes = []
    for _ in range(TRIES):
        child = subprocess.Popen([*CLI, "load", str(area), "--db", url], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(draw.uniform(0.3, took * 0.95))
        killed = child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
        state = _state(url)
        assert state in (before, after), f"a half-written load: {state}"
        outcomes.append("killed, nothing stored" if state == before else "finished before the kill")
        if state == after:
            break
        assert killed or state == after
    assert "killed, nothing stored" in outcomes, outcomes

    subprocess.run([*CLI, "load", str(area), "--db", url], check=True, capture_output=True)
    final = _state(url)
    if outcomes[-1] == "killed, nothing stored":
        assert final == after
    else:
        # The last try finished before its kill: running the load again reads the same rows, changes none, and
        # is recorded as a load of its own.
        audit = ("loads", "load_files", "loads_rows")
        assert {k: v for k, v in final.items() if k not in audit} == {k: v for k, v in after.items() if k not in audit}
        assert final["loads_rows"][:-1] == after["loads_rows"]
        assert final["loads_rows"][-1][2:] == (after["loads_rows"][-1][2], 0)
        assert final["load_files"] == 2 * after["load_files"]


def _priced(url: str) -> list[tuple[object, ...]]:
    """Each stored priced period with the lines and sums it should have (no lines when they were not kept), and
    those actually stored for it."""
    same = ("{t}.contract_sha256 = p.contract_sha256 AND {t}.data_sha256 = p.data_sha256"
            " AND {t}.program_version = p.program_version AND {t}.period_label = p.period_label")
    with open_warehouse(url, read_only=True) as wh:
        return wh.execute(
            "SELECT p.data_sha256, p.period_label, CASE WHEN p.lines_kept THEN p.line_count ELSE 0 END,"
            f" (SELECT count(*) FROM priced_lines l WHERE {same.format(t='l')}), p.sum_count,"
            f" (SELECT count(*) FROM priced_sums s WHERE {same.format(t='s')}) FROM priced_periods p ORDER BY 1, 2")


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("statement_*"))}


@pytest.mark.slow
def test_a_killed_pay_on_postgresql_leaves_whole_priced_periods_and_sets(pg_db: Callable[[], str],
                                                                        tmp_path: Path) -> None:
    area = tmp_path / "area"
    subprocess.run([*CLI, "synth", "--contract", str(ROOT / "contracts" / "marlshire.yaml"), "--clients", "800",
                    "--seed", "7", "--out", str(area)], check=True, capture_output=True)
    url = pg_db()
    subprocess.run([*CLI, "load", str(area), "--db", url], check=True, capture_output=True)
    out = tmp_path / "out"
    period = "2013-Q1"

    def pay(folder: Path) -> list[str]:
        return [*CLI, "pay", "--contract", str(ROOT / "contracts" / "marlshire.yaml"), "--period", period,
                "--db", url, "--out", str(folder)]

    started = time.monotonic()
    subprocess.run(pay(tmp_path / "timing"), check=True, capture_output=True)
    took = time.monotonic() - started
    with open_warehouse(url) as wh:  # forget what the timing run priced, so each killed run prices afresh
        for table in ("priced_lines", "priced_sums", "priced_periods"):
            wh.execute(f"DELETE FROM {table}")

    draw = random.Random(20261128)
    for _ in range(TRIES):
        child = subprocess.Popen(pay(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(draw.uniform(0.5, took * 0.95))
        child.send_signal(signal.SIGKILL)
        child.wait()
        for _data, label, count, stored, sum_count, sums in _priced(url):
            assert count == stored, f"priced period {label} half stored: {stored} of {count} lines"
            assert sum_count == sums, f"priced period {label} half stored: {sums} of {sum_count} sums"
        # Killed before the swap, `out` holds only the hidden store (nothing looks like a set); after it, the
        # period's set is in place and whole.
        if _visible(out):
            checked = subprocess.run([*CLI, "verify", str(out)], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stdout + checked.stderr

    finished = subprocess.run(pay(out), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert subprocess.run([*CLI, "verify", str(out / period)], capture_output=True).returncode == 0
    with open_warehouse(url) as wh:
        for table in ("priced_lines", "priced_sums", "priced_periods"):
            wh.execute(f"DELETE FROM {table}")
    fresh = tmp_path / "fresh"
    subprocess.run(pay(fresh), check=True, capture_output=True)
    assert _files(out / period) == _files(fresh / period)
    assert _files(out / period)
    shutil.rmtree(fresh)


def _visible(out: Path) -> list[str]:
    """What a user sees in `out`: its entries that are not hidden (pay stages sets in `out/.sets`)."""
    return sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []
