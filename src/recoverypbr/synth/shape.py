"""A synthetic area shaped for a contract (`recoverypbr synth --contract F`).

The calibrated area (`generate_area`) is made first, with its own providers and service lines; each table is then
re-dressed for the contract, row by row in vectorised steps, so every published figure the area reproduces still
holds:

- providers: the contract's (ids, names, roles, service lines; a provider holding its own contract is a `prime` in
  the extract, whose roles are prime, subcontractor and lasars), plus one provider it does not name;
- episodes: each gets a service line the contract names (a funnel's share follows its predicted numbers; with an
  incentive, first episodes start in the incentive's `from` service and later ones in its `to` service) and a
  provider that delivers it and is paid under the attribution model (prime and subcontractors under a prime;
  every paid provider otherwise). `OUTSIDE_SHARE` of episodes go to the provider the contract does not name, as
  real extracts hold activity outside a contract;
- assessments: the assessing organisation is the contract's LASARS (or the provider assessing);
- events: each local event type of the contract is recorded in `LOCAL_EVENT_SHARE` of episodes;
- offending cohorts: one cohort per id the contract's offending outcomes name, whose offences per person fall
  after go-live by the outcome's target and `OFFENDING_MARGIN` more, so the target is met;
- feedback: about the contract's treatment providers.

A contract whose providers are the synthetic area's own (`contracts/marlshire.yaml`) needs no shaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.contract.model import Contract
from recoverypbr.contract.outcomes import OffendingCohortReduction
from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t
from recoverypbr.synth.sampling import day_number

#: Share of episodes delivered by a provider the contract does not name (listed, not paid).
OUTSIDE_SHARE = 0.02
OUTSIDE_PROVIDER = ("X01", "Out-of-area treatment service", "prime")
#: The extract's provider roles (prime, subcontractor, lasars): a provider holding its own contract is a prime.
_DATA_ROLE = {"provider": "prime"}
#: Share of episodes with each local event type recorded once.
LOCAL_EVENT_SHARE = 0.3
#: How much further than its target a cohort's offending falls after go-live.
OFFENDING_MARGIN = 0.08
#: Episodes starting in a contract year per client of the area (measured: 590 in 2012-13 for 3,000 clients).
STARTS_PER_CLIENT_YEAR = 0.197
#: Clients of an area whose contract predicts no volumes.
DEFAULT_CLIENTS = 3000
_TREATMENT_IDS = tuple(x.provider_id for x in (p.PRIME, p.SUBCONTRACTOR))


@dataclass(frozen=True)
class AreaShape:
    """How the calibrated area is re-dressed for one contract (see the module's docstring)."""

    providers: tuple[tuple[str, str, str, str], ...]
    service_lines: tuple[str, ...]
    line_weights: tuple[float, ...]
    candidates: tuple[tuple[int, ...], ...]
    """For each service line, the indexes (into `paid`) of the providers that deliver it."""
    paid: tuple[str, ...]
    assessor: str
    assessors: tuple[str, ...] = ()
    local_events: tuple[str, ...] = ()
    cohorts: tuple[tuple[str, float], ...] = ()
    """(cohort id, the fall in offences per person after go-live)."""
    moves: tuple[int, int] | None = None
    """With an incentive: (index of the `from` service line, index of the `to` one)."""
    keep_lines: bool = False
    """True when the contract names no service line: episodes keep the area's own."""
    extra: dict[str, int] = field(default_factory=dict)

    def apply(self, name: str, table: pa.Table, rng: np.random.Generator) -> pa.Table:
        """The table re-dressed for the contract (tables without contract-specific content as they are)."""
        if name == "providers":
            return self._providers()
        if name == "episodes":
            return self._episodes(table, rng)
        if name == "assessments":
            return self._assessments(table, rng)
        if name == "events":
            return table
        if name == "offending_cohort":
            return self._offending(table, rng)
        if name == "feedback":
            return self._feedback(table)
        return table

    def _providers(self) -> pa.Table:
        rows = [*self.providers, (*OUTSIDE_PROVIDER, "")]
        return t.build("providers", {
            "provider_id": pa.array([r[0] for r in rows]),
            "name": pa.array([r[1] for r in rows]),
            "role": pa.array([r[2] for r in rows]),
            "service_lines": pa.array([r[3] for r in rows]),
        }, len(rows))

    def _episodes(self, table: pa.Table, rng: np.random.Generator) -> pa.Table:
        n = table.num_rows
        if n == 0:
            return table
        clients = table["client_id"].to_numpy(zero_copy_only=False)
        later = np.zeros(n, bool)
        later[1:] = clients[1:] == clients[:-1]
        if self.keep_lines:
            line_names = table["service_line"].to_numpy(zero_copy_only=False)
            line = np.zeros(n, np.int64)
            provider = rng.integers(0, len(self.paid), n)
        else:
            weights = np.asarray(self.line_weights, float)
            line = rng.choice(len(self.service_lines), size=n, p=weights / weights.sum())
            if self.moves is not None:
                start, end = self.moves
                line = np.where(later, end, np.where(rng.random(n) < 0.5, start, line))
            line_names = np.asarray(self.service_lines, dtype=object)[line]
            provider = np.empty(n, np.int64)
            pick = rng.random(n)
            for i, candidates in enumerate(self.candidates):
                mine = line == i
                provider[mine] = np.asarray(candidates)[(pick[mine] * len(candidates)).astype(np.int64)]
        ids = np.asarray(self.paid, dtype=object)[provider]
        ids = np.where(rng.random(n) < OUTSIDE_SHARE, OUTSIDE_PROVIDER[0], ids)
        table = table.set_column(table.schema.get_field_index("provider_id"), "provider_id",
                                 pa.array(ids.tolist(), pa.string()))
        return table.set_column(table.schema.get_field_index("service_line"), "service_line",
                                pa.array(line_names.tolist(), pa.string()))

    def _assessments(self, table: pa.Table, rng: np.random.Generator) -> pa.Table:
        n = table.num_rows
        if self.assessors:
            names = np.asarray(self.assessors, dtype=object)[rng.integers(0, len(self.assessors), n)].tolist()
        else:
            names = [self.assessor] * n
        return table.set_column(table.schema.get_field_index("assessor_org"), "assessor_org",
                                pa.array(names, pa.string()))

    def local_event_rows(self, episodes: pa.Table, rng: np.random.Generator) -> pa.Table:
        """One row per episode given each local event type (`LOCAL_EVENT_SHARE` of them), inside the episode."""
        n = episodes.num_rows
        if not self.local_events or n == 0:
            return t.build("events", {}, 0)
        start = pc.cast(episodes["start_date"], pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        end_col = pc.cast(episodes["discharge_date"], pa.int32()).to_numpy(zero_copy_only=False)
        extract = day_number(p.EXTRACT_DATE)
        end = np.where(np.isnan(end_col.astype(float)), extract, end_col).astype(np.int64)
        parts: list[pa.Table] = []
        for event_type in self.local_events:
            chosen = np.flatnonzero(rng.random(n) < LOCAL_EVENT_SHARE)
            days = start[chosen] + (rng.random(len(chosen)) * (end[chosen] - start[chosen] + 1)).astype(np.int64)
            parts.append(t.build("events", {
                "client_id": episodes["client_id"].take(pa.array(chosen)),
                "episode_id": episodes["episode_id"].take(pa.array(chosen)),
                "event_date": t.dates(np.minimum(days, end[chosen])),
                "event_type": pa.array([event_type] * len(chosen), pa.string()),
            }, len(chosen)))
        return pa.concat_tables(parts)

    def _offending(self, table: pa.Table, rng: np.random.Generator) -> pa.Table:
        if not self.cohorts:
            return table
        first = table.filter(pc.equal(table["cohort_id"], p.COHORTS[0].cohort_id))
        people = first["people"].to_numpy().astype(np.int64)
        start = first["period_start"]
        starts = pc.cast(start, pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        baseline = starts < day_number(p.GO_LIVE)
        parts = []
        for cohort_id, fall in self.cohorts:
            rate = p.COHORTS[0].offences_per_person * np.where(baseline, 1.0, 1.0 - fall)
            offences = rng.poisson(people * rate * rng.uniform(0.99, 1.01, len(people)))
            parts.append(t.build("offending_cohort", {
                "cohort_id": pa.array([cohort_id] * len(people), pa.string()),
                "period_start": start,
                "period_end": first["period_end"],
                "people": t.ints(people),
                "offences": t.ints(offences),
                "is_baseline": first["is_baseline"],
            }, len(people)))
        return pa.concat_tables(parts)

    def _feedback(self, table: pa.Table) -> pa.Table:
        mapping = {old: self.paid[i % len(self.paid)] for i, old in enumerate(_TREATMENT_IDS)}
        ids = [mapping.get(x, x) for x in table["provider_id"].to_pylist()]
        return table.set_column(table.schema.get_field_index("provider_id"), "provider_id", pa.array(ids, pa.string()))


def native(contract: Contract) -> bool:
    """True when the contract's providers are the synthetic area's own, with the same service lines."""
    for x in p.PROVIDERS:
        named = contract.providers.get(x.provider_id)
        if named is None or named.role != x.role or (named.service_lines and
                                                     tuple(named.service_lines) != x.service_lines):
            return False
    return True


def shape_for(contract: Contract) -> AreaShape | None:
    """The shape of an area for the contract; None when the synthetic area is already its own."""
    if native(contract):
        return None
    model = contract.attribution.model
    paid_roles = ("prime", "subcontractor") if model == "prime" else ("prime", "provider")
    paid = tuple(pid for pid, x in contract.providers.items() if x.role in paid_roles)
    if not paid:
        paid = tuple(pid for pid, x in contract.providers.items() if x.role != "lasars")
    lines = _service_lines(contract)
    weights = _line_weights(contract, lines)
    candidates = []
    for line in lines:
        delivers = [i for i, pid in enumerate(paid) if line in contract.providers[pid].service_lines]
        anything = [i for i, pid in enumerate(paid) if not contract.providers[pid].service_lines]
        candidates.append(tuple(delivers or anything or range(len(paid))))
    moves = None
    for incentive in contract.incentives.values():
        a, b = incentive.from_service.service_line, incentive.to_service.service_line
        if a in lines and b in lines:
            moves = (lines.index(a), lines.index(b))
            break
    lasars = [pid for pid, x in contract.providers.items() if x.role == "lasars"]
    assessor = lasars[0] if lasars else (contract.lasars.organisation or "LASARS")
    assessors = tuple(contract.lasars.assessors) if contract.lasars.location == "provider" else ()
    rows = tuple((pid, x.name, _DATA_ROLE.get(x.role, x.role), ";".join(x.service_lines))
                 for pid, x in contract.providers.items())
    return AreaShape(
        providers=rows,
        service_lines=tuple(lines) or ("",),
        line_weights=tuple(weights) or (1.0,),
        candidates=tuple(candidates) or (tuple(range(len(paid))),),
        paid=paid,
        assessor=assessor,
        assessors=assessors,
        local_events=tuple(contract.local_event_types),
        cohorts=tuple(_cohorts(contract)),
        moves=moves,
        keep_lines=not lines,
    )


def _service_lines(contract: Contract) -> list[str]:
    found: list[str] = []
    for funnel in contract.funnels.values():
        found += [funnel.service_line] if funnel.service_line else []
    for x in contract.providers.values():
        found += x.service_lines
    for a in contract.attribution.assignments.values():
        found += a.service_lines
    for incentive in contract.incentives.values():
        found += [incentive.from_service.service_line, incentive.to_service.service_line]
    if found and any(not x.service_lines for x in contract.providers.values() if x.role != "lasars"):
        found.append("adult drugs and alcohol")
    return list(dict.fromkeys(found))


def _line_weights(contract: Contract, lines: list[str]) -> list[float]:
    """A funnel's service line weighs its predicted first milestone; the other lines the funnels' mean (or 1)."""
    predicted = {f.service_line: float(next(iter(f.milestones.values())).predicted)
                 for f in contract.funnels.values() if f.service_line and f.milestones}
    other = float(np.mean(list(predicted.values()))) if predicted else 1.0
    return [predicted.get(line, other) for line in lines]


def _cohorts(contract: Contract) -> list[tuple[str, float]]:
    found: dict[str, float] = {}
    for outcome in contract.outcomes.values():
        if isinstance(outcome, OffendingCohortReduction):
            fall = float(outcome.target_reduction + Decimal(str(OFFENDING_MARGIN)))
            found[outcome.cohort_id] = max(found.get(outcome.cohort_id, 0.0), min(fall, 0.9))
    return sorted(found.items())


def clients_for(contract: Contract) -> int:
    """Clients of an area whose volumes are near the contract's predictions: the funnels' first milestones a year
    (over the share of episodes reaching them), else `DEFAULT_CLIENTS`."""
    first = [next(iter(f.milestones.values())).predicted for f in contract.funnels.values() if f.milestones]
    if not first:
        return DEFAULT_CLIENTS
    starts = sum(first) / p.RECOVERY_PLAN_SHARE / (1 - OUTSIDE_SHARE)
    return max(100, round(starts / STARTS_PER_CLIENT_YEAR))
