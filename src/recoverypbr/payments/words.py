"""A payment line's reference in plain words, for the people who read a statement.

A line's `reference` is the contract path of what priced it, with the date its value took effect
(`outcomes.abstinence.tariffs.low@2013-04-01`; no date when the value holds for the whole contract) and any factor
applied (` x uplifts.whole_family=1.25`, ` x pro_rata 10%/25%`). `reference_words` reads that reference back against
the contract, so the words can never say something the path does not: "Abstinence, low complexity, £300.00
(contract 2012-04-01)". Labels come from the contract (outcome, milestone, funnel, fund, incentive and limit
labels), amounts from the value at that path on that date, in pounds and pence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

from recoverypbr.contract.explain import outcome_label, words
from recoverypbr.contract.model import Contract, Limit
from recoverypbr.contract.types import ALL_GROUPS, DOMAIN_NAMES, WHOLE_CONTRACT, percent, value_on
from recoverypbr.payments.limits import FUNDS, SHARE_ON_RESULTS, at_risk_values
from recoverypbr.payments.money import pence, pounds

_WINDOWS = {"month": "monthly", "quarter": "quarterly", "year": "yearly", "contract": "whole-contract"}


def money(amount: Decimal | None) -> str:
    """£1,234.50 (pounds and pence, rounded to the penny by the one rounding rule); "" when there is no amount."""
    if amount is None:
        return ""
    value = pounds(pence(amount))
    return f"-£{-value:,}" if value < 0 else f"£{value:,}"


def reference_words(contract: Contract, reference: str, kind: str = "") -> str:
    """The line's reference in words. `kind` is the line's kind: a cohort-basis line pays its tariff per
    achievement above the baseline, and an adjustment line corrects a line of that reference."""
    if kind == "adjustment":
        return f"Adjustment to an approved statement: {reference_words(contract, reference)}"
    base, *factors = reference.split(" x ")
    path, _, dated = base.partition("@")
    since = date.fromisoformat(dated) if dated else WHOLE_CONTRACT
    parts = path.split(".")
    said = _SECTIONS.get(parts[0], _unknown)(contract, parts, since, kind)
    shown = "".join(f" x {_factor(contract, factor)}" for factor in factors)
    when = f"from {since.isoformat()}, " if since != WHOLE_CONTRACT else ""
    return f"{said}{shown} ({when}contract {contract.effective_from.isoformat()})"


def _on(dated: Mapping[date, Decimal] | None, since: date) -> Decimal | None:
    """The value that took effect on `since` (or, failing that, the one in force that day)."""
    if not dated:
        return None
    return dated[since] if since in dated else value_on(dated, since)


def _with_amount(text: str, amount: Decimal | None, each: str = "") -> str:
    return f"{text}, {money(amount)}{each}" if amount is not None else text


def _capital(text: str) -> str:
    """The text with its first letter capital, as it opens the words: `employment` -> "Employment"."""
    return text[:1].upper() + text[1:]


def _group(group: str) -> str:
    return "every complexity group" if group == ALL_GROUPS else f"{words(group)} complexity"


def _outcomes(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    oid = parts[1] if len(parts) > 1 else ""
    outcome = contract.outcomes.get(oid)
    label = _capital(outcome_label(oid, outcome) if outcome is not None else words(oid))
    field = parts[2] if len(parts) > 2 else ""
    if field in ("tariffs", "stock_tariffs") and len(parts) > 3:
        table = getattr(outcome, field, None) or {}
        stock = ", client in treatment at go-live (stock)" if field == "stock_tariffs" else ""
        each = " per achievement above the cohort's baseline" if kind == "cohort" else ""
        return _with_amount(f"{label}, {_group(parts[3])}{stock}", _on(table.get(parts[3]), since), each)
    if field == "amount":
        return _with_amount(f"{label}, cohort payment", _on(getattr(outcome, "amount", None), since))
    return label


def _funnels(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    funnel = contract.funnels.get(parts[1]) if len(parts) > 1 else None
    milestone = funnel.milestones.get(parts[3]) if funnel is not None and len(parts) > 3 else None
    if funnel is None or milestone is None:
        return _unknown(contract, parts, since, kind)
    payment = milestone.payment
    if parts[-1] == "maximum":
        return _with_amount(f"Cap: the most paid a contract year for the milestone '{milestone.label}' "
                            f"({funnel.label})", _on(payment.maximum if payment else None, since))
    return _with_amount(f"Payment point: {funnel.label}, {milestone.label}",
                        _on(payment.unit_price if payment else None, since), " each")


def _attachment_fees(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    fees = contract.attachment_fees
    field, group = (parts[1], parts[2]) if len(parts) > 2 else ("", "")
    table = getattr(fees, field, None) or {}
    who = {"flow": "new client (flow)", "stock": "client in treatment at go-live (stock)"}.get(field, words(field))
    return _with_amount(f"Attachment fee, {who}, {_group(group)}", _on(table.get(group), since))


def _incentives(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    iid = parts[1] if len(parts) > 1 else ""
    incentive = contract.incentives.get(iid)
    group = parts[3] if len(parts) > 3 else ALL_GROUPS
    label = (incentive.label if incentive is not None and incentive.label else words(iid))
    table = incentive.amount if incentive is not None else {}
    return _with_amount(f"Incentive: {label}, {_group(group)}", _on(table.get(group), since))


def _limit(kind: str) -> Callable[[Contract, list[str], date, str], str]:
    """Words for a cap's or a floor's line: whose, over what window, how much."""

    def said(contract: Contract, parts: list[str], since: date, line_kind: str) -> str:
        limits: Mapping[str, Limit] = contract.caps if kind == "cap" else contract.floors
        limit = limits.get(parts[1]) if len(parts) > 1 else None
        if limit is None:
            return _unknown(contract, parts, since, line_kind)
        whose = f"provider {limit.provider}'s " if limit.provider else "overall " if not limit.outcome else ""
        on = ""
        if limit.outcome:
            outcome = contract.outcomes.get(limit.outcome)
            on = f" on {outcome_label(limit.outcome, outcome) if outcome is not None else words(limit.outcome)}"
        why = f" ({limit.label})" if limit.label else ""
        return _with_amount(f"{kind.capitalize()}: {whose}{_WINDOWS[limit.period]} {kind}{on}{why}",
                            _on(limit.amount, since))

    return said


def _funds(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    fund = contract.funds.get(parts[1]) if len(parts) > 1 else None
    if fund is None:
        return _unknown(contract, parts, since, kind)
    return _with_amount(f"Cap: the fund '{parts[1]}' ({fund.label}) for a contract year", _on(fund.amount, since))


def _weights(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    domain = parts[1] if len(parts) > 1 else ""
    weight = contract.weights.get(domain)  # type: ignore[call-overload]
    if weight is None:
        return _unknown(contract, parts, since, kind)
    pot = _on(at_risk_values(contract), since)
    return _with_amount(f"Cap: the {DOMAIN_NAMES.get(domain, words(domain))} domain's {percent(weight)} of a "
                        "contract year's results money", None if pot is None else pot * weight)


def _share_on_results(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    budget, share = _on(contract.budget, since), _on(contract.share_on_results, since)
    if budget is None or share is None:
        return "Cap: a contract year's results money (the share of the budget paid on results)"
    return _with_amount(f"Cap: a contract year's results money, budget {money(budget)} x {percent(share)} paid on "
                        "results", budget * share)


def _unknown(contract: Contract, parts: list[str], since: date, kind: str) -> str:
    """A path these words do not know (say, of a newer program's statement): its parts in words."""
    return ", ".join(words(part) for part in parts if part)


def _factor(contract: Contract, factor: str) -> str:
    """` x uplifts.whole_family=1.25` -> "1.25 (uplift: whole family)"; ` x pro_rata 10%/25%` -> words."""
    if factor.startswith("uplifts."):
        uid, _, value = factor[len("uplifts.") :].partition("=")
        uplift = contract.uplifts.get(uid)
        label = uplift.label if uplift is not None and uplift.label else words(uid)
        return f"{value} (uplift: {label})"
    if factor.startswith("pro_rata "):
        fell, _, target = factor[len("pro_rata ") :].partition("/")
        return f"{fell} fall / {target} target (paid pro rata)"
    return factor


_SECTIONS: dict[str, Callable[[Contract, list[str], date, str], str]] = {
    "outcomes": _outcomes,
    "funnels": _funnels,
    "attachment_fees": _attachment_fees,
    "incentives": _incentives,
    "caps": _limit("cap"),
    "floors": _limit("floor"),
    FUNDS: _funds,
    "weights": _weights,
    SHARE_ON_RESULTS: _share_on_results,
}
