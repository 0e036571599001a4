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

from recoverypbr.contract.model import Contract, Milestone
from recoverypbr.contract.types import value_on
from recoverypbr.payments.limits import Earlier, LimitRule, limit_lines, maximum_scope
from recoverypbr.payments.lines import PaymentLine, earned_order
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import payable_rows, reference
from recoverypbr.warehouse.connection import Warehouse


def reached(ledger: ir.Table, contract: Contract, period: Period, episodes: ir.Table | None = None) -> ir.Table:
    """One row per client reaching each paid milestone with a payable date in the period (its first such row), for
    every payment point of every funnel at once (one query): `r_funnel`, `r_milestone` and the ledger columns."""
    points = [(fid, mid, m.outcome, f.service_line or "") for fid, f in contract.funnels.items()
              for mid, m in f.milestones.items() if m.payment is not None]
    table = ibis.memtable(
        {"r_funnel": [x[0] for x in points], "r_milestone": [x[1] for x in points],
         "r_outcome": [x[2] for x in points], "r_line": [x[3] for x in points]},
        schema={"r_funnel": "string", "r_milestone": "string", "r_outcome": "string", "r_line": "string"},
    )
    rows = payable_rows(ledger, contract)
    rows = rows.filter(rows.outcome_id.isin(sorted({x[2] for x in points}) or [""])
                       & rows.payable_on.between(period.start, period.end))
    if episodes is not None:
        e = episodes.select(f_episode="episode_id", f_line="service_line")
        rows = rows.left_join(e, rows.episode_id == e.f_episode).drop("f_episode")
    else:
        rows = rows.mutate(f_line=ibis.null("string"))
    j = rows.join(table, rows.outcome_id == table.r_outcome)
    if episodes is not None:
        j = j.filter((j.r_line == "") | (j.f_line == j.r_line).fill_null(False))
    first = ibis.row_number().over(group_by=[j.r_funnel, j.r_milestone, j.client_id],
                                   order_by=[j.payable_on, j.episode_id])
    j = j.mutate(n=first)
    j = j.filter(j.n == 0)
    return j.select(
        "r_funnel",
        "r_milestone",
        "provider_id",
        "client_id",
        "episode_id",
        "outcome_id",
        "complexity_group",
        "achieved_on",
        "payable_on",
        evidence=j.evidence.fill_null(""),
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
    if not any(m.payment for f in contract.funnels.values() for m in f.milestones.values()):
        return result
    by_point: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in wh.to_arrow(reached(ledger, contract, period, episodes)).to_pylist():
        by_point.setdefault((row.pop("r_funnel"), row.pop("r_milestone")), []).append(row)
    for fid, funnel in contract.funnels.items():
        for mid, milestone in funnel.milestones.items():
            if milestone.payment is None:
                continue
            path = f"funnels.{fid}.milestones.{mid}.payment"
            rows = by_point.get((fid, mid), [])
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
