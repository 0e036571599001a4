"""Golden cases: input rows, contract parameters and expected ledger rows as data (OpenFisca's shape).

A case file (`tests/cases/<outcome>/<case>.yaml`) holds `name`, `as_of`, `outcomes` (outcome id -> its contract
definition; `outcome` checks one of them), optional `contract` fields (complexity, attribution, years), `input`
(table -> rows; absent columns are empty) and `output` (the expected ledger rows of the checked outcome; only the
columns a row gives are compared; rows are matched by client and episode). Cohort cases give `cohort` rows instead.
Kept in the library so the same cases can run on any warehouse engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from recoverypbr.contract.model import Contract
from recoverypbr.data.schema import TABLES
from recoverypbr.warehouse.connection import Warehouse, open_warehouse
from recoverypbr.warehouse.migrations import data_table_columns, migrate
from recoverypbr.warehouse.row_digests import insert_rows

_ARROW = {
    "DATE": pa.date32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR": pa.string(),
}

BASE_CONTRACT: dict[str, Any] = {
    "area": "Golden",
    "title": "Golden cases",
    "effective_from": dt.date(2012, 4, 1),
    "years": [
        {"start": dt.date(2012, 4, 1), "end": dt.date(2013, 3, 31)},
        {"start": dt.date(2013, 4, 1), "end": dt.date(2014, 3, 31)},
        {"start": dt.date(2014, 4, 1), "end": dt.date(2015, 3, 31)},
    ],
    "budget": 1000000,
    "share_on_results": "20%",
    "lasars": {"location": "independent"},
    "providers": {
        "P1": {"name": "Provider one", "role": "provider"},
        "P2": {"name": "Provider two", "role": "provider"},
    },
    "attribution": {"model": "competing"},
    "payment_schedule": {"frequency": "quarterly"},
}


@dataclass(frozen=True)
class Case:
    """One golden case read from its file."""

    file: Path
    name: str
    as_of: dt.date
    outcome: str
    contract: Contract
    input: dict[str, list[dict[str, Any]]]
    output: list[dict[str, Any]]
    cohort: list[dict[str, Any]] | None

    @property
    def label(self) -> str:
        return f"{self.file.parent.name}/{self.file.stem}"


def load_case(path: Path) -> Case:
    """Read a case file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    outcomes = data["outcomes"]
    contract = Contract.model_validate({**BASE_CONTRACT, **data.get("contract", {}), "outcomes": outcomes})
    return Case(
        file=path,
        name=data["name"],
        as_of=data["as_of"],
        outcome=data.get("outcome", next(iter(outcomes))),
        contract=contract,
        input=data.get("input", {}),
        output=data.get("output", []),
        cohort=data.get("cohort"),
    )


def arrow_rows(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of a canonical table as Arrow, typed as stored; absent columns empty."""
    spec = next(t for t in TABLES if t.name == table)
    columns = [(n, t) for n, t in data_table_columns(spec) if n not in ("load_id", "source_row")]
    unknown = {k for row in rows for k in row} - {n for n, _ in columns}
    if unknown:
        raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")
    arrays = {n: pa.array([row.get(n) for row in rows], type=_ARROW[t]) for n, t in columns}
    return pa.table(arrays)


def case_warehouse(tables: dict[str, list[dict[str, Any]]], target: Path | str = ":memory:") -> Warehouse:
    """A fresh warehouse holding the rows: in memory (DuckDB), or `target`, an empty warehouse of any engine (a
    DuckDB file or a postgresql:// URL of a new database)."""
    wh = Warehouse(":memory:") if str(target) == ":memory:" else open_warehouse(target, lock=False)
    migrate(wh)
    for name, rows in tables.items():
        if rows:
            staged = wh.register_arrow(f"_case_{name}", arrow_rows(name, rows))
            insert_rows(wh, name, staged)  # as a load stores them (`data.ingest`)
            wh.unregister(f"_case_{name}")
    return wh


#: An engine's evaluation of a case: the checked outcome's rows (ledger rows, or cohort rows for a cohort case)
#: and the columns that match them to the expected rows.
Evaluated = tuple[list[dict[str, Any]], tuple[str, ...]]


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) and isinstance(got, float):
        return abs(expected - got) < 1e-4
    return bool(expected == got)


def mismatches(case: Case, evaluate: Callable[[Case], Evaluated]) -> list[str]:
    """`file: case: outcome@as_of expected X got Y` for every difference between the case's expected rows and
    what `evaluate` (one engine's run of the case) gives."""
    got, key = evaluate(case)
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
