"""Building blocks the outcome rules share: statuses, how a rule decides, windows, TOP lookups.

A rule does not return rows of its own: it says how its outcome is decided per episode, and the engine
(`outcomes/engine.py`) evaluates every outcome of a contract together, one row per episode. Two shapes:

- `TopTest`: decided by TOPs at some stages (achieved at the first whose values meet a predicate, optionally
  needing a start TOP that meets another). The engine checks every TOP outcome with the same stages in one pass.
- `Decision`: decided from the episode's own columns (`discharge_date`, `discharge_reason`, ...) and optionally
  the first `Found` row per episode (the first incident in a window, the first event), joined onto the episode.

Each outcome's decision is a status code (`CODES`), the date achieved, the date it matures and its evidence: the
ids of the rows that decided it, in a fixed order (`top:T1;top:T7`, `episode:E3`, `presentation:C5@2014-03-01`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from recoverypbr.outcomes.inputs import Inputs

ACHIEVED = "achieved"
PENDING = "pending_maturation"
NOT_ACHIEVED = "not_achieved"
NOT_ELIGIBLE = "not_eligible"
STATUSES = (ACHIEVED, PENDING, NOT_ACHIEVED, NOT_ELIGIBLE)
#: Status -> the small integer the engine computes and stores (the ledger shows the words).
CODES = {status: code for code, status in enumerate(STATUSES)}

#: Presenting substance (episodes.substances) -> the TOP column of its days of use in the past 28.
SUBSTANCE_DAYS = {
    "opiates": "opiate_days",
    "crack": "crack_days",
    "cocaine": "cocaine_days",
    "amphetamines": "amphetamine_days",
    "cannabis": "cannabis_days",
    "alcohol": "alcohol_days",
    "other": "other_drug_days",
}

Predicate = Callable[[ir.Table], ir.BooleanValue]
#: What a `Decision` gives per episode: `status` (a code), `on` (the date achieved) and optionally `matures`
#: (the window's last day) and `ref` (the evidence ids the engine cannot derive itself).
Columns = dict[str, ir.Value]


@dataclass(frozen=True)
class TopTest:
    """An outcome decided by TOPs at `stages` dated on or after the episode start: achieved at the first (by date,
    then id) whose values meet `achieved_when`.

    Without `eligible_when` every episode is eligible. With it the episode needs a TOP at `start_stage` (its first,
    by date then id; columns `s_*`) meeting it, and only TOPs dated on or after that TOP (not that TOP itself) are
    compared with it. `achieved_when` sees the TOP's columns, the start TOP's as `s_*` and the episode's
    `e_substances`. Evidence: the start TOP (with `eligible_when`), then the TOP that achieved it or, when not
    achieved, every TOP at `stages` dated on or after the episode start."""

    stages: tuple[str, ...]
    achieved_when: Predicate
    eligible_when: Predicate | None = None
    start_stage: str = "start"
    #: One row of values `achieved_when` reads (joined onto every TOP; names unique to the values, shared when equal).
    constants: ir.Table | None = None


@dataclass(frozen=True)
class Decision:
    """An outcome decided from the episode row: `decide(episode, found_on, found_ref)` gives its `Columns`.

    `found`: at most one row per episode (`episode_id`, `on`, `ref`), joined onto the episode (empty when there is
    none). `evidence` says how the ledger shows the evidence: `discharge` (the episode when discharged), `window`
    (the episode, then `ref`) or `ref` (`ref` as it is)."""

    evidence: str
    decide: Callable[[ir.Table, ir.DateValue, ir.StringValue], Columns]
    found: ir.Table | None = None
    #: Whether it reads other outcomes' columns (a gate), so is decided after them.
    combines: bool = False


OutcomeTest = TopTest | Decision


@dataclass(frozen=True)
class Decided:
    """Where the engine put an outcome's columns in the episode table (for gates over outcomes)."""

    prefix: str

    def status(self, t: ir.Table) -> ir.IntegerValue:
        return t[f"{self.prefix}status"]

    def on(self, t: ir.Table) -> ir.DateValue:
        return t[f"{self.prefix}on"]

    def matures(self, t: ir.Table) -> ir.DateValue:
        name = f"{self.prefix}matures"
        return t[name] if name in t.columns else ibis.null("date")


def code(status: str) -> ir.IntegerValue:
    """A status as the engine's code."""
    return ibis.literal(CODES[status], "int8")


def status_words(status: ir.IntegerValue) -> ir.StringValue:
    """A status code as its word."""
    return status.cases(*((c, s) for s, c in CODES.items()), else_=ibis.null("string"))


def presents(substances: ir.StringValue, substance: str) -> ir.BooleanValue:
    """Whether `substance` is among an episode's presenting substances (stored `;`-separated)."""
    return (";" + substances.fill_null("") + ";").contains(f";{substance};")


def presenting(t: ir.Table, substance: str) -> ir.BooleanValue:
    """Whether the row's episode presents with `substance`: the flag `follow_up_tops` made once per episode, so
    that it is not searched for again in every TOP's row."""
    return t[f"e_presents_{substance}"]


def months_after(day: ir.DateValue, months: int) -> ir.DateValue:
    """The same day `months` calendar months later (the month's last day when it has no such day)."""
    # Engines type date + interval as a timestamp; Ibis types it as a date and would drop a plain cast.
    return (day + ibis.interval(months=months)).cast("timestamp").date()


def first_by(table: ir.Table, key: str, order: list[ir.Value]) -> ir.Table:
    """The first row of each `key` in `order`."""
    ranked = table.mutate(_first=ibis.row_number().over(group_by=table[key], order_by=order))
    return ranked.filter(ranked._first == 0).drop("_first")


def ids(prefix: str, column: ir.StringValue) -> ir.StringValue:
    """An evidence id such as `top:T1`."""
    return prefix + ":" + column


def join_evidence(*parts: ir.StringValue) -> ir.StringValue:
    """Evidence ids joined by `;`, skipping empty parts."""
    return ibis.literal(";").join([ibis.ifelse(p == "", ibis.null("string"), p) for p in parts]).fill_null("")


def achieved_on(status: ir.IntegerValue, day: ir.DateValue) -> ir.DateValue:
    """`day` when the status is achieved, else empty."""
    return ibis.ifelse(status == CODES[ACHIEVED], day.cast("date"), ibis.null("date"))


def start_top(inputs: Inputs, stage: str = "start") -> ir.Table:
    """Each episode's start TOP: its earliest TOP at `stage` (by date, then id); columns prefixed `s_`."""
    t = inputs.top.filter(inputs.top.stage == stage)
    first = first_by(t, "episode_id", [t.top_date, t.top_id])
    return first.rename({f"s_{c}": c for c in first.columns})


def follow_up_tops(inputs: Inputs, stages: Sequence[str]) -> ir.Table:
    """TOPs at `stages` dated on or after their episode's start date, with the episode's `substances` and whether
    it presents with each (`e_presents_<substance>`)."""
    e = inputs.episodes
    flags = {f"e_presents_{s}": presents(e.substances, s) for s in SUBSTANCE_DAYS}
    e = e.select("episode_id", e_start="start_date", e_substances="substances", **flags)
    t = inputs.top.filter(inputs.top.stage.isin(list(stages)))
    joined = t.join(e, "episode_id")
    return joined.filter(joined.top_date >= joined.e_start)


def top_test(
    stages: Sequence[str],
    achieved_when: Predicate,
    eligible_when: Predicate | None = None,
    start_stage: str = "start",
    constants: ir.Table | None = None,
) -> TopTest:
    """A `TopTest` (stages as a tuple, so that outcomes with the same stages share one pass)."""
    return TopTest(tuple(stages), achieved_when, eligible_when, start_stage, constants)


def episode_events(inputs: Inputs, event_types: list[str]) -> ir.Table:
    """Events of `event_types` belonging to each episode: recorded against it, or (without an episode id)
    recorded for its client between its start and its discharge (or the as-of date), both days included."""
    e = inputs.episodes.select("episode_id", e_client="client_id", e_start="start_date", e_end="discharge_date")
    v = inputs.events.filter(inputs.events.event_type.isin(event_types))
    v = v.rename(v_episode="episode_id")
    # Two equi-joins rather than one join on "own or unlinked", which engines can only run as a nested loop.
    own = e.join(v.filter(v.v_episode.notnull()), e.episode_id == v.v_episode)
    unlinked = e.join(v.filter(v.v_episode.isnull()), e.e_client == v.client_id)
    unlinked = unlinked.filter(unlinked.event_date <= unlinked.e_end.fill_null(inputs.as_of))
    joined = ibis.union(own, unlinked, distinct=False)
    return joined.filter(joined.event_date >= joined.e_start)


def event_outcome(inputs: Inputs, event_types: list[str]) -> Decision:
    """Achieved on the first event of `event_types` belonging to the episode (evidence `event:TYPE@DATE`)."""
    ev = episode_events(inputs, event_types)
    first = first_by(ev, "episode_id", [ev.event_date, ev.event_type])
    ref = "event:" + first.event_type + "@" + first.event_date.cast("string")
    found = first.select("episode_id", on=first.event_date, ref=ref)

    def decide(e: ir.Table, on: ir.DateValue, ref: ir.StringValue) -> Columns:
        status = ibis.ifelse(on.notnull(), code(ACHIEVED), code(NOT_ACHIEVED))
        return {"status": status, "on": achieved_on(status, on), "ref": ref}

    return Decision("ref", decide, found)


def discharge_outcome(reasons: list[str]) -> Decision:
    """Achieved on the discharge date when the (known) discharge reason is in `reasons`; evidence the episode
    when discharged."""

    def decide(e: ir.Table, on: ir.DateValue, ref: ir.StringValue) -> Columns:
        met = e.discharge_reason.isin(reasons).fill_null(False)
        status = ibis.ifelse(met, code(ACHIEVED), code(NOT_ACHIEVED))
        return {"status": status, "on": achieved_on(status, e.discharge_date)}

    return Decision("discharge", decide)


@dataclass(frozen=True)
class Window:
    """A window outcome's anchor: per episode whether it is eligible and the date the window counts from."""

    eligible: Callable[[ir.Table], ir.BooleanValue]
    anchor: Callable[[ir.Table], ir.DateValue]


def window_outcome(inputs: Inputs, window: Window, incidents: ir.Table, months: int) -> Decision:
    """An outcome achieved when nothing happens in a window: the days after the anchor date up to and including
    the same date `months` calendar months later (`matures_on`).

    `incidents`: `i_client`, `i_day`, `i_evidence`. The first incident in the window makes it not achieved, even
    before maturity; with none it is pending until `as_of` reaches `matures_on`, then achieved on `matures_on`.
    Evidence: the episode, then the first incident."""
    e = inputs.episodes
    a = e.select("episode_id", "client_id", _eligible=window.eligible(e), _anchor=window.anchor(e))
    a = a.filter(a._eligible).mutate(_matures=months_after(a._anchor, months))
    j = a.join(incidents, a.client_id == incidents.i_client)
    j = j.filter((j.i_day > j._anchor) & (j.i_day <= j._matures))
    first = first_by(j, "episode_id", [j.i_day, j.i_evidence])
    found = first.select("episode_id", on=first.i_day, ref=first.i_evidence)

    def decide(ep: ir.Table, on: ir.DateValue, ref: ir.StringValue) -> Columns:
        eligible = window.eligible(ep)
        matures = months_after(window.anchor(ep), months)
        status = ibis.cases(
            (~eligible, code(NOT_ELIGIBLE)),
            (ref.notnull(), code(NOT_ACHIEVED)),
            (matures <= inputs.as_of, code(ACHIEVED)),
            else_=code(PENDING),
        )
        return {
            "status": status,
            "on": achieved_on(status, matures),
            "matures": ibis.ifelse(eligible, matures, ibis.null("date")),
            "ref": ref,
        }

    return Decision("window", decide, found)
