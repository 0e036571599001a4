"""Caps and floors: each application is its own line, naming the limit's path and what it corrects.

Order (docs/payments.md): every cap first, then every floor; within each, the narrowest scope first (provider and
outcome, then outcome, then provider, then overall), then the shortest window (month, quarter, contract year, whole
contract), then the limit id. Each limit sees the lines left by the ones before it. Caps first because a cap says
what results can earn; a floor is a minimum promised whatever the results, so it is topped up on what the caps
left and is never cut. A cap can therefore be passed only by floor top-ups (a contract whose floors fit inside its
caps never does).

A window is the month, quarter, contract year or contract (clipped to the contract) the limit counts over. A window
that began before the statement's period needs what was already paid in it: `earlier[(limit path, window label)]`
in pence (from earlier statements; without it the period is taken as the window's first). A floor is topped up in
the statement whose period contains its window's end. A cut or top-up of a limit without a provider is shared among
the providers in scope in proportion to their amounts (`money.allocate`); a top-up with nothing earned in scope goes
to the prime provider (else the first provider that is not the LASARS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from recoverypbr.contract.model import Contract, Limit
from recoverypbr.contract.types import value_on
from recoverypbr.payments.lines import LineKind, PaymentLine, total, totals_by_provider
from recoverypbr.payments.money import allocate, pence, pounds
from recoverypbr.payments.periods import Period, windows
from recoverypbr.payments.pricing import reference

Earlier = Mapping[tuple[str, str], int]
_WINDOW_RANK = {"month": 0, "quarter": 1, "year": 2, "contract": 3}


@dataclass(frozen=True)
class Scope:
    """The lines a limit counts: `test` says which; `payee` is the provider when the limit names one."""

    path: str
    words: str
    test: Callable[[PaymentLine], bool]
    payee: str | None = None
    outcome_id: str | None = None


def scope_of(path: str, limit: Limit) -> Scope:
    """The lines of the limit's provider and/or outcome (all lines for an overall limit)."""
    words = (
        " ".join(
            p
            for p in (limit.provider and f"provider {limit.provider}", limit.outcome and f"outcome {limit.outcome}")
            if p
        )
        or "overall"
    )

    def test(line: PaymentLine) -> bool:
        return (limit.provider is None or line.provider_id == limit.provider) and (
            limit.outcome is None or line.outcome_id == limit.outcome
        )

    return Scope(path, words, test, limit.provider, limit.outcome)


def limit_order(contract: Contract) -> list[tuple[str, Limit]]:
    """(path, limit) in the order they are applied: caps then floors, narrow scope first, short window first."""

    def key(item: tuple[str, Limit]) -> tuple[int, int, int, str]:
        path, limit = item
        level = 0 if limit.provider and limit.outcome else 1 if limit.outcome else 2 if limit.provider else 3
        return (0 if path.startswith("caps.") else 1, level, _WINDOW_RANK[limit.period], path)

    caps = [(f"caps.{i}", c) for i, c in contract.caps.items()]
    found = caps + [(f"floors.{i}", f) for i, f in contract.floors.items()]
    return sorted(found, key=key)


def fallback_payee(contract: Contract) -> str:
    """Who receives a top-up nobody in scope earned: the prime, else the first provider that is not the LASARS."""
    paid = [pid for pid, p in contract.providers.items() if p.role != "lasars"]
    primes = [pid for pid in paid if contract.providers[pid].role == "prime"]
    return (primes or paid)[0]


def _shared(amount: int, scope: Scope, in_scope: Sequence[PaymentLine], fallback: str) -> dict[str, int]:
    if scope.payee is not None:
        return {scope.payee: amount}
    weights = {pid: max(0, t) for pid, t in totals_by_provider(in_scope).items()}
    if not any(weights.values()):
        return {fallback: amount}
    return dict(zip(weights, allocate(amount, list(weights.values())), strict=True))


def _limit_lines(
    kind: LineKind,
    amount: int,
    scope: Scope,
    in_scope: Sequence[PaymentLine],
    ref: str,
    day: date,
    corrects: str,
    fallback: str,
) -> list[PaymentLine]:
    parts = _shared(amount, scope, in_scope, fallback)
    whole = amount if len(parts) > 1 else None
    return [
        PaymentLine(
            kind=kind,
            provider_id=pid,
            reference=ref,
            amount_pence=part,
            payable_on=day,
            outcome_id=scope.outcome_id,
            corrects=corrects,
            whole_pence=whole,
        )
        for pid, part in parts.items()
        if part
    ]


def _in_force(
    lines: Sequence[PaymentLine], scope: Scope, dated: Mapping[date, Decimal], w: Period
) -> tuple[date | None, list[PaymentLine]]:
    """The date the limit's value in force at the window's start took effect, and the lines it covers."""
    since = max((d for d in dated if d <= w.start), default=None)
    return since, [line for line in lines if scope.test(line) and w.contains(line.payable_on)]


def cap(
    lines: Sequence[PaymentLine],
    scope: Scope,
    dated: Mapping[date, Decimal],
    w: Period,
    period: Period,
    prior: int,
    fallback: str,
    field: str = "amount",
) -> list[PaymentLine]:
    """The cut (negative lines) that brings the scope's payments in window `w` down to the cap, if any."""
    since, in_scope = _in_force(lines, scope, dated, w)
    if since is None:
        return []
    limit = pence(dated[since])
    current = total(in_scope)
    cut = current - max(0, limit - prior)
    if cut <= 0:
        return []
    corrects = (
        f"{scope.words}, {w.label}: {pounds(current)} this period + {pounds(prior)} earlier "
        f"exceeds the cap of {pounds(limit)} by {pounds(cut)}"
    )
    ref = reference(f"{scope.path}.{field}", since)
    return _limit_lines("cap", -cut, scope, in_scope, ref, min(w.end, period.end), corrects, fallback)


def floor(
    lines: Sequence[PaymentLine],
    scope: Scope,
    dated: Mapping[date, Decimal],
    w: Period,
    period: Period,
    prior: int,
    fallback: str,
) -> list[PaymentLine]:
    """The top-up (positive lines) that brings the scope's payments in window `w` up to the floor, if it closes."""
    since, in_scope = _in_force(lines, scope, dated, w)
    if since is None or w.end > period.end:
        return []
    limit = pence(dated[since])
    current = total(in_scope)
    top_up = limit - prior - current
    if top_up <= 0:
        return []
    corrects = (
        f"{scope.words}, {w.label}: {pounds(current)} this period + {pounds(prior)} earlier "
        f"is below the floor of {pounds(limit)} by {pounds(top_up)}"
    )
    ref = reference(f"{scope.path}.amount", since)
    return _limit_lines("floor", top_up, scope, in_scope, ref, w.end, corrects, fallback)


def apply_limits(
    lines: Sequence[PaymentLine], contract: Contract, period: Period, earlier: Earlier | None = None
) -> list[PaymentLine]:
    """The lines followed by one line per cap cut and floor top-up, in the documented order."""
    earlier = earlier or {}
    fallback = fallback_payee(contract)
    result = list(lines)
    for path, limit in limit_order(contract):
        scope = scope_of(path, limit)
        apply = cap if path.startswith("caps.") else floor
        for w in windows(limit.period, period, contract):
            if value_on(limit.amount, w.start) is None:
                continue
            result += apply(result, scope, limit.amount, w, period, earlier.get((path, w.label), 0), fallback)
    return result
