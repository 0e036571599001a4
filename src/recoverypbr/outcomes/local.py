"""Local outcomes in the common shapes a contract can define without new code, and the gates over outcomes.

"Local outcomes must be definable in a contract without new code for the common shapes: a TOP item crossing a
threshold or improving between two stages, an event recorded, a discharge code in a set, no event in a window."
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping

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
    CODES,
    NOT_ACHIEVED,
    NOT_ELIGIBLE,
    PENDING,
    Columns,
    Decided,
    Decision,
    TopTest,
    Window,
    achieved_on,
    code,
    discharge_outcome,
    event_outcome,
    status_words,
    top_test,
    window_outcome,
)
from recoverypbr.outcomes.inputs import Inputs


def _combine(tests: list[ir.BooleanValue], require: str) -> ir.BooleanValue:
    return functools.reduce(operator.and_ if require == "all" else operator.or_, tests)


def top_threshold(inputs: Inputs, outcome: TopThreshold) -> TopTest:
    """A TOP item crossing a threshold: at a TOP of `stages`, each item (`require: all`) or one item (`any`) is
    at least `at_least`, at most `at_most`, or equals `equals`. Every episode is eligible."""

    def test(f: ir.Table, item: str) -> ir.BooleanValue:
        if outcome.at_least is not None:
            return f[item] >= outcome.at_least
        if outcome.at_most is not None:
            return f[item] <= outcome.at_most
        return f[item] == outcome.equals

    return top_test(
        outcome.stages,
        lambda f: _combine([test(f, i).fill_null(False) for i in outcome.items], outcome.require),
    )


def top_improvement(inputs: Inputs, outcome: TopImprovement) -> TopTest:
    """A TOP item improving between two stages: from the episode's first TOP at `from_stage` to a later TOP at
    `to_stages`, each item (or one, `require: any`) decreased (or increased) by at least `by_at_least`.
    Eligible: episodes with a TOP at `from_stage`."""
    sign = -1 if outcome.direction == "decrease" else 1

    def improved(f: ir.Table) -> ir.BooleanValue:
        tests = [((f[i] - f[f"s_{i}"]) * sign >= outcome.by_at_least).fill_null(False) for i in outcome.items]
        return _combine(tests, outcome.require)

    stages = [s for s in outcome.to_stages if s != outcome.from_stage]
    return top_test(stages, improved, lambda s: s.s_top_id.notnull(), start_stage=outcome.from_stage)


def event_recorded(inputs: Inputs, outcome: EventRecorded) -> Decision:
    """An event recorded: one of `event_types` belongs to the episode (achieved on the first)."""
    return event_outcome(inputs, outcome.event_types)


def discharge_in(inputs: Inputs, outcome: DischargeIn) -> Decision:
    """A discharge code in a set: the episode's known discharge reason is one of `discharge_reasons`."""
    return discharge_outcome(outcome.discharge_reasons)


def no_event_in_window(inputs: Inputs, outcome: NoEventInWindow) -> Decision:
    """No event in a window: none of `event_types` is recorded for the client in the `window_months` after the
    episode's start or discharge (`after`); with `after: discharge` an open episode is not eligible."""

    def anchor(e: ir.Table) -> ir.DateValue:
        return e.start_date if outcome.after == "start" else e.discharge_date

    window = Window(eligible=lambda e: anchor(e).notnull(), anchor=anchor)
    v = inputs.events.filter(inputs.events.event_type.isin(outcome.event_types))
    incidents = v.select(
        i_client=v.client_id, i_day=v.event_date, i_evidence="event:" + v.event_type + "@" + v.event_date.cast("string")
    )
    return window_outcome(inputs, window, incidents, outcome.window_months)


def all_of(inputs: Inputs, outcome: AllOf, decided: Mapping[str, Decided]) -> Decision:
    """A gate or conjunction: achieved when every listed outcome is achieved for the episode (on the latest of
    their dates). A component not eligible counts as met or not by `when_not_applicable`; none met at all is not
    eligible. Otherwise pending while a component is pending and none failed, else not achieved."""
    met_na = outcome.when_not_applicable == "met"

    def met(status: ir.IntegerValue) -> ir.BooleanValue:
        return (status == CODES[ACHIEVED]) | ((status == CODES[NOT_ELIGIBLE]) & met_na)

    return _gate([decided[n] for n in outcome.outcomes], sorted(outcome.outcomes), decided, met, all_needed=True)


def any_of(inputs: Inputs, outcome: AnyOf, decided: Mapping[str, Decided]) -> Decision:
    """A disjunction: achieved when at least one listed outcome is achieved for the episode (on the earliest);
    else pending when one is pending, not eligible when all are, otherwise not achieved."""

    def met(status: ir.IntegerValue) -> ir.BooleanValue:
        return status == CODES[ACHIEVED]

    return _gate([decided[n] for n in outcome.outcomes], sorted(outcome.outcomes), decided, met, all_needed=False)


def _count(tests: list[ir.BooleanValue]) -> ir.IntegerValue:
    return functools.reduce(operator.add, [t.cast("int32").cast("int64") for t in tests])


def _extreme(values: list[ir.DateValue], latest: bool) -> ir.DateValue:
    """The latest (or earliest) of dates, skipping empty ones."""
    found = values[0]
    for value in values[1:]:
        better = (value > found) if latest else (value < found)
        found = ibis.ifelse(value.notnull() & (found.isnull() | better.fill_null(False)), value, found)
    return found


def _gate(
    parts: list[Decided],
    names: list[str],
    decided: Mapping[str, Decided],
    met: Callable[[ir.IntegerValue], ir.BooleanValue],
    all_needed: bool,
) -> Decision:
    """Evidence: `outcome:ID=STATUS` for each component, by id."""

    def decide(e: ir.Table, on: ir.DateValue, ref: ir.StringValue) -> Columns:
        statuses = [p.status(e) for p in parts]
        n, n_met = len(parts), _count([met(s) for s in statuses])
        pending = _count([s == CODES[PENDING] for s in statuses])
        eligible = _count([s != CODES[NOT_ELIGIBLE] for s in statuses])
        achieved = (n_met == n) if all_needed else (n_met > 0)
        status = ibis.cases(
            (eligible == 0, code(NOT_ELIGIBLE)),
            (achieved, code(ACHIEVED)),
            ((pending > 0) & ((n_met + pending == n) if all_needed else ibis.literal(True)), code(PENDING)),
            else_=code(NOT_ACHIEVED),
        )
        achieved_dates = zip(parts, statuses, strict=True)
        dates = [ibis.ifelse(s == CODES[ACHIEVED], p.on(e), ibis.null("date")) for p, s in achieved_dates]
        evidence = ibis.literal(";").join(
            [f"outcome:{name}=" + status_words(decided[name].status(e)) for name in names]
        )
        return {
            "status": status,
            "on": achieved_on(status, _extreme(dates, latest=all_needed)),
            "matures": _extreme([p.matures(e) for p in parts], latest=True),
            "ref": evidence,
        }

    return Decision("ref", decide, combines=True)
