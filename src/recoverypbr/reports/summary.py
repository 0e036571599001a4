"""The people-facing summary of a statement, as titled tables both the XLSX and the PDF writers lay out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recoverypbr.payments.statements import KIND_WORDS


@dataclass(frozen=True)
class Section:
    """A titled table: a header row and rows of text or numbers (`money` columns hold pounds as text)."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    money: tuple[int, ...] = ()


def grouped(amount: str | None) -> str:
    """Pounds as text with thousands separators for people: `1234567.50` -> `1,234,567.50`."""
    if amount in (None, ""):
        return ""
    whole, _, pennies = str(amount).partition(".")
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return f"{sign}{int(digits):,}.{pennies}"


def heading(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs that open the statement."""
    contract, provider, period = document["contract"], document["provider"], document["period"]
    status = document["status"]
    if status == "approved":
        status = f"approved by {document['approved_by']} on {document['approved_at']}"
    return [
        ("Contract", f"{contract['area']}: {contract['title']} (version {contract['version']})"),
        ("Provider", f"{provider['name']} ({provider['id']})"),
        ("Period", f"{period['label']}: {period['start']} to {period['end']}"),
        ("Data as of", document["as_of"]),
        ("Status", status),
        ("Statement", document["statement_id"]),
        ("Fingerprint", document["fingerprint"]),
        ("Program", document["program_version"]),
    ]


def sections(document: dict[str, Any]) -> list[Section]:
    """Totals, year to date, predicted against actual, and unpriced outcomes (those that apply)."""
    totals = document["totals"]
    found = [
        Section(
            "Totals",
            ("What", "Amount (GBP)"),
            [*((KIND_WORDS[k], v) for k, v in totals["by_kind"].items()), ("Total", totals["total"])],
            money=(1,),
        )
    ]
    ytd = document["year_to_date"]
    rows: list[tuple[Any, ...]]
    if ytd:
        rows = [(f"Period {p['period']} ({p['status']}), without adjustments", p["total"]) for p in ytd["periods"]]
        rows.append(("Adjustments so far to this year's periods", ytd["adjustments_to_this_year"]))
        rows.append(("Paid to this provider for this year so far", ytd["paid_to_date"]))
        if ytd["adjustments_to_earlier_years"] != "0.00":
            rows.append(("Adjustments to earlier years' periods, in this year's statements",
                         ytd["adjustments_to_earlier_years"]))
        if ytd["budget"] is not None:
            rows.append(("Contract budget for the year (all providers)", ytd["budget"]))
        if ytd["results_pot"] is not None:
            rows.append((f"Results money for the year (all providers): {ytd['share_on_results']} of the budget",
                         ytd["results_pot"]))
        for fund in ytd.get("funds", []):
            rows.append((f"Paid to this provider this year from the fund '{fund['fund']}' ({fund['label']})",
                         fund["paid_to_date"]))
            rows.append((f"The fund '{fund['fund']}' for the year (all providers), outside the results money",
                         fund["pot"]))
        found.append(Section(f"Year to date: {ytd['year']} ({ytd['start']} to {ytd['end']})",
                             ("What", "Amount (GBP)"), rows, money=(1,)))
    if document.get("reliable_change_share"):
        rows = [(r["whose"], r["reliable_change"], r["domain"], r["share"]) for r in document["reliable_change_share"]]
        found.append(Section("Reliable change's share of the free from drug(s) of dependence money earned this "
                             "period (the national rule: at most 20%)",
                             ("Whose", "Reliable change (GBP)", "The domain (GBP)", "Share"), rows, money=(1, 2)))
    if document.get("funnel_year"):
        rows = [(r["funnel"], r["label"], r["predicted_year"], r["predicted_to_date"], r["actual_to_date"],
                 r["unit_price"] or "", r["maximum"] or "") for r in document["funnel_year"]]
        found.append(Section("Funnels: the year to date against each milestone's prediction (all providers)",
                             ("Funnel", "Milestone", "Predicted this year", "Predicted to date", "Actual to date",
                              "Price per payment point (GBP)", "Maximum this year (GBP)"), rows, money=(5, 6)))
    if document["funnel"]:
        rows = [(r["funnel"], r["label"], r["month"], r["predicted"], r["actual"], r["actual"] - r["predicted"])
                for r in document["funnel"]]
        found.append(Section("Predicted against actual clients, month by month (the whole funnel, all providers)",
                             ("Funnel", "Milestone", "Month", "Predicted", "Actual", "Difference"), rows))
    if document["unpriced"]:
        rows = [(u.get("client_id"), u.get("episode_id"), u.get("outcome_id"), u.get("complexity_group"),
                 u.get("achieved_on") or u.get("payable_on"), u.get("why")) for u in document["unpriced"]]
        found.append(Section("Due but not paid (no amount found): to be resolved",
                             ("Client", "Episode", "Outcome", "Group", "Date", "Why"), rows))
    if document["notes"]:
        found.append(Section("Notes", ("Note",), [(n,) for n in document["notes"]]))
    return found
