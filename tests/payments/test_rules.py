"""Fees, incentives, cohort payments, the share on results and `earlier_paid`: the cases the golden statements
do not show one by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse
from recoverypbr.outcomes.ledger import stored_ledger
from recoverypbr.payments import PaymentLine, earlier_paid, parse_period, price_period
from recoverypbr.payments.cohort import cohort_lines
from recoverypbr.payments.limits import SHARE_ON_RESULTS, EarlierKey, apply_limits
from recoverypbr.payments.splits import split_line, split_lines

ROOT = Path(__file__).parents[2]
YEAR_ONE = "2012-04-01..2013-03-31"


def contract_with(**fields: Any) -> Contract:
    return Contract.model_validate(BASE_CONTRACT | {"outcomes": {}} | fields)


def line(kind: Any, provider: str, amount: int, day: dt.date, reference: str = "r", **more: Any) -> PaymentLine:
    return PaymentLine(
        kind=kind, provider_id=provider, reference=reference, amount_pence=amount, payable_on=day, **more
    )


def test_earlier_paid_gives_the_milestone_maximum_and_the_share_on_results() -> None:
    contract = load_contract(ROOT / "contracts" / "worcestershire.yaml")
    path = "funnels.adult_drugs_tier_3.milestones.sustained_and_planned_discharge.payment"
    paid = [line("payment_point", "WOR_SERVICE", 123650, dt.date(2013, 2, 1), f"{path}.unit_price")] * 3
    paid += [line("outcome", "WOR_SERVICE", 100, dt.date(2013, 4, 1))]
    earlier = earlier_paid(paid, contract)
    assert earlier[EarlierKey(f"{path}.maximum", YEAR_ONE, "WOR_SERVICE")] == 3 * 123650
    assert earlier[EarlierKey(SHARE_ON_RESULTS, YEAR_ONE, "WOR_SERVICE")] == 3 * 123650
    assert earlier[EarlierKey(SHARE_ON_RESULTS, "2013-04-01..2014-03-31", "WOR_SERVICE")] == 100


def test_earlier_paid_counts_floor_top_ups_in_caps_but_not_in_the_results_money() -> None:
    contract = contract_with(
        caps={"year": {"amount": "1000", "period": "year"}},
        floors={"quarter": {"amount": "300", "period": "quarter"}},
    )
    day = dt.date(2012, 6, 30)
    paid = [
        line("outcome", "P1", 10000, day),
        line("floor", "P1", 20000, day, "floors.quarter.amount"),
    ]
    earlier = earlier_paid(paid, contract)
    # A cap counts every line in its scope (a floor's top-up is money paid); results money is not topped up.
    assert earlier[EarlierKey("caps.year", YEAR_ONE, "P1")] == 30000
    assert earlier[EarlierKey(SHARE_ON_RESULTS, YEAR_ONE, "P1")] == 10000
    assert earlier[EarlierKey("floors.quarter", "2012-Q2", "P1")] == 30000


def test_the_share_on_results_follows_the_dated_budget_and_share() -> None:
    contract = contract_with(
        budget={dt.date(2012, 4, 1): "1000", dt.date(2013, 4, 1): "2000"},
        share_on_results={dt.date(2012, 4, 1): "10%", dt.date(2013, 4, 1): "50%"},
    )
    earned = [line("outcome", "P1", 50000, dt.date(2013, 3, 1)), line("outcome", "P1", 150000, dt.date(2013, 5, 1))]
    result = apply_limits(earned, contract, parse_period("2012-04-01..2014-03-31"))
    cuts = [(c.reference, c.amount_pence, c.payable_on) for c in result if c.kind == "cap"]
    assert cuts == [
        ("share_on_results@2012-04-01", -40000, dt.date(2013, 3, 1)),
        ("share_on_results@2013-04-01", -50000, dt.date(2013, 5, 1)),
    ]


def test_a_cohort_payment_goes_to_the_prime_or_by_the_split() -> None:
    providers = {
        "PR": {"name": "Prime", "role": "prime"},
        "SUB": {"name": "Sub", "role": "subcontractor", "prime": "PR"},
    }
    outcome = {"type": "offending_cohort_reduction", "cohort_id": "X", "target_reduction": "10%", "amount": "1000"}
    measure = {
        "cohort_id": "X",
        "period_start": dt.date(2012, 4, 1),
        "period_end": dt.date(2013, 3, 31),
        "people": 10,
        "offences": 5,
        "current_rate": 0.5,
        "baseline_rate": 1.0,
        "change": -0.5,
        "target_reduction": 0.1,
        "met": True,
    }
    prime = contract_with(providers=providers, attribution={"model": "prime"}, outcomes={"cj": outcome})
    earned = cohort_lines({"cj": [measure]}, prime, parse_period(YEAR_ONE))
    assert [(x.provider_id, x.amount_pence) for x in split_lines(earned, prime)] == [("PR", 100000)]
    split = prime.model_copy(
        update={
            "attribution": prime.attribution.model_copy(update={"split": {"PR": Decimal("0.8"), "SUB": Decimal("0.2")}})
        }
    )
    assert [(x.provider_id, x.amount_pence) for x in split_lines(earned, split)] == [("PR", 80000), ("SUB", 20000)]
    assert cohort_lines({"cj": [measure | {"met": False}]}, prime, parse_period(YEAR_ONE)) == []
    assert cohort_lines({"cj": [measure]}, prime, parse_period("2013-Q2")) == []


def test_an_incentive_without_its_own_split_follows_the_attribution() -> None:
    contract = contract_with(
        attribution={"model": "co_dependent", "split": {"P1": "60%", "P2": "40%"}},
        incentives={
            "move": {"from_service": {"service_line": "a"}, "to_service": {"service_line": "b"}, "amount": "100"}
        },
    )
    paid = line("incentive", "P2", 10000, dt.date(2013, 5, 1), "incentives.move.amount.all")
    assert [(x.provider_id, x.amount_pence, x.share) for x in split_line(paid, contract)] == [
        ("P1", 6000, "attribution.split.P1=60%"),
        ("P2", 4000, "attribution.split.P2=40%"),
    ]


def test_price_period_builds_the_ledger_when_none_is_stored() -> None:
    contract = contract_with(
        outcomes={"successful_completion": {"type": "successful_completion", "tariffs": "500"}},
        attachment_fees={"flow": "25"},
    )
    episodes = [
        {
            "episode_id": "E1",
            "client_id": "C1",
            "provider_id": "P1",
            "start_date": dt.date(2013, 1, 10),
            "discharge_date": dt.date(2013, 5, 20),
            "discharge_reason": "completed_drug_free",
            "substances": "opiates",
        }
    ]
    wh = case_warehouse({"episodes": episodes})
    try:
        as_of = dt.date(2013, 6, 30)
        assert wh.count(stored_ledger(wh, contract, as_of)) == 0
        q2 = price_period(wh, contract, parse_period("2013-Q2"), as_of)
        q1 = price_period(wh, contract, parse_period("2013-Q1"), as_of)
        assert wh.count(stored_ledger(wh, contract, as_of)) > 0
    finally:
        wh.close()
    assert [(x.kind, x.amount_pence, x.payable_on) for x in q2.lines] == [("outcome", 50000, dt.date(2013, 5, 20))]
    assert [(x.kind, x.amount_pence, x.payable_on) for x in q1.lines] == [
        ("attachment_fee", 2500, dt.date(2013, 1, 10))
    ]


def test_the_double_cut_example_pays_30_pounds_by_the_year_and_by_the_quarter() -> None:
    # Issue 9: P1 earns 10 x £10 on 2012-04-01; caps `a` £50 a quarter (overall) and `b` £30 a year (P1). The year
    # as one period and the year's quarters one by one (each with earlier_paid) both pay £30.00: the golden case
    # double_cut_year_and_quarter_caps.yaml shows the year's lines.
    contract = contract_with(
        budget="100", share_on_results="100%",
        caps={"a": {"amount": "50", "period": "quarter"}, "b": {"amount": "30", "period": "year", "provider": "P1"}},
    )
    earned = [line("outcome", "P1", 1000, dt.date(2012, 4, 1), client_id=f"C{i}") for i in range(10)]
    whole = apply_limits(earned, contract, parse_period(YEAR_ONE))
    so_far: list[PaymentLine] = []
    for label in ("2012-Q2", "2012-Q3", "2012-Q4", "2013-Q1"):
        quarter = parse_period(label)
        mine = [x for x in earned if quarter.contains(x.payable_on)]
        so_far += apply_limits(mine, contract, quarter, earlier_paid(so_far, contract))
    assert sum(x.amount_pence for x in whole) == sum(x.amount_pence for x in so_far) == 3000


def test_a_cohort_payment_under_competing_providers_is_shared_equally_but_never_with_the_lasars() -> None:
    # Competing P1 and P2, and a LASARS named among the providers: the cohort's £1,000 is £500 each to P1 and P2;
    # the LASARS assesses and is not paid on results.
    providers = {"LAS": {"name": "Assessors", "role": "lasars"},
                 "P1": {"name": "One", "role": "provider"}, "P2": {"name": "Two", "role": "provider"}}
    outcome = {"type": "offending_cohort_reduction", "cohort_id": "X", "target_reduction": "10%", "amount": "1000"}
    measure = {"cohort_id": "X", "period_start": dt.date(2012, 4, 1), "period_end": dt.date(2013, 3, 31),
               "people": 10, "offences": 5, "current_rate": 0.5, "baseline_rate": 1.0, "change": -0.5,
               "target_reduction": 0.1, "met": True}
    contract = contract_with(providers=providers, attribution={"model": "competing"}, outcomes={"cj": outcome})
    earned = cohort_lines({"cj": [measure]}, contract, parse_period(YEAR_ONE))
    assert [(x.provider_id, x.amount_pence) for x in split_lines(earned, contract)] == [("P1", 50000), ("P2", 50000)]


def test_a_cohort_payment_names_the_dated_amount_in_force_on_its_first_day() -> None:
    # The amount is dated 2012-04-01, the measured year's first day: the line's reference names that version.
    outcome = {"type": "offending_cohort_reduction", "cohort_id": "X", "target_reduction": "10%",
               "amount": {"2012-04-01": "1000", "2013-04-01": "2000"}}
    measure = {"cohort_id": "X", "period_start": dt.date(2012, 4, 1), "period_end": dt.date(2013, 3, 31),
               "people": 10, "offences": 5, "current_rate": 0.5, "baseline_rate": 1.0, "change": -0.5,
               "target_reduction": 0.1, "met": True}
    contract = contract_with(attribution={"model": "competing"}, outcomes={"cj": outcome})
    earned = cohort_lines({"cj": [measure]}, contract, parse_period(YEAR_ONE))
    assert [(x.reference, x.amount_pence) for x in earned] == [("outcomes.cj.amount@2012-04-01", 100000)]
