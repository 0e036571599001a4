"""Validation rules on names: every provider, group, outcome and event type referenced exists; TOP items,
assessment fields, discharge codes and substances are real; the providers, LASARS, grouping, gates and funnels
are consistent. Each rule yields `Problem`s (see `rules.py`)."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Iterator

from recoverypbr.contract.model import Condition, Contract
from recoverypbr.contract.outcomes import (
    Abstinence,
    AllOf,
    AnyOf,
    DischargeIn,
    EventRecorded,
    HepatitisBCourse,
    NoEventInWindow,
    OutcomeCommon,
    QualityOfLife,
    ReliableChange,
    SuccessfulCompletion,
    TopImprovement,
    TopThreshold,
)
from recoverypbr.contract.rules import Check, Problem, known_list, suggest
from recoverypbr.data import codes
from recoverypbr.data.schema import ASSESSMENTS, TOP, Column

#: TOP columns an outcome may test: the answers, not the keys.
TOP_ITEMS: dict[str, Column] = {
    col.name: col for col in TOP.columns if col.name not in ("top_id", "client_id", "episode_id", "top_date", "stage")
}
#: Assessment columns a grouping rule may test: not the keys, the date, or the recorded group itself.
ASSESSMENT_FIELDS: dict[str, Column] = {
    col.name: col
    for col in ASSESSMENTS.columns
    if col.name not in ("assessment_id", "client_id", "assessed_on", "complexity_group")
}


def _missing(path: str, what: str, name: str, known: Collection[str], fix: str) -> Problem:
    return Problem(path, f"{what} '{name}' does not exist", f"{fix}; known: {known_list(known)}.{suggest(name, known)}",
                   "reference")


def _check_names(path: str, what: str, names: Iterable[str], known: Collection[str], fix: str) -> Iterator[Problem]:
    for name in names:
        if name not in known:
            yield _missing(path, what, name, known, fix)


def provider_references(c: Contract) -> Iterator[Problem]:
    """Every provider named in splits, assignments, caps, floors, incentives and the LASARS exists."""
    known, fix = c.providers, "use a provider id declared under `providers:`"
    for path, names in _provider_uses(c):
        yield from _check_names(path, "provider", names, known, fix)


def _provider_uses(c: Contract) -> Iterator[tuple[str, Iterable[str]]]:
    yield from ((f"attribution.split.{p}", [p]) for p in c.attribution.split)
    yield from ((f"attribution.assignments.{a}.provider", [x.provider]) for a, x in c.attribution.assignments.items())
    for oid, outcome in c.outcomes.items():
        yield from ((f"outcomes.{oid}.split.{p}", [p]) for p in outcome.split)
    for iid, incentive in c.incentives.items():
        yield from ((f"incentives.{iid}.split.{p}", [p]) for p in incentive.split)
        for end in ("from_service", "to_service"):
            place = getattr(incentive, end)
            if place.provider:
                yield f"incentives.{iid}.{end}.provider", [place.provider]
    for kind, limits in (("caps", c.caps), ("floors", c.floors)):
        yield from ((f"{kind}.{lid}.provider", [x.provider]) for lid, x in limits.items() if x.provider)
    yield from ((f"lasars.assessors.{i}", [p]) for i, p in enumerate(c.lasars.assessors))
    yield from ((f"providers.{pid}.prime", [p.prime]) for pid, p in c.providers.items() if p.prime)


def outcome_references(c: Contract) -> Iterator[Problem]:
    """Every outcome named by a gate, a conjunction, a milestone, an uplift, a cap or a floor exists."""
    known, fix = c.outcomes, "use an outcome id declared under `outcomes:`"
    for oid, outcome in c.outcomes.items():
        if isinstance(outcome, OutcomeCommon) and outcome.gate:
            yield from _check_names(f"outcomes.{oid}.gate", "outcome", [outcome.gate], known, fix)
        if isinstance(outcome, AllOf | AnyOf):
            yield from _check_names(f"outcomes.{oid}.outcomes", "outcome", outcome.outcomes, known, fix)
    for fid, funnel in c.funnels.items():
        for mid, milestone in funnel.milestones.items():
            yield from _check_names(f"funnels.{fid}.milestones.{mid}.outcome", "outcome", [milestone.outcome],
                                    known, fix)
    for uid, uplift in c.uplifts.items():
        yield from _check_names(f"uplifts.{uid}.outcomes", "outcome", uplift.outcomes, known, fix)
    for kind, limits in (("caps", c.caps), ("floors", c.floors)):
        for lid, limit in limits.items():
            if limit.outcome:
                yield from _check_names(f"{kind}.{lid}.outcome", "outcome", [limit.outcome], known, fix)


def fund_references(c: Contract) -> Iterator[Problem]:
    """Every fund an outcome's `funded_by` names is declared under `funds:`."""
    for oid, outcome in c.outcomes.items():
        if not outcome.funded_by:
            continue
        yield from _check_names(f"outcomes.{oid}.funded_by", "fund", [outcome.funded_by], c.funds,
                                "declare the fund under `funds:` with its label and yearly amount, and name its id")


def group_references(c: Contract) -> Iterator[Problem]:
    """Every complexity group named by a band or a decision rule exists."""
    if not c.complexity:
        return
    known, fix = c.complexity.groups, "use a group declared under `complexity.groups`"
    if c.complexity.points:
        yield from _check_names("complexity.points.bands", "complexity group", c.complexity.points.bands, known, fix)
    for rid, rule in c.complexity.rules.items():
        yield from _check_names(f"complexity.rules.{rid}.group", "complexity group", [rule.group], known, fix)
    if c.complexity.default_group:
        yield from _check_names("complexity.default_group", "complexity group", [c.complexity.default_group],
                                known, fix)


def event_type_references(c: Contract) -> Iterator[Problem]:
    """Every event type is a national one or declared under `local_event_types`."""
    known = (*codes.KNOWN_EVENT_TYPES, *c.local_event_types)
    fix = "declare it under `local_event_types: {name: meaning}` or use a national event type"
    for oid, outcome in c.outcomes.items():
        if isinstance(outcome, EventRecorded | NoEventInWindow | HepatitisBCourse):
            yield from _check_names(f"outcomes.{oid}.event_types", "event type", outcome.event_types, known, fix)


def code_lists(c: Contract) -> Iterator[Problem]:
    """Discharge reasons, substances and TOP items are on the data spec's lists, with values in range."""
    for oid, outcome in c.outcomes.items():
        path = f"outcomes.{oid}"
        if isinstance(outcome, SuccessfulCompletion | DischargeIn):
            yield from _codes(f"{path}.discharge_reasons", "discharge reason", outcome.discharge_reasons,
                              codes.DISCHARGE_REASONS)
        if isinstance(outcome, Abstinence):
            yield from _codes(f"{path}.substances", "substance", outcome.substances, codes.SUBSTANCES)
        if isinstance(outcome, ReliableChange):
            yield from _codes(f"{path}.thresholds", "substance", outcome.thresholds, codes.SUBSTANCES)
            yield from _in_range(f"{path}.thresholds", outcome.thresholds.values(), 1, 28, "days of use")
        if isinstance(outcome, TopThreshold):
            yield from _top_threshold(path, outcome)
        if isinstance(outcome, TopImprovement):
            yield from _codes(f"{path}.items", "TOP item", outcome.items, TOP_ITEMS)
        if isinstance(outcome, QualityOfLife):
            yield from _in_range(f"{path}.threshold", [outcome.threshold], 0, 20, "quality-of-life rating")


def _codes(path: str, what: str, values: Iterable[str], known: Collection[str]) -> Iterator[Problem]:
    for value in values:
        if value not in known:
            yield Problem(path, f"'{value}' is not a {what}",
                          f"use one of {known_list(known)}.{suggest(value, known)}", "codes")


def _in_range(path: str, values: Iterable[int], low: int, high: int, what: str) -> Iterator[Problem]:
    for value in values:
        if not low <= value <= high:
            yield Problem(path, f"{value} is outside the {what} range {low}-{high}",
                          f"give a value from {low} to {high}", "codes")


def _top_threshold(path: str, outcome: TopThreshold) -> Iterator[Problem]:
    given = [op for op in ("at_least", "at_most", "equals") if getattr(outcome, op) is not None]
    if len(given) != 1:
        yield Problem(path, f"a TOP threshold needs exactly one of at_least, at_most, equals ({len(given)} given)",
                      "keep one of them", "condition")
    for i, item in enumerate(outcome.items):
        if item not in TOP_ITEMS:
            yield from _codes(f"{path}.items.{i}", "TOP item", [item], TOP_ITEMS)
        elif given:
            yield from _threshold_fits(f"{path}.{given[0]}", outcome, TOP_ITEMS[item])


def _threshold_fits(path: str, outcome: TopThreshold, column: Column) -> Iterator[Problem]:
    value = getattr(outcome, path.rsplit(".", 1)[-1])
    if column.kind == "flag":
        if not isinstance(value, bool):
            yield Problem(path, f"{column.name} is a Y/N item", "use `equals: true` or `equals: false`", "condition")
        return
    if isinstance(value, bool):
        yield Problem(path, f"{column.name} is a number, not Y/N", "compare it with a number", "condition")
        return
    high = column.maximum if column.maximum is not None else 10**6
    yield from _in_range(path, [value], column.minimum or 0, high, f"{column.name}")


def conditions(c: Contract) -> Iterator[Problem]:
    """Grouping conditions and uplifts test real assessment fields, with one operator and values that fit."""
    if c.complexity and c.complexity.points:
        for cid, criterion in c.complexity.points.criteria.items():
            yield from _condition(f"complexity.points.criteria.{cid}", criterion)
    if c.complexity:
        for rid, rule in c.complexity.rules.items():
            for i, cond in enumerate(rule.when):
                yield from _condition(f"complexity.rules.{rid}.when.{i}", cond)
    for uid, uplift in c.uplifts.items():
        for i, cond in enumerate(uplift.when):
            yield from _condition(f"uplifts.{uid}.when.{i}", cond)


def _condition(path: str, cond: Condition) -> Iterator[Problem]:
    if cond.field not in ASSESSMENT_FIELDS:
        yield Problem(f"{path}.field", f"'{cond.field}' is not an assessment field",
                      f"use one of {known_list(ASSESSMENT_FIELDS)}.{suggest(cond.field, ASSESSMENT_FIELDS)}",
                      "condition")
        return
    given = [op for op in ("equals", "one_of", "at_least", "at_most") if getattr(cond, op) is not None]
    if len(given) != 1:
        yield Problem(path, f"a condition needs exactly one of equals, one_of, at_least, at_most ({len(given)} given)",
                      "keep one operator; write two conditions to test a range", "condition")
        return
    yield from _operator_fits(path, cond, given[0], ASSESSMENT_FIELDS[cond.field])


def _operator_fits(path: str, cond: Condition, op: str, column: Column) -> Iterator[Problem]:
    kinds = {"int": ("equals", "at_least", "at_most", "one_of"), "flag": ("equals",),
             "code": ("equals", "one_of"), "text": ("equals", "one_of")}
    allowed = kinds.get(column.kind, ())
    if op not in allowed:
        yield Problem(f"{path}.{op}", f"{cond.field} is a {_kind_words(column.kind)}; `{op}` does not apply",
                      f"use {' or '.join(allowed)}", "condition")
        return
    value = cond.equals
    if column.kind == "flag" and not isinstance(value, bool):
        yield Problem(f"{path}.equals", f"{cond.field} is a Y/N field", "use `equals: true` or `equals: false`",
                      "condition")
    if column.kind == "int" and op in ("equals", "one_of") and not isinstance(value, int | type(None)):
        yield Problem(f"{path}.{op}", f"{cond.field} is a number", "compare it with a whole number", "condition")
    if column.kind == "code":
        values = [value] if op == "equals" else (cond.one_of or [])
        yield from _codes(f"{path}.{op}", f"{cond.field} code", [str(v) for v in values], column.codes)


def _kind_words(kind: str) -> str:
    return {"int": "number", "flag": "Y/N field", "code": "code", "text": "text field"}.get(kind, kind)


def attribution_consistent(c: Contract) -> Iterator[Problem]:
    """The attribution model has what it needs: one prime; a split for co-dependent providers (and none for
    competing or assigned ones, where it would be ignored); assignments."""
    a, roles = c.attribution, {pid: p.role for pid, p in c.providers.items()}
    primes = [pid for pid, role in roles.items() if role == "prime"]
    paid = [pid for pid, role in roles.items() if role in ("prime", "provider")]
    if a.model == "prime" and len(primes) != 1:
        yield Problem("providers", f"a prime model needs exactly one provider with `role: prime` ({len(primes)} "
                      "found)", "give one provider `role: prime` and the others subcontractor or lasars",
                      "attribution")
    if a.model == "co_dependent" and len(a.split) < 2:
        yield Problem("attribution.split", "co-dependent providers share outcomes by a stated split, and none "
                      "is given", "add `split: {provider: share, ...}` naming every co-dependent provider",
                      "attribution")
    if a.model in ("competing", "assigned") and a.split:
        yield Problem("attribution.split", f"a split shares every payment among a prime and its subcontractors or "
                      f"among co-dependent providers; under `model: {a.model}` each provider is paid for its own "
                      "clients, so the split would be ignored", "remove `split`, or give an outcome its own `split`, "
                      "or use `model: co_dependent`", "attribution")
    if a.unnamed_providers == "through_prime" and a.model != "prime":
        yield Problem("attribution.unnamed_providers", f"only a prime pays providers the contract does not name; under "
                      f"`model: {a.model}` nobody would receive their payments", "remove `unnamed_providers`, or use "
                      "`model: prime`", "attribution")
    if a.model == "competing" and len(paid) < 2:
        yield Problem("providers", "competing providers need two or more providers with role provider or prime",
                      "add the competing providers, or use `model: prime`", "attribution")
    if (a.model == "assigned") != bool(a.assignments):
        fix = ("add `assignments:` giving each client group its provider" if a.model == "assigned"
               else "remove assignments, or use `model: assigned`")
        yield Problem("attribution.assignments", f"assignments go with `model: assigned` (model is {a.model})",
                      fix, "attribution")
    for pid, provider in c.providers.items():
        if provider.role == "subcontractor" and (not provider.prime or roles.get(provider.prime) != "prime"):
            yield Problem(f"providers.{pid}.prime", "a subcontractor must name its prime provider",
                          f"add `prime: <id>` with the id of the provider whose role is prime "
                          f"({known_list(primes)})", "attribution")


def lasars_audited(c: Contract) -> Iterator[Problem]:
    """A LASARS located in the providers is audited."""
    if c.lasars.location == "provider" and c.lasars.audit is None:
        yield Problem("lasars.audit", "the LASARS sits in the providers and no audit is set; providers would "
                      "assign the groups that fix their own tariffs", "add `audit: {by: commissioner}` (or "
                      "independent), with the share of assessments sampled", "lasars")


def grouping_complete(c: Contract) -> Iterator[Problem]:
    """Grouping uses points or decision rules (one of them), with bands from 0 upwards or a default group."""
    cx = c.complexity
    if cx is None:
        return
    if bool(cx.points) == bool(cx.rules):
        yield Problem("complexity", "give either `points` or `rules` to assign the groups"
                      + (" (both are given)" if cx.points else ""),
                      "keep one method: points with bands, or ordered decision rules with a default group",
                      "complexity")
    if cx.rules and not cx.default_group:
        yield Problem("complexity.default_group", "decision rules need a default group for clients no rule "
                      "matches", f"add `default_group:` with one of {known_list(cx.groups)}", "complexity")
    if cx.points:
        yield from _bands(list(cx.points.bands.items()))


def _bands(bands: list[tuple[str, int]]) -> Iterator[Problem]:
    if bands and bands[0][1] != 0:
        yield Problem(f"complexity.points.bands.{bands[0][0]}", f"the lowest band starts at {bands[0][1]} points, "
                      "so clients with fewer points have no group", "start the first band at 0", "complexity")
    for (low, low_from), (high, high_from) in itertools.pairwise(bands):
        if high_from <= low_from:
            yield Problem(f"complexity.points.bands.{high}", f"band '{high}' starts at {high_from} points, not above "
                          f"band '{low}' ({low_from})", "list the bands from the fewest points to the most, each "
                          "starting higher than the one before", "complexity")


def gates_acyclic(c: Contract) -> Iterator[Problem]:
    """Conjunctions do not contain themselves, and no outcome is its own gate."""
    for oid, outcome in c.outcomes.items():
        if isinstance(outcome, OutcomeCommon) and outcome.gate == oid:
            yield Problem(f"outcomes.{oid}.gate", "an outcome cannot be its own gate",
                          "name another outcome (e.g. an all_of of the client's needs)", "gates")
        if isinstance(outcome, AllOf | AnyOf) and _reaches(c, oid, outcome.outcomes, set()):
            yield Problem(f"outcomes.{oid}.outcomes", f"'{oid}' contains itself through its components",
                          "remove the component that leads back to it", "gates")


def _reaches(c: Contract, target: str, names: Iterable[str], seen: set[str]) -> bool:
    for name in names:
        if name == target:
            return True
        component = c.outcomes.get(name)
        if name not in seen and isinstance(component, AllOf | AnyOf):
            seen.add(name)
            if _reaches(c, target, component.outcomes, seen):
                return True
    return False


def funnels_consistent(c: Contract) -> Iterator[Problem]:
    """Funnels narrow, monthly predictions add up, maxima are at least one unit, and something is paid."""
    for fid, funnel in c.funnels.items():
        path = f"funnels.{fid}.milestones"
        items = list(funnel.milestones.items())
        for (before, a), (mid, b) in itertools.pairwise(items):
            if b.predicted > a.predicted:
                yield Problem(f"{path}.{mid}.predicted", f"{b.predicted} are predicted to reach '{mid}', more than "
                              f"the {a.predicted} predicted for the milestone before it ('{before}')",
                              "a funnel narrows: check the order of the milestones and the predictions", "funnel")
        for mid, milestone in items:
            yield from _milestone(f"{path}.{mid}", milestone.predicted, milestone.predicted_monthly)
            payment = milestone.payment
            if payment and payment.maximum:
                for since, top in payment.maximum.items():
                    unit = payment.unit_price.get(since) or next(iter(payment.unit_price.values()))
                    if top < unit:
                        yield Problem(f"{path}.{mid}.payment.maximum", f"the maximum ({top}) is below one unit "
                                      f"price ({unit})", "raise the maximum (e.g. predicted x unit price)", "funnel")
        if not any(m.payment for _, m in items):
            yield Problem(path, f"funnel '{fid}' has no payment point",
                          "add `payment: {unit_price: ..., maximum: ...}` to the milestone that is paid", "funnel")


def _milestone(path: str, predicted: int, monthly: list[int] | None) -> Iterator[Problem]:
    if predicted < 0:
        yield Problem(f"{path}.predicted", "a negative prediction", "give 0 or more clients", "funnel")
    if monthly is not None and (len(monthly) != 12 or sum(monthly) != predicted):
        yield Problem(f"{path}.predicted_monthly", f"{len(monthly)} monthly predictions adding up to "
                      f"{sum(monthly)}; the year predicts {predicted}",
                      "give 12 monthly predictions (first month of the contract year first) that add up to "
                      "`predicted`", "funnel")


REFERENCE_RULES: tuple[Check, ...] = (
    provider_references,
    outcome_references,
    fund_references,
    group_references,
    event_type_references,
    code_lists,
    conditions,
    attribution_consistent,
    lasars_audited,
    grouping_complete,
    gates_acyclic,
    funnels_consistent,
)
