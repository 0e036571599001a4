"""Money, periods and the limits' windows, order and payees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.contract.rules import validate
from recoverypbr.outcomes.cases import BASE_CONTRACT
from recoverypbr.outcomes.ledger import LEDGER_COLUMNS
from recoverypbr.payments import PaymentLine, allocate, parse_period, pence, pounds
from recoverypbr.payments.cohort_basis import paid_achievements
from recoverypbr.payments.limits import EarlierKey, apply_limits, limit_order
from recoverypbr.payments.lines import lines_from_arrow
from recoverypbr.payments.periods import PeriodError, window, windows
from recoverypbr.payments.pricing import outcome_table, tariff_rows, unpriced_outcomes
from recoverypbr.payments.splits import split_line
from recoverypbr.warehouse.connection import Warehouse

ROOT = dt.date(2013, 4, 1)


def contract_with(**fields: object) -> Contract:
    return Contract.model_validate(BASE_CONTRACT | {"outcomes": {}} | fields)


def line(provider: str, amount: int, day: dt.date = dt.date(2013, 5, 1)) -> PaymentLine:
    return PaymentLine(kind="outcome", provider_id=provider, reference="r", amount_pence=amount, payable_on=day)


def test_the_rounding_rule_is_half_up_to_the_penny() -> None:
    assert pence(Decimal("1236.50")) == 123650
    assert pence(Decimal("0.005")) == 1
    assert pence(Decimal("0.0049")) == 0
    assert pence(Decimal("-0.005")) == -1
    assert pounds(32767250) == Decimal("327672.50")


def test_allocate_gives_the_odd_penny_to_the_largest_remainder_then_the_first() -> None:
    assert allocate(33333, [Decimal("0.7"), Decimal("0.3")]) == [23333, 10000]
    assert allocate(10001, [1, 1]) == [5001, 5000]
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(7, [0, 0]) == [4, 3]
    with pytest.raises(ValueError):
        allocate(1, [])


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2013-Q1", dt.date(2013, 1, 1), dt.date(2013, 3, 31)),
        ("2013-Q4", dt.date(2013, 10, 1), dt.date(2013, 12, 31)),
        ("2013-02", dt.date(2013, 2, 1), dt.date(2013, 2, 28)),
        ("2013-12", dt.date(2013, 12, 1), dt.date(2013, 12, 31)),
        ("2013", dt.date(2013, 1, 1), dt.date(2013, 12, 31)),
        ("2012-04-01..2013-03-31", dt.date(2012, 4, 1), dt.date(2013, 3, 31)),
    ],
)
def test_periods_parse(text: str, start: dt.date, end: dt.date) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)


@pytest.mark.parametrize("text", ["2013-Q5", "2013-13", "13", "2013-04-01..2013-03-01", "next quarter"])
def test_bad_periods_say_how_to_write_one(text: str) -> None:
    with pytest.raises(PeriodError, match="period"):
        parse_period(text)


def test_windows_are_clipped_to_the_contract() -> None:
    contract = contract_with()
    assert window("quarter", dt.date(2012, 3, 1), contract) is None
    year = window("year", dt.date(2013, 1, 5), contract)
    assert year is not None and (year.start, year.end) == (dt.date(2012, 4, 1), dt.date(2013, 3, 31))
    assert [w.label for w in windows("month", parse_period("2013-Q2"), contract)] == ["2013-04", "2013-05", "2013-06"]
    assert [w.label for w in windows("quarter", parse_period("2012"), contract)] == ["2012-Q2", "2012-Q3", "2012-Q4"]


def test_limit_order_is_caps_then_floors_narrow_scope_then_short_window() -> None:
    contract = contract_with(
        caps={
            "overall": {"amount": 10, "period": "year"},
            "p1_month": {"amount": 10, "period": "month", "provider": "P1"},
            "p1_year": {"amount": 10, "period": "year", "provider": "P1"},
            "abst": {"amount": 10, "period": "year", "outcome": "a"},
            "p1_abst": {"amount": 10, "period": "year", "outcome": "a", "provider": "P1"},
        },
        floors={"overall": {"amount": 1, "period": "quarter"}, "p2": {"amount": 1, "period": "year", "provider": "P2"}},
    )
    assert [p for p, _ in limit_order(contract)] == [
        "caps.p1_abst",
        "caps.abst",
        "caps.p1_month",
        "caps.p1_year",
        "caps.overall",
        "floors.p2",
        "floors.overall",
    ]


def test_a_yearly_floor_waits_for_the_statement_that_ends_its_year() -> None:
    contract = contract_with(floors={"p1": {"amount": 1000, "period": "year", "provider": "P1"}})
    assert apply_limits([line("P1", 100)], contract, parse_period("2013-Q2")) == [line("P1", 100)]
    closing = apply_limits([line("P1", 100, dt.date(2014, 2, 1))], contract, parse_period("2014-Q1"), {})
    assert closing[-1].amount_pence == 100000 - 100
    earlier = {EarlierKey("floors.p1", "2013-04-01..2014-03-31", "P1"): 60000}
    closing = apply_limits([line("P1", 100, dt.date(2014, 2, 1))], contract, parse_period("2014-Q1"), earlier)
    assert closing[-1].amount_pence == 100000 - 60000 - 100


def test_a_monthly_cap_in_a_quarterly_statement_cuts_each_month() -> None:
    contract = contract_with(caps={"p1": {"amount": 1, "period": "month", "provider": "P1"}})
    lines = [line("P1", 300, dt.date(2013, 4, 2)), line("P1", 50, dt.date(2013, 5, 2)), line("P1", 400, ROOT)]
    cuts = apply_limits(lines, contract, parse_period("2013-Q2"))[3:]
    # April: 400p on the 1st (cut 300p), 300p on the 2nd (cut 300p): one line for the month, dated on its last cut.
    assert [(c.amount_pence, c.payable_on) for c in cuts] == [(-600, dt.date(2013, 4, 2))]


def test_a_top_up_nobody_earned_goes_to_the_prime() -> None:
    # The prime, even when a subcontractor is written before it; never the LASARS.
    providers = {"LAS": {"name": "L", "role": "lasars"}, "SUB": {"name": "S", "role": "subcontractor", "prime": "PR"},
                 "PR": {"name": "P", "role": "prime"}}
    contract = contract_with(
        providers=providers, attribution={"model": "prime"}, floors={"all": {"amount": 5, "period": "quarter"}}
    )
    top_up = apply_limits([], contract, parse_period("2013-Q2"))
    assert [(t.provider_id, t.amount_pence, t.kind) for t in top_up] == [("PR", 500, "floor")]


def test_the_example_contracts_tariffs_all_price_in_whole_pence() -> None:
    for path in sorted((Path(__file__).parents[2] / "contracts").glob("*.yaml")):
        for row in tariff_rows(load_contract(path)):
            assert row["t_pence"] > 0 and row["t_reference"].startswith("outcomes.")


def test_achieved_rows_without_a_tariff_are_listed_not_silently_dropped() -> None:
    contract = contract_with(
        complexity={"groups": {"low": "l", "high": "h"}},
        outcomes={
            "abstinence": {"type": "abstinence", "tariffs": {"low": 1, "high": 2}},
            "seen": {"type": "abstinence"},
        },
    )
    dates = ("contract_version", "as_of", "achieved_on", "matures_on")
    schema = pa.schema([(c, pa.date32() if c in dates else pa.string()) for c in LEDGER_COLUMNS])
    base = {c: None for c in LEDGER_COLUMNS} | {
        "contract_area": contract.area,
        "contract_version": contract.effective_from,
        "status": "achieved",
        "achieved_on": dt.date(2013, 5, 1),
        "outcome_id": "abstinence",
    }
    rows = [
        base | {"client_id": "C1", "episode_id": "E1", "complexity_group": "low"},
        base | {"client_id": "C2", "episode_id": "E2", "complexity_group": "unknown"},
        base | {"client_id": "C3", "episode_id": "E3", "complexity_group": "low", "outcome_id": "seen"},
    ]
    ledger = ibis.memtable(pa.Table.from_pylist(rows, schema))
    period = parse_period("2013-Q2")
    wh = Warehouse(":memory:")
    try:
        assert [x.client_id for x in lines_from_arrow(outcome_table(wh, ledger, contract, period))] == ["C1"]
        assert wh.to_arrow(unpriced_outcomes(ledger, contract, period)).column("client_id").to_pylist() == ["C2"]
    finally:
        wh.close()


@pytest.mark.parametrize(
    ("achieved", "expected", "paid"),
    [(6, Decimal("2.5"), 3), (3, Decimal("2.25"), 0), (2, Decimal(2), 0), (1, Decimal(2), 0), (4, Decimal(2), 2)],
)
def test_cohort_basis_pays_whole_achievements_above_the_expected_rounded_down(
    achieved: int, expected: Decimal, paid: int
) -> None:
    assert paid_achievements(achieved, expected) == paid


def test_a_cohort_basis_outcome_is_not_priced_per_client_and_its_line_is_not_shared_equally() -> None:
    contract = contract_with(
        outcomes={
            "abstinence": {"type": "abstinence", "basis": "cohort", "baseline_rates": {"all": "10%"}, "tariffs": 5},
            "reduced_offending": {
                "type": "offending_cohort_reduction",
                "cohort_id": "CJ",
                "target_reduction": "10%",
                "amount": 100,
            },
        }
    )
    dates = ("contract_version", "as_of", "achieved_on", "matures_on")
    schema = pa.schema([(c, pa.date32() if c in dates else pa.string()) for c in LEDGER_COLUMNS])
    row = {c: None for c in LEDGER_COLUMNS} | {
        "contract_area": contract.area,
        "contract_version": contract.effective_from,
        "status": "achieved",
        "achieved_on": dt.date(2013, 5, 1),
        "outcome_id": "abstinence",
        "client_id": "C1",
        "episode_id": "E1",
        "complexity_group": "all",
    }
    ledger = ibis.memtable(pa.Table.from_pylist([row], schema))
    period = parse_period("2013-Q2")
    wh = Warehouse(":memory:")
    try:
        assert lines_from_arrow(outcome_table(wh, ledger, contract, period)) == []
        assert wh.count(unpriced_outcomes(ledger, contract, period)) == 0
    finally:
        wh.close()
    by_group = line("P2", 500)._replace(kind="cohort", outcome_id="abstinence")
    measure = line("P1", 500)._replace(kind="cohort", outcome_id="reduced_offending")
    assert [(x.provider_id, x.amount_pence) for x in split_line(by_group, contract)] == [("P2", 500)]
    assert [(x.provider_id, x.amount_pence) for x in split_line(measure, contract)] == [("P1", 250), ("P2", 250)]


def test_a_one_day_period_closes_the_floor_of_its_one_day_window() -> None:
    # Years from 30 April, paid monthly: the first statement is the one day 2013-04-30 (April clipped to the
    # contract). P1's floor of £1 a month is topped up on that day for that one-day month.
    contract = contract_with(
        effective_from=dt.date(2013, 4, 30),
        years=[{"start": dt.date(2013, 4, 30), "end": dt.date(2014, 4, 29)}],
        floors={"p1": {"amount": 1, "period": "month", "provider": "P1"}},
    )
    day = parse_period("2013-04-30..2013-04-30")
    assert [(x.kind, x.amount_pence, x.payable_on) for x in apply_limits([], contract, day)] == [
        ("floor", 100, dt.date(2013, 4, 30))
    ]


def test_under_a_prime_without_a_split_a_subcontractors_line_is_paid_to_its_prime() -> None:
    providers = {"PR": {"name": "Prime", "role": "prime"},
                 "SUB": {"name": "Sub", "role": "subcontractor", "prime": "PR"}}
    contract = contract_with(providers=providers, attribution={"model": "prime"})
    parts = split_line(line("SUB", 12345), contract)
    assert [(p.provider_id, p.amount_pence) for p in parts] == [("PR", 12345)]


def test_a_split_is_used_under_the_co_dependent_model_and_refused_under_competing_providers() -> None:
    split = {"P1": Decimal("0.6"), "P2": Decimal("0.4")}
    shared = contract_with(attribution={"model": "co_dependent", "split": split})
    assert [(p.provider_id, p.amount_pence) for p in split_line(line("P1", 1000), shared)] == [("P1", 600), ("P2", 400)]
    competing = contract_with(attribution={"model": "competing", "split": split})
    assert [(p.provider_id, p.amount_pence) for p in split_line(line("P2", 1000), competing)] == [("P2", 1000)]
    assert any(p.path == "attribution.split" for p in validate(competing))
