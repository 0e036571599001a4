"""Referrals that never start are data, not errors (issue 13, point 4).

An episode row with a referral and no `start_date` (NDTMS: declined, no appropriate treatment, inappropriate
referral, or still waiting) loads and is kept; it gets no outcome and earns nothing, not even a fee paid on triage;
it is grouped by its client's assessment before the referral, so conversion can be measured by complexity group.
A row with neither date is still kept aside, and a TOP cannot belong to a referral that never started.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from recoverypbr import load_extract
from recoverypbr.assessment.grouping import warehouse_groups
from recoverypbr.contract.load import load_contract
from recoverypbr.data.quarantine import provider_overview
from recoverypbr.outcomes.ledger import build_ledger, stored_ledger
from recoverypbr.payments import parse_period, price_period
from recoverypbr.warehouse.connection import Warehouse

ROOT = Path(__file__).parents[2]

FILES = {
    "providers.csv": "provider_id,name,role\nP01,Prime,prime\nP02,Sub,subcontractor\nP03,Lasars,lasars\n",
    "clients.csv": "client_id,date_of_birth,sex\nC1,1980-01-01,male\nC2,1975-06-01,female\nC3,1990-02-02,female\n",
    "assessments.csv": (
        "assessment_id,client_id,assessed_on,primary_substance,injecting_status,years_of_use,housing_need\n"
        "A1,C1,2012-05-01,opiates,current,25,acute\n"
        "A2,C2,2012-05-01,alcohol,never,2,none\n"
        "A3,C3,2012-05-01,opiates,current,25,acute\n"
    ),
    "episodes.csv": (
        "episode_id,client_id,provider_id,referral_date,triage_date,start_date,discharge_date,discharge_reason,"
        "substances,stock_or_flow,service_line\n"
        # started and completed: earns outcomes and a fee
        "E1,C1,P01,2012-05-02,2012-05-03,2012-05-10,2012-12-01,completed_drug_free,opiates,flow,"
        "adult drugs prescribing\n"
        # triaged, then declined: never started
        "E2,C3,P01,2012-05-02,2012-05-03,,2012-05-20,declined,opiates,flow,adult drugs prescribing\n"
        # referred and still waiting on the extract date
        "E3,C2,P02,2012-06-01,,,,,alcohol,flow,adult alcohol\n"
        # neither a start nor a referral date: an error
        "E4,C2,P02,,,,,,alcohol,flow,adult alcohol\n"
    ),
    "top.csv": (
        "top_id,client_id,episode_id,top_date,stage,opiate_days\n"
        "T1,C1,E1,2012-05-10,start,20\n"
        "T2,C1,E1,2012-11-20,exit,0\n"
        "T3,C3,E2,2012-05-10,start,20\n"
    ),
}


@pytest.fixture
def loaded(wh: Warehouse, tmp_path: Path) -> Warehouse:
    folder = tmp_path / "extract"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    load_extract(wh, folder)
    return wh


def test_referrals_that_never_started_load_and_are_kept(loaded: Warehouse) -> None:
    rows = loaded.execute("SELECT episode_id, start_date, discharge_reason FROM episodes ORDER BY episode_id")
    assert rows == [("E1", dt.date(2012, 5, 10), "completed_drug_free"), ("E2", None, "declined"), ("E3", None, None)]
    kept = loaded.execute("SELECT table_name, row_number, column_name, rule, reason FROM quarantine "
                          "ORDER BY table_name, row_number")
    assert [(t, r, c, rule) for t, r, c, rule, _ in kept] == [
        ("episodes", 5, "start_date", "missing"), ("top", 4, "top_date", "top_outside_episode")]
    assert "referral_date" in kept[0][4]
    assert kept[1][4] == "a TOP for a referral that never started (its episode has no start_date)"
    overview = {r["provider_id"]: r for r in provider_overview(loaded)}
    assert (overview["P01"]["episodes"], overview["P01"]["not_started"], overview["P01"]["in_treatment"]) == (1, 1, 0)
    assert (overview["P02"]["episodes"], overview["P02"]["not_started"], overview["P02"]["in_treatment"]) == (0, 1, 0)


def test_a_referral_is_grouped_by_the_assessment_before_it(loaded: Warehouse) -> None:
    contract = load_contract(ROOT / "contracts" / "marlshire.yaml")
    groups = {r["episode_id"]: r["complexity_group"]
              for r in loaded.to_arrow(warehouse_groups(loaded, contract)).to_pylist()}
    assert groups == {"E1": "high", "E2": "high", "E3": "low"}


def test_a_referral_gets_no_outcome_and_earns_nothing(loaded: Warehouse, tmp_path: Path) -> None:
    text = (ROOT / "contracts" / "marlshire.yaml").read_text(encoding="utf-8").replace("paid_on: start",
                                                                                       "paid_on: triage")
    (tmp_path / "triage.yaml").write_text(text, encoding="utf-8")
    contract = load_contract(tmp_path / "triage.yaml")
    as_of = dt.date(2013, 6, 30)
    build_ledger(loaded, contract, as_of)
    ledger = loaded.to_arrow(stored_ledger(loaded, contract, as_of)).to_pylist()
    assert {r["episode_id"] for r in ledger} == {"E1"}
    payments = price_period(loaded, contract, parse_period("2012-04-01..2012-06-30"), as_of)
    fees: dict[str | None, int] = {}
    for line in payments.lines:
        if line.kind == "attachment_fee":
            fees[line.episode_id] = fees.get(line.episode_id, 0) + line.amount_pence
    assert fees == {"E1": 10000}  # the high group's £100 fee, split 70:30; none for the declined E2
    assert {line.episode_id for line in payments.lines} <= {"E1", None}
