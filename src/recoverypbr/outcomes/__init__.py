"""Outcome engine: every national and local outcome of a contract, per client and episode, as of a date.

`evaluate(wh, contract, as_of)` gives the outcome ledger as an Ibis expression; `build_ledger` stores it in the
warehouse's `outcome_ledger`; `explain_decision` says one client's decision in plain words with its evidence.
"""

from __future__ import annotations

from recoverypbr.outcomes.frame import ACHIEVED, NOT_ACHIEVED, NOT_ELIGIBLE, PENDING, STATUSES
from recoverypbr.outcomes.inputs import Inputs, as_of_inputs, warehouse_inputs
from recoverypbr.outcomes.ledger import LEDGER_COLUMNS, build_ledger, cohort_measures, evaluate, ledger

__all__ = [
    "ACHIEVED",
    "LEDGER_COLUMNS",
    "NOT_ACHIEVED",
    "NOT_ELIGIBLE",
    "PENDING",
    "STATUSES",
    "Inputs",
    "as_of_inputs",
    "build_ledger",
    "cohort_measures",
    "evaluate",
    "ledger",
    "warehouse_inputs",
]
