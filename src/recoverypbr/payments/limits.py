"""Caps and floors, applied day by day: each cut or top-up is its own line, naming the limit and what it corrects.

Order (docs/payments.md): the caps naming an outcome, each fund's cap (`funds.<id>.amount`: the outcomes it pays),
each domain's cap (`weights.<domain>`: its share of budget x share on results), the other caps, then the share of
the budget paid on results (an implicit overall cap per contract year: budget x share on results,
`share_on_results@<date>`), then every floor; within caps and within floors, the narrowest scope first (provider
and outcome, then outcome, then provider, then overall), then the shortest window (month, quarter, contract year,
whole contract), then the limit id. Outcomes paid from a fund count only in their fund's cap and in limits naming
them, never in the contract's own money.

The limits are applied **one day at a time**, in the order of the lines' payable dates: on each day every cap in
order, then every floor whose window ends that day. A limit counts every line in its scope and window dated before
that day (earned lines, cuts and top-ups alike) and, on the day itself, the lines of the limits before it. So a cut
is dated on the day the money that passes the cap is earned, and a cap applied later, whatever its window, sees
exactly what the caps before it left in its own window: it never cuts the same pounds twice. A cap never cuts more
than its scope earned that day, so caps never take a scope below zero.

A cap keeps room for the floors nested in it (a floor whose provider and outcome are within the cap's and whose
window lies inside the cap's window): at every day, what was paid in the cap's window plus what those floors would
still top up if nothing more were earned stays within the cap. A contract whose floors fit inside its caps therefore
meets every floor without passing any cap. A floor the caps cannot hold (its top-ups alone pass a cap) is still
paid in full: a floor is a minimum promised whatever the results; the cap then cuts all later earnings in the
window. The share on results counts results money only (not floors' top-ups) and keeps no room for floors.

A cut is shared among the providers in scope in proportion to what each earned in scope that day; a floor's
top-up in proportion to what each has in scope in the window (a limit naming a provider gives its line to that
provider; a top-up with nothing earned in scope goes to the prime provider, else the first provider that is not
the LASARS). A cap's cuts are shown as one line per provider per month (split where a contract year starts inside
a month), dated on the last day cut. A window that began before the statement's period needs what earlier periods
paid in it per provider: `earlier[EarlierKey(limit path, window label, provider)]`, from `earlier_paid`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

import pyarrow as pa

from recoverypbr.contract.model import Contract, Limit
from recoverypbr.contract.types import DOMAIN_NAMES, change_dates, percent, value_on
from recoverypbr.payments.lines import PaymentLine, totals_by_provider
from recoverypbr.payments.money import allocate, pence, pounds
from recoverypbr.payments.periods import Period, WindowKind, window, windows
from recoverypbr.payments.pricing import reference

_WINDOW_RANK = {"month": 0, "quarter": 1, "year": 2, "contract": 3}
#: The path of the implicit cap of the budget paid on results, in `earlier` and in its lines' reference.
SHARE_ON_RESULTS = "share_on_results"
#: The section of the contract whose limits are the funds' yearly amounts.
FUNDS = "funds"


@dataclass(frozen=True, order=True)
class EarlierKey:
    """What earlier periods paid to one provider in one window of one limit (`provider` "" when not known)."""

    limit: str
    window: str
    provider: str = ""


Earlier = Mapping[EarlierKey, int]
ScopeKind = Literal["limit", "results", "maximum"]


@dataclass(frozen=True)
class Scope:
    """The lines a limit counts: `test` says which; `payee` is the provider and `outcome_id` the outcome the limit
    names. `kind`: an explicit cap or floor, the results money, or a milestone's maximum."""

    path: str
    words: str
    test: Callable[[PaymentLine], bool]
    payee: str | None = None
    outcome_id: str | None = None
    kind: ScopeKind = "limit"

    def holds(self, other: Scope) -> bool:
        """Every line of `other` (an explicit limit) is in this explicit limit's scope."""
        return (
            self.kind == other.kind == "limit"
            and self.payee in (None, other.payee)
            and self.outcome_id in (None, other.outcome_id)
        )


def funded(contract: Contract) -> dict[str, str]:
    """Outcome id -> the id of the fund that pays it, for the outcomes paid from a fund (`funded_by`)."""
    return {oid: o.funded_by for oid, o in contract.outcomes.items() if o.funded_by}


def fund_of(line: PaymentLine, contract: Contract) -> str:
    """The fund a line is paid from ('' for the contract's own money): its outcome's, or the fund it limits."""
    return fund_in(line, funded(contract))


def fund_in(line: PaymentLine, funds: Mapping[str, str]) -> str:
    """`fund_of` with the contract's `funded` map already made (limits test every line against every rule, and the
    year to date reads a national statement's lines)."""
    fund = funds.get(line.outcome_id or "", "")
    if not fund and line.reference.startswith(f"{FUNDS}."):
        fund = line.reference[len(FUNDS) + 1 :].split(".", 1)[0].split("@", 1)[0]
    return fund


def scope_of(path: str, limit: Limit, contract: Contract) -> Scope:
    """The lines of the limit's provider and/or outcome (all lines for an overall limit). A limit that names no
    outcome counts the contract's own money only, not the outcomes paid from a fund."""
    named = (limit.provider and f"provider {limit.provider}", limit.outcome and f"outcome {limit.outcome}")
    words = " ".join(p for p in named if p) or "overall"
    funds = funded(contract)

    def test(line: PaymentLine) -> bool:
        return (limit.provider is None or line.provider_id == limit.provider) and (
            line.outcome_id == limit.outcome if limit.outcome is not None else not fund_in(line, funds)
        )

    return Scope(path, words, test, limit.provider, limit.outcome)


def results_scope(contract: Contract) -> Scope:
    """Results money: earned lines (and adjustments to them) with the caps' cuts, not floors' top-ups nor the
    outcomes paid from a fund."""
    funds = funded(contract)
    return Scope(SHARE_ON_RESULTS, "results money", lambda line: line.kind != "floor" and not fund_in(line, funds),
                 kind="results")


def domain_rules(contract: Contract) -> list[LimitRule]:
    """Each weighted domain's cap per contract year: weight x budget x share on results, on the results money of
    the domain's outcomes (and the cuts of caps on them)."""
    found = []
    paid_from_funds = funded(contract)
    for domain, weight in contract.weights.items():
        path = f"weights.{domain}"
        outcomes = {oid for oid, o in contract.outcomes.items() if getattr(o, "domain", None) == domain}

        def test(line: PaymentLine, outcomes: set[str] = outcomes, path: str = path) -> bool:
            if line.kind == "floor" or line.outcome_id in paid_from_funds:
                return False
            return line.outcome_id in outcomes or line.reference.startswith(path)

        def worded(limit: int, w: Period, domain: str = domain, weight: Decimal = weight) -> str:
            pot = value_on(at_risk_values(contract), w.start)
            of = f" of the results money {pounds(pence(pot))}" if pot is not None else " of the results money"
            return f"the {DOMAIN_NAMES[domain]} domain's {percent(weight)}{of} = {pounds(limit)}"

        values = {since: at_risk * weight for since, at_risk in at_risk_values(contract).items()}
        scope = Scope(path, f"domain {DOMAIN_NAMES[domain]}", test, kind="results")
        found.append(LimitRule("cap", scope, "year", values, field="", worded=worded))
    return found


def fund_rules(contract: Contract) -> list[LimitRule]:
    """Each fund's cap per contract year on the outcomes it pays (and its own cuts)."""
    found = []
    funds = funded(contract)
    for fid, fund in contract.funds.items():
        path = f"{FUNDS}.{fid}"

        def test(line: PaymentLine, fid: str = fid) -> bool:
            return line.kind != "floor" and fund_in(line, funds) == fid

        def worded(limit: int, w: Period, label: str = fund.label) -> str:
            return f"the fund's {pounds(limit)} a year ({label})"

        scope = Scope(path, f"fund {fid}", test, kind="results")
        found.append(LimitRule("cap", scope, "year", fund.amount, worded=worded))
    return found


def maximum_scope(path: str, label: str, outcome_id: str) -> Scope:
    """The lines a milestone's maximum counts: its payment points and the maximum's own cuts."""
    return Scope(
        f"{path}.maximum",
        f"milestone {label}",
        lambda line: line.reference.startswith(f"{path}."),
        outcome_id=outcome_id,
        kind="maximum",
    )


@dataclass(frozen=True)
class LimitRule:
    """One cap or floor: its scope, window kind and dated amounts in pounds. `field` names the amount in the
    contract (`caps.x.amount`; empty for the share on results); `worded` says the limit in a line's `corrects`."""

    kind: Literal["cap", "floor"]
    scope: Scope
    window: WindowKind
    values: Mapping[date, Decimal]
    field: str = "amount"
    worded: Callable[[int, Period], str] | None = None

    @property
    def path(self) -> str:
        return self.scope.path

    def in_force(self, w: Period) -> tuple[date, int] | None:
        """The date the value in force on the window's first day took effect, and the value in pence."""
        since = max((d for d in self.values if d <= w.start), default=None)
        return None if since is None else (since, pence(self.values[since]))

    def reference(self, since: date) -> str:
        return reference(f"{self.path}.{self.field}" if self.field else self.path, since)

    def words(self, limit: int, w: Period) -> str:
        if self.worded is not None:
            return self.worded(limit, w)
        return f"the {self.kind} of {pounds(limit)}"


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


def at_risk_values(contract: Contract) -> dict[date, Decimal]:
    """The money paid on results from each date the budget or the share changes: budget x share on results."""
    found = {}
    for since in change_dates(contract.budget, contract.share_on_results):
        value = contract.at_risk(since)
        if value is not None:
            found[since] = value
    return found


def share_rule(contract: Contract) -> LimitRule:
    """The implicit cap of each contract year: results money may not exceed budget x share on results."""

    def worded(limit: int, w: Period) -> str:
        budget, share = value_on(contract.budget, w.start), value_on(contract.share_on_results, w.start)
        if budget is None or share is None:
            return f"the results money of {pounds(limit)}"
        return f"budget {pounds(pence(budget))} x share on results {percent(share)} = {pounds(limit)}"

    return LimitRule("cap", results_scope(contract), "year", at_risk_values(contract), field="", worded=worded)


def contract_rules(contract: Contract) -> list[LimitRule]:
    """The contract's caps, the share on results and its floors, in the order they are applied: caps naming an
    outcome, then the funds' and the domains' caps, then the other caps, the share on results and the floors."""
    ordered = [(p, lim, LimitRule("cap" if p.startswith("caps.") else "floor", scope_of(p, lim, contract),
                                  lim.period, lim.amount))
               for p, lim in limit_order(contract)]
    narrow = [rule for p, lim, rule in ordered if p.startswith("caps.") and lim.outcome]
    caps = [rule for p, lim, rule in ordered if p.startswith("caps.") and not lim.outcome]
    floors = [rule for p, _, rule in ordered if p.startswith("floors.")]
    return [*narrow, *fund_rules(contract), *domain_rules(contract), *caps, share_rule(contract), *floors]


def maximum_rules(contract: Contract) -> list[LimitRule]:
    """Each milestone's maximum per contract year, as a cap on its payment points (applied by `funnels`)."""
    found = []
    for fid, funnel in contract.funnels.items():
        for mid, milestone in funnel.milestones.items():
            payment = milestone.payment
            if payment is not None and payment.maximum:
                path = f"funnels.{fid}.milestones.{mid}.payment"
                scope = maximum_scope(path, milestone.label, milestone.outcome)
                found.append(LimitRule("cap", scope, "year", payment.maximum, field=""))
    return found


def apply_limits(
    lines: Sequence[PaymentLine], contract: Contract, period: Period, earlier: Earlier | None = None
) -> list[PaymentLine]:
    """The lines followed by one line per cap cut and floor top-up: explicit caps, the share of the budget paid on
    results, then floors, applied day by day."""
    return [*lines, *limit_lines(lines, contract_rules(contract), contract, period, earlier)]


def limit_lines(
    lines: Sequence[PaymentLine],
    rules: Sequence[LimitRule],
    contract: Contract,
    period: Period,
    earlier: Earlier | None = None,
) -> list[PaymentLine]:
    """The cut and top-up lines the rules (in the order given) make on the period's lines."""
    run = _Run(list(rules), contract, period, earlier or {})
    return run.apply(summed(lines))


#: What `summed` sums lines by (the stored periods' sums are read with the same key: `stored.stored_payments`).
SUMMED_BY = ("payable_on", "provider_id", "outcome_id", "kind", "reference")


def summed(lines: Iterable[PaymentLine]) -> list[PaymentLine]:
    """The lines summed per day, provider, outcome, kind and reference: all a limit's scope and window look at (a
    limit never sees a client), so limits applied to these make exactly the lines they make on the lines themselves,
    with one line per tariff a day instead of one per client."""
    sums: dict[tuple[date, str, str | None, str, str], int] = {}
    for line in lines:
        key = (line.payable_on, line.provider_id, line.outcome_id, line.kind, line.reference)
        sums[key] = sums.get(key, 0) + line.amount_pence
    return [PaymentLine(kind=kind, provider_id=provider, reference=ref, amount_pence=amount, payable_on=day,  # type: ignore[arg-type]
                        outcome_id=outcome)
            for (day, provider, outcome, kind, ref), amount in sums.items()]


def summed_table(table: pa.Table) -> list[PaymentLine]:
    """`summed` of a table of lines (`lines.LINE_SCHEMA`), summed in Arrow: the same lines in the same order (each
    sum where its first line is)."""
    if table.num_rows == 0:
        return []
    keyed = table.select([*SUMMED_BY, "amount_pence"]).append_column("i", pa.array(range(table.num_rows), pa.int64()))
    grouped = keyed.group_by(list(SUMMED_BY), use_threads=False).aggregate([("amount_pence", "sum"), ("i", "min")])
    grouped = grouped.sort_by("i_min")
    return [PaymentLine(kind=kind, provider_id=provider, reference=ref, amount_pence=amount, payable_on=day,
                        outcome_id=outcome)
            for day, provider, outcome, kind, ref, amount in zip(
                *(grouped.column(c).to_pylist() for c in (*SUMMED_BY, "amount_pence_sum")), strict=True)]


def earlier_paid(lines: Iterable[PaymentLine], contract: Contract) -> dict[EarlierKey, int]:
    """What the lines of earlier periods paid per limit, window and provider, for every limit (milestone maxima,
    explicit caps and floors, the share on results): the `earlier` that prices the next period as if the periods
    were one. Every line in a limit's scope counts, since every line of an earlier period is dated before the next
    period's first day."""
    rules = [*maximum_rules(contract), *contract_rules(contract)]
    found: dict[EarlierKey, int] = {}
    windows_on: dict[tuple[WindowKind, date], Period | None] = {}  # few distinct days, many lines
    for line in summed(lines):
        for rule in rules:
            day = (rule.window, line.payable_on)
            if day not in windows_on:
                windows_on[day] = window(rule.window, line.payable_on, contract)
            w = windows_on[day]
            if w is None or not rule.scope.test(line):
                continue
            key = EarlierKey(rule.path, w.label, line.provider_id)
            found[key] = found.get(key, 0) + line.amount_pence
    return found


@dataclass
class _Cuts:
    """One cap's cuts in one window and month (split at a contract year's start): one line per provider."""

    rule: int
    w: Period
    since: date
    first: date
    last: date
    parts: dict[str, int] = field(default_factory=dict)
    paid: int = 0
    prior: int = 0
    kept: int = 0
    limit: int = 0

    @property
    def amount(self) -> int:
        return sum(self.parts.values())


@dataclass
class _Run:
    """Applying limits day by day over one period's lines."""

    rules: list[LimitRule]
    contract: Contract
    period: Period
    earlier: Earlier
    totals: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)
    cuts: dict[tuple[int, str, tuple[int, int, int]], _Cuts] = field(default_factory=dict)
    top_ups: list[tuple[int, PaymentLine]] = field(default_factory=list)
    inside: dict[tuple[int, Period], list[Period]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fallback = fallback_payee(self.contract)
        self.prior: dict[tuple[str, str], dict[str, int]] = {}
        for key, amount in self.earlier.items():
            by_provider = self.prior.setdefault((key.limit, key.window), {})
            by_provider[key.provider] = by_provider.get(key.provider, 0) + amount
        self.nested = {
            i: [j for j, f in enumerate(self.rules) if f.kind == "floor" and rule.scope.holds(f.scope)]
            for i, rule in enumerate(self.rules)
            if rule.kind == "cap"
        }

    def apply(self, lines: Sequence[PaymentLine]) -> list[PaymentLine]:
        by_day: dict[date, list[PaymentLine]] = {}
        for line in lines:
            by_day.setdefault(line.payable_on, []).append(line)
        days = set(by_day) | self._floor_ends()
        for day in sorted(days):
            today = list(by_day.get(day, []))
            for i, rule in enumerate(self.rules):
                today += self._cap(i, day, today) if rule.kind == "cap" else self._floor(i, day, today)
            self._close(day, today)
        cut_lines = [(c.rule, c.w.start, c.last, p, line) for c in self.cuts.values() for p, line in self._cut_lines(c)]
        made = [(i, line.payable_on, line.payable_on, line.provider_id, line) for i, line in self.top_ups]
        return [entry[-1] for entry in sorted([*cut_lines, *made], key=lambda e: e[:4])]

    def _floor_ends(self) -> set[date]:
        return {
            w.end
            for rule in self.rules
            if rule.kind == "floor"
            for w in windows(rule.window, self.period, self.contract)
            if self.period.contains(w.end)
        }

    def _paid(self, i: int, w: Period) -> dict[str, int]:
        """Provider -> pence in the rule's scope and window before today: earlier periods, then this period."""
        if (i, w.label) not in self.totals:
            self.totals[(i, w.label)] = dict(self.prior.get((self.rules[i].path, w.label), {}))
        return self.totals[(i, w.label)]

    def _close(self, day: date, today: Sequence[PaymentLine]) -> None:
        """Count the day's lines (earned, cut and topped up) in every rule's window containing the day."""
        for i, rule in enumerate(self.rules):
            w = window(rule.window, day, self.contract)
            if w is None:
                continue
            paid = self._paid(i, w)
            for line in today:
                if rule.scope.test(line):
                    paid[line.provider_id] = paid.get(line.provider_id, 0) + line.amount_pence

    def _cap(self, i: int, day: date, today: Sequence[PaymentLine]) -> list[PaymentLine]:
        rule = self.rules[i]
        w = window(rule.window, day, self.contract)
        in_force = None if w is None else rule.in_force(w)
        if w is None or in_force is None:
            return []
        since, limit = in_force
        mine = [line for line in today if rule.scope.test(line)]
        earned = totals_by_provider(mine)
        day_net = sum(earned.values())
        prior = sum(self.prior.get((rule.path, w.label), {}).values())
        base = sum(self._paid(i, w).values()) + day_net
        most = max(0, day_net)
        positives = {p: max(0, a) for p, a in earned.items()}
        # What each nested floor's scope has today does not depend on the cut: summed once, not per bisection step.
        in_scope: dict[int, int] = {}

        def today_in(j: int) -> int:
            if j not in in_scope:
                in_scope[j] = sum(line.amount_pence for line in today if self.rules[j].scope.test(line))
            return in_scope[j]

        def over(cut: int) -> int:
            return base - cut + self._reserve(i, w, day, today_in, _share(cut, positives))

        cut = self._cut_needed(over, limit, most)
        if cut <= 0:
            return []
        parts = _share(cut, positives)
        key = (i, w.label, _segment(day, self.contract))
        group = self.cuts.setdefault(key, _Cuts(i, w, since, day, day))
        before = group.amount
        for provider, part in parts.items():
            group.parts[provider] = group.parts.get(provider, 0) + part
        group.last, group.prior, group.limit = day, prior, limit
        group.paid = base - prior + before
        group.kept = over(cut) - base + cut
        return [self._provisional(rule, p, -part, day) for p, part in parts.items() if part]

    def _cut_needed(self, over: Callable[[int], int], limit: int, most: int) -> int:
        """The least cut (at most what was earned today) that keeps paid plus floors' needs within the limit; all that
        was earned today when no cut can (the floors alone pass the cap), so the cap is passed by top-ups only."""
        if most <= 0 or over(0) <= limit:
            return 0
        if over(most) > limit:
            return most
        low, high = 0, most
        while low < high:
            middle = (low + high) // 2
            if over(middle) <= limit:
                high = middle
            else:
                low = middle + 1
        return high

    def _reserve(
        self, i: int, w: Period, day: date, today_in: Callable[[int], int], cut: Mapping[str, int]
    ) -> int:
        """What the floors nested in cap `i` would still top up in its window `w` if nothing more were earned after
        today, with `cut` (provider -> pence) taken off today; `today_in(j)` is what floor `j`'s scope has today."""
        cap_outcome = self.rules[i].scope.outcome_id
        simulated: list[tuple[Scope, Period, int]] = []
        for j in self.nested.get(i, []):
            floor = self.rules[j]
            for fw in self._inside(j, w):
                in_force = floor.in_force(fw)
                if in_force is None or fw.end < day:
                    continue
                paid = sum(self._paid(j, fw).values())
                if fw.contains(day):
                    paid += today_in(j)
                    if floor.scope.outcome_id in (None, cap_outcome):
                        paid -= sum(a for p, a in cut.items() if floor.scope.payee in (None, p))
                paid += sum(t for s, sw, t in simulated if floor.scope.holds(s) and fw.start <= sw.start
                            and sw.end <= fw.end)
                simulated.append((floor.scope, fw, max(0, in_force[1] - paid)))
        return sum(t for _, _, t in simulated)

    def _inside(self, j: int, w: Period) -> list[Period]:
        """The windows of floor `j` that lie inside window `w` (computed once per run, not per bisection step)."""
        if (j, w) not in self.inside:
            found = windows(self.rules[j].window, w, self.contract)
            self.inside[(j, w)] = [fw for fw in found if w.start <= fw.start and fw.end <= w.end]
        return self.inside[(j, w)]

    def _floor(self, i: int, day: date, today: Sequence[PaymentLine]) -> list[PaymentLine]:
        rule = self.rules[i]
        w = window(rule.window, day, self.contract)
        in_force = None if w is None or w.end != day else rule.in_force(w)
        if w is None or in_force is None:
            return []
        since, limit = in_force
        has = dict(self._paid(i, w))
        for line in today:
            if rule.scope.test(line):
                has[line.provider_id] = has.get(line.provider_id, 0) + line.amount_pence
        top_up = limit - sum(has.values())
        if top_up <= 0:
            return []
        prior = sum(self.prior.get((rule.path, w.label), {}).values())
        current = sum(has.values()) - prior
        corrects = (
            f"{rule.scope.words}, {w.label}: {pounds(current)} this period + {pounds(prior)} earlier "
            f"is below {rule.words(limit, w)} by {pounds(top_up)}"
        )
        weights = {p: max(0, a) for p, a in has.items() if p}
        parts = self._payees(top_up, rule.scope, weights)
        whole = top_up if len(parts) > 1 else None
        made = [
            PaymentLine(kind="floor", provider_id=p, reference=rule.reference(since), amount_pence=part,
                        payable_on=day, outcome_id=rule.scope.outcome_id, corrects=corrects, whole_pence=whole)
            for p, part in parts.items()
            if part
        ]
        self.top_ups += [(i, line) for line in made]
        return made

    def _payees(self, amount: int, scope: Scope, weights: Mapping[str, int]) -> dict[str, int]:
        if scope.payee is not None:
            return {scope.payee: amount}
        if not any(weights.values()):
            return {self.fallback: amount}
        return _share(amount, weights)

    def _provisional(self, rule: LimitRule, provider: str, amount: int, day: date) -> PaymentLine:
        """A day's cut as the later limits of the day see it (the statement shows the month's cuts summed)."""
        return PaymentLine(kind="cap", provider_id=provider, reference=rule.path, amount_pence=amount,
                           payable_on=day, outcome_id=rule.scope.outcome_id)

    def _cut_lines(self, c: _Cuts) -> list[tuple[str, PaymentLine]]:
        rule = self.rules[c.rule]
        kept = f" + {pounds(c.kept)} kept for floors" if c.kept else ""
        excess = c.paid + c.prior + c.kept - c.limit
        by = pounds(c.amount) if excess == c.amount else f"{pounds(excess)}: cut {pounds(c.amount)}, all it earned"
        days = f" (cut from {c.first} to {c.last})" if c.first != c.last else ""
        corrects = (
            f"{rule.scope.words}, {c.w.label}: {pounds(c.paid)} this period + {pounds(c.prior)} earlier{kept} "
            f"exceeds {rule.words(c.limit, c.w)} by {by}{days}"
        )
        parts = {p: a for p, a in c.parts.items() if a}
        whole = -c.amount if len(parts) > 1 else None
        return [
            (p, PaymentLine(kind="cap", provider_id=p, reference=rule.reference(c.since), amount_pence=-a,
                            payable_on=c.last, outcome_id=rule.scope.outcome_id, corrects=corrects, whole_pence=whole))
            for p, a in sorted(parts.items())
        ]


def _share(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`amount` shared in proportion to the weights (providers in order of id); nothing to share gives nothing."""
    if not weights or not amount:
        return {}
    names = sorted(weights)
    return dict(zip(names, allocate(amount, [weights[n] for n in names]), strict=True))


def _segment(day: date, contract: Contract) -> tuple[int, int, int]:
    """The month a day is in, split where a contract year starts: no window of any limit splits one."""
    year = next((i for i, y in enumerate(contract.years) if y.start <= day <= y.end), -1)
    return (day.year, day.month, year)
