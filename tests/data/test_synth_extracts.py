"""Synthetic extracts load as real ones would: a clean area loads whole, a dirty one is sorted row by row."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import snapshot

from recoverypbr import load_extract, open_warehouse
from recoverypbr.synth import generate_area


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_a_clean_area_loads_without_quarantine(tmp_path: Path, fmt: str) -> None:
    summary = generate_area(400, 3, tmp_path / "area", fmt)  # type: ignore[arg-type]
    source = tmp_path / "area" / "area.xlsx" if fmt == "xlsx" else tmp_path / "area"
    with open_warehouse(tmp_path / "clean.duckdb") as wh:
        result = load_extract(wh, source)
        assert result.rows_quarantined == 0
        assert {t.table: t.rows_new for t in result.tables} == summary.rows


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_dirty_area_reports_each_bad_row_and_loads_the_rest(tmp_path: Path, fmt: str) -> None:
    generate_area(1500, 5, tmp_path / "area", fmt, dirty=True)  # type: ignore[arg-type]
    with open_warehouse(tmp_path / "dirty.duckdb") as wh:
        first = load_extract(wh, tmp_path / "area")
        rules = {rule for _, rule, _ in first.quarantine_by_rule}
        assert {"format", "range", "missing", "duplicate", "conflict", "reference", "date_order",
                "top_outside_episode"} <= rules
        for t in first.tables:
            assert t.rows_read == t.rows_loaded + t.rows_quarantined, t.table
        assert first.rows_loaded > 0.9 * first.rows_read
        blank = wh.execute("SELECT count(*) FROM quarantine WHERE reason = '' OR file = '' OR row_number < 1")
        assert blank == [(0,)]
        before = snapshot(wh)
        second = load_extract(wh, tmp_path / "area")
        assert second.rows_changed == 0
        assert snapshot(wh) == before
