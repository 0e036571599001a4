"""The `recoverypbr assure ...` commands: monitoring for gaming, audit sampling and the auditor's findings.

The main app registers them with ``app.add_typer(assure_app, name="assure")``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from recoverypbr._console import PlainFlagsGroup, console, progress_bar, user_errors
from recoverypbr.assurance import audit_cli
from recoverypbr.contract.load import load_contract
from recoverypbr.outcomes.cli import AsOfOption, ContractOption, DbOption
from recoverypbr.warehouse.connection import DEFAULT_DB, open_warehouse

assure_app = typer.Typer(
    cls=PlainFlagsGroup,
    help="Assurance: monitor the data for gaming, sample payment lines for audit, record the auditor's findings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@assure_app.command("monitor")
def monitor_command(
    contract: ContractOption,
    as_of: AsOfOption,
    provider: Annotated[str | None, typer.Option(
        "--provider", help="Show only this provider's (or assessor's) rows, still judged against all its peers.")
    ] = None,
    fmt: Annotated[Literal["table", "json"], typer.Option(
        "--format", help="table: a summary of the flags; json: every indicator row on the screen (for other "
                         "tools).")] = "table",
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for monitor.json, monitor.csv, flag-rows.csv and monitor-report.html.")] = Path(
        "assurance-monitor"),
    db: DbOption = DEFAULT_DB,
) -> None:
    """Gaming indicators per provider and quarter against peers and the baseline (assessment, creaming and
    parking, timing, misrepresentation, service users' views), with the cases behind every flag."""
    from recoverypbr.assurance.monitor import monitor
    from recoverypbr.assurance.report import json_text, print_summary, write_monitoring

    with user_errors():
        model = load_contract(contract)
        wh = open_warehouse(db, read_only=True)
        try:
            with progress_bar("Monitoring") as step:
                result = monitor(wh, model, as_of, provider=provider, progress=step)
        finally:
            wh.close()
        paths = write_monitoring(result, out)
        if fmt == "json":
            sys.stdout.write(json_text(result))
            return
        print_summary(result)
        console.print(f"Report: {paths['html']} (with monitor.json, monitor.csv and flag-rows.csv in {out})",
                      highlight=False)


audit_cli.register(assure_app)
