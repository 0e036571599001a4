"""Incentives (Oxfordshire): a payment for moving a client from one service to another.

"Oxfordshire use a local incentivisation scheme aimed at moving people from harm minimisation and into recovery."
Rules (docs/payments.md):
- A move is an episode in `to_service` (its service line, and its provider when given) starting on or after the
  day an episode of the same client in `from_service` ended (its discharge date) and at most `within_days` later.
- Each episode counts in at most one move of an incentive: a later episode is paired with the earlier episode that
  ended last before it (then the lowest episode id); an earlier episode with the first later one.
- Payable on the later episode's start date (inside the contract and the period, known on the as-of date), at the
  amount for the later episode's complexity group in force that day; a move that finds no amount (no group and
  no `all`) is not paid and is listed in `Payments.unpriced` with `why`.
- Paid by the incentive's own `split` when it has one (`splits.shares_for`), else like an outcome of the later
  episode: to the provider the ledger would attribute it to, then the contract's split.
- Evidence names both episodes: `episode:<earlier>;episode:<later>`.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract, Incentive, ServicePlace
from recoverypbr.outcomes.inputs import Inputs
from recoverypbr.payments.fees import (
    EARNED_COLUMNS,
    amounts_table,
    earned,
    nothing_unpaid,
    unpaid,
    with_group_and_provider,
)
from recoverypbr.payments.lines import PaymentLine, earned_order, lines_from_arrow
from recoverypbr.payments.periods import Period
from recoverypbr.warehouse.connection import Warehouse


def _in(episodes: ir.Table, place: ServicePlace) -> ir.Table:
    test = episodes.service_line == place.service_line
    if place.provider is not None:
        test = test & (episodes.provider_id == place.provider)
    return episodes.filter(test.fill_null(False))


def moves(inputs: Inputs, incentive: Incentive) -> ir.Table:
    """One row per move: the later episode's rows and `m_from` (the earlier episode), each episode once."""
    e = inputs.episodes
    ended = _in(e, incentive.from_service).filter(lambda t: t.discharge_date.notnull())
    ended = ended.select(m_client="client_id", m_from="episode_id", m_ended="discharge_date")
    later = _in(e, incentive.to_service)
    j = later.join(
        ended,
        (later.client_id == ended.m_client)
        & (later.episode_id != ended.m_from)
        & (later.start_date >= ended.m_ended)
        & (later.start_date <= ended.m_ended + ibis.interval(days=incentive.within_days)),
    )
    latest_first = ibis.window(group_by=j.episode_id, order_by=[ibis.desc(j.m_ended), j.m_from])
    j = j.mutate(_n=ibis.row_number().over(latest_first))
    j = j.filter(j._n == 0)
    first_move = ibis.window(group_by=j.m_from, order_by=[j.start_date, j.episode_id])
    j = j.mutate(_n=ibis.row_number().over(first_move))
    return j.filter(j._n == 0).drop("_n", "m_client", "m_ended")


def _moves_due(
    inputs: Inputs, contract: Contract, period: Period, iid: str
) -> tuple[ir.Table, ir.Table, ir.BooleanValue]:
    """The incentive's moves payable in the period (with group and provider), its amounts, and the join
    predicate between them."""
    incentive = contract.incentives[iid]
    m = moves(inputs, incentive)
    first, last = max(period.start, contract.start), min(period.end, contract.end, inputs.as_of)
    m = m.filter(m.start_date.between(first, last))
    rows = with_group_and_provider(m, inputs, contract).mutate(payable_on=lambda t: t.start_date)
    amounts = amounts_table({iid: (f"incentives.{iid}.amount", incentive.amount)}, contract)
    found = (rows.complexity_group == amounts.a_group) & rows.start_date.between(amounts.a_from, amounts.a_until)
    return rows, amounts, found


def incentive_payments(inputs: Inputs, contract: Contract, period: Period, iid: str) -> ir.Table:
    """The incentive's payments in the period, one row per move, in `EARNED_COLUMNS`."""
    rows, amounts, found = _moves_due(inputs, contract, period, iid)
    paid = rows.filter(rows.outside.isnull()).join(amounts, found)
    evidence = "episode:" + paid.m_from + ";episode:" + paid.episode_id
    return earned(paid, ibis.null("string"), paid.start_date, evidence)


def unpaid_incentives(inputs: Inputs, contract: Contract, period: Period) -> ir.Table:
    """Moves payable in the period that found no amount (the later episode has no complexity group, or the
    amounts none for its group), in `UNPAID_COLUMNS` with `why`: listed in `Payments.unpriced`."""
    parts = []
    for iid in contract.incentives:
        rows, amounts, found = _moves_due(inputs, contract, period, iid)
        missing = rows.filter(rows.outside.isnull()).anti_join(amounts, found)
        evidence = "episode:" + missing.m_from + ";episode:" + missing.episode_id
        parts.append(unpaid(missing, f"incentives.{iid} amount", evidence))
        outside = rows.filter(rows.outside.notnull())
        evidence = "episode:" + outside.m_from + ";episode:" + outside.episode_id
        parts.append(unpaid(outside, f"incentives.{iid} amount", evidence, outside.outside))
    return ibis.union(*parts, distinct=False) if parts else nothing_unpaid()


def incentive_lines(wh: Warehouse, inputs: Inputs, contract: Contract, period: Period) -> list[PaymentLine]:
    """The incentive lines of a period (before splits, caps and floors), in a fixed order."""
    if not contract.incentives:
        return []
    parts = [incentive_payments(inputs, contract, period, iid).select(*EARNED_COLUMNS) for iid in contract.incentives]
    lines = lines_from_arrow(wh.to_arrow(ibis.union(*parts, distinct=False)), kind="incentive")
    return sorted(lines, key=earned_order)
