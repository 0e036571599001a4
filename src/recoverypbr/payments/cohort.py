"""Cohort payments: "reduction in average offending compared to baseline (cohort)", paid per period, not per client.

Rules (docs/payments.md):
- Each `offending_cohort_reduction` outcome with an `amount` is paid for each measured period (a contract year,
  or a data quarter with `period: quarter`) whose cohort measure (`outcomes.offending.offending_cohort_reduction`,
  from `outcomes.ledger.cohort_measures`) shows the target reduction met; payable on the period's last day, when
  that day is inside the contract and the statement's period; the amount in force on the period's first day.
- With `pro_rata: true` a smaller fall is paid in proportion: amount x reduction / target (the reduction taken to
  six decimal places, the fraction at most 1), rounded once; nothing when offending did not fall.
- Who is paid (`splits.shares_for`): the outcome's own `split`; else the contract's attribution split (prime or
  co-dependent); else, under the prime model, the prime. Under the competing and assigned models the cohort is an
  area measure that names no client, so no provider's clients can be told apart in it: it is shared equally among
  the contract's providers that are paid (every provider but the LASARS), unless the outcome has its own `split`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.contract.types import percent, value_on
from recoverypbr.payments.limits import fallback_payee
from recoverypbr.payments.lines import PaymentLine, earned_order
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import reference

#: Outcome id -> the cohort measure's rows (`outcomes.ledger.cohort_measures`).
CohortMeasures = Mapping[str, Sequence[Mapping[str, Any]]]
_PLACES = Decimal("0.000001")


def earned_share(row: Mapping[str, Any], outcome: OffendingCohortReduction) -> Decimal:
    """The share of the amount earned for one measured period: 1 when met, the fall over the target with
    `pro_rata`, else 0."""
    if row["met"]:
        return Decimal(1)
    change = row["change"]
    if not outcome.pro_rata or change is None or change >= 0:
        return Decimal(0)
    reduction = (-Decimal(repr(change))).quantize(_PLACES)
    return min(Decimal(1), reduction / outcome.target_reduction)


def _evidence(row: Mapping[str, Any], outcome: OffendingCohortReduction) -> str:
    return (
        f"cohort:{row['cohort_id']}@{row['period_start']}..{row['period_end']}: {row['offences']} offences / "
        f"{row['people']} people = {row['current_rate']:.4f} against a baseline of {row['baseline_rate']:.4f}, "
        f"change {row['change']:+.2%} (target -{percent(outcome.target_reduction)})"
    )


def _line(oid: str, outcome: OffendingCohortReduction, row: Mapping[str, Any], payee: str) -> PaymentLine | None:
    start: date = row["period_start"]
    amount = value_on(outcome.amount, start)
    share = earned_share(row, outcome)
    if amount is None or share == 0:
        return None
    since = max(d for d in outcome.amount if d <= start)
    ref = reference(f"outcomes.{oid}.amount", since)
    if share != 1:
        ref += f" x pro_rata {percent(share * outcome.target_reduction)}/{percent(outcome.target_reduction)}"
    return PaymentLine(
        kind="cohort",
        provider_id=payee,
        reference=ref,
        amount_pence=pence(amount * share),
        payable_on=row["period_end"],
        outcome_id=oid,
        evidence=_evidence(row, outcome),
    )


def cohort_lines(measures: CohortMeasures, contract: Contract, period: Period) -> list[PaymentLine]:
    """The cohort payment lines of the period (before splits, caps and floors), in a fixed order."""
    lines = []
    payee = fallback_payee(contract)
    for oid, rows in measures.items():
        outcome = contract.outcomes.get(oid)
        if not isinstance(outcome, OffendingCohortReduction):
            continue
        for row in rows:
            day = row["period_end"]
            if period.contains(day) and contract.start <= day <= contract.end:
                lines.append(_line(oid, outcome, row, payee))
    return sorted(filter(None, lines), key=earned_order)
