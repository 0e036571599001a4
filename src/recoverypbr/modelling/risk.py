"""Spend risk: a Monte Carlo over volumes and achievement rates, every run priced by the payments engine's rules.

Method (docs/modelling.md, "Spend risk"):

1. Each simulated contract year starts from its template (`template.year_template`): the engine's earned lines of
   that year on the baseline's history, already priced (tariffs, uplifts, gates, payment points, fees, incentives,
   splits). Lines are grouped into **units**, one per achievement or fee (the split parts of one earned line), and
   units into **cells**: what was earned (outcome id, or the kind of line) x complexity group x cohort (the calendar
   month of the year the episode started in, or "before the year").
2. A run draws, once for all its years, a volume factor per complexity group (new presentations per year:
   Gamma(N + 1/2, 1) / N, the Jeffreys posterior of a Poisson count N) and a rate factor per outcome x group
   (p* / p-hat with p* ~ Beta(x + 1/2, n - x + 1/2) from the baseline's counts). Per year and cohort month it draws
   the new presentations, Poisson(N_gm x volume factor); clients who started before the year are not redrawn.
3. Per cell, the run's number of units is Binomial(presentations, q) with q the cell's units per presentation in
   the template times the rate factor (Poisson when q > 1); which units is a uniform draw with replacement from the
   cell's units. Units without an episode (cohort payments) are kept as they are.
4. The run's units are summed into lines by provider, scope and payable day (or month-end with `resolution="month"`):
   lines that every limit treats alike are one line, so the limits see exactly the totals they would see line by
   line. Then, period by period and year by year, the engine's own `limit_lines` (milestones' maxima) and
   `apply_limits` (caps, the share on results, floors) make the cuts and top-ups, each period seeing what the run's
   earlier periods paid (`earlier_paid`). A run whose totals provably trigger no limit (no cap's window total, with
   every floor it holds, reaches the cap; every floor met) skips that call: the engine would add no line.

With `fixed=True` nothing is drawn: every run is the template itself, and its spend equals the engine's (`pay`) for
that year to the penny; a test holds it to that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.modelling.baseline_file import Baseline
from recoverypbr.modelling.template import NO_GROUP, YearTemplate, year_templates
from recoverypbr.payments.limits import (
    LimitRule,
    apply_limits,
    contract_rules,
    earlier_paid,
    limit_lines,
    maximum_rules,
)
from recoverypbr.payments.lines import PaymentLine, with_changes
from recoverypbr.payments.money import pounds
from recoverypbr.payments.periods import Period, quarter, window, windows

Resolution = Literal["day", "month"]
#: Runs simulated together (memory: runs x units integers).
BATCH = 1000
#: Percentiles reported.
PERCENTILES = (5, 25, 50, 75, 95)
BEFORE = -1
"""Cohort of the episodes that started before the simulated year."""

Progress = Callable[[int, int], None]


class RiskError(RecoveryPbrError):
    """A risk simulation that cannot be run as asked."""


@dataclass(frozen=True)
class _Year:
    """One year's units, cells and summed lines, ready to draw from."""

    template: YearTemplate
    cells: pd.DataFrame  # cell: item, group, cohort, n (presentations), units, per_start (q-hat), rated
    types: sparse.csr_matrix  # unit types x buckets (pence): units of a cell paying the same in the same buckets
    type_weight: np.ndarray  # units of each type in the template
    cell_types: list[np.ndarray]  # cell -> its types
    fixed: np.ndarray  # per bucket: what the units without an episode (kept as they are) pay
    buckets: list[PaymentLine]  # representative line per bucket (amount 0)
    bucket_period: np.ndarray  # bucket -> index of its period in the year
    starts: pd.DataFrame  # flow presentations per group and cohort month: group, cohort, n


@dataclass
class RiskResult:
    """Every run's payments by period and provider, and which limits acted, with the figures drawn from them."""

    contract: Contract
    runs: int
    seed: int
    fixed: bool
    resolution: Resolution
    periods: list[Period]
    years: list[Period]
    providers: list[str]
    paid: np.ndarray  # runs x periods x providers, pence
    earned: np.ndarray  # runs x periods, pence before limits
    limits: list[str]  # limit paths that can act
    acted: np.ndarray  # runs x years x limits: bool, the limit cut (cap) or topped up (floor) in the year
    engine_runs: int = 0
    notes: list[str] = field(default_factory=list)

    def year_of(self, q: Period) -> int:
        return next(i for i, y in enumerate(self.years) if y.start <= q.start <= y.end)

    def results_money(self, index: int) -> int | None:
        value = self.contract.at_risk(self.years[index].start)
        return None if value is None else int((value * 100).to_integral_value())


def _month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _bucket_day(day: date, year: Period, resolution: Resolution) -> date:
    return day if resolution == "day" else min(_month_end(day), year.end)


def _rules(contract: Contract) -> list[LimitRule]:
    return [*maximum_rules(contract), *contract_rules(contract)]


def _signature(line: PaymentLine, rules: Sequence[LimitRule]) -> tuple[bool, ...]:
    return tuple(rule.scope.test(line) for rule in rules)


def _cohort(start: date | None, year: Period) -> int:
    # a referral that never started (no start_date) earns nothing, so it is in no unit; it counts as before the year
    if start is None or start < year.start:
        return BEFORE
    return (start.year - year.start.year) * 12 + start.month - year.start.month


def prepare_year(template: YearTemplate, contract: Contract, baseline: Baseline | None,
                 resolution: Resolution) -> _Year:
    """Units, cells and summed lines of a template (`resolution`: payable days kept, or moved to month ends)."""
    year = template.year
    rules = _rules(contract)
    lines = template.lines
    frame = pd.DataFrame({
        "kind": [line.kind for line in lines],
        "client": [line.client_id or "" for line in lines],
        "episode": [line.episode_id or "" for line in lines],
        "outcome": [line.outcome_id or "" for line in lines],
        "reference": [line.reference for line in lines],
        "payable": [line.payable_on for line in lines],
        "provider": [line.provider_id for line in lines],
        "amount": np.array([line.amount_pence for line in lines], dtype=np.int64),
    })
    frame["fixed"] = frame.episode == ""
    keys = ["kind", "client", "episode", "outcome", "reference", "payable"]
    frame["unit"] = frame.groupby(keys, sort=True, dropna=False).ngroup()
    frame.loc[frame.fixed, "unit"] = frame.unit.max() + 1 + np.arange(int(frame.fixed.sum()))
    frame["unit"] = frame.groupby("unit", sort=True).ngroup()
    # Buckets: lines every limit treats alike (provider, scope signature) on the same (bucket) day.
    sig_of: dict[tuple[str, str, str, str], tuple[bool, ...]] = {}
    signatures = []
    for line in lines:
        key = (line.kind, line.provider_id, line.outcome_id or "", line.reference)
        if key not in sig_of:
            sig_of[key] = _signature(line, rules)
        signatures.append(sig_of[key])
    frame["sig"] = signatures
    frame["day"] = [_bucket_day(d, year, resolution) for d in frame.payable]
    frame["bucket"] = frame.groupby(["provider", "sig", "day"], sort=True).ngroup()
    first = frame.drop_duplicates("bucket").sort_values("bucket")
    buckets = [with_changes(lines[i], amount_pence=0, payable_on=d, client_id=None, episode_id=None,
                                   complexity_group=None, stock_or_flow=None, evidence="", share="", whole_pence=None)
               for i, d in zip(first.index, first.day, strict=True)]
    period_index = {q.label: i for i, q in enumerate(template.periods)}
    bucket_period = np.array([period_index[next(q.label for q in template.periods if q.contains(b.payable_on))]
                              for b in buckets])
    n_units, n_buckets = int(frame.unit.max()) + 1 if len(frame) else 0, len(buckets)
    amounts = sparse.csr_matrix((frame.amount.to_numpy(), (frame.unit.to_numpy(), frame.bucket.to_numpy())),
                                shape=(n_units, n_buckets), dtype=np.int64)
    # Units' cells: item x group x cohort, from the episode's start and group.
    episodes = template.episodes.to_pandas()
    episodes["cohort"] = [_cohort(d, year) for d in episodes.start_date]
    units = frame.drop_duplicates("unit").sort_values("unit")
    units = units.merge(episodes.rename(columns={"episode_id": "episode"}), on="episode", how="left")
    units["group"] = units.complexity_group.fillna(NO_GROUP)
    units["item"] = np.where(units.kind.isin(["outcome", "payment_point"]), units.outcome, units.kind)
    moving = ~units.fixed.to_numpy()
    cell_keys = units.loc[moving, ["item", "group", "cohort"]].astype({"cohort": int})
    cells = cell_keys.drop_duplicates().sort_values(["item", "group", "cohort"]).reset_index(drop=True)
    cells["cell"] = np.arange(len(cells))
    unit_cell = np.full(len(units), -1, dtype=np.int64)
    unit_cell[moving] = cell_keys.merge(cells, on=["item", "group", "cohort"], how="left").cell.to_numpy()
    # Presentations per group and cohort (the flow's months; `before` counts every earlier episode).
    starts = episodes.groupby(["complexity_group", "cohort"]).size().rename("n").reset_index()
    starts = starts.rename(columns={"complexity_group": "group"})
    cells = cells.merge(starts, on=["group", "cohort"], how="left").fillna({"n": 0})
    cells["units"] = np.bincount(unit_cell[moving], minlength=len(cells))
    cells["per_start"] = cells.units / cells.n.where(cells.n > 0, 1)
    rated = units.loc[moving].kind.isin(["outcome", "payment_point"])
    rate_items = set(units.loc[moving][rated].item)
    cells["rated"] = cells.item.isin(rate_items)
    if baseline is None:
        cells["rated"] = False
    # Units of a cell that pay the same amounts in the same buckets are one type, drawn with its weight.
    type_of: dict[tuple[int, bytes, bytes], int] = {}
    type_rows: list[int] = []
    unit_type = np.full(len(units), -1, dtype=np.int64)
    amounts.sort_indices()
    pointer, columns, values = amounts.indptr, amounts.indices, amounts.data
    for u in np.flatnonzero(moving):
        part = slice(pointer[u], pointer[u + 1])
        same = (int(unit_cell[u]), columns[part].tobytes(), values[part].tobytes())
        if same not in type_of:
            type_of[same] = len(type_rows)
            type_rows.append(int(u))
        unit_type[u] = type_of[same]
    types = amounts[type_rows] if type_rows else sparse.csr_matrix((0, n_buckets), dtype=np.int64)
    type_weight = np.bincount(unit_type[moving], minlength=len(type_rows)).astype(np.int64)
    type_cell = unit_cell[type_rows] if type_rows else np.zeros(0, dtype=np.int64)
    cell_types = [np.flatnonzero(type_cell == c) for c in range(len(cells))]
    fixed = np.asarray(amounts[np.flatnonzero(~moving)].sum(axis=0), dtype=np.int64).ravel()
    flow = starts[(starts.cohort >= 0)].reset_index(drop=True)
    return _Year(template, cells, types, type_weight, cell_types, fixed, buckets, bucket_period, flow)


@dataclass(frozen=True)
class _Screen:
    """Which window totals would make a limit act: caps' windows (with the floors they hold) and floors' windows."""

    member: sparse.csr_matrix  # all buckets x windows (1 when the bucket's line is in the window's scope)
    cap_room: np.ndarray  # per window: cap limit minus every floor it holds; +inf for floor windows
    floor_need: np.ndarray  # per window: floor limit; -inf for cap windows


def _screen(contract: Contract, rules: Sequence[LimitRule], buckets: Sequence[PaymentLine], span: Period) -> _Screen:
    keys: dict[tuple[int, str], int] = {}
    room: list[float] = []
    need: list[float] = []
    rows: list[int] = []
    cols: list[int] = []

    def window_index(i: int, w: Period) -> int | None:
        if (i, w.label) in keys:
            return keys[(i, w.label)]
        rule = rules[i]
        in_force = rule.in_force(w)
        if in_force is None:
            return None
        keys[(i, w.label)] = len(room)
        if rule.kind == "cap":
            held = 0
            for floor in rules:
                if floor.kind == "floor" and rule.scope.holds(floor.scope):
                    for fw in windows(floor.window, w, contract):
                        f = floor.in_force(fw)
                        held += f[1] if f else 0
            room.append(in_force[1] - held)
            need.append(-np.inf)
        else:
            room.append(np.inf)
            need.append(in_force[1])
        return keys[(i, w.label)]

    for i, rule in enumerate(rules):
        if rule.kind == "floor":
            for fw in windows(rule.window, span, contract):
                if span.contains(fw.end):
                    window_index(i, fw)
    for b, line in enumerate(buckets):
        for i, rule in enumerate(rules):
            if not rule.scope.test(line):
                continue
            w = window(rule.window, line.payable_on, contract)
            if w is None or (rule.kind == "floor" and not span.contains(w.end)):
                continue
            k = window_index(i, w)
            if k is not None:
                rows.append(b)
                cols.append(k)
    member = sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=(len(buckets), len(room)))
    return _Screen(member, np.array(room, dtype=float), np.array(need, dtype=float))


def _needs_engine(screen: _Screen, amounts: np.ndarray) -> np.ndarray:
    """Runs whose window totals could make a limit act (the others' limits would add no line)."""
    if screen.member.shape[1] == 0:
        return np.zeros(amounts.shape[0], dtype=bool)
    totals = (screen.member.T @ amounts.T).T
    acts: np.ndarray = ((totals > screen.cap_room) | (totals < screen.floor_need)).any(axis=1)
    return acts


def _draw_year(prep: _Year, rng: np.random.Generator, runs: int, volume: dict[str, np.ndarray],
               rate: dict[tuple[str, str], np.ndarray]) -> np.ndarray:
    """Each run's earned amounts per bucket (runs x buckets): per cell, how many units (binomial on the run's
    presentations) and which (uniform with replacement among the cell's units, drawn by type)."""
    presentations: dict[tuple[str, int], np.ndarray] = {}
    for row in prep.starts.itertuples():
        factor = volume.get(row.group, np.ones(runs))
        presentations[(row.group, row.cohort)] = rng.poisson(row.n * factor)
    counts = np.zeros((runs, len(prep.type_weight)), dtype=np.int64)
    for c, cell in enumerate(prep.cells.itertuples()):
        kinds = prep.cell_types[c]
        starts = presentations.get((cell.group, cell.cohort))
        if starts is None:
            starts = np.full(runs, int(cell.n), dtype=np.int64)
        key = (cell.item, cell.group)
        q = float(cell.per_start) * (rate[key] if cell.rated and key in rate else np.ones(runs))
        if cell.n == 0:
            count = np.full(runs, int(cell.units), dtype=np.int64)
        else:
            count = np.where(q <= 1, rng.binomial(starts, np.minimum(q, 1.0)), rng.poisson(starts * np.maximum(q, 1)))
        weights = prep.type_weight[kinds]
        counts[:, kinds] = rng.multinomial(count, weights / weights.sum())
    return _amounts(prep, counts)


def _amounts(prep: _Year, counts: np.ndarray) -> np.ndarray:
    """Runs x buckets pence from runs x types counts."""
    found: np.ndarray = np.asarray((prep.types.T @ counts.T).T, dtype=np.int64) + prep.fixed
    return found


def _factors(baseline: Baseline | None, flows: pd.DataFrame, rng: np.random.Generator,
             runs: int) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """A run's volume factor per group and rate factor per outcome x group (parameter uncertainty)."""
    volume = {}
    for group, n in flows.groupby("group").n.sum().items():
        if n > 0:
            volume[str(group)] = rng.gamma(n + 0.5, 1.0, size=runs) / n
    rate = {}
    for cell in baseline.cells if baseline is not None else ():
        if cell.eligible > 0 and cell.achieved > 0:
            p_hat = cell.achieved / cell.eligible
            p = rng.beta(cell.achieved + 0.5, cell.eligible - cell.achieved + 0.5, size=runs)
            rate[(cell.outcome_id, cell.complexity_group)] = p / p_hat
    return volume, rate


def simulate(
    contract: Contract,
    templates: Sequence[YearTemplate],
    baseline: Baseline | None,
    runs: int,
    seed: int,
    *,
    fixed: bool = False,
    resolution: Resolution = "month",
    progress: Progress | None = None,
) -> RiskResult:
    """`runs` simulated runs of the templates' years (in order, consecutive), each priced by the engine's limits."""
    if runs < 1:
        raise RiskError(f"--runs must be at least 1 (got {runs})", hint="use e.g. --runs 10000")
    if not templates:
        raise RiskError("no contract year to simulate")
    preps = [prepare_year(t, contract, baseline, resolution) for t in templates]
    years = [t.year for t in templates]
    periods = [q for t in templates for q in t.periods]
    span = Period(years[0].start, years[-1].end, "simulated")
    rules = _rules(contract)
    buckets = [b for p in preps for b in p.buckets]
    offsets = np.cumsum([0] + [len(p.buckets) for p in preps])
    bucket_period = np.concatenate([p.bucket_period + sum(len(t.periods) for t in templates[:y])
                                    for y, p in enumerate(preps)]) if buckets else np.zeros(0, dtype=np.int64)
    providers = sorted({b.provider_id for b in buckets} | {pid for pid, p in contract.providers.items()
                                                            if p.role != "lasars"})
    provider_index = {p: i for i, p in enumerate(providers)}
    bucket_provider = np.array([provider_index[b.provider_id] for b in buckets], dtype=np.int64)
    screen = _screen(contract, rules, buckets, span)
    limit_paths = [rule.path for rule in rules]
    paid = np.zeros((runs, len(periods), len(providers)), dtype=np.int64)
    earned = np.zeros((runs, len(periods)), dtype=np.int64)
    acted = np.zeros((runs, len(years), len(limit_paths)), dtype=bool)
    flows = preps[0].starts
    engine_runs = 0
    batches = np.random.SeedSequence(seed).spawn(max(1, -(-runs // BATCH)))
    done = 0
    for b, batch_seed in enumerate(batches):
        size = min(BATCH, runs - b * BATCH)
        rng = np.random.default_rng(batch_seed)
        volume, rate = _factors(baseline, flows, rng, size)
        parts = []
        for prep in preps:
            if fixed:
                parts.append(_amounts(prep, np.broadcast_to(prep.type_weight, (size, len(prep.type_weight)))))
            else:
                parts.append(_draw_year(prep, rng, size, volume, rate))
        amounts = np.concatenate(parts, axis=1) if parts else np.zeros((size, 0), dtype=np.int64)
        rows = slice(b * BATCH, b * BATCH + size)
        for q in range(len(periods)):
            in_q = bucket_period == q
            earned[rows, q] = amounts[:, in_q].sum(axis=1)
            for p in range(len(providers)):
                paid[rows, q, p] = amounts[:, in_q & (bucket_provider == p)].sum(axis=1)
        for r in np.flatnonzero(_needs_engine(screen, amounts)):
            engine_runs += 1
            run_paid, run_acted = _price_run(contract, templates, buckets, offsets, amounts[r], periods,
                                             provider_index, limit_paths)
            paid[b * BATCH + r] = run_paid
            acted[b * BATCH + r] = run_acted
        done += size
        if progress:
            progress(done, runs)
    notes = []
    if baseline is None:
        notes.append("no baseline counts given: achievement rates are not drawn, only volumes and which clients")
    return RiskResult(contract, runs, seed, fixed, resolution, periods, years, providers, paid, earned, limit_paths,
                      acted, engine_runs, notes)


def _price_run(
    contract: Contract,
    templates: Sequence[YearTemplate],
    buckets: Sequence[PaymentLine],
    offsets: np.ndarray,
    amounts: np.ndarray,
    periods: Sequence[Period],
    provider_index: dict[str, int],
    limit_paths: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """One run's lines through the engine's limits, period by period: paid per period and provider, and which
    limits acted in each year."""
    paid = np.zeros((len(periods), len(provider_index)), dtype=np.int64)
    acted = np.zeros((len(templates), len(limit_paths)), dtype=bool)
    maxima = maximum_rules(contract)
    so_far: list[PaymentLine] = []
    q_index = 0
    for y, template in enumerate(templates):
        lines = [with_changes(buckets[b], amount_pence=int(amounts[b]))
                 for b in range(offsets[y], offsets[y + 1]) if amounts[b]]
        for q in template.periods:
            mine = [line for line in lines if q.contains(line.payable_on)]
            earlier = earlier_paid(so_far, contract)
            points = [line for line in mine if line.kind == "payment_point"]
            cuts = limit_lines(points, maxima, contract, q, earlier) if points and maxima else []
            out = apply_limits([*mine, *cuts], contract, q, earlier)
            so_far += out
            for line in out:
                paid[q_index, provider_index[line.provider_id]] += line.amount_pence
                if line.kind in ("cap", "floor") and line.amount_pence:
                    path = line.reference.split("@", 1)[0]
                    for k, limit in enumerate(limit_paths):
                        if path == limit or path.startswith(limit + "."):
                            acted[y, k] = True
            q_index += 1
    return paid, acted


def mean_pounds(values: np.ndarray) -> Decimal:
    """The mean of integer pence over runs, in pounds rounded half up to the penny (exact: from the integer sum)."""
    return (Decimal(int(values.sum())) / len(values) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def spread(values: np.ndarray) -> dict[str, Decimal]:
    """Mean and percentiles (each an actual run's figure: the inverted empirical distribution) in pounds."""
    found = {"mean": mean_pounds(values)}
    for p in PERCENTILES:
        found[f"p{p}"] = pounds(int(np.quantile(values, p / 100, method="inverted_cdf")))
    return found


def probability(hits: np.ndarray) -> Decimal:
    """A share of runs, to 4 decimal places."""
    return (Decimal(int(hits.sum())) / len(hits)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Summary:
    """The figures of a risk run: per contract year, per quarter and per provider and quarter."""

    years: list[dict[str, Any]]
    quarters: list[dict[str, Any]]
    cash_flow: list[dict[str, Any]]
    limits: list[dict[str, Any]]


def quarter_of(q: Period) -> str:
    """The calendar quarter a statement period starts in (`2012-Q2`)."""
    return quarter(q.start.year, (q.start.month - 1) // 3 + 1).label


def summarise(result: RiskResult) -> Summary:
    """Spend per year (mean, percentiles, results money, the chance of exceeding it), per quarter, each provider's
    cash flow by quarter, and the chance each limit acts in each year."""
    total = result.paid.sum(axis=2)
    years, limits = [], []
    for y, year in enumerate(result.years):
        in_year = [i for i, q in enumerate(result.periods) if year.start <= q.start <= year.end]
        spend = total[:, in_year].sum(axis=1)
        money = result.results_money(y)
        row: dict[str, Any] = {"year": year.label, **spread(spend),
                               "earned_mean": mean_pounds(result.earned[:, in_year].sum(axis=1)),
                               "results_money": pounds(money) if money is not None else None,
                               "p_over": probability(spend > money) if money is not None else None}
        years.append(row)
        for k, path in enumerate(result.limits):
            limits.append({"year": year.label, "limit": path, "p_acts": probability(result.acted[:, y, k])})
    labels = sorted({quarter_of(q) for q in result.periods})
    quarters, cash = [], []
    for label in labels:
        in_q = [i for i, q in enumerate(result.periods) if quarter_of(q) == label]
        quarters.append({"quarter": label, "year": result.years[result.year_of(result.periods[in_q[0]])].label,
                         **spread(total[:, in_q].sum(axis=1))})
        for p, provider in enumerate(result.providers):
            cash.append({"provider": provider, "quarter": label, **spread(result.paid[:, in_q, p].sum(axis=1))})
    return Summary(years, quarters, cash, limits)


def years_asked(contract: Contract, years: int | None) -> list[int]:
    """Indexes of the first `years` contract years (all of them when None); refuse a count out of range."""
    count = len(contract.years) if years is None else years
    if not 1 <= count <= len(contract.years):
        raise RiskError(f"--years must be between 1 and {len(contract.years)}, the contract's years (got {years})",
                        hint="leave --years out to simulate every contract year")
    return list(range(count))


def check_baseline(baseline: Baseline, contract: Contract) -> list[str]:
    """Refuse a baseline made for another area; a note when it was made with another version of the contract."""
    if baseline.contract_area != contract.area:
        raise RiskError(f"the baseline was made for {baseline.contract_area}, not {contract.area}",
                        hint="make a baseline with this contract: recoverypbr model baseline --contract F ...")
    notes = []
    if baseline.contract_version != contract.effective_from:
        notes.append(f"the baseline's rates were counted with the contract version of "
                     f"{baseline.contract_version.isoformat()}; this design is the version of "
                     f"{contract.effective_from.isoformat()}")
    return notes


def model_risk(
    wh: Any,
    contract: Contract,
    baseline: Baseline,
    runs: int,
    seed: int,
    *,
    years: int | None = None,
    fixed: bool = False,
    resolution: Resolution = "month",
    step: Callable[[str, int, int], None] | None = None,
    templates: Sequence[YearTemplate] | None = None,
) -> RiskResult:
    """Templates of the contract's first `years` years on the baseline's history, then `runs` runs through them.
    A caller that already made those templates (of this contract and baseline) passes them as `templates`."""
    if runs < 1:
        raise RiskError(f"--runs must be at least 1 (got {runs})", hint="use e.g. --runs 10000")
    notes = check_baseline(baseline, contract)
    indexes = years_asked(contract, years)
    if templates is not None and [t.index for t in templates] != indexes:
        raise RiskError(f"templates of years {[t.index for t in templates]} given for years {indexes}",
                        hint="pass one year_template per year asked, in order, or none")
    made = list(templates) if templates is not None else year_templates(
        wh, contract, baseline.window_from, indexes, progress=(lambda text: step(text, 0, 0)) if step else None)
    result = simulate(contract, made, baseline, runs, seed, fixed=fixed, resolution=resolution,
                      progress=(lambda done, total: step("runs", done, total)) if step else None)
    result.notes[:0] = notes
    return result
