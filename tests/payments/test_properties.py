"""Invariants of payments (hypothesis): parts sum to wholes, caps and floors hold, results money stays within the
share of the budget paid on results (unless floors top it up), nothing is paid that the ledger does not show
achieved, running twice gives the same lines, and quarters priced one by one with `earlier_paid` pay what the year
pays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse
from recoverypbr.outcomes.ledger import LEDGER_COLUMNS
from recoverypbr.payments import PaymentLine, allocate, earlier_paid, parse_period, pay_period, payment_inputs
from recoverypbr.payments.limits import apply_limits, limit_order, scope_of
from recoverypbr.payments.lines import total
from recoverypbr.payments.periods import windows
from recoverypbr.payments.splits import split_line, split_lines
from recoverypbr.warehouse.connection import Warehouse

PERIOD = parse_period("2013-Q2")
PROVIDERS = ["P1", "P2", "P3"]
OUTCOMES = ["abstinence", "successful_completion"]
STATUSES = ["achieved", "pending_maturation", "not_achieved", "not_eligible"]
DATES = ("contract_version", "as_of", "achieved_on", "matures_on")
LEDGER_SCHEMA = pa.schema([(c, pa.date32() if c in DATES else pa.string()) for c in LEDGER_COLUMNS])
TARIFFS = {"abstinence": {"low": Decimal("333.33"), "high": Decimal("1000")}, "successful_completion": Decimal("250")}


def contract_with(**fields: Any) -> Contract:
    providers = {p: {"name": p, "role": "provider"} for p in PROVIDERS}
    outcomes = {
        "abstinence": {"type": "abstinence", "tariffs": TARIFFS["abstinence"]},
        "successful_completion": {"type": "successful_completion", "tariffs": TARIFFS["successful_completion"]},
    }
    return Contract.model_validate(BASE_CONTRACT | {"providers": providers, "outcomes": outcomes} | fields)


days = st.dates(min_value=dt.date(2013, 1, 1), max_value=dt.date(2013, 9, 30))
pence_amounts = st.integers(min_value=1, max_value=500_000)
lines = st.lists(
    st.builds(
        lambda provider, outcome, amount, day, n: PaymentLine(
            kind="outcome",
            provider_id=provider,
            outcome_id=outcome,
            amount_pence=amount,
            payable_on=day,
            reference=f"outcomes.{outcome}.tariffs.all",
            client_id=f"C{n}",
        ),
        st.sampled_from(PROVIDERS),
        st.sampled_from(OUTCOMES),
        pence_amounts,
        st.dates(min_value=PERIOD.start, max_value=PERIOD.end),
        st.integers(0, 10_000),
    ),
    max_size=30,
)
limit = st.fixed_dictionaries(
    {
        "amount": st.integers(min_value=0, max_value=2_000_000).map(lambda p: Decimal(p) / 100),
        "period": st.sampled_from(["month", "quarter"]),
    },
    optional={"provider": st.sampled_from(PROVIDERS), "outcome": st.sampled_from(OUTCOMES)},
)
limits = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), limit, max_size=4)


@given(st.integers(min_value=-(10**9), max_value=10**9), st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_allocated_parts_sum_exactly_and_stay_within_a_penny(whole: int, weights: list[int]) -> None:
    parts = allocate(whole, weights)
    assert sum(parts) == whole
    total_weight = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(whole) * (Decimal(weight) / total_weight if total_weight else Decimal(1) / len(weights))
        assert abs(Decimal(part) - exact) < 1


@given(lines, st.lists(st.integers(1, 100), min_size=1, max_size=3))
def test_split_parts_sum_exactly_to_each_line(earned: list[PaymentLine], weights: list[int]) -> None:
    shares = {p: Decimal(w) / sum(weights) for p, w in zip(PROVIDERS, weights, strict=False)}
    contract = contract_with(attribution={"model": "co_dependent", "split": shares})
    assert total(split_lines(earned, contract)) == total(earned)
    for line in earned:
        parts = split_line(line, contract)
        assert total(parts) == line.amount_pence
        assert {p.whole_pence for p in parts} == {line.amount_pence}
        assert all(p.amount_pence >= 0 for p in parts)


def _in_scope(result: list[PaymentLine], contract: Contract, path: str) -> list[tuple[int, int, int]]:
    """(total in scope, the limit, top-ups in scope) for each window of the limit."""
    found = []
    for p, lim in limit_order(contract):
        if p != path:
            continue
        scope = scope_of(path, lim, contract)
        for w in windows(lim.period, PERIOD, contract):
            mine = [line for line in result if scope.test(line) and w.contains(line.payable_on)]
            top_ups = sum(line.amount_pence for line in mine if line.kind == "floor")
            found.append((total(mine), int(next(iter(lim.amount.values())) * 100), top_ups))
    return found


@given(lines, limits)
def test_no_total_exceeds_its_cap(earned: list[PaymentLine], caps: dict[str, Any]) -> None:
    contract = contract_with(caps=caps)
    result = apply_limits(earned, contract, PERIOD)
    assert all(line.amount_pence < 0 for line in result[len(earned) :])
    for cap_id in caps:
        for got, cap, _ in _in_scope(result, contract, f"caps.{cap_id}"):
            assert got <= cap


@given(lines, limits)
def test_floors_hold(earned: list[PaymentLine], floors: dict[str, Any]) -> None:
    contract = contract_with(floors=floors)
    result = apply_limits(earned, contract, PERIOD)
    assert all(line.amount_pence > 0 for line in result[len(earned) :])
    for floor_id in floors:
        for got, floor, _ in _in_scope(result, contract, f"floors.{floor_id}"):
            assert got >= floor


@given(lines, limits, limits)
def test_with_caps_and_floors_floors_hold_and_caps_are_passed_only_by_top_ups(
    earned: list[PaymentLine], caps: dict[str, Any], floors: dict[str, Any]
) -> None:
    contract = contract_with(caps=caps, floors=floors)
    result = apply_limits(earned, contract, PERIOD)
    assert apply_limits(earned, contract, PERIOD) == result
    for floor_id in floors:
        assert all(got >= floor for got, floor, _ in _in_scope(result, contract, f"floors.{floor_id}"))
    for cap_id in caps:
        assert all(got - top <= cap for got, cap, top in _in_scope(result, contract, f"caps.{cap_id}"))


ledger_rows = st.lists(
    st.fixed_dictionaries(
        {
            "outcome_id": st.sampled_from([*OUTCOMES, "measured_only"]),
            "provider_id": st.sampled_from(PROVIDERS),
            "complexity_group": st.sampled_from(["low", "high"]),
            "status": st.sampled_from(STATUSES),
            "achieved_on": days,
            "matures_on": st.one_of(st.none(), days),
        }
    ),
    max_size=25,
)


def _ledger(rows: list[dict[str, Any]], contract: Contract) -> ibis.Table:
    full = [
        {c: None for c in LEDGER_COLUMNS}
        | {"contract_area": contract.area, "contract_version": contract.effective_from, "evidence": f"row:{i}"}
        | {"client_id": f"C{i}", "episode_id": f"E{i}"}
        | row
        for i, row in enumerate(rows)
    ]
    return ibis.memtable(pa.Table.from_pylist(full, LEDGER_SCHEMA))


@pytest.fixture(scope="module")
def memory_wh() -> Iterator[Warehouse]:
    wh = Warehouse(":memory:")
    yield wh
    wh.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ledger_rows, caps=limits)
def test_only_achieved_outcomes_are_paid_at_their_tariff_and_reruns_are_identical(
    memory_wh: Warehouse, rows: list[dict[str, Any]], caps: dict[str, Any]
) -> None:
    contract = contract_with(
        complexity={"groups": {"low": "fewer needs", "high": "many needs"}},
        outcomes={
            "abstinence": {"type": "abstinence", "tariffs": TARIFFS["abstinence"]},
            "successful_completion": {"type": "successful_completion", "tariffs": TARIFFS["successful_completion"]},
            "measured_only": {"type": "abstinence"},
        },
        caps=caps,
    )
    first = pay_period(memory_wh, _ledger(rows, contract), contract, PERIOD)
    again = pay_period(memory_wh, _ledger(rows, contract), contract, PERIOD)
    assert first.lines == again.lines
    assert first.unpriced == []
    assert sum(first.by_provider.values()) == first.total_pence == total(first.lines)
    by_evidence = {f"row:{i}": row for i, row in enumerate(rows)}
    for line in first.lines:
        if line.kind != "outcome":
            continue
        row = by_evidence[line.evidence]
        assert row["status"] == "achieved" and row["outcome_id"] != "measured_only"
        assert PERIOD.contains(row["matures_on"] or row["achieved_on"])
        tariff = TARIFFS[row["outcome_id"]]
        amount = tariff[row["complexity_group"]] if isinstance(tariff, dict) else tariff
        assert line.amount_pence == int(amount * 100)
    paid = [
        r
        for r in rows
        if r["status"] == "achieved"
        and r["outcome_id"] != "measured_only"
        and (r["matures_on"] or r["achieved_on"])
        and PERIOD.contains(r["matures_on"] or r["achieved_on"])
    ]
    assert len([line for line in first.lines if line.kind == "outcome"]) == len(paid)


YEAR_ONE = parse_period("2012-04-01..2013-03-31")
QUARTERS = [parse_period(q) for q in ("2012-Q2", "2012-Q3", "2012-Q4", "2013-Q1")]
RESULTS_KINDS = ["outcome", "payment_point", "cohort", "attachment_fee", "incentive"]
year_lines = st.lists(
    st.builds(
        lambda kind, provider, outcome, amount, day, n: PaymentLine(
            kind=kind,
            provider_id=provider,
            outcome_id=outcome if kind == "outcome" else None,
            amount_pence=amount,
            payable_on=day,
            reference=f"r{n}",
            client_id=f"C{n}",
        ),
        st.sampled_from(RESULTS_KINDS),
        st.sampled_from(PROVIDERS),
        st.sampled_from(OUTCOMES),
        pence_amounts,
        st.dates(min_value=YEAR_ONE.start, max_value=YEAR_ONE.end),
        st.integers(0, 10_000),
    ),
    max_size=30,
)
year_limit = st.fixed_dictionaries(
    {
        "amount": st.integers(min_value=0, max_value=5_000_000).map(lambda p: Decimal(p) / 100),
        "period": st.sampled_from(["quarter", "year", "contract"]),
    },
    optional={"provider": st.sampled_from(PROVIDERS), "outcome": st.sampled_from(OUTCOMES)},
)
budgets = st.integers(min_value=1, max_value=10_000_000).map(lambda p: Decimal(p) / 100)
shares = st.integers(min_value=0, max_value=100).map(lambda p: Decimal(p) / 100)


@given(year_lines, st.dictionaries(st.sampled_from(["a", "b", "c"]), year_limit, max_size=3), limits, budgets, shares)
def test_results_money_never_exceeds_the_share_on_results_except_by_floors(
    earned: list[PaymentLine], caps: dict[str, Any], floors: dict[str, Any], budget: Decimal, share: Decimal
) -> None:
    contract = contract_with(caps=caps, floors=floors, budget=budget, share_on_results=share)
    result = apply_limits(earned, contract, YEAR_ONE)
    assert apply_limits(earned, contract, YEAR_ONE) == result
    top_ups = total(line for line in result if line.kind == "floor")
    assert total(result) - top_ups <= int(budget * share * 100 + Decimal("0.5"))
    assert all(line.amount_pence > 0 for line in result if line.kind == "floor")


@given(year_lines, st.dictionaries(st.sampled_from(["a", "b", "c"]), year_limit, max_size=3), budgets, shares)
def test_quarter_by_quarter_with_earlier_paid_pays_what_the_year_pays(
    earned: list[PaymentLine], caps: dict[str, Any], budget: Decimal, share: Decimal
) -> None:
    contract = contract_with(caps=caps, budget=budget, share_on_results=share)
    so_far: list[PaymentLine] = []
    for quarter in QUARTERS:
        mine = [line for line in earned if quarter.contains(line.payable_on)]
        so_far += apply_limits(mine, contract, quarter, earlier_paid(so_far, contract))
    year = apply_limits(earned, contract, YEAR_ONE)
    assert total(so_far) == total(year)
    for path, lim in limit_order(contract):
        scope = scope_of(path, lim, contract)
        mine = [line for line in so_far if scope.test(line)]
        assert total(mine) <= max(total(line for line in earned if scope.test(line)), 0)


episode_rows = st.lists(
    st.fixed_dictionaries(
        {
            "provider_id": st.sampled_from(PROVIDERS),
            "service_line": st.sampled_from(["harm minimisation", "recovery"]),
            "start_date": st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2013, 9, 30)),
            "stock_or_flow": st.sampled_from(["stock", "flow", None]),
            "ended_after": st.one_of(st.none(), st.integers(0, 200)),
            "parent": st.booleans(),
        }
    ),
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=episode_rows, budget=budgets)
def test_fees_incentives_and_uplifts_sum_to_totals_stay_in_the_share_and_rerun_identically(
    rows: list[dict[str, Any]], budget: Decimal
) -> None:
    contract = contract_with(
        budget=budget,
        outcomes={"abstinence": {"type": "abstinence", "tariffs": "100.01"}},
        uplifts={"family": {"when": [{"field": "parent_or_carer", "equals": True}], "factor": "1.125"}},
        attachment_fees={"flow": "50.05", "stock": "20"},
        incentives={
            "move": {
                "from_service": {"service_line": "harm minimisation"},
                "to_service": {"service_line": "recovery"},
                "amount": "75.25",
                "split": {"P1": "50%", "P2": "50%"},
            }
        },
    )
    episodes, assessments, ledger_rows = [], [], []
    for i, row in enumerate(rows):
        ended = row["start_date"] + dt.timedelta(days=row["ended_after"]) if row["ended_after"] is not None else None
        episodes.append(
            {
                "episode_id": f"E{i}",
                "client_id": f"C{i % 4}",
                "provider_id": row["provider_id"],
                "service_line": row["service_line"],
                "start_date": row["start_date"],
                "discharge_date": ended,
                "stock_or_flow": row["stock_or_flow"],
            }
        )
        assessments.append(
            {
                "assessment_id": f"A{i}",
                "client_id": f"C{i % 4}",
                "assessed_on": row["start_date"],
                "parent_or_carer": row["parent"],
            }
        )
        ledger_rows.append(
            {
                "outcome_id": "abstinence",
                "provider_id": row["provider_id"],
                "complexity_group": "all",
                "status": "achieved",
                "achieved_on": row["start_date"],
                "matures_on": None,
            }
        )
    wh = case_warehouse({"episodes": episodes, "assessments": assessments})
    try:
        inputs = payment_inputs(wh, dt.date(2099, 1, 1))
        first = pay_period(wh, _ledger(ledger_rows, contract), contract, YEAR_ONE, inputs=inputs)
        again = pay_period(wh, _ledger(ledger_rows, contract), contract, YEAR_ONE, inputs=inputs)
    finally:
        wh.close()
    assert first.lines == again.lines
    assert sum(first.by_provider.values()) == first.total_pence == total(first.lines)
    assert first.total_pence <= int(budget * Decimal("0.2") * 100 + Decimal("0.5"))
    fees = [line for line in first.lines if line.kind == "attachment_fee"]
    taken_on = [contract.start if e["stock_or_flow"] == "stock" else e["start_date"] for e in episodes]
    expected = [day for day in taken_on if YEAR_ONE.contains(day)]
    assert len(fees) == len(expected)
    assert all(line.amount_pence in (11251, 10001) for line in first.lines if line.kind == "outcome")


gated_rows = st.lists(
    st.fixed_dictionaries(
        {
            "outcome_id": st.sampled_from(["abstinence", "needs_progress"]),
            "client_id": st.sampled_from(["A", "B", "C", "D"]),
            "status": st.sampled_from(["achieved", "achieved", "not_achieved"]),
            "achieved_on": st.dates(min_value=YEAR_ONE.start, max_value=YEAR_ONE.end),
        }
    ),
    max_size=20,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=gated_rows)
def test_a_gated_outcome_is_paid_once_the_client_has_its_gate_never_before_and_never_twice(
    memory_wh: Warehouse, rows: list[dict[str, Any]]
) -> None:
    contract = contract_with(
        outcomes={
            "needs_progress": {"type": "all_of", "outcomes": ["abstinence"]},
            "abstinence": {"type": "abstinence", "gate": "needs_progress", "tariffs": "100"},
        }
    )
    for row in rows:
        row["provider_id"], row["complexity_group"] = "P1", "all"
        row["achieved_on"] = row["achieved_on"] if row["status"] == "achieved" else None
    ledger = _ledger(rows, contract)
    paid: list[PaymentLine] = []
    for quarter in QUARTERS:
        payments = pay_period(memory_wh, ledger, contract, quarter)
        assert payments.unpriced == []
        assert all(quarter.contains(line.payable_on) for line in payments.lines)
        paid += payments.lines
    gate_on = {}
    for r in rows:
        if r["outcome_id"] == "needs_progress" and r["status"] == "achieved":
            gate_on[r["client_id"]] = min(gate_on.get(r["client_id"], r["achieved_on"]), r["achieved_on"])
    due = {
        f"row:{i}": max(r["achieved_on"], gate_on[r["client_id"]])
        for i, r in enumerate(rows)
        if r["outcome_id"] == "abstinence" and r["status"] == "achieved" and r["client_id"] in gate_on
    }
    got = {line.evidence.split(";")[0]: line.payable_on for line in paid}
    assert len(got) == len(paid) and got == due


cohort_rows = st.lists(
    st.fixed_dictionaries(
        {
            "provider_id": st.sampled_from(PROVIDERS),
            "complexity_group": st.sampled_from(["low", "high"]),
            "status": st.sampled_from(["achieved", "not_achieved", "pending_maturation"]),
            "matures_on": st.dates(min_value=PERIOD.start, max_value=PERIOD.end),
        }
    ),
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=cohort_rows, low=st.integers(0, 100), high=st.integers(0, 100))
def test_cohort_basis_pays_whole_achievements_above_the_baseline_per_provider_and_group(
    memory_wh: Warehouse, rows: list[dict[str, Any]], low: int, high: int
) -> None:
    rates = {"low": Decimal(low) / 100, "high": Decimal(high) / 100}
    tariffs = {"low": Decimal("333.33"), "high": Decimal("1000")}
    contract = contract_with(
        complexity={"groups": {"low": "fewer needs", "high": "many needs"}},
        outcomes={
            "no_representation": {
                "type": "no_representation_12m",
                "basis": "cohort",
                "baseline_rates": rates,
                "tariffs": tariffs,
            }
        },
    )
    for row in rows:
        row["outcome_id"] = "no_representation"
        row["achieved_on"] = row["matures_on"] if row["status"] == "achieved" else None
    payments = pay_period(memory_wh, _ledger(rows, contract), contract, PERIOD)
    assert payments.unpriced == [] and all(line.kind == "cohort" for line in payments.lines)
    got = {(line.provider_id, line.complexity_group): line.amount_pence for line in payments.lines}
    want = {}
    for key in {(r["provider_id"], r["complexity_group"]) for r in rows}:
        cohort = [r for r in rows if (r["provider_id"], r["complexity_group"]) == key]
        achieved = sum(r["status"] == "achieved" for r in cohort)
        decided = sum(r["status"] != "pending_maturation" for r in cohort)
        above = achieved - rates[key[1]] * decided
        if above >= 1:
            want[key] = int(above) * int(tariffs[key[1]] * 100)
    assert got == want
