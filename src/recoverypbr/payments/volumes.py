"""Predicted against actual volumes, and the ledger decisions an adjustment quotes.

For each funnel of the contract (Worcestershire), a statement shows, month by month through the contract year its
period ends in, how many clients each milestone predicted and how many reached it: distinct clients whose milestone
outcome was achieved that month (in the funnel's service line), from the outcome ledger. A milestone without
`predicted_monthly` has its year's prediction spread over the twelve months by `money.allocate` (whole clients,
earlier months first on a tie), so the months always sum to the prediction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract, Funnel
from recoverypbr.contract.types import value_on
from recoverypbr.payments.money import allocate, pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.statements import FunnelRow, MilestoneYear
from recoverypbr.warehouse.connection import Warehouse


def _months(start: date, end: date) -> list[date]:
    found, day = [], date(start.year, start.month, 1)
    while day <= end:
        found.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return found


def funnel_rows(wh: Warehouse, ledger: ir.Table, contract: Contract, period: Period) -> list[FunnelRow]:
    """Each funnel milestone's predicted and actual clients, by month of the contract year up to the period."""
    year = next((y for y in contract.years if y.start <= period.end <= y.end), None)
    if year is None or not contract.funnels:
        return []
    months = _months(year.start, period.end)
    actual = _actual(wh, ledger, contract.funnels, year.start, period.end)
    rows = []
    for funnel_id, funnel in contract.funnels.items():
        for milestone_id, milestone in funnel.milestones.items():
            predicted = milestone.predicted_monthly or allocate(milestone.predicted, [1] * 12)
            for i, month in enumerate(months):
                rows.append(
                    FunnelRow(
                        funnel=funnel_id,
                        milestone=milestone_id,
                        label=milestone.label,
                        month=f"{month.year}-{month.month:02d}",
                        predicted=predicted[i] if i < len(predicted) else 0,
                        actual=actual.get((funnel_id, milestone.outcome, month.year, month.month), 0),
                    )
                )
    return rows


def milestone_years(contract: Contract, period: Period) -> list[MilestoneYear]:
    """Each funnel milestone of the contract year the period ends in: its prediction, and for a payment point the
    unit price and maximum in force on the year's first day."""
    year = next((y for y in contract.years if y.start <= period.end <= y.end), None)
    if year is None:
        return []
    found = []
    for funnel_id, funnel in contract.funnels.items():
        for milestone_id, m in funnel.milestones.items():
            price = value_on(m.payment.unit_price, year.start) if m.payment else None
            most = value_on(m.payment.maximum, year.start) if m.payment and m.payment.maximum else None
            found.append(MilestoneYear(funnel_id, milestone_id, m.label, m.predicted,
                                       None if price is None else pence(price), None if most is None else pence(most)))
    return found


def _actual(wh: Warehouse, ledger: ir.Table, funnels: Mapping[str, Funnel], start: date,
            end: date) -> dict[tuple[str, str, int, int], int]:
    """(funnel, outcome, year, month) -> distinct clients who achieved the outcome that month (in the funnel's
    service line), for every funnel in one query."""
    rows = ledger.filter((ledger.status == "achieved") & ledger.achieved_on.between(start, end))
    episodes = wh.table("episodes")
    parts = []
    for funnel_id, funnel in funnels.items():
        mine = rows.filter(rows.outcome_id.isin(sorted({m.outcome for m in funnel.milestones.values()})))
        if funnel.service_line:
            lines = episodes.filter(episodes.service_line == funnel.service_line).select(f_episode=episodes.episode_id)
            mine = mine.semi_join(lines, mine.episode_id == lines.f_episode)
        counted = mine.group_by(
            outcome_id=mine.outcome_id, year=mine.achieved_on.year(), month=mine.achieved_on.month()
        ).aggregate(clients=mine.client_id.nunique())
        parts.append(counted.mutate(funnel_id=ibis.literal(funnel_id, "string")))
    if not parts:
        return {}
    return {
        (r["funnel_id"], r["outcome_id"], int(r["year"]), int(r["month"])): int(r["clients"])
        for r in wh.to_arrow(ibis.union(*parts)).to_pylist()
    }


def ledger_decisions(
    wh: Warehouse, ledger: ir.Table, keys: Iterable[tuple[str | None, str | None, str | None]]
) -> dict[tuple[str, str, str], str]:
    """(client, episode, outcome) -> "status, evidence ..." from the ledger, for the keys asked."""
    wanted = {(c or "", e or "", o or "") for c, e, o in keys}
    clients = sorted({c for c, _, _ in wanted if c})
    if not clients:
        return {}
    rows = ledger.filter(ledger.client_id.isin(clients)).select("client_id", "episode_id", "outcome_id", "status",
                                                                 "evidence")
    found = {}
    for r in wh.to_arrow(rows).to_pylist():
        key = (r["client_id"], r["episode_id"], r["outcome_id"])
        if key in wanted:
            evidence = f", evidence {r['evidence']}" if r["evidence"] else ""
            found[key] = f"{r['status']}{evidence}"
    return found

