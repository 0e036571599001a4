"""Shared fixtures: fresh warehouses, the hand-made dirty extract and snapshots of warehouse content."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import DIRTY
from hypothesis import settings

from recoverypbr.warehouse.connection import Warehouse, open_warehouse

if TYPE_CHECKING:
    from pg import PgServer


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with open_warehouse(tmp_path / "test.duckdb") as warehouse:
        yield warehouse


@pytest.fixture
def dirty_copy(tmp_path: Path) -> Path:
    """A writable copy of the hand-made dirty extract."""
    target = tmp_path / "extract"
    shutil.copytree(DIRTY, target)
    return target


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for this session (one per xdist worker), stopped at its end (tests/pg.py)."""
    from pg import needs_postgres, start_server

    needs_postgres()
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases (each a URL, holding the migrated schema), dropped after the test."""
    made: list[str] = []

    def fresh() -> str:
        made.append(pg_server.fresh())
        return made[-1]

    yield fresh
    for url in made:
        pg_server.drop(url)


# Hypothesis: CI runs derandomized (the same examples every run, so a pass is not luck); elsewhere examples are
# drawn afresh. Money properties set their own (larger) number of examples; counterexamples are pinned with
# @example. HYPOTHESIS_PROFILE=thorough draws many more, for a session that changed payments/.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
