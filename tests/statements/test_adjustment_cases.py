"""Statement scenarios (tests/cases/payments/adjustments/*.yaml), each checked by hand, run step by step.

A scenario gives `contract` fields over the golden base contract, `input` rows, and `steps`: `pay` a period (as of
its last day unless `as_of` is given) and compare each provider's statement (`lines` on the columns each gives,
amounts in pounds; `total`; `paid_this_year`), or check `same_as_approved`; `approve` a period `by` someone `at` a
time; `add` rows to the warehouse (data loaded late).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows, case_warehouse
from recoverypbr.payments.approval import approved_statements, document_text
from recoverypbr.payments.run import approve_statements, make_statements, statement_period
from recoverypbr.reports.files import lines_csv
from recoverypbr.warehouse.connection import Warehouse

ROOT = Path(__file__).parents[2]
CASES = sorted((ROOT / "tests" / "cases" / "payments" / "adjustments").glob("*.yaml"))


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _add(wh: Warehouse, tables: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in tables.items():
        staged = wh.register_arrow(f"_late_{name}", arrow_rows(name, rows))
        wh.insert(name, staged)
        wh.unregister(f"_late_{name}")


def _check_pay(wh: Warehouse, contract: Contract, step: dict[str, Any], label: str) -> None:
    period = statement_period(contract, step["pay"])
    made = {s.provider_id: s for s in make_statements(wh, contract, period, step.get("as_of"))}
    if step.get("same_as_approved"):
        stored = approved_statements(wh, contract)
        for pid, statement in made.items():
            assert statement.status == "approved", f"{label}: {pid} {period.label} should be approved"
            assert document_text(statement.document()) == stored[(pid, period.label)].document_text, label
        return
    for pid, expected in step["statements"].items():
        document = made[pid].document()
        rows = document["lines"]
        assert len(rows) == len(expected["lines"]), f"{label}: {pid} {period.label} lines {rows}"
        for got, want in zip(rows, expected["lines"], strict=True):
            for column, value in want.items():
                assert _text(got[column]) == _text(value), f"{label}: {pid} line {got['line_no']} {column}"
        assert document["totals"]["total"] == expected["total"], f"{label}: {pid} total"
        if "paid_this_year" in expected:
            assert document["year_to_date"]["paid_to_date"] == expected["paid_this_year"], f"{label}: {pid} ytd"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_statement_scenario(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    contract = Contract.model_validate(BASE_CONTRACT | case["contract"])
    wh = case_warehouse(case["input"])
    try:
        for number, step in enumerate(case["steps"], start=1):
            label = f"{path.name}: step {number}"
            if "pay" in step:
                _check_pay(wh, contract, step, label)
            elif "approve" in step:
                period = statement_period(contract, step["approve"])
                made = make_statements(wh, contract, period, step.get("as_of"))
                approve_statements(wh, made, step["by"], step["at"])
            elif "add" in step:
                _add(wh, step["add"])
    finally:
        wh.close()


def test_scenarios_exist() -> None:
    assert CASES, "no statement scenarios found"


def test_csv_is_made_from_the_document() -> None:
    document = {"lines": [{"line_no": 1, "kind": "outcome", "provider_id": "P1", "client_id": "C1", "episode_id": "E1",
                           "outcome_id": "x", "complexity_group": "all", "stock_or_flow": "flow",
                           "payable_on": "2013-05-15", "amount": "1000.00", "reference": "r",
                           "reference_words": "r in words", "evidence": "e", "corrects": "", "share": "", "whole": "",
                           "adjusts": ""}]}
    text = lines_csv(document).decode()
    assert text.splitlines()[1] == "1,outcome,P1,C1,E1,x,all,flow,2013-05-15,1000.00,r,r in words,e,,,,"
