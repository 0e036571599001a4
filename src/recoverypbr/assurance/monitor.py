"""`monitor`: every gaming indicator of every family, per provider (and assessor) and period, as of one date.

The families (`FAMILY_MODULES`) each export `INDICATORS` (judged by `frame.evaluate`) and may export
`extra_rows(ctx, rows)` for an indicator that combines others. A provider is **flagged for a family** when any of
that family's rows over the monitoring window is flagged (beyond its 99.8% limit in the gaming direction, or a
CUSUM signal over the quarters); quarterly rows are judged the same way and drawn as trends, but the headline is
the window. Nothing is stored: the same warehouse, contract and date give the same rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from recoverypbr.assurance.frame import (
    FAMILIES,
    Context,
    Indicator,
    IndicatorRow,
    evaluate,
    monitoring_periods,
    with_rows,
)
from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.payments.periods import Period
from recoverypbr.warehouse.connection import Warehouse

#: The modules of the indicator families, in the order the report shows them.
FAMILY_MODULES = ("assessment", "creaming", "timing", "misrepresentation", "feedback")

Progress = Callable[[str, int, int], None]


class MonitorError(RecoveryPbrError):
    """Monitoring cannot run as asked (a date before the contract, an unknown provider, no data)."""


@dataclass
class MonitorResult:
    """Every indicator row, with what they were computed on."""

    area: str
    contract_version: date
    as_of: date
    window: Period
    baseline: Period
    quarters: tuple[Period, ...]
    providers: tuple[str, ...]
    assessors: tuple[str, ...]
    rows: list[IndicatorRow]
    indicators: list[Indicator] = field(default_factory=list)

    def window_rows(self) -> list[IndicatorRow]:
        return [r for r in self.rows if r.period_kind == "window"]

    def flags(self) -> list[IndicatorRow]:
        """The headline flags: window rows flagged."""
        return [r for r in self.window_rows() if r.flagged]

    def flagged_families(self) -> dict[str, set[str]]:
        """provider (or assessor) -> the families it is flagged for."""
        found: dict[str, set[str]] = {}
        for r in self.flags():
            found.setdefault(r.provider_id, set()).add(r.family)
        return found

    def only(self, provider: str) -> MonitorResult:
        """The rows of one provider or assessor (judged against all its peers, as before)."""
        return MonitorResult(self.area, self.contract_version, self.as_of, self.window, self.baseline, self.quarters,
                             self.providers, self.assessors, [r for r in self.rows if r.provider_id == provider],
                             self.indicators)


def family_modules() -> list[Any]:
    """The indicator family modules."""
    return [importlib.import_module(f"recoverypbr.assurance.{name}") for name in FAMILY_MODULES]


def all_indicators() -> list[Indicator]:
    """Every indicator the families define, in report order."""
    return [i for module in family_modules() for i in module.INDICATORS]


def make_context(wh: Warehouse, contract: Contract, as_of: date) -> Context:
    """The periods, providers and assessors monitored as of `as_of`."""
    if as_of < contract.start:
        raise MonitorError(f"{as_of} is before the contract's start ({contract.start})",
                           hint=f"monitor as of a date from {contract.start} on (--as-of)")
    quarters, window, baseline = monitoring_periods(contract, as_of)
    lasars = {r[0] for r in wh.execute("SELECT provider_id FROM providers WHERE role = 'lasars'")}
    providers = tuple(sorted(
        r[0] for r in wh.execute(
            "SELECT DISTINCT provider_id FROM episodes WHERE coalesce(start_date, triage_date, referral_date) <= ?",
            [as_of])
        if r[0] not in lasars))
    if not providers:
        raise MonitorError(f"no episodes known on {as_of}: nothing to monitor",
                           hint="load the providers' extracts first (recoverypbr load), or monitor a later date")
    assessors = tuple(sorted(
        r[0] for r in wh.execute(
            "SELECT DISTINCT assessor_org FROM assessments WHERE assessor_org IS NOT NULL AND assessed_on <= ?",
            [as_of])))
    return Context(wh, contract, as_of, quarters, window, baseline, providers, assessors)


def monitor(wh: Warehouse, contract: Contract, as_of: date, *, provider: str | None = None,
            progress: Progress | None = None) -> MonitorResult:
    """Every indicator as of `as_of`; with `provider`, only its rows (an unknown one is refused)."""
    ctx = make_context(wh, contract, as_of)
    if provider is not None and provider not in ctx.providers and provider not in ctx.assessors:
        known = ", ".join([*ctx.providers, *ctx.assessors])
        raise MonitorError(f"unknown provider {provider!r}: no episodes or assessments of it are known on {as_of}",
                           hint=f"use one of: {known}")
    modules = family_modules()
    indicators = [i for module in modules for i in module.INDICATORS]
    steps = len(indicators) + sum(1 for m in modules if hasattr(m, "extra_rows"))
    rows: list[IndicatorRow] = []
    done = 0
    for module in modules:
        made: list[IndicatorRow] = []
        for indicator in module.INDICATORS:
            made.extend(with_rows(ctx, indicator, evaluate(ctx, indicator)))
            done += 1
            if progress is not None:
                progress(indicator.title, done, steps)
        if hasattr(module, "extra_rows"):
            made.extend(module.extra_rows(ctx, [*rows, *made]))
            done += 1
            if progress is not None:
                progress(module.__name__.rsplit(".", 1)[1], done, steps)
        rows.extend(made)
    result = MonitorResult(contract.area, contract.effective_from, as_of, ctx.window, ctx.baseline, ctx.quarters,
                           ctx.providers, ctx.assessors, sorted(rows, key=_order), indicators)
    return result.only(provider) if provider is not None else result


def _order(row: IndicatorRow) -> tuple[Any, ...]:
    kinds = {"window": 0, "quarter": 1, "baseline": 2}
    return (row.provider_id, FAMILIES.index(row.family) if row.family in FAMILIES else 99, row.indicator,
            kinds.get(row.period_kind, 3), row.period_start)


def flags_by_family(result: MonitorResult, providers: Sequence[str] | None = None) -> dict[str, dict[str, bool]]:
    """provider -> family -> flagged over the window (every family present, False when not flagged)."""
    flagged = result.flagged_families()
    return {p: {f: f in flagged.get(p, set()) for f in FAMILIES} for p in (providers or result.providers)}
