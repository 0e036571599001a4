"""What gaming would earn: each named strategy applied to the baseline's history, re-priced by the real engine.

The baseline's history is put on the contract's calendar (`shift.shifted_warehouse`) and the contract's first year
is priced as the statements price it: `build_ledger` as of the year's last day, then `price_up_to` the year's last
schedule period, every line (earned, caps, floors) payable in the year counted per provider. That is the honest
run. Each strategy then changes a fresh copy of the same history with set-based updates of the canonical tables
(assessments, episodes, top) and is priced the same way; its gain per provider is gamed - honest, in pence. A
strategy that changed no row (no client affected) is not priced again: its gain is zero by construction.

The strategies (the national guidance's gaming risk areas, docs/modelling.md "What gaming would earn"):

- `assessment_inflation`: a share of clients in treatment in the year have every assessment recorded exactly one
  complexity group higher, by raising the assessment fields the contract's grouping reads, just enough;
- `creaming`: a share of top-group referrals starting in the year are not started (episode, TOPs and events gone);
- `parking`: a share of top-group clients in treatment in the year have their review TOPs in the year not done;
- `discharge_timing`: a share of clients discharged in the year have the discharge (and its exit TOPs) moved to the
  first day of the next schedule period, when that day is still in the year;
- `top_inflation`: a share of clients have each substance's days of use at their review and exit TOPs in the year
  recorded `days` lower (never below 0).

Who is chosen: a client is chosen for a strategy when the first 8 hex digits of md5(`client_id|strategy|seed`)
fall below share x 16^8: set-based, reproducible, independent between strategies, and a share of 0 chooses no one.
A strategy whose gain in the year exceeds `threshold` (default 1%) of the year's results money (budget x share on
results; when the contract sets none, the honest run's total) is flagged, with the contract parameter whose lines
moved most. See docs/modelling.md, "What gaming would earn".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from recoverypbr.assessment.grouping import complexity_groups, condition
from recoverypbr.contract.model import Complexity, Condition, Contract, ContractYear
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.modelling.baseline_file import Baseline
from recoverypbr.modelling.shift import Shift, shift_for, shifted_warehouse
from recoverypbr.modelling.template import year_lines
from recoverypbr.outcomes.frame import SUBSTANCE_DAYS
from recoverypbr.payments.lines import PaymentLine
from recoverypbr.payments.money import pence, pounds
from recoverypbr.payments.run import schedule
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.row_digests import insert_rows

Progress = Callable[[str, int, int], None]

STRATEGIES = ("assessment_inflation", "creaming", "parking", "discharge_timing", "top_inflation")
LABELS = {
    "assessment_inflation": "assessment inflation",
    "creaming": "creaming",
    "parking": "parking",
    "discharge_timing": "discharge timing",
    "top_inflation": "TOP inflation",
}
#: The design lever each strategy plays on, in words (the flag names the parameter whose lines moved most).
LEVERS = {
    "assessment_inflation": "the tariff gap between complexity groups (outcomes.*.tariffs, attachment_fees)",
    "creaming": "what a top-group client earns (the top group's tariffs and attachment fee) against its cost",
    "parking": "the tariffs of outcomes decided at review TOPs (reliable change, abstinence) for the top group",
    "discharge_timing": "payment timing: the schedule's periods and the caps and floors per period",
    "top_inflation": "the tariffs of TOP-based outcomes (abstinence, reliable change thresholds and tariffs)",
}
DEFAULT_SHARE = Decimal("0.10")
DEFAULT_DAYS = 2
DEFAULT_THRESHOLD = Decimal("0.01")
KIND = "recoverypbr.gaming"
VERSION = 1


class GamingError(RecoveryPbrError):
    """Gaming parameters that cannot be used."""


@dataclass(frozen=True)
class GamingSettings:
    """Each strategy's share of clients (0 to 1), the days of use TOP inflation takes off, the seed that chooses
    clients and the share of the year's results money above which a gain is flagged."""

    shares: Mapping[str, Decimal] = field(default_factory=lambda: dict.fromkeys(STRATEGIES, DEFAULT_SHARE))
    days: int = DEFAULT_DAYS
    seed: int = 0
    threshold: Decimal = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        unknown = sorted(set(self.shares) - set(STRATEGIES))
        if unknown:
            raise GamingError(f"no gaming strategy called {', '.join(unknown)}", hint=f"use {', '.join(STRATEGIES)}")
        bad = [f"{k}={v}" for k, v in self.shares.items() if not Decimal(0) <= Decimal(v) <= Decimal(1)]
        if bad:
            raise GamingError(f"a share must be between 0 and 1: {', '.join(bad)}", hint="e.g. creaming=0.1 for 10%")
        if not 0 <= self.days <= 28:
            raise GamingError(f"days of use lower by {self.days}: TOP days run from 0 to 28", hint="give 0 to 28")
        if self.threshold < 0:
            raise GamingError("the flag threshold cannot be negative", hint="e.g. 0.01 for 1% of the results money")

    def share(self, strategy: str) -> Decimal:
        return Decimal(self.shares.get(strategy, DEFAULT_SHARE))

    def parameter(self, strategy: str) -> str:
        """The strategy's parameters in words: `10% of clients`, `10% of clients, 2 days`."""
        words = f"{percent_words(self.share(strategy))} of clients"
        if strategy == "top_inflation":
            words += f", {self.days} day{'s' if self.days != 1 else ''} lower"
        return words


@dataclass(frozen=True)
class StrategyGain:
    """One strategy's year: clients affected, what each provider is paid honest and gamed, the gain (pence), the
    gain per client affected (pence, half up), whether it is flagged and the parameter that drives it."""

    strategy: str
    parameter: str
    clients_affected: int
    honest_pence: dict[str, int]
    gamed_pence: dict[str, int]
    gain_pence: dict[str, int]
    per_client_pence: dict[str, int | None]
    flagged: bool
    driver: str
    lever: str
    note: str = ""

    @property
    def total_gain_pence(self) -> int:
        return sum(self.gain_pence.values())


@dataclass(frozen=True)
class GamingResult:
    """Every strategy's gain in the contract's first year, with how it was worked out."""

    contract_area: str
    contract_version: date
    window_from: date
    window_to: date
    year_start: date
    year_end: date
    shift_days: int
    seed: int
    threshold: Decimal
    results_money_pence: int
    flag_above_pence: int
    honest_pence: dict[str, int]
    strategies: tuple[StrategyGain, ...]

    def as_rows(self) -> list[dict[str, Any]]:
        """One row per strategy and provider, then the strategy's row for all providers; money in pounds."""
        rows = []
        for s in self.strategies:
            providers = [*sorted(s.gain_pence), "all providers"]
            for provider in providers:
                whole = provider == "all providers"
                gain = s.total_gain_pence if whole else s.gain_pence[provider]
                honest = sum(s.honest_pence.values()) if whole else s.honest_pence.get(provider, 0)
                per_client = gain_per_client(gain, s.clients_affected)
                rows.append({
                    "strategy": s.strategy,
                    "parameter": s.parameter,
                    "provider_id": provider,
                    "clients_affected": s.clients_affected,
                    "honest_pounds": str(pounds(honest)),
                    "gamed_pounds": str(pounds(honest + gain)),
                    "gain_pounds": str(pounds(gain)),
                    "gain_per_client_pounds": "" if per_client is None else str(pounds(per_client)),
                    "flagged": s.flagged if whole else "",
                    "driver": s.driver if whole else "",
                    "note": s.note if whole else "",
                })
        return rows

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": VERSION,
            "contract_area": self.contract_area,
            "contract_version": self.contract_version.isoformat(),
            "window_from": self.window_from.isoformat(),
            "window_to": self.window_to.isoformat(),
            "year": {"start": self.year_start.isoformat(), "end": self.year_end.isoformat()},
            "shift_days": self.shift_days,
            "seed": self.seed,
            "threshold": str(self.threshold),
            "results_money_pence": self.results_money_pence,
            "flag_above_pence": self.flag_above_pence,
            "honest_pence": self.honest_pence,
            "strategies": [
                {
                    "strategy": s.strategy,
                    "label": LABELS[s.strategy],
                    "parameter": s.parameter,
                    "clients_affected": s.clients_affected,
                    "honest_pence": s.honest_pence,
                    "gamed_pence": s.gamed_pence,
                    "gain_pence": s.gain_pence,
                    "total_gain_pence": s.total_gain_pence,
                    "per_client_pence": s.per_client_pence,
                    "total_per_client_pence": gain_per_client(s.total_gain_pence, s.clients_affected),
                    "flagged": s.flagged,
                    "driver": s.driver,
                    "lever": s.lever,
                    "note": s.note,
                }
                for s in self.strategies
            ],
            "rows": self.as_rows(),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n"


def gaming_gains(
    wh: Warehouse,
    contract: Contract,
    baseline: Baseline,
    settings: GamingSettings | None = None,
    progress: Progress | None = None,
) -> GamingResult:
    """Each strategy's gain per provider in the contract's first year, on the baseline's history moved onto the
    contract's calendar, priced by the real engine (honest, then each strategy on a fresh copy)."""
    settings = settings or GamingSettings()
    year = contract.years[0]
    shift = shift_for(baseline.window_from, contract)
    steps = len(STRATEGIES) + 1
    if progress:
        progress("honest run", 0, steps)
    base = shifted_warehouse(wh, shift, contract)
    try:
        honest_lines = _price_year(_copy(base, contract), contract, year)
        honest = _by_provider(honest_lines)
        money = contract.at_risk(year.start)
        results_pence = pence(money) if money is not None else sum(honest.values())
        flag_above = pence(pounds(results_pence) * settings.threshold)
        gains = []
        for done, strategy in enumerate(STRATEGIES, start=1):
            if progress:
                progress(LABELS[strategy], done, steps)
            affected, note, gamed_lines = _gamed(base, contract, year, settings, strategy, honest_lines)
            gains.append(_gain(strategy, settings, affected, note, honest_lines, gamed_lines, flag_above))
        if progress:
            progress("", steps, steps)
    finally:
        base.close()
    return GamingResult(
        contract_area=contract.area,
        contract_version=contract.effective_from,
        window_from=baseline.window_from,
        window_to=baseline.window_to,
        year_start=year.start,
        year_end=year.end,
        shift_days=shift.days,
        seed=settings.seed,
        threshold=settings.threshold,
        results_money_pence=results_pence,
        flag_above_pence=flag_above,
        honest_pence=honest,
        strategies=tuple(gains),
    )


def _gamed(
    base: Warehouse,
    contract: Contract,
    year: ContractYear,
    settings: GamingSettings,
    strategy: str,
    honest_lines: list[PaymentLine],
) -> tuple[int, str, list[PaymentLine]]:
    """The strategy played on a fresh copy of the shifted history: clients affected, a note, the year's lines."""
    copy = _copy(base, contract)
    try:
        affected, note = APPLY[strategy](copy, contract, year, settings)
    except BaseException:
        copy.close()
        raise
    if not affected:
        # Every strategy counts each client whose rows it changed: none means the honest run's rows.
        copy.close()
        return affected, note, honest_lines
    return affected, note, _price_year(copy, contract, year)


def _copy(base: Warehouse, contract: Contract) -> Warehouse:
    """A fresh in-memory copy of the shifted history (moved by 0 days: the same rows)."""
    return shifted_warehouse(base, Shift(0), contract)


def _price_year(wh: Warehouse, contract: Contract, year: ContractYear) -> list[PaymentLine]:
    """Every line the engine pays for the year's schedule periods as of its last day, payable in the year (the
    rule the caps and the share on results use); the warehouse is closed afterwards."""
    try:
        return year_lines(wh, contract, year.start, year.end)
    finally:
        wh.close()


def _by_provider(lines: list[PaymentLine]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        found[line.provider_id] = found.get(line.provider_id, 0) + line.amount_pence
    return found


def _gain(
    strategy: str,
    settings: GamingSettings,
    affected: int,
    note: str,
    honest_lines: list[PaymentLine],
    gamed_lines: list[PaymentLine],
    flag_above: int,
) -> StrategyGain:
    honest, gamed = _by_provider(honest_lines), _by_provider(gamed_lines)
    providers = sorted(set(honest) | set(gamed))
    gain = {p: gamed.get(p, 0) - honest.get(p, 0) for p in providers}
    total = sum(gain.values())
    return StrategyGain(
        strategy=strategy,
        parameter=settings.parameter(strategy),
        clients_affected=affected,
        honest_pence={p: honest.get(p, 0) for p in providers},
        gamed_pence={p: gamed.get(p, 0) for p in providers},
        gain_pence=gain,
        per_client_pence={p: gain_per_client(g, affected) for p, g in gain.items()},
        flagged=total > flag_above,
        driver=_driver(honest_lines, gamed_lines, total),
        lever=LEVERS[strategy],
        note=note,
    )


def gain_per_client(gain_pence: int, clients: int) -> int | None:
    """Gain / clients affected, to the penny (half up, the project's one rounding rule); None with no client."""
    return pence(Decimal(gain_pence) / 100 / clients) if clients else None


def _driver(honest: list[PaymentLine], gamed: list[PaymentLine], total: int) -> str:
    """The contract parameter whose lines moved most in the gain's direction (`outcomes.x.tariffs.high`,
    `attachment_fees.flow.high`, `caps.overall_year`), with the pounds it moved; empty when nothing moved."""
    moved: dict[str, int] = {}
    for sign, lines in ((-1, honest), (1, gamed)):
        for line in lines:
            key = line.reference.split(" x ")[0].split("@")[0]
            moved[key] = moved.get(key, 0) + sign * line.amount_pence
    moved = {k: v for k, v in moved.items() if v}
    if not moved:
        return ""
    key = max(sorted(moved), key=lambda k: moved[k] if total >= 0 else -moved[k])
    return f"{key} ({'+' if moved[key] > 0 else '-'}£{pounds(abs(moved[key])):,})"


def percent_words(share: Decimal) -> str:
    text = f"{(Decimal(share) * 100).normalize():f}"
    return f"{text}%"


# ---- choosing clients and changing the tables, set-based ----

def chosen(client_id: ir.StringValue, share: Decimal, seed: int, strategy: str) -> ir.BooleanValue:
    """Whether a client is chosen: md5(`client_id|strategy|seed`)'s first 8 hex digits below share x 16^8."""
    if share <= 0:
        return ibis.literal(False)
    if share >= 1:
        return ibis.literal(True)
    cut = f"{int(Decimal(share) * 16**8):08x}"
    digest = (client_id + f"|{strategy}|{seed}").hexdigest("md5").substr(0, 8)
    return digest < cut


def _replace(wh: Warehouse, name: str, rows: ir.Table) -> None:
    """Replace every row of a canonical table by `rows` (read first, then written in one transaction)."""
    data = wh.to_arrow(rows)
    with wh.transaction():
        wh.execute(f'DELETE FROM "{name}"')
        staged = wh.register_arrow("_gaming_rows", data)
        # The changed rows' digests worked out anew (`row_digests`).
        insert_rows(wh, name, staged.select(*[c for c in staged.columns if c in wh.table(name).columns]))
        wh.unregister("_gaming_rows")


def _clients(wh: Warehouse, expr: ir.Table) -> int:
    return wh.count(expr.select("client_id").distinct())


def _in_year(t: ir.Table, year: ContractYear) -> ir.BooleanValue:
    """An episode in treatment at some time in the year."""
    return (t.start_date <= year.end) & (t.discharge_date.isnull() | (t.discharge_date >= year.start))


def _ranks(complexity: Complexity) -> dict[str, int]:
    """Group -> its rank, from the least complex (0); the contract lists groups from least to most complex."""
    return {g: i for i, g in enumerate(complexity.groups)}


def _top_group_episodes(wh: Warehouse, contract: Contract) -> ir.Table | None:
    """Episodes grouped in the contract's most complex group by the engine's own grouping (None: no grouping)."""
    complexity = contract.complexity
    if complexity is None or not (complexity.points or complexity.rules):
        return None
    top = list(complexity.groups)[-1]
    groups = complexity_groups(wh.table("episodes"), wh.table("assessments"), complexity)
    return groups.filter(groups.complexity_group == top).select(g_episode="episode_id")


NO_GROUPS = "the contract has no complexity grouping: nothing to change"


def apply_assessment_inflation(
    wh: Warehouse, contract: Contract, year: ContractYear, settings: GamingSettings
) -> tuple[int, str]:
    """Chosen clients in treatment in the year: each of their assessments raised exactly one group (see
    `raised_assessments`); assessments that cannot be raised one group (already top, no field to change) stay."""
    complexity = contract.complexity
    if complexity is None or not (complexity.points or complexity.rules):
        return 0, NO_GROUPS
    e = wh.table("episodes")
    treated = e.filter(_in_year(e, year)).select(t_client="client_id").distinct()
    a = wh.table("assessments")
    pick = chosen(a.client_id, settings.share("assessment_inflation"), settings.seed, "assessment_inflation")
    a = a.left_join(treated, a.client_id == treated.t_client)
    a = a.mutate(_chosen=pick & a.t_client.notnull()).drop("t_client")
    raised = raised_assessments(wh, a, complexity)
    _replace(wh, "assessments", raised.drop("_chosen", "_raised"))
    return _clients(wh, raised.filter(raised._raised)), ""


def _scored(a: ir.Table, complexity: Complexity) -> ir.Table:
    """Each assessment with `_rank` (its group's rank) and `_score` (points; the rank under decision rules), by
    the engine's grouping applied to the assessment alone."""
    alone = a.mutate(client_id=a.assessment_id)
    episodes = alone.select(episode_id="assessment_id", client_id="client_id", start_date="assessed_on")
    g = complexity_groups(episodes, alone, complexity)
    rank = g.complexity_group.substitute(_ranks(complexity), else_=ibis.null("int64"))
    g = g.select(g_id=g.episode_id, g_rank=rank.cast("int64"), g_points=g.points)
    j = a.join(g, a.assessment_id == g.g_id)
    score = j.g_points if complexity.points else j.g_rank
    return j.mutate(_rank=j.g_rank, _score=score.cast("int64")).drop("g_id", "g_rank", "g_points")


def _raise_values(complexity: Complexity) -> list[tuple[str, Any]]:
    """(field, value) that meets each condition of the grouping, in the contract's order, once each."""
    conditions: list[Condition] = (
        list(complexity.points.criteria.values()) if complexity.points
        else [c for rule in complexity.rules.values() for c in rule.when]
    )
    found: list[tuple[str, Any]] = []
    for c in conditions:
        value = next(v for v in (c.equals, c.one_of[0] if c.one_of else None, c.at_least, c.at_most) if v is not None)
        if (c.field, value) not in found:
            found.append((c.field, value))
    return found


def raised_assessments(wh: Warehouse, a: ir.Table, complexity: Complexity) -> ir.Table:
    """The assessments with those marked `_chosen` recorded one group higher, `_raised` saying which were.

    The grouping's own conditions give the values to try: in the contract's order, once each, a field is set to
    the value meeting a condition when that raises the assessment's score without taking it past the group above
    its own. Under points the score is the points of the criteria met and "the group above" is the points from its
    band's lowest to the next band's lowest less one; under decision rules the score is the group's rank by the
    engine's grouping. The engine's grouping then decides: an assessment now in the group above its own keeps its
    changes and has its recorded group set to it; any other is unchanged."""
    changes = _raise_values(complexity)
    fields = sorted({f for f, _ in changes})
    # Only the chosen assessments are worked on; the rest are added back unchanged.
    start = _scored(a.filter(a._chosen), complexity)
    work = wh.materialize("_gaming_raise", start.mutate(
        _target=start._rank + 1, **_bounds(start._rank, complexity), **{f"_orig_{f}": start[f] for f in fields}
    ).drop("_rank", "_score"))
    for step, (name, value) in enumerate(changes):
        work = wh.materialize(f"_gaming_raise_{step}", _raise_step(work, complexity, name, value))
    final = _scored(work, complexity)
    raised = (final._rank == final._target).fill_null(False)
    groups = list(complexity.groups)
    kept = {f: ibis.ifelse(raised, final[f], final[f"_orig_{f}"]) for f in fields}
    recorded = ibis.ifelse(raised, final._rank.substitute(dict(enumerate(groups)), else_=ibis.null("string")),
                           final.complexity_group)
    done = final.mutate(**kept, complexity_group=recorded, _raised=raised)
    done = done.drop("_target", "_low", "_high", "_rank", "_score", *[f"_orig_{f}" for f in fields])
    rest = a.filter(~a._chosen).mutate(_raised=ibis.literal(False))
    return ibis.union(done.select(*rest.columns), rest, distinct=False)


def _bounds(rank: ir.IntegerValue, complexity: Complexity) -> dict[str, ir.Value]:
    """`_low`, `_high`: under points, the points of the group above (its band's lowest, the next band's lowest
    less one; no upper end for the top band); null under rules."""
    if not complexity.points:
        return {"_low": ibis.null("int64"), "_high": ibis.null("int64")}
    bands = complexity.points.bands
    lows = [bands[g] for g in complexity.groups]
    above = {i: lows[i + 1] for i in range(len(lows) - 1)}
    ceiling = {i: lows[i + 2] - 1 for i in range(len(lows) - 2)}
    return {"_low": rank.substitute(above, else_=ibis.null("int64")).cast("int64"),
            "_high": rank.substitute(ceiling, else_=ibis.literal(2**31)).cast("int64")}


def _points(t: ir.Table, complexity: Complexity) -> ir.IntegerValue:
    """The points of the criteria an assessment meets (each criterion tested by the grouping's `condition`)."""
    assert complexity.points is not None
    total: ir.IntegerValue = ibis.literal(0, "int64")
    for crit in complexity.points.criteria.values():
        total = total + ibis.ifelse(condition(t, crit), crit.points, 0)
    return total


def _raise_step(work: ir.Table, complexity: Complexity, name: str, value: Any) -> ir.Table:
    """`work` with `name` set to `value` where that raises a chosen assessment's score, short of or into the
    group above and not past it."""
    literal = ibis.literal(value).cast(work[name].type())
    if complexity.points:
        w = work.mutate(_now=_points(work, complexity), _kept=work[name]).mutate(**{name: literal})
        w = w.mutate(_trial=_points(w, complexity))
        take = (w._now < w._low) & (w._trial > w._now) & (w._trial <= w._high)
        return w.mutate(**{name: ibis.ifelse(take.fill_null(False), literal, w._kept)}).drop("_now", "_kept", "_trial")
    scored = _scored(work, complexity)
    tried = _scored(work.mutate(**{name: literal}), complexity)
    t = tried.select(t_id="assessment_id", t_rank="_rank")
    j = scored.join(t, scored.assessment_id == t.t_id)
    take = (j._rank < j._target) & (j.t_rank > j._rank) & (j.t_rank <= j._target)
    return j.mutate(**{name: ibis.ifelse(take.fill_null(False), literal, j[name])}).drop("t_id", "t_rank", "_rank",
                                                                                          "_score")


def apply_creaming(wh: Warehouse, contract: Contract, year: ContractYear, settings: GamingSettings) -> tuple[int, str]:
    """Chosen clients' top-group episodes starting in the year (new referrals) not started: each such episode is
    removed with its TOPs and events."""
    top = _top_group_episodes(wh, contract)
    if top is None:
        return 0, NO_GROUPS
    e = wh.table("episodes")
    new = e.filter(e.start_date.between(max(year.start, contract.start), year.end))
    new = new.join(top, new.episode_id == top.g_episode)
    new = new.filter(chosen(new.client_id, settings.share("creaming"), settings.seed, "creaming"))
    gone = wh.materialize("_gaming_gone", new.select("episode_id", "client_id"))
    affected = _clients(wh, gone)
    ids = gone.select(gone_id="episode_id")
    for name in ("episodes", "top", "events"):
        t = wh.table(name)
        kept = t.left_join(ids, t.episode_id == ids.gone_id)
        _replace(wh, name, kept.filter(kept.gone_id.isnull()).drop("gone_id"))
    return affected, ""


def apply_parking(wh: Warehouse, contract: Contract, year: ContractYear, settings: GamingSettings) -> tuple[int, str]:
    """Chosen clients' review TOPs dated in the year, in their top-group episodes, not done (removed)."""
    top = _top_group_episodes(wh, contract)
    if top is None:
        return 0, NO_GROUPS
    t = wh.table("top")
    hard = t.join(top, t.episode_id == top.g_episode)
    parked = hard.filter((hard.stage == "review") & hard.top_date.between(year.start, year.end)
                         & chosen(hard.client_id, settings.share("parking"), settings.seed, "parking"))
    gone = wh.materialize("_gaming_parked", parked.select(gone_id="top_id", client_id="client_id"))
    affected = _clients(wh, gone)
    kept = t.left_join(gone.select("gone_id"), t.top_id == gone.gone_id)
    _replace(wh, "top", kept.filter(kept.gone_id.isnull()).drop("gone_id"))
    return affected, ""


def apply_discharge_timing(
    wh: Warehouse, contract: Contract, year: ContractYear, settings: GamingSettings
) -> tuple[int, str]:
    """Chosen clients' discharges in the year moved to the first day of the next schedule period (the day after
    the payment period's edge) when that day is in the year; the episode's exit TOPs move by the same days."""
    edges = [(p.start, p.end, p.end + timedelta(days=1)) for p in schedule(contract)
             if p.start <= year.end and p.end + timedelta(days=1) <= year.end]
    if not edges:
        return 0, "the year has one payment period: no period edge to move a discharge past"
    periods = wh.register_arrow("_gaming_edges", pa.table({
        "p_start": [s for s, _, _ in edges], "p_end": [e for _, e, _ in edges], "p_next": [n for _, _, n in edges]}))
    e = wh.table("episodes")
    j = e.join(periods, e.discharge_date.between(periods.p_start, periods.p_end))
    j = j.filter(chosen(j.client_id, settings.share("discharge_timing"), settings.seed, "discharge_timing"))
    moves = wh.materialize("_gaming_moves", j.select(m_id="episode_id", client_id="client_id",
                                                     m_days=j.p_next.delta(j.discharge_date, unit="day")))
    affected = _clients(wh, moves)
    m = moves.select("m_id", "m_days")
    later = e.left_join(m, e.episode_id == m.m_id)
    _replace(wh, "episodes", later.mutate(discharge_date=ibis.ifelse(
        later.m_id.notnull(), later.discharge_date + later.m_days.as_interval("D"), later.discharge_date)
    ).drop("m_id", "m_days"))
    t = wh.table("top")
    tops = t.left_join(m, (t.episode_id == m.m_id) & (t.stage == "exit"))
    _replace(wh, "top", tops.mutate(top_date=ibis.ifelse(
        tops.m_id.notnull(), tops.top_date + tops.m_days.as_interval("D"), tops.top_date)).drop("m_id", "m_days"))
    return affected, ""


def apply_top_inflation(
    wh: Warehouse, contract: Contract, year: ContractYear, settings: GamingSettings
) -> tuple[int, str]:
    """Chosen clients' review and exit TOPs dated in the year: each substance's days of use recorded `days`
    lower, never below 0 (an empty day-count stays empty)."""
    t = wh.table("top")
    days = settings.days
    columns = list(SUBSTANCE_DAYS.values())
    target = (t.stage.isin(["review", "exit"]) & t.top_date.between(year.start, year.end)
              & chosen(t.client_id, settings.share("top_inflation"), settings.seed, "top_inflation"))
    used = ibis.literal(False)
    for c in columns:
        used = used | (t[c] > 0).fill_null(False)
    changed = target & used & ibis.literal(days > 0)
    affected = _clients(wh, t.filter(changed))
    lower = {c: ibis.ifelse(changed & t[c].notnull(), ibis.greatest(t[c] - days, 0), t[c]) for c in columns}
    _replace(wh, "top", t.mutate(**lower))
    return affected, ""


APPLY: dict[str, Callable[[Warehouse, Contract, ContractYear, GamingSettings], tuple[int, str]]] = {
    "assessment_inflation": apply_assessment_inflation,
    "creaming": apply_creaming,
    "parking": apply_parking,
    "discharge_timing": apply_discharge_timing,
    "top_inflation": apply_top_inflation,
}
