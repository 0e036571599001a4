"""Reduced offending: no offending in 6 or 12 months (individual) and the cohort frequency measure."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.outcomes import NoOffending6m, NoOffending12m, OffendingCohortReduction
from recoverypbr.outcomes.frame import Decision, Window, window_outcome
from recoverypbr.outcomes.inputs import Inputs


def no_offending(inputs: Inputs, outcome: NoOffending6m | NoOffending12m, data_available: bool = True) -> Decision:
    """No offending in a 6 (or 12) month period (individual): "no recorded offence in the 6 months after treatment
    start (needs local individual data; no pilot used it)".

    The window is the days after the episode's start date up to and including the same date `window_months`
    calendar months later; pending until then. Without individual offending data (`data_available` false) every
    episode is not eligible: the absence of records is not evidence of no offending."""
    window = Window(eligible=lambda e: ibis.literal(data_available), anchor=lambda e: e.start_date)
    o = inputs.offending_individual
    offences = o.select(
        i_client=o.client_id,
        i_day=o.offence_date,
        i_evidence="offence:" + o.client_id + "@" + o.offence_date.cast("string"),
    )
    return window_outcome(inputs, window, offences, outcome.window_months)


no_offending_6m = no_offending
no_offending_12m = no_offending

COHORT_COLUMNS = (
    "cohort_id",
    "period_start",
    "period_end",
    "people",
    "offences",
    "current_rate",
    "baseline_rate",
    "change",
    "target_reduction",
    "met",
)


def offending_cohort_reduction(
    inputs: Inputs, outcome: OffendingCohortReduction, years: list[tuple[date, date]]
) -> ir.Table:
    """Reduction in average offending compared to baseline (cohort): "the cohort's offences per person in the
    period, against the same cohort definition's baseline rate; a frequency measure".

    Baseline rate: offences / people summed over the cohort's baseline rows (known on the as-of date). Periods:
    each non-baseline data period (`period: quarter`) or each contract year in `years` (`period: year`), summing
    the data periods that lie inside it. `change` = current rate / baseline rate - 1 (negative is a fall); `met`
    when the fall is at least `target_reduction`. One row per period, ordered by period start."""
    c = inputs.offending_cohort.filter(inputs.offending_cohort.cohort_id == outcome.cohort_id)
    baseline_flag = c.is_baseline.fill_null(False)
    base = c.filter(baseline_flag).aggregate(b_offences=ibis._.offences.sum(), b_people=ibis._.people.sum())
    base = base.select(baseline_rate=base.b_offences.cast("float64") / base.b_people.cast("float64"))
    current = c.filter(~baseline_flag)
    if outcome.period == "year":
        y = ibis.memtable({"y_start": [s for s, _ in years], "y_end": [e for _, e in years]})
        j = current.join(y, (current.period_start >= y.y_start) & (current.period_end <= y.y_end))
        current = j.group_by(cohort_id=j.cohort_id, period_start=j.y_start, period_end=j.y_end).aggregate(
            people=j.people.sum(), offences=j.offences.sum()
        )
    current = current.select("cohort_id", "period_start", "period_end", "people", "offences")
    m = current.cross_join(base)
    rate = m.offences.cast("float64") / m.people.cast("float64")
    target = float(outcome.target_reduction)
    change = rate / m.baseline_rate - 1
    out = m.select(
        "cohort_id",
        "period_start",
        "period_end",
        "people",
        "offences",
        current_rate=rate,
        baseline_rate=m.baseline_rate,
        change=change,
        target_reduction=ibis.literal(target),
        met=(change <= -target).fill_null(False),
    )
    return out.order_by("period_start")
