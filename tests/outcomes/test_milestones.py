"""Worcestershire-style milestone funnels: actual clients per month against the prediction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse
from recoverypbr.outcomes.inputs import warehouse_inputs
from recoverypbr.outcomes.ledger import ledger
from recoverypbr.outcomes.milestones import funnel_actuals, funnel_report

CONTRACT = Contract.model_validate(
    {
        **BASE_CONTRACT,
        "outcomes": {
            "plan": {"type": "event_recorded", "event_types": ["recovery_plan_agreed"]},
            "completion": {"type": "successful_completion"},
        },
        "funnels": {
            "tier3": {
                "label": "Adult drugs tier 3",
                "service_line": "tier 3",
                "milestones": {
                    "plan": {"label": "Recovery plan agreed", "outcome": "plan", "predicted": 24},
                    "done": {
                        "label": "Planned discharge",
                        "outcome": "completion",
                        "predicted": 12,
                        "predicted_monthly": [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
                    },
                },
            }
        },
    }
)
EPISODES = [
    # C1 and C2 agree plans in May 2012, C3 in June; C4 is in another service line and does not count. C1 completes
    # in September 2012, the 6th month of the contract year (predicted_monthly[5] = 1).
    {
        "episode_id": f"E{i}",
        "client_id": f"C{i}",
        "provider_id": "P1",
        "start_date": dt.date(2012, 5, 1),
        "service_line": "tier 3" if i < 4 else "tier 2",
        "substances": "opiates",
        "discharge_date": dt.date(2012, 9, 10) if i == 1 else None,
        "discharge_reason": "completed_drug_free" if i == 1 else None,
    }
    for i in range(1, 5)
]
EVENTS = [
    {
        "client_id": f"C{i}",
        "episode_id": f"E{i}",
        "event_type": "recovery_plan_agreed",
        "event_date": dt.date(2012, 5 if i < 3 else 6, 10),
    }
    for i in range(1, 5)
]


def test_funnel_counts_clients_per_month_against_the_prediction() -> None:
    as_of = dt.date(2012, 9, 30)
    with case_warehouse({"episodes": EPISODES, "events": EVENTS}) as wh:
        inputs = warehouse_inputs(wh, as_of)
        actuals = wh.to_arrow(funnel_actuals(ledger(inputs, CONTRACT), inputs, CONTRACT)).to_pylist()
    report = funnel_report(actuals, CONTRACT, as_of)
    by_key = {(r["milestone_id"], r["month"]): r for r in report}
    assert by_key[("plan", dt.date(2012, 5, 1))]["actual"] == 2
    assert by_key[("plan", dt.date(2012, 6, 1))]["actual"] == 1
    assert by_key[("plan", dt.date(2012, 4, 1))]["predicted"] == Decimal(2)
    assert by_key[("done", dt.date(2012, 9, 1))] == {
        "funnel_id": "tier3",
        "milestone_id": "done",
        "month": dt.date(2012, 9, 1),
        "predicted": Decimal(1),
        "actual": 1,
    }
    assert max(r["month"] for r in report) == dt.date(2012, 9, 1)
