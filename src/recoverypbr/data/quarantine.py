"""Reading what loads kept aside, and an overview of what the warehouse holds."""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from recoverypbr.data.codes import COMPLETION_REASONS
from recoverypbr.data.schema import TABLES
from recoverypbr.errors import DataError
from recoverypbr.warehouse.connection import Warehouse

QUARANTINE_COLUMNS = (
    "load_id",
    "table_name",
    "file",
    "row_number",
    "column_name",
    "value",
    "rule",
    "reason",
    "record_key",
)


def quarantine_rows(wh: Warehouse, *, load_id: int | None = None, table: str | None = None) -> ir.Table:
    """Kept-aside rows, one per broken rule, in file and row order; optionally for one load or table."""
    q = wh.table("quarantine")
    if load_id is not None:
        q = q.filter(q.load_id == load_id)
    if table is not None:
        q = q.filter(q.table_name == table)
    return q.select(*QUARANTINE_COLUMNS).order_by(["load_id", "table_name", "file", "row_number", "column_name"])


def quarantine_by_rule(wh: Warehouse, *, load_id: int | None = None) -> list[tuple[str, str, int]]:
    """(table, rule, rows) over the quarantine."""
    q = quarantine_rows(wh, load_id=load_id)
    counts = q.group_by(["table_name", "rule"]).aggregate(rows=(q.file + "#" + q.row_number.cast("string")).nunique())
    frame = wh.to_arrow(counts.order_by(["table_name", "rule"]))
    return [(str(r["table_name"]), str(r["rule"]), int(r["rows"])) for r in frame.to_pylist()]


def export_csv(rows: ir.Table, wh: Warehouse, path: Path) -> int:
    """Write rows to a CSV file; return how many."""
    data: pa.Table = wh.to_arrow(rows)
    try:
        pacsv.write_csv(data, path)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc}", hint="choose a folder you can write to") from exc
    return int(data.num_rows)


def table_counts(wh: Warehouse) -> dict[str, int]:
    """Rows held per canonical table."""
    return {t.name: wh.count(wh.table(t.name)) for t in TABLES}


def latest_load_id(wh: Warehouse) -> int | None:
    rows = wh.execute("SELECT max(load_id) FROM loads")
    return None if rows[0][0] is None else int(rows[0][0])


def provider_overview(wh: Warehouse) -> list[dict[str, object]]:
    """Per provider: episodes, still in treatment, exits, and successful completions among exits."""
    episodes, providers = wh.table("episodes"), wh.table("providers")
    completed = episodes.discharge_reason.isin(COMPLETION_REASONS)
    per_provider = episodes.group_by("provider_id").aggregate(
        episodes=episodes.count(),
        in_treatment=episodes.discharge_date.isnull().sum(),
        exits=episodes.discharge_date.notnull().sum(),
        completions=completed.sum(),
    )
    named = per_provider.left_join(providers, per_provider.provider_id == providers.provider_id)
    rows = named.select(per_provider.provider_id, providers["name"], *per_provider.columns[1:])
    overview: list[dict[str, object]] = wh.to_arrow(rows.order_by("provider_id")).to_pylist()
    return overview
