"""SIGKILL during a load into PostgreSQL: the database holds all of that load or none of it, and the load re-runs.

A synthetic area of a couple of thousand clients (as bench/kill_pay.py makes one) is loaded once to completion into
one database (the after-state); then, into another, `recoverypbr load` is started in a child process and killed
with SIGKILL after several random delays. After each kill every table's row count (and the `loads` rows) equal the
empty before-state or the full after-state; the killed command's advisory lock and connection are gone with it, so
the final load runs cleanly and leaves exactly the after-state.
"""

from __future__ import annotations

import random
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
    assert _state(url) == after
