"""Local outcomes in the common shapes a contract can define without new code, and the gates over outcomes.

"Local outcomes must be definable in a contract without new code for the common shapes: a TOP item crossing a
threshold or improving between two stages, an event recorded, a discharge code in a set, no event in a window."
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.outcomes import (
    AllOf,
    AnyOf,
    DischargeIn,
    EventRecorded,
    NoEventInWindow,
    TopImprovement,
    TopThreshold,
)
from recoverypbr.outcomes.frame import (
    ACHIEVED,
    NOT_ACHIEVED,
    NOT_ELIGIBLE,
    PENDING,
    RULE_COLUMNS,
    discharge_outcome,
    event_outcome,
    ids,
    top_outcome,
    window_outcome,
)
from recoverypbr.outcomes.inputs import Inputs


def _combine(tests: list[ir.BooleanValue], require: str) -> ir.BooleanValue:
    return functools.reduce(operator.and_ if require == "all" else operator.or_, tests)


def top_threshold(inputs: Inputs, outcome: TopThreshold) -> ir.Table:
    """A TOP item crossing a threshold: at a TOP of `stages`, each item (`require: all`) or one item (`any`) is
    at least `at_least`, at most `at_most`, or equals `equals`. Every episode is eligible."""

    def test(f: ir.Table, item: str) -> ir.BooleanValue:
        if outcome.at_least is not None:
            return f[item] >= outcome.at_least
        if outcome.at_most is not None:
            return f[item] <= outcome.at_most
        return f[item] == outcome.equals

    return top_outcome(
        inputs,
        outcome.stages,
        lambda f: _combine([test(f, i).fill_null(False) for i in outcome.items], outcome.require),
    )


def top_improvement(inputs: Inputs, outcome: TopImprovement) -> ir.Table:
    """A TOP item improving between two stages: from the episode's first TOP at `from_stage` to a later TOP at
    `to_stages`, each item (or one, `require: any`) decreased (or increased) by at least `by_at_least`.
    Eligible: episodes with a TOP at `from_stage`."""
    sign = -1 if outcome.direction == "decrease" else 1

    def improved(f: ir.Table) -> ir.BooleanValue:
        tests = [((f[i] - f[f"s_{i}"]) * sign >= outcome.by_at_least).fill_null(False) for i in outcome.items]
        return _combine(tests, outcome.require)

    if outcome.from_stage == "start":
        return top_outcome(inputs, outcome.to_stages, improved, lambda s: s.s_top_id.notnull())
    # Compare from another stage by relabelling it as the start (and the real start TOPs as something else).
    stage = inputs.top.stage
    moved = inputs.top.mutate(
        stage=ibis.cases((stage == outcome.from_stage, "start"), (stage == "start", "_start"), else_=stage)
    )
    stages = [s for s in outcome.to_stages if s != outcome.from_stage]
    moved_inputs = dataclasses.replace(inputs, top=moved, checked={})
    return top_outcome(moved_inputs, stages, improved, lambda s: s.s_top_id.notnull())


def event_recorded(inputs: Inputs, outcome: EventRecorded) -> ir.Table:
    """An event recorded: one of `event_types` belongs to the episode (achieved on the first)."""
    return event_outcome(inputs, outcome.event_types)


def discharge_in(inputs: Inputs, outcome: DischargeIn) -> ir.Table:
    """A discharge code in a set: the episode's known discharge reason is one of `discharge_reasons`."""
    return discharge_outcome(inputs, outcome.discharge_reasons)


def no_event_in_window(inputs: Inputs, outcome: NoEventInWindow) -> ir.Table:
    """No event in a window: none of `event_types` is recorded for the client in the `window_months` after the
    episode's start or discharge (`after`); with `after: discharge` an open episode is not eligible."""
    e = inputs.episodes
    anchor = e.start_date if outcome.after == "start" else e.discharge_date
    anchored = e.mutate(_eligible=anchor.notnull(), _anchor=anchor, _anchor_evidence=ids("episode", e.episode_id))
    v = inputs.events.filter(inputs.events.event_type.isin(outcome.event_types))
    incidents = v.select(
        i_client=v.client_id, i_day=v.event_date, i_evidence="event:" + v.event_type + "@" + v.event_date.cast("string")
    )
    return window_outcome(inputs, anchored, incidents, outcome.window_months)


def _components(results: Mapping[str, ir.Table], names: list[str]) -> ir.Table:
    parts = [
        results[n].select("client_id", "episode_id", "status", "achieved_on", "matures_on", component=ibis.literal(n))
        for n in names
    ]
    return ibis.union(*parts, distinct=False)


def all_of(inputs: Inputs, outcome: AllOf, results: Mapping[str, ir.Table]) -> ir.Table:
    """A gate or conjunction: achieved when every listed outcome is achieved for the episode (on the latest of
    their dates). A component not eligible counts as met or not by `when_not_applicable`; none met at all is not
    eligible. Otherwise pending while a component is pending and none failed, else not achieved."""
    c = _components(results, outcome.outcomes)
    met_na = outcome.when_not_applicable == "met"
    met = (c.status == ACHIEVED) | ((c.status == NOT_ELIGIBLE) & met_na)
    return _gate(c, met, all_needed=True)


def any_of(inputs: Inputs, outcome: AnyOf, results: Mapping[str, ir.Table]) -> ir.Table:
    """A disjunction: achieved when at least one listed outcome is achieved for the episode (on the earliest);
    else pending when one is pending, not eligible when all are, otherwise not achieved."""
    c = _components(results, outcome.outcomes)
    return _gate(c, c.status == ACHIEVED, all_needed=False)


def _gate(c: ir.Table, met: ir.BooleanValue, all_needed: bool) -> ir.Table:
    c = c.mutate(
        _met=met.cast("int64"),
        _pending=(c.status == PENDING).cast("int64"),
        _eligible=(c.status != NOT_ELIGIBLE).cast("int64"),
        _one=ibis.literal(1),
    )
    g = c.group_by("client_id", "episode_id").aggregate(
        n=c._one.sum(),
        met=c._met.sum(),
        pending=c._pending.sum(),
        eligible=c._eligible.sum(),
        first=c.achieved_on.min(where=c.status == ACHIEVED),
        last=c.achieved_on.max(where=c.status == ACHIEVED),
        matures=c.matures_on.max(),
        evidence=("outcome:" + c.component + "=" + c.status).group_concat(";", order_by=[c.component]),
    )
    achieved = (g.met == g.n) if all_needed else (g.met > 0)
    status = ibis.cases(
        (g.eligible == 0, NOT_ELIGIBLE),
        (achieved, ACHIEVED),
        ((g.pending > 0) & ((g.met + g.pending == g.n) if all_needed else ibis.literal(True)), PENDING),
        else_=NOT_ACHIEVED,
    )
    achieved_on = g.last if all_needed else g.first
    out = g.select(
        client_id=g.client_id,
        episode_id=g.episode_id,
        status=status,
        achieved_on=ibis.ifelse(status == ACHIEVED, achieved_on, ibis.null("date")),
        matures_on=g.matures,
        evidence=g.evidence.fill_null(""),
    )
    return out.select(*RULE_COLUMNS)
