"""Approving a statement from the browser: made again from the data, checked against the fingerprint the finance
officer saw, stored, and every folder `pay` wrote the period's set into written again, as `recoverypbr approve`
does. When the statement made again differs from the one shown (data loaded, or an earlier period approved, since
`pay` wrote it), nothing is approved: the drafts are written again so the page shows the statement as it is now."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

from recoverypbr.contract.model import Contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.payments.approval import StatementError
from recoverypbr.payments.cli import write_period_set
from recoverypbr.payments.periods import Period
from recoverypbr.payments.run import approve_statements, make_statements
from recoverypbr.payments.set_records import recorded_sets, same_providers
from recoverypbr.payments.statements import Statement
from recoverypbr.reports.sets import set_name
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.web.statements_data import period_of

log = logging.getLogger(__name__)


def _write_again(wh: Warehouse, contract: Contract, period: Period, day: date, provider_id: str,
                 made: Sequence[Statement], at: datetime) -> None:
    """Write every recorded set of the period again: from `made` where it was made as they were, else made again."""
    for record in recorded_sets(wh, contract, period):
        if not (record.folder / set_name(period.label)).is_symlink():
            continue  # the folder no longer holds the set (moved away by hand): left alone, as approve does
        if record.as_of == day and same_providers(record.providers, [provider_id]):
            again = list(made)
        else:
            again = make_statements(wh, contract, period, record.as_of, record.providers,
                                    evaluate=record.as_of != day)
        write_period_set(wh, contract, period, record, again, at)


def approve_from_web(wh: Warehouse, contract: Contract, label: str, provider_id: str, as_of: str, fingerprint: str,
                     by: str, at: datetime, note: str = "") -> Statement:
    """Approve one provider's statement for the period, refusing (storing nothing) when its fingerprint is no longer
    `fingerprint`: the data, the contract, the program or an earlier approval changed since it was shown."""
    period = period_of(contract, label)
    day = date.fromisoformat(as_of)
    made = make_statements(wh, contract, period, day, [provider_id])
    if not fingerprint or made[0].fingerprint != fingerprint:
        _write_again(wh, contract, period, day, provider_id, made, at)
        raise StatementError(
            f"the statement changed since this page showed it (data loaded, or an earlier period approved, since its "
            f"draft was written): its fingerprint is now {made[0].fingerprint[:12]}",
            hint="its draft has been written again and is shown below: check it, then approve it")
    (done,) = approve_statements(wh, made, by, at, fingerprint, note)
    try:
        _write_again(wh, contract, period, day, provider_id, [done], at)
    except (RecoveryPbrError, OSError) as exc:
        # The approval is stored whatever happens to the files: say so, as `recoverypbr approve` does, and leave the
        # folder's earlier set in place (a set is replaced whole or not at all).
        log.warning("approved %s, but its statement set was not written again: %s", done.statement_id,
                    getattr(exc, "message", exc))
    return done
