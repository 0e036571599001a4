"""Shared fixtures: fresh warehouses, the hand-made dirty extract and snapshots of warehouse content."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DIRTY
from hypothesis import settings

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




# Hypothesis: CI runs derandomized (the same examples every run, so a pass is not luck); elsewhere examples are
# drawn afresh. Money properties set their own (larger) number of examples; counterexamples are pinned with
# @example. HYPOTHESIS_PROFILE=thorough draws many more, for a session that changed payments/.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
