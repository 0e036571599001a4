"""Contracts as code: the local payment-by-results model as a validated, versioned YAML file.

`load_contract(path)` reads and validates a file (raising `ContractInvalid` with every problem);
`check_contract(path)` returns the contract and a `Report` instead; `explain(contract)` gives the plain-English
account; `contract_json_schema()` the JSON Schema for editors.
"""

from __future__ import annotations

from recoverypbr.contract.explain import explain
from recoverypbr.contract.load import ContractInvalid, check_contract, check_text, load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.contract.rules import Problem, Report, validate
from recoverypbr.contract.schema import contract_json_schema
from recoverypbr.contract.types import tariff_on, value_on

__all__ = [
    "Contract",
    "ContractInvalid",
    "Problem",
    "Report",
    "check_contract",
    "check_text",
    "contract_json_schema",
    "explain",
    "load_contract",
    "tariff_on",
    "validate",
    "value_on",
]
