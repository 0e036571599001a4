"""`recoverypbr model tariffs`: the solved tariffs as a table, the draft contract, and a report of how each figure
was derived."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from recoverypbr.contract.types import DOMAIN_NAMES
from recoverypbr.modelling import charts
from recoverypbr.modelling.options import BaselineOption
from recoverypbr.modelling.report import FigureTable, Report, Section
from recoverypbr.modelling.report import write_report as write_html
from recoverypbr.modelling.tariffs import (
    ZERO,
    Design,
    Tariffs,
    TariffsError,
    read_design,
    solve_tariffs,
)
from recoverypbr.warehouse.connection import DB_HELP, DEFAULT_DB

# --- The report ------------------------------------------------------------------------------------------------


def _money(amount: Decimal) -> str:
    return f"£{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def _plain(number: Decimal) -> str:
    """A count without trailing zeros or an exponent: 10, 2.5."""
    return f"{number.normalize():f}" if number else "0"


def tariff_rows(result: Tariffs) -> list[dict[str, Any]]:
    """One row per outcome x group: the baseline's rate, the year's counts, the shape, exact and rounded tariff."""
    p, s = result.problem, result.solution
    rows = []
    for (o, g), units in p.units.items():
        cell = result.baseline.cell(o, g)
        flow = result.counts.units.get((o, g, "flow"), ZERO)
        stock = result.counts.units.get((o, g, "stock"), ZERO)
        tariff = s.tariffs.get((o, g))
        rows.append({"outcome_id": o, "domain": p.domains[o], "stage": p.stages[o], "complexity_group": g,
                     "baseline_eligible": cell.eligible if cell else "", "baseline_achieved": cell.achieved if cell
                     else "", "baseline_rate": cell.rate if cell else "", "payable_flow": _plain(flow),
                     "payable_stock": _plain(stock), "stock_ratio": _plain(result.ratios[(o, g)]),
                     "units": _plain(units), "current_tariff": f"{p.current.get((o, g), ZERO):f}",
                     "shape": f"{s.shape.get((o, g), ZERO):.6f}", "outcome_money": f"{s.outcome_money[o]:.2f}",
                     "exact_tariff": f"{s.exact[(o, g)]:.4f}" if (o, g) in s.exact else "",
                     "tariff": f"{tariff:f}" if tariff is not None else "kept",
                     "expected_money": f"{units * tariff:.2f}" if tariff is not None else ""})
    return rows


def write_report(result: Tariffs, folder: Path) -> tuple[Path, Path]:
    """`tariffs-report.md` (how each figure was derived) and `tariffs.csv` (one row per outcome x group)."""
    import csv

    from recoverypbr.reports.cells import safe_row

    folder.mkdir(parents=True, exist_ok=True)
    rows = tariff_rows(result)
    table = folder / "tariffs.csv"
    with table.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(safe_row(r) for r in rows)
    report = folder / "tariffs-report.md"
    report.write_text("\n".join(_report_lines(result, rows)) + "\n", encoding="utf-8")
    write_html(tariffs_report(result, rows), folder, "tariffs-report")
    return report, table


def tariffs_report(result: Tariffs, rows: list[dict[str, Any]]) -> Report:
    """The solved tariffs as an HTML report: tariffs by outcome and group, the expected money by outcome, and the
    table of how each was derived (the Markdown report beside it has the formulas)."""
    solved = [r for r in rows if r["tariff"] != "kept"]
    tariff_bars = [{"outcome": r["outcome_id"], "group": r["complexity_group"], "tariff": Decimal(r["tariff"])}
                   for r in solved]
    money: dict[str, Decimal] = {}
    for r in solved:
        money[r["outcome_id"]] = money.get(r["outcome_id"], ZERO) + Decimal(r["expected_money"])
    money_bars = [{"outcome": o, "expected": m} for o, m in money.items()]
    columns = ["outcome_id", "complexity_group", "baseline_rate", "payable_flow", "payable_stock", "current_tariff",
               "exact_tariff", "tariff", "expected_money"]
    return Report(
        title=f"Tariffs solved to the budget: {result.contract.area}",
        intro=[f"New tariffs from {result.effective_from}: results money {_money(result.results_money)}, of which "
               f"{_money(result.fixed)} is fixed (fees, incentives, payment points and other amounts not solved); "
               f"the residual after rounding is {_money(result.solution.residual)}.",
               f"A real pay of the year on the baseline's history, with the draft contract, spends "
               f"{_money(result.paid)}.", *result.notes],
        sections=[
            Section("Tariffs by outcome and complexity group", ["Pounds per achievement in the draft contract."],
                    chart=charts.bars_chart(tariff_bars, "outcome", "tariff", "group", title="Solved tariffs",
                                            x_title="Outcome", y_title="Tariff (£)"),
                    table=FigureTable(columns, [{c: r[c] for c in columns} for r in rows],
                                      "How each tariff was derived (counts payable in the year, exact and rounded)")),
            Section("Expected money by outcome", ["Tariff x achievements payable in the baseline's year."],
                    chart=charts.bars_chart(money_bars, "outcome", "expected", title="Expected money by outcome",
                                            x_title="Outcome", y_title="Pounds a year"),
                    table=FigureTable(["outcome", "expected"], money_bars, "Expected money per outcome (pounds)")),
        ],
    )


def _report_lines(r: Tariffs, rows: list[dict[str, Any]]) -> list[str]:
    s, p = r.solution, r.problem
    gap = (r.paid - r.results_money) / r.results_money
    lines = [
        f"# Tariffs solved to the budget: {r.contract.area}", "",
        f"- Contract version {r.contract.effective_from} -> draft version **{r.effective_from}** (contract year "
        f"{r.year.start}..{r.year.end}).",
        f"- Baseline window {r.baseline.window_from}..{r.baseline.window_to}, moved {r.shift_days} days so that it "
        f"starts on {r.year.start}; priced by the payments engine as of {r.year.end}.",
        f"- Results money {_money(r.results_money)}" + (f" (budget x share on results: {_money(r.at_risk)})"
                                                       if r.at_risk is not None else "") + ".",
        f"- Fixed money, priced by the engine and not solved: {_money(r.fixed)} ("
        + (", ".join(f"{k} {_money(Decimal(v) / 100)}" for k, v in sorted(r.counts.fixed_pence.items())) or "none")
        + ").",
        f"- Outcome money solved: {_money(s.money)}; expected spend at the rounded tariffs {_money(s.spend)}; "
        f"residual {_money(s.residual)} (from rounding the tariffs).",
        f"- Verified: a real pay of the year with the draft contract spends {_money(r.paid)} "
        f"({gap:+.3%} against the results money).", "",
        "## Formula", "",
        "U(o, g) = achievements payable in the year (flow + stock x the stock/flow tariff ratio); "
        "M(o) = outcome money x domain share x the outcome's share in its domain (x the interim or final share); "
        "t(o, g) = M(o) x m(o, g) / sum over groups of U(o, g) x m(o, g), then rounded half up.", "",
        "## Money per domain", "", "| domain | money |", "| --- | ---: |",
        *[f"| {DOMAIN_NAMES.get(d, d)} | {_money(m)} |" for d, m in s.domain_money.items()], "",
        "## Money per outcome", "", "| outcome | domain | stage | money |", "| --- | --- | --- | ---: |",
        *[f"| {o} | {p.domains[o]} | {p.stages[o]} | {_money(m)} |" for o, m in s.outcome_money.items()], "",
        "## Tariffs by outcome and group", "",
        "| outcome | group | baseline rate | payable (flow + stock) | U | m | exact | tariff | expected |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[f"| {x['outcome_id']} | {x['complexity_group']} | {x['baseline_rate']} | {x['payable_flow']} + "
          f"{x['payable_stock']} | {x['units']} | {x['shape']} | {x['exact_tariff']} | {x['tariff']} | "
          f"{x['expected_money']} |" for x in rows], "",
        "## Expected payment per client, by group", "", "| group | clients | expected | per client |",
        "| --- | ---: | ---: | ---: |",
    ]
    for g in p.groups:
        got = sum((p.units[(o, h)] * t for (o, h), t in s.tariffs.items() if h == g), ZERO)
        n = p.clients.get(g, ZERO)
        lines.append(f"| {g} | {n:.1f} | {_money(got)} | {_money(got / n) if n else '-'} |")
    lines += ["", "## Constraints checked", "",
              "- The draft passes every rule of `contract check` (the national 20% rule on reliable change among "
              "them).",
              "- The results money is within the share on results and the overall caps; each domain's money within "
              "its weight; every tariff above £0.",
              "- Caps' cuts in the verifying pay: " + (", ".join(f"{k} {_money(Decimal(-v) / 100)}"
                                                           for k, v in r.cap_cuts.items()) or "none") + "."]
    if r.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in r.notes]]
    return lines


# --- The command ---------------------------------------------------------------------------------------------------


def tariffs_command(
    contract: Annotated[Path, typer.Option("--contract", help="The contract YAML file whose tariffs are solved.")],
    baseline: BaselineOption,
    out: Annotated[Path, typer.Option("--out", help="The draft contract to write (YAML); the report goes beside it.")],
    db: Annotated[Path, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
    design: Annotated[Path | None, typer.Option("--design", help="A design file (YAML): domains, outcomes, "
                                                 "interim_share, group_ratio or equal_earnings, round_to.")] = None,
    results_money: Annotated[str | None, typer.Option(
        "--results-money", metavar="POUNDS",
        help="Pounds a year to spend on results (default: budget x share on results of the year).")] = None,
    effective_from: Annotated[str | None, typer.Option("--effective-from", metavar="YYYY-MM-DD", help="When the "
                                                       "new tariffs take effect (default: the next contract year's "
                                                       "start).")] = None,
) -> None:
    """Solve the tariffs so that the expected payment on the baseline equals the results money; write a draft
    contract version and a report of how each figure was derived."""
    from rich.table import Table

    from recoverypbr._console import console, print_table, user_errors
    from recoverypbr.modelling.baseline_file import read_baseline
    from recoverypbr.warehouse.connection import open_warehouse, warehouse_exists

    with user_errors():
        chosen = read_design(design) if design else Design()
        money = _pounds_option(results_money)
        since = _date_option(effective_from)
        if not warehouse_exists(db):
            raise TariffsError(f"no warehouse at {db}", hint="load an extract first or pass --db")
        with open_warehouse(db, read_only=True) as wh:
            result = solve_tariffs(wh, contract, read_baseline(baseline), chosen, money, since)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.draft, encoding="utf-8")
        report, table = write_report(result, out.parent)
        shown = Table(title=f"Tariffs from {result.effective_from} (pounds per achievement)")
        shown.add_column("outcome")
        for g in result.problem.groups:
            shown.add_column(g, justify="right")
        for o in result.problem.domains:
            shown.add_row(o, *[f"{result.solution.tariffs[(o, g)]:,}" if (o, g) in result.solution.tariffs else "kept"
                               for g in result.problem.groups])
        print_table(shown, [f"Results money {_money(result.results_money)}, fixed {_money(result.fixed)}, residual "
                            f"{_money(result.solution.residual)}; a real pay of the year spends {_money(result.paid)}.",
                            f"Draft contract: {out}",
                            f"Report: {out.parent / 'tariffs-report.html'}, {report} and {table}"])
        console.print(*[f"Note: {n}" for n in result.notes], sep="\n", highlight=False)


def _pounds_option(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.replace(",", "").lstrip("£"))
    except ArithmeticError:
        raise TariffsError(f"--results-money {text!r} is not an amount", hint="give pounds, e.g. 250000") from None
    if not value.is_finite() or value <= 0:
        raise TariffsError(f"--results-money {text!r} is not above £0", hint="give pounds, e.g. 250000")
    return value


def _date_option(text: str | None) -> date | None:
    try:
        return None if text is None else date.fromisoformat(text)
    except ValueError:
        raise TariffsError(f"--effective-from {text!r} is not a date", hint="write it as YYYY-MM-DD") from None
