"""Every golden statement case (tests/cases/payments/statements/*.yaml) prices to the same lines and pence on every
engine (conftest.ENGINES). The runner is tests/payments/test_golden_statements.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
from payments.test_golden_statements import CASES, mismatches


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_statement(path: Path, engine: str, warehouse_target: Path | str) -> None:
    problems = mismatches(path, warehouse_target)
    assert not problems, "\n".join(problems)
