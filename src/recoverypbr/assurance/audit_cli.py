"""Commands `assure sample` and `assure findings`: a thin shell over `assurance.sampling`, `pack` and `findings`.

`register(app)` adds them to a Typer group as `sample` and `findings`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recoverypbr._console import print_table, progress_bar, user_errors
from recoverypbr.assurance.findings import read_findings, record_findings, sample_report, write_report
from recoverypbr.assurance.pack import pack_tables, write_pack
from recoverypbr.assurance.sampling import Sample, draw, population, read_flags, record_sample, write_sample
from recoverypbr.contract.load import load_contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.outcomes.cli import ContractOption, DbOption, parse_date
from recoverypbr.payments.cli import AsOfOption, PeriodOption, ProviderOption
from recoverypbr.payments.run import statement_period
from recoverypbr.reports.files import safe_name
from recoverypbr.warehouse.connection import DEFAULT_DB, open_warehouse, warehouse_exists


def _warehouse(db: Path) -> None:
    if not warehouse_exists(db):
        raise RecoveryPbrError(f"no warehouse at {db}", hint="load an extract first (recoverypbr load) or pass --db")


def sample(
    contract: ContractOption,
    period: PeriodOption,
    size: Annotated[int, typer.Option("--size", help="How many payment lines to sample.")],
    seed: Annotated[int, typer.Option("--seed", help="The seed: the same seed and statements give the same sample.")],
    as_of: AsOfOption = None,
    flags: Annotated[Path | None, typer.Option(
        "--flags", help="Monitoring flags (the JSON `assure monitor --format json` writes): lines of flagged clients "
                        "and providers are sampled more.")] = None,
    provider: ProviderOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for sample.csv, sample.json and the case-file pack (default: audit-sample-PERIOD).")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Draw a reproducible audit sample of a period's payment lines, stratified by provider, pounds and risk, and
    write it with a case-file pack (CSV and PDF) per line; the sample is recorded so findings can name its lines."""
    with user_errors():
        model = load_contract(contract)
        _warehouse(db)
        chosen = statement_period(model, period)
        folder = out or Path(f"audit-sample-{safe_name(chosen.label)}")
        with open_warehouse(db) as wh:
            risk = read_flags(flags, model, chosen, wh) if flags is not None else None
            with progress_bar("Making the period's statements") as step:
                found = population(wh, model, chosen, as_of, provider, progress=step)
            drawn = draw(wh, model, found, size, seed, risk)
            stored = record_sample(wh, model, drawn, datetime.now(UTC).replace(tzinfo=None))
            tables = pack_tables(wh, model, drawn, found.as_of)
        written = write_sample(drawn, folder) + write_pack(tables, drawn, folder)
    _print_sample(drawn, stored, folder, len(written))


def _print_sample(drawn: Sample, stored: bool, folder: Path, files: int) -> None:
    design = drawn.design
    table = Table(title=f"Audit sample {drawn.sample_id}: {design['period']}, seed {design['seed']}")
    for name in ("stratum", "lines", "pounds (£)", "sampled", "inclusion probability", "weight"):
        table.add_column(name, justify="left" if name == "stratum" else "right")
    for s in design["strata"]:
        table.add_row(s["stratum"], f"{s['population_lines']:,}", s["population_pounds"], str(s["sample_lines"]),
                      s["inclusion_probability"], s["weight"])
    notes = [
        f"{design['size']} of {design['population_lines']:,} lines that trace to a client (£"
        f"{design['population_pounds']}); high value from £{design['high_value_from']}.",
        f"Risk weighting: {design['risk']['weighting']}.",
        f"{'Recorded' if stored else 'Already recorded (same seed, statements and design)'} as sample "
        f"{drawn.sample_id}. Wrote {files} files to {folder}: fill in verdict and reason in sample.csv, then run "
        "recoverypbr assure findings.",
    ]
    print_table(table, notes)


def findings(
    file: Annotated[Path, typer.Argument(help="The sample.csv with verdict (upheld or not_upheld) and reason filled "
                                              "in.")],
    contract: ContractOption,
    on: Annotated[date | None, typer.Option(
        "--on", parser=parse_date, metavar="YYYY-MM-DD",
        help="The day the findings are recorded (default: today): statements as of this day or later stop paying "
             "not-upheld lines.")] = None,
    by: Annotated[str, typer.Option("--by", help="The auditor's name, recorded with each finding.")] = "",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for findings-report.json and .csv (default: the findings file's folder).")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Record an auditor's findings on sampled lines (all or nothing) and report the sample's error rate and the
    period's extrapolated overpayment with a 95% confidence interval."""
    with user_errors():
        model = load_contract(contract)
        _warehouse(db)
        rows = read_findings(file)
        with open_warehouse(db) as wh:
            ids = record_findings(wh, model, rows, by, on or date.today(), file.name)
            reports = [sample_report(wh, sid) for sid in sorted({r.sample_id for r in rows})]
        written = write_report(reports, out or file.parent)
    _print_findings(reports, ids, written)


def _print_findings(reports: list[dict[str, Any]], ids: list[str], written: list[Path]) -> None:
    table = Table(title="Audit findings")
    for name in ("sample", "period", "audited", "not upheld", "error rate (£)", "error rate (lines)",
                 "overpayment (£)", "95% interval (£)"):
        table.add_column(name, justify="left" if name in ("sample", "period") else "right")
    for r in reports:
        table.add_row(r["sample_id"], r["period"], f"{r['audited_lines']} of {r['sample_lines']}",
                      f"{r['not_upheld_lines']} (£{r['not_upheld_pounds']})", _percent(r["error_rate_pounds"]),
                      _percent(r["error_rate_lines"]), r["extrapolated_overpayment"],
                      f"{r['interval_low']} to {r['interval_high']}")
    notes = [f"Recorded {len(ids)} finding{'s' if len(ids) != 1 else ''}"
             + (f" ({ids[0]} to {ids[-1]})." if ids else " (every row was already recorded).")]
    notes += [f"Sample {r['sample_id']} is not fully audited: the estimate uses the audited lines only."
              for r in reports if not r["complete"]]
    notes.append("Not-upheld lines are not paid on data as of the day recorded or later; an approved period's are "
                 "clawed back in the provider's next open statement. Wrote " + ", ".join(str(p) for p in written))
    print_table(table, notes)


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def register(app: typer.Typer) -> None:
    """Add `sample` and `findings` to a Typer group (the `assure` group)."""
    app.command("sample")(sample)
    app.command("findings")(findings)
