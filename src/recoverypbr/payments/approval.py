"""Approval: an approved statement is stored once and never rewritten.

`approve` writes the statement's document (its JSON, byte for byte) and its lines to the warehouse in one
transaction; nothing in recoverypbr updates or deletes those rows. Approving again, or approving a period while an
earlier one of the same provider is still open, is refused (`payments.run.approve_statements` checks the order).
What later data or audit findings change in an approved period is paid or clawed back by adjustment lines in the
next open period (`payments.adjustments`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.payments.lines import LINE_COLUMNS, PaymentLine
from recoverypbr.payments.statements import Statement, line_from_stored
from recoverypbr.warehouse.connection import Warehouse

_LINE_SCHEMA = pa.schema(
    [
        ("statement_id", pa.string()),
        ("line_no", pa.int32()),
        ("kind", pa.string()),
        ("provider_id", pa.string()),
        ("reference", pa.string()),
        ("amount_pence", pa.int64()),
        ("payable_on", pa.date32()),
        ("client_id", pa.string()),
        ("episode_id", pa.string()),
        ("outcome_id", pa.string()),
        ("complexity_group", pa.string()),
        ("stock_or_flow", pa.string()),
        ("evidence", pa.string()),
        ("corrects", pa.string()),
        ("share", pa.string()),
        ("whole_pence", pa.int64()),
        ("adjusts", pa.string()),
    ]
)


class StatementError(RecoveryPbrError):
    """A statement that cannot be made or approved as asked."""


@dataclass(frozen=True)
class Approved:
    """An approved statement as stored: its document (the JSON text), key and lines."""

    statement_id: str
    provider_id: str
    period_label: str
    period_start: date
    period_end: date
    as_of: date
    fingerprint: str
    document_text: str
    lines: tuple[PaymentLine, ...]

    @property
    def document(self) -> dict[str, Any]:
        return dict(json.loads(self.document_text))

    @property
    def total_pence(self) -> int:
        return sum(line.amount_pence for line in self.lines)


def document_text(document: dict[str, Any]) -> str:
    """A statement document as JSON text: two-space indent, keys in the document's order, newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def approve(wh: Warehouse, statement: Statement, by: str, at: datetime, note: str = "") -> Statement:
    """Store the statement as approved by `by` at `at`; refuse one already approved. Returns it as stored."""
    if not by.strip():
        raise StatementError("an approval needs the approver's name", hint="pass --by 'NAME'")
    if statement.status == "approved" or _exists(wh, statement.statement_id):
        raise StatementError(
            f"statement {statement.statement_id} is already approved and is never rewritten",
            hint="later changes are paid or clawed back as adjustment lines in the next open period",
        )
    stamp = at.replace(microsecond=0, tzinfo=None)
    done = replace(statement, status="approved", approved_by=by.strip(), approved_at=stamp.isoformat(sep=" "))
    text = document_text(done.document())
    with wh.transaction():
        wh.execute(
            "INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                done.statement_id, done.contract_area, done.contract_version, done.provider_id, done.period.label,
                done.period.start, done.period.end, done.as_of, done.fingerprint, done.contract_sha256,
                done.data_sha256, done.program_version, done.total_pence, len(done.lines), stamp, done.approved_by,
                note, text,
            ],
        )
        if done.lines:
            rows = [
                {"statement_id": done.statement_id, "line_no": i, **line.as_row()}
                for i, line in enumerate(done.lines, start=1)
            ]
            staged = wh.register_arrow("_approved_lines", pa.Table.from_pylist(rows, schema=_LINE_SCHEMA))
            try:
                wh.insert("statement_lines", staged)
            finally:
                wh.unregister("_approved_lines")
    return done


def _exists(wh: Warehouse, statement_id: str) -> bool:
    return bool(wh.execute("SELECT count(*) FROM statements WHERE statement_id = ?", [statement_id])[0][0])


def approved_statements(wh: Warehouse, contract: Contract) -> dict[tuple[str, str], Approved]:
    """(provider id, period label) -> the approved statement, for this contract version."""
    key = [contract.area, contract.effective_from]
    heads = wh.execute(
        "SELECT statement_id, provider_id, period_label, period_start, period_end, as_of, fingerprint, document"
        " FROM statements WHERE contract_area = ? AND contract_version = ? ORDER BY period_start, provider_id",
        key,
    )
    columns = ", ".join(f"l.{c}" for c in LINE_COLUMNS)
    rows = wh.execute(
        f"SELECT l.statement_id, {columns} FROM statement_lines l JOIN statements s USING (statement_id)"
        " WHERE s.contract_area = ? AND s.contract_version = ? ORDER BY l.statement_id, l.line_no",
        key,
    )
    lines: dict[str, list[PaymentLine]] = {}
    for row in rows:
        lines.setdefault(row[0], []).append(line_from_stored(dict(zip(LINE_COLUMNS, row[1:], strict=True))))
    return {
        (h[1], h[2]): Approved(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], tuple(lines.get(h[0], [])))
        for h in heads
    }
