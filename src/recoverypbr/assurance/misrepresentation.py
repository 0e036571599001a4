"""Misrepresentation indicators: success recorded that the data make look too good to be true.

- TOP answers heaped where an outcome pays: zero days of use of every presenting substance at a follow-up TOP
  (abstinence) when the start TOP had use, and a quality-of-life rating exactly at the contract's threshold rather
  than just below it;
- identical TOP answer vectors: a review or exit TOP whose every answer equals another client's TOP at the same
  provider (copied forms);
- completions with no review TOP during the episode;
- the pilots' pattern: recorded abstinence up against the provider's own baseline while its completion rate
  falls, both relative to its peers (`extra_rows`);
- outcome rates far above the case-mix expectation: each ledger row (achieved or not) against its peers'
  achievement rate for the same outcome, complexity group and quarter (the ledger comes from the outcome engine).

The two heaping measures, the completions without review and the pilots' pattern are judged (they can be
flagged, over the whole window only); identical answers and the case-mix comparison are shown with their limits
for context, so that the family's false alarms stay rare (chance matches of common answer vectors, and seven
outcomes each judged, would raise them).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from recoverypbr.assurance import stats
from recoverypbr.assurance.frame import (
    WINDOW_ONLY,
    Context,
    Indicator,
    IndicatorRow,
    change_against_peers,
    known_episodes,
    outcome_ledger,
    window_baseline_cells,
)
from recoverypbr.contract.outcomes import QualityOfLife, SuccessfulCompletion
from recoverypbr.data import codes
from recoverypbr.outcomes.frame import ACHIEVED, NOT_ACHIEVED, SUBSTANCE_DAYS, first_by, presents
from recoverypbr.outcomes.inputs import TOP_COLUMNS

FOLLOW_UP_STAGES = ("review", "exit")
#: A review TOP is due about six months into treatment: a completion this long after the start should have one.
REVIEW_DUE_DAYS = 182
#: Judged indicators flag on the whole window only: a quarter's few cases make a skewed rate's limits too narrow,
#: and the gaming they look for, once begun, shows over the window.
#: The answers compared for identical vectors: every answer of the TOP (not its ids, date or stage).
ANSWER_COLUMNS = tuple(c for c in TOP_COLUMNS if c not in ("top_id", "client_id", "episode_id", "top_date", "stage"))


def completion_reasons(ctx: Context) -> list[str]:
    """The contract's successful-completion codes (the national ones when it has no such outcome)."""
    for outcome in ctx.contract.outcomes.values():
        if isinstance(outcome, SuccessfulCompletion):
            return list(outcome.discharge_reasons)
    return list(codes.COMPLETION_REASONS)


def quality_of_life_threshold(ctx: Context) -> int | None:
    """The contract's normative quality-of-life rating (its first `quality_of_life` outcome), if any."""
    for outcome in ctx.contract.outcomes.values():
        if isinstance(outcome, QualityOfLife):
            return int(outcome.threshold)
    return None


def first_follow_ups(ctx: Context) -> ir.Table:
    """Each started episode's first follow-up TOP (review or exit, dated from the start and on or before the
    as-of date; by date, then id), with its provider, `start_use` (the start TOP had use of a presenting
    substance), `zero_use` (zero days of every presenting substance; a missing count is not zero) and its
    `quality_of_life`. One case per episode, so that an episode's later TOPs do not count its answers twice.
    Materialised once per run (four indicators read it)."""
    def make() -> ir.Table:
        e = known_episodes(ctx)
        e = e.filter(e.started)
        flags = {f"p_{s}": presents(e.substances, s) for s in SUBSTANCE_DAYS}
        e = e.select(e_episode="episode_id", e_provider="provider_id", e_start="start_date",
                     e_substances="substances", **flags)
        t = ctx.wh.table("top")
        t = t.filter(t.top_date <= ctx.as_of)
        starts = t.filter(t.stage == "start")
        start = first_by(starts, "episode_id", [starts.top_date, starts.top_id])
        start = start.select(s_episode="episode_id", **{f"s_{c}": c for c in SUBSTANCE_DAYS.values()})
        follow = t.filter(t.stage.isin(list(FOLLOW_UP_STAGES)))
        follow = follow.join(e, follow.episode_id == e.e_episode)
        follow = follow.filter(follow.top_date >= follow.e_start)
        first = first_by(follow, "episode_id", [follow.top_date, follow.top_id])
        f = first.left_join(start, first.episode_id == start.s_episode)
        some = f.e_substances.fill_null("") != ""
        zero = functools.reduce(operator.and_, [~f[f"p_{s}"] | (f[c] == 0).fill_null(False)
                                                for s, c in SUBSTANCE_DAYS.items()])
        used = functools.reduce(operator.or_, [f[f"p_{s}"] & (f[f"s_{c}"] > 0).fill_null(False)
                                               for s, c in SUBSTANCE_DAYS.items()])
        out = f.select(provider_id=f.e_provider, episode_id=f.episode_id, top_id=f.top_id, day=f.top_date,
                       start_use=used, zero_use=some & zero, quality_of_life=f.quality_of_life)
        return ctx.wh.materialize("_assure_first_follow_ups", out)
    return ctx.shared("misrepresentation.first_follow_ups", make)


def zero_use_heaping(ctx: Context) -> ir.Table:
    """Episodes whose start TOP had use of a presenting substance: 1 when the first follow-up TOP records zero
    days of use of every presenting substance (the abstinence outcome's answer)."""
    f = first_follow_ups(ctx)
    f = f.filter(f.start_use)
    return f.select("provider_id", "day", value=f.zero_use.cast("float64"), unit_id="top:" + f.top_id)


def quality_of_life_heaping(ctx: Context) -> ir.Table:
    """First follow-up TOPs rated at the contract's quality-of-life threshold or one below it: 1 at the
    threshold (no cases when the contract pays no quality-of-life outcome)."""
    f = first_follow_ups(ctx)
    threshold = quality_of_life_threshold(ctx)
    if threshold is None:
        f = f.filter(ibis.literal(False))
        threshold = 0
    f = f.filter(f.quality_of_life.isin([threshold - 1, threshold]))
    return f.select("provider_id", "day", value=(f.quality_of_life == threshold).cast("float64"),
                    unit_id="top:" + f.top_id)


def _answer_key(t: ir.Table) -> ir.StringValue:
    parts = [t[c].cast("string").fill_null("~") for c in ANSWER_COLUMNS]
    return functools.reduce(lambda a, b: a + "|" + b, parts)


def identical_answers(ctx: Context) -> ir.Table:
    """Review and exit TOPs (dated on or before the as-of date): 1 when another client's TOP at the same provider
    (any stage, any date up to the as-of date) has exactly the same answer to every question."""
    t = ctx.wh.table("top")
    t = t.filter(t.top_date <= ctx.as_of)
    e = known_episodes(ctx).select(e_episode="episode_id", e_provider="provider_id")
    t = t.join(e, t.episode_id == e.e_episode)
    t = t.mutate(answers=_answer_key(t))
    clients = t.group_by(["e_provider", "answers"]).aggregate(k_clients=t.client_id.nunique())
    clients = clients.rename(k_provider="e_provider", k_answers="answers")
    f = t.filter(t.stage.isin(list(FOLLOW_UP_STAGES)))
    j = f.join(clients, [f.e_provider == clients.k_provider, f.answers == clients.k_answers])
    return j.select(provider_id=j.e_provider, day=j.top_date, value=(j.k_clients > 1).cast("float64"),
                    unit_id="top:" + j.top_id)


def completions_without_review(ctx: Context) -> ir.Table:
    """Started episodes discharged (on or before the as-of date) with a completion code at least `REVIEW_DUE_DAYS`
    after the start (a review was due): 1 when no review TOP is dated between the start and the discharge
    (inclusive). Counted on the discharge date."""
    e = known_episodes(ctx)
    e = e.filter(e.started & e.discharge_reason.isin(completion_reasons(ctx)).fill_null(False))
    e = e.filter(e.discharge_date >= e.start_date + ibis.interval(days=REVIEW_DUE_DAYS))
    t = ctx.wh.table("top")
    t = t.filter((t.stage == "review") & (t.top_date <= ctx.as_of))
    r = t.select(r_episode="episode_id", r_date="top_date")
    j = e.left_join(r, e.episode_id == r.r_episode)
    reviewed = (j.r_date >= j.start_date) & (j.r_date <= j.discharge_date)
    per = j.group_by(["provider_id", "episode_id", "discharge_date"]).aggregate(
        reviews=reviewed.fill_null(False).cast("int32").cast("int64").sum())
    return per.select("provider_id", day=per.discharge_date, value=(per.reviews == 0).cast("float64"),
                      unit_id="episode:" + per.episode_id)


# --- Outcome rates against the case-mix expectation ---------------------------------------------------------------

def _quarter_key(day: ir.DateValue) -> ir.IntegerValue:
    return day.year() * 10 + (day.month() - 1) // 3


def outcomes_against_case_mix(ctx: Context) -> ir.Table:
    """Every decided ledger row (achieved or not achieved; pending and not eligible left out), counted on its
    episode's start date, grouped by outcome: 1 when achieved. Its `expected` is the achievement rate of the
    other providers' rows for the same outcome, complexity group and start quarter (rows without peers are left
    out)."""
    def make() -> ir.Table:
        rows = outcome_ledger(ctx)
        rows = rows.filter(rows.status.isin([ACHIEVED, NOT_ACHIEVED]))
        e = known_episodes(ctx).select(k_episode="episode_id", k_start="start_date")
        j = rows.join(e, rows.episode_id == e.k_episode)
        j = j.filter(j.k_start.notnull())
        j = j.mutate(q=_quarter_key(j.k_start), hit=(j.status == ACHIEVED).cast("float64"),
                     complexity_group=j.complexity_group.fill_null("none"))
        keys = ["outcome_id", "complexity_group", "q"]
        own = j.group_by([*keys, "provider_id"]).aggregate(o_n=j.hit.count(), o_hit=j.hit.sum())
        every = j.group_by(keys).aggregate(a_n=j.hit.count(), a_hit=j.hit.sum())
        own = own.join(every, keys)
        own = own.mutate(peers_n=own.a_n - own.o_n, peers_hit=own.a_hit - own.o_hit)
        own = own.filter(own.peers_n > 0)
        own = own.select(*keys, "provider_id", expected=own.peers_hit / own.peers_n)
        c = j.join(own, [*keys, "provider_id"])
        out = c.select(provider_id=c.provider_id, day=c.k_start, value=c.hit, expected=c.expected,
                       group=c.outcome_id, unit_id="episode:" + c.episode_id)
        return ctx.wh.materialize("_assure_case_mix", out)
    return ctx.shared("misrepresentation.case_mix", make)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        family="misrepresentation", id="zero_use_heaping",
        title="Zero days of use at the first follow-up TOP after use at the start", direction="high", kind="rate",
        cases=zero_use_heaping,
        formula="episodes whose first review or exit TOP records zero days of use of every presenting substance / "
                "episodes whose start TOP recorded use of a presenting substance",
        meaning="This provider's follow-up TOPs record zero use (the abstinence outcome's answer) far more often "
                "than its peers' for clients who were using at the start: answers may be recorded as better than "
                "they were.",
        next_step="Sample the TOPs listed and compare them with the case notes, drug tests and prescribing "
                  "records of the same weeks; check who completed the TOP and whether the client took part.",
        drift=False, judged_periods=WINDOW_ONLY,
    ),
    Indicator(
        family="misrepresentation", id="completions_without_review",
        title="Completions with no review TOP during the episode", direction="high", kind="rate",
        cases=completions_without_review,
        formula=f"completions at least {REVIEW_DUE_DAYS} days after the start with no review TOP dated between the "
                f"start and the discharge / completions at least {REVIEW_DUE_DAYS} days after the start",
        meaning="More of this provider's completions have no review on record than its peers': completions may "
                "be recorded for clients who left treatment in another way.",
        next_step="Check the listed episodes' last contacts and discharge letters: was the completion planned "
                  "and agreed with the client, or did the client stop attending?",
        drift=False, judged_periods=WINDOW_ONLY,
    ),
    Indicator(
        family="misrepresentation", id="quality_of_life_heaping",
        title="Quality of life exactly at the contract's threshold", direction="high", kind="rate",
        cases=quality_of_life_heaping,
        formula="first follow-up TOPs rated at the quality-of-life threshold / those rated at the threshold or "
                "one point below it",
        meaning="Ratings pile up exactly where the quality-of-life outcome pays rather than just below it.",
        next_step="Compare the listed TOPs' ratings with the client's own account (feedback, case notes) and "
                  "with the same client's earlier ratings.",
        drift=False, judged_periods=WINDOW_ONLY,
    ),
    Indicator(
        family="misrepresentation", id="identical_top_answers",
        title="Review and exit TOPs identical to another client's", direction="high", kind="rate",
        cases=identical_answers,
        formula="review and exit TOPs whose every answer equals another client's TOP at the same provider / "
                "review and exit TOPs",
        meaning="The same answers recorded for different clients: forms may have been copied.",
        next_step="Open the listed TOPs side by side and ask who completed them and when.",
        drift=False, judged_groups=(),
    ),
    Indicator(
        family="misrepresentation", id="outcomes_against_case_mix",
        title="Outcome rate against the case-mix expectation", direction="high", kind="rate",
        cases=outcomes_against_case_mix, by_group=True, judged_groups=(), group_word="outcome",
        formula="achieved / decided ledger rows of the outcome, against the sum over the rows of the peers' "
                "achievement rate for the same outcome, complexity group and start quarter",
        meaning="This provider achieves the outcome far more often than its peers do for clients of the same "
                "complexity starting in the same quarter.",
        next_step="Audit a sample of the achieved rows (the evidence TOPs and discharges) before paying.",
        drift=False,
    ),
)


# --- The pilots' pattern: abstinence up while completions fall ----------------------------------------------------

PATTERN_ID = "abstinence_up_completions_down"


def _abstinence_cases(ctx: Context) -> ir.Table:
    f = first_follow_ups(ctx)
    return f.select("provider_id", "day", value=f.zero_use.cast("float64"), unit_id="top:" + f.top_id)


def _completion_cases(ctx: Context) -> ir.Table:
    e = known_episodes(ctx)
    e = e.filter(e.started & e.discharge_date.notnull())
    done = e.discharge_reason.isin(completion_reasons(ctx)).fill_null(False)
    return e.select("provider_id", day=e.discharge_date, value=done.cast("float64"),
                    unit_id="episode:" + e.episode_id)


def pattern_judgement(abstinence: tuple[float, float, float] | None,
                      completion: tuple[float, float, float] | None) -> tuple[float | None, str]:
    """The pattern's z (the weaker of abstinence rising and completions falling, each against its peers' change)
    and its level: an alarm when both are beyond their 95% limits the pilots' way (about 1 in 1,600 by chance for
    independent rates), a warning when one is and the other moves the same way."""
    if abstinence is None or completion is None:
        return None, "too_few"
    z = []
    for (value, expected, spread), sign in ((abstinence, 1.0), (completion, -1.0)):
        difference = sign * (value - expected)
        z.append(difference / spread if spread > 0 else math.copysign(math.inf, difference) if difference else 0.0)
    weaker = min(z)
    if weaker > stats.Z95:
        return weaker, "alarm"
    if max(z) > stats.Z95 and weaker > 0:
        return weaker, "warning"
    return weaker, "in_control"


def extra_rows(ctx: Context, rows: Sequence[IndicatorRow] = ()) -> list[IndicatorRow]:
    """(`rows`, the rows made so far, are not needed.) One row per provider over the monitoring window: recorded
    abstinence (first follow-up TOPs with zero use)
    rising from its baseline more than its peers' while its completion rate (completions / discharges) falls
    more than its peers'. `value` and `expected` are the abstinence changes (provider, peers); the completion
    changes are in the words."""
    abstinence = window_baseline_cells(ctx, _abstinence_cases(ctx))
    completion = window_baseline_cells(ctx, _completion_cases(ctx))
    rows = []
    for provider in ctx.providers:
        a = change_against_peers(abstinence, provider, ctx.providers)
        c = change_against_peers(completion, provider, ctx.providers)
        z, level = pattern_judgement(a, c)
        flagged = level == "alarm"
        limits = {} if a is None else {name: [a[1] - k * a[2], a[1] + k * a[2]]
                                       for name, k in (("95", stats.Z95), ("99.8", stats.Z998))}
        n = abstinence.get((provider, "window"), (0, 0.0))[0]
        peers_n = sum(abstinence.get((p, "window"), (0, 0.0))[0] for p in ctx.providers if p != provider)
        base = abstinence.get((provider, "baseline"))
        rows.append(IndicatorRow(
            provider_id=provider, family="misrepresentation", indicator=PATTERN_ID,
            title="Recorded abstinence up while completions fall (against baseline and peers)",
            period=ctx.window.label, period_kind="window", period_start=ctx.window.start,
            period_end=ctx.window.end, value=None if a is None else a[0], expected=None if a is None else a[1],
            baseline=None if not base or not base[0] else base[1] / base[0], n=n, peers_n=peers_n, limits=limits,
            z=z, p_value=None, cusum=None, level=level, flagged=flagged, direction="high",
            meaning=("Recorded abstinence rose and completions fell against this provider's baseline, both "
                     "beyond what its peers' changes allow: the pattern the pilots' evaluation found where "
                     "success was recorded rather than achieved.") if flagged else "",
            unusual=_pattern_words(a, c, level),
            next_step=("Audit the abstinence TOPs of the window against case notes and drug tests, and review "
                       "the discharges that were not completions.") if flagged else ""))
    return rows


def _pattern_words(a: tuple[float, float, float] | None, c: tuple[float, float, float] | None, level: str) -> str:
    if a is None or c is None:
        return f"too few cases to judge (fewer than {stats.MIN_CASES})"
    return (f"abstinence {a[0]:+.1%} from baseline (peers {a[1]:+.1%}); completions {c[0]:+.1%} "
            f"(peers {c[1]:+.1%}); {level.replace('_', ' ')}")
