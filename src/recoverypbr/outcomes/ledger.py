"""The outcome ledger: for a contract as of a date, one row per client, episode and outcome.

Each row says the status (achieved, pending_maturation, not_achieved, not_eligible), the date achieved, the date it
matures, the complexity group and provider it is attributed to, the contract (area and version) and the evidence:
the ids of the rows that decided it. The engine decides every outcome in one Ibis expression, one row per episode
(`engine.py`); `render.py` shows that as the ledger's rows.

Stored (schema version 5): `build_ledger` keeps the engine's episode table as `outcome_run_N` (one row per
episode, a status code and dates per outcome, evidence ids once), a row in `outcome_runs` for its contract and
as-of date, and its outcomes in `outcome_run_outcomes`; the view `outcome_run_N_ledger` shows it as ledger rows and
the view `outcome_ledger` is every run's rows (with the rows stored before version 5, `outcome_ledger_rows`).
Writing one short row per episode instead of one long row per outcome is what makes a national run quick.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.outcomes import offending
from recoverypbr.outcomes.engine import (
    Evaluation,
    Placed,
    attributed_provider,
    episode_groups,
    evaluate_outcomes,
    evaluation_order,
    from_rows,
    placed_rows,
)
from recoverypbr.outcomes.frame import CODES, STATUSES
from recoverypbr.outcomes.inputs import Inputs, warehouse_inputs
from recoverypbr.outcomes.render import LEDGER_COLUMNS, long_form
from recoverypbr.warehouse.connection import Reader, Warehouse

TABLE = "outcome_ledger"
#: Ledger rows stored before schema version 5, still shown by `outcome_ledger`.
LEGACY_TABLE = "outcome_ledger_rows"
RUNS = "outcome_runs"
RUN_OUTCOMES = "outcome_run_outcomes"
ORDER = ("outcome_id", "client_id", "episode_id")

__all__ = [
    "LEDGER_COLUMNS",
    "LedgerSummary",
    "attributed_provider",
    "build_ledger",
    "cohort_measures",
    "counts",
    "episode_groups",
    "evaluate",
    "evaluation_order",
    "ledger",
    "run_ledger",
    "stored_ledger",
]


def ledger(
    inputs: Inputs,
    contract: Contract,
    individual_offending: bool = True,
    only: list[str] | None = None,
    ordered: bool = True,
) -> ir.Table:
    """The outcome ledger as one expression, in `LEDGER_COLUMNS`, ordered by outcome, client and episode (unless
    `ordered` is false); `only` keeps these outcome ids."""
    evaluation = evaluate_outcomes(inputs, contract, individual_offending, only)
    placed = [p for p in evaluation.placed if only is None or p.outcome_id in only]
    rows = long_form(evaluation.table, placed, contract.area, contract.effective_from, inputs.as_of)
    return rows.order_by(*ORDER) if ordered else rows


def has_individual_offending(wh: Reader, inputs: Inputs) -> bool:
    """Whether individual offending data is known on the as-of date (one count, not per client)."""
    return bool(wh.count(inputs.offending_individual.select("client_id").limit(1)))


def evaluate(wh: Reader, contract: Contract, as_of: date, only: list[str] | None = None) -> ir.Table:
    """The ledger expression over a warehouse (DuckDB or Spark), as of a date."""
    inputs = warehouse_inputs(wh, as_of)
    return ledger(inputs, contract, has_individual_offending(wh, inputs), only)


@dataclass
class LedgerSummary:
    """What `build_ledger` stored: rows, and counts by outcome, complexity group and status."""

    area: str
    version: date
    as_of: date
    rows: int
    counts: list[dict[str, Any]]


Progress = Callable[[str, int, int], None]


def build_ledger(wh: Warehouse, contract: Contract, as_of: date, progress: Progress | None = None) -> LedgerSummary:
    """Evaluate the contract as of a date and replace that (area, version, as_of) in the stored ledger, in one
    transaction: one statement decides every outcome and stores one row per episode. `progress` is called with
    (step, steps done, steps in all)."""
    inputs = warehouse_inputs(wh, as_of)
    evaluation = evaluate_outcomes(inputs, contract, has_individual_offending(wh, inputs))
    decide = wh.compile(evaluation.stored)
    if progress:
        progress("deciding every outcome", 0, 2)
    with wh.transaction(), ThreadPoolExecutor(1) as helper:
        run = _forget(wh, contract, as_of)
        name = f"outcome_run_{run}"
        # The view is compiled (Python, one core) while the engine runs the statement (it does not hold the GIL).
        compiled = helper.submit(_run_queries, evaluation, contract, as_of, name, wh.dialect)
        with _strings_as_fsst(wh):
            wh.execute_native(f'CREATE TABLE "{name}" AS {decide}')
        view, count = compiled.result()
        _record(wh, run, name, contract, as_of, evaluation.placed)
        wh.execute_native(f'CREATE VIEW "{name}_ledger" AS {view}')
        _show_runs(wh)
        if progress:
            progress("counting", 1, 2)
        counted = _counts(wh, count, evaluation.placed)
    if progress:
        progress("", 2, 2)
    return LedgerSummary(contract.area, contract.effective_from, as_of, sum(_total(r) for r in counted), counted)


@contextlib.contextmanager
def _strings_as_fsst(wh: Warehouse) -> Iterator[None]:
    """Compress the run's strings with FSST without trying dictionary compression as well: DuckDB otherwise
    analyses every string column both ways, which costs about a third of writing the run (for a run about a
    quarter larger on disk)."""
    before = wh.setting("force_compression")
    if before is None:  # not DuckDB: nothing to tune
        yield
        return
    wh.set_setting("force_compression", "fsst")
    try:
        yield
    except BaseException:
        # A failed statement (out of memory, say) aborts the transaction, and DuckDB refuses a SET until it is
        # rolled back: that refusal must not hide the error. The setting only chooses a compression.
        with contextlib.suppress(duckdb.Error):
            wh.set_setting("force_compression", before)
        raise
    wh.set_setting("force_compression", before)


def _run_queries(
    evaluation: Evaluation, contract: Contract, as_of: date, name: str, dialect: str
) -> tuple[str, ir.Table | None]:
    """The SQL of the run's ledger view, and the query counting its statuses by outcome and group."""
    stored = ibis.table(evaluation.stored.schema(), name=name)
    rows = long_form(stored, evaluation.placed, contract.area, contract.effective_from, as_of)
    return ibis.to_sql(rows, dialect=dialect), _count_query(stored, evaluation.placed)


def _record(wh: Warehouse, run: int, name: str, contract: Contract, as_of: date, placed: list[Placed]) -> None:
    """The run's row in `outcome_runs` and its outcomes' in `outcome_run_outcomes`."""
    stored_at = datetime.now(UTC).replace(tzinfo=None)
    wh.execute(
        f"INSERT INTO {RUNS} VALUES (?, ?, ?, ?, ?, ?)",
        [run, contract.area, contract.effective_from, as_of, name, stored_at],
    )
    rows = [[run, *row.values()] for row in placed_rows(placed)]
    if rows:
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(rows))
        wh.execute(f"INSERT INTO {RUN_OUTCOMES} VALUES {values}", [v for row in rows for v in row])


def _forget(wh: Warehouse, contract: Contract, as_of: date) -> int:
    """Drop what is stored for the contract version as of the date; return the next run's number."""
    key = [contract.area, contract.effective_from, as_of]
    where = "contract_area = ? AND contract_version = ? AND as_of = ?"
    wh.execute(f"DELETE FROM {LEGACY_TABLE} WHERE {where}", key)
    for run, name in wh.execute(f"SELECT run_id, table_name FROM {RUNS} WHERE {where}", key):
        # `outcome_ledger` reads every run's view (PostgreSQL refuses to drop a view another reads); _show_runs
        # makes it again.
        wh.execute(f"DROP VIEW IF EXISTS {TABLE}")
        wh.execute(f'DROP VIEW IF EXISTS "{name}_ledger"')
        wh.execute(f'DROP TABLE IF EXISTS "{name}"')
        wh.execute(f"DELETE FROM {RUN_OUTCOMES} WHERE run_id = ?", [run])
        wh.execute(f"DELETE FROM {RUNS} WHERE run_id = ?", [run])
    return int(wh.execute(f"SELECT coalesce(max(run_id), 0) + 1 FROM {RUNS}")[0][0])


def _show_runs(wh: Warehouse) -> None:
    """Make `outcome_ledger` every stored run's ledger rows."""
    names = wh.execute(f"SELECT table_name FROM {RUNS} ORDER BY run_id")
    views = [f'SELECT * FROM "{name}_ledger"' for (name,) in names]
    columns = ", ".join(f'"{c}"' for c in LEDGER_COLUMNS)
    union = " UNION ALL ".join([f"SELECT {columns} FROM {LEGACY_TABLE}", *views])
    wh.execute(f"DROP VIEW IF EXISTS {TABLE}")
    wh.execute(f"CREATE VIEW {TABLE} AS {union}")


def stored_ledger(wh: Warehouse, contract: Contract, as_of: date, ordered: bool = True) -> ir.Table:
    """The stored ledger rows of this contract version as of the date, in ledger order (unless `ordered` is false:
    for a query that sets its own order, or none, such as a table it stores)."""
    t = wh.table(TABLE)
    keep = (t.contract_area == contract.area) & (t.contract_version == contract.effective_from) & (t.as_of == as_of)
    rows = t.filter(keep)
    return rows.order_by(*ORDER) if ordered else rows


def run_ledger(wh: Warehouse, contract: Contract, as_of: date, ordered: bool = True) -> ir.Table:
    """`stored_ledger`, read from the one stored run it comes from when there is one (`outcome_ledger` is every
    run's rows, so a query on it reads all of them: a monthly contract's year of statements stores twelve). For a
    command's own queries; not for SQL kept across commands (a run is a new table each time it is built again)."""
    key = [contract.area, contract.effective_from, as_of]
    found = wh.execute(
        f"SELECT table_name FROM {RUNS} WHERE contract_area = ? AND contract_version = ? AND as_of = ?", key)
    if len(found) != 1:
        return stored_ledger(wh, contract, as_of, ordered)
    rows = wh.table(f"{found[0][0]}_ledger")
    return rows.order_by(*ORDER) if ordered else rows


def stored_outcomes(wh: Warehouse, run: int) -> list[Placed]:
    """A stored run's outcomes, as placed in its table."""
    rows = wh.to_arrow(wh.table(RUN_OUTCOMES).filter(ibis._.run_id == run).order_by("position")).to_pylist()
    return from_rows(rows)


def counts(rows: ir.Table) -> ir.Table:
    """Episodes by outcome, complexity group and status, with the achievement rate among eligible episodes."""
    g = rows.group_by("outcome_id", "complexity_group").aggregate(
        **{status: (rows.status == status).cast("int32").cast("int64").sum() for status in STATUSES}
    )
    eligible = g.achieved + g.pending_maturation + g.not_achieved
    rate = ibis.ifelse(eligible > 0, g.achieved.cast("float64") / eligible.cast("float64"), ibis.null("float64"))
    return g.mutate(rate=rate).order_by("outcome_id", "complexity_group")


def _count_query(t: ir.Table, placed: list[Placed]) -> ir.Table | None:
    """Episodes by complexity group with, per outcome and status, how many have it (one scan of a run)."""
    if not placed:
        return None
    sums = {
        f"{p.position}_{s}": (t[f"{p.prefix}status"] == CODES[s]).cast("int32").cast("int64").sum()
        for p in placed
        for s in STATUSES
    }
    return t.group_by("complexity_group").aggregate(**sums)


def _counts(wh: Warehouse, query: ir.Table | None, placed: list[Placed]) -> list[dict[str, Any]]:
    """`counts` of a stored run, from `_count_query`."""
    if query is None:
        return []
    found = wh.to_arrow(query).to_pylist()
    rows = []
    for p in placed:
        for g in found:
            row: dict[str, Any] = {"outcome_id": p.outcome_id, "complexity_group": g["complexity_group"]}
            row |= {s: int(g[f"{p.position}_{s}"]) for s in STATUSES}
            eligible = row["achieved"] + row["pending_maturation"] + row["not_achieved"]
            rows.append(row | {"rate": row["achieved"] / eligible if eligible else None})
    return sorted(rows, key=lambda r: (r["outcome_id"], r["complexity_group"] is None, r["complexity_group"] or ""))


def _total(row: Mapping[str, Any]) -> int:
    return int(sum(row[s] for s in STATUSES))


def cohort_measures(wh: Reader, contract: Contract, as_of: date) -> dict[str, list[dict[str, Any]]]:
    """Outcome id -> the cohort offending measure's rows, for each cohort outcome of the contract."""
    inputs = warehouse_inputs(wh, as_of)
    years = [(y.start, y.end) for y in contract.years]
    return {
        oid: wh.to_arrow(offending.offending_cohort_reduction(inputs, outcome, years)).to_pylist()
        for oid, outcome in contract.outcomes.items()
        if isinstance(outcome, OffendingCohortReduction)
    }
