"""The example contracts: each validates, money is exact, and `explain` reads back the design's distinguishing
feature (the phrases come from the model, not from the free-text `feature:` field)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from recoverypbr.contract import check_contract, explain, load_contract, tariff_on, value_on
from recoverypbr.contract.outcomes import AllOf, NoRepresentation, OutcomeCommon

CONTRACTS = Path(__file__).parents[2] / "contracts"
EXAMPLES = sorted(CONTRACTS.glob("*.yaml"))
PILOTS = ("bracknell-forest", "enfield", "kent", "lincolnshire", "oxfordshire", "stockport", "wakefield", "wigan")

#: Per example, phrases `explain` must contain: the design's distinguishing feature, read back from the model.
FEATURES = {
    "marlshire": [
        "Each payment is shared: Marlshire Recovery Partnership 70% and Brackton Community Drug and Alcohol Service "
        "30%",
        "When a new client (flow) starts treatment: low £50, medium £75, high £100",
        "at least £5,000 a quarter to Brackton Community Drug and Alcohol Service",
    ],
    "bracknell-forest": [
        "One prime provider",
        "reduced offending 40%",
        "fall by at least 25% against its baseline",
        "In year 1 that is at most free from drug(s) of dependence £108,000, reduced offending £96,000",
        "can earn at most £80,000 a year, so the reduced offending domain's £96,000 is never all paid",
        "multiplied by 1.25 when parent or carer is yes (whole-family approach)",
        "The LASARS sits in the commissioner (Bracknell Forest DAAT)",
    ],
    "enfield": [
        "15 outcomes are paid: 6 national and 9 local",
        "Paid from the fund 'pct' (additional funding from the PCT for the local outcomes), outside the share on "
        "results",
        "Fund 'pct' (additional funding from the PCT for the local outcomes): at most £60,000 a year, paying 9 "
        "outcomes outside the budget",
        "Payments for Reduction in average offending compared to baseline (cohort) are shared: "
        "Enfield Integrated Offender Management 60% and Enfield Recovery Service 40%",
    ],
    "kent": [
        "7 of the 8 paid outcomes are paid only once the client achieves "
        "'Progress on the full range of the client's needs'",
        "a need the client did not have at the start counts as met",
        "Paid only once 'Progress on the full range of the client's needs' is achieved",
    ],
    "lincolnshire": [
        "2 providers deliver the same service in competition, and each is paid for its own clients",
        "Already delivering the service before this contract (current providers)",
        "The LASARS sits in the providers",
        "audited by an independent auditor, sampling 10% of assessments",
        "clients in treatment at go-live",
    ],
    "oxfordshire": [
        "Moving a client from harm minimisation into recovery",
        "An independent LASARS (Aquarius)",
        "paid to Oxfordshire Harm Minimisation Service 75% and Oxfordshire Recovery Service 25%",
    ],
    "stockport": [
        "4 providers are not in competition: each client group is assigned to one provider",
        "young people aged 18-25 (aged 18 to 25) -> Stockport Young Adults Service",
        "prescribing (service line prescribing) -> Stockport Prescribing Service",
        "psychosocial (service line psychosocial) -> Stockport Psychosocial Service",
        "(aged 26 or over) -> Stockport 26+ Service",
        "Rule 1: currently injecting and using opiates and crack -> high",
    ],
    "wakefield": [
        "2 co-dependent providers share every outcome payment by a stated split",
        "In paid work (the local employment metric) (local, final): paid work days at least 10",
        "Assessments are audited by the commissioner (DAAT)",
    ],
    "wigan": [
        "3 providers deliver the same service in competition",
        "on a cohort basis, for each achievement above the baseline rate",
        "for 6 months after discharge",
        "1 contract year,",
        "The auditor also agrees payments before they are made",
    ],
    "worcestershire": [
        "budget £4,000,000, 25% paid on results, so £1,000,000 is at risk",
        "budget £4,000,000, 30% paid on results, so £1,200,000 is at risk",
        "budget £4,000,000, 40% paid on results, so £1,600,000 is at risk",
        "Recovery plan agreed and identified (predicted 1,819) -> Demonstrate improvement against TOPs (predicted "
        "1,364) -> Achieve identified goals (predicted 1,023) -> Achieve drug free or occasional use (predicted 329)",
        "(predicted 265; payment point: £1,236.50 per outcome, up to a maximum of £327,672.50 (265 x £1,236.50))",
    ],
}


def test_there_is_an_example_for_every_pilot_and_worcestershire() -> None:
    assert {f.stem for f in EXAMPLES} == {*PILOTS, "worcestershire", "marlshire"}
    assert set(FEATURES) == {f.stem for f in EXAMPLES}


@pytest.mark.parametrize("file", EXAMPLES, ids=[f.stem for f in EXAMPLES])
def test_every_example_validates(file: Path) -> None:
    contract, report = check_contract(file)
    assert report.ok, "\n".join(f"{p.where()}: {p.message}" for p in report.problems)
    assert contract is not None


@pytest.mark.parametrize("file", EXAMPLES, ids=[f.stem for f in EXAMPLES])
def test_explain_reads_back_the_distinguishing_feature(file: Path) -> None:
    text = explain(load_contract(file))
    for phrase in FEATURES[file.stem]:
        assert phrase in text, f"{file.stem}: {phrase!r} missing from:\n{text}"


@pytest.mark.parametrize("file", [f for f in EXAMPLES if f.stem in PILOTS], ids=list(PILOTS))
def test_pilot_figures_the_seeds_do_not_give_are_marked_illustrative(file: Path) -> None:
    contract = load_contract(file)
    marked = set(contract.illustrative)
    assert {"budget", "share_on_results", "complexity", "outcomes", "caps", "floors"} <= marked
    assert "payment_schedule" in marked


def test_worcestershire_money_is_exact() -> None:
    contract = load_contract(CONTRACTS / "worcestershire.yaml")
    payment = contract.funnels["adult_drugs_tier_3"].milestones["sustained_and_planned_discharge"].payment
    assert payment is not None and payment.maximum is not None
    price, maximum = value_on(payment.unit_price, contract.start), value_on(payment.maximum, contract.start)
    assert (price, maximum) == (Decimal("1236.50"), Decimal("327672.50"))
    assert isinstance(price, Decimal) and str(price) == "1236.50"  # the text of the file, not a binary float
    assert price * 265 == maximum
    at_risk = [contract.at_risk(year.start) for year in contract.years]
    assert at_risk == [Decimal("1000000.00"), Decimal("1200000.00"), Decimal("1600000.00")]
    assert [m.predicted for m in contract.funnels["adult_drugs_tier_3"].milestones.values()] == [
        1819, 1364, 1023, 329, 265]


def test_dated_values_are_in_force_from_their_date() -> None:
    contract = load_contract(CONTRACTS / "worcestershire.yaml")
    share = contract.share_on_results
    assert value_on(share, date(2012, 3, 31)) is None
    assert value_on(share, date(2012, 4, 1)) == Decimal("0.25")
    assert value_on(share, date(2013, 3, 31)) == Decimal("0.25")
    assert value_on(share, date(2013, 4, 1)) == Decimal("0.30")
    assert value_on(share, date(2030, 1, 1)) == Decimal("0.40")
    cap = load_contract(CONTRACTS / "bracknell-forest.yaml").caps["overall"].amount
    assert value_on(cap, date(2013, 6, 1)) == Decimal(360000)


def test_distinguishing_structures() -> None:
    kent = load_contract(CONTRACTS / "kent.yaml")
    gate = kent.outcomes["needs_progress"]
    assert isinstance(gate, AllOf) and gate.when_not_applicable == "met"
    wigan = load_contract(CONTRACTS / "wigan.yaml")
    representation = wigan.outcomes["no_representation"]
    assert isinstance(representation, NoRepresentation) and representation.window_months == 6
    assert representation.matures_after_months == 6
    assert all(o.basis == "cohort" for o in wigan.outcomes.values() if isinstance(o, OutcomeCommon))
    assert len(wigan.years) == 1 and len(wigan.providers) == 3
    hepatitis = wigan.outcomes["hepatitis_b"]
    assert isinstance(hepatitis, OutcomeCommon) and hepatitis.tariffs is not None
    assert tariff_on(hepatitis.tariffs, "high", wigan.start) == Decimal(150)  # one amount for every group
    stockport = load_contract(CONTRACTS / "stockport.yaml")
    assert stockport.attribution.model == "assigned" and len(stockport.attribution.assignments) == 4
    assert load_contract(CONTRACTS / "wakefield.yaml").attribution.model == "co_dependent"
    assert load_contract(CONTRACTS / "oxfordshire.yaml").incentives
