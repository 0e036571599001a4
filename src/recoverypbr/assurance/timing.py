"""Timing indicators: discharges and reviews bunched just after the edge of a payment window.

A provider paid by statement period (a quarter, or a month) and by contract year can gain by moving an event
across an edge: a discharge held back from the last days of a quarter into the first days of the next puts its
outcome (and the episode's re-presentation clock) in the next statement, where a cap or floor may treat it
better, and a review moved past a contract year's edge is priced at the next year's share on results.

The measure is the same for every edge: the share of the events near it that fall just after it (each case is
1 after the edge and 0 before, so a provider's rate is `stats.share_after` of its counts), a band just after the
edge against a band just before it (`bands`: the last three weeks before the edge and the first two after it
under quarterly statements; two weeks each under monthly ones). Without timing the density of events is smooth
over those five weeks, so the share after is about the bands' ratio (14/35); a provider's share is judged against
its peers' share around the same edges, which carries the calendar's own bumps (holidays, weekends). Each case is
one event within a band, counted on the edge's day (so both bands of an edge fall in the quarter the edge opens);
only edges whose bands have ended by the as-of date are counted.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from recoverypbr.assurance.frame import WINDOW_ONLY, Context, Indicator, known_episodes

#: The bands around an edge, in days, under quarterly statements: the last three weeks before the edge against
#: the first two after it. An event held back into the next window is recorded soon after the window opens, and
#: it comes from the closing weeks of the one before; a band wider than that only adds events nobody moved.
#: Without timing the share after is the bands' ratio, 14/35.
BAND_BEFORE_DAYS = 21
BAND_AFTER_DAYS = 14
#: Under monthly statements both bands are two weeks, so that the bands of consecutive edges never overlap.
MONTHLY_BAND_DAYS = 14
#: Flags on the whole window only: timing, once begun, shows at every edge, while a quarter's one edge holds few
#: events (its limits, and a CUSUM over such quarters, would raise more false alarms than they find gaming).


def bands(ctx: Context) -> tuple[int, int]:
    """The widths of the bands before and after an edge, in days, under the contract's payment schedule."""
    if ctx.contract.payment_schedule.frequency == "monthly":
        return MONTHLY_BAND_DAYS, MONTHLY_BAND_DAYS
    return BAND_BEFORE_DAYS, BAND_AFTER_DAYS


def payment_edges(ctx: Context) -> list[date]:
    """The first days of the payment windows from the baseline's start to the as-of date: each statement period
    (calendar quarters, or months when the contract pays monthly) and each contract year (and the baseline's own
    year start), keeping only edges whose bands lie inside baseline start..as-of. A year edge within two bands of
    a statement edge is the same edge for counting (a discharge is counted once)."""
    first, last = ctx.baseline.start, ctx.as_of
    monthly = ctx.contract.payment_schedule.frequency == "monthly"
    step = 1 if monthly else 3
    statement: list[date] = []
    year, month = first.year, first.month
    month = month if monthly else 3 * ((month - 1) // 3) + 1
    while date(year, month, 1) <= last:
        statement.append(date(year, month, 1))
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    years = [y.start for y in ctx.contract.years] + [ctx.baseline.start]
    before, after = bands(ctx)
    edges = set(statement)
    for day in years:
        if all(abs((day - other).days) >= before + after for other in statement):
            edges.add(day)
    return sorted(d for d in edges if d - timedelta(days=before) >= first and d + timedelta(days=after - 1) <= last)


def _edges_table(ctx: Context) -> ir.Table:
    edges = payment_edges(ctx)
    before, after = bands(ctx)
    return ibis.memtable(
        {"edge": edges, "band_start": [d - timedelta(days=before) for d in edges],
         "band_end": [d + timedelta(days=after - 1) for d in edges]},
        schema={"edge": "date", "band_start": "date", "band_end": "date"},
    )


def around_edges(events: ir.Table, ctx: Context) -> ir.Table:
    """Cases for `events` (`provider_id`, `on`, `unit_id`) within a band of a payment edge: `value` 1 after the
    edge, 0 before it, counted on the edge's day."""
    edges = _edges_table(ctx)
    j = events.join(edges, [events.on >= edges.band_start, events.on <= edges.band_end])
    return j.select(provider_id=j.provider_id, day=j.edge, value=(j.on >= j.edge).cast("float64"),
                    unit_id=j.unit_id)


def discharges_after_edge(ctx: Context) -> ir.Table:
    """Every discharge of a started episode known on the as-of date, within a band of a payment edge."""
    e = known_episodes(ctx)
    e = e.filter(e.started & e.discharge_date.notnull())
    events = e.select("provider_id", on=e.discharge_date, unit_id="episode:" + e.episode_id)
    return around_edges(events, ctx)


def reviews_after_edge(ctx: Context) -> ir.Table:
    """Every review TOP dated on or before the as-of date, within a band of a payment edge (its provider is its
    episode's). Shown, not judged: reviews come about every six months, two quarters apart, so one client's
    reviews fall at the same point of every quarter and its cases are not independent; binomial limits would be
    too narrow (on areas of equal providers they flagged clean providers)."""
    t = ctx.wh.table("top")
    t = t.filter((t.stage == "review") & (t.top_date <= ctx.as_of))
    e = known_episodes(ctx).select(e_episode="episode_id", e_provider="provider_id")
    j = t.join(e, t.episode_id == e.e_episode)
    events = j.select(provider_id=j.e_provider, on=j.top_date, unit_id="top:" + j.top_id)
    return around_edges(events, ctx)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        family="timing", id="discharges_after_payment_edge",
        title="Discharges just after a payment window's edge", direction="high", kind="rate",
        cases=discharges_after_edge,
        formula=f"discharges in the {BAND_AFTER_DAYS} days from each quarter's (or month's) and contract year's "
                f"first day / discharges in those days and the {BAND_BEFORE_DAYS} days before it (two weeks each "
                f"side under monthly statements)",
        meaning="More of this provider's discharges fall just after a payment window opens than just before it "
                "closes, compared with its peers: discharges may be held back into the next statement period.",
        next_step="List the discharges in the first weeks of the flagged quarters (the rows below) and check "
                  "their case notes: the last contact, the planned exit date and when the exit TOP was done.",
        drift=False, judged_periods=WINDOW_ONLY,
    ),
    Indicator(
        family="timing", id="reviews_after_payment_edge",
        title="Review TOPs just after a payment window's edge", direction="high", kind="rate",
        cases=reviews_after_edge,
        formula=f"review TOPs in the {BAND_AFTER_DAYS} days from each payment window's first day / review TOPs in "
                f"those days and the {BAND_BEFORE_DAYS} days before it (two weeks each side under monthly "
                f"statements)",
        meaning="More of this provider's review TOPs fall just after a payment window opens than just before "
                "it closes: reviews (and the outcomes they record) may be timed for the next statement or year.",
        next_step="Compare the review dates with the episodes' review schedule (about every six months) and ask "
                  "why reviews were due in one window but done in the next.",
        drift=False, judged_groups=(),
    ),
)
