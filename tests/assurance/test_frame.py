"""The monitoring frame's arithmetic, worked by hand: funnel limits, CUSUM, periods, and one indicator end to end.

Golden area (tests/fixtures/assurance/frame): three treatment providers and their feedback in the contract's first
year. P01: ten responses scoring 2. P02 and P03: five 4s and five 5s each. One P01 response before go-live (the
baseline) and one after the as-of date (unknown then).

For P01 against its peers (P02 + P03 pooled: 20 responses, mean 4.5):
  pooled over all 30: mean 110/30 = 3.6667, mean of squares 450/30 = 15, variance 15 - 13.4444 = 1.5556,
  sample variance 1.5556 x 30/29 = 1.6092, sd 1.2685;
  standard error 1.2685 x sqrt(1/10 + 1/20) = 0.49130; z = (2 - 4.5) / 0.49130 = -5.0886;
  99.8% limits 4.5 +/- 3.0902 x 0.49130 = 2.9818 to 6.0182; 95% limits 4.5 +/- 1.9600 x 0.49130 = 3.5371 to 5.4629.
  The score's gaming direction is low, so P01 is flagged (beyond its 99.8% limit, low).
For P02 against P01 + P03 (mean (20 + 45)/20 = 3.25): z = (4.5 - 3.25) / 0.49130 = +2.5443, high: not flagged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from recoverypbr import load_extract
from recoverypbr.assurance import stats
from recoverypbr.assurance.feedback import FEEDBACK_SCORE
from recoverypbr.assurance.frame import Context, best_paid_group, evaluate, monitoring_periods, with_rows
from recoverypbr.contract.load import load_contract
from recoverypbr.warehouse.connection import Warehouse

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "assurance" / "frame"
CONTRACT = ROOT / "contracts" / "marlshire.yaml"


def test_rate_limits_by_hand() -> None:
    # 30 of 100 against peers' 20% of 400: se = sqrt(0.2 x 0.8 x (1/100 + 1/400)) = sqrt(0.002) = 0.044721
    spread = stats.rate_spread(0.2, 100, 400)
    assert spread == pytest.approx(0.0447214, abs=1e-6)
    judged = stats.judge(0.3, 0.2, spread, "high", 100)
    assert judged.z == pytest.approx(2.23607, abs=1e-5)
    assert judged.level == "warning"  # beyond 95% (1.96), within 99.8% (3.09)
    assert judged.limits["99.8"] == pytest.approx([0.2 - 3.090232 * 0.0447214, 0.2 + 3.090232 * 0.0447214], abs=1e-6)
    assert stats.judge(0.3, 0.2, spread, "low", 100).level == "in_control"  # the other way is not gaming
    assert stats.judge(0.4, 0.2, spread, "high", 100).level == "alarm"  # z = 4.47
    assert stats.judge(0.9, 0.2, spread, "high", 9).level == "too_few"
    # limits of a rate stay inside 0 to 1
    assert stats.judge(0.02, 0.01, stats.rate_spread(0.01, 20, 20), "high", 20).limits["99.8"][0] == 0.0


def test_cusum_by_hand() -> None:
    # k = 0.5: 0 + 1 - 0.5 = 0.5; 0.5 + 2 - 0.5 = 2.0; max(0, 2.0 - 1 - 0.5) = 0.5; 0.5 + 3 - 0.5 = 3.0
    assert stats.cusum([1, 2, -1, 3], "high") == [0.5, 2.0, 0.5, 3.0]
    assert stats.cusum([1, 2, -1, 3], "low") == [0.0, 0.0, 0.5, 0.0]
    assert stats.cusum([None, 4.0], "high") == [0.0, 3.5]
    assert stats.share_after(30, 10) == 0.75
    assert stats.share_after(0, 0) is None


def test_periods_quarters_window_and_baseline() -> None:
    contract = load_contract(CONTRACT)  # starts 2012-04-01
    quarters, window, baseline = monitoring_periods(contract, dt.date(2013, 2, 14))
    assert [q.label for q in quarters] == ["2012-Q2", "2012-Q3", "2012-Q4", "2013-01-01..2013-02-14"]
    assert (window.start, window.end) == (dt.date(2012, 4, 1), dt.date(2013, 2, 14))
    assert (baseline.start, baseline.end) == (dt.date(2011, 4, 1), dt.date(2012, 3, 31))
    assert best_paid_group(contract) == "high"


@pytest.fixture
def golden(wh: Warehouse) -> Context:
    load_extract(wh, FIXTURE)
    contract = load_contract(CONTRACT)
    as_of = dt.date(2013, 3, 31)
    quarters, window, baseline = monitoring_periods(contract, as_of)
    return Context(wh, contract, as_of, quarters, window, baseline, ("P01", "P02", "P03"))


def test_a_mean_indicator_against_its_peers_by_hand(golden: Context) -> None:
    rows = with_rows(golden, FEEDBACK_SCORE, evaluate(golden, FEEDBACK_SCORE))
    window = {r.provider_id: r for r in rows if r.period_kind == "window"}
    p01, p02 = window["P01"], window["P02"]
    assert (p01.n, p01.peers_n, p01.value, p01.expected) == (10, 20, 2.0, 4.5)
    assert p01.z == pytest.approx(-5.0886, abs=1e-4)
    assert p01.limits["99.8"] == pytest.approx([2.9818, 6.0182], abs=1e-4)
    assert p01.limits["95"] == pytest.approx([3.5371, 5.4629], abs=1e-4)
    assert (p01.level, p01.flagged) == ("alarm", True)
    assert p01.rows_total == 10 and all(r.startswith("feedback:") for r in p01.rows)
    assert p01.meaning and p01.next_step and "1 in" in p01.unusual
    assert p02.z == pytest.approx(2.5443, abs=1e-4)
    assert (p02.level, p02.flagged, p02.rows) == ("in_control", False, ())
    # the baseline row holds P01's one response before go-live; the one after the as-of date is unknown
    baseline = next(r for r in rows if r.provider_id == "P01" and r.period_kind == "baseline")
    assert (baseline.n, baseline.value, baseline.flagged) == (1, 5.0, False)
    assert p01.baseline == 5.0
    # quarters: P01's responses fall in 2012-Q2 (May, June) and 2012-Q3 (July, August)
    quarters = {r.period: r.n for r in rows if r.provider_id == "P01" and r.period_kind == "quarter"}
    assert quarters == {"2012-Q2": 6, "2012-Q3": 4, "2012-Q4": 0, "2013-Q1": 0}


def test_views_falling_against_peers_by_hand() -> None:
    """P1's scores: ten 4s in the window's first half, five 2s and five 3s in its second (mean 2.5, sample
    variance (5 x 0.25 + 5 x 0.25) / 9 = 0.27778); its peers' ten 4s in each half. The change -1.5 against the
    peers' 0, over sqrt(0/10 + 0.27778/10 + 0/10 + 0/10) = 0.16667: z = -9.0."""
    from recoverypbr.assurance.feedback import _change_z

    first = {"P1": (40.0, 160.0, 10), "P2": (40.0, 160.0, 10)}
    second = {"P1": (25.0, 65.0, 10), "P2": (40.0, 160.0, 10)}
    assert _change_z(first, second, ("P1", "P2"), "P1") == pytest.approx(-9.0)
    assert _change_z(first, second, ("P1", "P2"), "P2") == pytest.approx(9.0)
    # fewer than 10 responses in any half: not judged
    assert _change_z({"P1": (36.0, 144.0, 9), "P2": (40.0, 160.0, 10)}, second, ("P1", "P2"), "P1") is None
