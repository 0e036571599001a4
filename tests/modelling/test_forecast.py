"""Funnel forecast: the year so far is what `funnel_rows` counts; the forecast is the Poisson-Gamma worked by hand,
reproducible with a seed; payment-point spend is capped exactly as the engine caps a milestone's maximum; bad input
is refused clearly; the report is offline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, words
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.contract.load import load_contract
from recoverypbr.contract.model import Contract
from recoverypbr.modelling.forecast import (
    ForecastError,
    capped_spend,
    check_request,
    forecast_milestones,
    model_forecast,
    percentiles,
    posterior,
    still_to_come,
    year_months,
)
from recoverypbr.modelling.report import external_urls
from recoverypbr.outcomes.ledger import stored_ledger
from recoverypbr.payments.limits import maximum_rules
from recoverypbr.payments.periods import Period
from recoverypbr.payments.statements import FunnelRow, MilestoneYear
from recoverypbr.payments.volumes import funnel_rows, milestone_years
from recoverypbr.warehouse.connection import open_warehouse

CONTRACTS = Path(__file__).parents[2] / "contracts"
WORCESTERSHIRE = CONTRACTS / "worcestershire.yaml"
FUNNEL, POINT = "adult_drugs_tier_3", "sustained_and_planned_discharge"
PRICE, MAXIMUM = 123_650, 32_767_250  # £1,236.50 and £327,672.50 = 265 x £1,236.50, as the contract says


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(WORCESTERSHIRE)


MONTHLY = [5, 10, 15, 20, 22, 24, 25, 26, 28, 29, 30, 31]  # the contract's predicted_monthly for the point


def _rows(actuals: list[int]) -> list[FunnelRow]:
    """The payment point's rows as `funnel_rows` gives them, April onwards."""
    return [FunnelRow(FUNNEL, POINT, "point", f"2012-{4 + i:02d}", MONTHLY[i], a) for i, a in enumerate(actuals)]


def _point(contract: Contract, actuals: list[int], as_of: date, runs: int = 20_000, seed: int = 1):  # type: ignore[no-untyped-def]
    year = contract.years[0]
    point = MilestoneYear(FUNNEL, POINT, "point", 265, PRICE, MAXIMUM)
    return forecast_milestones(_rows(actuals), [point], contract, year, as_of, runs, seed)[0]


def test_the_posterior_is_worked_by_hand(contract: Contract) -> None:
    # Actuals 10, 12 and 11 in the three months ended by 30 June: Gamma(33 + 1/2, 3), a mean of 11.1667 a month;
    # nine months to come give 100.5 more on top of the 33 so far: 133.5 expected for the year.
    assert posterior([10, 12, 11]) == (33.5, 3)
    m = _point(contract, [10, 12, 11], date(2012, 6, 30))
    assert (m.shape, m.rate) == (33.5, 3)
    assert m.expected == pytest.approx(133.5)
    assert m.actual_to_date == 33 and m.actual[:3] == (10, 12, 11) and m.actual[3:] == (None,) * 9
    # The runs agree with the hand figure: a total's sd is about 20 (9 x 11.17 + 81 x 33.5 / 9 = 402), so the
    # mean of 20,000 runs is within 0.14 of 133.5 one time in three.
    assert m.totals.mean() == pytest.approx(133.5, abs=0.8)
    assert (m.counts[:, :3] == [10, 12, 11]).all()
    # Shrinking toward the prediction (265 a year: 22.083 a month) as if 3 months had been seen:
    # Gamma(33.5 + 3 x 22.083, 6) = Gamma(99.75, 6), 16.625 a month.
    assert posterior([10, 12, 11], 265 / 12, 3) == pytest.approx((99.75, 6))


def test_spend_is_capped_at_the_maximum_by_hand(contract: Contract) -> None:
    rule = next(r for r in maximum_rules(contract) if r.path == f"funnels.{FUNNEL}.milestones.{POINT}.payment.maximum")
    totals = np.array([0, 1, 264, 265, 266, 300])
    # 264 x £1,236.50 = £326,436.00 is under the maximum; 265 reach it exactly; 300 earn £370,950.00, cut by
    # £43,277.50 to £327,672.50 (docs/payments.md's example).
    expected = [0, 123_650, 32_643_600, MAXIMUM, MAXIMUM, MAXIMUM]
    assert capped_spend(totals, PRICE, rule, contract, contract.years[0]).tolist() == expected
    assert capped_spend(totals, PRICE, None, contract, contract.years[0]).tolist()[-1] == 300 * PRICE
    # A hundred a month already: every run is far above 265, so every run pays the maximum and reaches it.
    m = _point(contract, [100, 100, 100], date(2012, 6, 30), runs=500)
    assert m.spend_pence is not None and set(m.spend_pence.tolist()) == {MAXIMUM}
    assert m.reaches_maximum == 1.0
    # Half as many clients: a rate near 50 a month gives about 600 for the year, still above the maximum.
    low = _point(contract, [1, 0, 1], date(2012, 6, 30), runs=500)
    assert low.reaches_maximum == 0.0 and low.spend_pence is not None
    assert (low.spend_pence == low.totals * PRICE).all()


def test_before_any_month_ends_the_forecast_is_the_prediction(contract: Contract) -> None:
    # On 15 April half of April is still to come (15 of 30 days): the contract predicts 5 in April and 260 in the
    # other months, so 2.5 + 260 are expected on top of the 3 so far, with Poisson noise only.
    m = _point(contract, [3], date(2012, 4, 15))
    assert m.shape is None and m.rate is None
    assert m.expected == pytest.approx(265.5)
    assert m.totals.mean() == pytest.approx(265.5, abs=0.6)
    assert m.totals.var() == pytest.approx(262.5, rel=0.05)  # Poisson: the variance is the mean to come


def test_the_share_of_each_month_still_to_come(contract: Contract) -> None:
    shares = still_to_come(year_months(contract.years[0]), date(2012, 10, 15))
    assert shares.tolist() == [0] * 6 + [pytest.approx(16 / 31)] + [1] * 5


def test_a_seed_gives_the_same_forecast(contract: Contract) -> None:
    one = _point(contract, [4, 6, 5], date(2012, 6, 30), runs=300, seed=7)
    two = _point(contract, [4, 6, 5], date(2012, 6, 30), runs=300, seed=7)
    other = _point(contract, [4, 6, 5], date(2012, 6, 30), runs=300, seed=8)
    assert (one.counts == two.counts).all() and (one.spend_pence == two.spend_pence).all()
    assert not (one.counts == other.counts).all()
    assert percentiles(np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])) == (1, 5, 10)


def test_bad_requests_are_refused_clearly(contract: Contract) -> None:
    with pytest.raises(ForecastError, match=r"contract Marlshire \(synthetic\) has no funnels; the forecast is for "
                                            r"funnel contracts such as contracts/worcestershire\.yaml"):
        check_request(load_contract(CONTRACTS / "marlshire.yaml"), date(2012, 10, 15), 100)
    with pytest.raises(ForecastError, match="at least 1"):
        check_request(contract, date(2012, 10, 15), 0)
    with pytest.raises(ForecastError, match="in no contract year"):
        check_request(contract, date(2016, 1, 1), 100)
    with pytest.raises(ForecastError, match="prior-months"):
        forecast_milestones([], [], contract, contract.years[0], date(2012, 10, 15), 10, 1, prior_months=-1)


def test_the_command_refuses_a_contract_without_funnels(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    result = CliRunner().invoke(app, ["model", "forecast", "--contract", str(CONTRACTS / "marlshire.yaml"),
                                      "--as-of", "2012-10-15", "--db", str(db), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "has no funnels" in words(result.output) and "contracts/worcestershire.yaml" in words(result.output)
    assert not db.exists()
    result = CliRunner().invoke(app, ["model", "forecast", "--contract", str(WORCESTERSHIRE), "--as-of",
                                      "2012-10-15", "--runs", "0", "--db", str(db)])
    assert result.exit_code != 0 and "at least 1" in words(result.output)
    result = CliRunner().invoke(app, ["model", "forecast", "--contract", str(WORCESTERSHIRE), "--as-of",
                                      "2012-10-15", "--db", str(db)])
    assert result.exit_code != 0 and "no warehouse at" in words(result.output) and not db.exists()
    empty = tmp_path / "empty.duckdb"
    open_warehouse(empty).close()
    with open_warehouse(empty) as wh, pytest.raises(ForecastError, match="no episodes"):
        model_forecast(wh, load_contract(WORCESTERSHIRE), date(2012, 10, 15), runs=10)


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("forecast-area")
    run_cli("synth", "--contract", str(WORCESTERSHIRE), "--clients", "800", "--seed", "2", "--out",
            str(folder / "extract"))
    run_cli("load", str(folder / "extract"), "--db", str(folder / "area.duckdb"))
    yield folder / "area.duckdb"


AS_OF = date(2012, 10, 15)


@pytest.mark.slow
def test_so_far_is_what_funnel_rows_counts(area: Path, contract: Contract) -> None:
    period = Period(contract.years[0].start, AS_OF, "so far")
    with open_warehouse(area) as wh:
        result = model_forecast(wh, contract, AS_OF, runs=200, seed=3, evaluate=False)
        rows = funnel_rows(wh, stored_ledger(wh, contract, AS_OF), contract, period)
    assert result.ended == 6 and result.year.label == "year one"
    assert sum(r.actual for r in rows) > 0
    by_key = {(r.funnel, r.milestone, r.month): r.actual for r in rows}
    for m in result.milestones:
        assert m.actual == tuple(by_key.get((m.funnel, m.milestone, month)) for month in m.months)
        assert (m.counts[:, :6] == list(m.actual[:6])).all()  # the months ended are the actuals in every run
        assert (m.counts[:, 6] >= m.actual[6]).all()  # October: what is known, plus what is to come
    again = forecast_milestones(rows, milestone_years(contract, period), contract, contract.years[0], AS_OF, 200, 3)
    for one, two in zip(result.milestones, again, strict=True):
        assert (one.counts == two.counts).all()


@pytest.mark.slow
def test_the_command_writes_an_offline_report(area: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = run_cli("model", "forecast", "--contract", str(WORCESTERSHIRE), "--as-of", AS_OF.isoformat(), "--db",
                   str(area), "--runs", "300", "--seed", "5", "--out", str(out))
    assert "Payment points: Worcestershire, year one as of 2012-10-15: 300 runs, seed 5" in text
    assert "Adult drugs" in text and "Other milestones: clients" in text and "P(max)" in text
    page = (out / "forecast.html").read_text(encoding="utf-8")
    assert external_urls(page) == []
    assert "<svg" in page and (out / "forecast.json").exists()
    assert len(list(out.glob("forecast_*.csv"))) == 1 + len(load_contract(WORCESTERSHIRE).funnels)
