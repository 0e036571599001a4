"""Timing indicators on a small hand-made area (tests/fixtures/assurance/timing/area/, the Marlshire contract:
quarterly statements, contract years from 2012-04-01; as of 2012-12-31, window 2012-04-01..2012-12-31).

Bands around an edge: 21 days before it, 14 from it. Around the edge 2012-07-01 (before band 2012-06-10..06-30,
after band 2012-07-01..07-14):
- P01 (the planted timing): 14 discharges on 2012-07-01..07-14 and one on 2012-06-10 (the before band's first day);
  not counted: discharges on 2012-06-09 and 2012-07-15 (just outside), 2012-08-15 (no band), 2013-01-05 (after the
  as-of date), and a referral that never started, closed on 2012-07-02;
- P02 (clean): 5 discharges on 2012-07-01..07-05 and 10 on 2012-06-21..06-30.
P01 also has a baseline discharge on 2012-01-03 (edge 2012-01-01) and three review TOPs around 2012-10-01.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pytest

from recoverypbr import load_extract, open_warehouse
from recoverypbr.assurance import timing
from recoverypbr.assurance.frame import Context, IndicatorRow, evaluate, monitoring_periods, with_rows
from recoverypbr.assurance.stats import Z95, Z998
from recoverypbr.contract.load import load_contract

ROOT = Path(__file__).resolve().parents[2]
AREA = ROOT / "tests" / "fixtures" / "assurance" / "timing" / "area"
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
AS_OF = date(2012, 12, 31)
DISCHARGES, REVIEWS = timing.INDICATORS


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    wh = open_warehouse(tmp_path_factory.mktemp("timing") / "w.duckdb")
    result = load_extract(wh, AREA, now=datetime(2013, 1, 2))
    assert not wh.execute("SELECT * FROM quarantine"), result
    contract = load_contract(CONTRACT)
    quarters, window, baseline = monitoring_periods(contract, AS_OF)
    return Context(wh, contract, AS_OF, quarters, window, baseline, ("P01", "P02"))


def _row(rows: list[IndicatorRow], provider: str, kind: str = "window") -> IndicatorRow:
    found = [r for r in rows if r.provider_id == provider and r.period_kind == kind]
    assert len(found) == 1, found
    return found[0]


def test_edges_are_the_quarters_and_years_whose_bands_are_complete(ctx: Context) -> None:
    # From the baseline's start (2011-04-01): its own edge has no complete before band; 2013-01-01's after band
    # ends after the as-of date. The contract years start on quarter edges, so they add none.
    assert timing.payment_edges(ctx) == [date(2011, 7, 1), date(2011, 10, 1), date(2012, 1, 1), date(2012, 4, 1),
                                         date(2012, 7, 1), date(2012, 10, 1)]
    assert timing.bands(ctx) == (21, 14)


def test_discharges_bunched_after_the_edge_are_flagged(ctx: Context) -> None:
    rows = with_rows(ctx, DISCHARGES, evaluate(ctx, DISCHARGES))
    p01, p02 = _row(rows, "P01"), _row(rows, "P02")
    # P01: 14 after / 15 = 0.933333; peers (P02): 5 / 15 = 0.333333.
    # s = sqrt(1/3 * 2/3 * (1/15 + 1/15)) = 0.172133; z = (0.933333 - 0.333333) / 0.172133 = 3.4857 > 3.09.
    assert (p01.n, p01.peers_n) == (15, 15)
    assert p01.value == pytest.approx(14 / 15) and p01.expected == pytest.approx(1 / 3)
    s = math.sqrt(1 / 3 * 2 / 3 * (2 / 15))
    assert s == pytest.approx(0.172133, abs=1e-6)
    assert p01.z == pytest.approx(3.4857, abs=1e-4)
    # Limits: 1/3 - 1.96 s < 0 is clipped to 0; 1/3 + 1.96 s = 0.670707; 1/3 + 3.09 s = 0.865263.
    assert p01.limits["95"] == pytest.approx([0.0, 1 / 3 + Z95 * s])
    assert p01.limits["99.8"] == pytest.approx([0.0, 0.865263], abs=1e-6)
    assert p01.level == "alarm" and p01.flagged
    assert p01.rows == tuple(f"episode:E{i:03d}" for i in range(1, 15))  # the 14 just after the edge
    # P02: 1/3 against 14/15: far below (z = -6.587), not the way timing pushes.
    assert p02.z == pytest.approx(-6.5873, abs=1e-4) and not p02.flagged
    # The edge's cases count in the quarter it opens; quarters are shown, only the window is judged.
    q3 = next(r for r in rows if r.provider_id == "P01" and r.period == "2012-Q3")
    assert q3.n == 15 and q3.level == "alarm" and not q3.flagged
    base = _row(rows, "P01", "baseline")
    assert (base.n, base.value, base.level) == (1, 1.0, "too_few")


def test_a_clean_provider_is_not_flagged(ctx: Context) -> None:
    """P02, whose discharges fall before the edge as much as after it, is flagged in no period."""
    rows = evaluate(ctx, DISCHARGES)
    assert not any(r.flagged for r in rows if r.provider_id == "P02")
    assert _row(rows, "P02").z < Z998


def test_reviews_around_the_edge_are_shown(ctx: Context) -> None:
    rows = evaluate(ctx, REVIEWS)
    p01 = _row(rows, "P01")
    # Reviews on 2012-09-20 (before 2012-10-01) and 2012-10-01, 2012-10-02 (after): 2 / 3, too few to judge.
    assert (p01.n, p01.value, p01.level, p01.flagged) == (3, pytest.approx(2 / 3), "too_few", False)
    assert REVIEWS.judged_groups == ()  # shown, never flagged: one client's six-monthly reviews are not independent


def test_monthly_statements_use_two_week_bands(ctx: Context) -> None:
    contract = ctx.contract.model_copy(update={"payment_schedule": ctx.contract.payment_schedule.model_copy(
        update={"frequency": "monthly"})})
    monthly = Context(ctx.wh, contract, AS_OF, ctx.quarters, ctx.window, ctx.baseline, ctx.providers)
    assert timing.bands(monthly) == (14, 14)
    edges = timing.payment_edges(monthly)
    assert edges[0] == date(2011, 5, 1) and edges[-1] == date(2012, 12, 1) and len(edges) == 20
    rows = evaluate(monthly, DISCHARGES)
    # Edge 2012-07-01 now counts 2012-06-17..06-30 and 2012-07-01..07-14: P01 14 after, none before (its
    # 2012-06-09 and 06-10 are just after the edge 2012-06-01, in 2012-Q2); P02 5 after, 10 before.
    q3 = {r.provider_id: r for r in rows if r.period == "2012-Q3"}
    assert (q3["P01"].n, q3["P01"].value) == (14, 1.0)
    assert (q3["P02"].n, q3["P02"].value) == (15, pytest.approx(5 / 15))
    q2 = next(r for r in rows if r.provider_id == "P01" and r.period == "2012-Q2")
    assert (q2.n, q2.value) == (2, 1.0)


def test_a_contract_year_starting_mid_quarter_is_an_edge_of_its_own(ctx: Context) -> None:
    first = ctx.contract.years[0]
    years = [first.model_copy(update={"end": date(2012, 11, 14)}),
             first.model_copy(update={"start": date(2012, 11, 15), "end": date(2013, 11, 14)})]
    contract = ctx.contract.model_copy(update={"years": years})
    shifted = Context(ctx.wh, contract, AS_OF, ctx.quarters, ctx.window, ctx.baseline, ctx.providers)
    edges = timing.payment_edges(shifted)
    # 2012-11-15 is 45 days from 2012-10-01 and 47 from 2013-01-01, more than the 35 days of two bands.
    assert date(2012, 11, 15) in edges and len(edges) == 7
