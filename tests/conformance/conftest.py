"""The engines every conformance test runs on: each gives a fresh, empty warehouse target per test.

To add an engine, add its name to ENGINES and a branch to `warehouse_target` that makes a fresh warehouse for it
(a DuckDB path, a postgresql:// URL, ...); the test ids then end in `[<engine>]`, so `-k <engine>` runs one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ENGINES = ("duckdb", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`engine` is parametrized last, so every id ends in `-<engine>]`."""
    if "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES)


@pytest.fixture
def warehouse_target(engine: str, request: pytest.FixtureRequest) -> Path | str:
    """A fresh warehouse: in memory for DuckDB, a new database (from the migrated template) for PostgreSQL."""
    if engine == "duckdb":
        return ":memory:"
    if engine == "postgresql":
        fresh: Callable[[], str] = request.getfixturevalue("pg_db")
        return fresh()
    raise AssertionError(f"unknown engine {engine}")
