"""Tariffs solved to the budget: the tariffs whose expected payment on the baseline equals the results money.

The method (docs/modelling.md, "Tariffs solved to the budget"):

1. **Counts, by the engine.** The baseline's history is moved onto the contract year the new tariffs take effect
   in (`shift.Shift`: the window's first day on that year's first day) and priced by the real engine
   (`payments.run.price_up_to`, as of the year's last day) with a *probe* contract: every tariff being solved is
   £1,000 from `effective_from`. A line at a probe tariff counts `amount / £1,000` achievements (uplifts make it
   more than one) in its cell: outcome x complexity group x stock/flow. Every other earned line (attachment fees,
   incentives, payment points, cohort amounts, outcomes achieved before `effective_from` at the old tariffs) is
   **fixed money**, priced by the engine and subtracted from the results money.
2. **Money per outcome.** Outcome money = results money - fixed money, shared among domains, then among the
   domain's outcomes (with an interim/final split when the design gives one).
3. **Tariffs.** t(o, g) = a(o) x m(o, g): m is the group shape (a ratio from the lowest group to the highest,
   equal expected earnings per client, or the contract's current tariffs' shape), a(o) the level that spends the
   outcome's money on the counts: a(o) = M(o) / sum over g of U(o, g) x m(o, g). Rounded to whole pounds (or pence).
4. **Constraints.** The draft contract must pass every rule of `contract check` (the national 20% rule among
   them), the results money must fit the share on results, the domain weights and the overall caps, tariffs must
   be above zero, and a real pay of the year with the new tariffs must not be cut by caps. Otherwise
   `InfeasibleDesign` names every constraint that conflicts, with its figures.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from recoverypbr.contract.load import check_text
from recoverypbr.contract.model import Contract, ContractYear
from recoverypbr.contract.outcomes import OutcomeCommon
from recoverypbr.contract.types import DOMAIN_NAMES, WHOLE_CONTRACT, percent, tariff_on, value_on
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.modelling.baseline_file import Baseline
from recoverypbr.modelling.shift import Shift, shifted_warehouse
from recoverypbr.modelling.template import year_lines
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.warehouse.connection import Warehouse

#: The tariff the probe contract gives every tariff being solved: large, so that uplifted pence stay exact enough.
PROBE = Decimal(1000)
ZERO = Decimal(0)
ONE = Decimal(1)
#: Caps may cut this share of the results money (rounding) before the design counts as breaking them.
CAP_TOLERANCE = Decimal("0.01")
Cell = tuple[str, str]


class TariffsError(RecoveryPbrError):
    """Tariffs that cannot be solved from the inputs given (no tariffs to solve, a design that cannot be read)."""


class InfeasibleDesign(TariffsError):
    """The design's constraints cannot all hold; `conflicts` names each, with its figures."""

    def __init__(self, conflicts: Sequence[str], hint: str = "") -> None:
        self.conflicts = list(conflicts)
        super().__init__("the design cannot hold: " + "; ".join(self.conflicts),
                         hint=hint or "change the results money, the weights or the contract's caps, as named")


# --- The design ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """The commissioner's choices. Shares are relative (normalised where they apply); None means the default."""

    domains: Mapping[str, Decimal] | None = None
    """Domain -> share of the outcome money (default: the contract's `weights`, else the current expected money)."""
    outcomes: Mapping[str, Decimal] | None = None
    """Outcome -> share within its domain (default: the outcomes' `weight`s, else the current expected money)."""
    interim_share: Decimal | None = None
    """Share of each domain's money on its interim outcomes (the rest on final ones); None: no split imposed."""
    group_ratio: Decimal | None = None
    """The most complex group earns this many times the least per achievement, the groups between interpolated."""
    equal_earnings: bool = False
    """Expected payment per client equal in every complexity group (instead of a ratio)."""
    round_to: Literal["pound", "penny"] = "pound"


def share(value: Any, where: str) -> Decimal:
    """A share from `25%` or `0.25` (a bare number above 1 is refused: 25 could mean 25% or 2,500%)."""
    text = str(value).strip()
    try:
        number = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except ArithmeticError:
        raise TariffsError(f"{where}: {value!r} is not a share", hint="write a share like 25% or 0.25") from None
    if number < 0 or (not text.endswith("%") and number > 1):
        raise TariffsError(f"{where}: {value!r} is not a share from 0% to 100%", hint="write e.g. 25% or 0.25")
    return number


def design_from(doc: Mapping[str, Any] | None) -> Design:
    """A design from its YAML/JSON mapping (keys as `Design`'s fields); unknown keys are refused."""
    doc = dict(doc or {})
    known = {f.name for f in dataclasses.fields(Design)}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise TariffsError(f"the design has unknown key(s) {', '.join(unknown)}",
                           hint=f"use {', '.join(sorted(known))} (docs/modelling.md)")
    shares = {k: {str(n): share(v, f"{k}.{n}") for n, v in (doc.get(k) or {}).items()} or None
              for k in ("domains", "outcomes")}
    ratio = doc.get("group_ratio")
    if ratio is not None and (not isinstance(ratio, int | float | str) or Decimal(str(ratio)) <= 0):
        raise TariffsError(f"group_ratio {ratio!r} is not a positive number", hint="e.g. group_ratio: 2")
    if ratio is not None and doc.get("equal_earnings"):
        raise TariffsError("the design gives both group_ratio and equal_earnings",
                           hint="choose one way to set the groups' tariffs")
    if doc.get("round_to", "pound") not in ("pound", "penny"):
        raise TariffsError(f"round_to {doc['round_to']!r} is not pound or penny", hint="round_to: pound")
    interim = doc.get("interim_share")
    return Design(domains=shares["domains"], outcomes=shares["outcomes"],
                  interim_share=None if interim is None else share(interim, "interim_share"),
                  group_ratio=None if ratio is None else Decimal(str(ratio)),
                  equal_earnings=bool(doc.get("equal_earnings", False)), round_to=doc.get("round_to", "pound"))


def read_design(path: Path) -> Design:
    """The design in a YAML (or JSON) file."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise TariffsError(f"cannot read the design {path}: {e}", hint="a design is a small YAML file") from e
    if doc is not None and not isinstance(doc, Mapping):
        raise TariffsError(f"the design {path} is not a mapping", hint="e.g. `group_ratio: 2`")
    return design_from(doc)


# --- The solver (pure: counts and choices in, tariffs out) ---------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What the solver needs: per solved outcome its domain and stage, per cell the expected achievements."""

    groups: tuple[str, ...]
    domains: Mapping[str, str]
    """Outcome -> domain."""
    stages: Mapping[str, str]
    """Outcome -> `interim` or `final`."""
    units: Mapping[Cell, Decimal]
    """(outcome, group) -> expected achievements priced at its tariff (stock ones weighted by their tariff ratio)."""
    current: Mapping[Cell, Decimal]
    """(outcome, group) -> the current tariff (for default weights and the default group shape)."""
    clients: Mapping[str, Decimal] = field(default_factory=dict)
    """Group -> expected clients in the year (for equal earnings)."""
    contract_weights: Mapping[str, Decimal] = field(default_factory=dict)
    outcome_weights: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Solution:
    """The solved tariffs and how each figure came about."""

    money: Decimal
    domain_money: dict[str, Decimal]
    outcome_money: dict[str, Decimal]
    shape: dict[Cell, Decimal]
    exact: dict[Cell, Decimal]
    tariffs: dict[Cell, Decimal]
    spend: Decimal
    """Expected spend at the rounded tariffs: sum of units x tariff."""
    notes: list[str]

    @property
    def residual(self) -> Decimal:
        return self.money - self.spend


def _normalised(weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    total = sum(weights.values(), ZERO)
    return {k: (v / total if total else ZERO) for k, v in weights.items()}


def _given(chosen: Mapping[str, Decimal] | None, keys: Sequence[str], what: str) -> dict[str, Decimal] | None:
    """The design's shares for exactly these keys (all or none of them), or None when it gives none."""
    if not chosen:
        return None
    have = {k: chosen[k] for k in keys if k in chosen}
    if not have:
        return None
    missing = [k for k in keys if k not in chosen]
    if missing:
        raise TariffsError(f"the design gives {what} shares for {', '.join(have)} but not {', '.join(missing)}",
                           hint=f"give a share to every one of {', '.join(keys)}, or to none")
    return have


def outcome_money(p: Problem, design: Design, money: Decimal) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Money per domain and per outcome: domain shares x within-domain shares (with the interim/final split)."""
    expected = {o: sum((p.units[(o, g)] * p.current.get((o, g), ZERO) for g in p.groups), ZERO) for o in p.domains}
    if not any(expected.values()):
        expected = {o: sum((p.units[(o, g)] for g in p.groups), ZERO) for o in p.domains}
    domains = sorted(set(p.domains.values()))
    for what, chosen, known in (("domain", design.domains, domains), ("outcome", design.outcomes, list(p.domains))):
        extra = sorted(set(chosen or {}) - set(known))
        if extra:
            raise TariffsError(f"the design gives a share to {what}(s) {', '.join(extra)}, which have no tariffs to "
                               "solve", hint=f"name only {', '.join(known)}")
    by_domain = (_given(design.domains, domains, "domain")
                 or ({d: p.contract_weights.get(d, ZERO) for d in domains} if p.contract_weights else None)
                 or {d: sum((v for o, v in expected.items() if p.domains[o] == d), ZERO) for d in domains})
    domain_money = {d: money * s for d, s in _normalised(by_domain).items()}
    found: dict[str, Decimal] = {}
    for d in domains:
        members = [o for o in p.domains if p.domains[o] == d]
        given = _given(design.outcomes, members, f"{DOMAIN_NAMES.get(d, d)} outcome")
        if given is None and all(o in p.outcome_weights for o in members):
            given = {o: p.outcome_weights[o] for o in members}
        weights = given or {o: expected[o] for o in members}
        parts = [[o for o in members if p.stages[o] == s] for s in ("interim", "final")]
        if design.interim_share is not None and all(parts):
            split = zip(parts, (design.interim_share, ONE - design.interim_share), strict=True)
            for part, part_share in split:
                for o, s in _normalised({o: weights[o] for o in part}).items():
                    found[o] = domain_money[d] * part_share * s
        else:
            for o, s in _normalised(weights).items():
                found[o] = domain_money[d] * s
    return domain_money, found


def group_shape(p: Problem, design: Design, money: Mapping[str, Decimal]) -> tuple[dict[Cell, Decimal], list[str]]:
    """m(o, g): a ratio interpolated from the first group to the last; equal earnings per client (by iterative
    proportional fitting); or, by default, the current tariffs' shape (1 where an outcome's are not all above 0)."""
    notes: list[str] = []
    n = len(p.groups)
    if design.group_ratio is not None:
        steps = [ONE + (design.group_ratio - ONE) * i / (n - 1) if n > 1 else ONE for i in range(n)]
        return {(o, g): steps[i] for o in p.domains for i, g in enumerate(p.groups)}, notes
    if design.equal_earnings:
        return _equal_earnings(p, money), notes
    shape = {}
    for o in p.domains:
        now = [p.current.get((o, g), ZERO) for g in p.groups]
        if min(now) <= 0:
            notes.append(f"{o}: the current tariffs are not all above £0, so every group gets the same tariff")
        for g, t in zip(p.groups, now, strict=True):
            shape[(o, g)] = t if min(now) > 0 else ONE
    return shape, notes


def _equal_earnings(p: Problem, money: Mapping[str, Decimal]) -> dict[Cell, Decimal]:
    """Multipliers by group (the same for every outcome) such that money per outcome holds and each group's expected
    payment per client is equal: a biproportional fit of the counts to the outcome money (rows) and the money
    shared by clients (columns)."""
    outcomes = [o for o in p.domains if money[o] > 0 and any(p.units[(o, g)] for g in p.groups)]
    units = np.array([[float(p.units[(o, g)]) for g in p.groups] for o in outcomes])
    clients = np.array([float(p.clients.get(g, ZERO)) for g in p.groups])
    rows = np.array([float(money[o]) for o in outcomes])
    if clients.sum() <= 0 or (units.sum(axis=0)[clients > 0] <= 0).any():
        raise InfeasibleDesign([f"equal earnings per client: a group with clients ({', '.join(p.groups)}: "
                                f"{', '.join(f'{c:g}' for c in clients)}) has no achievements to pay in the year"])
    columns = rows.sum() * clients / clients.sum()
    a, m = np.ones(len(outcomes)), np.ones(len(p.groups))
    for _ in range(5000):
        a = rows / np.maximum((units * m).sum(axis=1), 1e-300)
        m = np.where(clients > 0, columns / np.maximum((units * a[:, None]).sum(axis=0), 1e-300), 1.0)
    gap = np.abs((units * a[:, None] * m).sum(axis=0) - columns).max() / max(columns.max(), 1e-300)
    if not np.isfinite(gap) or gap > 1e-6:
        raise InfeasibleDesign([f"equal earnings per client cannot hold with the outcome money as weighted (the "
                                f"nearest fit misses a group's money by {gap:.1%}): some groups achieve too few of "
                                "the outcomes that carry the money"])
    scale = Decimal(str(m.max()))
    return {(o, g): Decimal(str(m[i])) / scale for o in p.domains for i, g in enumerate(p.groups)}


def solve(p: Problem, design: Design, money: Decimal) -> Solution:
    """Tariffs t(o, g) = a(o) x m(o, g) with a(o) = M(o) / sum_g U(o, g) m(o, g), rounded half up to the unit of
    `design.round_to`; raises InfeasibleDesign when an outcome with money has nothing to pay or a tariff is not
    above zero."""
    domain_money, money_of = outcome_money(p, design, money)
    shape, notes = group_shape(p, design, money_of)
    exact: dict[Cell, Decimal] = {}
    conflicts = []
    for o in p.domains:
        base = sum((p.units[(o, g)] * shape[(o, g)] for g in p.groups), ZERO)
        if base == 0:
            if money_of[o] > 0:
                conflicts.append(f"{o} is given {money_of[o]:,.2f} pounds but no achievement of it is payable in "
                                 "the baseline year")
            else:
                notes.append(f"{o}: no achievement payable in the baseline year, so no money: its tariffs are kept")
            continue
        for g in p.groups:
            exact[(o, g)] = money_of[o] * shape[(o, g)] / base
    unit = ONE if design.round_to == "pound" else Decimal("0.01")
    tariffs = {c: t.quantize(unit, rounding=ROUND_HALF_UP) for c, t in exact.items()}
    low = [f"{o}/{g} {t:,.2f}" for (o, g), t in tariffs.items() if t <= 0]
    if low:
        conflicts.append(f"tariffs must be above £0, but {', '.join(low)} pounds")
    if conflicts:
        raise InfeasibleDesign(conflicts)
    spend = sum((p.units[c] * t for c, t in tariffs.items()), ZERO)
    return Solution(money, domain_money, money_of, shape, exact, tariffs, spend, notes)


# --- The draft contract ---------------------------------------------------------------------------------------


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in node.value if str(k.value) == key), None)


def _number(amount: Decimal) -> str:
    return f"{amount:f}"


def _table_text(old: Mapping[str, Mapping[date, Decimal]], new: Mapping[str, Decimal], effective_from: date,
                start: date) -> str:
    """A tariff table in flow style: the old versions before `effective_from` kept, the new value from it."""
    parts = []
    for group, amount in new.items():
        kept = {d: v for d, v in old.get(group, old.get("all", {})).items() if d < effective_from}
        if effective_from <= start or not kept:
            parts.append(f"{group}: {_number(amount)}")
            continue
        dated = {(start if d == WHOLE_CONTRACT else d): v for d, v in kept.items()} | {effective_from: amount}
        parts.append(f"{group}: {{{', '.join(f'{d.isoformat()}: {_number(v)}' for d, v in sorted(dated.items()))}}}")
    return "{" + ", ".join(parts) + "}"


def draft_text(text: str, contract: Contract, tariffs: Mapping[str, Mapping[str, Decimal]],
               ratios: Mapping[tuple[str, str], Decimal], effective_from: date, header: str = "") -> str:
    """The contract's text with `effective_from` replaced and each solved outcome's `tariffs` (and `stock_tariffs`,
    at the current stock/flow ratio) replaced in flow style; everything else, comments included, is kept (a
    comment inside a replaced tariff table is dropped)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    found = _child(root, "effective_from")
    if found is None:
        raise TariffsError("the contract has no effective_from to replace")
    edits.append((found[1].start_mark.index, found[1].end_mark.index, effective_from.isoformat()))
    outcomes = _child(root, "outcomes")
    for oid, new in tariffs.items():
        outcome = contract.outcomes[oid]
        assert isinstance(outcome, OutcomeCommon) and outcome.tariffs is not None
        node = _child(outcomes[1] if outcomes else None, oid)
        for key, old, values in (("tariffs", outcome.tariffs, new),
                                 ("stock_tariffs", outcome.stock_tariffs,
                                  {g: (t * ratios.get((oid, g), ONE)).quantize(t) for g, t in new.items()})):
            place = _child(node[1] if node else None, key)
            if old is None or place is None:
                continue
            start, end = place[1].start_mark.index, place[1].end_mark.index
            trailing = text[start:end][len(text[start:end].rstrip()):]
            edits.append((start, end, _table_text(old, values, effective_from, contract.start) + trailing))
    for start, end, new_text in sorted(edits, reverse=True):
        text = text[:start] + new_text + text[end:]
    return header + text


# --- Counting on the baseline, by the engine ---------------------------------------------------------------------


def solved_outcomes(contract: Contract) -> list[str]:
    """Outcomes whose tariffs are solved: those paid at a tariff from the contract's own money (not a fund's)."""
    return [oid for oid, o in contract.outcomes.items()
            if isinstance(o, OutcomeCommon) and o.tariffs is not None and not o.funded_by]


def year_of(contract: Contract, day: date) -> ContractYear:
    """The contract year containing the day."""
    for year in contract.years:
        if year.start <= day <= year.end:
            return year
    raise TariffsError(f"{day.isoformat()} is outside the contract ({contract.start} to {contract.end})",
                       hint="give --effective-from inside the contract's years")


def default_effective_from(contract: Contract) -> date:
    """The start of the contract year after the one the contract's version takes effect in."""
    later = [y.start for y in contract.years if y.start > contract.effective_from]
    if not later:
        raise TariffsError(f"the contract's version ({contract.effective_from}) is in its last year, so there is no "
                           "next contract year", hint="give --effective-from D")
    return later[0]


def _version_tag(contract: Contract, effective_from: date) -> str:
    return "" if effective_from <= contract.start else f"@{effective_from.isoformat()}"


def is_new_tariff(line: PaymentLine, solved: Sequence[str], tag: str) -> bool:
    """A line priced at a tariff of the version being solved (its reference names the table and the new date)."""
    ref = line.reference.split(" x ")[0]
    return (line.kind in ("outcome", "cohort") and line.outcome_id in solved and ref.startswith("outcomes.")
            and ref.split(".")[2] in ("tariffs", "stock_tariffs") and (ref.endswith(tag) if tag else "@" not in ref))


@dataclass(frozen=True)
class YearPay:
    """A real pay of one contract year on the shifted baseline: its lines, period by period."""

    year: ContractYear
    lines: list[PaymentLine]


def pay_year(copy: Warehouse, contract: Contract, year: ContractYear) -> YearPay:
    """Every line of the schedule periods of the year, priced by `price_up_to` as of the year's last day."""
    return YearPay(year, year_lines(copy, contract, year.start, year.end))


@dataclass(frozen=True)
class Counts:
    """What the engine found payable in the year on the baseline, with the probe tariffs."""

    units: dict[tuple[str, str, str], Decimal]
    """(outcome, group, stock/flow) -> achievements at the new tariffs."""
    fixed_pence: dict[str, int]
    """Kind of line (attachment_fee, outcome at an earlier tariff, ...) -> money not solved, in pence."""
    fixed_by_outcome: dict[str, int] = field(default_factory=dict)
    """Outcome -> the part of the fixed money on its lines (cohort amounts, earlier tariffs), in pence."""


def count_cells(pay: YearPay, solved: Sequence[str], tag: str, funded: Sequence[str]) -> Counts:
    """Achievements per cell (probe lines: amount / probe tariff) and fixed money per kind (every other earned
    line, and the cuts of payment-point maxima); lines of fund-paid outcomes are outside the results money."""
    units: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    fixed: dict[str, int] = defaultdict(int)
    by_outcome: dict[str, int] = defaultdict(int)
    for line in pay.lines:
        if line.outcome_id in funded:
            continue
        if is_new_tariff(line, solved, tag):
            key = (line.outcome_id or "", line.complexity_group or "", line.stock_or_flow or "flow")
            units[key] += Decimal(line.amount_pence) / (PROBE * 100)
        elif line.kind not in ("cap", "floor"):
            fixed[line.kind if line.kind != "outcome" else "outcome at an earlier tariff"] += line.amount_pence
            if line.outcome_id:
                by_outcome[line.outcome_id] += line.amount_pence
        elif line.reference.startswith("funnels."):
            fixed["payment_point maximum"] += line.amount_pence
    return Counts(dict(units), dict(fixed), dict(by_outcome))


@dataclass(frozen=True)
class Tariffs:
    """Everything `model tariffs` found: the draft contract's text and the working behind every figure."""

    contract: Contract
    baseline: Baseline
    effective_from: date
    year: ContractYear
    shift_days: int
    results_money: Decimal
    at_risk: Decimal | None
    counts: Counts
    problem: Problem
    ratios: dict[Cell, Decimal]
    solution: Solution
    draft: str
    paid_pence: int
    """What a real pay of the year with the draft contract spends (every line, caps and floors included)."""
    cap_cuts: dict[str, int]
    notes: list[str]

    @property
    def fixed(self) -> Decimal:
        return Decimal(sum(self.counts.fixed_pence.values())) / 100

    @property
    def paid(self) -> Decimal:
        return Decimal(self.paid_pence) / 100


def _money_conflicts(contract: Contract, year: ContractYear, money: Decimal) -> list[str]:
    """The results money against the share on results and every overall yearly (or whole-contract) cap."""
    found = []
    at_risk = contract.at_risk(year.start)
    if at_risk is not None and money > at_risk:
        found.append(f"the results money {money:,.2f} pounds is above the share on results ({at_risk:,.2f} pounds "
                     f"in the year from {year.start})")
    for cid, cap in contract.caps.items():
        amount = value_on(cap.amount, year.start)
        if cap.provider is None and cap.outcome is None and cap.period in ("year", "contract") and amount is not None \
                and money > amount:
            found.append(f"the results money {money:,.2f} pounds is above caps.{cid} ({amount:,.2f} pounds a "
                         f"{cap.period})")
    return found


def _problem(contract: Contract, baseline: Baseline, solved: Sequence[str], counts: Counts, year: ContractYear
             ) -> tuple[Problem, dict[Cell, Decimal]]:
    groups = tuple(contract.group_ids)
    current: dict[Cell, Decimal] = {}
    ratios: dict[Cell, Decimal] = {}
    units: dict[Cell, Decimal] = {}
    for o in solved:
        outcome = contract.outcomes[o]
        assert isinstance(outcome, OutcomeCommon) and outcome.tariffs is not None
        for g in groups:
            now = tariff_on(outcome.tariffs, g, year.start) or ZERO
            stock = tariff_on(outcome.stock_tariffs, g, year.start) if outcome.stock_tariffs else None
            ratios[(o, g)] = stock / now if stock is not None and now > 0 else ONE
            current[(o, g)] = now
            units[(o, g)] = (counts.units.get((o, g, "flow"), ZERO)
                             + ratios[(o, g)] * counts.units.get((o, g, "stock"), ZERO))
    clients = {g: Decimal(str(baseline.new_per_year(g))) + sum((Decimal(s.clients) for s in baseline.stock
                                                                if s.complexity_group == g), ZERO) for g in groups}
    weights = {o: w for o in solved if (w := contract.outcomes[o].weight) is not None}
    problem = Problem(groups, {o: contract.outcomes[o].domain for o in solved},
                      {o: contract.outcomes[o].stage for o in solved}, units, current, clients,
                      {str(d): s for d, s in contract.weights.items()}, weights)
    return problem, ratios


def solve_tariffs(wh: Warehouse, contract_file: Path, baseline: Baseline, design: Design | None = None,
                  results_money: Decimal | None = None, effective_from: date | None = None) -> Tariffs:
    """Solve the contract's tariffs on the baseline (module docstring), check every constraint, and verify by a
    real pay of the year with the draft contract. Raises TariffsError / InfeasibleDesign with what to change."""
    design = design or Design()
    text = Path(contract_file).read_text(encoding="utf-8")
    contract, report = check_text(text, str(contract_file))
    if contract is None or not report.ok:
        from recoverypbr.contract.load import ContractInvalid

        raise ContractInvalid(report)
    solved = solved_outcomes(contract)
    if not solved:
        raise TariffsError(f"the contract {contract_file} has no tariffs to solve: no outcome is paid at a tariff "
                           "from the contract's own money", hint="add `tariffs:` to the outcomes to be paid (any "
                           "amounts: they are replaced), or use a contract with outcome tariffs")
    effective_from = effective_from or default_effective_from(contract)
    if effective_from <= contract.effective_from and effective_from != contract.start:
        raise TariffsError(f"--effective-from {effective_from} is not after this version ({contract.effective_from})",
                           hint="a new version takes effect after the one it replaces (or, designing before "
                                "go-live, on the contract's start)")
    year = year_of(contract, effective_from)
    at_risk = contract.at_risk(year.start)
    money = results_money if results_money is not None else at_risk
    if money is None or money <= 0:
        raise TariffsError(f"no results money for the year from {year.start}", hint="give --results-money N")
    conflicts = _money_conflicts(contract, year, money)
    if conflicts:
        raise InfeasibleDesign(conflicts)
    tag = _version_tag(contract, effective_from)
    probe = draft_contract(draft_text(text, contract, {o: dict.fromkeys(contract.group_ids, PROBE) for o in solved},
                                 {}, effective_from), validated=False)
    funded = [oid for oid, o in contract.outcomes.items() if getattr(o, "funded_by", None)]
    shift = Shift((year.start - baseline.window_from).days)
    with shifted_warehouse(wh, shift, probe) as copy:
        counts = count_cells(pay_year(copy, probe, year), solved, tag, funded)
        problem, ratios = _problem(contract, baseline, solved, counts, year)
        fixed = Decimal(sum(counts.fixed_pence.values())) / 100
        if fixed >= money:
            raise InfeasibleDesign([f"the fixed money (fees, incentives, payment points: {fixed:,.2f} pounds) already "
                                    f"spends the results money ({money:,.2f} pounds)"])
        solution = solve(problem, design, money - fixed)
        check_domain_weights(contract, solution, at_risk, counts, money)
        draft = draft_text(text, contract, _by_outcome(solution.tariffs), ratios, effective_from,
                           header=f"# Tariffs from {effective_from} solved by `recoverypbr model tariffs` on the "
                                  f"baseline {baseline.window_from}..{baseline.window_to}: see its report.\n")
        new = draft_contract(draft, validated=True)
        pay = pay_year(copy, new, year)
    return _verified(contract, baseline, effective_from, year, shift, money, at_risk, counts, problem, ratios,
                     solution, draft, pay, funded)


def _by_outcome(tariffs: Mapping[Cell, Decimal]) -> dict[str, dict[str, Decimal]]:
    found: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for (o, g), t in tariffs.items():
        found[o][g] = t
    return dict(found)


def draft_contract(text: str, validated: bool = True) -> Contract:
    """The draft contract; with `validated`, every rule of `contract check` must pass or the design conflicts."""
    contract, report = check_text(text, "draft")
    if validated and report.problems:
        raise InfeasibleDesign([f"{p.path}: {p.message} (rule {p.rule})" for p in report.problems],
                               hint="; ".join(dict.fromkeys(p.hint for p in report.problems)))
    if contract is None:
        raise TariffsError("the draft contract cannot be read: " + "; ".join(p.message for p in report.problems))
    return contract


def check_domain_weights(contract: Contract, solution: Solution, at_risk: Decimal | None, counts: Counts,
                   money: Decimal) -> None:
    """Each domain's money (solved, plus the fixed money on its outcomes) within its weight's cap (weight x budget
    x share on results); the hint gives the most results money the weights let the tariffs spend."""
    if not contract.weights or at_risk is None:
        return
    fixed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for oid, p in counts.fixed_by_outcome.items():
        if oid in contract.outcomes:
            fixed[contract.outcomes[oid].domain] += Decimal(p) / 100
    room = {d: contract.weights[d] * at_risk - fixed[d] for d in solution.domain_money if d in contract.weights}
    over = [f"the {DOMAIN_NAMES.get(d, d)} domain is given {m:,.2f} pounds"
            + (f" besides {fixed[d]:,.2f} fixed" if fixed[d] else "")
            + f", above its weight ({percent(contract.weights[d])} of {at_risk:,.2f} = "
            f"{contract.weights[d] * at_risk:,.2f} pounds)"
            for d, m in solution.domain_money.items() if d in room and m > room[d]]
    if not over:
        return
    fits = money - solution.money + sum((max(r, ZERO) for r in room.values()), ZERO)
    others = [f"{DOMAIN_NAMES.get(str(d), str(d))} {percent(w)}" for d, w in contract.weights.items()
              if d not in solution.domain_money]
    raise InfeasibleDesign(over, hint=(f"the weights of domains without tariffs to solve ({', '.join(others)}) are "
                                       "paid only by their fixed money; " if others else "")
                           + f"give --results-money {fits:.2f} or less, lower those domains' shares in the design, "
                             "or change the weights")


def _within_caps(lines: Sequence[PaymentLine], cuts: Mapping[str, int], money: Decimal) -> Decimal:
    """About the most results money no cap cuts: each cap's cut over the share of the year's earnings in its scope
    (the providers and outcomes its lines name), taken off the money; spend scales with the results money."""
    earned = [line for line in lines if line.kind not in ("cap", "floor")]
    whole = sum(line.amount_pence for line in earned) or 1
    less = ZERO
    for ref, cut in cuts.items():
        capped = [line for line in lines if line.kind == "cap" and line.reference.split("@")[0] == ref]
        providers = {line.provider_id for line in capped}
        outcomes = {line.outcome_id for line in capped if line.outcome_id}
        scope = sum(line.amount_pence for line in earned if line.provider_id in providers
                    and (not outcomes or line.outcome_id in outcomes))
        less = max(less, Decimal(-cut) * whole / max(scope, 1) / 100)
    return max(money - less, ZERO)


def _verified(contract: Contract, baseline: Baseline, effective_from: date, year: ContractYear, shift: Shift,
              money: Decimal, at_risk: Decimal | None, counts: Counts, problem: Problem, ratios: dict[Cell, Decimal],
              solution: Solution, draft: str, pay: YearPay, funded: Sequence[str]) -> Tariffs:
    """The result, once a real pay of the year with the draft contract is within the caps (cuts from rounding up
    to `CAP_TOLERANCE` of the money are noted, larger ones conflict)."""
    lines = [line for line in pay.lines if line.outcome_id not in funded]
    cuts: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.kind == "cap" and not line.reference.startswith("funnels."):
            cuts[line.reference.split("@")[0]] += line.amount_pence
    if -sum(cuts.values()) > CAP_TOLERANCE * money * 100:
        raise InfeasibleDesign([f"{ref} cuts {Decimal(-p) / 100:,.2f} pounds of the year's expected spend"
                                for ref, p in sorted(cuts.items())],
                               hint="the expected spend where those caps hold is more than they allow (tariffs are "
                                    "the same for every provider, so a provider's cap is met only by less money): "
                                    f"give --results-money of about {_within_caps(lines, cuts, money):.0f} or "
                                    "less, lower the capped outcomes' shares, or raise the caps")
    notes = list(solution.notes)
    if effective_from == contract.effective_from:
        notes.append(f"the draft takes effect on {effective_from}, the same day as the version it was made from: it "
                     "replaces that version (a design before go-live)")
    if (baseline.window_to - baseline.window_from).days < 364:
        notes.append(f"the baseline window ({baseline.window_from}..{baseline.window_to}) is shorter than a year, so "
                     "the year's counts miss the rest of it")
    if cuts:
        notes.append("caps cut " + ", ".join(f"{ref} {Decimal(-p) / 100:,.2f}" for ref, p in sorted(cuts.items()))
                     + " pounds in the verifying pay (rounding)")
    if baseline.contract_area != contract.area:
        notes.append(f"the baseline was made for {baseline.contract_area!r}, not {contract.area!r}")
    return Tariffs(contract, baseline, effective_from, year, shift.days, money, at_risk, counts, problem, ratios,
                   solution, draft, sum(line.amount_pence for line in lines), dict(cuts), notes)
