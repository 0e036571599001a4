"""Milestone funnels (Worcestershire): clients reaching each milestone, month by month, against the prediction.

"A funnel of milestones per service line ... recovery plan agreed (predicted 1819) -> improvement against TOPs
(1364) -> identified goals achieved (1023) -> drug free or occasional use (329) -> substance free for 4 weeks and
planned discharge (265, the payment point ...). Predicted against actual, month by month."

A milestone is evidenced by an outcome of the contract; its actual count in a month is the number of distinct
clients whose outcome was achieved that month (by `achieved_on`), in episodes of the funnel's service line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract, Milestone
from recoverypbr.outcomes.frame import ACHIEVED
from recoverypbr.outcomes.inputs import Inputs

ACTUAL_COLUMNS = ("funnel_id", "milestone_id", "month", "actual")


def funnel_actuals(ledger_rows: ir.Table, inputs: Inputs, contract: Contract) -> ir.Table:
    """Funnel id, milestone id, month (its first day) and clients reaching the milestone that month."""
    e = inputs.episodes.select(m_episode="episode_id", m_service_line="service_line")
    rows = ledger_rows.filter(ledger_rows.status == ACHIEVED)
    rows = rows.join(e, rows.episode_id == e.m_episode)
    parts = []
    for funnel_id, funnel in contract.funnels.items():
        for milestone_id, milestone in funnel.milestones.items():
            keep = rows.outcome_id == milestone.outcome
            if funnel.service_line:
                keep = keep & (rows.m_service_line == funnel.service_line)
            chosen = rows.filter(keep)
            parts.append(
                chosen.group_by(month=chosen.achieved_on.truncate("M").cast("date"))
                .aggregate(actual=chosen.client_id.nunique())
                .mutate(funnel_id=ibis.literal(funnel_id), milestone_id=ibis.literal(milestone_id))
            )
    if not parts:
        return ibis.memtable(
            {c: [] for c in ACTUAL_COLUMNS},
            schema={"funnel_id": "string", "milestone_id": "string", "month": "date", "actual": "int64"},
        )
    return ibis.union(*parts, distinct=False).select(*ACTUAL_COLUMNS).order_by(*ACTUAL_COLUMNS[:3])


def predicted(milestone: Milestone, month_index: int) -> Decimal:
    """The prediction for the month_index-th month (0-11) of a contract year."""
    if milestone.predicted_monthly:
        return Decimal(milestone.predicted_monthly[month_index])
    return Decimal(milestone.predicted) / 12


def funnel_report(actuals: list[dict[str, Any]], contract: Contract, as_of: date) -> list[dict[str, Any]]:
    """Predicted against actual for every funnel, milestone and contract month that has begun by `as_of`."""
    found = {(r["funnel_id"], r["milestone_id"], r["month"]): int(r["actual"]) for r in actuals}
    report = []
    for year in contract.years:
        for index in range(12):
            months = year.start.month - 1 + index
            month = date(year.start.year + months // 12, months % 12 + 1, 1)
            if month > as_of or month > year.end:
                continue
            for funnel_id, funnel in contract.funnels.items():
                for milestone_id, milestone in funnel.milestones.items():
                    report.append(
                        {
                            "funnel_id": funnel_id,
                            "milestone_id": milestone_id,
                            "month": month,
                            "predicted": predicted(milestone, index),
                            "actual": found.get((funnel_id, milestone_id, month), 0),
                        }
                    )
    return report
