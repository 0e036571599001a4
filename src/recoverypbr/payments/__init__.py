"""Payments: from the outcome ledger to payment lines, with caps, floors, payment points and splits.

`pay_period(wh, ledger, contract, period)` gives a period's `Payments`; the steps are `pricing.outcome_lines`,
`funnels.milestone_lines`, `splits.split_lines` and `limits.apply_limits`. Money is integer pence (`money`).
"""

from __future__ import annotations

from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import allocate, pence, pounds
from recoverypbr.payments.periods import Period, parse_period
from recoverypbr.payments.pipeline import Payments, pay_period

__all__ = ["PaymentLine", "Payments", "Period", "allocate", "parse_period", "pay_period", "pence", "pounds"]
