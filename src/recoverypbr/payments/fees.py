"""Attachment fees: "a payment when a client is taken on, for cash flow", by complexity group, stock or flow.

Rules (docs/payments.md):
- One fee per episode taken on. A new client's episode (flow) is payable on its `triage_date` or `start_date`, as
  `attachment_fees.paid_on` says (a missing triage date falls back to the start date). An episode in treatment at
  go-live (`stock_or_flow` = `stock`) is payable on the contract's start date, by the `stock` fees; a contract
  without `stock` fees pays none for stock episodes. An episode without `stock_or_flow` is flow.
- Only payable dates inside the contract, the period and known on the as-of date.
- The fee is the one for the episode's complexity group (the contract's grouping, as the outcome ledger groups:
  `outcomes.ledger.episode_groups`) in force on the payable date; an episode whose group has no fee (or that has
  no group, and the table no `all`) is not paid and is listed in `Payments.unpriced` with `why`.
- It is attributed to the provider the ledger would attribute the episode's outcomes to
  (`outcomes.ledger.attributed_provider`) and then split like any other line.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.inputs import Inputs
from recoverypbr.outcomes.ledger import attributed_provider, episode_groups
from recoverypbr.payments.coverage import listed_under, outside_why
from recoverypbr.payments.lines import as_lines_table, lines_table, sorted_earned
from recoverypbr.payments.periods import Period
from recoverypbr.payments.pricing import ByGroup, versions
from recoverypbr.warehouse.connection import Warehouse

#: The columns of an earned line an episode-based rule gives (fees and incentives).
EARNED_COLUMNS = (
    "provider_id",
    "client_id",
    "episode_id",
    "complexity_group",
    "stock_or_flow",
    "payable_on",
    "reference",
    "amount_pence",
    "evidence",
)
#: The columns of an episode listed in `Payments.unpriced` because it found no fee or incentive amount.
UNPAID_COLUMNS = ("provider_id", "client_id", "episode_id", "complexity_group", "payable_on", "evidence", "why")
AMOUNT_SCHEMA = pa.schema(
    [
        ("a_key", pa.string()),
        ("a_group", pa.string()),
        ("a_from", pa.date32()),
        ("a_until", pa.date32()),
        ("a_reference", pa.string()),
        ("a_pence", pa.int64()),
    ]
)


def amounts_table(tables: Mapping[str, tuple[str, ByGroup]], contract: Contract) -> ir.Table:
    """Key -> (contract path, table by group) as one memtable of dated amounts (`AMOUNT_SCHEMA`)."""
    rows = [
        {
            "a_key": key,
            "a_group": v["group"],
            "a_from": v["from"],
            "a_until": v["until"],
            "a_reference": v["reference"],
            "a_pence": v["pence"],
        }
        for key, (path, table) in tables.items()
        for v in versions(path, table, contract.group_ids)
    ]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=AMOUNT_SCHEMA))


def with_group_and_provider(rows: ir.Table, inputs: Inputs, contract: Contract) -> ir.Table:
    """The rows (episodes: with `episode_id` and `service_line`) with the episode's `complexity_group`, attributed
    provider `a_provider` and `outside` (why the episode is outside the contract, null when covered)."""
    groups = episode_groups(inputs, contract)
    providers = attributed_provider(inputs, contract).rename(a_provider="provider_id")
    rows = rows.left_join(groups, rows.episode_id == groups.g_episode)
    rows = rows.left_join(providers, rows.episode_id == providers.p_episode)
    return rows.mutate(outside=outside_why(rows.a_provider, rows.service_line, contract, rows.provider_id),
                       outside_provider=listed_under(rows.a_provider, rows.provider_id, contract))


def _fee_tables(contract: Contract) -> dict[str, tuple[str, ByGroup]]:
    fees = contract.attachment_fees
    tables: dict[str, tuple[str, ByGroup]] = {}
    if fees is not None and fees.flow:
        tables["flow"] = ("attachment_fees.flow", fees.flow)
    if fees is not None and fees.stock:
        tables["stock"] = ("attachment_fees.stock", fees.stock)
    return tables


def _fees_due(inputs: Inputs, contract: Contract, period: Period) -> tuple[ir.Table, ir.Table, ir.BooleanValue]:
    """Episodes taken on whose fee is due in the period (with group and provider), the fee amounts, and the join
    predicate between them."""
    tables = _fee_tables(contract)
    on_triage = contract.attachment_fees is not None and contract.attachment_fees.paid_on == "triage"
    e = inputs.episodes
    stock = e.stock_or_flow.fill_null("flow") == "stock"
    taken_on = e.triage_date.fill_null(e.start_date) if on_triage else e.start_date
    e = e.mutate(
        stock_or_flow=ibis.ifelse(stock, "stock", "flow"),
        payable_on=ibis.ifelse(stock, ibis.literal(contract.start), taken_on),
    )
    first, last = max(period.start, contract.start), min(period.end, contract.end, inputs.as_of)
    e = e.filter(e.payable_on.between(first, last) & e.stock_or_flow.isin(list(tables)))
    rows = with_group_and_provider(e, inputs, contract)
    amounts = amounts_table(tables, contract)
    found = (
        (rows.stock_or_flow == amounts.a_key)
        & (rows.complexity_group == amounts.a_group)
        & rows.payable_on.between(amounts.a_from, amounts.a_until)
    )
    return rows, amounts, found


def attachment_fees(inputs: Inputs, contract: Contract, period: Period) -> ir.Table:
    """The attachment fees payable in the period, one row per episode, in `EARNED_COLUMNS`."""
    if not _fee_tables(contract):
        return _nothing()
    rows, amounts, found = _fees_due(inputs, contract, period)
    paid = rows.filter(rows.outside.isnull()).join(amounts, found)
    return earned(paid, paid.stock_or_flow, paid.payable_on, "episode:" + paid.episode_id)


def earned(
    paid: ir.Table, stock_or_flow: ir.StringValue, payable_on: ir.DateValue, evidence: ir.StringValue
) -> ir.Table:
    """Rows joined to their amount (`amounts_table`, with `a_provider`) as `EARNED_COLUMNS`: shared by attachment
    fees and incentives."""
    return paid.select(
        provider_id=paid.a_provider,
        client_id=paid.client_id,
        episode_id=paid.episode_id,
        complexity_group=paid.complexity_group,
        stock_or_flow=stock_or_flow,
        payable_on=payable_on,
        reference=paid.a_reference,
        amount_pence=paid.a_pence,
        evidence=evidence,
    )


def unpaid(rows: ir.Table, what: str, evidence: ir.StringValue, why: ir.StringValue | None = None) -> ir.Table:
    """Rows (episodes due a payment that found no amount) in `UNPAID_COLUMNS`, with `why` naming `what` (or the
    `why` given: the episode is outside the contract)."""
    group = rows.complexity_group
    provider = rows.outside_provider if why is not None else rows.a_provider
    why = why if why is not None else ibis.ifelse(
        group.isnull(),
        f"no complexity group (no assessment before the episode's start): no {what}",
        "no " + what + " for complexity group " + group.fill_null("") + " on " + rows.payable_on.strftime("%Y-%m-%d"),
    )
    return rows.select(
        provider_id=provider,
        client_id=rows.client_id,
        episode_id=rows.episode_id,
        complexity_group=group,
        payable_on=rows.payable_on,
        evidence=evidence,
        why=why,
    )


def unpaid_attachment_fees(inputs: Inputs, contract: Contract, period: Period) -> ir.Table:
    """Episodes whose fee is due in the period but that found none (no complexity group, or no fee for the
    group), with `why`: listed in `Payments.unpriced` rather than dropped. Stock episodes of a contract without
    stock fees are not listed: no fee is due for them."""
    if not _fee_tables(contract):
        return nothing_unpaid()
    rows, amounts, found = _fees_due(inputs, contract, period)
    missing = rows.filter(rows.outside.isnull()).anti_join(amounts, found)
    outside = rows.filter(rows.outside.notnull())
    return ibis.union(unpaid(missing, "attachment fee", "episode:" + missing.episode_id),
                      unpaid(outside, "attachment fee", "episode:" + outside.episode_id, outside.outside),
                      distinct=False)


def nothing_unpaid() -> ir.Table:
    schema = {c: "string" for c in UNPAID_COLUMNS} | {"payable_on": "date"}
    return ibis.memtable({c: [] for c in UNPAID_COLUMNS}, schema=schema)


def _nothing() -> ir.Table:
    schema = {c: "string" for c in EARNED_COLUMNS} | {"payable_on": "date", "amount_pence": "int64"}
    return ibis.memtable({c: [] for c in EARNED_COLUMNS}, schema=schema)


def attachment_fee_table(wh: Warehouse, inputs: Inputs, contract: Contract, period: Period) -> pa.Table:
    """The attachment fee lines of a period (before splits, caps and floors) as a table of `lines.LINE_SCHEMA`, in
    `earned_order`."""
    if contract.attachment_fees is None:
        return lines_table([])
    return sorted_earned(as_lines_table(wh.to_arrow(attachment_fees(inputs, contract, period)), kind="attachment_fee"))
