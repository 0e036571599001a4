"""A period's payments: price, add payment points, cohort payments, fees and incentives, split, then limits.

The order (docs/payments.md): outcome lines by tariff (with uplifts; gated outcomes wait for their gate),
milestone payment-point lines (with each milestone's maximum), cohort payments (offending reductions, and outcomes
paid on a cohort basis above their baseline rates), attachment fees and incentives are priced first; every line is
then split among its payees; then the contract's caps, the share of the budget paid on results (an implicit cap per
contract year) and the floors are applied in that order to the split lines, so a provider's limit sees the
provider's own share. `price_period` reads everything from the warehouse as of a date;
`pay_period` prices a given ledger. An earned line that an auditor found not upheld (`audit_reversals`) is not
paid on data as of the day the finding was recorded or later, before splits and limits see it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.inputs import Inputs, stored_columns, warehouse_inputs
from recoverypbr.outcomes.ledger import build_ledger, cohort_measures, evaluation_order, run_ledger
from recoverypbr.payments.cohort import CohortMeasures, cohort_lines
from recoverypbr.payments.cohort_basis import NOT_ACHIEVED, cohort_basis_lines, cohort_basis_outcomes
from recoverypbr.payments.coverage import with_coverage
from recoverypbr.payments.fees import attachment_fee_table, unpaid_attachment_fees
from recoverypbr.payments.funnels import milestone_lines
from recoverypbr.payments.incentives import incentive_lines, unpaid_incentives
from recoverypbr.payments.limits import Earlier, contract_rules, limit_lines, summed, summed_table
from recoverypbr.payments.lines import (
    ArrowLines,
    PaymentLine,
    lines_from_arrow,
    lines_table,
    total_pence,
    totals_by_provider,
)
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import ACHIEVED, individually_paid, outcome_table, payable_rows, unpriced_outcomes
from recoverypbr.payments.splits import split_table
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.row_digests import DIGEST_COLUMNS


@dataclass(frozen=True)
class Payments:
    """A period's payment lines and their totals in pence."""

    period: Period
    lines: Sequence[PaymentLine]
    """The lines: a list, or for a period kept in the warehouse (`stored.StoredLines`) read when first used."""
    unpriced: list[dict[str, Any]] = field(default_factory=list)
    """What was due in the period but found no amount, each with `why`: achieved ledger rows without a tariff,
    cohort-basis groups without a baseline rate or tariff, episodes without a fee or incentive amount (no
    complexity group). Not paid, to be shown and resolved."""
    sums: Sequence[PaymentLine] | None = None
    """The lines summed per day, provider, outcome, kind and reference (`limits.summed`) when already known."""

    def summed_lines(self) -> Sequence[PaymentLine]:
        """`limits.summed(self.lines)`: all that limits' windows, the year to date and the payees read of a period's
        lines (with no client, one line per tariff a day)."""
        return self.sums if self.sums is not None else summed(self.lines)

    @property
    def total_pence(self) -> int:
        return total_pence(self.lines)

    @property
    def by_provider(self) -> dict[str, int]:
        return totals_by_provider(self.summed_lines())


def pay_period(
    wh: Warehouse,
    ledger: ir.Table,
    contract: Contract,
    period: Period,
    episodes: ir.Table | None = None,
    earlier: Earlier | None = None,
    *,
    inputs: Inputs | None = None,
    cohort: CohortMeasures | None = None,
    covered: ir.Table | None = None,
    batch: DatedPricing | None = None,
) -> Payments:
    """Every payment line of the period for one ledger snapshot (e.g. `stored_ledger(wh, contract, as_of)`).

    `episodes` (episode_id, stock_or_flow, service_line) prices stock clients and filters funnels by service line;
    `earlier` gives what earlier statements paid in limit windows that began before this period (`earlier_paid`).
    `inputs` (`payment_inputs`: episodes, assessments, clients as of a date) adds uplifts, attachment fees and
    incentives, and stands for `episodes` when those are not given; `cohort` (`cohort_measures`) adds cohort
    payments. `covered` is `coverage.with_coverage(ledger, contract, episodes)` when the caller has it stored (one
    table read by every period it prices, instead of the join made again for each). `batch` is `dated_pricing` for
    a span holding the period, with the same ledger, contract, episodes and inputs, asked once for many periods."""
    if inputs is not None and episodes is None:
        episodes = inputs.episodes
    if covered is None:
        covered = with_coverage(ledger, contract, episodes)
    inside = _inside(covered)
    dated = (batch or dated_pricing(wh, covered, contract, period, episodes, inputs)).within(period)
    # The lines are held as Arrow tables, not one Python object per line: a national period has millions of them.
    earned = [dated.outcomes]
    few = milestone_lines(wh, inside, contract, period, episodes, earlier)
    few += cohort_lines(cohort or {}, contract, period)
    by_cohort = cohort_basis_lines(wh, inside, contract, period, episodes)
    earned.append(lines_table(few + by_cohort.lines))
    unpriced = dated.unpriced + by_cohort.unpriced + dated.outside
    reversed_keys: Mapping[FindingKey, str] = {}
    if inputs is not None:
        earned += [dated.fees, dated.incentives]
        unpriced += dated.unpaid
        reversed_keys = audit_reversals(wh, contract, inputs.as_of)
    table = pa.concat_tables(earned)
    if reversed_keys:
        table = lines_table(without_reversed(lines_from_arrow(table), reversed_keys))
    table = split_table(table, contract)
    sums = summed_table(table)
    limited = limit_lines(sums, contract_rules(contract), contract, period, earlier)
    return Payments(period, ArrowLines(pa.concat_tables([table, lines_table(limited)])), unpriced,
                    sums=summed([*sums, *limited]))


def priced_rows(ledger: ir.Table, contract: Contract) -> ir.Table:
    """The ledger rows any pricing of the contract reads: the achieved rows (outcome lines, payment points, gates,
    what found no tariff) and the not-achieved rows of outcomes paid on a cohort basis (their rates). A national
    ledger is mostly other rows (not eligible, not achieved, awaiting maturity), which no period need read."""
    cohort = sorted(cohort_basis_outcomes(contract))
    wanted = ledger.status == ACHIEVED
    if cohort:
        wanted |= (ledger.status == NOT_ACHIEVED) & ledger.outcome_id.isin(cohort)
    return ledger.filter(wanted)


def _inside(covered: ir.Table) -> ir.Table:
    """The ledger rows whose episode the contract covers (`coverage.with_coverage`)."""
    return covered.filter(covered.outside.isnull()).drop("outside", "outside_provider")


@dataclass(frozen=True)
class DatedPricing:
    """What a period's pricing asks of the warehouse that depends on the period only through the range of payable
    dates it takes: asked once for a span of periods (`dated_pricing`), then taken period by period (`within`), so
    pricing many periods makes each query once, not once per period. Rows are in the order each query gives."""

    outcomes: pa.Table
    """Outcome lines (`pricing.outcome_table`), in `earned_order`."""
    fees: pa.Table
    """Attachment fee lines (`fees.attachment_fee_table`), in `earned_order`."""
    incentives: pa.Table
    """Incentive lines (`incentives.incentive_lines`), in `earned_order`."""
    unpriced: list[dict[str, Any]]
    """Achieved rows of outcomes paid at a tariff that found none (`pricing.unpriced_outcomes`)."""
    outside: list[dict[str, Any]]
    """Paid outcomes' rows outside the contract (`outside_outcomes`)."""
    unpaid: list[dict[str, Any]]
    """Episodes due a fee or incentive that found no amount (`unpaid_episodes`)."""

    def within(self, period: Period) -> DatedPricing:
        """The rows payable in the period, each kind in the order it has here."""

        def rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in found if period.start <= r["payable_on"] <= period.end]

        def lines(table: pa.Table) -> pa.Table:
            day = table.column("payable_on")
            return table.filter(pc.and_(pc.greater_equal(day, pa.scalar(period.start, pa.date32())),
                                        pc.less_equal(day, pa.scalar(period.end, pa.date32()))))

        return DatedPricing(lines(self.outcomes), lines(self.fees), lines(self.incentives), rows(self.unpriced),
                            rows(self.outside), rows(self.unpaid))


def dated_pricing(
    wh: Warehouse,
    covered: ir.Table,
    contract: Contract,
    span: Period,
    episodes: ir.Table | None = None,
    inputs: Inputs | None = None,
) -> DatedPricing:
    """`DatedPricing` of the rows payable in `span` (one period, or several in a row), `covered` being the ledger
    with its coverage (`coverage.with_coverage`); `inputs` (`payment_inputs`) adds uplifts, fees and incentives."""
    if inputs is not None and episodes is None:
        episodes = inputs.episodes
    inside = _inside(covered)
    assessments = inputs.assessments if inputs is not None else None
    unpriced = wh.to_arrow(unpriced_outcomes(inside, contract, span, episodes)).to_pylist()
    fees, incentives, unpaid = lines_table([]), lines_table([]), []
    if inputs is not None:
        fees = attachment_fee_table(wh, inputs, contract, span)
        incentives = lines_table(incentive_lines(wh, inputs, contract, span))
        unpaid = unpaid_episodes(wh, inputs, contract, span)
    return DatedPricing(outcome_table(wh, inside, contract, span, episodes, assessments), fees, incentives, unpriced,
                        outside_outcomes(wh, covered, contract, span), unpaid)


#: What an audit finding names: a payment's reference, client, episode and outcome (`adjustments.line_key` less the
#: group, which the reference's tariff already fixes).
FindingKey = tuple[str, str, str, str]


def finding_key(line: PaymentLine) -> FindingKey:
    """The reference, client, episode and outcome a line pays for."""
    return (line.reference, line.client_id or "", line.episode_id or "", line.outcome_id or "")


def audit_reversals(wh: Warehouse, contract: Contract, as_of: date) -> dict[FindingKey, str]:
    """The payments of the contract's area an auditor found not upheld in a finding recorded on or before `as_of`
    (`assurance.findings`), each with the finding in words: `audit finding F0003 (sample S..., line 12): not
    upheld: <reason>`. Earlier as-of dates see none of them, so earlier statements re-create unchanged."""
    if not wh.has_table("audit_findings"):
        return {}
    rows = wh.execute(
        "SELECT reference, client_id, coalesce(episode_id, ''), coalesce(outcome_id, ''), finding_id, sample_id,"
        " line_no, reason FROM audit_findings WHERE contract_area = ? AND verdict = 'not_upheld'"
        " AND recorded_on <= ? ORDER BY finding_id",
        [contract.area, as_of],
    )
    found: dict[FindingKey, str] = {}
    for ref, client, episode, outcome, finding, sample, line_no, reason in rows:
        found.setdefault((ref, client, episode, outcome),
                         f"audit finding {finding} (sample {sample}, line {line_no}): not upheld: {reason}")
    return found


def without_reversed(lines: Sequence[PaymentLine], reversed_keys: Mapping[FindingKey, str]) -> list[PaymentLine]:
    """The lines less those an audit finding reversed (every provider's share of a reversed payment)."""
    return [line for line in lines if finding_key(line) not in reversed_keys] if reversed_keys else list(lines)


def outside_outcomes(wh: Warehouse, covered: ir.Table, contract: Contract, period: Period) -> list[dict[str, Any]]:
    """Achieved rows payable in the period, of an outcome the contract pays, whose episode is outside the contract
    (`coverage.with_coverage`'s `outside`), with `why`: not paid, listed."""
    paid = set(individually_paid(contract)) | set(cohort_basis_outcomes(contract))
    paid |= {m.outcome for f in contract.funnels.values() for m in f.milestones.values() if m.payment is not None}
    rows = payable_rows(covered, contract)
    rows = rows.filter(rows.outside.notnull() & rows.outcome_id.isin(sorted(paid) or [""])
                       & rows.payable_on.between(period.start, period.end))
    rows = rows.mutate(provider_id=rows.outside_provider, why=rows.outside).drop("outside", "outside_provider")
    found = wh.to_arrow(rows).to_pylist()
    return sorted(found, key=lambda r: (r["provider_id"] or "", r["client_id"], r["episode_id"], r["outcome_id"]))


def unpaid_episodes(wh: Warehouse, inputs: Inputs, contract: Contract, period: Period) -> list[dict[str, Any]]:
    """Episodes due an attachment fee or incentive in the period that found no amount, with `why`."""
    found = []
    if contract.attachment_fees is not None:
        found += wh.to_arrow(unpaid_attachment_fees(inputs, contract, period)).to_pylist()
    if contract.incentives:
        found += wh.to_arrow(unpaid_incentives(inputs, contract, period)).to_pylist()
    return sorted(found, key=lambda r: (r["provider_id"] or "", r["episode_id"], r["why"]))


def payment_inputs(wh: Warehouse, as_of: date, digests: bool = False) -> Inputs:
    """The warehouse as known on `as_of` for pricing: the outcome engine's as-of view, except that episodes keep
    `triage_date` and `stock_or_flow` and count once triaged or started on or before `as_of` (an attachment fee
    paid on triage is due before the episode starts); a discharge after `as_of` is hidden. A referral that never
    started (no `start_date`) earns nothing, not even a fee paid on triage.

    With `digests`, the tables keep their rows' digests where stored (`warehouse.row_digests`), for the data digest;
    an episode whose discharge is hidden (or a reason without a date) shows none, since it is not seen as it was
    loaded."""
    raw = wh.table("episodes")
    known = raw.filter(raw.start_date.notnull()
                       & ((raw.start_date <= as_of) | (raw.triage_date <= as_of).fill_null(False)))
    discharged = known.discharge_date <= as_of
    shown = {c: known[c] for c in stored_columns(known, digests)}  # in the stored order, some replaced below
    shown["discharge_date"] = ibis.ifelse(discharged, known.discharge_date, ibis.null("date"))
    shown["discharge_reason"] = ibis.ifelse(discharged, known.discharge_reason, ibis.null("string"))
    # A row shown otherwise than it was stored (its discharge hidden) has no kept digest parts that day.
    as_stored = discharged.fill_null(False) | (known.discharge_date.isnull() & known.discharge_reason.isnull())
    for column in DIGEST_COLUMNS if digests else ():
        if column in shown:
            shown[column] = ibis.ifelse(as_stored, known[column], ibis.null("int64"))
    episodes = known.select(**shown)
    return dataclasses.replace(warehouse_inputs(wh, as_of, digests), episodes=episodes)


def period_ledger(wh: Warehouse, contract: Contract, as_of: date, ordered: bool = True) -> ir.Table:
    """The stored ledger as of the date, built first (`build_ledger`) when nothing is stored for it; in ledger order
    unless `ordered` is false (`run_ledger`)."""
    # Whether any row is stored, not how many, and in no order (PostgreSQL would sort every row to find one).
    if evaluation_order(contract) and wh.count(run_ledger(wh, contract, as_of, ordered=False).limit(1)) == 0:
        build_ledger(wh, contract, as_of)
    return run_ledger(wh, contract, as_of, ordered)


def price_period(
    wh: Warehouse, contract: Contract, period: Period, as_of: date, earlier: Earlier | None = None
) -> Payments:
    """The period's payments from the warehouse as known on `as_of`: the stored ledger (built when missing),
    episodes, assessments and cohort measures; `earlier` as from `earlier_paid` of the periods before."""
    ledger = period_ledger(wh, contract, as_of)
    inputs = payment_inputs(wh, as_of)
    cohort = cohort_measures(wh, contract, as_of)
    return pay_period(wh, ledger, contract, period, earlier=earlier, inputs=inputs, cohort=cohort)
