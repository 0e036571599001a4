"""Loading an extract into the warehouse: read, stage, validate, quarantine, upsert, record; all or nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir

from recoverypbr import __version__
from recoverypbr.data import validate as v
from recoverypbr.data.read import (
    MANIFEST_NAME,
    ROW,
    ManifestEntry,
    SourceFile,
    check_manifest,
    check_manifest_rows,
    plain_name,
    read_extract,
    read_manifest,
)
from recoverypbr.data.schema import EPISODES, TABLES, Table
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.migrations import data_table_columns
from recoverypbr.warehouse.row_digests import insert_rows

log = logging.getLogger(__name__)

#: progress(step, done, total): called as each table is validated and applied.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TableLoad:
    """What one file did to one table."""

    table: str
    file: str
    rows_read: int
    rows_new: int
    rows_updated: int
    rows_unchanged: int
    rows_quarantined: int
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # how the file was read (encoding, separator)
    warnings: tuple[str, ...] = ()  # what deserves a look (a table much smaller than at its previous load)

    @property
    def rows_loaded(self) -> int:
        return self.rows_new + self.rows_updated + self.rows_unchanged


@dataclass
class LoadResult:
    """A load's summary: per table, what loaded and what was kept aside, and why."""

    load_id: int
    source: str
    tables: list[TableLoad]
    ignored_files: list[str]
    quarantine_by_rule: list[tuple[str, str, int]] = field(default_factory=list)  # (table, rule, rows)
    manifest: str | None = None  # the manifest the files were checked against

    @property
    def rows_read(self) -> int:
        return sum(t.rows_read for t in self.tables)

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows_loaded for t in self.tables)

    @property
    def rows_changed(self) -> int:
        return sum(t.rows_new + t.rows_updated for t in self.tables)

    @property
    def rows_quarantined(self) -> int:
        return sum(t.rows_quarantined for t in self.tables)


def root_causes_first(rows: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """(table, rule, rows) with the rows' own causes first in table order, and `knock_on` (kept aside only
    because a row they name was) last, so the one real cause is not buried under its consequences."""
    order = {t.name: i for i, t in enumerate(TABLES)}
    return sorted(rows, key=lambda r: (r[1] == "knock_on", order.get(r[0], len(order)), r[1]))


def _stage_name(table: Table, suffix: str) -> str:
    return f"_stage_{table.name}_{suffix}"


def _problems(wh: Warehouse, parsed: ir.Table, table: Table) -> list[ir.Table]:
    """Every rule's problems. Tables load in reference order inside one transaction, so the stored tables
    already hold this load's valid rows of every table referred to."""
    problems = v.column_problems(parsed, table) + v.date_order_problems(parsed, table)
    problems += v.duplicate_problems(parsed, table)
    known = {ref: wh.table(ref) for ref in {c.references[0] for c in table.references if c.references}}
    problems += v.reference_problems(parsed, table, known, wh.table("quarantine"))
    if table.name == "episodes":
        problems += v.episode_problems(parsed, table)
    if table.name == "clients":
        problems += v.client_problems(parsed, table)
    if table.name in ("top", "events"):
        episodes = wh.table(EPISODES.name)
        problems += v.same_client_problems(parsed, table, episodes)
        if table.name == "top":
            problems += v.top_date_problems(parsed, table, episodes)
    return problems


def _validate(wh: Warehouse, source: SourceFile) -> tuple[ir.Table, ir.Table]:
    """The typed valid rows of one file (an expression) and its problems (materialised)."""
    table = source.table
    name = _stage_name(table, "raw")
    if source.parquet is not None:
        stage = wh.stage_parquet(name, source.parquet, source.column_sources())
    else:
        stage = wh.register_arrow(name, source.read())
    parsed = wh.materialize(_stage_name(table, "parsed"), v.parse(stage, table))
    found = _problems(wh, parsed, table)
    if source.bad_lines:
        found.append(wh.register_arrow(_stage_name(table, "bad_lines"), v.bad_line_problems(source.bad_lines)))
    problems = wh.materialize(
        _stage_name(table, "found"), v.with_file_text(ibis.union(*found, distinct=True), stage, table)
    )
    problems = wh.materialize(_stage_name(table, "problems"), v.with_owners(problems, parsed, table))
    wh.unregister(_stage_name(table, "raw"))  # the file's rows are no longer needed
    if source.bad_lines:
        wh.unregister(_stage_name(table, "bad_lines"))
    bad_rows = wh.materialize(_stage_name(table, "bad_rows"), problems.select(ROW).distinct())
    good = parsed.anti_join(bad_rows, parsed[ROW] == bad_rows[ROW])
    keep = [*(k for k in table.key if k not in table.column_names), *table.column_names, ROW]
    return good.select(*keep), problems


def _upsert(wh: Warehouse, table: Table, good: ir.Table, load_id: int) -> tuple[int, int]:
    """Insert new keys, replace changed rows, leave identical rows alone; return (new, updated)."""
    stored = wh.table(table.name)
    compare = [c for c in (*table.key, *table.column_names) if c in stored.columns and c in good.columns]
    old = stored.select(**{f"old__{c}": stored[c] for c in compare})
    pairs = good.join(old, [good[k] == old[f"old__{k}"] for k in table.key])
    differs = ibis.or_(*(~pairs[c].identical_to(pairs[f"old__{c}"]) for c in compare if c not in table.key))
    changed = wh.materialize(_stage_name(table, "changed"), pairs.filter(differs).select(*table.key))
    fresh = good.anti_join(stored, [good[k] == stored[k] for k in table.key])
    replacing = good.semi_join(changed, [good[k] == changed[k] for k in table.key])
    n_new, n_changed = wh.count(fresh), wh.count(changed)
    columns = [name for name, _ in data_table_columns(table) if name not in ("load_id", "source_row")]

    def insert(rows: ir.Table) -> None:
        # An input table's rows keep their MD5 parts for the data digest (`row_digests`).
        insert_rows(wh, table.name, rows.select(*columns, load_id=ibis.literal(load_id, "int64"),
                                                source_row=rows[ROW]))

    # New keys first: `fresh` is defined against the stored rows, so it must run before the delete.
    insert(fresh)
    if n_changed:
        wh.delete_matching(table.name, _stage_name(table, "changed"), table.key)
        insert(replacing)
    return n_new, n_changed


def _quarantine(wh: Warehouse, source: SourceFile, problems: ir.Table, load_id: int) -> None:
    entries = problems.select(
        load_id=ibis.literal(load_id, "int64"),
        table_name=ibis.literal(source.table.name),
        file=ibis.literal(source.file),
        sha256=ibis.literal(source.sha256),
        row_number=problems[ROW],
        column_name=problems.column_name,
        value=v.shortened(problems.value),
        rule=problems.rule,
        reason=problems.reason,
        record_key=v.shortened(problems.record_key),
        client_id=v.shortened(problems.client_id),
        episode_id=v.shortened(problems.episode_id),
        provider_id=v.shortened(problems.provider_id),
    )
    seen = wh.table("quarantine")
    same = ("sha256", "table_name", "row_number", "column_name", "reason")
    wh.insert("quarantine", entries.anti_join(seen, [entries[c] == seen[c] for c in same]))


def _next_load_id(wh: Warehouse) -> int:
    return int(wh.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads")[0][0])


def _load_file(
    wh: Warehouse, source: SourceFile, load_id: int, manifest: dict[str, ManifestEntry]
) -> tuple[TableLoad, list[tuple[str, str, int]]]:
    """Validate, quarantine and upsert one file; return its counts and its rows kept aside per rule."""
    good, problems = _validate(wh, source)
    n_read = wh.count(wh.table(_stage_name(source.table, "parsed"))) + len(source.bad_lines)
    check_manifest_rows(source, n_read, manifest)
    _quarantine(wh, source, problems, load_id)
    n_new, n_updated = _upsert(wh, source.table, good, load_id)
    n_good, n_bad = wh.count(good), wh.count(problems.select(ROW).distinct())
    by_rule = wh.to_arrow(problems.group_by("rule").aggregate(rows=problems[ROW].nunique()).order_by("rule"))
    _drop_stage(wh, source.table)  # frees the file's rows as soon as they are stored
    table_load = TableLoad(
        source.table.name, source.file, n_read, n_new, n_updated, n_good - n_new - n_updated, n_bad,
        tuple(source.ignored_columns), source.notes, shrinking(wh, source.table.name, source.file, n_read),
    )
    wh.execute(
        "INSERT INTO load_files (load_id, table_name, file, sha256, rows_read, rows_new, rows_updated,"
        " rows_unchanged, rows_quarantined, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, table_load.table, table_load.file, source.sha256, n_read, n_new, n_updated,
         table_load.rows_unchanged, n_bad, "\n".join((*table_load.notes, *table_load.warnings))],
    )
    return table_load, [(source.table.name, r["rule"], r["rows"]) for r in by_rule.to_pylist()]


def load_extract(
    wh: Warehouse,
    path: Path | str,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    manifest: Path | str | None = None,
) -> LoadResult:
    """Load an extract in one transaction: valid rows upsert by key, failing rows go to the quarantine.

    A manifest (`file,rows,sha256`: the `manifest` argument, else a `manifest.csv` in the extract's folder) must
    match the extract's files, their SHA-256 and their data rows, or nothing is loaded."""
    started = (now or datetime.now(UTC)).replace(tzinfo=None)
    extract = read_extract(Path(path))
    control = Path(manifest) if manifest is not None else Path(path) / MANIFEST_NAME
    entries = read_manifest(control) if manifest is not None or control.is_file() else {}
    if entries:
        check_manifest(extract, entries, control)
    order = {t.name: i for i, t in enumerate(TABLES)}
    sources = sorted(extract.files, key=lambda s: order[s.table.name])
    with wh.transaction():
        load_id = _next_load_id(wh)
        loads, summary = [], []
        for i, source in enumerate(sources):
            if progress:
                progress(f"loading {source.table.name}", i, len(sources))
            table_load, by_rule = _load_file(wh, source, load_id, entries)
            loads.append(table_load)
            summary += by_rule
            log.info("loaded table %s: %d rows read", source.table.name, table_load.rows_read)
        result = LoadResult(
            load_id, extract.source, loads, extract.ignored_files, root_causes_first(summary),
            str(control) if entries else None,
        )
        finished = (now or datetime.now(UTC)).replace(tzinfo=None)
        wh.execute(
            "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                load_id,
                extract.source,
                started,
                finished,
                result.rows_read,
                result.rows_changed,
                result.rows_quarantined,
                __version__,
            ],
        )
    if progress:
        progress("done", len(sources), len(sources))
    return result


#: A table whose file holds fewer than this share of the rows its previous load read is worth a warning: an
#: extract cut short at a row boundary loads without any row error.
SHRINK_WARNING = 0.8


def shrinking(wh: Warehouse, table: str, file: str, rows_read: int) -> tuple[str, ...]:
    """A warning when this table's file holds much less than the file of the same name at its previous load
    (the same source: one provider's extract, sent again)."""
    name = plain_name(file)
    before = wh.execute(
        "SELECT rows_read, load_id, file FROM load_files WHERE table_name = ? ORDER BY load_id DESC", [table]
    )
    same = next(((int(n), int(load)) for n, load, f in before if plain_name(str(f)) == name), None)
    if same is None or not same[0] or rows_read >= SHRINK_WARNING * same[0]:
        return ()
    previous, load_id = same
    return (
        f"{table} shrank sharply: {rows_read:,} rows read against {previous:,} at load {load_id} "
        f"({rows_read / previous:.0%}); is the extract complete? Rows already stored are kept",
    )


def _drop_stage(wh: Warehouse, table: Table) -> None:
    for suffix in ("parsed", "found", "problems", "bad_rows", "changed"):
        wh.drop_table(_stage_name(table, suffix))
