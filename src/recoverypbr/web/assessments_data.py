"""Assessments and audits as the web app shows them, scoped to the viewer.

Assessments: the `complexity_groups` rows `recoverypbr assess` stores for the contract version (each episode's group,
the rule that fired, the group the assessor recorded and whether they agree), counted by group and rule, paged and
filtered, and the disagreements counted by provider and by (recorded, computed) pair. Audits: the samples
`recoverypbr assure sample` stores (`audit_samples`), their lines and the findings recorded on them.

Every query is one SQL statement over the whole table (no per-row loop); a provider's scope keeps the rows of its own
episodes (an episode's provider, from `episodes`), so the same functions could serve a provider's page.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from recoverypbr.assessment.grouping import TABLE, band_words
from recoverypbr.contract.model import Contract
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.web.access import Scope

#: Rows per page.
PAGE = 50
#: The filter value for episodes with no group (no assessment on or before their start).
NO_GROUP = "(none)"
ROW_COLUMNS = ("episode_id", "client_id", "provider_id", "assessment_id", "assessed_on", "complexity_group",
               "rule_id", "rule_text", "points", "recorded_group", "agrees")


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def _scoped(contract: Contract, scope: Scope) -> tuple[str, list[Any]]:
    """The FROM and WHERE of the contract version's rows the viewer may see, with the episode's provider."""
    sql = (f"FROM {TABLE} g LEFT JOIN episodes e ON e.episode_id = g.episode_id "
           "WHERE g.contract_area = ? AND g.contract_version = ?")
    params: list[Any] = [contract.area, contract.effective_from]
    if not scope.everyone:
        sql += " AND e.provider_id = ?"
        params.append(scope.provider_id)
    return sql, params


def evaluated(wh: Warehouse, contract: Contract, scope: Scope) -> tuple[int, Any]:
    """How many rows the viewer may see, and when `assess` evaluated them (None when it has not)."""
    base, params = _scoped(contract, scope)
    n, at = wh.execute(f"SELECT count(*), max(g.evaluated_at) {base}", params)[0]
    return int(n), at


def by_group(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """Episodes by computed group (the contract's order, then none), with how many disagree with the recorded one."""
    base, params = _scoped(contract, scope)
    rows = wh.execute(f"SELECT g.complexity_group, count(*), count(*) FILTER (WHERE g.agrees = false) {base} "
                      "GROUP BY g.complexity_group", params)
    order = {g: i for i, g in enumerate(contract.complexity.groups if contract.complexity else [])}
    found = [{"group": g, "label": g if g is not None else NO_GROUP, "episodes": int(n), "disagree": int(d)}
             for g, n, d in rows]
    return sorted(found, key=lambda r: (r["group"] is None, order.get(r["group"], 1 << 30), r["label"]))


def by_rule(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """Episodes by the rule that fired (its id and words) and group, most first."""
    base, params = _scoped(contract, scope)
    rows = wh.execute(f"SELECT g.rule_id, min(g.rule_text), count(DISTINCT g.rule_text), g.complexity_group, "
                      f"count(*) {base} GROUP BY g.rule_id, g.complexity_group ORDER BY count(*) DESC, g.rule_id",
                      params)
    points = contract.complexity.points if contract.complexity else None
    bands = band_words(points.bands) if points else {}
    return [{"rule_id": r, "rule_text": t if k == 1 else _rule_words(r, g, bands), "group": g if g is not None
             else NO_GROUP, "episodes": int(n)} for r, t, k, g, n in rows]


def _rule_words(rule_id: str, group: str | None, bands: dict[str, str]) -> str:
    """A rule whose words differ by episode (a points band names each episode's points): the band's words."""
    if group in bands and rule_id.startswith("complexity.points.bands."):
        return f"{bands[group]} give the {group} group (the points differ by episode)"
    return "the words differ by episode"


def _filters(group: str, rule: str, disagreements: bool) -> tuple[str, list[Any]]:
    where, params = "", []
    if group == NO_GROUP:
        where += " AND g.complexity_group IS NULL"
    elif group:
        where += " AND g.complexity_group = ?"
        params.append(group)
    if rule:
        where += " AND g.rule_id = ?"
        params.append(rule)
    if disagreements:
        where += " AND g.agrees = false"
    return where, params


def rows_page(wh: Warehouse, contract: Contract, scope: Scope, *, group: str = "", rule: str = "",
              disagreements: bool = False, page: int = 1, per_page: int = PAGE) -> Page:
    """One page of the rows (filtered by computed group and rule; only disagreements when asked), by episode."""
    base, params = _scoped(contract, scope)
    where, more = _filters(group, rule, disagreements)
    total = int(wh.execute(f"SELECT count(*) {base}{where}", [*params, *more])[0][0])
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    columns = ", ".join(f"e.{c}" if c == "provider_id" else f"g.{c}" for c in ROW_COLUMNS)
    rows = wh.execute(f"SELECT {columns} {base}{where} ORDER BY g.episode_id LIMIT {per_page} "
                      f"OFFSET {(page - 1) * per_page}", [*params, *more])
    return Page([dict(zip(ROW_COLUMNS, r, strict=True)) for r in rows], total, page, pages)


def disagreements_by_provider(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """Per provider: assessed episodes, how many disagree, and the share."""
    base, params = _scoped(contract, scope)
    rows = wh.execute(f"SELECT e.provider_id, count(*) FILTER (WHERE g.agrees IS NOT NULL), "
                      f"count(*) FILTER (WHERE g.agrees = false) {base} GROUP BY e.provider_id "
                      "ORDER BY e.provider_id NULLS LAST", params)
    return [{"provider_id": p or "unknown", "compared": int(n), "disagree": int(d),
             "share": f"{Decimal(d * 100) / n:.1f}%" if n else ""} for p, n, d in rows]


def disagreement_pairs(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """Disagreements by (recorded group, computed group), most first."""
    base, params = _scoped(contract, scope)
    rows = wh.execute(f"SELECT g.recorded_group, g.complexity_group, count(*) {base} AND g.agrees = false "
                      "GROUP BY g.recorded_group, g.complexity_group ORDER BY count(*) DESC, 1, 2", params)
    return [{"recorded": r, "computed": c, "episodes": int(n)} for r, c, n in rows]


# --- Audits ----------------------------------------------------------------------------------------------------------


def samples(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """The contract's recorded audit samples, latest first, with their lines, pounds and findings so far (a
    provider's scope counts only its own lines)."""
    where, params = "", [contract.area, contract.effective_from]
    if not scope.everyone:
        where = " AND l.provider_id = ?"
        params.append(scope.provider_id)
    rows = wh.execute(
        "SELECT s.sample_id, s.period_label, s.as_of, s.seed, s.size, s.recorded_at, s.design, "
        "count(l.line_no), coalesce(sum(l.amount_pence), 0), count(f.finding_id), "
        "count(f.finding_id) FILTER (WHERE f.verdict = 'not_upheld'), "
        "coalesce(sum(f.amount_pence) FILTER (WHERE f.verdict = 'not_upheld'), 0) "
        "FROM audit_samples s LEFT JOIN audit_sample_lines l ON l.sample_id = s.sample_id" + where +
        " LEFT JOIN audit_findings f ON f.sample_id = l.sample_id AND f.line_no = l.line_no "
        "WHERE s.contract_area = ? AND s.contract_version = ? GROUP BY ALL ORDER BY s.recorded_at DESC, s.sample_id",
        [*params[2:], *params[:2]])
    found = []
    for sid, period, as_of, seed, size, at, design, lines, pence, audited, wrong, wrong_pence in rows:
        method = ""
        with contextlib.suppress(ValueError):
            method = str(json.loads(design).get("method", ""))
        found.append({"sample_id": sid, "period": period, "as_of": as_of, "seed": seed, "size": size,
                      "recorded_at": at, "method": method, "lines": int(lines), "pounds": Decimal(int(pence)) / 100,
                      "audited": int(audited), "not_upheld": int(wrong),
                      "not_upheld_pounds": Decimal(int(wrong_pence)) / 100})
    return found


SAMPLE_LINE_COLUMNS = ("line_no", "statement_id", "statement_line", "kind", "provider_id", "client_id", "episode_id",
                       "outcome_id", "complexity_group", "amount_pence", "stratum", "inclusion_probability",
                       "finding_id", "verdict", "reason", "recorded_by", "recorded_on")


def sample_lines(wh: Warehouse, contract: Contract, scope: Scope, sample_id: str, page: int = 1,
                 per_page: int = PAGE) -> Page:
    """One page of a sample's lines with the finding on each (if any)."""
    where, params = "", [sample_id, contract.area, contract.effective_from]
    if not scope.everyone:
        where = " AND l.provider_id = ?"
        params.append(scope.provider_id)
    base = ("FROM audit_sample_lines l JOIN audit_samples s ON s.sample_id = l.sample_id "
            "LEFT JOIN audit_findings f ON f.sample_id = l.sample_id AND f.line_no = l.line_no "
            "WHERE l.sample_id = ? AND s.contract_area = ? AND s.contract_version = ?" + where)
    total = int(wh.execute(f"SELECT count(*) {base}", params)[0][0])
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    columns = ", ".join(f"f.{c}" if c in ("finding_id", "verdict", "reason", "recorded_by", "recorded_on")
                        else f"l.{c}" for c in SAMPLE_LINE_COLUMNS)
    rows = wh.execute(f"SELECT {columns} {base} ORDER BY l.line_no LIMIT {per_page} OFFSET {(page - 1) * per_page}",
                      params)
    found = []
    for r in rows:
        row = dict(zip(SAMPLE_LINE_COLUMNS, r, strict=True))
        row["amount"] = Decimal(int(row.pop("amount_pence"))) / 100
        found.append(row)
    return Page(found, total, page, pages)


def findings(wh: Warehouse, contract: Contract, scope: Scope) -> list[dict[str, Any]]:
    """Every finding recorded for the contract's area, latest first."""
    sql = ("SELECT finding_id, sample_id, line_no, period_label, provider_id, client_id, outcome_id, amount_pence, "
           "verdict, reason, recorded_by, recorded_on FROM audit_findings WHERE contract_area = ?")
    params: list[Any] = [contract.area]
    if not scope.everyone:
        sql += " AND provider_id = ?"
        params.append(scope.provider_id)
    keys = ("finding_id", "sample_id", "line_no", "period", "provider_id", "client_id", "outcome_id", "amount",
            "verdict", "reason", "recorded_by", "recorded_on")
    found = []
    for r in wh.execute(sql + " ORDER BY recorded_on DESC, finding_id DESC", params):
        row = dict(zip(keys, r, strict=True))
        row["amount"] = Decimal(int(row["amount"])) / 100
        found.append(row)
    return found
