"""Caps and floors: each application is its own line, naming the limit's path and what it corrects.

Order (docs/payments.md): every cap first, then the share of the budget paid on results (an implicit overall cap
per contract year: budget x share on results, `share_on_results@<date>`), then every floor; within caps and within
floors, the narrowest scope first (provider and outcome, then outcome, then provider, then overall), then the
shortest window (month, quarter, contract year, whole contract), then the limit id. Each limit sees the lines left
by the ones before it. Caps first because a cap says what results can earn; a floor is a minimum promised
whatever the results, so it is topped up on what the caps left and is never cut. A cap can therefore be passed
only by floor top-ups (a contract whose floors fit inside its caps never does).

A window is the month, quarter, contract year or contract (clipped to the contract) the limit counts over. A window
that began before the statement's period needs what was already paid in it: `earlier[(limit path, window label)]`
in pence (from earlier statements; without it the period is taken as the window's first). A floor is topped up in
the statement whose period contains its window's end. A cut or top-up of a limit without a provider is shared among
the providers in scope in proportion to their amounts (`money.allocate`); a top-up with nothing earned in scope goes
to the prime provider (else the first provider that is not the LASARS). `earlier_paid` turns the final lines of
earlier periods into that `earlier`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from recoverypbr.contract.model import Contract, Limit
from recoverypbr.contract.types import change_dates, percent, value_on
from recoverypbr.payments.lines import LineKind, PaymentLine, total, totals_by_provider
from recoverypbr.payments.money import allocate, pence, pounds
from recoverypbr.payments.periods import Period, WindowKind, window, windows
from recoverypbr.payments.pricing import reference

Earlier = Mapping[tuple[str, str], int]
_WINDOW_RANK = {"month": 0, "quarter": 1, "year": 2, "contract": 3}
#: The path of the implicit cap of the budget paid on results, in `earlier` and in its lines' reference.
SHARE_ON_RESULTS = "share_on_results"


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
    what: Callable[[int], str] | None = None,
) -> list[PaymentLine]:
    """The cut (negative lines) that brings the scope's payments in window `w` down to the cap, if any. The line's
    reference is `<scope path>.<field>@<date>` (just the path when `field` is empty); `what` words the cap in
    `corrects` from its pence (default "the cap of £X")."""
    since, in_scope = _in_force(lines, scope, dated, w)
    if since is None:
        return []
    limit = pence(dated[since])
    current = total(in_scope)
    cut = current - max(0, limit - prior)
    if cut <= 0:
        return []
    worded = what(limit) if what else f"the cap of {pounds(limit)}"
    corrects = (
        f"{scope.words}, {w.label}: {pounds(current)} this period + {pounds(prior)} earlier "
        f"exceeds {worded} by {pounds(cut)}"
    )
    ref = reference(f"{scope.path}.{field}" if field else scope.path, since)
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


def at_risk_values(contract: Contract) -> dict[date, Decimal]:
    """The money paid on results from each date the budget or the share changes: budget x share on results."""
    found = {}
    for since in change_dates(contract.budget, contract.share_on_results):
        value = contract.at_risk(since)
        if value is not None:
            found[since] = value
    return found


def results_scope() -> Scope:
    """Results money: earned lines (and adjustments to them) with the explicit caps' cuts, not floors' top-ups."""
    return Scope(SHARE_ON_RESULTS, "results money", lambda line: line.kind != "floor")


def share_on_results(
    lines: Sequence[PaymentLine], contract: Contract, period: Period, earlier: Earlier, fallback: str
) -> list[PaymentLine]:
    """The implicit cap of each contract year: results money may not exceed budget x share on results
    (`contract.at_risk`), cut by a cap line `share_on_results@<date>`."""
    dated = at_risk_values(contract)
    cuts: list[PaymentLine] = []
    for w in windows("year", period, contract):
        budget, share = value_on(contract.budget, w.start), value_on(contract.share_on_results, w.start)
        if budget is None or share is None:
            continue
        words = f"budget {pounds(pence(budget))} x share on results {percent(share)}"
        prior = earlier.get((SHARE_ON_RESULTS, w.label), 0)

        def what(limit: int, words: str = words) -> str:
            return f"{words} = {pounds(limit)}"

        cuts += cap([*lines, *cuts], results_scope(), dated, w, period, prior, fallback, field="", what=what)
    return cuts


def apply_limits(
    lines: Sequence[PaymentLine], contract: Contract, period: Period, earlier: Earlier | None = None
) -> list[PaymentLine]:
    """The lines followed by one line per cap cut and floor top-up, in the documented order: explicit caps, the
    share of the budget paid on results, then floors."""
    earlier = earlier or {}
    fallback = fallback_payee(contract)
    result = list(lines)
    ordered = limit_order(contract)
    for path, limit in [(p, lim) for p, lim in ordered if p.startswith("caps.")]:
        result += _apply(cap, result, path, limit, contract, period, earlier, fallback)
    result += share_on_results(result, contract, period, earlier, fallback)
    for path, limit in [(p, lim) for p, lim in ordered if p.startswith("floors.")]:
        result += _apply(floor, result, path, limit, contract, period, earlier, fallback)
    return result


def _apply(
    apply: Callable[..., list[PaymentLine]],
    lines: list[PaymentLine],
    path: str,
    limit: Limit,
    contract: Contract,
    period: Period,
    earlier: Earlier,
    fallback: str,
) -> list[PaymentLine]:
    scope = scope_of(path, limit)
    found: list[PaymentLine] = []
    for w in windows(limit.period, period, contract):
        if value_on(limit.amount, w.start) is None:
            continue
        found += apply([*lines, *found], scope, limit.amount, w, period, earlier.get((path, w.label), 0), fallback)
    return found


def maximum_scope(path: str, label: str, outcome_id: str) -> Scope:
    """The lines a milestone's maximum counts: its payment points and the maximum's own cuts."""
    return Scope(path, f"milestone {label}", lambda line: line.reference.startswith(f"{path}."), outcome_id=outcome_id)


def _counted(contract: Contract) -> list[tuple[str, Scope, WindowKind]]:
    """(path, scope, window kind) of every limit in the order applied: milestone maxima, explicit caps, the share
    on results, floors."""
    found: list[tuple[str, Scope, WindowKind]] = []
    for fid, funnel in contract.funnels.items():
        for mid, milestone in funnel.milestones.items():
            if milestone.payment is not None and milestone.payment.maximum:
                path = f"funnels.{fid}.milestones.{mid}.payment"
                found.append((f"{path}.maximum", maximum_scope(path, milestone.label, milestone.outcome), "year"))
    ordered = limit_order(contract)
    found += [(p, scope_of(p, lim), lim.period) for p, lim in ordered if p.startswith("caps.")]
    found.append((SHARE_ON_RESULTS, results_scope(), "year"))
    found += [(p, scope_of(p, lim), lim.period) for p, lim in ordered if p.startswith("floors.")]
    return found


def _made_by(line: PaymentLine) -> str:
    """The limit path a cap or floor line applies (`caps.x`, `share_on_results`, `funnels....maximum`), else ''."""
    if line.kind not in ("cap", "floor"):
        return ""
    return line.reference.split("@")[0].removesuffix(".amount")


def earlier_paid(lines: Iterable[PaymentLine], contract: Contract) -> dict[tuple[str, str], int]:
    """What the final lines of earlier periods paid, per (limit path, window label), for every limit: the `earlier`
    that prices the next period as if the periods were one.

    A limit counts the lines in its scope and window that it would have seen in one long period: the earned lines
    and the lines of the limits applied before it and its own, not those of limits applied after it (a cap does not
    count floors' top-ups, so a floor is never cut back later)."""
    counted = _counted(contract)
    rank = {path: i for i, (path, _, _) in enumerate(counted)}
    found: dict[tuple[str, str], int] = {}
    for line in lines:
        made_by = rank.get(_made_by(line), -1)
        for i, (path, scope, kind) in enumerate(counted):
            w = window(kind, line.payable_on, contract)
            if made_by > i or w is None or not scope.test(line):
                continue
            found[(path, w.label)] = found.get((path, w.label), 0) + line.amount_pence
    return found
