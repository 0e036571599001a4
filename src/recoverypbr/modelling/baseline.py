"""The baseline: how often each complexity group achieved each outcome in a window of the area's history.

Episodes that started in the window [from, to] are evaluated by the outcome engine (`outcomes.ledger.evaluate`),
once, as of `to` plus the contract's longest maturity (or the data's last day, when that comes first). Per outcome
and complexity group: eligible = the window's episodes whose status is not `not_eligible`; achieved = those
achieved on or before the outcome's cut-off, `to` plus its own maturity (`matures_after_months`); the rate
achieved / eligible with a 95% Jeffreys interval; days from episode start to achievement (quartiles). Flow: the
episodes started per calendar month of the window and group; stock: clients in treatment on the go-live day. No
outcome rule is restated here: every status comes from the engine.
"""

from __future__ import annotations

import calendar
import csv
from dataclasses import asdict, fields
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated

import ibis
import ibis.expr.types as ir
import numpy as np
import typer
from rich.table import Table

from recoverypbr._console import console, print_table, user_errors
from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.data.read import file_sha256
from recoverypbr.modelling import charts
from recoverypbr.modelling.baseline_file import (
    SMALL_CELL,
    Baseline,
    BaselineError,
    Cell,
    Flow,
    Stock,
    write_baseline,
)
from recoverypbr.modelling.report import FigureTable, Report, Section, write_report
from recoverypbr.outcomes.cli import ContractOption, DbOption, parse_date
from recoverypbr.outcomes.engine import episode_groups, evaluation_order
from recoverypbr.outcomes.frame import ACHIEVED, NOT_ELIGIBLE
from recoverypbr.outcomes.inputs import warehouse_inputs
from recoverypbr.outcomes.ledger import evaluate
from recoverypbr.reports.cells import safe_row
from recoverypbr.warehouse.connection import DEFAULT_DB, Warehouse, open_warehouse

#: The interval every cell carries, as named in `Cell.interval`.
INTERVAL = "Jeffreys 95%"
#: The group label of episodes with no complexity group (no assessment on or before their start).
NO_GROUP = "none"
PLACES = Decimal("0.0001")

__all__ = [
    "INTERVAL",
    "NO_GROUP",
    "add_months",
    "baseline_command",
    "data_last_day",
    "jeffreys",
    "make_baseline",
    "quartiles",
    "rate_text",
    "write_tables",
]


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, or that month's last day when it has no such day (as the
    engine's `frame.months_after`)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rate_text(achieved: int, eligible: int) -> str:
    """achieved / eligible as a decimal string with 4 places, rounded half up ("0.0000" when none is eligible)."""
    if eligible == 0:
        return "0.0000"
    return str((Decimal(achieved) / Decimal(eligible)).quantize(PLACES, rounding=ROUND_HALF_UP))


def jeffreys(achieved: int, eligible: int) -> tuple[str, str]:
    """The 95% Jeffreys interval of a proportion: the 2.5% and 97.5% quantiles of Beta(x + 1/2, n - x + 1/2), with
    the low end 0 when x = 0 and the high end 1 when x = n (Brown, Cai and DasGupta 2001); rounded outwards to 4
    places so that the written interval holds the exact one. With no one eligible: 0 to 1 (nothing is known)."""
    x, n = achieved, eligible
    from scipy.stats import beta  # imported when needed: it is slow to import

    low = 0.0 if x == 0 else float(beta.ppf(0.025, x + 0.5, n - x + 0.5))
    high = 1.0 if x == n else float(beta.ppf(0.975, x + 0.5, n - x + 0.5))
    return (
        str(Decimal(repr(low)).quantize(PLACES, rounding=ROUND_FLOOR)),
        str(Decimal(repr(high)).quantize(PLACES, rounding=ROUND_CEILING)),
    )


def data_last_day(wh: Warehouse) -> date | None:
    """The data's last day: the latest episode start, discharge or TOP date in the warehouse (None when empty)."""
    e, t = wh.table("episodes"), wh.table("top")
    days = wh.to_arrow(e.aggregate(start=e.start_date.max(), discharge=e.discharge_date.max())).to_pylist()[0]
    days |= wh.to_arrow(t.aggregate(top=t.top_date.max())).to_pylist()[0]
    known = [d for d in days.values() if d is not None]
    return max(known) if known else None


def make_baseline(
    wh: Warehouse,
    contract: Contract,
    window_from: date,
    window_to: date,
    contract_sha256: str,
    data_end: date | None = None,
) -> Baseline:
    """The baseline of the episodes started in [window_from, window_to], evaluated by the contract's outcomes.

    Outcomes are evaluated once, as of `window_to` plus the longest maturity of the contract's client-level
    outcomes, or as of the data's last day (`data_end`, by default the latest episode or TOP date) when that is
    earlier; an outcome counts as achieved when achieved on or before `window_to` plus its own maturity (and that
    as-of date). Raises `BaselineError` for a window that is back to front or holds no episode."""
    _check_window(wh, window_from, window_to)
    last_day = data_end or data_last_day(wh) or window_to  # never the fallback: the window has episodes
    outcome_ids = evaluation_order(contract)
    maturity = {oid: contract.outcomes[oid].matures_after_months for oid in outcome_ids}
    wanted = add_months(window_to, max(maturity.values(), default=0))
    as_of = min(wanted, last_day)
    cutoffs = {oid: min(add_months(window_to, months), as_of) for oid, months in maturity.items()}
    window = _window_episodes(wh, window_from, window_to)
    cells = _cells(wh, contract, as_of, window, cutoffs) if outcome_ids else ()
    groups = _groups(wh, contract, as_of)
    flow = _flow(wh, window, groups, contract, window_from, min(window_to, last_day))
    stock_day = contract.start if contract.start <= window_to else window_to + timedelta(days=1)
    stock = _stock(wh, contract, as_of, groups, stock_day)
    notes = _notes(wh, contract, window, cells, flow, window_from, window_to, as_of, wanted, stock_day)
    if window_to > last_day:
        notes = (f"The window runs past the data's last day ({last_day}): flow lists the months up to it only, and "
                 "the last of them may be incomplete.", *notes)
    return Baseline(
        contract_area=contract.area,
        contract_version=contract.effective_from,
        contract_sha256=contract_sha256,
        window_from=window_from,
        window_to=window_to,
        go_live=contract.start,
        as_of=as_of,
        groups=tuple(contract.group_ids),
        cells=cells,
        flow=flow,
        stock=stock,
        notes=notes,
    )


def _check_window(wh: Warehouse, window_from: date, window_to: date) -> None:
    """A window that runs forwards and holds at least one episode start."""
    if window_from > window_to:
        raise BaselineError(f"the window starts on {window_from}, after it ends on {window_to}",
                            hint="give --from before --to, e.g. --from 2010-04-01 --to 2012-03-31")
    e = wh.table("episodes")
    inside = e.filter(e.start_date.between(window_from, window_to)).count()
    if int(wh.ibis.execute(inside)) == 0:
        span = wh.to_arrow(e.aggregate(first=e.start_date.min(), last=e.start_date.max())).to_pylist()[0]
        first, last = span["first"], span["last"]
        if first is None:
            raise BaselineError("the warehouse has no episodes", hint="load an extract first: recoverypbr load DIR")
        raise BaselineError(
            f"no episodes started between {window_from} and {window_to}; the warehouse's episodes run from "
            f"{first} to {last}",
            hint="choose a window within the episodes' dates",
        )


def _window_episodes(wh: Warehouse, window_from: date, window_to: date) -> ir.Table:
    """`w_episode`, `w_start`, `w_discharge` of the episodes started in the window."""
    e = wh.table("episodes")
    inside = e.filter(e.start_date.between(window_from, window_to))
    return inside.select(w_episode=inside.episode_id, w_start=inside.start_date, w_discharge=inside.discharge_date)


def _cells(
    wh: Warehouse, contract: Contract, as_of: date, window: ir.Table, cutoffs: dict[str, date]
) -> tuple[Cell, ...]:
    """Every (outcome, group) cell, from one aggregate over the ledger's rows of the window's episodes: eligible,
    achieved by the cut-off and the days from start to those achievements (quartiles taken with NumPy)."""
    ledger = evaluate(wh, contract, as_of)
    rows = ledger.join(window, ledger.episode_id == window.w_episode)
    cutoff = ibis.cases(*((rows.outcome_id == oid, ibis.literal(day, "date")) for oid, day in cutoffs.items()))
    counted = (rows.status == ACHIEVED) & (rows.achieved_on <= cutoff).fill_null(False)
    lag = rows.achieved_on.delta(rows.w_start, unit="day")
    totals = rows.group_by("outcome_id", "complexity_group").aggregate(
        eligible=(rows.status != NOT_ELIGIBLE).cast("int32").cast("int64").sum(),
        achieved=counted.cast("int32").cast("int64").sum(),
        lags=lag.collect(where=counted),
    )
    found = {(r["outcome_id"], r["complexity_group"]): r for r in wh.to_arrow(totals).to_pylist()}
    cells = []
    for oid in cutoffs:
        for group in contract.group_ids:
            row = found.get((oid, group), {"eligible": 0, "achieved": 0, "lags": []})
            n, x = int(row["eligible"]), int(row["achieved"])
            low, high = jeffreys(x, n)
            q1, median, q3 = quartiles(row["lags"] or [])
            cells.append(Cell(oid, group, n, x, rate_text(x, n), low, high, INTERVAL, q1, median, q3, n < SMALL_CELL))
    return tuple(cells)


def quartiles(days: list[int]) -> tuple[int | None, int | None, int | None]:
    """The 25th, 50th and 75th percentiles of the days (linear interpolation between order statistics, as NumPy's
    default), each rounded half up to a whole day; empty when there are none."""
    if not days:
        return None, None, None
    q = np.floor(np.percentile(np.asarray(days, dtype=np.int64), [25, 50, 75]) + 0.5).astype(np.int64)
    return int(q[0]), int(q[1]), int(q[2])


def _groups(wh: Warehouse, contract: Contract, as_of: date) -> ir.Table:
    """`g_episode`, `complexity_group` of every episode known on the as-of date (the engine's grouping), fetched
    once so that flow and stock do not group the episodes again."""
    return ibis.memtable(wh.to_arrow(episode_groups(warehouse_inputs(wh, as_of), contract)))


def _flow(
    wh: Warehouse, window: ir.Table, groups: ir.Table, contract: Contract, window_from: date, window_to: date
) -> tuple[Flow, ...]:
    """Episodes started per calendar month of the window and group (every month, zeros included; `none` only when
    some episode has no group)."""
    j = window.left_join(groups, window.w_episode == groups.g_episode)
    j = j.mutate(month=j.w_start.strftime("%Y-%m"), group=j.complexity_group.fill_null(NO_GROUP))
    counts = wh.to_arrow(j.group_by("month", "group").aggregate(new=j.w_episode.nunique())).to_pylist()
    found = {(r["month"], r["group"]): int(r["new"]) for r in counts}
    labels = list(contract.group_ids) + ([NO_GROUP] if any(g == NO_GROUP for _, g in found) else [])
    return tuple(Flow(m, g, found.get((m, g), 0)) for m in _months(window_from, window_to) for g in labels)


def _months(window_from: date, window_to: date) -> list[str]:
    months, day = [], window_from.replace(day=1)
    while day <= window_to:
        months.append(f"{day:%Y-%m}")
        day = add_months(day, 1)
    return months


def _stock(wh: Warehouse, contract: Contract, as_of: date, groups: ir.Table, day: date) -> tuple[Stock, ...]:
    """Clients in treatment on `day`: an episode started before it and not discharged before it (as known on the
    as-of date), per group."""
    e = warehouse_inputs(wh, as_of).episodes
    open_ = e.filter((e.start_date < day) & (e.discharge_date.isnull() | (e.discharge_date >= day)))
    j = open_.left_join(groups, open_.episode_id == groups.g_episode)
    j = j.mutate(group=j.complexity_group.fill_null(NO_GROUP))
    found = {r["group"]: int(r["clients"])
             for r in wh.to_arrow(j.group_by("group").aggregate(clients=j.client_id.nunique())).to_pylist()}
    labels = list(contract.group_ids) + ([NO_GROUP] if NO_GROUP in found else [])
    return tuple(Stock(g, found.get(g, 0)) for g in labels)


def _notes(
    wh: Warehouse,
    contract: Contract,
    window: ir.Table,
    cells: tuple[Cell, ...],
    flow: tuple[Flow, ...],
    window_from: date,
    window_to: date,
    as_of: date,
    wanted: date,
    stock_day: date,
) -> tuple[str, ...]:
    """What a reader must know to read the figures."""
    notes = []
    if as_of < wanted:
        notes.append(f"Outcomes are as known on {as_of}, the data's last day, not {wanted} (the window's end plus "
                     "the longest maturity): achievements after it are not yet known, so rates of outcomes whose "
                     "cut-off falls after it may be low.")
    ungrouped = sum(f.new for f in flow if f.complexity_group == NO_GROUP)
    if ungrouped:
        notes.append(f"{ungrouped} episodes started in the window have no complexity group (no assessment on or "
                     f"before their start): they are in flow and stock as group '{NO_GROUP}' and in no outcome cell.")
    open_on = min(window_to, as_of)
    open_at_end = window.filter(window.w_discharge.isnull() | (window.w_discharge > open_on)).count()
    still_open = int(wh.ibis.execute(open_at_end))
    if still_open:
        notes.append(f"{still_open} of {sum(f.new for f in flow)} episodes started in the window were still open on "
                     f"{open_on}: an outcome counts only when achieved by its cut-off (the window's end plus its "
                     "maturity), so outcomes decided at discharge are low for episodes started late in the window.")
    small = sum(1 for c in cells if c.small)
    if small:
        notes.append(f"{small} of {len(cells)} cells have fewer than {SMALL_CELL} eligible episodes (marked small): "
                     "too few to set a tariff on alone.")
    if stock_day == contract.start:
        notes.append(f"Stock: clients in treatment on the go-live day, {stock_day}.")
    else:
        notes.append(f"Stock: go-live ({contract.start}) is after the window, so stock is the clients in treatment "
                     f"on the day after the window ends, {stock_day}.")
    if window_from.day != 1 or window_to != _month_end(window_to):
        notes.append("The window does not start and end on whole calendar months: its first or last month's flow "
                     "is partial.")
    cohort = [oid for oid, o in contract.outcomes.items() if isinstance(o, OffendingCohortReduction)]
    if cohort:
        notes.append(f"Cohort outcomes ({', '.join(cohort)}) have no client-level rate and are not in the cells.")
    return tuple(notes)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def write_tables(baseline: Baseline, folder: Path) -> list[Path]:
    """`cells.csv`, `flow.csv` and `stock.csv` beside `baseline.json`, every cell spreadsheet-safe."""
    written = []
    for name, rows, kind in (("cells", baseline.cells, Cell), ("flow", baseline.flow, Flow),
                             ("stock", baseline.stock, Stock)):
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(kind)])
            writer.writeheader()
            writer.writerows(safe_row(_csv_values(asdict(row))) for row in rows)
        written.append(path)
    return written


def _csv_values(row: dict[str, object]) -> dict[str, object]:
    """Flags as `true`/`false`, as the JSON writes them."""
    return {key: ("true" if value else "false") if isinstance(value, bool) else value for key, value in row.items()}


def baseline_command(
    contract: ContractOption,
    window_from: Annotated[date, typer.Option("--from", parser=parse_date, metavar="YYYY-MM-DD",
                                              help="The window's first day: episodes started on or after it.")],
    window_to: Annotated[date, typer.Option("--to", parser=parse_date, metavar="YYYY-MM-DD",
                                            help="The window's last day: episodes started on or before it.")],
    db: DbOption = DEFAULT_DB,
    out: Annotated[Path, typer.Option("--out", help="Folder to write baseline.json and its CSV tables into.")] = Path(
        "baseline"
    ),
) -> None:
    """Baseline rates of each outcome by complexity group (with 95% intervals), flow and stock, from the episodes
    started in a window of the warehouse's history."""
    with user_errors():
        model = load_contract(contract)
        with open_warehouse(db, read_only=True) as wh:
            baseline = make_baseline(wh, model, window_from, window_to, file_sha256(contract))
        written = [write_baseline(baseline, out), *write_tables(baseline, out)]
        page = write_report(baseline_report(baseline), out, "baseline-report")
    _print_summary(baseline)
    console.print(f"Written: {', '.join(str(p) for p in written)}", highlight=False)
    console.print(f"Report: {page}", highlight=False)


def baseline_report(baseline: Baseline) -> Report:
    """The baseline as an HTML report: rates by group with their intervals, flow by month, stock, and the notes."""
    rate_rows = [{"outcome": c.outcome_id, "group": c.complexity_group, "rate": Decimal(c.rate),
                  "low": Decimal(c.low), "high": Decimal(c.high), "small": c.small} for c in baseline.cells]
    cell_rows = [{"outcome": c.outcome_id, "group": c.complexity_group, "eligible": c.eligible,
                  "achieved": c.achieved, "rate": c.rate, "95% interval": f"{c.low} to {c.high}",
                  "days to achieve (q1/median/q3)": "" if c.lag_median is None else
                  f"{c.lag_q1}/{c.lag_median}/{c.lag_q3}", "small cell": "yes" if c.small else ""}
                 for c in baseline.cells]
    flow_rows = [{"month": f.month, "group": f.complexity_group, "new": f.new} for f in baseline.flow]
    stock_rows = [{"group": s.complexity_group, "clients": s.clients} for s in baseline.stock]
    return Report(
        title=f"Baseline: {baseline.contract_area}",
        intro=[f"Episodes started {baseline.window_from} to {baseline.window_to}; outcomes decided by the outcome "
               f"engine as known on {baseline.as_of}; contract version {baseline.contract_version}.",
               f"Intervals: {INTERVAL}. A cell with fewer than {SMALL_CELL} eligible episodes is small: official "
               "statistics suppress such cells; read them with care."],
        sections=[
            Section("Outcome rates by complexity group", ["Each point is a rate; the bar its 95% interval."],
                    chart=charts.rates_chart(rate_rows),
                    table=FigureTable(list(cell_rows[0]) if cell_rows else ["outcome"], cell_rows,
                                      "Eligible, achieved and rate per outcome and group")),
            Section("New presentations per month", ["Episodes started in each month of the window, by group."],
                    chart=charts.bars_chart(flow_rows, "month", "new", "group", title="New presentations per month",
                                            x_title="Month", y_title="Episodes started"),
                    table=FigureTable(["month", "group", "new"], flow_rows, "New presentations per month and group")),
            Section("Stock", ["Clients in treatment on the stock day (see the notes)."],
                    table=FigureTable(["group", "clients"], stock_rows, "Clients in treatment by group")),
        ],
    )


def _print_summary(baseline: Baseline) -> None:
    """Rates with intervals and lags, flow per group summed over the window's months, stock, then the notes."""
    rates = Table(title=f"{baseline.contract_area}: episodes started {baseline.window_from} to {baseline.window_to}, "
                        f"outcomes as known on {baseline.as_of}")
    for header in ("outcome", "group", "achieved/ eligible", "rate", "95% interval", "days: q1/ median/q3"):
        rates.add_column(header, justify="left" if header in ("outcome", "group") else "right")
    for c in baseline.cells:
        lag = "" if c.lag_median is None else f"{c.lag_q1}/{c.lag_median}/{c.lag_q3}"
        counts = f"{c.achieved}/{c.eligible}{' *' if c.small else ''}"
        rates.add_row(c.outcome_id, c.complexity_group, counts, c.rate, f"{c.low}-{c.high}", lag)
    print_table(rates, [f"* small: fewer than {SMALL_CELL} eligible episodes; interval: {INTERVAL}"])
    months = len(baseline.months())
    flow = Table(title=f"Flow: new presentations over {months} months of the window")
    for header in ("group", "new", "per month", "per year"):
        flow.add_column(header, justify="left" if header == "group" else "right")
    for group in dict.fromkeys(f.complexity_group for f in baseline.flow):
        new = sum(f.new for f in baseline.flow if f.complexity_group == group)
        flow.add_row(group, f"{new:,}", f"{new / max(months, 1):,.1f}", f"{baseline.new_per_year(group):,.1f}")
    print_table(flow)
    stock = Table(title="Stock: clients in treatment")
    stock.add_column("group")
    stock.add_column("clients", justify="right")
    for s in baseline.stock:
        stock.add_row(s.complexity_group, f"{s.clients:,}")
    print_table(stock, baseline.notes)
