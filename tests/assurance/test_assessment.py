"""Assessment indicators on a small hand-made area (tests/fixtures/assurance/assessment/, the Marlshire contract).

The area (as of 2013-03-31; baseline year 2011-04-01..2012-03-31; window 2012-04-01..2013-03-31):
- baseline: P1 and P2 each start 10 episodes on 2011-07-01, 2 of them high (6 points), 8 low (0 points);
- P1 starts 30 episodes on 2012-07-01: 18 high, 12 low; 3 of the low have "medium" recorded on their assessment;
  10 of the low clients (the last 10) are reassessed by P1 itself on 2012-09-01 with answers worth 6 points (high);
- P2 starts 30: 6 high, 24 low; one low client is reassessed high after its episode ended (not counted), one is
  reassessed low during treatment (no rise).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from recoverypbr import load_extract, open_warehouse
from recoverypbr.assurance import assessment
from recoverypbr.assurance.frame import Context, evaluate, monitoring_periods, with_rows
from recoverypbr.contract.load import load_contract

ROOT = Path(__file__).resolve().parents[2]
AREA = ROOT / "tests" / "fixtures" / "assurance" / "assessment"
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
AS_OF = date(2013, 3, 31)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    wh = open_warehouse(tmp_path_factory.mktemp("assess") / "w.duckdb")
    load_extract(wh, AREA, now=datetime(2013, 4, 1))
    contract = load_contract(CONTRACT)
    quarters, window, baseline = monitoring_periods(contract, AS_OF)
    return Context(wh, contract, AS_OF, quarters, window, baseline, ("P1", "P2"), ("L1", "P1"))


def _row(rows, provider: str, kind: str, indicator: str | None = None):
    found = [r for r in rows if r.provider_id == provider and r.period_kind == kind
             and (indicator is None or r.indicator == indicator)]
    assert len(found) == 1, found
    return found[0]


def test_best_paid_share_against_peers(ctx: Context) -> None:
    rows = with_rows(ctx, assessment.BEST_PAID_SHARE, evaluate(ctx, assessment.BEST_PAID_SHARE))
    p1, p2 = _row(rows, "P1", "window"), _row(rows, "P2", "window")
    # P1: 18 of 30 high = 0.6 against P2's 6 of 30 = 0.2.
    # s = sqrt(0.2 * 0.8 * (1/30 + 1/30)) = sqrt(0.0106667) = 0.103280; z = 0.4 / 0.103280 = 3.873 > 3.090: flagged.
    # 99.8% limits 0.2 -/+ 3.0902 * 0.103280 = [0 (clipped), 0.519164]; 95%: 0.2 + 1.95996 * 0.103280 = 0.402425.
    assert (p1.n, p1.peers_n) == (30, 30)
    assert p1.value == pytest.approx(0.6) and p1.expected == pytest.approx(0.2)
    assert p1.z == pytest.approx(3.8730, abs=1e-3)
    assert p1.limits["99.8"] == pytest.approx([0.0, 0.519164], abs=1e-5)
    assert p1.limits["95"][1] == pytest.approx(0.402425, abs=1e-5)
    assert p1.baseline == pytest.approx(0.2)  # 2 of 10 in its baseline year
    assert p1.flagged and p1.level == "alarm"
    assert p1.rows_total == 18 and all(r.startswith("episode:") for r in p1.rows)
    # The clean provider is below its peer, the other way from gaming: never flagged.
    assert p2.value == pytest.approx(0.2) and p2.z < 0 and not p2.flagged
    # Quarters are shown, never flagged by themselves (judged_periods is the window).
    assert not any(r.flagged for r in rows if r.period_kind == "quarter")


def test_best_paid_share_against_own_baseline_is_shown_not_flagged(ctx: Context) -> None:
    rows = evaluate(ctx, assessment.BEST_PAID_SHARE_OWN)
    p1 = _row(rows, "P1", "window")
    # Expected is P1's own baseline share 0.2; s = sqrt(30 * 0.2 * 0.8) / 30 = 0.073030; z = 0.4 / 0.073030 = 5.477.
    assert p1.indicator == "best_paid_share_own"
    assert p1.expected == pytest.approx(0.2) and p1.z == pytest.approx(5.477, abs=1e-3)
    assert not any(r.flagged for r in rows)


def test_recorded_higher_by_provider(ctx: Context) -> None:
    rows = evaluate(ctx, assessment.RECORDED_HIGHER)
    p1, p2 = _row(rows, "P1", "window"), _row(rows, "P2", "window")
    # P1: 3 of 30 episodes started on an assessment recorded "medium" whose answers give "low"; P2: none.
    assert (p1.n, p1.value) == (30, pytest.approx(0.1))
    assert (p2.n, p2.value) == (30, pytest.approx(0.0))
    assert _row(rows, "P1", "baseline").value == pytest.approx(0.0)
    assert not any(r.flagged for r in rows)  # shown for context


def test_recorded_higher_by_assessor(ctx: Context) -> None:
    rows = evaluate(ctx, assessment.ASSESSOR_RECORDED_HIGHER)
    l1, p1 = _row(rows, "L1", "window"), _row(rows, "P1", "window")
    # L1 assessed 60 clients on 2012-06-26 and reassessed 2 of P2's on 2012-09-01: 62, of which 3 recorded higher.
    # P1 made the 10 reassessments itself, each recorded as the rules give: 0 of 10.
    assert (l1.n, l1.value) == (62, pytest.approx(3 / 62))
    assert (p1.n, p1.value) == (10, pytest.approx(0.0))
    # L1's only peer has a rate of 0, which has no spread: the pooled rate 3/72 gives one.
    # s = sqrt(3/72 * 69/72 * (1/62 + 1/10)) = 0.068096; z = (3/62) / 0.068096 = 0.711: in control.
    assert l1.expected == pytest.approx(0.0) and l1.z == pytest.approx(0.7106, abs=1e-3)
    assert not l1.flagged and not p1.flagged
    assert _row(rows, "L1", "baseline").n == 20


def test_reassessment_raised(ctx: Context) -> None:
    rows = with_rows(ctx, assessment.REASSESSMENT_RAISED, evaluate(ctx, assessment.REASSESSMENT_RAISED))
    p1, p2 = _row(rows, "P1", "window"), _row(rows, "P2", "window")
    # P1: 10 of its 30 episodes were reassessed high in treatment; P2: 0 of 30 (the one reassessed high had ended,
    # the other stayed low). The peers' rate 0 has no spread, so the pooled rate 10/60 gives it:
    # s = sqrt(1/6 * 5/6 * (1/30 + 1/30)) = 0.096225; z = (1/3) / 0.096225 = 3.464 > 3.090: flagged.
    assert p1.value == pytest.approx(1 / 3) and p2.value == pytest.approx(0.0)
    assert p1.z == pytest.approx(3.4641, abs=1e-3)
    assert p1.flagged and not p2.flagged
    assert p1.rows_total == 10


def test_indicators_exported() -> None:
    ids = [i.id for i in assessment.INDICATORS]
    assert ids == ["best_paid_share", "best_paid_share_own", "recorded_higher", "assessor_recorded_higher",
                   "reassessment_raised"]
    assert {i.family for i in assessment.INDICATORS} == {"assessment"}


def test_first_per_client_counts_a_client_once_per_segment(ctx: Context) -> None:
    """A client's episodes are alike, so each client counts once in the baseline year and once in the window."""
    import ibis

    t = ibis.memtable({
        "client_id": ["C1", "C1", "C1", "C1", "C2"],
        "episode_id": ["E0", "E1", "E3", "E2", "E4"],
        "start_date": [date(2010, 5, 1), date(2011, 7, 1), date(2012, 9, 1), date(2012, 7, 1), date(2012, 7, 1)],
    })
    kept = assessment.first_per_client(ctx, t, "start_date")
    ids = sorted(ctx.wh.to_arrow(kept.select("episode_id")).column(0).to_pylist())
    # E0 is before the baseline year; E1 is C1's baseline episode; E2 (not E3) its first in the window; E4 is C2's.
    assert ids == ["E1", "E2", "E4"]
