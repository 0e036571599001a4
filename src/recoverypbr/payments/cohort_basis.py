"""Cohort basis (Wigan): "paid per achievement above the baseline rate of the cohort in each group".

Rules (docs/payments.md), per statement period, attributed provider, outcome (`basis: cohort`) and complexity group:
- decided: this contract's ledger rows with status achieved or not_achieved decided in the period. An achieved row
  is decided on its payable date (`pricing.payable_on`); a not_achieved row on its `matures_on` (an outcome with a
  window), else on its episode's discharge date, as the ledger gives no date for it (an open episode may still
  achieve it, so it is not decided yet).
- achieved: the decided rows that are achieved; expected = baseline rate x decided.
- paid achievements = achieved - expected rounded DOWN to whole achievements, at least 0: only achievements above
  what the baseline predicts are paid, and a fraction of one is not yet an achievement above the baseline.
- One `cohort` line per (provider, outcome, group) with paid achievements: paid x the group's tariff (or `all`) in
  force on the period's last day (within the contract), payable that day; `reference` the tariff's path,
  `corrects` `N achieved of M decided in <period>; baseline X% expects Y; paid Z above the baseline`, `evidence`
  the achieved episodes `episode:E1;episode:E2`.
- A group with no baseline rate or no tariff is listed in `Payments.unpriced` with `why`, not paid.
- Not applied: gates, uplifts and stock tariffs (all three are about one client's payment).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OutcomeCommon
from recoverypbr.contract.types import percent
from recoverypbr.payments.lines import PaymentLine, earned_order
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import ACHIEVED, contract_rows, payable_on, versions
from recoverypbr.warehouse.connection import Warehouse

NOT_ACHIEVED = "not_achieved"


@dataclass(frozen=True)
class CohortBasis:
    """A period's cohort-basis lines and the groups that could not be priced."""

    lines: list[PaymentLine]
    unpriced: list[dict[str, Any]]


def cohort_basis_outcomes(contract: Contract) -> dict[str, OutcomeCommon]:
    """Outcome id -> outcome, for the outcomes paid on a cohort basis."""
    return {oid: o for oid, o in contract.outcomes.items() if isinstance(o, OutcomeCommon) and o.basis == "cohort"}


def decided(ledger: ir.Table, contract: Contract, period: Period, episodes: ir.Table | None = None) -> ir.Table:
    """Rows of cohort-basis outcomes achieved or not achieved, decided in the period (`decided_on`)."""
    rows = contract_rows(ledger, contract)
    rows = rows.filter(
        rows.status.isin([ACHIEVED, NOT_ACHIEVED]) & rows.outcome_id.isin(list(cohort_basis_outcomes(contract)) or [""])
    )
    ended = ibis.null("date")
    if episodes is not None and "discharge_date" in episodes.columns:
        e = episodes.select(d_episode="episode_id", d_discharged="discharge_date")
        rows = rows.left_join(e, rows.episode_id == e.d_episode)
        ended = rows.d_discharged
    on = ibis.ifelse(rows.status == ACHIEVED, payable_on(rows, contract), rows.matures_on.fill_null(ended))
    rows = rows.mutate(decided_on=on)
    return rows.filter(rows.decided_on.between(period.start, period.end))


def cohort_counts(ledger: ir.Table, contract: Contract, period: Period, episodes: ir.Table | None = None) -> ir.Table:
    """Per provider, outcome and group: `decided`, `achieved` and the achieved `episodes`."""
    rows = decided(ledger, contract, period, episodes)
    achieved = rows.status == ACHIEVED
    return rows.group_by("provider_id", "outcome_id", "complexity_group").aggregate(
        decided=rows.count(),
        achieved=achieved.cast("int32").cast("int64").sum(),
        episodes=rows.episode_id.collect(where=achieved),
    )


def paid_achievements(achieved: int, expected: Decimal) -> int:
    """Whole achievements above the expected number (rounded down), never below 0."""
    return max(0, int((achieved - expected).to_integral_value(rounding=ROUND_FLOOR)))


def _tariff(contract: Contract, oid: str, outcome: OutcomeCommon, group: str, day: date) -> dict[str, Any] | None:
    found = versions(f"outcomes.{oid}.tariffs", outcome.tariffs or {}, contract.group_ids)
    return next((v for v in found if v["group"] == group and v["from"] <= day <= v["until"]), None)


def _result(row: dict[str, Any], contract: Contract, period: Period, day: date) -> PaymentLine | dict[str, Any] | None:
    oid, group = row["outcome_id"], row["complexity_group"]
    outcome = cohort_basis_outcomes(contract)[oid]
    episodes = ";".join(f"episode:{e}" for e in sorted(row["episodes"] or []))
    rate = outcome.baseline_rates.get(group) if group is not None else None
    tariff = _tariff(contract, oid, outcome, group, day) if group is not None else None
    if rate is None or tariff is None:
        missing = "baseline rate" if rate is None else f"tariff in force on {day.isoformat()}"
        why = f"cohort basis: no {missing} for complexity group {group}: not paid"
        return {k: row[k] for k in ("provider_id", "outcome_id", "complexity_group")} | {
            "payable_on": day,
            "evidence": episodes,
            "why": why,
        }
    expected = rate * row["decided"]
    paid = paid_achievements(row["achieved"], expected)
    if paid == 0:
        return None
    return PaymentLine(
        kind="cohort",
        provider_id=row["provider_id"],
        reference=tariff["reference"],
        amount_pence=pence(Decimal(tariff["pence"]) * paid / 100),
        payable_on=day,
        outcome_id=oid,
        complexity_group=group,
        evidence=episodes,
        corrects=(
            f"{row['achieved']} achieved of {row['decided']} decided in {period.label}; baseline "
            f"{percent(rate)} expects {_number(expected)}; paid {paid} above the baseline"
        ),
    )


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def cohort_basis_lines(
    wh: Warehouse, ledger: ir.Table, contract: Contract, period: Period, episodes: ir.Table | None = None
) -> CohortBasis:
    """The period's cohort-basis lines (before splits, caps and floors) and the groups without a rate or tariff."""
    if not cohort_basis_outcomes(contract):
        return CohortBasis([], [])
    day = min(period.end, contract.end) if period.start <= contract.end else period.end
    rows = wh.to_arrow(cohort_counts(ledger, contract, period, episodes)).to_pylist()
    results = [_result(row, contract, period, day) for row in rows]
    unpriced = [r for r in results if isinstance(r, dict)]
    unpriced.sort(key=lambda r: (r["provider_id"], r["outcome_id"], r["complexity_group"] or ""))
    return CohortBasis(sorted(_lines(results), key=earned_order), unpriced)


def _lines(results: Iterable[PaymentLine | dict[str, Any] | None]) -> list[PaymentLine]:
    return [r for r in results if isinstance(r, PaymentLine)]
