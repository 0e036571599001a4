"""Service users' views beside the outcomes (family `feedback`): triangulation, as the pilots' lessons ask.

- `feedback_score`: the mean feedback score (1-5) of a provider's service users against its peers' in the same
  period. Low is the concern.
- `outcomes_up_views_down`: a provider whose recorded outcomes rose more than its peers' since the baseline while
  its service users' views are below its peers' (or fell over the window). Outcomes recorded better than true
  usually leave service users' views where they were, or lower; a genuine improvement usually lifts both.

The second is a combination of two judgements, so it is made here (`extra_rows`) from the same helpers:
  outcome rise z = ((a_p - b_p) - (a_q - b_q)) / sqrt(v(a_p) + v(b_p) + v(a_q) + v(b_q)),
with a the achievement rate over the window and b over the baseline (achieved / decided, every paid outcome
pooled, from the engine's ledger), p the provider and q its peers, v(r) = r (1 - r) / n; views z is the
`feedback_score` window z, or the change in the mean score from the window's first half to its second against the
peers' change, whichever is lower. Flagged when the outcome rise z is above 1.96 and the views z below -1.96 (each
beyond its 95% limit in the gaming direction; together by chance about 1 in 1,600 when the two are independent).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import ibis.expr.types as ir

from recoverypbr.assurance import stats
from recoverypbr.assurance.frame import (
    Context,
    Indicator,
    IndicatorRow,
    change_against_peers,
    outcome_ledger,
    window_baseline_cells,
)
from recoverypbr.payments.periods import Period

#: Ledger statuses that decide an outcome (the denominator of an achievement rate).
DECIDED = ("achieved", "not_achieved")


def _feedback_cases(ctx: Context) -> ir.Table:
    f = ctx.wh.table("feedback")
    f = f.filter(f.response_date <= ctx.as_of)
    return f.select(provider_id=f.provider_id, day=f.response_date, value=f.score.cast("float64"),
                    unit_id="feedback:" + f.response_key)


FEEDBACK_SCORE = Indicator(
    family="feedback", id="feedback_score", title="Service users' mean feedback score (1-5)", direction="low",
    kind="mean", cases=_feedback_cases, drift=False, judged_periods=("window",),
    meaning="Service users rate this provider lower than they rate its peers.",
    next_step="Read the comments behind the low scores (the rows listed), compare with complaints, and ask the "
              "provider and service-user groups what changed.",
    formula="mean score of the provider's responses in the period; expected: the peers' mean; limits from the "
            "pooled standard deviation",
)

INDICATORS: tuple[Indicator, ...] = (FEEDBACK_SCORE,)

TRIANGULATION = "outcomes_up_views_down"
_MEANING = ("Recorded outcomes rose more than the peers' since the baseline while service users' views are lower "
            "than the peers' or falling: the pattern of success recorded better than it is.")
_NEXT = ("Audit a sample of the provider's achieved outcomes against case files (assure sample), and read its "
         "service users' comments.")


def _outcome_cases(ctx: Context) -> ir.Table:
    """Decided ledger rows (every outcome pooled), counted on their episode's start date: 1 when achieved."""
    led = outcome_ledger(ctx)
    led = led.filter(led.status.isin(DECIDED) & led.provider_id.notnull())
    episodes = ctx.wh.table("episodes")
    e = episodes.select(l_episode=episodes.episode_id, l_start=episodes.start_date)
    j = led.join(e, led.episode_id == e.l_episode)
    return j.select("provider_id", day=j.l_start, value=(j.status == "achieved").cast("float64"),
                    unit_id="episode:" + j.episode_id)


def _score_means(ctx: Context, period: Period) -> dict[str, tuple[float, float, int]]:
    """provider -> (sum, sum of squares, count) of feedback scores in the period."""
    f = ctx.wh.table("feedback")
    f = f.filter(f.response_date.between(period.start, min(period.end, ctx.as_of)))
    agg = f.group_by("provider_id").aggregate(
        total=f.score.sum(), squares=(f.score * f.score).sum(), n=f.count())
    return {r["provider_id"]: (float(r["total"] or 0), float(r["squares"] or 0), int(r["n"]))
            for r in ctx.wh.to_arrow(agg).to_pylist()}


def _change_z(first: dict[str, tuple[float, float, int]], second: dict[str, tuple[float, float, int]],
              providers: tuple[str, ...], provider: str) -> float | None:
    """z of the provider's change in mean score (second half minus first) against its peers' change."""
    def stats_of(cells: dict[str, tuple[float, float, int]], who: list[str]) -> tuple[float, float, int] | None:
        total = sum(cells.get(p, (0, 0, 0))[0] for p in who)
        squares = sum(cells.get(p, (0, 0, 0))[1] for p in who)
        n = sum(cells.get(p, (0, 0, 0))[2] for p in who)
        if n < stats.MIN_CASES:
            return None
        mean = total / n
        return mean, max(squares / n - mean * mean, 0.0) * n / max(n - 1, 1), n

    peers = [p for p in providers if p != provider]
    parts = [stats_of(first, [provider]), stats_of(second, [provider]), stats_of(first, peers),
             stats_of(second, peers)]
    if any(x is None for x in parts):
        return None
    (m1, v1, n1), (m2, v2, n2), (q1, w1, k1), (q2, w2, k2) = parts  # type: ignore[misc]
    se = math.sqrt(v1 / n1 + v2 / n2 + w1 / k1 + w2 / k2)
    return None if se == 0 else ((m2 - m1) - (q2 - q1)) / se


def extra_rows(ctx: Context, rows: list[IndicatorRow]) -> list[IndicatorRow]:
    """The triangulation row per provider over the window, from the ledger and the `feedback_score` rows."""
    window = ctx.window
    outcomes = window_baseline_cells(ctx, _outcome_cases(ctx))
    half = window.start + timedelta(days=(window.end - window.start).days // 2)
    first = _score_means(ctx, Period(window.start, half, "first half"))
    second = _score_means(ctx, Period(half + timedelta(days=1), window.end, "second half"))
    views = {r.provider_id: r for r in rows if r.indicator == FEEDBACK_SCORE.id and r.period_kind == "window"}
    made = []
    for provider in ctx.providers:
        change = change_against_peers(outcomes, provider, ctx.providers)
        rise = None if change is None else change[0] - change[1]
        rise_z = None if change is None or change[2] <= 0 else (change[0] - change[1]) / change[2]
        n = outcomes.get((provider, "window"), (0, 0.0))[0]
        peers_n = sum(outcomes.get((p, "window"), (0, 0.0))[0] for p in ctx.providers if p != provider)
        level_row = views.get(provider)
        level_z = level_row.z if level_row is not None else None
        trend_z = _change_z(first, second, ctx.providers, provider)
        view_candidates = [z for z in (level_z, trend_z) if z is not None and math.isfinite(z)]
        views_z = min(view_candidates) if view_candidates else None
        judged = rise_z is not None and views_z is not None
        flagged = judged and rise_z > stats.Z95 and views_z < -stats.Z95  # type: ignore[operator]
        unusual = ("too few outcomes or responses to judge" if not judged else
                   f"outcomes changed {rise_z:+.1f} standard errors against the peers' change since the "
                   f"baseline; views {views_z:+.1f} standard errors against the peers'")
        made.append(IndicatorRow(
            provider_id=provider, family="feedback", indicator=TRIANGULATION,
            title="Recorded outcomes up while service users' views are down", period=window.label,
            period_kind="window", period_start=window.start, period_end=window.end,
            value=rise, expected=0.0 if judged else None, baseline=None, n=n, peers_n=peers_n,
            limits=_both_limits(), z=rise_z, p_value=None, cusum=None,
            level="alarm" if flagged else "in_control" if judged else "too_few", flagged=bool(flagged),
            direction="high", meaning=_MEANING if flagged else "", unusual=unusual,
            next_step=_NEXT if flagged else "",
            rows=tuple(level_row.rows) if flagged and level_row is not None else (),
            rows_total=level_row.rows_total if flagged and level_row is not None else 0))
    return made


def _both_limits() -> dict[str, list[float]]:
    """The triangulation's limits, in z: outcomes' rise above 1.96 together with views below -1.96."""
    return {"outcome_rise_z": [-stats.Z95, stats.Z95], "views_z": [-stats.Z95, stats.Z95]}


def feedback_summary(ctx: Context) -> list[dict[str, Any]]:
    """Per provider and quarter: responses, mean score and the share scoring 4 or 5 (the report's table)."""
    f = ctx.wh.table("feedback")
    f = f.filter(f.response_date.between(ctx.window.start, ctx.as_of))
    quarter = f.response_date.year().cast("string") + "-Q" + (((f.response_date.month() - 1) // 3) + 1).cast(
        "string")
    agg = f.group_by([f.provider_id, quarter.name("quarter")]).aggregate(
        responses=f.count(), mean_score=f.score.mean(), positive=(f.score >= 4).cast("int32").cast("int64").sum())
    out: list[dict[str, Any]] = ctx.wh.to_arrow(agg.order_by(["provider_id", "quarter"])).to_pylist()
    for r in out:
        r["positive_share"] = r.pop("positive") / r["responses"] if r["responses"] else None
    return out
