"""Every statement line says what it pays for in words beside its contract path (issue 11, defect 12, second half):
`outcomes.abstinence.tariffs.low` is also "Abstinence, low complexity, £300.00 (contract 2012-04-01)"."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.cases import BASE_CONTRACT
from recoverypbr.payments.statements import LINE_HEADER
from recoverypbr.payments.words import reference_words

ROOT = Path(__file__).parents[2]


def _golden() -> ModuleType:
    """The golden payment cases' runner (tests/payments/test_golden_statements.py), loaded by its path."""
    path = ROOT / "tests" / "payments" / "test_golden_statements.py"
    spec = importlib.util.spec_from_file_location("golden_statements", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _golden()


def _case(name: str) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "tests/cases/payments/statements" / f"{name}.yaml").read_text())
    return found


def test_the_words_column_sits_beside_the_reference() -> None:
    assert LINE_HEADER[LINE_HEADER.index("reference") + 1] == "reference_words"


def test_an_outcome_line_in_words() -> None:
    contract, payments = GOLDEN.run_case(_case("unpriced_says_why_in_words"))
    (line,) = payments.lines
    assert line.reference == "outcomes.abstinence.tariffs.low"
    assert reference_words(contract, line.reference, line.kind) == (
        "Abstinence, low complexity, £300.00 (contract 2012-04-01)")


def test_dated_values_factors_and_limits_in_words() -> None:
    contract = Contract.model_validate(BASE_CONTRACT | {
        "outcomes": {"abstinence": {"type": "abstinence",
                                    "tariffs": {"all": {"2012-04-01": "100", "2013-01-01": "600"}}}},
        "uplifts": {"whole_family": {"when": [{"field": "parent_or_carer", "equals": True}], "factor": "1.25",
                                     "label": "whole-family approach"}},
        "caps": {"p1": {"provider": "P1", "amount": "250000", "period": "year"}},
        "floors": {"p2": {"provider": "P2", "amount": "1500.5", "period": "quarter", "label": "cash flow"}},
    })
    said = {ref: reference_words(contract, ref, kind) for kind, ref in [
        ("outcome", "outcomes.abstinence.tariffs.all@2013-01-01 x uplifts.whole_family=1.25"),
        ("cap", "caps.p1.amount"),
        ("floor", "floors.p2.amount"),
        ("adjustment", "outcomes.abstinence.tariffs.all@2012-04-01"),
    ]}
    assert list(said.values()) == [
        "Abstinence, every complexity group, £600.00 x 1.25 (uplift: whole-family approach) (from 2013-01-01, "
        "contract 2012-04-01)",
        "Cap: provider P1's yearly cap, £250,000.00 (contract 2012-04-01)",
        "Floor: provider P2's quarterly floor (cash flow), £1,500.50 (contract 2012-04-01)",
        "Adjustment to an approved statement: Abstinence, every complexity group, £100.00 (from 2012-04-01, "
        "contract 2012-04-01)",
    ]


@pytest.mark.parametrize("path", GOLDEN.CASES, ids=lambda p: p.stem)
def test_every_golden_line_says_what_it_pays_for(path: Path) -> None:
    """Every kind of line (outcomes, payment points, cohort, fees, incentives, caps, floors, funds, domain weights,
    the share on results): words read from the contract, with the amount, never the path's parts as a fallback."""
    contract, payments = GOLDEN.run_case(yaml.safe_load(path.read_text(encoding="utf-8")))
    for line in payments.lines:
        said = reference_words(contract, line.reference, line.kind)
        assert said[:1].isupper() and "£" in said and f"contract {contract.effective_from}" in said, (
            line.reference, said)
