"""The embedded warehouse's memory limit (RECOVERYPBR_MEMORY_LIMIT): a step that does not fit is a message naming
the fix, never a traceback, and leaves nothing half-written; a limit DuckDB cannot read is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.warehouse.connection import MEMORY_ENV, open_warehouse

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = str(ROOT / "contracts" / "marlshire.yaml")
runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("memory")
    for args in (["synth", "--contract", CONTRACT, "--clients", "300", "--seed", "1", "--out", str(folder / "area")],
                 ["load", str(folder / "area"), "--db", str(folder / "w.duckdb")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return folder / "w.duckdb"


def _runs(db: Path) -> list[tuple[object, ...]]:
    """The stored outcome runs and priced periods, with when each was stored."""
    with open_warehouse(db, read_only=True) as wh:
        return [*wh.execute("SELECT run_id, as_of, stored_at FROM outcome_runs ORDER BY run_id"),
                *wh.execute("SELECT period_label, data_sha256, line_count FROM priced_periods ORDER BY 1, 2")]


@pytest.mark.parametrize("command", ["outcomes", "pay"])
def test_running_out_of_memory_is_a_message_naming_the_fix(loaded: Path, tmp_path: Path, command: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = _runs(loaded)
    monkeypatch.setenv(MEMORY_ENV, "8MB")
    args = (["outcomes", "--contract", CONTRACT, "--as-of", "2013-03-31", "--db", str(loaded)] if command == "outcomes"
            else ["pay", "--contract", CONTRACT, "--period", "2013-Q1", "--db", str(loaded), "--out", str(tmp_path)])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    words = " ".join(result.output.split())
    assert "the warehouse ran out of memory" in words
    assert f"{MEMORY_ENV}=8GB" in words
    assert "Traceback" not in result.output
    assert _runs(loaded) == before
    assert not list(tmp_path.rglob("statement_*"))

    monkeypatch.delenv(MEMORY_ENV)
    assert runner.invoke(app, args).exit_code == 0


def test_a_limit_duckdb_cannot_read_is_named(loaded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "lots")
    result = runner.invoke(app, ["outcomes", "--contract", CONTRACT, "--as-of", "2013-03-31", "--db", str(loaded)])
    assert result.exit_code == 2, result.output
    words = " ".join(result.output.split())
    assert "the memory limit 'lots' is not a size DuckDB understands" in words
    assert "such as 8GB or 500MB" in words
