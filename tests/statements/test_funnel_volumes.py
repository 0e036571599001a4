"""Predicted against actual, month by month, for the Worcestershire adult drugs tier 3 funnel.

By hand, for a statement of 2012-Q3 (the contract year starts 2012-04-01, so April to September is shown):
- recovery plan (predicted 1819 a year, no monthly profile): spread over 12 months in whole clients, the 7 pennies
  of 1819 = 12 x 151 + 7 go to the first seven months, so April to September predict 152 each;
- the payment point has its own profile: 5, 10, 15, 20, 22, 24 for April to September;
- actual: distinct clients whose milestone outcome was achieved that month in the funnel's service line: two
  recovery plans in May (C1 twice in two episodes counts once; C2), one in June; a client in another service line
  (C9) does not count; one payment point in September (C1); a pending row (C3) does not count.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa

from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import ContractYear
from recoverypbr.outcomes.cases import case_warehouse
from recoverypbr.outcomes.ledger import LEDGER_COLUMNS
from recoverypbr.payments.periods import parse_period
from recoverypbr.payments.volumes import funnel_rows

ROOT = Path(__file__).parents[2]
DATES = ("contract_version", "as_of", "achieved_on", "matures_on")


def _ledger(rows: list[tuple[str, str, str, str, dt.date | None]]) -> ibis.Table:
    data = [
        {"outcome_id": o, "client_id": c, "episode_id": e, "status": s, "achieved_on": d} for o, c, e, s, d in rows
    ]
    schema = pa.schema([(c, pa.date32() if c in DATES else pa.string()) for c in LEDGER_COLUMNS])
    return ibis.memtable(pa.Table.from_pylist(data, schema=schema))


def test_predicted_against_actual_by_month() -> None:
    contract = load_contract(ROOT / "contracts" / "worcestershire.yaml")
    line = "adult drugs tier 3"
    episodes = [
        {"episode_id": e, "client_id": c, "provider_id": "WOR_SERVICE", "start_date": dt.date(2012, 4, 1),
         "service_line": sl}
        for e, c, sl in [("E1", "C1", line), ("E1b", "C1", line), ("E2", "C2", line), ("E3", "C3", line),
                         ("E4", "C4", line), ("E9", "C9", "adult alcohol")]
    ]
    wh = case_warehouse({"episodes": episodes})
    ledger = _ledger([
        ("recovery_plan_agreed", "C1", "E1", "achieved", dt.date(2012, 5, 3)),
        ("recovery_plan_agreed", "C1", "E1b", "achieved", dt.date(2012, 5, 20)),
        ("recovery_plan_agreed", "C2", "E2", "achieved", dt.date(2012, 5, 31)),
        ("recovery_plan_agreed", "C4", "E4", "achieved", dt.date(2012, 6, 1)),
        ("recovery_plan_agreed", "C9", "E9", "achieved", dt.date(2012, 6, 2)),
        ("sustained_and_planned_discharge", "C1", "E1", "achieved", dt.date(2012, 9, 30)),
        ("sustained_and_planned_discharge", "C3", "E3", "pending_maturation", None),
    ])
    try:
        rows = funnel_rows(wh, ledger, contract, parse_period("2012-Q3"))
    finally:
        wh.close()
    plan = [(r.month, r.predicted, r.actual) for r in rows if r.milestone == "recovery_plan"]
    assert plan == [("2012-04", 152, 0), ("2012-05", 152, 2), ("2012-06", 152, 1), ("2012-07", 152, 0),
                    ("2012-08", 152, 0), ("2012-09", 152, 0)]
    point = [(r.month, r.predicted, r.actual) for r in rows if r.milestone == "sustained_and_planned_discharge"]
    assert point == [("2012-04", 5, 0), ("2012-05", 10, 0), ("2012-06", 15, 0), ("2012-07", 20, 0),
                     ("2012-08", 22, 0), ("2012-09", 24, 1)]
    assert {r.milestone for r in rows} == set(contract.funnels["adult_drugs_tier_3"].milestones)


def test_a_contract_year_longer_than_twelve_months_predicts_nothing_for_its_thirteenth_month() -> None:
    # Year one runs 12 months and a day (2012-04-01 to 2013-04-01). The funnel's predictions are for 12 months (the
    # payment point's own profile has 12 values), so April 2013, the thirteenth month (its one day), predicts 0 and
    # is still shown, in the statement of that one day.
    base = load_contract(ROOT / "contracts" / "worcestershire.yaml")
    years = [ContractYear(start=dt.date(2012, 4, 1), end=dt.date(2013, 4, 1)),
             ContractYear(start=dt.date(2013, 4, 2), end=dt.date(2014, 3, 31))]
    contract = base.model_copy(update={"years": years})
    wh = case_warehouse({"episodes": []})
    try:
        rows = funnel_rows(wh, _ledger([]), contract, parse_period("2013-04-01..2013-04-01"))
    finally:
        wh.close()
    point = [r for r in rows if r.milestone == "sustained_and_planned_discharge"]
    assert [r.month for r in point][-2:] == ["2013-03", "2013-04"] and len(point) == 13
    assert point[-1].predicted == 0 and point[-1].actual == 0
