"""Building blocks the outcome rules share: the shape of a rule's result, statuses, windows, TOP lookups.

Every rule returns one row per episode (known on the as-of date) with `RULE_COLUMNS`: the status, the date the
outcome was achieved, the date it matures (outcomes with a window) and the evidence, the ids of the rows that
decided it, in a fixed order (`top:T1;top:T7`, `episode:E3`, `presentation:C5@2014-03-01`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from recoverypbr.outcomes.inputs import Inputs

ACHIEVED = "achieved"
PENDING = "pending_maturation"
NOT_ACHIEVED = "not_achieved"
NOT_ELIGIBLE = "not_eligible"
STATUSES = (ACHIEVED, PENDING, NOT_ACHIEVED, NOT_ELIGIBLE)

RULE_COLUMNS = ("client_id", "episode_id", "status", "achieved_on", "matures_on", "evidence")

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


def presents(substances: ir.StringValue, substance: str) -> ir.BooleanValue:
    """Whether `substance` is among an episode's presenting substances (stored `;`-separated)."""
    return (";" + substances.fill_null("") + ";").contains(f";{substance};")


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


def result(
    table: ir.Table,
    status: ir.StringValue,
    achieved_on: ir.DateValue,
    matures_on: ir.DateValue,
    evidence: ir.StringValue,
) -> ir.Table:
    """A rule's result in `RULE_COLUMNS`, with an achievement date only when achieved."""
    achieved = status == ACHIEVED
    return table.select(
        client_id=table.client_id,
        episode_id=table.episode_id,
        status=status,
        achieved_on=ibis.ifelse(achieved, achieved_on.cast("date"), ibis.null("date")),
        matures_on=matures_on.cast("date"),
        evidence=evidence.fill_null(""),
    )


def start_top(inputs: Inputs) -> ir.Table:
    """Each episode's start TOP: its earliest TOP at stage `start` (by date, then id); columns prefixed `s_`."""
    t = inputs.top.filter(inputs.top.stage == "start")
    first = first_by(t, "episode_id", [t.top_date, t.top_id])
    return first.rename({f"s_{c}": c for c in first.columns})


def follow_up_tops(inputs: Inputs, stages: Sequence[str]) -> ir.Table:
    """TOPs at `stages` dated on or after their episode's start date, with the episode's `substances`."""
    e = inputs.episodes.select("episode_id", e_start="start_date", e_substances="substances")
    t = inputs.top.filter(inputs.top.stage.isin(list(stages)))
    joined = t.join(e, "episode_id")
    return joined.filter(joined.top_date >= joined.e_start)


def _first_hit(follow: ir.Table, achieved_when: Predicate) -> ir.Table:
    hits = follow.filter(achieved_when(follow).fill_null(False))
    first = first_by(hits, "episode_id", [hits.top_date, hits.top_id])
    return first.select(h_episode="episode_id", h_date="top_date", h_top="top_id")


def checked_tops(inputs: Inputs, stages: Sequence[str]) -> ir.Table:
    """Per episode (`c_episode`), the ids of its TOPs at `stages` dated on or after its start (`c_tops`, in date
    and id order): the TOPs an outcome checked when it was not achieved."""
    precomputed = inputs.checked.get(tuple(stages))
    return precomputed if precomputed is not None else _checked(follow_up_tops(inputs, list(stages)))


def _checked(follow: ir.Table) -> ir.Table:
    evidence = ids("top", follow.top_id).group_concat(";", order_by=[follow.top_date, follow.top_id])
    return follow.group_by(c_episode=follow.episode_id).aggregate(c_tops=evidence)


def top_outcome(
    inputs: Inputs, stages: Sequence[str], achieved_when: Predicate, eligible_when: Predicate | None = None
) -> ir.Table:
    """An outcome decided by TOPs at `stages`: achieved at the first whose values meet `achieved_when`.

    Without `eligible_when` every episode is eligible. With it the episode needs a start TOP meeting it (columns
    `s_*`), and only TOPs dated on or after that start TOP (not the start TOP itself) are compared with it.
    Evidence: the start TOP (when used), then the TOP that achieved it or, when not achieved, every TOP at `stages`
    dated on or after the episode start."""
    e = inputs.episodes
    follow = follow_up_tops(inputs, stages)
    checked = checked_tops(inputs, stages)
    if eligible_when is not None:
        s = start_top(inputs)
        s = s.mutate(s_eligible=eligible_when(s).fill_null(False))
        follow = follow.join(s, follow.episode_id == s.s_episode_id)
        follow = follow.filter((follow.top_date >= follow.s_top_date) & (follow.top_id != follow.s_top_id))
        e = e.left_join(s, e.episode_id == s.s_episode_id)
        eligible, start_evidence = e.s_eligible.fill_null(False), ids("top", e.s_top_id).fill_null("")
    else:
        eligible, start_evidence = ibis.literal(True), ibis.literal("")
    e = e.mutate(_eligible=eligible, _start_evidence=start_evidence)
    hit = _first_hit(follow, achieved_when)
    e = e.left_join(hit, e.episode_id == hit.h_episode)
    e = e.left_join(checked, e.episode_id == checked.c_episode)
    status = ibis.cases((~e._eligible, NOT_ELIGIBLE), (e.h_top.notnull(), ACHIEVED), else_=NOT_ACHIEVED)
    evidence = ibis.cases(
        (status == ACHIEVED, join_evidence(e._start_evidence, ids("top", e.h_top))),
        (status == NOT_ACHIEVED, join_evidence(e._start_evidence, e.c_tops.fill_null(""))),
        else_=e._start_evidence,
    )
    return result(e, status, e.h_date, ibis.null("date"), evidence)


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


def event_outcome(inputs: Inputs, event_types: list[str]) -> ir.Table:
    """Achieved on the first event of `event_types` belonging to the episode (evidence `event:TYPE@DATE`)."""
    ev = episode_events(inputs, event_types)
    first = first_by(ev, "episode_id", [ev.event_date, ev.event_type])
    first = first.select(h_episode="episode_id", h_date="event_date", h_type="event_type")
    e = inputs.episodes.left_join(first, inputs.episodes.episode_id == first.h_episode)
    status = ibis.ifelse(e.h_date.notnull(), ACHIEVED, NOT_ACHIEVED)
    evidence = ibis.ifelse(status == ACHIEVED, "event:" + e.h_type + "@" + e.h_date.cast("string"), "")
    return result(e, status, e.h_date, ibis.null("date"), evidence)


def discharge_outcome(inputs: Inputs, reasons: list[str]) -> ir.Table:
    """Achieved on the discharge date when the (known) discharge reason is in `reasons`."""
    e = inputs.episodes
    status = ibis.ifelse(e.discharge_reason.isin(reasons).fill_null(False), ACHIEVED, NOT_ACHIEVED)
    evidence = ibis.ifelse(e.discharge_date.notnull(), ids("episode", e.episode_id), "")
    return result(e, status, e.discharge_date, ibis.null("date"), evidence)


def window_outcome(inputs: Inputs, anchored: ir.Table, incidents: ir.Table, months: int) -> ir.Table:
    """An outcome achieved when nothing happens in a window: the days after the anchor date up to and including
    the same date `months` calendar months later (`matures_on`).

    `anchored`: episodes with `_eligible`, `_anchor` (date) and `_anchor_evidence`; `incidents`: `i_client`,
    `i_day`, `i_evidence`. The first incident in the window makes it not achieved, even before maturity; with
    none it is pending until `as_of` reaches `matures_on`, then achieved on `matures_on`."""
    a = anchored.mutate(_matures=months_after(anchored._anchor, months))
    j = a.join(incidents, a.client_id == incidents.i_client)
    j = j.filter(a._eligible & (j.i_day > j._anchor) & (j.i_day <= j._matures))
    first = first_by(j, "episode_id", [j.i_day, j.i_evidence]).select(f_episode="episode_id", f_evidence="i_evidence")
    e = a.left_join(first, a.episode_id == first.f_episode)
    status = ibis.cases(
        (~e._eligible, NOT_ELIGIBLE),
        (e.f_evidence.notnull(), NOT_ACHIEVED),
        (e._matures <= inputs.as_of, ACHIEVED),
        else_=PENDING,
    )
    evidence = join_evidence(e._anchor_evidence.fill_null(""), e.f_evidence.fill_null(""))
    matures_on = ibis.ifelse(e._eligible, e._matures, ibis.null("date"))
    return result(e, status, e._matures, matures_on, evidence)
