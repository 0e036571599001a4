"""The schema is created and versioned by the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from recoverypbr import WarehouseError, open_warehouse
from recoverypbr.data.schema import TABLES
from recoverypbr.warehouse.migrations import SCHEMA_VERSION, current_version, migrate, stored_table_columns


def test_a_new_warehouse_is_created_at_the_current_version(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "new.duckdb") as wh:
        assert current_version(wh) == SCHEMA_VERSION
        assert migrate(wh) == []  # nothing pending
        for table in TABLES:
            stored = wh.table(table.name).columns
            assert tuple(stored) == tuple(name for name, _ in stored_table_columns(table))
        assert {"loads", "load_files", "quarantine", "schema_version"} <= set(wh.ibis.list_tables())


def test_a_warehouse_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "newer.duckdb"
    with open_warehouse(db) as wh:
        wh.execute("INSERT INTO schema_version VALUES (?, 'from the future', TIMESTAMP '2030-01-01')",
                   [SCHEMA_VERSION + 1])
    with pytest.raises(WarehouseError, match="newer than this program") as info:
        open_warehouse(db)
    assert "upgrade recoverypbr" in info.value.hint
    with pytest.raises(WarehouseError, match="newer"):
        open_warehouse(db, read_only=True)


def test_reading_needs_an_existing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse") as info:
        open_warehouse(tmp_path / "missing.duckdb", read_only=True)
    assert "recoverypbr load" in info.value.hint


def test_a_file_that_is_not_a_warehouse_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WarehouseError, match="cannot open the warehouse"):
        open_warehouse(junk)


def test_an_older_warehouse_is_migrated_forward_keeping_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import DIRTY

    from recoverypbr import load_extract
    from recoverypbr.warehouse import migrations

    db = tmp_path / "old.duckdb"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    with open_warehouse(db) as wh:
        assert current_version(wh) == 1
        # Rows as a version-1 program stored them (the loader of today writes columns version 1 lacks).
        wh.execute("INSERT INTO clients (client_id, load_id, source_row) VALUES ('C1', 1, 2)")
        wh.execute("INSERT INTO episodes (episode_id, client_id, provider_id, start_date, load_id, source_row)"
                   " VALUES ('E1', 'C1', 'P1', DATE '2013-01-10', 1, 2)")
        wh.execute("INSERT INTO quarantine VALUES (1, 'clients', 'clients.csv', 'ab', 3, 'date_of_birth',"
                   " '1975-02-30', 'format', 'not a valid ISO date (YYYY-MM-DD)', 'C2')")
        wh.execute("INSERT INTO load_files VALUES (1, 'clients', 'clients.csv', 'ab', 3, 1, 0, 0, 1)")
    monkeypatch.undo()
    with pytest.raises(WarehouseError, match="open it once for writing"):
        open_warehouse(db, read_only=True)
    with open_warehouse(db) as wh:
        assert current_version(wh) == SCHEMA_VERSION
        assert [v for (v,) in wh.execute("SELECT version FROM schema_version ORDER BY version")] == list(
            range(1, SCHEMA_VERSION + 1)
        )
        assert wh.execute("SELECT count(*) FROM episodes") == [(1,)]
        # Version 6: entries stored before it have no owner columns filled; files no notes.
        assert wh.execute("SELECT record_key, provider_id FROM quarantine") == [("C2", None)]
        assert wh.execute("SELECT notes FROM load_files") == [("",)]
        load_extract(wh, DIRTY)  # and the migrated warehouse loads
        assert "complexity_groups" in wh.ibis.list_tables()

