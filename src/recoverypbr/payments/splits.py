"""Splits: who is paid for a line, and how a line is shared among providers.

The payees of a line, first rule that applies:
1. the outcome's own `split` (`outcomes.<id>.split`), or an incentive's (`incentives.<id>.split`), for any
   attribution model;
2. `attribution.split` under the prime model (prime and subcontractors) or the co-dependent model;
3. under the prime model without a split, the prime: a subcontractor's line goes to its `prime`;
4. an offending cohort payment under the competing or assigned model: equal shares among the providers that are
   paid (the cohort names no client, so no provider's part of it can be told; `providers.<id>=50%`); a
   cohort-basis line (`cohort_basis.py`) is already per provider, so it goes by rule 5;
5. otherwise the provider the ledger attributes the outcome (fee, incentive) to.
A shared line becomes one line per payee with `share` (`attribution.split.SUB=30%`) and `whole_pence`; the parts
are shared by `money.allocate`, so they sum exactly to the whole: each part is rounded down and the odd pennies go
to the largest remainders, ties to the provider written first in the split.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.contract.types import percent
from recoverypbr.payments.coverage import unnamed_paid
from recoverypbr.payments.limits import fallback_payee
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import allocate


def shares_for(line: PaymentLine, contract: Contract) -> tuple[str, dict[str, Decimal]]:
    """The contract path of the split that applies to the line and its shares ('' and {} when none)."""
    outcome = contract.outcomes.get(line.outcome_id or "")
    if outcome is not None and outcome.split:
        return f"outcomes.{line.outcome_id}.split", dict(outcome.split)
    incentive = incentive_of(line)
    if incentive in contract.incentives and contract.incentives[incentive].split:
        return f"incentives.{incentive}.split", dict(contract.incentives[incentive].split)
    attribution = contract.attribution
    if attribution.model in ("prime", "co_dependent") and attribution.split:
        return "attribution.split", dict(attribution.split)
    if isinstance(outcome, OffendingCohortReduction) and attribution.model in ("competing", "assigned"):
        paid = [pid for pid, p in contract.providers.items() if p.role != "lasars"]
        return "providers", {pid: Decimal(1) / len(paid) for pid in paid}
    return "", {}


def incentive_of(line: PaymentLine) -> str:
    """The incentive id of an incentive line (its reference is `incentives.<id>.amount...`), else ''."""
    if line.kind != "incentive":
        return ""
    found = re.match(r"incentives\.(.+?)\.amount\.", line.reference)
    return found[1] if found else ""


def payee(provider_id: str, contract: Contract) -> str:
    """Under the prime model a subcontractor is paid through its prime, and so is a provider the contract does not
    name when `attribution.unnamed_providers` is `through_prime`; otherwise the provider itself."""
    provider = contract.providers.get(provider_id)
    if contract.attribution.model == "prime" and provider is not None and provider.prime:
        return provider.prime
    if provider is None and unnamed_paid(contract) and provider_id:
        return fallback_payee(contract)
    return provider_id


def split_line(
    line: PaymentLine, contract: Contract, parts_of: Callable[[int, tuple[Decimal, ...]], list[int]] | None = None
) -> list[PaymentLine]:
    """The line as paid: one line per payee, parts summing exactly to the line. `parts_of` stands for
    `money.allocate` (e.g. one that remembers: a period's lines have few distinct amounts)."""
    path, shares = shares_for(line, contract)
    if not shares:
        paid = payee(line.provider_id, contract)
        return [line if paid == line.provider_id else dataclasses.replace(line, provider_id=paid)]
    weights = tuple(shares.values())
    parts = parts_of(line.amount_pence, weights) if parts_of is not None else allocate(line.amount_pence, weights)
    return [
        _with(line, provider_id=provider_id, amount_pence=part, share=f"{path}.{provider_id}={percent(share)}",
              whole_pence=line.amount_pence)
        for (provider_id, share), part in zip(shares.items(), parts, strict=True)
    ]


def _with(line: PaymentLine, **changes: Any) -> PaymentLine:
    """`dataclasses.replace` without its per-call look at the fields (a national period splits millions of lines);
    only for fields that need no validation."""
    made = object.__new__(PaymentLine)
    made.__dict__.update(line.__dict__, **changes)
    return made


def split_lines(lines: Iterable[PaymentLine], contract: Contract) -> list[PaymentLine]:
    """Every line split among its payees, in the order given."""
    known: dict[tuple[int, tuple[Decimal, ...]], list[int]] = {}

    def parts_of(amount: int, weights: tuple[Decimal, ...]) -> list[int]:
        if (amount, weights) not in known:
            known[(amount, weights)] = allocate(amount, weights)
        return known[(amount, weights)]

    return [part for line in lines for part in split_line(line, contract, parts_of)]
