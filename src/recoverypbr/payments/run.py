"""Making statements: every provider's statement for a period of the payment schedule, and approving them.

To make the statements of period P as of a date, every schedule period from the contract's start to P is priced
with the data known on that date, in order, each seeing what the ones before it paid in the windows of caps, floors
and maxima. Then, per provider:

- a period already approved is returned exactly as stored (never rewritten);
- otherwise the statement holds P's lines and, when P is the provider's next open period (every earlier period
  approved), one adjustment line for each difference between an approved period's re-pricing and what was paid
  for it (`payments.adjustments`);
- with the year to date (the contract year's budget, the share paid on results, each period's total so far), the
  funnels' predicted against actual clients month by month, the achieved outcomes that found no tariff, and a
  fingerprint of contract, data and program.

Periods are approved in order, per provider: approving P while an earlier period is open is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.contract.types import percent
from recoverypbr.outcomes.ledger import (
    attributed_provider,
    build_ledger,
    cohort_measures,
    episode_groups,
    run_ledger,
)
from recoverypbr.payments.adjustments import adjustment_lines, paid_for
from recoverypbr.payments.approval import Approved, StatementError, approve, approved_statements
from recoverypbr.payments.coverage import is_outside, with_coverage
from recoverypbr.payments.domains import change_share
from recoverypbr.payments.fingerprint import Fingerprint, PendingFingerprint, contract_sha256, program_version
from recoverypbr.payments.limits import EarlierKey, earlier_paid
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.periods import Period, WindowKind, parse_period, windows
from recoverypbr.payments.pipeline import (
    Payments,
    audit_reversals,
    dated_pricing,
    pay_period,
    payment_inputs,
    period_ledger,
    priced_rows,
)
from recoverypbr.payments.pricing import contract_rows
from recoverypbr.payments.statements import FunnelRow, Statement, provider_lines, statement_id
from recoverypbr.payments.stored import (
    PricingKey,
    StoredLines,
    SummedOnly,
    data_marker,
    maybe_stored,
    store_payments,
    stored_payments,
)
from recoverypbr.payments.volumes import funnel_rows, ledger_decisions, milestone_years
from recoverypbr.payments.words import reference_words
from recoverypbr.payments.year import year_to_date
from recoverypbr.warehouse.connection import Warehouse

Progress = Callable[[str, int, int], None]


def schedule(contract: Contract) -> list[Period]:
    """The contract's statement periods (calendar months or quarters, clipped to the contract), in order."""
    kind: WindowKind = "month" if contract.payment_schedule.frequency == "monthly" else "quarter"
    return windows(kind, Period(contract.start, contract.end, "contract"), contract)


def statement_period(contract: Contract, text: str) -> Period:
    """The schedule period a label names (`2013-Q1`, `2013-04`, or a clipped range); refuse any other."""
    asked = parse_period(text)
    periods = schedule(contract)
    clipped = (max(asked.start, contract.start), min(asked.end, contract.end))
    for period in periods:
        if (period.start, period.end) in ((asked.start, asked.end), clipped):
            return period
    frequency = contract.payment_schedule.frequency
    example = (periods[-1] if periods and asked.start > contract.end else periods[0]).label if periods else "2013-Q1"
    raise StatementError(
        f"{text} is not one of the contract's {frequency} statement periods "
        f"({contract.start.isoformat()} to {contract.end.isoformat()})",
        hint=f"name a {frequency} period inside the contract, e.g. {example}",
    )


@dataclass(frozen=True)
class Priced:
    """Every schedule period up to the asked one, priced with the same data."""

    as_of: date
    periods: list[Period]
    payments: dict[str, Payments]


def price_up_to(
    wh: Warehouse,
    contract: Contract,
    period: Period,
    as_of: date,
    progress: Progress | None = None,
    since: date | None = None,
    known: Mapping[str, Payments] | None = None,
    each: Callable[[Period, Payments], Payments] | None = None,
) -> Priced:
    """Price each schedule period from the contract's start to `period`, in order, with the data as of `as_of`
    (read once: the ledger, the pricing inputs and the cohort measures are the same for every period).

    With `since`, only the periods starting on or after it are priced: their limits then do not see what earlier
    periods paid, so this is for callers that use the earned lines only (modelling re-applies the limits).
    `known` gives periods already priced with the same contract, data and as-of date (`stored.stored_payments`):
    they are taken as they are, and the periods after them see their lines in the limits' windows. `each` is called
    with every period priced here (not the known ones), as soon as it is priced, and what it returns is kept instead
    (e.g. the same payments read back from the warehouse when used, so that every period's lines are not held at
    once)."""
    periods = [p for p in schedule(contract) if p.start <= period.start and (since is None or p.start >= since)]
    known = known or {}
    setup: dict[str, Any] = {}
    found: dict[str, Payments] = {}
    earlier: dict[EarlierKey, int] = {}
    for done, q in enumerate(periods):
        if progress:
            progress(q.label, done, len(periods))
        if q.label in known:
            found[q.label] = known[q.label]
        else:
            if not setup:
                setup.update(_pricing_inputs(wh, contract, period, as_of))
                # The queries that depend on a period only through its payable dates, once for every period left.
                span = Period(q.start, periods[-1].end, "periods priced")
                setup["batch"] = dated_pricing(wh, setup["covered"], contract, span, inputs=setup["inputs"])
            found[q.label] = pay_period(wh, setup["ledger"], contract, q, earlier=dict(earlier), inputs=setup["inputs"],
                                        cohort=setup["cohort"], covered=setup["covered"], batch=setup["batch"])
            if each is not None:
                found[q.label] = each(q, found[q.label])
        # What the periods so far paid, per limit window: each period's lines counted once, as they are priced.
        for key, amount in earlier_paid(found[q.label].summed_lines(), contract).items():
            earlier[key] = earlier.get(key, 0) + amount
    if progress:
        progress("", len(periods), len(periods))
    return Priced(as_of, periods, found)


def _pricing_inputs(wh: Warehouse, contract: Contract, period: Period, as_of: date) -> dict[str, Any]:
    """The ledger rows pricing reads (`priced_rows`), pricing inputs and cohort measures as of the date, and those
    rows with their coverage, every period reading the same rows: stored once as temporary tables, so each period's
    queries compile small and do not make the same joins again."""
    # Unordered: the rows are stored (as `covered`), and every query reading them sets its own order.
    ledger = priced_rows(contract_rows(period_ledger(wh, contract, as_of, ordered=False), contract), contract)
    inputs = payment_inputs(wh, as_of)
    inputs = dataclasses.replace(
        inputs,
        episodes=wh.materialize("_pricing_episodes", inputs.episodes),
        assessments=wh.materialize("_pricing_assessments", inputs.assessments),
        clients=wh.materialize("_pricing_clients", inputs.clients),
    )
    inputs = dataclasses.replace(
        inputs,
        groups=wh.materialize("_pricing_groups", episode_groups(inputs, contract)),
        payees=wh.materialize("_pricing_payees", attributed_provider(inputs, contract)),
    )
    covered = wh.materialize("_pricing_covered", with_coverage(ledger, contract, inputs.episodes))
    return {"ledger": ledger, "inputs": inputs, "cohort": cohort_measures(wh, contract, as_of), "covered": covered}


def price_stored(
    wh: Warehouse,
    contract: Contract,
    period: Period,
    as_of: date,
    prints: Fingerprint | PendingFingerprint,
    progress: Progress | None = None,
    at: datetime | None = None,
    marker: tuple[Any, ...] | None = None,
    lines_for: Collection[str] | None = None,
) -> Priced:
    """`price_up_to`, reading the periods already priced with the same contract, data and program from the warehouse
    (`stored.py`) and keeping the ones it prices there for next time. Of the periods it prices, only those in
    `lines_for` (default: every period) and the asked one keep their lines; of the others only the sums
    (`Payments.summed_lines`) can be read. A stored period is read back as it was kept.

    `marker` (`stored.data_marker`, taken before `prints` was) must be unchanged after pricing: otherwise another
    process loaded data meanwhile, the prices may rest on data the fingerprint does not cover: nothing is returned,
    and no period is stored once the change is seen (each period is checked before it is stored, so those stored
    before were priced on the digest's rows).

    `prints` may still be being worked out (`PendingFingerprint`): when nothing was stored for the contract, program
    and as-of date under any data digest, nothing can be reused, so pricing starts at once and waits for the digest
    only to store the first period it prices."""
    key: PricingKey | None = None

    def key_of(found: Fingerprint) -> PricingKey:
        return PricingKey.of(found.contract_sha256, found.data_sha256, found.program_version)

    known: dict[str, Payments] = {}
    if isinstance(prints, Fingerprint) or maybe_stored(wh, contract_sha256(contract), program_version(), as_of):
        key = key_of(prints if isinstance(prints, Fingerprint) else prints.result())
        wanted = [q for q in schedule(contract) if q.start <= period.start]
        known = stored_payments(wh, key, wanted, lines_for)
    stamp = at or datetime.now(UTC)

    def unchanged() -> None:
        if marker is not None and data_marker(wh) != marker:
            raise StatementError(
                "data were loaded (or an audit finding recorded) while the statements were being made, so their "
                "figures and fingerprints may not agree",
                hint="run the command again: it makes the statements from the data as they are now",
            )

    def keep(q: Period, payments: Payments) -> Payments:
        # Each period is kept as soon as it is priced, once no load is seen to have landed since the digest (the
        # rows it was priced from are the digest's). An earlier period's lines are then read back only if used
        # (adjustments), and kept only then: this run holds its sums, and the asked period's lines.
        nonlocal key
        if wh.read_only:  # nothing is stored, so nothing waits for the digest
            return payments
        if key is None:
            assert isinstance(prints, PendingFingerprint)
            key = key_of(prints.result())
        unchanged()
        if not store_payments(wh, contract, key, as_of, {q.label: payments}, stamp, lines_for) or q == period:
            return payments
        count = len(payments.lines)
        kept = lines_for is None or q.label in lines_for
        lines = StoredLines(wh, key, q.label, count) if kept else SummedOnly(q.label, count)
        return dataclasses.replace(payments, lines=lines, sums=payments.summed_lines())

    priced = price_up_to(wh, contract, period, as_of, progress, known=known, each=keep)
    unchanged()
    return priced


def payees(contract: Contract, priced: Priced, approved: Mapping[tuple[str, str], Approved]) -> dict[str, list[str]]:
    """Period label -> the providers with a statement in it: the contract's paid providers, anyone with lines in the
    period, anyone with a statement approved in it or before (their approved periods may need adjusting), and any
    provider the contract does not name with activity in the period (its statement pays nothing and lists why)."""
    named = {pid for pid, p in contract.providers.items() if p.role != "lasars"}
    found = {}
    for q in priced.periods:
        earlier = {pid for (pid, _), a in approved.items() if a.period_start <= q.start}
        payments = priced.payments[q.label]
        outside = {r["provider_id"] for r in payments.unpriced if is_outside(r.get("why")) and r.get("provider_id")}
        found[q.label] = sorted(named | earlier | outside | {line.provider_id for line in payments.summed_lines()})
    return found


def outside_note(contract: Contract, provider: str, unpriced: Sequence[Mapping[str, Any]]) -> list[str]:
    """Notes on activity outside the contract in the period: counted over every provider (no client named), and
    for a provider the contract does not name, that nothing is paid to it."""
    notes = []
    if provider not in contract.providers:
        notes.append(f"{provider} is not named in the contract: nothing is paid to it. Its activity in the period "
                     "is listed below with why, for the commissioner.")
    outside = [r for r in unpriced if is_outside(r.get("why"))]
    if outside:
        notes.append(f"Activity outside the contract in this period, not paid: {len(outside)} payment"
                     f"{'s' if len(outside) != 1 else ''} due for episodes of providers or service lines the "
                     "contract does not name (each is listed, with why, on its provider's statement).")
    return notes


def _check_as_of(period: Period, as_of: date, approved: Mapping[tuple[str, str], Approved]) -> None:
    if as_of < period.start:
        raise StatementError(
            f"a statement for {period.label} cannot be made as of {as_of.isoformat()}, before the period starts",
            hint=f"use the period's last day ({period.end.isoformat()}) or a later date",
        )
    before = [a for a in approved.values() if a.period_start < period.start and a.as_of > as_of]
    if before:
        latest = max(a.as_of for a in before)
        raise StatementError(
            f"statements before {period.label} were approved on data as of {latest.isoformat()}; on data as of "
            f"{as_of.isoformat()} their re-pricing would reverse payments the later data justified",
            hint=f"use --as-of {latest.isoformat()} or later",
        )


def make_statements(
    wh: Warehouse,
    contract: Contract,
    period: Period,
    as_of: date | None = None,
    providers: Sequence[str] | None = None,
    progress: Progress | None = None,
    evaluate: bool = True,
) -> list[Statement]:
    """Each provider's statement for a schedule period, as of a date (default: the period's last day).

    The outcome ledger is evaluated afresh as of that date first (data may have been loaded since it was stored),
    unless `evaluate` is false because the caller has just done so."""
    as_of = as_of or period.end
    approved = approved_statements(wh, contract)
    _check_as_of(period, as_of, approved)
    if evaluate:
        build_ledger(wh, contract, as_of)
    marker = data_marker(wh)
    pending = PendingFingerprint(wh, contract, as_of)  # the data digest, beside pricing (`price_stored`)
    # The statements read the lines of their own period and, for adjustments, of the approved periods before it.
    read = {period.label} | {a.period_label for a in approved.values() if a.period_start < period.start}
    try:
        priced = price_stored(wh, contract, period, as_of, pending, progress, marker=marker, lines_for=read)
    except BaseException:
        pending.cancel()
        raise
    prints = pending.result()
    ledger = run_ledger(wh, contract, as_of)
    who = payees(contract, priced, approved)
    unknown = sorted(set(providers or []) - set(who[period.label]))
    if unknown:
        raise StatementError(
            f"no statement for {', '.join(unknown)} in {period.label}: not a paid provider of the contract, and "
            "nothing paid to it so far",
            hint=f"name one of {', '.join(who[period.label])}",
        )
    made = _Making(wh, contract, period, priced, approved, prints, ledger, who,
                   tuple(funnel_rows(wh, ledger, contract, period)) if who[period.label] else ())
    return [made.statement(pid) for pid in who[period.label] if providers is None or pid in providers]


@dataclass(frozen=True)
class _Making:
    """What every provider's statement of one run is made from."""

    wh: Warehouse
    contract: Contract
    period: Period
    priced: Priced
    approved: Mapping[tuple[str, str], Approved]
    prints: Fingerprint
    ledger: ir.Table
    who: Mapping[str, list[str]]
    #: The funnels' predicted and actual clients (the same on every provider's statement).
    funnel: tuple[FunnelRow, ...]
    #: References in words, by reference and kind, as worked out (`_words`).
    _said: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)

    def statement(self, provider: str) -> Statement:
        period, approved, priced = self.period, self.approved, self.priced
        if (provider, period.label) in approved:
            return stored_statement(approved[(provider, period.label)])
        payments = priced.payments[period.label]
        own = provider_lines(payments.lines, provider)
        lines = list(own)
        earlier = [q for q in priced.periods if q.start < period.start]
        open_before = [
            q.label for q in earlier if provider in self.who[q.label] and (provider, q.label) not in approved
        ]
        mine = [a for (pid, _), a in approved.items() if pid == provider and a.period_start < period.start]
        notes = []
        if open_before:
            notes.append(f"Earlier periods not yet approved for this provider: {', '.join(open_before)}.")
            if mine:
                notes.append(f"Changes to its approved periods will be adjusted in {open_before[0]}, the next open "
                             "period.")
        else:
            lines += _adjustments(self.wh, self.contract, provider, period, priced, dict(approved), self.ledger)
        notes += outside_note(self.contract, provider, payments.unpriced)
        shares = [(whose, change_share(mine, self.contract)) for whose, mine in
                  (("this provider", own), ("all providers", payments.lines))]
        shown = tuple((whose, x.reliable_change_pence, x.domain_pence) for whose, x in shares if x is not None)
        notes += [f"Reliable change earned {percent(x.share)} of the free from drug(s) of dependence domain's money "
                  f"for {whose} in this period, more than the 20% the national rule allows on tariffs: review the "
                  "tariffs (contract check tests them; this is what was earned)."
                  for whose, x in shares if x is not None and x.over and x.share is not None]
        as_of = priced.as_of
        approvals = ",".join(sorted(f"{a.statement_id}={a.fingerprint}" for a in mine))
        return Statement(
            statement_id=statement_id(self.contract.area, self.contract.effective_from, provider, period),
            contract_area=self.contract.area,
            contract_title=self.contract.title,
            contract_version=self.contract.effective_from,
            provider_id=provider,
            provider_name=self.contract.providers[provider].name if provider in self.contract.providers else provider,
            period=period,
            as_of=as_of,
            fingerprint=self.prints.of(provider, period.label, as_of.isoformat(), approvals),
            contract_sha256=self.prints.contract_sha256,
            data_sha256=self.prints.data_sha256,
            program_version=self.prints.program_version,
            lines=tuple(lines),
            year_to_date=year_to_date(self.contract, period, priced.periods, self._by_period(provider, lines)),
            funnel=self.funnel,
            milestones=tuple(milestone_years(self.contract, period)),
            unpriced=tuple(_unpriced(payments.unpriced, provider)),
            reliable_change=shown,
            notes=tuple(notes),
            open_earlier=tuple(open_before),
            reference_words=tuple(self._words(line.reference, line.kind) for line in lines),
        )

    def _words(self, reference: str, kind: str) -> str:
        """`words.reference_words`, worked out once per reference and kind (a national statement has a few dozen
        references over hundreds of thousands of lines)."""
        said = self._said.get((reference, kind))
        if said is None:
            said = self._said[(reference, kind)] = reference_words(self.contract, reference, kind)
        return said

    def _by_period(self, provider: str, lines: Sequence[PaymentLine]) -> dict[str, tuple[str, Sequence[PaymentLine]]]:
        found: dict[str, tuple[str, Sequence[PaymentLine]]] = {}
        for q in self.priced.periods:
            if (provider, q.label) in self.approved:
                found[q.label] = ("approved", self.approved[(provider, q.label)].lines)
            elif q == self.period:
                found[q.label] = ("this statement", lines)
            else:
                # The year to date reads a draft period's sums only (kind, day, outcome and reference).
                found[q.label] = ("draft", provider_lines(self.priced.payments[q.label].summed_lines(), provider))
        return found


def _adjustments(
    wh: Warehouse,
    contract: Contract,
    provider: str,
    period: Period,
    priced: Priced,
    approved: dict[tuple[str, str], Approved],
    ledger: ir.Table,
) -> list[PaymentLine]:
    mine = sorted((a for (pid, _), a in approved.items() if pid == provider), key=lambda a: a.period_start)
    found: list[PaymentLine] = []
    findings = audit_reversals(wh, contract, priced.as_of)
    for index, done in enumerate(mine):
        if done.period_start >= period.start:
            continue
        paid = paid_for(done, mine[index + 1 :])
        repriced = provider_lines(priced.payments[done.period_label].lines, provider)
        changed = {(line.client_id, line.episode_id, line.outcome_id) for line in [*paid, *repriced]}
        decisions = ledger_decisions(wh, ledger, {k for k in changed if k[0]})
        found += adjustment_lines(done, paid, repriced, period, priced.as_of, decisions, findings)
    return found


def _unpriced(rows: Sequence[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    """The provider's rows that were due a payment but found no amount, each with the same keys, in a fixed order
    (outcome rows have `outcome_id` and `achieved_on`; fee and incentive rows `payable_on`), and `why`."""
    keep = ("client_id", "episode_id", "outcome_id", "complexity_group", "achieved_on", "payable_on", "evidence",
            "why")
    found = [{k: _plain(row.get(k)) for k in keep} for row in rows if row.get("provider_id") == provider]
    return sorted(found, key=lambda r: (r["why"], r["outcome_id"], r["client_id"], r["episode_id"]))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else "" if value is None else value


def stored_statement(done: Approved) -> Statement:
    """An approved statement as a `Statement` whose document is exactly the one stored."""
    doc = done.document
    contract, period = doc["contract"], doc["period"]
    return Statement(
        statement_id=done.statement_id,
        contract_area=contract["area"],
        contract_title=contract["title"],
        contract_version=date.fromisoformat(contract["version"]),
        provider_id=done.provider_id,
        provider_name=doc["provider"]["name"],
        period=Period(date.fromisoformat(period["start"]), date.fromisoformat(period["end"]), period["label"]),
        as_of=date.fromisoformat(doc["as_of"]),
        fingerprint=done.fingerprint,
        contract_sha256=contract["sha256"],
        data_sha256=doc["data_sha256"],
        program_version=doc["program_version"],
        lines=done.lines,
        status="approved",
        approved_by=doc["approved_by"],
        approved_at=doc["approved_at"],
        stored_document=doc,
    )


def approve_statements(
    wh: Warehouse,
    statements: Sequence[Statement],
    by: str,
    at: datetime,
    expected_fingerprint: str | None = None,
    note: str = "",
) -> list[Statement]:
    """Approve each statement, refusing (before storing any) one already approved, one with an earlier period of
    the provider still open, one made on data as of a day before its period ends, and, when `expected_fingerprint`
    (a statement's fingerprint or its start) is given, one whose fingerprint differs: the contract, data, program
    or earlier approvals changed since it was reviewed. One fingerprint names one statement."""
    if expected_fingerprint and len(statements) > 1:
        raise StatementError(
            "each provider's statement has its own fingerprint; one --fingerprint cannot approve several",
            hint="approve one provider at a time: pass --provider with --fingerprint",
        )
    for s in statements:
        if s.status == "approved":
            raise StatementError(
                f"statement {s.statement_id} is already approved and is never rewritten",
                hint="later changes are paid or clawed back as adjustment lines in the next open period",
            )
        if s.open_earlier:
            raise StatementError(
                f"cannot approve {s.period.label} for {s.provider_id} while {s.open_earlier[0]} is not approved",
                hint=f"approve {s.open_earlier[0]} first: statements are approved in order",
            )
        if s.as_of < s.period.end:
            raise StatementError(
                f"the statement for {s.period.label} is made on data as of {s.as_of.isoformat()}, before the period "
                "ends, so outcomes later in the period are missing",
                hint=f"approve it on data as of {s.period.end.isoformat()} or later",
            )
        if expected_fingerprint and not s.fingerprint.startswith(expected_fingerprint.lower()):
            raise StatementError(
                f"the statement {s.statement_id} now has fingerprint {s.fingerprint[:12]}, not "
                f"{expected_fingerprint}: its contract, data, program or earlier approvals changed since it was "
                "reviewed",
                hint="run recoverypbr pay again, review the new statement and approve its fingerprint",
            )
    return [approve(wh, s, by, at, note) for s in statements]
