"""Every golden case under tests/cases/<outcome>/<case>.yaml, run through the warehouse by one test."""

from __future__ import annotations

from pathlib import Path

import pytest

from recoverypbr.outcomes.cases import Case, Evaluated, case_warehouse, load_case, mismatches
from recoverypbr.outcomes.ledger import build_ledger, cohort_measures, evaluate, stored_ledger
from recoverypbr.warehouse.connection import Warehouse

CASES_DIR = Path(__file__).parents[1] / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*/*.yaml"))


def evaluate_in(case: Case, wh: Warehouse) -> Evaluated:
    """The case evaluated in a warehouse holding its input (any engine's)."""
    if case.cohort is not None:
        return cohort_measures(wh, case.contract, case.as_of)[case.outcome], ("period_start",)
    rows = wh.to_arrow(evaluate(wh, case.contract, case.as_of)).to_pylist()
    return [r for r in rows if r["outcome_id"] == case.outcome], ("client_id", "episode_id")


def evaluate_on_duckdb(case: Case) -> Evaluated:
    """The case evaluated in a fresh in-memory DuckDB warehouse."""
    with case_warehouse(case.input) as wh:
        return evaluate_in(case, wh)


def mismatches_in(case: Case, wh: Warehouse) -> list[str]:
    """`mismatches` on a warehouse holding the case's input (tests/conformance gives one of each engine)."""
    return mismatches(case, lambda c: evaluate_in(c, wh))


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_case(path: Path) -> None:
    problems = mismatches(load_case(path), evaluate_on_duckdb)
    assert not problems, "\n".join(problems)


def test_there_are_at_least_40_golden_cases_each_with_a_comment() -> None:
    assert len(CASE_FILES) >= 40
    uncommented = [p.name for p in CASE_FILES if not p.read_text(encoding="utf-8").lstrip().startswith("#")]
    assert not uncommented


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_stored_ledger_is_the_evaluated_ledger(path: Path) -> None:
    check_stored_ledger(load_case(path))


def check_stored_ledger(case: Case, target: Path | str = ":memory:") -> None:
    with case_warehouse(case.input, target) as wh:
        check_stored_ledger_in(case, wh)


def check_stored_ledger_in(case: Case, wh: Warehouse) -> None:
    """build_ledger stores one row per episode; the `outcome_ledger` view must give back exactly `evaluate`'s rows."""
    expected = wh.to_arrow(evaluate(wh, case.contract, case.as_of)).to_pylist()
    summary = build_ledger(wh, case.contract, case.as_of)
    stored = wh.to_arrow(stored_ledger(wh, case.contract, case.as_of)).to_pylist()
    every = wh.execute("SELECT count(*) FROM outcome_ledger")[0][0]
    assert stored == expected
    assert summary.rows == every == len(expected)


def test_building_the_ledger_leaves_the_compression_setting_as_it_was() -> None:
    """build_ledger writes its run with FSST for strings only for that statement."""
    case = load_case(CASE_FILES[0])
    with case_warehouse(case.input) as wh:
        build_ledger(wh, case.contract, case.as_of)
        assert wh.execute("SELECT current_setting('force_compression')")[0][0] == "auto"
        wh.execute("SET force_compression = 'uncompressed'")
        build_ledger(wh, case.contract, case.as_of)
        assert wh.execute("SELECT current_setting('force_compression')")[0][0] == "uncompressed"
