"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

from pathlib import Path

from recoverypbr.data.schema import TABLES
from recoverypbr.warehouse.connection import Warehouse

FIXTURES = Path(__file__).parent / "fixtures"
DIRTY = FIXTURES / "dirty"


def snapshot(wh: Warehouse, *, with_loads: bool = False) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every data table and the quarantine, sorted: equal snapshots mean nothing changed."""
    names = [t.name for t in TABLES] + ["quarantine", "schema_version"]
    if with_loads:
        names += ["loads", "load_files"]
    return {name: sorted(wh.execute(f'SELECT * FROM "{name}"'), key=repr) for name in names}
