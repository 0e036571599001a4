"""The outcome ledger evaluated on Spark and written to Parquet (`recoverypbr outcomes --engine spark`).

The rules are the same Ibis expressions as on DuckDB (`ledger.evaluate`); Spark writes the ledger rows itself (they
never pass through Python), then the counts by outcome, complexity group and status are read back from the file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.ledger import LedgerSummary, counts, evaluate
from recoverypbr.warehouse.spark import SparkWarehouse

STATUS_COLUMNS = ("achieved", "pending_maturation", "not_achieved", "not_eligible")


def write_ledger(
    wh: SparkWarehouse, contract: Contract, as_of: date, out: Path, single_file: bool = True
) -> LedgerSummary:
    """Evaluate every client-level outcome of the contract as of the date on Spark and write the ledger rows
    (`render.LEDGER_COLUMNS`, ordered by outcome, client and episode) to Parquet at `out`: one file, or a folder of
    part files when not `single_file`. Returns the rows written and the counts, as `build_ledger` does."""
    wh.write_parquet(evaluate(wh, contract, as_of), out, single_file=single_file)
    written = wh.register_parquet_file("_written_ledger", out)
    found = wh.to_arrow(counts(written)).to_pylist()
    rows = sum(int(r[s]) for r in found for s in STATUS_COLUMNS)
    ordered = sorted(found, key=lambda r: (r["outcome_id"], r["complexity_group"] is None, r["complexity_group"] or ""))
    return LedgerSummary(contract.area, contract.effective_from, as_of, rows, ordered)
