"""Predicted against actual, month by month, for the Worcestershire adult drugs tier 3 funnel.

By hand, for a statement of 2012-Q3 (the contract year starts 2012-04-01, so April to September is shown):
- recovery plan (predicted 1819 a year, no monthly profile): spread over 12 months in whole clients, the 7 pennies
  of 1819 = 12 x 151 + 7 go to the first seven months, so April to September predict 152 each;
- the payment point has its own profile: 5, 10, 15, 20, 22, 24 for April to September;
- actual: distinct clients whose milestone outcome was achieved that month in the funnel's service line: two
  recovery plans in May (C1 twice in two episodes counts once; C2), one in June; a client in another service line
  (C9) does not count; one payment point in September (C1); a pending row (C3) does not count; a recovery plan in
  July in the young people tier 3 service line (C5) counts in that funnel only (every funnel is counted in one query).
- the year to date against each prediction (April to September): recovery plan 6 x 152 = 912 predicted, 3 actual;
  1364 = 12 x 113 + 8, so 6 x 114 = 684; 1023 = 12 x 85 + 3, so 3 x 86 + 3 x 85 = 513; 329 = 12 x 27 + 5, so
  5 x 28 + 27 = 167; the payment point 5 + 10 + 15 + 20 + 22 + 24 = 96 predicted, 1 actual, at £1,236.50 up to
  £327,672.50 (the other milestones are not paid, so no price).
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
from recoverypbr.payments.statements import Statement
from recoverypbr.payments.volumes import funnel_rows, milestone_years

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
                         ("E4", "C4", line), ("E9", "C9", "adult alcohol"), ("E5", "C5", "young people tier 3")]
    ]
    wh = case_warehouse({"episodes": episodes})
    ledger = _ledger([
        ("recovery_plan_agreed", "C1", "E1", "achieved", dt.date(2012, 5, 3)),
        ("recovery_plan_agreed", "C1", "E1b", "achieved", dt.date(2012, 5, 20)),
        ("recovery_plan_agreed", "C2", "E2", "achieved", dt.date(2012, 5, 31)),
        ("recovery_plan_agreed", "C4", "E4", "achieved", dt.date(2012, 6, 1)),
        ("recovery_plan_agreed", "C9", "E9", "achieved", dt.date(2012, 6, 2)),
        ("recovery_plan_agreed", "C5", "E5", "achieved", dt.date(2012, 7, 9)),
        ("sustained_and_planned_discharge", "C1", "E1", "achieved", dt.date(2012, 9, 30)),
        ("sustained_and_planned_discharge", "C3", "E3", "pending_maturation", None),
    ])
    try:
        period = parse_period("2012-Q3")
        rows = funnel_rows(wh, ledger, contract, period)
    finally:
        wh.close()
    young = {(r.milestone, r.month): r.actual for r in rows if r.funnel == "young_people_tier_3" and r.actual}
    assert young == {("recovery_plan", "2012-07"): 1}
    assert not [r for r in rows if r.actual and r.funnel not in ("adult_drugs_tier_3", "young_people_tier_3")]
    rows = [r for r in rows if r.funnel == "adult_drugs_tier_3"]
    plan = [(r.month, r.predicted, r.actual) for r in rows if r.milestone == "recovery_plan"]
    assert plan == [("2012-04", 152, 0), ("2012-05", 152, 2), ("2012-06", 152, 1), ("2012-07", 152, 0),
                    ("2012-08", 152, 0), ("2012-09", 152, 0)]
    point = [(r.month, r.predicted, r.actual) for r in rows if r.milestone == "sustained_and_planned_discharge"]
    assert point == [("2012-04", 5, 0), ("2012-05", 10, 0), ("2012-06", 15, 0), ("2012-07", 20, 0),
                     ("2012-08", 22, 0), ("2012-09", 24, 1)]
    assert {r.milestone for r in rows} == set(contract.funnels["adult_drugs_tier_3"].milestones)
    # The statement's year to date against each milestone's prediction, with the payment point's price and maximum.
    statement = Statement(
        statement_id="s", contract_area=contract.area, contract_title=contract.title,
        contract_version=contract.effective_from, provider_id="WOR_SERVICE", provider_name="", period=period,
        as_of=period.end, fingerprint="", contract_sha256="", data_sha256="", program_version="", lines=(),
        funnel=tuple(rows), milestones=tuple(milestone_years(contract, period)),
    )
    year = [r for r in statement.document()["funnel_year"] if r["funnel"] == "adult_drugs_tier_3"]
    assert [(r["predicted_year"], r["predicted_to_date"], r["actual_to_date"], r["unit_price"], r["maximum"])
            for r in year] == [(1819, 912, 3, None, None), (1364, 684, 0, None, None), (1023, 513, 0, None, None),
                               (329, 167, 0, None, None), (265, 96, 1, "1236.50", "327672.50")]


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
    point = [r for r in rows if (r.funnel, r.milestone) == ("adult_drugs_tier_3", "sustained_and_planned_discharge")]
    assert [r.month for r in point][-2:] == ["2013-03", "2013-04"] and len(point) == 13
    assert point[-1].predicted == 0 and point[-1].actual == 0
