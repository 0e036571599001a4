"""`recoverypbr model compare`: designs side by side on one baseline, as a summary, an HTML report and CSV/JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recoverypbr._console import console, print_table, progress_bar, user_errors
from recoverypbr.modelling import charts
from recoverypbr.modelling.baseline_file import read_baseline
from recoverypbr.modelling.compare import Comparison, Design, compare_designs, differences_words, limits_acting_most
from recoverypbr.modelling.options import BaselineOption, money, share
from recoverypbr.modelling.report import FigureTable, Report, Section, write_report
from recoverypbr.outcomes.cli import DbOption
from recoverypbr.warehouse.connection import DEFAULT_DB, open_warehouse


def _short(year: str) -> str:
    return year.split(" (")[0]


def compare_command(
    baseline: BaselineOption,
    contracts: Annotated[list[Path] | None, typer.Argument(
        help="Two or more contract files (designs) for the same area.", show_default=False)] = None,
    runs: Annotated[int, typer.Option("--runs", help="Simulated runs per design.")] = 10_000,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the random draws, the same for every design (common random numbers).")] = 1,
    years: Annotated[int | None, typer.Option(
        "--years", help="Simulate the first N contract years (default: as many as the shortest design has).",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for compare.html, compare.json and the CSV files.")] = Path(
        "model-compare"),
    db: DbOption = DEFAULT_DB,
) -> None:
    """Designs side by side: the same baseline under each contract file (expected spend and its risk, payment per
    client by complexity group, money by outcome, providers' cash flow) and what changed between the files."""
    with user_errors():
        files = list(contracts or [])
        base = read_baseline(baseline)
        wh = open_warehouse(db, read_only=True)
        try:
            with progress_bar("Comparing") as step:
                comparison = compare_designs(wh, files, base, runs, seed, years=years, step=step)
        finally:
            wh.close()
        _print_summary(comparison)
        page = write_report(compare_report(comparison), out, "compare")
        console.print(f"Report: {page} (with compare.json and a CSV file per table, in {out})")


def _print_summary(comparison: Comparison) -> None:
    designs = comparison.designs
    table = Table(title=f"Designs side by side: {comparison.runs:,} runs each, seed {comparison.seed} "
                        "(the same draws for every design)")
    table.add_column("per contract year")
    for d in designs:
        table.add_column(d.name, justify="right")
    for y, year in enumerate(designs[0].summary.years):
        label = _short(year["year"])
        rows = [d.summary.years[y] for d in designs]
        table.add_row(f"{label}: expected spend", *(money(r["mean"]) for r in rows))
        table.add_row(f"{label}: 5th percentile", *(money(r["p5"]) for r in rows))
        table.add_row(f"{label}: 95th percentile", *(money(r["p95"]) for r in rows))
        table.add_row(f"{label}: P(over results money)", *(share(r["p_over"]) for r in rows))
    notes = ["; ".join(_design_title(d) for d in designs) + "."]
    notes.append("Limits acting most (share of runs): " + "; ".join(
        f"{d.name} " + (", ".join(f"{path} {share(p)}" for path, p in limits_acting_most(d.summary)) or "none")
        for d in designs) + ".")
    for first, second, differences in comparison.changes:
        notes.append(f"What changed from {first} to {second}:")
        notes += [f"  {line}" for line in differences_words(differences, first, second)]
    for d in designs:
        notes += [f"{d.name}: {note}" for note in d.result.notes]
    print_table(table, notes)


def _design_title(d: Design) -> str:
    return f"{d.name}: {d.file.name}"


def _spend_section(comparison: Comparison) -> Section:
    rows, chart_rows = [], []
    for d in comparison.designs:
        for r in d.summary.years:
            rows.append({"design": _design_title(d), "year": r["year"], "mean": money(r["mean"]),
                         "p5": money(r["p5"]), "p95": money(r["p95"]), "results money": money(r["results_money"]),
                         "P(over)": share(r["p_over"]),
                         "limits acting most": ", ".join(f"{p} {share(s)}" for p, s in limits_acting_most(d.summary))})
            chart_rows.append({"year": _short(r["year"]), "design": d.name, "mean": r["mean"]})
    return Section(
        "Expected spend by contract year",
        ["Spend is what all providers are paid in the year after every limit, averaged over the runs. Every design "
         "ran on the same baseline with the same seed: the same volumes, rates and clients were drawn for each, so "
         "a difference between the bars is the design's, not the draw's. P(over) is the share of runs paying more "
         "than the year's results money."],
        chart=charts.bars_chart(chart_rows, "year", "mean", "design", title="Expected spend by contract year",
                                x_title="Contract year", y_title="Expected spend (£)"),
        table=FigureTable(["design", "year", "mean", "p5", "p95", "results money", "P(over)", "limits acting most"],
                          rows, "Spend per contract year over the runs (pounds)"))


def _per_client_section(comparison: Comparison) -> Section:
    rows, chart_rows = [], []
    first_year = comparison.designs[0].summary.years[0]["year"]
    for d in comparison.designs:
        for r in d.per_client:
            rows.append({"design": _design_title(d), "year": r["year"], "complexity group": r["group"],
                         "earned": money(r["earned"]), "clients": r["clients"],
                         "per client": money(r["per_client"])})
            if r["year"] == d.summary.years[0]["year"]:
                chart_rows.append({"group": r["group"], "design": d.name, "per_client": r["per_client"]})
    return Section(
        "Expected payment per client by complexity group",
        ["Per complexity group and contract year: the pounds the engine's earned lines (before caps, floors and the "
         "share on results) pay for episodes of the group on the baseline's history moved onto the year, divided "
         "by the group's episodes that were open on some day of the year or earned a line in it. The chart shows "
         f"{_short(first_year)}."],
        chart=charts.bars_chart(chart_rows, "group", "per_client", "design",
                                title=f"Expected payment per client, {_short(first_year)}",
                                x_title="Complexity group", y_title="Earned per client (£)"),
        table=FigureTable(["design", "year", "complexity group", "earned", "clients", "per client"], rows,
                          "Earned pounds per client by complexity group"))


def _by_outcome_section(comparison: Comparison) -> Section:
    rows, chart_rows = [], []
    for d in comparison.designs:
        for r in d.by_outcome:
            rows.append({"design": _design_title(d), "item": r["item"], "earned": money(r["earned"]),
                         "share": share(r["share"])})
            chart_rows.append({"item": r["item"], "design": d.name, "share": r["share"] * 100})
    return Section(
        "Share of money by outcome",
        ["The earned pounds of the simulated years' templates (before limits) by outcome; attachment fees and "
         "incentives are items of their own."],
        chart=charts.bars_chart(chart_rows, "item", "share", "design", title="Share of earned money by outcome",
                                x_title="Outcome or fee", y_title="Share of earned money (%)"),
        table=FigureTable(["design", "item", "earned", "share"], rows, "Earned pounds by outcome and their share"))


def _cash_section(d: Design) -> Section:
    chart_rows = [{"provider": r["provider"], "quarter": r["quarter"], "p5": r["p5"], "p50": r["p50"],
                   "p95": r["p95"]} for r in d.summary.cash_flow]
    rows = [{"provider": r["provider"], "quarter": r["quarter"], **{k: money(r[k]) for k in ("mean", "p5", "p50",
                                                                                              "p95")}}
            for r in d.summary.cash_flow]
    return Section(f"Providers' cash flow: design {d.name}",
                   [f"What each provider is paid per quarter after limits under design {_design_title(d)}."],
                   chart=charts.cash_flow_chart(rows=chart_rows, title=f"Providers' income by quarter: {d.name}"),
                   table=FigureTable(["provider", "quarter", "mean", "p5", "p50", "p95"], rows,
                                     f"Each provider's payments per quarter over the runs, design {d.name} (pounds)"))


def _changes_section(comparison: Comparison) -> Section:
    rows = []
    for first, second, differences in comparison.changes:
        for line in differences_words(differences, first, second):
            rows.append({"from": first, "to": second, "difference": line})
    return Section("What changed between the files",
                   ["Each design's contract against the first's, field by field, ordered by the field's path in the "
                    "contract; the words in brackets are the statements' words for that field."],
                   table=FigureTable(["from", "to", "difference"], rows, "Differences between the contract files"))


def compare_report(comparison: Comparison) -> Report:
    """The comparison report: what changed, spend and its risk, payment per client by group, money by outcome and
    each design's cash flow."""
    listing = "; ".join(f"{_design_title(d)} ({d.contract.title}, version {d.contract.effective_from.isoformat()})"
                        for d in comparison.designs)
    return Report(
        title=f"Designs side by side: {comparison.designs[0].contract.area}",
        intro=[f"Designs: {listing}.",
               f"{comparison.runs:,} runs per design, seed {comparison.seed}: common random numbers, so every design "
               "met the same simulated volumes, rates and clients. Every run was priced by the same rules as the "
               "statements."],
        sections=[_changes_section(comparison), _spend_section(comparison), _per_client_section(comparison),
                  _by_outcome_section(comparison), *(_cash_section(d) for d in comparison.designs)],
    )
