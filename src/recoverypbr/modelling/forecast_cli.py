"""`recoverypbr model forecast`: a funnel contract's year so far and the forecast for the rest of it, as a summary,
an HTML report and CSV/JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from recoverypbr._console import console, print_table, user_errors
from recoverypbr.contract.load import load_contract
from recoverypbr.modelling import charts
from recoverypbr.modelling.forecast import (
    HIGH,
    LOW,
    ForecastError,
    ForecastResult,
    MilestoneForecast,
    check_request,
    model_forecast,
    money,
    percentiles,
)
from recoverypbr.modelling.options import RunsOption, SeedOption, share
from recoverypbr.modelling.options import money as money_text
from recoverypbr.modelling.report import FigureTable, Report, Section, write_report
from recoverypbr.outcomes.cli import AsOfOption, ContractOption, DbOption
from recoverypbr.warehouse.connection import DEFAULT_DB, open_warehouse, warehouse_exists


def forecast_command(
    contract: ContractOption,
    as_of: AsOfOption,
    runs: RunsOption = 10_000,
    seed: SeedOption = 1,
    prior_months: Annotated[float, typer.Option(
        "--prior-months", help="Shrink each rate toward the prediction, weighed as this many months of data "
                               "(0: the actuals alone).")] = 0.0,
    out: Annotated[Path, typer.Option("--out", help="Folder for forecast.html, forecast.json and the CSV files.")] = (
        Path("model-forecast")),
    db: DbOption = DEFAULT_DB,
) -> None:
    """A funnel contract's milestones predicted against actual by month so far, and a forecast (with a 90%
    interval) of each milestone's clients and each payment point's spend for the rest of the contract year.
    Evaluates and stores the outcome ledger as of the date, as pay does."""
    with user_errors():
        model = load_contract(contract)
        check_request(model, as_of, runs, prior_months)
        if not warehouse_exists(db):
            raise ForecastError(f"no warehouse at {db}", hint="load the area's extract first: recoverypbr load "
                                                              "FOLDER --db WAREHOUSE, or give --db")
        wh = open_warehouse(db)
        try:
            with console.status("Evaluating outcomes and forecasting"):
                result = model_forecast(wh, model, as_of, runs, seed, prior_months)
        finally:
            wh.close()
        _print_summary(result)
        page = write_report(forecast_report(result), out, "forecast")
        console.print(f"Report: {page} (with forecast.json and a CSV file per table, in {out})")


def summary_rows(result: ForecastResult) -> list[dict[str, Any]]:
    """One row per milestone: predicted for the year, actual to date, expected and forecast year total with its
    interval, and for a payment point the forecast spend (pounds, from pence) and the chance of the maximum."""
    rows = []
    for m in result.milestones:
        low, mid, high = percentiles(m.totals)
        row: dict[str, Any] = {
            "funnel": m.funnel, "milestone": m.milestone, "label": m.label, "predicted": m.predicted_year,
            "actual_to_date": m.actual_to_date, "expected": round(m.expected, 1), "p5": low, "median": mid,
            "p95": high, "unit_price": money(m.unit_price_pence), "maximum": money(m.maximum_pence),
            "spend_p5": None, "spend_median": None, "spend_p95": None, "p_maximum": m.reaches_maximum,
        }
        if m.spend_pence is not None:
            s_low, s_mid, s_high = percentiles(m.spend_pence)
            row |= {"spend_p5": money(s_low), "spend_median": money(s_mid), "spend_p95": money(s_high)}
        rows.append(row)
    return rows


def month_rows(m: MilestoneForecast) -> list[dict[str, Any]]:
    """One row per month of the year for a milestone: predicted, actual (None to come) and for a month with
    anything still to come the forecast median and interval of its count."""
    rows = []
    for j, month in enumerate(m.months):
        to_come = m.to_come[j] > 0
        low, mid, high = percentiles(m.counts[:, j]) if to_come else (None, None, None)
        rows.append({"month": month, "predicted": m.predicted[j], "actual": m.actual[j],
                     "forecast": mid, "low": low, "high": high})
    return rows


def _print_summary(result: ForecastResult) -> None:
    """Two tables: the payment points with their spend, then the other milestones' clients."""
    heading = f"{result.contract.area}, {result.year.label} as of {result.as_of}: {result.runs:,} runs, seed " \
              f"{result.seed}"
    interval = f"[{LOW}th-{HIGH}th]"
    rows = summary_rows(result)
    paid = Table(title=f"Payment points: {heading}")
    for name in ("funnel", "predicted", "to date", f"year total median {interval}",
                 f"spend median {interval}", "P(max)"):
        paid.add_column(name, justify="left" if name == "funnel" else "right")
    others = Table(title="Other milestones: clients")
    for name in ("milestone", "predicted", "to date", f"year total {interval}"):
        others.add_column(name, justify="left" if name == "milestone" else "right")
    for r in rows:
        total = f"{r['median']:,}\n[{r['p5']:,}-{r['p95']:,}]"
        if r["spend_median"] is not None:
            spend = f"{money_text(r['spend_median'])}\n[{money_text(r['spend_p5'])}-{money_text(r['spend_p95'])}]"
            funnel = escape(result.contract.funnels[r["funnel"]].label)
            paid.add_row(funnel, f"{r['predicted']:,}", f"{r['actual_to_date']:,}", escape(total),
                         escape(spend), share(r["p_maximum"]))
        else:
            others.add_row(f"{r['funnel']}: {r['milestone']}", f"{r['predicted']:,}", f"{r['actual_to_date']:,}",
                           escape(total.replace("\n", " ")))
    print_table(paid, [_method(result), *result.notes])
    if others.row_count:
        print_table(others)


def _method(result: ForecastResult) -> str:
    shrink = (f", shrunk toward the prediction as if {result.prior_months:g} months at its pace had been seen"
              if result.prior_months else "")
    return (f"Rates from the {result.ended} month(s) of {result.year.label} ended by {result.as_of} "
            f"(Poisson-Gamma, Jeffreys' prior{shrink}); spend after each milestone's maximum, priced by the engine.")


def forecast_report(result: ForecastResult) -> Report:
    """The forecast report: a summary table of every milestone, then per funnel its payment point's chart
    (predicted against actual, forecast with interval) and a table of every milestone by month."""
    summary = summary_rows(result)
    columns = ["funnel", "milestone", "predicted for the year", "actual to date", "expected year total",
               f"year total median [{LOW}th-{HIGH}th]", "unit price", "maximum",
               f"spend median [{LOW}th-{HIGH}th]", "P(reaching the maximum)"]
    table_rows = [{
        "funnel": r["funnel"], "milestone": r["label"], "predicted for the year": r["predicted"],
        "actual to date": r["actual_to_date"], "expected year total": f"{r['expected']:.1f}",
        f"year total median [{LOW}th-{HIGH}th]": f"{r['median']} [{r['p5']}-{r['p95']}]",
        "unit price": money_text(r["unit_price"]), "maximum": money_text(r["maximum"]),
        f"spend median [{LOW}th-{HIGH}th]": "" if r["spend_median"] is None else
        f"{money_text(r['spend_median'])} [{money_text(r['spend_p5'])}-{money_text(r['spend_p95'])}]",
        "P(reaching the maximum)": share(r["p_maximum"]),
    } for r in summary]
    sections = [Section(
        "Every milestone: the year so far and forecast",
        ["Predicted is the contract's figure for the year; actual to date the clients who reached the milestone "
         "from the year's first day to the as-of date, as the statements count them. The year total is the actual "
         f"so far plus the forecast for the rest of the year: its median run and the {LOW}th to {HIGH}th "
         "percentile of the runs (nine runs in ten fall inside). Spend is for payment points: the clients at the "
         "unit price, after the milestone's maximum."],
        table=FigureTable(columns, table_rows, f"Each milestone's year as of {result.as_of}"))]
    for funnel_id, funnel in result.contract.funnels.items():
        sections.append(_funnel_section(funnel_id, funnel.label,
                                        [m for m in result.milestones if m.funnel == funnel_id]))
    return Report(
        title=f"Funnel forecast: {result.contract.title}",
        intro=[f"{result.contract.area}, contract version {result.contract.effective_from.isoformat()}, "
               f"{result.year.label} ({result.year.start} to {result.year.end}) as of {result.as_of}. "
               f"{result.runs:,} runs, seed {result.seed}.", _method(result), *result.notes],
        sections=sections,
    )


def _funnel_section(funnel_id: str, label: str, milestones: list[MilestoneForecast]) -> Section:
    paid = [m for m in milestones if m.unit_price_pence is not None] or milestones[-1:]
    shown = paid[-1]
    rows = [{"milestone": m.label, **r} for m in milestones for r in month_rows(m)]
    columns = ["milestone", "month", "predicted", "actual", "forecast", "low", "high"]
    cells = [{k: "" if r[k] is None else r[k] for k in columns} for r in rows]
    title = f"{label}: {shown.label}, predicted against actual"
    return Section(
        f"{label} ({funnel_id})",
        [f"The chart is the {'payment point' if shown.unit_price_pence is not None else 'last milestone'} "
         "month by month: the contract's prediction, the clients who reached it, and for the months still to "
         f"come the forecast median inside its {LOW}th-{HIGH}th percentile band. The table has every milestone "
         "of the funnel (low and high are that percentile interval of the month's count)."],
        chart=charts.funnel_chart(month_rows(shown), title=title, y_title="Clients"),
        table=FigureTable(columns, cells, f"{label}: clients per month, predicted, actual and forecast"),
    )
