"""Every outcome golden case (tests/cases/*/*.yaml) gives the same ledger on every engine (conftest.ENGINES), and the
stored ledger is the evaluated one on each. The runner is tests/outcomes/test_golden_cases.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
from outcomes.test_golden_cases import CASE_FILES, check_stored_ledger_in, mismatches_in

from recoverypbr.outcomes.cases import case_warehouse, load_case


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_outcome_case(path: Path, engine: str, warehouse_target: Path | str) -> None:
    case = load_case(path)
    with case_warehouse(case.input, warehouse_target) as wh:  # one warehouse for both checks: a PostgreSQL
        problems = mismatches_in(case, wh)  # database costs more to make than the evaluation
        assert not problems, "\n".join(problems)
        check_stored_ledger_in(case, wh)
