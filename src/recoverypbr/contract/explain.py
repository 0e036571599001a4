"""A contract in plain English, the way the pilots' lessons describe a design: who is paid for what, how much is at
risk each year, how clients are grouped, what is paid and when, caps and floors.

Everything is read from the model, so the account is the contract the engine runs, not a summary written beside
it. `explain(contract)` returns the text; `sections(contract)` the (heading, paragraphs) it is made of.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from recoverypbr.contract.model import Condition, Contract, Incentive, Limit, Milestone
from recoverypbr.contract.outcomes import (
    Abstinence,
    AllOf,
    AnyOf,
    CeasedInjecting,
    DischargeIn,
    EventRecorded,
    HepatitisBCourse,
    ImprovedHousing,
    NoEventInWindow,
    NoOffending6m,
    NoOffending12m,
    NoRepresentation,
    OffendingCohortReduction,
    Outcome,
    OutcomeCommon,
    QualityOfLife,
    ReliableChange,
    SuccessfulCompletion,
    TopImprovement,
    TopThreshold,
)
from recoverypbr.contract.types import ALL_GROUPS, DOMAIN_NAMES, dated_versions, percent, pounds

Section = tuple[str, list[str]]


def words(name: str) -> str:
    """A code or column name in words: `injecting_status` -> "injecting status"."""
    return name.replace("_", " ")


def day(on: date) -> str:
    return f"{on.day} {on:%B %Y}"


def listing(items: list[str], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def dated_money(dated: Mapping[date, Decimal]) -> str:
    """£450, or "£450 (from 1 April 2013: £500)"."""
    versions = dated_versions(dated)
    first = pounds(versions[0][1])
    later = [f"from {day(since)}: {pounds(value)}" for since, value in versions[1:]]
    return f"{first} ({'; '.join(later)})" if later else first


def tariff_words(table: Mapping[str, Mapping[date, Decimal]]) -> str:
    if set(table) == {ALL_GROUPS}:
        return f"{dated_money(table[ALL_GROUPS])} for every client"
    return ", ".join(f"{group} {dated_money(dated)}" for group, dated in table.items())


def describe_condition(cond: Condition) -> str:
    """"injecting status is current", "years of use is at least 10", "parent or carer is yes"."""
    field = words(cond.field)
    if cond.one_of is not None:
        return f"{field} is one of {listing([words(v) for v in cond.one_of], 'or')}"
    if cond.at_least is not None:
        return f"{field} is at least {cond.at_least}"
    if cond.at_most is not None:
        return f"{field} is at most {cond.at_most}"
    if isinstance(cond.equals, bool):
        return f"{field} is {'yes' if cond.equals else 'no'}"
    return f"{field} is {words(str(cond.equals))}"


def describe_conditions(conditions: list[Condition]) -> str:
    return listing([describe_condition(c) for c in conditions])


def outcome_label(oid: str, outcome: Outcome) -> str:
    return outcome.label or outcome.title or words(oid)


# --- Sections ---------------------------------------------------------------------------------------------


def _header(c: Contract) -> Section:
    lines = [f"Version in force from {day(c.effective_from)}."]
    if c.feature:
        lines.append(f"Distinguishing feature: {c.feature}")
    return f"{c.area}: {c.title}", lines


def _money(c: Contract) -> Section:
    lines = [f"{len(c.years)} contract year{'s' if len(c.years) != 1 else ''}, from {day(c.start)} to {day(c.end)}."]
    for i, year in enumerate(c.years):
        budget, at_risk = _in_force(c.budget, year.start), c.at_risk(year.start)
        share = _in_force(c.share_on_results, year.start)
        if budget is not None and share is not None and at_risk is not None:
            lines.append(f"{c.year_label(i).capitalize()} ({day(year.start)} to {day(year.end)}): budget "
                         f"{pounds(budget)}, {percent(share)} paid on results, so {pounds(at_risk)} is at risk.")
    first = year_figures(c, 0) if c.years else {}
    if c.weights:
        split = ", ".join(f"{DOMAIN_NAMES[d]} {percent(s)}" for d, s in c.weights.items())
        lines.append(f"Outcome money by domain: {split}. Each domain's outcomes earn at most its share of the "
                     "year's results money (a cap per contract year).")
    if c.weights and "results_money" in first:
        amounts = ", ".join(f"{DOMAIN_NAMES[d]} {pounds(first[f'weights.{d}'])}" for d in c.weights)
        lines.append(f"In {c.year_label(0)} that is at most {amounts}.")
        lines += _unreachable_domains(c, c.start)
    for fid, fund in c.funds.items():
        paid = [outcome_label(oid, o) for oid, o in c.outcomes.items() if o.funded_by == fid]
        lines.append(f"Fund '{fid}' ({fund.label}): at most {dated_money(fund.amount)} a year, paying "
                     f"{len(paid)} outcome{'s' if len(paid) != 1 else ''} outside the budget: not part of the share "
                     "on results, the domain weights, or the caps and floors that do not name them.")
    return "Money at risk", lines


def year_figures(c: Contract, index: int) -> dict[str, Decimal]:
    """The money figures `contract explain` states for contract year `index`, by name: `budget`, `results_money`
    (budget x share on results), `weights.<domain>` (each domain's most), `funds.<id>` (each fund's most) and
    `funnels.<f>.<m>.unit_price` / `.maximum` (each payment point's). `pay` applies the same values: a test
    compares them with the statements of every example."""
    start = c.years[index].start
    found: dict[str, Decimal] = {}
    budget, at_risk = _in_force(c.budget, start), c.at_risk(start)
    if budget is not None:
        found["budget"] = budget
    if at_risk is not None:
        found["results_money"] = at_risk.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    found |= {f"weights.{d}": money for d, money in domain_money(c, start).items()}
    for fid, fund in c.funds.items():
        amount = _in_force(fund.amount, start)
        if amount is not None:
            found[f"funds.{fid}"] = amount
    for fid, funnel in c.funnels.items():
        for mid, m in funnel.milestones.items():
            if m.payment is None:
                continue
            price = _in_force(m.payment.unit_price, start)
            most = _in_force(m.payment.maximum, start) if m.payment.maximum else None
            if price is not None:
                found[f"funnels.{fid}.{mid}.unit_price"] = price
            if most is not None:
                found[f"funnels.{fid}.{mid}.maximum"] = most
    return found


def domain_money(c: Contract, on: date) -> dict[str, Decimal]:
    """Domain -> the most its outcomes earn in the contract year starting `on`: weight x budget x share on results,
    to the penny (the cap `pay` applies)."""
    at_risk = c.at_risk(on)
    if at_risk is None:
        return {}
    return {d: (at_risk * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for d, share in c.weights.items()}


def _unreachable_domains(c: Contract, on: date) -> list[str]:
    """A note for each weighted domain whose outcomes are all fixed yearly amounts adding to less than its cap."""
    found = []
    for domain, money in domain_money(c, on).items():
        mine = [(oid, o) for oid, o in c.outcomes.items() if o.domain == domain and _paid(o) and not o.funded_by]
        if not mine or not all(isinstance(o, OffendingCohortReduction) for _, o in mine):
            continue
        most = sum(((_in_force(o.amount, on) or Decimal(0)) * (4 if o.period == "quarter" else 1)
                    for _, o in mine if isinstance(o, OffendingCohortReduction)), Decimal(0))
        if most < money:
            names = listing([outcome_label(oid, o) for oid, o in mine])
            found.append(f"{names} can earn at most {pounds(most)} a year, so the {DOMAIN_NAMES[domain]} domain's "
                         f"{pounds(money)} is never all paid.")
    return found


def _in_force(dated: Mapping[date, Decimal], on: date) -> Decimal | None:
    values = [value for since, value in sorted(dated.items()) if since <= on]
    return values[-1] if values else None


def _provider(c: Contract, pid: str) -> str:
    """The provider's name and what it does: "Aquarius (independent assessment)"."""
    provider = c.providers.get(pid)
    if provider is None:
        return pid
    return f"{provider.name} ({provider.focus})" if provider.focus else provider.name


def _name(c: Contract, pid: str) -> str:
    provider = c.providers.get(pid)
    return provider.name if provider else pid


def _shares(c: Contract, split: Mapping[str, Decimal]) -> str:
    return listing([f"{_name(c, pid)} {percent(share)}" for pid, share in split.items()])


def _providers(c: Contract) -> Section:
    a = c.attribution
    paid = [pid for pid, p in c.providers.items() if p.role in ("prime", "provider")]
    names = [_provider(c, pid) for pid in paid]
    lines = {
        "prime": lambda: _prime(c),
        "competing": lambda: [f"{len(paid)} providers deliver the same service in competition, and each is paid "
                              f"for its own clients: {listing(names)}."],
        "assigned": lambda: _assigned(c, len(paid)),
        "co_dependent": lambda: [f"{len(a.split)} co-dependent providers share every outcome payment by a stated "
                                 f"split: {_shares(c, a.split)}."],
    }[a.model]()
    existing = [_name(c, pid) for pid, p in c.providers.items() if p.existing]
    if existing:
        lines.append(f"Already delivering the service before this contract (current providers): {listing(existing)}.")
    for oid, outcome in c.outcomes.items():
        if outcome.split:
            lines.append(f"Payments for {outcome_label(oid, outcome)} are shared: {_shares(c, outcome.split)}.")
    return "Providers and who is paid", lines


def _prime(c: Contract) -> list[str]:
    prime = next(pid for pid, p in c.providers.items() if p.role == "prime")
    line = f"One prime provider, {_provider(c, prime)}, delivers the service end to end and is paid on results"
    subs = [pid for pid, p in c.providers.items() if p.role == "subcontractor"]
    if subs:
        line += f", with subcontractors {listing([_provider(c, s) for s in subs])}"
    lines = [line + "."]
    if c.attribution.split:
        lines.append(f"Each payment is shared: {_shares(c, c.attribution.split)}.")
    others = [_provider(c, pid) for pid, p in c.providers.items() if p.role == "provider"]
    if others:
        lines.append(f"Also paid on results for the outcomes shared with it: {listing(others)}.")
    return lines


def _assigned(c: Contract, count: int) -> list[str]:
    lines = [f"{count} providers are not in competition: each client group is assigned to one provider (the first "
             "group that matches an episode, in this order):"]
    for gid, group in c.attribution.assignments.items():
        test = _assignment_test(group.service_lines, group.min_age, group.max_age)
        lines.append(f"- {group.label or words(gid)} ({test}) -> {_name(c, group.provider)}")
    return lines


def _assignment_test(service_lines: list[str], low: int | None, high: int | None) -> str:
    parts = []
    if service_lines:
        parts.append(f"service line {listing(service_lines, 'or')}")
    if low is not None and high is not None:
        parts.append(f"aged {low} to {high}")
    elif low is not None:
        parts.append(f"aged {low} or over")
    elif high is not None:
        parts.append(f"aged {high} or under")
    return listing(parts) or "every episode"


def _lasars(c: Contract) -> Section:
    las = c.lasars
    who = f" ({las.organisation})" if las.organisation else ""
    line = {
        "independent": f"An independent LASARS{who} assesses every client and assigns the complexity group.",
        "commissioner": f"The LASARS sits in the commissioner{who or ' (the DAAT)'}, independent of the providers.",
        "provider": f"The LASARS sits in the providers{who}"
        + (f" ({listing([_name(c, p) for p in las.assessors])})" if las.assessors else "") + ".",
    }[las.location]
    lines = [line]
    if las.audit:
        by = "the commissioner (DAAT)" if las.audit.by == "commissioner" else "an independent auditor"
        sample = f", sampling {percent(las.audit.sample)} of assessments" if las.audit.sample is not None else ""
        lines.append(f"Assessments are audited by {by}{sample}."
                     + (" The auditor also agrees payments before they are made." if las.audit.agrees_payments
                        else ""))
        lines.append("(Recorded for the reader only: recoverypbr does not yet draw the audit sample"
                     + (" or hold statements for the auditor's agreement; finance approves them as usual"
                        if las.audit.agrees_payments else "") + ".)")
    return "Assessment (LASARS)", lines


def _groups(c: Contract) -> Section:
    cx = c.complexity
    if cx is None:
        return "Complexity groups", ["No complexity groups: every client attracts the same payments."]
    names = listing([f"{gid} ({text})" if text else gid for gid, text in cx.groups.items()])
    lines = [f"{len(cx.groups)} complexity groups: {names}. A client's group is set from their latest "
             "assessment on or before the episode starts."]
    if cx.points:
        criteria = "; ".join(f"{crit.label or describe_condition(crit)} +{crit.points}"
                             for crit in cx.points.criteria.values())
        bands = listing([f"{g} from {n} points" for g, n in cx.points.bands.items()])
        lines += [f"Points: {criteria}.", f"Groups by points: {bands}."]
    for i, rule in enumerate(cx.rules.values(), start=1):
        lines.append(f"Rule {i}: {rule.label or describe_conditions(rule.when)} -> {rule.group}.")
    if cx.rules:
        lines.append(f"Otherwise: {cx.default_group}. The first rule that matches decides.")
    for uplift in c.uplifts.values():
        scope = "every outcome" if not uplift.outcomes else listing(uplift.outcomes)
        lines.append(f"Tariffs for {scope} are multiplied by {uplift.factor} when {describe_conditions(uplift.when)}"
                     + (f" ({uplift.label})" if uplift.label else "") + ".")
    return "Complexity groups", lines


def _paid(o: Outcome) -> bool:
    return isinstance(o, OffendingCohortReduction) or (isinstance(o, OutcomeCommon) and o.tariffs is not None)


def _outcomes(c: Contract) -> Section:
    paid = [(oid, o) for oid, o in c.outcomes.items() if _paid(o)]
    national = sum(1 for _, o in paid if o.national)
    if paid:
        lines = [f"{len(paid)} outcomes are paid: {national} national and {len(paid) - national} local."]
    else:
        lines = ["No outcome is paid by tariff: payment is made at the payment points of the milestone funnels."]
    lines += _gates(c, paid)
    lines += [f"- {_outcome_line(c, oid, o)}" for oid, o in paid]
    measured = [(oid, o) for oid, o in c.outcomes.items() if not _paid(o)]
    if measured:
        lines.append("Measured, not paid on their own (gates, their components, funnel milestones):")
        lines += [f"- {outcome_label(oid, o)}: {describe_outcome(c, o)}." for oid, o in measured]
    return "Outcomes", lines


def _gates(c: Contract, paid: list[tuple[str, Outcome]]) -> list[str]:
    gated: dict[str, int] = {}
    for _, o in paid:
        if isinstance(o, OutcomeCommon) and o.gate:
            gated[o.gate] = gated.get(o.gate, 0) + 1
    lines = []
    for gid, count in gated.items():
        gate = c.outcomes.get(gid)
        if gate is not None:
            lines.append(f"{count} of the {len(paid)} paid outcomes are paid only once the client achieves "
                         f"'{outcome_label(gid, gate)}': {describe_outcome(c, gate)}.")
    return lines


def _outcome_line(c: Contract, oid: str, o: Outcome) -> str:
    kind = "national" if o.national else "local"
    domain = "" if o.domain == "local" else f", {DOMAIN_NAMES[o.domain]}"
    head = f"{outcome_label(oid, o)} ({kind}{domain}, {o.stage}): {describe_outcome(c, o)}."
    if isinstance(o, OffendingCohortReduction):
        return head
    assert isinstance(o, OutcomeCommon)
    parts = [head, f"Pays {tariff_words(o.tariffs or {})}"]
    if o.stock_tariffs is not None:
        parts.append(f"(clients in treatment at go-live: {tariff_words(o.stock_tariffs)})")
    if o.basis == "cohort":
        rates = ", ".join(f"{g} {percent(r)}" for g, r in o.baseline_rates.items())
        parts.append(f"on a cohort basis, for each achievement above the baseline rate ({rates})")
    parts[-1] += "."
    if o.gate:
        gate = c.outcomes.get(o.gate)
        parts.append(f"Paid only once '{outcome_label(o.gate, gate) if gate else o.gate}' is achieved.")
    if o.funded_by:
        fund = c.funds.get(o.funded_by)
        parts.append(f"Paid from the fund '{o.funded_by}'" + (f" ({fund.label})" if fund else "")
                     + ", outside the share on results.")
    return " ".join(parts)


def _stages(stages: Sequence[str]) -> str:
    """"a review or exit TOP", "an exit TOP"."""
    text = listing([words(s) for s in stages], "or") + " TOP"
    return ("an " if text[0] in "aeiou" else "a ") + text


def describe_outcome(c: Contract, o: Outcome) -> str:
    """What achieving the outcome means, with the contract's parameters."""
    if isinstance(o, AllOf | AnyOf):
        names = [outcome_label(n, c.outcomes[n]) if n in c.outcomes else n for n in o.outcomes]
        if isinstance(o, AnyOf):
            return f"any of {listing(names, 'or')}"
        met = " (a need the client did not have at the start counts as met)" if o.when_not_applicable == "met" else ""
        return f"all of {listing(names)}{met}"
    return _describe_single(o)


def _describe_single(o: Outcome) -> str:
    if isinstance(o, ReliableChange):
        fixed = ", ".join(f"{s} {d} days" for s, d in o.thresholds.items())
        return (f"days of use of each presenting substance fall by a reliable change at {_stages(o.stages)}"
                + (f" (thresholds {fixed})" if fixed else " (thresholds from the baseline data)"))
    if isinstance(o, Abstinence):
        which = listing(o.substances) if o.substances else "every presenting substance"
        return f"zero days of use of {which} in the 28 days before {_stages(o.stages)}"
    if isinstance(o, SuccessfulCompletion | DischargeIn):
        return f"discharged as {listing([words(r) for r in o.discharge_reasons], 'or')}"
    if isinstance(o, NoRepresentation):
        return (f"after a successful completion, no re-presentation ({listing([words(s) for s in o.settings], 'or')})"
                f" for {o.window_months} months after discharge; paid once the {o.window_months} months have passed")
    if isinstance(o, NoOffending6m | NoOffending12m):
        return f"no recorded offence in the {o.window_months} months after treatment start (individual data)"
    if isinstance(o, OffendingCohortReduction):
        pro_rata = ", pro rata for smaller reductions" if o.pro_rata else ""
        return (f"cohort {o.cohort_id}'s offences per person fall by at least {percent(o.target_reduction)} against "
                f"its baseline: {dated_money(o.amount)} a {o.period} when the target is met{pro_rata}")
    return _describe_health_or_local(o)


def _describe_health_or_local(o: Outcome) -> str:
    if isinstance(o, CeasedInjecting):
        return f"injecting at the start TOP, no injecting days at {_stages(o.stages)}"
    if isinstance(o, ImprovedHousing):
        return f"an acute housing problem at the start TOP, none at {_stages(o.stages)}"
    if isinstance(o, HepatitisBCourse | EventRecorded):
        return f"an event recorded: {listing([words(e) for e in o.event_types], 'or')}"
    if isinstance(o, QualityOfLife):
        return f"quality of life rated {o.threshold} or more (of 20) at {_stages(o.stages)}"
    if isinstance(o, TopThreshold):
        test = (f"at least {o.at_least}" if o.at_least is not None else
                f"at most {o.at_most}" if o.at_most is not None else f"is {_yes_no(o.equals)}")
        items = listing([words(i) for i in o.items], "and" if o.require == "all" else "or")
        return f"{items} {test} at {_stages(o.stages)}"
    if isinstance(o, TopImprovement):
        items = listing([words(i) for i in o.items], "and" if o.require == "all" else "or")
        return (f"{items} {o.direction}{'s' if len(o.items) == 1 else ''} by at least {o.by_at_least} from the "
                f"{words(o.from_stage)} TOP to {_stages(o.to_stages)}")
    if isinstance(o, NoEventInWindow):
        return (f"no {listing([words(e) for e in o.event_types], 'or')} in the {o.window_months} months after "
                f"{o.after}; paid once the window has passed")
    return o.title


def _yes_no(value: object) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _incentives(c: Contract) -> Section:
    lines = [_incentive_line(c, i) for i in c.incentives.values()]
    return "Incentive payments", lines


def _incentive_line(c: Contract, incentive: Incentive) -> str:
    start, end = incentive.from_service, incentive.to_service
    who = ""
    if start.provider and end.provider:
        who = f"from {_name(c, start.provider)} to {_name(c, end.provider)}, "
    line = (f"Moving a client from {start.service_line} into {end.service_line} ({who}the next episode starting "
            f"within {incentive.within_days} days of the last ending) earns {tariff_words(incentive.amount)}")
    if incentive.split:
        line += f", paid to {_shares(c, incentive.split)}"
    return line + (f". {incentive.label}." if incentive.label else ".")


def _funnels(c: Contract) -> Section:
    lines = []
    for funnel in c.funnels.values():
        where = f" (service line {funnel.service_line})" if funnel.service_line else ""
        steps = " -> ".join(_milestone_words(m) for m in funnel.milestones.values())
        lines.append(f"{funnel.label}{where}: {steps}. Predicted against actual, month by month.")
        if funnel.evidence:
            lines.append(f"Evidence: {listing(funnel.evidence)}.")
    return "Milestone funnels", lines


def _milestone_words(m: Milestone) -> str:
    text = f"{m.label} (predicted {m.predicted:,}"
    if m.payment:
        text += f"; payment point: {dated_money(m.payment.unit_price)} per outcome"
        if m.payment.maximum is not None:
            text += f", up to a maximum of {dated_money(m.payment.maximum)}{_product(m)}"
    return text + ")"


def _product(m: Milestone) -> str:
    """" (265 x £1,236.50)" when the maximum is the prediction times the unit price."""
    assert m.payment is not None and m.payment.maximum is not None
    units, tops = dated_versions(m.payment.unit_price), dated_versions(m.payment.maximum)
    if len(units) == len(tops) == 1 and units[0][1] * m.predicted == tops[0][1]:
        return f" ({m.predicted:,} x {pounds(units[0][1])})"
    return ""


def _fees(c: Contract) -> Section:
    fees, lines = c.attachment_fees, []
    if fees and fees.flow is not None:
        when = "starts treatment" if fees.paid_on == "start" else "is triaged"
        lines.append(f"When a new client (flow) {when}: {tariff_words(fees.flow)}.")
    if fees and fees.stock is not None:
        lines.append(f"For a client already in treatment at go-live (stock): {tariff_words(fees.stock)}.")
    return "Attachment fees", lines


def _limits(c: Contract) -> Section:
    lines = [_limit_line(c, "Cap", "at most", lid, x) for lid, x in c.caps.items()]
    lines += [_limit_line(c, "Floor", "at least", lid, x) for lid, x in c.floors.items()]
    return "Caps and floors", lines


def _limit_line(c: Contract, kind: str, bound: str, lid: str, limit: Limit) -> str:
    scope = []
    if limit.provider:
        scope.append(f"to {_name(c, limit.provider)}")
    if limit.outcome:
        outcome = c.outcomes.get(limit.outcome)
        scope.append(f"for {outcome_label(limit.outcome, outcome) if outcome else limit.outcome}")
    where = " ".join(scope) or "overall"
    period = "over the whole contract" if limit.period == "contract" else f"a {limit.period}"
    return f"- {kind} '{lid}': {bound} {dated_money(limit.amount)} {period} {where}" + (
        f" ({limit.label})." if limit.label else ".")


def _schedule(c: Contract) -> Section:
    s = c.payment_schedule
    lines = [f"Paid {s.frequency}, {s.arrears_months} month{'s' if s.arrears_months != 1 else ''} in arrears."]
    mature = [f"{outcome_label(oid, o)} ({o.matures_after_months} months)"
              for oid, o in c.outcomes.items() if o.matures_after_months]
    if mature and s.pay_when_mature:
        lines.append(f"Outcomes with a window are paid once mature: {listing(mature)}.")
    return "Payment schedule", lines


def _illustrative(c: Contract) -> Section:
    lines = [f"- {path}: {why}" for path, why in c.illustrative.items()]
    lines += [f"Note: {note}" for note in c.notes]
    return "Illustrative figures and notes", lines


def sections(c: Contract) -> list[Section]:
    """The account's sections, in reading order; empty ones left out."""
    makers = (_header, _money, _providers, _lasars, _groups, _outcomes, _incentives, _funnels, _fees, _limits,
              _schedule, _illustrative)
    return [(title, lines) for title, lines in (make(c) for make in makers) if lines]


def explain(c: Contract) -> str:
    """The whole account as text: a heading, then its lines, per section."""
    return "\n".join(_render(sections(c)))


def _render(parts: list[Section]) -> Iterator[str]:
    for title, lines in parts:
        yield title
        yield from lines
        yield ""

