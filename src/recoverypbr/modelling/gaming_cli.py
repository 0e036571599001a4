"""`recoverypbr model gaming`: the strategies' gains as a table, gaming.json and gaming.csv, and the HTML report."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recoverypbr._console import print_table, progress_bar, user_errors
from recoverypbr.contract.load import load_contract
from recoverypbr.modelling import charts
from recoverypbr.modelling.baseline_file import read_baseline
from recoverypbr.modelling.gaming import (
    DEFAULT_DAYS,
    DEFAULT_SHARE,
    DEFAULT_THRESHOLD,
    LABELS,
    STRATEGIES,
    GamingError,
    GamingResult,
    GamingSettings,
    gain_per_client,
    gaming_gains,
    percent_words,
)
from recoverypbr.modelling.options import BaselineOption
from recoverypbr.modelling.report import FigureTable, Report, Section, write_report
from recoverypbr.outcomes.cli import ContractOption, DbOption
from recoverypbr.payments.money import pounds
from recoverypbr.reports.cells import safe_row
from recoverypbr.warehouse.connection import DEFAULT_DB, open_warehouse

# ---- the command: `recoverypbr model gaming` ----

JSON_FILE = "gaming.json"
CSV_FILE = "gaming.csv"


def parse_shares(texts: list[str] | None) -> dict[str, Decimal]:
    """`NAME=X` (X a share from 0 to 1, or a percentage `10%`) for each strategy named (`all`: every strategy),
    in order; the rest at 10%."""
    shares = dict.fromkeys(STRATEGIES, DEFAULT_SHARE)
    for text in texts or []:
        name, sep, value = text.partition("=")
        name = name.strip().replace("-", "_")
        try:
            share = Decimal(value.strip().rstrip("%")) / (100 if value.strip().endswith("%") else 1)
        except ArithmeticError:
            share = None
        if not sep or share is None or name not in (*STRATEGIES, "all"):
            raise GamingError(f"cannot read --share {text!r}", hint="write NAME=SHARE, e.g. creaming=0.2 or "
                              f"creaming=20%; names: all, {', '.join(STRATEGIES)}")
        shares.update(dict.fromkeys(STRATEGIES if name == "all" else (name,), share))
    return shares


def write_gaming(result: GamingResult, out: Path) -> tuple[Path, Path]:
    """Write gaming.json and gaming.csv (every cell spreadsheet-safe) into the folder, made if need be."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / JSON_FILE, out / CSV_FILE
    json_path.write_text(result.to_json(), encoding="utf-8")
    rows = result.as_rows()
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["strategy"])
        writer.writeheader()
        writer.writerows(safe_row(row) for row in rows)
    return json_path, csv_path


def gaming_table(result: GamingResult) -> Table:
    """Strategy, parameter, clients affected, gain per provider, per client affected, flag."""
    providers = sorted({p for s in result.strategies for p in s.gain_pence})
    table = Table(title=f"What gaming would earn in {result.year_start}..{result.year_end} ({result.contract_area})")
    table.add_column("strategy")
    table.add_column("parameter")
    table.add_column("clients affected", justify="right")
    for p in providers:
        table.add_column(f"gain {p} £", justify="right")
    table.add_column("gain £", justify="right")
    table.add_column("per client £", justify="right")
    table.add_column("flag")
    for s in result.strategies:
        per_client = gain_per_client(s.total_gain_pence, s.clients_affected)
        table.add_row(
            LABELS[s.strategy], s.parameter, str(s.clients_affected),
            *[f"{pounds(s.gain_pence.get(p, 0)):,}" for p in providers],
            f"{pounds(s.total_gain_pence):,}", "" if per_client is None else f"{pounds(per_client):,}",
            f"LARGE: {s.driver}" if s.flagged else "",
        )
    return table


def gaming_report(result: GamingResult) -> Report:
    """The gains as bars (flagged ones highlighted) with the table of every figure, per strategy and provider."""
    bars = [{"strategy": s.strategy, "gain": pounds(s.total_gain_pence), "flagged": s.flagged}
            for s in result.strategies]
    rows = result.as_rows()
    intro = [f"{result.contract_area}, contract version {result.contract_version}: the baseline's history "
             f"({result.window_from} to {result.window_to}) moved onto the contract year {result.year_start} to "
             f"{result.year_end}, each strategy applied to it and re-priced by the payments engine.",
             f"A strategy is flagged when its gain passes £{pounds(result.flag_above_pence):,} "
             f"({percent_words(result.threshold)} of the year's results money); the flag names the contract figure "
             "that drives it. A negative gain is money the strategy forgoes."]
    drivers = [f"{s.strategy}: {s.driver}" for s in result.strategies if s.flagged and s.driver]
    return Report(
        title=f"What gaming would earn: {result.contract_area}",
        intro=intro,
        sections=[Section("Gain per strategy in the year", ["All providers together; per provider in the table."],
                          chart=charts.gains_chart(bars),
                          table=FigureTable(list(rows[0]) if rows else ["strategy"], rows,
                                            "Honest and gamed payments, gain and gain per client affected"),
                          notes=drivers)],
    )


def gaming_command(
    contract: ContractOption,
    baseline: BaselineOption,
    db: DbOption = DEFAULT_DB,
    seed: Annotated[int, typer.Option("--seed", help="Chooses the clients each strategy affects.")] = 0,
    share: Annotated[list[str] | None, typer.Option(
        "--share", metavar="NAME=X",
        help="A strategy's share of clients, NAME=X (0 to 1 or 10%; NAME all for every one); repeat. "
             "Default 10% each.")] = None,
    days: Annotated[int, typer.Option("--days", help="Days of use TOP inflation records lower.")] = DEFAULT_DAYS,
    threshold: Annotated[str, typer.Option(
        "--threshold", help="Flag a gain above this share of the year's results money.")] = str(DEFAULT_THRESHOLD),
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for gaming.html, gaming.json and gaming.csv.")] = Path("model-gaming"),
) -> None:
    """What each gaming strategy would earn a provider in the contract's first year, on the baseline's history
    re-priced by the payment engine: assessment inflation, creaming, parking, discharge timing, TOP inflation."""
    with user_errors():
        model = load_contract(contract)
        base = read_baseline(baseline)
        try:
            limit = Decimal(threshold.strip().rstrip("%")) / (100 if threshold.strip().endswith("%") else 1)
        except ArithmeticError:
            raise GamingError(f"cannot read --threshold {threshold!r}", hint="e.g. 0.01 or 1%") from None
        settings = GamingSettings(parse_shares(share), days, seed, limit)
        with open_warehouse(db, read_only=True) as wh, progress_bar("Gaming strategies") as step:
            result = gaming_gains(wh, model, base, settings, progress=step)
        written = (*write_gaming(result, out), write_report(gaming_report(result), out, "gaming-report"))
    notes = [f"Flagged above £{pounds(result.flag_above_pence):,} ({percent_words(result.threshold)} of the year's "
             f"results money, £{pounds(result.results_money_pence):,}). A negative gain is money the strategy forgoes."]
    notes += [f"Wrote {path}" for path in written]
    print_table(gaming_table(result), notes)
