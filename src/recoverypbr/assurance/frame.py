"""The frame every monitoring indicator shares: its periods, its cases, and how a value is judged.

An indicator is defined by its **cases** (`Indicator.cases`): an Ibis table with one row per case, built from
the warehouse as known on the as-of date (set-based, in the database):

- `provider_id`: who the case is about (a treatment provider, or an assessor for the LASARS indicators);
- `day`: the date the case counts on (it falls in one quarter);
- `value`: 1.0/0.0 for a rate (a conversion, a completion without review), a number for a mean;
- `unit_id`: the rows behind it, as `table:id` (e.g. `episode:E0000012`), quoted when the indicator is flagged;
- optional `expected`: the case's own expectation (e.g. its complexity group's rate among peers), which replaces
  the peers' rate as the target (indirect standardisation for case mix);
- optional `group`: the complexity group; with `Indicator.by_group` each group is judged on its own.

`evaluate` counts the cases per provider and period in the database (sum, sum of squares, count) and judges each
provider against its peers (every other provider pooled) in the same period (`stats.judge`): per quarter, and
over the whole monitoring window, with the provider's own value in the baseline window (the year before
go-live) beside it and a CUSUM across the quarters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from recoverypbr.assurance import stats
from recoverypbr.contract.model import Contract
from recoverypbr.payments.periods import Period, quarter
from recoverypbr.warehouse.connection import Warehouse

FAMILIES = ("assessment", "creaming_parking", "timing", "misrepresentation", "feedback")
Family = Literal["assessment", "creaming_parking", "timing", "misrepresentation", "feedback"]
Direction = Literal["high", "low"]
Kind = Literal["rate", "mean"]
#: `Indicator.judged_periods` for an indicator flagged on the whole window only (its quarters shown).
WINDOW_ONLY = ("window",)
#: Ids behind one flagged row kept in the JSON and report (the CSV of rows behind flags has them all).
ROWS_SHOWN = 50


@dataclass(frozen=True)
class Context:
    """What every indicator reads: the warehouse, the contract, the as-of date and the periods."""

    wh: Warehouse
    contract: Contract
    as_of: date
    quarters: tuple[Period, ...]
    window: Period
    baseline: Period
    providers: tuple[str, ...]
    """The treatment providers monitored (every provider in the data that is not a LASARS)."""
    assessors: tuple[str, ...] = ()
    cache: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Tables shared between indicators (e.g. the complexity groups), computed once per monitoring run."""

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """`make()` once per run under `name`."""
        if name not in self.cache:
            self.cache[name] = make()
        return self.cache[name]


def monitoring_periods(contract: Contract, as_of: date) -> tuple[tuple[Period, ...], Period, Period]:
    """The calendar quarters from the contract's start to `as_of` (the last one cut at `as_of`), the window
    (contract start to `as_of`) and the baseline (the year before the contract's start)."""
    start = contract.start
    if as_of < start:
        raise ValueError("as_of before the contract's start")
    quarters = []
    year, number = start.year, (start.month - 1) // 3 + 1
    while True:
        q = quarter(year, number)
        if q.start > as_of:
            break
        first, last = max(q.start, start), min(q.end, as_of)
        label = q.label if (first, last) == (q.start, q.end) else f"{first}..{last}"
        quarters.append(Period(first, last, label))
        year, number = (year + 1, 1) if number == 4 else (year, number + 1)
    window = Period(start, as_of, f"{start}..{as_of}")
    base_start = start.replace(year=start.year - 1)
    baseline = Period(base_start, start - timedelta(days=1), f"{base_start}..{start - timedelta(days=1)}")
    return tuple(quarters), window, baseline


@dataclass(frozen=True)
class Indicator:
    """One monitoring indicator: what it measures, which way gaming pushes it, and its cases."""

    family: Family
    id: str
    title: str
    direction: Direction
    kind: Kind
    cases: Callable[[Context], ir.Table]
    meaning: str
    """What a flag means, in words (the gaming it can reveal)."""
    next_step: str
    """What to look at next when it is flagged."""
    formula: str = ""
    by_group: bool = False
    drift: bool = True
    """Whether the CUSUM across quarters can flag it (drift over time) besides the window's funnel limits."""
    judged_groups: tuple[str, ...] | None = None
    """With `by_group`, the groups whose rows can be flagged (the others are shown for context); None for all."""
    group_word: str = "group"
    """What the `group` column holds, in words (a complexity `group`, or e.g. the `outcome`)."""
    judged_periods: tuple[str, ...] = ("quarter", "window")
    """The period kinds whose rows can be flagged: ("window",) shows the quarters without flagging them (a
    quarter's few cases make a skewed rate's normal limits too narrow); the CUSUM still flags on the window row."""


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator for one provider and one period, judged against its peers."""

    provider_id: str
    family: str
    indicator: str
    title: str
    period: str
    period_kind: str  # "quarter", "window" or "baseline"
    period_start: date
    period_end: date
    value: float | None
    expected: float | None
    baseline: float | None
    n: int
    peers_n: int
    limits: dict[str, list[float]]
    z: float | None
    p_value: float | None
    cusum: float | None
    level: str
    flagged: bool
    direction: str
    meaning: str
    unusual: str
    next_step: str
    rows: tuple[str, ...] = ()
    rows_total: int = 0

    def as_json(self) -> dict[str, Any]:
        """The row for `--format json`: plain values, dates as ISO text, rows shown up to `ROWS_SHOWN`."""
        return {
            "provider_id": self.provider_id, "family": self.family, "indicator": self.indicator,
            "title": self.title, "period": self.period, "period_kind": self.period_kind,
            "period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
            "value": _round(self.value), "expected": _round(self.expected), "baseline": _round(self.baseline),
            "n": self.n, "peers_n": self.peers_n,
            "limits": {k: [_round(v) for v in pair] for k, pair in self.limits.items()},
            "z": _round(self.z), "p_value": _round(self.p_value), "cusum": _round(self.cusum),
            "level": self.level, "flagged": self.flagged, "direction": self.direction,
            "meaning": self.meaning, "unusual": self.unusual, "next_step": self.next_step,
            "rows": list(self.rows[:ROWS_SHOWN]), "rows_total": self.rows_total,
        }


def _round(value: float | None) -> float | None:
    """A figure for JSON: six decimals; an infinite or undefined figure (a z against peers without spread) is
    null."""
    if value is None or not math.isfinite(value):
        return None
    rounded = round(value, 6)
    return 0.0 if rounded == 0 else rounded  # never "-0.0"


# --- Counting cases per provider and period (in the database) -----------------------------------------------------

def _periods_table(ctx: Context) -> ir.Table:
    rows = [(p.label, "quarter", p.start, p.end) for p in ctx.quarters]
    rows += [(ctx.window.label, "window", ctx.window.start, ctx.window.end),
             (ctx.baseline.label, "baseline", ctx.baseline.start, ctx.baseline.end)]
    return ibis.memtable({
        "p_label": [r[0] for r in rows], "p_kind": [r[1] for r in rows],
        "p_start": [r[2] for r in rows], "p_end": [r[3] for r in rows],
    }, schema={"p_label": "string", "p_kind": "string", "p_start": "date", "p_end": "date"})


def counted(ctx: Context, cases: ir.Table, by_group: bool) -> list[dict[str, Any]]:
    """Per provider, period (and group): cases, sum and sum of squares of `value`, sum of `expected` and of its
    binomial variance."""
    periods = _periods_table(ctx)
    has_expected = "expected" in cases.columns
    c = cases.mutate(
        group=cases.group if by_group else ibis.literal("all"),
        expected=cases.expected.cast("float64") if has_expected else ibis.null("float64"),
        value=cases.value.cast("float64"),
    )
    j = c.join(periods, [c.day >= periods.p_start, c.day <= periods.p_end])
    # Sums of floats depend on the order a parallel database adds them in; the expectations are summed as whole
    # billionths instead, so the same data always give the same figures (and the same bytes).
    scale = 1_000_000_000
    agg = j.group_by(["provider_id", "group", "p_label", "p_kind"]).aggregate(
        n=j.value.count(), total=j.value.sum(), squares=(j.value * j.value).sum(),
        expected_total=(j.expected * scale).round().cast("int64").sum(),
        expected_var=(j.expected * (1 - j.expected) * scale).round().cast("int64").sum(),
    )
    rows = ctx.wh.to_arrow(agg).to_pylist()
    for r in rows:
        for key in ("expected_total", "expected_var"):
            r[key] = None if r[key] is None else r[key] / scale
    return rows


# --- Judging -----------------------------------------------------------------------------------------------------

@dataclass
class _Cell:
    n: int = 0
    total: float = 0.0
    squares: float = 0.0
    expected_total: float | None = None
    expected_var: float | None = None


def evaluate(ctx: Context, indicator: Indicator) -> list[IndicatorRow]:
    """Every row of one indicator: each provider (and group) per quarter, over the window and in the baseline."""
    cases = indicator.cases(ctx)
    found = counted(ctx, cases, indicator.by_group)
    cells: dict[tuple[str, str, str], _Cell] = {}
    for r in found:
        cells[(r["provider_id"], r["group"], r["p_label"])] = _Cell(
            int(r["n"]), float(r["total"] or 0.0), float(r["squares"] or 0.0),
            None if r["expected_total"] is None else float(r["expected_total"]),
            None if r["expected_var"] is None else float(r["expected_var"]))
    groups = sorted({g for _, g, _ in cells}) or ["all"]
    providers = [p for p in _providers_of(ctx, indicator) if any(k[0] == p for k in cells)]
    rows: list[IndicatorRow] = []
    for group in groups:
        name = indicator.id if group == "all" else f"{indicator.id}.{group}"
        judged = indicator.judged_groups is None or group in indicator.judged_groups
        for provider in providers:
            rows.extend(_provider_rows(ctx, indicator, cells, provider, providers, group, name, judged))
    return rows


def _providers_of(ctx: Context, indicator: Indicator) -> Sequence[str]:
    return ctx.assessors if indicator.id.startswith("assessor_") else ctx.providers


def _peers(cells: dict[tuple[str, str, str], _Cell], providers: Sequence[str], provider: str, group: str,
           label: str) -> _Cell:
    pooled = _Cell()
    for other in providers:
        if other != provider and (cell := cells.get((other, group, label))) is not None:
            pooled.n += cell.n
            pooled.total += cell.total
            pooled.squares += cell.squares
    return pooled


def _value(cell: _Cell | None) -> float | None:
    return None if cell is None or cell.n == 0 else cell.total / cell.n


def _target(indicator: Indicator, cell: _Cell, peers: _Cell) -> tuple[float | None, float | None]:
    """The expected value and the standard error of the provider's value against it."""
    if cell.n == 0:
        return None, None
    if cell.expected_total is not None:  # case-mix expectation carried by each case
        expected = cell.expected_total / cell.n
        var = cell.expected_var or 0.0
        return expected, math.sqrt(max(var, 0.0)) / cell.n
    if peers.n == 0:
        return None, None
    p0 = peers.total / peers.n
    if indicator.kind == "rate":
        # Peers all one way (a rate of 0 or 1) have no spread: the pooled rate gives one, so a single case
        # against peers with none is not "infinitely" unusual.
        spread_rate = p0 if 0 < p0 < 1 else (cell.total + peers.total) / (cell.n + peers.n)
        return p0, stats.rate_spread(spread_rate, cell.n, peers.n)
    both = cell.n + peers.n
    mean = (cell.total + peers.total) / both
    var = max((cell.squares + peers.squares) / both - mean * mean, 0.0) * both / max(both - 1, 1)
    return p0, stats.mean_spread(math.sqrt(var), cell.n, peers.n)


def _provider_rows(ctx: Context, indicator: Indicator, cells: dict[tuple[str, str, str], _Cell], provider: str,
                   providers: Sequence[str], group: str, name: str, judged: bool) -> list[IndicatorRow]:
    base_cell = cells.get((provider, group, ctx.baseline.label))
    baseline = _value(base_cell)
    bounds = (0.0, 1.0) if indicator.kind == "rate" else None
    made: list[IndicatorRow] = []
    quarter_z: list[float | None] = []
    for period, kind in [*((q, "quarter") for q in ctx.quarters), (ctx.window, "window"),
                         (ctx.baseline, "baseline")]:
        cell = cells.get((provider, group, period.label), _Cell())
        peers = _peers(cells, providers, provider, group, period.label)
        expected, spread = _target(indicator, cell, peers)
        value = _value(cell)
        j = stats.judge(value, expected, spread, indicator.direction, cell.n, bounds=bounds)
        if kind == "quarter":
            quarter_z.append(j.z)
        path = stats.cusum(quarter_z, indicator.direction) if kind != "baseline" else []
        s = path[-1] if path else None
        signal = indicator.drift and kind == "window" and any(x > stats.CUSUM_H for x in path)
        flagged = judged and kind in indicator.judged_periods and (j.level == "alarm" or signal)
        made.append(IndicatorRow(
            provider_id=provider, family=indicator.family, indicator=name,
            title=indicator.title if group == "all" else f"{indicator.title} ({indicator.group_word} {group})",
            period=period.label, period_kind=kind, period_start=period.start, period_end=period.end,
            value=value, expected=expected, baseline=baseline, n=cell.n, peers_n=peers.n,
            limits=j.limits, z=j.z, p_value=j.p_value, cusum=s, level=j.level, flagged=flagged,
            direction=indicator.direction, meaning=indicator.meaning if flagged else "",
            unusual=unusual_words(j, signal, s) if kind != "baseline" else "",
            next_step=indicator.next_step if flagged else ""))
    return made


def unusual_words(j: stats.Judged, signal: bool, s: float | None) -> str:
    """How unusual the value is, in words."""
    if j.level == "too_few":
        return f"too few cases to judge (fewer than {stats.MIN_CASES})"
    if j.level == "no_peers":
        return "no peers with cases in the period to compare with"
    parts = []
    if j.z is not None and math.isfinite(j.z):
        chance = j.p_value or 0.0
        if chance >= 0.05:
            parts.append(f"{abs(j.z):.1f} standard errors from its peers (within what chance gives)")
        else:
            odds = "less than 1 in 100,000" if chance < 1e-5 else f"about 1 in {max(1, round(1 / chance)):,}"
            parts.append(f"{abs(j.z):.1f} standard errors from its peers ({odds} by chance alone)")
    if signal and s is not None:
        parts.append(f"a sustained drift over the quarters (CUSUM {s:.1f} above the decision limit "
                     f"{stats.CUSUM_H:g})")
    return "; ".join(parts)


def with_rows(ctx: Context, indicator: Indicator, rows: list[IndicatorRow]) -> list[IndicatorRow]:
    """The flagged rows with the ids of the cases behind them (the cases pushing the value the gaming way)."""
    flagged = [r for r in rows if r.flagged]
    if not flagged:
        return rows
    cases = indicator.cases(ctx)
    found: dict[tuple[str, str], list[str]] = {}
    for row in flagged:
        c = cases.filter(cases.provider_id == row.provider_id)
        c = c.filter((c.day >= row.period_start) & (c.day <= row.period_end))
        if indicator.by_group and "." in row.indicator:
            c = c.filter(c.group == row.indicator.rsplit(".", 1)[1])
        if indicator.kind == "rate":
            c = c.filter(c.value > 0.5) if indicator.direction == "high" else c.filter(c.value < 0.5)
        elif row.expected is not None:
            c = c.filter(c.value > row.expected) if indicator.direction == "high" else c.filter(
                c.value < row.expected)
        ids = ctx.wh.to_arrow(c.select("unit_id").distinct().order_by("unit_id")).column(0).to_pylist()
        found[(row.provider_id, row.indicator + "|" + row.period)] = [str(x) for x in ids]
    return [replace(r, rows=tuple(found[(r.provider_id, r.indicator + "|" + r.period)]),
                    rows_total=len(found[(r.provider_id, r.indicator + "|" + r.period)])) if r.flagged else r
            for r in rows]


# --- Shared tables -----------------------------------------------------------------------------------------------

def known_episodes(ctx: Context) -> ir.Table:
    """Every episode and referral as known on the as-of date, with `day_referred` (referral, else triage, else
    start date), `started` (a start on or before the as-of date) and the discharge hidden when after it."""
    def make() -> ir.Table:
        e = ctx.wh.table("episodes")
        referred = e.referral_date.fill_null(e.triage_date).fill_null(e.start_date)
        e = e.mutate(day_referred=referred).filter(referred <= ctx.as_of)
        started = e.start_date.notnull() & (e.start_date <= ctx.as_of)
        discharged = e.discharge_date.notnull() & (e.discharge_date <= ctx.as_of)
        return e.mutate(
            start_date=ibis.ifelse(started, e.start_date, ibis.null("date")),
            triage_date=ibis.ifelse(e.triage_date <= ctx.as_of, e.triage_date, ibis.null("date")),
            discharge_date=ibis.ifelse(discharged, e.discharge_date, ibis.null("date")),
            discharge_reason=ibis.ifelse(discharged, e.discharge_reason, ibis.null("string")),
            started=started,
        )
    return ctx.shared("known_episodes", make)


def episode_groups(ctx: Context) -> ir.Table:
    """`episode_id`, `complexity_group` (`none` without an assessment) of every known episode and referral, by the
    contract's grouping on the assessments known on the as-of date (materialised once per run)."""
    from recoverypbr.assessment.grouping import complexity_groups, grouping_of

    def make() -> ir.Table:
        a = ctx.wh.table("assessments")
        a = a.filter(a.assessed_on <= ctx.as_of)
        e = known_episodes(ctx)
        groups = complexity_groups(e, a, grouping_of(ctx.contract))
        out = groups.select("episode_id", complexity_group=groups.complexity_group.fill_null("none"))
        return ctx.wh.materialize("_assure_groups", out)
    return ctx.shared("episode_groups", make)


def best_paid_group(contract: Contract) -> str:
    """The contract's best-paid complexity group: the highest sum of outcome tariffs (ties: the later group)."""
    groups = list(contract.complexity.groups) if contract.complexity else []
    if not groups:
        return "all"
    totals = dict.fromkeys(groups, 0.0)
    for outcome in contract.outcomes.values():
        for group, amount in _tariffs_of(outcome).items():
            if group in totals:
                totals[group] += amount
    return max(groups, key=lambda g: (totals[g], groups.index(g)))


def _tariffs_of(outcome: Any) -> dict[str, float]:
    tariffs = getattr(outcome, "tariffs", None) or {}
    found = {}
    for group, value in dict(tariffs).items():
        if isinstance(value, dict):  # dated values: the first
            value = next(iter(value.values()))
        try:
            found[str(group)] = float(value)
        except (TypeError, ValueError):
            continue
    return found


LEDGER_KEYS = ("outcome_id", "episode_id", "provider_id", "complexity_group", "status")


def outcome_ledger(ctx: Context) -> ir.Table:
    """The outcome ledger's `LEDGER_KEYS` for this contract as of the as-of date, from the engine: the stored
    ledger when `outcomes` or `pay` built it for this contract version and date, else the outcome engine's
    evaluation (not stored; only each outcome's status is read, so no evidence is rendered). Once per run."""
    from recoverypbr.outcomes.engine import evaluate_outcomes
    from recoverypbr.outcomes.frame import status_words
    from recoverypbr.outcomes.inputs import warehouse_inputs
    from recoverypbr.outcomes.ledger import RUNS, has_individual_offending, stored_ledger

    def make() -> ir.Table:
        if ctx.wh.has_table(RUNS):
            runs = ctx.wh.table(RUNS)
            found = runs.filter((runs.contract_area == ctx.contract.area)
                                & (runs.contract_version == ctx.contract.effective_from)
                                & (runs.as_of == ctx.as_of)).count()
            if int(ctx.wh.to_arrow(found.as_table()).column(0)[0].as_py()) > 0:
                return stored_ledger(ctx.wh, ctx.contract, ctx.as_of).select(*LEDGER_KEYS)
        inputs = warehouse_inputs(ctx.wh, ctx.as_of)
        evaluation = evaluate_outcomes(inputs, ctx.contract, has_individual_offending(ctx.wh, inputs))
        statuses = [f"{spot.prefix}status" for spot in evaluation.placed]
        table = ctx.wh.materialize("_assure_outcomes", evaluation.table.select(
            "episode_id", "provider_id", "complexity_group", *statuses))
        parts = [table.select(outcome_id=ibis.literal(spot.outcome_id, "string"), episode_id=table.episode_id,
                              provider_id=table.provider_id.cast("string"),
                              complexity_group=table.complexity_group.cast("string"),
                              status=status_words(table[f"{spot.prefix}status"]))
                 for spot in evaluation.placed]
        return ibis.union(*parts, distinct=False)
    return ctx.shared("outcome_ledger", make)


# --- Change against the baseline, against peers (difference in differences) ----------------------------------

def window_baseline_cells(ctx: Context, cases: ir.Table) -> dict[tuple[str, str], tuple[int, float]]:
    """(provider, "window" or "baseline") -> (cases, sum of `value`), counted in the database."""
    return {(r["provider_id"], r["p_kind"]): (int(r["n"]), float(r["total"] or 0.0))
            for r in counted(ctx, cases, False) if r["p_kind"] in ("window", "baseline")}


def change_against_peers(cells: dict[tuple[str, str], tuple[int, float]], provider: str,
                         providers: tuple[str, ...]) -> tuple[float, float, float] | None:
    """A rate's change from baseline to window for `provider` (value), its peers' change (expected) and the
    standard error of the difference (each of the four rates binomial, independent); None with too few cases."""
    def rate(keys: list[tuple[str, str]]) -> tuple[float, int] | None:
        n = sum(cells.get(k, (0, 0.0))[0] for k in keys)
        total = sum(cells.get(k, (0, 0.0))[1] for k in keys)
        return (total / n, n) if n >= stats.MIN_CASES else None

    peers = [p for p in providers if p != provider]
    parts = [rate([(provider, "window")]), rate([(provider, "baseline")]),
             rate([(p, "window") for p in peers]), rate([(p, "baseline") for p in peers])]
    if any(p is None for p in parts):
        return None
    (pw, nw), (pb, nb), (qw, mw), (qb, mb) = parts  # type: ignore[misc]
    var = sum(r * (1 - r) / n for r, n in ((pw, nw), (pb, nb), (qw, mw), (qb, mb)))
    return pw - pb, qw - qb, math.sqrt(var)
