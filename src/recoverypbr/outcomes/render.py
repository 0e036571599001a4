"""The long ledger shown from the engine's episode table: one row per client, episode and outcome.

The engine keeps one row per episode with a status code, dates and the few evidence ids it cannot derive; here
each outcome becomes its ledger rows, in `LEDGER_COLUMNS`, with the evidence ids spelt out in their fixed order.
The same expression shows a freshly evaluated table (`ledger.ledger`) and a stored one (the `outcome_ledger` view).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from recoverypbr.outcomes.engine import Placed
from recoverypbr.outcomes.frame import ACHIEVED, CODES, NOT_ACHIEVED, ids, join_evidence, status_words

LEDGER_COLUMNS = (
    "contract_area",
    "contract_version",
    "as_of",
    "outcome_id",
    "outcome_type",
    "client_id",
    "episode_id",
    "provider_id",
    "complexity_group",
    "status",
    "achieved_on",
    "matures_on",
    "evidence",
)
LEDGER_SCHEMA = {c: "string" for c in LEDGER_COLUMNS} | {
    "contract_version": "date",
    "as_of": "date",
    "achieved_on": "date",
    "matures_on": "date",
}


def long_form(table: ir.Table, placed: list[Placed], area: str, version: date, as_of: date) -> ir.Table:
    """The ledger rows of every placed outcome (no order)."""
    if not placed:  # no rows, but a query over the table (a view cannot be made over an in-memory table)
        return table.filter(ibis.literal(False)).select(**{c: ibis.null(t) for c, t in LEDGER_SCHEMA.items()})
    parts = [_rows(table, spot, area, version, as_of) for spot in placed]
    return ibis.union(*parts, distinct=False)


def _rows(t: ir.Table, spot: Placed, area: str, version: date, as_of: date) -> ir.Table:
    status = t[f"{spot.prefix}status"]
    matures = f"{spot.prefix}matures"
    return t.select(
        contract_area=ibis.literal(area, "string"),
        contract_version=ibis.literal(version, "date"),
        as_of=ibis.literal(as_of, "date"),
        outcome_id=ibis.literal(spot.outcome_id, "string"),
        outcome_type=ibis.literal(spot.outcome_type, "string"),
        client_id=t.client_id,
        episode_id=t.episode_id,
        provider_id=t.provider_id.cast("string"),
        complexity_group=t.complexity_group.cast("string"),
        status=status_words(status),
        achieved_on=t[f"{spot.prefix}on"].cast("date"),
        matures_on=t[matures].cast("date") if matures in t.columns else ibis.null("date"),
        evidence=evidence(t, spot, status),
    )


def evidence(t: ir.Table, spot: Placed, status: ir.IntegerValue) -> ir.StringValue:
    """The ids of the rows that decided it, `;`-separated in their fixed order."""
    if spot.evidence == "top":
        return _top_evidence(t, spot, status)
    if spot.evidence == "discharge":
        return ibis.ifelse(t.discharge_date.notnull(), ids("episode", t.episode_id), "")
    ref = t[f"{spot.prefix}ref"].fill_null("")
    if spot.evidence == "window":
        return join_evidence(ids("episode", t.episode_id), ref)
    return ref


def _top_evidence(t: ir.Table, spot: Placed, status: ir.IntegerValue) -> ir.StringValue:
    """The start TOP (when the outcome needs one), then the TOP that achieved it or, when not achieved, every TOP
    checked."""
    tops = t[f"t{spot.top_pass}_tops"]
    # The text before the first `;` (`tops` always holds one). Not `split(";")[0]`: Ibis 12 compiles a literal array
    # index for PostgreSQL one place too far.
    start = tops.substr(0, tops.find(";"))
    start = ibis.ifelse(start == "", "", ids("top", start)) if spot.uses_start else ibis.literal("")
    hit = ids("top", tops.split(";")[t[f"{spot.prefix}hit"] + 1])
    checked = tops.substr(tops.find(";") + 1)
    every = ibis.ifelse(checked == "", "", ids("top", checked.replace(";", ";top:")))
    tail = ibis.cases((status == CODES[ACHIEVED], hit), (status == CODES[NOT_ACHIEVED], every), else_="")
    return join_evidence(start, tail)
