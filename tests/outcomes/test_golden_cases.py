"""Every golden case under tests/cases/<outcome>/<case>.yaml, run through the warehouse by one test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recoverypbr.outcomes.cases import Case, case_warehouse, load_case
from recoverypbr.outcomes.ledger import build_ledger, cohort_measures, evaluate, stored_ledger
from recoverypbr.warehouse.connection import Warehouse

CASES_DIR = Path(__file__).parents[1] / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*/*.yaml"))


def _evaluate(case: Case, wh: Warehouse) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    if case.cohort is not None:
        return cohort_measures(wh, case.contract, case.as_of)[case.outcome], ("period_start",)
    rows = wh.to_arrow(evaluate(wh, case.contract, case.as_of)).to_pylist()
    return [r for r in rows if r["outcome_id"] == case.outcome], ("client_id", "episode_id")


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) and isinstance(got, float):
        return abs(expected - got) < 1e-4
    return bool(expected == got)


def mismatches(case: Case, target: Path | str = ":memory:") -> list[str]:
    """`file: case: outcome@as_of expected X got Y` for every difference, on a fresh in-memory warehouse."""
    with case_warehouse(case.input, target) as wh:
        return mismatches_in(case, wh)


def mismatches_in(case: Case, wh: Warehouse) -> list[str]:
    """`mismatches` on a warehouse holding the case's input (tests/conformance gives one of each engine)."""
    got, key = _evaluate(case, wh)
    expected = case.cohort if case.cohort is not None else case.output
    where = f"{case.label}: {case.name}: {case.outcome}@{case.as_of}"
    by_key = {tuple(r[k] for k in key): r for r in got}
    problems = []
    for row in expected:
        k = tuple(row[c] for c in key)
        actual = by_key.pop(k, None)
        if actual is None:
            problems.append(f"{where} expected a row for {k} got none")
            continue
        for column, value in row.items():
            if not _same(value, actual[column]):
                problems.append(f"{where} {'/'.join(map(str, k))} {column}: expected {value!r} got {actual[column]!r}")
    problems += [f"{where} expected no row for {k} got {r}" for k, r in by_key.items()]
    return problems


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_case(path: Path) -> None:
    problems = mismatches(load_case(path))
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
