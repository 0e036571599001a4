"""Uplifts: "a tariff multiplier for clients whose assessment meets conditions (e.g. a whole-family approach)".

Rules (docs/payments.md):
- The assessment tested is the one grouping uses: the client's latest on or before the episode's start date (on
  one day the highest assessment id, `assessment.grouping.latest_assessment`); an episode without one has no
  uplift, and an empty field never meets a condition.
- An uplift applies to the outcome lines of its `outcomes` (every outcome with tariffs when empty), stock tariffs
  included; milestone payment points, fees and incentives are not uplifted.
- Several uplifts multiply. The line's amount is tariff x every factor, rounded once (`money.pence`, half up), and
  its reference shows each: `outcomes.abstinence.tariffs.high@2012-04-01 x uplifts.whole_family=1.25`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from decimal import Decimal

import ibis.expr.types as ir

from recoverypbr.assessment.grouping import condition, latest_assessment
from recoverypbr.contract.model import Contract
from recoverypbr.payments.lines import PaymentLine, with_changes
from recoverypbr.payments.money import PENNIES, pence


def flag_column(index: int) -> str:
    """The column saying whether the contract's `index`-th uplift holds for an episode."""
    return f"u_{index}"


def uplift_flags(episodes: ir.Table, assessments: ir.Table, contract: Contract) -> ir.Table:
    """`u_episode` and one true/false column per uplift (`flag_column`, in the contract's order): whether the
    episode's assessment meets all the uplift's conditions."""
    t = latest_assessment(episodes, assessments)
    assessed = t.assessment_id.notnull()
    flags = {
        flag_column(i): functools.reduce(operator.and_, [condition(t, c) for c in uplift.when], assessed)
        for i, uplift in enumerate(contract.uplifts.values())
    }
    return t.select(u_episode=t.episode_id, **flags)


def with_flags(priced: ir.Table, episodes: ir.Table, assessments: ir.Table, contract: Contract) -> ir.Table:
    """Priced rows (with `episode_id`) with the uplift flags of their episode (false when unknown)."""
    flags = uplift_flags(episodes, assessments, contract)
    j = priced.left_join(flags, priced.episode_id == flags.u_episode)
    names = [flag_column(i) for i in range(len(contract.uplifts))]
    return j.mutate(**{n: j[n].fill_null(False) for n in names}).drop("u_episode")


def uplifted(line: PaymentLine, flags: Mapping[str, bool], contract: Contract) -> PaymentLine:
    """The outcome line with every uplift that holds for it: amount tariff x factors rounded once, and the
    reference naming each factor."""
    factors = [
        (uid, uplift.factor)
        for i, (uid, uplift) in enumerate(contract.uplifts.items())
        if flags.get(flag_column(i)) and (not uplift.outcomes or line.outcome_id in uplift.outcomes)
    ]
    if not factors:
        return line
    exact = functools.reduce(operator.mul, (f for _, f in factors), Decimal(line.amount_pence) / PENNIES)
    shown = "".join(f" x uplifts.{uid}={factor}" for uid, factor in factors)
    return with_changes(line, amount_pence=pence(exact), reference=line.reference + shown)
