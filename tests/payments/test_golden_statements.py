"""Golden payment cases (tests/cases/payments/statements/*.yaml), each checked by hand, run by one test.

A case gives `name`, `period`, `contract` (a path under contracts/ or fields over the golden base contract),
`ledger` rows (defaults: this contract, status achieved, group `all`; `count: N` repeats a row with client and
episode ids numbered 001..N), optional `episodes` (episode_id, stock_or_flow, service_line, discharge_date) and
`earlier`, and the expected `lines` (each compared on the
columns it gives, `amount` in pounds; `count` repeats), `totals` by provider and `total`, in pounds, and
optionally `unpriced` (what was due but found no amount, each compared on the columns it gives, in order).
With `input` (canonical warehouse tables -> rows, as in the outcome cases) the case is priced from a warehouse as
of `as_of` (default 2099-01-01): by `price_period` when it gives no `ledger`, else by `pay_period` on its ledger
with the warehouse's episodes, assessments and cohort measures. `earlier_periods` (labels) are priced first, in
order, each with `earlier_paid` of the ones before, and the case's period with `earlier_paid` of them all.
(They live one folder down so the outcome engine's golden runner, which reads tests/cases/*/*.yaml, skips them.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
import yaml

from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, case_warehouse
from recoverypbr.outcomes.ledger import LEDGER_COLUMNS, cohort_measures
from recoverypbr.payments import (
    PaymentLine,
    Payments,
    Period,
    earlier_paid,
    parse_period,
    pay_period,
    payment_inputs,
    pounds,
    price_period,
)
from recoverypbr.payments.limits import Earlier, EarlierKey
from recoverypbr.warehouse.connection import Warehouse

ROOT = Path(__file__).parents[2]
CASES = sorted((ROOT / "tests" / "cases" / "payments" / "statements").glob("*.yaml"))
DATES = ("contract_version", "as_of", "achieved_on", "matures_on")
LEDGER_SCHEMA = pa.schema([(c, pa.date32() if c in DATES else pa.string()) for c in LEDGER_COLUMNS])
EPISODE_SCHEMA = pa.schema(
    [
        ("episode_id", pa.string()),
        ("stock_or_flow", pa.string()),
        ("service_line", pa.string()),
        ("discharge_date", pa.date32()),
    ]
)


def case_contract(spec: Any) -> Contract:
    if isinstance(spec, str):
        return load_contract(ROOT / spec)
    return Contract.model_validate(BASE_CONTRACT | spec)


def _expand(rows: list[dict[str, Any]], numbered: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        count = row.get("count")
        if count is None:
            out.append(dict(row))
            continue
        for i in range(1, count + 1):
            copy = {k: v for k, v in row.items() if k != "count"}
            out.append(copy | {k: f"{copy[k]}{i:03d}" for k in numbered if k in copy})
    return out


def ledger_table(rows: list[dict[str, Any]], contract: Contract) -> ibis.Table:
    base = {
        "contract_area": contract.area,
        "contract_version": contract.effective_from,
        "as_of": dt.date(2099, 1, 1),
        "outcome_type": "",
        "provider_id": "P1",
        "complexity_group": "all",
        "status": "achieved",
        "matures_on": None,
        "evidence": "",
    }
    full = [base | row for row in _expand(rows, ("client_id", "episode_id"))]
    return ibis.memtable(pa.Table.from_pylist([{c: r.get(c) for c in LEDGER_COLUMNS} for r in full], LEDGER_SCHEMA))


Pricer = Callable[[Period, Earlier], Payments]


def _pricer(wh: Warehouse, case: dict[str, Any], contract: Contract) -> Pricer:
    as_of = case.get("as_of", dt.date(2099, 1, 1))
    if "input" in case and "ledger" not in case:
        return lambda period, earlier: price_period(wh, contract, period, as_of, earlier)
    episodes = None
    if "episodes" in case:
        episodes = ibis.memtable(pa.Table.from_pylist(_expand(case["episodes"], ("episode_id",)), EPISODE_SCHEMA))
    ledger = ledger_table(case.get("ledger", []), contract)
    inputs = payment_inputs(wh, as_of) if "input" in case else None
    cohort = cohort_measures(wh, contract, as_of) if "input" in case else None

    def price(period: Period, earlier: Earlier) -> Payments:
        return pay_period(wh, ledger, contract, period, episodes, earlier, inputs=inputs, cohort=cohort)

    return price


def run_case(case: dict[str, Any], target: Path | str = ":memory:") -> tuple[Contract, Payments]:
    """Price a case on the warehouse `target` (in memory by default; tests/conformance runs every engine)."""
    contract = case_contract(case["contract"])
    wh = case_warehouse(case.get("input", {}), target)
    try:
        price = _pricer(wh, case, contract)
        earlier = {
            EarlierKey(*k.split("@")): int(Decimal(str(v)) * 100) for k, v in case.get("earlier", {}).items()
        }
        so_far: list[PaymentLine] = []
        for label in case.get("earlier_periods", []):
            so_far += price(parse_period(str(label)), earlier_paid(so_far, contract)).lines
        if so_far:
            earlier = earlier_paid(so_far, contract)
        payments = price(parse_period(str(case["period"])), earlier)
    finally:
        wh.close()
    return contract, payments


def mismatches(path: Path, target: Path | str = ":memory:") -> list[str]:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    _, payments = run_case(case, target)
    where = f"{path.name}: {case['name']}: @{case['period']}"
    got = [line.as_row() | {"amount": pounds(line.amount_pence)} for line in payments.lines]
    expected = _expand(case.get("lines", []), ())
    problems = []
    if len(expected) != len(got):
        problems.append(f"{where} expected {len(expected)} lines got {len(got)}")
    for i, (want, have) in enumerate(zip(expected, got, strict=False)):
        for column, value in want.items():
            actual = have[column]
            if column == "amount":
                value = Decimal(str(value))
            if value != actual:
                problems.append(f"{where} line {i + 1} {column}: expected {value!r} got {actual!r}")
    problems += _unpriced_mismatches(where, case, payments)
    totals = {pid: pounds(p) for pid, p in payments.by_provider.items()}
    want_totals = {pid: Decimal(str(v)) for pid, v in case["totals"].items()}
    if totals != want_totals:
        problems.append(f"{where} totals: expected {want_totals} got {totals}")
    if pounds(payments.total_pence) != Decimal(str(case["total"])):
        problems.append(f"{where} total: expected {case['total']} got {pounds(payments.total_pence)}")
    return problems


def _unpriced_mismatches(where: str, case: dict[str, Any], payments: Payments) -> list[str]:
    if "unpriced" not in case:
        return []
    expected, got = case["unpriced"] or [], payments.unpriced
    problems = [] if len(expected) == len(got) else [f"{where} expected {len(expected)} unpriced got {len(got)}"]
    for i, (want, have) in enumerate(zip(expected, got, strict=False)):
        problems += [
            f"{where} unpriced {i + 1} {k}: expected {v!r} got {have.get(k)!r}"
            for k, v in want.items()
            if have.get(k) != v
        ]
    return problems


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_payment_case(path: Path) -> None:
    problems = mismatches(path)
    assert not problems, "\n".join(problems)


def test_golden_cases_exist_and_each_says_why() -> None:
    assert len(CASES) >= 8
    assert all(p.read_text(encoding="utf-8").lstrip().startswith("#") for p in CASES)
