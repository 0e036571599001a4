"""Commands `recoverypbr outcomes` and `recoverypbr explain`: a thin shell over the outcome engine.

The main app registers them with ``app.command("outcomes")(outcomes_command)`` and
``app.command("explain")(explain_command)``.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import typer
from rich.markup import escape
from rich.table import Table

from recoverypbr._console import console, print_table, progress_bar, user_errors
from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.outcomes.explain import decisions
from recoverypbr.outcomes.ledger import LedgerSummary, build_ledger, cohort_measures, stored_ledger
from recoverypbr.warehouse.connection import DB_HELP, DEFAULT_DB, Warehouse, open_warehouse, warehouse_exists


def parse_date(text: str) -> date:
    """An ISO date (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2014-03-31") from None


ContractOption = Annotated[Path, typer.Option("--contract", help="The contract YAML file (see contracts/).")]
AsOfOption = Annotated[
    date,
    typer.Option(
        "--as-of",
        parser=parse_date,
        metavar="YYYY-MM-DD",
        help="Evaluate with only the rows dated on or before this date.",
    ),
]
DbOption = Annotated[Path, typer.Option("--db", help=DB_HELP, show_default=True)]


def outcomes_command(
    contract: ContractOption,
    as_of: AsOfOption,
    db: DbOption = DEFAULT_DB,
    fmt: Annotated[
        Literal["table", "json", "csv"],
        typer.Option(
            "--format",
            help="table: counts and rates by outcome and complexity group; json or csv: every ledger row.",
        ),
    ] = "table",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write json/csv to this file instead of the screen (with --engine spark: the ledger, as Parquet).",
        ),
    ] = None,
    engine: Annotated[
        Literal["duckdb", "spark"],
        typer.Option(
            "--engine",
            help="duckdb: the warehouse (--db), the ledger stored in it; spark: the canonical tables read from "
            "Parquet (--parquet) on a local Spark, the ledger written to --out (needs the spark extra and Java).",
        ),
    ] = "duckdb",
    parquet: Annotated[
        Path | None,
        typer.Option(
            "--parquet",
            help="With --engine spark: the folder holding one Parquet file (or folder) per canonical table.",
        ),
    ] = None,
    spark_memory: Annotated[
        str, typer.Option("--spark-memory", help="With --engine spark: the Spark driver's memory, e.g. 8g.")
    ] = "4g",
) -> None:
    """Evaluate every outcome of a contract as of a date into the outcome ledger, and report it."""
    if engine == "spark":
        _outcomes_on_spark(contract, as_of, parquet, out, fmt, spark_memory)
        return
    if parquet is not None:
        raise typer.BadParameter("--parquet is read by --engine spark only", param_hint="--parquet")
    with user_errors():
        model = load_contract(contract)
        with open_warehouse(db) as wh:
            summary = _build(wh, model, as_of)
            cohorts = cohort_measures(wh, model, as_of)
            rows = None if fmt == "table" else wh.to_arrow(stored_ledger(wh, model, as_of))
    if rows is None:
        _print_counts(summary.counts, f"{model.area} outcomes as of {as_of} ({summary.rows:,} ledger rows)")
        for outcome_id, periods in cohorts.items():
            _print_cohort(outcome_id, periods)
        return
    if out is None:
        buffer = io.BytesIO()
        _write(fmt, rows, cohorts, buffer)
        typer.echo(buffer.getvalue().decode("utf-8"), nl=False)
        return
    with out.open("wb") as sink:
        _write(fmt, rows, cohorts, sink)
    console.print(f"Wrote {rows.num_rows:,} ledger rows to {out}")


def _outcomes_on_spark(
    contract: Path, as_of: date, parquet: Path | None, out: Path | None, fmt: str, memory: str
) -> None:
    """`outcomes --engine spark`: the ledger written to Parquet by Spark, the counts and cohort measures shown."""
    if parquet is None:
        raise typer.BadParameter(
            "--engine spark reads the tables from Parquet: pass --parquet DIR", param_hint="--parquet"
        )
    if out is None or fmt != "table":
        raise typer.BadParameter(
            "--engine spark writes the ledger to a Parquet file: pass --out ledger.parquet (and no --format)",
            param_hint="--out",
        )
    with user_errors():
        model = load_contract(contract)
        from recoverypbr.outcomes.spark import write_ledger
        from recoverypbr.warehouse.spark import SparkWarehouse, local_session

        with progress_bar("Evaluating outcomes on Spark") as step:
            step("starting Spark", 0, 3)
            session = local_session(memory=memory)
            try:
                with SparkWarehouse.from_parquet(parquet, session) as wh:
                    step("deciding every outcome", 1, 3)
                    summary = write_ledger(wh, model, as_of, out)
                    step("cohort measures", 2, 3)
                    cohorts = cohort_measures(wh, model, as_of)
            finally:
                session.stop()
    _print_counts(summary.counts, f"{model.area} outcomes as of {as_of} ({summary.rows:,} ledger rows, Spark)")
    for outcome_id, periods in cohorts.items():
        _print_cohort(outcome_id, periods)
    console.print(f"Wrote {summary.rows:,} ledger rows to {out}")


def _write(fmt: str, rows: pa.Table, cohorts: dict[str, list[dict[str, Any]]], sink: BinaryIO) -> None:
    """The ledger as CSV (written by Arrow) or JSON (with the cohort measures)."""
    from recoverypbr.reports.cells import safe_table  # reports import payments, which import the outcomes

    if fmt == "json":
        _json(rows, cohorts, sink)
    else:
        pa_csv.write_csv(safe_table(rows), sink)


def _build(wh: Warehouse, contract: Contract, as_of: date) -> LedgerSummary:
    """build_ledger with a progress bar, one step per outcome."""
    with progress_bar("Evaluating outcomes") as step:
        return build_ledger(wh, contract, as_of, progress=step)


def show_outcomes(wh: Warehouse, contract: Contract, as_of: date) -> None:
    """Evaluate and store the ledger, then print counts and rates by outcome and complexity group (for `demo`)."""
    summary = _build(wh, contract, as_of)
    _print_counts(summary.counts, f"{contract.area} outcomes as of {as_of} ({summary.rows:,} ledger rows)")


#: What the outcomes table shows for ledger rows without a complexity group, and the note that says why.
NO_GROUP = "no group"
NO_GROUP_NOTE = (f"{NO_GROUP} = the client had no assessment on or before the episode's start, so no complexity "
                 "group was assigned (an outcome priced by group finds no tariff for these rows).")


def _print_counts(counts: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for name in ("outcome", "group", "achieved", "pending", "not achieved", "not eligible", "rate"):
        table.add_column(name, justify="left" if name in ("outcome", "group") else "right")
    for r in counts:
        rate = "" if r["rate"] is None else f"{r['rate']:.1%}"
        table.add_row(
            r["outcome_id"],
            r["complexity_group"] or NO_GROUP,
            f"{r['achieved']:,}",
            f"{r['pending_maturation']:,}",
            f"{r['not_achieved']:,}",
            f"{r['not_eligible']:,}",
            rate,
        )
    notes = ["rate = achieved / (achieved + pending + not achieved); blank when there are none of these."]
    if any(not r["complexity_group"] for r in counts):
        notes.append(NO_GROUP_NOTE)
    print_table(table, notes)


def _print_cohort(outcome_id: str, periods: list[dict[str, Any]]) -> None:
    table = Table(title=f"{outcome_id}: offences per person against the baseline")
    for name in ("cohort", "period", "people", "offences", "rate", "baseline", "change", "target met"):
        table.add_column(name, justify="left" if name in ("cohort", "period") else "right")
    for p in periods:
        table.add_row(
            p["cohort_id"],
            f"{p['period_start']} to {p['period_end']}",
            f"{p['people']:,}",
            f"{p['offences']:,}",
            f"{p['current_rate']:.3f}",
            f"{p['baseline_rate']:.3f}",
            f"{p['change']:+.1%}",
            "yes" if p["met"] else "no",
        )
    if not periods:
        console.print(f"{outcome_id}: no cohort offending periods known for this cohort as of the date")
        return
    print_table(table)


def _json(rows: pa.Table, cohorts: dict[str, list[dict[str, Any]]], sink: BinaryIO) -> None:
    """`{"ledger": [...], "cohort_measures": {...}}`, the ledger one row a line, a batch of rows at a time."""
    sink.write(b'{"ledger": [')
    first = True
    for batch in rows.to_batches(max_chunksize=65536):
        for row in batch.to_pylist():
            sink.write((b"\n" if first else b",\n") + json.dumps(row, default=str).encode("utf-8"))
            first = False
    sink.write(b'\n],\n"cohort_measures": ' + json.dumps(cohorts, default=str, indent=1).encode("utf-8") + b"}\n")


def explain_command(
    client_id: Annotated[str, typer.Argument(help="The client's pseudonymous id.")],
    outcome: Annotated[str, typer.Option("--outcome", help="The outcome id in the contract.")],
    contract: ContractOption,
    as_of: AsOfOption,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Explain one client's decision for one outcome in plain words, with the rows it rests on."""
    with user_errors():
        model = load_contract(contract)
        if not warehouse_exists(db):
            raise RecoveryPbrError(f"no warehouse at {db}", hint="load an extract first or pass --db")
        with open_warehouse(db, read_only=True) as wh:
            found = decisions(wh, model, client_id, outcome, as_of)
    for decision in found:
        console.print(decision.words, highlight=False)
        if not decision.evidence:
            console.print("  (no evidence rows)")
        for ref, text in decision.evidence:
            console.print(f"  [bold]{escape(ref)}[/]: {escape(text)}", highlight=False, soft_wrap=True)
