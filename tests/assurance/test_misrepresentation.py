"""Misrepresentation indicators on a small hand-made area (tests/fixtures/assurance/misrepresentation/area/, the
Marlshire contract: quality-of-life threshold 14; as of 2013-03-31, window 2012-04-01..2013-03-31). No assessments:
every episode is in one complexity group.

H (heaping; start TOP 2012-05-01 with 10 days of opiates, first follow-up 2012-11-01):
- P01 (planted): 12 episodes, 10 with zero days of every presenting substance at the follow-up (one of them
  presents with opiates and alcohol and reports cannabis, which is not presenting), 2 still using; quality of life
  at the follow-up 14 (8), 13 (2), 10 (2). Also one client with no use at the start (not a heaping case; rated 20).
- P02 (clean): 12 episodes, 3 zero, 9 using; quality of life 14 (3), 13 (7), 16 (2). Also one follow-up with the
  opiate count missing (not zero) and one whose first follow-up (an exit TOP) shows use and a later review zero.
C (completions 2012-04-10..2012-12-20, 254 days, a review was due): P01 10, 6 without a review TOP; P02 10, 1
  without. Not counted: a completion after 61 days, a drop-out, a completion after the as-of date.
I (identical answers): two P01 clients with review TOPs answering exactly alike; one P01 client with two alike
  TOPs of its own; one P02 TOP answering like the P01 pair (another provider). Every other TOP is unique.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import ibis
import pytest

from recoverypbr import load_extract, open_warehouse
from recoverypbr.assurance import misrepresentation as mis
from recoverypbr.assurance.frame import Context, IndicatorRow, evaluate, monitoring_periods, with_rows
from recoverypbr.assurance.stats import Z95, Z998
from recoverypbr.contract.load import load_contract

ROOT = Path(__file__).resolve().parents[2]
AREA = ROOT / "tests" / "fixtures" / "assurance" / "misrepresentation" / "area"
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
AS_OF = date(2013, 3, 31)
BY_ID = {i.id: i for i in mis.INDICATORS}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    wh = open_warehouse(tmp_path_factory.mktemp("mis") / "w.duckdb")
    load_extract(wh, AREA, now=datetime(2013, 4, 1))
    assert not wh.execute("SELECT * FROM quarantine")
    contract = load_contract(CONTRACT)
    quarters, window, baseline = monitoring_periods(contract, AS_OF)
    return Context(wh, contract, AS_OF, quarters, window, baseline, ("P01", "P02"))


def _rows(ctx: Context, indicator: str) -> list[IndicatorRow]:
    return with_rows(ctx, BY_ID[indicator], evaluate(ctx, BY_ID[indicator]))


def _row(rows: list[IndicatorRow], provider: str, indicator: str | None = None) -> IndicatorRow:
    found = [r for r in rows if r.provider_id == provider and r.period_kind == "window"
             and (indicator is None or r.indicator == indicator)]
    assert len(found) == 1, found
    return found[0]


def test_zero_use_heaping(ctx: Context) -> None:
    rows = _rows(ctx, "zero_use_heaping")
    p01, p02 = _row(rows, "P01"), _row(rows, "P02")
    # P01: 10 / 12 = 0.833333 (the client with no use at the start is not a case). P02: 3 / 14 = 0.214286 (the
    # missing count and the exit TOP showing use are cases, not zeros).
    # s = sqrt(0.214286 * 0.785714 * (1/12 + 1/14)) = 0.161421; z = (0.833333 - 0.214286) / 0.161421 = 3.8350.
    assert (p01.n, p01.peers_n, p02.n) == (12, 14, 14)
    assert p01.value == pytest.approx(10 / 12) and p01.expected == pytest.approx(3 / 14)
    s = math.sqrt(3 / 14 * 11 / 14 * (1 / 12 + 1 / 14))
    assert s == pytest.approx(0.161421, abs=1e-6)
    assert p01.z == pytest.approx(3.8350, abs=1e-4)
    assert p01.limits["95"] == pytest.approx([0.0, 3 / 14 + Z95 * s])
    assert p01.limits["99.8"] == pytest.approx([0.0, 3 / 14 + Z998 * s])
    assert p01.flagged and not p02.flagged
    assert p01.rows_total == 10  # the ten zero-use follow-up TOPs
    assert all(r.startswith("top:T") for r in p01.rows)


def test_quality_of_life_heaping(ctx: Context) -> None:
    rows = _rows(ctx, "quality_of_life_heaping")
    p01, p02 = _row(rows, "P01"), _row(rows, "P02")
    # Ratings of 13 or 14 only: P01 8 / 10 = 0.8, P02 3 / 10 = 0.3.
    # s = sqrt(0.3 * 0.7 * (1/10 + 1/10)) = 0.204939; z = 0.5 / 0.204939 = 2.4398: a warning, not an alarm.
    assert (p01.n, p02.n) == (10, 10)
    assert (p01.value, p01.expected) == (pytest.approx(0.8), pytest.approx(0.3))
    assert p01.z == pytest.approx(2.4398, abs=1e-4)
    assert p01.level == "warning" and not p01.flagged


def test_completions_without_review(ctx: Context) -> None:
    rows = _rows(ctx, "completions_without_review")
    p01, p02 = _row(rows, "P01"), _row(rows, "P02")
    # P01 6 / 10, P02 1 / 10: s = sqrt(0.1 * 0.9 * 0.2) = 0.134164; z = 0.5 / 0.134164 = 3.7268.
    assert (p01.n, p02.n) == (10, 10)
    assert (p01.value, p01.expected) == (pytest.approx(0.6), pytest.approx(0.1))
    assert p01.z == pytest.approx(3.7268, abs=1e-4)
    assert p01.flagged and not p02.flagged
    assert p01.rows_total == 6


def test_identical_answers_are_counted_between_clients_of_one_provider(ctx: Context) -> None:
    rows = _rows(ctx, "identical_top_answers")
    p01, p02 = _row(rows, "P01"), _row(rows, "P02")
    # P01's review and exit TOPs: 12 + 1 (H) + 4 (C) + 2 + 2 (I) = 21, of which the two-client pair match: 2 / 21.
    # P02: 12 + 2 + 1 (H, one with two follow-ups) + 9 (C) + 1 (I) = 25, none (its match is at another provider).
    assert (p01.n, p01.value) == (21, pytest.approx(2 / 21))
    assert (p02.n, p02.value) == (25, 0.0)
    assert not p01.flagged  # shown, never judged
    cases = ctx.wh.to_arrow(mis.identical_answers(ctx).filter(lambda t: t.value > 0)).column("unit_id")
    assert sorted(cases.to_pylist()) == ["top:TI51", "top:TI52"]


def test_outcomes_against_case_mix_use_the_engine_and_peers_by_group_and_quarter(ctx: Context) -> None:
    rows = _rows(ctx, "outcomes_against_case_mix")
    p01 = _row(rows, "P01", "outcomes_against_case_mix.abstinence")
    # Abstinence (the engine's ledger): P01 achieves 13 of its 27 episodes started in 2012-Q2 (its 2012-Q4 start
    # has no peers that quarter and is left out); P02 achieves 5 of 26, so each P01 case expects 5/26.
    # s = sqrt(27 * (5/26) * (21/26)) / 27 = 0.075848; z = (13/27 - 5/26) / 0.075848 = 3.8126: shown, not flagged.
    assert (p01.n, p01.value, p01.expected) == (27, pytest.approx(13 / 27), pytest.approx(5 / 26))
    assert p01.z == pytest.approx(3.8126, abs=1e-4)
    assert p01.level == "alarm" and not p01.flagged
    assert {r.indicator for r in rows} >= {"outcomes_against_case_mix.successful_completion",
                                           "outcomes_against_case_mix.quality_of_life"}


@pytest.mark.slow
def test_the_stored_ledger_is_used_when_built(ctx: Context, tmp_path: Path) -> None:
    from recoverypbr.outcomes.ledger import build_ledger

    wh = open_warehouse(tmp_path / "stored.duckdb")
    load_extract(wh, AREA, now=datetime(2013, 4, 1))
    build_ledger(wh, ctx.contract, AS_OF)
    stored = Context(wh, ctx.contract, AS_OF, ctx.quarters, ctx.window, ctx.baseline, ctx.providers)
    assert "outcome_ledger" in ibis.to_sql(mis.outcome_ledger(stored))
    assert "outcome_ledger" not in ibis.to_sql(mis.outcome_ledger(ctx))  # evaluated by the engine, not stored
    p01 = _row(evaluate(stored, BY_ID["outcomes_against_case_mix"]), "P01", "outcomes_against_case_mix.abstinence")
    assert (p01.n, p01.value) == (27, pytest.approx(13 / 27))


def test_pattern_judgement_needs_both_signals() -> None:
    # Abstinence rose 0.10 against peers' 0.00 (s 0.04: z 2.5); completions fell 0.08 against peers' 0.00
    # (s 0.03: z -2.67): both beyond 1.96 the pilots' way -> alarm, z the weaker (2.5).
    z, level = mis.pattern_judgement((0.10, 0.0, 0.04), (-0.08, 0.0, 0.03))
    assert (z, level) == (pytest.approx(2.5), "alarm")
    # Abstinence up but completions also up: in control however far abstinence rose.
    assert mis.pattern_judgement((0.30, 0.0, 0.04), (0.05, 0.0, 0.03))[1] == "in_control"
    # One beyond its limit and the other the same way but within: a warning.
    assert mis.pattern_judgement((0.10, 0.0, 0.04), (-0.03, 0.0, 0.03))[1] == "warning"
    assert mis.pattern_judgement(None, (-0.08, 0.0, 0.03)) == (None, "too_few")


def test_change_against_peers_is_a_difference_in_differences() -> None:
    cells = {("A", "window"): (100, 60.0), ("A", "baseline"): (100, 40.0),
             ("B", "window"): (200, 90.0), ("B", "baseline"): (200, 80.0)}
    value, expected, spread = mis.change_against_peers(cells, "A", ("A", "B"))
    # A: 0.60 - 0.40 = 0.20; peers (B): 0.45 - 0.40 = 0.05;
    # s = sqrt(.6*.4/100 + .4*.6/100 + .45*.55/200 + .4*.6/200) = sqrt(0.0024 + 0.0024 + 0.0012375 + 0.0012)
    assert (value, expected) == (pytest.approx(0.20), pytest.approx(0.05))
    assert spread == pytest.approx(math.sqrt(0.0072375))
    assert mis.change_against_peers({("A", "window"): (5, 1.0)}, "A", ("A", "B")) is None


def test_pattern_rows_on_the_area(ctx: Context) -> None:
    rows = mis.extra_rows(ctx)
    assert [r.provider_id for r in rows] == ["P01", "P02"]
    # The area has no baseline year: too few to judge, shown with its counts.
    assert all(r.level == "too_few" and not r.flagged and r.family == "misrepresentation" for r in rows)
    assert rows[0].indicator == mis.PATTERN_ID and rows[0].period_kind == "window"
