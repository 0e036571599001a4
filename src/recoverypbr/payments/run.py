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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.contract.types import value_on
from recoverypbr.outcomes.ledger import build_ledger, stored_ledger
from recoverypbr.payments.adjustments import adjustment_lines, paid_for
from recoverypbr.payments.approval import Approved, StatementError, approve, approved_statements
from recoverypbr.payments.fingerprint import Fingerprint, fingerprint
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period, WindowKind, parse_period, windows
from recoverypbr.payments.pipeline import Payments, price_period
from recoverypbr.payments.statements import Statement, YearToDate, provider_lines, statement_id
from recoverypbr.payments.volumes import funnel_rows, ledger_decisions
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
    for period in periods:
        if (period.start, period.end) == (asked.start, asked.end):
            return period
    frequency = contract.payment_schedule.frequency
    example = periods[0].label if periods else "2013-Q1"
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
    wh: Warehouse, contract: Contract, period: Period, as_of: date, progress: Progress | None = None
) -> Priced:
    """Price each schedule period from the contract's start to `period`, in order, with the data as of `as_of`."""
    from recoverypbr.payments.limits import earlier_paid

    periods = [p for p in schedule(contract) if p.start <= period.start]
    found: dict[str, Payments] = {}
    so_far: list[PaymentLine] = []
    for done, q in enumerate(periods):
        if progress:
            progress(q.label, done, len(periods))
        found[q.label] = price_period(wh, contract, q, as_of, earlier_paid(so_far, contract))
        so_far += found[q.label].lines
    if progress:
        progress("", len(periods), len(periods))
    return Priced(as_of, periods, found)


def payees(contract: Contract, lines: Sequence[PaymentLine]) -> list[str]:
    """Providers that get a statement: the contract's paid providers and anyone else with lines, by id."""
    named = {pid for pid, p in contract.providers.items() if p.role != "lasars"}
    return sorted(named | {line.provider_id for line in lines})


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
    if evaluate:
        build_ledger(wh, contract, as_of)
    priced = price_up_to(wh, contract, period, as_of, progress)
    approved = approved_statements(wh, contract)
    prints = fingerprint(wh, contract, as_of)
    ledger = stored_ledger(wh, contract, as_of)
    every = payees(contract, priced.payments[period.label].lines)
    unknown = sorted(set(providers or []) - set(every))
    if unknown:
        raise StatementError(
            f"no statement for {', '.join(unknown)}: not a paid provider of the contract",
            hint=f"name one of {', '.join(every)}",
        )
    return [
        _statement(wh, contract, period, priced, approved, prints, ledger, pid)
        for pid in every
        if providers is None or pid in providers
    ]


def _statement(
    wh: Warehouse,
    contract: Contract,
    period: Period,
    priced: Priced,
    approved: dict[tuple[str, str], Approved],
    prints: Fingerprint,
    ledger: ir.Table,
    provider: str,
) -> Statement:
    if (provider, period.label) in approved:
        return stored_statement(approved[(provider, period.label)])
    payments = priced.payments[period.label]
    lines = provider_lines(payments.lines, provider)
    notes: list[str] = []
    earlier = [q for q in priced.periods if q.start < period.start]
    open_before = [q.label for q in earlier if (provider, q.label) not in approved]
    if open_before:
        notes.append(
            f"Earlier periods not yet approved: {', '.join(open_before)}. Changes to approved periods are adjusted "
            f"in {open_before[0]}, the next open period."
        )
    else:
        lines += _adjustments(wh, provider, period, priced, approved, ledger)
    as_of = priced.as_of
    return Statement(
        statement_id=statement_id(contract.area, contract.effective_from, provider, period),
        contract_area=contract.area,
        contract_title=contract.title,
        contract_version=contract.effective_from,
        provider_id=provider,
        provider_name=contract.providers[provider].name if provider in contract.providers else provider,
        period=period,
        as_of=as_of,
        fingerprint=prints.of(provider, period.label, as_of.isoformat()),
        contract_sha256=prints.contract_sha256,
        data_sha256=prints.data_sha256,
        program_version=prints.program_version,
        lines=tuple(lines),
        year_to_date=year_to_date(contract, period, priced, approved, provider, lines),
        funnel=tuple(funnel_rows(wh, ledger, contract, period)),
        unpriced=tuple(_unpriced(payments.unpriced, provider)),
        notes=tuple(notes),
    )


def _adjustments(
    wh: Warehouse,
    provider: str,
    period: Period,
    priced: Priced,
    approved: dict[tuple[str, str], Approved],
    ledger: ir.Table,
) -> list[PaymentLine]:
    mine = sorted((a for (pid, _), a in approved.items() if pid == provider), key=lambda a: a.period_start)
    found: list[PaymentLine] = []
    for index, done in enumerate(mine):
        if done.period_start >= period.start:
            continue
        paid = paid_for(done, mine[index + 1 :])
        repriced = provider_lines(priced.payments[done.period_label].lines, provider)
        changed = {(line.client_id, line.episode_id, line.outcome_id) for line in [*paid, *repriced]}
        decisions = ledger_decisions(wh, ledger, {k for k in changed if k[0]})
        found += adjustment_lines(done, paid, repriced, period, priced.as_of, decisions)
    return found


def year_to_date(
    contract: Contract,
    period: Period,
    priced: Priced,
    approved: dict[tuple[str, str], Approved],
    provider: str,
    lines: Sequence[PaymentLine],
) -> YearToDate | None:
    """The contract year `period` ends in: budget, share on results, and each of its periods' totals so far."""
    year = next((y for y in contract.years if y.start <= period.end <= y.end), None)
    if year is None:
        return None
    totals = []
    for q in priced.periods:
        if not year.start <= q.end <= year.end:
            continue
        if (provider, q.label) in approved:
            totals.append((q.label, "approved", approved[(provider, q.label)].total_pence))
        elif q == period:
            totals.append((q.label, "this statement", sum(line.amount_pence for line in lines)))
        else:
            draft = provider_lines(priced.payments[q.label].lines, provider)
            totals.append((q.label, "draft", sum(x.amount_pence for x in draft)))
    budget = value_on(contract.budget, year.start)
    share = value_on(contract.share_on_results, year.start)
    pot = contract.at_risk(year.start)
    return YearToDate(
        year_label=year.label or f"year {contract.years.index(year) + 1}",
        year_start=year.start,
        year_end=year.end,
        budget_pence=None if budget is None else pence(budget),
        share_on_results="" if share is None else f"{(share * 100).normalize():f}%",
        results_pot_pence=None if pot is None else pence(pot),
        periods=tuple(totals),
    )


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
    contract: Contract,
    expected_fingerprint: str | None = None,
    note: str = "",
) -> list[Statement]:
    """Approve each statement in one go, refusing any already approved, any with an earlier open period and, when
    `expected_fingerprint` is given, any whose fingerprint differs from it (the data changed since review)."""
    approved = approved_statements(wh, contract)
    periods = schedule(contract)
    for s in statements:
        if s.status == "approved":
            raise StatementError(
                f"statement {s.statement_id} is already approved and is never rewritten",
                hint="later changes are paid or clawed back as adjustment lines in the next open period",
            )
        before = [p.label for p in periods if p.start < s.period.start and (s.provider_id, p.label) not in approved]
        if before:
            raise StatementError(
                f"cannot approve {s.period.label} for {s.provider_id} while {before[0]} is not approved",
                hint=f"approve {before[0]} first: statements are approved in order",
            )
        if expected_fingerprint and not s.fingerprint.startswith(expected_fingerprint):
            raise StatementError(
                f"the statement {s.statement_id} now has fingerprint {s.fingerprint[:12]}, not "
                f"{expected_fingerprint}: its contract, data or program changed since it was reviewed",
                hint="run recoverypbr pay again, review the new statement and approve its fingerprint",
            )
    return [approve(wh, s, by, at, note) for s in statements]
