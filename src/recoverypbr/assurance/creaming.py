"""Creaming and parking indicators: signs that a provider takes on the clients likely to succeed ("creaming") and
neglects the hard ones ("parking") (gaming risk area 2).

Paying for outcomes makes a complex client a poor bet, so creaming and parking act on the hardest complexity
group. Each indicator is counted by complexity group (the contract's rules on the assessment before the referral
or start) and every group is shown, but only the hardest group (`high`) is judged, where gaming acts; an area
without a complexity grouping is judged as one group (`all`):

- `conversion`: the share of referrals that started treatment (referrals that never started are rows with no
  start date); creaming lowers it;
- `wait_days`: the mean days from triage (else referral) to the start; a provider holding back hard clients makes
  them wait longer;
- `no_review`: the share of episodes still in treatment at six months plus a grace with no review TOP by then;
  a parked client is not reviewed;
- `unplanned_exits`: the share of exits that are unplanned (dropped out, treatment withdrawn, declined); a parked
  client drifts out.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from recoverypbr.assurance.assessment import first_per_client, has_grouping
from recoverypbr.assurance.frame import WINDOW_ONLY, Context, Indicator, episode_groups, known_episodes

#: The group judged: the most complex group, as every example contract names it; `all` without a grouping.
JUDGED_GROUPS = ("high", "all")
#: Flags on the whole window only: a quarter's few complex clients make a skewed rate's normal limits too narrow.
#: A referral counts for conversion once it has started, been closed, or been waiting this long.
SETTLE_DAYS = 91
#: A review TOP is due about six months into treatment; it counts as missing if none is recorded by then plus this.
REVIEW_DUE_DAYS = 182
REVIEW_GRACE_DAYS = 61
#: Exits that are not planned: the client left or was put out of treatment.
UNPLANNED_REASONS = ("dropped_out", "treatment_withdrawn", "declined")


def grouped_episodes(ctx: Context) -> ir.Table:
    """Every known episode and referral with `group`: its complexity group by the contract's rules (`none`
    without an assessment), or `all` when the contract has no grouping."""
    e = known_episodes(ctx)
    if not has_grouping(ctx.contract):
        return e.mutate(group=ibis.literal("all"))
    g = episode_groups(ctx)
    j = e.join(g, "episode_id")
    return j.mutate(group=j.complexity_group)


def conversion_cases(ctx: Context) -> ir.Table:
    """One case per referral (each client's first in the baseline year and in the window), on its referral day
    (else triage, else start): 1 when it started treatment by the as-of date. A referral still open and younger
    than `SETTLE_DAYS` days is not counted yet."""
    e = grouped_episodes(ctx)
    settled = e.started | e.discharge_date.notnull() | (e.day_referred <= ctx.as_of - timedelta(days=SETTLE_DAYS))
    e = first_per_client(ctx, e.filter(settled), "day_referred")
    return e.select(provider_id=e.provider_id, day=e.day_referred, value=e.started.cast("float64"),
                    unit_id="episode:" + e.episode_id, group=e.group)


def wait_cases(ctx: Context) -> ir.Table:
    """One case per started episode with a triage or referral date (each client's first in the baseline year and in
    the window), on its start date: the days from triage (else referral) to the start."""
    e = grouped_episodes(ctx)
    asked = e.triage_date.fill_null(e.referral_date)
    e = first_per_client(ctx, e.filter(e.started & asked.notnull()), "start_date")
    days = e.start_date.delta(e.triage_date.fill_null(e.referral_date), unit="day")
    return e.select(provider_id=e.provider_id, day=e.start_date, value=days.cast("float64"),
                    unit_id="episode:" + e.episode_id, group=e.group)


def no_review_cases(ctx: Context) -> ir.Table:
    """One case per episode still in treatment `REVIEW_DUE_DAYS + REVIEW_GRACE_DAYS` days after its start (that
    day on or before the as-of date), counted on that day: 1 when no review TOP is dated after the start and on or
    before it (each client's first such episode in the baseline year and in the window)."""
    e = grouped_episodes(ctx)
    check = e.start_date + ibis.interval(days=REVIEW_DUE_DAYS + REVIEW_GRACE_DAYS)
    e = e.mutate(check_day=check)
    e = e.filter(e.started & (e.check_day <= ctx.as_of)
                 & (e.discharge_date.isnull() | (e.discharge_date > e.check_day)))
    e = first_per_client(ctx, e.mutate(check_day=e.check_day.cast("date")), "check_day")
    t = ctx.wh.table("top")
    t = t.filter((t.stage == "review") & (t.top_date <= ctx.as_of))
    reviewed = e.join(t, [e.episode_id == t.episode_id, t.top_date > e.start_date, t.top_date <= e.check_day])
    reviewed = reviewed.select(r_episode=reviewed.episode_id).distinct()
    j = e.left_join(reviewed, e.episode_id == reviewed.r_episode)
    return j.select(provider_id=j.provider_id, day=j.check_day.cast("date"),
                    value=j.r_episode.isnull().cast("float64"), unit_id="episode:" + j.episode_id, group=j.group)


def unplanned_exit_cases(ctx: Context) -> ir.Table:
    """One case per exit of a started episode (each client's first in the baseline year and in the window), on its
    discharge date: 1 when the reason is unplanned (`UNPLANNED_REASONS`)."""
    e = grouped_episodes(ctx)
    e = first_per_client(ctx, e.filter(e.started & e.discharge_date.notnull()), "discharge_date")
    unplanned = e.discharge_reason.isin(UNPLANNED_REASONS).fill_null(False)
    return e.select(provider_id=e.provider_id, day=e.discharge_date, value=unplanned.cast("float64"),
                    unit_id="episode:" + e.episode_id, group=e.group)


_CREAMING = "Complex clients referred to this provider start treatment less often than at its peers"

CONVERSION = Indicator(
    family="creaming_parking", id="conversion", title="Referrals that start treatment",
    direction="low", kind="rate", cases=conversion_cases, by_group=True, judged_groups=JUDGED_GROUPS,
    judged_periods=WINDOW_ONLY, drift=False,
    formula="referrals in the period (by referral date) that started treatment by the as-of date / referrals in "
            f"the period that started, were closed, or are at least {SETTLE_DAYS} days old",
    meaning=_CREAMING + ": the provider may be turning away or not starting the clients it expects to earn "
            "least for (creaming).",
    next_step="Read the listed referrals that never started: who declined, the recorded reason, and whether the "
              "client was offered another start; compare with the LASARS's referral notes.",
)

WAIT_DAYS = Indicator(
    family="creaming_parking", id="wait_days", title="Days from triage (else referral) to start",
    direction="high", kind="mean", cases=wait_cases, by_group=True, judged_groups=JUDGED_GROUPS,
    judged_periods=WINDOW_ONLY, drift=False,
    formula="mean over episodes started in the period of (start date - triage date, else referral date) in days",
    meaning="Complex clients wait longer to start with this provider than with its peers: hard clients may be "
            "held back while easier ones are started (creaming).",
    next_step="Look at the listed episodes with the longest waits: the reasons recorded for the delay, and "
              "whether the provider's waiting list orders clients by need.",
)

NO_REVIEW = Indicator(
    family="creaming_parking", id="no_review", title="In treatment six months with no review TOP",
    direction="high", kind="rate", cases=no_review_cases, by_group=True, judged_groups=(),
    judged_periods=WINDOW_ONLY, drift=False,
    formula=f"episodes still open {REVIEW_DUE_DAYS + REVIEW_GRACE_DAYS} days after the start ({REVIEW_DUE_DAYS} "
            f"days plus {REVIEW_GRACE_DAYS} days' grace) with no review TOP after the start and by then / episodes "
            "still open then (counted on that day)",
    meaning="Shown, not flagged: complex clients in treatment at this provider going without a review more often "
            "than at its peers may be parked (kept on the books but not actively treated). Missing reviews cluster "
            "(by client and keyworker) more than chance allows, so peer limits would flag clean providers too often.",
    next_step="Check the listed episodes' care plans and contacts since the start; ask the provider for the "
              "review dates and why none was recorded.",
)

UNPLANNED_EXITS = Indicator(
    family="creaming_parking", id="unplanned_exits", title="Unplanned exits",
    direction="high", kind="rate", cases=unplanned_exit_cases, by_group=True, judged_groups=JUDGED_GROUPS,
    judged_periods=WINDOW_ONLY, drift=False,
    formula="exits in the period (by discharge date) with reason " + ", ".join(UNPLANNED_REASONS)
            + " / exits in the period of episodes that started",
    meaning="More of this provider's complex clients leave treatment unplanned than at its peers: they may be "
            "parked until they drop out.",
    next_step="Read the listed exits: the last contacts before them, whether the provider tried to re-engage the "
              "client, and whether the exit reason matches the case notes.",
)

INDICATORS: tuple[Indicator, ...] = (CONVERSION, WAIT_DAYS, NO_REVIEW, UNPLANNED_EXITS)
