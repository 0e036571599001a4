"""A load is one transaction: a kill or a failure part way leaves the warehouse exactly as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DIRTY, snapshot

from recoverypbr import load_extract, open_warehouse
from recoverypbr.data import ingest
from recoverypbr.warehouse.connection import Warehouse

# Loads an extract in a child process that SIGKILLs itself right after one table has been written.
KILLER = """
import os, signal, sys
from recoverypbr import load_extract, open_warehouse
from recoverypbr.data import ingest

db, extract, victim = sys.argv[1:4]
upsert = ingest._upsert

def upsert_then_die(wh, table, good, load_id):
    counts = upsert(wh, table, good, load_id)
    if table.name == victim:
        os.kill(os.getpid(), signal.SIGKILL)
    return counts

ingest._upsert = upsert_then_die
load_extract(open_warehouse(db), extract)
"""


@pytest.fixture
def changed_extract(dirty_copy: Path) -> Path:
    """The dirty extract with one episode changed and one client added, so a completed load would write rows."""
    episodes = dirty_copy / "episodes.csv"
    episodes.write_text(episodes.read_text().replace("E2,C5,P2,2013-02-01,,2013-02-10,,,", "E2,C5,P2,2013-02-01,,"
                                                     "2013-02-10,2013-06-01,dropped_out,"))
    clients = dirty_copy / "clients.csv"
    clients.write_text(clients.read_text() + "C8,1999-09-09,,F,Malvern\n")
    return dirty_copy


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["clients", "top", "feedback"])
def test_a_load_killed_part_way_leaves_the_warehouse_as_it_was(
    tmp_path: Path, changed_extract: Path, victim: str
) -> None:
    db = tmp_path / "killed.duckdb"
    with open_warehouse(db) as wh:
        load_extract(wh, DIRTY)
        before = snapshot(wh, with_loads=True)
    child = subprocess.run([sys.executable, "-c", KILLER, str(db), str(changed_extract), victim],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr
    with open_warehouse(db) as wh:
        assert snapshot(wh, with_loads=True) == before
        # The warehouse is still usable: the same extract then loads completely.
        result = load_extract(wh, changed_extract)
        # E2 updated, C8 new, and T10 (a post-exit TOP of E2, kept aside while E2 was open) now loads.
        assert result.rows_changed == 3
        assert result.load_id == 2


def test_a_failure_part_way_rolls_back(wh: Warehouse, changed_extract: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_extract(wh, DIRTY)
    before = snapshot(wh, with_loads=True)
    upsert = ingest._upsert

    def upsert_then_fail(wh, table, good, load_id):  # type: ignore[no-untyped-def]
        counts = upsert(wh, table, good, load_id)
        if table.name == "episodes":
            raise OSError("disk full")
        return counts

    monkeypatch.setattr(ingest, "_upsert", upsert_then_fail)
    with pytest.raises(OSError, match="disk full"):
        load_extract(wh, changed_extract)
    assert snapshot(wh, with_loads=True) == before
