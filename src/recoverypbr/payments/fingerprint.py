"""Fingerprints: what a statement rests on, as SHA-256 digests.

A statement's fingerprint is the digest of three parts and the statement's own key:

- the **contract**: its validated content as canonical JSON (so comments and layout in the YAML file do not matter,
  but any value does);
- the **input data**: every input table as known on the statement's as-of date, as pricing sees it (episodes with
  their triage date and stock or flow), as an order-free digest of its rows without the load's provenance columns,
  so the same rows give the same digest however and in whatever order they were loaded;
- the **program**: the recoverypbr version and the warehouse engine's version (both decide the figures).

The statement's key includes the fingerprints of the provider's statements approved before it, since its
adjustment lines depend on them. The same contract, data, program and approvals give the same fingerprint; a change
to any of them gives another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.inputs import Inputs
from recoverypbr.payments.pipeline import audit_reversals, payment_inputs
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.migrations import PROVENANCE_COLUMNS

_PROVENANCE = {name for name, _ in PROVENANCE_COLUMNS}


@dataclass(frozen=True)
class Fingerprint:
    """The digests a statement carries."""

    contract_sha256: str
    data_sha256: str
    program_version: str

    def of(self, *key: str) -> str:
        """The statement fingerprint: these digests with the statement's key (provider, period, as-of)."""
        parts = [self.contract_sha256, self.data_sha256, self.program_version, *key]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def program_version() -> str:
    """recoverypbr's version and the engine's, e.g. `recoverypbr 0.1.0; duckdb 1.4.1`."""
    return f"recoverypbr {version('recoverypbr')}; duckdb {version('duckdb')}"


def contract_sha256(contract: Contract) -> str:
    """The digest of the contract's validated content (canonical JSON: sorted keys, no spaces)."""
    content = json.dumps(contract.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def table_digest(table: ir.Table) -> ir.Table:
    """One row: the table's row count and the sum of its rows' hashes (order-free)."""
    cells = [table[c].cast("string").fill_null("\u2205") for c in sorted(table.columns) if c not in _PROVENANCE]
    # Decimal: the sum of a million 64-bit hashes overflows 64 bits.
    row = ibis.literal("|").join(cells).hash().cast("decimal(38, 0)")
    return table.aggregate(rows=table.count(), digest=row.sum())


def data_sha256(wh: Warehouse, as_of: date) -> str:
    """The digest of every input table as known on `as_of`."""
    inputs = payment_inputs(wh, as_of)
    parts = []
    derived = ("as_of", "checked", "groups", "payees")  # not input tables: the date, and what pricing derives
    for name in sorted(n for n in Inputs.__dataclass_fields__ if n not in derived):
        row = wh.to_arrow(table_digest(getattr(inputs, name))).to_pylist()[0]
        parts.append(f"{name}:{row['rows']}:{row['digest'] or 0}")
    parts.append(f"as_of:{as_of.isoformat()}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def fingerprint(wh: Warehouse, contract: Contract, as_of: date) -> Fingerprint:
    """The contract, data and program digests for statements made as of a date. Audit findings that reverse
    payments on that date (`pipeline.audit_reversals`) are data too: when there are any, the data digest covers
    them (and is unchanged when there are none)."""
    data = data_sha256(wh, as_of)
    reversals = audit_reversals(wh, contract, as_of)
    if reversals:
        found = "\n".join(f"{'|'.join(key)}={why}" for key, why in sorted(reversals.items()))
        data = hashlib.sha256(f"{data}\naudit_findings:{found}".encode()).hexdigest()
    return Fingerprint(contract_sha256(contract), data, program_version())
