"""LASARS complexity grouping: each episode's group from its client's latest assessment on or before its start.

"Some clients need greater support and/or challenge to achieve outcomes than others, and should therefore attract
a larger outcome payment." The contract says how an assessment gives a group: points from assessment fields with
bands, or ordered decision rules (the first that matches wins) with a default group. The rules are Ibis
expressions over the warehouse's `episodes` and `assessments`, set-based and portable (no per-client loop, no
engine-specific SQL), so the same code runs on DuckDB or PostgreSQL.

For each episode the result says which assessment was used, the group computed, the rule that fired (its path in
the contract and in plain words), the points (with points), the group the assessor recorded and whether the two
agree. An episode whose client has no assessment on or before its start has no group, and says so.
"""

from __future__ import annotations

import csv
import functools
import operator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.explain import describe_condition, describe_conditions
from recoverypbr.contract.model import Complexity, Condition, Contract, PointsMethod
from recoverypbr.errors import ContractError
from recoverypbr.warehouse.connection import Warehouse

TABLE = "complexity_groups"
NO_ASSESSMENT_RULE = "no_assessment"
NO_ASSESSMENT = "no assessment on or before start"
#: Columns of the result, in order (the `complexity_groups` table adds the contract and the evaluation time).
COLUMNS = ("episode_id", "client_id", "assessment_id", "assessed_on", "complexity_group", "rule_id", "rule_text",
           "points", "recorded_group", "agrees")
DISAGREEMENT_COLUMNS = ("episode_id", "client_id", "recorded_group", "complexity_group", "rule_id", "rule_text")


def latest_assessment(episodes: ir.Table, assessments: ir.Table) -> ir.Table:
    """Each episode with its client's latest assessment on or before the episode's start date (for a referral
    that never started: on or before its triage date, else its referral date).

    On one day the highest assessment id is used. Episodes without such an assessment keep one row whose
    assessment columns are empty."""
    day = episodes.start_date
    for later in ("triage_date", "referral_date"):
        if later in episodes.columns:
            day = day.fill_null(episodes[later])
    e = episodes.select("episode_id", "client_id", "start_date", _day=day)
    a = assessments.rename(assessed_client="client_id", recorded_group="complexity_group")
    joined = e.left_join(a, [e.client_id == a.assessed_client, a.assessed_on <= e._day])
    order = ibis.window(group_by=joined.episode_id, order_by=[ibis.desc(joined.assessed_on),
                                                              ibis.desc(joined.assessment_id)])
    ranked = joined.mutate(_rank=ibis.row_number().over(order))
    return ranked.filter(ranked._rank == 0).drop("_rank", "_day", "assessed_client")


def condition(t: ir.Table, cond: Condition) -> ir.BooleanValue:
    """A condition on an assessment field; an empty field never meets it."""
    column = t[cond.field]
    if cond.equals is not None:
        test = column == cond.equals
    elif cond.one_of is not None:
        test = column.isin(cond.one_of)
    elif cond.at_least is not None:
        test = column >= cond.at_least
    else:
        test = column <= cond.at_most
    return test.fill_null(False)


def _all(t: ir.Table, conditions: list[Condition]) -> ir.BooleanValue:
    tests = [condition(t, cond) for cond in conditions]
    return functools.reduce(operator.and_, tests) if tests else ibis.literal(True)


def band_words(bands: dict[str, int]) -> dict[str, str]:
    """Group -> its band in words: "3 to 5 points", "6 or more points"."""
    items = list(bands.items())
    words = {}
    for i, (group, low) in enumerate(items):
        if i + 1 < len(items):
            high = items[i + 1][1] - 1
            words[group] = f"{low} to {high} points" if low != high else f"{low} point{'' if low == 1 else 's'}"
        else:
            words[group] = f"{low} or more points"
    return words


def _points_words(points: ir.IntegerValue) -> ir.StringValue:
    return ibis.ifelse(points == 1, "1 point", points.cast("string") + " points")


def _by_points(t: ir.Table, method: PointsMethod) -> dict[str, ir.Value]:
    met = {cid: condition(t, crit) for cid, crit in method.criteria.items()}
    points = ibis.literal(0)
    for cid, crit in method.criteria.items():
        points = points + ibis.ifelse(met[cid], crit.points, 0)
    bands = list(method.bands.items())
    branches = [(points >= low, group) for group, low in reversed(bands)]
    group = ibis.cases(*branches, else_=bands[0][0])
    band = band_words(method.bands)
    reasons = ibis.literal(", ").join([
        ibis.ifelse(met[cid], f"{crit.label or describe_condition(crit)} +{crit.points}", ibis.null(str))
        for cid, crit in method.criteria.items()
    ])
    reasons = ibis.ifelse(reasons == "", "no criterion met", reasons)
    return {
        "complexity_group": group,
        "rule_id": "complexity.points.bands." + group,
        "rule_text": _points_words(points) + " (" + group.substitute(band) + "): " + reasons,
        "points": points.cast("int64"),
    }


def _by_rules(t: ir.Table, complexity: Complexity) -> dict[str, ir.Value]:
    default = complexity.default_group or next(iter(complexity.groups))
    branches = [(_all(t, rule.when), rid) for rid, rule in complexity.rules.items()]
    rule = ibis.cases(*branches, else_=ibis.literal(None, "string"))
    groups = {rid: r.group for rid, r in complexity.rules.items()}
    texts = {rid: f"rule {i}: {r.label or describe_conditions(r.when)}"
             for i, (rid, r) in enumerate(complexity.rules.items(), start=1)}
    return {
        "complexity_group": rule.substitute(groups, else_=default),
        "rule_id": ibis.ifelse(rule.isnull(), "complexity.default_group", "complexity.rules." + rule),
        "rule_text": rule.substitute(texts, else_=f"no rule matched: default group {default}"),
        "points": ibis.null("int64"),
    }


def complexity_groups(episodes: ir.Table, assessments: ir.Table, complexity: Complexity) -> ir.Table:
    """One row per episode: the assessment used, the computed group, the rule that fired, the recorded group and
    whether they agree; ordered by episode id."""
    t = latest_assessment(episodes, assessments)
    computed = _by_points(t, complexity.points) if complexity.points else _by_rules(t, complexity)
    assessed = t.assessment_id.notnull()
    recorded = t.recorded_group.strip().lower()
    recorded = ibis.ifelse(recorded == "", ibis.null(str), recorded)
    group = ibis.ifelse(assessed, computed["complexity_group"], ibis.null(str))
    result = t.select(
        "episode_id",
        "client_id",
        assessment_id=t.assessment_id.cast("string"),
        assessed_on=t.assessed_on.cast("date"),
        complexity_group=group,
        rule_id=ibis.ifelse(assessed, computed["rule_id"], NO_ASSESSMENT_RULE),
        rule_text=ibis.ifelse(assessed, computed["rule_text"], NO_ASSESSMENT),
        points=ibis.ifelse(assessed, computed["points"], ibis.null("int64")),
        recorded_group=recorded,
        agrees=recorded == group,
    )
    return result.order_by("episode_id")


def grouping_of(contract: Contract) -> Complexity:
    """The contract's grouping, or an error saying the contract has none."""
    if contract.complexity is None or not (contract.complexity.points or contract.complexity.rules):
        raise ContractError(
            f"the contract for {contract.area} has no complexity grouping",
            path="complexity",
            hint="add `complexity:` with groups and points or rules (see docs/contracts.md), or assess against "
            "another contract",
        )
    return contract.complexity


def warehouse_groups(wh: Warehouse, contract: Contract) -> ir.Table:
    """The contract's complexity groups for every episode in the warehouse."""
    return complexity_groups(wh.table("episodes"), wh.table("assessments"), grouping_of(contract))


@dataclass
class AssessResult:
    """What `assess` stored and found."""

    area: str
    version: date
    episodes: int
    by_group: list[tuple[str, int]]
    no_assessment: int
    disagreements: list[dict[str, Any]] = field(default_factory=list)


def assess(wh: Warehouse, contract: Contract, *, now: datetime | None = None) -> AssessResult:
    """Group every episode and replace this contract version's rows of `complexity_groups` in one transaction."""
    rows = warehouse_groups(wh, contract)
    stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
    stored = rows.mutate(
        contract_area=ibis.literal(contract.area),
        contract_version=ibis.literal(contract.effective_from),
        evaluated_at=ibis.literal(stamp, "timestamp"),
    )
    with wh.transaction():
        wh.execute(f"DELETE FROM {TABLE} WHERE contract_area = ? AND contract_version = ?",
                   [contract.area, contract.effective_from])
        wh.insert(TABLE, stored)
    return summarise(wh, contract)


def stored_groups(wh: Warehouse, contract: Contract) -> ir.Table:
    """This contract version's rows of `complexity_groups`."""
    t = wh.table(TABLE)
    return t.filter((t.contract_area == contract.area) & (t.contract_version == contract.effective_from))


def summarise(wh: Warehouse, contract: Contract) -> AssessResult:
    """Episodes per group, episodes without assessment, and disagreements with the recorded group."""
    t = stored_groups(wh, contract)
    counts = wh.to_arrow(t.group_by("complexity_group").aggregate(n=t.count())).to_pylist()
    by_count = {r["complexity_group"]: int(r["n"]) for r in counts}
    order = [*(contract.complexity.groups if contract.complexity else []), None]
    disagree = t.filter(t.agrees == False).order_by("episode_id")  # noqa: E712 - an Ibis expression
    return AssessResult(
        area=contract.area,
        version=contract.effective_from,
        episodes=sum(by_count.values()),
        by_group=[(g, by_count.get(g, 0)) for g in order if g is not None],
        no_assessment=by_count.get(None, 0),
        disagreements=wh.to_arrow(disagree.select(*DISAGREEMENT_COLUMNS)).to_pylist(),
    )


def write_disagreements(result: AssessResult, path: Path) -> int:
    """Write the disagreements to a CSV file; the number of rows written."""
    from recoverypbr.reports.cells import safe_row  # reports import payments, which import this module

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=DISAGREEMENT_COLUMNS)
        writer.writeheader()
        writer.writerows(safe_row(row) for row in result.disagreements)
    return len(result.disagreements)
