"""Creaming and parking indicators on a small hand-made area (tests/fixtures/assurance/creaming/, the Marlshire
contract, as of 2013-03-31; window 2012-04-01..2013-03-31). Every client has one assessment on 2012-01-15: high
(6 points) or low (0 points).

P1, high group (the planted creaming and parking):
- A: 10 referrals on 2012-07-01 never started (declined 2012-07-06);
- B: 10 started 2012-07-01, still open; triage 15 or 25 days before (alternately); 5 have a review TOP;
- C: 10 started 2012-04-16 (triage 5 days before), left on 2012-10-15: 6 dropped out, 4 completed.
P2, high group (clean):
- A: 2 referrals never started, and one referred 2013-02-01 still waiting (under 91 days: not counted yet);
- B: 18 started 2012-07-01 (wait 5 days), open, 16 with a review; C: 20 like P1's C, 4 dropped out.
Low group: 10 alike clients at each provider (shown, not judged).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pytest

from recoverypbr import load_extract, open_warehouse
from recoverypbr.assurance import creaming
from recoverypbr.assurance.frame import Context, evaluate, monitoring_periods, with_rows
from recoverypbr.assurance.stats import Z998
from recoverypbr.contract.load import load_contract

ROOT = Path(__file__).resolve().parents[2]
AREA = ROOT / "tests" / "fixtures" / "assurance" / "creaming"
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
AS_OF = date(2013, 3, 31)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    wh = open_warehouse(tmp_path_factory.mktemp("cream") / "w.duckdb")
    load_extract(wh, AREA, now=datetime(2013, 4, 1))
    contract = load_contract(CONTRACT)
    quarters, window, baseline = monitoring_periods(contract, AS_OF)
    return Context(wh, contract, AS_OF, quarters, window, baseline, ("P1", "P2"), ("L1",))


def _row(rows, provider: str, indicator: str, kind: str = "window"):
    found = [r for r in rows if r.provider_id == provider and r.period_kind == kind and r.indicator == indicator]
    assert len(found) == 1, found
    return found[0]


def test_conversion_by_group(ctx: Context) -> None:
    rows = with_rows(ctx, creaming.CONVERSION, evaluate(ctx, creaming.CONVERSION))
    p1, p2 = _row(rows, "P1", "conversion.high"), _row(rows, "P2", "conversion.high")
    # P1: B + C started, A did not: 20 / 30. P2: 38 / 40 (the recent referral is not counted yet).
    # s = sqrt(0.95 * 0.05 * (1/30 + 1/40)) = 0.052639; z = (0.666667 - 0.95) / 0.052639 = -5.383: flagged (low).
    assert (p1.n, p2.n) == (30, 40)
    assert p1.value == pytest.approx(20 / 30) and p1.expected == pytest.approx(0.95)
    assert p1.z == pytest.approx(-5.3826, abs=1e-3)
    assert p1.flagged and not p2.flagged
    assert p1.rows_total == 10  # the referrals that never started
    low = _row(rows, "P1", "conversion.low")
    assert low.value == pytest.approx(1.0) and not low.flagged
    # Quarter by quarter (by referral day): A was referred in 2012-Q3, B and C in 2012-Q2 (all started).
    by_quarter = {r.period: r for r in rows if r.provider_id == "P1" and r.indicator == "conversion.high"
                  and r.period_kind == "quarter"}
    assert (by_quarter["2012-Q2"].n, by_quarter["2012-Q2"].value) == (20, pytest.approx(1.0))
    assert (by_quarter["2012-Q3"].n, by_quarter["2012-Q3"].value) == (10, pytest.approx(0.0))
    assert not any(r.flagged for r in by_quarter.values())  # quarters are shown; the window is judged


def test_wait_days_by_group(ctx: Context) -> None:
    rows = evaluate(ctx, creaming.WAIT_DAYS)
    p1, p2 = _row(rows, "P1", "wait_days.high"), _row(rows, "P2", "wait_days.high")
    # P1: 5 x 15 + 5 x 25 + 10 x 5 days = 250 over 20 = 12.5; P2: 38 x 5 = 5.0.
    # Pooled sd over the 58: mean 440/58, sum of squares 4500 + 950 = 5450;
    # var = (5450/58 - (440/58)^2) * 58/57 = 37.054; s = sqrt(37.054) * sqrt(1/20 + 1/38) = 1.6816; z = 4.460.
    assert (p1.n, p2.n) == (20, 38)
    assert p1.value == pytest.approx(12.5) and p1.expected == pytest.approx(5.0)
    var = (5450 / 58 - (440 / 58) ** 2) * 58 / 57
    spread = math.sqrt(var) * math.sqrt(1 / 20 + 1 / 38)
    assert p1.z == pytest.approx(7.5 / spread) and p1.z == pytest.approx(4.460, abs=1e-3)
    assert p1.limits["99.8"][1] == pytest.approx(5.0 + Z998 * spread)
    assert p1.flagged and not p2.flagged


def test_no_review_by_group(ctx: Context) -> None:
    rows = evaluate(ctx, creaming.NO_REVIEW)
    p1, p2 = _row(rows, "P1", "no_review.high"), _row(rows, "P2", "no_review.high")
    # Open 243 days after a 2012-07-01 start (2013-03-01, before the as-of date): P1's B (10, 5 without a review)
    # and P2's B (18, 2 without); C left before then. P1 0.5 against 0.1111:
    # s = sqrt(0.1111 * 0.8889 * (1/10 + 1/18)) = 0.12395; z = 3.138 (beyond 99.8%, but shown only).
    assert (p1.n, p2.n) == (10, 18)
    assert p1.value == pytest.approx(0.5) and p2.value == pytest.approx(2 / 18)
    assert p1.z == pytest.approx(3.1375, abs=1e-3) and p1.level == "alarm"
    assert p1.period_start == date(2012, 4, 1)
    assert not any(r.flagged for r in rows)


def test_unplanned_exits_by_group(ctx: Context) -> None:
    rows = evaluate(ctx, creaming.UNPLANNED_EXITS)
    p1, p2 = _row(rows, "P1", "unplanned_exits.high"), _row(rows, "P2", "unplanned_exits.high")
    # Exits of started episodes only (declined referrals are not exits): P1 6/10, P2 4/20.
    # s = sqrt(0.2 * 0.8 * (1/10 + 1/20)) = 0.154919; z = 0.4 / 0.154919 = 2.582: a warning, not flagged.
    assert (p1.n, p2.n) == (10, 20)
    assert p1.value == pytest.approx(0.6) and p1.z == pytest.approx(2.582, abs=1e-3)
    assert p1.level == "warning" and not p1.flagged


def test_clean_provider_never_flagged(ctx: Context) -> None:
    for indicator in creaming.INDICATORS:
        assert not any(r.flagged for r in evaluate(ctx, indicator) if r.provider_id == "P2"), indicator.id


def test_contract_without_grouping_is_judged_as_one_group(ctx: Context) -> None:
    """Worcestershire's contract has no complexity grouping: every case is in group `all`, which is judged."""
    from dataclasses import replace

    from recoverypbr.assurance import assessment

    plain = replace(ctx, contract=load_contract(ROOT / "contracts" / "worcestershire.yaml"), cache={})
    rows = evaluate(plain, creaming.CONVERSION)
    p1 = _row(rows, "P1", "conversion")
    # Both groups together: P1 20 + 10 (low) started of 40; P2 38 + 10 of 50.
    assert (p1.n, p1.value) == (40, pytest.approx(30 / 40))
    assert p1.flagged
    # The assessment indicators have nothing to judge without a grouping.
    for indicator in assessment.INDICATORS:
        assert not any(r.flagged for r in evaluate(plain, indicator)), indicator.id
    assert evaluate(plain, assessment.BEST_PAID_SHARE) == []
