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

import re
from collections.abc import Iterable
from decimal import Decimal

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.contract.types import percent
from recoverypbr.payments.coverage import unnamed_paid
from recoverypbr.payments.limits import fallback_payee
from recoverypbr.payments.lines import PaymentLine, shared_part, with_changes
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


def split_line(line: PaymentLine, contract: Contract) -> list[PaymentLine]:
    """The line as paid: one line per payee, parts summing exactly to the line."""
    return _Splitter(contract).split(line)


def split_lines(lines: Iterable[PaymentLine], contract: Contract) -> list[PaymentLine]:
    """Every line split among its payees, in the order given."""
    split = _Splitter(contract).split
    return [part for line in lines for part in split(line)]


class _Splitter:
    """`split_line` for many lines of one contract: a national period splits millions of lines with a handful of
    rules and amounts, so each rule's payees and share words, each payee, and each amount's parts are worked out
    once."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.rules: dict[tuple[str, str, str], tuple[tuple[tuple[str, str], ...], tuple[Decimal, ...]]] = {}
        self.payees: dict[str, str] = {}
        self.parts: dict[tuple[int, tuple[Decimal, ...]], list[int]] = {}

    def split(self, line: PaymentLine) -> list[PaymentLine]:
        # What `shares_for` reads of a line: its outcome, and an incentive line's reference.
        key = (line.outcome_id or "", line.kind, line.reference if line.kind == "incentive" else "")
        rule = self.rules.get(key)
        if rule is None:
            path, shares = shares_for(line, self.contract)
            named = tuple((pid, f"{path}.{pid}={percent(share)}") for pid, share in shares.items())
            rule = self.rules[key] = (named, tuple(shares.values()))
        named, weights = rule
        if not named:
            paid = self.payees.get(line.provider_id)
            if paid is None:
                paid = self.payees[line.provider_id] = payee(line.provider_id, self.contract)
            return [line if paid == line.provider_id else with_changes(line, provider_id=paid)]
        amount = line.amount_pence
        parts = self.parts.get((amount, weights))
        if parts is None:
            parts = self.parts[(amount, weights)] = allocate(amount, weights)
        return [shared_part(line, pid, part, words, amount) for (pid, words), part in zip(named, parts, strict=True)]
