"""The outcome ledger: for a contract as of a date, one row per client, episode and outcome.

Each row says the status (achieved, pending_maturation, not_achieved, not_eligible), the date achieved, the date it
matures, the complexity group and provider it is attributed to, the contract (area and version) and the evidence:
the ids of the rows that decided it. The whole ledger is one Ibis expression run by the warehouse engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.assessment.grouping import complexity_groups
from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import AllOf, AnyOf, OffendingCohortReduction, SuccessfulCompletion
from recoverypbr.contract.types import ALL_GROUPS
from recoverypbr.data import codes
from recoverypbr.outcomes import frame, health, local, offending, recovery
from recoverypbr.outcomes.frame import RULE_COLUMNS, STATUSES
from recoverypbr.outcomes.inputs import Inputs, warehouse_inputs
from recoverypbr.warehouse.connection import Warehouse

TABLE = "outcome_ledger"
LEDGER_COLUMNS = (
    "contract_area",
    "contract_version",
    "as_of",
    "outcome_id",
    "outcome_type",
    "client_id",
    "episode_id",
    "provider_id",
    "complexity_group",
    "status",
    "achieved_on",
    "matures_on",
    "evidence",
)
ORDER = ("outcome_id", "client_id", "episode_id")


@dataclass(frozen=True)
class Context:
    """What some rules need besides the inputs and their own parameters."""

    contract: Contract
    individual_offending: bool
    results: dict[str, ir.Table] = field(default_factory=dict)

    @property
    def completion_reasons(self) -> list[str]:
        """The contract's successful-completion codes (the national ones when it has no such outcome)."""
        for outcome in self.contract.outcomes.values():
            if isinstance(outcome, SuccessfulCompletion):
                return list(outcome.discharge_reasons)
        return list(codes.COMPLETION_REASONS)


Rule = Callable[[Inputs, Any, Context], ir.Table]

#: Outcome `type` -> the rule that evaluates it per episode.
RULES: dict[str, Rule] = {
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
    "all_of": lambda i, o, c: local.all_of(i, o, c.results),
    "any_of": lambda i, o, c: local.any_of(i, o, c.results),
}


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


def outcome_results(
    inputs: Inputs, contract: Contract, individual_offending: bool, only: list[str] | None = None
) -> dict[str, ir.Table]:
    """Outcome id -> its rule's result (`RULE_COLUMNS`), for the contract's client-level outcomes."""
    context = Context(contract, individual_offending)
    for oid in evaluation_order(contract):
        outcome = contract.outcomes[oid]
        context.results[oid] = RULES[outcome.type](inputs, outcome, context).select(*RULE_COLUMNS)
    return {oid: r for oid, r in context.results.items() if only is None or oid in only}


def episode_groups(inputs: Inputs, contract: Contract) -> ir.Table:
    """`episode_id`, `complexity_group` by the contract's grouping (`all` when the contract has none)."""
    complexity = contract.complexity
    e = inputs.episodes
    if complexity is None or not (complexity.points or complexity.rules):
        return e.select(g_episode=e.episode_id, complexity_group=ibis.literal(ALL_GROUPS))
    groups = complexity_groups(e, inputs.assessments, complexity)
    return groups.select(g_episode=groups.episode_id, complexity_group=groups.complexity_group)


def attributed_provider(inputs: Inputs, contract: Contract) -> ir.Table:
    """`episode_id`, `provider_id` paid for the episode's outcomes.

    The provider of the episode in which the outcome was achieved; under `attribution.model: assigned`, the
    first assignment whose service lines (and ages, when given) match the episode, else the episode's provider."""
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


def ledger(
    inputs: Inputs,
    contract: Contract,
    individual_offending: bool = True,
    only: list[str] | None = None,
    ordered: bool = True,
) -> ir.Table:
    """The outcome ledger as one expression, in `LEDGER_COLUMNS`, ordered by outcome, client and episode (unless
    `ordered` is false); `only` keeps these outcome ids."""
    return ledger_of(inputs, contract, outcome_results(inputs, contract, individual_offending, only), ordered)


def ledger_of(
    inputs: Inputs,
    contract: Contract,
    results: Mapping[str, ir.Table],
    ordered: bool = True,
    attributes: tuple[ir.Table, ir.Table] | None = None,
) -> ir.Table:
    """Ledger rows of the given rule results, with contract, group and provider (`attributes`: precomputed
    `episode_groups` and `attributed_provider`)."""
    if not results:
        return _empty()
    parts = [
        r.mutate(outcome_id=ibis.literal(oid), outcome_type=ibis.literal(contract.outcomes[oid].type))
        for oid, r in results.items()
    ]
    rows = ibis.union(*parts, distinct=False)
    groups, providers = attributes or (episode_groups(inputs, contract), attributed_provider(inputs, contract))
    rows = rows.left_join(groups, rows.episode_id == groups.g_episode)
    rows = rows.left_join(providers, rows.episode_id == providers.p_episode)
    out = rows.select(
        contract_area=ibis.literal(contract.area),
        contract_version=ibis.literal(contract.effective_from),
        as_of=ibis.literal(inputs.as_of),
        **{c: rows[c] for c in LEDGER_COLUMNS[3:]},
    )
    return out.order_by(*ORDER) if ordered else out


def _empty() -> ir.Table:
    schema = {c: "string" for c in LEDGER_COLUMNS} | {
        "contract_version": "date",
        "as_of": "date",
        "achieved_on": "date",
        "matures_on": "date",
    }
    return ibis.memtable({c: [] for c in LEDGER_COLUMNS}, schema=schema)


def top_stage_sets(contract: Contract) -> list[tuple[str, ...]]:
    """The TOP stage lists the contract's TOP outcomes check, each once."""
    found: list[tuple[str, ...]] = []
    for outcome in contract.outcomes.values():
        stages = getattr(outcome, "stages", None) or getattr(outcome, "to_stages", None)
        if stages and tuple(stages) not in found and outcome.type != "top_improvement":
            found.append(tuple(stages))
    return found


def has_individual_offending(wh: Warehouse, inputs: Inputs) -> bool:
    """Whether individual offending data is known on the as-of date (one count, not per client)."""
    return bool(wh.ibis.execute(inputs.offending_individual.count()) > 0)


def evaluate(wh: Warehouse, contract: Contract, as_of: date, only: list[str] | None = None) -> ir.Table:
    """The ledger expression over a warehouse, as of a date."""
    inputs = warehouse_inputs(wh, as_of)
    return ledger(inputs, contract, has_individual_offending(wh, inputs), only)


@dataclass
class LedgerSummary:
    """What `build_ledger` stored: rows, and counts by outcome, complexity group and status."""

    area: str
    version: date
    as_of: date
    rows: int
    counts: list[dict[str, Any]]


Progress = Callable[[str, int, int], None]


def build_ledger(wh: Warehouse, contract: Contract, as_of: date, progress: Progress | None = None) -> LedgerSummary:
    """Evaluate the contract as of a date and replace that (area, version, as_of) in `outcome_ledger`, in one
    transaction. One statement per outcome keeps the engine's peak memory to one outcome's rows; `progress` is
    called with (outcome id, outcomes done, outcomes in all)."""
    inputs = warehouse_inputs(wh, as_of)
    individual = has_individual_offending(wh, inputs)
    inputs = dataclasses.replace(
        inputs,
        checked={
            stages: wh.materialize(f"_outcome_checked_{i}", frame.checked_tops(inputs, list(stages)))
            for i, stages in enumerate(top_stage_sets(contract))
        },
    )
    results = outcome_results(inputs, contract, individual)
    # Group and provider per episode once, not once per outcome.
    attributes = (
        wh.materialize("_outcome_groups", episode_groups(inputs, contract)),
        wh.materialize("_outcome_providers", attributed_provider(inputs, contract)),
    )
    with wh.transaction():
        wh.execute(
            f"DELETE FROM {TABLE} WHERE contract_area = ? AND contract_version = ? AND as_of = ?",
            [contract.area, contract.effective_from, as_of],
        )
        for done, (oid, result) in enumerate(results.items()):
            if progress:
                progress(oid, done, len(results))
            wh.insert(TABLE, ledger_of(inputs, contract, {oid: result}, ordered=False, attributes=attributes))
    if progress:
        progress("", len(results), len(results))
    return summarise(wh, contract, as_of)


def stored_ledger(wh: Warehouse, contract: Contract, as_of: date) -> ir.Table:
    """The stored ledger rows of this contract version as of the date, in ledger order."""
    t = wh.table(TABLE)
    keep = (t.contract_area == contract.area) & (t.contract_version == contract.effective_from) & (t.as_of == as_of)
    return t.filter(keep).order_by(*ORDER)


def counts(rows: ir.Table) -> ir.Table:
    """Episodes by outcome, complexity group and status, with the achievement rate among eligible episodes."""
    g = rows.group_by("outcome_id", "complexity_group").aggregate(
        **{status: (rows.status == status).cast("int64").sum() for status in STATUSES}
    )
    eligible = g.achieved + g.pending_maturation + g.not_achieved
    rate = ibis.ifelse(eligible > 0, g.achieved.cast("float64") / eligible.cast("float64"), ibis.null("float64"))
    return g.mutate(rate=rate).order_by("outcome_id", "complexity_group")


def summarise(wh: Warehouse, contract: Contract, as_of: date) -> LedgerSummary:
    rows = stored_ledger(wh, contract, as_of)
    table = wh.to_arrow(counts(rows)).to_pylist()
    return LedgerSummary(contract.area, contract.effective_from, as_of, sum(_total(r) for r in table), table)


def _total(row: Mapping[str, Any]) -> int:
    return int(sum(row[s] for s in STATUSES))


def cohort_measures(wh: Warehouse, contract: Contract, as_of: date) -> dict[str, list[dict[str, Any]]]:
    """Outcome id -> the cohort offending measure's rows, for each cohort outcome of the contract."""
    inputs = warehouse_inputs(wh, as_of)
    years = [(y.start, y.end) for y in contract.years]
    return {
        oid: wh.to_arrow(offending.offending_cohort_reduction(inputs, outcome, years)).to_pylist()
        for oid, outcome in contract.outcomes.items()
        if isinstance(outcome, OffendingCohortReduction)
    }
