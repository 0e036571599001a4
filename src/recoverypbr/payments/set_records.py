"""Where each period's statement set was written, and how: so that `approve` writes it again, approved.

`pay --out DIR` records, per contract version and period, the folder (absolute), the as-of date, the providers
asked for (none: all) and the formats; writing the same period into the same folder again replaces the record.
`approve` writes every recorded folder's set again with the same choices, so no file in them says "draft" for a
statement that is approved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from recoverypbr.contract.model import Contract
from recoverypbr.payments.periods import Period
from recoverypbr.warehouse.connection import Warehouse


@dataclass(frozen=True)
class SetRecord:
    """How a period's set was written into a folder: as of which date, for which providers, in which formats."""

    folder: Path
    as_of: date
    providers: tuple[str, ...] | None
    formats: tuple[str, ...]


def record_set(wh: Warehouse, contract: Contract, period: Period, record: SetRecord, at: datetime) -> None:
    """Remember that the period's set was written as `record` says (replacing what was known of that folder)."""
    key = [contract.area, contract.effective_from, period.label, str(record.folder)]
    providers = None if record.providers is None else json.dumps(list(record.providers))
    with wh.transaction():
        wh.execute("DELETE FROM statement_sets WHERE contract_area = ? AND contract_version = ? AND period_label = ?"
                   " AND folder = ?", key)
        wh.execute("INSERT INTO statement_sets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [*key, record.as_of, providers, ",".join(record.formats), at.replace(tzinfo=None)])


def recorded_sets(wh: Warehouse, contract: Contract, period: Period) -> list[SetRecord]:
    """Every folder the period's set was written to, the least recently written first."""
    rows = wh.execute(
        "SELECT folder, as_of, providers, formats FROM statement_sets WHERE contract_area = ?"
        " AND contract_version = ? AND period_label = ? ORDER BY written_at, folder",
        [contract.area, contract.effective_from, period.label],
    )
    return [SetRecord(Path(folder), as_of, None if providers is None else tuple(json.loads(providers)),
                      tuple(formats.split(","))) for folder, as_of, providers, formats in rows]


def same_providers(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    """Whether two choices of providers (None: all) are the same choice."""
    return (a is None and b is None) or (a is not None and b is not None and sorted(set(a)) == sorted(set(b)))
