"""`recoverypbr model risk`: the spend risk of a design on a baseline, as a summary, an HTML report and CSV/JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from recoverypbr._console import console, print_table, progress_bar, user_errors
from recoverypbr.contract.load import load_contract
from recoverypbr.modelling import charts
from recoverypbr.modelling.baseline_file import read_baseline
from recoverypbr.modelling.options import BaselineOption, RunsOption, SeedOption, money, share, whole_pounds
from recoverypbr.modelling.report import FigureTable, Report, Section, write_report
from recoverypbr.modelling.risk import RiskResult, Summary, model_risk, summarise
from recoverypbr.outcomes.cli import ContractOption, DbOption
from recoverypbr.warehouse.connection import DEFAULT_DB, open_warehouse


def risk_command(
    contract: ContractOption,
    baseline: BaselineOption,
    runs: RunsOption = 10_000,
    seed: SeedOption = 1,
    years: Annotated[int | None, typer.Option("--years", help="Simulate the first N contract years (default: all).",
                                              show_default=False)] = None,
    fixed: Annotated[bool, typer.Option(
        "--fixed", help="Draw nothing: every run is the baseline's own year, priced as pay would price it.")] = False,
    resolution: Annotated[Literal["month", "day"], typer.Option(
        "--resolution", help="Payable dates kept to the day, or moved to their month's end (faster; the same "
                             "totals in every limit's window).")] = "month",
    out: Annotated[Path, typer.Option("--out", help="Folder for risk.html, risk.json and the CSV files.")] = Path(
        "model-risk"),
    db: DbOption = DEFAULT_DB,
) -> None:
    """The chance of overspending and each provider's cash flow: Monte Carlo over volumes and achievement rates,
    every run priced by the payments engine's own rules."""
    with user_errors():
        model = load_contract(contract)
        base = read_baseline(baseline)
        wh = open_warehouse(db, read_only=True)
        try:
            with progress_bar("Simulating") as step:
                result = model_risk(wh, model, base, runs, seed, years=years, fixed=fixed, resolution=resolution,
                                    step=step)
        finally:
            wh.close()
        summary = summarise(result)
        _print_summary(result, summary)
        page = write_report(risk_report(result, summary), out, "risk")
        console.print(f"Report: {page} (with risk.json and a CSV file per table, in {out})")


def _print_summary(result: RiskResult, summary: Summary) -> None:
    table = Table(title=f"Spend by contract year: {result.runs:,} runs, seed {result.seed}")
    for name in ("year", "mean", "5th to 95th percentile", "results money", "P(over)"):
        table.add_column(name, justify="left" if name == "year" else "right")
    for row in summary.years:
        spread = f"{whole_pounds(row['p5'])} to {whole_pounds(row['p95'])}"
        table.add_row(row["year"].split(" (")[0], whole_pounds(row["mean"]), spread, whole_pounds(row["results_money"]),
                      share(row["p_over"]))
    acting = [f"{r['limit']} in {r['year'].split(' (')[0]}: {share(r['p_acts'])} of runs"
              for r in summary.limits if r["p_acts"]]
    notes = ["Limits acting: " + "; ".join(acting) + "." if acting else "No cap, floor or maximum acted in any run."]
    notes += [f"Years: {', '.join(y.label for y in result.years)}.", *result.notes]
    print_table(table, notes)


def risk_report(result: RiskResult, summary: Summary) -> Report:
    """The risk report: fan chart of spend against the results money, the chance of overspending and of each limit
    acting, and each provider's cash flow by quarter."""
    how = (f"{result.runs:,} runs, seed {result.seed}; " + ("nothing drawn (--fixed): every run is the baseline's "
           "own year" if result.fixed else "volumes and achievement rates drawn from the baseline's counts")
           + f"; payable dates by {result.resolution}. {result.engine_runs:,} runs needed the engine's limits.")
    fan_rows = [{"period": r["quarter"], **{p: r[p] for p in ("p5", "p25", "p50", "p75", "p95")}}
                for r in summary.quarters]
    money_rows = []
    for r in summary.quarters:
        year = next(y for y in summary.years if y["year"] == r["year"])
        if year["results_money"] is not None:
            money_rows.append({"period": r["quarter"], "results_money": year["results_money"] / 4})
    columns = ["year", "mean", "p5", "p25", "p50", "p75", "p95", "results money", "P(spend over results money)"]
    year_rows = [{"year": r["year"], **{k: money(r[k]) for k in ("mean", "p5", "p25", "p50", "p75", "p95")},
                  "results money": money(r["results_money"]), "P(spend over results money)": share(r["p_over"])}
                 for r in summary.years]
    quarter_rows = [{"quarter": r["quarter"], **{k: money(r[k]) for k in ("mean", "p5", "p25", "p50", "p75", "p95")}}
                    for r in summary.quarters]
    limit_rows = [{"year": r["year"], "limit": r["limit"], "share of runs it acts in": share(r["p_acts"])}
                  for r in summary.limits]
    cash_rows = [{"provider": r["provider"], "quarter": r["quarter"], "p5": r["p5"], "p50": r["p50"], "p95": r["p95"]}
                 for r in summary.cash_flow]
    cash_table = [{"provider": r["provider"], "quarter": r["quarter"],
                   **{k: money(r[k]) for k in ("mean", "p5", "p50", "p95")}} for r in summary.cash_flow]
    return Report(
        title=f"Spend risk: {result.contract.title}",
        intro=[f"{result.contract.area}, contract version {result.contract.effective_from.isoformat()}. {how}",
               "Every run's lines were priced by the same rules as the statements: tariffs, fees, splits and payment "
               "points by the engine on the baseline's history, then milestones' maxima, caps, the share on results "
               "and floors by the engine's limits, period by period.", *result.notes],
        sections=[
            Section("Spend by contract year", ["Spend is what all providers are paid in the year after every limit. "
                                               "P(over) is the share of runs paying more than the results money."],
                    table=FigureTable(columns, year_rows, "Spend per contract year over the runs (pounds)")),
            Section("Spend by quarter against the results money",
                    ["The dashed line is a quarter of the year's results money."],
                    chart=charts.fan_chart(fan_rows, money_rows),
                    table=FigureTable(["quarter", "mean", "p5", "p25", "p50", "p75", "p95"], quarter_rows,
                                      "Spend per quarter over the runs (pounds)")),
            Section("How often each limit acts", ["A cap acts when it cuts, a floor when it tops up, a milestone's "
                                                  "maximum when it cuts payment points."],
                    table=FigureTable(["year", "limit", "share of runs it acts in"], limit_rows,
                                      "Share of runs in which each limit acted")),
            Section("Providers' cash flow by quarter", ["What each provider is paid per quarter after limits."],
                    chart=charts.cash_flow_chart(cash_rows),
                    table=FigureTable(["provider", "quarter", "mean", "p5", "p50", "p95"], cash_table,
                                      "Each provider's payments per quarter over the runs (pounds)")),
        ],
    )
