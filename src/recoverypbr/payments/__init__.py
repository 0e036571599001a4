"""Payments: from the outcome ledger to payment lines, with caps, floors, payment points and splits.

`price_period(wh, contract, period, as_of, earlier)` gives a period's `Payments` from the warehouse as known on a
date; `pay_period(wh, ledger, contract, period, ...)` prices a given ledger. The steps are `pricing.outcome_table`
(with `uplifts`), `funnels.milestone_lines`, `cohort.cohort_lines`, `cohort_basis.cohort_basis_lines`,
`fees.attachment_fee_table`, `incentives.incentive_lines` (the dated ones asked once for many periods:
`pipeline.DatedPricing`), `splits.split_table` and `limits.limit_lines` on the sums; a period's lines are an Arrow
table (`lines.ArrowLines`). `earlier_paid` carries what earlier periods paid into the next. Money is integer pence
(`money`).
"""

from __future__ import annotations

from recoverypbr.payments.limits import earlier_paid
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import allocate, pence, pounds
from recoverypbr.payments.periods import Period, parse_period
from recoverypbr.payments.pipeline import Payments, pay_period, payment_inputs, price_period

__all__ = [
    "PaymentLine",
    "Payments",
    "Period",
    "allocate",
    "earlier_paid",
    "parse_period",
    "pay_period",
    "payment_inputs",
    "pence",
    "pounds",
    "price_period",
]
