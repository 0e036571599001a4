"""Golden cases on Spark: each case's input rows written to Parquet, read by `SparkWarehouse`, the ledger (or
cohort measure) evaluated by the same rules as on DuckDB, rows returned as `cases.mismatches` wants them.

A SparkSession costs seconds, so one serves every case of a process (the tests' session fixture). `evaluate_cases`
can run the ledgers of many cases as one Spark query (a union tagged with the case; every case keeps its own
Parquet folder, views `c<i>_episodes`, ... and contract, so each is decided exactly as alone), but measured on 24
cases that saved nothing (110 CPU-s batched, 114 one by one: the cost is planning and running each case's plan, not
the number of jobs), so the tests evaluate one case each and xdist spreads them over its workers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq

from recoverypbr.outcomes.cases import Case, Evaluated, arrow_rows
from recoverypbr.outcomes.inputs import warehouse_inputs
from recoverypbr.outcomes.ledger import cohort_measures, ledger
from recoverypbr.warehouse.spark import REQUIRED_TABLES, SparkWarehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LEDGER_KEY = ("client_id", "episode_id")
COHORT_KEY = ("period_start",)


def write_case(case: Case, folder: Path) -> Path:
    """The case's input rows as one Parquet file per table (`episodes` and `top` always, maybe empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in {*case.input, *REQUIRED_TABLES}:
        rows = case.input.get(name) or []
        if rows or name in REQUIRED_TABLES:
            pq.write_table(arrow_rows(name, rows), folder / f"{name}.parquet")
    return folder


def evaluate_case(session: SparkSession, case: Case) -> Evaluated:
    """One case on Spark, alone (what `evaluate_cases` does for many)."""
    return evaluate_cases(session, [case])[0]


def evaluate_cases(session: SparkSession, cases: Sequence[Case]) -> list[Evaluated]:
    """Each case's rows on Spark, in the order given: ledger cases in one Spark query, cohort cases one each."""
    results: dict[int, Evaluated] = {}
    with tempfile.TemporaryDirectory(prefix="spark-cases-") as tmp:
        warehouses = [
            SparkWarehouse.from_parquet(write_case(case, Path(tmp) / f"c{i}"), session, prefix=f"c{i}_")
            for i, case in enumerate(cases)
        ]
        try:
            ledger_cases = [i for i, case in enumerate(cases) if case.cohort is None]
            for i in (i for i, case in enumerate(cases) if case.cohort is not None):
                rows = cohort_measures(warehouses[i], cases[i].contract, cases[i].as_of)[cases[i].outcome]
                results[i] = (rows, COHORT_KEY)
            if ledger_cases:
                results |= _ledgers(warehouses[0], {i: (warehouses[i], cases[i]) for i in ledger_cases})
        finally:
            for wh in warehouses:
                wh.close()
    return [results[i] for i in range(len(cases))]


def _ledgers(spark: SparkWarehouse, batch: dict[int, tuple[SparkWarehouse, Case]]) -> dict[int, Evaluated]:
    """The checked outcome's ledger rows of every case in `batch`, from one Spark query."""
    inputs = {i: warehouse_inputs(wh, case.as_of) for i, (wh, case) in batch.items()}
    # `ledger.has_individual_offending` for every case at once: one row per case that has individual offending.
    probes = [
        inputs[i].offending_individual.select(_case=ibis.literal(i, "int64")).limit(1) for i in batch
    ]
    offending = {row[0] for row in spark.execute(ibis.to_sql(ibis.union(*probes), dialect=spark.dialect))}
    parts: list[ir.Table] = []
    for i, (_, case) in batch.items():
        rows = ledger(inputs[i], case.contract, i in offending, ordered=False)
        parts.append(rows.filter(rows.outcome_id == case.outcome).mutate(_case=ibis.literal(i, "int64")))
    union = ibis.union(*parts, distinct=False)
    found: dict[int, Evaluated] = {i: ([], LEDGER_KEY) for i in batch}
    for row in spark.to_arrow(union).to_pylist():
        found[row.pop("_case")][0].append(row)
    return found

