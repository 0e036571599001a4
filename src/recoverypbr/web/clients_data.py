"""Clients as a viewer may see them, and why each of their outcomes was or was not paid.

A provider sees a client who has an episode with it, or who is named on one of its statements' lines (a split's
shared client); every other role here sees every client. Explanations come from the ledger stored for the as-of date
(by `pay` or `recoverypbr outcomes`), through the same words and evidence as `recoverypbr explain`; an evidence row
of another provider's episode is withheld from a provider."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import HTTPException

from recoverypbr.contract.model import Contract
from recoverypbr.outcomes.explain import Seen, evidence_key, evidence_words, gate_component, words
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


def visible(wh: Warehouse, scope: Scope, client_id: str, contract: Contract | None = None) -> bool:
    """Whether the viewer may see the client: any client with an episode for roles seeing every provider; for a
    provider, a client with an episode there or named on one of its statements' lines (approved, or with
    `contract`, drafts too: a split's shared client)."""
    if scope.everyone:
        return bool(wh.execute("SELECT 1 FROM episodes WHERE client_id = ? LIMIT 1", [client_id]))
    if wh.execute("SELECT 1 FROM episodes WHERE client_id = ? AND provider_id = ? LIMIT 1",
                  [client_id, scope.provider_id]):
        return True
    if wh.execute("SELECT 1 FROM statement_lines WHERE client_id = ? AND provider_id = ? LIMIT 1",
                  [client_id, scope.provider_id]):
        return True
    return contract is not None and bool(sd.client_lines(wh, contract, scope, client_id))


def client_list(wh: Warehouse, scope: Scope, search: str = "", page: int = 1) -> tuple[list[dict[str, Any]], int]:
    """One page of the clients the viewer may see (id, episodes, first start, last discharge), and how many."""
    where, params = ["e.client_id IS NOT NULL"], []
    if not scope.everyone:
        where.append("e.provider_id = ?")
        params.append(scope.provider_id)
    if search:
        where.append("strpos(lower(e.client_id), ?) > 0")
        params.append(search.lower())
    sql = (f"SELECT e.client_id, count(*) AS episodes, min(e.start_date) AS first_start, "
           f"max(e.discharge_date) AS last_discharge FROM episodes e WHERE {' AND '.join(where)} GROUP BY e.client_id")
    total = int(wh.execute(f"SELECT count(*) FROM ({sql}) AS clients", params)[0][0])
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
    if not visible(wh, scope, client_id, contract):
        raise HTTPException(404, f"There is no client {client_id} that you can see.")
    if as_of not in stored_dates(wh, contract):
        raise HTTPException(404, f"No outcomes are stored as of {as_of}: statements store them when they are made "
                                 "(`recoverypbr pay`), and `recoverypbr outcomes --as-of` stores any date.")
    compiled = _compiled(wh, contract, as_of)
    rows = _ledger_rows(wh, contract, as_of, compiled.ledger, client_id)
    owners = _episode_providers(wh, client_id)
    paid = sd.client_lines(wh, contract, scope, client_id)
    # A provider sees its own episodes and those its statements pay a share of (a split's shared client).
    shared = {ln["episode_id"] for ln in paid if ln.get("episode_id")}
    if not scope.everyone:
        rows = [r for r in rows if r["provider_id"] == scope.provider_id or r["episode_id"] in shared]
    data = _data_stamp(wh)
    here = str(wh.path.resolve())  # what is kept in memory is one warehouse file's, never another's
    known = {name: _sorted_rows(wh, (here, name, contract.area, contract.effective_from, as_of), data, sql,
                                client_id)
             for name, sql in compiled.tables.items()}
    episodes = {r["episode_id"]: r for r in known["episodes"]}
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
        for ref, evidence in _evidence_rows(known, row):
            kind, _, key = ref.partition(":")
            other = (kind == "episode" and not scope.everyone and owners.get(key) != scope.provider_id
                     and key not in shared)
            shown.append((ref.partition("=")[0] if not other else "episode", WITHHELD if other
                          else evidence_words(ref, evidence, seen)))
        found.append(Decision(
            row["outcome_id"], label, row["episode_id"], row["provider_id"], row["status"],
            words(row, label, outcome.type, still_open), shown,
            [ln for ln in paid
             if ln.get("episode_id") == row["episode_id"] and ln.get("outcome_id") == row["outcome_id"]],
        ))
    return found


@dataclass(frozen=True)
class _Compiled:
    """The SQL of the stored ledger and of the as-of view of each table evidence is looked up in, for one contract
    version and as-of date; compiled from the same Ibis expressions as `recoverypbr explain` uses, once."""

    ledger: str
    tables: dict[str, str]


#: The as-of tables `explain.evidence_rows` looks evidence up in; each has a client_id column.
_EVIDENCE_TABLES = ("episodes", "top", "events", "presentations", "offending_individual")
_COMPILED: dict[tuple[str, str, date, date], _Compiled] = {}
_COMPILED_LOCK = threading.Lock()


def _compiled(wh: Warehouse, contract: Contract, as_of: date) -> _Compiled:
    key = (str(wh.path.resolve()), contract.area, contract.effective_from, as_of)
    with _COMPILED_LOCK:
        kept = _COMPILED.get(key)
    if kept is not None:
        return kept
    known = warehouse_inputs(wh, as_of)
    made = _Compiled(ibis.to_sql(stored_ledger(wh, contract, as_of), dialect=wh.dialect),
                     {name: ibis.to_sql(getattr(known, name), dialect=wh.dialect) for name in _EVIDENCE_TABLES})
    with _COMPILED_LOCK:
        _COMPILED[key] = made
        while len(_COMPILED) > 32:
            _COMPILED.pop(next(iter(_COMPILED)))
    return made


def _data_stamp(wh: Warehouse) -> tuple[Any, ...]:
    """What changes whenever the canonical tables do: every load (an upload too) is recorded in `loads`."""
    return tuple(wh.execute("SELECT max(load_id), count(*) FROM loads")[0])


def _sorted_rows(wh: Warehouse, key: tuple[Any, ...], stamp: tuple[Any, ...], sql: str,
                 client_id: str) -> list[dict[str, Any]]:
    """The client's rows of an as-of view: the view is read once per data version (sorted by client, kept in memory
    with each client's offset, like the ledger), so a page reads a slice instead of scanning the tables again. The
    as-of views are row-wise filters, so the client's rows of a view are the view of the client's rows."""
    with _LEDGER_LOCK:
        kept = _LEDGERS.get(key)
    if kept is None or kept[0] != stamp:
        with _LEDGER_BUILD:
            with _LEDGER_LOCK:
                kept = _LEDGERS.get(key)
            if kept is None or kept[0] != stamp:
                kept = _read_ledger(wh, key, stamp, sql)
    found = kept[2].get(client_id)
    return [] if found is None else list(kept[1].slice(*found).to_pylist())


_LEDGERS: dict[tuple[Any, ...], tuple[tuple[Any, ...], pa.Table, dict[str, tuple[int, int]]]] = {}
_LEDGER_LOCK = threading.Lock()
_LEDGER_BUILD = threading.Lock()


def _ledger_rows(wh: Warehouse, contract: Contract, as_of: date, sql: str, client_id: str) -> list[dict[str, Any]]:
    """The client's rows of the stored ledger as of the date.

    The ledger of a large area holds hundreds of thousands of rows with no index on the client, so a query per
    page scans it all; instead it is read once per stored run (sorted by client, kept in memory as Arrow with each
    client's offset) and read again only when `outcome_runs` says the ledger for that date was stored again."""
    key = (str(wh.path.resolve()), contract.area, contract.effective_from, as_of)
    stamp = tuple(wh.execute(
        "SELECT max(run_id), count(*), max(stored_at) FROM outcome_runs WHERE contract_area = ? "
        "AND contract_version = ? AND as_of = ?", [contract.area, contract.effective_from, as_of])[0])
    with _LEDGER_LOCK:
        kept = _LEDGERS.get(key)
    if kept is None or kept[0] != stamp:
        with _LEDGER_BUILD:  # one reader builds it; requests arriving meanwhile wait for it rather than each reading
            with _LEDGER_LOCK:
                kept = _LEDGERS.get(key)
            if kept is None or kept[0] != stamp:
                kept = _read_ledger(wh, key, stamp, sql)
    found = kept[2].get(client_id)
    if found is None:
        return []
    rows: list[dict[str, Any]] = kept[1].slice(*found).to_pylist()
    return rows


def _read_ledger(wh: Warehouse, key: tuple[Any, ...], stamp: tuple[Any, ...],
                 sql: str) -> tuple[tuple[Any, ...], pa.Table, dict[str, tuple[int, int]]]:
    """The ledger of the run stored as of the date, sorted by client, and each client's (offset, rows)."""
    table: pa.Table = wh.to_arrow_sql(f"SELECT * FROM ({sql}) AS t ORDER BY t.client_id")
    counts = pc.value_counts(table.column("client_id").combine_chunks())
    where: dict[str, tuple[int, int]] = {}
    offset = 0
    for cid, count in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True):
        where[cid] = (offset, count)
        offset += count
    kept = (stamp, table, where)
    with _LEDGER_LOCK:
        _LEDGERS[key] = kept
        while len(_LEDGERS) > 2 * (1 + len(_EVIDENCE_TABLES)):  # the ledger and the as-of tables of two dates
            _LEDGERS.pop(next(iter(_LEDGERS)))
    return kept


def _evidence_rows(known: dict[str, list[dict[str, Any]]], row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`explain.evidence_rows` over the client's as-of rows already read: the same references read by
    `explain.evidence_key`, without a query per reference. Every id an evidence reference names is the row's
    client's (a presentation or an offence names the client itself), so the client's rows hold them all."""
    found: list[tuple[str, dict[str, Any]]] = []
    for ref in filter(None, row["evidence"].split(";")):
        gate = gate_component(ref)
        if gate is not None:
            found.append((ref, gate))
            continue
        named = evidence_key(ref, row["client_id"])
        if named is not None:
            table, match = named
            found += [(ref, r) for r in known[table]
                      if all(str(r[col]) == value for col, value in match.items())]
    return found
