"""One client's decision for one outcome, in plain words, with the rows it rests on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import Outcome
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.outcomes.frame import ACHIEVED, NOT_ACHIEVED, NOT_ELIGIBLE, PENDING, SUBSTANCE_DAYS
from recoverypbr.outcomes.inputs import Inputs, warehouse_inputs
from recoverypbr.outcomes.ledger import evaluate, evaluation_order, stored_ledger
from recoverypbr.warehouse.connection import Warehouse

#: Outcome type -> status -> why, in words (the rule's definition applied to this episode).
WHY: dict[str, dict[str, str]] = {
    "reliable_change": {
        ACHIEVED: "at this TOP every presenting substance's days of use fell by at least its reliable-change "
        "threshold since the start TOP, and no substance rose by that much",
        NOT_ACHIEVED: "no review or exit TOP so far shows every presenting substance falling by its threshold "
        "without another substance rising as much",
        NOT_ELIGIBLE: "the episode has no start TOP to compare with",
    },
    "abstinence": {
        ACHIEVED: "this TOP records zero days of use of every presenting substance in the past 28 days",
        NOT_ACHIEVED: "no review or exit TOP so far records zero days of every presenting substance",
    },
    "successful_completion": {
        ACHIEVED: "the episode was discharged with a completion reason",
        NOT_ACHIEVED: "the episode was discharged without a completion reason",
    },
    "no_representation_12m": {
        ACHIEVED: "after the successful completion the window passed with no new episode and no presentation",
        PENDING: "the successful completion's window has not passed yet and nothing has happened so far",
        NOT_ACHIEVED: "the client re-presented inside the window after the successful completion",
        NOT_ELIGIBLE: "the episode did not end in a successful completion",
    },
    "ceased_injecting": {
        ACHIEVED: "the client injected at the start TOP and this TOP records zero injecting days",
        NOT_ACHIEVED: "no review or exit TOP so far records zero injecting days",
        NOT_ELIGIBLE: "the start TOP records no injecting (or there is no start TOP)",
    },
    "improved_housing": {
        ACHIEVED: "the start TOP recorded an acute housing problem and this TOP records none",
        NOT_ACHIEVED: "no review or exit TOP so far records the acute housing problem resolved",
        NOT_ELIGIBLE: "the start TOP records no acute housing problem (or there is no start TOP)",
    },
    "hepatitis_b_course": {
        ACHIEVED: "the third dose or a completed course was recorded in the episode",
        NOT_ACHIEVED: "no third dose or completed course is recorded in the episode",
    },
    "quality_of_life": {
        ACHIEVED: "this TOP's quality-of-life rating reached the contract's threshold",
        NOT_ACHIEVED: "no review or exit TOP so far rates quality of life at the threshold",
    },
    "top_threshold": {
        ACHIEVED: "this TOP's items meet the contract's threshold",
        NOT_ACHIEVED: "no TOP at the contract's stages so far meets the threshold",
    },
    "top_improvement": {
        ACHIEVED: "the items moved by at least the contract's amount from the earlier stage's TOP to this TOP",
        NOT_ACHIEVED: "no TOP at the contract's stages so far shows the items moving by the contract's amount",
        NOT_ELIGIBLE: "the episode has no TOP at the stage the change is measured from",
    },
    "event_recorded": {
        ACHIEVED: "one of the contract's events was recorded in the episode on this date",
        NOT_ACHIEVED: "none of the contract's events is recorded in the episode so far",
    },
    "discharge_in": {
        ACHIEVED: "the episode was discharged with one of the contract's discharge reasons",
        NOT_ACHIEVED: "the episode was discharged without one of the contract's discharge reasons",
    },
    "all_of": {
        ACHIEVED: "every one of its outcomes was achieved; it is achieved on the last of their dates",
        PENDING: "its outcomes are achieved or still maturing, none has failed",
        NOT_ACHIEVED: "at least one of its outcomes is not achieved",
        NOT_ELIGIBLE: "none of its outcomes can apply to the episode",
    },
    "any_of": {
        ACHIEVED: "one of its outcomes was achieved; it is achieved on the first of their dates",
        PENDING: "none is achieved yet and one is still maturing",
        NOT_ACHIEVED: "none of its outcomes is achieved",
        NOT_ELIGIBLE: "none of its outcomes can apply to the episode",
    },
}
_WINDOW = {
    ACHIEVED: "the window passed with nothing recorded in it",
    PENDING: "the window has not passed yet and nothing is recorded in it so far",
    NOT_ACHIEVED: "a record falls inside the window",
    NOT_ELIGIBLE: "the episode cannot be evaluated (no data or no date to count the window from)",
}
for _kind in ("no_offending_6m", "no_offending_12m", "no_event_in_window"):
    WHY[_kind] = _WINDOW
#: Outcome type -> status -> why, instead of `WHY`, when the episode was still open on the as-of date (not
#: discharged, or discharged only later, which was not yet known): for the types decided by the discharge.
WHEN_OPEN: dict[str, dict[str, str]] = {
    "successful_completion": {NOT_ACHIEVED: "the episode was still open on {as_of}"},
    "discharge_in": {NOT_ACHIEVED: "the episode was still open on {as_of}"},
    "no_representation_12m": {
        NOT_ELIGIBLE: "the episode was still open on {as_of}, so it had not yet ended in a successful completion"
    },
    "no_event_in_window": {
        NOT_ELIGIBLE: "the episode was still open on {as_of}, so there was no discharge to count the window from"
    },
}

#: The episode's complexity group when it has none (the ledger's empty `complexity_group`).
NO_GROUP = "no complexity group: the client had no assessment on or before the episode's start"

#: Outcome type -> evidence kind (the part of an evidence id before `:`) -> the fields of such a row that decided
#: it, each said in words by `FIELDS`. `explain` shows only these, not every column of the row.
DECISIVE: dict[str, dict[str, tuple[str, ...]]] = {
    "reliable_change": {"top": ("top", "substances_used")},
    "abstinence": {"top": ("top", "presenting_days")},
    "successful_completion": {"episode": ("discharge",)},
    "no_representation_12m": {"episode": ("started", "discharge"), "presentation": ("presentation",)},
    "no_offending_6m": {"episode": ("started",), "offence": ("offence",)},
    "no_offending_12m": {"episode": ("started",), "offence": ("offence",)},
    "ceased_injecting": {"top": ("top", "injecting_days")},
    "improved_housing": {"top": ("top", "acute_housing_problem")},
    "hepatitis_b_course": {"event": ("event",)},
    "quality_of_life": {"top": ("top", "quality_of_life")},
    "top_threshold": {"top": ("top", "items")},
    "top_improvement": {"top": ("top", "items")},
    "event_recorded": {"event": ("event",)},
    "discharge_in": {"episode": ("discharge",)},
    "no_event_in_window": {"episode": ("started", "discharge"), "event": ("event",)},
    "all_of": {"outcome": ("status",)},
    "any_of": {"outcome": ("status",)},
}
#: Evidence kind -> what names such a row, for a kind an outcome type does not list in `DECISIVE`.
NAMING: dict[str, tuple[str, ...]] = {
    "top": ("top",),
    "episode": ("started", "discharge"),
    "presentation": ("presentation",),
    "event": ("event",),
    "offence": ("offence",),
    "outcome": ("status",),
}


@dataclass
class Explanation:
    """One ledger row and its explanation."""

    row: dict[str, Any]
    words: str
    evidence: list[tuple[str, str]] = field(default_factory=list)
    """(evidence id, the fields of its row that decided the outcome, in words), in the evidence's order."""


def _components(contract: Contract, outcome_id: str) -> list[str]:
    order = evaluation_order(contract)
    needed, queue = {outcome_id}, [outcome_id]
    while queue:
        for component in getattr(contract.outcomes[queue.pop()], "outcomes", []):
            if component not in needed:
                needed.add(component)
                queue.append(component)
    return [o for o in order if o in needed]


def decisions(wh: Warehouse, contract: Contract, client_id: str, outcome_id: str, as_of: date) -> list[Explanation]:
    """The client's ledger rows for the outcome (one per episode), each with words and its evidence rows."""
    if outcome_id not in contract.outcomes:
        raise RecoveryPbrError(
            f"the contract has no outcome {outcome_id!r}", hint=f"use one of: {', '.join(contract.outcomes)}"
        )
    rows = _rows(wh, stored_ledger(wh, contract, as_of), client_id, outcome_id)
    if not rows:  # not stored by `recoverypbr outcomes` for this date: evaluate it (the whole area, one outcome)
        rows = _rows(wh, evaluate(wh, contract, as_of, only=_components(contract, outcome_id)), client_id, outcome_id)
    if not rows:
        raise RecoveryPbrError(
            f"no episode of client {client_id} started on or before {as_of}",
            hint="check the client id and the --as-of date",
        )
    outcome = contract.outcomes[outcome_id]
    known = warehouse_inputs(wh, as_of)  # the rows as the engine saw them on the as-of date
    found = []
    for row in rows:
        episode = _known_episode(wh, known, row["episode_id"])
        still_open = episode is not None and episode["discharge_date"] is None
        said = words(row, outcome.label or outcome_id, outcome.type, still_open)
        seen = Seen(outcome, episode, as_of)
        shown = [(ref, evidence_words(ref, r, seen)) for ref, r in evidence_rows(wh, known, row)]
        found.append(Explanation(row, said, [(ref.partition("=")[0], text) for ref, text in shown]))
    return found


def _known_episode(wh: Warehouse, known: Inputs, episode_id: str) -> dict[str, Any] | None:
    """The episode's row as known on the as-of date (a later discharge hidden), or None."""
    e = known.episodes
    rows = wh.to_arrow(e.filter(e.episode_id == episode_id)).to_pylist()
    return rows[0] if rows else None


def _rows(wh: Warehouse, ledger: ir.Table, client_id: str, outcome_id: str) -> list[dict[str, Any]]:
    chosen = ledger.filter((ledger.client_id == client_id) & (ledger.outcome_id == outcome_id))
    return list(wh.to_arrow(chosen.order_by("episode_id")).to_pylist())


def words(row: dict[str, Any], label: str, kind: str, still_open: bool = False) -> str:
    """The decision in one paragraph; `still_open` when the episode had no discharge known on the as-of date."""
    status = row["status"]
    head = {
        ACHIEVED: f"achieved on {row['achieved_on']}",
        PENDING: f"pending: it matures on {row['matures_on']}",
        NOT_ACHIEVED: "not achieved",
        NOT_ELIGIBLE: "not eligible",
    }[status]
    # A combination (all_of, any_of) or a gated outcome also names its components' statuses from the evidence.
    why = WHEN_OPEN.get(kind, {}).get(status) if still_open else None
    why = (why or WHY.get(kind, {}).get(status, "")).format(as_of=row["as_of"])
    parts = [why, _gate_words(row["evidence"])]
    why = ": ".join(p for p in parts if p) or "see the evidence rows"
    provider = "no provider" if row["provider_id"] is None else f"provider {row['provider_id']}"
    group = row["complexity_group"]
    group = NO_GROUP if group is None else f"complexity group {group}"
    return (
        f"{label} for client {row['client_id']}, episode {row['episode_id']} ({provider}, {group}), "
        f"as of {row['as_of']}: {head}, because {why}."
    )


def _gate_words(evidence: str) -> str:
    parts = [p.removeprefix("outcome:").replace("=", " is ") for p in evidence.split(";") if p.startswith("outcome:")]
    return "; ".join(parts)


def evidence_rows(wh: Warehouse, known: Inputs, row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(evidence id, the row it names as known on the as-of date) for each id of the row's evidence, in order.

    `known` is the engine's as-of view (`inputs.warehouse_inputs`), so a discharge after the as-of date is not shown,
    just as the rule did not see it."""
    found = []
    for ref in filter(None, row["evidence"].split(";")):
        gate = gate_component(ref)
        if gate is not None:
            found.append((ref, gate))
            continue
        named = evidence_key(ref, row["client_id"])
        if named is not None:
            table, match = named
            t = getattr(known, table)
            expr = t.filter(*[t[col] == (ibis.literal(v).cast("date") if col in DATE_KEYS else v)
                              for col, v in match.items()])
            found += [(ref, r) for r in wh.to_arrow(expr).to_pylist()]
    return found


#: Key columns of evidence references that are dates (written `@YYYY-MM-DD` in the reference).
DATE_KEYS = frozenset({"presented_on", "event_date", "offence_date"})


def gate_component(ref: str) -> dict[str, Any] | None:
    """A gate's component named in the evidence (`outcome:ID=STATUS`): its status, as the gate saw it."""
    kind, _, key = ref.partition(":")
    if kind != "outcome":
        return None
    name, _, status = key.partition("=")
    return {"outcome_id": name, "status": status}


def evidence_key(ref: str, client_id: str) -> tuple[str, dict[str, str]] | None:
    """The as-of table an evidence reference names a row of, and the key columns' values (dates as ISO text), or
    None for a reference that names no row. The one reading of references: `evidence_rows` and the web app's
    in-memory lookup both use it."""
    kind, _, key = ref.partition(":")
    name, _, day = key.partition("@")
    if kind == "top":
        return "top", {"top_id": name}
    if kind == "episode":
        return "episodes", {"episode_id": name}
    if kind == "presentation":
        return "presentations", {"client_id": name, "presented_on": day}
    if kind == "event":
        return "events", {"client_id": client_id, "event_type": name, "event_date": day}
    if kind == "offence":
        return "offending_individual", {"client_id": name, "offence_date": day}
    return None


@dataclass(frozen=True)
class Seen:
    """What the fields of an evidence row are read with: the outcome (its parameters), the episode as known on the
    as-of date, and that date."""

    outcome: Outcome
    episode: dict[str, Any] | None
    as_of: date


def evidence_words(ref: str, row: dict[str, Any], seen: Seen) -> str:
    """The fields of an evidence row that decided the outcome (`DECISIVE`), in words, `;`-separated."""
    kind = ref.partition(":")[0]
    fields = DECISIVE.get(seen.outcome.type, {}).get(kind) or NAMING.get(kind, ())
    return "; ".join(text for name in fields if (text := FIELDS[name](row, seen)))


def _plain(code: Any) -> str:
    """A code, flag or number in words: `completed_drug_free` -> "completed drug free", True -> "yes"."""
    if code is None:
        return "not recorded"
    if isinstance(code, bool):
        return "yes" if code else "no"
    return str(code).replace("_", " ")


def _days(used: Any) -> str:
    return "days of use not recorded" if used is None else f"used on {used} of the past 28 days"


def _substances(seen: Seen) -> list[str]:
    """The substances an abstinence outcome names in the contract, else the episode's presenting substances."""
    named = getattr(seen.outcome, "substances", None)
    if named:
        return list(named)
    return [s for s in ((seen.episode or {}).get("substances") or "").split(";") if s]


def _top(row: dict[str, Any], seen: Seen) -> str:
    return f"{_plain(row['stage'])} TOP on {row['top_date']}"


def _presenting_days(row: dict[str, Any], seen: Seen) -> str:
    presenting = _substances(seen)
    if not presenting:
        return "no presenting substance recorded"
    return "; ".join(f"{s} {_days(row.get(SUBSTANCE_DAYS.get(s, '')))}" for s in presenting)


def _substances_used(row: dict[str, Any], seen: Seen) -> str:
    """The presenting substances' days of use, then any other substance used (it may have risen by a reliable
    change)."""
    presenting = _substances(seen)
    used = [(s, row[c]) for s, c in SUBSTANCE_DAYS.items() if s not in presenting and row[c]]
    others = [f"{s} (not presenting) {_days(days)}" for s, days in used]
    return "; ".join(filter(None, [_presenting_days(row, seen), *others]))


def _items(row: dict[str, Any], seen: Seen) -> str:
    return "; ".join(f"{_plain(i)}: {_plain(row.get(i))}" for i in getattr(seen.outcome, "items", []))


def _discharge(row: dict[str, Any], seen: Seen) -> str:
    if row["discharge_date"] is None:
        return f"still open on {seen.as_of} (no discharge known by then)"
    reason = "with no reason recorded" if row["discharge_reason"] is None else f"as {_plain(row['discharge_reason'])}"
    return f"discharged on {row['discharge_date']} {reason}"


def _presentation(row: dict[str, Any], seen: Seen) -> str:
    setting = {"criminal_justice": "the criminal justice system"}.get(row["setting"], _plain(row["setting"]))
    return f"presented to {setting} on {row['presented_on']}"


def _offence(row: dict[str, Any], seen: Seen) -> str:
    n = row["offences"]
    return f"{_plain(n)} offence{'' if n == 1 else 's'} recorded on {row['offence_date']}"


#: A status in words.
STATUS_WORDS = {ACHIEVED: "achieved", PENDING: "pending", NOT_ACHIEVED: "not achieved", NOT_ELIGIBLE: "not eligible"}
#: Field name (as `DECISIVE` lists it) -> the field of an evidence row in words.
FIELDS: dict[str, Callable[[dict[str, Any], Seen], str]] = {
    "top": _top,
    "presenting_days": _presenting_days,
    "substances_used": _substances_used,
    "injecting_days": lambda r, s: (
        "injecting days not recorded"
        if r["injecting_days"] is None
        else f"injected on {r['injecting_days']} of the past 28 days"
    ),
    "acute_housing_problem": lambda r, s: f"acute housing problem: {_plain(r['acute_housing_problem'])}",
    "quality_of_life": lambda r, s: f"quality of life rated {_plain(r['quality_of_life'])} (of 20)",
    "items": _items,
    "started": lambda r, s: f"started on {r['start_date']}",
    "discharge": _discharge,
    "presentation": _presentation,
    "event": lambda r, s: f"{_plain(r['event_type'])} recorded on {r['event_date']}",
    "offence": _offence,
    "status": lambda r, s: STATUS_WORDS.get(r["status"], _plain(r["status"])),
}
