"""Assessment indicators: signs that clients' complexity is being inflated to raise tariffs (gaming risk area 1).

The complexity group fixes the tariff, so a provider that records its clients as more complex than they are is
paid more for the same outcomes. Four indicators watch for it, each counted in the database from the warehouse as
known on the as-of date:

- `best_paid_share`: the share of a provider's referrals (started or not) whose complexity group (by the
  contract's own rules, on the assessment before the start, else the triage or referral) is the contract's
  best-paid group, against its peers in the same period,
  with a CUSUM over the quarters for drift (the measure the upcoding literature uses);
- `best_paid_share_own`: the same share against the provider's own share in the baseline year (shown, not
  flagged: an area's case mix can move for every provider at once);
- `recorded_higher` and `assessor_recorded_higher`: the share of assessments whose recorded group is higher than
  the group the contract's rules give from the same answers, per treatment provider (the assessment its episode
  started on) and per assessing organisation (every assessment it made);
- `reassessment_raised`: the share of a provider's episodes with a later assessment, made after the start and
  while the episode is open, whose group (by the rules) is higher than the one the episode started in.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from recoverypbr.assurance.frame import WINDOW_ONLY, Context, Indicator, best_paid_group, episode_groups, known_episodes
from recoverypbr.contract.model import Contract

NO_GROUP = "none"
#: Flags on the whole window only (plus the CUSUM where drift is on): a quarter's few cases make a skewed rate's
#: normal limits too narrow, and twelve quarters judged one by one add false alarms.


def has_grouping(contract: Contract) -> bool:
    """Whether the contract groups clients by complexity (points or rules)."""
    return contract.complexity is not None and bool(contract.complexity.points or contract.complexity.rules)


def group_order(contract: Contract) -> tuple[str, ...]:
    """The contract's complexity groups from least to most complex (as the contract lists them)."""
    return tuple(contract.complexity.groups) if contract.complexity else ()


def group_rank(contract: Contract, group: ir.StringValue) -> ir.IntegerValue:
    """A group's place in the contract's order (0 for the least complex); -1 for no group or an unknown one."""
    ranks = {g: i for i, g in enumerate(group_order(contract))}
    if not ranks:
        return ibis.literal(-1, "int64")
    return group.substitute(ranks, else_=-1).fill_null(-1).cast("int64")


def assessment_groups(ctx: Context) -> ir.Table:
    """Every assessment known on the as-of date with the group the contract's rules give from its own answers:
    `assessment_id`, `client_id`, `assessed_on`, `assessor_org`, `recorded_group` (lower case, null when blank),
    `computed_group` (materialised once per run)."""
    from recoverypbr.assessment.grouping import complexity_groups, grouping_of

    def make() -> ir.Table:
        a = ctx.wh.table("assessments")
        a = a.filter(a.assessed_on <= ctx.as_of)
        if not has_grouping(ctx.contract):  # nothing to compute a group from: no assessment is judged
            return a.select("assessment_id", "client_id", "assessed_on", assessor_org=a.assessor_org.strip(),
                            recorded_group=ibis.null("string"), computed_group=ibis.null("string"))
        # Each assessment is grouped on its own: a stand-in episode per assessment, keyed by the assessment id.
        own = a.mutate(client_id=a.assessment_id)
        stand_in = own.select(episode_id=own.assessment_id, client_id=own.assessment_id, start_date=own.assessed_on)
        grouped = complexity_groups(stand_in, own, grouping_of(ctx.contract))
        found = grouped.select(g_id="episode_id", computed_group="complexity_group", recorded_group="recorded_group")
        joined = a.join(found, a.assessment_id == found.g_id)
        out = joined.select("assessment_id", "client_id", "assessed_on",
                            assessor_org=joined.assessor_org.strip(),
                            recorded_group=joined.recorded_group, computed_group=joined.computed_group)
        return ctx.wh.materialize("_assure_assessment_groups", out)
    return ctx.shared("assessment_groups", make)


def started_in_groups(ctx: Context) -> ir.Table:
    """Episodes started on or before the as-of date with their complexity group (`none` without an assessment)."""
    e = referrals_in_groups(ctx)
    return e.filter(e.started)


def referrals_in_groups(ctx: Context) -> ir.Table:
    """Every episode and referral known on the as-of date with its complexity group (`none` without an
    assessment)."""
    e = known_episodes(ctx)
    if not has_grouping(ctx.contract):
        return e.mutate(complexity_group=ibis.literal(NO_GROUP))
    g = episode_groups(ctx)
    return e.join(g, "episode_id")


def first_per_client(ctx: Context, cases: ir.Table, day: str) -> ir.Table:
    """Each client's first row (by `day`, then `episode_id`) in the baseline year and in the monitoring window;
    rows on other days are dropped.

    A client's episodes share the client's needs and habits, so counting every episode would make a provider's
    cases look more independent than they are, and its limits too narrow (clean providers flagged too often)."""
    d = cases[day]
    segment = ibis.cases(((d >= ctx.baseline.start) & (d <= ctx.baseline.end), "baseline"),
                         ((d >= ctx.window.start) & (d <= ctx.window.end), "window"), else_=ibis.null("string"))
    t = cases.mutate(_segment=segment)
    t = t.filter(t._segment.notnull())
    order = ibis.window(group_by=[t.client_id, t._segment], order_by=[t[day], t.episode_id])
    t = t.mutate(_first=ibis.row_number().over(order))
    return t.filter(t._first == 0).drop("_segment", "_first")


# --- Case tables ---------------------------------------------------------------------------------------------------

def best_paid_cases(ctx: Context) -> ir.Table:
    """One case per client's first referral with an assessed group (whether or not it started) in the baseline
    year and in the window, on its referral day (else triage, else start): 1 when its group is the best-paid one.

    Referrals, not starts: a provider that does not start its complex referrals (creaming) lowers the share among
    its starts, which would make its peers' shares look inflated; the mix of referrals is untouched by it."""
    e = referrals_in_groups(ctx)
    e = first_per_client(ctx, e.filter(e.complexity_group != NO_GROUP), "day_referred")
    best = best_paid_group(ctx.contract)
    return e.select(provider_id=e.provider_id, day=e.day_referred,
                    value=(e.complexity_group == best).cast("float64"),
                    unit_id="episode:" + e.episode_id)


def best_paid_own_cases(ctx: Context) -> ir.Table:
    """`best_paid_cases`, each expecting its provider's own best-paid share in the baseline year."""
    cases = best_paid_cases(ctx)
    base = cases.filter((cases.day >= ctx.baseline.start) & (cases.day <= ctx.baseline.end))
    own = base.group_by(b_provider=base.provider_id).aggregate(expected=base.value.mean())
    joined = cases.join(own, cases.provider_id == own.b_provider)
    return joined.select("provider_id", "day", "value", "unit_id", "expected", group=ibis.literal("all"))


def recorded_higher_cases(ctx: Context) -> ir.Table:
    """One case per new episode whose assessment has a recorded group: 1 when the recorded group is higher than
    the group the contract's rules give from the same assessment."""
    from recoverypbr.assessment.grouping import latest_assessment

    e = known_episodes(ctx)
    e = e.filter(e.started)
    a = ctx.wh.table("assessments")
    used = latest_assessment(e.select("episode_id", "client_id", "start_date"), a.filter(a.assessed_on <= ctx.as_of))
    used = used.select(u_episode="episode_id", u_assessment="assessment_id")
    groups = assessment_groups(ctx)
    j = e.join(used, e.episode_id == used.u_episode)
    j = j.join(groups, j.u_assessment == groups.assessment_id)
    j = j.filter(j.recorded_group.notnull() & j.computed_group.notnull())
    higher = group_rank(ctx.contract, j.recorded_group) > group_rank(ctx.contract, j.computed_group)
    return j.select(provider_id=j.provider_id, day=j.start_date, value=higher.cast("float64"),
                    unit_id="episode:" + j.episode_id, group=ibis.literal("all"))


def assessor_recorded_higher_cases(ctx: Context) -> ir.Table:
    """One case per assessment with a recorded group, counted for its assessing organisation on its date: 1 when
    the recorded group is higher than the group the contract's rules give from its answers."""
    a = assessment_groups(ctx)
    a = a.filter(a.recorded_group.notnull() & a.computed_group.notnull() & a.assessor_org.notnull()
                 & (a.assessor_org != ""))
    higher = group_rank(ctx.contract, a.recorded_group) > group_rank(ctx.contract, a.computed_group)
    return a.select(provider_id=a.assessor_org, day=a.assessed_on, value=higher.cast("float64"),
                    unit_id="assessment:" + a.assessment_id)


def reassessment_cases(ctx: Context) -> ir.Table:
    """One case per new episode with an assessed group, on its start date: 1 when a later assessment of the same
    client, after the start and on or before the discharge (or the as-of date while open), gives a higher group
    than the one the episode started in."""
    e = started_in_groups(ctx)
    e = e.filter(e.complexity_group != NO_GROUP)
    a = assessment_groups(ctx)
    end = e.discharge_date.fill_null(ctx.as_of)
    later = e.join(a, [e.client_id == a.client_id, a.assessed_on > e.start_date, a.assessed_on <= end])
    raised = later.filter(group_rank(ctx.contract, later.computed_group)
                          > group_rank(ctx.contract, later.complexity_group))
    raised = raised.select(r_episode=raised.episode_id).distinct()
    j = e.left_join(raised, e.episode_id == raised.r_episode)
    return j.select(provider_id=j.provider_id, day=j.start_date, value=j.r_episode.notnull().cast("float64"),
                    unit_id="episode:" + j.episode_id)


# --- The indicators ------------------------------------------------------------------------------------------------

_INFLATION = ("Assessments may be inflating clients' complexity, which raises the tariff paid for each outcome.")

BEST_PAID_SHARE = Indicator(
    family="assessment", id="best_paid_share", title="New clients in the best-paid complexity group",
    direction="high", kind="rate", cases=best_paid_cases, judged_periods=WINDOW_ONLY,
    formula="referrals in the period (started or not; each client's first) whose complexity group (the contract's "
            "rules on the assessment on or before the start, else the triage or referral) is the best-paid group / "
            "such referrals with an assessment",
    meaning="More of this provider's new clients are in the best-paid group than its peers' new clients. "
            + _INFLATION,
    next_step="Sample the provider's assessments in the best-paid group from the flagged period (the episodes "
              "listed) and have the LASARS re-assess them blind; compare the answers that earn points (housing, "
              "mental health, previous treatment, years of use) with the case notes.",
)

BEST_PAID_SHARE_OWN = Indicator(
    family="assessment", id="best_paid_share_own", title="Best-paid group share against the provider's own "
                                                         "baseline year",
    direction="high", kind="rate", cases=best_paid_own_cases, by_group=True, judged_groups=(), drift=False,
    formula="the provider's best-paid share in the period against its own share in the year before go-live",
    meaning="Shown for context, never flagged: a rise against the provider's own past that its peers do not show "
            "is what `best_paid_share` flags.",
    next_step="Read beside `best_paid_share`: if every provider rose, the area's case mix changed.",
)

RECORDED_HIGHER = Indicator(
    family="assessment", id="recorded_higher", title="Recorded group higher than the rules give (by provider)",
    direction="high", kind="rate", cases=recorded_higher_cases, by_group=True, judged_groups=(), drift=False,
    formula="new episodes whose assessment's recorded complexity group is above the group the contract's rules "
            "give from the same answers / new episodes whose assessment has a recorded group",
    meaning="Shown, not flagged: payments use the group the rules compute, so a recorded group above it does not "
            "by itself raise pay, and a few disagreements arise by chance; a provider far above its peers here "
            "may be pressing assessors to record its clients higher.",
    next_step="List the disagreeing assessments (`recoverypbr assess` shows each rule that fired) and ask who "
              "recorded the group and why; payments use the computed group, so check none used the recorded one.",
)

ASSESSOR_RECORDED_HIGHER = Indicator(
    family="assessment", id="assessor_recorded_higher", title="Recorded group higher than the rules give "
                                                              "(by assessor)",
    direction="high", kind="rate", cases=assessor_recorded_higher_cases, judged_periods=WINDOW_ONLY, drift=False,
    formula="assessments by the organisation whose recorded complexity group is above the group the contract's "
            "rules give from the same answers / its assessments with a recorded group",
    meaning="This assessing organisation records groups above what its own answers support more often than the "
            "other assessors do: its assessments may not be independent or consistent.",
    next_step="Review the listed assessments with the LASARS lead; if the assessor is a treatment provider, ask "
              "why it assesses its own clients.",
)

REASSESSMENT_RAISED = Indicator(
    family="assessment", id="reassessment_raised", title="Reassessments that raise the group",
    direction="high", kind="rate", cases=reassessment_cases, judged_periods=WINDOW_ONLY, drift=False,
    formula="new episodes with a later assessment of the client, after the start and while in treatment, whose "
            "group (by the rules) is above the episode's starting group / new episodes with an assessed group",
    meaning="This provider's clients are reassessed into a higher group during treatment more often than its "
            "peers' clients. A later, higher assessment can raise the tariff of outcomes still to come.",
    next_step="Check who made the reassessments (the assessor on each), what changed in the answers, and whether "
              "the change is in the case notes; an independent LASARS should make any reassessment.",
)

INDICATORS: tuple[Indicator, ...] = (
    BEST_PAID_SHARE, BEST_PAID_SHARE_OWN, RECORDED_HIGHER, ASSESSOR_RECORDED_HIGHER, REASSESSMENT_RAISED,
)
