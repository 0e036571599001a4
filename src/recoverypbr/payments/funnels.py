"""Milestone payment points (Worcestershire): a unit price per client reaching the milestone, at most a maximum.

"substance free for 4 weeks and planned discharge (265, the payment point: 1,236.50 pounds per outcome, at most
327,672.50 pounds, which is 265 x 1,236.50)."

A client reaches the milestone when its outcome is achieved (ledger status `achieved`) and is paid once per
milestone in a period, on the first payable row (then by episode id), at the unit price in force on `achieved_on`.
A milestone outcome with a gate waits for it like any outcome (`pricing.payable_rows`, `gates.py`).
With `episodes` (episode_id, service_line) only episodes in the funnel's service line count; without them every
ledger row of the outcome is taken to be the funnel's. The maximum is per contract year: a cap line
(`funnels.<id>.milestones.<id>.payment.maximum@date`) cuts what goes above it, shown like any other cap.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract, Funnel, Milestone
from recoverypbr.contract.types import value_on
from recoverypbr.payments.limits import Earlier, LimitRule, limit_lines, maximum_scope
from recoverypbr.payments.lines import PaymentLine, earned_order
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import payable_rows, reference
from recoverypbr.warehouse.connection import Warehouse


def reached(
    ledger: ir.Table,
    contract: Contract,
    funnel: Funnel,
    milestone: Milestone,
    period: Period,
    episodes: ir.Table | None = None,
) -> ir.Table:
    """One row per client reaching the milestone with a payable date in the period (its first such row)."""
    rows = payable_rows(ledger, contract)
    rows = rows.filter((rows.outcome_id == milestone.outcome) & rows.payable_on.between(period.start, period.end))
    if episodes is not None and funnel.service_line:
        e = episodes.filter(episodes.service_line == funnel.service_line).select(f_episode="episode_id")
        rows = rows.semi_join(e, rows.episode_id == e.f_episode)
    first = ibis.row_number().over(group_by=rows.client_id, order_by=[rows.payable_on, rows.episode_id])
    rows = rows.mutate(n=first)
    rows = rows.filter(rows.n == 0)
    return rows.select(
        "provider_id",
        "client_id",
        "episode_id",
        "outcome_id",
        "complexity_group",
        "achieved_on",
        "payable_on",
        evidence=rows.evidence.fill_null(""),
    )


def _line(row: dict[str, Any], path: str, milestone: Milestone) -> PaymentLine | None:
    achieved_on = row.pop("achieved_on")
    prices = milestone.payment.unit_price if milestone.payment else {}
    price = value_on(prices, achieved_on)
    if price is None:
        return None
    since = max(d for d in prices if d <= achieved_on)
    return PaymentLine(
        kind="payment_point", reference=reference(f"{path}.unit_price", since), amount_pence=pence(price), **row
    )


def milestone_lines(
    wh: Warehouse,
    ledger: ir.Table,
    contract: Contract,
    period: Period,
    episodes: ir.Table | None = None,
    earlier: Earlier | None = None,
) -> list[PaymentLine]:
    """Payment point lines of every paid milestone in the period, each followed by its maximum's cap lines."""
    earlier = earlier or {}
    result: list[PaymentLine] = []
    for fid, funnel in contract.funnels.items():
        for mid, milestone in funnel.milestones.items():
            if milestone.payment is None:
                continue
            path = f"funnels.{fid}.milestones.{mid}.payment"
            rows = wh.to_arrow(reached(ledger, contract, funnel, milestone, period, episodes)).to_pylist()
            lines = sorted(filter(None, (_line(r, path, milestone) for r in rows)), key=earned_order)
            result += lines
            if milestone.payment.maximum:
                result += _maximum(lines, contract, period, path, milestone, earlier)
    return result


def _maximum(
    lines: list[PaymentLine], contract: Contract, period: Period, path: str, milestone: Milestone, earlier: Earlier
) -> list[PaymentLine]:
    maximum = milestone.payment.maximum if milestone.payment else None
    rule = LimitRule("cap", maximum_scope(path, milestone.label, milestone.outcome), "year", maximum or {}, field="")
    return limit_lines(lines, [rule], contract, period, earlier)
