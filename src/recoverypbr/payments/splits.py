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
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.contract.types import percent
from recoverypbr.payments.coverage import unnamed_paid
from recoverypbr.payments.limits import fallback_payee
from recoverypbr.payments.lines import PaymentLine, lines_from_arrow, lines_table
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
    return split_lines([line], contract)


def split_lines(lines: Iterable[PaymentLine], contract: Contract) -> list[PaymentLine]:
    """Every line split among its payees, in the order given."""
    return lines_from_arrow(split_table(lines_table(list(lines)), contract))


#: What decides a line's parts: its outcome, kind, an incentive line's reference, its provider and its amount.
_KEY = ("o", "k", "r", "p", "a")


def split_table(table: pa.Table, contract: Contract) -> pa.Table:
    """`split_lines` on a table of lines (`lines.LINE_SCHEMA`): every line replaced by its parts, in order. A
    national period has millions of lines but a handful of rules and amounts, so each distinct rule, provider and
    amount is split once (`_Splitter`) and the lines take their parts by a join."""
    if table.num_rows == 0:
        return table
    kind = table.column("kind")
    keyed = pa.table({
        "o": pc.fill_null(table.column("outcome_id"), ""),
        "k": kind,
        "r": pc.fill_null(pc.if_else(pc.equal(kind, "incentive"), table.column("reference"), ""), ""),
        "p": pc.fill_null(table.column("provider_id"), ""),
        "a": table.column("amount_pence"),
        "i": pa.array(range(table.num_rows), pa.int64()),
    })
    splitter = _Splitter(contract)
    rows: dict[str, list[Any]] = {name: [] for name in (*_KEY, "n", "to", "amount", "share", "whole")}
    distinct = keyed.group_by(list(_KEY)).aggregate([])
    for o, k, r, p, a in zip(*(distinct.column(name).to_pylist() for name in _KEY), strict=True):
        for n, part in enumerate(splitter.parts(o, k, r, p, a)):
            for name, value in zip((*_KEY, "n", "to", "amount", "share", "whole"), (o, k, r, p, a, n, *part),
                                   strict=True):
                rows[name].append(value)
    parts = pa.table({name: pa.array(values, keyed.schema.field(name).type if name in _KEY else _PART_TYPES[name])
                      for name, values in rows.items()})
    joined = keyed.join(parts, keys=list(_KEY), join_type="inner").sort_by([("i", "ascending"), ("n", "ascending")])
    if pc.count_distinct(joined.column("i")).as_py() != table.num_rows:  # a key no part matched: never drop a line
        raise ValueError("a line could not be split: it lacks a kind or an amount")
    out = table.take(joined.column("i"))
    changes = {
        "provider_id": pc.coalesce(joined.column("to"), out.column("provider_id")),
        "amount_pence": joined.column("amount"),
        "share": pc.coalesce(joined.column("share"), out.column("share")),
        "whole_pence": pc.coalesce(joined.column("whole"), out.column("whole_pence")),
    }
    for name, column in changes.items():
        out = out.set_column(out.schema.get_field_index(name), name, column)
    return out


_PART_TYPES = {"n": pa.int64(), "to": pa.string(), "amount": pa.int64(), "share": pa.string(), "whole": pa.int64()}
#: One part of a split line: its payee (None: the line's own provider), pence, share words and whole (None: the
#: line's own).
Part = tuple[str | None, int, str | None, int | None]


class _Splitter:
    """The parts of lines of one contract: each rule's payees and share words, each payee, and each amount's parts
    are worked out once."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.rules: dict[tuple[str, str, str], tuple[tuple[tuple[str, str], ...], tuple[Decimal, ...]]] = {}
        self.payees: dict[str, str] = {}

    def parts(self, outcome_id: str, kind: str, incentive_reference: str, provider_id: str,
              amount: int | None) -> list[Part]:
        """The parts of a line of this outcome (''), kind, reference (an incentive line's, else ''), provider ('' when
        none) and amount: what `shares_for` and `payee` decide, the pence shared by `money.allocate`."""
        if amount is None:  # nothing to share: the line is refused by `split_table`
            return []
        key = (outcome_id, kind, incentive_reference)
        rule = self.rules.get(key)
        if rule is None:
            probe = PaymentLine(kind, provider_id, incentive_reference, amount, date.min,  # type: ignore[arg-type]
                                outcome_id=outcome_id or None)
            path, shares = shares_for(probe, self.contract)
            named = tuple((pid, f"{path}.{pid}={percent(share)}") for pid, share in shares.items())
            rule = self.rules[key] = (named, tuple(shares.values()))
        named, weights = rule
        if not named:
            paid = self.payees.get(provider_id)
            if paid is None:
                paid = self.payees[provider_id] = payee(provider_id, self.contract)
            return [(None if paid == provider_id else paid, amount, None, None)]
        return [(pid, part, words, amount)
                for (pid, words), part in zip(named, allocate(amount, weights), strict=True)]
