"""`model gaming` on a hand-built area (tests/fixtures/modelling/gaming): each strategy's gain worked out by hand to
the penny, and nothing gained when a strategy's parameter is zero.

The contract (contract.yaml): groups by points (currently injecting +2, acute housing +1; low 0, medium 2, high 3),
abstinence low/medium/high £100/£150/£250, completion £300 (low; £350 from 2012-10-01)/£500/£800, attachment fees
for flow £10/£20/£40 paid on start, every payment split P1 70% : P2 30%, no caps or floors, quarterly. Results money
£100,000 x 10% = £10,000, flagged above 1% = £100. The area (area/*.csv), dated on the contract's calendar (the
baseline window starts on the contract's first day, so nothing is moved):

  C1 low    E1 flow  start 2012-05-01  opiates  review 2012-08-01 2 days, exit 2012-09-28 1 day; completed 2012-09-28
  C2 medium E2 flow  start 2012-06-01  crack    review 2012-11-01 0 days (abstinent); open
  C3 high   E3 flow  start 2012-07-02  opiates  review 2013-01-10 0 days (abstinent); open
  C4 high   E4 stock start 2011-10-01  alcohol  review 2012-11-15 3 days; dropped out 2013-01-15

Honest year: fees 10 + 20 + 40 (C4 is stock: the contract has no stock fee) + C1 completion 300 + C2 abstinence 150
+ C3 abstinence 250 = £770.00: P1 £539.00, P2 £231.00.

With every client chosen (share 1) and TOP days 2 lower:
- assessment inflation: C1 low -> medium (injecting set to current: 2 points), C2 medium -> high (housing set to
  acute: 3 points); C3, C4 are already high. Fees +10 +20, C1 completion 300 -> 500 (+200), C2 abstinence
  150 -> 250 (+100): +£330.00 (P1 +231.00, P2 +99.00), 2 clients, £165.00 each (P1 115.50, P2 49.50). Flagged
  (> £100); the completion's medium tariff moved most (+£500.00).
- creaming: E3 is the only top-group episode starting in the year (E4 is stock): fee -40, abstinence -250 =
  -£290.00 (P1 -203.00, P2 -87.00), 1 client.
- parking: the review TOPs of C3 and C4 (top group) not done: C3's abstinence -250, C4 had none = -£250.00
  (P1 -175.00, P2 -75.00), 2 clients, -£125.00 each (P1 -87.50, P2 -37.50).
- discharge timing: E1's discharge 2012-09-28 (2012-Q3) moves to 2012-10-01, where the low completion tariff is
  £350: +£50.00 (P1 +35.00, P2 +15.00), 1 client. E4's discharge is in the year's last quarter: the next edge,
  2013-04-01, is outside the year, so it stays.
- TOP inflation: C1's review 2 -> 0 days (abstinent on 2012-08-01: +100, low) and exit 1 -> 0 (already achieved),
  C4's review 3 -> 1 (still using: nothing); C2's and C3's reviews already show 0 days (not changed). +£100.00
  (P1 +70.00, P2 +30.00), 2 clients, £50.00 each (P1 35.00, P2 15.00). Exactly £100: not above it, not flagged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from helpers import run_cli, snapshot

from recoverypbr import load_extract, open_warehouse
from recoverypbr.contract import Contract, load_contract
from recoverypbr.modelling.baseline_file import Baseline, write_baseline
from recoverypbr.modelling.gaming import (
    APPLY,
    STRATEGIES,
    GamingError,
    GamingSettings,
    chosen,
    gaming_gains,
)
from recoverypbr.modelling.gaming_cli import parse_shares
from recoverypbr.modelling.shift import shift_for, shifted_warehouse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "modelling" / "gaming"
CONTRACT = FIXTURES / "contract.yaml"
EVERYONE = dict.fromkeys(STRATEGIES, Decimal(1))
NOBODY = dict.fromkeys(STRATEGIES, Decimal(0))

#: strategy -> (clients affected, gain P1, gain P2, per client P1, per client P2, flagged, driver), pence.
BY_HAND = {
    "assessment_inflation": (2, 23100, 9900, 11550, 4950, True,
                             "outcomes.successful_completion.tariffs.medium (+£500.00)"),
    "creaming": (1, -20300, -8700, -20300, -8700, False, "outcomes.abstinence.tariffs.high (-£250.00)"),
    "parking": (2, -17500, -7500, -8750, -3750, False, "outcomes.abstinence.tariffs.high (-£250.00)"),
    "discharge_timing": (1, 3500, 1500, 3500, 1500, False, "outcomes.successful_completion.tariffs.low (+£50.00)"),
    "top_inflation": (2, 7000, 3000, 3500, 1500, False, "outcomes.abstinence.tariffs.low (+£100.00)"),
}


def _baseline(contract: Contract) -> Baseline:
    return Baseline(
        contract_area=contract.area, contract_version=contract.effective_from, contract_sha256="",
        window_from=date(2012, 4, 1), window_to=date(2013, 3, 31), go_live=contract.start, as_of=date(2013, 3, 31),
        groups=("low", "medium", "high"), cells=(), flow=(), stock=(),
    )


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(CONTRACT)


@pytest.fixture(scope="module")
def area_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("gaming") / "area.duckdb"
    with open_warehouse(db) as wh:
        load_extract(wh, FIXTURES / "area")
        assert wh.execute("SELECT count(*) FROM quarantine") == [(0,)]
    return db


@pytest.fixture(scope="module")
def everyone(area_db: Path, contract: Contract, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`model gaming` with every client chosen, as a user runs it: the run the header works out by hand (its
    gaming.json, with the printed table under "printed" and the CSV's lines under "csv")."""
    folder = tmp_path_factory.mktemp("everyone")
    db = folder / "area.duckdb"
    shutil.copyfile(area_db, db)
    write_baseline(_baseline(contract), folder / "baseline")
    printed = run_cli("model", "gaming", "--contract", str(CONTRACT), "--baseline", str(folder / "baseline"),
                      "--db", str(db), "--days", "2", "--seed", "0", "--out", str(folder / "out"), "--share", "all=1")
    doc: dict[str, Any] = json.loads((folder / "out" / "gaming.json").read_text())
    return doc | {"printed": printed, "csv": (folder / "out" / "gaming.csv").read_text().splitlines(),
                  "folder": str(folder)}


def _strategy(doc: dict[str, Any], strategy: str) -> dict[str, Any]:
    return next(s for s in doc["strategies"] if s["strategy"] == strategy)


@pytest.mark.slow
def test_the_honest_year_is_what_the_engine_pays(everyone: dict[str, Any]) -> None:
    assert everyone["honest_pence"] == {"P1": 53900, "P2": 23100}
    assert (everyone["results_money_pence"], everyone["flag_above_pence"], everyone["shift_days"]) == (
        1_000_000, 10_000, 0)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategys_gain_is_the_hand_worked_figure(everyone: dict[str, Any], strategy: str) -> None:
    found = _strategy(everyone, strategy)
    affected, p1, p2, per_p1, per_p2, flagged, driver = BY_HAND[strategy]
    assert found["clients_affected"] == affected
    assert found["gain_pence"] == {"P1": p1, "P2": p2}
    assert found["gamed_pence"] == {"P1": 53900 + p1, "P2": 23100 + p2}
    assert found["per_client_pence"] == {"P1": per_p1, "P2": per_p2}
    assert (found["flagged"], found["driver"]) == (flagged, driver)


@pytest.mark.slow
def test_the_files_and_table_give_pounds_per_provider_and_for_all(everyone: dict[str, Any]) -> None:
    rows = [r for r in everyone["rows"] if r["strategy"] == "assessment_inflation"]
    assert [(r["provider_id"], r["gain_pounds"], r["gain_per_client_pounds"]) for r in rows] == [
        ("P1", "231.00", "115.50"), ("P2", "99.00", "49.50"), ("all providers", "330.00", "165.00")]
    assert rows[-1]["flagged"] is True
    assert everyone["csv"][0].startswith("strategy,parameter,provider_id,clients_affected")
    assert len(everyone["csv"]) == 1 + 3 * len(STRATEGIES)
    assert "creaming" in everyone["printed"] and "-290.00" in everyone["printed"]
    assert "Flagged above £100.00" in everyone["printed"]


def test_zero_parameters_change_no_row(area_db: Path, contract: Contract) -> None:
    """Every strategy with a share of 0 (and TOP inflation also with 0 days for everyone) leaves every table as
    it was and counts no client, so `gaming_gains` prices the honest rows for it: a gain of exactly 0 (an
    end-to-end run with every parameter 0 took 15-25 s on a loaded machine and is left out of this file's budget)."""
    with open_warehouse(area_db, read_only=True) as wh:
        copy = shifted_warehouse(wh, shift_for(date(2012, 4, 1), contract), contract)
    try:
        before = snapshot(copy)
        year = contract.years[0]
        found = [APPLY[s](copy, contract, year, GamingSettings(NOBODY))[0] for s in STRATEGIES]
        found.append(APPLY["top_inflation"](copy, contract, year, GamingSettings(EVERYONE, days=0))[0])
        assert found == [0] * 6
        assert snapshot(copy) == before
        assert APPLY["parking"](copy, contract, year, GamingSettings(EVERYONE))[0] == 2
        assert snapshot(copy) != before
    finally:
        copy.close()


def test_clients_are_chosen_by_md5_of_id_strategy_and_seed(tmp_path: Path) -> None:
    ids = [f"C{i}" for i in range(200)]
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        t = wh.register_arrow("ids", pa.table({"client_id": ids}))
        picked = wh.to_arrow(t.filter(chosen(t.client_id, Decimal("0.3"), 7, "parking"))).column(0).to_pylist()
    by_hand = [i for i in ids if int(hashlib.md5(f"{i}|parking|7".encode()).hexdigest()[:8], 16) < 0.3 * 16**8]
    assert sorted(picked) == sorted(by_hand) and 40 < len(by_hand) < 80


@pytest.mark.parametrize("shares", [["nope=0.1"], ["creaming"], ["creaming=lots"]])
def test_an_unreadable_share_is_a_user_error(shares: list[str]) -> None:
    with pytest.raises(GamingError) as error:
        parse_shares(shares)
    assert error.value.hint


def test_shares_read_as_fractions_or_percentages() -> None:
    assert parse_shares(["creaming=20%", "top-inflation=0.5"])["creaming"] == Decimal("0.2")
    assert parse_shares(["all=0", "parking=1"]) == {**NOBODY, "parking": Decimal(1)}
    with pytest.raises(GamingError):
        GamingSettings({"creaming": Decimal("1.5")})


@pytest.mark.slow
def test_every_strategy_whose_parameter_is_zero_gains_nothing(area_db: Path, contract: Contract) -> None:
    shares = dict.fromkeys(STRATEGIES, Decimal(0))
    with open_warehouse(area_db, read_only=True) as wh:
        result = gaming_gains(wh, contract, _baseline(contract), GamingSettings(shares, 0, 0))
    assert [s.strategy for s in result.strategies] == list(STRATEGIES)
    for found in result.strategies:
        assert found.clients_affected == 0 and found.total_gain_pence == 0, found.strategy
        assert set(found.gain_pence.values()) == {0} and not found.flagged
    assert result.honest_pence == {"P1": 53900, "P2": 23100}


@pytest.mark.slow
def test_the_report_shows_the_gains_as_bars_and_opens_offline(everyone: dict[str, Any]) -> None:
    from recoverypbr.modelling.report import external_urls

    page = Path(everyone["folder"]) / "out" / "gaming-report.html"
    html = page.read_text(encoding="utf-8")
    assert external_urls(html) == [] and "<svg" in html and "What each gaming strategy would earn" in html
