"""The funnel forecast (issue 12, part 6): a funnel contract's milestones predicted against actual by month so far,
and a forecast with an interval of each milestone's clients and each payment point's spend for the rest of the year.

So far: the contract year holding the as-of date; each milestone's predicted and actual clients per month up to the
as-of month, exactly as a statement shows them (`payments.volumes.funnel_rows` on the ledger as of that date).

Forecast (Poisson-Gamma, NumPy over runs): the months of the year that have ended by the as-of date are the
evidence. With actuals x_1..x_m in those m months, a milestone's monthly rate has the posterior
Gamma(shape = sum(x) + 1/2 + w * p, rate = m + w) (Jeffreys' prior; `prior_months` w > 0 shrinks it toward the
prediction's mean month p = predicted / 12, as if w months at the predicted pace had been seen). Each run draws a
rate, then each month to come a Poisson count with that rate times the share of the month still to come (the rest
of the as-of month after the as-of date, then whole months). Before any month has ended (m = 0 and w = 0), each
month to come is the contract's prediction for that month with Poisson noise only.
A run's year total is the actual so far plus its draws; a payment point's spend is what the engine pays for that
many clients at the unit price, after the milestone's maximum (`payments.limits.limit_lines` with the milestone's
rule from `maximum_rules`, on a synthetic payment-point line per distinct total).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from recoverypbr.contract.model import Contract, ContractYear, Milestone
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.outcomes.ledger import build_ledger
from recoverypbr.payments.limits import LimitRule, limit_lines, maximum_rules
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import allocate, pounds
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pipeline import period_ledger
from recoverypbr.payments.statements import FunnelRow, MilestoneYear
from recoverypbr.payments.volumes import funnel_rows, milestone_years
from recoverypbr.warehouse.connection import Warehouse

#: The interval of every forecast: 5th to 95th percentile of the runs.
LOW, HIGH = 5, 95
JEFFREYS = 0.5


class ForecastError(RecoveryPbrError):
    """A forecast that cannot be made: no funnels, no contract year at the date, or a bad number of runs."""


@dataclass(frozen=True)
class MilestoneForecast:
    """One milestone's year: predicted and actual clients per month, and the runs' monthly counts.

    `actual[j]` is None for a month after the as-of month; `counts` is runs x 12: the actual for months that have
    ended, the actual so far plus the draw for the rest of the year. `spend_pence` (runs) for a payment point only.
    """

    funnel: str
    milestone: str
    label: str
    months: tuple[str, ...]
    predicted: tuple[int, ...]
    actual: tuple[int | None, ...]
    shape: float | None
    """The posterior rate's Gamma shape and rate (per month); None before any month has ended (prediction used)."""
    rate: float | None
    expected: float
    """The expected year total: the actual so far plus the posterior mean for what is still to come."""
    counts: np.ndarray
    to_come: tuple[float, ...] = ()
    """The share of each month still to come after the as-of date (0 for a month that has ended)."""
    unit_price_pence: int | None = None
    maximum_pence: int | None = None
    spend_pence: np.ndarray | None = None

    @property
    def predicted_year(self) -> int:
        return sum(self.predicted)

    @property
    def actual_to_date(self) -> int:
        return sum(a for a in self.actual if a is not None)

    @property
    def totals(self) -> np.ndarray:
        """Each run's clients for the year."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.int64)

    @property
    def reaches_maximum(self) -> float | None:
        """The share of runs whose payment points earn the maximum or more: the maximum is reached (above it, cut)."""
        if self.unit_price_pence is None or self.maximum_pence is None:
            return None
        return float(np.mean(self.totals * self.unit_price_pence >= self.maximum_pence))


@dataclass(frozen=True)
class ForecastResult:
    contract: Contract
    as_of: date
    year: ContractYear
    runs: int
    seed: int
    prior_months: float
    ended: int
    """How many months of the year had ended on the as-of date (the evidence for the rates)."""
    milestones: list[MilestoneForecast]
    notes: list[str] = field(default_factory=list)


def year_months(year: ContractYear) -> list[date]:
    """The first day of each month of the contract year."""
    found, day = [], date(year.start.year, year.start.month, 1)
    while day <= year.end:
        found.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return found


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def still_to_come(months: Sequence[date], as_of: date) -> np.ndarray:
    """The share of each month still to come after the as-of date: 0 for ended months, the rest of the as-of
    month by days, 1 for later months."""
    shares = []
    for first in months:
        end = _month_end(first)
        days = (end - first).days + 1
        shares.append(0.0 if end <= as_of else 1.0 if first > as_of else (end - as_of).days / days)
    return np.array(shares)


def posterior(ended_actuals: Sequence[int], prior_rate: float = 0.0, prior_months: float = 0.0) -> tuple[float, float]:
    """The Gamma posterior (shape, rate per month) of a monthly Poisson rate from the actuals of the ended months:
    shape = sum + 1/2 + w x prior_rate, rate = months + w."""
    return JEFFREYS + sum(ended_actuals) + prior_months * prior_rate, len(ended_actuals) + prior_months


def draw_counts(
    rng: np.random.Generator,
    runs: int,
    share_to_come: np.ndarray,
    predicted: Sequence[int],
    fit: tuple[float, float] | None,
) -> np.ndarray:
    """runs x months of Poisson counts for what is still to come: a Gamma rate per run from `fit` (shape, rate),
    or without a fit the prediction of each month (Poisson noise only)."""
    if fit is None:
        means = np.broadcast_to(np.asarray(predicted, dtype=float) * share_to_come, (runs, len(share_to_come)))
    else:
        shape, rate = fit
        rates = rng.gamma(shape, 1.0 / rate, size=runs)
        means = rates[:, None] * share_to_come[None, :]
    return rng.poisson(means).astype(np.int64)


def capped_spend(totals: np.ndarray, unit_price_pence: int, rule: LimitRule | None, contract: Contract,
                 year: ContractYear) -> np.ndarray:
    """Each run's payment-point spend in pence: its clients at the unit price, less what the milestone's maximum
    cuts. The engine's `limit_lines` prices each distinct year total once, on one synthetic line holding the
    total (the maximum is a cap over the contract year, so only the year's sum of lines matters)."""
    earned = totals.astype(np.int64) * unit_price_pence
    if rule is None:
        return earned
    distinct, where = np.unique(earned, return_inverse=True)
    period = Period(year.start, year.end, year.label)
    paid = np.array([amount + _cut(int(amount), rule, contract, period) for amount in distinct], dtype=np.int64)
    return paid[where.reshape(earned.shape)]


def _cut(amount: int, rule: LimitRule, contract: Contract, period: Period) -> int:
    if amount == 0:
        return 0
    line = PaymentLine(kind="payment_point", provider_id="forecast", reference=f"{rule.path[:-len('.maximum')]}."
                       f"unit_price@{period.start.isoformat()}", amount_pence=amount, payable_on=period.end)
    return sum(cut.amount_pence for cut in limit_lines([line], [rule], contract, period))


def contract_year(contract: Contract, as_of: date) -> ContractYear:
    """The contract year holding the as-of date; refuses a contract without funnels."""
    if not contract.funnels:
        raise ForecastError(f"contract {contract.area} has no funnels; the forecast is for funnel contracts such as "
                            "contracts/worcestershire.yaml",
                            hint="give a contract with a `funnels:` section (--contract).")
    year = next((y for y in contract.years if y.start <= as_of <= y.end), None)
    if year is None:
        spans = ", ".join(f"{y.start} to {y.end}" for y in contract.years)
        raise ForecastError(f"{as_of} is in no contract year of {contract.area} ({spans})",
                            hint="give an --as-of date inside a contract year.")
    return year


def check_request(contract: Contract, as_of: date, runs: int, prior_months: float = 0.0) -> ContractYear:
    """The contract year to forecast, after refusing a contract without funnels, a date outside its years, fewer
    than one run and a negative prior weight (before anything is read or written)."""
    year = contract_year(contract, as_of)
    if runs < 1:
        raise ForecastError(f"--runs must be at least 1 (got {runs})", hint="use e.g. --runs 10000")
    if prior_months < 0:
        raise ForecastError(f"--prior-months must be 0 or more (got {prior_months})",
                            hint="0 uses the actuals alone; 3 weighs the prediction like three months of data.")
    return year


def forecast_milestones(
    rows: Sequence[FunnelRow],
    years: Sequence[MilestoneYear],
    contract: Contract,
    year: ContractYear,
    as_of: date,
    runs: int,
    seed: int,
    prior_months: float = 0.0,
) -> list[MilestoneForecast]:
    """Every milestone's forecast from `funnel_rows` (so far) and `milestone_years` (prices and maxima)."""
    check_request(contract, as_of, runs, prior_months)
    months = year_months(year)
    to_come = still_to_come(months, as_of)
    ended = int(np.sum(to_come == 0))
    rules = {r.path: r for r in maximum_rules(contract)}
    found = []
    for index, my in enumerate(years):
        funnel = contract.funnels[my.funnel]
        milestone = funnel.milestones[my.milestone]
        mine = {r.month: r for r in rows if r.funnel == my.funnel and r.milestone == my.milestone}
        labels = tuple(f"{m.year}-{m.month:02d}" for m in months)
        predicted = tuple(mine[m].predicted if m in mine else _predicted(milestone, i) for i, m in enumerate(labels))
        actual = tuple(mine[m].actual if m in mine else None for m in labels)
        so_far = np.array([a or 0 for a in actual], dtype=np.int64)
        fit = None
        if ended or prior_months:
            fit = posterior([a or 0 for a in actual[:ended]], my.predicted / 12, prior_months)
        rng = np.random.default_rng([seed, index])
        counts = so_far[None, :] + draw_counts(rng, runs, to_come, predicted, fit)
        mean_to_come = (fit[0] / fit[1]) * to_come.sum() if fit else float(np.dot(predicted, to_come))
        path = f"funnels.{my.funnel}.milestones.{my.milestone}.payment.maximum"
        spend = None
        if my.unit_price_pence is not None:
            spend = capped_spend(counts.sum(axis=1), my.unit_price_pence, rules.get(path), contract, year)
        found.append(MilestoneForecast(
            my.funnel, my.milestone, my.label, labels, predicted, actual, fit[0] if fit else None,
            fit[1] if fit else None, float(so_far.sum()) + mean_to_come, counts, tuple(to_come.tolist()),
            my.unit_price_pence,
            my.maximum_pence, spend))
    return found


def _predicted(milestone: Milestone, i: int) -> int:
    """A month's prediction as `funnel_rows` gives it, for the months after the as-of month."""
    monthly = milestone.predicted_monthly or allocate(milestone.predicted, [1] * 12)
    return monthly[i] if i < len(monthly) else 0


def model_forecast(wh: Warehouse, contract: Contract, as_of: date, runs: int = 10_000, seed: int = 1,
                   prior_months: float = 0.0, *, evaluate: bool = True) -> ForecastResult:
    """The funnel forecast as of a date: the ledger is evaluated as of that date and stored (as `pay` does; with
    `evaluate` false the ledger stored for the date is used, built when missing), the actuals so far read by
    `funnel_rows`, then every milestone forecast for the rest of the contract year."""
    year = check_request(contract, as_of, runs, prior_months)
    if wh.count(wh.table("episodes")) == 0:
        raise ForecastError("the warehouse has no episodes to forecast from",
                            hint="load the area's extract first: recoverypbr load FOLDER --db WAREHOUSE")
    if evaluate:
        build_ledger(wh, contract, as_of)
    ledger = period_ledger(wh, contract, as_of)
    period = Period(year.start, as_of, f"{year.label} to {as_of.isoformat()}")
    rows = funnel_rows(wh, ledger, contract, period)
    years = milestone_years(contract, period)
    found = forecast_milestones(rows, years, contract, year, as_of, runs, seed, prior_months)
    ended = int(np.sum(still_to_come(year_months(year), as_of) == 0))
    notes = []
    if ended == 0 and not prior_months:
        notes.append("No month of the year had ended on the as-of date: the months to come are the contract's "
                     "predictions with Poisson noise.")
    return ForecastResult(contract, as_of, year, runs, seed, prior_months, ended, found, notes)


def percentiles(values: np.ndarray) -> tuple[int, int, int]:
    """The 5th, 50th and 95th percentiles, each a value some run took (`inverted_cdf`), so pence stay whole."""
    low, mid, high = np.percentile(values, [LOW, 50, HIGH], method="inverted_cdf")
    return int(low), int(mid), int(high)


def money(amount_pence: int | None) -> Decimal | None:
    """Pence as pounds (Decimal), or None."""
    return None if amount_pence is None else pounds(amount_pence)
