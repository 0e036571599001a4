"""Clients as a viewer may see them, and why each of their outcomes was or was not paid.

A provider sees a client who has an episode with it, or who is named on one of its statements' lines (a split's
shared client); every other role here sees every client. Explanations come from the ledger stored for the as-of date
(by `pay` or `recoverypbr outcomes`), through the same words and evidence as `recoverypbr explain`; an evidence row
of another provider's episode is withheld from a provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import HTTPException

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.explain import Seen, evidence_rows, evidence_words, words
from recoverypbr.outcomes.inputs import warehouse_inputs
from recoverypbr.outcomes.ledger import stored_ledger
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.web import statements_data as sd
from recoverypbr.web.access import Scope

PAGE = 50
WITHHELD = "an episode with another provider (withheld)"


def stored_dates(wh: Warehouse, contract: Contract) -> list[date]:
    """The as-of dates the ledger is stored for, latest first."""
    rows = wh.execute("SELECT DISTINCT as_of FROM outcome_runs WHERE contract_area = ? AND contract_version = ? "
                      "ORDER BY as_of DESC", [contract.area, contract.effective_from])
    return [r[0] for r in rows]


def visible(wh: Warehouse, scope: Scope, client_id: str) -> bool:
    if scope.everyone:
        return bool(wh.execute("SELECT 1 FROM episodes WHERE client_id = ? LIMIT 1", [client_id]))
    if wh.execute("SELECT 1 FROM episodes WHERE client_id = ? AND provider_id = ? LIMIT 1",
                  [client_id, scope.provider_id]):
        return True
    return bool(wh.execute("SELECT 1 FROM statement_lines WHERE client_id = ? AND provider_id = ? LIMIT 1",
                           [client_id, scope.provider_id]))


def client_list(wh: Warehouse, scope: Scope, search: str = "", page: int = 1) -> tuple[list[dict[str, Any]], int]:
    """One page of the clients the viewer may see (id, episodes, first start, last discharge), and how many."""
    where, params = ["e.client_id IS NOT NULL"], []
    if not scope.everyone:
        where.append("e.provider_id = ?")
        params.append(scope.provider_id)
    if search:
        where.append("contains(lower(e.client_id), ?)")
        params.append(search.lower())
    sql = (f"SELECT e.client_id, count(*) AS episodes, min(e.start_date) AS first_start, "
           f"max(e.discharge_date) AS last_discharge FROM episodes e WHERE {' AND '.join(where)} GROUP BY e.client_id")
    total = int(wh.execute(f"SELECT count(*) FROM ({sql})", params)[0][0])
    rows = wh.execute(f"{sql} ORDER BY e.client_id LIMIT {PAGE} OFFSET {(max(page, 1) - 1) * PAGE}", params)
    keys = ("client_id", "episodes", "first_start", "last_discharge")
    return [dict(zip(keys, r, strict=True)) for r in rows], total


@dataclass
class Decision:
    outcome_id: str
    label: str
    episode_id: str
    provider_id: str | None
    status: str
    words: str
    evidence: list[tuple[str, str]]
    paid: list[dict[str, Any]] = field(default_factory=list)


def _episode_providers(wh: Warehouse, client_id: str) -> dict[str, str | None]:
    return {e: p for e, p in wh.execute("SELECT episode_id, provider_id FROM episodes WHERE client_id = ?",
                                        [client_id])}


def decisions(wh: Warehouse, contract: Contract, scope: Scope, client_id: str, as_of: date) -> list[Decision]:
    """Every outcome decision of the client's episodes the viewer may see, as of a date the ledger is stored for,
    with its evidence and the statement lines that paid it."""
    if not visible(wh, scope, client_id):
        raise HTTPException(404, f"There is no client {client_id} that you can see.")
    if as_of not in stored_dates(wh, contract):
        raise HTTPException(404, f"No outcomes are stored as of {as_of}: statements store them when they are made "
                                 "(`recoverypbr pay`), and `recoverypbr outcomes --as-of` stores any date.")
    ledger = stored_ledger(wh, contract, as_of)
    rows = wh.to_arrow(ledger.filter(ledger.client_id == client_id)).to_pylist()
    owners = _episode_providers(wh, client_id)
    if not scope.everyone:
        rows = [r for r in rows if r["provider_id"] == scope.provider_id]
    known = warehouse_inputs(wh, as_of)
    episodes = {r["episode_id"]: r for r in wh.to_arrow(
        known.episodes.filter(known.episodes.client_id == client_id)).to_pylist()}
    paid = sd.client_lines(wh, contract, scope, client_id)
    order = {oid: i for i, oid in enumerate(contract.outcomes)}
    found = []
    for row in sorted(rows, key=lambda r: (order.get(r["outcome_id"], 1 << 30), r["episode_id"])):
        outcome = contract.outcomes.get(row["outcome_id"])
        if outcome is None:
            continue
        episode = episodes.get(row["episode_id"])
        still_open = episode is not None and episode["discharge_date"] is None
        label = outcome.label or row["outcome_id"]
        seen = Seen(outcome, episode, as_of)
        shown = []
        for ref, evidence in evidence_rows(wh, known, row):
            kind, _, key = ref.partition(":")
            other = kind == "episode" and not scope.everyone and owners.get(key) != scope.provider_id
            shown.append((ref.partition("=")[0] if not other else "episode", WITHHELD if other
                          else evidence_words(ref, evidence, seen)))
        found.append(Decision(
            row["outcome_id"], label, row["episode_id"], row["provider_id"], row["status"],
            words(row, label, outcome.type, still_open), shown,
            [ln for ln in paid
             if ln.get("episode_id") == row["episode_id"] and ln.get("outcome_id") == row["outcome_id"]],
        ))
    return found
