"""A period's payments from the ledger: price, add payment points, split, then caps and floors.

The order (docs/payments.md): outcome lines by tariff and milestone payment-point lines (with each milestone's
maximum) are priced first; every line is then split among its payees; then the contract's caps and floors are
applied in their documented order to the split lines, so a provider's limit sees the provider's own share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.payments.funnels import milestone_lines
from recoverypbr.payments.limits import Earlier, apply_limits
from recoverypbr.payments.lines import PaymentLine, total, totals_by_provider
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import outcome_lines, unpriced_outcomes
from recoverypbr.payments.splits import split_lines
from recoverypbr.warehouse.connection import Warehouse


@dataclass(frozen=True)
class Payments:
    """A period's payment lines and their totals in pence."""

    period: Period
    lines: list[PaymentLine]
    unpriced: list[dict[str, Any]] = field(default_factory=list)
    """Achieved ledger rows payable in the period that found no tariff: not paid, to be shown and resolved."""

    @property
    def total_pence(self) -> int:
        return total(self.lines)

    @property
    def by_provider(self) -> dict[str, int]:
        return totals_by_provider(self.lines)


def pay_period(
    wh: Warehouse,
    ledger: ir.Table,
    contract: Contract,
    period: Period,
    episodes: ir.Table | None = None,
    earlier: Earlier | None = None,
) -> Payments:
    """Every payment line of the period for one ledger snapshot (e.g. `stored_ledger(wh, contract, as_of)`).

    `episodes` (episode_id, stock_or_flow, service_line) prices stock clients and filters funnels by service line;
    `earlier` gives what earlier statements paid in limit windows that began before this period."""
    earned = outcome_lines(wh, ledger, contract, period, episodes)
    earned += milestone_lines(wh, ledger, contract, period, episodes, earlier)
    unpriced = wh.to_arrow(unpriced_outcomes(ledger, contract, period, episodes)).to_pylist()
    return Payments(period, apply_limits(split_lines(earned, contract), contract, period, earlier), unpriced)
