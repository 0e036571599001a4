"""Free from drug(s) of dependence: reliable change, abstinence, successful completion, no re-presentation.

Definitions follow the national outcomes table in docs/outcomes.md, which also states the edge rules.
"""

from __future__ import annotations

import functools
import hashlib
import math
import operator
from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.outcomes import Abstinence, NoRepresentation, ReliableChange, SuccessfulCompletion
from recoverypbr.outcomes.frame import (
    SUBSTANCE_DAYS,
    Decision,
    TopTest,
    Window,
    discharge_outcome,
    ids,
    presenting,
    presents,
    top_test,
    window_outcome,
)
from recoverypbr.outcomes.inputs import Inputs

#: Test-retest reliability used when a contract gives neither `thresholds` nor `reliability` (an assumption,
#: stated in docs/outcomes.md: contracts should state their own).
DEFAULT_RELIABILITY = 0.8
#: The 95% two-sided critical value of the Jacobson-Truax reliable change index.
RCI_CRITICAL = 1.96


def reliable_change_thresholds(inputs: Inputs, outcome: ReliableChange, baseline_before: date) -> ir.Table:
    """One row: `thr_<substance>` = days of use that count as a reliable change, per substance.

    "The Jacobson-Truax index: a change is reliable at 95% when |x2 - x1| / (SD1 x sqrt(2) x sqrt(1 - r)) > 1.96,
    where SD1 is the baseline standard deviation and r the test-retest reliability ... a contract may also fix
    them." A threshold fixed in the contract wins. Otherwise SD1 is the sample standard deviation of the start-TOP
    days of use of that substance, over start TOPs of episodes presenting with it dated before `baseline_before`
    (the contract's start); with fewer than two such TOPs, over all start TOPs known on the as-of date."""
    r = float(outcome.reliability) if outcome.reliability is not None else DEFAULT_RELIABILITY
    factor = RCI_CRITICAL * math.sqrt(2) * math.sqrt(1 - r)
    t = inputs.top.filter(inputs.top.stage == "start")
    e = inputs.episodes.select("episode_id", e_substances="substances")
    s = t.join(e, "episode_id")
    before = s.top_date < baseline_before
    metrics = {}
    for substance, column in SUBSTANCE_DAYS.items():
        presenting = presents(s.e_substances, substance)
        metrics[f"b_{substance}"] = s[column].std(how="sample", where=presenting & before)
        metrics[f"a_{substance}"] = s[column].std(how="sample", where=presenting)
    sd = s.aggregate(**metrics)
    fixed = {k: float(v) for k, v in outcome.thresholds.items()}
    return sd.select(
        **{
            f"thr_{substance}": ibis.literal(fixed[substance], "float64")
            if substance in fixed
            else (sd[f"b_{substance}"].fill_null(sd[f"a_{substance}"]) * factor).cast("float64")
            for substance in SUBSTANCE_DAYS
        }
    )


def reliable_change(inputs: Inputs, outcome: ReliableChange, baseline_before: date) -> TopTest:
    """Drug and/or alcohol use significantly improved ("reliable change"): "at a review or exit TOP, days of use
    of each presenting substance fell by at least its reliable-change threshold versus the start TOP, and no
    substance deteriorated by that much."

    Eligible: episodes with a start TOP. Deterioration is checked on all seven substances of the TOP (presenting
    or not); a day-count missing at either TOP never counts as improved."""
    # The thresholds are joined onto the TOPs as one row of columns named by the parameters that fix them (14
    # scalar subqueries would each be a join of their own); outcomes with the same parameters share them.
    parameters = repr((outcome.reliability, sorted(outcome.thresholds.items()), baseline_before))
    name = "thr_" + hashlib.sha256(parameters.encode()).hexdigest()[:8]
    thresholds = reliable_change_thresholds(inputs, outcome, baseline_before)
    thresholds = thresholds.select(**{f"{name}_{s}": thresholds[f"thr_{s}"] for s in SUBSTANCE_DAYS})

    def achieved(f: ir.Table) -> ir.BooleanValue:
        return _reliably_improved(f, {s: f[f"{name}_{s}"] for s in SUBSTANCE_DAYS})

    return top_test(outcome.stages, achieved, _has_start_top, constants=thresholds)


def _has_start_top(s: ir.Table) -> ir.BooleanValue:
    return s.s_top_id.notnull()


def _reliably_improved(f: ir.Table, limits: dict[str, ir.NumericValue]) -> ir.BooleanValue:
    improved, deteriorated = [], []
    for substance, column in SUBSTANCE_DAYS.items():
        change = f[column] - f[f"s_{column}"]
        threshold = limits[substance]
        improved.append(~presenting(f, substance) | (-change >= threshold).fill_null(False))
        deteriorated.append((change >= threshold).fill_null(False))
    some_presenting = functools.reduce(operator.or_, [presenting(f, s) for s in SUBSTANCE_DAYS])
    return some_presenting & functools.reduce(operator.and_, improved) & ~functools.reduce(operator.or_, deteriorated)


def abstinence(inputs: Inputs, outcome: Abstinence) -> TopTest:
    """Abstinence: "zero days of use of every presenting substance in the 28 days before a review or exit TOP".

    `substances` in the contract replaces the presenting substances. Other substances may be used. Every episode
    is eligible (no start TOP needed); a missing day-count is not zero."""

    def achieved(f: ir.Table) -> ir.BooleanValue:
        if outcome.substances:
            required = {s: ibis.literal(s in outcome.substances) for s in SUBSTANCE_DAYS}
            some: ir.BooleanValue = ibis.literal(True)
        else:
            required = {s: presenting(f, s) for s in SUBSTANCE_DAYS}
            some = f.e_substances.fill_null("") != ""
        tests = [~required[s] | (f[c] == 0).fill_null(False) for s, c in SUBSTANCE_DAYS.items()]
        return some & functools.reduce(operator.and_, tests)

    return top_test(outcome.stages, achieved)


def successful_completion(inputs: Inputs, outcome: SuccessfulCompletion) -> Decision:
    """Successful completion of treatment: "discharge reason is a completion code: completed drug-free, or
    completed occasional user (not opiates or crack)". Achieved on the discharge date; an open episode (or one
    whose discharge is after the as-of date) is not achieved."""
    return discharge_outcome(outcome.discharge_reasons)


def no_representation(inputs: Inputs, outcome: NoRepresentation, completion_reasons: list[str]) -> Decision:
    """Does not re-present: "a successful completion with no new treatment episode and no criminal-justice drug
    contact in the 12 months after discharge; payable only once the 12 months have passed."

    Eligible: episodes discharged with a completion reason (`completion_reasons`). A re-presentation is a new
    episode of the client starting, or a presentation in one of `settings`, in the window (see `window_outcome`:
    after the discharge day, up to and including the day `window_months` calendar months later)."""
    window = Window(
        eligible=lambda e: e.discharge_reason.isin(completion_reasons).fill_null(False),
        anchor=lambda e: e.discharge_date,
    )
    return window_outcome(inputs, window, representations(inputs, outcome.settings), outcome.window_months)


def representations(inputs: Inputs, settings: Sequence[str]) -> ir.Table:
    """Re-presentations (`i_client`, `i_day`, `i_evidence`): presentations in `settings`, and new episodes
    when `treatment` is among them."""
    p = inputs.presentations.filter(inputs.presentations.setting.isin(list(settings)))
    parts = [
        p.select(
            i_client=p.client_id,
            i_day=p.presented_on,
            i_evidence="presentation:" + p.client_id + "@" + p.presented_on.cast("string"),
        )
    ]
    if "treatment" in settings:
        e = inputs.episodes
        parts.append(e.select(i_client=e.client_id, i_day=e.start_date, i_evidence=ids("episode", e.episode_id)))
    return ibis.union(*parts, distinct=False)
