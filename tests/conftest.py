"""Shared fixtures: fresh warehouses, the hand-made dirty extract and snapshots of warehouse content."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DIRTY

from recoverypbr.warehouse.connection import Warehouse, open_warehouse


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


