"""Gates: "the outcome id that must be achieved (for the same client) before this outcome is paid; payment waits".

Rules (docs/payments.md):
- An achieved row of a gated outcome (`outcomes.<id>.gate`) is payable only once the same client has an achieved
  row of the gate outcome in the ledger (of this contract, any episode). Until then it is waiting: not paid and not
  listed as unpriced.
- It is payable on the later of its own payable date and the gate's earliest `achieved_on` for the client, so it is
  paid in the period containing that date; its tariff is still the one in force on its own `achieved_on`.
- Its evidence shows the gate: `...;gate:needs_progress@2013-02-01`.
- The gate is the gate outcome's achieved row as the ledger shows it; a gate's own gate is not followed.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OutcomeCommon


def gates_of(contract: Contract) -> dict[str, str]:
    """Outcome id -> the id of its gate, for every gated outcome of the contract."""
    return {oid: o.gate for oid, o in contract.outcomes.items() if isinstance(o, OutcomeCommon) and o.gate}


def gated(achieved: ir.Table, contract: Contract) -> ir.Table:
    """The achieved rows (with `payable_on`) that are payable: gated rows whose client has achieved the gate, moved
    to the gate's date when later and with the gate in their evidence; rows of ungated outcomes as they are."""
    gates = gates_of(contract)
    if not gates:
        return achieved
    firsts = achieved.filter(achieved.outcome_id.isin(sorted(set(gates.values()))))
    firsts = firsts.group_by(g_client=firsts.client_id, g_gate=firsts.outcome_id).aggregate(
        g_on=firsts.achieved_on.min()
    )
    pairs = ibis.memtable({"g_outcome": list(gates), "g_of": list(gates.values())})
    j = achieved.left_join(pairs, achieved.outcome_id == pairs.g_outcome)
    j = j.left_join(firsts, (j.client_id == firsts.g_client) & (j.g_of == firsts.g_gate))
    is_gated = j.g_of.notnull()
    j = j.filter(~is_gated | j.g_on.notnull())
    mark = "gate:" + j.g_of + "@" + j.g_on.strftime("%Y-%m-%d")
    evidence = j.evidence.fill_null("")
    return j.mutate(
        payable_on=ibis.ifelse(is_gated, ibis.greatest(j.payable_on, j.g_on), j.payable_on),
        evidence=ibis.ifelse(is_gated, ibis.ifelse(evidence == "", mark, evidence + ";" + mark), j.evidence),
    ).select(*achieved.columns)
