"""The engine: every client-level outcome of a contract decided together, one row per episode.

A contract's outcomes read the same rows over and over (most of them the episode's start TOP and its review and
exit TOPs), so they are decided in one table rather than one query each: the episodes (known on the as-of date)
with their complexity group and provider, joined once to each TOP pass (every `TopTest` with the same stages: the
start TOP, the TOPs checked and, per outcome, the first that achieved it) and to each outcome's first `Found` row.

Columns (the `Placed` entries say which belong to which outcome): `client_id`, `episode_id`, `provider_id`,
`complexity_group`, `discharge_date`; per TOP pass `t{g}_tops`: the start TOP's id (empty when no outcome of the
pass needs it, or there is none), then the ids of the TOPs checked in date and id order, all `;`-separated; per
outcome at position k
`o{k}_status` (a status code), `o{k}_on` (the date achieved) and, as the outcome needs them, `o{k}_matures`,
`o{k}_hit` (which TOP checked achieved it, from 0) and `o{k}_ref` (evidence ids). `ledger.py` stores this table
and shows it as the long ledger (`render.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.assessment.grouping import complexity_groups
from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import AllOf, AnyOf, OffendingCohortReduction, SuccessfulCompletion
from recoverypbr.contract.types import ALL_GROUPS
from recoverypbr.data import codes
from recoverypbr.outcomes import health, local, offending, recovery
from recoverypbr.outcomes.frame import (
    ACHIEVED,
    NOT_ACHIEVED,
    NOT_ELIGIBLE,
    Decided,
    Decision,
    OutcomeTest,
    TopTest,
    achieved_on,
    code,
    follow_up_tops,
    start_top,
)
from recoverypbr.outcomes.inputs import Inputs

#: The episode's columns kept in the stored table, before the outcomes' own.
EPISODE_COLUMNS = ("client_id", "episode_id", "provider_id", "complexity_group", "discharge_date")


@dataclass(frozen=True)
class Context:
    """What some rules need besides the inputs and their own parameters."""

    contract: Contract
    individual_offending: bool
    decided: dict[str, Decided] = field(default_factory=dict)

    @property
    def completion_reasons(self) -> list[str]:
        """The contract's successful-completion codes (the national ones when it has no such outcome)."""
        for outcome in self.contract.outcomes.values():
            if isinstance(outcome, SuccessfulCompletion):
                return list(outcome.discharge_reasons)
        return list(codes.COMPLETION_REASONS)


#: The function that gives an outcome type's test from the tables, the outcome's parameters and the context.
OutcomeRule = Callable[[Inputs, Any, Context], OutcomeTest]

#: Outcome `type` -> the rule that says how it is decided per episode.
RULES: dict[str, OutcomeRule] = {
    "reliable_change": lambda i, o, c: recovery.reliable_change(i, o, c.contract.start),
    "abstinence": lambda i, o, c: recovery.abstinence(i, o),
    "successful_completion": lambda i, o, c: recovery.successful_completion(i, o),
    "no_representation_12m": lambda i, o, c: recovery.no_representation(i, o, c.completion_reasons),
    "no_offending_6m": lambda i, o, c: offending.no_offending(i, o, c.individual_offending),
    "no_offending_12m": lambda i, o, c: offending.no_offending(i, o, c.individual_offending),
    "ceased_injecting": lambda i, o, c: health.ceased_injecting(i, o),
    "improved_housing": lambda i, o, c: health.improved_housing(i, o),
    "hepatitis_b_course": lambda i, o, c: health.hepatitis_b_course(i, o),
    "quality_of_life": lambda i, o, c: health.quality_of_life(i, o),
    "top_threshold": lambda i, o, c: local.top_threshold(i, o),
    "top_improvement": lambda i, o, c: local.top_improvement(i, o),
    "event_recorded": lambda i, o, c: local.event_recorded(i, o),
    "discharge_in": lambda i, o, c: local.discharge_in(i, o),
    "no_event_in_window": lambda i, o, c: local.no_event_in_window(i, o),
    "all_of": lambda i, o, c: local.all_of(i, o, c.decided),
    "any_of": lambda i, o, c: local.any_of(i, o, c.decided),
}


@dataclass(frozen=True)
class Placed:
    """One outcome's place in the episode table and how the ledger shows its evidence (`top`, `discharge`,
    `window` or `ref`; a `top` outcome's TOP pass and whether its evidence opens with the start TOP)."""

    position: int
    outcome_id: str
    outcome_type: str
    evidence: str
    top_pass: int | None = None
    uses_start: bool = False

    @property
    def prefix(self) -> str:
        return f"o{self.position}_"


@dataclass(frozen=True)
class Evaluation:
    """The episode table (`table`, unstored) and what is where in it."""

    table: ir.Table
    placed: list[Placed]
    columns: list[str]

    @property
    def stored(self) -> ir.Table:
        """Only the columns the ledger needs."""
        return self.table.select(*self.columns)


def evaluation_order(contract: Contract) -> list[str]:
    """Client-level outcome ids with every gate after the outcomes it combines (cohort outcomes left out)."""
    done: list[str] = []

    def visit(oid: str, path: tuple[str, ...]) -> None:
        outcome = contract.outcomes[oid]
        if oid in done or oid in path or isinstance(outcome, OffendingCohortReduction):
            return
        if isinstance(outcome, AllOf | AnyOf):
            for component in outcome.outcomes:
                if component in contract.outcomes:
                    visit(component, (*path, oid))
        done.append(oid)

    for oid in contract.outcomes:
        visit(oid, ())
    return done


def needed(contract: Contract, only: list[str] | None) -> list[str]:
    """The outcomes to evaluate, in order: `only` (all when None) and the outcomes its gates combine."""
    order = evaluation_order(contract)
    if only is None:
        return order
    wanted, queue = set(only), list(only)
    while queue:
        for component in getattr(contract.outcomes[queue.pop()], "outcomes", []):
            if component not in wanted:
                wanted.add(component)
                queue.append(component)
    return [oid for oid in order if oid in wanted]


def evaluate_outcomes(
    inputs: Inputs, contract: Contract, individual_offending: bool, only: list[str] | None = None
) -> Evaluation:
    """Every client-level outcome of the contract (or `only` these and their gates' components), decided per
    episode in one table."""
    context = Context(contract, individual_offending)
    table = _episodes(inputs, contract)
    columns = list(EPISODE_COLUMNS)
    placed: list[Placed] = []
    passes: dict[tuple[tuple[str, ...], str], list[tuple[Placed, TopTest]]] = {}
    decisions: list[tuple[Placed, Decision]] = []
    for position, oid in enumerate(needed(contract, only)):
        outcome = contract.outcomes[oid]
        context.decided[oid] = Decided(f"o{position}_")
        rule = RULES[outcome.type](inputs, outcome, context)
        if isinstance(rule, TopTest):
            key = (rule.stages, rule.start_stage)
            passes.setdefault(key, [])
            spot = Placed(position, oid, outcome.type, "top", list(passes).index(key), rule.eligible_when is not None)
            passes[key].append((spot, rule))
        else:
            spot = Placed(position, oid, outcome.type, rule.evidence)
            decisions.append((spot, rule))
        placed.append(spot)
    for g, ((stages, start_stage), tests) in enumerate(passes.items()):
        table = _join_top_pass(table, inputs, g, stages, start_stage, tests)
        # One string per episode, `START;T1;T2` (START empty when unused): strings are most of the cost of storing.
        start = table[f"t{g}_start"].fill_null("") if f"t{g}_start" in table.columns else ibis.literal("")
        table = table.mutate(**{f"t{g}_tops": start + ";" + table[f"t{g}_checked"].fill_null("")})
        columns.append(f"t{g}_tops")
    for spot, decision in decisions:
        if decision.found is not None:
            found = decision.found.select(
                **{f"{spot.prefix}key": "episode_id", f"{spot.prefix}found": "on", f"{spot.prefix}fref": "ref"}
            )
            table = table.left_join(found, table.episode_id == found[f"{spot.prefix}key"])
    gates = {s.position for s, d in decisions if d.combines}
    # One projection for every outcome but the gates (fewer layers compile and plan faster), then each gate.
    for batch in [[s for s in placed if s.position not in gates], *[[s] for s in placed if s.position in gates]]:
        made: dict[str, ir.Value] = {}
        for spot in batch:
            values = _top_columns(table, spot) if spot.evidence == "top" else _decided(table, spot, decisions)
            made |= {f"{spot.prefix}{name}": value for name, value in values.items()}
        table = table.mutate(**made)
    columns += [c for spot in placed for c in table.columns if c.startswith(spot.prefix) and _stored(c, spot)]
    return Evaluation(table, placed, columns)


def _stored(column: str, spot: Placed) -> bool:
    return column.removeprefix(spot.prefix) in ("status", "on", "matures", "hit", "ref")


def _decided(table: ir.Table, spot: Placed, decisions: list[tuple[Placed, Decision]]) -> dict[str, ir.Value]:
    decision = next(d for s, d in decisions if s == spot)
    if decision.found is not None:
        on, ref = table[f"{spot.prefix}found"], table[f"{spot.prefix}fref"]
    else:
        on, ref = ibis.null("date"), ibis.null("string")
    made = decision.decide(table, on, ref)
    return {"status": made["status"].cast("int8"), "on": made["on"].cast("date")} | {
        name: made[name] for name in ("matures", "ref") if name in made
    }


def _top_columns(table: ir.Table, spot: Placed) -> dict[str, ir.Value]:
    eligible = table[f"{spot.prefix}eligible"].fill_null(False) if spot.uses_start else ibis.literal(True)
    hit = table[f"{spot.prefix}hit"]
    status = ibis.cases((~eligible, code(NOT_ELIGIBLE)), (hit.notnull(), code(ACHIEVED)), else_=code(NOT_ACHIEVED))
    return {
        "status": status,
        "on": achieved_on(status, table[f"{spot.prefix}found"]),
        "hit": ibis.ifelse(status == code(ACHIEVED), hit, ibis.null("int32")).cast("int32"),
    }


def _join_top_pass(
    table: ir.Table,
    inputs: Inputs,
    g: int,
    stages: tuple[str, ...],
    start_stage: str,
    tests: list[tuple[Placed, TopTest]],
) -> ir.Table:
    """One pass over the TOPs at `stages` for every test with these stages: joins `t{g}_start` and each test's
    eligibility (from the start TOP), `t{g}_checked` and each test's first hit (`hit`, `found`)."""
    f = follow_up_tops(inputs, stages)
    uses_start = any(spot.uses_start for spot, _ in tests)
    if uses_start:
        # Episodes with a start TOP but no TOP at `stages` keep one row (its TOP empty), so the one aggregate below
        # gives every episode's start TOP and eligibility: no second pass over the start TOPs.
        s = start_top(inputs, start_stage)
        eligible = {
            f"{spot.prefix}eligible": test.eligible_when(s).fill_null(False)
            for spot, test in tests
            if test.eligible_when is not None
        }
        s = s.mutate(**eligible)
        f = f.outer_join(s, f.episode_id == s.s_episode_id)
        f = f.mutate(episode_id=f.episode_id.fill_null(f.s_episode_id))
    for _, test in tests:
        if test.constants is not None and not set(test.constants.columns) <= set(f.columns):
            f = f.cross_join(test.constants)
    # Each TOP's tests first, so that the window sorts only ids, dates and flags.
    kept = {f"{spot.prefix}met": _hit(f, test) for spot, test in tests}
    if uses_start:
        kept |= {f"t{g}_start": f.s_top_id} | {name: f[name] for name in eligible}
    f = f.select("episode_id", "top_date", "top_id", **kept)
    order = ibis.window(group_by=f.episode_id, order_by=[f.top_date, f.top_id])
    onwards = ibis.window(group_by=f.episode_id, order_by=[f.top_date, f.top_id], rows=(0, None))
    # The ids from each TOP onwards as a list joined once (not `group_concat` over the window, which Ibis compiles
    # for Spark as a window over the join instead of over the aggregate).
    f = f.mutate(_seq=ibis.row_number().over(order), _rest=f.top_id.collect().over(onwards).join(";"))
    checked = f._rest.max(where=f._seq == 0)
    firsts: dict[str, ir.Value] = {}
    for spot, _ in tests:
        firsts[f"{spot.prefix}hit"] = f._seq.min(where=f[f"{spot.prefix}met"])
        firsts[f"{spot.prefix}found"] = f.top_date.min(where=f[f"{spot.prefix}met"])
    if uses_start:
        firsts[f"t{g}_start"] = f[f"t{g}_start"].max()
        firsts |= {name: f[name].any() for name in eligible}
    agg = f.group_by(**{f"t{g}_key": f.episode_id}).aggregate(**{f"t{g}_checked": checked}, **firsts)
    return table.left_join(agg, table.episode_id == agg[f"t{g}_key"])


def _hit(f: ir.Table, test: TopTest) -> ir.BooleanValue:
    hit = f.top_id.notnull() & test.achieved_when(f).fill_null(False)
    if test.eligible_when is not None:
        later = f.s_top_id.notnull() & (f.top_date >= f.s_top_date) & (f.top_id != f.s_top_id)
        hit = hit & later.fill_null(False)
    return hit


def _episodes(inputs: Inputs, contract: Contract) -> ir.Table:
    """The episodes with their complexity group and attributed provider."""
    e = inputs.episodes
    complexity = contract.complexity
    if complexity is None or not (complexity.points or complexity.rules):
        e = e.mutate(complexity_group=ibis.literal(ALL_GROUPS))
    else:
        groups = episode_groups(inputs, contract)
        e = e.left_join(groups, e.episode_id == groups.g_episode).drop("g_episode")
    attribution = contract.attribution
    if attribution.model == "assigned" and attribution.assignments:
        providers = attributed_provider(inputs, contract).rename(p_provider="provider_id")
        e = e.left_join(providers, e.episode_id == providers.p_episode)
        e = e.mutate(provider_id=e.p_provider).drop("p_episode", "p_provider")
    return e


def episode_groups(inputs: Inputs, contract: Contract) -> ir.Table:
    """`g_episode`, `complexity_group` by the contract's grouping (`all` when the contract has none)."""
    if inputs.groups is not None:
        return inputs.groups
    complexity = contract.complexity
    e = inputs.episodes
    if complexity is None or not (complexity.points or complexity.rules):
        return e.select(g_episode=e.episode_id, complexity_group=ibis.literal(ALL_GROUPS))
    groups = complexity_groups(e, inputs.assessments, complexity)
    return groups.select(g_episode=groups.episode_id, complexity_group=groups.complexity_group)


def attributed_provider(inputs: Inputs, contract: Contract) -> ir.Table:
    """`p_episode`, `provider_id`: the provider paid for the episode's outcomes.

    The provider of the episode in which the outcome was achieved; under `attribution.model: assigned`, the
    first assignment whose service lines (and ages, when given) match the episode, else the episode's provider."""
    if inputs.payees is not None:
        return inputs.payees
    e = inputs.episodes
    provider: ir.StringValue = e.provider_id
    attribution = contract.attribution
    if attribution.model == "assigned" and attribution.assignments:
        c = inputs.clients.select(c_client="client_id", c_dob="date_of_birth", c_year="birth_year")
        e = e.left_join(c, e.client_id == c.c_client)
        age = _age(e.start_date, e.c_dob, e.c_year)
        branches = []
        for assignment in attribution.assignments.values():
            test = ibis.literal(True)
            if assignment.service_lines:
                test = test & e.service_line.isin(assignment.service_lines).fill_null(False)
            if assignment.min_age is not None:
                test = test & (age >= assignment.min_age).fill_null(False)
            if assignment.max_age is not None:
                test = test & (age <= assignment.max_age).fill_null(False)
            branches.append((test, assignment.provider))
        provider = ibis.cases(*branches, else_=e.provider_id)
    return e.select(p_episode=e.episode_id, provider_id=provider)


def _age(on: ir.DateValue, dob: ir.DateValue, birth_year: ir.IntegerValue) -> ir.IntegerValue:
    stamp = on.year() * 10000 + on.month() * 100 + on.day()
    born = dob.year() * 10000 + dob.month() * 100 + dob.day()
    return ((stamp - born) // 10000).fill_null(on.year() - birth_year)


def placed_rows(placed: list[Placed]) -> list[dict[str, Any]]:
    """The `Placed` entries as rows (stored beside the table so that it can be shown without the contract)."""
    return [dataclasses.asdict(p) for p in placed]


def from_rows(rows: list[Mapping[str, Any]]) -> list[Placed]:
    """`Placed` entries from stored rows."""
    return [
        Placed(
            int(r["position"]),
            r["outcome_id"],
            r["outcome_type"],
            r["evidence"],
            None if r["top_pass"] is None else int(r["top_pass"]),
            bool(r["uses_start"]),
        )
        for r in rows
    ]
