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


def words(text: str) -> str:
    """Command output with the terminal's line wrapping undone."""
    return " ".join(text.split())


def squashed(text: str) -> str:
    """Text without any white space: for finding a long path in output that wrapped it mid-word."""
    return "".join(text.split())


def run_cli(*args: str) -> str:
    """Run the CLI in-process as a user would; it must succeed; its output with wrapping undone."""
    from typer.testing import CliRunner

    from recoverypbr.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return words(result.output)
