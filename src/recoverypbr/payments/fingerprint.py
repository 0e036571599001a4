"""Fingerprints: what a statement rests on, as SHA-256 digests.

A statement's fingerprint is the digest of three parts and the statement's own key:

- the **contract**: its validated content as canonical JSON (so comments and layout in the YAML file do not matter,
  but any value does);
- the **input data**: every input table as known on the statement's as-of date, as pricing sees it (episodes with
  their triage date and stock or flow), as an order-free digest of its rows without the load's provenance columns
  (sums of parts of each row's MD5, computed in SQL every engine runs alike, each row's kept with it when it is
  loaded: `warehouse.row_digests`), so the same rows give the same digest however and in whatever order they were
  loaded;
- the **program**: the recoverypbr version (not the warehouse engine's: every engine gives the same figures).

The statement's key includes the fingerprints of the provider's statements approved before it, since its
adjustment lines depend on them. The same contract, data, program and approvals give the same fingerprint; a change
to any of them gives another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.inputs import Inputs
from recoverypbr.payments.pipeline import audit_reversals, payment_inputs
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.row_digests import DIGEST_COLUMNS, DIGITS, PARTS, digest_sql, hex_number, row_md5


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
    """recoverypbr's version, e.g. `recoverypbr 0.1.0`. The warehouse engine is not part of it: DuckDB, PostgreSQL
    and Spark give the same figures (the conformance suite, tests/conformance, holds them to it), so a statement
    made on any of them is the same statement, byte for byte."""
    return f"recoverypbr {version('recoverypbr')}"


def contract_sha256(contract: Contract) -> str:
    """The digest of the contract's validated content (canonical JSON: sorted keys, no spaces)."""
    content = json.dumps(contract.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def table_digest(table: ir.Table, casts_hex: bool = False) -> ir.Table:
    """One row: the table's row count and, per part, the sum of its rows' MD5 parts (order-free, the same on every
    engine). A table with the digest columns (`row_digests`) gives its rows' kept parts, and the rows without
    them are worked out. `casts_hex`: the engine casts `0x` hex text to integers (`Warehouse.casts_hex`)."""
    row = row_md5(table)
    kept = all(c in table.columns for c in DIGEST_COLUMNS)
    parts = {}
    for i, column in enumerate(DIGEST_COLUMNS):
        found = hex_number(row, i * DIGITS, casts_hex)
        parts[f"part{i}"] = (ibis.ifelse(table[column].isnull(), found, table[column]) if kept else found).sum()
    return table.aggregate(rows=table.count(), **parts)


def bit_string_digest(wh: Warehouse, table: ir.Table) -> dict[str, Any]:
    """`table_digest`'s row, with each hex part read as a bit string (`('x' || hex)::bit(28)::bigint`, PostgreSQL's
    own reading of hex, which Ibis cannot write): the portable digit-by-digit parse costs PostgreSQL minutes over a
    national area's rows. The same numbers (the conformance suite compares the digests across engines)."""
    kept = list(DIGEST_COLUMNS) if all(c in table.columns for c in DIGEST_COLUMNS) else []
    hashed = wh.compile(table.select(*kept, row_md5=row_md5(table)))
    parts = []
    for i in range(PARTS):
        found = digest_sql(wh, "t.row_md5", i)
        parts.append(f"sum(coalesce(t.{kept[i]}, {found})) AS part{i}" if kept else f"sum({found}) AS part{i}")
    names = ["rows", *(f"part{i}" for i in range(PARTS))]
    found_row = wh.execute_native(f"SELECT count(*) AS rows, {', '.join(parts)} FROM ({hashed}) AS t")[0]
    return {name: None if value is None else int(value) for name, value in zip(names, found_row, strict=True)}


def data_sha256(wh: Warehouse, as_of: date) -> str:
    """The digest of every input table as known on `as_of`."""
    inputs = payment_inputs(wh, as_of, digests=True)
    parts = []
    derived = ("as_of", "checked", "groups", "payees")  # not input tables: the date, and what pricing derives
    for name in sorted(n for n in Inputs.__dataclass_fields__ if n not in derived):
        table = getattr(inputs, name)
        if wh.reads_bit_strings:
            row = bit_string_digest(wh, table)
        else:
            row = wh.to_arrow(table_digest(table, wh.casts_hex)).to_pylist()[0]
        sums = ":".join(str(row[f"part{i}"] or 0) for i in range(PARTS))
        parts.append(f"{name}:{row['rows']}:{sums}")
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


class PendingFingerprint:
    """`fingerprint(wh, contract, as_of)` worked out on another connection to the warehouse (`Warehouse.cursor`), in
    a thread, while the caller goes on; `result` waits for it (and raises what it raised).

    The data digest reads every input table (seconds at national size, in the database engine): pricing, which
    needs the digest only to store what it priced, runs meanwhile. The other connection reads what is committed,
    as the caller's does; a load committed in between is caught by the data marker (`stored.data_marker`), taken
    before this starts and checked again after pricing."""

    def __init__(self, wh: Warehouse, contract: Contract, as_of: date) -> None:
        self._other = wh.cursor()
        self._found: Fingerprint | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(contract, as_of), name="data digest", daemon=True)
        self._thread.start()

    def _work(self, contract: Contract, as_of: date) -> None:
        try:
            self._found = fingerprint(self._other, contract, as_of)
        except BaseException as exc:  # raised in the caller's thread, by `result`
            self._error = exc
        finally:
            self._other.close()

    def cancel(self) -> None:
        """Stop the digest (the caller failed, or was interrupted) and wait for its thread to end, so that no
        query is left running on the warehouse when the caller closes it."""
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._other.interrupt()
        self._thread.join()

    def result(self) -> Fingerprint:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._found is not None
        return self._found
