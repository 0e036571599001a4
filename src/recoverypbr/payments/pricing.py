"""Pricing: achieved outcomes in the ledger -> outcome payment lines, by tariff, complexity group and stock/flow.

Rules (docs/payments.md):
- Only ledger rows with status `achieved` of this contract (area and version) are paid; nothing else is.
- An outcome is payable on `matures_on` when set (an outcome with a window is paid when it matures), else on
  `achieved_on`; with `payment_schedule.pay_when_mature: false` always on `achieved_on`. A row is priced in the
  period containing its payable date.
- The tariff is the outcome's tariff for the row's complexity group (or `all`) in force on `achieved_on`. Clients
  in treatment at go-live (episodes' `stock_or_flow` = `stock`) are priced by `stock_tariffs` when the outcome has
  them; without episodes every row is priced as flow.
- Outcomes without tariffs (measured only, gates' components, funnel milestones) give no outcome line, nor do
  outcomes paid on a cohort basis (`basis: cohort`, priced per group by `cohort_basis.py`).
- A gated outcome waits for its gate (`gates.py`): payable once the client has achieved the gate, on the later of
  its own payable date and the gate's.
- With episodes and assessments, uplifts multiply the tariff (`uplifts.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OutcomeCommon
from recoverypbr.contract.types import ALL_GROUPS, WHOLE_CONTRACT
from recoverypbr.payments.gates import gated
from recoverypbr.payments.lines import as_lines_table, lines_from_arrow, lines_table, sorted_earned
from recoverypbr.payments.money import pence
from recoverypbr.payments.periods import Period
from recoverypbr.payments.uplifts import uplifted, with_flags
from recoverypbr.warehouse.connection import Warehouse

ACHIEVED = "achieved"
NO_GROUP = ("no complexity group: the client had no assessment on or before the episode's start, so no tariff "
            "applies; not paid")
#: A table of amounts by complexity group (or `all`), each dated: tariffs, fees, incentive amounts.
ByGroup = Mapping[str, Mapping[date, Decimal]]
PRICED_COLUMNS = (
    "provider_id",
    "client_id",
    "episode_id",
    "outcome_id",
    "complexity_group",
    "stock_or_flow",
    "payable_on",
    "reference",
    "amount_pence",
    "evidence",
)
_TARIFF_SCHEMA = pa.schema(
    [
        ("t_outcome", pa.string()),
        ("t_group", pa.string()),
        ("t_stock_or_flow", pa.string()),
        ("t_from", pa.date32()),
        ("t_until", pa.date32()),
        ("t_reference", pa.string()),
        ("t_pence", pa.int64()),
    ]
)


def reference(path: str, since: date) -> str:
    """A contract path and the date its value took effect: `outcomes.x.tariffs.high@2012-04-01`."""
    return path if since == WHOLE_CONTRACT else f"{path}@{since.isoformat()}"


def versions(path: str, table: ByGroup, groups: list[str]) -> list[dict[str, Any]]:
    """One row per complexity group and dated version of a table by group (or `all`): `group`, `from`, `until`,
    `reference` (`<path>.<group or all>@<date>`) and `pence`. Shared by tariffs, attachment fees and incentives."""
    rows = []
    for group in sorted(set(groups) | set(table)):
        key = group if group in table else ALL_GROUPS
        if key not in table:
            continue
        dated = sorted(table[key].items())
        for i, (since, amount) in enumerate(dated):
            until = dated[i + 1][0] - timedelta(days=1) if i + 1 < len(dated) else date.max
            ref = reference(f"{path}.{key}", since)
            rows.append({"group": group, "from": since, "until": until, "reference": ref, "pence": pence(amount)})
    return rows


def tariff_rows(contract: Contract) -> list[dict[str, Any]]:
    """One row per outcome, complexity group, stock/flow and tariff version: its dates, pence and reference."""
    rows = []
    for oid, outcome in contract.outcomes.items():
        flow = getattr(outcome, "tariffs", None)
        if not flow:
            continue
        stock = getattr(outcome, "stock_tariffs", None)
        tables = {"flow": ("tariffs", flow), "stock": ("stock_tariffs", stock) if stock else ("tariffs", flow)}
        for stock_or_flow, (field, table) in tables.items():
            for v in versions(f"outcomes.{oid}.{field}", table, contract.group_ids):
                rows.append(
                    {
                        "t_outcome": oid,
                        "t_group": v["group"],
                        "t_stock_or_flow": stock_or_flow,
                        "t_from": v["from"],
                        "t_until": v["until"],
                        "t_reference": v["reference"],
                        "t_pence": v["pence"],
                    }
                )
    return rows


def payable_on(ledger: ir.Table, contract: Contract) -> ir.DateValue:
    """The date a ledger row is payable: when it matures (if it has a window), else when it was achieved."""
    if contract.payment_schedule.pay_when_mature:
        return ledger.matures_on.fill_null(ledger.achieved_on)
    return ledger.achieved_on


def contract_rows(ledger: ir.Table, contract: Contract) -> ir.Table:
    """The ledger rows of this contract (area and version)."""
    return ledger.filter((ledger.contract_area == contract.area) & (ledger.contract_version == contract.effective_from))


def payable_rows(ledger: ir.Table, contract: Contract) -> ir.Table:
    """This contract's achieved rows with `payable_on`, gated outcomes waiting for their gate (`gates.gated`):
    what outcome lines, payment points and the unpriced list all start from."""
    rows = contract_rows(ledger, contract)
    rows = rows.filter(rows.status == ACHIEVED)
    return gated(rows.mutate(payable_on=payable_on(rows, contract)), contract)


def individually_paid(contract: Contract) -> list[str]:
    """Outcome ids paid client by client at a tariff: with tariffs and not on a cohort basis."""
    return [
        oid
        for oid, o in contract.outcomes.items()
        if isinstance(o, OutcomeCommon) and o.tariffs and o.basis == "individual"
    ]


def payable_in(ledger: ir.Table, contract: Contract, period: Period) -> ir.Table:
    """The payable rows (`payable_rows`) of outcomes paid at a tariff whose payable date is in the period."""
    rows = payable_rows(ledger, contract)
    rows = rows.filter(rows.outcome_id.isin(individually_paid(contract) or [""]))
    return rows.filter(rows.payable_on.between(period.start, period.end))


def priced_outcomes(ledger: ir.Table, contract: Contract, period: Period, episodes: ir.Table | None = None) -> ir.Table:
    """Achieved ledger rows payable in `period`, priced: `PRICED_COLUMNS`, one row per ledger row with a tariff."""
    rows = _with_stock_or_flow(payable_in(ledger, contract, period), episodes)
    tariffs = _tariffs(contract)
    priced = rows.join(tariffs, _tariff_applies(rows, tariffs))
    return priced.select(
        provider_id=priced.provider_id,
        client_id=priced.client_id,
        episode_id=priced.episode_id,
        outcome_id=priced.outcome_id,
        complexity_group=priced.complexity_group,
        stock_or_flow=priced.stock_or_flow,
        payable_on=priced.payable_on,
        reference=priced.t_reference,
        amount_pence=priced.t_pence,
        evidence=priced.evidence.fill_null(""),
    )


def _with_stock_or_flow(rows: ir.Table, episodes: ir.Table | None) -> ir.Table:
    """The rows with `stock_or_flow`: their episode's (flow when it has none), or flow for every row without
    episodes."""
    if episodes is None:
        return rows.mutate(stock_or_flow=ibis.literal("flow"))
    e = episodes.select(s_episode="episode_id", s_stock_or_flow="stock_or_flow")
    joined = rows.left_join(e, rows.episode_id == e.s_episode)
    return joined.mutate(stock_or_flow=joined.s_stock_or_flow.fill_null("flow")).drop("s_episode", "s_stock_or_flow")


def _tariffs(contract: Contract) -> ir.Table:
    """`tariff_rows` as a table."""
    return ibis.memtable(pa.Table.from_pylist(tariff_rows(contract), schema=_TARIFF_SCHEMA))


def _tariff_applies(rows: ir.Table, tariffs: ir.Table) -> ir.BooleanValue:
    """A tariff prices a row: its outcome, complexity group and stock or flow, in force on the day achieved."""
    return ((rows.outcome_id == tariffs.t_outcome) & (rows.complexity_group == tariffs.t_group)
            & (rows.stock_or_flow == tariffs.t_stock_or_flow)
            & rows.achieved_on.between(tariffs.t_from, tariffs.t_until))


def unpriced_outcomes(
    ledger: ir.Table, contract: Contract, period: Period, episodes: ir.Table | None = None
) -> ir.Table:
    """Achieved rows payable in the period of an outcome paid at a tariff that found no tariff (an unknown
    complexity group, or achieved before the first tariff), with `why`: nothing is paid for them, and a statement
    should list them. Gated rows still waiting for their gate are not payable, so not listed.

    The rows `priced_outcomes` prices none of: those no tariff applies to (the tariffs are a few dozen rows, so this
    is not a join of the payable rows with themselves)."""
    rows = payable_in(ledger, contract, period)
    tariffs = _tariffs(contract)
    found = _with_stock_or_flow(rows, episodes)
    unpriced = found.anti_join(tariffs, _tariff_applies(found, tariffs)).select(*rows.columns)
    group = unpriced.complexity_group
    no_tariff = ("no tariff for complexity group '" + group.fill_null("") + "' in force on "
                 + unpriced.achieved_on.strftime("%Y-%m-%d") + "; not paid")
    return unpriced.mutate(why=ibis.ifelse(group.isnull(), ibis.literal(NO_GROUP), no_tariff))


def outcome_table(
    wh: Warehouse,
    ledger: ir.Table,
    contract: Contract,
    period: Period,
    episodes: ir.Table | None = None,
    assessments: ir.Table | None = None,
) -> pa.Table:
    """The outcome payment lines of a period (before splits, caps and floors) as a table of `lines.LINE_SCHEMA`, in
    `earned_order`. With `episodes` (client_id, start_date) and `assessments`, the contract's uplifts multiply the
    tariffs (`uplifts.py`)."""
    priced = priced_outcomes(ledger, contract, period, episodes)
    uplifting = False
    if contract.uplifts and episodes is not None and assessments is not None:
        priced, uplifting = with_flags(priced, episodes, assessments, contract), True
    table = wh.to_arrow(priced)
    lines = as_lines_table(table.select(list(PRICED_COLUMNS)), kind="outcome")
    if uplifting:
        lines = lines_table([uplifted(line, row, contract)
                             for line, row in zip(lines_from_arrow(lines), table.to_pylist(), strict=True)])
    return sorted_earned(lines)
