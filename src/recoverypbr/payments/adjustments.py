"""Adjustments: what later data or audit findings change in an approved statement, paid in the next open period.

An approved period is priced again with today's data (the same contract, the later as-of date). Lines are matched
on what they pay for: the reference (tariff, unit price, fee or limit path with its version), client, episode,
outcome and complexity group. For each such key, what should have been paid (the re-priced lines) is compared with
what was paid (the approved lines plus any adjustments to them in later approved statements); a difference becomes
one adjustment line in the open statement: negative (a clawback) or positive (an additional payment). Its `adjusts`
names the approved statement and line it corrects (`<statement id>#<line no>`; the statement alone for a payment it
did not have), its `corrects` says why in words, and a split line's adjustment keeps the `share` and `whole` of the
line it adjusts. Adjusting again later converges: the sum over the approved statement and all its adjustments
always equals the latest re-pricing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from recoverypbr.payments.approval import Approved
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import pounds
from recoverypbr.payments.periods import Period

Key = tuple[str, str, str, str, str]


def line_key(line: PaymentLine) -> Key:
    """What a line pays for: reference, client, episode, outcome and complexity group (the kind is implied by the
    reference; the group tells apart cohort-basis lines of groups priced by one `all` tariff)."""
    return (line.reference, line.client_id or "", line.episode_id or "", line.outcome_id or "",
            line.complexity_group or "")


def _sums(lines: Sequence[PaymentLine]) -> dict[Key, int]:
    found: dict[Key, int] = {}
    for line in lines:
        found[line_key(line)] = found.get(line_key(line), 0) + line.amount_pence
    return found


def paid_for(approved: Approved, later: Sequence[Approved]) -> list[PaymentLine]:
    """What was paid for an approved statement's period: its own lines (not its adjustments, which belong to the
    periods they adjust) and the adjustments to it in later approved statements."""
    prefix = approved.statement_id
    own = [line for line in approved.lines if line.kind != "adjustment"]
    adjustments = [
        line
        for other in later
        for line in other.lines
        if line.kind == "adjustment" and (line.adjusts == prefix or line.adjusts.startswith(prefix + "#"))
    ]
    return [*own, *adjustments]


def adjustment_lines(
    approved: Approved,
    paid: Sequence[PaymentLine],
    repriced: Sequence[PaymentLine],
    period: Period,
    as_of: date,
    decisions: Mapping[tuple[str, str, str], str] | None = None,
    findings: Mapping[tuple[str, str, str, str], str] | None = None,
) -> list[PaymentLine]:
    """The adjustment lines, payable at the end of `period`, that bring `paid` to `repriced` for one approved
    statement; `decisions` ((client, episode, outcome) -> the ledger's status and evidence as of `as_of`) are
    quoted in the reason, and so are `findings` ((reference, client, episode, outcome) -> an audit finding in words,
    `pipeline.audit_reversals`) for the payments they reverse."""
    was, now = _sums(paid), _sums(repriced)
    first_line: dict[Key, int] = {}
    for line_no, line in enumerate(approved.lines, start=1):
        if line.kind != "adjustment":
            first_line.setdefault(line_key(line), line_no)
    samples = {line_key(line): line for line in [*paid, *repriced]}
    found = []
    for key in sorted(set(was) | set(now), key=lambda k: (first_line.get(k, 10**9), k)):
        difference = now.get(key, 0) - was.get(key, 0)
        if difference == 0:
            continue
        sample, number = samples[key], first_line.get(key)
        why = _reason(approved.period_label, number, was.get(key, 0), now.get(key, 0), as_of)
        decision = (decisions or {}).get((key[1], key[2], key[3]))
        finding = (findings or {}).get(key[:4]) if difference < 0 else None
        why = f"{finding}; {why}" if finding else why
        found.append(
            PaymentLine(
                kind="adjustment",
                provider_id=sample.provider_id,
                reference=sample.reference,
                amount_pence=difference,
                payable_on=period.end,
                client_id=sample.client_id,
                episode_id=sample.episode_id,
                outcome_id=sample.outcome_id,
                complexity_group=sample.complexity_group,
                stock_or_flow=sample.stock_or_flow,
                evidence=sample.evidence,
                share=sample.share,
                whole_pence=sample.whole_pence,
                corrects=f"{why}; ledger as of {as_of.isoformat()}: {decision}" if decision else why,
                adjusts=f"{approved.statement_id}#{number}" if number else approved.statement_id,
            )
        )
    return found


def _reason(period: str, number: int | None, was: int, now: int, as_of: date) -> str:
    line = f"{period} line {number}" if number else f"{period}"
    if now == 0:
        return f"reverses {line} ({pounds(was)} paid): not payable for {period} on the data as of {as_of.isoformat()}"
    if was == 0:
        return f"adds to {line}: {pounds(now)} payable for {period} on the data as of {as_of.isoformat()}"
    return f"corrects {line} from {pounds(was)} to {pounds(now)} on the data as of {as_of.isoformat()}"
