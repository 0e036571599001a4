"""Cross-field validation of a contract: every problem at once, each with where, what and how to fix it.

`validate(contract)` runs every rule and returns a `Report`. The rules on money are here; the rules on references
and code lists are in `references.py`. A problem's `path` is where in the file (`outcomes.abstinence.tariffs.high`);
its `hint` says what to change.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from recoverypbr.contract.model import Contract, Limit
from recoverypbr.contract.outcomes import OffendingCohortReduction, OutcomeCommon, ReliableChange
from recoverypbr.contract.types import (
    ALL_GROUPS,
    DOMAIN_NAMES,
    WHOLE_CONTRACT,
    change_dates,
    percent,
    pounds,
    tariff_on,
    value_on,
)

#: The nationally agreed rule: reliable change carries at most this share of the "free from drug(s) of
#: dependence" domain's money.
RELIABLE_CHANGE_MAX_SHARE = Decimal("0.2")
ONE = Decimal(1)
Dated = Mapping[date, Decimal]
Table = Mapping[str, Dated]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a contract."""

    path: str
    """Where in the file, as dotted keys (list items by number from 0)."""
    message: str
    """What is wrong."""
    hint: str
    """How to fix it."""
    rule: str
    """The rule broken (see docs/contracts.md)."""
    line: int | None = None
    """The line in the YAML file, when known."""

    def where(self, source: str = "") -> str:
        place = f"{source}:{self.line}" if source and self.line else (f"line {self.line}" if self.line else "")
        return " ".join(part for part in (place, self.path) if part)


@dataclass
class Report:
    """Every problem found in one contract file."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def suggest(name: str, known: Collection[str]) -> str:
    """" Did you mean 'x'?" when a known name is close, else ""."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def known_list(known: Iterable[str]) -> str:
    return ", ".join(f"'{k}'" for k in known) or "(none declared)"


def dated_path(path: str, since: date) -> str:
    return path if since == WHOLE_CONTRACT else f"{path}.{since.isoformat()}"


def group_path(path: str, group: str) -> str:
    return path if group == ALL_GROUPS else f"{path}.{group}"


# --- Where the figures are -------------------------------------------------------------------------------


def tariff_tables(c: Contract) -> Iterator[tuple[str, Table]]:
    """(path, table) of every table priced by complexity group."""
    for oid, outcome in c.outcomes.items():
        if isinstance(outcome, OutcomeCommon):
            if outcome.tariffs is not None:
                yield f"outcomes.{oid}.tariffs", outcome.tariffs
            if outcome.stock_tariffs is not None:
                yield f"outcomes.{oid}.stock_tariffs", outcome.stock_tariffs
    if c.attachment_fees:
        for kind in ("flow", "stock"):
            table = getattr(c.attachment_fees, kind)
            if table is not None:
                yield f"attachment_fees.{kind}", table
    for iid, incentive in c.incentives.items():
        yield f"incentives.{iid}.amount", incentive.amount


def money_fields(c: Contract) -> Iterator[tuple[str, Dated]]:
    """(path, dated amount) of every amount of money in the contract."""
    yield "budget", c.budget
    for path, table in tariff_tables(c):
        for group, dated in table.items():
            yield group_path(path, group), dated
    for oid, outcome in c.outcomes.items():
        if isinstance(outcome, OffendingCohortReduction):
            yield f"outcomes.{oid}.amount", outcome.amount
    for fid, funnel in c.funnels.items():
        for mid, milestone in funnel.milestones.items():
            if milestone.payment:
                yield f"funnels.{fid}.milestones.{mid}.payment.unit_price", milestone.payment.unit_price
                if milestone.payment.maximum is not None:
                    yield f"funnels.{fid}.milestones.{mid}.payment.maximum", milestone.payment.maximum
    for kind, limits in (("caps", c.caps), ("floors", c.floors)):
        for lid, limit in limits.items():
            yield f"{kind}.{lid}.amount", limit.amount
    for fid, fund in c.funds.items():
        yield f"funds.{fid}.amount", fund.amount


def share_fields(c: Contract) -> Iterator[tuple[str, Decimal]]:
    """(path, share) of every share in the contract."""
    for since, share in c.share_on_results.items():
        yield dated_path("share_on_results", since), share
    yield from (("weights." + domain, share) for domain, share in c.weights.items())
    yield from _shares_in("attribution.split", c.attribution.split)
    for oid, outcome in c.outcomes.items():
        yield from _shares_in(f"outcomes.{oid}.split", outcome.split)
        if outcome.weight is not None:
            yield f"outcomes.{oid}.weight", outcome.weight
        if isinstance(outcome, OutcomeCommon):
            yield from _shares_in(f"outcomes.{oid}.baseline_rates", outcome.baseline_rates)
        if isinstance(outcome, OffendingCohortReduction):
            yield f"outcomes.{oid}.target_reduction", outcome.target_reduction
        if isinstance(outcome, ReliableChange) and outcome.reliability is not None:
            yield f"outcomes.{oid}.reliability", outcome.reliability
    for iid, incentive in c.incentives.items():
        yield from _shares_in(f"incentives.{iid}.split", incentive.split)
    if c.lasars.audit and c.lasars.audit.sample is not None:
        yield "lasars.audit.sample", c.lasars.audit.sample


def _shares_in(path: str, shares: Mapping[str, Decimal]) -> Iterator[tuple[str, Decimal]]:
    return ((f"{path}.{key}", share) for key, share in shares.items())


# --- Rules -----------------------------------------------------------------------------------------------


def years_contiguous(c: Contract) -> Iterator[Problem]:
    """Each year ends after it starts, and starts the day after the previous one ends."""
    if not c.years:
        yield Problem("years", "the contract has no years", "add `years:` with each year's start and end dates",
                      "years")
    for i, year in enumerate(c.years):
        if year.end < year.start:
            yield Problem(f"years.{i}.end", f"{c.year_label(i)} ends ({year.end}) before it starts ({year.start})",
                          "swap the dates or correct the end date", "years")
        previous = c.years[i - 1] if i else None
        if previous and previous.start <= previous.end and year.start != previous.end + timedelta(days=1):
            expected = c.years[i - 1].end + timedelta(days=1)
            gap = "overlaps" if year.start <= c.years[i - 1].end else "leaves a gap after"
            yield Problem(f"years.{i}.start", f"{c.year_label(i)} starts on {year.start}, which {gap} "
                          f"{c.year_label(i - 1)} (ending {c.years[i - 1].end})",
                          f"start {c.year_label(i)} on {expected}, the day after the previous year ends", "years")


def effective_within_years(c: Contract) -> Iterator[Problem]:
    """The version takes effect within the contract's years."""
    if c.years and not c.start <= c.effective_from <= c.end:
        yield Problem("effective_from", f"this version takes effect on {c.effective_from}, outside the contract "
                      f"({c.start} to {c.end})", f"set effective_from to a date from {c.start} to {c.end}", "years")


def dated_values_in_force(c: Contract) -> Iterator[Problem]:
    """Every dated value has a value in force on the day the contract starts."""
    if not c.years:
        return
    fields = [*money_fields(c), ("share_on_results", c.share_on_results)]
    for path, dated in fields:
        first = min(dated) if dated else None
        if first is None or first > c.start:
            yield Problem(path, f"no value is in force on {c.start}, when the contract starts"
                          + (f" (the first is dated {first})" if first else ""),
                          f"add a value dated {c.start}, or give one value for the whole contract", "dated_values")


def _window_starts(c: Contract, kind: str) -> str:
    """The days a window of `kind` may start on, in words."""
    return {"month": "the first of a month", "quarter": "the first day of a calendar quarter (1 January, 1 April, "
            "1 July or 1 October)", "year": "a contract year's start", "contract": "the contract's start"}[kind]


def _starts_window(c: Contract, kind: str, day: date) -> bool:
    if kind == "month":
        return day.day == 1
    if kind == "quarter":
        return day.day == 1 and day.month in (1, 4, 7, 10)
    return kind == "year" and any(y.start == day for y in c.years)


def _windowed_values(c: Contract) -> Iterator[tuple[str, str, Dated]]:
    """(path, window kind, dated value) of every value counted over a window: budget and share on results per
    contract year, milestone maxima per contract year, caps and floors per their period."""
    yield "budget", "year", c.budget
    yield "share_on_results", "year", c.share_on_results
    for fid, funnel in c.funnels.items():
        for mid, milestone in funnel.milestones.items():
            if milestone.payment is not None and milestone.payment.maximum is not None:
                yield f"funnels.{fid}.milestones.{mid}.payment.maximum", "year", milestone.payment.maximum
    for kind, limits in (("caps", c.caps), ("floors", c.floors)):
        for lid, limit in limits.items():
            yield f"{kind}.{lid}.amount", limit.period, limit.amount
    for fid, fund in c.funds.items():
        yield f"funds.{fid}.amount", "year", fund.amount


def values_change_at_window_starts(c: Contract) -> Iterator[Problem]:
    """A value counted over a window (a cap, a floor, a maximum, the budget or the share on results) changes only
    on the first day of one of its windows: a window has one value, so a change inside it would be ignored. Years
    that are not contiguous are reported by `years_contiguous` alone."""
    if not c.years or any(years_contiguous(c)):
        return
    for path, kind, dated in _windowed_values(c):
        for since in sorted(dated):
            if c.start < since <= c.end and not _starts_window(c, kind, since):
                yield Problem(dated_path(path, since), f"the value dated {since} takes effect inside a {kind} "
                              f"window, which has one value: it would not apply until the next {kind}",
                              f"date it {_window_starts(c, kind)}, or give the {kind} its value from its start",
                              "window_values")


def shares_within_range(c: Contract) -> Iterator[Problem]:
    """Shares (share on results, splits, weights, rates) are from 0% to 100%."""
    for path, share in share_fields(c):
        if not 0 <= share <= 1:
            what = "the share paid on results" if path.startswith("share_on_results") else "a share"
            yield Problem(path, f"{what} is {percent(share)}; it must be from 0% to 100%",
                          "write a percentage from 0% to 100%, e.g. 25% (or a fraction such as 0.25)", "share_range")


def money_not_negative(c: Contract) -> Iterator[Problem]:
    """Amounts are not negative, and the budget is positive."""
    for path, dated in money_fields(c):
        for since, amount in dated.items():
            if amount < 0 or (path == "budget" and amount == 0):
                yield Problem(dated_path(path, since), f"the amount is {pounds(amount)}",
                              "amounts are pounds of 0 or more (the budget more than 0); remove the minus sign",
                              "money")


def shares_sum_to_one(c: Contract) -> Iterator[Problem]:
    """Splits between providers and weights between domains add up to 100%."""
    weights: dict[str, Decimal] = {str(domain): share for domain, share in c.weights.items()}
    groups: list[tuple[str, Mapping[str, Decimal]]] = [("attribution.split", c.attribution.split), ("weights", weights)]
    groups += [(f"outcomes.{oid}.split", o.split) for oid, o in c.outcomes.items()]
    groups += [(f"incentives.{iid}.split", i.split) for iid, i in c.incentives.items()]
    for path, shares in groups:
        total = sum(shares.values(), Decimal(0))
        if shares and total != ONE:
            yield Problem(path, f"the shares add up to {percent(total)}, not 100%",
                          f"change them so that they total 100% ({_listing(shares)})", "sum_to_one")
    yield from _outcome_weights_sum(c)


def _listing(shares: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{key} {percent(share)}" for key, share in shares.items())


def _outcome_weights_sum(c: Contract) -> Iterator[Problem]:
    for domain in DOMAIN_NAMES:
        paid = {oid: o for oid, o in c.outcomes.items() if o.domain == domain and _paid(o)}
        weighted = {oid: o.weight for oid, o in paid.items() if o.weight is not None}
        if not weighted:
            continue
        unweighted = [oid for oid in paid if oid not in weighted]
        if unweighted:
            yield Problem(f"outcomes.{unweighted[0]}.weight", f"some paid outcomes of the {DOMAIN_NAMES[domain]} "
                          f"domain have a weight and {', '.join(unweighted)} do(es) not",
                          "give every paid outcome of the domain a weight, or none", "sum_to_one")
        elif sum(weighted.values(), Decimal(0)) != ONE:
            total = sum(weighted.values(), Decimal(0))
            yield Problem(f"outcomes.{next(iter(weighted))}.weight", f"the weights of the {DOMAIN_NAMES[domain]} "
                          f"domain's outcomes add up to {percent(total)}, not 100%",
                          f"change them so that they total 100% ({_listing(weighted)})", "sum_to_one")


def _paid(outcome: object) -> bool:
    return isinstance(outcome, OffendingCohortReduction) or (
        isinstance(outcome, OutcomeCommon) and outcome.tariffs is not None
    )


def tariffs_cover_groups(c: Contract) -> Iterator[Problem]:
    """Every tariff table has an amount for every complexity group (or one amount for all)."""
    groups = c.group_ids
    for path, table in tariff_tables(c):
        yield from _covers(path, table, groups, "amount")
    for oid, outcome in c.outcomes.items():
        if isinstance(outcome, OutcomeCommon) and outcome.basis == "cohort" and outcome.baseline_rates:
            yield from _covers(f"outcomes.{oid}.baseline_rates", outcome.baseline_rates, groups, "rate")


def _covers(path: str, table: Mapping[str, object], groups: list[str], what: str) -> Iterator[Problem]:
    if set(table) == {ALL_GROUPS}:
        return
    for key in table:
        if key not in groups:
            hint = f"use the groups declared under complexity.groups ({known_list(groups)}){suggest(key, groups)}"
            if key == ALL_GROUPS:
                hint = "give either one amount for every group, or one per group, not both"
            yield Problem(f"{path}.{key}", f"'{key}' is not a complexity group of this contract", hint,
                          "tariff_groups")
    for group in groups:
        if group not in table:
            yield Problem(f"{path}.{group}", f"no {what} for complexity group '{group}'",
                          f"add `{group}: ...` under {path}, or give one {what} for every group", "tariff_groups")


def cohort_basis(c: Contract) -> Iterator[Problem]:
    """Baseline rates belong to cohort-basis outcomes, which need them."""
    for oid, outcome in c.outcomes.items():
        if not isinstance(outcome, OutcomeCommon):
            continue
        if outcome.basis == "cohort" and not outcome.baseline_rates:
            yield Problem(f"outcomes.{oid}.baseline_rates", "a cohort-basis outcome needs the baseline rate of "
                          "each group", "add `baseline_rates: {group: share}` from the baseline period",
                          "cohort_basis")
        if outcome.basis == "individual" and outcome.baseline_rates:
            yield Problem(f"outcomes.{oid}.baseline_rates", "baseline rates are only used with `basis: cohort`",
                          "add `basis: cohort` or remove baseline_rates", "cohort_basis")


_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


def caps_not_below_floors(c: Contract) -> Iterator[Problem]:
    """A cap is never below a floor on the same provider/outcome (amounts compared per year)."""
    for cid, cap in c.caps.items():
        for fid, floor in c.floors.items():
            if (cap.provider, cap.outcome) != (floor.provider, floor.outcome):
                continue
            problem = _cap_below_floor(c, cid, cap, fid, floor)
            if problem:
                yield problem


def _cap_below_floor(c: Contract, cid: str, cap: Limit, fid: str, floor: Limit) -> Problem | None:
    if "contract" in (cap.period, floor.period) and cap.period != floor.period:
        return None
    for on in change_dates(cap.amount, floor.amount):
        top, bottom = value_on(cap.amount, max(on, c.start)), value_on(floor.amount, max(on, c.start))
        if top is None or bottom is None:
            continue
        if top * _PER_YEAR.get(cap.period, 1) < bottom * _PER_YEAR.get(floor.period, 1):
            return Problem(f"caps.{cid}.amount", f"the cap '{cid}' ({pounds(top)} a {cap.period}) is below the "
                           f"floor '{fid}' ({pounds(bottom)} a {floor.period})",
                           f"raise the cap or lower the floor `floors.{fid}.amount` so that the cap is at least "
                           "the floor", "caps_floors")
    return None


def reliable_change_share(c: Contract) -> Iterator[Problem]:
    """Reliable change carries at most 20% of the "free from drug(s) of dependence" domain's money.

    With outcome weights, the share is reliable change's weight over the domain's weights. Without, it is
    reliable change's tariff over the sum of the domain's tariffs, for each complexity group and each tariff
    version: the share of what one client can earn in the domain that comes from reliable change."""
    paid = {oid: o for oid, o in c.outcomes.items()
            if o.domain == "free_from_dependence" and isinstance(o, OutcomeCommon) and o.tariffs is not None}
    changes = [oid for oid, o in paid.items() if isinstance(o, ReliableChange)]
    if not changes:
        return
    weights = {oid: o.weight for oid, o in paid.items() if o.weight is not None}
    if weights:
        yield from _weighted_share(changes, weights, len(weights) == len(paid))
        return
    for group in c.group_ids:
        yield from _tariff_share(c, paid, changes, group)


def _too_much(share: Decimal, detail: str = "") -> str:
    return (f"reliable change carries {percent(share)} of the money for the free from drug(s) of dependence "
            f"domain{detail}; the national rule allows at most 20%")


def _weighted_share(changes: list[str], weights: Mapping[str, Decimal], complete: bool) -> Iterator[Problem]:
    total = sum(weights.values(), Decimal(0))
    share = sum((weights.get(oid, Decimal(0)) for oid in changes), Decimal(0)) / total if total else Decimal(0)
    if complete and share > RELIABLE_CHANGE_MAX_SHARE:
        yield Problem(f"outcomes.{changes[0]}.weight", _too_much(share),
                      "reduce its weight to 20% or less of the domain and move the rest to sustained recovery "
                      "(abstinence, completion, no re-presentation), so 80% or more is on sustained recovery",
                      "reliable_change_share")


def _tariff_share(c: Contract, paid: Mapping[str, OutcomeCommon], changes: list[str], group: str
                  ) -> Iterator[Problem]:
    tables = [o.tariffs for o in paid.values() if o.tariffs is not None]
    for on in change_dates(*(dated for table in tables for dated in table.values())):
        on = max(on, c.start)
        amounts = {oid: tariff_on(o.tariffs, group, on) or Decimal(0) for oid, o in paid.items() if o.tariffs}
        change = sum((amounts[oid] for oid in changes), Decimal(0))
        total = sum(amounts.values(), Decimal(0))
        if min(amounts.values()) < 0:
            return  # reported by money_not_negative
        if total and change / total > RELIABLE_CHANGE_MAX_SHARE:
            allowed = (total - change) / 4
            who = "a client" if group == ALL_GROUPS else f"a client in group '{group}'"
            detail = f" ({pounds(change)} of the {pounds(total)} {who} can earn in it)"
            yield Problem(group_path(f"outcomes.{changes[0]}.tariffs", group), _too_much(change / total, detail),
                          f"reduce the reliable change tariff to {pounds(allowed.quantize(Decimal('0.01')))} or "
                          "less, raise the sustained-recovery tariffs, or state outcome weights "
                          "(see docs/contracts.md)", "reliable_change_share")
            return


def positive_counts(c: Contract) -> Iterator[Problem]:
    """Windows, days and factors are positive."""
    for oid, outcome in c.outcomes.items():
        window = getattr(outcome, "window_months", None)
        if window is not None and window < 1:
            yield Problem(f"outcomes.{oid}.window_months", f"the window is {window} months",
                          "give a window of 1 month or more (national: 12)", "positive")
        step = getattr(outcome, "by_at_least", None)
        if step is not None and step < 1:
            yield Problem(f"outcomes.{oid}.by_at_least", f"an improvement of {step} is no improvement",
                          "give the smallest change that counts, 1 or more", "positive")
    for iid, incentive in c.incentives.items():
        if incentive.within_days < 0:
            yield Problem(f"incentives.{iid}.within_days", "the days allowed between services are negative",
                          "give 0 or more days", "positive")
    for uid, uplift in c.uplifts.items():
        if uplift.factor <= 0:
            yield Problem(f"uplifts.{uid}.factor", f"the factor is {uplift.factor}",
                          "give a multiplier above 0, e.g. 1.25 for 25% more", "positive")
    if c.payment_schedule.arrears_months < 0:
        yield Problem("payment_schedule.arrears_months", "payment cannot be made before the period ends",
                      "give 0 or more months in arrears", "positive")


Check = Callable[[Contract], Iterable[Problem]]

MONEY_RULES: tuple[Check, ...] = (
    years_contiguous,
    effective_within_years,
    dated_values_in_force,
    values_change_at_window_starts,
    shares_within_range,
    money_not_negative,
    shares_sum_to_one,
    tariffs_cover_groups,
    cohort_basis,
    caps_not_below_floors,
    reliable_change_share,
    positive_counts,
)


def validate(c: Contract) -> list[Problem]:
    """Every problem the rules find, in rule order."""
    from recoverypbr.contract.references import REFERENCE_RULES

    return [problem for rule in (*MONEY_RULES, *REFERENCE_RULES) for problem in rule(c)]
